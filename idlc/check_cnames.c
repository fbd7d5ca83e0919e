/* The C-name clash check: every declaration, member, constructed type and
 * file claims the C names the generators give it (cnames.h spells them for
 * both), so two IDL names that would become one C name are reported here
 * rather than as a C compile error. A field, union case, method or
 * parameter, whose name reaches the C code as it is, may not take a claimed
 * name either: a macro of that name would replace it, and a parameter would
 * hide the function or type it names. Nor may two parameters of one method
 * meet once the generator has renamed one ("user" is "user_" in C). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cnames.h"

/* One claimed C name. */
typedef struct cname_entry {
    const char *what;     /* "struct 'm.S'", "the generated 'encode' of ..." */
    const char *note;     /* where `what` is, for the note of a clash */
    const char *idl_name; /* who claims it: "m.S.get", "m.S.get#async", "sequence<u8>" */
    idlc_loc loc;
} cname_entry;

typedef struct claims {
    checker *ck;
    idlc_table names;     /* C name -> cname_entry */
} claims;

/* The owner part of an idl_name ("m.S.get" of "m.S.get#async"). */
static char *owner_of(checker *ck, const char *idl_name, bool *derived)
{
    const char *hash = strrchr(idl_name, '#');
    *derived = hash != NULL;
    return idlc_strndup(ck->ctx, idl_name, hash ? (size_t)(hash - idl_name) : strlen(idl_name));
}

static void claim(claims *cl, const char *cname, const char *what, const char *note, const char *idl_name,
                  const idlc_loc *loc)
{
    checker *ck = cl->ck;
    if (!cname || !what || !note || !idl_name || !loc)
        return;
    cname_entry *e = idlc_alloc(ck->ctx, sizeof(*e));
    if (!e)
        return;
    e->what = what;
    e->note = note;
    e->idl_name = idl_name;
    e->loc = *loc;
    bool oom = false;
    const cname_entry *first = idlc__table_put(&cl->names, cname, e, &oom);
    if (oom)
        ck->ctx->oom = true;
    /* The same IDL name twice is a duplicate, reported as such already, or
     * one constructed type written twice, which is one C type. A clash
     * between two derived names ("S.get#async_ex" and "S.get_async#ex")
     * follows from a clash already reported for one of their owners, so it
     * is only reported when neither owner has one. */
    if (first && strcmp(first->idl_name, idl_name) != 0) {
        bool derived1, derived2;
        char *o1 = owner_of(ck, first->idl_name, &derived1);
        char *o2 = owner_of(ck, idl_name, &derived2);
        if (!o1 || !o2)
            return;
        bool follows = derived1 && derived2 &&
                       (idlc__table_get(&ck->clashed, o1) || idlc__table_get(&ck->clashed, o2));
        if (!idlc__table_set(&ck->clashed, o1, o1) || !idlc__table_set(&ck->clashed, o2, o2))
            ck->ctx->oom = true;
        if (follows)
            return;
        idlc_error(ck->ctx, loc, "%s and %s both become '%s' in C", what, first->what, cname);
        idlc_note(ck->ctx, &first->loc, "%s", first->note);
    }
}

static void claim_declared(claims *cl, const char *cname, const char *what, const char *idl_name,
                           const idlc_loc *loc)
{
    claim(cl, cname, what, idlc_sprintf(cl->ck->ctx, "%s declared here", what), idl_name, loc);
}

/* The names an owner derives, through idlc__cnames_claimed. */
typedef struct owner_claims {
    claims *cl;
    bool file;
    const char *what;     /* "struct 'm.S'", "file 'kv.idl'" */
    const char *note;
    const char *idl_name;
    const idlc_loc *loc;
} owner_claims;

static void claim_one_derived(void *user, const char *cname, const char *word)
{
    owner_claims *o = user;
    idlc_ctx *ctx = o->cl->ck->ctx;
    const char *what = o->file ? idlc_sprintf(ctx, "the %s of %s", word, o->what)
                               : idlc_sprintf(ctx, "the generated '%s' of %s", word, o->what);
    claim(o->cl, cname, what, o->note, idlc_sprintf(ctx, "%s#%s", o->idl_name, word), o->loc);
}

static void claim_derived(claims *cl, idlc_cname_owner kind, const char *base, const idlc_method *ev,
                          const char *what, const char *note, const char *idl_name, const idlc_loc *loc)
{
    owner_claims o = {cl, kind == IDLC_CNO_FILE, what, note, idl_name, loc};
    if (what && note && idl_name)
        idlc__cnames_claimed(cl->ck->ctx, kind, base, ev, claim_one_derived, &o);
}

/* The sequences, maps and fixed arrays a type written in module `module`
 * has the generators define, found as they find them: through typedefs
 * and optionals, not into structs and unions (each claims its own). One
 * type written twice has one IDL text ("sequence<u8>"), so it claims its
 * names once. */
