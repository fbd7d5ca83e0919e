/* The client object: its creation, synchronous, asynchronous and one-way
 * calls over a link, deadlines and the timer thread that keeps them for
 * asynchronous calls, cancellation, teardown and the built-in calls.
 * Receiving (the receiver role, completions, delivery, events) is in
 * client_rx.c, reconnecting in client_reconnect.c, and the in-process link
 * in client_inproc.c; client_impl.h has what they share.
 *
 * One mutex guards the client's state. A synchronous caller waits on its
 * own condition variable (on its stack) until the delivering thread marks
 * its pending entry done; asynchronous completions run outside the lock in
 * whichever thread completes them. Deadlines of asynchronous calls are
 * enforced by a timer thread started on the first such call.
 *
 * Reconnect (links that reconnect, opts->reconnect). The link reports a
 * lost connection with prpc__client_link_down and a new one with
 * prpc__client_link_up. Calls of idempotent methods are "kept": their
 * encoded request is copied, and they stay in the table when the
 * connection is lost, to be sent again on the next one. Every entry
 * records whether its request went out (sent) and on which connection
 * (gen); the link refuses a send meant for another connection, so a
 * request is never sent twice on one connection even when a caller's send
 * races with the reconnect. A call is registered first (begin: msgid),
 * then encoded, then, under the lock, either marked sent and sent, or left
 * waiting while the connection is down (kept calls), or failed with
 * PRPC_ERR_UNAVAILABLE (other calls: never sent, so safe to retry). */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "core/client_impl.h"
#include "piperpc/alloc.h"

#define DEFAULT_TIMEOUT_MS 30000u
#define DEFAULT_MAX_PENDING 65536u
#define LEAD_SLICE_MS 100u
/* The largest reply copy the client keeps for the next synchronous reply. */
#define SPARE_REPLY_MAX (16u << 20)
/* The request encoder's buffer is kept between calls. One larger than
 * ENC_KEEP_SMALL is kept only after a message that needed more than that
 * (in a stream of large requests a fresh buffer costs a page fault per
 * 4 KiB, more than the copy into it), and never past ENC_KEEP_MAX; a small
 * message after a large one lets the large buffer go. */
#define ENC_KEEP_SMALL ((size_t)256 * 1024)
#define ENC_KEEP_MAX ((size_t)64 << 20)

/* ------------------------------------------------------ last error (TLS) */

static _Thread_local char tl_message[1024];
static _Thread_local prpc_remote_error tl_error;

static void set_last_error(int64_t code, const char *message)
{
    size_t n = strlen(message);
    if (n >= sizeof tl_message)
        n = sizeof tl_message - 1;
    memcpy(tl_message, message, n);
    tl_message[n] = '\0';
    tl_error.code = code;
    tl_error.message = tl_message;
}

const prpc_remote_error *prpc_client_last_error(void)
{
    if (tl_error.message == NULL) {
        tl_error.code = 0;
        tl_error.message = tl_message;
    }
    return &tl_error;
}

/* ------------------------------------------------------------- creation */

