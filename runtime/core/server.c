/* The server object: registered services and their method table, the list
 * of open connections, event subscriptions and broadcasts.
 *
 * The dispatcher that turns a received message into a handler call lives in
 * dispatch.c; transports reach both through core/server_conn.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/server_impl.h"
#include "piperpc/alloc.h"

/* ------------------------------------------------------------- logging */

void prpc__conn_log(prpc_conn *conn, prpc_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (conn->log != NULL) {
        prpc__logv(conn->log, conn->log_user, conn->log_level, level, fmt, ap);
    } else {
        char buf[512];
        vsnprintf(buf, sizeof buf, fmt, ap);
        prpc__log(level, "%s", buf);
    }
    va_end(ap);
}

/* -------------------------------------------------------------- server */

prpc_status prpc_server_create(const prpc_server_options *opts, prpc_server **out)
{
    if (out == NULL)
        return PRPC_ERR_INVALID_ARG;
    *out = NULL;
    if (opts != NULL && opts->threads > PRPC_SERVER_MAX_THREADS)
        return PRPC_ERR_INVALID_ARG;
    prpc_server *s = prpc_alloc(sizeof *s);
    if (s == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(s, 0, sizeof *s);
    if (opts != NULL)
        s->opts = *opts;
    s->opts.limits = prpc_limits_resolve(&s->opts.limits);
    if (s->opts.max_inflight == 0)
        s->opts.max_inflight = PRPC_DEFAULT_MAX_INFLIGHT;
    if (s->opts.max_connections == 0)
        s->opts.max_connections = PRPC_DEFAULT_MAX_CONNECTIONS;
    if (s->opts.max_subscriptions == 0)
        s->opts.max_subscriptions = PRPC_DEFAULT_MAX_SUBSCRIPTIONS;
    prpc__mutex_init(&s->mu);
    prpc__server_net_init(s);
    *out = s;
    return PRPC_OK;
}

void prpc_server_destroy(prpc_server *server)
{
    if (server == NULL)
        return;
    /* A server still serving over transports stops first (a no-op after
     * prpc_server_stop): its pool must not outlive it. */
    prpc__server_net_destroy(server);
    /* Detach the whole list first so no new connection can join, then close
     * each one and wait for the dispatches running on it: after that nothing
     * reaches the server through a connection any more. */
    prpc__mutex_lock(&server->mu);
    server->closing = true;
    prpc_conn *list = server->conns;
    server->conns = NULL;
    for (prpc_conn *c = list; c != NULL; c = c->next)
        c->in_list = false;
    server->nconns = 0;
    prpc__mutex_unlock(&server->mu);

    while (list != NULL) {
        prpc_conn *next = list->next;
        list->prev = list->next = NULL;
        prpc__conn_close(list, true);
        prpc_conn_release(list); /* the list's reference */
        list = next;
    }
    for (uint32_t i = 0; i < server->nservices; i++)
        prpc_free(server->services[i]);
    prpc_free(server->services);
    prpc_free(server->routes);
    prpc__mutex_destroy(&server->mu);
    prpc_free(server);
}

static int route_cmp(const void *a, const void *b)
{
    const prpc__route *x = a, *y = b;
    size_t n = x->wire_len < y->wire_len ? x->wire_len : y->wire_len;
    int c = memcmp(x->wire_name, y->wire_name, n);
    if (c != 0)
        return c;
    return (x->wire_len > y->wire_len) - (x->wire_len < y->wire_len);
}

static bool is_reserved(const char *name)
{
    return strncmp(name, "rpc.", 4) == 0;
}

prpc_status prpc_server_register(prpc_server *server, const prpc_service_desc *service,
                                 const prpc_invoke_fn *invoke, const void *ops, void *user)
{
    if (server == NULL || service == NULL || ops == NULL)
        return PRPC_ERR_INVALID_ARG;
    if (service->nmethods > 0 && (service->methods == NULL || invoke == NULL))
        return PRPC_ERR_INVALID_ARG;
    if (service->nevents > 0 && service->events == NULL)
        return PRPC_ERR_INVALID_ARG;
    for (uint32_t i = 0; i < service->nmethods; i++) {
        const prpc_method_desc *m = &service->methods[i];
        if (m->wire_name == NULL || m->wire_name[0] == '\0' || is_reserved(m->wire_name))
            return PRPC_ERR_INVALID_ARG;
    }

    prpc__service *svc = prpc_alloc(sizeof *svc);
    if (svc == NULL)
        return PRPC_ERR_NO_MEMORY;
    *svc = (prpc__service){service, ops, user};

    prpc_status st = PRPC_OK;
    const char *dup = NULL;
    prpc__route *routes = NULL;
    prpc__service **services = NULL;
    prpc__mutex_lock(&server->mu);
    uint32_t n = server->nroutes + service->nmethods;
    routes = prpc_alloc(((size_t)n + 1) * sizeof *routes);
    services = prpc_alloc(((size_t)server->nservices + 1) * sizeof *services);
    if (routes == NULL || services == NULL) {
        st = PRPC_ERR_NO_MEMORY;
        goto fail;
    }
    if (server->nroutes > 0)
        memcpy(routes, server->routes, server->nroutes * sizeof *routes);
    for (uint32_t i = 0; i < service->nmethods; i++) {
        const prpc_method_desc *m = &service->methods[i];
        routes[server->nroutes + i] =
            (prpc__route){m->wire_name, strlen(m->wire_name), m, invoke[i], svc};
    }
    qsort(routes, n, sizeof *routes, route_cmp);
    /* Sorted, so a duplicate wire name (within the service or against an
     * earlier one) sits next to its twin. */
    for (uint32_t i = 1; i < n; i++) {
        if (route_cmp(&routes[i - 1], &routes[i]) == 0) {
            dup = routes[i].wire_name;
            st = PRPC_ERR_INVALID_ARG;
            goto fail;
        }
    }
    if (server->nservices > 0)
        memcpy(services, server->services, server->nservices * sizeof *services);
    services[server->nservices] = svc;
    prpc_free(server->routes);
    prpc_free(server->services);
    server->routes = routes;
    server->nroutes = n;
    server->services = services;
    server->nservices++;
    prpc__mutex_unlock(&server->mu);
    return PRPC_OK;

fail:
    prpc__mutex_unlock(&server->mu);
    if (dup != NULL)
        prpc__log(PRPC_LOG_ERROR, "cannot register %s: method %s is already registered",
                  service->full_name ? service->full_name : "(unnamed)", dup);
    prpc_free(routes);
    prpc_free(services);
    prpc_free(svc);
    return st;
}

bool prpc__server_route(prpc_server *server, const char *name, size_t len, prpc__route *out)
{
    prpc__route key = {name, len, NULL, NULL, NULL};
    prpc__mutex_lock(&server->mu);
    const prpc__route *r = NULL;
    if (server->nroutes > 0)
        r = bsearch(&key, server->routes, server->nroutes, sizeof *server->routes, route_cmp);
    if (r != NULL)
        *out = *r;
    prpc__mutex_unlock(&server->mu);
    return r != NULL;
}

void prpc__server_count(prpc_server *server, bool error, bool protocol_error)
{
    prpc__mutex_lock(&server->mu);
    if (protocol_error) {
        server->stats.protocol_errors++;
    } else {
        server->stats.requests++;
        if (error)
            server->stats.errors++;
    }
    prpc__mutex_unlock(&server->mu);
}

void prpc_server_get_stats(prpc_server *server, prpc_server_stats *stats)
{
    if (server == NULL || stats == NULL)
        return;
    prpc__mutex_lock(&server->mu);
    *stats = server->stats;
    stats->connections = server->nconns;
    prpc__mutex_unlock(&server->mu);
}

/* rpc.describe: an array with one map per registered interface. The keys are
 * documented in docs/generated-code.md; tools such as `prpc describe` and
 * foreign peers read them, so they only ever grow. */
void prpc__server_describe(prpc_server *server, prpc_encoder *enc)
{
    prpc__mutex_lock(&server->mu);
    prpc_enc_array(enc, server->nservices);
    for (uint32_t i = 0; i < server->nservices; i++) {
        const prpc_service_desc *d = server->services[i]->desc;
        prpc_enc_map(enc, 5);
        prpc_enc_cstr(enc, "name");
        prpc_enc_cstr(enc, d->full_name ? d->full_name : "");
        prpc_enc_cstr(enc, "version");
        prpc_enc_array(enc, 2);
        prpc_enc_uint(enc, d->version_major);
        prpc_enc_uint(enc, d->version_minor);
        prpc_enc_cstr(enc, "hash");
        prpc_enc_uint(enc, d->signature_hash);
        prpc_enc_cstr(enc, "methods");
        prpc_enc_array(enc, d->nmethods);
        for (uint32_t j = 0; j < d->nmethods; j++) {
            const prpc_method_desc *m = &d->methods[j];
            prpc_enc_map(enc, 4);
            prpc_enc_cstr(enc, "name");
            prpc_enc_cstr(enc, m->wire_name);
            prpc_enc_cstr(enc, "signature");
            prpc_enc_cstr(enc, m->signature ? m->signature : "");
            prpc_enc_cstr(enc, "flags");
            prpc_enc_uint(enc, m->flags);
            prpc_enc_cstr(enc, "timeout_ms");
            prpc_enc_uint(enc, m->timeout_ms);
        }
        prpc_enc_cstr(enc, "events");
        prpc_enc_array(enc, d->nevents);
        for (uint32_t j = 0; j < d->nevents; j++) {
            const prpc_event_desc *e = &d->events[j];
            prpc_enc_map(enc, 2);
            prpc_enc_cstr(enc, "name");
            prpc_enc_cstr(enc, e->wire_name);
            prpc_enc_cstr(enc, "signature");
            prpc_enc_cstr(enc, e->signature ? e->signature : "");
        }
    }
    prpc__mutex_unlock(&server->mu);
}

/* --------------------------------------------------------- connections */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = prpc_alloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

prpc_status prpc__conn_open(prpc_server *server, const prpc__conn_ops *ops, void *io,
                            const prpc_peer *peer, const char *endpoint, prpc_conn **out)
{
    if (server == NULL || ops == NULL || ops->send == NULL || out == NULL)
        return PRPC_ERR_INVALID_ARG;
    *out = NULL;
    prpc_conn *c = prpc_alloc(sizeof *c);
    if (c == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(c, 0, sizeof *c);
    c->endpoint = dup_str(endpoint ? endpoint : "");
    if (peer != NULL)
        c->peer = *peer;
    c->peer.user_sid = NULL;
    if (peer != NULL && peer->user_sid != NULL) {
        c->peer_sid = dup_str(peer->user_sid);
        c->peer.user_sid = c->peer_sid;
    }
    if (c->endpoint == NULL || (peer && peer->user_sid && c->peer_sid == NULL)) {
        prpc_free(c->endpoint);
        prpc_free(c->peer_sid);
        prpc_free(c);
        return PRPC_ERR_NO_MEMORY;
    }
    prpc__mutex_init(&c->mu);
    prpc__cond_init(&c->idle);
    c->refs = 2; /* the caller's and the server list's */
    c->open = true;
    c->server = server;
    c->ops = ops;
    c->io = io;

    prpc__mutex_lock(&server->mu);
    c->limits = server->opts.limits;
    c->max_inflight = server->opts.max_inflight;
    c->max_subscriptions = server->opts.max_subscriptions;
    c->log = server->opts.log;
    c->log_user = server->opts.log_user;
    c->log_level = server->opts.log_level;
    prpc_status st = PRPC_OK;
    if (server->closing)
        st = PRPC_ERR_CLOSED;
    else if (server->nconns >= server->opts.max_connections)
        st = PRPC_ERR_BUSY;
    if (st == PRPC_OK) {
        c->next = server->conns;
        if (server->conns != NULL)
            server->conns->prev = c;
        server->conns = c;
        c->in_list = true;
        server->nconns++;
    }
    prpc__mutex_unlock(&server->mu);
    if (st != PRPC_OK) {
        /* Never handed out: free without calling ops->release, so the
         * transport keeps ownership of io on failure. */
        prpc__cond_destroy(&c->idle);
        prpc__mutex_destroy(&c->mu);
        prpc_free(c->endpoint);
        prpc_free(c->peer_sid);
        prpc_free(c);
        return st;
    }
    *out = c;
    return PRPC_OK;
}

void prpc__conn_close(prpc_conn *conn, bool wait)
{
    prpc__mutex_lock(&conn->mu);
    bool was_open = conn->open;
    if (was_open) {
        conn->open = false;
        for (prpc_call *call = conn->inflight; call != NULL; call = call->next)
            call->cancelled = true;
        /* Counted as a dispatch so prpc_server_destroy, closing the same
         * connection with wait, cannot free the server under us. */
        conn->dispatching++;
    }
    prpc__mutex_unlock(&conn->mu);

    if (was_open) {
        prpc_server *server = conn->server;
        bool drop_list_ref = false;
        prpc__mutex_lock(&server->mu);
        if (conn->in_list) {
            if (conn->prev != NULL)
                conn->prev->next = conn->next;
            else
                server->conns = conn->next;
            if (conn->next != NULL)
                conn->next->prev = conn->prev;
            conn->prev = conn->next = NULL;
            conn->in_list = false;
            server->nconns--;
            drop_list_ref = true;
        }
        prpc__mutex_unlock(&server->mu);
        if (conn->ops->close != NULL)
            conn->ops->close(conn->io);
        prpc__mutex_lock(&conn->mu);
        if (--conn->dispatching == 0)
            prpc__cond_broadcast(&conn->idle);
        prpc__mutex_unlock(&conn->mu);
        if (drop_list_ref)
            prpc_conn_release(conn);
    }

    if (wait) {
        prpc__mutex_lock(&conn->mu);
        while (conn->dispatching > 0)
            prpc__cond_wait(&conn->idle, &conn->mu);
        prpc__mutex_unlock(&conn->mu);
    }
}

void prpc__conn_detach(prpc_conn *conn)
{
    prpc__mutex_lock(&conn->mu);
    /* A closer counts itself as dispatching while it calls ops->close, and
     * a sender as sending while it calls ops->send: both use io. */
    while (conn->dispatching > 0 || conn->sending > 0)
        prpc__cond_wait(&conn->idle, &conn->mu);
    conn->detached = true;
    prpc__mutex_unlock(&conn->mu);
}

void prpc_conn_retain(prpc_conn *conn)
{
    if (conn == NULL)
        return;
    prpc__mutex_lock(&conn->mu);
    conn->refs++;
    prpc__mutex_unlock(&conn->mu);
}

void prpc_conn_release(prpc_conn *conn)
{
    if (conn == NULL)
        return;
    prpc__mutex_lock(&conn->mu);
    unsigned left = --conn->refs;
    prpc__mutex_unlock(&conn->mu);
    if (left > 0)
        return;
    if (!conn->detached && conn->ops->release != NULL)
        conn->ops->release(conn->io);
    prpc_free(conn->subs);
    prpc_free(conn->endpoint);
    prpc_free(conn->peer_sid);
    prpc__cond_destroy(&conn->idle);
    prpc__mutex_destroy(&conn->mu);
    prpc_free(conn);
}

bool prpc_conn_is_open(const prpc_conn *conn)
{
    if (conn == NULL)
        return false;
    prpc_conn *c = (prpc_conn *)conn; /* the lock is not part of the value */
    prpc__mutex_lock(&c->mu);
    bool open = c->open;
    prpc__mutex_unlock(&c->mu);
    return open;
}

const prpc_peer *prpc_conn_peer(const prpc_conn *conn)
{
    return conn ? &conn->peer : NULL;
}

prpc_status prpc__conn_send(prpc_conn *conn, const uint8_t *data, size_t len)
{
    prpc__mutex_lock(&conn->mu);
    bool open = conn->open;
    if (open)
        conn->sending++;
    prpc__mutex_unlock(&conn->mu);
    if (!open)
        return PRPC_ERR_CLOSED;
    /* io stays valid while sending is counted (prpc__conn_detach waits for
     * it), so a close racing with this send only makes the transport answer
     * PRPC_ERR_CLOSED. */
    prpc_status st = conn->ops->send(conn->io, data, len);
    prpc__mutex_lock(&conn->mu);
    if (--conn->sending == 0)
        prpc__cond_broadcast(&conn->idle);
    prpc__mutex_unlock(&conn->mu);
    return st;
}

/* --------------------------------------------------------------- events */

static const prpc_event_desc *find_event(prpc_server *server, const char *name, size_t len)
{
    for (uint32_t i = 0; i < server->nservices; i++) {
        const prpc_service_desc *d = server->services[i]->desc;
        for (uint32_t j = 0; j < d->nevents; j++) {
            const char *w = d->events[j].wire_name;
            if (w != NULL && strlen(w) == len && memcmp(w, name, len) == 0)
                return &d->events[j];
        }
    }
    return NULL;
}

prpc_status prpc__conn_subscribe(prpc_conn *conn, const char *name, size_t len, bool on)
{
    prpc_server *server = conn->server;
    prpc__mutex_lock(&server->mu);
    const prpc_event_desc *ev = find_event(server, name, len);
    prpc__mutex_unlock(&server->mu);
    if (ev == NULL)
        return PRPC_ERR_INVALID_ARG;

    prpc_status st = PRPC_OK;
    prpc__mutex_lock(&conn->mu);
    uint32_t at = conn->nsubs;
    for (uint32_t i = 0; i < conn->nsubs; i++)
        if (conn->subs[i] == ev)
            at = i;
    if (on && at == conn->nsubs) {
        if (conn->nsubs >= conn->max_subscriptions) {
            st = PRPC_ERR_BUSY;
        } else {
            const prpc_event_desc **subs =
                prpc_realloc(conn->subs, ((size_t)conn->nsubs + 1) * sizeof *subs);
            if (subs == NULL) {
                st = PRPC_ERR_NO_MEMORY;
            } else {
                subs[conn->nsubs++] = ev;
                conn->subs = subs;
            }
        }
    } else if (!on && at < conn->nsubs) {
        conn->subs[at] = conn->subs[--conn->nsubs];
    }
    prpc__mutex_unlock(&conn->mu);
    return st;
}

/* [2, wire_name, [params...]] */
static prpc_status encode_event(prpc_encoder *enc, const prpc_event_desc *event,
                                prpc_encode_fn encode, const void *params)
{
    prpc_enc_notify(enc, event->wire_name, strlen(event->wire_name), event->nparams);
    if (encode != NULL)
        encode(enc, params);
    else if (event->nparams != 0)
        prpc_enc_fail(enc, PRPC_ERR_INVALID_ARG);
    return prpc_enc_status(enc);
}

prpc_status prpc_conn_emit(prpc_conn *conn, const prpc_event_desc *event, prpc_encode_fn encode,
                           const void *params)
{
    if (conn == NULL || event == NULL || event->wire_name == NULL)
        return PRPC_ERR_INVALID_ARG;
    if (!prpc_conn_is_open(conn))
        return PRPC_ERR_CLOSED;
    prpc_encoder enc;
    prpc_enc_init(&enc, conn->limits.max_message_size);
    prpc_status st = encode_event(&enc, event, encode, params);
    if (st == PRPC_OK)
        st = prpc__conn_send(conn, enc.data, enc.len);
    prpc_enc_free(&enc);
    return st;
}

static bool conn_subscribed(prpc_conn *conn, const prpc_event_desc *event)
{
    bool yes = false;
    prpc__mutex_lock(&conn->mu);
    if (conn->open) {
        for (uint32_t i = 0; i < conn->nsubs && !yes; i++)
            yes = conn->subs[i] == event ||
                  strcmp(conn->subs[i]->wire_name, event->wire_name) == 0;
        if (yes)
            conn->refs++;
    }
    prpc__mutex_unlock(&conn->mu);
    return yes;
}

prpc_status prpc_server_broadcast(prpc_server *server, const prpc_event_desc *event,
                                  prpc_encode_fn encode, const void *params, size_t *sent)
{
    if (sent != NULL)
        *sent = 0;
    if (server == NULL || event == NULL || event->wire_name == NULL)
        return PRPC_ERR_INVALID_ARG;

    /* Encode once, then send outside the server lock: a send may block on a
     * slow peer and must not hold up dispatching or other broadcasts. */
    prpc_encoder enc;
    prpc_enc_init(&enc, server->opts.limits.max_message_size);
    prpc_status st = encode_event(&enc, event, encode, params);
    if (st != PRPC_OK) {
        prpc_enc_free(&enc);
        return st;
    }

    prpc__mutex_lock(&server->mu);
    prpc_conn **targets = NULL;
    size_t ntargets = 0;
    if (server->nconns > 0) {
        targets = prpc_alloc(server->nconns * sizeof *targets);
        if (targets == NULL)
            st = PRPC_ERR_NO_MEMORY;
    }
    for (prpc_conn *c = server->conns; c != NULL && targets != NULL; c = c->next)
        if (conn_subscribed(c, event))
            targets[ntargets++] = c;
    prpc__mutex_unlock(&server->mu);

    size_t ok = 0;
    for (size_t i = 0; i < ntargets; i++) {
        if (prpc__conn_send(targets[i], enc.data, enc.len) == PRPC_OK)
            ok++;
        prpc_conn_release(targets[i]);
    }
    prpc_free(targets);
    prpc_enc_free(&enc);
    if (sent != NULL)
        *sent = ok;
    return st;
}
