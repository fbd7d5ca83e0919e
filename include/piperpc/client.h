/* The client: a thread-safe, transport-agnostic caller of remote methods.
 *
 * Any number of threads may call through one client at once; each call gets
 * a msgid that is never reused while the call is in flight, and replies are
 * matched by msgid. Calls are synchronous (the caller waits until the reply
 * or the deadline), asynchronous (a callback runs when the reply arrives) or
 * one-way (a notification). Events from the server reach handlers registered
 * per event. Generated stubs are one-line wrappers over these functions.
 *
 * Deadlines: a call's deadline comes from its options, else the method's
 * [timeout], else the client's default; a reply that arrives after its call
 * timed out or was cancelled is dropped and counted. */
#ifndef PIPERPC_CLIENT_H
#define PIPERPC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "arena.h"
#include "codec.h"
#include "export.h"
#include "call.h"
#include "status.h"
#include "timeout.h"

PRPC_BEGIN_DECLS

/* The state of a connected client's connection, as on_state reports it. */
typedef enum prpc_client_state {
    PRPC_CLIENT_CONNECTED = 0,    /* a new connection is up (after a reconnect) */
    PRPC_CLIENT_RECONNECTING = 1, /* the connection is lost; the client tries again */
    PRPC_CLIENT_CLOSED = 2        /* the connection is lost for good (not on destroy) */
} prpc_client_state;

/* Observes state changes; why is the reason (PRPC_OK when connected).
 * Runs in the client's receiving thread: it must not make synchronous calls
 * on this client (they fail with PRPC_ERR_WOULD_BLOCK) nor destroy it. */
typedef void (*prpc_client_state_fn)(void *user, prpc_client *client, prpc_client_state state,
                                     prpc_status why);

typedef struct prpc_client_options {
    /* Limits applied to every message received; zero = defaults. */
    prpc_limits limits;
    /* Deadline for calls whose method has no [timeout] and whose options
     * give none; 0 = 30000 ms; PRPC_TIMEOUT_INFINITE = wait forever. */
    uint32_t default_timeout_ms;
    /* Most calls in flight at once (sync and async together); a call beyond
     * it fails with PRPC_ERR_BUSY. 0 = 65536. */
    uint32_t max_pending;
    /* In-process clients only: the credentials the server sees. NULL means
     * "in process, identity unknown" (prpc_peer.in_process set). */
    const prpc_peer *inproc_peer;
    /* Log callback for this client; NULL uses the process-wide one. */
    prpc_log_fn log;
    void *log_user;
    prpc_log_level log_level;
    /* Connected clients (prpc_client_connect, prpc_client_spawn). */
    /* How long connect waits for the server to appear (retrying, as
     * WaitNamedPipe does); 0 = one attempt; PRPC_TIMEOUT_INFINITE = forever. */
    uint32_t connect_timeout_ms;
    /* After this long without a message from the server a ping is sent;
     * 0 = 30000; PRPC_TIMEOUT_INFINITE = no keepalive. */
    uint32_t keepalive_ms;
    /* A ping unanswered for this long means the peer is dead or stopped:
     * pending calls fail with PRPC_ERR_UNAVAILABLE (with reconnect: as for
     * any lost connection). 0 = 10000. In embed mode both are kept by
     * prpc_client_process. */
    uint32_t keepalive_timeout_ms;
    /* Interface check at connect: a NULL-terminated list of services the
     * server must serve with the same signature hash, else connect fails
     * with PRPC_ERR_INCOMPATIBLE (the log says which). NULL = no check. */
    const prpc_service_desc *const *expect;
    /* Embed mode: no thread is started; the application polls
     * prpc_client_fd and calls prpc_client_process. */
    bool embed;
    /* Reconnect when the connection is lost (the server restarted, the
     * keepalive failed), with exponential backoff and jitter: the first
     * attempt at once (unless the lost connection lasted less than
     * reconnect_max_ms: then the backoff goes on), then after about
     * reconnect_min_ms, doubling up to reconnect_max_ms. Pending calls of [idempotent] methods are sent again
     * on the new connection within their own deadlines; every other pending
     * call fails with PRPC_ERR_DISCONNECTED (at most once). While the client
     * reconnects, new calls of [idempotent] methods wait for the connection
     * within their deadlines, other calls and notifications fail at once
     * with PRPC_ERR_UNAVAILABLE. Event subscriptions and the expect check are
     * made again on each new connection; a server that fails the check
     * closes the client (PRPC_CLIENT_CLOSED, PRPC_ERR_INCOMPATIBLE).
     * prpc_client_connect only: with embed or prpc_client_spawn (and for an
     * in-process client) it is PRPC_ERR_INVALID_ARG. false = a lost
     * connection fails every pending call and closes the client. */
    bool reconnect;
    uint32_t reconnect_min_ms; /* 0 = 100 */
    uint32_t reconnect_max_ms; /* 0 = 5000; raised to reconnect_min_ms if lower */
    /* Optional: told when the connection is lost, back, or gone for good. */
    prpc_client_state_fn on_state;
    void *on_state_user;
} prpc_client_options;

