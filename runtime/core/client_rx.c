/* The client's receiving side: the receiver role, completions, delivery
 * of replies and events, and event handlers.
 *
 * Leader receive (links with recv_one: the socket transports). A thread
 * handing a reply to a sleeping caller costs a futex wake, a futex wait and
 * a cross-CPU wake-up per call, more than the rest of the call together. So
 * a synchronous caller that has sent its request receives it itself when it
 * can. The receiver role is one flag, rx_busy, under the client mutex; only
 * its holder reads from the link, so messages are read one at a time and
 * delivered in order:
 *  - A synchronous caller whose call is not done takes the role if it is
 *    free (it becomes the leader), reads one message with recv_one outside
 *    the lock and delivers it (which may complete other callers' calls and
 *    wake them, or run asynchronous completions and event handlers), then
 *    gives the role back and looks again. Otherwise it joins `waiters` and
 *    sleeps on its condition variable.
 *  - The link's background receiver takes the role through
 *    prpc__client_rx_begin only when no caller waits for it and something
 *    other than synchronous replies is expected: an asynchronous call is in
 *    flight (nasync, keepalive pings included) or an event handler is set.
 *    It gives the role back after each message (prpc__client_rx_end).
 *  - Whoever frees the role or changes what the background receiver waits
 *    for calls prpc__client_rx_kick_locked: the role passes to the first
 *    waiting caller if there is one, else to the background receiver if it
 *    now has something to wait for. A caller leaving with its call done also kicks,
 *    so a signal that reached a caller that no longer needs it is passed on.
 *  - A leader reads in slices of LEAD_SLICE_MS, so a call completed by
 *    another thread (cancelled, failed) frees its thread soon even if no
 *    message comes. Closing the link ends a read at once.
 * A lone synchronous caller thus costs one send and one receive system
 * call and no hand-off.
 *
 * Callbacks in the receiving thread. A synchronous call made from a
 * callback that runs in a thread receiving for this client (an event
 * handler, a completion delivered with a reply, the failures of a lost
 * connection) could never get its reply: that thread is the one that
 * would have to read it. A thread-local marker set around those callbacks
 * makes such a call fail at once with PRPC_ERR_WOULD_BLOCK (on links that
 * say callbacks_block_receive; the in-process link delivers in server
 * threads and does not). */
#include <stdio.h>
#include <string.h>

#include "core/client_impl.h"
#include "base/log.h"
#include "piperpc/alloc.h"

#define BG_IDLE_MS 50u

static void client_log(prpc_client *c, prpc_log_level level, const char *fmt, ...)
    PRPC__PRINTF(3, 4);
static void client_log(prpc_client *c, prpc_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (c->log != NULL) {
        prpc__logv(c->log, c->log_user, c->log_level, level, fmt, ap);
    } else {
        char buf[512];
        vsnprintf(buf, sizeof buf, fmt, ap);
        prpc__log(level, "%s", buf);
    }
    va_end(ap);
}

/* ------------------------------------------------ the receiving thread */

/* The client whose receiving thread this is, while it runs callbacks (see
 * the top of the file). Saved and restored, so nesting across clients
 * works. */
_Thread_local const prpc_client *prpc__client_tl_receiving;

/* The synchronous call whose caller is reading from the link in this thread
 * (leader receive), so that delivery can tell the caller's own reply. */
_Thread_local const prpc__pending *prpc__client_tl_leading;

const prpc_client *prpc__client_callbacks_begin(const prpc_client *c)
{
    const prpc_client *old = prpc__client_tl_receiving;
    if (c->ops->callbacks_block_receive)
        prpc__client_tl_receiving = c;
    return old;
}

void prpc__client_callbacks_end(const prpc_client *old)
{
    prpc__client_tl_receiving = old;
}

/* ------------------------------------------------- the table and the role */

/* The table's removals, keeping nasync in step. Under c->mu. */
prpc__pending *prpc__client_table_remove(prpc_client *c, uint32_t msgid)
{
    prpc__pending *p = prpc__pending_remove(&c->table, msgid);
    if (p != NULL && p->is_async)
        c->nasync--;
    return p;
}

prpc__pending *prpc__client_table_take_all(prpc_client *c)
{
    c->nasync = 0;
    return prpc__pending_take_all(&c->table);
}

/* Under c->mu: whether the background receiver may take the free role: no
 * synchronous caller waits to lead, and something else than their replies
 * is expected, or synchronous calls have paused for BG_IDLE_MS (an idle
 * connection is read, so the server's close or a stray message is seen at
 * once, as before). Without recv_one nobody else receives: it always may. */
