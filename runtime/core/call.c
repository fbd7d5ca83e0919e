/* The server-side call context: a call's lifetime and its one answer, and
 * the prpc_call_* functions a handler uses (call.h). */
#include <string.h>

#include "core/server_impl.h"
#include "piperpc/alloc.h"

/* ------------------------------------------------------- call lifetime */

prpc_call *prpc__call_create(prpc_conn *conn, const prpc__route *route, uint32_t msgid,
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

void prpc__call_release(prpc_call *call)
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
prpc_status prpc__call_answer(prpc_call *call, bool is_error, int64_t code,
                              const char *message, prpc_encode_fn encode, const void *value)
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
        prpc__call_release(call);
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
        return PRPC_TIMEOUT_INFINITE;
    uint64_t now = prpc__now_ms();
    if (now >= call->deadline_ms)
        return 0;
    uint64_t left = call->deadline_ms - now;
    return left >= PRPC_TIMEOUT_INFINITE ? PRPC_TIMEOUT_INFINITE - 1u : (uint32_t)left;
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
    prpc_status st = prpc__call_answer(call, false, 0, NULL, encode, value);
    owner_done(call);
    return st;
}

prpc_status prpc_call_complete(prpc_call *call, prpc_status st, prpc_encode_fn encode,
                               const void *value)
{
    if (st != PRPC_OK || prpc_call_is_deferred(call))
        return st;
    return prpc_call_reply(call, encode, value);
}

prpc_status prpc_call_reply_error(prpc_call *call, int64_t code, const char *message)
{
    if (call == NULL)
        return PRPC_ERR_INVALID_ARG;
    prpc_status st = prpc__call_answer(call, true, code, message, NULL, NULL);
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
