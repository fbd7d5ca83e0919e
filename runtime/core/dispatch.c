/* The dispatcher and the server-side call context.
 *
 * prpc__conn_receive takes one whole received message of a connection,
 * parses its envelope within the connection's limits, finds the method,
 * asks the authorization hook, admits the call against the in-flight limit,
 * checks the parameter count and runs the generated invoke glue. Replies
 * (immediate or deferred) and error replies leave through the connection's
 * send function. The built-in rpc.* methods are served here as well. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/server_impl.h"
#include "piperpc/alloc.h"

/* ------------------------------------------------------- call lifetime */

static prpc_call *call_create(prpc_conn *conn, const prpc__route *route, uint32_t msgid,
                              bool notification)
{
    prpc_call *call = prpc_alloc(sizeof *call);
    if (call == NULL)
        return NULL;
    memset(call, 0, sizeof *call);
    call->arena = prpc_arena_create(0);
    if (call->arena == NULL) {
        prpc_free(call);
        return NULL;
    }
    prpc_conn_retain(conn);
    call->conn = conn;
    call->method = route->method;
    call->service = route->service ? route->service->desc : NULL;
    call->user = route->service ? route->service->user : NULL;
    call->msgid = notification ? 0 : msgid;
    call->notification = notification;
    call->deadline_ms = UINT64_MAX;
    call->refs = 1;
    return call;
}

static void call_release(prpc_call *call)
{
    prpc_conn *conn = call->conn;
    prpc__mutex_lock(&conn->mu);
    unsigned left = --call->refs;
    prpc__mutex_unlock(&conn->mu);
    if (left > 0)
        return;
    prpc_arena_destroy(call->arena);
    prpc_free(call);
    prpc_conn_release(conn);
}

/* Under conn->mu. */
static void call_unlink(prpc_call *call)
{
    prpc_conn *conn = call->conn;
    if (!call->linked)
        return;
    if (call->prev != NULL)
        call->prev->next = call->next;
    else
        conn->inflight = call->next;
    if (call->next != NULL)
        call->next->prev = call->prev;
    call->prev = call->next = NULL;
    call->linked = false;
    if (call->counted)
        conn->ninflight--;
}

/* Marks the call answered (once) and sends the reply, unless it is a
 * notification. error_code 0 with a non-error means success. */
static prpc_status call_answer(prpc_call *call, bool is_error, int64_t code, const char *message,
                               prpc_encode_fn encode, const void *value)
{
    prpc_conn *conn = call->conn;
    prpc__mutex_lock(&conn->mu);
    if (call->answered) {
        prpc__mutex_unlock(&conn->mu);
        return PRPC_ERR_INVALID_ARG;
    }
    call->answered = true;
    call_unlink(call);
    prpc__mutex_unlock(&conn->mu);
    if (call->notification)
        return PRPC_OK;

    prpc_encoder enc;
    prpc_enc_init(&enc, conn->limits.max_message_size);
    prpc_status result = PRPC_OK;
    if (!is_error) {
        prpc_enc_response_ok(&enc, call->msgid);
        if (encode != NULL)
            encode(&enc, value);
        else
            prpc_enc_nil(&enc);
        result = prpc_enc_status(&enc);
        if (result != PRPC_OK) {
            /* The client must hear something: tell it why the result could
             * not be sent (typically PRPC_ERR_TOO_LARGE). */
            prpc__conn_log(conn, PRPC_LOG_WARN, "%s: reply not sent: %s",
                           call->method->wire_name, prpc_strerror(result));
            prpc_enc_reset(&enc);
            is_error = true;
            code = result;
            message = NULL;
        }
    }
    if (is_error) {
        if (message == NULL)
            message = code < 0 ? prpc_strerror((prpc_status)code) : "error";
        prpc_enc_response_error(&enc, call->msgid, code, message);
    }
    prpc_status st = prpc_enc_status(&enc);
    if (st == PRPC_OK)
        st = prpc__conn_send(conn, enc.data, enc.len);
    prpc_enc_free(&enc);
    return result != PRPC_OK ? result : st;
}