static bool bg_may_read(const prpc_client *c, uint64_t now)
{
    if (c->ops->recv_one == NULL)
        return true;
    return c->waiters == NULL &&
           (c->nasync > 0 || c->nhandlers > 0 || now - c->last_sync_ms >= BG_IDLE_MS);
}

/* Under c->mu: passes a free receiver role on (see the top of the file).
 * Signals only a thread that is asleep and would act, so a stream of
 * synchronous calls wakes nobody. */
void prpc__client_rx_kick_locked(prpc_client *c)
{
    if (c->closed || c->down) {
        if (c->rx_bg_parked)
            prpc__cond_signal(&c->rx_cond);
        return;
    }
    if (c->rx_busy)
        return;
    if (c->waiters != NULL && c->ops->recv_one != NULL)
        prpc__cond_signal(c->waiters->cond);
    else if (c->rx_bg_parked && bg_may_read(c, prpc__now_ms()))
        prpc__cond_signal(&c->rx_cond);
}

prpc__rx_turn prpc__client_rx_begin(prpc_client *c)
{
    prpc__mutex_lock(&c->mu);
    for (;;) {
        uint64_t now = prpc__now_ms();
        if (c->closed || c->down || (!c->rx_busy && bg_may_read(c, now)))
            break;
        /* Only the pause of synchronous calls is missing: look again when
         * it would be long enough. Otherwise a kick wakes us. */
        bool linger = !c->rx_busy && c->waiters == NULL;
        c->rx_bg_parked = true;
        if (linger)
            prpc__cond_wait_until(&c->rx_cond, &c->mu, c->last_sync_ms + BG_IDLE_MS);
        else
            prpc__cond_wait(&c->rx_cond, &c->mu);
        c->rx_bg_parked = false;
    }
    prpc__rx_turn turn = c->closed ? PRPC__RX_CLOSED : c->down ? PRPC__RX_DOWN : PRPC__RX_READ;
    if (turn == PRPC__RX_READ)
        c->rx_busy = true;
    prpc__mutex_unlock(&c->mu);
    return turn;
}

void prpc__client_rx_end(prpc_client *c)
{
    prpc__mutex_lock(&c->mu);
    c->rx_busy = false;
    prpc__client_rx_kick_locked(c);
    prpc__mutex_unlock(&c->mu);
}

/* --------------------------------------------------------- completions */

bool prpc__client_is_nil(prpc_any v)
{
    return v.len == 1 && v.data[0] == 0xc0;
}

/* Runs an asynchronous call's completion and frees its entry. msg is the
 * response, or NULL when the call ends locally with `status`. */
void prpc__client_complete_async(prpc__pending *p, prpc_status status, const prpc_msg *msg)
{
    prpc_arena *arena = prpc_arena_create(0);
    prpc_remote_error err;
    prpc_decoder dec;
    prpc_async_result r = {0};
    if (arena == NULL && status == PRPC_OK)
        status = PRPC_ERR_NO_MEMORY;
    if (status == PRPC_OK && msg != NULL) {
        if (!prpc__client_is_nil(msg->error)) {
            status = prpc_remote_error_decode(msg->error, arena, &err);
            if (status == PRPC_OK) {
                status = prpc_remote_error_status(&err);
                r.error = &err;
            }
        } else {
            prpc_dec_init(&dec, msg->result.data, msg->result.len, arena);
            /* A result of the wrong shape means the server speaks another
             * version of the interface. */
            dec.type_err = PRPC_ERR_INCOMPATIBLE;
            r.result = &dec;
        }
    }
    r.status = status;
    r.arena = arena;
    r.user_fn = p->user_fn;
    r.user = p->user;
    r.id = p->id;
    p->done_fn(&r);
    prpc_arena_destroy(arena);
    prpc_free(p->req);
    prpc_free(p);
}

/* Under c->mu: ends a synchronous entry that is no longer in the table. */
void prpc__client_complete_sync_locked(prpc__pending *p, prpc_status status)
{
    p->done = true;
    p->status = status;
    prpc__cond_signal(p->cond);
}

/* Ends every call of a list taken out of the table: synchronous ones under
 * the lock (their waiters own them), asynchronous ones after it. */
