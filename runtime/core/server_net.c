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
 * The state lives in the server (server->net, core/server_impl.h). A stop
 * request from a signal handler (prpc_server_stop_async) is an atomic flag
 * there plus a ring of the bell that prpc_server_run sleeps on. */
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
/* After the drain, how long stop waits for the receive loops of the closed
 * connections to end. Only a handler still running (one that ignores
 * prpc_call_cancelled) can hold one up: application references and
 * unanswered deferred calls keep just the closed connection object. */
#define RELEASE_GRACE_MS 2000u

/* One endpoint of a serving cycle. A stop that times out leaves it
 * allocated, with the pool, for the handler still running on them. */
typedef struct prpc__net_listener {
    prpc_server *server;
    prpc__tlistener *tl;
    unsigned live;                      /* (net.mu) receive loops not yet ended */
    char endpoint[PRPC__PATH_MAX + 32]; /* as given */
    char bound[PRPC__PATH_MAX + 32];    /* as it can be dialled */
    bool stdio;                         /* serves this process's stdin/stdout */
} net_listener;

/* One accepted connection: the io object the server's connection sends
 * through. Owned by its receive loop, which frees it when it ends, however
 * long the application keeps the prpc_conn (see prpc__conn_detach). */
typedef struct net_conn {
    net_listener *nl;
    prpc__tconn *tc;
    prpc_conn *conn;
} net_conn;

/* --------------------------------------------------------------- state */

void prpc__server_net_init(prpc_server *server)
{
    prpc__server_net *net = &server->net;
    prpc__mutex_init(&net->mu);
    prpc__cond_init(&net->cv);
    atomic_init(&net->draining, false);
    atomic_init(&net->stop_asked, false);
    atomic_init(&net->bell_ready, false);
}

/* Ends the serving cycle once stop is done (or has given up on a handler,
 * whose listeners and pool it left allocated): the next listen starts
 * afresh. A stop request made meanwhile has been met by this stop. Under
 * net->mu. */
static void end_cycle_locked(prpc__server_net *net)
{
    net->pool = NULL;
    net->nlisteners = 0;
    net->started = false;
    net->stopping = false;
    net->err[0] = '\0';
    atomic_store(&net->draining, false);
    atomic_store(&net->stop_asked, false);
    net->stops++;
    prpc__cond_broadcast(&net->cv);
}

/* Under net->mu: waits until the stop running now has finished. */
static void wait_stop_locked(prpc__server_net *net)
{
    uint64_t cycle = net->stops;
    net->waiters++;
    while (net->stops == cycle)
        prpc__cond_wait(&net->cv, &net->mu);
    net->waiters--;
    prpc__cond_broadcast(&net->cv);
}

