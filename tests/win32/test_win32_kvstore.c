/* End to end on Windows with real processes: the kvstore example's own
 * programs, built for Windows, against each other. kv_server.exe serves
 * (stopped by closing its stdin: --stop-on-eof), kv_client.exe runs every
 * command of its command line with its output and exit status checked, and
 * kv_watch.exe receives the kv.Store.changed events another client causes.
 * Over pipe: in message mode, pipe: in byte mode and tcp: on loopback (the
 * port the server got, read from its output). The same checks as
 * tests/examples/kvstore_test.sh on Linux. */
#include "test_win32_proc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define STEP_MS 30000 /* bound of each child process (Wine can be slow) */

/* A running kv_server.exe and the endpoint it printed. */
typedef struct server {
    wproc p;
    char endpoint[512];
} server;

/* Starts kv_server.exe --stop-on-eof ENDPOINT and reads the endpoint it
 * listens on from its first line. */
static void server_start(server *s, const char *listen_ep)
{
    char args[600], line[600];
    snprintf(args, sizeof args, "--stop-on-eof \"%s\"", listen_ep);
    assert_true(wproc_start(&s->p, "kv_server.exe", args));
    bool got = wproc_read_line(&s->p, line, sizeof line, STEP_MS);
    if (!got)
        print_error("kv_server printed no line: %s\n", s->p.buf);
    assert_true(got);
    const char *prefix = "kv_server: listening on ";
    assert_memory_equal(line, prefix, strlen(prefix));
    snprintf(s->endpoint, sizeof s->endpoint, "%s", line + strlen(prefix));
}

/* Closes the server's stdin and checks that it drains and exits 0. */
static void server_stop(server *s)
{
    wproc_close_stdin(&s->p);
    DWORD code = wproc_wait(&s->p, STEP_MS);
    if (code != 0 || strstr(s->p.buf, "end of input, draining") == NULL)
        print_error("kv_server: status %lu, output '%s'\n", (unsigned long)code, s->p.buf);
    assert_int_equal(code, 0);
    assert_non_null(strstr(s->p.buf, "end of input, draining"));
    wproc_close(&s->p);
}

/* Runs kv_client.exe ENDPOINT ARGS; checks its exit status and output. */
static void expect(DWORD want_rc, const char *want_out, const char *endpoint, const char *args)
{
    char cmd[2048], out[8192];
    snprintf(cmd, sizeof cmd, "\"%s\" %s", endpoint, args);
    DWORD rc = wproc_run("kv_client.exe", cmd, out, sizeof out, STEP_MS);
    if (rc != want_rc || strcmp(out, want_out) != 0)
        print_error("kv_client %s: status %lu (want %lu), output '%s' (want '%s')\n", cmd,
                    (unsigned long)rc, (unsigned long)want_rc, out, want_out);
    assert_int_equal(rc, want_rc);
    assert_string_equal(out, want_out);
}

/* Every kv_client command, the errors and limits, and events through
 * kv_watch, against a fresh server on listen_ep. */
