/* prpc_server_stop_async from signal handlers: 10,000 stops sent by the
 * handler of a timer signal to servers that cycle through listen and run,
 * each of which must end exactly one run; 128 servers (more than any fixed
 * table of requests would hold) stopped at once from one handler; a request
 * made before run is kept for it. Run under TSan (label threads): the
 * handler runs on whichever thread the signal lands, pool threads
 * included. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "piperpc/piperpc.h"
#include "platform/platform.h"
#include "support/test_wait.h"

static prpc_server *make_server(void)
{
    prpc_server_options o;
    memset(&o, 0, sizeof o);
    o.threads = 1; /* the cycles below make and free a pool each */
    prpc_server *s = NULL;
    assert_int_equal(prpc_server_create(&o, &s), PRPC_OK);
    return s;
}

static void set_handler(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    assert_int_equal(sigaction(sig, &sa, NULL), 0);
}

static void block_signal(int sig, int how)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    assert_int_equal(pthread_sigmask(how, &set, NULL), 0);
}

/* ------------------------------------------------- 10,000 from a timer */

#define CYCLERS 4
#define STOPS 10000

static prpc_server *g_cyc[CYCLERS];
/* A server is armed while it waits to be stopped: set by its thread right
 * before run, taken by the handler when it sends the stop. So every stop
 * is sent to a server with no request pending, and each must end one run. */
static atomic_bool g_armed[CYCLERS];
static atomic_uint g_sent;
static atomic_uint g_next;  /* where the handler looks first */
static atomic_uint g_ended; /* runs that returned */
static atomic_uint g_cyc_done;
static atomic_uint g_bad;   /* a failed call, or a run no stop had ended */

static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    unsigned start = atomic_fetch_add(&g_next, 1);
    for (unsigned i = 0; i < CYCLERS; i++) {
        unsigned k = (start + i) % CYCLERS;
        if (atomic_exchange(&g_armed[k], false)) {
            prpc_server_stop_async(g_cyc[k]);
            atomic_fetch_add(&g_sent, 1);
            break;
        }
    }
    errno = saved;
}

static void *cycler(void *arg)
{
    unsigned k = (unsigned)(uintptr_t)arg;
    /* The timer's signal lands here and in the pool threads this thread
     * starts (they inherit its mask), not in the main thread. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    for (unsigned c = 0; c < STOPS / CYCLERS; c++) {
        if (prpc_server_listen(g_cyc[k], "tcp:127.0.0.1:0") != PRPC_OK) {
            atomic_fetch_add(&g_bad, 1);
            break;
        }
        atomic_store(&g_armed[k], true);
        prpc_status st = prpc_server_run(g_cyc[k]);
        /* Only the handler disarms, and only to send a stop. */
        if (st != PRPC_OK || atomic_load(&g_armed[k])) {
            atomic_fetch_add(&g_bad, 1);
            break;
        }
        atomic_fetch_add(&g_ended, 1);
    }
    atomic_fetch_add(&g_cyc_done, 1);
    return NULL;
}

static void test_stop_async_10000_from_a_timer_signal(void **state)
{
    (void)state;
    for (unsigned k = 0; k < CYCLERS; k++) {
        g_cyc[k] = make_server();
        atomic_store(&g_armed[k], false);
    }
    set_handler(SIGALRM, on_alarm);
    block_signal(SIGALRM, SIG_BLOCK);
    pthread_t t[CYCLERS];
    for (unsigned k = 0; k < CYCLERS; k++)
        assert_int_equal(pthread_create(&t[k], NULL, cycler, (void *)(uintptr_t)k), 0);
    struct itimerval every = {{0, 200}, {0, 200}}; /* 200 us */
    assert_int_equal(setitimer(ITIMER_REAL, &every, NULL), 0);

    TEST_WAIT_UNTIL(atomic_load(&g_cyc_done) == CYCLERS, 180000);
    unsigned done = atomic_load(&g_cyc_done);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    if (done < CYCLERS) {
        /* A stop was lost: its run still waits. */
        print_error("%u of %u stops sent, %u runs ended\n", atomic_load(&g_sent), STOPS,
                    atomic_load(&g_ended));
        fail();
    }
    for (unsigned k = 0; k < CYCLERS; k++)
        pthread_join(t[k], NULL);
    assert_int_equal(atomic_load(&g_bad), 0);
    assert_int_equal(atomic_load(&g_sent), STOPS);
    assert_int_equal(atomic_load(&g_ended), STOPS);
    for (unsigned k = 0; k < CYCLERS; k++)
        prpc_server_destroy(g_cyc[k]);
}