void prpc_server_stop_async(prpc_server *server)
{
    if (server == NULL)
        return;
    /* Two atomics and a write(2) or SetEvent: async-signal-safe. The flag
     * is stored before the bell is looked at, and run makes the bell
     * before it looks at the flag, so one of them sees the other. */
    atomic_store(&server->net.stop_asked, true);
    if (atomic_load(&server->net.bell_ready))
        prpc__bell_ring(&server->net.bell);
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
    prpc_server *server = user;
    prpc_peer p;
    to_peer(peer, &p);
    return server->opts.peer_policy(server->opts.peer_policy_user, &p);
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

/* A receive loop of the listener has ended, or never began. */
static void loop_gone(net_listener *nl)
{
    prpc__server_net *net = &nl->server->net;
    prpc__mutex_lock(&net->mu);
    if (--nl->live == 0)
        prpc__cond_broadcast(&net->cv);
    prpc__mutex_unlock(&net->mu);
}

/* The receive loop of a connection has ended (the peer left, broke the
 * protocol, timed out, or the server closed it), on a pool thread and with
 * no handler of it running: close it, take the channel back from the
 * connection object, tell the application, and free the channel. */
static void conn_ended(net_conn *nc)
{
    net_listener *nl = nc->nl;
    prpc_conn *conn = nc->conn;
    prpc_server *server = nl->server;
    /* A stdio: server has served its one peer: prpc_server_run returns
     * (and drains what is still running). */
    if (nl->stdio)
        prpc_server_stop_async(server);
    prpc__conn_close(conn, false);
    prpc__conn_detach(conn);
    if (server->opts.on_disconnect != NULL)
        server->opts.on_disconnect(server->opts.on_disconnect_user, conn);
    prpc_conn_release(conn); /* the loop's reference */
    prpc__tconn_destroy(nc->tc);
    prpc_free(nc);
    loop_gone(nl);
}

/* While draining, a new request is answered at once instead of started. */
static void refuse_request(net_conn *nc, const uint8_t *msg, size_t len)
{
    prpc_msg m;
    if (prpc_msg_parse(msg, len, &nc->nl->server->opts.limits, &m) != PRPC_OK ||
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
        if (atomic_load_explicit(&nc->nl->server->net.draining, memory_order_acquire))
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
    prpc_server *server = nl->server;
    net_conn *nc = prpc_alloc(sizeof *nc);
    if (nc == NULL) {
        prpc__tconn_destroy(tc);
        return;
    }
    nc->nl = nl;
    nc->tc = tc;
    prpc__peer pp;
    prpc__tconn_peer(tc, &pp);
    prpc_peer peer;
    to_peer(&pp, &peer);

    prpc__mutex_lock(&server->net.mu);
    bool stopping = server->net.stopping;
    if (!stopping)
        nl->live++;
    prpc__mutex_unlock(&server->net.mu);
    prpc_status st = stopping ? PRPC_ERR_CLOSED
                              : prpc__conn_open(server, &net_conn_ops, nc, &peer, nl->endpoint,
                                                &nc->conn);
    if (st != PRPC_OK) {
        /* Past the server-wide connection limit, or stopping: closed at
         * once, before anything is read. */
        if (st == PRPC_ERR_BUSY)
            prpc__log(PRPC_LOG_WARN, "refused a connection on %s: %u connections are open",
                      nl->endpoint, (unsigned)server->opts.max_connections);
        prpc__tconn_destroy(tc);
        prpc_free(nc);
        if (!stopping)
            loop_gone(nl);
        return;
    }
    st = prpc__tconn_recv(tc, on_msg, nc);
    if (st != PRPC_OK)
        conn_ended(nc);
}

/* --------------------------------------------------------------- listen */

static void set_err(prpc__server_net *net, const char *fmt, ...) PRPC__PRINTF(2, 3);
static void set_err(prpc__server_net *net, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(net->err, sizeof net->err, fmt, ap);
    va_end(ap);
    prpc__log(PRPC_LOG_ERROR, "%s", net->err);
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
    prpc__server_net *net = &server->net;
    prpc__mutex_lock(&net->mu);
    prpc_status st = PRPC_OK;
    if (net->pool == NULL) {
        /* The first listen of a cycle makes its pool: listeners bind onto
         * a pool. */
        st = prpc__iopool_create(server->opts.threads, &net->pool);
        if (st != PRPC_OK) {
            prpc__mutex_unlock(&net->mu);
            return st;
        }
    }
    if (net->started || net->stopping) {
        set_err(net, "cannot listen on %s: the server has already started", endpoint);
        prpc__mutex_unlock(&net->mu);
        return PRPC_ERR_BUSY;
    }
    if (net->nlisteners == PRPC__SERVER_MAX_ENDPOINTS) {
        set_err(net, "cannot listen on %s: at most %u endpoints per server", endpoint,
                PRPC__SERVER_MAX_ENDPOINTS);
        prpc__mutex_unlock(&net->mu);
        return PRPC_ERR_BUSY;
    }
    net_listener *nl = prpc_alloc(sizeof *nl);
    if (nl == NULL) {
        prpc__mutex_unlock(&net->mu);
        return PRPC_ERR_NO_MEMORY;
    }
    memset(nl, 0, sizeof *nl);
    nl->server = server;
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
        lo.peer_policy_user = server;
    }
    prpc__err err;
    err.msg[0] = '\0';
    st = prpc__tlistener_open(net->pool, endpoint, &lo, &nl->tl, &err);
    if (st != PRPC_OK) {
        set_err(net, "cannot listen on %s: %s", endpoint,
                err.msg[0] != '\0' ? err.msg : prpc_strerror(st));
        prpc__mutex_unlock(&net->mu);
        prpc_free(nl);
        return st;
    }
    prpc__addr addr;
    const prpc__transport *tp;
    nl->stdio = prpc__endpoint_parse(endpoint, &addr, &tp, NULL) == PRPC_OK &&
                addr.kind == PRPC__ADDR_STDIO;
    snprintf(nl->endpoint, sizeof nl->endpoint, "%s", endpoint);
    bound_name(endpoint, nl->tl, nl->bound, sizeof nl->bound);
    net->listeners[net->nlisteners++] = nl;
    net->err[0] = '\0';
    prpc__mutex_unlock(&net->mu);
    return PRPC_OK;
}

const char *prpc_server_error(prpc_server *server)
{
    return server != NULL ? server->net.err : "";
}

prpc_status prpc_server_endpoint(prpc_server *server, size_t index, char *buf, size_t size)
{
    if (server == NULL || buf == NULL || size == 0)
        return PRPC_ERR_INVALID_ARG;
    prpc__server_net *net = &server->net;
    prpc__mutex_lock(&net->mu);
    prpc_status st = PRPC_OK;
    if (index >= net->nlisteners) {
        st = PRPC_ERR_INVALID_ARG;
    } else {
        size_t n = strlen(net->listeners[index]->bound);
        if (n >= size)
            st = PRPC_ERR_TOO_LARGE;
        else
            memcpy(buf, net->listeners[index]->bound, n + 1);
    }
    prpc__mutex_unlock(&net->mu);
    return st;
}

/* ---------------------------------------------------------- start, run */

prpc_status prpc_server_start(prpc_server *server)
{
    if (server == NULL)
        return PRPC_ERR_INVALID_ARG;
    prpc__server_net *net = &server->net;
    prpc__mutex_lock(&net->mu);
    prpc_status st = PRPC_OK;
    if (net->stopping) {
        st = PRPC_ERR_BUSY;
    } else if (net->pool == NULL) {
        st = PRPC_ERR_INVALID_ARG; /* nothing to serve: listen first */
    } else if (net->started) {
        st = PRPC_ERR_BUSY;
    } else if (net->nlisteners == 0) {
        set_err(net, "cannot start: no endpoint is listening");
        st = PRPC_ERR_INVALID_ARG;
    } else {
        for (unsigned i = 0; i < net->nlisteners && st == PRPC_OK; i++)
            st = prpc__tlistener_start(net->listeners[i]->tl, on_accept, net->listeners[i]);
        /* A listener that could not start stays closed; the others serve
         * until stop, which the caller now owes. */
        net->started = true;
        if (st != PRPC_OK)
            set_err(net, "cannot start accepting: %s", prpc_strerror(st));
    }
    prpc__mutex_unlock(&net->mu);
    return st;
}

prpc_status prpc_server_run(prpc_server *server)
{
    if (server == NULL)
        return PRPC_ERR_INVALID_ARG;
    prpc__server_net *net = &server->net;
    prpc__mutex_lock(&net->mu);
    prpc_status st = net->pool == NULL ? PRPC_ERR_INVALID_ARG : PRPC_OK;
    if (st == PRPC_OK && !atomic_load(&net->bell_ready)) {
        st = prpc__bell_init(&net->bell);
        if (st == PRPC_OK)
            atomic_store(&net->bell_ready, true);
    }
    bool started = net->started;
    uint64_t cycle = net->stops;
    prpc__mutex_unlock(&net->mu);
    if (st != PRPC_OK)
        return st;
    if (!started) {
        st = prpc_server_start(server);
        if (st != PRPC_OK)
            return st;
    }
    /* Sleeps on the bell, which prpc_server_stop_async (from a signal
     * handler) and prpc_server_stop (from another thread) ring. The thread
     * counts as a waiter throughout, so that a stop made elsewhere does not
     * return, and let the server be destroyed, while this thread still
     * looks at it. */
    bool stop_here = false;
    prpc__mutex_lock(&net->mu);
    net->waiters++;
    for (;;) {
        if (net->stopping || net->stops != cycle) {
            /* Stopped by another thread: another thread in run may sleep
             * on the same bell, and one ring wakes one thread. */
            prpc__bell_ring(&net->bell);
            break;
        }
        if (atomic_exchange(&net->stop_asked, false)) {
            stop_here = true;
            break;
        }
        prpc__mutex_unlock(&net->mu);
        prpc__bell_wait(&net->bell, UINT64_MAX);
        prpc__mutex_lock(&net->mu);
    }
    if (!stop_here) {
        while (net->stops == cycle)
            prpc__cond_wait(&net->cv, &net->mu);
    }
    net->waiters--;
    prpc__cond_broadcast(&net->cv);
    prpc__mutex_unlock(&net->mu);
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

/* Under net->mu: receive loops of the cycle's listeners not yet ended. */
static unsigned live_loops_locked(const prpc__server_net *net)
{
    unsigned n = 0;
    for (unsigned i = 0; i < net->nlisteners; i++)
        n += net->listeners[i]->live;
    return n;
}

static uint32_t active_channels(net_listener *const *listeners, unsigned n)
{
    uint32_t active = 0;
    for (unsigned i = 0; i < n; i++)
        active += prpc__tlistener_active(listeners[i]->tl);
    return active;
}

prpc_status prpc_server_stop(prpc_server *server, uint32_t drain_timeout_ms)
{
    if (server == NULL)
        return PRPC_ERR_INVALID_ARG;
    prpc__server_net *net = &server->net;
    prpc__mutex_lock(&net->mu);
    if (net->pool != NULL && prpc__iopool_on_thread(net->pool)) {
        prpc__mutex_unlock(&net->mu);
        return PRPC_ERR_INVALID_ARG; /* it would wait for itself */
    }
    if (net->stopping) {
        wait_stop_locked(net);
        prpc__mutex_unlock(&net->mu);
        return PRPC_OK;
    }
    if (net->pool == NULL) {
        prpc__mutex_unlock(&net->mu);
        return PRPC_OK; /* never listened, or stopped */
    }
    net->stopping = true;
    /* The cycle's listeners and pool are this stop's from here on: listen
     * refuses while stopping, and the next cycle begins only after. */
    prpc__iopool *pool = net->pool;
    net_listener *listeners[PRPC__SERVER_MAX_ENDPOINTS];
    unsigned nlisteners = net->nlisteners;
    memcpy(listeners, net->listeners, nlisteners * sizeof *listeners);
    if (atomic_load(&net->bell_ready))
        prpc__bell_ring(&net->bell); /* wakes prpc_server_run */
    prpc__mutex_unlock(&net->mu);

    /* 1. No new connections. */
    for (unsigned i = 0; i < nlisteners; i++)
        prpc__tlistener_close(listeners[i]->tl);

    /* 2. Drain: new requests are refused, calls in flight may finish. */
    atomic_store_explicit(&net->draining, true, memory_order_release);
    uint64_t drain_end = prpc__now_ms() + drain_timeout_ms;
    while (inflight_calls(server) > 0 && prpc__now_ms() < drain_end)
        prpc__sleep_ms(2);

    /* 3. Close: calls still in flight see prpc_call_cancelled; their
     * clients see the connection close. */
    close_all(server);
    prpc_status st = PRPC_OK;
    uint64_t grace_end = prpc__now_ms() + RELEASE_GRACE_MS;
    prpc__mutex_lock(&net->mu);
    unsigned live;
    while ((live = live_loops_locked(net)) > 0) {
        if (prpc__cond_wait_until(&net->cv, &net->mu, grace_end) == PRPC_ERR_TIMEOUT &&
            live_loops_locked(net) > 0) {
            st = PRPC_ERR_TIMEOUT;
            break;
        }
    }
    prpc__mutex_unlock(&net->mu);
    if (st == PRPC_OK) {
        /* Channels destroyed from their own callbacks finish on the pool. */
        while (active_channels(listeners, nlisteners) > 0 && prpc__now_ms() < grace_end)
            prpc__sleep_ms(1);
        if (active_channels(listeners, nlisteners) > 0)
            st = PRPC_ERR_TIMEOUT;
    }
    if (st != PRPC_OK) {
        /* A handler still runs on a pool thread after it was cancelled: the
         * pool and the listeners it may touch cannot be freed under it. */
        prpc__log(PRPC_LOG_ERROR,
                  "server stop: %u connections still run a handler %u ms after they were "
                  "closed (the handler ignores prpc_call_cancelled); the pool is not freed",
                  live, RELEASE_GRACE_MS);
    } else {
        /* 4. Free the listeners and the pool. */
        for (unsigned i = 0; i < nlisteners; i++) {
            prpc__tlistener_destroy(listeners[i]->tl);
            prpc_free(listeners[i]);
        }
        prpc__iopool_close(pool);
        prpc__iopool_stop(pool);
        prpc__iopool_free(pool);
    }

    /* Threads waiting in run or stop leave before this returns, since the
     * caller may destroy the server next. */
    prpc__mutex_lock(&net->mu);
    end_cycle_locked(net);
    while (net->waiters > 0)
        prpc__cond_wait(&net->cv, &net->mu);
    prpc__mutex_unlock(&net->mu);
    return st;
}

void prpc__server_net_destroy(prpc_server *server)
{
    prpc__server_net *net = &server->net;
    prpc__mutex_lock(&net->mu);
    bool serving = net->pool != NULL;
    prpc__mutex_unlock(&net->mu);
    if (serving) {
        uint32_t drain = server->opts.drain_timeout_ms ? server->opts.drain_timeout_ms
                                                       : DEFAULT_DRAIN_MS;
        (void)prpc_server_stop(server, drain);
    }
    if (atomic_load(&net->bell_ready))
        prpc__bell_destroy(&net->bell);
    prpc__cond_destroy(&net->cv);
    prpc__mutex_destroy(&net->mu);
}
