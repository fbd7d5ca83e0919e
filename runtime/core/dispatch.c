/* The dispatcher.
 *
 * prpc__conn_receive takes one whole received message of a connection,
 * parses its envelope within the connection's limits, finds the method,
 * asks the authorization hook, admits the call against the in-flight limit,
 * checks the parameter count and runs the generated invoke glue. Replies
 * (immediate or deferred) and error replies leave through the connection's
 * send function. The built-in rpc.* methods are served here as well; the
 * call context a handler sees is call.c's. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/server_impl.h"

/* ------------------------------------------------------------ built-ins */

static prpc_status invoke_ping(prpc_call *call, const void *ops, prpc_decoder *params)
{
    (void)ops;
    (void)params;
    return prpc_call_reply(call, NULL, NULL);
}

static void encode_describe(prpc_encoder *enc, const void *server)
{
    prpc__server_describe((prpc_server *)server, enc);
}

static prpc_status invoke_describe(prpc_call *call, const void *ops, prpc_decoder *params)
{
    (void)params;
    return prpc_call_reply(call, encode_describe, ops);
}

static prpc_status invoke_cancel(prpc_call *call, const void *ops, prpc_decoder *params)
{
    (void)ops;
    uint32_t msgid = 0;
    prpc_dec_u32(params, &msgid);
    if (prpc_dec_status(params) != PRPC_OK)
        return prpc_dec_status(params);
    prpc_conn *conn = call->conn;
    prpc__mutex_lock(&conn->mu);
    for (prpc_call *c = conn->inflight; c != NULL; c = c->next)
        if (!c->notification && c->msgid == msgid)
            c->cancelled = true;
    prpc__mutex_unlock(&conn->mu);
    return PRPC_OK;
}

static prpc_status subscribe(prpc_call *call, prpc_decoder *params, bool on)
{
    prpc_status st = PRPC_OK;
    for (uint32_t i = 0; i < call->nparams; i++) {
        const char *name = NULL;
        size_t len = 0;
        prpc_dec_str(params, &name, &len);
        if (prpc_dec_status(params) != PRPC_OK)
            return prpc_dec_status(params);
        prpc_status r = prpc__conn_subscribe(call->conn, name, len, on);
        if (r == PRPC_ERR_INVALID_ARG)
            r = PRPC_ERR_BAD_ARGS; /* no registered service declares that event */
        if (st == PRPC_OK)
            st = r;
    }
    return st;
}

static prpc_status invoke_subscribe(prpc_call *call, const void *ops, prpc_decoder *params)
{
    (void)ops;
    return subscribe(call, params, true);
}

static prpc_status invoke_unsubscribe(prpc_call *call, const void *ops, prpc_decoder *params)
{
    (void)ops;
    return subscribe(call, params, false);
}

static const prpc_method_desc builtin_methods[] = {
    {"cancel", "rpc.cancel", "oneway void cancel(u32 msgid)", "Cancels a call in flight.",
     PRPC_METHOD_ONEWAY, 0, 1},
    {"describe", "rpc.describe", "any describe()", "Lists the registered interfaces.",
     PRPC_METHOD_IDEMPOTENT, 0, 0},
    {"ping", "rpc.ping", "void ping()", "Answers nil.", PRPC_METHOD_IDEMPOTENT, 0, 0},
    {"subscribe", "rpc.subscribe", "oneway void subscribe(string event...)",
     "Subscribes the connection to events.", PRPC_METHOD_ONEWAY, 0, PRPC__VARIADIC},
    {"unsubscribe", "rpc.unsubscribe", "oneway void unsubscribe(string event...)",
     "Unsubscribes the connection from events.", PRPC_METHOD_ONEWAY, 0, PRPC__VARIADIC},
};
/* The glue of each built-in, in the order of builtin_methods. */
static const prpc_invoke_fn builtin_invoke[] = {
    invoke_cancel, invoke_describe, invoke_ping, invoke_subscribe, invoke_unsubscribe,
};
#define BUILTIN_CANCEL (&builtin_methods[0])

