/* prpc_server_stop_async on Windows, where it sets a flag and an event
 * (runtime/platform/win32/thread.c) that prpc_server_run waits on: 128
 * servers stopped at once from another thread (more than any fixed table
 * of requests would hold), and 1,000 listen/run cycles each ended by one
 * request from a thread that sends them as soon as a server is armed. A
 * console control handler runs on a thread of its own, as these requests
 * do. */
#include <winsock2.h> /* before anything that includes windows.h */

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <windows.h>

#include "piperpc/piperpc.h"

static prpc_server *make_server(void)
{
    prpc_server_options o;
    memset(&o, 0, sizeof o);
    o.threads = 1; /* the cycles below make and free a pool each */
    prpc_server *s = NULL;
    assert_int_equal(prpc_server_create(&o, &s), PRPC_OK);
    return s;
}

/* Waits until *counter reaches want or timeout_ms passes; returns the last
 * value seen. */
static unsigned wait_count(atomic_uint *counter, unsigned want, ULONGLONG timeout_ms)
{
    ULONGLONG end = GetTickCount64() + timeout_ms;
    unsigned n;
    while ((n = atomic_load(counter)) < want && GetTickCount64() < end)
        Sleep(5);
    return n;
}

/* ------------------------------------------------- many servers at once */

#define MANY 128

static prpc_server *g_many[MANY];
static atomic_uint g_running;
static atomic_uint g_ended;

static DWORD WINAPI runner(LPVOID arg)
{
    prpc_server *s = arg;
    atomic_fetch_add(&g_running, 1);
    if (prpc_server_run(s) == PRPC_OK)
        atomic_fetch_add(&g_ended, 1);
    return 0;
}

static DWORD WINAPI stop_all(LPVOID arg)
{
    (void)arg;
    for (unsigned i = 0; i < MANY; i++)
        prpc_server_stop_async(g_many[i]);
    return 0;
}

static void test_stop_async_128_servers_at_once(void **state)
{
    (void)state;
    HANDLE t[MANY];
    for (unsigned i = 0; i < MANY; i++) {
        g_many[i] = make_server();
        assert_int_equal(prpc_server_listen(g_many[i], "tcp:127.0.0.1:0"), PRPC_OK);
        assert_int_equal(prpc_server_start(g_many[i]), PRPC_OK);
    }
    for (unsigned i = 0; i < MANY; i++)
        assert_non_null(t[i] = CreateThread(NULL, 0, runner, g_many[i], 0, NULL));
    assert_int_equal(wait_count(&g_running, MANY, 60000), MANY);

    HANDLE stopper = CreateThread(NULL, 0, stop_all, NULL, 0, NULL);
    assert_non_null(stopper);
    unsigned ended = wait_count(&g_ended, MANY, 60000);
    if (ended < MANY) {
        print_error("%u of %u servers stopped\n", ended, MANY);
        for (unsigned i = 0; i < MANY; i++)
            prpc_server_stop(g_many[i], 0); /* frees the runs still waiting */
    }
    WaitForSingleObject(stopper, INFINITE);
    CloseHandle(stopper);
    for (unsigned i = 0; i < MANY; i++) {
        WaitForSingleObject(t[i], INFINITE);
        CloseHandle(t[i]);
        prpc_server_destroy(g_many[i]);
    }
    assert_int_equal(ended, MANY);
}

/* ------------------------------------------------------------ the cycles */

#define CYCLERS 2
#define STOPS 1000

static prpc_server *g_cyc[CYCLERS];
/* Set by a server's thread right before run, taken by the stopper when it
 * sends the request: every request goes to a server with none pending, so
 * each must end one run. */
static atomic_bool g_armed[CYCLERS];
static atomic_uint g_sent;
static atomic_uint g_runs;
static atomic_uint g_cyc_done;
static atomic_uint g_bad;

static DWORD WINAPI cycler(LPVOID arg)
{
    unsigned k = (unsigned)(uintptr_t)arg;
    for (unsigned c = 0; c < STOPS / CYCLERS; c++) {
        if (prpc_server_listen(g_cyc[k], "tcp:127.0.0.1:0") != PRPC_OK) {
            atomic_fetch_add(&g_bad, 1);
            break;
        }
        atomic_store(&g_armed[k], true);
        prpc_status st = prpc_server_run(g_cyc[k]);
        if (st != PRPC_OK || atomic_load(&g_armed[k])) {
            atomic_fetch_add(&g_bad, 1);
            break;
        }
        atomic_fetch_add(&g_runs, 1);
    }
    atomic_fetch_add(&g_cyc_done, 1);
    return 0;
}

static DWORD WINAPI stopper_loop(LPVOID arg)
{
    (void)arg;
    while (atomic_load(&g_cyc_done) < CYCLERS) {
        bool sent = false;
        for (unsigned k = 0; k < CYCLERS; k++) {
            if (atomic_exchange(&g_armed[k], false)) {
                prpc_server_stop_async(g_cyc[k]);
                atomic_fetch_add(&g_sent, 1);
                sent = true;
            }
        }
        if (!sent)
            SwitchToThread();
    }
    return 0;
}

static void test_stop_async_1000_run_cycles(void **state)
{
    (void)state;
    HANDLE t[CYCLERS];
    for (unsigned k = 0; k < CYCLERS; k++)
        g_cyc[k] = make_server();
    HANDLE stopper = CreateThread(NULL, 0, stopper_loop, NULL, 0, NULL);
    assert_non_null(stopper);
    for (unsigned k = 0; k < CYCLERS; k++)
        assert_non_null(t[k] = CreateThread(NULL, 0, cycler, (LPVOID)(uintptr_t)k, 0, NULL));
    unsigned done = wait_count(&g_cyc_done, CYCLERS, 100000);
    if (done < CYCLERS) {
        print_error("%u of %u requests sent, %u runs ended\n", atomic_load(&g_sent), STOPS,
                    atomic_load(&g_runs));
        fail(); /* a request was lost: its run still waits */
    }
    WaitForSingleObject(stopper, INFINITE);
    CloseHandle(stopper);
    for (unsigned k = 0; k < CYCLERS; k++) {
        WaitForSingleObject(t[k], INFINITE);
        CloseHandle(t[k]);
        prpc_server_destroy(g_cyc[k]);
    }
    assert_int_equal(atomic_load(&g_bad), 0);
    assert_int_equal(atomic_load(&g_sent), STOPS);
    assert_int_equal(atomic_load(&g_runs), STOPS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_async_128_servers_at_once),
        cmocka_unit_test(test_stop_async_1000_run_cycles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
