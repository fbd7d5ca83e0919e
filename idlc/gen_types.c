/* Generates <stem>.h and <stem>.c: constants, enums, structs, unions,
 * typedefs, the sequences/maps/fixed arrays they use, their encode/decode
 * functions, and the client-side descriptors of every interface. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnames.h"
#include "generate.h"

/* ------------------------------------------------------------ helpers */

static bool enum_fits_int(const idlc_decl *d)
{
    if (d->u.enum_.count == 0)
        return false;
    for (const idlc_enumerator *e = d->u.enum_.items; e != NULL; e = e->next)
        if (e->value < -2147483647LL - 1 || e->value > 2147483647LL)
            return false;
    return true;
}

static const char *int64_literal(gen_ctx *g, int64_t v)
{
    if (v == INT64_MIN)
        return "(-INT64_C(9223372036854775807) - 1)";
    if (v < 0)
        return idlc_sprintf(g->ctx, "(-INT64_C(%lld))", -(long long)v);
    return idlc_sprintf(g->ctx, "INT64_C(%lld)", (long long)v);
}

/* Every constructed type written in this file, through every declaration
 * and interface. */
static void collect_file_types(gen_ctx *g, gen_ctype_set *set, bool fields_only)
{
    for (const idlc_decl *d = g->file->decls; d != NULL; d = d->next) {
        switch (d->kind) {
        case IDLC_DECL_TYPEDEF:
            if (!fields_only)
                gen_collect(g, set, d->u.typedef_.type, d->module, GEN_ENC | GEN_DEC);
            break;
        case IDLC_DECL_STRUCT:
            for (const idlc_field *f = d->u.struct_.fields; f != NULL; f = f->next)
                gen_collect(g, set, f->type, d->module, GEN_ENC | GEN_DEC);
            break;
        case IDLC_DECL_UNION:
            for (const idlc_union_case *c = d->u.union_.cases; c != NULL; c = c->next)
                gen_collect(g, set, c->type, d->module, GEN_ENC | GEN_DEC);
            break;
        case IDLC_DECL_INTERFACE:
            if (fields_only)
                break;
            for (int ev = 0; ev < 2; ev++) {
                const idlc_method *m = ev ? d->u.interface_.events : d->u.interface_.methods;
                for (; m != NULL; m = m->next) {
                    gen_collect(g, set, m->ret, d->module, GEN_ENC | GEN_DEC);
                    for (const idlc_param *p = m->params; p != NULL; p = p->next)
                        gen_collect(g, set, p->type, d->module, GEN_ENC | GEN_DEC);
                }
            }
            break;
        default:
            break;
        }
    }
}

/* -------------------------------------------------- header: definitions */

typedef struct def_state {
    gen_ctx *g;
    gen_ctype_set *types;    /* constructed types owned by this module */
    const idlc_decl **done;  /* structs and unions already defined */
    size_t ndone;
    size_t cap;
} def_state;

static void define_decl(def_state *s, const idlc_decl *d);
static void define_ctype(def_state *s, gen_ctype *c);

static bool decl_done(def_state *s, const idlc_decl *d)
{
    for (size_t i = 0; i < s->ndone; i++)
        if (s->done[i] == d)
            return true;
    return false;
}

/* Defines first whatever a member of type t holds by value. */
static void define_member_deps(def_state *s, const idlc_type *t, const char *owner)
{
    t = gen_resolve(t, &owner);
    if (t->kind == IDLC_TYPE_NAMED && t->target != NULL && t->target->file == s->g->file &&
        (t->target->kind == IDLC_DECL_STRUCT || t->target->kind == IDLC_DECL_UNION)) {
        define_decl(s, t->target);
    } else if (gen_is_constructed(t) && strcmp(owner, s->g->module) == 0) {
        const char *name = gen_constructed_name(s->g, t, owner);
        for (size_t i = 0; i < s->types->count; i++)
            if (strcmp(s->types->items[i].name, name) == 0)
                define_ctype(s, &s->types->items[i]);
    }
}

static void member(gen_ctx *g, int ind, const idlc_type *t, const char *owner, const char *name,
                   const char *doc)
{
    gen_doc(&g->out, ind, doc);
    const idlc_type *r = gen_resolve(t, NULL);
    const char *note = r->kind == IDLC_TYPE_OPTIONAL ? " /* optional: NULL when absent */" : "";
    gen_line(&g->out, ind, "%s;%s", gen_decl(g, gen_ctype_of(g, t, owner), name), note);
}

