/* Connected clients: prpc_client_connect and prpc_client_spawn, the link
 * that carries a client's messages over a transport connection, keepalive,
 * reconnect, the interface check at connect, and embed mode.
 *
 * The client object (client.c) is transport-agnostic; this file gives it a
 * link (core/client_link.h) over a framed transport connection. On sockets
 * a synchronous caller receives its own reply in its thread (recv_one, the
 * leader receive of client.c), and a background thread blocked in the
 * socket's receive call takes the other messages (asynchronous replies,
 * events) whenever the client gives it the receiver role. A spawned
 * child's pipes are received by the link's own one-thread I/O pool; in
 * embed mode prpc_client_process receives in the application's thread (no
 * thread at all); it and prpc_client_fd reach the link through the client
 * object (prpc__client_link).
 *
 * Keepalive: after keepalive_ms without a message from the server a ping
 * goes out, and if nothing at all arrives within keepalive_timeout_ms the
 * peer is declared gone. The link's one-thread pool runs it on a timer; in
 * embed mode prpc_client_process runs it.
 *
 * Reconnect (sockets only, opts->reconnect): a lost connection is reported
 * with prpc__client_link_down and the background receive thread makes a
 * new one: it waits until no thread uses the old connection, frees it,
 * dials again with exponential backoff and jitter, checks the server
 * (rpc.ping, or rpc.describe against expect) in its own thread on the new
 * connection, and only then publishes it (a new generation) and calls
 * prpc__client_link_up, which re-subscribes and sends the kept calls. Sends
 * count themselves in `senders` and carry the generation they mean, so the
 * old connection is never freed under a sender and no request reaches a
 * connection it was not meant for. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "core/client_link.h"
#include "piperpc/alloc.h"
#include "piperpc/client.h"
#include "platform/platform.h"
#include "transport/transport.h"

#define DEFAULT_KEEPALIVE_MS 30000u
#define DEFAULT_KEEPALIVE_TIMEOUT_MS 10000u
#define CONNECT_CHECK_MS 10000u
#define DEFAULT_RECONNECT_MIN_MS 100u
#define DEFAULT_RECONNECT_MAX_MS 5000u

typedef struct net_link {
    prpc__iopool *pool;          /* NULL in embed mode */
    /* The connection. Fixed for the link's life unless it reconnects; then
     * (mu), written only by the receive thread, NULL between connections. */
    prpc__tconn *tc;
    prpc_client *client;
    bool embed;
    bool rx_thread;              /* a dedicated thread receives (sockets) */
    prpc__thread rx;
    prpc__mutex mu;
    prpc__cond cv;
    bool receiving;              /* (mu) the receive loop runs */
    unsigned leaders;            /* (mu) callers inside recv_one */
    bool closing;                /* (mu) the client is being destroyed */
    /* keepalive */
    bool ka_on;
    bool ka_timer_on;            /* a pool timer runs it (not embed mode) */
    uint32_t ka_ms;
    uint32_t ka_timeout_ms;
    prpc__timer ka_timer;
    _Atomic uint64_t last_rx;    /* prpc__now_ms of the last message received */
    bool ping_out;               /* (mu) a keepalive ping awaits its reply */
    uint64_t ping_sent;          /* (mu) */
    bool dead;                   /* (mu) the connection tc is lost */
    /* reconnect */
    bool reconnect;
    char *endpoint;              /* a copy, to dial again */
    const prpc_service_desc **expect; /* a copy of opts->expect, NULL-terminated */
    prpc__dial_opts dial;
    prpc_limits limits;
    uint32_t backoff_min_ms, backoff_max_ms;
    uint64_t rng;                /* jitter; the receive thread's alone */
    uint32_t last_step;          /* the backoff step that made the connection; receive thread */
    uint64_t up_at;              /* when it was made; receive thread */
    unsigned senders;            /* (mu) threads sending on tc */
    uint64_t gen;                /* (mu) the generation of tc */
    prpc__tconn *tc_new;         /* (mu) a connection being checked */
    bool given_up;               /* (mu) reconnecting stopped for good */
    prpc_status lost_why;        /* (mu) why the connection was lost */
} net_link;

/* -------------------------------------------------------------- the link */

