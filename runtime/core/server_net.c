/* Serving a server over transports: prpc_server_listen, start, run, stop.
 *
 * The server object (server.c) knows connections only through
 * prpc__conn_open; this file owns everything network-facing around it: the
 * I/O pool, the transport listeners, and the receive loop of every accepted
 * connection. The transport listener has already applied the peer policy
 * and the connection limit (before any byte is read) and frames whole
 * messages with the size, depth, handshake and idle limits; each whole
 * message goes to prpc__conn_receive on a pool thread, and the next one is
 * requested only when it returns, so one connection's calls start in
 * arrival order while other connections run on other threads.
 *
 * The network state of a server lives in a small registry keyed by the
 * server pointer, because struct prpc_server has no room for it. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "core/server_conn.h"
#include "core/server_impl.h"
#include "piperpc/alloc.h"
#include "piperpc/server.h"
#include "platform/platform.h"
#include "transport/transport.h"

/* prpc_server_create checks the public bound; the pool has the same one. */
_Static_assert(PRPC_SERVER_MAX_THREADS == PRPC__POOL_MAX_THREADS, "one thread bound");

#define DEFAULT_HANDSHAKE_MS 10000u
#define DEFAULT_IDLE_MS 600000u
#define DEFAULT_DRAIN_MS 5000u
#define MAX_ENDPOINTS 16u
/* After the drain, how long stop waits for the receive loops of the closed
 * connections to end. Only a handler still running (one that ignores
 * prpc_call_cancelled) can hold one up: application references and
 * unanswered deferred calls keep just the closed connection object. */
#define RELEASE_GRACE_MS 2000u

typedef struct net_listener {
    struct net_state *ns;
    prpc__tlistener *tl;
    char endpoint[PRPC__PATH_MAX + 32]; /* as given */
    char bound[PRPC__PATH_MAX + 32];    /* as it can be dialled */
    bool stdio;                         /* serves this process's stdin/stdout */
} net_listener;

typedef struct net_state {
    prpc_server *server;
    struct net_state *next;  /* (registry) */
    prpc__mutex mu;
    prpc__cond cv;
    prpc__iopool *pool;
    net_listener listeners[MAX_ENDPOINTS];
    unsigned nlisteners;     /* (mu) */
    bool started;            /* (mu) */
    bool stopping;           /* (mu) stop has begun */
    bool stopped;            /* (mu) stop has finished */
    atomic_bool draining;    /* new requests are refused */
    unsigned live;           /* (mu) receive loops (net_conn) not yet ended */
    unsigned waiters;        /* (mu) threads in run or stop waiting on cv */
    char err[320];           /* (mu) */
} net_state;

/* One accepted connection: the io object the server's connection sends
 * through. Owned by its receive loop, which frees it when it ends, however
 * long the application keeps the prpc_conn (see prpc__conn_detach). */
typedef struct net_conn {
    net_state *ns;
    net_listener *nl;
    prpc__tconn *tc;
    prpc_conn *conn;
} net_conn;

/* ------------------------------------------------------------ registry */

static atomic_flag reg_lock = ATOMIC_FLAG_INIT;
static net_state *reg_head;

static void reg_acquire(void)
{
    while (atomic_flag_test_and_set_explicit(&reg_lock, memory_order_acquire))
        ;
}

static void reg_release(void)
{
    atomic_flag_clear_explicit(&reg_lock, memory_order_release);
}

static net_state *reg_find(prpc_server *server)
{
    reg_acquire();
    net_state *ns = reg_head;
    while (ns != NULL && ns->server != server)
        ns = ns->next;
    reg_release();
    return ns;
}

static void reg_remove(net_state *ns)
{
    reg_acquire();
    for (net_state **pp = &reg_head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == ns) {
            *pp = ns->next;
            break;
        }
    }
    reg_release();
}

/* Stop requests from signal handlers: a fixed set of lock-free slots, so
 * prpc_server_stop_async touches nothing but atomics. */
#define STOP_SLOTS 64
static _Atomic(prpc_server *) stop_slots[STOP_SLOTS];