static void kvstore_over(const char *listen_ep)
{
    static server s;
    server_start(&s, listen_ep);
    const char *ep = s.endpoint;

    /* kv_watch first: it prints "watching user/" once its watch is in. */
    static wproc watch;
    char args[700], line[256];
    snprintf(args, sizeof args, "--count 3 --timeout 20000 \"%s\" user/", ep);
    assert_true(wproc_start(&watch, "kv_watch.exe", args));
    assert_true(wproc_read_line(&watch, line, sizeof line, STEP_MS));
    assert_string_equal(line, "watching user/");

    expect(0, "1", ep, "put user/ann Ann");
    expect(0, "1", ep, "put other/x x");
    expect(0, "2", ep, "put user/ann \"Ann Smith\"");
    expect(0, "", ep, "set-quiet user/bob Bob");
    expect(0, "Ann Smith", ep, "get user/ann");
    expect(0, "Bob", ep, "get user/bob");
    expect(1, "", ep, "get user/nobody");
    expect(0, "user/ann 2 Ann Smith\nuser/bob 1 Bob", ep, "list user/");
    expect(0, "user/ann 2 Ann Smith", ep, "list user/ 1");
    expect(0, "other/x 1 x\nuser/ann 2 Ann Smith\nuser/bob 1 Bob", ep, "list");
    expect(0, "3", ep, "count");
    expect(0, "3 13", ep, "stats");
    /* Keys at the limit (256 bytes) and one past it. */
    char key[300], cmd[400];
    memset(key, 'k', 257);
    key[257] = '\0';
    snprintf(cmd, sizeof cmd, "put %s v", key);
    expect(1, "", ep, cmd);
    key[256] = '\0';
    snprintf(cmd, sizeof cmd, "put %s v", key);
    expect(0, "1", ep, cmd);
    snprintf(cmd, sizeof cmd, "remove %s", key);
    expect(0, "true", ep, cmd);
    expect(0, "false", ep, "remove user/nobody");
    expect(2, "", ep, "frobnicate");
    expect(2, "", ep, "get");
    expect(0, "3", ep, "count");

    /* The watcher saw the three writes under user/, in order, then left. */
    DWORD rc = wproc_wait(&watch, STEP_MS);
    char *rest = watch.buf;
    if (rc != 0 || strcmp(rest, "changed user/ann version 1\r\nchanged user/ann version 2\r\n"
                                "changed user/bob version 1\r\n") != 0)
        print_error("kv_watch: status %lu, output '%s'\n", (unsigned long)rc, rest);
    assert_int_equal(rc, 0);
    assert_string_equal(rest, "changed user/ann version 1\r\nchanged user/ann version 2\r\n"
                              "changed user/bob version 1\r\n");
    wproc_close(&watch);

    server_stop(&s);
}

static void test_kvstore_pipe_message(void **state)
{
    (void)state;
    char ep[128];
    snprintf(ep, sizeof ep, "pipe:prpc-w32kv-%lu-m", (unsigned long)GetCurrentProcessId());
    kvstore_over(ep);
}

static void test_kvstore_pipe_byte(void **state)
{
    (void)state;
    char ep[128];
    snprintf(ep, sizeof ep, "pipe:prpc-w32kv-%lu-b?mode=byte", (unsigned long)GetCurrentProcessId());
    kvstore_over(ep);
}

static void test_kvstore_tcp(void **state)
{
    (void)state;
    kvstore_over("tcp:127.0.0.1:0");
}

/* A client opening a byte-mode server in message mode is refused with a
 * clear error, not garbled messages: kv_client's usage status (2, from
 * PRPC_ERR_INVALID_ARG). A second server on a live name is refused. */
static void test_kvstore_mode_mismatch_and_second_server(void **state)
{
    (void)state;
    static server s;
    char ep[128], msg_ep[128];
    snprintf(ep, sizeof ep, "pipe:prpc-w32kv-%lu-x?mode=byte", (unsigned long)GetCurrentProcessId());
    snprintf(msg_ep, sizeof msg_ep, "pipe:prpc-w32kv-%lu-x", (unsigned long)GetCurrentProcessId());
    server_start(&s, ep);
    expect(2, "", msg_ep, "count");
    expect(0, "0", ep, "count");

    char args[300], out[2048];
    snprintf(args, sizeof args, "\"%s\"", msg_ep);
    DWORD rc = wproc_run("kv_server.exe", args, out, sizeof out, STEP_MS);
    assert_int_equal(rc, 1); /* "cannot listen on ...": its stderr is ours */
    server_stop(&s);
}

/* Nobody serves the name: kv_client gives up after its connect timeout
 * with exit status 3. */
static void test_kvstore_no_server(void **state)
{
    (void)state;
    char ep[128];
    snprintf(ep, sizeof ep, "pipe:prpc-w32kv-%lu-nobody", (unsigned long)GetCurrentProcessId());
    expect(3, "", ep, "count");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kvstore_pipe_message),
        cmocka_unit_test(test_kvstore_pipe_byte),
        cmocka_unit_test(test_kvstore_tcp),
        cmocka_unit_test(test_kvstore_mode_mismatch_and_second_server),
        cmocka_unit_test(test_kvstore_no_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