/* ------------------------------------------------- many servers at once */

#define MANY 128

static prpc_server *g_many[MANY];
static atomic_uint g_many_running;
static atomic_uint g_many_ended;

static void on_usr1(int sig)
{
    (void)sig;
    for (unsigned i = 0; i < MANY; i++)
        prpc_server_stop_async(g_many[i]);
}

static void *runner(void *arg)
{
    prpc_server *s = arg;
    atomic_fetch_add(&g_many_running, 1);
    if (prpc_server_run(s) == PRPC_OK)
        atomic_fetch_add(&g_many_ended, 1);
    return NULL;
}

static void test_stop_async_128_servers_at_once(void **state)
{
    (void)state;
    pthread_t t[MANY];
    for (unsigned i = 0; i < MANY; i++) {
        g_many[i] = make_server();
        assert_int_equal(prpc_server_listen(g_many[i], "tcp:127.0.0.1:0"), PRPC_OK);
        assert_int_equal(prpc_server_start(g_many[i]), PRPC_OK);
    }
    for (unsigned i = 0; i < MANY; i++)
        assert_int_equal(pthread_create(&t[i], NULL, runner, g_many[i]), 0);
    TEST_WAIT_UNTIL(atomic_load(&g_many_running) == MANY, 60000);
    assert_int_equal(atomic_load(&g_many_running), MANY);

    set_handler(SIGUSR1, on_usr1);
    assert_int_equal(raise(SIGUSR1), 0); /* the handler stops all of them */
    TEST_WAIT_UNTIL(atomic_load(&g_many_ended) == MANY, 60000);
    unsigned ended = atomic_load(&g_many_ended);
    if (ended < MANY) {
        print_error("%u of %u servers stopped\n", ended, MANY);
        for (unsigned i = 0; i < MANY; i++)
            prpc_server_stop(g_many[i], 0); /* frees the runs still waiting */
    }
    for (unsigned i = 0; i < MANY; i++) {
        pthread_join(t[i], NULL);
        prpc_server_destroy(g_many[i]);
    }
    assert_int_equal(ended, MANY);
}

/* ----------------------------------------------------------- kept for run */

static void test_stop_async_before_run_is_kept(void **state)
{
    (void)state;
    prpc_server *s = make_server();
    prpc_server_stop_async(s); /* before anything listens */
    assert_int_equal(prpc_server_listen(s, "tcp:127.0.0.1:0"), PRPC_OK);
    assert_int_equal(prpc_server_run(s), PRPC_OK); /* returns at once */
    /* The request was met: the next cycle serves until the next one. */
    char ep[64];
    assert_int_equal(prpc_server_endpoint(s, 0, ep, sizeof ep), PRPC_ERR_INVALID_ARG);
    assert_int_equal(prpc_server_listen(s, "tcp:127.0.0.1:0"), PRPC_OK);
    assert_int_equal(prpc_server_start(s), PRPC_OK);
    assert_int_equal(prpc_server_endpoint(s, 0, ep, sizeof ep), PRPC_OK);
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_connect(ep, NULL, &c), PRPC_OK);
    assert_int_equal(prpc_client_ping(c, 5000), PRPC_OK);
    prpc_client_destroy(c);
    prpc_server_stop_async(s);
    assert_int_equal(prpc_server_run(s), PRPC_OK);
    prpc_server_stop_async(NULL); /* accepted, does nothing */
    prpc_server_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_async_before_run_is_kept),
        cmocka_unit_test(test_stop_async_128_servers_at_once),
        cmocka_unit_test(test_stop_async_10000_from_a_timer_signal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
