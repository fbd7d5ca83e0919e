/* Generates <stem>_server.h and <stem>_server.c: for every interface an
 * ops table of typed handlers; the invoke glue that decodes arguments,
 * calls the handler and lets prpc_call_complete encode its reply; reply
 * encoders with one-line inline reply functions over them, for deferred
 * calls, and inline raise helpers; event emitters and broadcasters; and a
 * registration function that hands the glue to the server beside the
 * interface's descriptor (see piperpc/call.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnames.h"
#include "generate.h"

static const char *out_param(gen_ctx *g, const idlc_type *t, const char *owner, const char *name)
{
    const char *ct = gen_ctype_of(g, t, owner);
    size_t n = strlen(ct);
    return gen_decl(g, idlc_sprintf(g->ctx, n && ct[n - 1] == '*' ? "%s*" : "%s *", ct), name);
}

/* A const pointer to a value of t, for encoder arguments. */
static const char *const_ptr(gen_ctx *g, const idlc_type *t, const char *owner, const char *name)
{
    const char *ct = gen_ctype_of(g, t, owner);
    size_t n = strlen(ct);
    /* For a pointer type (a string, an optional) the pointer itself is
     * made const: "T *const *name" accepts a "T **" without a cast. */
    if (n > 0 && ct[n - 1] == '*')
        return idlc_sprintf(g->ctx, "%sconst *%s", ct, name);
    return gen_decl(g, idlc_sprintf(g->ctx, "const %s *", ct), name);
}

static const char *join(gen_ctx *g, gen_buf *b)
{
    const char *s = idlc_strdup(g->ctx, b->p ? b->p : "");
    gen_buf_free(b);
    return s;
}

/* The handler's parameters after `prpc_call *call`. */
static const char *handler_params(gen_ctx *g, const idlc_method *m, const char *owner)
{
    gen_buf b = {0};
    for (const idlc_param *p = m->params; p != NULL; p = p->next) {
        const char *n = gen_param_name(g, p->name);
        gen_printf(&b, ", %s",
                   p->dir == IDLC_DIR_IN ? gen_in_param(g, p->type, owner, n) : out_param(g, p->type, owner, n));
    }
    if (m->ret->kind != IDLC_TYPE_VOID)
        gen_printf(&b, ", %s", out_param(g, m->ret, owner, "result"));
    return join(g, &b);
}

/* The reply function's parameters after `prpc_call *call`: the outs in
 * order, then the result, all passed like in-parameters. */
static const char *reply_params(gen_ctx *g, const idlc_method *m, const char *owner)
{
    gen_buf b = {0};
    for (const idlc_param *p = m->params; p != NULL; p = p->next)
        if (p->dir != IDLC_DIR_IN)
            gen_printf(&b, ", %s", gen_in_param(g, p->type, owner, gen_param_name(g, p->name)));
    if (m->ret->kind != IDLC_TYPE_VOID)
        gen_printf(&b, ", %s", gen_in_param(g, m->ret, owner, "result"));
    return join(g, &b);
}

static const char *event_params(gen_ctx *g, const idlc_method *ev, const char *owner)
{
    gen_buf b = {0};
    for (const idlc_param *p = ev->params; p != NULL; p = p->next)
        gen_printf(&b, ", %s", gen_in_param(g, p->type, owner, gen_param_name(g, p->name)));
    return join(g, &b);
}

/* "result, count" as the values of a reply, in the order of the values
 * struct, for its initializer: by-pointer parameters are copied. */
static const char *values_init(gen_ctx *g, const idlc_method *m)
{
    gen_buf b = {0};
    if (m->ret->kind != IDLC_TYPE_VOID)
        gen_printf(&b, "%sresult", gen_by_pointer(m->ret) ? "*" : "");
    for (const idlc_param *p = m->params; p != NULL; p = p->next)
        if (p->dir != IDLC_DIR_IN)
            gen_printf(&b, "%s%s%s", b.len ? ", " : "", gen_by_pointer(p->type) ? "*" : "",
                       gen_param_name(g, p->name));
    return join(g, &b);
}

/* A two-way method's reply encoder and the typed reply over it, one line:
 * a method with out parameters replies [result, outs...] from a values
 * struct, which its invoke glue fills too. */
