/* Reconnect, embed-mode keepalive and synchronous calls from the client's
 * own callbacks, against real server processes (rt_server) on pipe:
 * endpoints. The server is killed with SIGKILL mid-call and started again
 * on the same endpoint; work and work_idem append their tag to an
 * execution log shared by both server processes, so a test sees exactly
 * how often each call ran. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rt_proc.h"
#include "platform/platform.h"
#include "rt_service.h"
#include "support/test_wait.h"

/* ---------------------------------------------------------------- helpers */

static pid_t g_server;
static char g_log[128];

static int teardown(void **state)
{
    (void)state;
    if (g_server > 0) {
        kill(g_server, SIGCONT);
        kill(g_server, SIGKILL);
        rt_wait(g_server, 5000);
    }
    g_server = 0;
    if (g_log[0] != '\0')
        unlink(g_log);
    g_log[0] = '\0';
    return 0;
}


/* Starts rt_server on ep with the execution log of the test. */
static pid_t start_server(const char *ep)
{
    const char *opts[] = {"--threads", "4", "--exec-log", g_log, NULL};
    char bound[512];
    pid_t pid = rt_server_start(opts, ep, bound, sizeof bound);
    assert_true(pid > 0);
    return pid;
}

/* A unique endpoint and execution log for one test; starts the server. */
static void begin_test(const char *tag, char *ep, size_t size)
{
    rt_endpoint(ep, size, "pipe:", tag);
    snprintf(g_log, sizeof g_log, "/tmp/prpc-rc-%s-%d.log", tag, (int)getpid());
    unlink(g_log);
    g_server = start_server(ep);
}

static void kill_server(void)
{
    kill(g_server, SIGKILL);
    waitpid(g_server, NULL, 0);
    g_server = 0;
}

/* How many times the log shows tag. */
static int runs(uint32_t tag)
{
    FILE *f = fopen(g_log, "r");
    if (f == NULL)
        return 0;
    int n = 0;
    unsigned v;
    while (fscanf(f, "%u", &v) == 1)
        if (v == tag)
            n++;
    fclose(f);
    return n;
}

/* Waits until tag ran n times (the handler started); false after 5 s. */
static bool wait_runs(uint32_t tag, int n)
{
    for (int i = 0; i < 500; i++) {
        if (runs(tag) >= n)
            return true;
        prpc__sleep_ms(10);
    }
    return false;
}

static void enc_work(prpc_encoder *e, const void *v)
{
    const uint32_t *a = v;
    prpc_enc_uint(e, a[0]);
    prpc_enc_uint(e, a[1]);
}

static void dec_u32(prpc_decoder *d, void *v)
{
    prpc_dec_u32(d, v);
}

static void enc_u32(prpc_encoder *e, const void *v)
{
    prpc_enc_uint(e, *(const uint32_t *)v);
}

/* The client's reconnect attempts so far. */
static uint64_t attempts(prpc_client *c)
{
    prpc_client_stats st;
    prpc_client_get_stats(c, &st);
    return st.reconnect_attempts;
}

/* Reads the client's stats into st: true once `pending` calls are pending
 * and at least `tries` reconnect attempts were made. */
static bool stats_show(prpc_client *c, prpc_client_stats *st, uint32_t pending, uint64_t tries)
{
    prpc_client_get_stats(c, st);
    return st->pending == pending && st->reconnect_attempts >= tries;
}

/* The state changes a client reported, in order. */
typedef struct states {
    pthread_mutex_t mu;
    int n;
    prpc_client_state seen[16];
    prpc_status why[16];
    uint64_t at[16];
} states;

static void on_state(void *user, prpc_client *client, prpc_client_state state, prpc_status why)
{
    (void)client;
    states *s = user;
    pthread_mutex_lock(&s->mu);
    if (s->n < 16) {
        s->seen[s->n] = state;
        s->why[s->n] = why;
        s->at[s->n] = prpc__now_ms();
        s->n++;
    }
    pthread_mutex_unlock(&s->mu);
}

