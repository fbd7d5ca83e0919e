/* Tests of remote pipes and peer identity on Windows: the pipe://HOST/NAME
 * and \\HOST\pipe\NAME endpoint forms, the pipe path a client opens, the
 * PIPE_REJECT_REMOTE_CLIENTS flag (set by default, absent only when the
 * server opts in), a client reaching a local server through the local
 * machine's names, the client's user SID as text at the platform layer and
 * in the server's call context, and the default same-user policy deciding
 * by SID. */
#include <winsock2.h> /* before anything that includes windows.h */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sddl.h>

#include "piperpc/client.h"
#include "piperpc/server.h"
#include "platform/platform.h"
#include "platform/win32/win32_io.h"
#include "transport/transport.h"

#define DEADLINE(ms) (prpc__now_ms() + (ms))

/* ------------------------------------------------------------ helpers */

static void unique_name(char *buf, size_t size, const char *what)
{
    static volatile LONG seq;
    snprintf(buf, size, "prpc-w32r-%lu-%s-%ld", (unsigned long)GetCurrentProcessId(), what,
             (long)InterlockedIncrement(&seq));
}

/* Wine cannot open UNC pipe paths at all (see docs/windows.md); the tests
 * that need a second machine's view check there what Wine can show. */
static bool under_wine(void)
{
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    return ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

/* This process's user SID as text, computed here independently of the
 * library: OpenProcessToken, GetTokenInformation(TokenUser),
 * ConvertSidToStringSidA. */
static void own_sid_text(char *buf, size_t size)
{
    HANDLE tok;
    assert_true(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok));
    DWORD len = 0;
    GetTokenInformation(tok, TokenUser, NULL, 0, &len);
    assert_true(len > 0);
    TOKEN_USER *tu = malloc(len);
    assert_non_null(tu);
    assert_true(GetTokenInformation(tok, TokenUser, tu, len, &len));
    char *s = NULL;
    assert_true(ConvertSidToStringSidA(tu->User.Sid, &s));
    assert_true(strlen(s) < size);
    snprintf(buf, size, "%s", s);
    LocalFree(s);
    free(tu);
    CloseHandle(tok);
    assert_true(strncmp(buf, "S-1-", 4) == 0);
}

static prpc__addr parse(const char *ep)
{
    prpc__addr a;
    const prpc__transport *tp = NULL;
    prpc__err err = {{0}};
    prpc_status st = prpc__endpoint_parse(ep, &a, &tp, &err);
    if (st != PRPC_OK)
        fail_msg("%s: %s (%s)", ep, prpc_strerror(st), err.msg);
    assert_ptr_equal(tp, &prpc__transport_pipe);
    assert_int_equal(a.kind, PRPC__ADDR_PIPE);
    return a;
}

static void parse_bad(const char *ep, prpc_status want, const char *needle)
{
    prpc__addr a;
    const prpc__transport *tp = NULL;
    prpc__err err = {{0}};
    prpc_status st = prpc__endpoint_parse(ep, &a, &tp, &err);
    if (st != want)
        fail_msg("%s: got %s, want %s (%s)", ep, prpc_status_name(st), prpc_status_name(want),
                 err.msg);
    assert_null(tp);
    if (needle != NULL && strstr(err.msg, needle) == NULL)
        fail_msg("%s: message '%s' lacks '%s'", ep, err.msg, needle);
}

/* A platform listener that accepts connections and keeps them, to look at
 * their peers. */
struct keeper {
    prpc__iopool *pool;
    prpc__plistener *l;
    prpc__mutex lock;
    prpc__cond cv;
    prpc__pconn *conns[8];
    int n;
};

static void keep_accept(void *user, prpc_status st, prpc__pconn *c)
{
    struct keeper *k = user;
    if (st != PRPC_OK)
        return;
    prpc__mutex_lock(&k->lock);
    if (k->n < 8) {
        k->conns[k->n++] = c;
        c = NULL;
    }
    prpc__cond_broadcast(&k->cv);
    prpc__mutex_unlock(&k->lock);
    if (c != NULL)
        prpc__pconn_destroy(c);
    prpc__plistener_accept(k->l, keep_accept, k);
}

