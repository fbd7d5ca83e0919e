/* calc_server: serves calc.Calculator on the endpoints given (default
 * pipe:calculator-demo) until SIGINT or SIGTERM, then stops gracefully.
 *
 * The signals are blocked before any thread exists and taken with sigwait in
 * the main thread, so no code runs inside a signal handler. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "calc_service.h"

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: calc_server [ENDPOINT...]   (default: pipe:calculator-demo)\n");
        return 0;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* inherited by the pool threads */

    prpc_status st = calc_service_start();
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

    int sig = 0;
    sigwait(&sigs, &sig);
    printf("calc_server: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(stdout);
    st = prpc_server_stop(server, 2000);
    calc_service_stop(); /* answers deferred calls still waiting */
    prpc_server_destroy(server);
    return st == PRPC_OK ? 0 : 1;
}
