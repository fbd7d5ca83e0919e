/* The server: registered services, the dispatcher and the connections.
 *
 * A server holds the generated services registered on it and dispatches each
 * received message of a connection to the matching handler. Transports feed
 * it messages and carry its replies; the in-process client
 * (prpc_client_create_inproc) is one such connection. Handlers, the call
 * context and deferred replies are described in call.h.
 *
 * Built-in methods (names starting with "rpc." are reserved):
 *   rpc.ping []                      -> nil
 *   rpc.describe []                  -> the registered interfaces (see
 *                                       docs/generated-code.md)
 *   rpc.cancel [msgid]               (notification) sets the call's cancelled flag
 *   rpc.subscribe [name...]          (notification) subscribes to events
 *   rpc.unsubscribe [name...]        (notification) */
#ifndef PIPERPC_SERVER_H
#define PIPERPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "codec.h"
#include "export.h"
#include "call.h"
#include "status.h"
#include "timeout.h"

PRPC_BEGIN_DECLS

/* Decides whether the peer of `call` may run its method. Called for every
 * request and notification (built-ins included, rpc.cancel excepted) before
 * the parameters are decoded; prpc_call_method, prpc_call_peer and
 * prpc_call_endpoint tell who asks for what. Returning false answers
 * PRPC_ERR_DENIED. Called from any thread. */
typedef bool (*prpc_authorize_fn)(void *user, const prpc_call *call);

/* Decides, from the operating system's credentials of a connecting peer
 * alone, whether the connection may stay. Runs on a pool thread before any
 * byte from the peer is read. peer->has_ids is false where the OS cannot
 * tell (tcp:). */
typedef bool (*prpc_peer_policy_fn)(void *user, const prpc_peer *peer);

/* Tells the application that a connection accepted over a transport has
 * closed, for whatever reason: the peer left, it broke the protocol or timed
 * out, or the server stopped. Called exactly once per such connection, from
 * a pool thread, after the connection is closed (prpc_conn_is_open is false,
 * prpc_conn_emit answers PRPC_ERR_CLOSED) and after every handler call it
 * started has returned (deferred calls may still be unanswered; their
 * replies are dropped). The usual use is to drop the references taken with
 * prpc_conn_retain. Inside it the application may call prpc_conn_release,
 * prpc_conn_is_open, prpc_conn_peer, prpc_conn_emit, prpc_server_broadcast,
 * prpc_server_get_stats and answer deferred calls; it must not call
 * prpc_server_stop, prpc_server_run or prpc_server_destroy, and should
 * return promptly (prpc_server_stop waits for it). Connections of
 * prpc_client_create_inproc are not reported. */
typedef void (*prpc_disconnect_fn)(void *user, prpc_conn *conn);

/* The most I/O pool threads a server takes (prpc_server_options.threads;
 * more is an invalid argument at prpc_server_create). */
#define PRPC_SERVER_MAX_THREADS 256u

#define PRPC_DEFAULT_MAX_INFLIGHT 64u
#define PRPC_DEFAULT_MAX_CONNECTIONS 1024u
#define PRPC_DEFAULT_MAX_SUBSCRIPTIONS 256u

/* All-zero means the defaults. */
typedef struct prpc_server_options {
    prpc_limits limits;               /* applied to every received message */
    uint32_t max_inflight;            /* calls running or deferred per connection;
                                         past it: PRPC_ERR_BUSY. 0 = 64 */
    uint32_t max_connections;         /* open connections; 0 = 1024 */
    uint32_t max_subscriptions;       /* event subscriptions per connection; 0 = 256 */
    uint32_t call_timeout_ms;         /* the server-side deadline of a call whose
                                         method has no [timeout], counted from
                                         its arrival (prpc_call_deadline);
                                         0 or PRPC_TIMEOUT_INFINITE = none */
    prpc_authorize_fn authorize;      /* NULL admits every call */
    void *authorize_user;
    prpc_log_fn log;                  /* NULL uses the process-wide callback */
    void *log_user;
    prpc_log_level log_level;
    /* Serving over transports (prpc_server_listen, start, run, stop). */
    uint32_t threads;                 /* I/O pool threads, at most
                                         PRPC_SERVER_MAX_THREADS; 0 = two per
                                         processor on Linux (a thread may wait
                                         on one busy connection), one per
                                         processor on Windows */
    uint32_t handshake_timeout_ms;    /* a connection's first whole message is due
                                         within this; 0 = 10000;
                                         PRPC_TIMEOUT_INFINITE = none */
    uint32_t idle_timeout_ms;         /* no whole message either way for this long
                                         closes the connection; 0 = 600000;
                                         PRPC_TIMEOUT_INFINITE = none */
    uint32_t drain_timeout_ms;        /* the drain bound prpc_server_run uses after
                                         prpc_server_stop_async; 0 = 5000 */
    prpc_peer_policy_fn peer_policy;  /* decides at accept, before any byte is
                                         read; NULL = only this process's uid
                                         (tcp: peers carry no credentials and
                                         are admitted) */
    void *peer_policy_user;
    prpc_disconnect_fn on_disconnect; /* NULL = not told */
    void *on_disconnect_user;
    bool allow_remote_pipe_clients;   /* Windows: pipe: endpoints admit clients on
                                         other machines (\\HOST\pipe\NAME);
                                         false = this machine only
                                         (PIPE_REJECT_REMOTE_CLIENTS). The pipe's
                                         DACL and peer_policy still apply. No
                                         effect elsewhere: AF_UNIX sockets cannot
                                         be reached from another machine. */
} prpc_server_options;