static prpc_status link_send(void *arg, uint64_t gen, const uint8_t *data, size_t len)
{
    net_link *l = arg;
    if (!l->reconnect)
        return prpc__tconn_send(l->tc, data, len);
    prpc__mutex_lock(&l->mu);
    prpc_status st = l->closing                                   ? PRPC_ERR_CLOSED
                     : l->dead || l->tc == NULL || gen != l->gen ? PRPC_ERR_UNAVAILABLE
                                                                  : PRPC_OK;
    prpc__tconn *tc = l->tc;
    if (st == PRPC_OK)
        l->senders++; /* the receive thread frees tc only when no sender uses it */
    prpc__mutex_unlock(&l->mu);
    if (st != PRPC_OK)
        return st;
    st = prpc__tconn_send(tc, data, len);
    prpc__mutex_lock(&l->mu);
    if (--l->senders == 0)
        prpc__cond_broadcast(&l->cv);
    prpc__mutex_unlock(&l->mu);
    return st;
}

static void free_link(net_link *l)
{
    prpc_free(l->endpoint);
    prpc_free(l->expect);
    prpc__cond_destroy(&l->cv);
    prpc__mutex_destroy(&l->mu);
    prpc_free(l);
}

static void link_close(void *arg)
{
    net_link *l = arg;
    prpc__mutex_lock(&l->mu);
    l->closing = true;
    prpc__cond_broadcast(&l->cv); /* ends a reconnect's backoff wait */
    /* Closing never blocks; it ends a receive blocked on the connection.
     * Under the lock, since the receive thread swaps connections under it. */
    if (l->tc_new != NULL)
        prpc__tconn_close(l->tc_new);
    if (l->tc != NULL)
        prpc__tconn_close(l->tc);
    prpc__mutex_unlock(&l->mu);
    if (l->ka_timer_on)
        prpc__timer_cancel(&l->ka_timer);
    /* The outstanding receive ends with PRPC_ERR_CLOSED; wait for it so no
     * delivery runs once this returns. */
    prpc__mutex_lock(&l->mu);
    while (l->receiving || l->leaders > 0 || l->senders > 0)
        prpc__cond_wait(&l->cv, &l->mu);
    prpc__mutex_unlock(&l->mu);
    if (l->rx_thread)
        prpc__thread_join(&l->rx);
    if (l->tc != NULL)
        prpc__tconn_destroy(l->tc);
    if (l->pool != NULL) {
        prpc__iopool_close(l->pool);
        prpc__iopool_stop(l->pool);
        prpc__iopool_free(l->pool);
    }
    free_link(l);
}

/* The end of the connection, seen by a receive or the keepalive. Without
 * reconnect the client is closed; with it, the connection is closed (which
 * ends every read on it) and reported lost, and the receive thread makes a
 * new one. Once per connection. */
static void link_lost_gen(net_link *l, uint64_t gen, prpc_status why)
{
    prpc__mutex_lock(&l->mu);
    /* A verdict about an older connection (the keepalive decides, then
     * acts outside the lock) must not end a newer one. */
    bool tell = !l->closing && !l->dead && (gen == UINT64_MAX || gen == l->gen);
    l->dead = true;
    if (tell && l->reconnect) {
        l->lost_why = why;
        prpc__tconn_close(l->tc);
    }
    prpc__mutex_unlock(&l->mu);
    if (!tell)
        return;
    if (l->reconnect)
        prpc__client_link_down(l->client, why);
    else
        prpc__client_link_lost(l->client, why);
}

/* The end of the current connection, whichever it is. */
static void link_lost(net_link *l, prpc_status why)
{
    link_lost_gen(l, UINT64_MAX, why);
}

/* A synchronous caller holding the receiver role reads one message. */
static prpc_status link_recv_one(void *arg, uint64_t deadline_ms)
{
    net_link *l = arg;
    prpc__mutex_lock(&l->mu);
    bool open = !l->closing && !l->dead;
    prpc__tconn *tc = l->tc;
    if (open)
        l->leaders++; /* nobody frees the connection under us */
    prpc__mutex_unlock(&l->mu);
    if (!open)
        return PRPC_ERR_CLOSED;
    const uint8_t *msg;
    size_t len;
    prpc_status st = prpc__tconn_recv_sync(tc, deadline_ms, &msg, &len);
    if (st == PRPC_OK) {
        atomic_store_explicit(&l->last_rx, prpc__now_ms(), memory_order_relaxed);
        prpc__client_deliver(l->client, msg, len);
    } else if (st != PRPC_ERR_TIMEOUT) {
        link_lost(l, PRPC_ERR_CLOSED);
        st = PRPC_ERR_CLOSED;
    }
    prpc__mutex_lock(&l->mu);
    if (--l->leaders == 0)
        prpc__cond_broadcast(&l->cv);
    prpc__mutex_unlock(&l->mu);
    return st;
}