/* Identifies one call for cancellation; never reused by a client. 0 is none. */
typedef uint64_t prpc_call_id;

typedef struct prpc_call_options {
    /* 0 = the method's [timeout], else the client's default;
     * PRPC_TIMEOUT_INFINITE = no deadline. */
    uint32_t timeout_ms;
    /* If not NULL, receives the call's id before the request is sent, so
     * another thread can cancel a synchronous call. */
    prpc_call_id *id_out;
} prpc_call_options;

/* Counters for diagnostics. */
typedef struct prpc_client_stats {
    uint64_t calls;          /* requests and notifications sent */
    uint64_t timeouts;       /* calls that failed with PRPC_ERR_TIMEOUT */
    uint64_t late_replies;   /* replies that matched no pending call (late or unknown) */
    uint64_t events;         /* events delivered to a handler */
    uint64_t dropped_events; /* events nobody handles, or that failed to decode */
    uint32_t pending;        /* calls in flight now */
    uint64_t reconnects;     /* connections made again after a loss */
    uint64_t reconnect_attempts; /* attempts to make one (each dial counts) */
} prpc_client_stats;

/* Creates a client connected in process to `server`: requests go straight to
 * the server's dispatcher and replies (deferred ones too, from whatever thread
 * answers them) straight back. If the server is destroyed first, pending and
 * later calls fail with PRPC_ERR_CLOSED (the client must still be destroyed).
 * Fails with PRPC_ERR_BUSY past the server's max_connections. opts may be
 * NULL. */
PRPC_API prpc_status prpc_client_create_inproc(prpc_server *server, const prpc_client_options *opts,
                                               prpc_client **out);

/* Closes the connection and fails every pending call with PRPC_ERR_CLOSED
 * (synchronous callers wake up, asynchronous callbacks run in this thread),
 * then frees the client. Must not be called from one of this client's own
 * callbacks, nor while another thread still starts calls on it. Accepts NULL. */
PRPC_API void prpc_client_destroy(prpc_client *client);

/* Calls `method` and waits for the reply. Made from a callback that runs
 * in the thread that receives for this client (an event handler, an
 * asynchronous completion delivered with a reply, on_state, anything run
 * from prpc_client_process), it fails at once with PRPC_ERR_WOULD_BLOCK:
 * that thread would have to receive the reply itself. Use
 * prpc_client_call_async there. encode writes the method's
 * nparams wire parameters from args (NULL when there are none). On PRPC_OK,
 * decode (NULL to ignore the result) has filled *result with values
 * allocated in arena. On PRPC_ERR_REMOTE, or on a framework error sent by the
 * server, prpc_client_last_error() holds the code and message. arena may be
 * NULL only when the result needs no memory. opts may be NULL. */
PRPC_API prpc_status prpc_client_call(prpc_client *client, const prpc_method_desc *method,
                                      prpc_encode_fn encode, const void *args,
                                      prpc_decode_fn decode, void *result, prpc_arena *arena,
                                      const prpc_call_options *opts);

/* What an asynchronous call's completion receives (the typedef is in
 * generated.h). Everything it points to lives until the completion function
 * returns; prpc_async_result_decode decodes its result. */
struct prpc_async_result {
    prpc_status status;              /* PRPC_OK, PRPC_ERR_REMOTE, a framework error */
    const prpc_remote_error *error;  /* the error the server sent, or NULL */
    prpc_decoder *result;            /* on PRPC_OK: positioned at the result value */
    prpc_arena *arena;               /* freed after the completion returns */
    prpc_fn user_fn;                 /* the typed callback given to the call */
    void *user;
    prpc_call_id id;
};

/* Runs once per asynchronous call: in the thread that delivers the reply, in
 * the thread that detects the timeout or cancellation, in the caller's thread
 * if sending fails, or in prpc_client_destroy. It may start new calls. */
typedef void (*prpc_async_fn)(const prpc_async_result *r);

/* Starts a call and returns at once. On PRPC_OK, `done` runs exactly once
 * later (possibly before this function returns); on an error it never runs.
 * id_out (may be NULL) receives the call's id. */
PRPC_API prpc_status prpc_client_call_async(prpc_client *client, const prpc_method_desc *method,
                                            prpc_encode_fn encode, const void *args,
                                            prpc_async_fn done, prpc_fn user_fn, void *user,
                                            const prpc_call_options *opts, prpc_call_id *id_out);

/* Sends a one-way call (a notification): nothing is replied and nothing can
 * fail remotely. Returns once the message is handed to the link. */
PRPC_API prpc_status prpc_client_notify(prpc_client *client, const prpc_method_desc *method,
                                        prpc_encode_fn encode, const void *args);