typedef struct prpc_server_stats {
    uint64_t requests;        /* requests and notifications received (not protocol errors) */
    uint64_t errors;          /* of those, the ones that ended in an error */
    uint64_t protocol_errors; /* messages that closed their connection */
    uint32_t connections;     /* open now */
} prpc_server_stats;

/* opts may be NULL. */
PRPC_API prpc_status prpc_server_create(const prpc_server_options *opts, prpc_server **out);

/* Closes every connection (their in-flight calls see prpc_call_cancelled and
 * their late replies are dropped), waits for dispatches already running to
 * return, and frees the server. A server that was started and not stopped
 * is first stopped as by prpc_server_stop with opts.drain_timeout_ms (0 =
 * 5000). Deferred calls still unanswered and prpc_conn_retain references
 * keep only their (closed) connection object alive until released. Must not
 * be called from a handler or a pool thread. Accepts NULL. */
PRPC_API void prpc_server_destroy(prpc_server *server);

/* Registers a generated service: invoke holds the glue of each of
 * service->methods, in the same order (it is copied; a NULL entry is a
 * method this server does not implement, answered with
 * PRPC_ERR_UNKNOWN_METHOD); ops is what the glue receives, the generated ops
 * table (for example a kv_Store_ops *), and must outlive the server; user is
 * returned by prpc_call_user. A wire name that is already registered (or
 * reserved: "rpc.*") gives PRPC_ERR_INVALID_ARG and registers nothing.
 * Generated code wraps this as <module>_<Iface>_register. */
PRPC_API prpc_status prpc_server_register(prpc_server *server, const prpc_service_desc *service,
                                          const prpc_invoke_fn *invoke, const void *ops,
                                          void *user);

/* Sends the event to every open connection that subscribed to it. *sent
 * (may be NULL) receives how many connections it was handed to. */
PRPC_API prpc_status prpc_server_broadcast(prpc_server *server, const prpc_event_desc *event,
                                           prpc_encode_fn encode, const void *params,
                                           size_t *sent);

PRPC_API void prpc_server_get_stats(prpc_server *server, prpc_server_stats *stats);

/* ----------------------------------------------------- serving over transports
 *
 * Lifecycle: create, register, listen (one or more endpoints), start or run,
 * stop, destroy (which stops a server still serving). */

/* Binds an endpoint ("pipe:NAME[?mode=byte]", "unix:/path[?mode=byte]",
 * "tcp:HOST:PORT", "stdio:"); nothing is accepted before start. On failure
 * the reason is logged and kept for prpc_server_error: PRPC_ERR_INVALID_ARG /
 * PRPC_ERR_NOT_SUPPORTED for an endpoint that cannot be honoured,
 * PRPC_ERR_ADDR_IN_USE when a live server owns the name, PRPC_ERR_BUSY after
 * start. "stdio:" needs a pipe or a socket on both stdin and stdout: a
 * regular file, a terminal or another device there gives
 * PRPC_ERR_NOT_SUPPORTED with a message naming the descriptor, and the
 * process's stdin/stdout are left as they were. */
PRPC_API prpc_status prpc_server_listen(prpc_server *server, const char *endpoint);

/* The text of the last failed prpc_server_listen/start ("" if none); valid
 * until the next call on the server. */
PRPC_API const char *prpc_server_error(prpc_server *server);

/* Writes the index-th bound endpoint as it can be dialled (with the port a
 * "tcp:HOST:0" got). PRPC_ERR_INVALID_ARG past the last one,
 * PRPC_ERR_TOO_LARGE if buf is too small. */
PRPC_API prpc_status prpc_server_endpoint(prpc_server *server, size_t index, char *buf,
                                          size_t size);

/* Starts serving on the server's own pool of threads and returns. */
PRPC_API prpc_status prpc_server_start(prpc_server *server);

