/* One status type for the whole library.
 *
 * PRPC_OK is zero; every error is negative. The same numbers travel on the
 * wire as the code of a framework error ([code, message], see
 * docs/protocol.md), so a status seen by a client means the same thing the
 * server meant. Positive codes on the wire belong to IDL error enums and reach
 * the caller as PRPC_ERR_REMOTE together with the code. */
#ifndef PIPERPC_STATUS_H
#define PIPERPC_STATUS_H

#include "export.h"

PRPC_BEGIN_DECLS

typedef enum prpc_status {
    PRPC_OK = 0,
    PRPC_ERR_INVALID_ARG = -1,    /* a caller passed an argument that cannot be used */
    PRPC_ERR_NO_MEMORY = -2,      /* an allocation failed */
    PRPC_ERR_TIMEOUT = -3,        /* a deadline passed */
    PRPC_ERR_CLOSED = -4,         /* the connection or object is closed */
    PRPC_ERR_PROTOCOL = -5,       /* malformed msgpack or msgpack-rpc from the peer */
    PRPC_ERR_TOO_LARGE = -6,      /* a message or length exceeds a configured limit */
    PRPC_ERR_TOO_DEEP = -7,       /* nesting deeper than the configured limit */
    PRPC_ERR_UNKNOWN_METHOD = -8, /* no handler is registered under that method name */
    PRPC_ERR_BAD_ARGS = -9,       /* arguments of the wrong type, count or range */
    PRPC_ERR_DENIED = -10,        /* the peer is not authorized */
    PRPC_ERR_UNAVAILABLE = -11,   /* nobody listens there, or the server is stopping */
    PRPC_ERR_CANCELLED = -12,     /* the call was cancelled */
    PRPC_ERR_REMOTE = -13,        /* the handler raised an application (IDL) error */
    PRPC_ERR_BUSY = -14,          /* a limit on connections or calls in flight was hit */
    PRPC_ERR_IO = -15,            /* an operating-system I/O error */
    PRPC_ERR_ADDR_IN_USE = -16,   /* another live server owns that endpoint */
    PRPC_ERR_NOT_SUPPORTED = -17, /* the endpoint or feature is not available here */
    PRPC_ERR_INCOMPATIBLE = -18,  /* the server's interface differs from the client's */
    PRPC_ERR_INTERNAL = -19,      /* a bug in piperpc; please report it */
    PRPC_ERR_DISCONNECTED = -20,  /* the connection was lost while the call was in flight:
                                     it may or may not have run (see docs/architecture.md) */
    PRPC_ERR_WOULD_BLOCK = -21    /* a synchronous call from a callback running in the
                                     client's own receiving thread, which could never be
                                     answered */
} prpc_status;

/* The lowest framework status; codes below it are unknown framework errors. */
#define PRPC_STATUS_MIN PRPC_ERR_WOULD_BLOCK

/* A short English description of a status ("timed out"). Never NULL; an
 * unknown value gives "unknown error". The string is static. */
PRPC_API const char *prpc_strerror(prpc_status status);

/* The enumerator's name without prefix ("TIMEOUT"), for logs and tools. */
PRPC_API const char *prpc_status_name(prpc_status status);

PRPC_END_DECLS

#endif /* PIPERPC_STATUS_H */
