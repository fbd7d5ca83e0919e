/* Semantic checks: resolves every name in the tree and verifies everything
 * the grammar cannot (see docs/idl.md, "Rules"). Fills in the resolved
 * fields of ast.h: type targets, sizes, constant and enumerator values, C
 * and wire names, signatures and the C definition order. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "table.h"
#include "text.h"

/* Limits, documented in docs/idl.md. */
#define MAX_ARRAY_SIZE 65536u          /* elements of a fixed array */
#define MAX_SEQUENCE_BOUND 0xffffffffu /* a bounded sequence's bound */
#define MAX_TYPE_DEPTH 32              /* type constructors nested in one type */
#define MAX_VALUE_DEPTH 100            /* structs/unions nested by value, typedef chains */
#define MAX_CONST_DEPTH 100            /* constants defined through constants */

typedef enum construct {
    C_CONST, C_TYPEDEF, C_ENUM, C_STRUCT, C_UNION, C_INTERFACE,
    C_METHOD, C_ONEWAY, C_EVENT, C_FIELD, C_ENUMERATOR, C_CASE
} construct;

static const char *const construct_names[] = {
    "a constant", "a typedef", "an enum", "a struct", "a union", "an interface",
    "a method", "a oneway method", "an event", "a field", "an enumerator", "a union case",
};

/* The construct of each idlc_decl_kind, in enum order. */
static const construct decl_construct[] = {C_CONST, C_TYPEDEF, C_ENUM, C_STRUCT, C_UNION, C_INTERFACE};

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

static void put_state(checker *ck, idlc_table *t, const void *key, uintptr_t v)
{
    if (!idlc__table_set(t, key, STATE(v)))
        ck->ctx->oom = true;
}

/* ------------------------------------------------------------------ */
/* Growable strings for signatures.                                    */

static void sb_num(idlc_text *b, uint64_t v, bool negative)
{
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%s%" PRIu64, negative ? "-" : "", v);
    idlc_text_puts(b, tmp);
}

/* ------------------------------------------------------------------ */
/* Names                                                               */

/* C11, C23 and C++20 keywords, and the macros of <stdbool.h>/<stddef.h>
 * that generated code relies on: none of them may name anything, because
 * field, parameter and method names reach the generated C and C++ sees
 * the same header. */