static bool builtin_route(const char *name, size_t len, prpc__route *out)
{
    for (size_t i = 0; i < sizeof builtin_methods / sizeof builtin_methods[0]; i++) {
        const prpc_method_desc *m = &builtin_methods[i];
        if (strlen(m->wire_name) == len && memcmp(m->wire_name, name, len) == 0) {
            *out = (prpc__route){m->wire_name, len, m, builtin_invoke[i], NULL};
            return true;
        }
    }
    return false;
}

/* ----------------------------------------------------------- dispatcher */

static prpc_status protocol_error(prpc_conn *conn, prpc_status st, const char *what)
{
    prpc__conn_log(conn, PRPC_LOG_WARN, "closing connection from %s: %s (%s)", conn->endpoint,
                   what, prpc_strerror(st));
    prpc__server_count(conn->server, false, true);
    prpc__conn_close(conn, false);
    return st;
}

/* An error reply to a request that never became a call. */
static void reply_error_raw(prpc_conn *conn, uint32_t msgid, prpc_status code, const char *message)
{
    prpc_encoder enc;
    prpc_enc_init(&enc, conn->limits.max_message_size);
    prpc_enc_response_error(&enc, msgid, code, message);
    if (prpc_enc_status(&enc) == PRPC_OK)
        (void)prpc__conn_send(conn, enc.data, enc.len);
    prpc_enc_free(&enc);
    prpc__server_count(conn->server, true, false);
}

/* Sends the reply a handler's status calls for, unless one was sent. */
static void call_finish(prpc_call *call, prpc_status st)
{
    prpc_conn *conn = call->conn;
    prpc__mutex_lock(&conn->mu);
    bool answered = call->answered;
    bool deferred = call->deferred;
    bool raised = call->raised;
    int64_t code = call->raise_code;
    const char *message = call->raise_message;
    prpc__mutex_unlock(&conn->mu);

    if (st == PRPC_OK) {
        /* A glue that returned OK without replying is a void method with no
         * reply to encode (or a handler that replied itself): answer nil. */
        if (!answered && !deferred)
            (void)prpc__call_answer(call, false, 0, NULL, NULL, NULL);
        prpc__server_count(conn->server, false, false);
        return;
    }
    if (answered) {
        prpc__server_count(conn->server, false, false);
        return;
    }
    if (st == PRPC_ERR_REMOTE && raised) {
        (void)prpc__call_answer(call, true, code, message ? message : "", NULL, NULL);
    } else {
        char text[256];
        if (st == PRPC_ERR_BAD_ARGS || st == PRPC_ERR_UNKNOWN_METHOD)
            snprintf(text, sizeof text, "%s: %s", call->method->wire_name, prpc_strerror(st));
        else
            snprintf(text, sizeof text, "%s", prpc_strerror(st));
        (void)prpc__call_answer(call, true, st, text, NULL, NULL);
    }
    prpc__server_count(conn->server, true, false);
}

