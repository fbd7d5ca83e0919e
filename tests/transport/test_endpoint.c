/* Endpoint strings: every form DESIGN.md lists, and the errors for every
 * malformed or unsupported one. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "transport/transport.h"

static void parse_ok(const char *ep, prpc__addr_kind kind, prpc__chan_mode mode, const char *name,
                     uint16_t port, const prpc__transport *want_tp)
{
    prpc__addr a;
    const prpc__transport *tp = NULL;
    prpc__err err = {{0}};
    prpc_status st = prpc__endpoint_parse(ep, &a, &tp, &err);
    if (st != PRPC_OK)
        fail_msg("%s: %s (%s)", ep, prpc_strerror(st), err.msg);
    assert_int_equal(a.kind, kind);
    assert_int_equal(a.mode, mode);
    assert_string_equal(a.name, name);
    assert_int_equal(a.port, port);
    assert_ptr_equal(tp, want_tp);
}

static void parse_bad(const char *ep, prpc_status want, const char *needle)
{
    prpc__addr a;
    const prpc__transport *tp = NULL;
    prpc__err err = {{0}};
    prpc_status st = prpc__endpoint_parse(ep, &a, &tp, &err);
    if (st != want)
        fail_msg("%s: got %s, want %s", ep, prpc_status_name(st), prpc_status_name(want));
    assert_null(tp);
    assert_true(err.msg[0] != '\0');
    if (needle != NULL && strstr(err.msg, needle) == NULL)
        fail_msg("%s: message '%s' lacks '%s'", ep, err.msg, needle);
}

static void test_endpoint_valid(void **state)
{
    (void)state;
    parse_ok("pipe:calc", PRPC__ADDR_PIPE, PRPC__CHAN_MESSAGE, "calc", 0, &prpc__transport_pipe);
    parse_ok("pipe:calc?mode=byte", PRPC__ADDR_PIPE, PRPC__CHAN_BYTE, "calc", 0, &prpc__transport_pipe);
    parse_ok("pipe:calc?mode=message", PRPC__ADDR_PIPE, PRPC__CHAN_MESSAGE, "calc", 0,
             &prpc__transport_pipe);
    parse_ok("\\\\.\\pipe\\calc", PRPC__ADDR_PIPE, PRPC__CHAN_MESSAGE, "calc", 0, &prpc__transport_pipe);
    parse_ok("unix:/run/x.sock", PRPC__ADDR_UNIX, PRPC__CHAN_MESSAGE, "/run/x.sock", 0,
             &prpc__transport_unix);
    parse_ok("unix:/run/x.sock?mode=byte", PRPC__ADDR_UNIX, PRPC__CHAN_BYTE, "/run/x.sock", 0,
             &prpc__transport_unix);
    parse_ok("tcp:127.0.0.1:7000", PRPC__ADDR_TCP, PRPC__CHAN_BYTE, "127.0.0.1", 7000, &prpc__transport_tcp);
    parse_ok("tcp:[::1]:7000", PRPC__ADDR_TCP, PRPC__CHAN_BYTE, "::1", 7000, &prpc__transport_tcp);
    parse_ok("tcp:localhost:0", PRPC__ADDR_TCP, PRPC__CHAN_BYTE, "localhost", 0, &prpc__transport_tcp);
    parse_ok("tcp:h:65535", PRPC__ADDR_TCP, PRPC__CHAN_BYTE, "h", 65535, &prpc__transport_tcp);
    parse_ok("stdio:", PRPC__ADDR_STDIO, PRPC__CHAN_BYTE, "", 0, &prpc__transport_stdio);
    parse_ok("stdio:/usr/bin/server", PRPC__ADDR_STDIO, PRPC__CHAN_BYTE, "/usr/bin/server", 0,
             &prpc__transport_stdio);
    /* The longest pipe name accepted, and one past it. */
    char ep[300];
    memset(ep, 0, sizeof ep);
    memcpy(ep, "pipe:", 5);
    memset(ep + 5, 'n', PRPC__NAME_MAX);
    prpc__addr a;
    const prpc__transport *tp;
    assert_int_equal(prpc__endpoint_parse(ep, &a, &tp, NULL), PRPC_OK);
    ep[5 + PRPC__NAME_MAX] = 'n';
    parse_bad(ep, PRPC_ERR_INVALID_ARG, "limit");
}