static const char *const reserved_words[] = {
    "_Alignas", "_Alignof", "_Atomic", "_Bool", "_Complex", "_Generic", "_Imaginary",
    "_Noreturn", "_Static_assert", "_Thread_local", "NULL", "alignas", "alignof", "and",
    "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch", "char",
    "char16_t", "char32_t", "char8_t", "class", "co_await", "co_return", "co_yield", "compl",
    "concept", "const", "const_cast", "consteval", "constexpr", "constinit", "continue",
    "decltype", "default", "delete", "do", "double", "dynamic_cast", "else", "enum",
    "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if",
    "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
    "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register",
    "reinterpret_cast", "requires", "restrict", "return", "short", "signed", "sizeof",
    "static", "static_assert", "static_cast", "struct", "switch", "template", "this",
    "thread_local", "throw", "true", "try", "typedef", "typeid", "typename", "typeof",
    "typeof_unqual", "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t",
    "while", "xor", "xor_eq",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_reserved_word(const char *name)
{
    return bsearch(&name, reserved_words, sizeof(reserved_words) / sizeof(reserved_words[0]),
                   sizeof(reserved_words[0]), cmp_str) != NULL;
}

static bool is_builtin_type_name(const char *name)
{
    static const char *const names[] = {"bool", "i8", "i16", "i32", "i64", "u8", "u16", "u32",
                                        "u64", "f32", "f64", "string", "bytes", "any"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

/* Checks one identifier that reaches generated C. */
static void check_ident(checker *ck, const char *name, const idlc_loc *loc, const char *what)
{
    if (is_reserved_word(name))
        idlc_error(ck->ctx, loc, "'%s' is a reserved word in C or C++ and cannot name %s", name, what);
    else if (name[0] == '_')
        idlc_error(ck->ctx, loc, "'%s': names starting with '_' are reserved", name);
    else if (strstr(name, "__"))
        idlc_error(ck->ctx, loc, "'%s': names containing '__' are reserved in C++", name);
}

/* Duplicate detection within one scope. The table maps a name to the
 * location of its first use. */
static void check_dup(checker *ck, idlc_table *t, const char *name, const idlc_loc *loc,
                      const char *what, const char *scope_what, const char *scope)
{
    bool oom = false;
    const idlc_loc *first = idlc__table_put(t, name, (void *)loc, &oom);
    if (oom) {
        ck->ctx->oom = true;
        return;
    }
    if (first) {
        idlc_error(ck->ctx, loc, "duplicate %s '%s' in %s '%s'", what, name, scope_what, scope);
        idlc_note(ck->ctx, first, "'%s' first declared here", name);
    }
}

static const char *decl_kind_name(idlc_decl_kind k)
{
    switch (k) {
    case IDLC_DECL_CONST: return "constant";
    case IDLC_DECL_TYPEDEF: return "typedef";
    case IDLC_DECL_ENUM: return "enum";
    case IDLC_DECL_STRUCT: return "struct";
    case IDLC_DECL_UNION: return "union";
    case IDLC_DECL_INTERFACE: return "interface";
    }
    return "declaration";
}

/* True when `to` is `from` or imported by it, directly or through other
 * imports: only then does the generated header of `from` see the C
 * declarations of `to`. */
static bool imports_reach_walk(const idlc_file *from, const idlc_file *to, idlc_table *seen, bool *oom, int depth)
{
    if (from == to)
        return true;
    if (depth > 64 || idlc__table_put(seen, from, (void *)from, oom) || *oom)
        return false;
    for (const idlc_import *i = from->imports; i; i = i->next)
        if (i->file && imports_reach_walk(i->file, to, seen, oom, depth + 1))
            return true;
    return false;
}

static bool imports_reach(checker *ck, const idlc_file *from, const idlc_file *to)
{
    char key[64];
    snprintf(key, sizeof(key), "%p>%p", (const void *)from, (const void *)to);
    uintptr_t cached = (uintptr_t)idlc__table_get(&ck->reach_cache, key);
    if (cached)
        return cached == 1;
    idlc_table seen;
    idlc__table_init(&seen, true);
    bool oom = false;
    bool r = imports_reach_walk(from, to, &seen, &oom, 0);
    idlc__table_free(&seen);
    char *k = idlc_strdup(ck->ctx, key);
    if (oom || !k || !idlc__table_set(&ck->reach_cache, k, STATE(r ? 1 : 2)))
        ck->ctx->oom = true;
    return r;
}

/* Finds a declaration named in `module`'s scope: "Name" means module.Name,
 * "other.Name" is taken as written. Reports unknown names (with a hint
 * when another module declares it). */
static idlc_decl *lookup(checker *ck, const char *module, const char *name, const idlc_loc *loc,
                         const char *what)
{
    idlc_decl *d;
    if (strchr(name, '.')) {
        d = idlc__symbol_get(ck->ctx, name);
    } else {
        char *q = idlc_sprintf(ck->ctx, "%s.%s", module, name);
        if (!q)
            return NULL;
        d = idlc__symbol_get(ck->ctx, q);
    }
    if (d) {
        if (ck->cur_file && d->file != ck->cur_file && !imports_reach(ck, ck->cur_file, d->file)) {
            idlc_error(ck->ctx, loc, "'%s' is declared in '%s', which '%s' does not import", name, d->file->path,
                       ck->cur_file->path);
            idlc_note(ck->ctx, &d->loc, "'%s' declared here", d->qualified_name);
            return NULL;
        }
        return d;
    }
    idlc_error(ck->ctx, loc, "unknown %s '%s'", what, name);
    /* The hint scans every declaration: only worth it while errors show. */
    if (!strchr(name, '.') && ck->ctx->last_printed) {
        for (const idlc_file *f = ck->ctx->files; f; f = f->next) {
            for (idlc_decl *o = f->decls; o; o = o->next) {
                if (strcmp(o->name, name) == 0 && o->qualified_name) {
                    idlc_note(ck->ctx, &o->loc, "did you mean '%s'?", o->qualified_name);
                    return NULL;
                }
            }
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Constants                                                           */

static bool eval_const(checker *ck, idlc_decl *d, int depth);

static bool eval_expr(checker *ck, const char *module, idlc_expr *e, int depth)
{
    if (depth >= MAX_CONST_DEPTH) {
        idlc_error(ck->ctx, &e->loc, "constant expression nested more than %d deep (through negations "
                   "and other constants)", MAX_CONST_DEPTH);
        return false;
    }
    switch (e->kind) {
    case IDLC_EXPR_INT:
        e->value.kind = IDLC_VAL_INT;
        e->value.negative = false;
        e->value.magnitude = e->int_lit;
        return true;
    case IDLC_EXPR_STRING:
        e->value.kind = IDLC_VAL_STRING;
        e->value.str = e->str;
        e->value.str_len = e->str_len;
        return true;
    case IDLC_EXPR_NEG:
        if (!eval_expr(ck, module, e->operand, depth + 1))
            return false;
        if (e->operand->value.kind != IDLC_VAL_INT) {
            idlc_error(ck->ctx, &e->loc, "unary '-' needs an integer operand, not a string");
            return false;
        }
        e->value = e->operand->value;
        e->value.negative = !e->value.negative && e->value.magnitude != 0;
        if (e->value.negative && e->value.magnitude > (uint64_t)INT64_MAX + 1) {
            idlc_error(ck->ctx, &e->loc, "-%" PRIu64 " is below the smallest 64-bit integer",
                       e->value.magnitude);
            return false;
        }
        return true;
    case IDLC_EXPR_REF: {
        idlc_decl *d = lookup(ck, module, e->name, &e->loc, "constant");
        if (!d)
            return false;
        if (d->kind != IDLC_DECL_CONST) {
            idlc_error(ck->ctx, &e->loc, "'%s' is %s %s, not a constant", e->name,
                       d->kind == IDLC_DECL_ENUM || d->kind == IDLC_DECL_INTERFACE ? "an" : "a",
                       decl_kind_name(d->kind));
            idlc_note(ck->ctx, &d->loc, "'%s' declared here", d->name);
            return false;
        }
        e->ref = d;
        if (!eval_const(ck, d, depth + 1))
            return false;
        e->value = d->u.constant.expr->value;
        return true;
    }
    }
    return false;
}

static bool int_fits(idlc_type_kind k, const idlc_value *v, int64_t *lo, uint64_t *hi)
{
    switch (k) {
    case IDLC_TYPE_I8: *lo = INT8_MIN; *hi = INT8_MAX; break;
    case IDLC_TYPE_I16: *lo = INT16_MIN; *hi = INT16_MAX; break;
    case IDLC_TYPE_I32: *lo = INT32_MIN; *hi = INT32_MAX; break;
    case IDLC_TYPE_I64: *lo = INT64_MIN; *hi = INT64_MAX; break;
    case IDLC_TYPE_U8: *lo = 0; *hi = UINT8_MAX; break;
    case IDLC_TYPE_U16: *lo = 0; *hi = UINT16_MAX; break;
    case IDLC_TYPE_U32: *lo = 0; *hi = UINT32_MAX; break;
    default: *lo = 0; *hi = UINT64_MAX; break;
    }
    if (v->negative) {
        uint64_t lim = *lo < 0 ? (uint64_t)(-(*lo + 1)) + 1 : 0;
        return v->magnitude <= lim;
    }
    return v->magnitude <= *hi;
}

static bool eval_const(checker *ck, idlc_decl *d, int depth)
{
    uintptr_t st = GET_STATE(&ck->const_state, d);
    if (st == 2)
        return d->u.constant.expr->value.kind != IDLC_VAL_NONE;
    if (st == 1) {
        idlc_error(ck->ctx, &d->loc, "constant '%s' is defined in terms of itself", d->name);
        return false;
    }
    put_state(ck, &ck->const_state, d, 1);
    idlc_type *t = d->u.constant.type;
    idlc_expr *e = d->u.constant.expr;
    idlc_file *saved = ck->cur_file;
    ck->cur_file = d->file;
    bool ok = eval_expr(ck, d->module, e, depth);
    ck->cur_file = saved;
    if (ok && t->kind != IDLC_TYPE_STRING && !idlc_type_kind_is_integer(t->kind)) {
        /* reported by check_decl once; just do not pretend it has a value */
        ok = false;
    } else if (ok && t->kind == IDLC_TYPE_STRING && e->value.kind != IDLC_VAL_STRING) {
        idlc_error(ck->ctx, &e->loc, "constant '%s' of type string needs a string value", d->name);
        ok = false;
    } else if (ok && t->kind != IDLC_TYPE_STRING && e->value.kind != IDLC_VAL_INT) {
        idlc_error(ck->ctx, &e->loc, "constant '%s' of type %s needs an integer value", d->name,
                   idlc_type_kind_name(t->kind));
        ok = false;
    } else if (ok && t->kind != IDLC_TYPE_STRING) {
        int64_t lo;
        uint64_t hi;
        if (!int_fits(t->kind, &e->value, &lo, &hi)) {
            idlc_error(ck->ctx, &e->loc, "value %s%" PRIu64 " does not fit in %s (%" PRId64 "..%" PRIu64 ")",
                       e->value.negative ? "-" : "", e->value.magnitude, idlc_type_kind_name(t->kind),
                       lo, hi);
            ok = false;
        }
    }
    if (!ok)
        e->value.kind = IDLC_VAL_NONE;
    put_state(ck, &ck->const_state, d, 2);
    return ok;
}

/* An array size or sequence bound: a positive integer constant. */
static bool eval_size(checker *ck, const char *module, idlc_expr *e, const char *what, uint64_t max,
                      uint64_t *out)
{
    if (!eval_expr(ck, module, e, 0))
        return false;
    if (e->value.kind != IDLC_VAL_INT) {
        idlc_error(ck->ctx, &e->loc, "%s must be a positive integer constant, not a string", what);
        return false;
    }
    if (e->value.negative || e->value.magnitude == 0) {
        idlc_error(ck->ctx, &e->loc, "%s must be positive, not %s%" PRIu64, what,
                   e->value.negative ? "-" : "", e->value.magnitude);
        return false;
    }
    if (e->value.magnitude > max) {
        idlc_error(ck->ctx, &e->loc, "%s %" PRIu64 " exceeds the limit of %" PRIu64, what,
                   e->value.magnitude, max);
        return false;
    }
    *out = e->value.magnitude;
    return true;
}

/* ------------------------------------------------------------------ */
/* Types                                                               */

static void resolve_type(checker *ck, const char *module, idlc_type *t, int depth)
{
    if (!t)
        return;
    if (depth > MAX_TYPE_DEPTH) {
        idlc_error(ck->ctx, &t->loc, "type nested more than %d levels deep", MAX_TYPE_DEPTH);
        return;
    }
    switch (t->kind) {
    case IDLC_TYPE_NAMED: {
        idlc_decl *d = lookup(ck, module, t->name, &t->loc, "type");
        if (!d)
            return;
        if (d->kind == IDLC_DECL_CONST || d->kind == IDLC_DECL_INTERFACE) {
            idlc_error(ck->ctx, &t->loc, "'%s' is %s %s, not a type", t->name,
                       d->kind == IDLC_DECL_INTERFACE ? "an" : "a", decl_kind_name(d->kind));
            idlc_note(ck->ctx, &d->loc, "'%s' declared here", d->name);
            return;
        }
        t->target = d;
        return;
    }
    case IDLC_TYPE_SEQUENCE:
        resolve_type(ck, module, t->elem, depth + 1);
        if (t->size_expr)
            eval_size(ck, module, t->size_expr, "sequence bound", MAX_SEQUENCE_BOUND, &t->size);
        return;
    case IDLC_TYPE_ARRAY:
        resolve_type(ck, module, t->elem, depth + 1);
        eval_size(ck, module, t->size_expr, "array size", MAX_ARRAY_SIZE, &t->size);
        return;
    case IDLC_TYPE_MAP:
        resolve_type(ck, module, t->key, depth + 1);
        resolve_type(ck, module, t->elem, depth + 1);
        return;
    case IDLC_TYPE_OPTIONAL:
        resolve_type(ck, module, t->elem, depth + 1);
        return;
    default:
        return;
    }
}

/* Rules that need every name resolved (through typedefs). */
static void validate_type(checker *ck, const idlc_type *t, int depth)
{
    if (!t || depth > MAX_TYPE_DEPTH)
        return;
    switch (t->kind) {
    case IDLC_TYPE_MAP: {
        const idlc_type *k = idlc_type_resolve(t->key);
        bool ok = k && (idlc_type_kind_is_integer(k->kind) || k->kind == IDLC_TYPE_STRING ||
                        (k->kind == IDLC_TYPE_NAMED && k->target && k->target->kind == IDLC_DECL_ENUM));
        if (k && !(k->kind == IDLC_TYPE_NAMED && !k->target) && !ok)
            idlc_error(ck->ctx, &t->key->loc, "map keys must be integers, strings or enums");
        validate_type(ck, t->key, depth + 1);
        validate_type(ck, t->elem, depth + 1);
        return;
    }
    case IDLC_TYPE_OPTIONAL: {
        const idlc_type *e = idlc_type_resolve(t->elem);
        if (e && e->kind == IDLC_TYPE_OPTIONAL)
            idlc_error(ck->ctx, &t->loc, "optional<optional<...>> is not allowed: both absent "
                       "states are nil on the wire");
        validate_type(ck, t->elem, depth + 1);
        return;
    }
    case IDLC_TYPE_SEQUENCE:
    case IDLC_TYPE_ARRAY:
        validate_type(ck, t->elem, depth + 1);
        return;
    default:
        return;
    }
}

/* ------------------------------------------------------------------ */
/* Attributes                                                          */

static bool attr_allowed(idlc_attr_kind k, construct c)
{
    switch (k) {
    case IDLC_ATTR_NAME: return c == C_METHOD || c == C_ONEWAY || c == C_EVENT;
    case IDLC_ATTR_VERSION: return c == C_INTERFACE;
    case IDLC_ATTR_DEPRECATED: return true;
    case IDLC_ATTR_IDEMPOTENT: return c == C_METHOD;
    case IDLC_ATTR_TIMEOUT: return c == C_METHOD;
    default: return false;
    }
}

/* Parses "M.m" with both parts fitting u32. */
static bool parse_version(const char *s, uint32_t *major, uint32_t *minor)
{
    uint64_t parts[2] = {0, 0};
    int n = 0;
    const char *p = s;
    for (;;) {
        if (n == 2 || *p < '0' || *p > '9')
            return false;
        uint64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (uint64_t)(*p - '0');
            if (v > UINT32_MAX)
                return false;
            p++;
        }
        parts[n++] = v;
        if (*p == '\0')
            break;
        if (*p != '.')
            return false;
        p++;
    }
    if (n != 2)
        return false;
    *major = (uint32_t)parts[0];
    *minor = (uint32_t)parts[1];
    return true;
}

static void check_attrs(checker *ck, idlc_attr *list, construct c, idlc_attrs *out)
{
    idlc_attr *seen[IDLC_ATTR_TIMEOUT + 1] = {0};
    memset(out, 0, sizeof(*out));
    for (idlc_attr *a = list; a; a = a->next) {
        if (a->kind == IDLC_ATTR_UNKNOWN) {
            idlc_error(ck->ctx, &a->loc, "unknown attribute '%s' (known: name, version, deprecated, "
                       "idempotent, timeout)", a->name);
            continue;
        }
        if (!attr_allowed(a->kind, c)) {
            idlc_error(ck->ctx, &a->loc, "attribute '%s' cannot be applied to %s", a->name,
                       construct_names[c]);
            continue;
        }
        if (seen[a->kind]) {
            idlc_error(ck->ctx, &a->loc, "attribute '%s' given twice", a->name);
            idlc_note(ck->ctx, &seen[a->kind]->loc, "first given here");
            continue;
        }
        seen[a->kind] = a;
        switch (a->kind) {
        case IDLC_ATTR_NAME:
            if (a->arg_kind != IDLC_ARG_STRING) {
                idlc_error(ck->ctx, &a->loc, "attribute 'name' needs a string: name(\"wire.name\")");
                break;
            }
            if (a->text_len == 0) {
                idlc_error(ck->ctx, &a->arg_loc, "a wire name cannot be empty");
                break;
            }
            for (size_t i = 0; i < a->text_len; i++) {
                unsigned char ch = (unsigned char)a->text[i];
                if (ch < 0x20 || ch == 0x7f) {
                    idlc_error(ck->ctx, &a->arg_loc, "a wire name cannot contain control characters");
                    goto next;
                }
            }
            out->wire_name = a->text;
            break;
        case IDLC_ATTR_VERSION:
            if (a->arg_kind != IDLC_ARG_VERSION ||
                !parse_version(a->text, &out->version_major, &out->version_minor)) {
                idlc_error(ck->ctx, a->arg_kind == IDLC_ARG_NONE ? &a->loc : &a->arg_loc,
                           "a version is written MAJOR.MINOR, e.g. version(1.0)");
                break;
            }
            out->has_version = true;
            break;
        case IDLC_ATTR_DEPRECATED:
            if (a->arg_kind != IDLC_ARG_NONE && a->arg_kind != IDLC_ARG_STRING) {
                idlc_error(ck->ctx, &a->arg_loc, "attribute 'deprecated' takes a string reason or nothing");
                break;
            }
            out->deprecated = true;
            out->deprecated_reason = a->arg_kind == IDLC_ARG_STRING ? a->text : NULL;
            break;
        case IDLC_ATTR_IDEMPOTENT:
            if (a->arg_kind != IDLC_ARG_NONE) {
                idlc_error(ck->ctx, &a->arg_loc, "attribute 'idempotent' takes no argument");
                break;
            }
            out->idempotent = true;
            break;
        case IDLC_ATTR_TIMEOUT:
            if (a->arg_kind != IDLC_ARG_INT) {
                idlc_error(ck->ctx, a->arg_kind == IDLC_ARG_NONE ? &a->loc : &a->arg_loc,
                           "attribute 'timeout' needs a number of milliseconds: timeout(500)");
                break;
            }
            if (a->num == 0 || a->num > INT32_MAX) {
                idlc_error(ck->ctx, &a->arg_loc, "timeout must be from 1 to %d milliseconds", INT32_MAX);
                break;
            }
            out->timeout_ms = (uint32_t)a->num;
            break;
        default:
            break;
        }
    next:;
    }
}

/* ------------------------------------------------------------------ */
/* Declarations                                                        */

typedef struct enum_slot {
    int64_t value;
    size_t index;
    idlc_enumerator *e;
    idlc_enumerator *first; /* the earlier enumerator with this value */
} enum_slot;

static int cmp_slot(const void *a, const void *b)
{
    const enum_slot *x = a, *y = b;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static void check_enum(checker *ck, idlc_decl *d)
{
    idlc_table names;
    idlc__table_init(&names, false);
    if (d->u.enum_.count == 0 && !idlc__file_had_syntax_errors(ck->ctx, d->file))
        idlc_error(ck->ctx, &d->loc, "enum '%s' has no enumerators", d->name);
    enum_slot *slots = calloc(d->u.enum_.count ? d->u.enum_.count : 1, sizeof(*slots));
    if (!slots) {
        ck->ctx->oom = true;
        return;
    }
    size_t n = 0;
    int64_t next = 0;
    bool next_ok = true;
    for (idlc_enumerator *e = d->u.enum_.items; e; e = e->next) {
        e->parent = d;
        check_ident(ck, e->name, &e->loc, "an enumerator");
        check_dup(ck, &names, e->name, &e->loc, "enumerator", "enum", d->name);
        check_attrs(ck, e->attr_list, C_ENUMERATOR, &e->attrs);
        e->c_name = idlc_sprintf(ck->ctx, "%s_%s", d->c_name, e->name);
        bool ok = true;
        if (e->value_expr) {
            ok = eval_expr(ck, d->module, e->value_expr, 0);
            const idlc_value *v = &e->value_expr->value;
            if (ok && v->kind != IDLC_VAL_INT) {
                idlc_error(ck->ctx, &e->value_expr->loc, "enumerator values must be integers");
                ok = false;
            }
            int64_t lo;
            uint64_t hi;
            if (ok && !int_fits(IDLC_TYPE_I32, v, &lo, &hi)) {
                idlc_error(ck->ctx, &e->value_expr->loc,
                           "enumerator value %s%" PRIu64 " does not fit in i32 (C enums are int)",
                           v->negative ? "-" : "", v->magnitude);
                ok = false;
            }
            if (ok)
                e->value = v->negative ? (int64_t)(0 - v->magnitude) : (int64_t)v->magnitude;
        } else if (!next_ok) {
            ok = false; /* follows an enumerator whose value was reported */
        } else if (next > INT32_MAX) {
            idlc_error(ck->ctx, &e->loc, "enumerator '%s' would be %" PRId64 ", which does not fit in i32",
                       e->name, next);
            ok = false;
        } else {
            e->value = next;
        }
        next_ok = ok;
        if (ok) {
            next = e->value + 1;
            slots[n].value = e->value;
            slots[n].index = n;
            slots[n].e = e;
            n++;
        }
    }
    qsort(slots, n, sizeof(*slots), cmp_slot);
    for (size_t i = 1; i < n; i++)
        if (slots[i].value == slots[i - 1].value)
            slots[i].first = slots[i - 1].first ? slots[i - 1].first : slots[i - 1].e;
    /* Report in source order. */
    enum_slot **order = calloc(n ? n : 1, sizeof(*order));
    if (order) {
        for (size_t i = 0; i < n; i++)
            order[slots[i].index] = &slots[i];
        for (size_t i = 0; i < n; i++) {
            if (!order[i]->first)
                continue;
            idlc_enumerator *e = order[i]->e;
            idlc_error(ck->ctx, e->value_expr ? &e->value_expr->loc : &e->loc,
                       "duplicate value %" PRId64 " in enum '%s': '%s' has it already", e->value, d->name,
                       order[i]->first->name);
            idlc_note(ck->ctx, &order[i]->first->loc, "'%s' declared here", order[i]->first->name);
        }
    } else {
        ck->ctx->oom = true;
    }
    free(order);
    free(slots);
    idlc__table_free(&names);
}

static void check_struct(checker *ck, idlc_decl *d)
{
    idlc_table names;
    idlc__table_init(&names, false);
    if (d->u.struct_.count == 0 && !idlc__file_had_syntax_errors(ck->ctx, d->file))
        idlc_error(ck->ctx, &d->loc, "struct '%s' has no fields (C does not allow empty structs)", d->name);
    for (idlc_field *f = d->u.struct_.fields; f; f = f->next) {
        check_ident(ck, f->name, &f->loc, "a field");
        check_dup(ck, &names, f->name, &f->loc, "field", "struct", d->name);
        check_attrs(ck, f->attr_list, C_FIELD, &f->attrs);
        resolve_type(ck, d->module, f->type, 0);
    }
    idlc__table_free(&names);
}

static void check_union(checker *ck, idlc_decl *d)
{
    idlc_table names, labels;
    idlc__table_init(&names, false);
    idlc__table_init(&labels, false);
    if (d->u.union_.count == 0 && !idlc__file_had_syntax_errors(ck->ctx, d->file))
        idlc_error(ck->ctx, &d->loc, "union '%s' has no cases", d->name);
    resolve_type(ck, d->module, d->u.union_.discriminator, 0);
    for (idlc_union_case *c = d->u.union_.cases; c; c = c->next) {
        check_ident(ck, c->name, &c->loc, "a union case");
        check_dup(ck, &names, c->name, &c->loc, "case name", "union", d->name);
        check_attrs(ck, c->attr_list, C_CASE, &c->attrs);
        resolve_type(ck, d->module, c->type, 0);
        bool oom = false;
        const idlc_loc *first = idlc__table_put(&labels, c->label, &c->label_loc, &oom);
        if (oom)
            ck->ctx->oom = true;
        if (first) {
            idlc_error(ck->ctx, &c->label_loc, "duplicate case label '%s' in union '%s'", c->label, d->name);
            idlc_note(ck->ctx, first, "'%s' first used here", c->label);
        }
    }
    idlc__table_free(&names);
    idlc__table_free(&labels);
}

/* After every name is resolved: the discriminator is an enum and each
 * label is one of its enumerators. */
static void validate_union(checker *ck, idlc_decl *d)
{
    const idlc_type *disc = d->u.union_.discriminator;
    if (!disc)
        return;
    if (disc->kind == IDLC_TYPE_NAMED && !disc->target)
        return; /* unknown name, reported */
    const idlc_decl *e = idlc_type_decl(disc);
    if (!e || e->kind != IDLC_DECL_ENUM) {
        idlc_error(ck->ctx, &disc->loc, "a union switches on an enum type, not '%s'",
                   disc->kind == IDLC_TYPE_NAMED ? disc->name : idlc_type_kind_name(disc->kind));
        return;
    }
    d->u.union_.discriminator_enum = (idlc_decl *)e;
    for (idlc_union_case *c = d->u.union_.cases; c; c = c->next) {
        idlc_enumerator *found = NULL;
        for (idlc_enumerator *en = e->u.enum_.items; en; en = en->next)
            if (strcmp(en->name, c->label) == 0)
                found = en;
        if (!found) {
            idlc_error(ck->ctx, &c->label_loc, "'%s' is not an enumerator of '%s'", c->label, e->name);
            idlc_note(ck->ctx, &e->loc, "enum '%s' declared here", e->name);
        }
        c->enumerator = found;
    }
}

/* An enum named by raises: its values travel as the code of an error reply,
 * where negative codes are the framework's and 0 would read as success.
 * Each enum is checked once, however many methods raise it. */
static void validate_error_enum(checker *ck, idlc_table *done, const idlc_method *m)
{
    bool oom = false;
    if (idlc__table_put(done, m->raises, m->raises, &oom) || oom) {
        if (oom)
            ck->ctx->oom = true;
        return;
    }
    for (idlc_enumerator *e = m->raises->u.enum_.items; e; e = e->next) {
        if (e->value > 0)
            continue;
        idlc_error(ck->ctx, &e->loc, "error code '%s' of enum '%s' is %" PRId64 "; error codes are positive "
                   "(negative codes belong to the framework)", e->name, m->raises->name, e->value);
        idlc_note(ck->ctx, &m->raises_loc, "'%s' is used as an error enum here", m->raises->name);
    }
}

static void check_interface(checker *ck, idlc_decl *d)
{
    idlc_table names, wires;
    idlc__table_init(&names, false);
    idlc__table_init(&wires, false);
    d->u.interface_.version_major = d->attrs.has_version ? d->attrs.version_major : 1;
    d->u.interface_.version_minor = d->attrs.has_version ? d->attrs.version_minor : 0;
    for (int pass = 0; pass < 2; pass++) {
        for (idlc_method *m = pass ? d->u.interface_.events : d->u.interface_.methods; m; m = m->next) {
            m->parent = d;
            const char *what = m->is_event ? "an event" : "a method";
            check_ident(ck, m->name, &m->loc, what);
            check_dup(ck, &names, m->name, &m->loc, m->is_event ? "event" : "method", "interface", d->name);
            check_attrs(ck, m->attr_list, m->is_event ? C_EVENT : m->oneway ? C_ONEWAY : C_METHOD, &m->attrs);
            m->c_name = idlc_sprintf(ck->ctx, "%s_%s", d->c_name, m->name);
            m->wire_name = m->attrs.wire_name ? m->attrs.wire_name
                                              : idlc_sprintf(ck->ctx, "%s.%s", d->qualified_name, m->name);
            if (m->wire_name) {
                if (strncmp(m->wire_name, "rpc.", 4) == 0)
                    idlc_error(ck->ctx, &m->loc, "wire name '%s' is reserved: names starting with "
                               "'rpc.' belong to the framework", m->wire_name);
                bool oom = false;
                const idlc_method *first = idlc__table_put(&wires, m->wire_name, m, &oom);
                if (oom)
                    ck->ctx->oom = true;
                /* Two members with one name are reported as duplicates. */
                if (first && strcmp(first->name, m->name) != 0) {
                    idlc_error(ck->ctx, &m->loc, "wire name '%s' is used twice in interface '%s'",
                               m->wire_name, d->name);
                    idlc_note(ck->ctx, &first->loc, "'%s' has the same wire name", first->name);
                }
            }
            resolve_type(ck, d->module, m->ret, 0);
            if (m->oneway && m->ret && m->ret->kind != IDLC_TYPE_VOID)
                idlc_error(ck->ctx, &m->ret->loc, "oneway method '%s' cannot return a value", m->name);
            idlc_table pnames;
            idlc__table_init(&pnames, false);
            for (idlc_param *p = m->params; p; p = p->next) {
                check_ident(ck, p->name, &p->loc, "a parameter");
                check_dup(ck, &pnames, p->name, &p->loc, "parameter", m->is_event ? "event" : "method", m->name);
                resolve_type(ck, d->module, p->type, 0);
                if (p->dir != IDLC_DIR_IN && m->oneway)
                    idlc_error(ck->ctx, &p->loc, "oneway method '%s' cannot have %s parameters", m->name,
                               p->dir == IDLC_DIR_OUT ? "out" : "inout");
                if (p->dir != IDLC_DIR_IN && m->is_event)
                    idlc_error(ck->ctx, &p->loc, "event '%s' cannot have %s parameters", m->name,
                               p->dir == IDLC_DIR_OUT ? "out" : "inout");
            }
            idlc__table_free(&pnames);
            if (m->raises_name && m->oneway)
                idlc_error(ck->ctx, &m->raises_loc, "oneway method '%s' cannot raise errors: "
                           "nothing is sent back", m->name);
            if (m->raises_name && is_builtin_type_name(m->raises_name)) {
                idlc_error(ck->ctx, &m->raises_loc, "raises needs an enum of error codes; '%s' is a built-in type",
                           m->raises_name);
            } else if (m->raises_name) {
                idlc_decl *r = lookup(ck, d->module, m->raises_name, &m->raises_loc, "error type");
                if (r) {
                    const idlc_decl *target = r;
                    const idlc_type *rt = NULL;
                    if (r->kind == IDLC_DECL_TYPEDEF) {
                        const idlc_decl *td = idlc_type_decl(r->u.typedef_.type);
                        target = td ? td : r;
                        rt = idlc_type_resolve(r->u.typedef_.type);
                    }
                    if (rt && rt->kind == IDLC_TYPE_NAMED && !rt->target) {
                        /* the typedef names something unknown: reported there */
                    } else if (target->kind != IDLC_DECL_ENUM) {
                        idlc_error(ck->ctx, &m->raises_loc, "raises needs an enum of error codes; '%s' is %s %s",
                                   m->raises_name, target->kind == IDLC_DECL_INTERFACE ? "an" : "a",
                                   decl_kind_name(target->kind));
                        idlc_note(ck->ctx, &r->loc, "'%s' declared here", r->name);
                    } else {
                        m->raises = (idlc_decl *)target;
                    }
                }
            }
        }
    }
    idlc__table_free(&names);
    idlc__table_free(&wires);
}

static void check_decl(checker *ck, idlc_decl *d)
{
    ck->cur_file = d->file;
    check_attrs(ck, d->attr_list, decl_construct[d->kind], &d->attrs);
    switch (d->kind) {
    case IDLC_DECL_CONST: {
        idlc_type *t = d->u.constant.type;
        if (t->kind != IDLC_TYPE_STRING && !idlc_type_kind_is_integer(t->kind)) {
            idlc_error(ck->ctx, &t->loc, "constants are integers or strings; '%s' cannot be a constant type",
                       t->kind == IDLC_TYPE_NAMED ? t->name : idlc_type_kind_name(t->kind));
            put_state(ck, &ck->const_state, d, 2);
            break;
        }
        eval_const(ck, d, 0);
        break;
    }
    case IDLC_DECL_TYPEDEF:
        resolve_type(ck, d->module, d->u.typedef_.type, 0);
        break;
    case IDLC_DECL_ENUM:
        check_enum(ck, d);
        break;
    case IDLC_DECL_STRUCT:
        check_struct(ck, d);
        break;
    case IDLC_DECL_UNION:
        check_union(ck, d);
        break;
    case IDLC_DECL_INTERFACE:
        check_interface(ck, d);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Typedef cycles and containment by value                             */

/* Calls fn for every typedef a type mentions, at any depth. */
static bool typedef_walk(checker *ck, idlc_decl *self, const idlc_type *t, int depth);

static bool typedef_visit(checker *ck, idlc_decl *d, int depth)
{
    uintptr_t st = GET_STATE(&ck->typedef_state, d);
    if (st == 2)
        return true;
    if (st == 1) {
        idlc_error(ck->ctx, &d->loc, "typedef '%s' refers to itself", d->name);
        return false;
    }
    if (depth >= MAX_VALUE_DEPTH) {
        idlc_error(ck->ctx, &d->loc, "more than %d typedefs refer to each other in a chain", MAX_VALUE_DEPTH);
        return false;
    }
    put_state(ck, &ck->typedef_state, d, 1);
    bool ok = typedef_walk(ck, d, d->u.typedef_.type, depth + 1);
    put_state(ck, &ck->typedef_state, d, 2);
    if (!ok) /* break the chain so later walks terminate */
        d->u.typedef_.type->target = NULL;
    return ok;
}

static bool typedef_walk(checker *ck, idlc_decl *self, const idlc_type *t, int depth)
{
    if (!t)
        return true;
    switch (t->kind) {
    case IDLC_TYPE_NAMED:
        if (t->target && t->target->kind == IDLC_DECL_TYPEDEF)
            return typedef_visit(ck, t->target, depth);
        return true;
    case IDLC_TYPE_MAP:
        return typedef_walk(ck, self, t->key, depth) && typedef_walk(ck, self, t->elem, depth);
    case IDLC_TYPE_SEQUENCE:
    case IDLC_TYPE_ARRAY:
    case IDLC_TYPE_OPTIONAL:
        return typedef_walk(ck, self, t->elem, depth);
    default:
        return true;
    }
}

static int value_visit(checker *ck, idlc_decl *d, int depth);

/* The height of a type: how many structs/unions it nests by value. */
static int value_type(checker *ck, const idlc_type *t, const char *via, const idlc_loc *via_loc, int depth)
{
    int h = 0;
    for (int guard = 0; t && guard <= MAX_VALUE_DEPTH; guard++) {
        if (t->kind == IDLC_TYPE_ARRAY) {
            t = t->elem;
            continue;
        }
        if (t->kind != IDLC_TYPE_NAMED || !t->target)
            return h;
        if (t->target->kind == IDLC_DECL_TYPEDEF) {
            t = t->target->u.typedef_.type;
            continue;
        }
        if (t->target->kind != IDLC_DECL_STRUCT && t->target->kind != IDLC_DECL_UNION)
            return h;
        ck->path[ck->path_len - 1].via_name = via;
        ck->path[ck->path_len - 1].via_loc = *via_loc;
        return value_visit(ck, t->target, depth + 1);
    }
    return h;
}

static int value_visit(checker *ck, idlc_decl *d, int depth)
{
    uintptr_t st = GET_STATE(&ck->value_state, d);
    if (st == 2)
        return (int)GET_STATE(&ck->value_height, d) - 1;
    if (st == 1) {
        int start = 0;
        for (int i = 0; i < ck->path_len; i++)
            if (ck->path[i].decl == d)
                start = i;
        idlc_error(ck->ctx, &ck->path[start].via_loc, "%s '%s' contains itself by value "
                   "(optional<>, sequence<> or map<> would break the cycle)", decl_kind_name(d->kind), d->name);
        for (int i = start + 1; i < ck->path_len; i++)
            idlc_note(ck->ctx, &ck->path[i].via_loc, "through field '%s' of %s '%s'", ck->path[i].via_name,
                      decl_kind_name(ck->path[i].decl->kind), ck->path[i].decl->name);
        return 0;
    }
    if (depth > MAX_VALUE_DEPTH)
        return MAX_VALUE_DEPTH + 1;
    put_state(ck, &ck->value_state, d, 1);
    ck->path[ck->path_len].decl = d;
    ck->path[ck->path_len].via_name = NULL;
    ck->path_len++;
    int h = 0;
    if (d->kind == IDLC_DECL_STRUCT) {
        for (idlc_field *f = d->u.struct_.fields; f; f = f->next) {
            int r = value_type(ck, f->type, f->name, &f->loc, depth);
            h = r > h ? r : h;
        }
    } else {
        for (idlc_union_case *c = d->u.union_.cases; c; c = c->next) {
            int r = value_type(ck, c->type, c->name, &c->loc, depth);
            h = r > h ? r : h;
        }
    }
    ck->path_len--;
    h = h + 1 > MAX_VALUE_DEPTH + 1 ? MAX_VALUE_DEPTH + 1 : h + 1;
    put_state(ck, &ck->value_state, d, 2);
    put_state(ck, &ck->value_height, d, (uintptr_t)h + 1);
    return h;
}

/* ------------------------------------------------------------------ */
/* C names                                                             */

typedef struct cname_entry {
    const char *what;
    const char *idl_name; /* qualified IDL name ("m.S.get") */
    idlc_loc loc;
} cname_entry;

static void add_cname(checker *ck, idlc_table *t, const char *cname, const char *what, const char *idl_name,
                      const idlc_loc *loc)
{
    if (!cname || !what || !idl_name || !loc)
        return;
    cname_entry *e = idlc_alloc(ck->ctx, sizeof(*e));
    if (!e)
        return;
    e->what = what;
    e->idl_name = idl_name;
    e->loc = *loc;
    bool oom = false;
    const cname_entry *first = idlc__table_put(t, cname, e, &oom);
    if (oom)
        ck->ctx->oom = true;
    /* The same IDL name twice is a duplicate, reported as such already. A
     * clash between two derived names ("S.get#async_ex" and
     * "S.get_async#ex") follows from a clash already reported for one of
     * their owners, so it is only reported when neither owner has one. */
    if (first && strcmp(first->idl_name, idl_name) != 0) {
        const char *h1 = strchr(first->idl_name, '#'), *h2 = strchr(idl_name, '#');
        char *o1 = idlc_strndup(ck->ctx, first->idl_name, h1 ? (size_t)(h1 - first->idl_name) : strlen(first->idl_name));
        char *o2 = idlc_strndup(ck->ctx, idl_name, h2 ? (size_t)(h2 - idl_name) : strlen(idl_name));
        if (!o1 || !o2)
            return;
        bool follows = h1 && h2 && (idlc__table_get(&ck->clashed, o1) || idlc__table_get(&ck->clashed, o2));
        if (!idlc__table_set(&ck->clashed, o1, o1) || !idlc__table_set(&ck->clashed, o2, o2))
            ck->ctx->oom = true;
        if (follows)
            return;
        idlc_error(ck->ctx, loc, "%s and %s both become '%s' in C", what, first->what, cname);
        idlc_note(ck->ctx, &first->loc, "%s declared here", first->what);
    }
}

/* The C names the generator derives from each IDL name (see
 * docs/generated-code.md). They take part in the clash check so that, for
 * example, methods `get` and `get_async` are caught here rather than as a
 * C compile error; keep these lists in step with gen_*.c. */
static const char *const gen_type_suffixes[] = {"encode", "decode"};
static const char *const gen_enum_suffixes[] = {"encode", "decode", "name"};
static const char *const gen_interface_suffixes[] = {
    "EVENT_COUNT", "METHOD_COUNT", "SIGNATURE_HASH", "VERSION_MAJOR", "VERSION_MINOR", "desc",
    "methods", "events", "ops", "register", "server_desc", "server_methods",
};
static const char *const gen_method_suffixes[] = {
    "args", "args_encode", "async", "async_ex", "cb", "done", "ex", "invoke",
    "reply", "reply_encode", "result_decode", "outs", "values", "raise",
};
static const char *const gen_event_suffixes[] = {"args", "args_encode", "deliver", "handler"};
static const char *const gen_event_prefixes[] = {"emit", "on", "broadcast"};

static void add_derived(checker *ck, idlc_table *t, const char *base_c, const char *owner_what,
                        const char *owner_q, const idlc_loc *loc, const char *const *suffixes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        add_cname(ck, t, idlc_sprintf(ck->ctx, "%s_%s", base_c, suffixes[i]),
                  idlc_sprintf(ck->ctx, "the generated '%s' of %s", suffixes[i], owner_what),
                  idlc_sprintf(ck->ctx, "%s#%s", owner_q, suffixes[i]), loc);
    }
}

static void check_cnames(checker *ck)
{
    idlc_table t;
    idlc__table_init(&t, false);
    for (idlc_file *f = ck->ctx->files; f; f = f->next) {
        for (idlc_decl *d = f->decls; d; d = d->next) {
            add_cname(ck, &t, d->c_name, idlc_sprintf(ck->ctx, "%s '%s'", decl_kind_name(d->kind), d->qualified_name),
                      d->qualified_name, &d->loc);
            if (d->kind == IDLC_DECL_ENUM) {
                for (idlc_enumerator *e = d->u.enum_.items; e; e = e->next) {
                    const char *q = idlc_sprintf(ck->ctx, "%s.%s", d->qualified_name, e->name);
                    add_cname(ck, &t, e->c_name, idlc_sprintf(ck->ctx, "enumerator '%s'", q), q, &e->loc);
                }
            }
            if (d->kind == IDLC_DECL_INTERFACE) {
                for (int pass = 0; pass < 2; pass++) {
                    for (idlc_method *m = pass ? d->u.interface_.events : d->u.interface_.methods; m; m = m->next) {
                        const char *q = idlc_sprintf(ck->ctx, "%s.%s", d->qualified_name, m->name);
                        add_cname(ck, &t, m->c_name,
                                  idlc_sprintf(ck->ctx, "%s '%s'", m->is_event ? "event" : "method", q), q, &m->loc);
                    }
                }
            }
        }
    }
    /* Then the names derived from them: a clash with a declared name is
     * reported at the owner of the derived name, with a note at the other. */
    for (idlc_file *f = ck->ctx->files; f && !ck->ctx->oom; f = f->next) {
        for (idlc_decl *d = f->decls; d; d = d->next) {
            const char *what = idlc_sprintf(ck->ctx, "%s '%s'", decl_kind_name(d->kind), d->qualified_name);
            if (d->kind == IDLC_DECL_STRUCT || d->kind == IDLC_DECL_UNION)
                add_derived(ck, &t, d->c_name, what, d->qualified_name, &d->loc, gen_type_suffixes,
                            sizeof(gen_type_suffixes) / sizeof(gen_type_suffixes[0]));
            else if (d->kind == IDLC_DECL_ENUM)
                add_derived(ck, &t, d->c_name, what, d->qualified_name, &d->loc, gen_enum_suffixes,
                            sizeof(gen_enum_suffixes) / sizeof(gen_enum_suffixes[0]));
            if (d->kind != IDLC_DECL_INTERFACE)
                continue;
            add_derived(ck, &t, d->c_name, what, d->qualified_name, &d->loc, gen_interface_suffixes,
                        sizeof(gen_interface_suffixes) / sizeof(gen_interface_suffixes[0]));
            for (idlc_method *m = d->u.interface_.methods; m; m = m->next) {
                const char *q = idlc_sprintf(ck->ctx, "%s.%s", d->qualified_name, m->name);
                add_derived(ck, &t, m->c_name, idlc_sprintf(ck->ctx, "method '%s'", q), q, &m->loc, gen_method_suffixes,
                            sizeof(gen_method_suffixes) / sizeof(gen_method_suffixes[0]));
            }
            for (idlc_method *m = d->u.interface_.events; m; m = m->next) {
                const char *q = idlc_sprintf(ck->ctx, "%s.%s", d->qualified_name, m->name);
                const char *ew = idlc_sprintf(ck->ctx, "event '%s'", q);
                add_derived(ck, &t, m->c_name, ew, q, &m->loc, gen_event_suffixes,
                            sizeof(gen_event_suffixes) / sizeof(gen_event_suffixes[0]));
                for (size_t i = 0; i < sizeof(gen_event_prefixes) / sizeof(gen_event_prefixes[0]); i++)
                    add_cname(ck, &t, idlc_sprintf(ck->ctx, "%s_%s_%s", d->c_name, gen_event_prefixes[i], m->name),
                              idlc_sprintf(ck->ctx, "the generated '%s' of %s", gen_event_prefixes[i], ew),
                              idlc_sprintf(ck->ctx, "%s#%s", q, gen_event_prefixes[i]), &m->loc);
            }
        }
    }
    idlc__table_free(&t);
}

/* ------------------------------------------------------------------ */
/* Signatures                                                          */

typedef struct reach {
    idlc_table seen;
    idlc_decl **items;
    size_t count;
    size_t cap;
} reach;

static void reach_add(checker *ck, reach *r, idlc_decl *d)
{
    bool oom = false;
    if (idlc__table_put(&r->seen, d, d, &oom) || oom) {
        if (oom)
            ck->ctx->oom = true;
        return;
    }
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        idlc_decl **n = realloc(r->items, cap * sizeof(*n));
        if (!n) {
            ck->ctx->oom = true;
            return;
        }
        r->items = n;
        r->cap = cap;
    }
    r->items[r->count++] = d;
}

static void type_sig(checker *ck, idlc_text *b, const idlc_type *t, reach *r, int depth)
{
    if (!t || depth > MAX_VALUE_DEPTH + MAX_TYPE_DEPTH) {
        idlc_text_puts(b, "?");
        return;
    }
    switch (t->kind) {
    case IDLC_TYPE_NAMED:
        if (!t->target) {
            idlc_text_puts(b, "?");
        } else if (t->target->kind == IDLC_DECL_TYPEDEF) {
            if (r) /* typedefs are transparent on the wire */
                type_sig(ck, b, t->target->u.typedef_.type, r, depth + 1);
            else
                idlc_text_puts(b, t->target->qualified_name);
        } else {
            idlc_text_puts(b, t->target->qualified_name);
            if (r)
                reach_add(ck, r, t->target);
        }
        return;
    case IDLC_TYPE_SEQUENCE:
        idlc_text_puts(b, "sequence<");
        type_sig(ck, b, t->elem, r, depth + 1);
        if (t->size_expr) {
            idlc_text_puts(b, ", ");
            sb_num(b, t->size, false);
        }
        idlc_text_puts(b, ">");
        return;
    case IDLC_TYPE_MAP:
        idlc_text_puts(b, "map<");
        type_sig(ck, b, t->key, r, depth + 1);
        idlc_text_puts(b, ", ");
        type_sig(ck, b, t->elem, r, depth + 1);
        idlc_text_puts(b, ">");
        return;
    case IDLC_TYPE_OPTIONAL:
        idlc_text_puts(b, "optional<");
        type_sig(ck, b, t->elem, r, depth + 1);
        idlc_text_puts(b, ">");
        return;
    case IDLC_TYPE_ARRAY:
        type_sig(ck, b, t->elem, r, depth + 1);
        idlc_text_puts(b, "[");
        sb_num(b, t->size, false);
        idlc_text_puts(b, "]");
        return;
    default:
        idlc_text_puts(b, idlc_type_kind_name(t->kind));
        return;
    }
}

static const char *dir_name(idlc_param_dir d)
{
    return d == IDLC_DIR_OUT ? "out" : d == IDLC_DIR_INOUT ? "inout" : "in";
}

/* The readable signature: "u64 put(in string key, in bytes value) raises (kv.Error)". */
static void method_sig(checker *ck, idlc_method *m)
{
    idlc_text b = {0};
    if (m->is_event) {
        idlc_text_puts(&b, "event ");
    } else {
        if (m->oneway)
            idlc_text_puts(&b, "oneway ");
        type_sig(ck, &b, m->ret, NULL, 0);
        idlc_text_puts(&b, " ");
    }
    idlc_text_puts(&b, m->name);
    idlc_text_puts(&b, "(");
    for (idlc_param *p = m->params; p; p = p->next) {
        if (!m->is_event) {
            idlc_text_puts(&b, dir_name(p->dir));
            idlc_text_puts(&b, " ");
        }
        type_sig(ck, &b, p->type, NULL, 0);
        idlc_text_puts(&b, " ");
        idlc_text_puts(&b, p->name);
        if (p->next)
            idlc_text_puts(&b, ", ");
    }
    idlc_text_puts(&b, ")");
    if (m->raises) {
        idlc_text_puts(&b, " raises (");
        idlc_text_puts(&b, m->raises->qualified_name);
        idlc_text_puts(&b, ")");
    }
    if (b.failed)
        ck->ctx->oom = true;
    else
        m->signature = idlc_strndup(ck->ctx, b.p ? b.p : "", b.len);
    idlc_text_free(&b);
}

static int cmp_decl_qname(const void *a, const void *b)
{
    return strcmp((*(idlc_decl *const *)a)->qualified_name, (*(idlc_decl *const *)b)->qualified_name);
}

/* The wire contract of an interface, without the names that do not travel
 * (parameters, fields, enumerators) and without the version (carried on
 * its own). */
static void interface_sig(checker *ck, idlc_decl *d)
{
    idlc_text b = {0};
    reach r = {0};
    idlc__table_init(&r.seen, true);
    idlc_text_puts(&b, "interface ");
    idlc_text_puts(&b, d->qualified_name);
    idlc_text_puts(&b, "\n");
    for (int pass = 0; pass < 2; pass++) {
        for (idlc_method *m = pass ? d->u.interface_.events : d->u.interface_.methods; m; m = m->next) {
            idlc_text_puts(&b, m->is_event ? "event " : m->oneway ? "oneway " : "method ");
            idlc_text_puts(&b, m->wire_name ? m->wire_name : "?");
            idlc_text_puts(&b, "(");
            for (idlc_param *p = m->params; p; p = p->next) {
                idlc_text_puts(&b, dir_name(p->dir));
                idlc_text_puts(&b, " ");
                type_sig(ck, &b, p->type, &r, 0);
                if (p->next)
                    idlc_text_puts(&b, ", ");
            }
            idlc_text_puts(&b, ")");
            if (!m->is_event) {
                idlc_text_puts(&b, " -> ");
                type_sig(ck, &b, m->ret, &r, 0);
            }
            if (m->raises) {
                idlc_text_puts(&b, " raises ");
                idlc_text_puts(&b, m->raises->qualified_name);
                reach_add(ck, &r, m->raises);
            }
            idlc_text_puts(&b, "\n");
        }
    }
    /* Expanding a definition may reach more: r.count grows as we go. */
    for (size_t i = 0; i < r.count; i++) {
        idlc_decl *t = r.items[i];
        idlc_text tmp = {0};
        if (t->kind == IDLC_DECL_STRUCT) {
            for (idlc_field *f = t->u.struct_.fields; f; f = f->next)
                type_sig(ck, &tmp, f->type, &r, 0);
        } else if (t->kind == IDLC_DECL_UNION) {
            for (idlc_union_case *c = t->u.union_.cases; c; c = c->next)
                type_sig(ck, &tmp, c->type, &r, 0);
        }
        idlc_text_free(&tmp);
    }
    if (r.count)
        qsort(r.items, r.count, sizeof(*r.items), cmp_decl_qname);
    for (size_t i = 0; i < r.count; i++) {
        idlc_decl *t = r.items[i];
        idlc_text_puts(&b, decl_kind_name(t->kind));
        idlc_text_puts(&b, " ");
        idlc_text_puts(&b, t->qualified_name);
        if (t->kind == IDLC_DECL_ENUM) {
            idlc_text_puts(&b, " {");
            for (idlc_enumerator *e = t->u.enum_.items; e; e = e->next) {
                idlc_text_puts(&b, " ");
                sb_num(&b, e->value < 0 ? 0 - (uint64_t)e->value : (uint64_t)e->value, e->value < 0);
            }
            idlc_text_puts(&b, " }\n");
        } else if (t->kind == IDLC_DECL_STRUCT) {
            idlc_text_puts(&b, " {");
            for (idlc_field *f = t->u.struct_.fields; f; f = f->next) {
                idlc_text_puts(&b, " ");
                type_sig(ck, &b, f->type, &r, 0);
                idlc_text_puts(&b, ";");
            }
            idlc_text_puts(&b, " }\n");
        } else if (t->kind == IDLC_DECL_UNION) {
            idlc_text_puts(&b, " switch (");
            idlc_text_puts(&b, t->u.union_.discriminator_enum ? t->u.union_.discriminator_enum->qualified_name : "?");
            idlc_text_puts(&b, ") {");
            for (idlc_union_case *c = t->u.union_.cases; c; c = c->next) {
                idlc_text_puts(&b, " case ");
                int64_t v = c->enumerator ? c->enumerator->value : 0;
                sb_num(&b, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
                idlc_text_puts(&b, ": ");
                type_sig(ck, &b, c->type, &r, 0);
                idlc_text_puts(&b, ";");
            }
            idlc_text_puts(&b, " }\n");
        }
    }
    if (b.failed)
        ck->ctx->oom = true;
    else
        d->u.interface_.signature = idlc_strndup(ck->ctx, b.p ? b.p : "", b.len);
    idlc_text_free(&b);
    free(r.items);
    idlc__table_free(&r.seen);
}

/* ------------------------------------------------------------------ */
/* C definition order                                                  */

/* What a declaration needs complete before its C definition: anything it
 * holds by value, and every enum and typedef it mentions anywhere (C can
 * forward-declare neither). Structs and unions inside optional<>,
 * sequence<> and map<> are only needed by name, so they may come later. */
static void deps_of_type(const idlc_type *t, const idlc_file *file, bool soft, idlc_decl **out, size_t *n,
                         size_t max, int depth)
{
    if (!t || depth > MAX_TYPE_DEPTH)
        return;
    switch (t->kind) {
    case IDLC_TYPE_NAMED:
        if (!t->target || t->target->file != file)
            return;
        if (soft && (t->target->kind == IDLC_DECL_STRUCT || t->target->kind == IDLC_DECL_UNION))
            return;
        if (*n < max)
            out[*n] = t->target;
        (*n)++;
        return;
    case IDLC_TYPE_MAP:
        deps_of_type(t->key, file, true, out, n, max, depth + 1);
        deps_of_type(t->elem, file, true, out, n, max, depth + 1);
        return;
    case IDLC_TYPE_SEQUENCE:
    case IDLC_TYPE_OPTIONAL:
        deps_of_type(t->elem, file, true, out, n, max, depth + 1);
        return;
    case IDLC_TYPE_ARRAY:
        deps_of_type(t->elem, file, soft, out, n, max, depth + 1);
        return;
    default:
        return;
    }
}

/* The file's declarations such that each comes after those it mentions
 * (a depth-first post-order with an explicit stack; mentions that close a
 * cycle, legal through optional/sequence/map, are skipped). */
static void order_file(checker *ck, idlc_file *f)
{
    size_t n = f->decl_count;
    f->decl_order = idlc_alloc(ck->ctx, (n ? n : 1) * sizeof(*f->decl_order));
    if (!f->decl_order)
        return;
    idlc_table state;
    idlc__table_init(&state, true);
    typedef struct frame {
        idlc_decl *d;
        idlc_decl **deps;
        size_t ndeps;
        size_t next;
    } frame;
    frame *stack = calloc(n ? n : 1, sizeof(*stack));
    size_t out = 0;
    if (!stack) {
        ck->ctx->oom = true;
        idlc__table_free(&state);
        return;
    }
    for (idlc_decl *root = f->decls; root; root = root->next) {
        if (GET_STATE(&state, root))
            continue;
        size_t sp = 0;
        bool oom = false;
        idlc__table_put(&state, root, STATE(1), &oom);
        stack[sp++] = (frame){root, NULL, 0, 0};
        while (sp && !oom) {
            frame *top = &stack[sp - 1];
            if (!top->deps) {
                /* Collect what this declaration mentions. */
                size_t cap = 16, cnt = 0;
                idlc_decl **deps = malloc(cap * sizeof(*deps));
                if (!deps) {
                    oom = true;
                    break;
                }
                idlc_decl *d = top->d;
                for (;;) {
                    cnt = 0;
                    if (d->kind == IDLC_DECL_TYPEDEF)
                        deps_of_type(d->u.typedef_.type, f, false, deps, &cnt, cap, 0);
                    else if (d->kind == IDLC_DECL_STRUCT)
                        for (idlc_field *fl = d->u.struct_.fields; fl; fl = fl->next)
                            deps_of_type(fl->type, f, false, deps, &cnt, cap, 0);
                    else if (d->kind == IDLC_DECL_UNION) {
                        deps_of_type(d->u.union_.discriminator, f, false, deps, &cnt, cap, 0);
                        for (idlc_union_case *c = d->u.union_.cases; c; c = c->next)
                            deps_of_type(c->type, f, false, deps, &cnt, cap, 0);
                    } else if (d->kind == IDLC_DECL_INTERFACE) {
                        for (int pass = 0; pass < 2; pass++)
                            for (idlc_method *m = pass ? d->u.interface_.events : d->u.interface_.methods; m;
                                 m = m->next) {
                                deps_of_type(m->ret, f, false, deps, &cnt, cap, 0);
                                for (idlc_param *p = m->params; p; p = p->next)
                                    deps_of_type(p->type, f, false, deps, &cnt, cap, 0);
                                if (m->raises && m->raises->file == f) {
                                    if (cnt < cap)
                                        deps[cnt] = m->raises;
                                    cnt++;
                                }
                            }
                    }
                    if (cnt <= cap)
                        break;
                    cap = cnt;
                    idlc_decl **nd = realloc(deps, cap * sizeof(*nd));
                    if (!nd) {
                        oom = true;
                        break;
                    }
                    deps = nd;
                }
                top->deps = deps;
                top->ndeps = cnt;
                if (oom)
                    break;
            }
            if (top->next < top->ndeps) {
                idlc_decl *dep = top->deps[top->next++];
                uintptr_t st = GET_STATE(&state, dep);
                if (st == 1 && dep != top->d) {
                    /* Only shapes the checks above do not already reject
                     * get here, e.g. a struct holding a sequence of a
                     * typedef'd fixed array of itself. */
                    idlc_error(ck->ctx, &top->d->loc, "'%s' and '%s' need each other's C definitions first; "
                               "C cannot express this (use a struct instead of the typedef)",
                               top->d->name, dep->name);
                    continue;
                }
                if (st)
                    continue;
                idlc__table_put(&state, dep, STATE(1), &oom);
                stack[sp++] = (frame){dep, NULL, 0, 0};
                continue;
            }
            f->decl_order[out++] = top->d;
            idlc__table_set(&state, top->d, STATE(2));
            free(top->deps);
            sp--;
        }
        if (oom) {
            while (sp)
                free(stack[--sp].deps);
            ck->ctx->oom = true;
            break;
        }
    }
    free(stack);
    idlc__table_free(&state);
}

/* ------------------------------------------------------------------ */

idlc_result idlc_check(idlc_ctx *ctx)
{
    if (ctx->checked || ctx->oom)
        return ctx->oom ? IDLC_ERR_IO : ctx->errors ? IDLC_ERR_IDL : IDLC_OK;
    ctx->checked = true;
    checker *ck = calloc(1, sizeof(*ck));
    if (!ck) {
        ctx->oom = true;
        return IDLC_ERR_IO;
    }
    ck->ctx = ctx;
    idlc__table_init(&ck->const_state, true);
    idlc__table_init(&ck->value_state, true);
    idlc__table_init(&ck->value_height, true);
    idlc__table_init(&ck->typedef_state, true);
    idlc__table_init(&ck->reach_cache, false);
    idlc__table_init(&ck->clashed, false);

    /* Modules and the symbol table. */
    for (idlc_file *f = ctx->files; f; f = f->next) {
        if (!f->module) {
            idlc_loc loc = {f->path, 1, 1, 1, 1};
            if (f->text_len == 0)
                loc.line = 0;
            idlc_error(ctx, &loc, "missing module declaration: a file starts with 'module NAME;'");
        } else {
            const idlc_module_stmt *first = idlc__module_stmts(ctx, f);
            if (first && first->late)
                idlc_error(ctx, &first->keyword_loc, "'module' must come before any import or declaration");
            for (const idlc_module_stmt *m = first ? first->next : NULL; m; m = m->next) {
                idlc_error(ctx, &m->loc, "a file declares one module; '%s' was declared already", first->name);
                idlc_note(ctx, &first->loc, "module declared here");
            }
            check_ident(ck, f->module, &f->module_loc, "a module");
            if (strcmp(f->module, "prpc") == 0 || strcmp(f->module, "PRPC") == 0 ||
                strcmp(f->module, "rpc") == 0 || strcmp(f->module, "piperpc") == 0)
                idlc_error(ctx, &f->module_loc, "module name '%s' is reserved for the framework", f->module);
        }
        const char *module = f->module ? f->module : f->stem;
        for (idlc_decl *d = f->decls; d; d = d->next) {
            d->module = module;
            d->qualified_name = idlc_sprintf(ctx, "%s.%s", module, d->name);
            d->c_name = idlc_sprintf(ctx, "%s_%s", module, d->name);
            if (!d->qualified_name || !d->c_name)
                goto done;
            if (is_builtin_type_name(d->name)) {
                idlc_error(ctx, &d->loc, "'%s' is a built-in type and cannot be redefined", d->name);
                continue;
            }
            check_ident(ck, d->name, &d->loc, construct_names[decl_construct[d->kind]]);
            idlc_decl *first = idlc__symbol_put(ctx, d->qualified_name, d);
            if (ctx->oom)
                goto done;
            if (first) {
                idlc_error(ctx, &d->loc, "redefinition of '%s'", d->name);
                idlc_note(ctx, &first->loc, "'%s' first defined here as %s %s", first->name,
                          first->kind == IDLC_DECL_ENUM || first->kind == IDLC_DECL_INTERFACE ? "an" : "a",
                          decl_kind_name(first->kind));
            }
        }
    }

    /* Names, members, values and attributes, declaration by declaration;
     * typedefs first, so anything that looks through one (raises) finds it
     * resolved. */
    for (idlc_file *f = ctx->files; f && !ctx->oom; f = f->next)
        for (idlc_decl *d = f->decls; d; d = d->next)
            if (d->kind == IDLC_DECL_TYPEDEF)
                check_decl(ck, d);
    for (idlc_file *f = ctx->files; f && !ctx->oom; f = f->next)
        for (idlc_decl *d = f->decls; d; d = d->next)
            if (d->kind != IDLC_DECL_TYPEDEF)
                check_decl(ck, d);

    /* Rules that need everything resolved. */
    for (idlc_file *f = ctx->files; f && !ctx->oom; f = f->next) {
        for (idlc_decl *d = f->decls; d; d = d->next) {
            if (d->kind == IDLC_DECL_TYPEDEF)
                typedef_visit(ck, d, 0);
        }
    }
    idlc_table error_enums;
    idlc__table_init(&error_enums, true);
    for (idlc_file *f = ctx->files; f && !ctx->oom; f = f->next) {
        for (idlc_decl *d = f->decls; d; d = d->next) {
            switch (d->kind) {
            case IDLC_DECL_TYPEDEF:
                validate_type(ck, d->u.typedef_.type, 0);
                break;
            case IDLC_DECL_STRUCT:
                for (idlc_field *fl = d->u.struct_.fields; fl; fl = fl->next)
                    validate_type(ck, fl->type, 0);
                break;
            case IDLC_DECL_UNION:
                validate_union(ck, d);
                for (idlc_union_case *c = d->u.union_.cases; c; c = c->next)
                    validate_type(ck, c->type, 0);
                break;
            case IDLC_DECL_INTERFACE:
                for (int pass = 0; pass < 2; pass++)
                    for (idlc_method *m = pass ? d->u.interface_.events : d->u.interface_.methods; m; m = m->next) {
                        validate_type(ck, m->ret, 0);
                        for (idlc_param *p = m->params; p; p = p->next)
                            validate_type(ck, p->type, 0);
                        if (m->raises)
                            validate_error_enum(ck, &error_enums, m);
                    }
                break;
            default:
                break;
            }
        }
    }
    idlc__table_free(&error_enums);
    for (idlc_file *f = ctx->files; f && !ctx->oom; f = f->next) {
        for (idlc_decl *d = f->decls; d; d = d->next) {
            if (d->kind != IDLC_DECL_STRUCT && d->kind != IDLC_DECL_UNION)
                continue;
            ck->path_len = 0;
            int h = value_visit(ck, d, 0);
            if (h > MAX_VALUE_DEPTH && !ck->too_deep_reported) {
                ck->too_deep_reported = true;
                idlc_error(ctx, &d->loc, "%s '%s' nests structs and unions by value more than %d deep",
                           decl_kind_name(d->kind), d->name, MAX_VALUE_DEPTH);
            }
        }
    }
    if (!ctx->oom)
        check_cnames(ck);

    /* Derived data for the generator, once the tree is known to be sound. */
    if (!ctx->errors && !ctx->oom) {
        for (idlc_file *f = ctx->files; f; f = f->next) {
            for (idlc_decl *d = f->decls; d; d = d->next) {
                if (d->kind != IDLC_DECL_INTERFACE)
                    continue;
                for (int pass = 0; pass < 2; pass++)
                    for (idlc_method *m = pass ? d->u.interface_.events : d->u.interface_.methods; m; m = m->next)
                        method_sig(ck, m);
                interface_sig(ck, d);
            }
            order_file(ck, f);
        }
    }

done:
    idlc__table_free(&ck->const_state);
    idlc__table_free(&ck->value_state);
    idlc__table_free(&ck->value_height);
    idlc__table_free(&ck->typedef_state);
    idlc__table_free(&ck->reach_cache);
    idlc__table_free(&ck->clashed);
    free(ck);
    if (ctx->oom) {
        idlc_error(ctx, NULL, "out of memory");
        return IDLC_ERR_IO;
    }
    return ctx->errors ? IDLC_ERR_IDL : IDLC_OK;
}
