/* A consumer of the installed idlc and piperpc_generate(): serves the
 * generated hello.Calc interface in process and calls it through the
 * generated client stub. Exits non-zero unless 2 + 40 comes back as 42. */
#include "hello_client.h"
#include "hello_server.h"

#include <inttypes.h>
#include <stdio.h>

static prpc_status calc_add(prpc_call *call, int64_t a, int64_t b, int64_t *result)
{
    (void)call;
    *result = a + b;
    return PRPC_OK;
}

static const hello_Calc_ops calc_ops = {.add = calc_add};

int main(void)
{
    prpc_server *server = NULL;
    prpc_client *client = NULL;
    prpc_arena *arena = NULL;
    int64_t sum = 0;
    prpc_status st;
    int rc = 1;

    if ((st = prpc_server_create(NULL, &server)) != PRPC_OK ||
        (st = hello_Calc_register(server, &calc_ops, NULL)) != PRPC_OK ||
        (st = prpc_client_create_inproc(server, NULL, &client)) != PRPC_OK) {
        fprintf(stderr, "consumer_gen: set-up failed: %s\n", prpc_strerror(st));
        goto out;
    }
    arena = prpc_arena_create(0);
    if (arena == NULL) {
        fprintf(stderr, "consumer_gen: out of memory\n");
        goto out;
    }
    st = hello_Calc_add(client, 2, 40, arena, &sum);
    if (st != PRPC_OK || sum != 42) {
        fprintf(stderr, "consumer_gen: hello.Calc.add(2, 40) gave %s, %" PRId64 "\n",
                prpc_strerror(st), sum);
        goto out;
    }
    printf("generated hello.Calc.add(2, 40) = %" PRId64 "\n", sum);
    rc = 0;
out:
    prpc_arena_destroy(arena);
    prpc_client_destroy(client);
    prpc_server_destroy(server);
    return rc;
}