/* Waits until the n-th reported state (from 0) is there; returns when it
 * came, or 0 after timeout_ms. */
static uint64_t wait_state(states *s, int n, prpc_client_state want, int timeout_ms)
{
    for (int i = 0; i < timeout_ms / 5; i++) {
        pthread_mutex_lock(&s->mu);
        uint64_t at = s->n > n && s->seen[n] == want ? s->at[n] : 0;
        pthread_mutex_unlock(&s->mu);
        if (at != 0)
            return at;
        prpc__sleep_ms(5);
    }
    return 0;
}

static prpc_client *connect_reconnecting(const char *ep, states *s, uint32_t min_ms,
                                         uint32_t max_ms)
{
    prpc_client_options o;
    memset(&o, 0, sizeof o);
    o.connect_timeout_ms = 5000;
    o.reconnect = true;
    o.reconnect_min_ms = min_ms;
    o.reconnect_max_ms = max_ms;
    o.on_state = on_state;
    o.on_state_user = s;
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_connect(ep, &o, &c), PRPC_OK);
    return c;
}

/* A synchronous call of work or work_idem in a thread of its own. */
typedef struct worker {
    prpc_client *c;
    int method;
    uint32_t args[2]; /* ms, tag */
    uint32_t timeout_ms;
    prpc_status st;
    uint32_t out;
    uint64_t took;
    pthread_t th;
} worker;

static void *work_main(void *arg)
{
    worker *w = arg;
    prpc_call_options o = {w->timeout_ms, NULL};
    uint64_t t0 = prpc__now_ms();
    w->st = prpc_client_call(w->c, &rt_methods[w->method], enc_work, w->args, dec_u32, &w->out,
                             NULL, &o);
    w->took = prpc__now_ms() - t0;
    return NULL;
}

static void work_start(worker *w, prpc_client *c, int method, uint32_t ms, uint32_t tag,
                       uint32_t timeout_ms)
{
    memset(w, 0, sizeof *w);
    w->c = c;
    w->method = method;
    w->args[0] = ms;
    w->args[1] = tag;
    w->timeout_ms = timeout_ms;
    assert_int_equal(pthread_create(&w->th, NULL, work_main, w), 0);
}

/* An asynchronous call's outcome. */
typedef struct outcome {
    atomic_int done;
    atomic_int status;
    atomic_uint value;
} outcome;

static void outcome_done(const prpc_async_result *r)
{
    outcome *o = r->user;
    uint32_t v = 0;
    if (r->status == PRPC_OK)
        prpc_dec_u32(r->result, &v);
    atomic_store(&o->value, v);
    atomic_store(&o->status, r->status);
    atomic_store(&o->done, 1);
}

static bool wait_done(outcome *o, int timeout_ms)
{
    for (int i = 0; i < timeout_ms / 5 && !atomic_load(&o->done); i++)
        prpc__sleep_ms(5);
    return atomic_load(&o->done) != 0;
}

/* ------------------------------------------------------------- reconnect */

/* The server dies with calls in flight and comes back on the same
 * endpoint: the idempotent calls (sync and async) are sent again and
 * succeed, each having run once on each server; the non-idempotent ones
 * fail at once with PRPC_ERR_DISCONNECTED and never run again. */