void prpc__client_fail_list(prpc_client *c, prpc__pending *list, prpc_status why)
{
    prpc__pending *async = NULL;
    prpc__mutex_lock(&c->mu);
    while (list != NULL) {
        prpc__pending *p = list;
        list = p->next;
        if (p->is_async) {
            p->next = async;
            async = p;
        } else {
            prpc__client_complete_sync_locked(p, why);
        }
    }
    prpc__mutex_unlock(&c->mu);
    while (async != NULL) {
        prpc__pending *p = async;
        async = p->next;
        prpc__client_complete_async(p, why, NULL);
    }
}

/* prpc__client_fail_list for a list taken by the receiving machinery (a
 * lost connection): its callbacks are marked as running there. */
void prpc__client_fail_list_receiving(prpc_client *c, prpc__pending *list, prpc_status why)
{
    const prpc_client *old = prpc__client_callbacks_begin(c);
    prpc__client_fail_list(c, list, why);
    prpc__client_callbacks_end(old);
}

/* --------------------------------------------------------------- events */

void prpc__client_encode_name(prpc_encoder *enc, const void *v)
{
    prpc_enc_cstr(enc, (const char *)v);
}

const prpc_method_desc prpc__client_subscribe_method = {
    "subscribe", "rpc.subscribe", "oneway void subscribe(string event...)", NULL,
    PRPC_METHOD_ONEWAY, 0, 1};
static const prpc_method_desc unsubscribe_method = {
    "unsubscribe", "rpc.unsubscribe", "oneway void unsubscribe(string event...)", NULL,
    PRPC_METHOD_ONEWAY, 0, 1};

prpc_status prpc_client_on_event(prpc_client *client, const prpc_event_desc *event,
                                 prpc_event_fn fn, prpc_fn user_fn, void *user)
{
    if (client == NULL || event == NULL || event->wire_name == NULL)
        return PRPC_ERR_INVALID_ARG;
    prpc_status st = PRPC_OK;
    bool had = false;
    prpc__mutex_lock(&client->mu);
    uint32_t at = client->nhandlers;
    for (uint32_t i = 0; i < client->nhandlers; i++)
        if (strcmp(client->handlers[i].event->wire_name, event->wire_name) == 0)
            at = i;
    had = at < client->nhandlers;
    if (fn == NULL) {
        if (had)
            client->handlers[at] = client->handlers[--client->nhandlers];
    } else if (had) {
        client->handlers[at] = (event_handler){event, fn, user_fn, user};
    } else {
        event_handler *h = prpc_realloc(client->handlers,
                                        ((size_t)client->nhandlers + 1) * sizeof *h);
        if (h == NULL) {
            st = PRPC_ERR_NO_MEMORY;
        } else {
            h[client->nhandlers++] = (event_handler){event, fn, user_fn, user};
            client->handlers = h;
            prpc__client_rx_kick_locked(client); /* events now need the background receiver */
        }
    }
    prpc__mutex_unlock(&client->mu);
    if (st != PRPC_OK)
        return st;
    if (fn != NULL && !had)
        st = prpc_client_notify(client, &prpc__client_subscribe_method, prpc__client_encode_name,
                                event->wire_name);
    else if (fn == NULL && had)
        st = prpc_client_notify(client, &unsubscribe_method, prpc__client_encode_name,
                                event->wire_name);
    /* While the connection is down the handlers are what counts: the next
     * connection subscribes to exactly those (prpc__client_link_up). */
    if (st == PRPC_ERR_UNAVAILABLE && client->reconnect)
        st = PRPC_OK;
    return st;
}

static void deliver_event(prpc_client *c, const prpc_msg *msg)
{
    event_handler h = {0};
    bool found = false;
    prpc__mutex_lock(&c->mu);
    for (uint32_t i = 0; i < c->nhandlers && !found; i++) {
        const char *w = c->handlers[i].event->wire_name;
        if (strlen(w) == msg->method_len && memcmp(w, msg->method, msg->method_len) == 0) {
            h = c->handlers[i];
            found = true;
        }
    }
    prpc__mutex_unlock(&c->mu);

    bool delivered = false;
    prpc_status why = PRPC_ERR_UNKNOWN_METHOD; /* no handler */
    if (found) {
        prpc_arena *arena = prpc_arena_create(0);
        if (arena != NULL) {
            prpc_decoder dec;
            prpc_dec_init(&dec, msg->params.data, msg->params.len, arena);
            dec.type_err = PRPC_ERR_INCOMPATIBLE;
            prpc_dec_array_exact(&dec, h.event->nparams);
            why = prpc_dec_status(&dec);
            if (why == PRPC_OK) {
                prpc_event_delivery d = {h.event, &dec, arena, h.user_fn, h.user};
                const prpc_client *old = prpc__client_callbacks_begin(c);
                why = h.fn(&d);
                prpc__client_callbacks_end(old);
                delivered = why == PRPC_OK;
            }
            prpc_arena_destroy(arena);
        } else {
            why = PRPC_ERR_NO_MEMORY;
        }
    }
    prpc__mutex_lock(&c->mu);
    if (delivered)
        c->stats.events++;
    else
        c->stats.dropped_events++;
    prpc__mutex_unlock(&c->mu);
    if (!delivered)
        client_log(c, PRPC_LOG_DEBUG, "dropped event '%.*s': %s",
                   (int)(msg->method_len > 128 ? 128 : msg->method_len), msg->method,
                   found ? prpc_strerror(why) : "no handler");
}

