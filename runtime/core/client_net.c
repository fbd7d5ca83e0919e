/* Connected clients: prpc_client_connect and prpc_client_spawn, the link
 * that carries a client's messages over a transport connection, keepalive,
 * the interface check at connect, and embed mode.
 *
 * The client object (client.c) is transport-agnostic; this file gives it a
 * link (core/client_link.h) over a framed transport connection. On sockets
 * a synchronous caller receives its own reply in its thread (recv_one, the
 * leader receive of client.c), and a background thread blocked in the
 * socket's receive call takes the other messages (asynchronous replies,
 * events) whenever the client gives it the receiver role. A spawned
 * child's pipes are received by the link's own one-thread I/O pool; in
 * embed mode prpc_client_process receives in the application's thread (no
 * thread at all). The
 * link's one-thread pool runs the
 * keepalive timer: after keepalive_ms without a message from the server a
 * ping goes out, and if nothing at all arrives within keepalive_timeout_ms
 * the peer is declared gone and every pending call fails. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/client_link.h"
#include "core/log.h"
#include "piperpc/alloc.h"
#include "piperpc/client.h"
#include "platform/platform.h"
#include "transport/transport.h"

#define DEFAULT_KEEPALIVE_MS 30000u
#define DEFAULT_KEEPALIVE_TIMEOUT_MS 10000u
#define CONNECT_CHECK_MS 10000u

typedef struct net_link {
    prpc__iopool *pool;          /* NULL in embed mode */
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
    uint32_t ka_ms;
    uint32_t ka_timeout_ms;
    prpc__timer ka_timer;
    _Atomic uint64_t last_rx;    /* prpc__now_ms of the last message received */
    bool ping_out;               /* (mu) a keepalive ping awaits its reply */
    uint64_t ping_sent;          /* (mu) */
    bool dead;                   /* (mu) declared gone */
    struct net_link *next;       /* (registry) */
} net_link;

/* The clients made here and their links: the link is not reachable from
 * the public client object, and prpc_client_fd / prpc_client_process need
 * it. A short list; a client joins at connect and leaves in link_close. */
static atomic_flag reg_lock = ATOMIC_FLAG_INIT;
static net_link *reg_head;

static void reg_acquire(void)
{
    while (atomic_flag_test_and_set_explicit(&reg_lock, memory_order_acquire))
        ;
}

static void reg_release(void)
{
    atomic_flag_clear_explicit(&reg_lock, memory_order_release);
}

static void reg_add(net_link *l)
{
    reg_acquire();
    l->next = reg_head;
    reg_head = l;
    reg_release();
}

