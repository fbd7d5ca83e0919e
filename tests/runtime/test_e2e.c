/* End-to-end over every transport, with real processes: the rt_server
 * program serves, this process and rt_client processes call.
 *
 * usage: test_e2e TRANSPORT   (pipe pipe_byte unix unix_byte tcp4 tcp6 stdio)
 * Each transport is its own ctest entry so they run in parallel. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_proc.h"
#include "rt_service.h"

static const char *g_transport = "pipe";

/* The endpoint to listen on for the transport under test. */
static void listen_endpoint(char *buf, size_t size, const char *tag)
{
    char name[256];
    if (strcmp(g_transport, "pipe") == 0) {
        rt_endpoint(buf, size, "pipe:", tag);
    } else if (strcmp(g_transport, "pipe_byte") == 0) {
        rt_endpoint(name, sizeof name, "pipe:", tag);
        snprintf(buf, size, "%s?mode=byte", name);
    } else if (strcmp(g_transport, "unix") == 0) {
        rt_endpoint(buf, size, "unix:/tmp/", tag);
    } else if (strcmp(g_transport, "unix_byte") == 0) {
        rt_endpoint(name, sizeof name, "unix:/tmp/", tag);
        snprintf(buf, size, "%s?mode=byte", name);
    } else if (strcmp(g_transport, "tcp4") == 0) {
        snprintf(buf, size, "tcp:127.0.0.1:0");
    } else if (strcmp(g_transport, "tcp6") == 0) {
        snprintf(buf, size, "tcp:[::1]:0");
    } else {
        snprintf(buf, size, "stdio:");
    }
}

static bool is_stdio(void)
{
    return strcmp(g_transport, "stdio") == 0;
}

typedef struct fixture {
    pid_t server;
    char endpoint[1200];
    prpc_client *client;
} fixture;

static const char *const big_opts[] = {"--max-msg", "40000000", NULL};

/* The server of the running test, killed by the teardown if an assertion
 * ended the test early. */
static pid_t g_server;

static int teardown(void **state)
{
    (void)state;
    if (g_server > 0) {
        kill(g_server, SIGKILL);
        rt_wait(g_server, 5000);
    }
    g_server = 0;
    return 0;
}

static void open_fixture(fixture *f, const char *tag)
{
    memset(f, 0, sizeof *f);
    prpc_client_options o;
    memset(&o, 0, sizeof o);
    o.connect_timeout_ms = 5000;
    o.limits.max_message_size = 40000000;
    static const prpc_service_desc *const expect[] = {&rt_service, NULL};
    o.expect = expect;
    if (is_stdio()) {
        const char *argv[] = {RT_SERVER_PATH, "--max-msg", "40000000", "stdio:", NULL};
        assert_int_equal(prpc_client_spawn(argv, &o, &f->client), PRPC_OK);
        return;
    }
    char ep[1200];
    listen_endpoint(ep, sizeof ep, tag);
    f->server = rt_server_start(big_opts, ep, f->endpoint, sizeof f->endpoint);
    assert_true(f->server > 0);
    g_server = f->server;
    assert_int_equal(prpc_client_connect(f->endpoint, &o, &f->client), PRPC_OK);
}

static void close_fixture(fixture *f)
{
    prpc_client_destroy(f->client);
    if (f->server > 0) {
        g_server = 0;
        assert_int_equal(rt_server_stop(f->server, 15000), 0);
    }
}

static void test_e2e_calls(void **state)
{
    (void)state;
    fixture f;
    open_fixture(&f, "calls");
    int64_t sum = 0;
    assert_int_equal(rt_add(f.client, 40, 2, &sum), PRPC_OK);
    assert_int_equal(sum, 42);
    assert_int_equal(prpc_client_ping(f.client, 5000), PRPC_OK);
    uint32_t pid = 0;
    assert_int_equal(rt_pid(f.client, &pid), PRPC_OK);
    assert_true(pid > 0 && pid != (uint32_t)getpid());

    /* Small, 1 MiB and 16 MiB payloads (many datagrams in message mode). */
    size_t sizes[] = {0, 1, 65535, 65536, 65537, 1u << 20, 16u << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint8_t *buf = malloc(sizes[k] + 1);
        for (size_t i = 0; i < sizes[k]; i++)
            buf[i] = (uint8_t)(i * 7 + k);
        prpc_arena *arena = prpc_arena_create(0);
        prpc_bytes out;
        assert_int_equal(rt_echo(f.client, buf, sizes[k], arena, &out), PRPC_OK);
        assert_int_equal(out.len, sizes[k]);
        assert_true(sizes[k] == 0 || memcmp(out.data, buf, sizes[k]) == 0);
        prpc_arena_destroy(arena);
        free(buf);
    }

    /* rt.Echo.describe lists the service with its hash. */
    prpc_arena *arena = prpc_arena_create(0);
    prpc_any d;
    assert_int_equal(prpc_client_describe(f.client, arena, &d), PRPC_OK);
    assert_true(d.len > 0);
    prpc_arena_destroy(arena);
    close_fixture(&f);
}

/* ------------------------------------------------- pipelined from threads */

