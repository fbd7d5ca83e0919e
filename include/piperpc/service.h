/* The contract between idlc's generated code and the runtime: service and
 * method descriptors, the marshalling function types, and the server-side
 * call context a handler receives.
 *
 * Generated code is mostly const descriptors plus small typed wrappers over
 * the generic engine in client.h and server.h. Nothing here is specific to a
 * transport: the same descriptors serve an in-process client, a pipe or TCP.
 * docs/generated-code.md describes the generated code that uses this header. */
#ifndef PIPERPC_SERVICE_H
#define PIPERPC_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "codec.h"
#include "export.h"
#include "status.h"
#include "version.h"

PRPC_BEGIN_DECLS

/* Generated code records the runtime version it was generated for and fails
 * to compile against any other major.minor: the descriptors and glue below
 * may change between minor versions while piperpc is 0.x. Generated headers
 * spell the test out (#if PRPC_VERSION_MAJOR != 0 || ...) so the #error can
 * name both versions; this macro is the same test for hand-written code. */
#define PRPC_GENERATED_VERSION_CHECK(major, minor) \
    ((major) == PRPC_VERSION_MAJOR && (minor) == PRPC_VERSION_MINOR)

typedef struct prpc_call prpc_call;     /* one request being served */
typedef struct prpc_conn prpc_conn;     /* one client connection, server side */
typedef struct prpc_server prpc_server; /* see server.h */
typedef struct prpc_client prpc_client; /* see client.h */

/* Encodes one value of a generated type (or a generated argument list) that
 * `value` points to. Errors stick in the encoder. */
typedef void (*prpc_encode_fn)(prpc_encoder *enc, const void *value);
/* Decodes one value into the object `value` points to, allocating in
 * dec->arena. Errors stick in the decoder. */
typedef void (*prpc_decode_fn)(prpc_decoder *dec, void *value);

/* A typed callback travels through the runtime as this generic function
 * pointer and is cast back to its own type by the generated glue (C allows a
 * round trip through any function pointer type). */
typedef void (*prpc_fn)(void);

/* ------------------------------------------------------------ descriptors */

#define PRPC_METHOD_ONEWAY 0x1u     /* no reply; the client sends a notification */
#define PRPC_METHOD_IDEMPOTENT 0x2u /* safe to re-send after a reconnect */
#define PRPC_METHOD_DEPRECATED 0x4u /* [deprecated]; still served */

/* Server-side glue for one method. It decodes the wire parameters (the
 * decoder stands on the first element of the params array, whose length the
 * dispatcher has already checked against nparams) into the call's arena,
 * calls the handler found in `ops`, and encodes the reply through
 * prpc_call_reply unless the handler deferred it. Its return value is the
 * handler's (see "Handlers" below), or the decoder's error. */
typedef prpc_status (*prpc_invoke_fn)(prpc_call *call, const void *ops, prpc_decoder *params);

typedef struct prpc_method_desc {
    const char *name;      /* the IDL name: "get" */
    const char *wire_name; /* "kv.Store.get", or the [name("...")] attribute */
    const char *signature; /* canonical text: "bytes get(string key) raises (kv.Error)" */
    const char *doc;       /* the IDL doc comment, or NULL */
    uint32_t flags;        /* PRPC_METHOD_* */
    uint32_t timeout_ms;   /* [timeout(ms)]: the client's default deadline; 0 = none */
    uint32_t nparams;      /* wire parameters: the in and inout ones */
    prpc_invoke_fn invoke; /* server glue; NULL in a descriptor that only clients use */
} prpc_method_desc;

typedef struct prpc_event_desc {
    const char *name;      /* the IDL name: "changed" */
    const char *wire_name; /* "kv.Store.changed" */
    const char *signature; /* canonical text: "event changed(string key, u64 version)" */
    const char *doc;
    uint32_t nparams;
} prpc_event_desc;

/* One interface. The structural hash is FNV-1a 64 over a canonical text of
 * the interface's methods and events and of the structure of every type they
 * reach; names of parameters, fields and enumerators do not take part, so
 * renaming one keeps the hash while changing any type changes it. */
typedef struct prpc_service_desc {
    const char *module;         /* "kv" */
    const char *name;           /* "Store" */
    const char *full_name;      /* "kv.Store" */
    const char *doc;            /* the interface's doc comment, or NULL */
    uint16_t version_major;     /* [version(major.minor)]; 0.0 when absent */
    uint16_t version_minor;
    uint64_t signature_hash;
    const prpc_method_desc *methods;
    uint32_t nmethods;
    const prpc_event_desc *events;
    uint32_t nevents;
} prpc_service_desc;

/* ---------------------------------------------------------------- handlers
 *
 * A handler receives the call context first, then its decoded in-parameters
 * (living in prpc_call_arena), then pointers to its out-parameters and
 * result, which it fills (allocating in the call's arena). It returns:
 *
 *   PRPC_OK          the generated glue encodes the outputs as the reply; or,
 *                    if the handler called prpc_call_defer, nothing is sent
 *                    now and the reply comes later, from any thread, through
 *                    the generated <module>_<Iface>_<method>_reply function
 *                    (or prpc_call_reply_error).
 *   PRPC_ERR_REMOTE  after prpc_call_raise: the client receives the IDL error
 *                    code and message.
 *   anything else    the client receives [status, prpc_strerror(status)] as a
 *                    framework error and sees that status.
 */

