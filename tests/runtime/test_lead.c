/* The socket client's leader receive: synchronous callers read their own
 * replies while the background receiver takes asynchronous replies and
 * events. Several threads calling at once with asynchronous calls and
 * events mixed in (no reply lost, mismatched or stuck, events in order); a
 * leader's call cancelled, timed out or failed by destroy frees its thread
 * promptly; a server that goes away fails a waiting leader. Run under TSan
 * (label threads) for the hand-over of the receiver role. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform/platform.h"
#include "rt_service.h"
#include "support/test_wait.h"

static prpc_server *g_server;
static char g_ep[256];


static int setup(void **state)
{
    (void)state;
    prpc_server_options o;
    memset(&o, 0, sizeof o);
    o.threads = 4;
    if (prpc_server_create(&o, &g_server) != PRPC_OK || rt_register(g_server) != PRPC_OK)
        return -1;
    snprintf(g_ep, sizeof g_ep, "unix:/tmp/prpc-lead-%d", (int)getpid());
    if (prpc_server_listen(g_server, g_ep) != PRPC_OK || prpc_server_start(g_server) != PRPC_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (g_server != NULL) {
        prpc_server_stop(g_server, 1000);
        prpc_server_destroy(g_server);
    }
    g_server = NULL;
    return 0;
}

static prpc_client *connect_client(void)
{
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_connect(g_ep, NULL, &c), PRPC_OK);
    return c;
}

/* ------------------------------------------------ many threads, mixed */

typedef struct worker {
    prpc_client *c;
    int64_t base;
    int failures;
} worker;

#define CALLS_PER_THREAD 400
#define NTHREADS 4

static void *sync_worker(void *arg)
{
    worker *w = arg;
    for (int64_t i = 0; i < CALLS_PER_THREAD; i++) {
        int64_t sum = -1;
        if (rt_add(w->c, w->base, i, &sum) != PRPC_OK || sum != w->base + i)
            w->failures++;
    }
    return NULL;
}

static atomic_int async_done, async_bad;

static void on_release_or_sleep(const prpc_async_result *r)
{
    if (r->status != PRPC_OK)
        atomic_fetch_add(&async_bad, 1);
    atomic_fetch_add(&async_done, 1);
}

static void enc_u32(prpc_encoder *e, const void *v)
{
    prpc_enc_uint(e, *(const uint32_t *)v);
}

static void dec_u32(prpc_decoder *d, void *v)
{
    prpc_dec_u32(d, v);
}

static atomic_int ticks, ticks_out_of_order;
static atomic_uint last_tick;

static prpc_status on_tick(const prpc_event_delivery *d)
{
    uint32_t n = 0;
    prpc_dec_u32(d->params, &n);
    if (n != atomic_load(&last_tick) + 1)
        atomic_fetch_add(&ticks_out_of_order, 1);
    atomic_store(&last_tick, n);
    atomic_fetch_add(&ticks, 1);
    return prpc_dec_status(d->params);
}

