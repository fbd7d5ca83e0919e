/* The server's private structures, shared by server.c (registry,
 * connections, events), dispatch.c (the dispatcher), call.c (the call
 * context) and server_net.c (serving over transports).
 *
 * Locking: server->mu guards the registry, the connection list and the
 * counters; conn->mu guards a connection's state, its calls in flight and
 * their reply state, and its subscriptions. When both are held, server->mu
 * is taken first. server->net.mu guards the serving state; it is never held
 * while taking server->mu or a conn->mu. */
#ifndef PRPC_CORE_SERVER_IMPL_H
#define PRPC_CORE_SERVER_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/log.h"
#include "core/server_conn.h"
#include "platform/platform.h"
#include "piperpc/server.h"

/* One registered service. */
typedef struct prpc__service {
    const prpc_service_desc *desc;
    const void *ops;
    void *user;
} prpc__service;

/* One entry of the method table, sorted by wire name for bsearch. */
typedef struct prpc__route {
    const char *wire_name;
    size_t wire_len;
    const prpc_method_desc *method;
    prpc_invoke_fn invoke;        /* NULL: the service does not implement it */
    const prpc__service *service; /* NULL for the built-ins */
} prpc__route;

/* The most endpoints one server listens on. */
#define PRPC__SERVER_MAX_ENDPOINTS 16u

/* Serving over transports (server_net.c). A serving cycle runs from the
 * first prpc_server_listen to the end of prpc_server_stop, which leaves the
 * state ready for the next listen; the lock, the condition and the stop
 * request outlive the cycles. */
typedef struct prpc__server_net {
    prpc__mutex mu;
    prpc__cond cv;              /* receive loops ending, a stop ending */
    prpc__iopool *pool;         /* (mu) the cycle's; NULL before its first listen */
    struct prpc__net_listener *listeners[PRPC__SERVER_MAX_ENDPOINTS]; /* (mu) */
    unsigned nlisteners;        /* (mu) */
    bool started;               /* (mu) */
    bool stopping;              /* (mu) stop has begun */
    uint64_t stops;             /* (mu) stops finished: a cycle's number */
    unsigned waiters;           /* (mu) threads in run or stop waiting for a stop */
    atomic_bool draining;       /* new requests are refused */
    /* prpc_server_stop_async touches only these, so that a signal handler
     * may call it: the request, and the bell that wakes prpc_server_run
     * (made by the first run; ready says it exists). */
    atomic_bool stop_asked;
    atomic_bool bell_ready;
    prpc__bell bell;
    char err[320];              /* (mu) the last listen or start failure */
} prpc__server_net;

struct prpc_server {
    prpc__mutex mu;
    prpc_server_options opts;   /* resolved: no zero limits */
    prpc__service **services;   /* (mu) each allocated once, never moved */
    uint32_t nservices;
    prpc__route *routes;        /* (mu) sorted by wire name */
    uint32_t nroutes;
    prpc_conn *conns;           /* (mu) open connections, doubly linked */
    uint32_t nconns;
    bool closing;               /* (mu) prpc_server_destroy has begun */
    prpc_server_stats stats;    /* (mu) */
    prpc__server_net net;
};

struct prpc_conn {
    prpc__mutex mu;
    prpc__cond idle;            /* signalled when dispatching drops to 0 */
    unsigned refs;              /* (mu) */
    bool open;                  /* (mu) */
    bool in_list;               /* (server->mu) linked in server->conns */
    unsigned dispatching;       /* (mu) prpc__conn_receive calls running */
    unsigned sending;           /* (mu) ops->send calls running */
    bool detached;              /* (mu) the transport took io back: the core
                                   never touches io again (prpc__conn_detach) */
    prpc_server *server;        /* valid while open or dispatching */
    const prpc__conn_ops *ops;
    void *io;
    prpc_peer peer;
    char *endpoint;
    char *peer_sid;             /* owned copy of peer.user_sid */
    prpc_limits limits;
    uint32_t max_inflight;
    uint32_t max_subscriptions;
    prpc_log_fn log;
    void *log_user;
    prpc_log_level log_level;
    prpc_call *inflight;        /* (mu) calls not yet answered, doubly linked */
    uint32_t ninflight;         /* (mu) counted against max_inflight */
    const prpc_event_desc **subs; /* (mu) subscribed events */
    uint32_t nsubs;
    prpc_conn *prev, *next;     /* (server->mu) */
};

struct prpc_call {
    prpc_conn *conn;            /* holds a reference */
    const prpc_method_desc *method;
    const prpc_service_desc *service; /* NULL for built-ins */
    void *user;
    prpc_arena *arena;
    uint32_t msgid;
    uint32_t nparams;           /* parameters received */
    bool notification;
    bool counted;               /* counts against the connection's max_inflight */
    uint64_t deadline_ms;
    /* The following are guarded by conn->mu. */
    unsigned refs;              /* the dispatcher's and, once deferred, the owner's */
    bool linked;                /* in conn->inflight */
    bool deferred;
    bool owner_ref;             /* the deferred owner has not answered yet */
    bool answered;
    bool cancelled;
    bool raised;                /* prpc_call_raise inside the handler */
    int64_t raise_code;
    const char *raise_message;  /* in the arena */
    prpc_call *prev, *next;
};

/* Marks built-in method descriptors whose parameter count varies. */
#define PRPC__VARIADIC UINT32_MAX

/* server.c */
void prpc__conn_log(prpc_conn *conn, prpc_log_level level, const char *fmt, ...)
    PRPC__PRINTF(3, 4);
/* Sends one whole message if the connection is open. */
prpc_status prpc__conn_send(prpc_conn *conn, const uint8_t *data, size_t len);
/* Finds the route for a wire name; copies it out under the server lock. */
bool prpc__server_route(prpc_server *server, const char *name, size_t len, prpc__route *out);
/* Subscribes or unsubscribes a connection to the event with this wire name,
 * if a registered service declares it. */
prpc_status prpc__conn_subscribe(prpc_conn *conn, const char *name, size_t len, bool on);
/* Encodes the registered interfaces for rpc.describe. */
void prpc__server_describe(prpc_server *server, prpc_encoder *enc);
void prpc__server_count(prpc_server *server, bool error, bool protocol_error);

/* call.c */
/* A new call of route on conn, holding one reference on the call and one on
 * conn; NULL when out of memory. */
prpc_call *prpc__call_create(prpc_conn *conn, const prpc__route *route, uint32_t msgid,
                             bool notification);
/* Drops a reference; the last one frees the call and its arena. */
void prpc__call_release(prpc_call *call);
/* Answers the call once (PRPC_ERR_INVALID_ARG after that) and sends the
 * reply, unless it is a notification. */
prpc_status prpc__call_answer(prpc_call *call, bool is_error, int64_t code,
                              const char *message, prpc_encode_fn encode, const void *value);

/* server_net.c, for prpc_server_create and prpc_server_destroy: sets up
 * the serving state; stops serving over transports (if the server still
 * serves, with the server's default drain bound) and frees that state. */
void prpc__server_net_init(prpc_server *server);
void prpc__server_net_destroy(prpc_server *server);

#endif /* PRPC_CORE_SERVER_IMPL_H */