static void reply_decls(gen_ctx *g, const idlc_method *m, const char *owner)
{
    gen_buf *b = &g->out;
    const char *params = reply_params(g, m, owner);
    const char *reply = idlc__cname(g->ctx, IDLC_CN_REPLY, m->c_name);
    const char *encode = idlc__cname(g->ctx, IDLC_CN_REPLY_ENCODE, m->c_name);
    if (!gen_has_result(m)) {
        gen_line(b, 0, "static inline prpc_status %s(prpc_call *call) { return prpc_call_reply(call, NULL, NULL); }",
                 reply);
        return;
    }
    if (!gen_has_outs(m)) {
        gen_line(b, 0, "void %s(prpc_encoder *enc, const void *result);", encode);
        gen_line(b, 0,
                 "static inline prpc_status %s(prpc_call *call%s) { return prpc_call_reply(call, %s, %sresult); }",
                 reply, params, encode, gen_by_pointer(m->ret) ? "" : "&");
        return;
    }
    const char *values = idlc__cname(g->ctx, IDLC_CN_VALUES, m->c_name);
    gen_line(b, 0, "typedef struct %s {", values);
    if (m->ret->kind != IDLC_TYPE_VOID)
        gen_line(b, 1, "%s;", gen_decl(g, gen_ctype_of(g, m->ret, owner), "result"));
    for (const idlc_param *p = m->params; p != NULL; p = p->next)
        if (p->dir != IDLC_DIR_IN)
            gen_line(b, 1, "%s;", gen_decl(g, gen_ctype_of(g, p->type, owner), gen_param_name(g, p->name)));
    gen_line(b, 0, "} %s;", values);
    gen_line(b, 0, "void %s(prpc_encoder *enc, const void *values);", encode);
    gen_line(b, 0,
             "static inline prpc_status %s(prpc_call *call%s) { const %s values = {%s}; return prpc_call_reply(call, %s, &values); }",
             reply, params, values, values_init(g, m), encode);
}

/* ----------------------------------------------------------- header */

static void header_interface(gen_ctx *g, const idlc_decl *d)
{
    gen_buf *b = &g->out;
    const char *o = d->module;
    gen_line(b, 0, "/* ---- %s */", d->qualified_name);
    gen_nl(b);
    gen_doc(b, 0, d->doc);
    const char *ops = idlc__cname(g->ctx, IDLC_CN_OPS, d->c_name);
    gen_line(b, 0, "typedef struct %s {", ops);
    for (const idlc_method *m = d->u.interface_.methods; m != NULL; m = m->next) {
        gen_doc(b, 1, m->doc);
        gen_line(b, 1, "prpc_status (*%s)(prpc_call *call%s);", m->name, handler_params(g, m, o));
    }
    if (d->u.interface_.methods == NULL)
        gen_line(b, 1, "void *reserved; /* the interface has no methods */");
    gen_line(b, 0, "} %s;", ops);
    gen_nl(b);
    gen_line(b, 0, "/* ops must outlive the server; a NULL member answers PRPC_ERR_UNKNOWN_METHOD;");
    gen_line(b, 0, " * user is what prpc_call_user returns. */");
    gen_line(b, 0, "prpc_status %s(prpc_server *server, const %s *ops, void *user);",
             idlc__cname(g->ctx, IDLC_CN_REGISTER, d->c_name), ops);
    gen_nl(b);
    bool any = false;
    for (const idlc_method *m = d->u.interface_.methods; m != NULL; m = m->next) {
        if (m->oneway)
            continue;
        if (!any) {
            gen_line(b, 0, "/* Replies, for handlers that called prpc_call_defer (any thread, once), and");
            gen_line(b, 0, " * the encoders of the replies, as prpc_call_reply takes them. */");
        }
        any = true;
        reply_decls(g, m, o);
    }
    if (any)
        gen_nl(b);
    any = false;
    for (const idlc_method *m = d->u.interface_.methods; m != NULL; m = m->next) {
        if (m->raises == NULL)
            continue;
        if (!any)
            gen_line(b, 0, "/* Raise the method's IDL error: `return %s_<method>_raise(call, ...);`. */",
                     d->c_name);
        any = true;
        gen_line(b, 0,
                 "static inline prpc_status %s(prpc_call *call, %s code, const char *message) { return prpc_call_raise(call, (int64_t)code, message); }",
                 idlc__cname(g->ctx, IDLC_CN_RAISE, m->c_name), m->raises->c_name);
    }
    if (any)
        gen_nl(b);
    for (const idlc_method *ev = d->u.interface_.events; ev != NULL; ev = ev->next) {
        gen_doc(b, 0, ev->doc);
        gen_line(b, 0, "prpc_status %s(prpc_conn *conn%s);", idlc__cname_event(g->ctx, IDLC_CN_EMIT, ev),
                 event_params(g, ev, o));
        gen_line(b, 0, "prpc_status %s(prpc_server *server%s, size_t *sent);",
                 idlc__cname_event(g->ctx, IDLC_CN_BROADCAST, ev), event_params(g, ev, o));
        gen_nl(b);
    }
}

