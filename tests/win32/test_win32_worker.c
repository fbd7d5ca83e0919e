/* End to end on Windows with real processes over stdio: the worker
 * example. worker_parent.exe spawns worker.exe children and farms out a
 * prime count (its own check of the total and of each worker exiting by
 * itself), and this test spawns worker.exe itself with prpc_client_spawn:
 * the child's pid, results, its IDL error, asynchronous calls, a child that
 * exits once its pipes close, and two children at once. */
#include "test_win32_proc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "work_client.h"

#define STEP_MS 60000

static void test_worker_parent_farms_out(void **state)
{
    (void)state;
    char out[8192];
    DWORD rc = wproc_run("worker_parent.exe", "--workers 3 --limit 1000000", out, sizeof out,
                         STEP_MS);
    if (rc != 0)
        print_error("worker_parent: status %lu, output:\n%s\n", (unsigned long)rc, out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "count_primes(10, 5): BAD_RANGE raised as expected"));
    assert_non_null(strstr(out, "primes below 1000000: 78498 (local sieve: 78498)"));
    assert_non_null(strstr(out, "all workers done"));
}

static prpc_client *spawn_worker(void)
{
    char path[MAX_PATH + 32];
    wproc_path("worker.exe", path, sizeof path);
    const char *argv[] = {path, NULL};
    prpc_client_options o = {0};
    o.default_timeout_ms = 30000;
    prpc_client *c = NULL;
    prpc_status st = prpc_client_spawn(argv, &o, &c);
    if (st != PRPC_OK)
        print_error("spawn %s: %s\n", path, prpc_strerror(st));
    assert_int_equal(st, PRPC_OK);
    return c;
}

typedef struct async_result {
    volatile LONG done;
    prpc_status status;
    uint64_t value;
} async_result;

static void on_counted(void *user, prpc_status status, const prpc_remote_error *error,
                       const uint64_t *result)
{
    (void)error;
    async_result *r = user;
    r->status = status;
    r->value = status == PRPC_OK ? *result : 0;
    InterlockedExchange(&r->done, 1);
}

static void test_worker_spawned_over_stdio(void **state)
{
    (void)state;
    prpc_client *c = spawn_worker();
    uint32_t pid = 0;
    assert_int_equal(work_Worker_pid(c, NULL, &pid), PRPC_OK);
    assert_true(pid != 0 && pid != GetCurrentProcessId()); /* another process */

    uint64_t n = 0;
    assert_int_equal(work_Worker_count_primes(c, 0, 100000, NULL, &n), PRPC_OK);
    assert_int_equal(n, 9592);
    assert_int_equal(work_Worker_count_primes(c, 10, 5, NULL, &n), PRPC_ERR_REMOTE);
    assert_int_equal(prpc_client_last_error()->code, work_Error_BAD_RANGE);

    /* Several asynchronous calls in flight on the one pipe pair. */
    async_result r[4];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 4; i++)
        assert_int_equal(work_Worker_count_primes_async(c, (uint64_t)i * 25000,
                                                        (uint64_t)(i + 1) * 25000, on_counted,
                                                        &r[i]),
                         PRPC_OK);
    ULONGLONG end = GetTickCount64() + STEP_MS;
    uint64_t total = 0;
    for (int i = 0; i < 4; i++) {
        while (!InterlockedCompareExchange(&r[i].done, 0, 0) && GetTickCount64() < end)
            Sleep(2);
        assert_int_equal(r[i].done, 1);
        assert_int_equal(r[i].status, PRPC_OK);
        total += r[i].value;
    }
    assert_int_equal(total, 9592);

    /* The worker is still there until its pipes close; then it stops by
     * itself (its on_disconnect requests the stop). */
    HANDLE h = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    assert_non_null(h);
    assert_int_equal(WaitForSingleObject(h, 0), WAIT_TIMEOUT);
    prpc_client_destroy(c);
    /* destroy reaps the child (killing it after a grace second): a child
     * that stopped by itself exited 0, a killed one did not. */
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    DWORD code = 99;
    assert_true(GetExitCodeProcess(h, &code));
    assert_int_equal(code, 0);
    CloseHandle(h);
}

static void test_worker_two_children_at_once(void **state)
{
    (void)state;
    prpc_client *a = spawn_worker(), *b = spawn_worker();
    uint32_t pa = 0, pb = 0;
    assert_int_equal(work_Worker_pid(a, NULL, &pa), PRPC_OK);
    assert_int_equal(work_Worker_pid(b, NULL, &pb), PRPC_OK);
    assert_true(pa != pb);
    uint64_t na = 0, nb = 0;
    assert_int_equal(work_Worker_count_primes(a, 0, 1000, NULL, &na), PRPC_OK);
    assert_int_equal(work_Worker_count_primes(b, 1000, 2000, NULL, &nb), PRPC_OK);
    assert_int_equal(na, 168);
    assert_int_equal(nb, 135);
    prpc_client_destroy(a);
    prpc_client_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker_parent_farms_out),
        cmocka_unit_test(test_worker_spawned_over_stdio),
        cmocka_unit_test(test_worker_two_children_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