static void test_endpoint_malformed(void **state)
{
    (void)state;
    parse_bad("", PRPC_ERR_INVALID_ARG, "empty");
    parse_bad("calc", PRPC_ERR_INVALID_ARG, "scheme");
    parse_bad("bogus:x", PRPC_ERR_INVALID_ARG, "bogus");
    parse_bad("pipe:", PRPC_ERR_INVALID_ARG, "name");
    parse_bad("pipe:a/b", PRPC_ERR_INVALID_ARG, "/");
    parse_bad("pipe:a\\b", PRPC_ERR_INVALID_ARG, "\\");
    parse_bad("pipe:.hidden", PRPC_ERR_INVALID_ARG, ".");
    parse_bad("pipe:..", PRPC_ERR_INVALID_ARG, ".");
    parse_bad("pipe:a b", PRPC_ERR_INVALID_ARG, "spaces");
    parse_bad("pipe:a\tb", PRPC_ERR_INVALID_ARG, "control");
    parse_bad("pipe:x.lock", PRPC_ERR_INVALID_ARG, ".lock");
    parse_bad("pipe:x?mode=fast", PRPC_ERR_INVALID_ARG, "mode");
    parse_bad("pipe:x?", PRPC_ERR_INVALID_ARG, "mode");
    parse_bad("unix:", PRPC_ERR_INVALID_ARG, "absolute");
    parse_bad("unix:relative.sock", PRPC_ERR_INVALID_ARG, "absolute");
    parse_bad("unix:/x?mode=bytes", PRPC_ERR_INVALID_ARG, "mode");
    char ep[300];
    memset(ep, 0, sizeof ep);
    memcpy(ep, "unix:/", 6);
    memset(ep + 6, 'p', 106); /* 107 bytes: the longest sun_path */
    prpc__addr a;
    const prpc__transport *tp;
    assert_int_equal(prpc__endpoint_parse(ep, &a, &tp, NULL), PRPC_OK);
    ep[6 + 106] = 'p'; /* 108: one past */
    parse_bad(ep, PRPC_ERR_INVALID_ARG, "limit");
    parse_bad("tcp:", PRPC_ERR_INVALID_ARG, "HOST:PORT");
    parse_bad("tcp:host", PRPC_ERR_INVALID_ARG, "HOST:PORT");
    parse_bad("tcp::7000", PRPC_ERR_INVALID_ARG, "host");
    parse_bad("tcp:h:", PRPC_ERR_INVALID_ARG, "port");
    parse_bad("tcp:h:65536", PRPC_ERR_INVALID_ARG, "range");
    parse_bad("tcp:h:-1", PRPC_ERR_INVALID_ARG, "port");
    parse_bad("tcp:h:7x", PRPC_ERR_INVALID_ARG, "port");
    parse_bad("tcp:h:123456", PRPC_ERR_INVALID_ARG, "port");
    parse_bad("tcp:::1:7000", PRPC_ERR_INVALID_ARG, "brackets");
    parse_bad("tcp:[::1]7000", PRPC_ERR_INVALID_ARG, "[ADDR]:PORT");
    parse_bad("tcp:[::1", PRPC_ERR_INVALID_ARG, "[ADDR]:PORT");
    parse_bad("tcp:[]:7000", PRPC_ERR_INVALID_ARG, "host");
    assert_int_equal(prpc__endpoint_parse(NULL, &a, &tp, NULL), PRPC_ERR_INVALID_ARG);
}

/* A well-formed pipe on another machine: parsed with its host where the
 * platform has remote pipes (Windows), else NOT_SUPPORTED advising tcp:. */
static void parse_remote(const char *ep, const char *host, const char *name,
                         prpc__chan_mode mode)
{
    if (!PRPC__REMOTE_PIPES) {
        parse_bad(ep, PRPC_ERR_NOT_SUPPORTED, "tcp:");
        return;
    }
    parse_ok(ep, PRPC__ADDR_PIPE, mode, name, 0, &prpc__transport_pipe);
    prpc__addr a;
    const prpc__transport *tp;
    assert_int_equal(prpc__endpoint_parse(ep, &a, &tp, NULL), PRPC_OK);
    assert_string_equal(a.host, host);
}

