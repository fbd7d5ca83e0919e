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
     * deliver replies (prpc__client_deliver) before returning. Returns
     * PRPC_ERR_CLOSED once the peer is gone. */
    prpc_status (*send)(void *link, const uint8_t *data, size_t len);
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
} prpc__link_ops;

/* Creates a client over a link. opts may be NULL. */
prpc_status prpc__client_create(const prpc_client_options *opts, const prpc__link_ops *ops,
                                void *link, prpc_client **out);

/* One whole message received from the server: a response is matched to its
 * pending call by msgid, a notification goes to its event handler. Malformed
 * messages and replies matching nothing are dropped and counted. Callbacks
 * run in the calling thread. */
void prpc__client_deliver(prpc_client *client, const uint8_t *msg, size_t len);

/* The link is gone for good: every pending call fails with `why` and later
 * calls fail with PRPC_ERR_CLOSED. */
void prpc__client_link_lost(prpc_client *client, prpc_status why);

/* For a link with recv_one: its background receiver takes the receiver
 * role with rx_begin before each receive and gives it back with rx_end
 * after delivering. rx_begin waits while a synchronous caller reads or
 * wants to, and while nothing but synchronous calls is expected (no
 * asynchronous call in flight, no event handler): synchronous callers
 * receive their replies themselves then. Returns false once the client is
 * closed: the receiver stops. */
bool prpc__client_rx_begin(prpc_client *client);
void prpc__client_rx_end(prpc_client *client);

/* Pings the server and returns PRPC_OK when any response comes back, an
 * error reply included: a plain msgpack-rpc peer that knows no rpc.ping
 * answers with an error, and that answer still proves a live peer. Only a
 * local failure (closed, timed out, out of memory) is returned. */
prpc_status prpc__client_ping_any(prpc_client *client, uint32_t timeout_ms);

#endif /* PRPC_CORE_CLIENT_LINK_H */
