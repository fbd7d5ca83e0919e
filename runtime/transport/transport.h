/* Transports: one ops table per endpoint scheme, and the framed connection
 * and listener that every transport's channels share.
 *
 * Layering: the platform (platform.h) moves bytes and datagrams with
 * completions; this layer turns them into whole msgpack-rpc messages
 * (message mode: one message per datagram run; byte mode: the streaming
 * reader), enforces the message size limit, the connection limit, the
 * access policy and the handshake/idle timeouts. The core sees only whole
 * messages.
 *
 * Joining the core (runtime/core):
 *  - server: prpc__tlistener_open(endpoint) for each endpoint, then
 *    prpc__tlistener_start(accept_fn). In accept_fn call prpc__conn_open with
 *    ops {send = prpc__tconn_send, close = prpc__tconn_close,
 *    release = prpc__tconn_destroy}, then prpc__tconn_recv(msg_fn); msg_fn
 *    passes each message to prpc__conn_receive and asks for the next one
 *    with prpc__tconn_recv (from inside msg_fn, so that the connection's
 *    messages start in order); on an error status it calls
 *    prpc__conn_close and drops its reference.
 *  - client: prpc__tdial(endpoint) and a link {send = prpc__tconn_send,
 *    close = prpc__tconn_destroy}. Either drive receiving from a pool
 *    (prpc__tconn_recv + prpc__client_deliver), or let a waiting caller
 *    read in its own thread with prpc__tconn_recv_sync (fewest system calls
 *    for synchronous calls; one reader at a time).
 */
#ifndef PRPC_TRANSPORT_TRANSPORT_H
#define PRPC_TRANSPORT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "piperpc/codec.h"
#include "platform/platform.h"

/* ------------------------------------------------------------- options */

/* The peer policy: decides, from the peer's identity alone, whether a
 * connection may stay. Runs on a pool thread before any byte from the peer
 * is read. The server's prpc_peer_policy_fn is adapted to it. */
typedef bool (*prpc__peer_policy_fn)(void *user, const prpc__peer *peer);

/* The default policy: local peers must run as our own user; peers without
 * credentials (TCP) are admitted, since choosing tcp: is choosing the
 * network. */
bool prpc__peer_policy_same_user(void *user, const prpc__peer *peer);

/* Listener options; all-zero means the defaults. */
typedef struct prpc__listen_opts {
    prpc_limits limits;             /* size and depth of every message received */
    uint32_t max_connections;       /* open at once; one past is closed at once;
                                       0 = PRPC_DEFAULT_MAX_CONNECTIONS */
    uint32_t handshake_timeout_ms;  /* first whole message due within; 0 = none */
    uint32_t idle_timeout_ms;       /* no whole message either way for this long closes; 0 = none */
    prpc__peer_policy_fn peer_policy; /* NULL = prpc__peer_policy_same_user */
    void *peer_policy_user;
    bool remote_clients;            /* pipe: admit clients from other machines (Windows) */
} prpc__listen_opts;

/* Dial options; all-zero means the defaults. */
typedef struct prpc__dial_opts {
    prpc_limits limits;
    uint32_t connect_timeout_ms;   /* wait this long for the server to appear; 0 = one attempt */
    uint32_t idle_timeout_ms;      /* as for listeners; 0 = none */
    const char *const *argv;       /* stdio: the program to spawn and its arguments */
} prpc__dial_opts;


/* -------------------------------------------------------- the ops table */

/* One transport, registered under its endpoint scheme. */
typedef struct prpc__transport {
    const char *scheme; /* the text before the first ':' */
    /* Parses what follows "scheme:" into *addr. Fills err and returns
     * PRPC_ERR_INVALID_ARG (malformed) or PRPC_ERR_NOT_SUPPORTED; addr is
     * then unspecified. Owns nothing. */
    prpc_status (*parse)(const char *rest, prpc__addr *addr, prpc__err *err);
    /* Opens a platform listener for addr; on success *out belongs to the
     * caller, on failure nothing is left behind (no socket file). NULL for
     * transports that serve a single inherited channel (stdio). */
    prpc_status (*listen)(prpc__iopool *pool, const prpc__addr *addr, prpc__plistener **out,
                          prpc__err *err);
    /* For transports without listen: the one channel to serve; on success
     * *out belongs to the caller. NULL otherwise. */
    prpc_status (*serve_one)(prpc__iopool *pool, const prpc__addr *addr, prpc__pconn **out,
                             prpc__err *err);
    /* Connects (or spawns) until deadline_ms; on success *out belongs to the
     * caller; on failure nothing is left behind (no child process). */
    prpc_status (*dial)(prpc__iopool *pool, const prpc__addr *addr, const prpc__dial_opts *opts,
                        uint64_t deadline_ms, prpc__pconn **out, prpc__err *err);
} prpc__transport;

extern const prpc__transport prpc__transport_pipe;
extern const prpc__transport prpc__transport_unix;
extern const prpc__transport prpc__transport_tcp;
extern const prpc__transport prpc__transport_stdio;

/* Parses an endpoint string and finds its transport. Every malformed or
 * unsupported endpoint gets PRPC_ERR_INVALID_ARG / PRPC_ERR_NOT_SUPPORTED and
 * a message in err. */
