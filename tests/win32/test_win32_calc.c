/* End to end on Windows with real processes: this program serves the
 * calculator example's service (examples/calculator/calc_service.c) with the
 * piperpc server, and the example's own client, built for Windows, calls it
 * from another process over pipe: in message mode, pipe: in byte mode and
 * tcp:. With --serve ENDPOINT... it only serves (until its stdin ends), so
 * that a client on another system can call a Windows server. */
#include <winsock2.h> /* before anything that includes windows.h */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "calc_service.h"

static prpc_server *start_server(const char *endpoint)
{
    assert_int_equal(calc_service_start(), PRPC_OK);
    prpc_server *s = NULL;
    assert_int_equal(prpc_server_create(NULL, &s), PRPC_OK);
    assert_int_equal(calc_Calculator_register(s, &calc_service_ops, NULL), PRPC_OK);
    prpc_status st = prpc_server_listen(s, endpoint);
    if (st != PRPC_OK)
        print_error("listen %s: %s\n", endpoint, prpc_server_error(s));
    assert_int_equal(st, PRPC_OK);
    assert_int_equal(prpc_server_start(s), PRPC_OK);
    return s;
}

static void stop_server(prpc_server *s)
{
    assert_int_equal(prpc_server_stop(s, 2000), PRPC_OK);
    calc_service_stop();
    prpc_server_destroy(s);
}

/* Runs the example client against endpoint; its exit status is 0 when every
 * call behaved as the example expects (results, IDL errors, a timeout). */
static DWORD run_client(const char *endpoint)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "\"%s\" %s", CALC_CLIENT_PATH, endpoint);
    STARTUPINFOA si;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    PROCESS_INFORMATION pi;
    assert_true(CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi));
    DWORD w = WaitForSingleObject(pi.hProcess, 60000);
    if (w != WAIT_OBJECT_0)
        TerminateProcess(pi.hProcess, 99);
    DWORD code = 98;
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    return code;
}

static void calc_over(const char *listen_ep)
{
    prpc_server *s = start_server(listen_ep);
    char ep[512];
    assert_int_equal(prpc_server_endpoint(s, 0, ep, sizeof ep), PRPC_OK);
    assert_int_equal(run_client(ep), 0);
    /* A second client after the first has gone. */
    assert_int_equal(run_client(ep), 0);
    stop_server(s);
}

static void test_calc_pipe_message(void **state)
{
    (void)state;
    char ep[128];
    snprintf(ep, sizeof ep, "pipe:prpc-w32calc-%lu", (unsigned long)GetCurrentProcessId());
    calc_over(ep);
}

static void test_calc_pipe_byte(void **state)
{
    (void)state;
    char ep[128];
    snprintf(ep, sizeof ep, "pipe:prpc-w32calc-%lu-b?mode=byte", (unsigned long)GetCurrentProcessId());
    calc_over(ep);
}

static void test_calc_tcp(void **state)
{
    (void)state;
    calc_over("tcp:127.0.0.1:0");
}

static int serve(int n, char **eps)
{
    if (calc_service_start() != PRPC_OK)
        return 1;
    prpc_server *s = NULL;
    if (prpc_server_create(NULL, &s) != PRPC_OK ||
        calc_Calculator_register(s, &calc_service_ops, NULL) != PRPC_OK)
        return 1;
    for (int i = 0; i < n; i++) {
        if (prpc_server_listen(s, eps[i]) != PRPC_OK) {
            fprintf(stderr, "cannot listen on %s: %s\n", eps[i], prpc_server_error(s));
            return 1;
        }
    }
    if (prpc_server_start(s) != PRPC_OK)
        return 1;
    char ep[512];
    for (size_t i = 0; prpc_server_endpoint(s, i, ep, sizeof ep) == PRPC_OK; i++)
        printf("listening on %s\n", ep);
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin) != NULL) {
    }
    prpc_status st = prpc_server_stop(s, 2000);
    calc_service_stop();
    prpc_server_destroy(s);
    return st == PRPC_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--serve") == 0)
        return serve(argc - 2, argv + 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calc_pipe_message),
        cmocka_unit_test(test_calc_pipe_byte),
        cmocka_unit_test(test_calc_tcp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
