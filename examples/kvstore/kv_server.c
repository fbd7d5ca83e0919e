/* kv_server: serves the kv.Store on every endpoint given, printing one line
 * per endpoint it listens on, until SIGINT or SIGTERM (Ctrl-C, Ctrl-Break
 * or the console closing on Windows), or with --stop-on-eof also until its
 * standard input ends; then it drains the calls in flight and exits 0.
 *
 * usage: kv_server [--stop-on-eof] ENDPOINT...
 *   e.g. kv_server pipe:kv 'unix:/tmp/kv.sock?mode=byte' tcp:127.0.0.1:7700
 *
 * prpc_shutdown_watch catches the signals before the server says it is
 * ready; prpc_shutdown_wait takes them in the main thread, so no code of
 * this program runs inside a signal handler, on any system. */
#include <stdio.h>
#include <string.h>

#include "kv_store.h"

/* How long a stop waits for calls in flight. */
#define KV_DRAIN_MS 5000u

int main(int argc, char **argv)
{
    unsigned events = PRPC_SHUTDOWN_SIGNAL;
    if (argc > 1 && strcmp(argv[1], "--stop-on-eof") == 0) {
        events |= PRPC_SHUTDOWN_STDIN;
        argc--;
        argv++;
    }
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: kv_server [--stop-on-eof] ENDPOINT...\n"
                "  e.g. kv_server pipe:kv 'unix:/tmp/kv.sock?mode=byte' tcp:127.0.0.1:7700\n");
        return argc < 2 ? 2 : 0;
    }
    if (prpc_shutdown_watch(events) != PRPC_OK) {
        fprintf(stderr, "kv_server: cannot catch signals\n");
        return 1;
    }

    int rc = 1;
    prpc_server *server = NULL;
    kv_store *store = kv_store_create();
    if (store == NULL) {
        fprintf(stderr, "kv_server: out of memory\n");
        return 1;
    }
    /* The store drops a connection's watches as soon as it closes. */
    prpc_server_options so = {0};
    so.on_disconnect = kv_store_on_disconnect;
    so.on_disconnect_user = store;
    prpc_status st = prpc_server_create(&so, &server);
    if (st == PRPC_OK)
        st = kv_Store_register(server, &kv_store_ops, store);
    if (st != PRPC_OK) {
        fprintf(stderr, "kv_server: %s\n", prpc_strerror(st));
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        if (prpc_server_listen(server, argv[i]) != PRPC_OK) {
            fprintf(stderr, "kv_server: cannot listen on %s: %s\n", argv[i],
                    prpc_server_error(server));
            goto out;
        }
    }
    if (prpc_server_start(server) != PRPC_OK) {
        fprintf(stderr, "kv_server: cannot start: %s\n", prpc_server_error(server));
        goto out;
    }
    char ep[512];
    for (size_t i = 0; prpc_server_endpoint(server, i, ep, sizeof ep) == PRPC_OK; i++)
        printf("kv_server: listening on %s\n", ep);
    fflush(stdout);

    unsigned why = 0;
    prpc_shutdown_wait(PRPC_TIMEOUT_INFINITE, &why);
    printf("kv_server: %s, draining\n",
           why & PRPC_SHUTDOWN_SIGNAL ? "shutdown signal received" : "end of input");
    fflush(stdout);
    st = prpc_server_stop(server, KV_DRAIN_MS);
    if (st != PRPC_OK)
        fprintf(stderr, "kv_server: stop: %s\n", prpc_strerror(st));
    else
        rc = 0;
out:
    if (server != NULL && rc != 0)
        prpc_server_stop(server, 0); /* idempotent; needed once anything listened */
    /* After the stop no handler runs: the store (and the connections its
     * watches still hold) goes before the server. */
    kv_store_destroy(store);
    prpc_server_destroy(server);
    return rc;
}
