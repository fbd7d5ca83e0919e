/* Endpoint strings: the scheme registry and the parts every scheme shares
 * (the ?mode= query). Each transport parses the rest of its own endpoints. */
#include <stdarg.h>
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
    /* A Windows pipe path names a local pipe the same way pipe:NAME does. */
    static const char local_pipe[] = "\\\\.\\pipe\\";
    if (strncmp(endpoint, local_pipe, sizeof local_pipe - 1) == 0) {
        *tp = &prpc__transport_pipe;
        return prpc__transport_pipe.parse(endpoint + sizeof local_pipe - 1, addr, err);
    }
    if (strncmp(endpoint, "\\\\", 2) == 0 || strncmp(endpoint, "pipe://", 7) == 0) {
        prpc__set_err(err, "'%s' names a pipe on another machine; remote pipes exist only on "
                               "Windows: use tcp:HOST:PORT", endpoint);
        return PRPC_ERR_NOT_SUPPORTED;
    }
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
