/* The call engine under load and at its edges: many threads calling one
 * in-process client, deadlines of synchronous and asynchronous calls with a
 * handler that defers and answers too late, cancellation, client and server
 * teardown with calls in flight, the in-flight limit, and the msgid table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/pending.h"
#include "core/server_conn.h"
#include "gen/sink_server.h"

/* ------------------------------------------------ many threads, one client */

#define THREADS 8
#define CALLS_PER_THREAD 2000

typedef struct worker {
    prpc_client *client;
    int index;
    int failures;
    prpc__thread thread;
} worker;

static void worker_main(void *arg)
{
    worker *w = arg;
    prpc_arena *arena = prpc_arena_create(0);
    char text[64];
    for (int i = 0; i < CALLS_PER_THREAD; i++) {
        /* Every reply must be the one to this thread's own request. */
        snprintf(text, sizeof text, "t%d-%d", w->index, i);
        const char *echo = NULL;
        if (ks_Sink_echo_string(w->client, text, arena, &echo) != PRPC_OK ||
            strcmp(echo, text) != 0)
            w->failures++;
        int64_t total = i, before = 0, result = 0;
        if (ks_Sink_add(w->client, &total, w->index, &before, arena, &result) != PRPC_OK ||
            before != i || total != i + w->index || result != total)
            w->failures++;
        prpc_arena_reset(arena);
    }
    prpc_arena_destroy(arena);
}

static void test_many_threads_one_client(void **st)
{
    (void)st;
    sink_state s;
    sink_start(&s, NULL);
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_create_inproc(s.server, NULL, &c), PRPC_OK);
    /* One thread first, for the cost of one in-process round trip through
     * generated stubs (printed, not asserted: it depends on the machine). */
    prpc_arena *arena = prpc_arena_create(0);
    uint64_t t0 = prpc__now_us();
    for (int i = 0; i < 20000; i++) {
        int32_t r = 0;
        assert_int_equal(ks_Calc_neg(c, i, arena, &r), PRPC_OK);
        assert_int_equal(r, -i);
    }
    uint64_t us = prpc__now_us() - t0;
    print_message("in-process round trip: %.2f us per call (20000 calls, one thread)\n",
                  (double)us / 20000.0);
    prpc_arena_destroy(arena);

    worker w[THREADS];
    t0 = prpc__now_us();
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){c, i, 0, {0}};
        assert_int_equal(prpc__thread_start(&w[i].thread, worker_main, &w[i]), PRPC_OK);
    }
    for (int i = 0; i < THREADS; i++) {
        prpc__thread_join(&w[i].thread);
        assert_int_equal(w[i].failures, 0);
    }
    us = prpc__now_us() - t0;
    print_message("%d threads: %.0f calls/s through one client\n", THREADS,
                  (double)THREADS * CALLS_PER_THREAD * 2 * 1e6 / (double)(us ? us : 1));
    prpc_client_stats cs;
    prpc_client_get_stats(c, &cs);
    assert_true(cs.calls == (uint64_t)THREADS * CALLS_PER_THREAD * 2 + 20000);
    assert_int_equal(cs.pending, 0);
    assert_true(cs.late_replies == 0);
    prpc_client_destroy(c);
    sink_stop(&s);
}

typedef struct counter {
    prpc__mutex mu;
    prpc__cond cond;
    unsigned done, ok;
    prpc_status last;
    prpc_status bad; /* the last failure */
    uint64_t sum;
} counter;

static void counter_init(counter *k)
{
    memset(k, 0, sizeof *k);
    prpc__mutex_init(&k->mu);
    prpc__cond_init(&k->cond);
}

static void counter_wait(counter *k, unsigned n)
{
    prpc__mutex_lock(&k->mu);
    while (k->done < n)
        prpc__cond_wait(&k->cond, &k->mu);
    prpc__mutex_unlock(&k->mu);
}

static void counter_free(counter *k)
{
    prpc__cond_destroy(&k->cond);
    prpc__mutex_destroy(&k->mu);
}