static void define_ctype(def_state *s, gen_ctype *c)
{
    if (c->defined || c->visiting)
        return;
    c->visiting = true;
    gen_ctx *g = s->g;
    const idlc_type *t = c->type;
    if (t->kind == IDLC_TYPE_ARRAY)
        define_member_deps(s, t->elem, c->owner);
    gen_line(&g->out, 0, "#ifndef %s", idlc__cname(g->ctx, IDLC_CN_DEFINED, c->name));
    gen_line(&g->out, 0, "#define %s", idlc__cname(g->ctx, IDLC_CN_DEFINED, c->name));
    switch (t->kind) {
    case IDLC_TYPE_ARRAY:
        gen_line(&g->out, 0, "struct %s {", c->name);
        gen_line(&g->out, 1, "%s[%llu];", gen_decl(g, gen_ctype_of(g, t->elem, c->owner), "items"),
                 (unsigned long long)t->size);
        gen_line(&g->out, 0, "};");
        break;
    case IDLC_TYPE_MAP:
        gen_line(&g->out, 0, "struct %s {", c->name);
        gen_line(&g->out, 1, "struct %s *items;", idlc__cname(g->ctx, IDLC_CN_ENTRY, c->name));
        gen_line(&g->out, 1, "uint32_t count;");
        gen_line(&g->out, 0, "};");
        break;
    default:
        if (t->size > 0)
            gen_line(&g->out, 0, "/* At most %llu items. */", (unsigned long long)t->size);
        gen_line(&g->out, 0, "struct %s {", c->name);
        gen_line(&g->out, 1, "%s;", gen_decl(g, gen_ctype_of(g, t->elem, c->owner), "*items"));
        gen_line(&g->out, 1, "uint32_t count;");
        gen_line(&g->out, 0, "};");
        break;
    }
    gen_line(&g->out, 0, "#endif");
    gen_nl(&g->out);
    c->visiting = false;
    c->defined = true;
}

static void define_decl(def_state *s, const idlc_decl *d)
{
    if (decl_done(s, d))
        return;
    if (s->ndone == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        const idlc_decl **done = realloc(s->done, cap * sizeof *done);
        if (done == NULL) {
            s->g->out.failed = true;
            return;
        }
        s->done = done;
        s->cap = cap;
    }
    s->done[s->ndone++] = d;
    gen_ctx *g = s->g;
    if (d->kind == IDLC_DECL_STRUCT) {
        for (const idlc_field *f = d->u.struct_.fields; f != NULL; f = f->next)
            define_member_deps(s, f->type, d->module);
        gen_doc(&g->out, 0, d->doc);
        gen_line(&g->out, 0, "struct %s {", d->c_name);
        for (const idlc_field *f = d->u.struct_.fields; f != NULL; f = f->next)
            member(g, 1, f->type, d->module, f->name, f->doc);
        if (d->u.struct_.fields == NULL)
            gen_line(&g->out, 1, "char unused_; /* the struct has no fields; C needs one */");
        gen_line(&g->out, 0, "};");
    } else {
        for (const idlc_union_case *c = d->u.union_.cases; c != NULL; c = c->next)
            define_member_deps(s, c->type, d->module);
        gen_doc(&g->out, 0, d->doc);
        gen_line(&g->out, 0, "struct %s {", d->c_name);
        const idlc_decl *disc = d->u.union_.discriminator_enum;
        gen_line(&g->out, 1, "%s tag; /* selects the member of u */", disc ? disc->c_name : "int32_t");
        if (d->u.union_.cases != NULL) {
            gen_line(&g->out, 1, "union {");
            for (const idlc_union_case *c = d->u.union_.cases; c != NULL; c = c->next) {
                gen_doc(&g->out, 2, c->doc);
                gen_line(&g->out, 2, "%s; /* tag %s */",
                         gen_decl(g, gen_ctype_of(g, c->type, d->module), c->name),
                         c->enumerator ? c->enumerator->c_name : c->label);
            }
            gen_line(&g->out, 1, "} u;");
        }
        gen_line(&g->out, 0, "};");
    }
    gen_nl(&g->out);
}

/* ---------------------------------------------------------- the header */

static void header_enum(gen_ctx *g, const idlc_decl *d)
{
    gen_doc(&g->out, 0, d->doc);
    if (enum_fits_int(d)) {
        gen_line(&g->out, 0, "typedef enum %s {", d->c_name);
        for (const idlc_enumerator *e = d->u.enum_.items; e != NULL; e = e->next) {
            gen_doc(&g->out, 1, e->doc);
            gen_line(&g->out, 1, "%s = %lld%s", e->c_name, (long long)e->value, e->next ? "," : "");
        }
        gen_line(&g->out, 0, "} %s;", d->c_name);
    } else {
        /* C enumerators must fit in an int: wider enums are an int64_t and
         * a macro per enumerator. */
        gen_line(&g->out, 0, "typedef int64_t %s;", d->c_name);
        for (const idlc_enumerator *e = d->u.enum_.items; e != NULL; e = e->next) {
            gen_doc(&g->out, 0, e->doc);
            gen_line(&g->out, 0, "#define %s %s", e->c_name, int64_literal(g, e->value));
        }
    }
    gen_nl(&g->out);
    gen_line(&g->out, 0, "/* Values that are not enumerators are refused both ways. */");
    gen_line(&g->out, 0, "void %s(prpc_encoder *enc, const %s *v);",
             idlc__cname(g->ctx, IDLC_CN_ENCODE, d->c_name), d->c_name);
    gen_line(&g->out, 0, "void %s(prpc_decoder *dec, %s *v);",
             idlc__cname(g->ctx, IDLC_CN_DECODE, d->c_name), d->c_name);
    gen_line(&g->out, 0, "/* The enumerator's IDL name, or NULL for another value. */");
    gen_line(&g->out, 0, "const char *%s(%s v);",
             idlc__cname(g->ctx, IDLC_CN_ENUM_NAME, d->c_name), d->c_name);
    gen_nl(&g->out);
}

