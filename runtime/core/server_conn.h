/* The server side of one connection, as transports see it.
 *
 * A transport that accepts a peer opens a connection on the server with an
 * ops table that sends whole messages back to the peer, then hands every
 * message it receives to prpc__conn_receive (from any thread; the dispatcher
 * is thread-safe). Replies, deferred replies and events leave through
 * ops->send, possibly from other threads and concurrently.
 *
 * Teardown: prpc__conn_close (never waits unless asked) stops all sending and
 * marks the calls in flight cancelled. Then either the last
 * prpc_conn_release calls ops->release, after which the transport may free
 * its io object, or the transport takes io back at once with
 * prpc__conn_detach, so that references the application still holds (or
 * deferred calls nobody answers) keep only the small connection object. */
#ifndef PRPC_CORE_SERVER_CONN_H
#define PRPC_CORE_SERVER_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "piperpc/server.h"

typedef struct prpc__conn_ops {
    /* Sends one whole message. Called from any thread, possibly several at
     * once: the transport serializes. data is valid only during the call.
     * Returns PRPC_ERR_CLOSED once the peer is gone. */
    prpc_status (*send)(void *io, const uint8_t *data, size_t len);
    /* The core closed the connection (protocol error, server shutdown). The
     * transport shuts the peer down. Called at most once; must not block and
     * must not call back into this connection. May be NULL. */
    void (*close)(void *io);
    /* The last reference is gone; io is no longer used by the core. May be NULL. */
    void (*release)(void *io);
} prpc__conn_ops;

/* Opens a connection on server with one reference owned by the caller.
 * endpoint is copied. Returns PRPC_ERR_BUSY past max_connections,
 * PRPC_ERR_CLOSED while the server is being destroyed. */
prpc_status prpc__conn_open(prpc_server *server, const prpc__conn_ops *ops, void *io,
                            const prpc_peer *peer, const char *endpoint, prpc_conn **out);

/* Dispatches one whole received message. Returns PRPC_OK when the message
 * was handled (error replies included). Any other status means the message
 * broke the protocol (malformed, a response sent to a server, a duplicate
 * msgid in flight): the connection has been closed and the transport should
 * drop the peer. Handlers run in the calling thread. */
prpc_status prpc__conn_receive(prpc_conn *conn, const uint8_t *data, size_t len);

/* Closes the connection: no more sends, in-flight calls see
 * prpc_call_cancelled. With wait, also waits until no prpc__conn_receive is
 * running on it (never pass wait from inside a handler). Idempotent. Calls
 * ops->close the first time, whoever closes. */
void prpc__conn_close(prpc_conn *conn, bool wait);

/* The transport is done with io: waits until no send or close is running on
 * it, then the core never calls ops (release included) for this connection
 * again; sends answer PRPC_ERR_CLOSED. The connection must be closed, and
 * the caller must not be inside prpc__conn_receive for it. */
void prpc__conn_detach(prpc_conn *conn);

#endif /* PRPC_CORE_SERVER_CONN_H */