static bool stop_requested(prpc_server *server, bool clear)
{
    for (int i = 0; i < STOP_SLOTS; i++) {
        if (atomic_load(&stop_slots[i]) == server) {
            if (clear) {
                prpc_server *expect = server;
                atomic_compare_exchange_strong(&stop_slots[i], &expect, NULL);
            }
            return true;
        }
    }
    return false;
}

void prpc_server_stop_async(prpc_server *server)
{
    if (server == NULL || stop_requested(server, false))
        return;
    for (int i = 0; i < STOP_SLOTS; i++) {
        prpc_server *expect = NULL;
        if (atomic_compare_exchange_strong(&stop_slots[i], &expect, server))
            return;
    }
}

/* Finds or makes the network state; the pool is created with it because
 * listeners bind onto a pool. */
static prpc_status get_state(prpc_server *server, net_state **out)
{
    reg_acquire();
    net_state *ns = reg_head;
    while (ns != NULL && ns->server != server)
        ns = ns->next;
    reg_release();
    if (ns != NULL) {
        *out = ns;
        return PRPC_OK;
    }
    ns = prpc_alloc(sizeof *ns);
    if (ns == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(ns, 0, sizeof *ns);
    ns->server = server;
    atomic_init(&ns->draining, false);
    prpc_status st = prpc__iopool_create(server->opts.threads, &ns->pool);
    if (st != PRPC_OK) {
        prpc_free(ns);
        return st;
    }
    prpc__mutex_init(&ns->mu);
    prpc__cond_init(&ns->cv);
    reg_acquire();
    /* Listening on one server from two threads at once is not supported;
     * the registry still stays consistent if it happens. */
    ns->next = reg_head;
    reg_head = ns;
    reg_release();
    *out = ns;
    return PRPC_OK;
}

static void free_state(net_state *ns)
{
    prpc__cond_destroy(&ns->cv);
    prpc__mutex_destroy(&ns->mu);
    prpc_free(ns);
}

/* ------------------------------------------------------------- options */

static uint32_t resolve_timeout(uint32_t v, uint32_t dflt)
{
    if (v == 0)
        return dflt;
    return v == PRPC_TIMEOUT_INFINITE ? 0 : v; /* the transport's 0 is "none" */
}

static void to_peer(const prpc__peer *in, prpc_peer *out)
{
    memset(out, 0, sizeof *out);
    out->has_ids = in->has_cred;
    out->uid = in->uid;
    out->gid = in->gid;
    out->pid = in->pid < 0 ? 0 : (uint32_t)in->pid;
    /* Points into *in: the connection keeps its own copy (prpc__conn_open). */
    out->user_sid = in->user_sid[0] != '\0' ? in->user_sid : NULL;
}

static bool policy_adapter(void *user, const prpc__peer *peer)
{
    net_state *ns = user;
    prpc_peer p;
    to_peer(peer, &p);
    return ns->server->opts.peer_policy(ns->server->opts.peer_policy_user, &p);
}

/* ----------------------------------------------------------- connections */

static prpc_status nc_send(void *io, const uint8_t *data, size_t len)
{
    net_conn *nc = io;
    return prpc__tconn_send(nc->tc, data, len);
}

static void nc_close(void *io)
{
    net_conn *nc = io;
    prpc__tconn_close(nc->tc);
}

static const prpc__conn_ops net_conn_ops = {
    .send = nc_send,
    .close = nc_close,
    .release = NULL, /* the receive loop frees its io (conn_ended) */
};

/* The receive loop of a connection has ended (the peer left, broke the
 * protocol, timed out, or the server closed it), on a pool thread and with
 * no handler of it running: close it, take the channel back from the
 * connection object, tell the application, and free the channel. */
static void conn_ended(net_conn *nc)
{
    net_state *ns = nc->ns;
    prpc_conn *conn = nc->conn;
    prpc_server *server = ns->server;
    /* A stdio: server has served its one peer: prpc_server_run returns
     * (and drains what is still running). */
    if (nc->nl->stdio)
        prpc_server_stop_async(server);
    prpc__conn_close(conn, false);
    prpc__conn_detach(conn);
    if (server->opts.on_disconnect != NULL)
        server->opts.on_disconnect(server->opts.on_disconnect_user, conn);
    prpc_conn_release(conn); /* the loop's reference */
    prpc__tconn_destroy(nc->tc);
    prpc_free(nc);
    prpc__mutex_lock(&ns->mu);
    if (--ns->live == 0)
        prpc__cond_broadcast(&ns->cv);
    prpc__mutex_unlock(&ns->mu);
}

/* While draining, a new request is answered at once instead of started. */
static void refuse_request(net_conn *nc, const uint8_t *msg, size_t len)
{
    prpc_msg m;
    if (prpc_msg_parse(msg, len, &nc->ns->server->opts.limits, &m) != PRPC_OK ||
        m.type != PRPC_MSG_REQUEST)
        return;
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_response_error(&enc, m.msgid, PRPC_ERR_UNAVAILABLE, "the server is stopping");
    if (prpc_enc_status(&enc) == PRPC_OK)
        (void)prpc__tconn_send(nc->tc, enc.data, enc.len);
    prpc_enc_free(&enc);
}

/* The receive loop: one whole message at a time, on a pool thread. */
static void on_msg(void *user, prpc__tconn *tc, prpc_status st, const uint8_t *msg, size_t len)
{
    net_conn *nc = user;
    if (st == PRPC_OK) {
        if (atomic_load_explicit(&nc->ns->draining, memory_order_acquire))
            refuse_request(nc, msg, len);
        else
            st = prpc__conn_receive(nc->conn, msg, len);
        if (st == PRPC_OK)
            st = prpc__tconn_recv(tc, on_msg, nc);
    }
    if (st != PRPC_OK)
        conn_ended(nc);
}

static void on_accept(void *user, prpc__tconn *tc)
{
    net_listener *nl = user;
    net_state *ns = nl->ns;
    net_conn *nc = prpc_alloc(sizeof *nc);
    if (nc == NULL) {
        prpc__tconn_destroy(tc);
        return;
    }
    nc->ns = ns;
    nc->nl = nl;
    nc->tc = tc;
    prpc__peer pp;
    prpc__tconn_peer(tc, &pp);
    prpc_peer peer;
    to_peer(&pp, &peer);

    prpc__mutex_lock(&ns->mu);
    bool stopping = ns->stopping;
    if (!stopping)
        ns->live++;
    prpc__mutex_unlock(&ns->mu);
    prpc_status st = stopping ? PRPC_ERR_CLOSED
                              : prpc__conn_open(ns->server, &net_conn_ops, nc, &peer,
                                                nl->endpoint, &nc->conn);
    if (st != PRPC_OK) {
        /* Past the server-wide connection limit, or stopping: closed at
         * once, before anything is read. */
        if (st == PRPC_ERR_BUSY)
            prpc__log(PRPC_LOG_WARN, "refused a connection on %s: %u connections are open",
                      nl->endpoint, (unsigned)ns->server->opts.max_connections);
        prpc__tconn_destroy(tc);
        prpc_free(nc);
        if (!stopping) {
            prpc__mutex_lock(&ns->mu);
            if (--ns->live == 0)
                prpc__cond_broadcast(&ns->cv);
            prpc__mutex_unlock(&ns->mu);
        }
        return;
    }
    st = prpc__tconn_recv(tc, on_msg, nc);
    if (st != PRPC_OK)
        conn_ended(nc);
}

/* --------------------------------------------------------------- listen */

static void set_err(net_state *ns, const char *fmt, ...) PRPC__PRINTF(2, 3);
static void set_err(net_state *ns, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ns->err, sizeof ns->err, fmt, ap);
    va_end(ap);
    prpc__log(PRPC_LOG_ERROR, "%s", ns->err);
}

