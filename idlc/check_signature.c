/* Signatures: the readable signature of each method and event, and the
 * wire contract of each interface. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Appends a decimal number, with a minus sign when negative. */
static void put_number(idlc_text *b, uint64_t v, bool negative)
{
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%s%" PRIu64, negative ? "-" : "", v);
    idlc_text_puts(b, tmp);
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
            put_number(b, t->size, false);
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
        put_number(b, t->size, false);
        idlc_text_puts(b, "]");
        return;
    default:
        idlc_text_puts(b, idlc_type_kind_name(t->kind));
        return;
    }
}

const char *idlc__type_text(checker *ck, const idlc_type *t)
{
    idlc_text b = {0};
    type_sig(ck, &b, t, NULL, 0);
    const char *s = b.failed ? NULL : idlc_strndup(ck->ctx, b.p ? b.p : "", b.len);
    if (!s)
        ck->ctx->oom = true;
    idlc_text_free(&b);
    return s;
}

static const char *dir_name(idlc_param_dir d)
{
    return d == IDLC_DIR_OUT ? "out" : d == IDLC_DIR_INOUT ? "inout" : "in";
}

/* The readable signature: "u64 put(in string key, in bytes value) raises (kv.Error)". */
void idlc__method_signature(checker *ck, idlc_method *m)
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
void idlc__interface_signature(checker *ck, idlc_decl *d)
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
        idlc_text_puts(&b, idlc__decl_kind_name(t->kind));
        idlc_text_puts(&b, " ");
        idlc_text_puts(&b, t->qualified_name);
        if (t->kind == IDLC_DECL_ENUM) {
            idlc_text_puts(&b, " {");
            for (idlc_enumerator *e = t->u.enum_.items; e; e = e->next) {
                idlc_text_puts(&b, " ");
                put_number(&b, e->value < 0 ? 0 - (uint64_t)e->value : (uint64_t)e->value, e->value < 0);
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
                put_number(&b, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
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