static void keeper_start(struct keeper *k, const prpc__addr *a)
{
    memset(k, 0, sizeof *k);
    prpc__mutex_init(&k->lock);
    prpc__cond_init(&k->cv);
    assert_int_equal(prpc__iopool_create(2, &k->pool), PRPC_OK);
    prpc__err err = {{0}};
    prpc_status st = prpc__plistener_open(k->pool, a, &k->l, &err);
    if (st != PRPC_OK)
        fail_msg("listen on %s: %s (%s)", a->name, prpc_strerror(st), err.msg);
    assert_int_equal(prpc__plistener_accept(k->l, keep_accept, k), PRPC_OK);
}

static prpc__pconn *keeper_wait(struct keeper *k, int n)
{
    prpc__mutex_lock(&k->lock);
    while (k->n < n)
        assert_int_equal(prpc__cond_wait_until(&k->cv, &k->lock, DEADLINE(5000)), PRPC_OK);
    prpc__pconn *c = k->conns[n - 1];
    prpc__mutex_unlock(&k->lock);
    return c;
}

static void keeper_stop(struct keeper *k)
{
    prpc__plistener_close(k->l);
    prpc__plistener_stop(k->l);
    for (int i = 0; i < k->n; i++)
        prpc__pconn_destroy(k->conns[i]);
    prpc__iopool_close(k->pool);
    prpc__iopool_stop(k->pool);
    prpc__plistener_free(k->l);
    prpc__iopool_free(k->pool);
    prpc__cond_destroy(&k->cv);
    prpc__mutex_destroy(&k->lock);
}

/* Sends one message and expects it echoed by nobody: the server keeps the
 * connection, so a successful send proves the channel is open. */
static void check_open(prpc__pconn *c)
{
    static const uint8_t msg[] = {0x93, 0x02, 0xa1, 'x', 0x90};
    assert_int_equal(prpc__pconn_send(c, msg, sizeof msg), PRPC_OK);
}

/* ------------------------------------------------------- endpoint forms */

static void test_remote_endpoint_forms(void **state)
{
    (void)state;
    prpc__addr a = parse("pipe://server/calc");
    assert_string_equal(a.host, "server");
    assert_string_equal(a.name, "calc");
    assert_int_equal(a.mode, PRPC__CHAN_MESSAGE);
    assert_false(a.remote_clients);
    a = parse("pipe://server/calc?mode=byte");
    assert_string_equal(a.host, "server");
    assert_string_equal(a.name, "calc");
    assert_int_equal(a.mode, PRPC__CHAN_BYTE);
    a = parse("\\\\server.example.com\\pipe\\calc?mode=byte");
    assert_string_equal(a.host, "server.example.com");
    assert_string_equal(a.name, "calc");
    assert_int_equal(a.mode, PRPC__CHAN_BYTE);
    a = parse("pipe://10.0.0.7/calc");
    assert_string_equal(a.host, "10.0.0.7");
    /* localhost is a machine name like any other: the client goes through
     * the network redirector, as a remote client would. */
    a = parse("pipe://localhost/calc");
    assert_string_equal(a.host, "localhost");
    /* "." is this machine: exactly pipe:NAME. */
    a = parse("pipe://./calc");
    assert_string_equal(a.host, "");
    assert_string_equal(a.name, "calc");
    a = parse("\\\\.\\pipe\\calc?mode=byte");
    assert_string_equal(a.host, "");
    assert_int_equal(a.mode, PRPC__CHAN_BYTE);
    a = parse("pipe:calc");
    assert_string_equal(a.host, "");

    /* The longest host, and one past it. */
    char ep[PRPC__HOST_MAX + 32];
    memcpy(ep, "pipe://", 7);
    memset(ep + 7, 'h', PRPC__HOST_MAX - 1);
    memcpy(ep + 7 + PRPC__HOST_MAX - 1, "/calc", 6);
    a = parse(ep);
    assert_int_equal(strlen(a.host), PRPC__HOST_MAX - 1);
    memset(ep + 7, 'h', PRPC__HOST_MAX);
    memcpy(ep + 7 + PRPC__HOST_MAX, "/calc", 6);
    parse_bad(ep, PRPC_ERR_INVALID_ARG, "limit");

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
}