static void test_reconnect_resends_only_idempotent(void **state)
{
    (void)state;
    char ep[256];
    begin_test("resend", ep, sizeof ep);
    states s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    prpc_client *c = connect_reconnecting(ep, &s, 20, 200);

    worker idem, plain;
    work_start(&idem, c, RT_WORK_IDEM, 600, 1, 15000);
    work_start(&plain, c, RT_WORK, 600, 2, 15000);
    outcome aidem = {0}, aplain = {0};
    uint32_t a1[2] = {600, 3}, a2[2] = {600, 4};
    prpc_call_options co = {15000, NULL};
    assert_int_equal(prpc_client_call_async(c, &rt_methods[RT_WORK_IDEM], enc_work, a1,
                                            outcome_done, NULL, &aidem, &co, NULL),
                     PRPC_OK);
    assert_int_equal(prpc_client_call_async(c, &rt_methods[RT_WORK], enc_work, a2, outcome_done,
                                            NULL, &aplain, &co, NULL),
                     PRPC_OK);
    /* Every call is running on the first server: kill it mid-call. */
    for (uint32_t tag = 1; tag <= 4; tag++)
        assert_true(wait_runs(tag, 1));
    uint64_t killed = prpc__now_ms();
    kill_server();

    /* The calls that may have run fail at once, without waiting for the
     * new server. */
    pthread_join(plain.th, NULL);
    assert_int_equal(plain.st, PRPC_ERR_DISCONNECTED);
    assert_true(wait_done(&aplain, 3000));
    assert_int_equal(atomic_load(&aplain.status), PRPC_ERR_DISCONNECTED);
    assert_true(prpc__now_ms() - killed < 3000);
    assert_true(wait_state(&s, 0, PRPC_CLIENT_RECONNECTING, 3000) != 0);

    /* Down until the client has tried and failed at least once (a second
     * attempt starts only after the first one failed), then back. */
    TEST_WAIT_UNTIL(attempts(c) >= 2, TEST_WAIT_MS);
    assert_true(attempts(c) >= 2);
    g_server = start_server(ep);
    pthread_join(idem.th, NULL);
    assert_int_equal(idem.st, PRPC_OK);
    assert_int_equal(idem.out, 1);
    assert_true(wait_done(&aidem, 10000));
    assert_int_equal(atomic_load(&aidem.status), PRPC_OK);
    assert_int_equal(atomic_load(&aidem.value), 3);
    assert_true(wait_state(&s, 1, PRPC_CLIENT_CONNECTED, 3000) != 0);

    /* The new connection serves any call. */
    uint32_t args[2] = {0, 5}, out = 0;
    assert_int_equal(prpc_client_call(c, &rt_methods[RT_WORK], enc_work, args, dec_u32, &out,
                                      NULL, NULL),
                     PRPC_OK);
    assert_int_equal(out, 5);

    assert_int_equal(runs(1), 2);
    assert_int_equal(runs(3), 2);
    assert_int_equal(runs(2), 1);
    assert_int_equal(runs(4), 1);
    prpc_client_stats st;
    prpc_client_get_stats(c, &st);
    assert_int_equal(st.reconnects, 1);
    assert_true(st.reconnect_attempts >= 2);
    assert_int_equal(st.pending, 0);
    pthread_mutex_lock(&s.mu);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.why[1], PRPC_OK);
    pthread_mutex_unlock(&s.mu);
    prpc_client_destroy(c);
}

/* While the connection is down: a non-idempotent call and a notification
 * fail at once with PRPC_ERR_UNAVAILABLE (never sent); an idempotent call
 * waits for the connection, within its deadline. Attempts follow the
 * backoff: about min, doubling up to max, never faster. */