/* ------------------------------------------------------------- delivery */

void prpc__client_deliver(prpc_client *client, const uint8_t *data, size_t len)
{
    prpc_msg msg;
    prpc_status st = prpc_msg_parse(data, len, &client->limits, &msg);
    if (st != PRPC_OK) {
        client_log(client, PRPC_LOG_WARN, "dropped a malformed message from the server: %s",
                   prpc_strerror(st));
        prpc__mutex_lock(&client->mu);
        client->stats.late_replies++;
        prpc__mutex_unlock(&client->mu);
        return;
    }
    if (msg.type == PRPC_MSG_NOTIFY) {
        deliver_event(client, &msg);
        return;
    }
    if (msg.type == PRPC_MSG_REQUEST) {
        /* This client serves nothing; say so, as any msgpack-rpc peer would. */
        prpc_encoder enc;
        prpc_enc_init(&enc, 0);
        prpc_enc_response_error(&enc, msg.msgid, PRPC_ERR_UNKNOWN_METHOD,
                                "a piperpc client serves no methods");
        prpc__mutex_lock(&client->mu);
        uint64_t gen = client->gen;
        prpc__mutex_unlock(&client->mu);
        if (prpc_enc_status(&enc) == PRPC_OK)
            (void)client->ops->send(client->link, gen, enc.data, enc.len);
        prpc_enc_free(&enc);
        return;
    }

    prpc__mutex_lock(&client->mu);
    prpc__pending *p = prpc__client_table_remove(client, msg.msgid);
    if (p == NULL) {
        client->stats.late_replies++;
        prpc__mutex_unlock(&client->mu);
        return;
    }
    if (!p->is_async && p == prpc__client_tl_leading) {
        /* The caller's own reply, read in its thread: decode it from the
         * transport's buffer into the caller's arena, with no copy of the
         * whole message. Out of the table, p is only the caller's: nobody
         * else completes it or waits for it, and this thread is the
         * caller, so it ends without the lock or a signal. */
        prpc__mutex_unlock(&client->mu);
        p->status = prpc__client_settle_reply(p, msg.error, msg.result);
        p->settled = true;
        p->done = true;
        return;
    }
    if (!p->is_async) {
        prpc_status result = PRPC_OK;
        if (client->spare != NULL && client->spare_cap >= len) {
            p->reply = client->spare;
            p->reply_cap = client->spare_cap;
            client->spare = NULL;
            client->spare_cap = 0;
        } else {
            p->reply = prpc_alloc(len);
            p->reply_cap = len;
        }
        if (p->reply == NULL) {
            result = PRPC_ERR_NO_MEMORY;
        } else {
            memcpy(p->reply, data, len);
            p->error = (prpc_any){p->reply + (msg.error.data - data), msg.error.len};
            p->result = (prpc_any){p->reply + (msg.result.data - data), msg.result.len};
        }
        prpc__client_complete_sync_locked(p, result);
        prpc__mutex_unlock(&client->mu);
        return;
    }
    prpc__mutex_unlock(&client->mu);
    const prpc_client *old = prpc__client_callbacks_begin(client);
    prpc__client_complete_async(p, PRPC_OK, &msg);
    prpc__client_callbacks_end(old);
}

void prpc__client_link_lost(prpc_client *client, prpc_status why)
{
    prpc__mutex_lock(&client->mu);
    bool was_open = !client->closed;
    client->closed = true;
    client->closed_status = PRPC_ERR_CLOSED;
    prpc__pending *list = prpc__client_table_take_all(client);
    prpc__client_rx_kick_locked(client); /* the background receiver stops */
    prpc__mutex_unlock(&client->mu);
    prpc__client_fail_list_receiving(client, list, why);
    if (was_open)
        prpc__client_report_state(client, PRPC_CLIENT_CLOSED, why);
}