static void on_slow(void *user, prpc_status status, const prpc_remote_error *error,
                    const uint64_t *result)
{
    (void)error;
    counter *k = user;
    prpc__mutex_lock(&k->mu);
    k->done++;
    k->last = status;
    if (status == PRPC_OK) {
        k->ok++;
        k->sum += *result;
    } else {
        k->bad = status;
    }
    prpc__cond_broadcast(&k->cond);
    prpc__mutex_unlock(&k->mu);
}

typedef struct async_worker {
    prpc_client *client;
    counter *k;
    int failures;
    prpc__thread thread;
} async_worker;

static void async_main(void *arg)
{
    async_worker *w = arg;
    for (uint64_t i = 0; i < 50; i++)
        if (ks_Sink_slow_async(w->client, i, 1, on_slow, w->k) != PRPC_OK)
            w->failures++;
}

static void test_async_from_threads(void **st)
{
    (void)st;
    sink_state s;
    /* All 200 calls may be in flight at once: above the default limit. */
    prpc_server_options opts = {0};
    opts.max_inflight = 200;
    sink_start(&s, &opts);
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_create_inproc(s.server, NULL, &c), PRPC_OK);
    counter k;
    counter_init(&k);
    async_worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (async_worker){c, &k, 0, {0}};
        assert_int_equal(prpc__thread_start(&w[i].thread, async_main, &w[i]), PRPC_OK);
    }
    for (int i = 0; i < 4; i++) {
        prpc__thread_join(&w[i].thread);
        assert_int_equal(w[i].failures, 0);
    }
    counter_wait(&k, 200);
    if (k.ok != 200)
        print_error("a call failed with %s\n", prpc_status_name(k.bad));
    assert_int_equal(k.ok, 200);
    assert_true(k.sum == 4 * (50 * 51 / 2)); /* each thread: sum of i + 1 */
    prpc_client_destroy(c);
    sink_stop(&s);
    counter_free(&k);
}

/* --------------------------------------------------------- deadlines */

static void test_sync_timeout_then_late_reply(void **st)
{
    (void)st;
    sink_state s;
    sink_start(&s, NULL);
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_create_inproc(s.server, NULL, &c), PRPC_OK);

    /* hang has [timeout(150)]: the method's own deadline applies. */
    uint64_t t0 = prpc__now_ms();
    assert_int_equal(ks_Sink_hang(c), PRPC_ERR_TIMEOUT);
    uint64_t took = prpc__now_ms() - t0;
    assert_true(took >= 150);
    assert_true(took < 2000);
    assert_true(prpc_client_last_error()->code == PRPC_ERR_TIMEOUT);

    /* Options override it. */
    prpc_call_options o = {40, NULL};
    t0 = prpc__now_ms();
    assert_int_equal(ks_Sink_hang_ex(c, &o), PRPC_ERR_TIMEOUT);
    took = prpc__now_ms() - t0;
    assert_true(took >= 40 && took < 140);

    /* The client told the server that both callers gave up. */
    sink_wait_hung(&s, 2);
    assert_int_equal(sink_wait_hung_cancelled(&s, 2), 2);

    /* The handler answers after the deadline: the reply is dropped and
     * counted, nothing leaks. */
    assert_int_equal(sink_release_hung(&s), 0);
    prpc_client_stats cs;
    prpc_client_get_stats(c, &cs);
    assert_true(cs.timeouts == 2);
    assert_true(cs.late_replies == 2);
    assert_int_equal(cs.pending, 0);

    /* The client still works. */
    uint32_t n = 0;
    prpc_arena *a = prpc_arena_create(0);
    assert_int_equal(ks_Sink_count(c, a, &n), PRPC_OK);
    prpc_arena_destroy(a);
    prpc_client_destroy(c);
    sink_stop(&s);
}

static void on_hang(void *user, prpc_status status, const prpc_remote_error *error)
{
    (void)error;
    counter *k = user;
    prpc__mutex_lock(&k->mu);
    k->done++;
    k->last = status;
    prpc__cond_broadcast(&k->cond);
    prpc__mutex_unlock(&k->mu);
}

