/* The server: registered services, the dispatcher and the connections.
 *
 * A server holds the generated services registered on it and dispatches each
 * received message of a connection to the matching handler. Transports feed
 * it messages and carry its replies; the in-process client
 * (prpc_client_create_inproc) is one such connection. Handlers, the call
 * context and deferred replies are described in service.h.
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
#include "service.h"
#include "status.h"

PRPC_BEGIN_DECLS

/* Decides whether the peer of `call` may run its method. Called for every
 * request and notification (built-ins included, rpc.cancel excepted) before
 * the parameters are decoded; prpc_call_method, prpc_call_peer and
 * prpc_call_endpoint tell who asks for what. Returning false answers
 * PRPC_ERR_DENIED. Called from any thread. */
typedef bool (*prpc_authorize_fn)(void *user, const prpc_call *call);

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
    prpc_authorize_fn authorize;      /* NULL admits every call */
    void *authorize_user;
    prpc_log_fn log;                  /* NULL uses the process-wide callback */
    void *log_user;
    prpc_log_level log_level;
} prpc_server_options;

typedef struct prpc_server_stats {
    uint64_t requests;        /* requests and notifications dispatched */
    uint64_t errors;          /* error replies sent */
    uint64_t protocol_errors; /* messages that closed their connection */
    uint32_t connections;     /* open now */
} prpc_server_stats;

/* opts may be NULL. */
PRPC_API prpc_status prpc_server_create(const prpc_server_options *opts, prpc_server **out);

/* Closes every connection (their in-flight calls see prpc_call_cancelled and
 * their late replies are dropped), waits for dispatches already running to
 * return, and frees the server. Deferred calls still unanswered keep their
 * connection object alive until answered. Must not be called from a handler.
 * Accepts NULL. */
PRPC_API void prpc_server_destroy(prpc_server *server);

/* Registers a generated service: ops is its generated ops table (for
 * example a kv_Store_ops *) and must outlive the server; user is returned by
 * prpc_call_user. A wire name that is already registered (or reserved:
 * "rpc.*") gives PRPC_ERR_INVALID_ARG and registers nothing. Generated code
 * wraps this as <module>_<Iface>_register. */
PRPC_API prpc_status prpc_server_register(prpc_server *server, const prpc_service_desc *service,
                                          const void *ops, void *user);

/* Sends the event to every open connection that subscribed to it. *sent
 * (may be NULL) receives how many connections it was handed to. */
PRPC_API prpc_status prpc_server_broadcast(prpc_server *server, const prpc_event_desc *event,
                                           prpc_encode_fn encode, const void *params,
                                           size_t *sent);

PRPC_API void prpc_server_get_stats(prpc_server *server, prpc_server_stats *stats);

PRPC_END_DECLS

#endif /* PIPERPC_SERVER_H */
