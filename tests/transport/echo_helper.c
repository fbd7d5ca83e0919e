/* A separate echo server process for the transport tests.
 *   echo_helper stdio [MAX_MESSAGE]    serve one connection on stdin/stdout
 *   echo_helper listen ENDPOINT        serve ENDPOINT; prints "ready PORT" on
 *                                      stdout once listening; runs until killed
 *   echo_helper client ENDPOINT N      open N connections, print "x", then echo
 *                                      once on each; exit 0 if all answered
 * It builds on every system (the stdio: conformance tests spawn it on
 * Windows too); what differs lives in support/test_os.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "echo.h"
#include "support/test_os.h"

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
            prpc__sleep_ms(1000); /* until killed */
    }
    if (strcmp(argv[1], "client") == 0 && argc > 3) {
        /* A parent that lowered its descriptor limit passed it on. */
        test_os_raise_handle_limit();
        int n = atoi(argv[3]);
        prpc__tconn *cs[64];
        if (n < 1 || n > 64)
            return 2;
        prpc__dial_opts o;
        memset(&o, 0, sizeof o);
        o.connect_timeout_ms = 5000;
        for (int i = 0; i < n; i++)
            if (prpc__tdial(NULL, argv[2], &o, &cs[i], &err) != PRPC_OK)
                return 3;
        printf("x");
        fflush(stdout);
        for (int i = 0; i < n; i++) {
            uint8_t *m = make_msg(10 + (size_t)i, (unsigned)i);
            const uint8_t *r;
            size_t rlen;
            if (prpc__tconn_send(cs[i], m, 10 + (size_t)i) != PRPC_OK ||
                prpc__tconn_recv_sync(cs[i], prpc__now_ms() + 10000, &r, &rlen) != PRPC_OK ||
                !check_msg(r, rlen, (unsigned)i))
                return 4;
            free(m);
            prpc__tconn_destroy(cs[i]);
        }
        return 0;
    }
    return 2;
}