static void test_async_timeout(void **st)
{
    (void)st;
    sink_state s;
    sink_start(&s, NULL);
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_create_inproc(s.server, NULL, &c), PRPC_OK);
    counter k;
    counter_init(&k);
    uint64_t t0 = prpc__now_ms();
    prpc_call_options o = {60, NULL};
    assert_int_equal(ks_Sink_hang_async_ex(c, &o, on_hang, &k), PRPC_OK);
    assert_int_equal(ks_Sink_hang_async(c, on_hang, &k), PRPC_OK); /* 150 ms */
    counter_wait(&k, 1);
    assert_int_equal(k.last, PRPC_ERR_TIMEOUT);
    uint64_t took = prpc__now_ms() - t0;
    assert_true(took >= 60 && took < 140);
    counter_wait(&k, 2);
    took = prpc__now_ms() - t0;
    assert_true(took >= 150);
    /* Expired asynchronous calls are cancelled at the server too. */
    assert_int_equal(sink_wait_hung_cancelled(&s, 2), 2);
    assert_int_equal(sink_release_hung(&s), 0);
    prpc_client_destroy(c);
    sink_stop(&s);
    counter_free(&k);
}

/* ------------------------------------------------------ cancellation */

typedef struct sync_caller {
    prpc_client *client;
    prpc_call_id id;
    prpc_status status;
    prpc__thread thread;
} sync_caller;

static void sync_hang_main(void *arg)
{
    sync_caller *sc = arg;
    prpc_call_options o = {PRPC_TIMEOUT_INFINITE, &sc->id};
    sc->status = ks_Sink_hang_ex(sc->client, &o);
}

static void test_cancel(void **st)
{
    (void)st;
    sink_state s;
    sink_start(&s, NULL);
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_create_inproc(s.server, NULL, &c), PRPC_OK);

    /* An asynchronous call. */
    counter k;
    counter_init(&k);
    prpc_call_id id = 0;
    prpc_call_options o = {PRPC_TIMEOUT_INFINITE, &id};
    assert_int_equal(ks_Sink_hang_async_ex(c, &o, on_hang, &k), PRPC_OK);
    assert_true(id != 0);
    sink_wait_hung(&s, 1);
    assert_int_equal(prpc_client_cancel(c, id), PRPC_OK);
    counter_wait(&k, 1);
    assert_int_equal(k.last, PRPC_ERR_CANCELLED);
    assert_int_equal(prpc_client_cancel(c, id), PRPC_ERR_INVALID_ARG);

    /* A synchronous call, cancelled from another thread. */
    sync_caller sc = {c, 0, PRPC_OK, {0}};
    assert_int_equal(prpc__thread_start(&sc.thread, sync_hang_main, &sc), PRPC_OK);
    sink_wait_hung(&s, 2);
    /* The id was stored before the request was sent. */
    assert_int_equal(prpc_client_cancel(c, sc.id), PRPC_OK);
    prpc__thread_join(&sc.thread);
    assert_int_equal(sc.status, PRPC_ERR_CANCELLED);

    /* The server saw rpc.cancel for both. */
    assert_int_equal(sink_release_hung(&s), 0);
    assert_true(s.hung_saw_cancel);
    prpc_client_destroy(c);
    sink_stop(&s);
    counter_free(&k);
}

/* ------------------------------------------------ server-side deadlines */

/* A method's [timeout] is the server's deadline for it, counted from the
 * request's arrival; a method without one has none, unless the server's
 * call_timeout_ms gives one (0 and PRPC_TIMEOUT_INFINITE give none);
 * notifications never have one. */