/* The endpoint as a client dials it: tcp:HOST:0 gets its real port. */
static void bound_name(const char *endpoint, prpc__tlistener *tl, char *out, size_t size)
{
    prpc__addr addr;
    const prpc__transport *tp;
    uint16_t port = prpc__tlistener_port(tl);
    if (port != 0 && prpc__endpoint_parse(endpoint, &addr, &tp, NULL) == PRPC_OK &&
        addr.kind == PRPC__ADDR_TCP) {
        if (strchr(addr.name, ':') != NULL)
            snprintf(out, size, "tcp:[%s]:%u", addr.name, (unsigned)port);
        else
            snprintf(out, size, "tcp:%s:%u", addr.name, (unsigned)port);
        return;
    }
    snprintf(out, size, "%s", endpoint);
}

prpc_status prpc_server_listen(prpc_server *server, const char *endpoint)
{
    if (server == NULL || endpoint == NULL)
        return PRPC_ERR_INVALID_ARG;
    if (strlen(endpoint) >= sizeof ((net_listener *)0)->endpoint)
        return PRPC_ERR_INVALID_ARG;
    net_state *ns;
    prpc_status st = get_state(server, &ns);
    if (st != PRPC_OK)
        return st;
    prpc__mutex_lock(&ns->mu);
    if (ns->started || ns->stopping) {
        set_err(ns, "cannot listen on %s: the server has already started", endpoint);
        prpc__mutex_unlock(&ns->mu);
        return PRPC_ERR_BUSY;
    }
    if (ns->nlisteners == MAX_ENDPOINTS) {
        set_err(ns, "cannot listen on %s: at most %u endpoints per server", endpoint,
                MAX_ENDPOINTS);
        prpc__mutex_unlock(&ns->mu);
        return PRPC_ERR_BUSY;
    }
    const prpc_server_options *o = &server->opts;
    prpc__listen_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.limits = o->limits;
    lo.max_connections = o->max_connections;
    lo.handshake_timeout_ms = resolve_timeout(o->handshake_timeout_ms, DEFAULT_HANDSHAKE_MS);
    lo.idle_timeout_ms = resolve_timeout(o->idle_timeout_ms, DEFAULT_IDLE_MS);
    lo.remote_clients = o->allow_remote_pipe_clients;
    if (o->peer_policy != NULL) {
        lo.peer_policy = policy_adapter;
        lo.peer_policy_user = ns;
    }
    net_listener *nl = &ns->listeners[ns->nlisteners];
    memset(nl, 0, sizeof *nl);
    prpc__err err;
    err.msg[0] = '\0';
    st = prpc__tlistener_open(ns->pool, endpoint, &lo, &nl->tl, &err);
    if (st != PRPC_OK) {
        set_err(ns, "cannot listen on %s: %s", endpoint,
                err.msg[0] != '\0' ? err.msg : prpc_strerror(st));
        prpc__mutex_unlock(&ns->mu);
        return st;
    }
    nl->ns = ns;
    prpc__addr addr;
    const prpc__transport *tp;
    nl->stdio = prpc__endpoint_parse(endpoint, &addr, &tp, NULL) == PRPC_OK &&
                addr.kind == PRPC__ADDR_STDIO;
    snprintf(nl->endpoint, sizeof nl->endpoint, "%s", endpoint);
    bound_name(endpoint, nl->tl, nl->bound, sizeof nl->bound);
    ns->nlisteners++;
    ns->err[0] = '\0';
    prpc__mutex_unlock(&ns->mu);
    return PRPC_OK;
}

