/* The in-process link: a client (prpc_client_create_inproc) whose
 * requests are dispatched by a server in the same process, in the
 * caller's thread, and whose replies and events the server hands
 * straight to the client. */
#include <string.h>

#include "core/client_link.h"
#include "core/server_conn.h"
#include "piperpc/alloc.h"
#include "platform/platform.h"

/* Shared by the client (through the link ops) and the server connection
 * (through the conn ops); freed when both sides let go. */
typedef struct inproc_link {
    prpc__mutex mu;
    prpc__cond idle;         /* delivering dropped to 0 */
    unsigned refs;           /* (mu) */
    bool client_gone;        /* (mu) the client closed its side */
    unsigned delivering;     /* (mu) server threads inside the client */
    prpc_client *client;
    prpc_conn *conn;
} inproc_link;

static void inproc_unref(inproc_link *l)
{
    prpc__mutex_lock(&l->mu);
    unsigned left = --l->refs;
    prpc__mutex_unlock(&l->mu);
    if (left > 0)
        return;
    prpc__cond_destroy(&l->idle);
    prpc__mutex_destroy(&l->mu);
    prpc_free(l);
}

static bool inproc_enter(inproc_link *l)
{
    prpc__mutex_lock(&l->mu);
    bool ok = !l->client_gone;
    if (ok)
        l->delivering++;
    prpc__mutex_unlock(&l->mu);
    return ok;
}

static void inproc_leave(inproc_link *l)
{
    prpc__mutex_lock(&l->mu);
    if (--l->delivering == 0)
        prpc__cond_broadcast(&l->idle);
    prpc__mutex_unlock(&l->mu);
}

/* Server to client: a reply or an event, from whatever thread sends it. */
static prpc_status inproc_conn_send(void *io, const uint8_t *data, size_t len)
{
    inproc_link *l = io;
    if (!inproc_enter(l))
        return PRPC_ERR_CLOSED;
    prpc__client_deliver(l->client, data, len);
    inproc_leave(l);
    return PRPC_OK;
}

/* The server closed the connection (protocol error or destruction). */
static void inproc_conn_close(void *io)
{
    inproc_link *l = io;
    if (!inproc_enter(l))
        return;
    prpc__client_link_lost(l->client, PRPC_ERR_CLOSED);
    inproc_leave(l);
}

static void inproc_conn_release(void *io)
{
    inproc_unref(io);
}

static const prpc__conn_ops inproc_conn_ops = {
    .send = inproc_conn_send,
    .close = inproc_conn_close,
    .release = inproc_conn_release,
};

/* Client to server: dispatched in the caller's thread. */
static prpc_status inproc_link_send(void *link, uint64_t gen, const uint8_t *data, size_t len)
{
    (void)gen; /* one connection for the client's life */
    inproc_link *l = link;
    prpc_status st = prpc__conn_receive(l->conn, data, len);
    /* A message the server rejected closed the connection; the client has
     * been told through inproc_conn_close. */
    return st;
}

static void inproc_link_close(void *link)
{
    inproc_link *l = link;
    prpc__mutex_lock(&l->mu);
    l->client_gone = true;
    while (l->delivering > 0)
        prpc__cond_wait(&l->idle, &l->mu);
    prpc__mutex_unlock(&l->mu);
    prpc__conn_close(l->conn, true);
    prpc_conn_release(l->conn);
    inproc_unref(l);
}

static const prpc__link_ops inproc_link_ops = {
    .send = inproc_link_send,
    .close = inproc_link_close,
};

prpc_status prpc_client_create_inproc(prpc_server *server, const prpc_client_options *opts,
                                      prpc_client **out)
{
    if (server == NULL || out == NULL)
        return PRPC_ERR_INVALID_ARG;
    *out = NULL;
    if (opts != NULL && opts->reconnect)
        return PRPC_ERR_INVALID_ARG; /* nothing to reconnect to in process */
    inproc_link *l = prpc_alloc(sizeof *l);
    if (l == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(l, 0, sizeof *l);
    prpc__mutex_init(&l->mu);
    prpc__cond_init(&l->idle);
    l->refs = 2;

    prpc_client *c = NULL;
    prpc_status st = prpc__client_create(opts, &inproc_link_ops, l, &c);
    if (st != PRPC_OK)
        goto fail;
    l->client = c;
    prpc_peer peer = {0};
    if (opts != NULL && opts->inproc_peer != NULL)
        peer = *opts->inproc_peer;
    peer.in_process = true;
    st = prpc__conn_open(server, &inproc_conn_ops, l, &peer, "inproc:", &l->conn);
    if (st != PRPC_OK)
        goto fail;
    *out = c;
    return PRPC_OK;

fail:
    /* The link has no connection yet: its close must not run. */
    if (c != NULL)
        prpc__client_discard(c);
    prpc__cond_destroy(&l->idle);
    prpc__mutex_destroy(&l->mu);
    prpc_free(l);
    return st;
}