static void test_server_deadline(void **st)
{
    (void)st;
    static const uint32_t call_timeouts[] = {0u, 60000u, PRPC_TIMEOUT_INFINITE};
    for (size_t i = 0; i < sizeof call_timeouts / sizeof call_timeouts[0]; i++) {
        bool with_default = call_timeouts[i] == 60000u;
        prpc_server_options so;
        memset(&so, 0, sizeof so);
        so.call_timeout_ms = call_timeouts[i];
        sink_state s;
        sink_start(&s, &so);
        prpc_client *c = NULL;
        assert_int_equal(prpc_client_create_inproc(s.server, NULL, &c), PRPC_OK);

        /* hang has [timeout(150)], whatever the server's default. */
        counter k;
        counter_init(&k);
        prpc_call_options o = {PRPC_TIMEOUT_INFINITE, NULL};
        uint64_t before = prpc__now_ms();
        assert_int_equal(ks_Sink_hang_async_ex(c, &o, on_hang, &k), PRPC_OK);
        sink_wait_hung(&s, 1);
        uint64_t after = prpc__now_ms();
        prpc__mutex_lock(&s.mu);
        uint64_t d = s.hang_deadline;
        prpc__mutex_unlock(&s.mu);
        assert_true(d >= before + 150 && d <= after + 150);
        /* Once it has passed, nothing is left (the call is still held). */
        while (prpc__now_ms() <= d)
            prpc__sleep_ms(10);
        prpc__mutex_lock(&s.mu);
        assert_int_equal(prpc_call_remaining_ms(s.hung[0]), 0);
        prpc__mutex_unlock(&s.mu);
        assert_int_equal(sink_release_hung(&s), 0);
        counter_wait(&k, 1);
        assert_int_equal(k.last, PRPC_OK);

        /* count has no [timeout]. */
        prpc_arena *arena = prpc_arena_create(0);
        uint32_t n = 0;
        before = prpc__now_ms();
        assert_int_equal(ks_Sink_count(c, arena, &n), PRPC_OK);
        after = prpc__now_ms();
        prpc__mutex_lock(&s.mu);
        d = s.count_deadline;
        uint32_t left = s.count_remaining;
        prpc__mutex_unlock(&s.mu);
        if (with_default) {
            assert_true(d >= before + 60000 && d <= after + 60000);
            assert_true(left > 0 && left <= 60000);
        } else {
            assert_true(d == UINT64_MAX);
            assert_true(left == PRPC_TIMEOUT_INFINITE);
        }
        prpc_arena_destroy(arena);
        prpc_client_destroy(c);
        sink_stop(&s);
        counter_free(&k);
    }
    /* Outside a call there is nothing to bound. */
    assert_true(prpc_call_deadline(NULL) == UINT64_MAX);
    assert_true(prpc_call_remaining_ms(NULL) == PRPC_TIMEOUT_INFINITE);
}

/* ----------------------------------------------------------- teardown */

static void test_client_destroy_fails_pending(void **st)
{
    (void)st;
    sink_state s;
    sink_start(&s, NULL);
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_create_inproc(s.server, NULL, &c), PRPC_OK);
    counter k;
    counter_init(&k);
    prpc_call_options inf = {PRPC_TIMEOUT_INFINITE, NULL};
    for (int i = 0; i < 5; i++)
        assert_int_equal(ks_Sink_hang_async_ex(c, &inf, on_hang, &k), PRPC_OK);
    sync_caller sc = {c, 0, PRPC_OK, {0}};
    assert_int_equal(prpc__thread_start(&sc.thread, sync_hang_main, &sc), PRPC_OK);
    sink_wait_hung(&s, 6);
    prpc_client_destroy(c);
    prpc__thread_join(&sc.thread);
    assert_int_equal(sc.status, PRPC_ERR_CLOSED);
    assert_int_equal(k.done, 5);
    assert_int_equal(k.last, PRPC_ERR_CLOSED);
    /* The server's deferred calls were cancelled by the close; answering
     * them now finds the connection gone. */
    assert_int_equal(sink_release_hung(&s), 6);
    assert_true(s.hung_saw_cancel);
    sink_stop(&s);
    counter_free(&k);
}