typedef struct worker {
    prpc_client *client;
    int id;
    int errors;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 200; i++) {
        char buf[64];
        int len = snprintf(buf, sizeof buf, "w%d-%d-%0*d", w->id, i, (i % 40) + 1, i);
        prpc_arena *arena = prpc_arena_create(0);
        prpc_bytes out;
        prpc_status st = rt_echo(w->client, buf, (size_t)len, arena, &out);
        if (st != PRPC_OK || out.len != (size_t)len || memcmp(out.data, buf, out.len) != 0)
            w->errors++;
        prpc_arena_destroy(arena);
    }
    return NULL;
}

static void test_e2e_threads(void **state)
{
    (void)state;
    fixture f;
    open_fixture(&f, "threads");
    pthread_t t[8];
    worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker){f.client, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].errors, 0);
    }
    close_fixture(&f);
}

/* --------------------------------------------------------- async calls */

typedef struct async_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int bad;
    int seen[100];
} async_state;

static async_state g_async = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0}};

static void async_done(const prpc_async_result *r)
{
    int idx = (int)(intptr_t)r->user;
    int64_t v = -1;
    if (r->status == PRPC_OK)
        prpc_dec_i64(r->result, &v);
    pthread_mutex_lock(&g_async.mu);
    g_async.seen[idx]++;
    if (r->status != PRPC_OK || v != idx * 2)
        g_async.bad++;
    g_async.done++;
    pthread_cond_broadcast(&g_async.cv);
    pthread_mutex_unlock(&g_async.mu);
}

static void enc_pair(prpc_encoder *e, const void *v)
{
    const int64_t *p = v;
    prpc_enc_int(e, p[0]);
    prpc_enc_int(e, p[1]);
}

static void test_e2e_async(void **state)
{
    (void)state;
    fixture f;
    open_fixture(&f, "async");
    for (int i = 0; i < 100; i++) {
        int64_t args[2] = {i, i};
        assert_int_equal(prpc_client_call_async(f.client, &rt_methods[RT_ADD], enc_pair, args,
                                                async_done, NULL, (void *)(intptr_t)i, NULL,
                                                NULL),
                         PRPC_OK);
    }
    pthread_mutex_lock(&g_async.mu);
    while (g_async.done < 100)
        pthread_cond_wait(&g_async.cv, &g_async.mu);
    pthread_mutex_unlock(&g_async.mu);
    assert_int_equal(g_async.bad, 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(g_async.seen[i], 1);
    close_fixture(&f);
}

/* -------------------------------------------------- several processes */

static void test_e2e_processes(void **state)
{
    (void)state;
    if (is_stdio())
        skip(); /* one inherited channel: one client by construction */
    fixture f;
    open_fixture(&f, "procs");
    pid_t pids[3];
    for (int i = 0; i < 3; i++) {
        const char *args[] = {"calls", f.endpoint, "300", NULL};
        pids[i] = rt_client_start(args);
        assert_true(pids[i] > 0);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(rt_wait(pids[i], 60000), 0);
    close_fixture(&f);
}

/* --------------------------------------------------- interface check */

static void test_e2e_incompatible(void **state)
{
    (void)state;
    if (is_stdio())
        skip();
    fixture f;
    open_fixture(&f, "compat");
    prpc_service_desc other = rt_service;
    other.signature_hash ^= 1;
    const prpc_service_desc *const expect[] = {&other, NULL};
    prpc_client_options o;
    memset(&o, 0, sizeof o);
    o.expect = expect;
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_connect(f.endpoint, &o, &c), PRPC_ERR_INCOMPATIBLE);
    assert_null(c);
    other.full_name = "rt.Missing";
    other.signature_hash = rt_service.signature_hash;
    assert_int_equal(prpc_client_connect(f.endpoint, &o, &c), PRPC_ERR_INCOMPATIBLE);
    close_fixture(&f);
}

/* ------------------------------------------------------ server goes away */

static void test_e2e_server_stop(void **state)
{
    (void)state;
    if (is_stdio())
        skip();
    fixture f;
    open_fixture(&f, "stop");
    assert_int_equal(prpc_client_ping(f.client, 5000), PRPC_OK);
    /* SIGTERM: the server's handler calls prpc_server_stop_async and run
     * drains and returns; the process exits 0. */
    g_server = 0;
    assert_int_equal(rt_server_stop(f.server, 15000), 0);
    f.server = 0;
    int64_t sum;
    prpc_status st = rt_add(f.client, 1, 2, &sum);
    assert_true(st == PRPC_ERR_CLOSED || st == PRPC_ERR_UNAVAILABLE);
    prpc_client_destroy(f.client);

    /* Nobody listens now: connect fails clearly, after the wait. */
    prpc_client_options o;
    memset(&o, 0, sizeof o);
    o.connect_timeout_ms = 200;
    prpc_client *c = NULL;
    uint64_t t0 = (uint64_t)time(NULL);
    assert_int_equal(prpc_client_connect(f.endpoint, &o, &c), PRPC_ERR_UNAVAILABLE);
    assert_true((uint64_t)time(NULL) - t0 < 5);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        g_transport = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_e2e_calls, teardown),         cmocka_unit_test_teardown(test_e2e_threads, teardown),
        cmocka_unit_test_teardown(test_e2e_async, teardown),         cmocka_unit_test_teardown(test_e2e_processes, teardown),
        cmocka_unit_test_teardown(test_e2e_incompatible, teardown),  cmocka_unit_test_teardown(test_e2e_server_stop, teardown),
    };
    return cmocka_run_group_tests_name(g_transport, tests, NULL, NULL);
}