static void run_mixed(bool with_events)
{
    prpc_client *c = connect_client();
    atomic_store(&async_done, 0);
    atomic_store(&async_bad, 0);
    atomic_store(&ticks, 0);
    atomic_store(&ticks_out_of_order, 0);
    atomic_store(&last_tick, 0);
    if (with_events) {
        assert_int_equal(prpc_client_on_event(c, &rt_tick_event, on_tick, NULL, NULL), PRPC_OK);
        /* The subscription is a notification: a round trip makes sure the
         * server has it before the first broadcast. */
        assert_int_equal(prpc_client_ping(c, 5000), PRPC_OK);
    }
    worker w[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){c, (int64_t)(i + 1) * 1000000, 0};
        assert_int_equal(pthread_create(&th[i], NULL, sync_worker, &w[i]), 0);
    }
    /* Asynchronous calls and events while the synchronous callers lead. */
    int nasync = 0;
    for (uint32_t k = 1; k <= 100; k++) {
        uint32_t ms = k % 3;
        if (prpc_client_call_async(c, &rt_methods[RT_SLEEP], enc_u32, &ms, on_release_or_sleep,
                                   NULL, NULL, NULL, NULL) == PRPC_OK)
            nasync++;
        if (with_events)
            assert_int_equal(prpc_server_broadcast(g_server, &rt_tick_event, enc_u32, &k, NULL),
                             PRPC_OK);
        if (k % 10 == 0)
            prpc__sleep_ms(1);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    uint64_t until = prpc__now_ms() + 10000;
    while ((atomic_load(&async_done) < nasync || (with_events && atomic_load(&ticks) < 100)) &&
           prpc__now_ms() < until)
        prpc__sleep_ms(5);
    assert_int_equal(nasync, 100);
    assert_int_equal(atomic_load(&async_done), nasync);
    assert_int_equal(atomic_load(&async_bad), 0);
    if (with_events) {
        assert_int_equal(atomic_load(&ticks), 100);
        assert_int_equal(atomic_load(&ticks_out_of_order), 0);
    }
    /* Only synchronous calls again: they still work after the mix. */
    int64_t sum = 0;
    for (int i = 0; i < 50; i++) {
        assert_int_equal(rt_add(c, i, 1, &sum), PRPC_OK);
        assert_int_equal(sum, i + 1);
    }
    prpc_client_stats st;
    prpc_client_get_stats(c, &st);
    assert_int_equal(st.pending, 0);
    prpc_client_destroy(c);
}

static void test_mixed_sync_async(void **state)
{
    (void)state;
    run_mixed(false);
}

static void test_mixed_with_events(void **state)
{
    (void)state;
    run_mixed(true);
}

/* ---------------------------------------- a leader's call ends early */

typedef struct sleeper {
    prpc_client *c;
    uint32_t ms;
    uint32_t timeout_ms;
    prpc_call_id id;
    atomic_bool has_id;
    prpc_status st;
    uint64_t took;
} sleeper;

static void *sleep_call(void *arg)
{
    sleeper *s = arg;
    uint32_t out = 0;
    prpc_call_options o = {s->timeout_ms, &s->id};
    uint64_t t0 = prpc__now_ms();
    /* id_out is written before the request goes out. */
    atomic_store(&s->has_id, true);
    s->st = prpc_client_call(s->c, &rt_methods[RT_SLEEP], enc_u32, &s->ms, dec_u32, &out, NULL,
                             &o);
    s->took = prpc__now_ms() - t0;
    return NULL;
}

/* A lone synchronous caller is the leader, blocked reading; cancelling its
 * call from another thread frees it within the leader's read slice. */
static void test_cancel_leader(void **state)
{
    (void)state;
    prpc_client *c = connect_client();
    sleeper s = {.c = c, .ms = 3000, .timeout_ms = 20000};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, sleep_call, &s), 0);
    /* The server runs the call: its request went out, and the caller leads. */
    TEST_WAIT_UNTIL(rt_sleeping() == 1, TEST_WAIT_MS);
    assert_int_equal(rt_sleeping(), 1);
    /* The id is written in the calling thread with no ordering this thread
     * could see, so cancel by what it must be: call ids count from 1, and
     * the connect's check is made before the client exists (it takes no
     * id). Checked after the join. */
    assert_true(atomic_load(&s.has_id));
    assert_int_equal(prpc_client_cancel(c, 1), PRPC_OK);
    pthread_join(th, NULL);
    assert_int_equal(s.id, 1);
    assert_int_equal(s.st, PRPC_ERR_CANCELLED);
    assert_true(s.took < 1500);
    /* The late reply (or the server's cancellation error) is dropped; the
     * connection carries on. */
    int64_t sum = 0;
    assert_int_equal(rt_add(c, 2, 3, &sum), PRPC_OK);
    assert_int_equal(sum, 5);
    prpc_client_destroy(c);
}

/* A leader's deadline passes while it reads: PRPC_ERR_TIMEOUT on time, and
 * the next call is not confused by the late reply. */
