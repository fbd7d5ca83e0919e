/* calc_server: serves calc.Calculator on the endpoints given (default
 * pipe:calculator-demo) until SIGINT or SIGTERM (Ctrl-C, Ctrl-Break or the
 * console closing on Windows), then stops gracefully. With --stop-on-eof it
 * also stops when its standard input ends, which is how a parent process
 * (a test, a supervisor) stops it cleanly without signals.
 *
 * prpc_shutdown_watch catches the signals before the server says it is
 * ready and prpc_shutdown_wait takes them in the main thread, the same code
 * on every system; no code of this program runs inside a signal handler. */
#include <stdio.h>
#include <string.h>

#include "calc_service.h"

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: calc_server [--stop-on-eof] [ENDPOINT...]   (default: pipe:calculator-demo)\n");
        return 0;
    }
    unsigned events = PRPC_SHUTDOWN_SIGNAL;
    if (argc > 1 && strcmp(argv[1], "--stop-on-eof") == 0) {
        events |= PRPC_SHUTDOWN_STDIN;
        argc--;
        argv++;
    }
    prpc_status st = prpc_shutdown_watch(events);
    if (st == PRPC_OK)
        st = calc_service_start();
    if (st != PRPC_OK) {
        fprintf(stderr, "calc_server: %s\n", prpc_strerror(st));
        return 1;
    }
    prpc_server *server = NULL;
    st = prpc_server_create(NULL, &server);
    if (st == PRPC_OK)
        st = calc_Calculator_register(server, &calc_service_ops, NULL);
    if (st != PRPC_OK) {
        fprintf(stderr, "calc_server: %s\n", prpc_strerror(st));
        prpc_server_destroy(server);
        calc_service_stop();
        return 1;
    }
    const char *fallback[] = {"pipe:calculator-demo"};
    const char *const *eps = argc > 1 ? (const char *const *)argv + 1 : fallback;
    int neps = argc > 1 ? argc - 1 : 1;
    for (int i = 0; i < neps; i++) {
        st = prpc_server_listen(server, eps[i]);
        if (st != PRPC_OK) {
            fprintf(stderr, "calc_server: cannot listen on %s: %s\n", eps[i],
                    prpc_server_error(server));
            prpc_server_destroy(server);
            calc_service_stop();
            return 1;
        }
    }
    st = prpc_server_start(server);
    if (st != PRPC_OK) {
        fprintf(stderr, "calc_server: cannot start: %s\n", prpc_server_error(server));
        prpc_server_destroy(server);
        calc_service_stop();
        return 1;
    }
    char ep[512];
    for (size_t i = 0; prpc_server_endpoint(server, i, ep, sizeof ep) == PRPC_OK; i++)
        printf("calc_server: listening on %s\n", ep);
    fflush(stdout);

    unsigned why = 0;
    prpc_shutdown_wait(PRPC_TIMEOUT_INFINITE, &why);
    printf("calc_server: %s, stopping\n",
           why & PRPC_SHUTDOWN_SIGNAL ? "shutdown signal received" : "end of input");
    fflush(stdout);
    st = prpc_server_stop(server, 2000);
    calc_service_stop(); /* answers deferred calls still waiting */
    prpc_server_destroy(server);
    return st == PRPC_OK ? 0 : 1;
}
