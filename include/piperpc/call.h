/* The handler's side of a call: the call context a handler receives (its
 * arena, method, peer, deadline and cancellation), deferred replies, IDL
 * errors, and the connection a call came from, for events.
 *
 * Server authors use this header; the descriptors and glue types it refers
 * to are in generated.h. Nothing here is specific to a transport. */
#ifndef PIPERPC_CALL_H
#define PIPERPC_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "codec.h"
#include "export.h"
#include "generated.h"
#include "status.h"

PRPC_BEGIN_DECLS

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

#endif /* PIPERPC_CALL_H */