static void test_remote_pipe_path(void **state)
{
    (void)state;
    char path[PRPC__HOST_MAX + PRPC__PATH_MAX + 16];
    prpc__addr a = parse("pipe://server/calc?mode=byte");
    prpc__pipe_path(&a, path, sizeof path);
    assert_string_equal(path, "\\\\server\\pipe\\calc");
    a = parse("pipe://./calc");
    prpc__pipe_path(&a, path, sizeof path);
    assert_string_equal(path, "\\\\.\\pipe\\calc");
    a = parse("pipe:calc");
    prpc__pipe_path(&a, path, sizeof path);
    assert_string_equal(path, "\\\\.\\pipe\\calc");
}

/* A server creates pipes on its own machine only. */
static void test_remote_listen_on_host_refused(void **state)
{
    (void)state;
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(1, &pool), PRPC_OK);
    prpc__addr a = parse("pipe://server/calc");
    prpc__plistener *l = NULL;
    prpc__err err = {{0}};
    assert_int_equal(prpc__plistener_open(pool, &a, &l, &err), PRPC_ERR_INVALID_ARG);
    assert_null(l);
    assert_non_null(strstr(err.msg, "pipe:calc"));
    prpc__iopool_close(pool);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);

    prpc_server *srv;
    assert_int_equal(prpc_server_create(NULL, &srv), PRPC_OK);
    assert_int_equal(prpc_server_listen(srv, "pipe://server/calc"), PRPC_ERR_INVALID_ARG);
    assert_non_null(strstr(prpc_server_error(srv), "allow_remote_pipe_clients"));
    prpc_server_destroy(srv);
}

/* ------------------------------------------------------------- flags */

/* Every instance is created with l->pipe_mode. By default it carries
 * PIPE_REJECT_REMOTE_CLIENTS; opting in removes that flag and nothing else;
 * the next default listener has it again. Wine accepts the flag but keeps
 * no trace of it that an API could read back (docs/windows.md). */
static void test_remote_reject_flag_default_and_opt_in(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        bool opt_in = round == 1;
        for (int m = 0; m < 2; m++) {
            char name[96];
            unique_name(name, sizeof name, "flags");
            char ep[160];
            snprintf(ep, sizeof ep, "pipe:%s%s", name, m ? "?mode=byte" : "");
            prpc__addr a = parse(ep);
            a.remote_clients = opt_in;
            struct keeper k;
            keeper_start(&k, &a);
            DWORD mode = k.l->pipe_mode;
            if (opt_in)
                assert_false(mode & PIPE_REJECT_REMOTE_CLIENTS);
            else
                assert_true(mode & PIPE_REJECT_REMOTE_CLIENTS);
            DWORD type = m ? PIPE_TYPE_BYTE | PIPE_READMODE_BYTE
                           : PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE;
            assert_int_equal(mode & ~(DWORD)PIPE_REJECT_REMOTE_CLIENTS, type | PIPE_WAIT);
            /* The instances really are of that type. */
            DWORD flags = 0;
            assert_true(GetNamedPipeInfo(k.l->inst[0].h, &flags, NULL, NULL, NULL));
            assert_int_equal(!!(flags & PIPE_TYPE_MESSAGE), !m);
            keeper_stop(&k);
        }
    }
}

/* ----------------------------------------------- reaching a local server */

/* pipe://./NAME is the local pipe; pipe://<this computer>/NAME and
 * pipe://localhost/NAME go through the network redirector to a server that
 * admits remote clients. Wine has no redirector for pipes: the open fails
 * with ERROR_PATH_NOT_FOUND, which the client reports as an unreachable
 * machine naming the path it tried. */
