/* tcp:HOST:PORT — TCP over IPv4 or IPv6 (tcp:[::1]:7000), TCP_NODELAY, a
 * byte stream. Port 0 on a listener asks for an ephemeral port. */
#include <stdlib.h>
#include <string.h>

#include "transport/transport.h"

static prpc_status tcp_parse(const char *rest, prpc__addr *addr, prpc__err *err)
{
    const char *host = rest;
    size_t hlen;
    const char *port;
    if (rest[0] == '[') {
        const char *close = strchr(rest, ']');
        if (close == NULL || close[1] != ':') {
            prpc__set_err(err, "tcp: an IPv6 address is written [ADDR]:PORT");
            return PRPC_ERR_INVALID_ARG;
        }
        host = rest + 1;
        hlen = (size_t)(close - host);
        port = close + 2;
    } else {
        const char *colon = strrchr(rest, ':');
        if (colon == NULL) {
            prpc__set_err(err, "tcp: needs HOST:PORT");
            return PRPC_ERR_INVALID_ARG;
        }
        if (memchr(rest, ':', (size_t)(colon - rest)) != NULL) {
            prpc__set_err(err, "tcp: put an IPv6 address in brackets: tcp:[ADDR]:PORT");
            return PRPC_ERR_INVALID_ARG;
        }
        hlen = (size_t)(colon - rest);
        port = colon + 1;
    }
    if (hlen == 0) {
        prpc__set_err(err, "tcp: needs a host (for example tcp:127.0.0.1:7000)");
        return PRPC_ERR_INVALID_ARG;
    }
    if (hlen >= sizeof addr->name) {
        prpc__set_err(err, "tcp: host name too long");
        return PRPC_ERR_INVALID_ARG;
    }
    if (port[0] == '\0' || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port)) {
        prpc__set_err(err, "tcp: port must be a number from 0 to 65535, not '%.16s'", port);
        return PRPC_ERR_INVALID_ARG;
    }
    unsigned long p = strtoul(port, NULL, 10);
    if (p > 65535) {
        prpc__set_err(err, "tcp: port %lu is out of range (0-65535)", p);
        return PRPC_ERR_INVALID_ARG;
    }
    addr->kind = PRPC__ADDR_TCP;
    addr->mode = PRPC__CHAN_BYTE;
    memcpy(addr->name, host, hlen);
    addr->name[hlen] = '\0';
    addr->port = (uint16_t)p;
    return PRPC_OK;
}

static prpc_status tcp_listen(prpc__iopool *pool, const prpc__addr *addr, prpc__plistener **out,
                              prpc__err *err)
{
    return prpc__plistener_open(pool, addr, out, err);
}

static prpc_status tcp_dial(prpc__iopool *pool, const prpc__addr *addr, const prpc__dial_opts *opts,
                            uint64_t deadline_ms, prpc__pconn **out, prpc__err *err)
{
    (void)opts;
    return prpc__pconn_dial(pool, addr, deadline_ms, out, err);
}

const prpc__transport prpc__transport_tcp = {
    .scheme = "tcp",
    .parse = tcp_parse,
    .listen = tcp_listen,
    .serve_one = NULL,
    .dial = tcp_dial,
};