const char *prpc_server_error(prpc_server *server)
{
    net_state *ns = server ? reg_find(server) : NULL;
    return ns != NULL ? ns->err : "";
}

prpc_status prpc_server_endpoint(prpc_server *server, size_t index, char *buf, size_t size)
{
    net_state *ns = server ? reg_find(server) : NULL;
    if (ns == NULL || buf == NULL || size == 0)
        return PRPC_ERR_INVALID_ARG;
    prpc__mutex_lock(&ns->mu);
    prpc_status st = PRPC_OK;
    if (index >= ns->nlisteners) {
        st = PRPC_ERR_INVALID_ARG;
    } else {
        size_t n = strlen(ns->listeners[index].bound);
        if (n >= size)
            st = PRPC_ERR_TOO_LARGE;
        else
            memcpy(buf, ns->listeners[index].bound, n + 1);
    }
    prpc__mutex_unlock(&ns->mu);
    return st;
}

/* ---------------------------------------------------------- start, run */

prpc_status prpc_server_start(prpc_server *server)
{
    net_state *ns = server ? reg_find(server) : NULL;
    if (ns == NULL)
        return PRPC_ERR_INVALID_ARG; /* nothing to serve: listen first */
    prpc__mutex_lock(&ns->mu);
    prpc_status st = PRPC_OK;
    if (ns->started || ns->stopping) {
        st = PRPC_ERR_BUSY;
    } else if (ns->nlisteners == 0) {
        set_err(ns, "cannot start: no endpoint is listening");
        st = PRPC_ERR_INVALID_ARG;
    } else {
        for (unsigned i = 0; i < ns->nlisteners && st == PRPC_OK; i++)
            st = prpc__tlistener_start(ns->listeners[i].tl, on_accept, &ns->listeners[i]);
        /* A listener that could not start stays closed; the others serve
         * until stop, which the caller now owes. */
        ns->started = true;
        if (st != PRPC_OK)
            set_err(ns, "cannot start accepting: %s", prpc_strerror(st));
    }
    prpc__mutex_unlock(&ns->mu);
    return st;
}

