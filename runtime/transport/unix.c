/* unix:/abs/path — an AF_UNIX socket at an explicit path: SOCK_SEQPACKET
 * (message mode) unless ?mode=byte. Abstract-namespace sockets have no
 * permissions and are refused. */
#include <string.h>
#include <sys/un.h>

#include "transport/transport.h"

static prpc_status unix_parse(const char *rest, prpc__addr *addr, prpc__err *err)
{
    const char *q = strchr(rest, '?');
    size_t len = q ? (size_t)(q - rest) : strlen(rest);
    if (len == 0) {
        prpc__set_err(err, "unix: needs an absolute socket path (unix:/path)");
        return PRPC_ERR_INVALID_ARG;
    }
    if (rest[0] == '@') {
        prpc__set_err(err, "abstract unix sockets (unix:@name) are not supported: they have "
                               "no permissions");
        return PRPC_ERR_NOT_SUPPORTED;
    }
    if (rest[0] != '/') {
        prpc__set_err(err, "unix: socket path must be absolute: '%.*s'", (int)len, rest);
        return PRPC_ERR_INVALID_ARG;
    }
    struct sockaddr_un sa;
    if (len >= sizeof sa.sun_path) {
        prpc__set_err(err, "unix: socket path is %zu bytes; the system limit is %zu", len,
                          sizeof sa.sun_path - 1);
        return PRPC_ERR_INVALID_ARG;
    }
    addr->kind = PRPC__ADDR_UNIX;
    addr->mode = PRPC__CHAN_MESSAGE;
    memcpy(addr->name, rest, len);
    addr->name[len] = '\0';
    return prpc__endpoint_mode(rest + len, &addr->mode, err);
}

static prpc_status unix_listen(prpc__iopool *pool, const prpc__addr *addr, prpc__plistener **out,
                               prpc__err *err)
{
    return prpc__plistener_open(pool, addr, out, err);
}

static prpc_status unix_dial(prpc__iopool *pool, const prpc__addr *addr,
                             const prpc__dial_opts *opts, uint64_t deadline_ms, prpc__pconn **out,
                             prpc__err *err)
{
    (void)opts;
    return prpc__pconn_dial(pool, addr, deadline_ms, out, err);
}

const prpc__transport prpc__transport_unix = {
    .scheme = "unix",
    .parse = unix_parse,
    .listen = unix_listen,
    .serve_one = NULL,
    .dial = unix_dial,
};