static void test_reconnect_while_down(void **state)
{
    (void)state;
    char ep[256];
    begin_test("down", ep, sizeof ep);
    states s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    prpc_client *c = connect_reconnecting(ep, &s, 40, 160);
    kill_server();
    uint64_t down_at = wait_state(&s, 0, PRPC_CLIENT_RECONNECTING, 5000);
    assert_true(down_at != 0);

    uint32_t args[2] = {0, 7}, out = 0;
    uint64_t t0 = prpc__now_ms();
    assert_int_equal(prpc_client_call(c, &rt_methods[RT_WORK], enc_work, args, dec_u32, &out,
                                      NULL, NULL),
                     PRPC_ERR_UNAVAILABLE);
    assert_int_equal(prpc_client_last_error()->code, PRPC_ERR_UNAVAILABLE);
    uint32_t n = 1;
    assert_int_equal(prpc_client_notify(c, &rt_methods[RT_EMIT], enc_u32, &n),
                     PRPC_ERR_UNAVAILABLE);
    assert_true(prpc__now_ms() - t0 < 500);

    /* Waits, and times out on its own deadline. */
    prpc_call_options o = {300, NULL};
    t0 = prpc__now_ms();
    assert_int_equal(prpc_client_call(c, &rt_methods[RT_WORK_IDEM], enc_work, args, dec_u32,
                                      &out, NULL, &o),
                     PRPC_ERR_TIMEOUT);
    uint64_t took = prpc__now_ms() - t0;
    assert_true(took >= 290 && took < 2000);

    /* Waits, and succeeds once the server is back: the call is kept
     * (pending) while the client goes on trying. */
    worker w;
    work_start(&w, c, RT_WORK_IDEM, 0, 8, 15000);
    prpc_client_stats st;
    TEST_WAIT_UNTIL(stats_show(c, &st, 1, 3), TEST_WAIT_MS);
    uint64_t down_for = prpc__now_ms() - down_at;
    assert_int_equal(st.pending, 1);
    assert_true(st.reconnect_attempts >= 3);
    /* Delays of 32-40, 64-80, then 128-160 ms: never more than one attempt
     * per min_ms (less its jitter), however long the wait above took. */
    assert_true(st.reconnect_attempts <= 2 + down_for / 32);
    uint64_t back = prpc__now_ms();
    g_server = start_server(ep);
    uint64_t ready = prpc__now_ms();
    pthread_join(w.th, NULL);
    assert_int_equal(w.st, PRPC_OK);
    assert_int_equal(w.out, 8);
    uint64_t up_at = wait_state(&s, 1, PRPC_CLIENT_CONNECTED, 5000);
    assert_true(up_at != 0);
    /* Bounded: the next attempt comes within max_ms of the server's
     * start, plus the time for a dial and a ping under load. */
    assert_true(up_at - ready < 160 + 1500);
    (void)back;
    assert_int_equal(runs(8), 1);
    assert_int_equal(runs(7), 0);
    prpc_client_destroy(c);
}

static atomic_int g_ticks, g_last_tick;

static prpc_status on_tick(const prpc_event_delivery *d)
{
    uint32_t n = 0;
    prpc_dec_u32(d->params, &n);
    if (prpc_dec_status(d->params) == PRPC_OK) {
        atomic_store(&g_last_tick, (int)n);
        atomic_fetch_add(&g_ticks, 1);
    }
    return prpc_dec_status(d->params);
}

static bool wait_tick(int n)
{
    for (int i = 0; i < 600; i++) {
        if (atomic_load(&g_last_tick) == n)
            return true;
        prpc__sleep_ms(5);
    }
    return false;
}

/* Subscriptions are made again on the new connection, and the interface
 * check (expect) passes there again. */
static void test_reconnect_resubscribes(void **state)
{
    (void)state;
    char ep[256];
    begin_test("events", ep, sizeof ep);
    states s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    prpc_client_options o;
    memset(&o, 0, sizeof o);
    o.connect_timeout_ms = 5000;
    o.reconnect = true;
    o.reconnect_min_ms = 20;
    o.reconnect_max_ms = 100;
    o.on_state = on_state;
    o.on_state_user = &s;
    const prpc_service_desc *expect[] = {&rt_service, NULL};
    o.expect = expect;
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_connect(ep, &o, &c), PRPC_OK);
    assert_int_equal(prpc_client_on_event(c, &rt_tick_event, on_tick, NULL, NULL), PRPC_OK);

    uint32_t n = 7, sent = 0;
    assert_int_equal(prpc_client_call(c, &rt_methods[RT_EMIT], enc_u32, &n, dec_u32, &sent, NULL,
                                      NULL),
                     PRPC_OK);
    assert_int_equal(sent, 1);
    assert_true(wait_tick(7));

    kill_server();
    assert_true(wait_state(&s, 0, PRPC_CLIENT_RECONNECTING, 5000) != 0);
    g_server = start_server(ep);
    assert_true(wait_state(&s, 1, PRPC_CLIENT_CONNECTED, 5000) != 0);

    /* The new server counts this client among its subscribers. */
    n = 9;
    sent = 0;
    assert_int_equal(prpc_client_call(c, &rt_methods[RT_EMIT], enc_u32, &n, dec_u32, &sent, NULL,
                                      NULL),
                     PRPC_OK);
    assert_int_equal(sent, 1);
    assert_true(wait_tick(9));
    assert_int_equal(atomic_load(&g_ticks), 2);
    prpc_client_destroy(c);
}

