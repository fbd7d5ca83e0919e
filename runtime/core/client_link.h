/* The client side of one connection, as transports see it.
 *
 * A client is transport-agnostic: it sends whole messages through a link
 * ops table and the transport hands every message it receives to
 * prpc__client_deliver. The in-process link (client.c) is one such
 * transport; the socket, pipe and stdio transports are others. */
#ifndef PRPC_CORE_CLIENT_LINK_H
#define PRPC_CORE_CLIENT_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "piperpc/client.h"

typedef struct prpc__link_ops {
    /* Sends one whole message. Called from any thread, possibly several at
     * once: the link serializes. data is valid only during the call. It may
     * deliver replies (prpc__client_deliver) before returning, except on a
     * link that reconnects (the client may send under its lock then).
     * Returns PRPC_ERR_CLOSED once the peer is gone. gen is the connection
     * the client means (see prpc__client_link_up): a link that reconnects
     * sends nothing and returns PRPC_ERR_UNAVAILABLE when its connection is
     * down or is another one, so a request is never sent twice on one
     * connection. Other links ignore gen. */
    prpc_status (*send)(void *link, uint64_t gen, const uint8_t *data, size_t len);
    /* Called once by prpc_client_destroy. When it returns, no
     * prpc__client_deliver or prpc__client_link_lost for this client is
     * running or will start, and the link may be freed. */
    void (*close)(void *link);
    /* Optional (NULL: replies arrive only from the link's own receiver).
     * Receives at most one message in the calling thread, waiting until
     * deadline_ms, and hands it to prpc__client_deliver before returning.
     * The client calls it only while it holds the receiver role (see
     * prpc__client_rx_begin), so never from two threads at once. Returns
     * PRPC_OK (one message delivered), PRPC_ERR_TIMEOUT (none came), or
     * PRPC_ERR_CLOSED (the link is gone; it has called
     * prpc__client_link_lost). */
    prpc_status (*recv_one)(void *link, uint64_t deadline_ms);
    /* True when the thread that delivers a message (or reports a lost
     * connection) is the only one that would receive the reply of a call
     * made meanwhile: the socket receiver holding the role, a pool thread,
     * the application's loop in embed mode. A synchronous call from a
     * callback running there fails at once with PRPC_ERR_WOULD_BLOCK
     * instead of waiting for a reply nobody reads. */
    bool callbacks_block_receive;
} prpc__link_ops;

/* Creates a client over a link. opts may be NULL. */
prpc_status prpc__client_create(const prpc_client_options *opts, const prpc__link_ops *ops,
                                void *link, prpc_client **out);

/* Frees a client made by prpc__client_create that has carried no call,
 * without closing its link: for a transport that could not finish setting
 * up the link after making the client. */
void prpc__client_discard(prpc_client *client);

/* The link of a client created over ops, or NULL for a client over
 * another link: how a transport gets from the public client object to its
 * own state. */
void *prpc__client_link(const prpc_client *client, const prpc__link_ops *ops);

/* One whole message received from the server: a response is matched to its
 * pending call by msgid, a notification goes to its event handler. Malformed
 * messages and replies matching nothing are dropped and counted. Callbacks
 * run in the calling thread. */
void prpc__client_deliver(prpc_client *client, const uint8_t *msg, size_t len);

/* The link is gone for good: every pending call fails with `why` and later
 * calls fail with PRPC_ERR_CLOSED. */
void prpc__client_link_lost(prpc_client *client, prpc_status why);

/* Reconnecting links (opts->reconnect). The connection is lost and the
 * link will try to make a new one: calls of idempotent methods stay
 * pending, to be sent again by prpc__client_link_up; every other call that
 * was sent fails with PRPC_ERR_DISCONNECTED. Until link_up, new calls of
 * idempotent methods wait (within their deadlines) and the others fail
 * with PRPC_ERR_UNAVAILABLE. Ignored once the client is closed or already
 * down. Callbacks run in the calling thread. */
void prpc__client_link_down(prpc_client *client, prpc_status why);
/* The link has a new connection, numbered gen (greater than any before):
 * subscribes again to every event that has a handler, then sends every
 * waiting call on it, in the calling thread and under the client's lock. */
void prpc__client_link_up(prpc_client *client, uint64_t gen);
/* Tells the application (opts->on_state) about a change of state, in the
 * calling thread; a synchronous call from the callback fails with
 * PRPC_ERR_WOULD_BLOCK. Counts reconnections in the statistics. */
void prpc__client_report_state(prpc_client *client, prpc_client_state state, prpc_status why);
/* Counts one attempt to reconnect in the statistics. */
void prpc__client_count_attempt(prpc_client *client);

/* What prpc__client_rx_begin found. */
typedef enum prpc__rx_turn {
    PRPC__RX_READ,   /* the caller holds the receiver role: read one message */
    PRPC__RX_DOWN,   /* the connection is lost (prpc__client_link_down): reconnect */
    PRPC__RX_CLOSED  /* the client is closed: the receiver stops */
} prpc__rx_turn;

/* For a link with recv_one: its background receiver takes the receiver
 * role with rx_begin before each receive and gives it back with rx_end
 * after delivering. rx_begin waits while a synchronous caller reads or
 * wants to, and while nothing but synchronous calls is expected (no
 * asynchronous call in flight, no event handler): synchronous callers
 * receive their replies themselves then. It returns without the role when
 * the connection is down or the client closed. */
prpc__rx_turn prpc__client_rx_begin(prpc_client *client);
void prpc__client_rx_end(prpc_client *client);

#endif /* PRPC_CORE_CLIENT_LINK_H */