/* pipe://HOST/NAME and \\HOST\pipe\NAME: HOST "." is this machine on
 * every platform; another host is a remote pipe, which only Windows has
 * (parse_remote); malformed forms are refused as such first. */
static void test_endpoint_hosted_pipes(void **state)
{
    (void)state;
    const char *local[] = {"pipe://./calc", "\\\\.\\pipe\\calc"};
    for (int i = 0; i < 2; i++) {
        parse_ok(local[i], PRPC__ADDR_PIPE, PRPC__CHAN_MESSAGE, "calc", 0, &prpc__transport_pipe);
        prpc__addr a;
        const prpc__transport *tp;
        assert_int_equal(prpc__endpoint_parse(local[i], &a, &tp, NULL), PRPC_OK);
        assert_string_equal(a.host, "");
        assert_false(a.remote_clients);
    }
    parse_ok("pipe://./calc?mode=byte", PRPC__ADDR_PIPE, PRPC__CHAN_BYTE, "calc", 0,
             &prpc__transport_pipe);
    parse_ok("\\\\.\\pipe\\calc?mode=byte", PRPC__ADDR_PIPE, PRPC__CHAN_BYTE, "calc", 0,
             &prpc__transport_pipe);
    parse_bad("pipe://./.hidden", PRPC_ERR_INVALID_ARG, ".");
    parse_bad("pipe://", PRPC_ERR_INVALID_ARG, "pipe name");
    parse_bad("pipe:///calc", PRPC_ERR_INVALID_ARG, "host");
    parse_bad("pipe://server", PRPC_ERR_INVALID_ARG, "pipe name");
    parse_bad("pipe://server/", PRPC_ERR_INVALID_ARG, "name");
    parse_bad("pipe://server/a/b", PRPC_ERR_INVALID_ARG, "/");
    parse_bad("pipe://ser ver/calc", PRPC_ERR_INVALID_ARG, "letters");
    parse_bad("pipe://[::1]/calc", PRPC_ERR_INVALID_ARG, "letters");
    parse_bad("pipe://server/calc?mode=fast", PRPC_ERR_INVALID_ARG, "mode");
    parse_bad("\\\\server\\share\\calc", PRPC_ERR_INVALID_ARG, "pipe path");
    parse_bad("\\\\server", PRPC_ERR_INVALID_ARG, "pipe path");
    /* The longest host is well formed; one past it is malformed. */
    char ep[PRPC__HOST_MAX + 32];
    char longest[PRPC__HOST_MAX];
    memset(longest, 'h', PRPC__HOST_MAX - 1);
    longest[PRPC__HOST_MAX - 1] = '\0';
    memcpy(ep, "pipe://", 7);
    memset(ep + 7, 'h', PRPC__HOST_MAX - 1);
    memcpy(ep + 7 + PRPC__HOST_MAX - 1, "/calc", 6);
    parse_remote(ep, longest, "calc", PRPC__CHAN_MESSAGE);
    memset(ep + 7, 'h', PRPC__HOST_MAX);
    memcpy(ep + 7 + PRPC__HOST_MAX, "/calc", 6);
    parse_bad(ep, PRPC_ERR_INVALID_ARG, "limit");
}

static void test_endpoint_unsupported(void **state)
{
    (void)state;
    parse_remote("pipe://server/calc", "server", "calc", PRPC__CHAN_MESSAGE);
    parse_remote("pipe://server/calc?mode=byte", "server", "calc", PRPC__CHAN_BYTE);
    parse_remote("pipe://localhost/calc", "localhost", "calc", PRPC__CHAN_MESSAGE);
    parse_remote("pipe://10.0.0.7/calc", "10.0.0.7", "calc", PRPC__CHAN_MESSAGE);
    parse_remote("\\\\server\\pipe\\calc", "server", "calc", PRPC__CHAN_MESSAGE);
    if (!PRPC__REMOTE_PIPES)
        parse_bad("pipe://localhost/calc", PRPC_ERR_NOT_SUPPORTED, "another machine");
    parse_bad("shm:calc", PRPC_ERR_NOT_SUPPORTED, "shm");
    parse_bad("unix:@abstract", PRPC_ERR_NOT_SUPPORTED, "abstract");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_valid),
        cmocka_unit_test(test_endpoint_malformed),
        cmocka_unit_test(test_endpoint_hosted_pipes),
        cmocka_unit_test(test_endpoint_unsupported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