/* Sockets: synchronous callers receive their own replies. */
static const prpc__link_ops net_link_ops_lead = {
    .send = link_send,
    .close = link_close,
    .recv_one = link_recv_one,
    .callbacks_block_receive = true,
};

/* Pipes of a spawned child and embed mode: one receiver only. */
static const prpc__link_ops net_link_ops = {
    .send = link_send,
    .close = link_close,
    .callbacks_block_receive = true,
};

static void on_msg(void *user, prpc__tconn *tc, prpc_status st, const uint8_t *msg, size_t len)
{
    net_link *l = user;
    if (st == PRPC_OK) {
        atomic_store_explicit(&l->last_rx, prpc__now_ms(), memory_order_relaxed);
        prpc__client_deliver(l->client, msg, len);
        st = prpc__tconn_recv(tc, on_msg, l);
        if (st == PRPC_OK)
            return;
    }
    /* The server closed, broke the protocol or vanished. */
    link_lost(l, st == PRPC_ERR_TIMEOUT ? PRPC_ERR_UNAVAILABLE : PRPC_ERR_CLOSED);
    prpc__mutex_lock(&l->mu);
    l->receiving = false;
    prpc__cond_broadcast(&l->cv);
    prpc__mutex_unlock(&l->mu);
}

static bool reconnect(net_link *l);

/* The background receive loop of a socket client: one thread blocked in
 * the receive system call, with no readiness round trip through epoll. It
 * reads only while it holds the client's receiver role (rx_begin), which
 * the client gives it when asynchronous replies or events are expected and
 * no synchronous caller reads. Closing shuts the socket down, which ends
 * the blocked receive; closing the client ends rx_begin. When the
 * connection is lost and the client reconnects, this thread makes the new
 * one. */
static void rx_main(void *arg)
{
    net_link *l = arg;
    for (;;) {
        prpc__rx_turn turn = prpc__client_rx_begin(l->client);
        if (turn == PRPC__RX_CLOSED)
            break;
        if (turn == PRPC__RX_DOWN) {
            if (!reconnect(l))
                break;
            continue;
        }
        /* Only this thread replaces tc, and not while it holds the role. */
        const uint8_t *msg;
        size_t len;
        prpc_status st = prpc__tconn_recv_sync(l->tc, UINT64_MAX, &msg, &len);
        if (st == PRPC_OK) {
            atomic_store_explicit(&l->last_rx, prpc__now_ms(), memory_order_relaxed);
            prpc__client_deliver(l->client, msg, len);
        }
        prpc__client_rx_end(l->client);
        if (st != PRPC_OK && st != PRPC_ERR_TIMEOUT)
            link_lost(l, PRPC_ERR_CLOSED);
    }
    link_lost(l, PRPC_ERR_CLOSED);
    prpc__mutex_lock(&l->mu);
    l->receiving = false;
    prpc__cond_broadcast(&l->cv);
    prpc__mutex_unlock(&l->mu);
}

/* ------------------------------------------------------------ keepalive */

/* Not [idempotent] on purpose: a ping in flight when the connection is
 * lost fails with it instead of waiting for the next one. */
static const prpc_method_desc ping_method = {
    "ping", "rpc.ping", "void ping()", NULL, 0, 0, 0};

static void ignore_done(const prpc_async_result *r)
{
    (void)r;
}

/* Any response counts as a sign of life, an error reply (a foreign
 * server knows no rpc.ping) included: the receive path has already moved
 * last_rx, which is what the keepalive judges by. */
static void ping_done(const prpc_async_result *r)
{
    net_link *l = r->user;
    prpc__mutex_lock(&l->mu);
    l->ping_out = false;
    prpc__mutex_unlock(&l->mu);
}

typedef enum ka_action { KA_NOTHING, KA_PING, KA_DEAD } ka_action;

/* Under l->mu: what the keepalive must do now, given the time of the last
 * message received. */
static ka_action ka_decide(net_link *l, uint64_t now, uint64_t last)
{
    if (l->ping_out && last < l->ping_sent && now - l->ping_sent >= l->ka_timeout_ms)
        return KA_DEAD;
    if (!l->ping_out && now - last >= l->ka_ms) {
        l->ping_out = true;
        l->ping_sent = now;
        return KA_PING;
    }
    return KA_NOTHING;
}

/* Under l->mu: when the keepalive must look next: when the next ping is
 * due, or when an unanswered one expires. */
static uint64_t ka_next(const net_link *l, uint64_t now, uint64_t last)
{
    uint64_t next = last + l->ka_ms;
    if (next <= now)
        next = now + l->ka_ms;
    if (l->ping_out && l->ping_sent + l->ka_timeout_ms < next)
        next = l->ping_sent + l->ka_timeout_ms;
    return next;
}

