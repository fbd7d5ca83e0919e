/* Endpoint strings: the scheme registry, the parts every scheme shares
 * (the ?mode= query) and the host part of pipes on other machines
 * (pipe://HOST/NAME, \\HOST\pipe\NAME). Each transport parses the rest of
 * its own endpoints. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "transport/transport.h"

static const prpc__transport *const transports[] = {
    &prpc__transport_pipe,
    &prpc__transport_unix,
    &prpc__transport_tcp,
    &prpc__transport_stdio,
};

prpc_status prpc__endpoint_mode(const char *q, prpc__chan_mode *mode, prpc__err *err)
{
    if (*q == '\0')
        return PRPC_OK;
    if (strcmp(q, "?mode=byte") == 0) {
        *mode = PRPC__CHAN_BYTE;
        return PRPC_OK;
    }
    if (strcmp(q, "?mode=message") == 0) {
        *mode = PRPC__CHAN_MESSAGE;
        return PRPC_OK;
    }
    prpc__set_err(err, "unknown endpoint option '%s' (expected ?mode=byte or ?mode=message)", q);
    return PRPC_ERR_INVALID_ARG;
}

/* A host as it may stand in a UNC path: a NetBIOS or DNS name or an IPv4
 * address (letters, digits, '-', '_', '.'; UTF-8 for international names).
 * An IPv6 literal cannot stand there; Windows spells it
 * fe80--1.ipv6-literal.net, which passes. */
static bool host_ok(const char *host, size_t len, prpc__err *err)
{
    if (len == 0) {
        prpc__set_err(err, "a remote pipe needs a host (pipe://HOST/NAME)");
        return false;
    }
    if (len >= PRPC__HOST_MAX) {
        prpc__set_err(err, "pipe host is %zu bytes; the limit is %d", len, PRPC__HOST_MAX - 1);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)host[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch >= 0x80;
        if (!ok) {
            prpc__set_err(err, "pipe host '%.*s' may contain only letters, digits, '-', '_' "
                               "and '.'", (int)(len > 64 ? 64 : len), host);
            return false;
        }
    }
    return true;
}

/* pipe://HOST/NAME[?mode=...] (sep '/', rest after "pipe://") or
 * \\HOST\pipe\NAME[?mode=...] (sep '\\', rest after the two
 * backslashes). HOST "." is this machine, exactly pipe:NAME, on every
 * platform. Any other host (localhost included, which Windows reaches
 * through its network redirector like any other machine) is a remote pipe:
 * accepted where the platform has them, else a clear error. */
static prpc_status parse_hosted_pipe(const char *endpoint, const char *rest, char sep,
                                     prpc__addr *addr, const prpc__transport **tp, prpc__err *err)
{
    const char *end = strchr(rest, sep);
    if (end == NULL) {
        prpc__set_err(err, sep == '/' ? "'%s' has no pipe name (pipe://HOST/NAME)"
                                      : "'%s' is not a pipe path (\\\\HOST\\pipe\\NAME)",
                      endpoint);
        return PRPC_ERR_INVALID_ARG;
    }
    size_t hlen = (size_t)(end - rest);
    if (!host_ok(rest, hlen, err))
        return PRPC_ERR_INVALID_ARG;
    const char *name = end + 1;
    if (sep == '\\') {
        if (strncmp(name, "pipe\\", 5) != 0) {
            prpc__set_err(err, "'%s' is not a pipe path (\\\\HOST\\pipe\\NAME)", endpoint);
            return PRPC_ERR_INVALID_ARG;
        }
        name += 5;
    }
    prpc_status st = prpc__transport_pipe.parse(name, addr, err);
    if (st != PRPC_OK)
        return st;
    bool local = hlen == 1 && rest[0] == '.';
    if (!local) {
        if (!PRPC__REMOTE_PIPES) {
            /* The host is cut short so that the advice always fits. */
            prpc__set_err(err, "pipe host '%.*s%s' names another machine; remote pipes exist "
                               "only on Windows: use tcp:HOST:PORT",
                          (int)(hlen > 64 ? 64 : hlen), rest, hlen > 64 ? "..." : "");
            return PRPC_ERR_NOT_SUPPORTED;
        }
        memcpy(addr->host, rest, hlen);
        addr->host[hlen] = '\0';
    }
    *tp = &prpc__transport_pipe;
    return PRPC_OK;
}

prpc_status prpc__endpoint_parse(const char *endpoint, prpc__addr *addr,
                                 const prpc__transport **tp, prpc__err *err)
{
    if (endpoint == NULL || addr == NULL || tp == NULL) {
        prpc__set_err(err, "no endpoint given");
        return PRPC_ERR_INVALID_ARG;
    }
    memset(addr, 0, sizeof *addr);
    *tp = NULL;
    if (endpoint[0] == '\0') {
        prpc__set_err(err, "empty endpoint");
        return PRPC_ERR_INVALID_ARG;
    }
    /* A Windows pipe path names a pipe the same way pipe:NAME (local) or
     * pipe://HOST/NAME does. */
    if (strncmp(endpoint, "\\\\", 2) == 0)
        return parse_hosted_pipe(endpoint, endpoint + 2, '\\', addr, tp, err);
    if (strncmp(endpoint, "pipe://", 7) == 0)
        return parse_hosted_pipe(endpoint, endpoint + 7, '/', addr, tp, err);
    const char *colon = strchr(endpoint, ':');
    if (colon == NULL) {
        prpc__set_err(err, "endpoint '%s' has no scheme (expected pipe:, unix:, tcp: or stdio:)",
                          endpoint);
        return PRPC_ERR_INVALID_ARG;
    }
    size_t slen = (size_t)(colon - endpoint);
    if (slen == 3 && strncmp(endpoint, "shm", 3) == 0) {
        prpc__set_err(err, "shm: endpoints are not supported yet; use pipe:NAME");
        return PRPC_ERR_NOT_SUPPORTED;
    }
    for (size_t i = 0; i < sizeof transports / sizeof transports[0]; i++) {
        const prpc__transport *t = transports[i];
        if (strlen(t->scheme) == slen && strncmp(t->scheme, endpoint, slen) == 0) {
            prpc_status st = t->parse(colon + 1, addr, err);
            if (st == PRPC_OK)
                *tp = t;
            return st;
        }
    }
    prpc__set_err(err, "unknown endpoint scheme '%.*s' (expected pipe:, unix:, tcp: or stdio:)",
                      (int)(slen > 32 ? 32 : slen), endpoint);
    return PRPC_ERR_INVALID_ARG;
}
