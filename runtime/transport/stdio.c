/* stdio: — a byte stream over standard input and output. A server serves
 * one connection on its own stdin/stdout; a client spawns the server
 * program (argv from the dial options, or stdio:PROGRAM) and talks to it
 * over pipes. */
#include <string.h>

#include "transport/transport.h"

static prpc_status stdio_parse(const char *rest, prpc__addr *addr, prpc__err *err)
{
    if (strlen(rest) >= sizeof addr->name) {
        prpc__set_err(err, "stdio: program path too long");
        return PRPC_ERR_INVALID_ARG;
    }
    addr->kind = PRPC__ADDR_STDIO;
    addr->mode = PRPC__CHAN_BYTE;
    strcpy(addr->name, rest);
    return PRPC_OK;
}

static prpc_status stdio_serve(prpc__iopool *pool, const prpc__addr *addr, prpc__pconn **out,
                               prpc__err *err)
{
    (void)addr;
    return prpc__pconn_stdio(pool, out, err);
}

static prpc_status stdio_dial(prpc__iopool *pool, const prpc__addr *addr,
                              const prpc__dial_opts *opts, uint64_t deadline_ms, prpc__pconn **out,
                              prpc__err *err)
{
    (void)deadline_ms;
    if (opts != NULL && opts->argv != NULL && opts->argv[0] != NULL)
        return prpc__pconn_spawn(pool, opts->argv, out, err);
    if (addr->name[0] == '\0') {
        prpc__set_err(err, "stdio: a client needs a program to spawn (stdio:PROGRAM or argv "
                               "in the options)");
        return PRPC_ERR_INVALID_ARG;
    }
    const char *argv[] = {addr->name, NULL};
    return prpc__pconn_spawn(pool, argv, out, err);
}

const prpc__transport prpc__transport_stdio = {
    .scheme = "stdio",
    .parse = stdio_parse,
    .listen = NULL,
    .serve_one = stdio_serve,
    .dial = stdio_dial,
};