/* Does what ka_decide said, outside l->mu, about connection `gen` (l->gen
 * when it decided). */
static void ka_act(net_link *l, ka_action a, uint64_t gen)
{
    if (a == KA_DEAD) {
        prpc__log(PRPC_LOG_WARN, "the server did not answer a keepalive ping within %u ms",
                  (unsigned)l->ka_timeout_ms);
        link_lost_gen(l, gen, PRPC_ERR_UNAVAILABLE);
        if (!l->reconnect)
            prpc__tconn_close(l->tc); /* with reconnect, link_lost closed it */
    } else if (a == KA_PING) {
        /* No deadline on the call itself: the keepalive decides. */
        prpc_call_options o = {PRPC_TIMEOUT_INFINITE, NULL};
        prpc_status st = prpc_client_call_async(l->client, &ping_method, NULL, NULL, ping_done,
                                                NULL, l, &o, NULL);
        if (st != PRPC_OK) {
            prpc__mutex_lock(&l->mu);
            l->ping_out = false;
            prpc__mutex_unlock(&l->mu);
        }
    }
}

static void ka_fire(void *arg)
{
    net_link *l = arg;
    uint64_t now = prpc__now_ms();
    uint64_t last = atomic_load_explicit(&l->last_rx, memory_order_relaxed);
    prpc__mutex_lock(&l->mu);
    if (l->closing || l->given_up || (l->dead && !l->reconnect)) {
        prpc__mutex_unlock(&l->mu);
        return;
    }
    if (l->dead) {
        /* Reconnecting: nothing to ping; look again later. */
        prpc__timer_schedule(&l->ka_timer, now + l->ka_ms);
        prpc__mutex_unlock(&l->mu);
        return;
    }
    ka_action a = ka_decide(l, now, last);
    uint64_t gen = l->gen;
    prpc__mutex_unlock(&l->mu);
    ka_act(l, a, gen);
    prpc__mutex_lock(&l->mu);
    if (!l->closing)
        prpc__timer_schedule(&l->ka_timer, ka_next(l, now, last));
    prpc__mutex_unlock(&l->mu);
}

/* ---------------------------------------------------- interface check */

static prpc_status check_in(const prpc_any *desc, const prpc_service_desc *want,
                            prpc_arena *scratch, char *why, size_t why_size);

/* Finds service `want` in an rpc.describe answer and compares its hash. */
static prpc_status check_one(const prpc_any *desc, const prpc_service_desc *want, char *why,
                             size_t why_size)
{
    /* Strings are copied out as they are decoded; a scratch arena holds
     * them. */
    prpc_arena *scratch = prpc_arena_create(0);
    if (scratch == NULL)
        return PRPC_ERR_NO_MEMORY;
    prpc_status st = check_in(desc, want, scratch, why, why_size);
    prpc_arena_destroy(scratch);
    return st;
}

static prpc_status check_in(const prpc_any *desc, const prpc_service_desc *want,
                            prpc_arena *scratch, char *why, size_t why_size)
{
    prpc_decoder dec;
    prpc_dec_init(&dec, desc->data, desc->len, scratch);
    uint32_t nsvc = 0;
    prpc_dec_array(&dec, &nsvc);
    for (uint32_t i = 0; i < nsvc && prpc_dec_status(&dec) == PRPC_OK; i++) {
        uint32_t nkeys = 0;
        prpc_dec_map(&dec, &nkeys);
        const char *name = NULL;
        size_t name_len = 0;
        uint64_t hash = 0;
        bool has_hash = false;
        for (uint32_t k = 0; k < nkeys && prpc_dec_status(&dec) == PRPC_OK; k++) {
            const char *key;
            size_t key_len;
            prpc_dec_str(&dec, &key, &key_len);
            if (key_len == 4 && memcmp(key, "name", 4) == 0 &&
                prpc_dec_peek(&dec) == PRPC_TYPE_STR) {
                prpc_dec_str(&dec, &name, &name_len);
            } else if (key_len == 4 && memcmp(key, "hash", 4) == 0) {
                prpc_dec_u64(&dec, &hash);
                has_hash = true;
            } else {
                prpc_dec_skip(&dec);
            }
        }
        if (prpc_dec_status(&dec) != PRPC_OK)
            break;
        if (name != NULL && strlen(want->full_name) == name_len &&
            memcmp(name, want->full_name, name_len) == 0) {
            if (has_hash && hash == want->signature_hash)
                return PRPC_OK;
            snprintf(why, why_size,
                     "the server's interface %s has signature hash %016llx, this client was "
                     "built for %016llx: the two were generated from different IDL",
                     want->full_name, (unsigned long long)hash,
                     (unsigned long long)want->signature_hash);
            return PRPC_ERR_INCOMPATIBLE;
        }
    }
    if (prpc_dec_status(&dec) != PRPC_OK) {
        snprintf(why, why_size, "the server's rpc.describe answer is malformed");
        return PRPC_ERR_INCOMPATIBLE;
    }
    snprintf(why, why_size, "the server does not serve the interface %s", want->full_name);
    return PRPC_ERR_INCOMPATIBLE;
}