/* Without reconnect nothing changes: the call in flight fails with
 * PRPC_ERR_CLOSED, later calls too, even once a server is back. */
static void test_reconnect_off_unchanged(void **state)
{
    (void)state;
    char ep[256];
    begin_test("off", ep, sizeof ep);
    prpc_client_options o;
    memset(&o, 0, sizeof o);
    o.connect_timeout_ms = 5000;
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_connect(ep, &o, &c), PRPC_OK);
    worker w;
    work_start(&w, c, RT_WORK_IDEM, 2000, 1, 15000);
    assert_true(wait_runs(1, 1));
    kill_server();
    pthread_join(w.th, NULL);
    assert_int_equal(w.st, PRPC_ERR_CLOSED);
    g_server = start_server(ep);
    /* A fixed time, not a condition: this shows that the client does NOT
     * reconnect. One that did would have tried by now: the first attempt
     * comes at once, the next after reconnect_min_ms (100 ms by default). */
    prpc__sleep_ms(200);
    int64_t sum = 0;
    assert_int_equal(rt_add(c, 1, 2, &sum), PRPC_ERR_CLOSED);
    prpc_client_stats st;
    prpc_client_get_stats(c, &st);
    assert_int_equal(st.reconnects, 0);
    assert_int_equal(st.reconnect_attempts, 0);
    assert_int_equal(runs(1), 1);
    prpc_client_destroy(c);
}

/* Destroying a client while it reconnects (the server stays away) ends
 * the attempts and fails the waiting calls with PRPC_ERR_CLOSED. */
static void test_reconnect_destroy_while_down(void **state)
{
    (void)state;
    char ep[256];
    begin_test("destroy", ep, sizeof ep);
    states s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    prpc_client *c = connect_reconnecting(ep, &s, 1000, 1000);
    outcome a = {0};
    uint32_t args[2] = {0, 1};
    prpc_call_options co = {60000, NULL};
    kill_server();
    assert_true(wait_state(&s, 0, PRPC_CLIENT_RECONNECTING, 5000) != 0);
    assert_int_equal(prpc_client_call_async(c, &rt_methods[RT_WORK_IDEM], enc_work, args,
                                            outcome_done, NULL, &a, &co, NULL),
                     PRPC_OK);
    uint64_t t0 = prpc__now_ms();
    prpc_client_destroy(c);
    assert_true(prpc__now_ms() - t0 < 1500);
    assert_true(atomic_load(&a.done));
    assert_int_equal(atomic_load(&a.status), PRPC_ERR_CLOSED);
}

/* Reconnect is for prpc_client_connect only. */
static void test_reconnect_invalid_modes(void **state)
{
    (void)state;
    char ep[256];
    begin_test("modes", ep, sizeof ep);
    prpc_client_options o;
    memset(&o, 0, sizeof o);
    o.reconnect = true;
    o.embed = true;
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_connect(ep, &o, &c), PRPC_ERR_INVALID_ARG);
    assert_null(c);
    o.embed = false;
    const char *argv[] = {RT_SERVER_PATH, "stdio:", NULL};
    assert_int_equal(prpc_client_spawn(argv, &o, &c), PRPC_ERR_INVALID_ARG);
    prpc_server *server = NULL;
    assert_int_equal(prpc_server_create(NULL, &server), PRPC_OK);
    assert_int_equal(prpc_client_create_inproc(server, &o, &c), PRPC_ERR_INVALID_ARG);
    prpc_server_destroy(server);
}

