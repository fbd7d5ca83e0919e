/* Generates <stem>_client.h and <stem>_client.c: for every method a
 * synchronous stub taking call options (<m>_ex) and an asynchronous one with
 * a typed callback (<m>_async_ex), each with a one-line inline wrapper
 * without options in the header (<m>, <m>_async); send-only stubs for
 * oneway methods; and event handler registration. Each stub packs its
 * arguments into a small struct and calls the generic engine in
 * piperpc/client.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnames.h"
#include "generate.h"

static uint32_t method_index(const idlc_decl *iface, const idlc_method *m)
{
    uint32_t i = 0;
    for (const idlc_method *x = iface->u.interface_.methods; x != NULL && x != m; x = x->next)
        i++;
    return i;
}

static uint32_t event_index(const idlc_decl *iface, const idlc_method *m)
{
    uint32_t i = 0;
    for (const idlc_method *x = iface->u.interface_.events; x != NULL && x != m; x = x->next)
        i++;
    return i;
}

/* The C declaration of an out (or inout, or result) pointer parameter. */
static const char *out_param(gen_ctx *g, const idlc_type *t, const char *owner, const char *name)
{
    const char *ct = gen_ctype_of(g, t, owner);
    size_t n = strlen(ct);
    return gen_decl(g, idlc_sprintf(g->ctx, n && ct[n - 1] == '*' ? "%s*" : "%s *", ct), name);
}

static const char *const_out_param(gen_ctx *g, const idlc_type *t, const char *owner,
                                   const char *name)
{
    const char *ct = gen_ctype_of(g, t, owner);
    size_t n = strlen(ct);
    /* For a pointer type (a string, an optional) the pointer itself is
     * made const: "T *const *name" accepts a "T **" without a cast. */
    if (n > 0 && ct[n - 1] == '*')
        return idlc_sprintf(g->ctx, "%sconst *%s", ct, name);
    return gen_decl(g, idlc_sprintf(g->ctx, "const %s *", ct), name);
}

/* "const char *key, prpc_bytes value" for the in (and, for async, inout)
 * parameters; the sync form passes inout and out parameters as pointers. */
static const char *param_list(gen_ctx *g, const idlc_method *m, const char *owner, bool sync)
{
    gen_buf b = {0};
    for (const idlc_param *p = m->params; p != NULL; p = p->next) {
        const char *name = gen_param_name(g, p->name);
        const char *decl = NULL;
        if (p->dir == IDLC_DIR_IN)
            decl = gen_in_param(g, p->type, owner, name);
        else if (sync)
            decl = out_param(g, p->type, owner, name);
        else if (p->dir == IDLC_DIR_INOUT)
            decl = gen_in_param(g, p->type, owner, name);
        if (decl != NULL)
            gen_printf(&b, ", %s", decl);
    }
    const char *s = idlc_strdup(g->ctx, b.p ? b.p : "");
    gen_buf_free(&b);
    return s;
}

static const char *sync_tail(gen_ctx *g, const idlc_method *m, const char *owner)
{
    if (!gen_has_result(m))
        return "";
    if (m->ret->kind == IDLC_TYPE_VOID)
        return ", prpc_arena *arena";
    return idlc_sprintf(g->ctx, ", prpc_arena *arena, %s", out_param(g, m->ret, owner, "result"));
}

static const char *cb_params(gen_ctx *g, const idlc_method *m, const char *owner)
{
    gen_buf b = {0};
    gen_puts(&b, "void *user, prpc_status status, const prpc_remote_error *error");
    for (const idlc_param *p = m->params; p != NULL; p = p->next)
        if (p->dir != IDLC_DIR_IN)
            gen_printf(&b, ", %s", const_out_param(g, p->type, owner, gen_param_name(g, p->name)));
    if (m->ret->kind != IDLC_TYPE_VOID)
        gen_printf(&b, ", %s", const_out_param(g, m->ret, owner, "result"));
    const char *s = idlc_strdup(g->ctx, b.p ? b.p : "");
    gen_buf_free(&b);
    return s;
}

static bool has_wire_params(const idlc_method *m)
{
    return gen_wire_params(m) > 0;
}