static void write_header(gen_ctx *g)
{
    gen_buf *b = &g->out;
    const char *guard = idlc__cname(g->ctx, IDLC_CN_SERVER_GUARD, g->file->stem);
    gen_banner(g, idlc_sprintf(g->ctx, "Server skeletons of module %s (see piperpc/call.h).", g->module));
    gen_line(b, 0, "#ifndef %s", guard);
    gen_line(b, 0, "#define %s", guard);
    gen_nl(b);
    gen_line(b, 0, "#include \"%s.h\"", g->file->stem);
    gen_nl(b);
    gen_line(b, 0, "#ifdef __cplusplus");
    gen_line(b, 0, "extern \"C\" {");
    gen_line(b, 0, "#endif");
    gen_nl(b);
    for (const idlc_decl *d = g->file->decls; d != NULL; d = d->next)
        if (d->kind == IDLC_DECL_INTERFACE)
            header_interface(g, d);
    gen_line(b, 0, "#ifdef __cplusplus");
    gen_line(b, 0, "}");
    gen_line(b, 0, "#endif");
    gen_nl(b);
    gen_line(b, 0, "#endif /* %s */", guard);
}

/* ----------------------------------------------------------- source */

static void zero_local(gen_ctx *g, const idlc_type *t, const char *owner, const char *name)
{
    gen_line(&g->out, 1, "%s = %s;", gen_decl(g, gen_ctype_of(g, t, owner), name), gen_zero(t));
}

/* Where the invoke glue keeps a parameter: a local named after it, or, for
 * an output of a method with out parameters, a member of the values struct. */
static const char *output_at(gen_ctx *g, const idlc_param *p, bool values)
{
    const char *n = gen_param_name(g, p->name);
    return values && p->dir != IDLC_DIR_IN ? idlc_sprintf(g->ctx, "values.%s", n) : n;
}

static void reply_codec(gen_ctx *g, const idlc_method *m, const char *owner)
{
    gen_buf *b = &g->out;
    if (!gen_has_result(m))
        return;
    const char *encode = idlc__cname(g->ctx, IDLC_CN_REPLY_ENCODE, m->c_name);
    if (!gen_has_outs(m)) {
        gen_line(b, 0, "void %s(prpc_encoder *enc, const void *p)", encode);
        gen_line(b, 0, "{");
        gen_line(b, 1, "%s = p;", const_ptr(g, m->ret, owner, "result"));
        gen_nl(b);
        gen_encode(g, 1, m->ret, owner, "(*result)");
        gen_line(b, 0, "}");
        gen_nl(b);
        return;
    }
    gen_line(b, 0, "void %s(prpc_encoder *enc, const void *p)", encode);
    gen_line(b, 0, "{");
    gen_line(b, 1, "const %s *v = p;", idlc__cname(g->ctx, IDLC_CN_VALUES, m->c_name));
    gen_nl(b);
    gen_line(b, 1, "prpc_enc_array(enc, %u);", (unsigned)gen_reply_values(m));
    if (m->ret->kind != IDLC_TYPE_VOID)
        gen_encode(g, 1, m->ret, owner, "v->result");
    for (const idlc_param *p = m->params; p != NULL; p = p->next)
        if (p->dir != IDLC_DIR_IN)
            gen_encode(g, 1, p->type, owner, idlc_sprintf(g->ctx, "v->%s", gen_param_name(g, p->name)));
    gen_line(b, 0, "}");
    gen_nl(b);
}

/* Decodes the wire parameters into locals (in parameters) and, for a method
 * with out parameters, into the values struct (inout parameters); calls the
 * handler; and lets prpc_call_complete reply from the outputs unless the
 * handler failed or deferred the reply. */