static prpc_status dispatch(prpc_conn *conn, const uint8_t *data, size_t len)
{
    prpc_msg msg;
    prpc_status st = prpc_msg_parse(data, len, &conn->limits, &msg);
    if (st != PRPC_OK)
        return protocol_error(conn, st, "malformed message");
    if (msg.type == PRPC_MSG_RESPONSE)
        return protocol_error(conn, PRPC_ERR_PROTOCOL, "a response was sent to the server");
    bool notification = msg.type == PRPC_MSG_NOTIFY;

    prpc__route route;
    bool found = msg.method_len >= 4 && memcmp(msg.method, "rpc.", 4) == 0
                     ? builtin_route(msg.method, msg.method_len, &route)
                     : prpc__server_route(conn->server, msg.method, msg.method_len, &route);
    if (!found) {
        /* The name is only printed, bounded, so a hostile one costs nothing. */
        int shown = msg.method_len > 128 ? 128 : (int)msg.method_len;
        char text[192];
        snprintf(text, sizeof text, "unknown method '%.*s'", shown, msg.method);
        if (notification) {
            prpc__conn_log(conn, PRPC_LOG_INFO, "dropped notification: %s", text);
            prpc__server_count(conn->server, true, false);
        } else {
            reply_error_raw(conn, msg.msgid, PRPC_ERR_UNKNOWN_METHOD, text);
        }
        return PRPC_OK;
    }

    prpc_call *call = prpc__call_create(conn, &route, msg.msgid, notification);
    if (call == NULL) {
        if (!notification)
            reply_error_raw(conn, msg.msgid, PRPC_ERR_NO_MEMORY, NULL);
        return PRPC_OK;
    }
    uint32_t timeout = route.method->timeout_ms ? route.method->timeout_ms
                                                : conn->server->opts.call_timeout_ms;
    if (timeout != 0 && timeout != PRPC_TIMEOUT_INFINITE && !notification)
        call->deadline_ms = prpc__now_ms() + timeout;

    /* Admission: a duplicate msgid in flight breaks the protocol (its reply
     * could not be told apart); past the in-flight limit the peer is told to
     * slow down. The built-ins that only change connection state are not
     * counted, so a flooded connection can still cancel. */
    bool is_control = route.method == BUILTIN_CANCEL || route.method->nparams == PRPC__VARIADIC;
    prpc__mutex_lock(&conn->mu);
    bool duplicate = false;
    if (!notification)
        for (prpc_call *c = conn->inflight; c != NULL && !duplicate; c = c->next)
            duplicate = !c->notification && c->msgid == msg.msgid;
    bool busy = !is_control && conn->ninflight >= conn->max_inflight;
    if (!duplicate && !busy) {
        call->counted = !is_control;
        if (call->counted)
            conn->ninflight++;
        call->next = conn->inflight;
        if (conn->inflight != NULL)
            conn->inflight->prev = call;
        conn->inflight = call;
        call->linked = true;
    }
    prpc__mutex_unlock(&conn->mu);
    if (duplicate) {
        prpc__call_release(call);
        return protocol_error(conn, PRPC_ERR_PROTOCOL, "duplicate msgid in flight");
    }
    if (busy) {
        call_finish(call, PRPC_ERR_BUSY);
        prpc__call_release(call);
        return PRPC_OK;
    }

    if (route.method != BUILTIN_CANCEL && conn->server->opts.authorize != NULL &&
        !conn->server->opts.authorize(conn->server->opts.authorize_user, call)) {
        call_finish(call, PRPC_ERR_DENIED);
        prpc__call_release(call);
        return PRPC_OK;
    }

    prpc_decoder dec;
    prpc_dec_init(&dec, msg.params.data, msg.params.len, call->arena);
    dec.type_err = PRPC_ERR_BAD_ARGS;
    prpc_dec_array(&dec, &call->nparams);
    if (prpc_dec_status(&dec) != PRPC_OK) {
        st = prpc_dec_status(&dec);
    } else if (route.method->nparams != PRPC__VARIADIC && call->nparams != route.method->nparams) {
        char text[256];
        snprintf(text, sizeof text, "%s: expects %" PRIu32 " parameters, got %" PRIu32,
                 route.method->wire_name, route.method->nparams, call->nparams);
        (void)prpc__call_answer(call, true, PRPC_ERR_BAD_ARGS, text, NULL, NULL);
        prpc__server_count(conn->server, true, false);
        prpc__call_release(call);
        return PRPC_OK;
    } else {
        const void *ops = route.service ? route.service->ops : (const void *)conn->server;
        st = route.invoke != NULL ? route.invoke(call, ops, &dec) : PRPC_ERR_UNKNOWN_METHOD;
    }
    call_finish(call, st);
    prpc__call_release(call);
    return PRPC_OK;
}

prpc_status prpc__conn_receive(prpc_conn *conn, const uint8_t *data, size_t len)
{
    if (conn == NULL || (data == NULL && len > 0))
        return PRPC_ERR_INVALID_ARG;
    prpc__mutex_lock(&conn->mu);
    bool open = conn->open;
    if (open)
        conn->dispatching++;
    prpc__mutex_unlock(&conn->mu);
    if (!open)
        return PRPC_ERR_CLOSED;

    prpc_status st = dispatch(conn, data, len);

    prpc__mutex_lock(&conn->mu);
    if (--conn->dispatching == 0)
        prpc__cond_broadcast(&conn->idle);
    prpc__mutex_unlock(&conn->mu);
    return st;
}
