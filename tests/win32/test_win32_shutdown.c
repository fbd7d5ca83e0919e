/* prpc_shutdown_watch / _wait / _request on Windows
 * (runtime/platform/win32/signal.c): the timeout, requests waking every
 * waiter, the end of stdin seen by the reader thread (after data, and with
 * no stdin at all), and console control events (Ctrl-Break) caught once.
 *
 * The shutdown state is process-wide and a latch, so each case runs this
 * program again as a child (--child CASE) that reports through its exit
 * status (0 = as expected, another value names the failed check). */
#include "test_win32_proc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "piperpc/piperpc.h"

/* ------------------------------------------------------------- children */

static int child_timeout(void)
{
    unsigned ev = 99;
    if (prpc_shutdown_wait(0, &ev) != PRPC_ERR_TIMEOUT || ev != 0)
        return 1;
    if (prpc_shutdown_watch(PRPC_SHUTDOWN_SIGNAL) != PRPC_OK)
        return 2;
    ULONGLONG t0 = GetTickCount64();
    if (prpc_shutdown_wait(150, &ev) != PRPC_ERR_TIMEOUT || ev != 0)
        return 3;
    ULONGLONG took = GetTickCount64() - t0;
    if (took < 140 || took > 5000) /* GetTickCount64 moves in ~16 ms steps */
        return 4;
    if (prpc_shutdown_watch(16u) != PRPC_ERR_INVALID_ARG)
        return 5;
    return 0;
}

static volatile LONG woken;

static DWORD WINAPI waiter(LPVOID arg)
{
    (void)arg;
    unsigned ev = 0;
    if (prpc_shutdown_wait(PRPC_TIMEOUT_INFINITE, &ev) == PRPC_OK && ev == PRPC_SHUTDOWN_REQUEST)
        InterlockedIncrement(&woken);
    return 0;
}

static int child_request(void)
{
    HANDLE t[3];
    for (int i = 0; i < 3; i++)
        if ((t[i] = CreateThread(NULL, 0, waiter, NULL, 0, NULL)) == NULL)
            return 1;
    /* A fixed time, not a condition: no waiter may wake without a request. */
    Sleep(100);
    if (woken != 0)
        return 2;
    prpc_shutdown_request();
    if (WaitForMultipleObjects(3, t, TRUE, 10000) != WAIT_OBJECT_0)
        return 3;
    if (woken != 3)
        return 4;
    unsigned ev = 0;
    if (prpc_shutdown_wait(0, &ev) != PRPC_OK || ev != PRPC_SHUTDOWN_REQUEST)
        return 5; /* a latch */
    for (int i = 0; i < 3; i++)
        CloseHandle(t[i]);
    return 0;
}

static int child_stdin(void)
{
    if (prpc_shutdown_watch(PRPC_SHUTDOWN_STDIN | PRPC_SHUTDOWN_SIGNAL) != PRPC_OK)
        return 1;
    printf("ready\n");
    fflush(stdout);
    unsigned ev = 0;
    /* The parent writes, but keeps the pipe open for now: data is no end. */
    if (prpc_shutdown_wait(300, &ev) != PRPC_ERR_TIMEOUT || ev != 0)
        return 2;
    /* Only now may the parent close the pipe. */
    printf("waited\n");
    fflush(stdout);
    if (prpc_shutdown_wait(20000, &ev) != PRPC_OK || ev != PRPC_SHUTDOWN_STDIN)
        return 3;
    return 0;
}

static int child_no_stdin(void)
{
    if (prpc_shutdown_watch(PRPC_SHUTDOWN_STDIN) != PRPC_OK)
        return 1;
    unsigned ev = 0;
    return prpc_shutdown_wait(10000, &ev) == PRPC_OK && ev == PRPC_SHUTDOWN_STDIN ? 0 : 2;
}

static int child_ctrl(void)
{
    if (prpc_shutdown_watch(PRPC_SHUTDOWN_SIGNAL) != PRPC_OK)
        return 1;
    printf("ready\n");
    fflush(stdout);
    unsigned ev = 0;
    if (prpc_shutdown_wait(20000, &ev) != PRPC_OK || ev != PRPC_SHUTDOWN_SIGNAL)
        return 2;
    printf("caught\n");
    fflush(stdout);
    /* Alive after the first event; the second goes to the default handler,
     * which ends the process (status STATUS_CONTROL_C_EXIT). */
    Sleep(20000);
    return 3;
}

/* ---------------------------------------------------------------- cases */

static void expect_child(const char *which, DWORD want)
{
    char args[64], out[1024];
    snprintf(args, sizeof args, "--child %s", which);
    DWORD rc = wproc_run("test_win32_shutdown.exe", args, out, sizeof out, 30000);
    if (rc != want)
        print_error("child %s: status %lu, output '%s'\n", which, (unsigned long)rc, out);
    assert_int_equal(rc, want);
}