/* Starts serving (unless prpc_server_start already did, so a program can
 * announce readiness in between) and blocks the calling thread until
 * prpc_server_stop or prpc_server_stop_async; after stop_async it performs
 * the graceful stop (with opts.drain_timeout_ms) itself before returning.
 * A server on "stdio:" also stops this way when its one peer has gone. */
PRPC_API prpc_status prpc_server_run(prpc_server *server);

/* Graceful stop: stops accepting, answers new requests with
 * PRPC_ERR_UNAVAILABLE, lets calls in flight finish for up to
 * drain_timeout_ms, then closes every connection (calls still running see
 * prpc_call_cancelled; their clients see the connection close; on_disconnect
 * runs for each) and frees the pool, the listeners and every socket. Blocks
 * until done. Connection objects the application retained, and deferred
 * calls nobody answered, do not hold it up: they stay valid but closed
 * (prpc_conn_is_open false, prpc_conn_emit PRPC_ERR_CLOSED, replies dropped)
 * until released. Only a handler that keeps running after it was cancelled
 * can hold it up: after a further 2000 ms stop returns PRPC_ERR_TIMEOUT and
 * leaves the pool and listeners allocated, because that handler's thread
 * still runs on them. Call it from a normal thread, never from a handler or
 * a pool thread (PRPC_ERR_INVALID_ARG). Idempotent. */
PRPC_API prpc_status prpc_server_stop(prpc_server *server, uint32_t drain_timeout_ms);

/* Asks prpc_server_run to stop. Async-signal-safe: an atomic store on the
 * server and a wake-up of run (an eventfd write on Linux, SetEvent on
 * Windows), with no lock and no allocation, and errno is left as it was;
 * call it from a signal handler, for any number of servers at once. A
 * request is never lost: made before run waits (even before listen), run
 * returns as soon as it starts; made while a stop is already under way, it
 * is met by that stop. With prpc_server_start instead of run, a normal
 * thread must call prpc_server_stop (for example after sigwait).
 * Accepts NULL. */
PRPC_API void prpc_server_stop_async(prpc_server *server);

/* ------------------------------------------------------ waiting for a stop
 *
 * A program that serves until it is told to stop can wait with these
 * instead of sigwait (POSIX) or a console control handler (Windows), with
 * the same code on both: watch before announcing readiness, start the
 * server, wait, then prpc_server_stop. The state is process-wide and a
 * latch: once an event has happened, every wait returns at once. */

/* Shutdown events (bit flags). */
#define PRPC_SHUTDOWN_SIGNAL 1u  /* POSIX: SIGINT or SIGTERM. Windows: Ctrl-C,
                                    Ctrl-Break, the console closing, logoff,
                                    system shutdown */
#define PRPC_SHUTDOWN_STDIN 2u   /* standard input reached its end (the parent
                                    closed the pipe; Ctrl-D or Ctrl-Z on a
                                    terminal); what is read before is discarded */
#define PRPC_SHUTDOWN_REQUEST 4u /* prpc_shutdown_request was called; always
                                    watched */

/* Starts catching the given events; cumulative and idempotent, never
 * undone. PRPC_SHUTDOWN_SIGNAL installs handlers: the first SIGINT/SIGTERM
 * (Ctrl-C...) no longer ends the process but is kept for
 * prpc_shutdown_wait, and a second one ends the process as if nothing were
 * watched, so a stop that hangs can still be interrupted. On POSIX the
 * signals must not be blocked in every thread. Watch before the program
 * says it is ready, so that a signal sent right after is caught.
 * PRPC_SHUTDOWN_STDIN reads standard input (on POSIX while a thread waits,
 * on Windows on a thread of its own); not for a program serving "stdio:",
 * whose stdin belongs to the transport. PRPC_ERR_INVALID_ARG for unknown
 * bits; on failure nothing new is caught. */
PRPC_API prpc_status prpc_shutdown_watch(unsigned events);

/* Blocks the calling thread until a watched event or a request has
 * happened (PRPC_OK; *events, which may be NULL, receives every event so
 * far) or timeout_ms passed (PRPC_ERR_TIMEOUT, *events = 0).
 * PRPC_TIMEOUT_INFINITE waits without bound; 0 only looks. Any number of
 * threads may wait at once. */
PRPC_API prpc_status prpc_shutdown_wait(uint32_t timeout_ms, unsigned *events);

/* Records PRPC_SHUTDOWN_REQUEST and wakes every waiter: a programmatic stop
 * (from a handler, an on_disconnect callback, another thread).
 * Async-signal-safe. */
PRPC_API void prpc_shutdown_request(void);

PRPC_END_DECLS

#endif /* PIPERPC_SERVER_H */