static void test_server_destroy_closes_clients(void **st)
{
    (void)st;
    sink_state s;
    sink_start(&s, NULL);
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_create_inproc(s.server, NULL, &c), PRPC_OK);
    counter k;
    counter_init(&k);
    prpc_call_options inf = {PRPC_TIMEOUT_INFINITE, NULL};
    assert_int_equal(ks_Sink_hang_async_ex(c, &inf, on_hang, &k), PRPC_OK);
    sink_wait_hung(&s, 1);
    /* Take the hung call out so sink_stop's server destroy runs with it
     * still deferred; answer it after the server is gone. */
    prpc__mutex_lock(&s.mu);
    prpc_call *hung = s.hung[0];
    s.nhung = 0;
    prpc__mutex_unlock(&s.mu);
    sink_stop(&s);
    counter_wait(&k, 1);
    assert_int_equal(k.last, PRPC_ERR_CLOSED);
    assert_int_equal(ks_Sink_hang_reply(hung), PRPC_ERR_CLOSED);
    prpc_arena *a = prpc_arena_create(0);
    uint32_t n;
    assert_int_equal(ks_Sink_count(c, a, &n), PRPC_ERR_CLOSED);
    assert_int_equal(ks_Sink_poke(c, 1), PRPC_ERR_CLOSED);
    prpc_arena_destroy(a);
    prpc_client_destroy(c);
    counter_free(&k);
}

/* ----------------------------------------------------------- limits */

static void test_inflight_limit(void **st)
{
    (void)st;
    sink_state s;
    prpc_server_options opts = {0};
    opts.max_inflight = 2;
    sink_start(&s, &opts);
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_create_inproc(s.server, NULL, &c), PRPC_OK);
    counter k;
    counter_init(&k);
    prpc_call_options inf = {PRPC_TIMEOUT_INFINITE, NULL};
    assert_int_equal(ks_Sink_hang_async_ex(c, &inf, on_hang, &k), PRPC_OK);
    assert_int_equal(ks_Sink_hang_async_ex(c, &inf, on_hang, &k), PRPC_OK);
    sink_wait_hung(&s, 2);
    /* At the limit: the next call is refused, the connection lives on. */
    prpc_arena *a = prpc_arena_create(0);
    uint32_t n = 0;
    assert_int_equal(ks_Sink_count(c, a, &n), PRPC_ERR_BUSY);
    assert_int_equal(prpc_client_ping(c, 1000), PRPC_ERR_BUSY);
    assert_int_equal(sink_release_hung(&s), 0);
    counter_wait(&k, 2);
    assert_int_equal(k.last, PRPC_OK);
    assert_int_equal(ks_Sink_count(c, a, &n), PRPC_OK);
    prpc_arena_destroy(a);

    /* The connection limit. */
    prpc_client_destroy(c);
    sink_stop(&s);
    opts.max_inflight = 0;
    opts.max_connections = 1;
    sink_start(&s, &opts);
    prpc_client *c1 = NULL, *c2 = NULL;
    assert_int_equal(prpc_client_create_inproc(s.server, NULL, &c1), PRPC_OK);
    assert_int_equal(prpc_client_create_inproc(s.server, NULL, &c2), PRPC_ERR_BUSY);
    assert_null(c2);
    prpc_client_destroy(c1);
    assert_int_equal(prpc_client_create_inproc(s.server, NULL, &c2), PRPC_OK);
    prpc_client_destroy(c2);
    sink_stop(&s);
    counter_free(&k);
}

static void test_client_pending_limit(void **st)
{
    (void)st;
    sink_state s;
    sink_start(&s, NULL);
    prpc_client_options co = {0};
    co.max_pending = 1;
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_create_inproc(s.server, &co, &c), PRPC_OK);
    counter k;
    counter_init(&k);
    prpc_call_options inf = {PRPC_TIMEOUT_INFINITE, NULL};
    assert_int_equal(ks_Sink_hang_async_ex(c, &inf, on_hang, &k), PRPC_OK);
    assert_int_equal(ks_Sink_hang_async_ex(c, &inf, on_hang, &k), PRPC_ERR_BUSY);
    sink_wait_hung(&s, 1);
    assert_int_equal(sink_release_hung(&s), 0);
    counter_wait(&k, 1);
    assert_int_equal(ks_Sink_hang_async_ex(c, &inf, on_hang, &k), PRPC_OK);
    sink_wait_hung(&s, 2);
    assert_int_equal(sink_release_hung(&s), 0);
    counter_wait(&k, 2);
    prpc_client_destroy(c);
    sink_stop(&s);
    counter_free(&k);
}