/* "key, value" forwarding the stub's own parameters. */
static const char *forward(gen_ctx *g, const idlc_method *m, bool sync)
{
    gen_buf b = {0};
    for (const idlc_param *p = m->params; p != NULL; p = p->next) {
        if (!sync && p->dir == IDLC_DIR_OUT)
            continue;
        gen_printf(&b, ", %s", gen_param_name(g, p->name));
    }
    if (sync && gen_has_result(m))
        gen_puts(&b, m->ret->kind != IDLC_TYPE_VOID ? ", arena, result" : ", arena");
    const char *s = idlc_strdup(g->ctx, b.p ? b.p : "");
    gen_buf_free(&b);
    return s;
}

/* ----------------------------------------------------------- header */

static void header_method(gen_ctx *g, const idlc_decl *d, const idlc_method *m)
{
    gen_buf *b = &g->out;
    const char *o = d->module;
    const char *ins = param_list(g, m, o, true);
    gen_doc(b, 0, m->doc);
    if (m->attrs.deprecated)
        gen_line(b, 0, "/* Deprecated%s%s. */", m->attrs.deprecated_reason ? ": " : "",
                 m->attrs.deprecated_reason ? m->attrs.deprecated_reason : "");
    if (m->oneway) {
        gen_line(b, 0, "prpc_status %s(prpc_client *client%s);", m->c_name, ins);
        gen_nl(b);
        return;
    }
    /* The _ex forms are the stubs; the short forms pass no options. */
    const char *tail = sync_tail(g, m, o);
    const char *cb = idlc__cname(g->ctx, IDLC_CN_CB, m->c_name);
    const char *ex = idlc__cname(g->ctx, IDLC_CN_EX, m->c_name);
    const char *async_ex = idlc__cname(g->ctx, IDLC_CN_ASYNC_EX, m->c_name);
    gen_line(b, 0, "prpc_status %s(prpc_client *client, const prpc_call_options *opts%s%s);", ex, ins, tail);
    gen_line(b, 0, "static inline prpc_status %s(prpc_client *client%s%s) { return %s(client, NULL%s); }",
             m->c_name, ins, tail, ex, forward(g, m, true));
    gen_line(b, 0, "typedef void (*%s)(%s);", cb, cb_params(g, m, o));
    const char *ains = param_list(g, m, o, false);
    gen_line(b, 0, "prpc_status %s(prpc_client *client, const prpc_call_options *opts%s, %s cb, void *user);",
             async_ex, ains, cb);
    gen_line(b, 0,
             "static inline prpc_status %s(prpc_client *client%s, %s cb, void *user) { return %s(client, NULL%s, cb, user); }",
             idlc__cname(g->ctx, IDLC_CN_ASYNC, m->c_name), ains, cb, async_ex, forward(g, m, false));
    gen_nl(b);
}

static void header_event(gen_ctx *g, const idlc_decl *d, const idlc_method *ev)
{
    gen_buf *b = &g->out;
    gen_doc(b, 0, ev->doc);
    gen_line(b, 0, "typedef void (*%s)(void *user%s);", idlc__cname(g->ctx, IDLC_CN_HANDLER, ev->c_name),
             param_list(g, ev, d->module, false));
    gen_line(b, 0, "/* Registers the handler (NULL removes it) and subscribes at the server. */");
    gen_line(b, 0, "prpc_status %s(prpc_client *client, %s handler, void *user);",
             idlc__cname_event(g->ctx, IDLC_CN_ON, ev), idlc__cname(g->ctx, IDLC_CN_HANDLER, ev->c_name));
    gen_nl(b);
}

