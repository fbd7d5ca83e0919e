/* The checker's entry point, idlc_check, and its first pass: each
 * declaration's names resolved, its constants and enumerator values
 * evaluated, its attributes, members and identifiers checked (see
 * docs/idl.md, "Rules"). Fills in the resolved fields of ast.h that need
 * no other pass: type targets, sizes, values, C and wire names. The later
 * passes live in check_validate.c, check_cnames.c, check_signature.c and
 * check_order.c (see check.h). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cnames.h"

const char *const idlc__construct_names[] = {
    "a constant", "a typedef", "an enum", "a struct", "a union", "an interface",
    "a method", "a oneway method", "an event", "a field", "an enumerator", "a union case",
};

const construct idlc__decl_construct[] = {C_CONST, C_TYPEDEF, C_ENUM, C_STRUCT, C_UNION, C_INTERFACE};

void idlc__check_set_state(checker *ck, idlc_table *t, const void *key, uintptr_t v)
{
    if (!idlc__table_set(t, key, STATE(v)))
        ck->ctx->oom = true;
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

const char *idlc__decl_kind_name(idlc_decl_kind k)
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
                       idlc__decl_kind_name(d->kind));
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
    idlc__check_set_state(ck, &ck->const_state, d, 1);
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
    idlc__check_set_state(ck, &ck->const_state, d, 2);
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
                       d->kind == IDLC_DECL_INTERFACE ? "an" : "a", idlc__decl_kind_name(d->kind));
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
                       idlc__construct_names[c]);
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
        e->c_name = idlc__cname_member(ck->ctx, d->c_name, e->name);
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
            m->c_name = idlc__cname_member(ck->ctx, d->c_name, m->name);
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
                                   idlc__decl_kind_name(target->kind));
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
    check_attrs(ck, d->attr_list, idlc__decl_construct[d->kind], &d->attrs);
    switch (d->kind) {
    case IDLC_DECL_CONST: {
        idlc_type *t = d->u.constant.type;
        if (t->kind != IDLC_TYPE_STRING && !idlc_type_kind_is_integer(t->kind)) {
            idlc_error(ck->ctx, &t->loc, "constants are integers or strings; '%s' cannot be a constant type",
                       t->kind == IDLC_TYPE_NAMED ? t->name : idlc_type_kind_name(t->kind));
            idlc__check_set_state(ck, &ck->const_state, d, 2);
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
            /* The runtime's own names start with prpc_ and PRPC_: a module
             * PRPC_VERSION with a constant MAJOR would redefine one, and
             * the generated include guards are PRPC_GEN_... */
            if (strcmp(f->module, "prpc") == 0 || strcmp(f->module, "PRPC") == 0 ||
                strncmp(f->module, "prpc_", 5) == 0 || strncmp(f->module, "PRPC_", 5) == 0 ||
                strcmp(f->module, "rpc") == 0 || strcmp(f->module, "piperpc") == 0)
                idlc_error(ctx, &f->module_loc, "module name '%s' is reserved for the framework", f->module);
        }
        const char *module = f->module ? f->module : f->stem;
        for (idlc_decl *d = f->decls; d; d = d->next) {
            d->module = module;
            d->qualified_name = idlc_sprintf(ctx, "%s.%s", module, d->name);
            d->c_name = idlc__cname_decl(ctx, module, d->name);
            if (!d->qualified_name || !d->c_name)
                goto done;
            if (is_builtin_type_name(d->name)) {
                idlc_error(ctx, &d->loc, "'%s' is a built-in type and cannot be redefined", d->name);
                continue;
            }
            check_ident(ck, d->name, &d->loc, idlc__construct_names[idlc__decl_construct[d->kind]]);
            idlc_decl *first = idlc__symbol_put(ctx, d->qualified_name, d);
            if (ctx->oom)
                goto done;
            if (first) {
                idlc_error(ctx, &d->loc, "redefinition of '%s'", d->name);
                idlc_note(ctx, &first->loc, "'%s' first defined here as %s %s", first->name,
                          first->kind == IDLC_DECL_ENUM || first->kind == IDLC_DECL_INTERFACE ? "an" : "a",
                          idlc__decl_kind_name(first->kind));
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
                idlc__typedef_chain(ck, d, 0);
        }
    }
    idlc_table error_enums;
    idlc__table_init(&error_enums, true);
    for (idlc_file *f = ctx->files; f && !ctx->oom; f = f->next) {
        for (idlc_decl *d = f->decls; d; d = d->next) {
            switch (d->kind) {
            case IDLC_DECL_TYPEDEF:
                idlc__validate_type(ck, d->u.typedef_.type, 0);
                break;
            case IDLC_DECL_STRUCT:
                for (idlc_field *fl = d->u.struct_.fields; fl; fl = fl->next)
                    idlc__validate_type(ck, fl->type, 0);
                break;
            case IDLC_DECL_UNION:
                idlc__validate_union(ck, d);
                for (idlc_union_case *c = d->u.union_.cases; c; c = c->next)
                    idlc__validate_type(ck, c->type, 0);
                break;
            case IDLC_DECL_INTERFACE:
                for (int pass = 0; pass < 2; pass++)
                    for (idlc_method *m = pass ? d->u.interface_.events : d->u.interface_.methods; m; m = m->next) {
                        idlc__validate_type(ck, m->ret, 0);
                        for (idlc_param *p = m->params; p; p = p->next)
                            idlc__validate_type(ck, p->type, 0);
                        if (m->raises)
                            idlc__validate_error_enum(ck, &error_enums, m);
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
            int h = idlc__value_height(ck, d, 0);
            if (h > MAX_VALUE_DEPTH && !ck->too_deep_reported) {
                ck->too_deep_reported = true;
                idlc_error(ctx, &d->loc, "%s '%s' nests structs and unions by value more than %d deep",
                           idlc__decl_kind_name(d->kind), d->name, MAX_VALUE_DEPTH);
            }
        }
    }
    if (!ctx->oom)
        idlc__check_cnames(ck);

    /* Derived data for the generator, once the tree is known to be sound. */
    if (!ctx->errors && !ctx->oom) {
        for (idlc_file *f = ctx->files; f; f = f->next) {
            for (idlc_decl *d = f->decls; d; d = d->next) {
                if (d->kind != IDLC_DECL_INTERFACE)
                    continue;
                for (int pass = 0; pass < 2; pass++)
                    for (idlc_method *m = pass ? d->u.interface_.events : d->u.interface_.methods; m; m = m->next)
                        idlc__method_signature(ck, m);
                idlc__interface_signature(ck, d);
            }
            idlc__order_decls(ck, f);
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