/* ------------------------------------------------------ the msgid table */

static void test_pending_table(void **st)
{
    (void)st;
    enum { N = 20000 };
    prpc__pending_table t;
    memset(&t, 0, sizeof t);
    prpc__pending *items = calloc(N, sizeof *items);
    assert_non_null(items);
    for (uint32_t i = 0; i < N; i++) {
        /* Spread over the whole msgid range, including 0 and UINT32_MAX. */
        items[i].msgid = i == N - 1 ? UINT32_MAX : i * 214013u;
        items[i].is_async = (i % 3) == 0;
        items[i].deadline_ms = i;
        assert_int_equal(prpc__pending_insert(&t, &items[i]), PRPC_OK);
    }
    assert_int_equal(t.count, N);
    for (uint32_t i = 0; i < N; i++)
        assert_ptr_equal(prpc__pending_find(&t, items[i].msgid), &items[i]);
    assert_null(prpc__pending_find(&t, 7));
    for (uint32_t i = 0; i < N; i += 2)
        assert_ptr_equal(prpc__pending_remove(&t, items[i].msgid), &items[i]);
    assert_null(prpc__pending_remove(&t, items[0].msgid));
    assert_int_equal(t.count, N / 2);
    uint64_t next = 0;
    prpc__pending *expired = prpc__pending_take_expired(&t, 100, &next);
    unsigned n = 0;
    for (prpc__pending *p = expired; p != NULL; p = p->next) {
        assert_true(p->is_async && p->deadline_ms <= 100);
        n++;
    }
    assert_true(n > 0);
    assert_true(next > 100);
    unsigned rest = 0;
    for (prpc__pending *p = prpc__pending_take_all(&t); p != NULL; p = p->next)
        rest++;
    assert_int_equal(n + rest, N / 2);
    assert_int_equal(t.count, 0);
    prpc__pending_free(&t);
    free(items);
}

/* --------------------------------- the dispatcher through a fake transport */

typedef struct fake_io {
    unsigned sent;
    unsigned closed;
    unsigned released;
    uint8_t last[256];
    size_t last_len;
} fake_io;

static prpc_status fake_send(void *io, const uint8_t *data, size_t len)
{
    fake_io *f = io;
    f->sent++;
    f->last_len = len < sizeof f->last ? len : sizeof f->last;
    memcpy(f->last, data, f->last_len);
    return PRPC_OK;
}

static void fake_close(void *io)
{
    ((fake_io *)io)->closed++;
}

static void fake_release(void *io)
{
    ((fake_io *)io)->released++;
}

static const prpc__conn_ops fake_ops = {fake_send, fake_close, fake_release};

/* The status code of the last reply the fake transport carried. */
static int64_t last_error_code(fake_io *f)
{
    prpc_msg msg;
    if (prpc_msg_parse(f->last, f->last_len, NULL, &msg) != PRPC_OK || msg.type != PRPC_MSG_RESPONSE)
        return 1;
    if (msg.error.len == 1 && msg.error.data[0] == 0xc0)
        return 0;
    prpc_arena *a = prpc_arena_create(0);
    prpc_remote_error e;
    int64_t code = prpc_remote_error_decode(msg.error, a, &e) == PRPC_OK ? e.code : 1;
    prpc_arena_destroy(a);
    return code;
}

static prpc_status feed(prpc_conn *conn, prpc_encoder *enc)
{
    prpc_status st = prpc__conn_receive(conn, enc->data, enc->len);
    prpc_enc_reset(enc);
    return st;
}