/* ------------------------------------------------- embed-mode keepalive */

/* An embed-mode client notices a stopped server within keepalive_ms +
 * keepalive_timeout_ms, with no thread: prpc_client_process sends the ping
 * and declares the peer gone; the pending call fails with
 * PRPC_ERR_UNAVAILABLE. prpc_client_process never waits. */
static void test_embed_keepalive_detects_stopped_server(void **state)
{
    (void)state;
    char ep[256];
    begin_test("embedka", ep, sizeof ep);
    prpc_client_options o;
    memset(&o, 0, sizeof o);
    o.connect_timeout_ms = 5000;
    o.embed = true;
    o.keepalive_ms = 200;
    o.keepalive_timeout_ms = 300;
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_connect(ep, &o, &c), PRPC_OK);
    struct pollfd pf = {(int)prpc_client_fd(c), POLLIN, 0};
    assert_true(pf.fd >= 0);

    /* A call that stays pending: held by the server until release. */
    outcome held = {0};
    prpc_call_options co = {20000, NULL};
    assert_int_equal(prpc_client_call_async(c, &rt_methods[RT_HOLD], NULL, NULL, outcome_done,
                                            NULL, &held, &co, NULL),
                     PRPC_OK);
    /* Alive: a second of loop with the keepalive answered. */
    uint64_t slowest = 0;
    uint64_t t0 = prpc__now_ms();
    while (prpc__now_ms() - t0 < 1000) {
        uint32_t wait = prpc_client_next_timeout(c);
        assert_true(wait <= 200);
        (void)poll(&pf, 1, (int)(wait < 50 ? wait : 50));
        uint64_t p0 = prpc__now_ms();
        assert_int_equal(prpc_client_process(c), PRPC_OK);
        if (prpc__now_ms() - p0 > slowest)
            slowest = prpc__now_ms() - p0;
    }
    assert_false(atomic_load(&held.done));

    /* A ping may be out already: the loop ran up to 50 ms ago. */
    uint64_t stopped = prpc__now_ms();
    assert_int_equal(rt_freeze(g_server), 0);
    prpc_status st = PRPC_OK;
    while (st == PRPC_OK && prpc__now_ms() - stopped < 5000) {
        uint32_t wait = prpc_client_next_timeout(c);
        (void)poll(&pf, 1, (int)(wait < 50 ? wait : 50));
        uint64_t p0 = prpc__now_ms();
        st = prpc_client_process(c);
        if (prpc__now_ms() - p0 > slowest)
            slowest = prpc__now_ms() - p0;
    }
    uint64_t took = prpc__now_ms() - stopped;
    assert_int_equal(st, PRPC_ERR_UNAVAILABLE);
    /* About the timeout (less the age of a ping that was out when the
     * server stopped), at most a ping period and the timeout plus slack
     * for a loaded machine. */
    assert_true(took >= 300 - 60);
    assert_true(took < 200 + 300 + 1500);
    assert_true(atomic_load(&held.done));
    assert_int_equal(atomic_load(&held.status), PRPC_ERR_UNAVAILABLE);
    assert_int_equal(prpc_client_process(c), PRPC_ERR_CLOSED);
    assert_int_equal(prpc_client_next_timeout(c), PRPC_TIMEOUT_INFINITE);
    /* Never blocked the loop noticeably. */
    assert_true(slowest < 100);
    prpc_client_destroy(c);
}

/* ----------------------------------- synchronous calls from callbacks */

typedef struct nested {
    prpc_client *c;
    atomic_int runs;
    atomic_int status;
    atomic_uint took;
} nested;

static void nested_call(nested *n)
{
    uint64_t t0 = prpc__now_ms();
    int64_t sum = 0;
    prpc_status st = rt_add(n->c, 1, 2, &sum);
    atomic_store(&n->took, (unsigned)(prpc__now_ms() - t0));
    atomic_store(&n->status, st);
    atomic_fetch_add(&n->runs, 1);
}

