/* Names and descriptions of prpc_status values. */
#include <stddef.h>

#include "piperpc/status.h"

struct status_text {
    const char *name;
    const char *text;
};

/* Indexed by -status; keep in the order of the enum in status.h. */
static const struct status_text k_status[] = {
    {"OK", "success"},
    {"INVALID_ARG", "invalid argument"},
    {"NO_MEMORY", "out of memory"},
    {"TIMEOUT", "timed out"},
    {"CLOSED", "connection closed"},
    {"PROTOCOL", "protocol error"},
    {"TOO_LARGE", "message or length too large"},
    {"TOO_DEEP", "nesting too deep"},
    {"UNKNOWN_METHOD", "unknown method"},
    {"BAD_ARGS", "bad arguments"},
    {"DENIED", "permission denied"},
    {"UNAVAILABLE", "service unavailable"},
    {"CANCELLED", "cancelled"},
    {"REMOTE", "remote application error"},
    {"BUSY", "too many connections or calls in flight"},
    {"IO", "I/O error"},
    {"ADDR_IN_USE", "address in use"},
    {"NOT_SUPPORTED", "not supported"},
    {"INCOMPATIBLE", "incompatible interface"},
    {"INTERNAL", "internal error"},
    {"DISCONNECTED", "connection lost with the call in flight (it may have run)"},
    {"WOULD_BLOCK", "synchronous call from the client's own receiving thread would never be "
                    "answered"},
};

_Static_assert(sizeof k_status / sizeof k_status[0] == (size_t)(-PRPC_STATUS_MIN) + 1,
               "every status needs a name and a description");

static const struct status_text *lookup(prpc_status status)
{
    /* Compare as long so that any int value, even one outside the enum's
     * range, is handled without overflow. */
    long s = (long)status;
    if (s > 0 || s < (long)PRPC_STATUS_MIN)
        return 0;
    return &k_status[-s];
}

const char *prpc_strerror(prpc_status status)
{
    const struct status_text *t = lookup(status);
    return t ? t->text : "unknown error";
}

const char *prpc_status_name(prpc_status status)
{
    const struct status_text *t = lookup(status);
    return t ? t->name : "UNKNOWN";
}
