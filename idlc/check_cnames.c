/* The C-name clash check: two IDL names that would become one C name are
 * reported here rather than as a C compile error. */
#include <stdio.h>
#include <string.h>

#include "check.h"

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

void idlc__check_cnames(checker *ck)
{
    idlc_table t;
    idlc__table_init(&t, false);
    for (idlc_file *f = ck->ctx->files; f; f = f->next) {
        for (idlc_decl *d = f->decls; d; d = d->next) {
            add_cname(ck, &t, d->c_name, idlc_sprintf(ck->ctx, "%s '%s'", idlc__decl_kind_name(d->kind), d->qualified_name),
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
            const char *what = idlc_sprintf(ck->ctx, "%s '%s'", idlc__decl_kind_name(d->kind), d->qualified_name);
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