static void header_const(gen_ctx *g, const idlc_decl *d)
{
    const idlc_value *v = &d->u.constant.expr->value;
    const idlc_type *t = gen_resolve(d->u.constant.type, NULL);
    gen_doc(&g->out, 0, d->doc);
    if (v->kind == IDLC_VAL_STRING) {
        gen_line(&g->out, 0, "#define %s %s", d->c_name, gen_cstring(g, v->str));
        return;
    }
    const char *ct = gen_ctype_of(g, t, d->module);
    if (!idlc_type_kind_is_integer(t->kind))
        ct = "int64_t";
    if (v->negative) {
        if (v->magnitude == (uint64_t)INT64_MAX + 1)
            gen_line(&g->out, 0, "#define %s ((%s)(-INT64_C(9223372036854775807) - 1))", d->c_name, ct);
        else
            gen_line(&g->out, 0, "#define %s ((%s)-INT64_C(%llu))", d->c_name, ct,
                     (unsigned long long)v->magnitude);
    } else if (t->kind == IDLC_TYPE_U64 || v->magnitude > (uint64_t)INT64_MAX) {
        gen_line(&g->out, 0, "#define %s ((%s)UINT64_C(%llu))", d->c_name, ct,
                 (unsigned long long)v->magnitude);
    } else {
        gen_line(&g->out, 0, "#define %s ((%s)%llu)", d->c_name, ct,
                 (unsigned long long)v->magnitude);
    }
}

static uint32_t count_list(const idlc_method *m)
{
    uint32_t n = 0;
    for (; m != NULL; m = m->next)
        n++;
    return n;
}

static void header_interface(gen_ctx *g, const idlc_decl *d)
{
    const char *canon = gen_interface_canon(g, d);
    uint32_t nm = count_list(d->u.interface_.methods);
    uint32_t ne = count_list(d->u.interface_.events);
    gen_doc(&g->out, 0, d->doc);
    gen_line(&g->out, 0, "#define %s %u",
             idlc__cname(g->ctx, IDLC_CN_VERSION_MAJOR, d->c_name), (unsigned)d->u.interface_.version_major);
    gen_line(&g->out, 0, "#define %s %u",
             idlc__cname(g->ctx, IDLC_CN_VERSION_MINOR, d->c_name), (unsigned)d->u.interface_.version_minor);
    gen_line(&g->out, 0, "/* FNV-1a 64 of the interface's structure (docs/generated-code.md). */");
    gen_line(&g->out, 0, "#define %s UINT64_C(0x%016llx)",
             idlc__cname(g->ctx, IDLC_CN_SIGNATURE_HASH, d->c_name), (unsigned long long)gen_fnv1a64(canon));
    gen_line(&g->out, 0, "#define %s %u", idlc__cname(g->ctx, IDLC_CN_METHOD_COUNT, d->c_name), (unsigned)nm);
    gen_line(&g->out, 0, "#define %s %u", idlc__cname(g->ctx, IDLC_CN_EVENT_COUNT, d->c_name), (unsigned)ne);
    if (nm > 0)
        gen_line(&g->out, 0, "extern const prpc_method_desc %s[%u];",
                 idlc__cname(g->ctx, IDLC_CN_METHODS, d->c_name), (unsigned)nm);
    if (ne > 0)
        gen_line(&g->out, 0, "extern const prpc_event_desc %s[%u];",
                 idlc__cname(g->ctx, IDLC_CN_EVENTS, d->c_name), (unsigned)ne);
    gen_line(&g->out, 0, "/* The interface's descriptor, shared by its clients and servers. */");
    gen_line(&g->out, 0, "extern const prpc_service_desc %s;", idlc__cname(g->ctx, IDLC_CN_DESC, d->c_name));
    gen_nl(&g->out);
}

