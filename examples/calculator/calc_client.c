/* calc_client: connects to a calc.Calculator server and shows each kind of
 * outcome: results, an IDL error raised by the server, and a call that
 * passes its [timeout] deadline. Exit status 0 when every call behaved as
 * shown, 1 otherwise.
 *
 * usage: calc_client [ENDPOINT]   (default: pipe:calculator-demo) */
#include <inttypes.h>
#include <stdio.h>

#include "calc_client.h"

static int failures;

static void show(const char *what, prpc_status st, int64_t value, prpc_status expected)
{
    if (st == PRPC_OK) {
        printf("%-28s = %" PRId64 "\n", what, value);
    } else {
        const prpc_remote_error *e = prpc_client_last_error();
        if (st == PRPC_ERR_REMOTE)
            printf("%-28s ! error %s (%" PRId64 "): %s\n", what,
                   calc_Error_name((calc_Error)e->code) ? calc_Error_name((calc_Error)e->code) : "?",
                   e->code, e->message);
        else
            printf("%-28s ! %s: %s\n", what, prpc_status_name(st), prpc_strerror(st));
    }
    if (st != expected)
        failures++;
}

int main(int argc, char **argv)
{
    const char *endpoint = argc > 1 ? argv[1] : "pipe:calculator-demo";
    prpc_client_options o = {0};
    o.connect_timeout_ms = 5000; /* wait for a server that is still starting */
    prpc_client *c = NULL;
    prpc_status st = prpc_client_connect(endpoint, &o, &c);
    if (st != PRPC_OK) {
        fprintf(stderr, "calc_client: cannot connect to %s: %s\n", endpoint, prpc_strerror(st));
        return 1;
    }
    printf("connected to %s\n", endpoint);
    int64_t r = 0;
    st = calc_Calculator_add(c, 40, 2, NULL, &r);
    show("add(40, 2)", st, r, PRPC_OK);
    st = calc_Calculator_divide(c, 84, 2, NULL, &r);
    show("divide(84, 2)", st, r, PRPC_OK);
    st = calc_Calculator_divide(c, 1, 0, NULL, &r);
    show("divide(1, 0)", st, r, PRPC_ERR_REMOTE);
    st = calc_Calculator_add(c, INT64_MAX, 1, NULL, &r);
    show("add(INT64_MAX, 1)", st, r, PRPC_ERR_REMOTE);
    st = calc_Calculator_slow_add(c, 1, 2, 50, NULL, &r);
    show("slow_add(1, 2, 50 ms)", st, r, PRPC_OK);
    st = calc_Calculator_slow_add(c, 1, 2, 2000, NULL, &r);
    show("slow_add(1, 2, 2000 ms)", st, r, PRPC_ERR_TIMEOUT);
    /* The connection stays usable after a timeout. */
    st = calc_Calculator_add(c, 2, 3, NULL, &r);
    show("add(2, 3)", st, r, PRPC_OK);
    prpc_client_destroy(c);
    if (failures) {
        printf("%d call(s) did not behave as expected\n", failures);
        return 1;
    }
    return 0;
}