prpc_status prpc_server_run(prpc_server *server)
{
    net_state *ns = server ? reg_find(server) : NULL;
    if (ns == NULL)
        return PRPC_ERR_INVALID_ARG;
    prpc__mutex_lock(&ns->mu);
    bool started = ns->started;
    prpc__mutex_unlock(&ns->mu);
    if (!started) {
        prpc_status st = prpc_server_start(server);
        if (st != PRPC_OK)
            return st;
    }
    /* A signal handler can only flip an atomic, so the wait polls it; 50 ms
     * is far below any drain bound and costs nothing measurable. */
    bool stop_here = false;
    prpc__mutex_lock(&ns->mu);
    ns->waiters++;
    while (!ns->stopped) {
        if (!ns->stopping && stop_requested(server, true)) {
            stop_here = true;
            break;
        }
        prpc__cond_wait_until(&ns->cv, &ns->mu, prpc__now_ms() + 50);
    }
    ns->waiters--;
    prpc__cond_broadcast(&ns->cv);
    prpc__mutex_unlock(&ns->mu);
    if (!stop_here)
        return PRPC_OK; /* another thread stopped the server */
    uint32_t drain = server->opts.drain_timeout_ms ? server->opts.drain_timeout_ms
                                                   : DEFAULT_DRAIN_MS;
    return prpc_server_stop(server, drain);
}

/* ----------------------------------------------------------------- stop */

/* Calls running or deferred on every connection. */
static uint32_t inflight_calls(prpc_server *server)
{
    uint32_t n = 0;
    prpc__mutex_lock(&server->mu);
    for (prpc_conn *c = server->conns; c != NULL; c = c->next) {
        prpc__mutex_lock(&c->mu);
        n += c->ninflight;
        prpc__mutex_unlock(&c->mu);
    }
    prpc__mutex_unlock(&server->mu);
    return n;
}

/* Closes every connection this server accepted over a transport. */
static void close_all(prpc_server *server)
{
    for (;;) {
        prpc_conn *victim = NULL;
        prpc__mutex_lock(&server->mu);
        for (prpc_conn *c = server->conns; c != NULL; c = c->next) {
            if (c->ops == &net_conn_ops) {
                victim = c;
                prpc__mutex_lock(&c->mu);
                c->refs++;
                prpc__mutex_unlock(&c->mu);
                break;
            }
        }
        prpc__mutex_unlock(&server->mu);
        if (victim == NULL)
            return;
        prpc__conn_close(victim, false); /* unlinks it */
        prpc_conn_release(victim);
    }
}

static uint32_t active_channels(net_state *ns)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < ns->nlisteners; i++)
        n += prpc__tlistener_active(ns->listeners[i].tl);
    return n;
}