static void invoke_fn(gen_ctx *g, const idlc_decl *d, const idlc_method *m)
{
    gen_buf *b = &g->out;
    const char *o = d->module;
    bool wire = gen_wire_params(m) > 0;
    bool values = !m->oneway && gen_has_outs(m);
    gen_line(b, 0, "static prpc_status %s(prpc_call *call, const void *table, prpc_decoder *dec)",
             idlc__cname(g->ctx, IDLC_CN_INVOKE, m->c_name));
    gen_line(b, 0, "{");
    gen_line(b, 1, "const %s *ops = table;", idlc__cname(g->ctx, IDLC_CN_OPS, d->c_name));
    for (const idlc_param *p = m->params; p != NULL; p = p->next)
        if (p->dir == IDLC_DIR_IN || !values)
            zero_local(g, p->type, o, gen_param_name(g, p->name));
    if (values)
        gen_line(b, 1, "%s values = {0};", idlc__cname(g->ctx, IDLC_CN_VALUES, m->c_name));
    else if (m->ret->kind != IDLC_TYPE_VOID)
        zero_local(g, m->ret, o, "result");
    gen_nl(b);
    if (wire) {
        for (const idlc_param *p = m->params; p != NULL; p = p->next)
            if (p->dir != IDLC_DIR_OUT)
                gen_decode(g, 1, p->type, o, output_at(g, p, values));
        gen_line(b, 1, "if (prpc_dec_status(dec) != PRPC_OK)");
        gen_line(b, 2, "return prpc_dec_status(dec);");
    } else {
        gen_line(b, 1, "(void)dec;");
    }
    gen_buf args = {0};
    for (const idlc_param *p = m->params; p != NULL; p = p->next) {
        bool addr = p->dir != IDLC_DIR_IN || gen_by_pointer(p->type);
        gen_printf(&args, ", %s%s", addr ? "&" : "", output_at(g, p, values));
    }
    if (m->ret->kind != IDLC_TYPE_VOID)
        gen_puts(&args, values ? ", &values.result" : ", &result");
    const char *handler = idlc_sprintf(g->ctx, "ops->%s(call%s)", m->name, args.p ? args.p : "");
    gen_buf_free(&args);
    if (m->oneway)
        gen_line(b, 1, "return %s; /* oneway: nothing is replied */", handler);
    else if (!gen_has_result(m))
        gen_line(b, 1, "return prpc_call_complete(call, %s, NULL, NULL);", handler);
    else
        gen_line(b, 1, "return prpc_call_complete(call, %s, %s, %s);", handler,
                 idlc__cname(g->ctx, IDLC_CN_REPLY_ENCODE, m->c_name), values ? "&values" : "&result");
    gen_line(b, 0, "}");
    gen_nl(b);
}

static uint32_t event_index(const idlc_decl *iface, const idlc_method *m)
{
    uint32_t i = 0;
    for (const idlc_method *x = iface->u.interface_.events; x != NULL && x != m; x = x->next)
        i++;
    return i;
}

static void event_fns(gen_ctx *g, const idlc_decl *d, const idlc_method *ev)
{
    gen_buf *b = &g->out;
    const char *o = d->module;
    bool has = ev->params != NULL;
    const char *args = idlc__cname(g->ctx, IDLC_CN_ARGS, ev->c_name);
    if (has) {
        gen_line(b, 0, "typedef struct %s {", args);
        for (const idlc_param *p = ev->params; p != NULL; p = p->next)
            gen_line(b, 1, "%s;", gen_in_param(g, p->type, o, gen_param_name(g, p->name)));
        gen_line(b, 0, "} %s;", args);
        gen_nl(b);
        gen_line(b, 0, "static void %s(prpc_encoder *enc, const void *p)",
                 idlc__cname(g->ctx, IDLC_CN_ARGS_ENCODE, ev->c_name));
        gen_line(b, 0, "{");
        gen_line(b, 1, "const %s *a = p;", args);
        gen_nl(b);
        for (const idlc_param *p = ev->params; p != NULL; p = p->next) {
            const char *n = gen_param_name(g, p->name);
            gen_encode(g, 1, p->type, o,
                       gen_by_pointer(p->type) ? idlc_sprintf(g->ctx, "(*a->%s)", n)
                                               : idlc_sprintf(g->ctx, "a->%s", n));
        }
        gen_line(b, 0, "}");
        gen_nl(b);
    }
    gen_buf init = {0};
    for (const idlc_param *p = ev->params; p != NULL; p = p->next)
        gen_printf(&init, "%s%s", init.len ? ", " : "", gen_param_name(g, p->name));
    const char *desc = idlc_sprintf(g->ctx, "&%s[%u]", idlc__cname(g->ctx, IDLC_CN_EVENTS, d->c_name),
                                    (unsigned)event_index(d, ev));
    const char *enc = has ? idlc__cname(g->ctx, IDLC_CN_ARGS_ENCODE, ev->c_name) : "NULL";
    const char *argp = has ? idlc_sprintf(g->ctx, "&(const %s){%s}", args, init.p) : "NULL";
    const char *params = event_params(g, ev, o);
    gen_buf_free(&init);

    gen_line(b, 0, "prpc_status %s(prpc_conn *conn%s)", idlc__cname_event(g->ctx, IDLC_CN_EMIT, ev), params);
    gen_line(b, 0, "{");
    gen_line(b, 1, "return prpc_conn_emit(conn, %s, %s, %s);", desc, enc, argp);
    gen_line(b, 0, "}");
    gen_nl(b);
    gen_line(b, 0, "prpc_status %s(prpc_server *server%s, size_t *sent)",
             idlc__cname_event(g->ctx, IDLC_CN_BROADCAST, ev), params);
    gen_line(b, 0, "{");
    gen_line(b, 1, "return prpc_server_broadcast(server, %s, %s, %s, sent);", desc, enc, argp);
    gen_line(b, 0, "}");
    gen_nl(b);
}