static void test_remote_dial_this_machine(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "unc");
    char ep[400];
    snprintf(ep, sizeof ep, "pipe:%s", name);
    prpc__addr la = parse(ep);
    la.remote_clients = true;
    struct keeper k;
    keeper_start(&k, &la);

    /* The local machine by ".", in both spellings. */
    const char *dot[] = {"pipe://./%s", "\\\\.\\pipe\\%s"};
    for (int i = 0; i < 2; i++) {
        snprintf(ep, sizeof ep, dot[i], name);
        prpc__addr a = parse(ep);
        prpc__pconn *c = NULL;
        prpc__err err = {{0}};
        prpc_status st = prpc__pconn_dial(NULL, &a, DEADLINE(3000), &c, &err);
        if (st != PRPC_OK)
            fail_msg("%s: %s (%s)", ep, prpc_strerror(st), err.msg);
        keeper_wait(&k, i + 1);
        check_open(c);
        prpc__pconn_destroy(c);
    }

    char computer[MAX_COMPUTERNAME_LENGTH + 1];
    DWORD clen = sizeof computer;
    assert_true(GetComputerNameA(computer, &clen));
    const char *hosts[] = {computer, "localhost"};
    for (int i = 0; i < 2; i++) {
        snprintf(ep, sizeof ep, "pipe://%s/%s", hosts[i], name);
        prpc__addr a = parse(ep);
        assert_string_equal(a.host, hosts[i]);
        char want[400];
        snprintf(want, sizeof want, "\\\\%s\\pipe\\%s", hosts[i], name);
        prpc__pconn *c = NULL;
        prpc__err err = {{0}};
        uint64_t t0 = prpc__now_ms();
        prpc_status st = prpc__pconn_dial(NULL, &a, t0 + 3000, &c, &err);
        if (under_wine()) {
            /* Refused at once, not retried until the deadline. */
            assert_int_equal(st, PRPC_ERR_UNAVAILABLE);
            assert_null(c);
            assert_non_null(strstr(err.msg, want));
            assert_non_null(strstr(err.msg, "cannot reach"));
            assert_true(prpc__now_ms() - t0 < 2000);
            continue;
        }
        if (st != PRPC_OK)
            fail_msg("%s: %s (%s)", ep, prpc_strerror(st), err.msg);
        check_open(c);
        prpc__pconn_destroy(c);
    }
    keeper_stop(&k);

    /* A default server refuses a client that comes through the
     * redirector, even from this machine (on Windows; Wine cannot get
     * that far). */
    if (!under_wine()) {
        unique_name(name, sizeof name, "unc-rej");
        snprintf(ep, sizeof ep, "pipe:%s", name);
        prpc__addr da = parse(ep);
        keeper_start(&k, &da);
        snprintf(ep, sizeof ep, "pipe://%s/%s", computer, name);
        prpc__addr a = parse(ep);
        prpc__pconn *c = NULL;
        prpc__err err = {{0}};
        assert_int_not_equal(prpc__pconn_dial(NULL, &a, DEADLINE(2000), &c, &err), PRPC_OK);
        assert_null(c);
        keeper_stop(&k);
    }
}

/* ---------------------------------------------------------- identity */

static void test_peer_sid_platform(void **state)
{
    (void)state;
    char me[PRPC__SID_MAX];
    own_sid_text(me, sizeof me);
    for (int opt_in = 0; opt_in < 2; opt_in++) {
        char name[96];
        unique_name(name, sizeof name, "sid");
        char ep[160];
        snprintf(ep, sizeof ep, "pipe:%s", name);
        prpc__addr a = parse(ep);
        a.remote_clients = opt_in != 0;
        struct keeper k;
        keeper_start(&k, &a);
        prpc__pconn *c = NULL;
        assert_int_equal(prpc__pconn_dial(NULL, &a, DEADLINE(3000), &c, NULL), PRPC_OK);
        prpc__pconn *sc = keeper_wait(&k, 1);
        prpc__peer peer, self;
        prpc__pconn_peer(sc, &peer);
        prpc__self_peer(&self);
        assert_true(peer.has_cred);
        assert_string_equal(peer.user_sid, me);
        assert_string_equal(self.user_sid, me);
        assert_int_equal(peer.uid, self.uid);
        /* A local client's process id is reported, remote clients allowed
         * or not. */
        assert_int_equal(peer.pid, (int64_t)GetCurrentProcessId());
        /* The client side knows the server's process, not its user. */
        prpc__pconn_peer(c, &peer);
        assert_false(peer.has_cred);
        assert_string_equal(peer.user_sid, "");
        prpc__pconn_destroy(c);
        keeper_stop(&k);
    }
}

/* The client lends the server an identification token only: the server
 * may read who the client is but not act as the client. The client opens
 * pipe://HOST/NAME through the same call as a local pipe, so the local pipe
 * shows the flags a remote one gets. Wine 8.0 ignores a client's SQOS flags
 * (every client's token has the impersonation level there, whatever the
 * client asked), so under Wine only the reading of the token is checked. */