static prpc_status nested_on_tick(const prpc_event_delivery *d)
{
    nested_call(d->user);
    return PRPC_OK;
}

static void nested_done(const prpc_async_result *r)
{
    nested_call(r->user);
}

static bool wait_runs_of(nested *n, int want)
{
    for (int i = 0; i < 1000 && atomic_load(&n->runs) < want; i++)
        prpc__sleep_ms(5);
    return atomic_load(&n->runs) >= want;
}

/* From an event handler or an asynchronous completion (on the receiving
 * thread), a synchronous call fails at once with PRPC_ERR_WOULD_BLOCK
 * instead of waiting out its deadline; the client goes on working. */
static void test_sync_call_from_callback(void **state)
{
    (void)state;
    char ep[256];
    begin_test("nested", ep, sizeof ep);
    prpc_client_options o;
    memset(&o, 0, sizeof o);
    o.connect_timeout_ms = 5000;
    o.default_timeout_ms = 10000;
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_connect(ep, &o, &c), PRPC_OK);

    nested ev = {.c = c};
    assert_int_equal(prpc_client_on_event(c, &rt_tick_event, nested_on_tick, NULL, &ev), PRPC_OK);
    uint32_t n = 1, sent = 0;
    assert_int_equal(prpc_client_call(c, &rt_methods[RT_EMIT], enc_u32, &n, dec_u32, &sent, NULL,
                                      NULL),
                     PRPC_OK);
    assert_true(wait_runs_of(&ev, 1));
    assert_int_equal(atomic_load(&ev.status), PRPC_ERR_WOULD_BLOCK);
    assert_true(atomic_load(&ev.took) < 100);

    nested as = {.c = c};
    uint32_t args[2] = {0, 1};
    assert_int_equal(prpc_client_call_async(c, &rt_methods[RT_WORK], enc_work, args, nested_done,
                                            NULL, &as, NULL, NULL),
                     PRPC_OK);
    assert_true(wait_runs_of(&as, 1));
    assert_int_equal(atomic_load(&as.status), PRPC_ERR_WOULD_BLOCK);
    assert_true(atomic_load(&as.took) < 100);

    /* Outside callbacks the same call works. */
    int64_t sum = 0;
    assert_int_equal(rt_add(c, 2, 3, &sum), PRPC_OK);
    assert_int_equal(sum, 5);
    prpc_client_destroy(c);

    /* Embed mode: callbacks run in prpc_client_process. */
    o.embed = true;
    assert_int_equal(prpc_client_connect(ep, &o, &c), PRPC_OK);
    nested em = {.c = c};
    assert_int_equal(prpc_client_call_async(c, &rt_methods[RT_WORK], enc_work, args, nested_done,
                                            NULL, &em, NULL, NULL),
                     PRPC_OK);
    for (int i = 0; i < 400 && atomic_load(&em.runs) == 0; i++) {
        prpc__sleep_ms(5);
        assert_int_equal(prpc_client_process(c), PRPC_OK);
    }
    assert_int_equal(atomic_load(&em.runs), 1);
    assert_int_equal(atomic_load(&em.status), PRPC_ERR_WOULD_BLOCK);
    assert_true(atomic_load(&em.took) < 100);
    prpc_client_destroy(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_reconnect_resends_only_idempotent, teardown),
        cmocka_unit_test_teardown(test_reconnect_while_down, teardown),
        cmocka_unit_test_teardown(test_reconnect_resubscribes, teardown),
        cmocka_unit_test_teardown(test_reconnect_off_unchanged, teardown),
        cmocka_unit_test_teardown(test_reconnect_destroy_while_down, teardown),
        cmocka_unit_test_teardown(test_reconnect_invalid_modes, teardown),
        cmocka_unit_test_teardown(test_embed_keepalive_detects_stopped_server, teardown),
        cmocka_unit_test_teardown(test_sync_call_from_callback, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