static void write_header(gen_ctx *g)
{
    gen_buf *b = &g->out;
    const char *guard = idlc__cname(g->ctx, IDLC_CN_CLIENT_GUARD, g->file->stem);
    gen_banner(g, idlc_sprintf(g->ctx, "Client stubs of module %s (see piperpc/client.h).", g->module));
    gen_line(b, 0, "#ifndef %s", guard);
    gen_line(b, 0, "#define %s", guard);
    gen_nl(b);
    gen_line(b, 0, "#include \"%s.h\"", g->file->stem);
    gen_nl(b);
    gen_line(b, 0, "#ifdef __cplusplus");
    gen_line(b, 0, "extern \"C\" {");
    gen_line(b, 0, "#endif");
    gen_nl(b);
    for (const idlc_decl *d = g->file->decls; d != NULL; d = d->next) {
        if (d->kind != IDLC_DECL_INTERFACE)
            continue;
        gen_line(b, 0, "/* ---- %s */", d->qualified_name);
        gen_nl(b);
        for (const idlc_method *m = d->u.interface_.methods; m != NULL; m = m->next)
            header_method(g, d, m);
        for (const idlc_method *ev = d->u.interface_.events; ev != NULL; ev = ev->next)
            header_event(g, d, ev);
    }
    gen_line(b, 0, "#ifdef __cplusplus");
    gen_line(b, 0, "}");
    gen_line(b, 0, "#endif");
    gen_nl(b);
    gen_line(b, 0, "#endif /* %s */", guard);
}

/* ----------------------------------------------------------- source */

/* The args struct and its encoder: the wire parameters in order. */
static void args_codec(gen_ctx *g, const char *prefix, const idlc_method *m, const char *owner)
{
    gen_buf *b = &g->out;
    if (!has_wire_params(m))
        return;
    const char *args = idlc__cname(g->ctx, IDLC_CN_ARGS, prefix);
    gen_line(b, 0, "typedef struct %s {", args);
    for (const idlc_param *p = m->params; p != NULL; p = p->next)
        if (p->dir != IDLC_DIR_OUT)
            gen_line(b, 1, "%s;", gen_in_param(g, p->type, owner, gen_param_name(g, p->name)));
    gen_line(b, 0, "} %s;", args);
    gen_nl(b);
    gen_line(b, 0, "static void %s(prpc_encoder *enc, const void *p)",
             idlc__cname(g->ctx, IDLC_CN_ARGS_ENCODE, prefix));
    gen_line(b, 0, "{");
    gen_line(b, 1, "const %s *a = p;", args);
    gen_nl(b);
    for (const idlc_param *p = m->params; p != NULL; p = p->next) {
        if (p->dir == IDLC_DIR_OUT)
            continue;
        const char *n = gen_param_name(g, p->name);
        gen_encode(g, 1, p->type, owner,
                   gen_by_pointer(p->type) ? idlc_sprintf(g->ctx, "(*a->%s)", n)
                                           : idlc_sprintf(g->ctx, "a->%s", n));
    }
    gen_line(b, 0, "}");
    gen_nl(b);
}

/* "{key, value}" initializing the args struct; sync inouts are pointers. */
static const char *args_init(gen_ctx *g, const idlc_method *m, bool sync)
{
    gen_buf b = {0};
    gen_puts(&b, "{");
    bool first = true;
    for (const idlc_param *p = m->params; p != NULL; p = p->next) {
        if (p->dir == IDLC_DIR_OUT)
            continue;
        const char *n = gen_param_name(g, p->name);
        bool deref = sync && p->dir == IDLC_DIR_INOUT && !gen_by_pointer(p->type);
        gen_printf(&b, "%s%s%s", first ? "" : ", ", deref ? "*" : "", n);
        first = false;
    }
    gen_puts(&b, "}");
    const char *s = idlc_strdup(g->ctx, b.p);
    gen_buf_free(&b);
    return s;
}

/* The result decoder: the return value alone, or [ret, outs...] into an
 * outs struct of pointers. */
