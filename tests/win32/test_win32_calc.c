/* End to end on Windows with real processes: the calculator example's own
 * client, built for Windows, calls over pipe: in message mode, pipe: in
 * byte mode and tcp: (a) the example's service (calc_service.c) served by
 * the piperpc server in this process, and (b) the example's own server,
 * calc_server.exe, in another process, stopped by closing its stdin
 * (--stop-on-eof). calc_client exits 0 when every call behaved as the
 * example expects (results, IDL errors, a timeout). */
#include "test_win32_proc.h"

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

/* Runs the example client against endpoint; returns its exit status. */
static DWORD run_client(const char *endpoint)
{
    char args[600], out[4096];
    snprintf(args, sizeof args, "\"%s\"", endpoint);
    DWORD code = wproc_run("calc_client.exe", args, out, sizeof out, 60000);
    if (code != 0)
        print_error("calc_client %s: status %lu, output:\n%s\n", endpoint, (unsigned long)code,
                    out);
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

/* calc_server.exe on listen_ep and calc_client.exe against it, twice;
 * then the server is stopped by closing its stdin and must exit 0. */
static void calc_processes_over(const char *listen_ep)
{
    static wproc server;
    char args[600], line[600];
    snprintf(args, sizeof args, "--stop-on-eof \"%s\"", listen_ep);
    assert_true(wproc_start(&server, "calc_server.exe", args));
    assert_true(wproc_read_line(&server, line, sizeof line, 30000));
    const char *prefix = "calc_server: listening on ";
    assert_memory_equal(line, prefix, strlen(prefix));
    char ep[512];
    snprintf(ep, sizeof ep, "%s", line + strlen(prefix));
    assert_int_equal(run_client(ep), 0);
    assert_int_equal(run_client(ep), 0);
    wproc_close_stdin(&server);
    DWORD code = wproc_wait(&server, 30000);
    if (code != 0)
        print_error("calc_server: status %lu, output '%s'\n", (unsigned long)code, server.buf);
    assert_int_equal(code, 0);
    assert_non_null(strstr(server.buf, "calc_server: end of input, stopping"));
    wproc_close(&server);
}

static void test_calc_processes_pipe_message(void **state)
{
    (void)state;
    char ep[128];
    snprintf(ep, sizeof ep, "pipe:prpc-w32calc-%lu-pm", (unsigned long)GetCurrentProcessId());
    calc_processes_over(ep);
}

static void test_calc_processes_pipe_byte(void **state)
{
    (void)state;
    char ep[128];
    snprintf(ep, sizeof ep, "pipe:prpc-w32calc-%lu-pb?mode=byte", (unsigned long)GetCurrentProcessId());
    calc_processes_over(ep);
}

static void test_calc_processes_tcp(void **state)
{
    (void)state;
    calc_processes_over("tcp:127.0.0.1:0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calc_pipe_message),
        cmocka_unit_test(test_calc_pipe_byte),
        cmocka_unit_test(test_calc_tcp),
        cmocka_unit_test(test_calc_processes_pipe_message),
        cmocka_unit_test(test_calc_processes_pipe_byte),
        cmocka_unit_test(test_calc_processes_tcp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