static void reg_remove(net_link *l)
{
    reg_acquire();
    for (net_link **pp = &reg_head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    reg_release();
}

static net_link *find_link(prpc_client *client)
{
    reg_acquire();
    net_link *l = reg_head;
    while (l != NULL && l->client != client)
        l = l->next;
    reg_release();
    return l;
}

/* -------------------------------------------------------------- the link */

static prpc_status link_send(void *arg, const uint8_t *data, size_t len)
{
    net_link *l = arg;
    return prpc__tconn_send(l->tc, data, len);
}

static void link_close(void *arg)
{
    net_link *l = arg;
    reg_remove(l);
    prpc__mutex_lock(&l->mu);
    l->closing = true;
    prpc__mutex_unlock(&l->mu);
    if (l->ka_on)
        prpc__timer_cancel(&l->ka_timer);
    prpc__tconn_close(l->tc);
    /* The outstanding receive ends with PRPC_ERR_CLOSED; wait for it so no
     * delivery runs once this returns. */
    prpc__mutex_lock(&l->mu);
    while (l->receiving || l->leaders > 0)
        prpc__cond_wait(&l->cv, &l->mu);
    prpc__mutex_unlock(&l->mu);
    if (l->rx_thread)
        prpc__thread_join(&l->rx);
    prpc__tconn_destroy(l->tc);
    if (l->pool != NULL) {
        prpc__iopool_close(l->pool);
        prpc__iopool_stop(l->pool);
        prpc__iopool_free(l->pool);
    }
    prpc__cond_destroy(&l->cv);
    prpc__mutex_destroy(&l->mu);
    prpc_free(l);
}

static void link_lost(net_link *l, prpc_status why);

/* A synchronous caller holding the receiver role reads one message. */
static prpc_status link_recv_one(void *arg, uint64_t deadline_ms)
{
    net_link *l = arg;
    prpc__mutex_lock(&l->mu);
    bool open = !l->closing && !l->dead;
    if (open)
        l->leaders++; /* link_close waits for us before freeing the connection */
    prpc__mutex_unlock(&l->mu);
    if (!open)
        return PRPC_ERR_CLOSED;
    const uint8_t *msg;
    size_t len;
    prpc_status st = prpc__tconn_recv_sync(l->tc, deadline_ms, &msg, &len);
    if (st == PRPC_OK) {
        atomic_store_explicit(&l->last_rx, prpc__now_ms(), memory_order_relaxed);
        prpc__client_deliver(l->client, msg, len);
    } else if (st != PRPC_ERR_TIMEOUT) {
        link_lost(l, PRPC_ERR_CLOSED);
        st = PRPC_ERR_CLOSED;
    }
    prpc__mutex_lock(&l->mu);
    if (--l->leaders == 0 && l->closing)
        prpc__cond_broadcast(&l->cv);
    prpc__mutex_unlock(&l->mu);
    return st;
}

/* Sockets: synchronous callers receive their own replies. */
static const prpc__link_ops net_link_ops_lead = {
    .send = link_send,
    .close = link_close,
    .recv_one = link_recv_one,
};

/* Pipes of a spawned child and embed mode: one receiver only. */
static const prpc__link_ops net_link_ops = {
    .send = link_send,
    .close = link_close,
};

/* The end of the connection, seen by the receive loop or the keepalive. */
static void link_lost(net_link *l, prpc_status why)
{
    prpc__mutex_lock(&l->mu);
    bool tell = !l->closing && !l->dead;
    l->dead = true;
    prpc__mutex_unlock(&l->mu);
    if (tell)
        prpc__client_link_lost(l->client, why);
}

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

/* The background receive loop of a socket client: one thread blocked in
 * the receive system call, with no readiness round trip through epoll. It
 * reads only while it holds the client's receiver role (rx_begin), which
 * the client gives it when asynchronous replies or events are expected and
 * no synchronous caller reads. Closing shuts the socket down, which ends
 * the blocked receive; closing the client ends rx_begin. */
static void rx_main(void *arg)
{
    net_link *l = arg;
    while (prpc__client_rx_begin(l->client)) {
        const uint8_t *msg;
        size_t len;
        prpc_status st = prpc__tconn_recv_sync(l->tc, UINT64_MAX, &msg, &len);
        if (st == PRPC_OK) {
            atomic_store_explicit(&l->last_rx, prpc__now_ms(), memory_order_relaxed);
            prpc__client_deliver(l->client, msg, len);
        }
        prpc__client_rx_end(l->client);
        if (st != PRPC_OK && st != PRPC_ERR_TIMEOUT)
            break;
    }
    link_lost(l, PRPC_ERR_CLOSED);
    prpc__mutex_lock(&l->mu);
    l->receiving = false;
    prpc__cond_broadcast(&l->cv);
    prpc__mutex_unlock(&l->mu);
}

/* ------------------------------------------------------------ keepalive */

static const prpc_method_desc ping_method = {
    "ping", "rpc.ping", "void ping()", NULL, PRPC_METHOD_IDEMPOTENT, 0, 0, NULL};

static void ignore_done(const prpc_async_result *r)
{
    (void)r;
}

/* Any response counts as a sign of life, an error reply (a foreign
 * server knows no rpc.ping) included: the receive path has already moved
 * last_rx, which is what ka_fire judges by. */
static void ping_done(const prpc_async_result *r)
{
    net_link *l = r->user;
    prpc__mutex_lock(&l->mu);
    l->ping_out = false;
    prpc__mutex_unlock(&l->mu);
}

static void ka_fire(void *arg)
{
    net_link *l = arg;
    uint64_t now = prpc__now_ms();
    uint64_t last = atomic_load_explicit(&l->last_rx, memory_order_relaxed);
    prpc__mutex_lock(&l->mu);
    if (l->closing || l->dead) {
        prpc__mutex_unlock(&l->mu);
        return;
    }
    if (l->ping_out && last < l->ping_sent && now - l->ping_sent >= l->ka_timeout_ms) {
        prpc__mutex_unlock(&l->mu);
        prpc__log(PRPC_LOG_WARN, "the server did not answer a keepalive ping within %u ms",
                  (unsigned)l->ka_timeout_ms);
        link_lost(l, PRPC_ERR_UNAVAILABLE);
        prpc__tconn_close(l->tc);
        return;
    }
    if (!l->ping_out && now - last >= l->ka_ms) {
        l->ping_out = true;
        l->ping_sent = now;
        prpc__mutex_unlock(&l->mu);
        /* No deadline on the call itself: this timer decides. */
        prpc_call_options o = {PRPC_TIMEOUT_INFINITE, NULL};
        prpc_status st = prpc_client_call_async(l->client, &ping_method, NULL, NULL, ping_done,
                                                NULL, l, &o, NULL);
        prpc__mutex_lock(&l->mu);
        if (st != PRPC_OK)
            l->ping_out = false;
    }
    /* Wake when the next ping is due, or when an unanswered one expires. */
    uint64_t next = last + l->ka_ms;
    if (next <= now)
        next = now + l->ka_ms;
    if (l->ping_out && l->ping_sent + l->ka_timeout_ms < next)
        next = l->ping_sent + l->ka_timeout_ms;
    prpc__timer_schedule(&l->ka_timer, next);
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

static prpc_status check_server(prpc_client *c, const prpc_client_options *o)
{
    if (o == NULL || o->expect == NULL || o->expect[0] == NULL) {
        /* Proves the peer speaks msgpack-rpc, and is the connection's first
         * message (the server's handshake timeout wants one). Any response
         * counts, an error reply too: a plain msgpack-rpc server answers
         * rpc.ping with "no such method", and it must be reachable. */
        return prpc__client_ping_any(c, CONNECT_CHECK_MS);
    }
    prpc_arena *arena = prpc_arena_create(0);
    if (arena == NULL)
        return PRPC_ERR_NO_MEMORY;
    prpc_any desc;
    prpc_status st = prpc_client_describe(c, arena, &desc);
    char why[512];
    for (size_t i = 0; st == PRPC_OK && o->expect[i] != NULL; i++) {
        st = check_one(&desc, o->expect[i], why, sizeof why);
        if (st != PRPC_OK)
            prpc__log(PRPC_LOG_ERROR, "interface check failed: %s", why);
    }
    prpc_arena_destroy(arena);
    return st;
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
    net_link *l = prpc_alloc(sizeof *l);
    if (l == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(l, 0, sizeof *l);
    prpc__mutex_init(&l->mu);
    prpc__cond_init(&l->cv);
    l->embed = o.embed;
    prpc_status st = PRPC_OK;
    if (!l->embed) {
        st = prpc__iopool_create(1, &l->pool);
        if (st != PRPC_OK)
            goto fail;
    }
    prpc__dial_opts d;
    memset(&d, 0, sizeof d);
    d.limits = o.limits;
    d.argv = argv;
    d.connect_timeout_ms = o.connect_timeout_ms == PRPC_TIMEOUT_INFINITE ? UINT32_MAX
                                                                         : o.connect_timeout_ms;
    prpc__err err;
    err.msg[0] = '\0';
    st = prpc__tdial(l->pool, endpoint, &d, &l->tc, &err);
    if (st != PRPC_OK) {
        prpc__log(PRPC_LOG_ERROR, "cannot connect to %s: %s", endpoint,
                  err.msg[0] ? err.msg : prpc_strerror(st));
        goto fail;
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
        uint32_t ka = o.keepalive_ms ? o.keepalive_ms : DEFAULT_KEEPALIVE_MS;
        if (ka != PRPC_TIMEOUT_INFINITE) {
            l->ka_on = true;
            l->ka_ms = ka;
            l->ka_timeout_ms = o.keepalive_timeout_ms ? o.keepalive_timeout_ms
                                                      : DEFAULT_KEEPALIVE_TIMEOUT_MS;
            prpc__timer_init(&l->ka_timer, l->pool, ka_fire, l);
            prpc__timer_schedule(&l->ka_timer, prpc__now_ms() + ka);
        }
        reg_add(l);
        st = check_server(l->client, opts);
        if (st != PRPC_OK) {
            if (st != PRPC_ERR_INCOMPATIBLE)
                prpc__log(PRPC_LOG_ERROR, "%s does not answer as a msgpack-rpc server: %s",
                          endpoint, prpc_strerror(st));
            prpc_client_destroy(l->client);
            return st;
        }
    }
    if (l->embed) {
        reg_add(l);
        if (o.expect != NULL && o.expect[0] != NULL) {
            /* The check waits for a reply, which only the application's
             * loop can receive in embed mode. */
            prpc__log(PRPC_LOG_ERROR, "the interface check at connect needs a client that is "
                                      "not in embed mode");
            prpc_client_destroy(l->client);
            return PRPC_ERR_NOT_SUPPORTED;
        }
        /* The connection's first message, for the server's handshake
         * timeout; its reply is taken by the first prpc_client_process. */
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
    prpc__cond_destroy(&l->cv);
    prpc__mutex_destroy(&l->mu);
    prpc_free(l);
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

intptr_t prpc_client_fd(prpc_client *client)
{
    net_link *l = client ? find_link(client) : NULL;
    return l != NULL && l->embed ? prpc__tconn_pollable(l->tc) : -1;
}

prpc_status prpc_client_process(prpc_client *client)
{
    net_link *l = client ? find_link(client) : NULL;
    if (l == NULL || !l->embed)
        return PRPC_ERR_INVALID_ARG; /* not embedded: a pool thread receives */
    for (;;) {
        const uint8_t *msg;
        size_t len;
        /* A deadline already past makes it one attempt; the platform's
         * receive timeout rounds it up to 1 ms when nothing is there. */
        prpc_status st = prpc__tconn_recv_sync(l->tc, 0, &msg, &len);
        if (st == PRPC_ERR_TIMEOUT)
            return PRPC_OK;
        if (st != PRPC_OK) {
            link_lost(l, PRPC_ERR_CLOSED);
            return PRPC_ERR_CLOSED;
        }
        atomic_store_explicit(&l->last_rx, prpc__now_ms(), memory_order_relaxed);
        prpc__client_deliver(client, msg, len);
    }
}