prpc_status prpc__endpoint_parse(const char *endpoint, prpc__addr *addr,
                                 const prpc__transport **tp, prpc__err *err);

/* Parses an optional "?mode=byte|message" suffix starting at q (q may point
 * at the terminating NUL). Shared by pipe: and unix:. */
prpc_status prpc__endpoint_mode(const char *q, prpc__chan_mode *mode, prpc__err *err);

/* ---------------------------------------------------- framed connection */

typedef struct prpc__tconn prpc__tconn;

/* One whole message (st == PRPC_OK; msg valid until the callback returns)
 * or the end of the connection: PRPC_ERR_CLOSED (closed between messages,
 * locally or by the peer), PRPC_ERR_PROTOCOL (malformed, or the peer closed
 * in the middle of a message), PRPC_ERR_TOO_LARGE, PRPC_ERR_TOO_DEEP,
 * PRPC_ERR_TIMEOUT (handshake or idle timeout), PRPC_ERR_IO. After an error
 * no more messages come. */
typedef void (*prpc__tconn_msg_fn)(void *user, prpc__tconn *c, prpc_status st,
                                   const uint8_t *msg, size_t len);

/* Connects to endpoint. pool may be NULL for a connection used only through
 * recv_sync (an application's own loop can poll prpc__tconn_pollable). */
prpc_status prpc__tdial(prpc__iopool *pool, const char *endpoint, const prpc__dial_opts *opts,
                        prpc__tconn **out, prpc__err *err);

/* Asks for the next whole message; fn runs later on a pool thread, never
 * inside this call and never concurrently with another fn of this
 * connection. One request at a time (PRPC_ERR_BUSY). After the connection
 * has ended, returns how it ended and fn is not called. */
prpc_status prpc__tconn_recv(prpc__tconn *c, prpc__tconn_msg_fn fn, void *user);
/* Receives the next whole message in the caller's thread, waiting until
 * deadline_ms (UINT64_MAX = forever; 0 = do not wait: for an application's
 * own loop, after prpc__tconn_pollable polled readable, call it until it
 * returns PRPC_ERR_TIMEOUT). *msg stays valid until the next call on c. One
 * caller at a time and not while an asynchronous request is outstanding
 * (PRPC_ERR_BUSY). Errors as for prpc__tconn_msg_fn, plus PRPC_ERR_TIMEOUT when
 * the deadline passes (the connection stays usable then). */
prpc_status prpc__tconn_recv_sync(prpc__tconn *c, uint64_t deadline_ms, const uint8_t **msg,
                                  size_t *len);
/* Sends one whole message; thread-safe, never blocks on a pooled
 * connection. PRPC_ERR_TOO_LARGE (over the peer's limit as configured here;
 * nothing sent), PRPC_ERR_CLOSED, PRPC_ERR_BUSY (send queue full). The
 * signature matches the core's link and connection send ops. */
prpc_status prpc__tconn_send(void *c, const uint8_t *msg, size_t len);
void prpc__tconn_peer(const prpc__tconn *c, prpc__peer *out);
intptr_t prpc__tconn_pollable(const prpc__tconn *c);
/* Ends the connection; never blocks. An outstanding request completes with
 * PRPC_ERR_CLOSED. Matches the core's close ops. */
void prpc__tconn_close(void *c);
/* Ends the connection for its owner: close, then fn is never called again;
 * waits for a call of fn running on another thread. Callable from c's own
 * fn (the pool frees c afterwards). Matches the core's release and link
 * close ops: when it returns, nothing of c calls back into the owner. */
void prpc__tconn_destroy(void *c);

/* ----------------------------------------------------------- listener */

typedef struct prpc__tlistener prpc__tlistener;

/* A connection that passed the policy and the connection limit. It belongs
 * to the callee; no receive has been started. Runs on a pool thread. */
typedef void (*prpc__tlistener_accept_fn)(void *user, prpc__tconn *c);

/* Binds endpoint (nothing is accepted before start). Errors come with a
 * message: PRPC_ERR_ADDR_IN_USE when a live server owns the name. */
prpc_status prpc__tlistener_open(prpc__iopool *pool, const char *endpoint,
                                 const prpc__listen_opts *opts, prpc__tlistener **out,
                                 prpc__err *err);
prpc_status prpc__tlistener_start(prpc__tlistener *l, prpc__tlistener_accept_fn fn, void *user);
/* The bound TCP port (after tcp:HOST:0), else 0. */
uint16_t prpc__tlistener_port(const prpc__tlistener *l);
/* Connections accepted and not yet destroyed. */
uint32_t prpc__tlistener_active(const prpc__tlistener *l);
/* Connections refused by the policy or the limit so far. */
uint64_t prpc__tlistener_refused(const prpc__tlistener *l);
/* Stops accepting and removes the socket path; never blocks. Accepted
 * connections are not affected. */
void prpc__tlistener_close(prpc__tlistener *l);
/* close + wait for accept callbacks + free. Not from an accept callback. */
void prpc__tlistener_destroy(prpc__tlistener *l);

#endif /* PRPC_TRANSPORT_TRANSPORT_H */
