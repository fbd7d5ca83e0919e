/* A readable dump of the checked tree (`idlc --dump-ast`): every resolved
 * fact the generator relies on, one per line, so golden tests can pin the
 * front end's results down without generating code. */
#include <inttypes.h>
#include <stdio.h>

#include "ctx.h"
#include "dump.h"

static void put_doc(FILE *out, const char *indent, const char *doc)
{
    if (!doc)
        return;
    fprintf(out, "%sdoc: \"", indent);
    for (const char *p = doc; *p; p++) {
        if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else
            fputc(*p, out);
    }
    fputs("\"\n", out);
}

static void put_type(FILE *out, const idlc_type *t)
{
    if (!t) {
        fputs("?", out);
        return;
    }
    switch (t->kind) {
    case IDLC_TYPE_NAMED:
        fputs(t->target ? t->target->qualified_name : t->name, out);
        break;
    case IDLC_TYPE_SEQUENCE:
        fputs("sequence<", out);
        put_type(out, t->elem);
        if (t->size_expr)
            fprintf(out, ", %" PRIu64, t->size);
        fputs(">", out);
        break;
    case IDLC_TYPE_MAP:
        fputs("map<", out);
        put_type(out, t->key);
        fputs(", ", out);
        put_type(out, t->elem);
        fputs(">", out);
        break;
    case IDLC_TYPE_OPTIONAL:
        fputs("optional<", out);
        put_type(out, t->elem);
        fputs(">", out);
        break;
    case IDLC_TYPE_ARRAY:
        put_type(out, t->elem);
        fprintf(out, "[%" PRIu64 "]", t->size);
        break;
    default:
        fputs(idlc_type_kind_name(t->kind), out);
        break;
    }
}

static void put_attrs(FILE *out, const char *indent, const idlc_attrs *a)
{
    if (a->deprecated)
        fprintf(out, "%sdeprecated: %s\n", indent, a->deprecated_reason ? a->deprecated_reason : "(no reason)");
    if (a->idempotent)
        fprintf(out, "%sidempotent\n", indent);
    if (a->timeout_ms)
        fprintf(out, "%stimeout: %" PRIu32 " ms\n", indent, a->timeout_ms);
}

static const char *kind_name(idlc_decl_kind k)
{
    static const char *const names[] = {"const", "typedef", "enum", "struct", "union", "interface"};
    return names[k];
}

void idlc_dump(const idlc_ctx *ctx, FILE *out)
{
    for (const idlc_file *f = ctx->files; f; f = f->next) {
        fprintf(out, "file %s%s (stem %s)\n", f->path, f->is_main ? " [main]" : "", f->stem);
        fprintf(out, "  module %s\n", f->module ? f->module : "?");
        put_doc(out, "  ", f->doc);
        for (const idlc_import *i = f->imports; i; i = i->next)
            fprintf(out, "  import \"%s\" -> %s\n", i->path, i->file ? i->file->path : "?");
        for (const idlc_decl *d = f->decls; d; d = d->next) {
            fprintf(out, "  %s %s (C %s) at %d:%d\n", kind_name(d->kind), d->qualified_name, d->c_name,
                    d->loc.line, d->loc.col);
            put_doc(out, "    ", d->doc);
            put_attrs(out, "    ", &d->attrs);
            switch (d->kind) {
            case IDLC_DECL_CONST: {
                const idlc_value *v = &d->u.constant.expr->value;
                fputs("    type ", out);
                put_type(out, d->u.constant.type);
                if (v->kind == IDLC_VAL_STRING)
                    fprintf(out, " = string of %zu bytes\n", v->str_len);
                else
                    fprintf(out, " = %s%" PRIu64 "\n", v->negative ? "-" : "", v->magnitude);
                break;
            }
            case IDLC_DECL_TYPEDEF:
                fputs("    = ", out);
                put_type(out, d->u.typedef_.type);
                fputs("\n", out);
                break;
            case IDLC_DECL_ENUM:
                for (const idlc_enumerator *e = d->u.enum_.items; e; e = e->next) {
                    fprintf(out, "    %s = %" PRId64 " (C %s)\n", e->name, e->value, e->c_name);
                    put_doc(out, "      ", e->doc);
                    put_attrs(out, "      ", &e->attrs);
                }
                break;
            case IDLC_DECL_STRUCT:
                for (const idlc_field *fl = d->u.struct_.fields; fl; fl = fl->next) {
                    fputs("    field ", out);
                    put_type(out, fl->type);
                    fprintf(out, " %s\n", fl->name);
                    put_doc(out, "      ", fl->doc);
                    put_attrs(out, "      ", &fl->attrs);
                }
                break;
            case IDLC_DECL_UNION:
                fprintf(out, "    switch %s\n",
                        d->u.union_.discriminator_enum ? d->u.union_.discriminator_enum->qualified_name : "?");
                for (const idlc_union_case *c = d->u.union_.cases; c; c = c->next) {
                    fprintf(out, "    case %s (%" PRId64 "): ", c->label, c->enumerator ? c->enumerator->value : 0);
                    put_type(out, c->type);
                    fprintf(out, " %s\n", c->name);
                    put_doc(out, "      ", c->doc);
                }
                break;
            case IDLC_DECL_INTERFACE:
                fprintf(out, "    version %" PRIu32 ".%" PRIu32 "\n", d->u.interface_.version_major,
                        d->u.interface_.version_minor);
                for (int pass = 0; pass < 2; pass++) {
                    for (const idlc_method *m = pass ? d->u.interface_.events : d->u.interface_.methods; m;
                         m = m->next) {
                        fprintf(out, "    %s #%zu %s\n", m->is_event ? "event" : "method", m->index,
                                m->signature ? m->signature : "?");
                        fprintf(out, "      wire %s, C %s\n", m->wire_name ? m->wire_name : "?",
                                m->c_name ? m->c_name : "?");
                        put_doc(out, "      ", m->doc);
                        put_attrs(out, "      ", &m->attrs);
                    }
                }
                fputs("    signature:\n", out);
                for (const char *p = d->u.interface_.signature; p && *p;) {
                    const char *nl = p;
                    while (*nl && *nl != '\n')
                        nl++;
                    fprintf(out, "      | %.*s\n", (int)(nl - p), p);
                    p = *nl ? nl + 1 : nl;
                }
                break;
            }
        }
        if (f->decl_order) {
            fputs("  order:", out);
            for (size_t i = 0; i < f->decl_count; i++)
                fprintf(out, " %s", f->decl_order[i] ? f->decl_order[i]->name : "?");
            fputs("\n", out);
        }
    }
}