static void write_header(gen_ctx *g)
{
    const char *guard = idlc__cname(g->ctx, IDLC_CN_HEADER_GUARD, g->file->stem);
    gen_banner(g, idlc_sprintf(g->ctx, "Types, codecs and descriptors of module %s.", g->module));
    gen_line(&g->out, 0, "#ifndef %s", guard);
    gen_line(&g->out, 0, "#define %s", guard);
    gen_nl(&g->out);
    gen_line(&g->out, 0, "#include <stdbool.h>");
    gen_line(&g->out, 0, "#include <stddef.h>");
    gen_line(&g->out, 0, "#include <stdint.h>");
    gen_nl(&g->out);
    gen_line(&g->out, 0, "#include <piperpc/piperpc.h>");
    for (const idlc_import *im = g->file->imports; im != NULL; im = im->next)
        if (im->file != NULL)
            gen_line(&g->out, 0, "#include \"%s.h\"", im->file->stem);
    gen_nl(&g->out);
    gen_line(&g->out, 0, "#if PRPC_VERSION_MAJOR != %d || PRPC_VERSION_MINOR != %d", PRPC_VERSION_MAJOR,
             PRPC_VERSION_MINOR);
    gen_line(&g->out, 0, "#error \"%s.h was generated by idlc %s for piperpc %d.%d: regenerate it with this piperpc's idlc\"",
             g->file->stem, PIPERPC_IDLC_VERSION, PRPC_VERSION_MAJOR, PRPC_VERSION_MINOR);
    gen_line(&g->out, 0, "#endif");
    gen_nl(&g->out);
    gen_line(&g->out, 0, "#ifdef __cplusplus");
    gen_line(&g->out, 0, "extern \"C\" {");
    gen_line(&g->out, 0, "#endif");
    gen_nl(&g->out);
    if (g->file->doc != NULL) {
        gen_doc(&g->out, 0, g->file->doc);
        gen_nl(&g->out);
    }

    const idlc_decl *const *order = (const idlc_decl *const *)g->file->decl_order;
    size_t ndecl = g->file->decl_count;

    bool any = false;
    for (size_t i = 0; i < ndecl; i++) {
        if (order[i]->kind == IDLC_DECL_CONST) {
            if (!any)
                gen_line(&g->out, 0, "/* ---- constants */\n");
            header_const(g, order[i]);
            any = true;
        }
    }
    if (any)
        gen_nl(&g->out);

    any = false;
    for (size_t i = 0; i < ndecl; i++) {
        if (order[i]->kind == IDLC_DECL_ENUM) {
            if (!any)
                gen_line(&g->out, 0, "/* ---- enums */\n");
            header_enum(g, order[i]);
            any = true;
        }
    }

    gen_ctype_set types = {0};
    collect_file_types(g, &types, false);
    /* Only the constructed types this module owns are defined here; the
     * ones reached through imported typedefs live in their own headers. */
    gen_ctype_set own = {0};
    for (size_t i = 0; i < types.count; i++) {
        if (strcmp(types.items[i].owner, g->module) != 0)
            continue;
        if (own.count == own.cap) {
            size_t cap = own.cap ? own.cap * 2 : 16;
            gen_ctype *items = realloc(own.items, cap * sizeof *items);
            if (items == NULL) {
                g->out.failed = true;
                break;
            }
            own.items = items;
            own.cap = cap;
        }
        own.items[own.count++] = types.items[i];
    }

    any = false;
    for (size_t i = 0; i < ndecl; i++) {
        const idlc_decl *d = order[i];
        if (d->kind == IDLC_DECL_STRUCT || d->kind == IDLC_DECL_UNION) {
            if (!any)
                gen_line(&g->out, 0, "/* ---- forward declarations */\n");
            gen_line(&g->out, 0, "typedef struct %s %s;", d->c_name, d->c_name);
            any = true;
        }
    }
    for (size_t i = 0; i < own.count; i++) {
        if (!any)
            gen_line(&g->out, 0, "/* ---- forward declarations */\n");
        gen_line(&g->out, 0, "typedef struct %s %s;", own.items[i].name, own.items[i].name);
        if (own.items[i].type->kind == IDLC_TYPE_MAP) {
            const char *entry = idlc__cname(g->ctx, IDLC_CN_ENTRY, own.items[i].name);
            gen_line(&g->out, 0, "typedef struct %s %s;", entry, entry);
        }
        any = true;
    }
    if (any)
        gen_nl(&g->out);

    any = false;
    for (size_t i = 0; i < ndecl; i++) {
        const idlc_decl *d = order[i];
        if (d->kind == IDLC_DECL_TYPEDEF) {
            if (!any)
                gen_line(&g->out, 0, "/* ---- typedefs */\n");
            gen_doc(&g->out, 0, d->doc);
            gen_line(&g->out, 0, "typedef %s;",
                     gen_decl(g, gen_ctype_of(g, d->u.typedef_.type, d->module), d->c_name));
            any = true;
        }
    }
    if (any)
        gen_nl(&g->out);

    def_state s = {g, &own, NULL, 0, 0};
    bool header_done = false;
    for (size_t i = 0; i < ndecl; i++) {
        const idlc_decl *d = order[i];
        if (d->kind == IDLC_DECL_STRUCT || d->kind == IDLC_DECL_UNION) {
            if (!header_done)
                gen_line(&g->out, 0, "/* ---- structs and unions */\n");
            header_done = true;
            define_decl(&s, d);
        }
    }
    for (size_t i = 0; i < own.count; i++) {
        if (!own.items[i].defined && !header_done) {
            gen_line(&g->out, 0, "/* ---- sequences, maps and fixed arrays */\n");
            header_done = true;
        }
        define_ctype(&s, &own.items[i]);
    }
    /* Map entries hold their key and value by value, so they come last. */
    for (size_t i = 0; i < own.count; i++) {
        const gen_ctype *c = &own.items[i];
        if (c->type->kind != IDLC_TYPE_MAP)
            continue;
        define_member_deps(&s, c->type->key, c->owner);
        define_member_deps(&s, c->type->elem, c->owner);
        gen_line(&g->out, 0, "#ifndef %s", idlc__cname(g->ctx, IDLC_CN_ENTRY_DEFINED, c->name));
        gen_line(&g->out, 0, "#define %s", idlc__cname(g->ctx, IDLC_CN_ENTRY_DEFINED, c->name));
        gen_line(&g->out, 0, "struct %s {", idlc__cname(g->ctx, IDLC_CN_ENTRY, c->name));
        gen_line(&g->out, 1, "%s;", gen_decl(g, gen_ctype_of(g, c->type->key, c->owner), "key"));
        gen_line(&g->out, 1, "%s;", gen_decl(g, gen_ctype_of(g, c->type->elem, c->owner), "value"));
        gen_line(&g->out, 0, "};");
        gen_line(&g->out, 0, "#endif");
        gen_nl(&g->out);
    }
    free(s.done);

    any = false;
    for (size_t i = 0; i < ndecl; i++) {
        const idlc_decl *d = order[i];
        if (d->kind == IDLC_DECL_STRUCT || d->kind == IDLC_DECL_UNION) {
            if (!any)
                gen_line(&g->out, 0, "/* ---- codecs: a struct is an array of its fields, a union [tag, value] */\n");
            gen_line(&g->out, 0, "void %s(prpc_encoder *enc, const %s *v);",
                     idlc__cname(g->ctx, IDLC_CN_ENCODE, d->c_name), d->c_name);
            gen_line(&g->out, 0, "void %s(prpc_decoder *dec, %s *v);",
                     idlc__cname(g->ctx, IDLC_CN_DECODE, d->c_name), d->c_name);
            any = true;
        }
    }
    if (any)
        gen_nl(&g->out);

    any = false;
    for (const idlc_decl *d = g->file->decls; d != NULL; d = d->next) {
        if (d->kind == IDLC_DECL_INTERFACE) {
            if (!any)
                gen_line(&g->out, 0, "/* ---- interfaces */\n");
            header_interface(g, d);
            any = true;
        }
    }

    gen_line(&g->out, 0, "#ifdef __cplusplus");
    gen_line(&g->out, 0, "}");
    gen_line(&g->out, 0, "#endif");
    gen_nl(&g->out);
    gen_line(&g->out, 0, "#endif /* %s */", guard);
    gen_ctype_set_free(&own);
    gen_ctype_set_free(&types);
}

