/* Every C identifier that generated code declares at file scope, and the
 * names of its functions' parameters, derived from IDL names in this one
 * place. The generators (gen_*.c) spell each name through these functions,
 * and the checker (check_cnames.c) claims every name each owner can
 * produce, through the same functions. So two IDL names that would become
 * one C name are an IDL error, never a C compile error, and the two cannot
 * drift apart. docs/idl.md ("Names in C") lists them for users. */
#ifndef IDLC_CNAMES_H
#define IDLC_CNAMES_H

#include "idlc.h"

/* The names derived from an owner's C name (its "base"). The comment after
 * each says which owners have it and how it is spelled; the order is the
 * order in which the checker claims them. */
typedef enum idlc_cname_kind {
    /* structs, unions, enums, sequences, maps and fixed arrays */
    IDLC_CN_ENCODE,          /* <base>_encode */
    IDLC_CN_DECODE,          /* <base>_decode */
    /* enums */
    IDLC_CN_ENUM_NAME,       /* <base>_name */
    /* interfaces: macros */
    IDLC_CN_EVENT_COUNT,     /* <base>_EVENT_COUNT */
    IDLC_CN_METHOD_COUNT,    /* <base>_METHOD_COUNT */
    IDLC_CN_SIGNATURE_HASH,  /* <base>_SIGNATURE_HASH */
    IDLC_CN_VERSION_MAJOR,   /* <base>_VERSION_MAJOR */
    IDLC_CN_VERSION_MINOR,   /* <base>_VERSION_MINOR */
    /* interfaces: descriptors, the server's ops table and registration */
    IDLC_CN_DESC,            /* <base>_desc */
    IDLC_CN_METHODS,         /* <base>_methods */
    IDLC_CN_EVENTS,          /* <base>_events */
    IDLC_CN_OPS,             /* <base>_ops */
    IDLC_CN_REGISTER,        /* <base>_register */
    /* methods (base: the method's C name) and events (the event's) */
    IDLC_CN_ARGS,            /* <base>_args: methods and events */
    IDLC_CN_ARGS_ENCODE,     /* <base>_args_encode: methods and events */
    IDLC_CN_ASYNC,           /* <base>_async */
    IDLC_CN_ASYNC_EX,        /* <base>_async_ex */
    IDLC_CN_CB,              /* <base>_cb */
    IDLC_CN_DONE,            /* <base>_done */
    IDLC_CN_EX,              /* <base>_ex */
    IDLC_CN_INVOKE,          /* <base>_invoke */
    IDLC_CN_REPLY,           /* <base>_reply */
    IDLC_CN_REPLY_ENCODE,    /* <base>_reply_encode */
    IDLC_CN_RESULT_DECODE,   /* <base>_result_decode */
    IDLC_CN_OUTS,            /* <base>_outs */
    IDLC_CN_VALUES,          /* <base>_values */
    IDLC_CN_RAISE,           /* <base>_raise */
    IDLC_CN_DELIVER,         /* <base>_deliver: events */
    IDLC_CN_HANDLER,         /* <base>_handler: events */
    /* events, named after their interface: see idlc__cname_event */
    IDLC_CN_EMIT,            /* <Interface>_emit_<event> */
    IDLC_CN_ON,              /* <Interface>_on_<event> */
    IDLC_CN_BROADCAST,       /* <Interface>_broadcast_<event> */
    /* sequences and fixed arrays (base: the type's C name), and maps */
    IDLC_CN_DEFINED,         /* <base>_DEFINED, the definition's guard */
    /* maps */
    IDLC_CN_ENTRY,           /* <base>_entry, a key and a value */
    IDLC_CN_ENTRY_DEFINED,   /* <base>_entry_DEFINED */
    /* files (base: the file's stem), upper case, other characters '_' */
    IDLC_CN_HEADER_GUARD,    /* PRPC_GEN_<STEM>_H */
    IDLC_CN_CLIENT_GUARD,    /* PRPC_GEN_<STEM>_CLIENT_H */
    IDLC_CN_SERVER_GUARD,    /* PRPC_GEN_<STEM>_SERVER_H */
    IDLC_CN_KIND_COUNT
} idlc_cname_kind;

/* The owners of derived names, as a set of bits for idlc__cnames_claimed. */
typedef enum idlc_cname_owner {
    IDLC_CNO_STRUCT = 1u << 0,    /* structs and unions */
    IDLC_CNO_ENUM = 1u << 1,
    IDLC_CNO_INTERFACE = 1u << 2,
    IDLC_CNO_METHOD = 1u << 3,    /* oneway ones too */
    IDLC_CNO_EVENT = 1u << 4,
    IDLC_CNO_SEQUENCE = 1u << 5,  /* sequences and fixed arrays */
    IDLC_CNO_MAP = 1u << 6,
    IDLC_CNO_FILE = 1u << 7
} idlc_cname_owner;

/* ---------------------------------------------------- the owners' names */

/* A declaration: <module>_<Name> ("kv_Entry"). */
const char *idlc__cname_decl(idlc_ctx *ctx, const char *module, const char *name);
/* A member with a name at file scope, an enumerator, method or event:
 * <parent's C name>_<name> ("kv_Error_NOT_FOUND", "kv_Store_get"). */
const char *idlc__cname_member(idlc_ctx *ctx, const char *parent, const char *name);

/* A type with its typedefs followed. *owner, the module a constructed type
 * is named after, becomes the module of the last typedef followed: a
 * sequence behind an imported typedef belongs to the module that wrote it. */
const idlc_type *idlc__cname_resolve(const idlc_type *t, const char **owner);

/* A sequence, map or fixed array (through typedefs) written in module
 * `owner`: <owner>_seq_<elem>, <owner>_seq<N>_<elem> for a bounded one,
 * <owner>_map_<key>_<value>, <owner>_arr<N>_<elem>, where a named element
 * is its name within the owner's module and <module>_<Name> outside it,
 * and an optional one opt_<elem> ("kv_seq_u8", "kv_map_string_Entry"). */
const char *idlc__cname_type(idlc_ctx *ctx, const idlc_type *t, const char *owner);

/* A parameter: its own name, or with a '_' appended when the generated
 * functions use that name themselves ("user_" for "user"). */
const char *idlc__cname_param(idlc_ctx *ctx, const char *name);

/* ------------------------------------------------------- derived names */

/* The name `which` of the owner whose C name (or, for a file, stem) is
 * `base`. NULL on out of memory, as for every function here. */
const char *idlc__cname(idlc_ctx *ctx, idlc_cname_kind which, const char *base);
/* IDLC_CN_EMIT, IDLC_CN_ON and IDLC_CN_BROADCAST of an event (whose parent
 * is set); the other kinds of an event are idlc__cname(ev->c_name). */
const char *idlc__cname_event(idlc_ctx *ctx, idlc_cname_kind which, const idlc_method *ev);

/* ----------------------------------------------------- for the checker */

/* Calls `claim` with every derived name an owner of kind `owner` (one
 * IDLC_CNO_ bit) has, in kind order, with its kind's word for messages
 * ("encode", "async", "include guard"). `base` is as for idlc__cname; `ev`
 * is the event for IDLC_CNO_EVENT, NULL otherwise. */
typedef void (*idlc_cname_claim_fn)(void *user, const char *cname, const char *word);
void idlc__cnames_claimed(idlc_ctx *ctx, idlc_cname_owner owner, const char *base, const idlc_method *ev,
                          idlc_cname_claim_fn claim, void *user);

#endif /* IDLC_CNAMES_H */
