/* The contract between idlc's generated code and the runtime: service,
 * method and event descriptors, and the marshalling function types.
 *
 * Generated code is mostly const descriptors plus small typed wrappers over
 * the generic engine in client.h, server.h and call.h. Nothing here is
 * specific to a transport: the same descriptors serve an in-process client,
 * a pipe or TCP. docs/generated-code.md describes the generated code that
 * uses this header. */
#ifndef PIPERPC_GENERATED_H
#define PIPERPC_GENERATED_H

#include <stddef.h>
#include <stdint.h>

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
typedef struct prpc_async_result prpc_async_result; /* see client.h */

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

/* Server-side glue for one method, given to prpc_server_register beside the
 * descriptors (so that clients, which link only the descriptors, carry no
 * server code). It decodes the wire parameters (the decoder stands on the
 * first element of the params array, whose length the dispatcher has
 * already checked against nparams) into the call's arena, calls the handler
 * found in `ops`, and encodes the reply through prpc_call_reply unless the
 * handler deferred it. Its return value is the handler's (see "Handlers" in
 * call.h), or the decoder's error. */
typedef prpc_status (*prpc_invoke_fn)(prpc_call *call, const void *ops, prpc_decoder *params);

typedef struct prpc_method_desc {
    const char *name;      /* the IDL name: "get" */
    const char *wire_name; /* "kv.Store.get", or the [name("...")] attribute */
    const char *signature; /* canonical text: "bytes get(string key) raises (kv.Error)" */
    const char *doc;       /* the IDL doc comment, or NULL */
    uint32_t flags;        /* PRPC_METHOD_* */
    uint32_t timeout_ms;   /* [timeout(ms)]: the client's default deadline; 0 = none */
    uint32_t nparams;      /* wire parameters: the in and inout ones */
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

/* ------------------------------------------------- helpers for the glue
 *
 * Steps every generated stub of a kind would otherwise repeat, kept here so
 * that the engine's rules hold in one place. */

/* The outcome of an asynchronous call as its typed callback reports it:
 * r->status if the call failed; else the result decoded by decode into
 * *value, which is PRPC_OK, the decoder's error, or PRPC_ERR_INCOMPATIBLE if
 * the result has bytes left over (the rule prpc_client_call applies to
 * synchronous calls). Generated completions call it first thing. */
PRPC_API prpc_status prpc_async_result_decode(const prpc_async_result *r, prpc_decode_fn decode,
                                              void *value);

/* What invoke glue returns once the handler has returned st: st itself if
 * the handler failed (the dispatcher answers it, see "Handlers" in call.h)
 * or deferred the reply; else the result of replying with the outputs,
 * prpc_call_reply(call, encode, value). */
PRPC_API prpc_status prpc_call_complete(prpc_call *call, prpc_status st, prpc_encode_fn encode,
                                        const void *value);

PRPC_END_DECLS

#endif /* PIPERPC_GENERATED_H */