prpc_status prpc__client_create(const prpc_client_options *opts, const prpc__link_ops *ops,
                                void *link, prpc_client **out)
{
    if (ops == NULL || ops->send == NULL || out == NULL)
        return PRPC_ERR_INVALID_ARG;
    *out = NULL;
    prpc_client *c = prpc_alloc(sizeof *c);
    if (c == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(c, 0, sizeof *c);
    prpc_client_options o = {0};
    if (opts != NULL)
        o = *opts;
    c->ops = ops;
    c->link = link;
    c->limits = prpc_limits_resolve(&o.limits);
    c->default_timeout_ms = o.default_timeout_ms ? o.default_timeout_ms : DEFAULT_TIMEOUT_MS;
    c->max_pending = o.max_pending ? o.max_pending : DEFAULT_MAX_PENDING;
    c->log = o.log;
    c->log_user = o.log_user;
    c->log_level = o.log_level;
    c->reconnect = o.reconnect;
    c->on_state = o.on_state;
    c->on_state_user = o.on_state_user;
    c->next_id = 1;
    c->timer_next = UINT64_MAX;
    prpc__mutex_init(&c->mu);
    prpc__cond_init(&c->drained);
    prpc__cond_init(&c->timer_cond);
    prpc__cond_init(&c->rx_cond);
    *out = c;
    return PRPC_OK;
}

void *prpc__client_link(const prpc_client *client, const prpc__link_ops *ops)
{
    return client != NULL && client->ops == ops ? client->link : NULL;
}

/* ------------------------------------------------------------- sending */

static uint64_t resolve_deadline(prpc_client *c, const prpc_method_desc *m,
                                 const prpc_call_options *opts)
{
    uint32_t t = opts && opts->timeout_ms ? opts->timeout_ms
                 : m->timeout_ms          ? m->timeout_ms
                                          : c->default_timeout_ms;
    if (t == PRPC_TIMEOUT_INFINITE)
        return UINT64_MAX;
    return prpc__now_ms() + t;
}

/* Under c->mu: hands the kept request buffer, if any, to enc. */
static void take_encoder_locked(prpc_client *c, prpc_encoder *enc)
{
    if (c->enc_spare != NULL) {
        enc->data = c->enc_spare;
        enc->cap = c->enc_spare_cap;
        c->enc_spare = NULL;
        c->enc_spare_cap = 0;
    }
}

/* Under c->mu: keeps enc's buffer for the next request (see ENC_KEEP_SMALL)
 * and returns what is to be freed, after the lock, by the caller. */
static uint8_t *keep_encoder_locked(prpc_client *c, prpc_encoder *enc)
{
    uint8_t *drop = enc->data;
    bool keep = enc->cap <= ENC_KEEP_SMALL ||
                (enc->len > ENC_KEEP_SMALL && enc->cap <= ENC_KEEP_MAX);
    if (keep && !c->closed && enc->cap > c->enc_spare_cap) {
        drop = c->enc_spare;
        c->enc_spare = enc->data;
        c->enc_spare_cap = enc->cap;
    }
    enc->data = NULL;
    enc->cap = 0;
    enc->len = 0;
    return drop;
}

/* Registers p under a fresh msgid and counts the caller as a user. While
 * the connection is down only kept calls are registered (they wait). On
 * success enc (initialised) gets the kept request buffer. */
static prpc_status begin(prpc_client *c, prpc__pending *p, prpc_encoder *enc)
{
    prpc_status st = PRPC_OK;
    p->keep = c->reconnect && (p->method->flags & PRPC_METHOD_IDEMPOTENT) != 0;
    prpc__mutex_lock(&c->mu);
    if (c->closed) {
        st = c->closed_status;
    } else if (c->down && !p->keep) {
        st = PRPC_ERR_UNAVAILABLE;
    } else if (c->table.count >= c->max_pending) {
        st = PRPC_ERR_BUSY;
    } else {
        /* A msgid still in flight (after 2^32 calls) is skipped, never
         * reused: its reply would be taken for the new call's. */
        do {
            p->id = c->next_id++;
            p->msgid = (uint32_t)p->id;
        } while (p->msgid == 0 || prpc__pending_find(&c->table, p->msgid) != NULL);
        st = prpc__pending_insert(&c->table, p);
    }
    if (st == PRPC_OK) {
        c->users++;
        c->stats.calls++;
        take_encoder_locked(c, enc);
        if (p->is_async) {
            c->nasync++;
            prpc__client_rx_kick_locked(c); /* the background receiver may be needed now */
        }
    }
    prpc__mutex_unlock(&c->mu);
    return st;
}

static void end_use(prpc_client *c)
{
    /* Under c->mu. */
    if (--c->users == 0)
        prpc__cond_broadcast(&c->drained);
}

/* Encodes and sends a notification on connection gen. */
prpc_status prpc__client_send_notify(prpc_client *c, uint64_t gen, const char *wire_name,
                                     uint32_t nparams, prpc_encode_fn encode, const void *args)
{
    prpc_encoder enc;
    prpc_enc_init(&enc, c->limits.max_message_size);
    prpc_enc_notify(&enc, wire_name, strlen(wire_name), nparams);
    if (encode != NULL)
        encode(&enc, args);
    else if (nparams != 0)
        prpc_enc_fail(&enc, PRPC_ERR_INVALID_ARG);
    prpc_status st = prpc_enc_status(&enc);
    if (st == PRPC_OK)
        st = c->ops->send(c->link, gen, enc.data, enc.len);
    prpc_enc_free(&enc);
    return st;
}

/* Encodes the request of p (registered by begin) into enc and sends it; on a
 * reconnecting client first decides under the lock whether to send now
 * (see the top of the file). Returns PRPC_OK when the request went out,
 * when it waits for the next connection, or when p completed meanwhile;
 * any other status means it was not sent and p, if still in the table, is
 * the caller's to fail. An asynchronous p may belong to whoever completes
 * it once this returns. */
static prpc_status send_request(prpc_client *c, prpc__pending *p, prpc_encoder *enc,
                                prpc_encode_fn encode, const void *args)
{
    const prpc_method_desc *m = p->method;
    uint32_t msgid = p->msgid;
    bool keep = p->keep;
    prpc_enc_request(enc, msgid, m->wire_name, strlen(m->wire_name), m->nparams);
    if (encode != NULL)
        encode(enc, args);
    else if (m->nparams != 0)
        prpc_enc_fail(enc, PRPC_ERR_INVALID_ARG);
    prpc_status st = prpc_enc_status(enc);
    uint64_t gen = 0;
    if (st == PRPC_OK && c->reconnect) {
        uint8_t *copy = NULL;
        if (keep) {
            copy = prpc_alloc(enc->len);
            if (copy == NULL)
                st = PRPC_ERR_NO_MEMORY;
            else
                memcpy(copy, enc->data, enc->len);
        }
        bool send_now = false;
        if (st == PRPC_OK) {
            prpc__mutex_lock(&c->mu);
            /* Compared, not dereferenced: p may have been completed and
             * freed (timeout, cancel); its msgid is not reused meanwhile. */
            if (prpc__pending_find(&c->table, msgid) == p) {
                if (keep) {
                    p->req = copy;
                    p->req_len = enc->len;
                    copy = NULL;
                }
                if (!c->down) {
                    p->sent = true;
                    p->gen = gen = c->gen;
                    send_now = true;
                } else if (!keep) {
                    st = PRPC_ERR_UNAVAILABLE; /* never sent: safe to retry */
                }
                /* A kept call waits: prpc__client_link_up sends it. */
            }
            prpc__mutex_unlock(&c->mu);
        }
        prpc_free(copy);
        if (!send_now)
            return st;
    }
    if (st == PRPC_OK)
        st = c->ops->send(c->link, gen, enc->data, enc->len);
    if (st != PRPC_OK && c->reconnect && (st == PRPC_ERR_CLOSED || st == PRPC_ERR_UNAVAILABLE)) {
        /* The connection is going or gone. A kept call stays pending: the
         * lost connection is being or will be reported, and the next one
         * carries it. Another call was not sent: safe to retry. */
        if (keep)
            return PRPC_OK;
        st = PRPC_ERR_UNAVAILABLE;
    }
    return st;
}

static bool valid_method(const prpc_method_desc *m)
{
    return m != NULL && m->wire_name != NULL && m->wire_name[0] != '\0';
}

prpc_status prpc_client_notify(prpc_client *client, const prpc_method_desc *method,
                               prpc_encode_fn encode, const void *args)
{
    if (client == NULL || !valid_method(method))
        return PRPC_ERR_INVALID_ARG;
    prpc__mutex_lock(&client->mu);
    prpc_status st = client->closed ? client->closed_status
                     : client->down ? PRPC_ERR_UNAVAILABLE
                                    : PRPC_OK;
    uint64_t gen = client->gen;
    if (st == PRPC_OK) {
        client->users++;
        client->stats.calls++;
    }
    prpc__mutex_unlock(&client->mu);
    if (st != PRPC_OK)
        return st;
    st = prpc__client_send_notify(client, gen, method->wire_name, method->nparams, encode, args);
    if (st == PRPC_ERR_CLOSED && client->reconnect)
        st = PRPC_ERR_UNAVAILABLE; /* the connection is going; the client is not */
    prpc__mutex_lock(&client->mu);
    end_use(client);
    prpc__mutex_unlock(&client->mu);
    return st;
}

/* Under c->mu: keeps a synchronous call's reply buffer for the next reply
 * (the larger of it and the one kept, up to SPARE_REPLY_MAX); returns what
 * is to be freed, after the lock, by the caller. */
static uint8_t *give_back_reply_locked(prpc_client *c, prpc__pending *p)
{
    uint8_t *drop = p->reply;
    if (drop != NULL && p->reply_cap <= SPARE_REPLY_MAX && p->reply_cap > c->spare_cap &&
        !c->closed) {
        drop = c->spare;
        c->spare = p->reply;
        c->spare_cap = p->reply_cap;
    }
    p->reply = NULL;
    return drop;
}

/* Decodes a synchronous call's reply (its error and result, pointing into
 * the message) into the result the caller wants; sets the thread's last
 * error when it fails. */
prpc_status prpc__client_settle_reply(const prpc__pending *p, prpc_any error, prpc_any reply)
{
    prpc_status st = PRPC_OK;
    prpc_decode_fn decode = p->decode;
    prpc_arena *arena = p->arena;
    if (!prpc__client_is_nil(error)) {
        /* The error object is decoded into a scratch arena and copied into
         * the thread's last error, so the caller's arena only ever holds
         * results. */
        prpc_arena *scratch = prpc_arena_create(0);
        prpc_remote_error err;
        st = scratch ? prpc_remote_error_decode(error, scratch, &err) : PRPC_ERR_NO_MEMORY;
        if (st == PRPC_OK) {
            st = prpc_remote_error_status(&err);
            set_last_error(err.code, err.message);
        } else {
            set_last_error(st, prpc_strerror(st));
        }
        prpc_arena_destroy(scratch);
    } else if (decode != NULL) {
        prpc_decoder dec;
        prpc_dec_init(&dec, reply.data, reply.len, arena);
        dec.type_err = PRPC_ERR_INCOMPATIBLE;
        decode(&dec, p->decode_out);
        st = prpc_dec_status(&dec);
        if (st == PRPC_OK && prpc_dec_remaining(&dec) != 0)
            st = PRPC_ERR_INCOMPATIBLE;
        if (st == PRPC_ERR_INCOMPATIBLE)
            set_last_error(st, "the reply does not match the method's result type");
        else if (st != PRPC_OK)
            set_last_error(st, arena == NULL ? "the result needs an arena" : prpc_strerror(st));
    }
    return st;
}

/* Turns a synchronous call's completed entry into its result. */
static prpc_status finish_sync(const prpc__pending *p)
{
    prpc_status st = p->status;
    if (p->settled)
        return st; /* decoded at delivery, last error included */
    if (st != PRPC_OK)
        set_last_error(st, prpc_strerror(st));
    else
        st = prpc__client_settle_reply(p, p->error, p->result);
    return st;
}

static void notify_timeout(prpc_client *c, uint32_t msgid);

prpc_status prpc_client_call(prpc_client *client, const prpc_method_desc *method,
                             prpc_encode_fn encode, const void *args, prpc_decode_fn decode,
                             void *result, prpc_arena *arena, const prpc_call_options *opts)
{
    if (client == NULL || !valid_method(method) || (decode != NULL && result == NULL)) {
        set_last_error(PRPC_ERR_INVALID_ARG, prpc_strerror(PRPC_ERR_INVALID_ARG));
        return PRPC_ERR_INVALID_ARG;
    }
    if (method->flags & PRPC_METHOD_ONEWAY)
        return prpc_client_notify(client, method, encode, args);
    if (prpc__client_tl_receiving == client) {
        /* Nobody would read the reply (see the top of client_rx.c). */
        set_last_error(PRPC_ERR_WOULD_BLOCK, prpc_strerror(PRPC_ERR_WOULD_BLOCK));
        return PRPC_ERR_WOULD_BLOCK;
    }

    prpc__cond cond;
    prpc__cond_init(&cond);
    prpc__pending p;
    memset(&p, 0, sizeof p);
    p.cond = &cond;
    p.method = method;
    p.decode = decode;
    p.decode_out = result;
    p.arena = arena;
    p.deadline_ms = resolve_deadline(client, method, opts);
    prpc_encoder enc;
    prpc_enc_init(&enc, client->limits.max_message_size);
    prpc_status st = begin(client, &p, &enc);
    if (st != PRPC_OK) {
        prpc__cond_destroy(&cond);
        set_last_error(st, prpc_strerror(st));
        return st;
    }
    if (opts != NULL && opts->id_out != NULL)
        *opts->id_out = p.id;

    st = send_request(client, &p, &enc, encode, args);

    prpc__mutex_lock(&client->mu);
    uint8_t *drop = keep_encoder_locked(client, &enc);
    if (st != PRPC_OK && !p.done) {
        prpc__client_table_remove(client, p.msgid);
        p.done = true;
        p.status = st;
    }
    bool timed_out = false;
    bool can_lead = client->ops->recv_one != NULL;
    bool lost = false; /* the last read found the connection gone */
    while (!p.done) {
        bool expired;
        if (can_lead && !lost && !client->rx_busy && !client->closed && !client->down) {
            /* Leader: read in this thread (see the top of client_rx.c). */
            client->rx_busy = true;
            prpc__mutex_unlock(&client->mu);
            uint64_t now = prpc__now_ms();
            uint64_t until = p.deadline_ms <= now                   ? now
                             : p.deadline_ms - now > LEAD_SLICE_MS ? now + LEAD_SLICE_MS
                                                                   : p.deadline_ms;
            if (drop != NULL) {
                prpc_free(drop); /* outside the lock, before waiting */
                drop = NULL;
            }
            const prpc__pending *outer = prpc__client_tl_leading;
            prpc__client_tl_leading = &p;
            prpc_status rs = client->ops->recv_one(client->link, until);
            prpc__client_tl_leading = outer;
            prpc__mutex_lock(&client->mu);
            client->rx_busy = false;
            if (p.done)
                break;
            if (rs != PRPC_OK && rs != PRPC_ERR_TIMEOUT) {
                if (client->reconnect && !client->closed) {
                    /* A kept call waits for the next connection (the link
                     * has reported this one lost, or is about to); sleep
                     * rather than read the dead one again at once. */
                    lost = true;
                    continue;
                }
                /* The link is gone (it has failed every call, this one
                 * included, unless the client was closing anyway). */
                if (prpc__client_table_remove(client, p.msgid) != NULL)
                    prpc__client_complete_sync_locked(&p, PRPC_ERR_CLOSED);
                can_lead = false;
                continue;
            }
            expired = prpc__now_ms() >= p.deadline_ms;
        } else {
            p.wait_next = client->waiters;
            client->waiters = &p;
            uint64_t until = p.deadline_ms;
            if (lost && !client->down) {
                /* The loss is not reported yet: look again soon. */
                uint64_t soon = prpc__now_ms() + 10;
                if (soon < until)
                    until = soon;
            }
            lost = false;
            expired = prpc__cond_wait_until(&cond, &client->mu, until) == PRPC_ERR_TIMEOUT &&
                      prpc__now_ms() >= p.deadline_ms;
            for (prpc__pending **pp = &client->waiters; *pp != NULL; pp = &(*pp)->wait_next) {
                if (*pp == &p) {
                    *pp = p.wait_next;
                    break;
                }
            }
        }
        if (expired && !p.done) {
            prpc__client_table_remove(client, p.msgid);
            p.done = true;
            p.status = PRPC_ERR_TIMEOUT;
            client->stats.timeouts++;
            timed_out = true;
        }
    }
    client->last_sync_ms = prpc__now_ms();
    prpc__client_rx_kick_locked(client);
    /* The client may be destroyed once the last user leaves, so the reply
     * buffer goes back before end_use. Usually (the reply was decoded at
     * delivery, or there is none) this is the call's last critical
     * section. */
    bool left = !timed_out && p.reply == NULL;
    if (left)
        end_use(client);
    prpc__mutex_unlock(&client->mu);
    prpc_free(drop);
    if (timed_out)
        notify_timeout(client, p.msgid);
    prpc__cond_destroy(&cond);
    prpc_free(p.req);
    st = finish_sync(&p);
    if (!left) {
        prpc__mutex_lock(&client->mu);
        drop = give_back_reply_locked(client, &p);
        end_use(client);
        prpc__mutex_unlock(&client->mu);
        prpc_free(drop);
    }
    return st;
}

/* ------------------------------------------------------ the timer thread */

static void timer_main(void *arg)
{
    prpc_client *c = arg;
    prpc__mutex_lock(&c->mu);
    while (!c->timer_stop) {
        uint64_t next = UINT64_MAX;
        prpc__pending *expired = prpc__pending_take_expired(&c->table, prpc__now_ms(), &next);
        if (expired != NULL) {
            for (prpc__pending *p = expired; p != NULL; p = p->next) {
                c->stats.timeouts++;
                c->nasync--;
            }
            prpc__mutex_unlock(&c->mu);
            while (expired != NULL) {
                prpc__pending *p = expired;
                expired = p->next;
                uint32_t msgid = p->msgid;
                prpc__client_complete_async(p, PRPC_ERR_TIMEOUT, NULL);
                notify_timeout(c, msgid);
            }
            prpc__mutex_lock(&c->mu);
            continue;
        }
        c->timer_next = next;
        prpc__cond_wait_until(&c->timer_cond, &c->mu, next);
    }
    prpc__mutex_unlock(&c->mu);
}

/* Under c->mu: makes sure the timer wakes by `deadline`. */
static prpc_status arm_timer(prpc_client *c, uint64_t deadline)
{
    if (deadline == UINT64_MAX)
        return PRPC_OK;
    if (!c->timer_running) {
        prpc_status st = prpc__thread_start(&c->timer, timer_main, c);
        if (st != PRPC_OK)
            return st;
        c->timer_running = true;
    } else if (deadline < c->timer_next) {
        c->timer_next = deadline;
        prpc__cond_signal(&c->timer_cond);
    }
    return PRPC_OK;
}

prpc_status prpc_client_call_async(prpc_client *client, const prpc_method_desc *method,
                                   prpc_encode_fn encode, const void *args, prpc_async_fn done,
                                   prpc_fn user_fn, void *user, const prpc_call_options *opts,
                                   prpc_call_id *id_out)
{
    if (id_out != NULL)
        *id_out = 0;
    if (client == NULL || !valid_method(method) || done == NULL ||
        (method->flags & PRPC_METHOD_ONEWAY))
        return PRPC_ERR_INVALID_ARG;
    prpc__pending *p = prpc_alloc(sizeof *p);
    if (p == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(p, 0, sizeof *p);
    p->is_async = true;
    p->method = method;
    p->done_fn = done;
    p->user_fn = user_fn;
    p->user = user;
    p->deadline_ms = resolve_deadline(client, method, opts);
    prpc_encoder enc;
    prpc_enc_init(&enc, client->limits.max_message_size);
    prpc_status st = begin(client, p, &enc);
    if (st != PRPC_OK) {
        prpc_free(p);
        return st;
    }
    prpc_call_id id = p->id;
    uint32_t msgid = p->msgid;
    uint64_t deadline = p->deadline_ms;
    if (id_out != NULL)
        *id_out = id;
    if (opts != NULL && opts->id_out != NULL)
        *opts->id_out = id;

    /* Once sent, p belongs to whoever completes it: do not touch it. */
    st = send_request(client, p, &enc, encode, args);

    prpc__mutex_lock(&client->mu);
    uint8_t *drop = keep_encoder_locked(client, &enc);
    if (st != PRPC_OK) {
        prpc__pending *mine = prpc__client_table_remove(client, msgid);
        if (mine != NULL) {
            prpc_free(mine->req);
            prpc_free(mine);
        } else {
            st = PRPC_OK; /* it completed anyway, and its callback has run */
        }
    } else if (prpc__pending_find(&client->table, msgid) != NULL) {
        st = arm_timer(client, deadline);
        if (st != PRPC_OK) {
            /* Without a timer the deadline cannot be kept: fail it now. */
            prpc__pending *mine = prpc__client_table_remove(client, msgid);
            prpc__mutex_unlock(&client->mu);
            if (mine != NULL)
                prpc__client_complete_async(mine, st, NULL);
            st = PRPC_OK;
            prpc__mutex_lock(&client->mu);
        }
    }
    end_use(client);
    prpc__mutex_unlock(&client->mu);
    prpc_free(drop);
    return st;
}

prpc_status prpc_async_result_decode(const prpc_async_result *r, prpc_decode_fn decode,
                                     void *value)
{
    if (r == NULL || decode == NULL || value == NULL)
        return PRPC_ERR_INVALID_ARG;
    if (r->status != PRPC_OK)
        return r->status;
    decode(r->result, value);
    prpc_status st = prpc_dec_status(r->result);
    if (st == PRPC_OK && prpc_dec_remaining(r->result) != 0)
        st = PRPC_ERR_INCOMPATIBLE;
    return st;
}

/* --------------------------------------------------------- cancellation */

static void encode_u32(prpc_encoder *enc, const void *v)
{
    prpc_enc_uint(enc, *(const uint32_t *)v);
}

static const prpc_method_desc cancel_method = {
    "cancel", "rpc.cancel", "oneway void cancel(u32 msgid)", NULL, PRPC_METHOD_ONEWAY, 0, 1};

/* A call whose deadline passed is cancelled at the server too, as a gRPC
 * deadline is: the handler sees prpc_call_cancelled and can stop early
 * instead of working for a caller that has gone. Best effort, like
 * prpc_client_cancel. destroy waits for these sends before closing the link,
 * because the timed-out caller (or the timer thread) is no longer a pending
 * call that destroy would otherwise account for. */
static void notify_timeout(prpc_client *c, uint32_t msgid)
{
    prpc__mutex_lock(&c->mu);
    bool open = !c->closed && !c->down;
    uint64_t gen = c->gen;
    if (open)
        c->cancel_sends++;
    prpc__mutex_unlock(&c->mu);
    if (!open)
        return;
    (void)prpc__client_send_notify(c, gen, cancel_method.wire_name, cancel_method.nparams,
                                   encode_u32, &msgid);
    prpc__mutex_lock(&c->mu);
    if (--c->cancel_sends == 0)
        prpc__cond_broadcast(&c->drained);
    prpc__mutex_unlock(&c->mu);
}

prpc_status prpc_client_cancel(prpc_client *client, prpc_call_id id)
{
    if (client == NULL || id == 0)
        return PRPC_ERR_INVALID_ARG;
    uint32_t msgid = (uint32_t)id;
    prpc__mutex_lock(&client->mu);
    prpc__pending *p = prpc__pending_find(&client->table, msgid);
    if (p == NULL || p->id != id) {
        prpc__mutex_unlock(&client->mu);
        return PRPC_ERR_INVALID_ARG;
    }
    prpc__client_table_remove(client, msgid);
    bool async = p->is_async;
    if (!async)
        prpc__client_complete_sync_locked(p, PRPC_ERR_CANCELLED);
    prpc__mutex_unlock(&client->mu);
    if (async)
        prpc__client_complete_async(p, PRPC_ERR_CANCELLED, NULL);
    /* Best effort: the server may already have answered. */
    (void)prpc_client_notify(client, &cancel_method, encode_u32, &msgid);
    return PRPC_OK;
}

/* ------------------------------------------------------------- teardown */

void prpc_client_destroy(prpc_client *client)
{
    if (client == NULL)
        return;
    prpc__mutex_lock(&client->mu);
    client->closed = true;
    client->closed_status = PRPC_ERR_CLOSED;
    prpc__pending *list = prpc__client_table_take_all(client);
    prpc__client_rx_kick_locked(client); /* the background receiver stops */
    client->timer_stop = true;
    prpc__cond_signal(&client->timer_cond);
    bool timer = client->timer_running;
    while (client->cancel_sends > 0)
        prpc__cond_wait(&client->drained, &client->mu);
    prpc__mutex_unlock(&client->mu);

    prpc__client_fail_list(client, list, PRPC_ERR_CLOSED);
    if (client->ops->close != NULL)
        client->ops->close(client->link);
    if (timer)
        prpc__thread_join(&client->timer);
    /* Threads woken with PRPC_ERR_CLOSED may still be on their way out. */
    prpc__mutex_lock(&client->mu);
    while (client->users > 0)
        prpc__cond_wait(&client->drained, &client->mu);
    prpc__mutex_unlock(&client->mu);

    prpc__client_discard(client);
}

void prpc__client_discard(prpc_client *client)
{
    prpc__pending_free(&client->table);
    prpc_free(client->spare);
    prpc_free(client->enc_spare);
    prpc_free(client->handlers);
    prpc__cond_destroy(&client->rx_cond);
    prpc__cond_destroy(&client->timer_cond);
    prpc__cond_destroy(&client->drained);
    prpc__mutex_destroy(&client->mu);
    prpc_free(client);
}

void prpc_client_get_stats(prpc_client *client, prpc_client_stats *stats)
{
    if (client == NULL || stats == NULL)
        return;
    prpc__mutex_lock(&client->mu);
    *stats = client->stats;
    stats->pending = client->table.count;
    prpc__mutex_unlock(&client->mu);
}

/* ------------------------------------------------------------ built-ins */

static const prpc_method_desc ping_method = {
    "ping", "rpc.ping", "void ping()", NULL, PRPC_METHOD_IDEMPOTENT, 0, 0};
static const prpc_method_desc describe_method = {
    "describe", "rpc.describe", "any describe()", NULL, PRPC_METHOD_IDEMPOTENT, 0, 0};

static void decode_any(prpc_decoder *dec, void *out)
{
    prpc_dec_any(dec, out);
}

prpc_status prpc_client_ping(prpc_client *client, uint32_t timeout_ms)
{
    prpc_call_options o = {timeout_ms, NULL};
    return prpc_client_call(client, &ping_method, NULL, NULL, NULL, NULL, NULL, &o);
}

prpc_status prpc_client_describe(prpc_client *client, prpc_arena *arena, prpc_any *out)
{
    if (arena == NULL || out == NULL)
        return PRPC_ERR_INVALID_ARG;
    return prpc_client_call(client, &describe_method, NULL, NULL, decode_any, out, arena, NULL);
}
