/* worker: serves work.Worker on its stdin and stdout ("stdio:"), as a child
 * process spawned by worker_parent (prpc_client_spawn). It exits when its
 * parent closes the pipes, or on SIGINT/SIGTERM (Ctrl-C on Windows). stdout
 * carries the protocol, so diagnostics go to stderr only. */
#include <stdio.h>
#include <unistd.h>

#include "work_server.h"

static bool is_prime(uint64_t n)
{
    if (n < 2)
        return false;
    if (n % 2 == 0)
        return n == 2;
    for (uint64_t d = 3; d <= n / d; d += 2)
        if (n % d == 0)
            return false;
    return true;
}

static prpc_status do_count_primes(prpc_call *call, uint64_t lo, uint64_t hi, uint64_t *result)
{
    if (hi < lo || hi - lo > work_MAX_SPAN)
        return work_Worker_count_primes_raise(call, work_Error_BAD_RANGE,
                                              "need lo <= hi and hi - lo <= 100000000");
    uint64_t n = 0;
    for (uint64_t i = lo; i < hi; i++) {
        if ((i & 0xffff) == 0 && prpc_call_cancelled(call))
            return PRPC_ERR_CANCELLED; /* the parent gave up or went away */
        n += is_prime(i);
    }
    *result = n;
    return PRPC_OK;
}

static prpc_status do_pid(prpc_call *call, uint32_t *result)
{
    (void)call;
    *result = (uint32_t)getpid();
    return PRPC_OK;
}

static const work_Worker_ops ops = {.count_primes = do_count_primes, .pid = do_pid};

/* The server reports the parent's connection closing (it closed the pipes
 * or went away); the main thread's wait then ends. */
static void on_parent_gone(void *user, prpc_conn *conn)
{
    (void)user;
    (void)conn;
    prpc_shutdown_request();
}

int main(void)
{
    prpc_server_options o = {0};
    o.threads = 1; /* one parent, one connection: one thread is plenty */
    o.on_disconnect = on_parent_gone;
    prpc_server *server = NULL;
    prpc_status st = prpc_shutdown_watch(PRPC_SHUTDOWN_SIGNAL);
    if (st == PRPC_OK)
        st = prpc_server_create(&o, &server);
    if (st == PRPC_OK)
        st = work_Worker_register(server, &ops, NULL);
    if (st == PRPC_OK && (st = prpc_server_listen(server, "stdio:")) != PRPC_OK)
        fprintf(stderr, "worker: %s\n", prpc_server_error(server));
    if (st == PRPC_OK && (st = prpc_server_start(server)) != PRPC_OK)
        fprintf(stderr, "worker: %s\n", prpc_server_error(server));
    if (st != PRPC_OK) {
        fprintf(stderr, "worker: cannot serve: %s\n", prpc_strerror(st));
        if (server != NULL)
            prpc_server_stop(server, 0);
        prpc_server_destroy(server);
        return 1;
    }
    prpc_shutdown_wait(PRPC_TIMEOUT_INFINITE, NULL);
    st = prpc_server_stop(server, 1000);
    prpc_server_destroy(server);
    return st == PRPC_OK ? 0 : 1;
}
