/* A separate echo server process for the transport tests.
 *   echo_helper stdio [MAX_MESSAGE]    serve one connection on stdin/stdout
 *   echo_helper listen ENDPOINT        serve ENDPOINT; prints "ready PORT" on
 *                                      stdout once listening; runs until killed
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "echo.h"

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    prpc__listen_opts opts;
    memset(&opts, 0, sizeof opts);
    echo_server s;
    prpc__err err = {{0}};
    if (strcmp(argv[1], "stdio") == 0) {
        if (argc > 2)
            opts.limits.max_message_size = strtoull(argv[2], NULL, 10);
        if (echo_start(&s, "stdio:", &opts, &err) != PRPC_OK) {
            fprintf(stderr, "echo_helper: %s\n", err.msg);
            return 1;
        }
        while (echo_wait_ended(&s, 1, 1000) < 1) {
        }
        echo_stop(&s);
        return 0;
    }
    if (strcmp(argv[1], "listen") == 0 && argc > 2) {
        if (echo_start(&s, argv[2], &opts, &err) != PRPC_OK) {
            fprintf(stderr, "echo_helper: %s\n", err.msg);
            return 1;
        }
        printf("ready %u\n", (unsigned)prpc__tlistener_port(s.listener));
        fflush(stdout);
        for (;;)
            pause();
    }
    return 2;
}