/* Checks a fresh connection in the calling thread, before any other
 * message goes out on it: rpc.ping when expect is empty (any response
 * counts, an error reply too: a plain msgpack-rpc server answers "no such
 * method", and it must be reachable; it is also the connection's first
 * message, which the server's handshake timeout wants), else rpc.describe
 * and the signature hash of every expected service. It uses msgid 0, which
 * the client never gives a call. On failure `why` says what went wrong. */
static prpc_status handshake(net_link *l, prpc__tconn *tc, char *why, size_t why_size)
{
    bool check = l->expect != NULL && l->expect[0] != NULL;
    const char *method = check ? "rpc.describe" : "rpc.ping";
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_request(&enc, 0, method, strlen(method), 0);
    prpc_status st = prpc_enc_status(&enc);
    if (st == PRPC_OK)
        st = prpc__tconn_send(tc, enc.data, enc.len);
    prpc_enc_free(&enc);
    uint64_t deadline = prpc__now_ms() + CONNECT_CHECK_MS;
    prpc_msg m;
    while (st == PRPC_OK) {
        const uint8_t *msg;
        size_t len;
        st = prpc__tconn_recv_sync(tc, deadline, &msg, &len);
        /* Nothing else can come first (no subscription yet); a stray
         * message is skipped. */
        if (st == PRPC_OK && prpc_msg_parse(msg, len, &l->limits, &m) == PRPC_OK &&
            m.type == PRPC_MSG_RESPONSE && m.msgid == 0)
            break;
    }
    if (st != PRPC_OK) {
        snprintf(why, why_size, "no answer to %s: %s", method, prpc_strerror(st));
        return st;
    }
    if (!check)
        return PRPC_OK;
    if (!(m.error.len == 1 && m.error.data[0] == 0xc0)) {
        /* As a call would: the status the server's error stands for. */
        prpc_arena *scratch = prpc_arena_create(0);
        prpc_remote_error err;
        st = scratch ? prpc_remote_error_decode(m.error, scratch, &err) : PRPC_ERR_NO_MEMORY;
        if (st == PRPC_OK)
            st = prpc_remote_error_status(&err);
        prpc_arena_destroy(scratch);
        if (st == PRPC_OK)
            st = PRPC_ERR_PROTOCOL;
        snprintf(why, why_size, "rpc.describe failed: %s", prpc_strerror(st));
        return st;
    }
    for (size_t i = 0; st == PRPC_OK && l->expect[i] != NULL; i++)
        st = check_one(&m.result, l->expect[i], why, why_size);
    return st;
}

/* Logs why a connection failed its handshake. */
static void log_handshake(const char *endpoint, prpc_status st, const char *why)
{
    if (st == PRPC_ERR_INCOMPATIBLE)
        prpc__log(PRPC_LOG_ERROR, "interface check failed: %s", why);
    else
        prpc__log(PRPC_LOG_ERROR, "%s does not answer as a msgpack-rpc server: %s", endpoint,
                  why);
}

/* ------------------------------------------------------------ reconnect */

/* The next backoff step: the first retry after min, then doubling up to
 * max. */
static uint32_t backoff_next(const net_link *l, uint32_t step)
{
    if (step == 0)
        return l->backoff_min_ms;
    return step >= l->backoff_max_ms / 2 ? l->backoff_max_ms : step * 2;
}

/* A step with jitter: between 80% and 100% of it, so that many clients of
 * a restarted server do not all come back in the same millisecond. */
static uint32_t backoff_jitter(net_link *l, uint32_t step)
{
    /* xorshift64: only the receive thread draws. */
    l->rng ^= l->rng << 13;
    l->rng ^= l->rng >> 7;
    l->rng ^= l->rng << 17;
    uint32_t spread = step / 5;
    return spread == 0 ? step : step - (uint32_t)(l->rng % ((uint64_t)spread + 1));
}