/* A deferred call's owner has made its one answer: drop its reference. */
static void owner_done(prpc_call *call)
{
    prpc_conn *conn = call->conn;
    prpc__mutex_lock(&conn->mu);
    bool drop = call->deferred && call->owner_ref;
    call->owner_ref = false;
    prpc__mutex_unlock(&conn->mu);
    if (drop)
        call_release(call);
}

/* ------------------------------------------------------- call accessors */

prpc_arena *prpc_call_arena(prpc_call *call)
{
    return call ? call->arena : NULL;
}

const prpc_method_desc *prpc_call_method(const prpc_call *call)
{
    return call ? call->method : NULL;
}

const prpc_service_desc *prpc_call_service(const prpc_call *call)
{
    return call ? call->service : NULL;
}

const prpc_peer *prpc_call_peer(const prpc_call *call)
{
    return call ? &call->conn->peer : NULL;
}

const char *prpc_call_endpoint(const prpc_call *call)
{
    return call ? call->conn->endpoint : NULL;
}

prpc_conn *prpc_call_conn(prpc_call *call)
{
    return call ? call->conn : NULL;
}

uint32_t prpc_call_msgid(const prpc_call *call)
{
    return call ? call->msgid : 0;
}

bool prpc_call_is_notification(const prpc_call *call)
{
    return call ? call->notification : false;
}

uint64_t prpc_call_deadline(const prpc_call *call)
{
    return call ? call->deadline_ms : UINT64_MAX;
}

uint32_t prpc_call_remaining_ms(const prpc_call *call)
{
    if (call == NULL || call->deadline_ms == UINT64_MAX)
        return UINT32_MAX;
    uint64_t now = prpc__now_ms();
    if (now >= call->deadline_ms)
        return 0;
    uint64_t left = call->deadline_ms - now;
    return left >= UINT32_MAX ? UINT32_MAX - 1u : (uint32_t)left;
}

bool prpc_call_cancelled(const prpc_call *call)
{
    if (call == NULL)
        return false;
    prpc__mutex_lock(&call->conn->mu);
    bool c = call->cancelled;
    prpc__mutex_unlock(&call->conn->mu);
    return c;
}

void *prpc_call_user(const prpc_call *call)
{
    return call ? call->user : NULL;
}

void prpc_call_defer(prpc_call *call)
{
    if (call == NULL)
        return;
    prpc__mutex_lock(&call->conn->mu);
    if (!call->deferred && !call->answered) {
        call->deferred = true;
        call->owner_ref = true;
        call->refs++;
    }
    prpc__mutex_unlock(&call->conn->mu);
}

bool prpc_call_is_deferred(const prpc_call *call)
{
    if (call == NULL)
        return false;
    prpc__mutex_lock(&call->conn->mu);
    bool d = call->deferred;
    prpc__mutex_unlock(&call->conn->mu);
    return d;
}

prpc_status prpc_call_reply(prpc_call *call, prpc_encode_fn encode, const void *value)
{
    if (call == NULL)
        return PRPC_ERR_INVALID_ARG;
    prpc_status st = call_answer(call, false, 0, NULL, encode, value);
    owner_done(call);
    return st;
}

prpc_status prpc_call_reply_error(prpc_call *call, int64_t code, const char *message)
{
    if (call == NULL)
        return PRPC_ERR_INVALID_ARG;
    prpc_status st = call_answer(call, true, code, message, NULL, NULL);
    owner_done(call);
    return st;
}

