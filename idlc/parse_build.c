/* Tree-building helpers for the grammar and the scanner: locations, doc
 * comment anchoring, built-in type names and attribute names. */
#include <stdlib.h>
#include <string.h>

#include "parse_state.h"

idlc_loc idlc__loc(const idlc_parse_state *ps, const idlc_yyltype *l)
{
    idlc_loc loc;
    loc.file = ps->file->path;
    loc.line = l->first_line;
    loc.col = l->first_column;
    loc.end_line = l->last_line;
    loc.end_col = l->last_column;
    return loc;
}

/* ------------------------------------------------------------------ */
/* Doc comments                                                        */

bool idlc__doc_append(idlc_parse_state *ps, const char *text, size_t len)
{
    size_t need = ps->pending_len + len + 2;
    if (need > ps->pending_cap) {
        size_t cap = ps->pending_cap ? ps->pending_cap : 128;
        while (cap < need)
            cap *= 2;
        char *n = realloc(ps->pending, cap);
        if (!n) {
            ps->ctx->oom = true;
            return false;
        }
        ps->pending = n;
        ps->pending_cap = cap;
    }
    if (ps->have_pending)
        ps->pending[ps->pending_len++] = '\n';
    memcpy(ps->pending + ps->pending_len, text, len);
    ps->pending_len += len;
    ps->pending[ps->pending_len] = '\0';
    ps->have_pending = true;
    return true;
}

void idlc__doc_anchor(idlc_parse_state *ps, int line, int col)
{
    ps->have_pending = false;
    size_t len = ps->pending_len;
    ps->pending_len = 0;
    /* Drop trailing empty lines so "///" spacers do not reach the output. */
    while (len && ps->pending[len - 1] == '\n')
        len--;
    if (len == 0)
        return;
    if (ps->doc_count == ps->doc_cap) {
        size_t cap = ps->doc_cap ? ps->doc_cap * 2 : 32;
        idlc_doc_anchor *n = realloc(ps->docs, cap * sizeof(*n));
        if (!n) {
            ps->ctx->oom = true;
            return;
        }
        ps->docs = n;
        ps->doc_cap = cap;
    }
    const char *text = idlc_strndup(ps->ctx, ps->pending, len);
    if (!text)
        return;
    ps->docs[ps->doc_count].line = line;
    ps->docs[ps->doc_count].col = col;
    ps->docs[ps->doc_count].text = text;
    ps->doc_count++;
}

/* Anchors are appended in source order, so a binary search finds the doc
 * comment that sits right before the rule's first token. */
const char *idlc__doc_at(idlc_parse_state *ps, const idlc_yyltype *l)
{
    if (l->empty)
        return NULL;
    size_t lo = 0, hi = ps->doc_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const idlc_doc_anchor *d = &ps->docs[mid];
        if (d->line < l->first_line || (d->line == l->first_line && d->col < l->first_column))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < ps->doc_count && ps->docs[lo].line == l->first_line && ps->docs[lo].col == l->first_column)
        return ps->docs[lo].text;
    return NULL;
}

void idlc__parse_finish(idlc_parse_state *ps)
{
    free(ps->pending);
    ps->pending = NULL;
    free(ps->docs);
    ps->docs = NULL;
    ps->doc_count = ps->doc_cap = 0;
    ps->file->decls = ps->decls.head;
    ps->file->decl_count = ps->decls.count;
    ps->file->imports = ps->imports.head;
    ps->file->import_count = ps->imports.count;
}

/* ------------------------------------------------------------------ */
/* Names                                                               */

static const struct {
    const char *name;
    idlc_type_kind kind;
} builtin_types[] = {
    {"bool", IDLC_TYPE_BOOL},    {"i8", IDLC_TYPE_I8},     {"i16", IDLC_TYPE_I16},
    {"i32", IDLC_TYPE_I32},      {"i64", IDLC_TYPE_I64},   {"u8", IDLC_TYPE_U8},
    {"u16", IDLC_TYPE_U16},      {"u32", IDLC_TYPE_U32},   {"u64", IDLC_TYPE_U64},
    {"f32", IDLC_TYPE_F32},      {"f64", IDLC_TYPE_F64},   {"string", IDLC_TYPE_STRING},
    {"bytes", IDLC_TYPE_BYTES},  {"any", IDLC_TYPE_ANY},
};

idlc_type *idlc__type_new(idlc_parse_state *ps, idlc_type_kind kind, const idlc_yyltype *l)
{
    idlc_type *t = idlc_alloc(ps->ctx, sizeof(*t));
    if (!t)
        return NULL;
    t->kind = kind;
    t->loc = idlc__loc(ps, l);
    return t;
}

idlc_type *idlc__type_named(idlc_parse_state *ps, const char *name, const idlc_yyltype *l)
{
    for (size_t i = 0; i < sizeof(builtin_types) / sizeof(builtin_types[0]); i++)
        if (strcmp(name, builtin_types[i].name) == 0)
            return idlc__type_new(ps, builtin_types[i].kind, l);
    idlc_type *t = idlc__type_new(ps, IDLC_TYPE_NAMED, l);
    if (t)
        t->name = name;
    return t;
}

idlc_attr_kind idlc__attr_kind(const char *name)
{
    if (strcmp(name, "name") == 0)
        return IDLC_ATTR_NAME;
    if (strcmp(name, "version") == 0)
        return IDLC_ATTR_VERSION;
    if (strcmp(name, "deprecated") == 0)
        return IDLC_ATTR_DEPRECATED;
    if (strcmp(name, "idempotent") == 0)
        return IDLC_ATTR_IDEMPOTENT;
    if (strcmp(name, "timeout") == 0)
        return IDLC_ATTR_TIMEOUT;
    return IDLC_ATTR_UNKNOWN;
}

/* ------------------------------------------------------------------ */
/* Type helpers declared in ast.h                                       */

const idlc_type *idlc_type_resolve(const idlc_type *type)
{
    /* Bounded so a typedef cycle (reported by the checker) cannot loop. */
    for (int i = 0; i < 256 && type && type->kind == IDLC_TYPE_NAMED && type->target &&
                    type->target->kind == IDLC_DECL_TYPEDEF && type->target->u.typedef_.type;
         i++)
        type = type->target->u.typedef_.type;
    return type;
}

const idlc_decl *idlc_type_decl(const idlc_type *type)
{
    type = idlc_type_resolve(type);
    if (!type || type->kind != IDLC_TYPE_NAMED || !type->target)
        return NULL;
    if (type->target->kind == IDLC_DECL_TYPEDEF)
        return NULL;
    return type->target;
}

const char *idlc_type_kind_name(idlc_type_kind kind)
{
    switch (kind) {
    case IDLC_TYPE_VOID: return "void";
    case IDLC_TYPE_SEQUENCE: return "sequence";
    case IDLC_TYPE_MAP: return "map";
    case IDLC_TYPE_OPTIONAL: return "optional";
    case IDLC_TYPE_ARRAY: return "array";
    case IDLC_TYPE_NAMED: return "named";
    default:
        for (size_t i = 0; i < sizeof(builtin_types) / sizeof(builtin_types[0]); i++)
            if (builtin_types[i].kind == kind)
                return builtin_types[i].name;
        return "?";
    }
}

bool idlc_type_kind_is_integer(idlc_type_kind kind)
{
    return kind >= IDLC_TYPE_I8 && kind <= IDLC_TYPE_U64;
}