/* Waits ms unless the client closes first. Returns false when it does. */
static bool backoff_wait(net_link *l, uint32_t ms)
{
    uint64_t until = prpc__now_ms() + ms;
    prpc__mutex_lock(&l->mu);
    while (!l->closing && prpc__now_ms() < until)
        (void)prpc__cond_wait_until(&l->cv, &l->mu, until);
    bool open = !l->closing;
    prpc__mutex_unlock(&l->mu);
    return open;
}

/* Runs in the receive thread once the connection is lost (see the top of
 * the file). Returns true with a new connection in place, false when the
 * client is closing or the new server failed the interface check (then
 * the client is closed with PRPC_ERR_INCOMPATIBLE). */
static bool reconnect(net_link *l)
{
    prpc__mutex_lock(&l->mu);
    prpc_status why = l->lost_why;
    prpc__mutex_unlock(&l->mu);
    prpc__client_report_state(l->client, PRPC_CLIENT_RECONNECTING, why);

    /* The old connection goes once nobody reads from or sends on it; it
     * is closed already, so they leave soon. */
    prpc__mutex_lock(&l->mu);
    while ((l->leaders > 0 || l->senders > 0) && !l->closing)
        prpc__cond_wait(&l->cv, &l->mu);
    if (l->closing) {
        prpc__mutex_unlock(&l->mu);
        return false; /* link_close frees it */
    }
    prpc__tconn *old = l->tc;
    l->tc = NULL;
    prpc__mutex_unlock(&l->mu);
    prpc__tconn_destroy(old);

    /* The first attempt at once, unless the last connection died young: a
     * server that accepts and then drops every connection must not make
     * the client reconnect in a tight loop. */
    uint32_t step = prpc__now_ms() - l->up_at < l->backoff_max_ms ? l->last_step : 0;
    for (;;) {
        if (step > 0 && !backoff_wait(l, backoff_jitter(l, step)))
            return false;
        step = backoff_next(l, step);
        prpc__client_count_attempt(l->client);
        prpc__tconn *tc;
        prpc__err err;
        err.msg[0] = '\0';
        prpc_status st = prpc__tdial(l->pool, l->endpoint, &l->dial, &tc, &err);
        if (st != PRPC_OK) {
            prpc__log(PRPC_LOG_DEBUG, "reconnecting to %s: %s", l->endpoint,
                      err.msg[0] ? err.msg : prpc_strerror(st));
            continue;
        }
        prpc__mutex_lock(&l->mu);
        bool closing = l->closing;
        if (!closing)
            l->tc_new = tc; /* link_close may close it meanwhile */
        prpc__mutex_unlock(&l->mu);
        char text[512];
        text[0] = '\0';
        if (!closing)
            st = handshake(l, tc, text, sizeof text);
        prpc__mutex_lock(&l->mu);
        l->tc_new = NULL;
        closing = l->closing;
        if (!closing && st == PRPC_OK) {
            l->tc = tc;
            l->gen++;
            l->dead = false;
            l->ping_out = false;
            atomic_store_explicit(&l->last_rx, prpc__now_ms(), memory_order_relaxed);
        }
        uint64_t gen = l->gen;
        prpc__mutex_unlock(&l->mu);
        if (closing) {
            prpc__tconn_destroy(tc);
            return false;
        }
        if (st == PRPC_OK) {
            l->last_step = step;
            l->up_at = prpc__now_ms();
            prpc__client_link_up(l->client, gen);
            prpc__client_report_state(l->client, PRPC_CLIENT_CONNECTED, PRPC_OK);
            return true;
        }
        prpc__tconn_destroy(tc);
        log_handshake(l->endpoint, st, text);
        if (st == PRPC_ERR_INCOMPATIBLE) {
            /* Another interface answers there now: waiting will not help. */
            prpc__mutex_lock(&l->mu);
            l->given_up = true;
            prpc__mutex_unlock(&l->mu);
            prpc__client_link_lost(l->client, PRPC_ERR_INCOMPATIBLE);
            return false;
        }
    }
}

/* ---------------------------------------------------------- connecting */