/* ------------------------------------------------------------ the .c */

static void source_enum(gen_ctx *g, const idlc_decl *d)
{
    gen_buf *b = &g->out;
    gen_line(b, 0, "void %s(prpc_encoder *enc, const %s *v)",
             idlc__cname(g->ctx, IDLC_CN_ENCODE, d->c_name), d->c_name);
    gen_line(b, 0, "{");
    gen_line(b, 1, "switch (*v) {");
    for (const idlc_enumerator *e = d->u.enum_.items; e != NULL; e = e->next)
        gen_line(b, 1, "case %s:", e->c_name);
    if (d->u.enum_.items != NULL) {
        gen_line(b, 2, "prpc_enc_int(enc, (int64_t)*v);");
        gen_line(b, 2, "break;");
    }
    gen_line(b, 1, "default:");
    gen_line(b, 2, "prpc_enc_fail(enc, PRPC_ERR_INVALID_ARG); /* not an enumerator */");
    gen_line(b, 2, "break;");
    gen_line(b, 1, "}");
    gen_line(b, 0, "}");
    gen_nl(b);
    gen_line(b, 0, "void %s(prpc_decoder *dec, %s *v)",
             idlc__cname(g->ctx, IDLC_CN_DECODE, d->c_name), d->c_name);
    gen_line(b, 0, "{");
    gen_line(b, 1, "int64_t x = 0;");
    gen_nl(b);
    gen_line(b, 1, "prpc_dec_i64(dec, &x);");
    gen_line(b, 1, "switch (x) {");
    for (const idlc_enumerator *e = d->u.enum_.items; e != NULL; e = e->next)
        gen_line(b, 1, "case %s:", e->c_name);
    if (d->u.enum_.items != NULL) {
        gen_line(b, 2, "*v = (%s)x;", d->c_name);
        gen_line(b, 2, "break;");
    }
    gen_line(b, 1, "default:");
    gen_line(b, 2, "*v = (%s)0;", d->c_name);
    gen_line(b, 2, "if (prpc_dec_status(dec) == PRPC_OK)");
    gen_line(b, 3, "prpc_dec_fail(dec, dec->type_err);");
    gen_line(b, 2, "break;");
    gen_line(b, 1, "}");
    gen_line(b, 0, "}");
    gen_nl(b);
    gen_line(b, 0, "const char *%s(%s v)", idlc__cname(g->ctx, IDLC_CN_ENUM_NAME, d->c_name), d->c_name);
    gen_line(b, 0, "{");
    if (enum_fits_int(d)) {
        gen_line(b, 1, "switch (v) {");
        for (const idlc_enumerator *e = d->u.enum_.items; e != NULL; e = e->next) {
            gen_line(b, 1, "case %s:", e->c_name);
            gen_line(b, 2, "return \"%s\";", e->name);
        }
        gen_line(b, 1, "default:");
        gen_line(b, 2, "return NULL;");
        gen_line(b, 1, "}");
    } else {
        for (const idlc_enumerator *e = d->u.enum_.items; e != NULL; e = e->next) {
            gen_line(b, 1, "if (v == %s)", e->c_name);
            gen_line(b, 2, "return \"%s\";", e->name);
        }
        gen_line(b, 1, "return NULL;");
    }
    gen_line(b, 0, "}");
    gen_nl(b);
}