static void claim_constructed(claims *cl, const idlc_type *t, const char *module, int depth)
{
    idlc_ctx *ctx = cl->ck->ctx;
    if (!t || depth > MAX_TYPE_DEPTH)
        return;
    t = idlc__cname_resolve(t, &module);
    if (t->kind == IDLC_TYPE_OPTIONAL) {
        claim_constructed(cl, t->elem, module, depth + 1);
        return;
    }
    if (t->kind != IDLC_TYPE_SEQUENCE && t->kind != IDLC_TYPE_MAP && t->kind != IDLC_TYPE_ARRAY)
        return;
    const char *text = idlc__type_text(cl->ck, t);
    if (!text || strchr(text, '?'))
        return; /* names something unresolved: reported already */
    const char *cname = idlc__cname_type(ctx, t, module);
    const char *what = idlc_sprintf(ctx, "the type '%s'", text);
    const char *note = idlc_sprintf(ctx, "'%s' written here", text);
    claim(cl, cname, what, note, text, &t->loc);
    claim_derived(cl, t->kind == IDLC_TYPE_MAP ? IDLC_CNO_MAP : IDLC_CNO_SEQUENCE, cname, NULL, what, note, text,
                  &t->loc);
    if (t->kind == IDLC_TYPE_MAP)
        claim_constructed(cl, t->key, module, depth + 1);
    claim_constructed(cl, t->elem, module, depth + 1);
}

/* A name that reaches the C code as it is: no claimed C name. */
static void check_member(claims *cl, const char *name, const idlc_loc *loc, const char *what, const char *owner_what)
{
    const cname_entry *e = idlc__table_get(&cl->names, name);
    if (!e)
        return;
    idlc_error(cl->ck->ctx, loc, "%s '%s' of %s is named like the C name of %s", what, name, owner_what, e->what);
    idlc_note(cl->ck->ctx, &e->loc, "%s", e->note);
}

/* A method's or event's parameters by their C names, which differ from
 * the IDL ones where the generated functions use the name themselves
 * ("user" is "user_"): two may not meet, and none may be a claimed name. */
static void check_params(claims *cl, const idlc_method *m, const char *mwhat)
{
    idlc_ctx *ctx = cl->ck->ctx;
    idlc_table seen;
    idlc__table_init(&seen, false);
    for (idlc_param *p = m->params; p; p = p->next) {
        const char *cname = idlc__cname_param(ctx, p->name);
        if (!cname)
            break;
        check_member(cl, cname, &p->loc, "parameter", mwhat);
        bool oom = false;
        const idlc_param *first = idlc__table_put(&seen, cname, p, &oom);
        if (oom)
            ctx->oom = true;
        if (first && strcmp(first->name, p->name) != 0) {
            idlc_error(ctx, &p->loc, "parameters '%s' and '%s' of %s both become '%s' in C", first->name, p->name,
                       mwhat, cname);
            idlc_note(ctx, &first->loc, "parameter '%s' declared here", first->name);
        }
    }
    idlc__table_free(&seen);
}

static const char *decl_what(idlc_ctx *ctx, const idlc_decl *d)
{
    return idlc_sprintf(ctx, "%s '%s'", idlc__decl_kind_name(d->kind), d->qualified_name);
}

static const char *member_what(idlc_ctx *ctx, const idlc_decl *d, const idlc_method *m, const char **q)
{
    *q = idlc_sprintf(ctx, "%s.%s", d->qualified_name, m->name);
    return idlc_sprintf(ctx, "%s '%s'", m->is_event ? "event" : "method", *q);
}

/* Each declaration's own name, and those of its enumerators, methods and
 * events; and each file's include guards. */
static void claim_declared_names(claims *cl)
{
    idlc_ctx *ctx = cl->ck->ctx;
    for (idlc_file *f = ctx->files; f; f = f->next) {
        if (f->module) {
            const char *what = idlc_sprintf(ctx, "file '%s'", f->path);
            claim_derived(cl, IDLC_CNO_FILE, f->stem, NULL, what,
                          idlc_sprintf(ctx, "module '%s' of %s declared here", f->module, what),
                          idlc_sprintf(ctx, "\"%s\"", f->path), &f->module_loc);
        }
        for (idlc_decl *d = f->decls; d; d = d->next) {
            claim_declared(cl, d->c_name, decl_what(ctx, d), d->qualified_name, &d->loc);
            if (d->kind == IDLC_DECL_ENUM) {
                for (idlc_enumerator *e = d->u.enum_.items; e; e = e->next) {
                    const char *q = idlc_sprintf(ctx, "%s.%s", d->qualified_name, e->name);
                    claim_declared(cl, e->c_name, idlc_sprintf(ctx, "enumerator '%s'", q), q, &e->loc);
                }
            }
            if (d->kind == IDLC_DECL_INTERFACE) {
                for (int pass = 0; pass < 2; pass++) {
                    for (idlc_method *m = pass ? d->u.interface_.events : d->u.interface_.methods; m; m = m->next) {
                        const char *q;
                        const char *what = member_what(ctx, d, m, &q);
                        claim_declared(cl, m->c_name, what, q, &m->loc);
                    }
                }
            }
        }
    }
}

