/* The server process of the runtime tests: serves rt.Echo on the endpoints
 * given, with limits from the command line, until SIGTERM or SIGINT (whose
 * handler calls the async-signal-safe prpc_server_stop_async).
 *
 * usage: rt_server [--threads N] [--max-conn N] [--max-inflight N]
 *                  [--max-msg BYTES] [--depth N] [--handshake MS] [--idle MS]
 *                  [--drain MS] [--ready-fd FD] [--exec-log PATH] ENDPOINT...
 * Once listening it writes "READY <bound endpoint>...\n" to the ready
 * descriptor (default stderr). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rt_service.h"

static prpc_server *g_server;

static void on_signal(int sig)
{
    (void)sig;
    prpc_server_stop_async(g_server);
}

static void log_fn(void *user, prpc_log_level level, const char *msg)
{
    (void)user;
    if (level <= PRPC_LOG_WARN)
        fprintf(stderr, "rt_server: %s\n", msg);
}

int main(int argc, char **argv)
{
    rt_install_counting_allocator();
    prpc_server_options o;
    memset(&o, 0, sizeof o);
    int ready_fd = 2;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        unsigned long v = strtoul(argv[i + 1], NULL, 0);
        if (strcmp(argv[i], "--threads") == 0)
            o.threads = (uint32_t)v;
        else if (strcmp(argv[i], "--max-conn") == 0)
            o.max_connections = (uint32_t)v;
        else if (strcmp(argv[i], "--max-inflight") == 0)
            o.max_inflight = (uint32_t)v;
        else if (strcmp(argv[i], "--max-msg") == 0)
            o.limits.max_message_size = v;
        else if (strcmp(argv[i], "--depth") == 0)
            o.limits.max_depth = (uint32_t)v;
        else if (strcmp(argv[i], "--handshake") == 0)
            o.handshake_timeout_ms = (uint32_t)v;
        else if (strcmp(argv[i], "--idle") == 0)
            o.idle_timeout_ms = (uint32_t)v;
        else if (strcmp(argv[i], "--drain") == 0)
            o.drain_timeout_ms = (uint32_t)v;
        else if (strcmp(argv[i], "--ready-fd") == 0)
            ready_fd = (int)v;
        else if (strcmp(argv[i], "--exec-log") == 0)
            rt_set_exec_log(argv[i + 1]);
        else {
            fprintf(stderr, "rt_server: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: rt_server [options] ENDPOINT...\n");
        return 2;
    }
    /* Room for the 1,000-connection test. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
        rl.rlim_cur = 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    o.log = log_fn;
    o.log_level = PRPC_LOG_WARN;
    prpc_set_log(log_fn, NULL, PRPC_LOG_WARN);
    prpc_status st = prpc_server_create(&o, &g_server);
    if (st == PRPC_OK)
        st = rt_register(g_server);
    for (int k = i; k < argc && st == PRPC_OK; k++) {
        st = prpc_server_listen(g_server, argv[k]);
        if (st != PRPC_OK)
            fprintf(stderr, "rt_server: %s (%s)\n", prpc_server_error(g_server),
                    prpc_strerror(st));
    }
    if (st != PRPC_OK) {
        prpc_server_destroy(g_server);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char line[4096];
    size_t n = (size_t)snprintf(line, sizeof line, "READY");
    for (int k = 0; k < argc - i; k++) {
        char ep[1100];
        if (prpc_server_endpoint(g_server, (size_t)k, ep, sizeof ep) == PRPC_OK)
            n += (size_t)snprintf(line + n, sizeof line - n, " %s", ep);
    }
    snprintf(line + n, sizeof line - n, "\n");
    /* Start before announcing, so a client that reads READY finds a
     * server that accepts; run then waits for the signal. */
    st = prpc_server_start(g_server);
    if (st != PRPC_OK) {
        fprintf(stderr, "rt_server: start: %s\n", prpc_strerror(st));
        return 1;
    }
    if (write(ready_fd, line, strlen(line)) < 0)
        return 1;
    if (ready_fd != 2)
        close(ready_fd);
    st = prpc_server_run(g_server); /* returns after SIGTERM and the drain */
    prpc_server_destroy(g_server);
    return st == PRPC_OK ? 0 : 1;
}