static void test_client_lends_identification_only(void **state)
{
    (void)state;
    const char *forms[] = {"pipe:%s", "pipe://./%s?mode=byte"};
    for (int i = 0; i < 2; i++) {
        char name[96], ep[160];
        unique_name(name, sizeof name, "sqos");
        snprintf(ep, sizeof ep, forms[i], name);
        prpc__addr a = parse(ep);
        struct keeper k;
        keeper_start(&k, &a);
        prpc__pconn *c = NULL;
        assert_int_equal(prpc__pconn_dial(NULL, &a, DEADLINE(3000), &c, NULL), PRPC_OK);
        prpc__pconn *sc = keeper_wait(&k, 1);
        assert_true(ImpersonateNamedPipeClient(sc->h));
        HANDLE tok = NULL;
        BOOL opened = OpenThreadToken(GetCurrentThread(), TOKEN_QUERY, TRUE, &tok);
        SECURITY_IMPERSONATION_LEVEL level = SecurityAnonymous;
        DWORD len = 0;
        BOOL got = opened && GetTokenInformation(tok, TokenImpersonationLevel, &level,
                                                 (DWORD)sizeof level, &len);
        if (tok != NULL)
            CloseHandle(tok);
        assert_true(RevertToSelf());
        assert_true(got);
        if (!under_wine())
            assert_int_equal(level, SecurityIdentification);
        prpc__pconn_destroy(c);
        keeper_stop(&k);
    }
}

/* What the server's callbacks saw. */
struct seen {
    CRITICAL_SECTION cs;
    int policy_calls;
    int authorize_calls;
    char policy_sid[PRPC__SID_MAX];
    char call_sid[PRPC__SID_MAX];
    char conn_sid[PRPC__SID_MAX];
    uint32_t call_pid;
    bool call_has_ids;
};

static void copy_sid(char *dst, const char *src)
{
    snprintf(dst, PRPC__SID_MAX, "%s", src ? src : "(null)");
}

static bool seen_policy(void *user, const prpc_peer *peer)
{
    struct seen *s = user;
    EnterCriticalSection(&s->cs);
    s->policy_calls++;
    copy_sid(s->policy_sid, peer->user_sid);
    LeaveCriticalSection(&s->cs);
    return true;
}

static bool seen_authorize(void *user, const prpc_call *call)
{
    struct seen *s = user;
    const prpc_peer *p = prpc_call_peer(call);
    prpc_conn *conn = prpc_call_conn((prpc_call *)call);
    EnterCriticalSection(&s->cs);
    s->authorize_calls++;
    copy_sid(s->call_sid, p->user_sid);
    copy_sid(s->conn_sid, prpc_conn_peer(conn)->user_sid);
    s->call_pid = p->pid;
    s->call_has_ids = p->has_ids;
    LeaveCriticalSection(&s->cs);
    return true;
}

/* The SID reaches prpc_call_peer, prpc_conn_peer and a peer_policy, with
 * and without remote clients allowed; with the default policy (no
 * peer_policy) the same user is admitted. */
static void test_peer_sid_in_server(void **state)
{
    (void)state;
    char me[PRPC__SID_MAX];
    own_sid_text(me, sizeof me);
    for (int round = 0; round < 3; round++) {
        struct seen s;
        memset(&s, 0, sizeof s);
        InitializeCriticalSection(&s.cs);
        prpc_server_options so;
        memset(&so, 0, sizeof so);
        so.threads = 2;
        so.authorize = seen_authorize;
        so.authorize_user = &s;
        if (round != 2) {
            so.peer_policy = seen_policy;
            so.peer_policy_user = &s;
        }
        so.allow_remote_pipe_clients = round == 1;
        prpc_server *srv;
        assert_int_equal(prpc_server_create(&so, &srv), PRPC_OK);
        char name[96], ep[160];
        unique_name(name, sizeof name, "srv");
        snprintf(ep, sizeof ep, "pipe:%s", name);
        assert_int_equal(prpc_server_listen(srv, ep), PRPC_OK);
        assert_int_equal(prpc_server_start(srv), PRPC_OK);
        prpc_client_options co;
        memset(&co, 0, sizeof co);
        co.connect_timeout_ms = 3000;
        prpc_client *cl;
        /* "pipe://./NAME" is the same local pipe. */
        snprintf(ep, sizeof ep, round == 1 ? "pipe://./%s" : "pipe:%s", name);
        assert_int_equal(prpc_client_connect(ep, &co, &cl), PRPC_OK);
        assert_int_equal(prpc_client_ping(cl, 5000), PRPC_OK);
        prpc_client_destroy(cl);
        assert_int_equal(prpc_server_stop(srv, 2000), PRPC_OK);
        prpc_server_destroy(srv);
        assert_true(s.authorize_calls >= 1);
        assert_string_equal(s.call_sid, me);
        assert_string_equal(s.conn_sid, me);
        assert_true(s.call_has_ids);
        assert_int_equal(s.call_pid, (uint32_t)GetCurrentProcessId());
        if (round != 2) {
            assert_int_equal(s.policy_calls, 1);
            assert_string_equal(s.policy_sid, me);
        }
        DeleteCriticalSection(&s.cs);
    }
}