static bool is_optional(const idlc_type *t)
{
    return gen_resolve(t, NULL)->kind == IDLC_TYPE_OPTIONAL;
}

static void source_struct(gen_ctx *g, const idlc_decl *d)
{
    gen_buf *b = &g->out;
    uint32_t n = 0, required = 0;
    for (const idlc_field *f = d->u.struct_.fields; f != NULL; f = f->next) {
        n++;
        if (!is_optional(f->type))
            required = n;
    }

    gen_line(b, 0, "void %s(prpc_encoder *enc, const %s *v)",
             idlc__cname(g->ctx, IDLC_CN_ENCODE, d->c_name), d->c_name);
    gen_line(b, 0, "{");
    if (n == 0)
        gen_line(b, 1, "(void)v;");
    gen_line(b, 1, "prpc_enc_array(enc, %u);", (unsigned)n);
    for (const idlc_field *f = d->u.struct_.fields; f != NULL; f = f->next)
        gen_encode(g, 1, f->type, d->module, idlc_sprintf(g->ctx, "v->%s", f->name));
    gen_line(b, 0, "}");
    gen_nl(b);

    gen_line(b, 0, "void %s(prpc_decoder *dec, %s *v)",
             idlc__cname(g->ctx, IDLC_CN_DECODE, d->c_name), d->c_name);
    gen_line(b, 0, "{");
    gen_line(b, 1, "uint32_t n = 0;");
    gen_nl(b);
    gen_line(b, 1, "memset(v, 0, sizeof *v);");
    gen_line(b, 1, "prpc_dec_array(dec, &n);");
    if (required > 0) {
        gen_line(b, 1, "if (n < %u) { /* a required field is missing */", (unsigned)required);
        gen_line(b, 2, "if (prpc_dec_status(dec) == PRPC_OK)");
        gen_line(b, 3, "prpc_dec_fail(dec, dec->type_err);");
        gen_line(b, 2, "return;");
        gen_line(b, 1, "}");
    }
    uint32_t i = 0;
    for (const idlc_field *f = d->u.struct_.fields; f != NULL; f = f->next, i++) {
        const char *x = idlc_sprintf(g->ctx, "v->%s", f->name);
        if (i < required) {
            gen_decode(g, 1, f->type, d->module, x);
        } else {
            /* A missing trailing optional field (an older peer) stays absent. */
            gen_line(b, 1, "if (n > %u) {", (unsigned)i);
            gen_decode(g, 2, f->type, d->module, x);
            gen_line(b, 1, "}");
        }
    }
    gen_line(b, 1, "/* Fields appended by a newer peer are skipped. */");
    gen_line(b, 1, "for (uint32_t i = %u; i < n; i++)", (unsigned)n);
    gen_line(b, 2, "prpc_dec_skip(dec);");
    gen_line(b, 0, "}");
    gen_nl(b);
}