static void test_leader_timeout(void **state)
{
    (void)state;
    prpc_client *c = connect_client();
    sleeper s = {.c = c, .ms = 600, .timeout_ms = 150};
    sleep_call(&s);
    assert_int_equal(s.st, PRPC_ERR_TIMEOUT);
    assert_true(s.took >= 140 && s.took < 1000);
    for (int i = 0; i < 20; i++) {
        int64_t sum = 0;
        assert_int_equal(rt_add(c, i, i, &sum), PRPC_OK);
        assert_int_equal(sum, 2 * i);
    }
    prpc_client_destroy(c);
}

/* Callers wait while one leads: two held calls (one leads, one waits) and
 * a third call that releases them. Every reply reaches its caller, whoever
 * reads it, and the receiver role passes on as each one leaves. */
static void *hold_call(void *arg)
{
    sleeper *s = arg;
    uint64_t t0 = prpc__now_ms();
    prpc_call_options o = {s->timeout_ms, NULL};
    s->st = prpc_client_call(s->c, &rt_methods[RT_HOLD], NULL, NULL, NULL, NULL, NULL, &o);
    s->took = prpc__now_ms() - t0;
    return NULL;
}

static void test_waiters_and_leader(void **state)
{
    (void)state;
    prpc_client *c = connect_client();
    for (int round = 0; round < 20; round++) {
        sleeper a = {.c = c, .timeout_ms = 10000};
        sleeper b = {.c = c, .timeout_ms = 10000};
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, hold_call, &a), 0);
        assert_int_equal(pthread_create(&tb, NULL, hold_call, &b), 0);
        /* Both held at the server before the release. */
        uint64_t until = prpc__now_ms() + 5000;
        prpc_client_stats cs;
        do {
            prpc__sleep_ms(2);
            prpc_client_get_stats(c, &cs);
        } while (cs.pending < 2 && prpc__now_ms() < until);
        prpc__sleep_ms(5);
        /* A hold that reached the server after a release is freed by the
         * next one. */
        uint32_t total = 0;
        until = prpc__now_ms() + 5000;
        while (total < 2 && prpc__now_ms() < until) {
            uint32_t n = 0;
            assert_int_equal(rt_release(c, &n), PRPC_OK);
            total += n;
            if (total < 2)
                prpc__sleep_ms(5);
        }
        assert_int_equal(total, 2);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        assert_int_equal(a.st, PRPC_OK);
        assert_int_equal(b.st, PRPC_OK);
    }
    prpc_client_destroy(c);
}

/* destroy while a leader reads: its call fails with PRPC_ERR_CLOSED at
 * once, and destroy returns. */
static void test_destroy_under_leader(void **state)
{
    (void)state;
    prpc_client *c = connect_client();
    sleeper s = {.c = c, .ms = 3000, .timeout_ms = 20000};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, sleep_call, &s), 0);
    TEST_WAIT_UNTIL(rt_sleeping() == 1, TEST_WAIT_MS); /* the caller leads */
    assert_int_equal(rt_sleeping(), 1);
    uint64_t t0 = prpc__now_ms();
    prpc_client_destroy(c);
    pthread_join(th, NULL);
    assert_int_equal(s.st, PRPC_ERR_CLOSED);
    assert_true(prpc__now_ms() - t0 < 1500);
}

/* The server goes away while a leader waits for its reply. */
static void test_server_gone_under_leader(void **state)
{
    (void)state;
    prpc_client *c = connect_client();
    sleeper s = {.c = c, .ms = 3000, .timeout_ms = 20000};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, sleep_call, &s), 0);
    TEST_WAIT_UNTIL(rt_sleeping() == 1, TEST_WAIT_MS); /* the caller leads */
    assert_int_equal(rt_sleeping(), 1);
    prpc_server_stop(g_server, 0);
    prpc_server_destroy(g_server);
    g_server = NULL;
    pthread_join(th, NULL);
    assert_int_not_equal(s.st, PRPC_OK);
    assert_true(s.took < 5000);
    int64_t sum;
    assert_int_not_equal(rt_add(c, 1, 1, &sum), PRPC_OK);
    prpc_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mixed_sync_async, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mixed_with_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leader_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiters_and_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_under_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_gone_under_leader, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
