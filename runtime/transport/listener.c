/* The transport listener: accepts channels from the platform, applies the
 * access policy and the connection limit before anything is read, and hands
 * admitted connections to the core as framed connections. */
#include <stdatomic.h>
#include <string.h>

#include "base/log.h"
#include "piperpc/alloc.h"
#include "piperpc/server.h" /* PRPC_DEFAULT_MAX_CONNECTIONS */
#include "transport/transport_impl.h"

struct prpc__tlistener {
    prpc__iopool *pool;
    const prpc__transport *tp;
    prpc__addr addr;
    prpc__listen_opts opts;
    prpc__plistener *pl; /* listening transports */
    prpc__pconn *one;    /* serve_one transports (stdio), until handed out */
    struct prpc__conn_counter *counter;
    prpc__tlistener_accept_fn fn;
    void *user;
    prpc__task task;
    prpc__mutex lock;
    prpc__cond idle;
    int busy; /* the one-shot task */
    bool started;
};

bool prpc__peer_policy_same_user(void *user, const prpc__peer *peer)
{
    (void)user;
    if (!peer->has_cred)
        return true;
    prpc__peer self;
    prpc__self_peer(&self);
    return peer->uid == self.uid;
}

void prpc__conn_counter_unref(struct prpc__conn_counter *k)
{
    if (atomic_fetch_sub(&k->refs, 1) == 1)
        prpc_free(k);
}

prpc_status prpc__tlistener_open(prpc__iopool *pool, const char *endpoint,
                                 const prpc__listen_opts *opts, prpc__tlistener **out,
                                 prpc__err *err)
{
    if (out == NULL || pool == NULL)
        return PRPC_ERR_INVALID_ARG;
    *out = NULL;
    prpc__tlistener *l = prpc_alloc(sizeof *l);
    if (l == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(l, 0, sizeof *l);
    if (opts != NULL)
        l->opts = *opts;
    if (l->opts.max_connections == 0)
        l->opts.max_connections = PRPC_DEFAULT_MAX_CONNECTIONS;
    if (l->opts.peer_policy == NULL)
        l->opts.peer_policy = prpc__peer_policy_same_user;
    l->pool = pool;
    prpc_status st = prpc__endpoint_parse(endpoint, &l->addr, &l->tp, err);
    if (st != PRPC_OK)
        goto fail;
    l->addr.remote_clients = l->opts.remote_clients;
    l->counter = prpc_alloc(sizeof *l->counter);
    if (l->counter == NULL) {
        st = PRPC_ERR_NO_MEMORY;
        goto fail;
    }
    atomic_init(&l->counter->active, 0);
    atomic_init(&l->counter->refs, 1);
    atomic_init(&l->counter->refused, 0);
    if (l->tp->listen != NULL)
        st = l->tp->listen(pool, &l->addr, &l->pl, err);
    else
        st = l->tp->serve_one(pool, &l->addr, &l->one, err);
    if (st != PRPC_OK)
        goto fail;
    prpc__mutex_init(&l->lock);
    prpc__cond_init(&l->idle);
    *out = l;
    return PRPC_OK;
fail:
    prpc_free(l->counter);
    prpc_free(l);
    return st;
}

uint16_t prpc__tlistener_port(const prpc__tlistener *l)
{
    return l->pl ? prpc__plistener_port(l->pl) : 0;
}

uint32_t prpc__tlistener_active(const prpc__tlistener *l)
{
    return atomic_load(&l->counter->active);
}

uint64_t prpc__tlistener_refused(const prpc__tlistener *l)
{
    return atomic_load(&l->counter->refused);
}

/* Wraps an admitted channel and hands it to the core. */
static void admit(prpc__tlistener *l, prpc__pconn *pc)
{
    atomic_fetch_add(&l->counter->active, 1);
    prpc__tconn *c = NULL;
    prpc_status st = prpc__tconn_new(pc, &l->opts.limits, l->opts.handshake_timeout_ms,
                                     l->opts.idle_timeout_ms, l->counter, l->pool, &c);
    if (st != PRPC_OK) {
        atomic_fetch_sub(&l->counter->active, 1);
        prpc__pconn_destroy(pc);
        return;
    }
    l->fn(l->user, c);
}

static void on_accept(void *arg, prpc_status st, prpc__pconn *pc)
{
    prpc__tlistener *l = arg;
    if (st != PRPC_OK)
        return; /* closed */
    prpc__peer peer;
    prpc__pconn_peer(pc, &peer);
    bool ok = l->opts.peer_policy(l->opts.peer_policy_user, &peer);
    if (!ok) {
        atomic_fetch_add(&l->counter->refused, 1);
        prpc__log(PRPC_LOG_WARN, "refused a connection from pid %lld uid %u: denied by policy",
                  (long long)peer.pid, (unsigned)peer.uid);
        prpc__pconn_destroy(pc);
    } else if (atomic_load(&l->counter->active) >= l->opts.max_connections) {
        atomic_fetch_add(&l->counter->refused, 1);
        prpc__log(PRPC_LOG_WARN, "refused a connection: %u connections are open (the limit)",
                  (unsigned)l->opts.max_connections);
        prpc__pconn_destroy(pc);
    } else {
        admit(l, pc);
    }
    /* The next accept; the platform arms it after this callback returns. */
    (void)prpc__plistener_accept(l->pl, on_accept, l);
}

static void serve_one_task(void *arg)
{
    prpc__tlistener *l = arg;
    prpc__mutex_lock(&l->lock);
    prpc__pconn *pc = l->one;
    l->one = NULL;
    prpc__mutex_unlock(&l->lock);
    if (pc != NULL)
        admit(l, pc);
    prpc__mutex_lock(&l->lock);
    if (--l->busy == 0)
        prpc__cond_broadcast(&l->idle);
    prpc__mutex_unlock(&l->lock);
}

prpc_status prpc__tlistener_start(prpc__tlistener *l, prpc__tlistener_accept_fn fn, void *user)
{
    if (l == NULL || fn == NULL)
        return PRPC_ERR_INVALID_ARG;
    prpc__mutex_lock(&l->lock);
    if (l->started) {
        prpc__mutex_unlock(&l->lock);
        return PRPC_ERR_BUSY;
    }
    l->started = true;
    l->fn = fn;
    l->user = user;
    prpc_status st = PRPC_OK;
    if (l->pl != NULL) {
        st = prpc__plistener_accept(l->pl, on_accept, l);
    } else {
        l->busy++;
        prpc__task_post(l->pool, &l->task, serve_one_task, l);
    }
    prpc__mutex_unlock(&l->lock);
    return st;
}

void prpc__tlistener_close(prpc__tlistener *l)
{
    if (l == NULL)
        return;
    if (l->pl != NULL)
        prpc__plistener_close(l->pl);
}

void prpc__tlistener_destroy(prpc__tlistener *l)
{
    if (l == NULL)
        return;
    prpc__tlistener_close(l);
    if (l->pl != NULL) {
        prpc__plistener_stop(l->pl);
        prpc__plistener_free(l->pl);
    }
    prpc__mutex_lock(&l->lock);
    while (l->busy > 0)
        prpc__cond_wait(&l->idle, &l->lock);
    prpc__pconn *one = l->one;
    l->one = NULL;
    prpc__mutex_unlock(&l->lock);
    prpc__pconn_destroy(one);
    prpc__conn_counter_unref(l->counter);
    prpc__cond_destroy(&l->idle);
    prpc__mutex_destroy(&l->lock);
    prpc_free(l);
}