/* The default policy admits exactly our own user. On Windows it compares
 * users through prpc__peer.uid, which equals ours exactly when the SIDs are
 * equal; a SID from another domain that shares our relative id must not
 * pass. */
static void test_default_policy_compares_sids(void **state)
{
    (void)state;
    prpc__peer self;
    prpc__self_peer(&self);
    assert_true(prpc__peer_policy_same_user(NULL, &self));

    PSID me = NULL;
    assert_true(ConvertStringSidToSidA(self.user_sid, &me));
    assert_true(prpc__sid_is_self(me));
    assert_int_equal(prpc__sid_uid(me), self.uid);
    UCHAR n = *GetSidSubAuthorityCount(me);
    assert_true(n >= 1);
    DWORD rid = *GetSidSubAuthority(me, n - 1u);

    /* Another machine's (or domain's) user with our relative id. */
    char other[PRPC__SID_MAX];
    snprintf(other, sizeof other, "S-1-5-21-1111111111-2222222222-3333333333-%lu",
             (unsigned long)rid);
    const char *strangers[] = {other, "S-1-5-18" /* SYSTEM */, "S-1-1-0" /* Everyone */,
                               "S-1-5-7" /* Anonymous */};
    for (size_t i = 0; i < sizeof strangers / sizeof strangers[0]; i++) {
        if (strcmp(strangers[i], self.user_sid) == 0)
            continue; /* not a stranger where we run as that user */
        PSID sid = NULL;
        assert_true(ConvertStringSidToSidA(strangers[i], &sid));
        prpc__peer p = self;
        p.uid = prpc__sid_uid(sid);
        assert_true(prpc__sid_text(sid, p.user_sid, sizeof p.user_sid));
        assert_string_equal(p.user_sid, strangers[i]);
        if (p.uid == self.uid)
            fail_msg("%s maps onto our uid %u", strangers[i], (unsigned)self.uid);
        assert_false(prpc__peer_policy_same_user(NULL, &p));
        LocalFree(sid);
    }
    /* A peer whose user could not be read. */
    prpc__peer unknown = self;
    unknown.uid = UINT32_MAX;
    unknown.user_sid[0] = '\0';
    assert_false(prpc__peer_policy_same_user(NULL, &unknown));
    /* The text form has room for a SID of 15 sub-authorities (the most)
     * of the longest value each. */
    char longest[PRPC__SID_MAX];
    int len = snprintf(longest, sizeof longest, "S-1-5");
    for (int i = 0; i < 15; i++)
        len += snprintf(longest + len, sizeof longest - (size_t)len, "-4294967295");
    PSID big = NULL;
    assert_true(ConvertStringSidToSidA(longest, &big));
    char text[PRPC__SID_MAX];
    assert_true(prpc__sid_text(big, text, sizeof text));
    assert_false(prpc__sid_text(big, text, strlen(text))); /* one byte short */
    LocalFree(big);
    LocalFree(me);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_endpoint_forms),
        cmocka_unit_test(test_remote_pipe_path),
        cmocka_unit_test(test_remote_listen_on_host_refused),
        cmocka_unit_test(test_remote_reject_flag_default_and_opt_in),
        cmocka_unit_test(test_remote_dial_this_machine),
        cmocka_unit_test(test_peer_sid_platform),
        cmocka_unit_test(test_client_lends_identification_only),
        cmocka_unit_test(test_peer_sid_in_server),
        cmocka_unit_test(test_default_policy_compares_sids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