static void source_union(gen_ctx *g, const idlc_decl *d)
{
    gen_buf *b = &g->out;
    const idlc_decl *disc = d->u.union_.discriminator_enum;
    const char *dname = disc ? disc->c_name : "int32_t";
    bool all_cases = true;
    if (disc != NULL) {
        for (const idlc_enumerator *e = disc->u.enum_.items; e != NULL; e = e->next) {
            bool found = false;
            for (const idlc_union_case *c = d->u.union_.cases; c != NULL; c = c->next)
                found = found || c->enumerator == e;
            all_cases = all_cases && found;
        }
    }

    gen_line(b, 0, "void %s(prpc_encoder *enc, const %s *v)",
             idlc__cname(g->ctx, IDLC_CN_ENCODE, d->c_name), d->c_name);
    gen_line(b, 0, "{");
    gen_line(b, 1, "prpc_enc_array(enc, 2);");
    if (disc != NULL)
        gen_line(b, 1, "%s(enc, &v->tag);", idlc__cname(g->ctx, IDLC_CN_ENCODE, dname));
    else
        gen_line(b, 1, "prpc_enc_int(enc, v->tag);");
    gen_line(b, 1, "switch (v->tag) {");
    for (const idlc_union_case *c = d->u.union_.cases; c != NULL; c = c->next) {
        gen_line(b, 1, "case %s:", c->enumerator ? c->enumerator->c_name : c->label);
        gen_encode(g, 2, c->type, d->module, idlc_sprintf(g->ctx, "v->u.%s", c->name));
        gen_line(b, 2, "break;");
    }
    gen_line(b, 1, "default:");
    gen_line(b, 2, all_cases ? "prpc_enc_fail(enc, PRPC_ERR_INVALID_ARG); /* not an enumerator */"
                             : "prpc_enc_nil(enc); /* an enumerator without a member */");
    gen_line(b, 2, "break;");
    gen_line(b, 1, "}");
    gen_line(b, 0, "}");
    gen_nl(b);

    gen_line(b, 0, "void %s(prpc_decoder *dec, %s *v)",
             idlc__cname(g->ctx, IDLC_CN_DECODE, d->c_name), d->c_name);
    gen_line(b, 0, "{");
    gen_line(b, 1, "memset(v, 0, sizeof *v);");
    gen_line(b, 1, "prpc_dec_array_exact(dec, 2);");
    if (disc != NULL)
        gen_line(b, 1, "%s(dec, &v->tag);", idlc__cname(g->ctx, IDLC_CN_DECODE, dname));
    else
        gen_line(b, 1, "prpc_dec_i32(dec, &v->tag);");
    gen_line(b, 1, "if (prpc_dec_status(dec) != PRPC_OK)");
    gen_line(b, 2, "return;");
    gen_line(b, 1, "switch (v->tag) {");
    for (const idlc_union_case *c = d->u.union_.cases; c != NULL; c = c->next) {
        gen_line(b, 1, "case %s:", c->enumerator ? c->enumerator->c_name : c->label);
        gen_decode(g, 2, c->type, d->module, idlc_sprintf(g->ctx, "v->u.%s", c->name));
        gen_line(b, 2, "break;");
    }
    gen_line(b, 1, "default:");
    gen_line(b, 2, all_cases ? "prpc_dec_fail(dec, PRPC_ERR_INTERNAL); /* the enum decoder admits only enumerators */"
                             : "prpc_dec_nil(dec); /* an enumerator without a member */");
    gen_line(b, 2, "break;");
    gen_line(b, 1, "}");
    gen_line(b, 0, "}");
    gen_nl(b);
}

static void method_flags(gen_ctx *g, const idlc_method *m, char *out, size_t n)
{
    (void)g;
    out[0] = '\0';
    if (m->oneway)
        snprintf(out + strlen(out), n - strlen(out), "%sPRPC_METHOD_ONEWAY", out[0] ? " | " : "");
    if (m->attrs.idempotent)
        snprintf(out + strlen(out), n - strlen(out), "%sPRPC_METHOD_IDEMPOTENT", out[0] ? " | " : "");
    if (m->attrs.deprecated)
        snprintf(out + strlen(out), n - strlen(out), "%sPRPC_METHOD_DEPRECATED", out[0] ? " | " : "");
    if (out[0] == '\0')
        snprintf(out, n, "0");
}

/* One method or event descriptor in three lines at most: the names, the
 * parameter count and any flags; the signature; the doc comment if there
 * is one. Fields left out are zero. */
static void desc_entry(gen_ctx *g, const idlc_method *m, uint32_t nparams, const char *extra)
{
    gen_buf *b = &g->out;
    gen_line(b, 1, "{.name = %s, .wire_name = %s, .nparams = %u%s,", gen_cstring(g, m->name),
             gen_cstring(g, m->wire_name), (unsigned)nparams, extra);
    const char *sig = gen_cstring(g, m->signature ? m->signature : m->name);
    if (m->doc == NULL) {
        gen_line(b, 1, " .signature = %s},", sig);
    } else {
        gen_line(b, 1, " .signature = %s,", sig);
        gen_line(b, 1, " .doc = %s},", gen_cstring(g, m->doc));
    }
}

/* The method descriptors, once: the client and the server share them, and
 * the server's glue is given at registration (see gen_server.c). */
static void method_descs(gen_ctx *g, const idlc_decl *d)
{
    gen_buf *b = &g->out;
    uint32_t nm = count_list(d->u.interface_.methods);
    if (nm == 0)
        return;
    gen_line(b, 0, "const prpc_method_desc %s[%u] = {", idlc__cname(g->ctx, IDLC_CN_METHODS, d->c_name),
             (unsigned)nm);
    for (const idlc_method *m = d->u.interface_.methods; m != NULL; m = m->next) {
        char flags[128];
        method_flags(g, m, flags, sizeof flags);
        const char *extra = "";
        if (strcmp(flags, "0") != 0)
            extra = idlc_sprintf(g->ctx, ", .flags = %s", flags);
        if (m->attrs.timeout_ms != 0)
            extra = idlc_sprintf(g->ctx, "%s, .timeout_ms = %u", extra, (unsigned)m->attrs.timeout_ms);
        desc_entry(g, m, gen_wire_params(m), extra);
    }
    gen_line(b, 0, "};");
    gen_nl(b);
}