/* The names the generators derive from the declared ones, and the
 * constructed types each declaration writes. A clash with a declared name
 * is reported at the owner of the derived name, with a note at the other. */
static void claim_derived_names(claims *cl)
{
    idlc_ctx *ctx = cl->ck->ctx;
    for (idlc_file *f = ctx->files; f && !ctx->oom; f = f->next) {
        for (idlc_decl *d = f->decls; d; d = d->next) {
            const char *what = decl_what(ctx, d);
            const char *note = idlc_sprintf(ctx, "%s declared here", what);
            switch (d->kind) {
            case IDLC_DECL_TYPEDEF:
                claim_constructed(cl, d->u.typedef_.type, d->module, 0);
                break;
            case IDLC_DECL_ENUM:
                claim_derived(cl, IDLC_CNO_ENUM, d->c_name, NULL, what, note, d->qualified_name, &d->loc);
                break;
            case IDLC_DECL_STRUCT:
                claim_derived(cl, IDLC_CNO_STRUCT, d->c_name, NULL, what, note, d->qualified_name, &d->loc);
                for (idlc_field *fl = d->u.struct_.fields; fl; fl = fl->next)
                    claim_constructed(cl, fl->type, d->module, 0);
                break;
            case IDLC_DECL_UNION:
                claim_derived(cl, IDLC_CNO_STRUCT, d->c_name, NULL, what, note, d->qualified_name, &d->loc);
                for (idlc_union_case *c = d->u.union_.cases; c; c = c->next)
                    claim_constructed(cl, c->type, d->module, 0);
                break;
            case IDLC_DECL_INTERFACE:
                claim_derived(cl, IDLC_CNO_INTERFACE, d->c_name, NULL, what, note, d->qualified_name, &d->loc);
                for (int pass = 0; pass < 2; pass++) {
                    for (idlc_method *m = pass ? d->u.interface_.events : d->u.interface_.methods; m; m = m->next) {
                        const char *q;
                        const char *mwhat = member_what(ctx, d, m, &q);
                        claim_derived(cl, m->is_event ? IDLC_CNO_EVENT : IDLC_CNO_METHOD, m->c_name, m, mwhat,
                                      idlc_sprintf(ctx, "%s declared here", mwhat), q, &m->loc);
                    }
                }
                for (int pass = 0; pass < 2; pass++) {
                    for (idlc_method *m = pass ? d->u.interface_.events : d->u.interface_.methods; m; m = m->next) {
                        claim_constructed(cl, m->ret, d->module, 0);
                        for (idlc_param *p = m->params; p; p = p->next)
                            claim_constructed(cl, p->type, d->module, 0);
                    }
                }
                break;
            case IDLC_DECL_CONST:
                break;
            }
        }
    }
}

/* Fields, union cases, methods (members of the ops table) and parameters. */
static void check_members(claims *cl)
{
    idlc_ctx *ctx = cl->ck->ctx;
    for (idlc_file *f = ctx->files; f && !ctx->oom; f = f->next) {
        for (idlc_decl *d = f->decls; d; d = d->next) {
            const char *what = decl_what(ctx, d);
            if (d->kind == IDLC_DECL_STRUCT)
                for (idlc_field *fl = d->u.struct_.fields; fl; fl = fl->next)
                    check_member(cl, fl->name, &fl->loc, "field", what);
            if (d->kind == IDLC_DECL_UNION)
                for (idlc_union_case *c = d->u.union_.cases; c; c = c->next)
                    check_member(cl, c->name, &c->loc, "union case", what);
            if (d->kind != IDLC_DECL_INTERFACE)
                continue;
            for (int pass = 0; pass < 2; pass++) {
                for (idlc_method *m = pass ? d->u.interface_.events : d->u.interface_.methods; m; m = m->next) {
                    if (!m->is_event)
                        check_member(cl, m->name, &m->loc, "method", what);
                    const char *q;
                    const char *mwhat = member_what(ctx, d, m, &q);
                    check_params(cl, m, mwhat);
                }
            }
        }
    }
}

void idlc__check_cnames(checker *ck)
{
    claims cl = {ck, {0}};
    idlc__table_init(&cl.names, false);
    claim_declared_names(&cl);
    claim_derived_names(&cl);
    check_members(&cl);
    idlc__table_free(&cl.names);
}
