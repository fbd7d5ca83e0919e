/* kv_watch: the events example. Watches a key prefix on a kv.Store server
 * and prints every change (kv.Store.changed events) as other clients write,
 * until SIGINT/SIGTERM (Ctrl-C on Windows), until --count events arrived,
 * or until --timeout.
 *
 * usage: kv_watch [--count N] [--timeout MS] ENDPOINT [PREFIX]
 * Prints "watching PREFIX" once the watch is in place, then one line
 * "changed KEY version N" per event. Exit status: 0 on a signal, after
 * --count events, or at --timeout when no --count was given; 1 when the
 * server refused the watch; 2 usage error; 3 no connection, the connection
 * lost, or --timeout passed before --count events arrived. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kv_client.h"
#include "piperpc/server.h" /* prpc_shutdown_watch and _wait */

static atomic_ulong events_seen;

/* Runs on the client's receive thread, one event at a time. */
static void on_changed(void *user, const char *key, uint64_t version)
{
    (void)user;
    printf("changed %s version %" PRIu64 "\n", key, version);
    fflush(stdout);
    atomic_fetch_add(&events_seen, 1);
}

static int usage(void)
{
    fprintf(stderr, "usage: kv_watch [--count N] [--timeout MS] ENDPOINT [PREFIX]\n");
    return 2;
}

static int parse_ulong(const char *s, unsigned long *out)
{
    char *end;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' && s[0] != '-' ? 0 : -1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int main(int argc, char **argv)
{
    unsigned long want = 0, timeout_ms = 0; /* 0: no bound */
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc)
            return usage();
        unsigned long *dst = strcmp(argv[i], "--count") == 0     ? &want
                             : strcmp(argv[i], "--timeout") == 0 ? &timeout_ms
                                                                 : NULL;
        if (dst == NULL || parse_ulong(argv[i + 1], dst) != 0)
            return usage();
    }
    if (argc - i < 1 || argc - i > 2)
        return usage();
    const char *endpoint = argv[i];
    const char *prefix = argc - i == 2 ? argv[i + 1] : "";

    /* Ctrl-C is taken by the wait in the loop below, never by a handler of
     * this program. */
    if (prpc_shutdown_watch(PRPC_SHUTDOWN_SIGNAL) != PRPC_OK) {
        fprintf(stderr, "kv_watch: cannot catch signals\n");
        return 3;
    }

    prpc_client_options o = {0};
    o.connect_timeout_ms = 2000;
    o.keepalive_ms = 1000; /* notice a server that went away within ~2 s */
    o.keepalive_timeout_ms = 1000;
    prpc_client *c = NULL;
    prpc_status st = prpc_client_connect(endpoint, &o, &c);
    if (st != PRPC_OK) {
        fprintf(stderr, "kv_watch: cannot connect to %s: %s\n", endpoint, prpc_strerror(st));
        return st == PRPC_ERR_INVALID_ARG || st == PRPC_ERR_NOT_SUPPORTED ? 2 : 3;
    }
    /* The handler first, then the watch: no event can slip in between. */
    bool ok = false;
    st = kv_Store_on_changed(c, on_changed, NULL);
    if (st == PRPC_OK)
        st = kv_Store_watch(c, prefix, NULL, &ok);
    if (st != PRPC_OK) {
        fprintf(stderr, "kv_watch: %s\n", prpc_strerror(st));
        prpc_client_destroy(c);
        return st == PRPC_ERR_REMOTE ? 1 : 3;
    }
    printf("watching %s\n", prefix);
    fflush(stdout);

    int rc = 0;
    uint64_t start = now_ms(), last_ping = start;
    for (;;) {
        if (want && atomic_load(&events_seen) >= want)
            break;
        if (timeout_ms && now_ms() - start >= timeout_ms) {
            rc = want ? 3 : 0; /* --count not reached in time */
            break;
        }
        if (prpc_shutdown_wait(50, NULL) == PRPC_OK)
            break; /* SIGINT or SIGTERM: a normal end */
        /* A server that went away: a ping each second finds out. */
        if (now_ms() - last_ping < 1000)
            continue;
        last_ping = now_ms();
        if (prpc_client_ping(c, 2000) != PRPC_OK) {
            fprintf(stderr, "kv_watch: the server went away\n");
            rc = 3;
            break;
        }
    }
    prpc_client_destroy(c);
    return rc;
}