static void test_dispatcher_raw_messages(void **st)
{
    (void)st;
    sink_state s;
    sink_start(&s, NULL);
    fake_io io;
    memset(&io, 0, sizeof io);
    prpc_peer peer = {true, false, 1000, 1000, 42, NULL};
    prpc_conn *conn = NULL;
    assert_int_equal(prpc__conn_open(s.server, &fake_ops, &io, &peer, "fake:", &conn), PRPC_OK);
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);

    /* A request: one reply. */
    prpc_enc_request(&enc, 1, "ks.Calc.neg", 11, 1);
    prpc_enc_int(&enc, 5);
    assert_int_equal(feed(conn, &enc), PRPC_OK);
    assert_int_equal(io.sent, 1);
    assert_true(last_error_code(&io) == 0);

    /* The same method as a notification: it runs, nothing is sent. */
    prpc_enc_notify(&enc, "ks.Calc.neg", 11, 1);
    prpc_enc_int(&enc, 5);
    assert_int_equal(feed(conn, &enc), PRPC_OK);
    assert_int_equal(io.sent, 1);

    /* rpc.ping as a request with no params. */
    prpc_enc_request(&enc, 2, "rpc.ping", 8, 0);
    assert_int_equal(feed(conn, &enc), PRPC_OK);
    assert_int_equal(io.sent, 2);
    assert_true(last_error_code(&io) == 0);

    /* Unknown method, wrong count, wrong type. */
    prpc_enc_request(&enc, 3, "no.such", 7, 0);
    assert_int_equal(feed(conn, &enc), PRPC_OK);
    assert_true(last_error_code(&io) == PRPC_ERR_UNKNOWN_METHOD);
    prpc_enc_request(&enc, 4, "ks.Calc.neg", 11, 0);
    assert_int_equal(feed(conn, &enc), PRPC_OK);
    assert_true(last_error_code(&io) == PRPC_ERR_BAD_ARGS);
    prpc_enc_request(&enc, 5, "ks.Calc.neg", 11, 1);
    prpc_enc_int(&enc, (int64_t)INT32_MAX + 1); /* does not fit an i32 */
    assert_int_equal(feed(conn, &enc), PRPC_OK);
    assert_true(last_error_code(&io) == PRPC_ERR_BAD_ARGS);
    assert_int_equal(io.closed, 0);

    /* A duplicate msgid while the first is still in flight breaks the
     * protocol: the connection is closed. */
    prpc_enc_request(&enc, 9, "ks.Sink.hang", 12, 0);
    assert_int_equal(feed(conn, &enc), PRPC_OK);
    sink_wait_hung(&s, 1);
    prpc_enc_request(&enc, 9, "ks.Sink.count", 13, 0);
    assert_int_equal(feed(conn, &enc), PRPC_ERR_PROTOCOL);
    assert_int_equal(io.closed, 1);
    assert_false(prpc_conn_is_open(conn));
    /* Closed: later messages are refused, the hung call sees the close. */
    prpc_enc_request(&enc, 10, "rpc.ping", 8, 0);
    assert_int_equal(feed(conn, &enc), PRPC_ERR_CLOSED);
    unsigned sent_before = io.sent;
    assert_int_equal(sink_release_hung(&s), 1);
    assert_true(s.hung_saw_cancel);
    assert_int_equal(io.sent, sent_before);
    prpc_conn_release(conn);
    assert_int_equal(io.released, 1);

    /* A response sent to a server, and malformed bytes: protocol errors. */
    memset(&io, 0, sizeof io);
    assert_int_equal(prpc__conn_open(s.server, &fake_ops, &io, &peer, "fake:", &conn), PRPC_OK);
    prpc_enc_response_ok(&enc, 1);
    prpc_enc_nil(&enc);
    assert_int_equal(feed(conn, &enc), PRPC_ERR_PROTOCOL);
    assert_int_equal(io.closed, 1);
    prpc_conn_release(conn);
    memset(&io, 0, sizeof io);
    assert_int_equal(prpc__conn_open(s.server, &fake_ops, &io, &peer, "fake:", &conn), PRPC_OK);
    static const uint8_t bomb[] = {0x94, 0x00, 0x01, 0xa1, 'x', 0xdd, 0xff, 0x00, 0x00, 0x00};
    assert_int_equal(prpc__conn_receive(conn, bomb, sizeof bomb), PRPC_ERR_PROTOCOL);
    assert_int_equal(io.closed, 1);
    prpc_conn_release(conn);

    prpc_server_stats ss;
    prpc_server_get_stats(s.server, &ss);
    assert_true(ss.protocol_errors == 3);
    assert_int_equal(ss.connections, 0);
    prpc_enc_free(&enc);
    sink_stop(&s);
}