static void test_shutdown_wait_times_out_without_events(void **state)
{
    (void)state;
    expect_child("timeout", 0);
}

static void test_shutdown_request_wakes_every_waiter(void **state)
{
    (void)state;
    expect_child("request", 0);
}

static void test_shutdown_stdin_end_after_data(void **state)
{
    (void)state;
    static wproc p;
    char line[64];
    assert_true(wproc_start(&p, "test_win32_shutdown.exe", "--child stdin"));
    assert_true(wproc_read_line(&p, line, sizeof line, 20000));
    assert_string_equal(line, "ready");
    char junk[10000];
    memset(junk, 'x', sizeof junk); /* more than one read of the reader thread */
    DWORD n = 0;
    assert_true(WriteFile(p.in, junk, sizeof junk, &n, NULL));
    assert_int_equal(n, sizeof junk);
    /* Past the child's 300 ms wait that must time out: it says so (or
     * exits, and its status tells why). */
    bool waited = wproc_read_line(&p, line, sizeof line, 20000) && strcmp(line, "waited") == 0;
    wproc_close_stdin(&p);
    DWORD rc = wproc_wait(&p, 30000);
    if (rc != 0)
        print_error("child stdin: status %lu\n", (unsigned long)rc);
    assert_int_equal(rc, 0);
    assert_true(waited);
    wproc_close(&p);
}

/* A child started with no standard input handle at all. */
static void test_shutdown_no_stdin_is_its_end(void **state)
{
    (void)state;
    char path[MAX_PATH + 32], cmd[MAX_PATH + 64];
    wproc_path("test_win32_shutdown.exe", path, sizeof path);
    snprintf(cmd, sizeof cmd, "\"%s\" --child no-stdin", path);
    STARTUPINFOA si;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES; /* all three NULL */
    PROCESS_INFORMATION pi;
    assert_true(CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi));
    DWORD w = WaitForSingleObject(pi.hProcess, 30000);
    if (w != WAIT_OBJECT_0)
        TerminateProcess(pi.hProcess, WPROC_KILLED);
    DWORD code = WPROC_KILLED;
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    assert_int_equal(code, 0);
}

/* This process's own answer to the events it sends to the child: ignored. */
static BOOL WINAPI ignore_ctrl(DWORD type)
{
    (void)type;
    return TRUE;
}

/* Ctrl-Break sent on the console the child shares with this process: caught
 * the first time, fatal the second time. Needs a console: a run that cannot
 * get one says so and checks nothing. */
static void test_shutdown_ctrl_break_is_caught_once(void **state)
{
    (void)state;
    if (GetConsoleWindow() == NULL && !AllocConsole() && GetLastError() != ERROR_ACCESS_DENIED) {
        print_message("no console to send Ctrl-Break on: not checked\n");
        skip();
    }
    static wproc p;
    char line[64];
    assert_true(wproc_start(&p, "test_win32_shutdown.exe", "--child ctrl"));
    assert_true(wproc_read_line(&p, line, sizeof line, 20000));
    assert_string_equal(line, "ready");
    /* Group 0 is every process on the console, this one included, which
     * ignores the events meanwhile. */
    assert_true(SetConsoleCtrlHandler(ignore_ctrl, TRUE));
    if (!GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, 0)) {
        DWORD err = GetLastError();
        TerminateProcess(p.process, 0);
        wproc_wait(&p, 5000);
        wproc_close(&p);
        SetConsoleCtrlHandler(ignore_ctrl, FALSE);
        print_message("GenerateConsoleCtrlEvent failed (%lu): not checked\n", (unsigned long)err);
        skip();
    }
    bool caught = wproc_read_line(&p, line, sizeof line, 20000);
    if (caught)
        assert_string_equal(line, "caught");
    GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, 0);
    DWORD rc = wproc_wait(&p, 30000);
    SetConsoleCtrlHandler(ignore_ctrl, FALSE);
    wproc_close(&p);
    assert_true(caught);
    assert_int_not_equal(rc, 3);            /* did not outlive the second one */
    assert_int_not_equal(rc, WPROC_KILLED); /* ended by the default handler */
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0) {
        const char *c = argv[2];
        return strcmp(c, "timeout") == 0    ? child_timeout()
               : strcmp(c, "request") == 0  ? child_request()
               : strcmp(c, "stdin") == 0    ? child_stdin()
               : strcmp(c, "no-stdin") == 0 ? child_no_stdin()
               : strcmp(c, "ctrl") == 0     ? child_ctrl()
                                            : 100;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shutdown_wait_times_out_without_events),
        cmocka_unit_test(test_shutdown_request_wakes_every_waiter),
        cmocka_unit_test(test_shutdown_stdin_end_after_data),
        cmocka_unit_test(test_shutdown_no_stdin_is_its_end),
        cmocka_unit_test(test_shutdown_ctrl_break_is_caught_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