prpc_status prpc_server_stop(prpc_server *server, uint32_t drain_timeout_ms)
{
    net_state *ns = server ? reg_find(server) : NULL;
    if (ns == NULL)
        return server ? PRPC_OK : PRPC_ERR_INVALID_ARG; /* never listened, or stopped */
    if (prpc__iopool_on_thread(ns->pool))
        return PRPC_ERR_INVALID_ARG; /* it would wait for itself */
    prpc__mutex_lock(&ns->mu);
    if (ns->stopping) {
        ns->waiters++;
        while (!ns->stopped)
            prpc__cond_wait(&ns->cv, &ns->mu);
        ns->waiters--;
        prpc__cond_broadcast(&ns->cv);
        prpc__mutex_unlock(&ns->mu);
        return PRPC_OK;
    }
    ns->stopping = true;
    prpc__cond_broadcast(&ns->cv); /* wakes prpc_server_run */
    prpc__mutex_unlock(&ns->mu);

    /* 1. No new connections. */
    for (unsigned i = 0; i < ns->nlisteners; i++)
        prpc__tlistener_close(ns->listeners[i].tl);

    /* 2. Drain: new requests are refused, calls in flight may finish. */
    atomic_store_explicit(&ns->draining, true, memory_order_release);
    uint64_t drain_end = prpc__now_ms() + drain_timeout_ms;
    while (inflight_calls(server) > 0 && prpc__now_ms() < drain_end)
        prpc__sleep_ms(2);

    /* 3. Close: calls still in flight see prpc_call_cancelled; their
     * clients see the connection close. */
    close_all(server);
    prpc_status st = PRPC_OK;
    uint64_t grace_end = prpc__now_ms() + RELEASE_GRACE_MS;
    prpc__mutex_lock(&ns->mu);
    while (ns->live > 0) {
        if (prpc__cond_wait_until(&ns->cv, &ns->mu, grace_end) == PRPC_ERR_TIMEOUT &&
            ns->live > 0) {
            st = PRPC_ERR_TIMEOUT;
            break;
        }
    }
    prpc__mutex_unlock(&ns->mu);
    if (st == PRPC_OK) {
        /* Channels destroyed from their own callbacks finish on the pool. */
        while (active_channels(ns) > 0 && prpc__now_ms() < grace_end)
            prpc__sleep_ms(1);
        if (active_channels(ns) > 0)
            st = PRPC_ERR_TIMEOUT;
    }
    if (st != PRPC_OK) {
        /* A handler still runs on a pool thread after it was cancelled: the
         * pool and the listeners it may touch cannot be freed under it. */
        prpc__log(PRPC_LOG_ERROR,
                  "server stop: %u connections still run a handler %u ms after they were "
                  "closed (the handler ignores prpc_call_cancelled); the pool is not freed",
                  ns->live, RELEASE_GRACE_MS);
        reg_remove(ns);
        prpc__mutex_lock(&ns->mu);
        ns->stopped = true;
        prpc__cond_broadcast(&ns->cv);
        prpc__mutex_unlock(&ns->mu);
        return st;
    }

    /* 4. Free the listeners and the pool. */
    for (unsigned i = 0; i < ns->nlisteners; i++)
        prpc__tlistener_destroy(ns->listeners[i].tl);
    prpc__iopool_close(ns->pool);
    prpc__iopool_stop(ns->pool);
    prpc__iopool_free(ns->pool);
    ns->pool = NULL;

    /* The state goes away with the stop, so a later listen starts afresh;
     * threads waiting in run or stop leave first. */
    reg_remove(ns);
    prpc__mutex_lock(&ns->mu);
    ns->stopped = true;
    prpc__cond_broadcast(&ns->cv);
    while (ns->waiters > 0)
        prpc__cond_wait(&ns->cv, &ns->mu);
    prpc__mutex_unlock(&ns->mu);
    stop_requested(server, true);
    free_state(ns);
    return PRPC_OK;
}

void prpc__server_net_shutdown(prpc_server *server)
{
    if (reg_find(server) == NULL)
        return; /* never listened, or already stopped */
    uint32_t drain = server->opts.drain_timeout_ms ? server->opts.drain_timeout_ms
                                                   : DEFAULT_DRAIN_MS;
    (void)prpc_server_stop(server, drain);
}