/* The registration hands the server each method's glue, or NULL for a
 * member the ops table leaves NULL, so that the dispatcher answers
 * PRPC_ERR_UNKNOWN_METHOD itself. */
static void register_fn(gen_ctx *g, const idlc_decl *d)
{
    gen_buf *b = &g->out;
    const char *desc = idlc__cname(g->ctx, IDLC_CN_DESC, d->c_name);
    uint32_t nm = 0;
    for (const idlc_method *m = d->u.interface_.methods; m != NULL; m = m->next)
        nm++;
    gen_line(b, 0, "prpc_status %s(prpc_server *server, const %s *ops, void *user)",
             idlc__cname(g->ctx, IDLC_CN_REGISTER, d->c_name), idlc__cname(g->ctx, IDLC_CN_OPS, d->c_name));
    gen_line(b, 0, "{");
    if (nm == 0) {
        gen_line(b, 1, "return prpc_server_register(server, &%s, NULL, ops, user);", desc);
        gen_line(b, 0, "}");
        gen_nl(b);
        return;
    }
    gen_line(b, 1, "if (ops == NULL)");
    gen_line(b, 2, "return PRPC_ERR_INVALID_ARG;");
    gen_nl(b);
    gen_line(b, 1, "const prpc_invoke_fn invoke[%u] = {", (unsigned)nm);
    for (const idlc_method *m = d->u.interface_.methods; m != NULL; m = m->next)
        gen_line(b, 2, "ops->%s != NULL ? %s : NULL,", m->name, idlc__cname(g->ctx, IDLC_CN_INVOKE, m->c_name));
    gen_line(b, 1, "};");
    gen_nl(b);
    gen_line(b, 1, "return prpc_server_register(server, &%s, invoke, ops, user);", desc);
    gen_line(b, 0, "}");
    gen_nl(b);
}

static void source_interface(gen_ctx *g, const idlc_decl *d)
{
    gen_buf *b = &g->out;
    const char *o = d->module;
    gen_line(b, 0, "/* ---- %s */", d->qualified_name);
    gen_nl(b);
    for (const idlc_method *m = d->u.interface_.methods; m != NULL; m = m->next) {
        if (!m->oneway)
            reply_codec(g, m, o);
        invoke_fn(g, d, m);
    }
    register_fn(g, d);
    for (const idlc_method *ev = d->u.interface_.events; ev != NULL; ev = ev->next)
        event_fns(g, d, ev);
}

static void write_source(gen_ctx *g)
{
    gen_buf *b = &g->out;
    gen_banner(g, idlc_sprintf(g->ctx, "Server skeletons of module %s.", g->module));
    gen_line(b, 0, "#include \"%s_server.h\"", g->file->stem);
    gen_nl(b);
    gen_interface_codecs(g, true);
    for (const idlc_decl *d = g->file->decls; d != NULL; d = d->next)
        if (d->kind == IDLC_DECL_INTERFACE)
            source_interface(g, d);
    while (b->len > 1 && b->p[b->len - 1] == '\n' && b->p[b->len - 2] == '\n')
        b->p[--b->len] = '\0';
}

idlc_result gen_server(gen_ctx *g, const char *out_dir)
{
    write_header(g);
    idlc_result r = gen_write(g, out_dir, idlc_sprintf(g->ctx, "%s_server.h", g->file->stem));
    gen_buf_free(&g->out);
    if (r != IDLC_OK)
        return r;
    write_source(g);
    r = gen_write(g, out_dir, idlc_sprintf(g->ctx, "%s_server.c", g->file->stem));
    gen_buf_free(&g->out);
    return r;
}