static void result_codec(gen_ctx *g, const idlc_method *m, const char *owner)
{
    gen_buf *b = &g->out;
    if (!gen_has_result(m))
        return;
    if (!gen_has_outs(m)) {
        gen_line(b, 0, "static void %s(prpc_decoder *dec, void *p)",
                 idlc__cname(g->ctx, IDLC_CN_RESULT_DECODE, m->c_name));
        gen_line(b, 0, "{");
        gen_line(b, 1, "%s = p;", out_param(g, m->ret, owner, "result"));
        gen_nl(b);
        gen_decode(g, 1, m->ret, owner, "(*result)");
        gen_line(b, 0, "}");
        gen_nl(b);
        return;
    }
    const char *outs = idlc__cname(g->ctx, IDLC_CN_OUTS, m->c_name);
    gen_line(b, 0, "typedef struct %s {", outs);
    for (const idlc_param *p = m->params; p != NULL; p = p->next)
        if (p->dir != IDLC_DIR_IN)
            gen_line(b, 1, "%s;", out_param(g, p->type, owner, gen_param_name(g, p->name)));
    if (m->ret->kind != IDLC_TYPE_VOID)
        gen_line(b, 1, "%s;", out_param(g, m->ret, owner, "result"));
    gen_line(b, 0, "} %s;", outs);
    gen_nl(b);
    gen_line(b, 0, "static void %s(prpc_decoder *dec, void *p)",
             idlc__cname(g->ctx, IDLC_CN_RESULT_DECODE, m->c_name));
    gen_line(b, 0, "{");
    gen_line(b, 1, "const %s *o = p;", outs);
    gen_nl(b);
    gen_line(b, 1, "prpc_dec_array_exact(dec, %u);", (unsigned)gen_reply_values(m));
    if (m->ret->kind != IDLC_TYPE_VOID)
        gen_decode(g, 1, m->ret, owner, "(*o->result)");
    for (const idlc_param *p = m->params; p != NULL; p = p->next)
        if (p->dir != IDLC_DIR_IN)
            gen_decode(g, 1, p->type, owner,
                       idlc_sprintf(g->ctx, "(*o->%s)", gen_param_name(g, p->name)));
    gen_line(b, 0, "}");
    gen_nl(b);
}

/* The outs struct initializer: the out pointers, then the result. */
static const char *outs_init(gen_ctx *g, const idlc_method *m, bool locals)
{
    gen_buf b = {0};
    gen_puts(&b, "{");
    bool first = true;
    for (const idlc_param *p = m->params; p != NULL; p = p->next) {
        if (p->dir == IDLC_DIR_IN)
            continue;
        gen_printf(&b, "%s%s%s", first ? "" : ", ", locals ? "&" : "", gen_param_name(g, p->name));
        first = false;
    }
    if (m->ret->kind != IDLC_TYPE_VOID)
        gen_printf(&b, "%s%sresult", first ? "" : ", ", locals ? "&" : "");
    gen_puts(&b, "}");
    const char *s = idlc_strdup(g->ctx, b.p);
    gen_buf_free(&b);
    return s;
}

static void zero_local(gen_ctx *g, int ind, const idlc_type *t, const char *owner, const char *name)
{
    gen_line(&g->out, ind, "%s = %s;", gen_decl(g, gen_ctype_of(g, t, owner), name), gen_zero(t));
}