static void write_name(prpc_encoder *enc, const char *name)
{
    prpc_enc_request(enc, 1, "rpc.subscribe", 13, 1);
    prpc_enc_cstr(enc, name);
}

static void test_subscription_limit(void **st)
{
    (void)st;
    sink_state s;
    prpc_server_options opts = {0};
    opts.max_subscriptions = 1;
    sink_start(&s, &opts);
    fake_io io;
    memset(&io, 0, sizeof io);
    prpc_conn *conn = NULL;
    assert_int_equal(prpc__conn_open(s.server, &fake_ops, &io, NULL, "fake:", &conn), PRPC_OK);
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);

    /* At the limit, then one past it; an event nobody declares. */
    write_name(&enc, "ks.Sink.poked");
    assert_int_equal(feed(conn, &enc), PRPC_OK);
    assert_true(last_error_code(&io) == 0);
    write_name(&enc, "ks.Sink.poked"); /* again: already subscribed, no new slot */
    assert_int_equal(feed(conn, &enc), PRPC_OK);
    assert_true(last_error_code(&io) == 0);
    write_name(&enc, "ks.Sink.tick");
    assert_int_equal(feed(conn, &enc), PRPC_OK);
    assert_true(last_error_code(&io) == PRPC_ERR_BUSY);
    write_name(&enc, "ks.Sink.nothing");
    assert_int_equal(feed(conn, &enc), PRPC_OK);
    assert_true(last_error_code(&io) == PRPC_ERR_BAD_ARGS);

    size_t sent = 9;
    unsigned before = io.sent;
    assert_int_equal(ks_Sink_broadcast_poked(s.server, 1, "x", &sent), PRPC_OK);
    assert_int_equal(sent, 1);
    assert_int_equal(io.sent, before + 1);
    assert_int_equal(ks_Sink_broadcast_tick(s.server, &sent), PRPC_OK);
    assert_int_equal(sent, 0);

    /* Unsubscribing frees the slot. */
    prpc_enc_request(&enc, 2, "rpc.unsubscribe", 15, 1);
    prpc_enc_cstr(&enc, "ks.Sink.poked");
    assert_int_equal(feed(conn, &enc), PRPC_OK);
    write_name(&enc, "ks.Sink.tick");
    assert_int_equal(feed(conn, &enc), PRPC_OK);
    assert_true(last_error_code(&io) == 0);
    assert_int_equal(ks_Sink_broadcast_poked(s.server, 1, "x", &sent), PRPC_OK);
    assert_int_equal(sent, 0);

    prpc__conn_close(conn, true);
    prpc_conn_release(conn);
    assert_int_equal(io.released, 1);
    prpc_enc_free(&enc);
    sink_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_threads_one_client),
        cmocka_unit_test(test_async_from_threads),
        cmocka_unit_test(test_sync_timeout_then_late_reply),
        cmocka_unit_test(test_async_timeout),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_server_deadline),
        cmocka_unit_test(test_client_destroy_fails_pending),
        cmocka_unit_test(test_server_destroy_closes_clients),
        cmocka_unit_test(test_inflight_limit),
        cmocka_unit_test(test_client_pending_limit),
        cmocka_unit_test(test_pending_table),
        cmocka_unit_test(test_dispatcher_raw_messages),
        cmocka_unit_test(test_subscription_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