prpc_status prpc_call_raise(prpc_call *call, int64_t code, const char *message)
{
    if (call == NULL)
        return PRPC_ERR_INVALID_ARG;
    if (prpc_call_is_deferred(call)) {
        prpc_status st = prpc_call_reply_error(call, code, message);
        return st == PRPC_OK ? PRPC_ERR_REMOTE : st;
    }
    /* Inside the handler: remember it; the dispatcher sends it when the
     * handler returns PRPC_ERR_REMOTE. The message is copied because the
     * caller's buffer may be gone by then. */
    const char *copy = NULL;
    if (message != NULL)
        copy = prpc_arena_strndup(call->arena, message, strlen(message));
    prpc__mutex_lock(&call->conn->mu);
    call->raised = true;
    call->raise_code = code;
    call->raise_message = copy;
    prpc__mutex_unlock(&call->conn->mu);
    return PRPC_ERR_REMOTE;
}

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
     PRPC_METHOD_ONEWAY, 0, 1, invoke_cancel},
    {"describe", "rpc.describe", "any describe()", "Lists the registered interfaces.",
     PRPC_METHOD_IDEMPOTENT, 0, 0, invoke_describe},
    {"ping", "rpc.ping", "void ping()", "Answers nil.", PRPC_METHOD_IDEMPOTENT, 0, 0,
     invoke_ping},
    {"subscribe", "rpc.subscribe", "oneway void subscribe(string event...)",
     "Subscribes the connection to events.", PRPC_METHOD_ONEWAY, 0, PRPC__VARIADIC,
     invoke_subscribe},
    {"unsubscribe", "rpc.unsubscribe", "oneway void unsubscribe(string event...)",
     "Unsubscribes the connection from events.", PRPC_METHOD_ONEWAY, 0, PRPC__VARIADIC,
     invoke_unsubscribe},
};
#define BUILTIN_CANCEL (&builtin_methods[0])

static bool builtin_route(const char *name, size_t len, prpc__route *out)
{
    for (size_t i = 0; i < sizeof builtin_methods / sizeof builtin_methods[0]; i++) {
        const prpc_method_desc *m = &builtin_methods[i];
        if (strlen(m->wire_name) == len && memcmp(m->wire_name, name, len) == 0) {
            *out = (prpc__route){m->wire_name, len, m, NULL};
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
            (void)call_answer(call, false, 0, NULL, NULL, NULL);
        prpc__server_count(conn->server, false, false);
        return;
    }
    if (answered) {
        prpc__server_count(conn->server, false, false);
        return;
    }
    if (st == PRPC_ERR_REMOTE && raised) {
        (void)call_answer(call, true, code, message ? message : "", NULL, NULL);
    } else {
        char text[256];
        if (st == PRPC_ERR_BAD_ARGS || st == PRPC_ERR_UNKNOWN_METHOD)
            snprintf(text, sizeof text, "%s: %s", call->method->wire_name, prpc_strerror(st));
        else
            snprintf(text, sizeof text, "%s", prpc_strerror(st));
        (void)call_answer(call, true, st, text, NULL, NULL);
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

    prpc_call *call = call_create(conn, &route, msg.msgid, notification);
    if (call == NULL) {
        if (!notification)
            reply_error_raw(conn, msg.msgid, PRPC_ERR_NO_MEMORY, NULL);
        return PRPC_OK;
    }
    uint32_t timeout = route.method->timeout_ms ? route.method->timeout_ms
                                                : conn->server->opts.call_timeout_ms;
    if (timeout != 0 && !notification)
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
        call_release(call);
        return protocol_error(conn, PRPC_ERR_PROTOCOL, "duplicate msgid in flight");
    }
    if (busy) {
        call_finish(call, PRPC_ERR_BUSY);
        call_release(call);
        return PRPC_OK;
    }

    if (route.method != BUILTIN_CANCEL && conn->server->opts.authorize != NULL &&
        !conn->server->opts.authorize(conn->server->opts.authorize_user, call)) {
        call_finish(call, PRPC_ERR_DENIED);
        call_release(call);
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
        (void)call_answer(call, true, PRPC_ERR_BAD_ARGS, text, NULL, NULL);
        prpc__server_count(conn->server, true, false);
        call_release(call);
        return PRPC_OK;
    } else {
        const void *ops = route.service ? route.service->ops : (const void *)conn->server;
        st = route.method->invoke(call, ops, &dec);
    }
    call_finish(call, st);
    call_release(call);
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
