/* The checker's shared state, private to the checker. idlc_check
 * (check_resolve.c) runs its passes in order: each declaration's names,
 * values and attributes (check_resolve.c), the rules that need everything
 * resolved (check_validate.c), the C-name clash check (check_cnames.c),
 * then signatures (check_signature.c) and the C definition order
 * (check_order.c). */
#ifndef IDLC_CHECK_H
#define IDLC_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"
#include "table.h"
#include "text.h"

/* Limits, documented in docs/idl.md. */
#define MAX_ARRAY_SIZE 65536u          /* elements of a fixed array */
#define MAX_SEQUENCE_BOUND 0xffffffffu /* a bounded sequence's bound */
#define MAX_TYPE_DEPTH 32              /* type constructors nested in one type */
#define MAX_VALUE_DEPTH 100            /* structs/unions nested by value, typedef chains */
#define MAX_CONST_DEPTH 100            /* constants defined through constants */

/* What an attribute or a name belongs to, for the rules and messages that
 * differ between them. */
typedef enum construct {
    C_CONST, C_TYPEDEF, C_ENUM, C_STRUCT, C_UNION, C_INTERFACE,
    C_METHOD, C_ONEWAY, C_EVENT, C_FIELD, C_ENUMERATOR, C_CASE
} construct;

/* "a constant", "a method"...: the construct as a message names it. */
extern const char *const idlc__construct_names[];
/* The construct of each idlc_decl_kind, in enum order. */
extern const construct idlc__decl_construct[];

typedef struct checker {
    idlc_ctx *ctx;
    idlc_table const_state;   /* decl -> 1 evaluating, 2 done */
    idlc_table value_state;   /* decl -> 1 on the path, 2 done (containment) */
    idlc_table value_height;  /* decl -> height + 1 */
    idlc_table typedef_state; /* decl -> 1 on the path, 2 done */
    bool too_deep_reported;
    idlc_file *cur_file;      /* the file whose declaration is being checked */
    idlc_table reach_cache;   /* "from>to" file pair -> 1 reachable, 2 not */
    idlc_table clashed;       /* IDL names with a reported C-name clash */
    /* the path of the containment search, for the notes of a cycle */
    struct vframe {
        idlc_decl *decl;
        const char *via_name;
        idlc_loc via_loc;
    } path[MAX_VALUE_DEPTH + 2];
    int path_len;
} checker;

#define STATE(v) ((void *)(uintptr_t)(v))
#define GET_STATE(t, k) ((uintptr_t)idlc__table_get((t), (k)))

/* Sets the state of `key` in one of the checker's tables (out of memory
 * marks the context). */
void idlc__check_set_state(checker *ck, idlc_table *t, const void *key, uintptr_t v);
/* "struct", "enum"...: the kind as a message names it. */
const char *idlc__decl_kind_name(idlc_decl_kind k);

/* check_validate.c: the rules that need every name resolved. */
void idlc__validate_type(checker *ck, const idlc_type *t, int depth);
void idlc__validate_union(checker *ck, idlc_decl *d);
/* `done` holds the enums checked already, so each is reported once. */
void idlc__validate_error_enum(checker *ck, idlc_table *done, const idlc_method *m);
/* Reports a typedef that refers to itself, or a chain past the limit;
 * false then, with the chain cut so later walks end. */
bool idlc__typedef_chain(checker *ck, idlc_decl *d, int depth);
/* How many structs and unions a struct or union nests by value (itself
 * included); reports one that contains itself. */
int idlc__value_height(checker *ck, idlc_decl *d, int depth);

/* check_cnames.c: reports IDL names that become one C name. */
void idlc__check_cnames(checker *ck);

/* check_signature.c: fills m->signature and the interface's signature. */
void idlc__method_signature(checker *ck, idlc_method *m);
void idlc__interface_signature(checker *ck, idlc_decl *d);
/* A type as IDL writes it, typedefs by their qualified name
 * ("sequence<kv.Entry, 16>"); '?' stands for an unresolved name. An arena
 * string, NULL when out of memory. */
const char *idlc__type_text(checker *ck, const idlc_type *t);

/* check_order.c: fills f->decl_order. */
void idlc__order_decls(checker *ck, idlc_file *f);

#endif /* IDLC_CHECK_H */