static prpc_status open_client(const char *endpoint, const char *const *argv,
                               const prpc_client_options *opts, prpc_client **out)
{
    if (out == NULL)
        return PRPC_ERR_INVALID_ARG;
    *out = NULL;
    prpc_client_options o;
    memset(&o, 0, sizeof o);
    if (opts != NULL)
        o = *opts;
    if (o.reconnect && (o.embed || argv != NULL)) {
        prpc__log(PRPC_LOG_ERROR, "reconnect needs prpc_client_connect without embed mode");
        return PRPC_ERR_INVALID_ARG;
    }
    net_link *l = prpc_alloc(sizeof *l);
    if (l == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(l, 0, sizeof *l);
    prpc__mutex_init(&l->mu);
    prpc__cond_init(&l->cv);
    l->embed = o.embed;
    l->reconnect = o.reconnect;
    l->limits = prpc_limits_resolve(&o.limits);
    prpc_status st = PRPC_OK;
    size_t nexpect = 0;
    while (o.expect != NULL && o.expect[nexpect] != NULL)
        nexpect++;
    if (nexpect > 0) {
        l->expect = prpc_alloc((nexpect + 1) * sizeof *l->expect);
        if (l->expect == NULL) {
            st = PRPC_ERR_NO_MEMORY;
            goto fail;
        }
        memcpy(l->expect, o.expect, (nexpect + 1) * sizeof *l->expect);
    }
    if (l->reconnect) {
        size_t n = strlen(endpoint) + 1;
        l->endpoint = prpc_alloc(n);
        if (l->endpoint == NULL) {
            st = PRPC_ERR_NO_MEMORY;
            goto fail;
        }
        memcpy(l->endpoint, endpoint, n);
        l->backoff_min_ms = o.reconnect_min_ms ? o.reconnect_min_ms : DEFAULT_RECONNECT_MIN_MS;
        l->backoff_max_ms = o.reconnect_max_ms ? o.reconnect_max_ms : DEFAULT_RECONNECT_MAX_MS;
        if (l->backoff_max_ms < l->backoff_min_ms)
            l->backoff_max_ms = l->backoff_min_ms;
        l->rng = prpc__now_ms() ^ (uint64_t)(uintptr_t)l ^ 0x9e3779b97f4a7c15ull;
        l->up_at = prpc__now_ms();
    }
    if (!l->embed) {
        st = prpc__iopool_create(1, &l->pool);
        if (st != PRPC_OK)
            goto fail;
    }
    prpc__dial_opts *d = &l->dial;
    d->limits = o.limits;
    d->argv = argv;
    d->connect_timeout_ms = o.connect_timeout_ms == PRPC_TIMEOUT_INFINITE ? UINT32_MAX
                                                                          : o.connect_timeout_ms;
    prpc__err err;
    err.msg[0] = '\0';
    st = prpc__tdial(l->pool, endpoint, d, &l->tc, &err);
    d->connect_timeout_ms = 0; /* a reconnect makes one attempt per backoff step */
    if (st != PRPC_OK) {
        prpc__log(PRPC_LOG_ERROR, "cannot connect to %s: %s", endpoint,
                  err.msg[0] ? err.msg : prpc_strerror(st));
        goto fail;
    }
    /* The check runs before anything else uses the connection, in this
     * thread. In embed mode without expect a ping goes out instead and its
     * reply is taken by the first prpc_client_process, so that connect
     * does not wait for the server. */
    if (!l->embed || l->expect != NULL) {
        char why[512];
        why[0] = '\0';
        st = handshake(l, l->tc, why, sizeof why);
        if (st != PRPC_OK) {
            log_handshake(endpoint, st, why);
            prpc__tconn_destroy(l->tc);
            goto fail;
        }
    }
    /* Synchronous callers may receive in their own thread only where the
     * background receiver is a thread the client can hold back (sockets). */
    bool lead = !l->embed && argv == NULL;
    st = prpc__client_create(&o, lead ? &net_link_ops_lead : &net_link_ops, l, &l->client);
    if (st != PRPC_OK) {
        prpc__tconn_destroy(l->tc);
        goto fail;
    }
    atomic_init(&l->last_rx, prpc__now_ms());
    uint32_t ka = o.keepalive_ms ? o.keepalive_ms : DEFAULT_KEEPALIVE_MS;
    if (ka != PRPC_TIMEOUT_INFINITE) {
        l->ka_on = true;
        l->ka_ms = ka;
        l->ka_timeout_ms = o.keepalive_timeout_ms ? o.keepalive_timeout_ms
                                                  : DEFAULT_KEEPALIVE_TIMEOUT_MS;
    }
    if (!l->embed) {
        l->receiving = true;
        if (argv == NULL) {
            /* Sockets: a blocked receive wakes when closed (see rx_main). */
            st = prpc__thread_start(&l->rx, rx_main, l);
            l->rx_thread = st == PRPC_OK;
        } else {
            /* A spawned child's pipes: the pool receives, since a blocked
             * read on a pipe would not wake when the link closes. */
            st = prpc__tconn_recv(l->tc, on_msg, l);
        }
        if (st != PRPC_OK) {
            l->receiving = false;
            prpc_client_destroy(l->client); /* closes and frees the link */
            return st;
        }
        if (l->ka_on) {
            l->ka_timer_on = true;
            prpc__timer_init(&l->ka_timer, l->pool, ka_fire, l);
            prpc__mutex_lock(&l->mu);
            prpc__timer_schedule(&l->ka_timer, prpc__now_ms() + ka);
            prpc__mutex_unlock(&l->mu);
        }
    }
    if (l->embed && l->expect == NULL) {
        prpc_call_options co = {CONNECT_CHECK_MS, NULL};
        (void)prpc_client_call_async(l->client, &ping_method, NULL, NULL, ignore_done, NULL,
                                     NULL, &co, NULL);
    }
    *out = l->client;
    return PRPC_OK;
fail:
    if (l->pool != NULL) {
        prpc__iopool_close(l->pool);
        prpc__iopool_stop(l->pool);
        prpc__iopool_free(l->pool);
    }
    free_link(l);
    return st;
}

prpc_status prpc_client_connect(const char *endpoint, const prpc_client_options *opts,
                                prpc_client **out)
{
    if (endpoint == NULL || out == NULL)
        return PRPC_ERR_INVALID_ARG;
    return open_client(endpoint, NULL, opts, out);
}

prpc_status prpc_client_spawn(const char *const *argv, const prpc_client_options *opts,
                              prpc_client **out)
{
    if (argv == NULL || argv[0] == NULL || out == NULL)
        return PRPC_ERR_INVALID_ARG;
    return open_client("stdio:", argv, opts, out);
}

/* ----------------------------------------------------------- embed mode */

/* The link of an embedded client (made with net_link_ops), else NULL. */
static net_link *embed_link(prpc_client *client)
{
    net_link *l = prpc__client_link(client, &net_link_ops);
    return l != NULL && l->embed ? l : NULL;
}

intptr_t prpc_client_fd(prpc_client *client)
{
    net_link *l = embed_link(client);
    return l != NULL ? prpc__tconn_pollable(l->tc) : -1;
}

prpc_status prpc_client_process(prpc_client *client)
{
    net_link *l = embed_link(client);
    if (l == NULL)
        return PRPC_ERR_INVALID_ARG; /* not embedded: a pool thread receives */
    for (;;) {
        const uint8_t *msg;
        size_t len;
        /* Deadline 0: only what has arrived already; never waits. */
        prpc_status st = prpc__tconn_recv_sync(l->tc, 0, &msg, &len);
        if (st == PRPC_ERR_TIMEOUT)
            break;
        if (st != PRPC_OK) {
            link_lost(l, PRPC_ERR_CLOSED);
            return PRPC_ERR_CLOSED;
        }
        atomic_store_explicit(&l->last_rx, prpc__now_ms(), memory_order_relaxed);
        prpc__client_deliver(client, msg, len);
    }
    if (!l->ka_on)
        return PRPC_OK;
    /* The keepalive, after reading: a reply that came is counted first. */
    uint64_t now = prpc__now_ms();
    uint64_t last = atomic_load_explicit(&l->last_rx, memory_order_relaxed);
    prpc__mutex_lock(&l->mu);
    bool dead = l->dead;
    ka_action a = dead ? KA_NOTHING : ka_decide(l, now, last);
    uint64_t gen = l->gen;
    prpc__mutex_unlock(&l->mu);
    if (dead)
        return PRPC_ERR_CLOSED;
    ka_act(l, a, gen);
    return a == KA_DEAD ? PRPC_ERR_UNAVAILABLE : PRPC_OK;
}

uint32_t prpc_client_next_timeout(prpc_client *client)
{
    net_link *l = embed_link(client);
    if (l == NULL || !l->ka_on)
        return PRPC_TIMEOUT_INFINITE;
    uint64_t now = prpc__now_ms();
    uint64_t last = atomic_load_explicit(&l->last_rx, memory_order_relaxed);
    prpc__mutex_lock(&l->mu);
    uint64_t next = l->dead ? UINT64_MAX : ka_next(l, now, last);
    prpc__mutex_unlock(&l->mu);
    if (next == UINT64_MAX)
        return PRPC_TIMEOUT_INFINITE;
    uint64_t wait = next > now ? next - now : 0;
    return wait >= PRPC_TIMEOUT_INFINITE ? PRPC_TIMEOUT_INFINITE - 1 : (uint32_t)wait;
}