/* The credentials of the peer, taken from the operating system when the
 * connection was accepted. */
typedef struct prpc_peer {
    bool has_ids;         /* uid, gid and pid are known */
    bool in_process;      /* an in-process client (prpc_client_create_inproc) */
    uint32_t uid;
    uint32_t gid;
    uint32_t pid;
    const char *user_sid; /* Windows pipes: the client user's SID as text
                             ("S-1-5-21-..."); NULL for TCP peers and on
                             other systems */
} prpc_peer;

/* The arena that holds the decoded arguments; it is freed when the call
 * completes. Handlers allocate their outputs here. */
PRPC_API prpc_arena *prpc_call_arena(prpc_call *call);
PRPC_API const prpc_method_desc *prpc_call_method(const prpc_call *call);
PRPC_API const prpc_service_desc *prpc_call_service(const prpc_call *call);
PRPC_API const prpc_peer *prpc_call_peer(const prpc_call *call);
/* The endpoint the connection was accepted on ("pipe:kv", "inproc:"). */
PRPC_API const char *prpc_call_endpoint(const prpc_call *call);
/* The connection the request came from, to emit events to it. It stays valid
 * while the call is in progress; prpc_conn_retain keeps it longer. */
PRPC_API prpc_conn *prpc_call_conn(prpc_call *call);
/* The request's msgid; 0 for a notification (see prpc_call_is_notification). */
PRPC_API uint32_t prpc_call_msgid(const prpc_call *call);
/* True for a request sent as a notification: nothing will be replied. */
PRPC_API bool prpc_call_is_notification(const prpc_call *call);
/* The call's server-side deadline on the monotonic clock in ms (UINT64_MAX =
 * none): its arrival plus the method's [timeout], else plus the server's
 * call_timeout_ms option. msgpack-rpc requests carry no deadline, so this is
 * the bound both sides know from the IDL; a client that gives up earlier (a
 * shorter per-call timeout) sends rpc.cancel, which prpc_call_cancelled
 * reports. */
PRPC_API uint64_t prpc_call_deadline(const prpc_call *call);
/* Milliseconds left until prpc_call_deadline: 0 once it has passed,
 * PRPC_TIMEOUT_INFINITE when the call has no deadline. A handler that waits on
 * something else can bound its wait with it. */
PRPC_API uint32_t prpc_call_remaining_ms(const prpc_call *call);
/* True once the client cancelled the call (rpc.cancel) or its connection
 * closed; a long handler may poll it and give up. Thread-safe. */
PRPC_API bool prpc_call_cancelled(const prpc_call *call);
/* The user pointer given to prpc_server_register for this service. */
PRPC_API void *prpc_call_user(const prpc_call *call);

/* Takes the reply out of the handler's hands: the handler returns PRPC_OK
 * and the call (arguments and arena included) stays alive until exactly one
 * of prpc_call_reply, prpc_call_raise or prpc_call_reply_error is made for it
 * later, from any thread. A deferred call that is never answered leaks. */
PRPC_API void prpc_call_defer(prpc_call *call);
/* True after prpc_call_defer (read by the glue, in the handler's thread). */
PRPC_API bool prpc_call_is_deferred(const prpc_call *call);

/* Sends the successful reply: [1, msgid, nil, value] with value encoded by
 * encode (NULL encodes nil). Returns PRPC_ERR_INVALID_ARG if the call was
 * already answered, PRPC_ERR_CLOSED if the connection is gone (the reply is
 * dropped; the call is still completed and freed), PRPC_ERR_TOO_LARGE if the
 * reply exceeds the message size limit (the client then receives that error
 * instead). After a deferred call is answered, `call` is freed: do not use
 * it again. */
PRPC_API prpc_status prpc_call_reply(prpc_call *call, prpc_encode_fn encode, const void *value);

/* Answers with an IDL error: the client receives [code, message] and the
 * status PRPC_ERR_REMOTE with this code. code should be positive (a value of
 * the method's error enum); message may be NULL. Inside a handler, return
 * its result (PRPC_ERR_REMOTE) and the error is sent when the handler
 * returns; on a deferred call the error is sent at once. */
PRPC_API prpc_status prpc_call_raise(prpc_call *call, int64_t code, const char *message);

/* Answers with any error, from any thread: a framework status (negative) or
 * an IDL code (positive). message NULL means prpc_strerror(code) for a
 * status. Same return values as prpc_call_reply. */
PRPC_API prpc_status prpc_call_reply_error(prpc_call *call, int64_t code, const char *message);

/* --------------------------------------------------------------- events */

/* Keeps a connection object alive beyond its call (for later events). */
PRPC_API void prpc_conn_retain(prpc_conn *conn);
PRPC_API void prpc_conn_release(prpc_conn *conn);
/* True while the connection can still send. */
PRPC_API bool prpc_conn_is_open(const prpc_conn *conn);
PRPC_API const prpc_peer *prpc_conn_peer(const prpc_conn *conn);

/* Sends the event [2, wire_name, params] to one connection, whether or not
 * it subscribed. encode writes the nparams parameters (without the array
 * header). Returns PRPC_ERR_CLOSED if the connection is gone. Thread-safe. */
PRPC_API prpc_status prpc_conn_emit(prpc_conn *conn, const prpc_event_desc *event,
                                    prpc_encode_fn encode, const void *params);

PRPC_END_DECLS

#endif /* PIPERPC_SERVICE_H */