static void service_desc(gen_ctx *g, const idlc_decl *d)
{
    gen_buf *b = &g->out;
    uint32_t nm = count_list(d->u.interface_.methods);
    uint32_t ne = count_list(d->u.interface_.events);
    gen_line(b, 0, "const prpc_service_desc %s = {", idlc__cname(g->ctx, IDLC_CN_DESC, d->c_name));
    gen_line(b, 1, ".module = %s,", gen_cstring(g, d->module));
    gen_line(b, 1, ".name = %s,", gen_cstring(g, d->name));
    gen_line(b, 1, ".full_name = %s,", gen_cstring(g, d->qualified_name));
    gen_line(b, 1, ".doc = %s,", gen_cstring(g, d->doc));
    gen_line(b, 1, ".version_major = %s,", idlc__cname(g->ctx, IDLC_CN_VERSION_MAJOR, d->c_name));
    gen_line(b, 1, ".version_minor = %s,", idlc__cname(g->ctx, IDLC_CN_VERSION_MINOR, d->c_name));
    gen_line(b, 1, ".signature_hash = %s,", idlc__cname(g->ctx, IDLC_CN_SIGNATURE_HASH, d->c_name));
    gen_line(b, 1, ".methods = %s,", nm ? idlc__cname(g->ctx, IDLC_CN_METHODS, d->c_name) : "NULL");
    gen_line(b, 1, ".nmethods = %u,", (unsigned)nm);
    gen_line(b, 1, ".events = %s,", ne ? idlc__cname(g->ctx, IDLC_CN_EVENTS, d->c_name) : "NULL");
    gen_line(b, 1, ".nevents = %u,", (unsigned)ne);
    gen_line(b, 0, "};");
    gen_nl(b);
}

static void source_interface(gen_ctx *g, const idlc_decl *d)
{
    gen_buf *b = &g->out;
    gen_line(b, 0, "/* ---- %s */", d->qualified_name);
    gen_nl(b);
    method_descs(g, d);
    uint32_t ne = count_list(d->u.interface_.events);
    if (ne > 0) {
        gen_line(b, 0, "const prpc_event_desc %s[%u] = {",
                 idlc__cname(g->ctx, IDLC_CN_EVENTS, d->c_name), (unsigned)ne);
        for (const idlc_method *m = d->u.interface_.events; m != NULL; m = m->next)
            desc_entry(g, m, m->param_count, "");
        gen_line(b, 0, "};");
        gen_nl(b);
    }
    service_desc(g, d);
}

static void write_source(gen_ctx *g)
{
    gen_banner(g, idlc_sprintf(g->ctx, "Codecs and descriptors of module %s.", g->module));
    gen_line(&g->out, 0, "#include <string.h>");
    gen_nl(&g->out);
    gen_line(&g->out, 0, "#include \"%s.h\"", g->file->stem);
    gen_nl(&g->out);

    gen_ctype_set set = {0};
    collect_file_types(g, &set, true);
    gen_constructed_codecs(g, &set);
    gen_ctype_set_free(&set);

    const idlc_decl *const *order = (const idlc_decl *const *)g->file->decl_order;
    for (size_t i = 0; i < g->file->decl_count; i++) {
        const idlc_decl *d = order[i];
        if (d->kind == IDLC_DECL_ENUM)
            source_enum(g, d);
    }
    for (size_t i = 0; i < g->file->decl_count; i++) {
        const idlc_decl *d = order[i];
        if (d->kind == IDLC_DECL_STRUCT)
            source_struct(g, d);
        else if (d->kind == IDLC_DECL_UNION)
            source_union(g, d);
    }
    for (const idlc_decl *d = g->file->decls; d != NULL; d = d->next)
        if (d->kind == IDLC_DECL_INTERFACE)
            source_interface(g, d);
    /* No trailing blank line. */
    while (g->out.len > 1 && g->out.p[g->out.len - 1] == '\n' && g->out.p[g->out.len - 2] == '\n')
        g->out.p[--g->out.len] = '\0';
}

idlc_result gen_types(gen_ctx *g, const char *out_dir)
{
    write_header(g);
    idlc_result r = gen_write(g, out_dir, idlc_sprintf(g->ctx, "%s.h", g->file->stem));
    gen_buf_free(&g->out);
    if (r != IDLC_OK)
        return r;
    write_source(g);
    r = gen_write(g, out_dir, idlc_sprintf(g->ctx, "%s.c", g->file->stem));
    gen_buf_free(&g->out);
    return r;
}