static void source_method(gen_ctx *g, const idlc_decl *d, const idlc_method *m)
{
    gen_buf *b = &g->out;
    const char *o = d->module;
    uint32_t idx = method_index(d, m);
    const char *desc = idlc_sprintf(g->ctx, "&%s[%u]",
                                    idlc__cname(g->ctx, IDLC_CN_METHODS, d->c_name), (unsigned)idx);
    bool has_args = has_wire_params(m);
    const char *enc = has_args ? idlc__cname(g->ctx, IDLC_CN_ARGS_ENCODE, m->c_name) : "NULL";
    const char *args = idlc__cname(g->ctx, IDLC_CN_ARGS, m->c_name);
    const char *outs = idlc__cname(g->ctx, IDLC_CN_OUTS, m->c_name);
    const char *cb = idlc__cname(g->ctx, IDLC_CN_CB, m->c_name);
    const char *decode = idlc__cname(g->ctx, IDLC_CN_RESULT_DECODE, m->c_name);
    const char *done = idlc__cname(g->ctx, IDLC_CN_DONE, m->c_name);
    /* The arguments travel as a compound literal of the args struct. */
    const char *sync_args =
        has_args ? idlc_sprintf(g->ctx, "&(const %s)%s", args, args_init(g, m, true)) : "NULL";

    args_codec(g, m->c_name, m, o);

    const char *ins = param_list(g, m, o, true);
    if (m->oneway) {
        gen_line(b, 0, "prpc_status %s(prpc_client *client%s)", m->c_name, ins);
        gen_line(b, 0, "{");
        gen_line(b, 1, "return prpc_client_notify(client, %s, %s, %s);", desc, enc, sync_args);
        gen_line(b, 0, "}");
        gen_nl(b);
        return;
    }

    result_codec(g, m, o);

    /* Synchronous. The engine refuses a NULL result pointer; the pointers
     * of out parameters are checked here, before anything is sent. */
    gen_line(b, 0, "prpc_status %s(prpc_client *client, const prpc_call_options *opts%s%s)",
             idlc__cname(g->ctx, IDLC_CN_EX, m->c_name), ins, sync_tail(g, m, o));
    gen_line(b, 0, "{");
    if (gen_has_outs(m)) {
        gen_buf cond = {0};
        for (const idlc_param *p = m->params; p != NULL; p = p->next)
            if (p->dir != IDLC_DIR_IN)
                gen_printf(&cond, "%s%s == NULL", cond.len ? " || " : "", gen_param_name(g, p->name));
        if (m->ret->kind != IDLC_TYPE_VOID)
            gen_printf(&cond, " || result == NULL");
        gen_line(b, 1, "if (%s)", cond.p);
        gen_line(b, 2, "return PRPC_ERR_INVALID_ARG;");
        gen_buf_free(&cond);
    }
    if (!gen_has_result(m))
        gen_line(b, 1, "return prpc_client_call(client, %s, %s, %s, NULL, NULL, NULL, opts);", desc,
                 enc, sync_args);
    else
        gen_line(b, 1, "return prpc_client_call(client, %s, %s, %s, %s, %s, arena, opts);", desc, enc,
                 sync_args, decode,
                 gen_has_outs(m) ? idlc_sprintf(g->ctx, "&(%s)%s", outs, outs_init(g, m, false)) : "result");
    gen_line(b, 0, "}");
    gen_nl(b);

    /* Asynchronous: the completion decodes into locals (the engine applies
     * its result rules) and calls back with them, or with NULLs. */
    gen_line(b, 0, "static void %s(const prpc_async_result *r)", done);
    gen_line(b, 0, "{");
    if (!gen_has_result(m)) {
        gen_line(b, 1, "((%s)r->user_fn)(r->user, r->status, r->error);", cb);
    } else {
        for (const idlc_param *p = m->params; p != NULL; p = p->next)
            if (p->dir != IDLC_DIR_IN)
                zero_local(g, 1, p->type, o, gen_param_name(g, p->name));
        if (m->ret->kind != IDLC_TYPE_VOID)
            zero_local(g, 1, m->ret, o, "result");
        gen_line(b, 1, "prpc_status status = prpc_async_result_decode(r, %s, %s);", decode,
                 gen_has_outs(m) ? idlc_sprintf(g->ctx, "&(%s)%s", outs, outs_init(g, m, true)) : "&result");
        gen_nl(b);
        gen_buf results = {0};
        for (const idlc_param *p = m->params; p != NULL; p = p->next)
            if (p->dir != IDLC_DIR_IN)
                gen_printf(&results, ", status == PRPC_OK ? &%s : NULL", gen_param_name(g, p->name));
        if (m->ret->kind != IDLC_TYPE_VOID)
            gen_puts(&results, ", status == PRPC_OK ? &result : NULL");
        gen_line(b, 1, "((%s)r->user_fn)(r->user, status, r->error%s);", cb, results.p);
        gen_buf_free(&results);
    }
    gen_line(b, 0, "}");
    gen_nl(b);

    gen_line(b, 0, "prpc_status %s(prpc_client *client, const prpc_call_options *opts%s, %s cb, void *user)",
             idlc__cname(g->ctx, IDLC_CN_ASYNC_EX, m->c_name), param_list(g, m, o, false), cb);
    gen_line(b, 0, "{");
    gen_line(b, 1, "if (cb == NULL)");
    gen_line(b, 2, "return PRPC_ERR_INVALID_ARG;");
    gen_line(b, 1, "return prpc_client_call_async(client, %s, %s, %s, %s, (prpc_fn)cb, user, opts, NULL);",
             desc, enc,
             has_args ? idlc_sprintf(g->ctx, "&(const %s)%s", args, args_init(g, m, false)) : "NULL", done);
    gen_line(b, 0, "}");
    gen_nl(b);
}