/* Cancels a call in flight: it completes at once with PRPC_ERR_CANCELLED and
 * the server is told with the notification rpc.cancel [msgid] so its handler
 * can see prpc_call_cancelled. Returns PRPC_ERR_INVALID_ARG if the call is no
 * longer pending (it already completed). */
PRPC_API prpc_status prpc_client_cancel(prpc_client *client, prpc_call_id id);

/* The error reply of the calling thread's last failed prpc_client_call (also
 * filled for local failures, with message prpc_strerror(status)). The message
 * is a thread-local copy (truncated past 1023 bytes), valid until the same
 * thread's next call. Never NULL. */
PRPC_API const prpc_remote_error *prpc_client_last_error(void);

/* Event handling. When an event arrives, `fn` runs with the decoder standing
 * on the event's first parameter (after its array header has been checked
 * against the descriptor's nparams), an arena that lives until fn returns,
 * and the user_fn/user given at registration. fn returns PRPC_OK when it
 * delivered the event, else why not (the generated trampolines return the
 * decoder's error when the parameters are not the event's types): the event
 * then counts as dropped, not delivered, in prpc_client_stats. */
typedef struct prpc_event_delivery {
    const prpc_event_desc *event;
    prpc_decoder *params;
    prpc_arena *arena;
    prpc_fn user_fn;
    void *user;
} prpc_event_delivery;
typedef prpc_status (*prpc_event_fn)(const prpc_event_delivery *d);

/* Registers (or, with fn NULL, removes) the handler of one event and
 * subscribes to it at the server with rpc.subscribe [wire_name] (or
 * rpc.unsubscribe). One handler per event; a new one replaces the old.
 * Handlers run in the thread that delivers the message. */
PRPC_API prpc_status prpc_client_on_event(prpc_client *client, const prpc_event_desc *event,
                                          prpc_event_fn fn, prpc_fn user_fn, void *user);

PRPC_API void prpc_client_get_stats(prpc_client *client, prpc_client_stats *stats);

/* Convenience calls to the built-in methods. rpc.ping round-trips an empty
 * request; rpc.describe returns the server's interfaces as a msgpack value
 * (see docs/generated-code.md) in arena. */
PRPC_API prpc_status prpc_client_ping(prpc_client *client, uint32_t timeout_ms);
PRPC_API prpc_status prpc_client_describe(prpc_client *client, prpc_arena *arena, prpc_any *out);

/* ------------------------------------------------------- connected clients */

/* Connects to a server at endpoint ("pipe:NAME", "unix:/path", "tcp:HOST:PORT",
 * ...), waiting up to opts->connect_timeout_ms for it to appear, and checks it
 * answers (rpc.ping, or rpc.describe for the interface check). Errors:
 * PRPC_ERR_UNAVAILABLE (nobody listens), PRPC_ERR_INVALID_ARG /
 * PRPC_ERR_NOT_SUPPORTED (bad endpoint), PRPC_ERR_DENIED,
 * PRPC_ERR_INCOMPATIBLE; the reason is logged. opts may be NULL. */
PRPC_API prpc_status prpc_client_connect(const char *endpoint, const prpc_client_options *opts,
                                         prpc_client **out);

/* Spawns argv[0] (searched in PATH) as a server on its stdin/stdout
 * ("stdio:") and connects to it. prpc_client_destroy closes the pipes and
 * reaps the child (SIGKILL after a grace period). */
PRPC_API prpc_status prpc_client_spawn(const char *const *argv, const prpc_client_options *opts,
                                       prpc_client **out);

/* Embed mode: a descriptor that polls readable when messages may be
 * waiting (an fd on POSIX); -1 for other clients. */
PRPC_API intptr_t prpc_client_fd(prpc_client *client);

/* Embed mode: receives and delivers every message that has already arrived
 * (replies complete their calls, events run their handlers in this thread)
 * and returns without waiting for more. It also runs the keepalive: after
 * keepalive_ms without a message it sends a ping, and when that ping stays
 * unanswered for keepalive_timeout_ms every pending call fails with
 * PRPC_ERR_UNAVAILABLE and it returns PRPC_ERR_UNAVAILABLE; so call it
 * when prpc_client_fd polls readable and at the latest after
 * prpc_client_next_timeout ms. PRPC_ERR_CLOSED once the server is gone. In
 * embed mode the loop's thread makes asynchronous calls; synchronous calls
 * need another thread to drive the loop. */
PRPC_API prpc_status prpc_client_process(prpc_client *client);

/* Embed mode: milliseconds until prpc_client_process has keepalive work
 * to do (0 = now), for the application's poll timeout;
 * PRPC_TIMEOUT_INFINITE without keepalive or for other clients. */
PRPC_API uint32_t prpc_client_next_timeout(prpc_client *client);

PRPC_END_DECLS

#endif /* PIPERPC_CLIENT_H */
