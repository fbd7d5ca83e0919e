/* pipe:NAME — a named local channel. On POSIX an AF_UNIX socket called NAME
 * in the private runtime directory: SOCK_SEQPACKET (message mode) by
 * default, SOCK_STREAM with ?mode=byte. */
#include <string.h>

#include "transport/transport.h"

static prpc_status pipe_parse(const char *rest, prpc__addr *addr, prpc__err *err)
{
    const char *q = strchr(rest, '?');
    size_t len = q ? (size_t)(q - rest) : strlen(rest);
    if (len == 0) {
        prpc__set_err(err, "pipe: needs a name (pipe:NAME)");
        return PRPC_ERR_INVALID_ARG;
    }
    if (len > PRPC__NAME_MAX) {
        prpc__set_err(err, "pipe name is %zu bytes; the limit is %d", len, PRPC__NAME_MAX);
        return PRPC_ERR_INVALID_ARG;
    }
    if (rest[0] == '.') {
        prpc__set_err(err, "pipe name may not start with '.'");
        return PRPC_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)rest[i];
        /* The name becomes a file name: no separators, no control bytes,
         * no spaces (they make for unusable command lines). */
        if (ch == '/' || ch == '\\' || ch <= ' ' || ch == 0x7f) {
            prpc__set_err(err, "pipe name may not contain '%s'",
                              ch == '/' ? "/" : ch == '\\' ? "\\" : "control characters or spaces");
            return PRPC_ERR_INVALID_ARG;
        }
    }
    if (len >= 5 && memcmp(rest + len - 5, ".lock", 5) == 0) {
        prpc__set_err(err, "pipe name may not end in '.lock' (reserved for lock files)");
        return PRPC_ERR_INVALID_ARG;
    }
    addr->kind = PRPC__ADDR_PIPE;
    addr->mode = PRPC__CHAN_MESSAGE;
    memcpy(addr->name, rest, len);
    addr->name[len] = '\0';
    return prpc__endpoint_mode(rest + len, &addr->mode, err);
}

static prpc_status sock_listen(prpc__iopool *pool, const prpc__addr *addr, prpc__plistener **out,
                               prpc__err *err)
{
    return prpc__plistener_open(pool, addr, out, err);
}

static prpc_status sock_dial(prpc__iopool *pool, const prpc__addr *addr,
                             const prpc__dial_opts *opts, uint64_t deadline_ms, prpc__pconn **out,
                             prpc__err *err)
{
    (void)opts;
    return prpc__pconn_dial(pool, addr, deadline_ms, out, err);
}

const prpc__transport prpc__transport_pipe = {
    .scheme = "pipe",
    .parse = pipe_parse,
    .listen = sock_listen,
    .serve_one = NULL,
    .dial = sock_dial,
};