static void source_event(gen_ctx *g, const idlc_decl *d, const idlc_method *ev)
{
    gen_buf *b = &g->out;
    const char *o = d->module;
    gen_line(b, 0, "/* ---- event %s */", ev->wire_name);
    gen_nl(b);
    /* The trampoline decodes the parameters and calls the typed handler;
     * a decoder error is returned to the engine, which counts the event as
     * dropped. */
    const char *handler = idlc__cname(g->ctx, IDLC_CN_HANDLER, ev->c_name);
    const char *deliver = idlc__cname(g->ctx, IDLC_CN_DELIVER, ev->c_name);
    gen_line(b, 0, "static prpc_status %s(const prpc_event_delivery *d)", deliver);
    gen_line(b, 0, "{");
    gen_buf args = {0};
    for (const idlc_param *p = ev->params; p != NULL; p = p->next)
        gen_printf(&args, ", %s%s", gen_by_pointer(p->type) ? "&" : "", gen_param_name(g, p->name));
    const char *call = idlc_sprintf(g->ctx, "((%s)d->user_fn)(d->user%s);", handler, args.p ? args.p : "");
    gen_buf_free(&args);
    if (ev->params != NULL) {
        gen_line(b, 1, "prpc_decoder *dec = d->params;");
        for (const idlc_param *p = ev->params; p != NULL; p = p->next)
            zero_local(g, 1, p->type, o, gen_param_name(g, p->name));
        gen_nl(b);
        for (const idlc_param *p = ev->params; p != NULL; p = p->next)
            gen_decode(g, 1, p->type, o, gen_param_name(g, p->name));
        gen_line(b, 1, "if (prpc_dec_status(dec) == PRPC_OK)");
        gen_line(b, 2, "%s", call);
        gen_line(b, 1, "return prpc_dec_status(dec);");
    } else {
        gen_line(b, 1, "%s", call);
        gen_line(b, 1, "return PRPC_OK;");
    }
    gen_line(b, 0, "}");
    gen_nl(b);
    const char *desc = idlc_sprintf(g->ctx, "&%s[%u]", idlc__cname(g->ctx, IDLC_CN_EVENTS, d->c_name),
                                    (unsigned)event_index(d, ev));
    gen_line(b, 0, "prpc_status %s(prpc_client *client, %s handler, void *user)",
             idlc__cname_event(g->ctx, IDLC_CN_ON, ev), handler);
    gen_line(b, 0, "{");
    gen_line(b, 1, "return prpc_client_on_event(client, %s, handler != NULL ? %s : NULL, (prpc_fn)handler, user);",
             desc, deliver);
    gen_line(b, 0, "}");
    gen_nl(b);
}

static void write_source(gen_ctx *g)
{
    gen_buf *b = &g->out;
    gen_banner(g, idlc_sprintf(g->ctx, "Client stubs of module %s.", g->module));
    gen_line(b, 0, "#include \"%s_client.h\"", g->file->stem);
    gen_nl(b);

    gen_interface_codecs(g, false);

    for (const idlc_decl *d = g->file->decls; d != NULL; d = d->next) {
        if (d->kind != IDLC_DECL_INTERFACE)
            continue;
        gen_line(b, 0, "/* ---- %s */", d->qualified_name);
        gen_nl(b);
        for (const idlc_method *m = d->u.interface_.methods; m != NULL; m = m->next)
            source_method(g, d, m);
        for (const idlc_method *ev = d->u.interface_.events; ev != NULL; ev = ev->next)
            source_event(g, d, ev);
    }
    while (b->len > 1 && b->p[b->len - 1] == '\n' && b->p[b->len - 2] == '\n')
        b->p[--b->len] = '\0';
}

idlc_result gen_client(gen_ctx *g, const char *out_dir)
{
    write_header(g);
    idlc_result r = gen_write(g, out_dir, idlc_sprintf(g->ctx, "%s_client.h", g->file->stem));
    gen_buf_free(&g->out);
    if (r != IDLC_OK)
        return r;
    write_source(g);
    r = gen_write(g, out_dir, idlc_sprintf(g->ctx, "%s_client.c", g->file->stem));
    gen_buf_free(&g->out);
    return r;
}
