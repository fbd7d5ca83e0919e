/* Tests of the Windows platform layer: the completion-port pool (tasks and
 * timers), named pipes in message and byte mode (echo, a 16 MiB message
 * through ERROR_MORE_DATA reads, a burst of 64 clients, a taken name, the
 * security descriptor and flags, peer identity), TCP on loopback and a
 * spawned child speaking over its stdin/stdout. The same executable is the
 * child: with --child-echo it echoes its stdin to its stdout. */
#include <winsock2.h> /* before anything that includes windows.h */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <aclapi.h>

#include "platform/platform.h"
#include "platform/win32/win32_io.h"

#define BIG_SIZE ((size_t)16 * 1024 * 1024)
#define DEADLINE(ms) (prpc__now_ms() + (ms))

static char g_self[MAX_PATH];

/* ------------------------------------------------------------ helpers */

static void unique_name(char *buf, size_t size, const char *what)
{
    static volatile LONG seq;
    snprintf(buf, size, "prpc-w32-%lu-%s-%ld", (unsigned long)GetCurrentProcessId(), what,
             (long)InterlockedIncrement(&seq));
}

static prpc__addr pipe_addr(const char *name, prpc__chan_mode mode)
{
    prpc__addr a;
    memset(&a, 0, sizeof a);
    a.kind = PRPC__ADDR_PIPE;
    a.mode = mode;
    snprintf(a.name, sizeof a.name, "%s", name);
    return a;
}

/* A server that echoes every received chunk back, or (sink) only counts
 * and checks the bytes of a pattern. */
#define MAX_SERVED 300

struct served {
    struct server *srv;
    prpc__pconn *c;
    uint8_t buf[PRPC__CHUNK_SIZE];
};

struct server {
    prpc__iopool *pool;
    prpc__plistener *l;
    prpc__mutex lock;
    prpc__cond cv;
    struct served *conns[MAX_SERVED];
    int nconns;
    bool sink;
    bool no_read; /* accept but never read (to fill the pipe) */
    size_t sink_bytes;
    size_t sink_chunks;
    size_t sink_full_chunks; /* chunks that filled the whole buffer */
    bool sink_bad;
    int ended;
};

static void on_server_recv(void *user, prpc_status st, size_t n)
{
    struct served *s = user;
    struct server *srv = s->srv;
    if (st != PRPC_OK) {
        prpc__mutex_lock(&srv->lock);
        srv->ended++;
        prpc__cond_broadcast(&srv->cv);
        prpc__mutex_unlock(&srv->lock);
        return;
    }
    if (srv->sink) {
        prpc__mutex_lock(&srv->lock);
        for (size_t i = 0; i < n; i++)
            if (s->buf[i] != (uint8_t)((srv->sink_bytes + i) * 7u))
                srv->sink_bad = true;
        srv->sink_bytes += n;
        srv->sink_chunks++;
        if (n == sizeof s->buf)
            srv->sink_full_chunks++;
        prpc__cond_broadcast(&srv->cv);
        prpc__mutex_unlock(&srv->lock);
    } else {
        prpc__pconn_send(s->c, s->buf, n);
    }
    prpc__pconn_recv(s->c, s->buf, sizeof s->buf, on_server_recv, s);
}

static void on_accept(void *user, prpc_status st, prpc__pconn *c)
{
    struct server *srv = user;
    if (st != PRPC_OK)
        return;
    struct served *s = calloc(1, sizeof *s);
    prpc__mutex_lock(&srv->lock);
    if (s == NULL || srv->nconns >= MAX_SERVED) {
        /* Counted as a refusal: the test's totals then fail. */
        prpc__mutex_unlock(&srv->lock);
        free(s);
        prpc__pconn_destroy(c);
        prpc__plistener_accept(srv->l, on_accept, srv);
        return;
    }
    s->srv = srv;
    s->c = c;
    srv->conns[srv->nconns++] = s;
    prpc__cond_broadcast(&srv->cv);
    bool no_read = srv->no_read;
    prpc__mutex_unlock(&srv->lock);
    /* The test may close the connection as soon as it is listed, so a
     * refused receive is an ending, not a failure (and cmocka's asserts
     * must not run on pool threads). */
    if (!no_read && prpc__pconn_recv(c, s->buf, sizeof s->buf, on_server_recv, s) != PRPC_OK) {
        prpc__mutex_lock(&srv->lock);
        srv->ended++;
        prpc__cond_broadcast(&srv->cv);
        prpc__mutex_unlock(&srv->lock);
    }
    prpc__plistener_accept(srv->l, on_accept, srv);
}

static void server_start(struct server *srv, const prpc__addr *a, bool sink)
{
    memset(srv, 0, sizeof *srv);
    srv->sink = sink;
    prpc__mutex_init(&srv->lock);
    prpc__cond_init(&srv->cv);
    assert_int_equal(prpc__iopool_create(2, &srv->pool), PRPC_OK);
    prpc__err err = {{0}};
    prpc_status st = prpc__plistener_open(srv->pool, a, &srv->l, &err);
    if (st != PRPC_OK)
        print_error("listen: %s\n", err.msg);
    assert_int_equal(st, PRPC_OK);
    assert_int_equal(prpc__plistener_accept(srv->l, on_accept, srv), PRPC_OK);
}

static void server_stop(struct server *srv)
{
    prpc__plistener_close(srv->l);
    prpc__plistener_stop(srv->l);
    prpc__plistener_free(srv->l);
    for (int i = 0; i < srv->nconns; i++) {
        prpc__pconn_destroy(srv->conns[i]->c);
        free(srv->conns[i]);
    }
    prpc__iopool_close(srv->pool);
    prpc__iopool_stop(srv->pool);
    prpc__iopool_free(srv->pool);
    prpc__cond_destroy(&srv->cv);
    prpc__mutex_destroy(&srv->lock);
}

static prpc__pconn *dial(const prpc__addr *a)
{
    prpc__pconn *c = NULL;
    prpc__err err = {{0}};
    prpc_status st = prpc__pconn_dial(NULL, a, DEADLINE(5000), &c, &err);
    if (st != PRPC_OK)
        print_error("dial: %s\n", err.msg);
    assert_int_equal(st, PRPC_OK);
    return c;
}

/* Reads exactly len bytes (byte mode) within the deadline. */
static void read_exact(prpc__pconn *c, uint8_t *buf, size_t len, uint64_t deadline)
{
    size_t got = 0;
    while (got < len) {
        size_t n = 0;
        assert_int_equal(prpc__pconn_recv_sync(c, buf + got, len - got, deadline, &n), PRPC_OK);
        got += n;
    }
}

/* ----------------------------------------------------------- the pool */

struct counter {
    volatile LONG n;
    uint64_t fired_at[4];
    int order[4];
    volatile LONG norder;
};

static struct counter g_count;

static void count_task(void *user)
{
    if (!prpc__iopool_on_thread(user))
        return; /* not counted: the test then fails on the total */
    InterlockedIncrement(&g_count.n);
}

struct tinfo {
    int id;
    prpc__timer t;
};

static void timer_fired(void *user)
{
    struct tinfo *ti = user;
    LONG k = InterlockedIncrement(&g_count.norder) - 1;
    if (k < 4) {
        g_count.order[k] = ti->id;
        g_count.fired_at[k] = prpc__now_ms();
    }
}

static void test_pool_tasks_and_timers(void **state)
{
    (void)state;
    memset(&g_count, 0, sizeof g_count);
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(2, &pool), PRPC_OK);
    assert_false(prpc__iopool_on_thread(pool));
    enum { NTASKS = 1000 };
    prpc__task *tasks = calloc(NTASKS, sizeof *tasks);
    assert_non_null(tasks);
    for (int i = 0; i < NTASKS; i++)
        prpc__task_post(pool, &tasks[i], count_task, pool);
    uint64_t until = DEADLINE(5000);
    while (g_count.n < NTASKS && prpc__now_ms() < until)
        prpc__sleep_ms(1);
    assert_int_equal(g_count.n, NTASKS);

    struct tinfo t[4];
    uint64_t start = prpc__now_ms();
    int delays[4] = {150, 50, 100, 120};
    for (int i = 0; i < 4; i++) {
        t[i].id = i;
        prpc__timer_init(&t[i].t, pool, timer_fired, &t[i]);
        prpc__timer_schedule(&t[i].t, start + (uint64_t)delays[i]);
    }
    prpc__timer_cancel(&t[3].t); /* never fires */
    prpc__timer_schedule(&t[2].t, start + 20); /* moved earlier */
    until = DEADLINE(5000);
    while (g_count.norder < 3 && prpc__now_ms() < until)
        prpc__sleep_ms(1);
    /* A fixed time, not a condition: the cancelled timer must NOT fire. */
    prpc__sleep_ms(100);
    assert_int_equal(g_count.norder, 3);
    assert_int_equal(g_count.order[0], 2);
    assert_int_equal(g_count.order[1], 1);
    assert_int_equal(g_count.order[2], 0);
    assert_true(g_count.fired_at[0] >= start + 20);
    assert_true(g_count.fired_at[1] >= start + 50);
    assert_true(g_count.fired_at[2] >= start + 150);
    for (int i = 0; i < 4; i++)
        prpc__timer_cancel(&t[i].t);
    prpc__iopool_close(pool);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
    free(tasks);
}

/* --------------------------------------------------------------- pipes */

static void echo_messages(prpc__chan_mode mode)
{
    char name[96];
    unique_name(name, sizeof name, mode == PRPC__CHAN_MESSAGE ? "echo-msg" : "echo-byte");
    prpc__addr a = pipe_addr(name, mode);
    struct server srv;
    server_start(&srv, &a, false);
    prpc__pconn *c = dial(&a);
    assert_int_equal(prpc__pconn_mode(c), mode);
    const char *msgs[3] = {"one", "second message", "3"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(prpc__pconn_send(c, msgs[i], strlen(msgs[i])), PRPC_OK);
    uint8_t buf[PRPC__CHUNK_SIZE];
    if (mode == PRPC__CHAN_MESSAGE) {
        /* Each message comes back as one message, boundaries kept. */
        for (int i = 0; i < 3; i++) {
            size_t n = 0;
            assert_int_equal(prpc__pconn_recv_sync(c, buf, sizeof buf, DEADLINE(5000), &n), PRPC_OK);
            assert_int_equal(n, strlen(msgs[i]));
            assert_memory_equal(buf, msgs[i], n);
        }
    } else {
        const char *all = "onesecond message3";
        read_exact(c, buf, strlen(all), DEADLINE(5000));
        assert_memory_equal(buf, all, strlen(all));
    }
    /* Nothing more: a receive with a short deadline times out. */
    size_t n = 0;
    assert_int_equal(prpc__pconn_recv_sync(c, buf, sizeof buf, DEADLINE(50), &n), PRPC_ERR_TIMEOUT);
    prpc__pconn_destroy(c);
    /* The server sees the end of the connection. */
    prpc__mutex_lock(&srv.lock);
    while (srv.ended < 1)
        assert_int_equal(prpc__cond_wait_until(&srv.cv, &srv.lock, DEADLINE(5000)), PRPC_OK);
    prpc__mutex_unlock(&srv.lock);
    server_stop(&srv);
}

static void test_pipe_echo_message_mode(void **state)
{
    (void)state;
    echo_messages(PRPC__CHAN_MESSAGE);
}

static void test_pipe_echo_byte_mode(void **state)
{
    (void)state;
    echo_messages(PRPC__CHAN_BYTE);
}

static void test_pipe_16mib_message_arrives_whole(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "big");
    prpc__addr a = pipe_addr(name, PRPC__CHAN_MESSAGE);
    struct server srv;
    server_start(&srv, &a, true);
    prpc__pconn *c = dial(&a);
    uint8_t *big = malloc(BIG_SIZE);
    assert_non_null(big);
    for (size_t i = 0; i < BIG_SIZE; i++)
        big[i] = (uint8_t)(i * 7u);
    /* One pipe message of 16 MiB; the server reads it with a 64 KiB
     * buffer, so every read but the last ends in ERROR_MORE_DATA. */
    assert_int_equal(prpc__pconn_send(c, big, BIG_SIZE), PRPC_OK);
    prpc__mutex_lock(&srv.lock);
    while (srv.sink_bytes < BIG_SIZE)
        assert_int_equal(prpc__cond_wait_until(&srv.cv, &srv.lock, DEADLINE(30000)), PRPC_OK);
    assert_int_equal(srv.sink_bytes, BIG_SIZE);
    assert_false(srv.sink_bad);
    assert_int_equal(srv.sink_chunks, BIG_SIZE / PRPC__CHUNK_SIZE);
    assert_int_equal(srv.sink_full_chunks, BIG_SIZE / PRPC__CHUNK_SIZE);
    prpc__mutex_unlock(&srv.lock);
    /* A second, small message starts a new pipe message after the big one. */
    assert_int_equal(prpc__pconn_send(c, big, 10), PRPC_OK);
    prpc__mutex_lock(&srv.lock);
    while (srv.sink_chunks < BIG_SIZE / PRPC__CHUNK_SIZE + 1)
        assert_int_equal(prpc__cond_wait_until(&srv.cv, &srv.lock, DEADLINE(5000)), PRPC_OK);
    prpc__mutex_unlock(&srv.lock);
    free(big);
    prpc__pconn_destroy(c);
    server_stop(&srv);
}

static void test_pipe_16mib_echo_through_recv_sync(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "bigecho");
    prpc__addr a = pipe_addr(name, PRPC__CHAN_MESSAGE);
    struct server srv;
    server_start(&srv, &a, false);
    prpc__pconn *c = dial(&a);
    uint8_t *big = malloc(BIG_SIZE), *back = malloc(BIG_SIZE);
    assert_non_null(big);
    assert_non_null(back);
    for (size_t i = 0; i < BIG_SIZE; i++)
        big[i] = (uint8_t)(i * 13u + 1);
    assert_int_equal(prpc__pconn_send(c, big, BIG_SIZE), PRPC_OK);
    /* The echo comes back in 64 KiB messages; recv_sync with a small
     * buffer continues each through ERROR_MORE_DATA as well. */
    size_t got = 0;
    while (got < BIG_SIZE) {
        size_t n = 0;
        size_t want = BIG_SIZE - got < 4096 ? BIG_SIZE - got : 4096;
        assert_int_equal(prpc__pconn_recv_sync(c, back + got, want, DEADLINE(30000), &n), PRPC_OK);
        got += n;
    }
    assert_memory_equal(big, back, BIG_SIZE);
    free(big);
    free(back);
    prpc__pconn_destroy(c);
    server_stop(&srv);
}

#define NCLIENTS 64

struct burst {
    prpc__addr a;
    HANDLE go;
    volatile LONG ok;
};

static DWORD WINAPI burst_client(LPVOID p)
{
    struct burst *b = p;
    WaitForSingleObject(b->go, INFINITE);
    prpc__pconn *c = NULL;
    if (prpc__pconn_dial(NULL, &b->a, DEADLINE(20000), &c, NULL) != PRPC_OK)
        return 1;
    char msg[32], buf[64];
    int len = snprintf(msg, sizeof msg, "hello %lu", (unsigned long)GetCurrentThreadId());
    size_t n = 0;
    if (prpc__pconn_send(c, msg, (size_t)len) == PRPC_OK &&
        prpc__pconn_recv_sync(c, buf, sizeof buf, DEADLINE(20000), &n) == PRPC_OK &&
        n == (size_t)len && memcmp(buf, msg, n) == 0)
        InterlockedIncrement(&b->ok);
    prpc__pconn_destroy(c);
    return 0;
}

static void test_pipe_64_clients_at_once(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "burst");
    struct burst b = {.a = pipe_addr(name, PRPC__CHAN_MESSAGE)};
    b.go = CreateEventW(NULL, TRUE, FALSE, NULL);
    struct server srv;
    server_start(&srv, &b.a, false);
    HANDLE th[NCLIENTS];
    for (int i = 0; i < NCLIENTS; i++) {
        th[i] = CreateThread(NULL, 0, burst_client, &b, 0, NULL);
        assert_non_null(th[i]);
    }
    SetEvent(b.go);
    for (int i = 0; i < NCLIENTS; i++) {
        assert_int_equal(WaitForSingleObject(th[i], 60000), WAIT_OBJECT_0);
        CloseHandle(th[i]);
    }
    assert_int_equal(b.ok, NCLIENTS);
    assert_int_equal(srv.nconns, NCLIENTS);
    CloseHandle(b.go);
    server_stop(&srv);
}

static void test_pipe_second_listener_is_refused(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "taken");
    prpc__addr a = pipe_addr(name, PRPC__CHAN_MESSAGE);
    struct server srv;
    server_start(&srv, &a, false);
    prpc__plistener *l2 = NULL;
    prpc__err err = {{0}};
    assert_int_equal(prpc__plistener_open(srv.pool, &a, &l2, &err), PRPC_ERR_ADDR_IN_USE);
    assert_null(l2);
    assert_non_null(strstr(err.msg, "already in use"));
    assert_non_null(strstr(err.msg, name));
    /* The same name in byte mode is the same pipe: refused too. */
    prpc__addr b = pipe_addr(name, PRPC__CHAN_BYTE);
    assert_int_equal(prpc__plistener_open(srv.pool, &b, &l2, &err), PRPC_ERR_ADDR_IN_USE);
    /* The first server still serves. */
    prpc__pconn *c = dial(&a);
    uint8_t buf[16];
    size_t n = 0;
    assert_int_equal(prpc__pconn_send(c, "x", 1), PRPC_OK);
    assert_int_equal(prpc__pconn_recv_sync(c, buf, sizeof buf, DEADLINE(5000), &n), PRPC_OK);
    assert_int_equal(n, 1);
    prpc__pconn_destroy(c);
    server_stop(&srv);
    /* Once it is gone the name is free again. */
    server_start(&srv, &a, false);
    server_stop(&srv);
}

static void test_pipe_security_descriptor_and_flags(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "sec");
    prpc__addr a = pipe_addr(name, PRPC__CHAN_MESSAGE);
    struct server srv;
    server_start(&srv, &a, false);
    HANDLE h = srv.l->inst[0].h;
    DWORD flags = 0, outsz = 0, insz = 0, maxi = 0;
    assert_true(GetNamedPipeInfo(h, &flags, &outsz, &insz, &maxi));
    assert_true(flags & PIPE_TYPE_MESSAGE);
    assert_true(flags & PIPE_SERVER_END);
    /* Unlimited instances: Windows reports PIPE_UNLIMITED_INSTANCES, Wine
     * 8.0 reports ~0. */
    assert_true(maxi == PIPE_UNLIMITED_INSTANCES || maxi == 0xFFFFFFFFu);

    PSID owner = NULL;
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    assert_int_equal(GetSecurityInfo(h, SE_KERNEL_OBJECT,
                                     OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner,
                                     NULL, &dacl, NULL, &sd),
                     ERROR_SUCCESS);
    assert_non_null(dacl); /* a NULL DACL would grant everyone everything */
    assert_true(prpc__sid_is_self(owner));
    BYTE sysbuf[SECURITY_MAX_SID_SIZE], evbuf[SECURITY_MAX_SID_SIZE], anbuf[SECURITY_MAX_SID_SIZE];
    DWORD l1 = sizeof sysbuf, l2 = sizeof evbuf, l3 = sizeof anbuf;
    assert_true(CreateWellKnownSid(WinLocalSystemSid, NULL, sysbuf, &l1));
    assert_true(CreateWellKnownSid(WinWorldSid, NULL, evbuf, &l2));
    assert_true(CreateWellKnownSid(WinAnonymousSid, NULL, anbuf, &l3));
    assert_int_equal(dacl->AceCount, 2);
    bool saw_self = false, saw_system = false;
    for (DWORD i = 0; i < dacl->AceCount; i++) {
        ACCESS_ALLOWED_ACE *ace = NULL;
        assert_true(GetAce(dacl, i, (void **)&ace));
        assert_int_equal(ace->Header.AceType, ACCESS_ALLOWED_ACE_TYPE);
        PSID sid = (PSID)&ace->SidStart;
        assert_false(EqualSid(sid, evbuf));
        assert_false(EqualSid(sid, anbuf));
        if (prpc__sid_is_self(sid))
            saw_self = true;
        else if (EqualSid(sid, sysbuf))
            saw_system = true;
        else
            fail_msg("unexpected ACE %lu in the pipe's DACL", (unsigned long)i);
    }
    assert_true(saw_self);
    assert_true(saw_system);
    LocalFree(sd);

    /* The client end: message mode, and it opened without GENERIC_WRITE. */
    prpc__pconn *c = dial(&a);
    assert_true(GetNamedPipeInfo(c->h, &flags, NULL, NULL, NULL));
    assert_true(flags & PIPE_TYPE_MESSAGE);
    assert_false(flags & PIPE_SERVER_END);
    DWORD state_flags = 0;
    assert_true(GetNamedPipeHandleStateW(c->h, &state_flags, NULL, NULL, NULL, NULL, 0));
    assert_true(state_flags & PIPE_READMODE_MESSAGE);
    prpc__pconn_destroy(c);
    server_stop(&srv);
}

static void test_pipe_peer_identity(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "peer");
    prpc__addr a = pipe_addr(name, PRPC__CHAN_MESSAGE);
    struct server srv;
    server_start(&srv, &a, false);
    prpc__pconn *c = dial(&a);
    prpc__mutex_lock(&srv.lock);
    while (srv.nconns < 1)
        assert_int_equal(prpc__cond_wait_until(&srv.cv, &srv.lock, DEADLINE(5000)), PRPC_OK);
    prpc__mutex_unlock(&srv.lock);
    prpc__peer peer, self;
    prpc__pconn_peer(srv.conns[0]->c, &peer);
    prpc__self_peer(&self);
    assert_true(peer.has_cred);
    assert_int_equal(peer.pid, (int64_t)GetCurrentProcessId());
    assert_int_equal(peer.uid, self.uid);
    assert_true(self.uid != UINT32_MAX);
    /* The client learns the server's process id. */
    prpc__pconn_peer(c, &peer);
    assert_int_equal(peer.pid, (int64_t)GetCurrentProcessId());
    prpc__pconn_destroy(c);
    server_stop(&srv);
}

static void test_pipe_dial_nobody_listens(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "nobody");
    prpc__addr a = pipe_addr(name, PRPC__CHAN_MESSAGE);
    prpc__pconn *c = NULL;
    prpc__err err = {{0}};
    uint64_t t0 = prpc__now_ms();
    assert_int_equal(prpc__pconn_dial(NULL, &a, t0 + 200, &c, &err), PRPC_ERR_UNAVAILABLE);
    uint64_t took = prpc__now_ms() - t0;
    assert_true(took >= 150 && took < 3000);
    assert_null(c);
    assert_non_null(strstr(err.msg, name));
    /* Message mode against a byte-mode server is a clear error. */
    prpc__addr b = pipe_addr(name, PRPC__CHAN_BYTE);
    struct server srv;
    server_start(&srv, &b, false);
    assert_int_equal(prpc__pconn_dial(NULL, &a, DEADLINE(2000), &c, &err), PRPC_ERR_INVALID_ARG);
    server_stop(&srv);
}


/* Every instance busy: the client waits with WaitNamedPipe within its
 * deadline, and gets through once an instance is free. */
static DWORD WINAPI add_instance_later(LPVOID p)
{
    const wchar_t *path = p;
    Sleep(300);
    HANDLE h = CreateNamedPipeW(path, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_WAIT, 2, 4096, 4096,
                                0, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return 1;
    ConnectNamedPipe(h, NULL); /* returns once the waiting client is in */
    Sleep(500);
    CloseHandle(h);
    return 0;
}

static void test_pipe_dial_waits_for_a_busy_pipe(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "busy");
    wchar_t path[160];
    swprintf(path, sizeof path / sizeof path[0], L"\\\\.\\pipe\\%hs", name);
    /* A foreign server with one instance, taken by a first client. */
    HANDLE s1 = CreateNamedPipeW(path, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_WAIT, 2, 4096,
                                 4096, 0, NULL);
    assert_true(s1 != INVALID_HANDLE_VALUE);
    prpc__addr a = pipe_addr(name, PRPC__CHAN_BYTE);
    prpc__pconn *first = dial(&a);
    /* No free instance and none coming: UNAVAILABLE at the deadline. */
    prpc__pconn *c = NULL;
    prpc__err err = {{0}};
    uint64_t t0 = prpc__now_ms();
    assert_int_equal(prpc__pconn_dial(NULL, &a, t0 + 300, &c, &err), PRPC_ERR_UNAVAILABLE);
    assert_true(prpc__now_ms() - t0 >= 250);
    assert_non_null(strstr(err.msg, "free instance"));
    /* An instance appears while the client waits: it gets through. */
    HANDLE th = CreateThread(NULL, 0, add_instance_later, path, 0, NULL);
    t0 = prpc__now_ms();
    assert_int_equal(prpc__pconn_dial(NULL, &a, t0 + 5000, &c, &err), PRPC_OK);
    assert_true(prpc__now_ms() - t0 >= 250);
    assert_int_equal(WaitForSingleObject(th, 5000), WAIT_OBJECT_0);
    CloseHandle(th);
    prpc__pconn_destroy(c);
    prpc__pconn_destroy(first);
    CloseHandle(s1);
}

/* Windows allows 255 instances of a name. At the limit the next client
 * waits and fails at its deadline; once a client leaves, the listener
 * refills its waiting instances and serves again. */
#define MAX_INSTANCES 255

static bool under_wine(void)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    return ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL;
}
#define WAITING 4

static void test_pipe_instance_limit(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "limit255");
    prpc__addr a = pipe_addr(name, PRPC__CHAN_MESSAGE);
    struct server srv;
    server_start(&srv, &a, false);
    srv.no_read = true;
    enum { N = MAX_INSTANCES - WAITING + WAITING };
    prpc__pconn **cs = calloc(N + 1, sizeof *cs);
    int n = 0;
    prpc__err err = {{0}};
    /* Every instance the name can have, connected. */
    while (n < N) {
        prpc_status st = prpc__pconn_dial(NULL, &a, DEADLINE(2000), &cs[n], &err);
        if (st != PRPC_OK)
            break;
        n++;
    }
    print_message("%d clients connected at once\n", n);
    assert_int_equal(n, MAX_INSTANCES);
    /* One past the limit. */
    prpc__pconn *extra = NULL;
    if (under_wine()) {
        /* Wine 8.0 stores PIPE_UNLIMITED_INSTANCES as ~0 and enforces no
         * limit: the extra client gets in; the refill below then has
         * nothing to recover from. */
        assert_int_equal(prpc__pconn_dial(NULL, &a, DEADLINE(2000), &extra, &err), PRPC_OK);
        prpc__pconn_destroy(extra);
        for (int i = 0; i < n; i++)
            prpc__pconn_destroy(cs[i]);
        free(cs);
        server_stop(&srv);
        return;
    }
    assert_int_equal(prpc__pconn_dial(NULL, &a, DEADLINE(300), &extra, &err), PRPC_ERR_UNAVAILABLE);
    /* One leaves; its server side goes too; a new client gets in. */
    prpc__mutex_lock(&srv.lock);
    while (srv.nconns < n)
        assert_int_equal(prpc__cond_wait_until(&srv.cv, &srv.lock, DEADLINE(10000)), PRPC_OK);
    prpc__mutex_unlock(&srv.lock);
    prpc__pconn_destroy(cs[0]);
    cs[0] = NULL;
    prpc__pconn_destroy(srv.conns[0]->c);
    srv.conns[0]->c = NULL;
    /* The listener refills its empty instance slots (every 100 ms). */
    prpc_status st = prpc__pconn_dial(NULL, &a, DEADLINE(5000), &extra, &err);
    if (st != PRPC_OK)
        print_error("after a client left: %s\n", err.msg);
    assert_int_equal(st, PRPC_OK);
    prpc__pconn_destroy(extra);
    for (int i = 1; i < n; i++)
        prpc__pconn_destroy(cs[i]);
    free(cs);
    server_stop(&srv);
}

static void test_unix_endpoint_not_supported(void **state)
{
    (void)state;
    prpc__addr a;
    memset(&a, 0, sizeof a);
    a.kind = PRPC__ADDR_UNIX;
    strcpy(a.name, "/tmp/x.sock");
    prpc__pconn *c = NULL;
    prpc__err err = {{0}};
    assert_int_equal(prpc__pconn_dial(NULL, &a, 0, &c, &err), PRPC_ERR_NOT_SUPPORTED);
    assert_non_null(strstr(err.msg, "not supported"));
}


/* ----------------------------------------------------------- teardown */

struct closing {
    prpc__mutex lock;
    prpc__cond cv;
    prpc_status st;
    bool done;
    bool destroy_in_cb;
    prpc__pconn *c;
    uint8_t buf[PRPC__CHUNK_SIZE];
};

static void on_closing_recv(void *user, prpc_status st, size_t n)
{
    (void)n;
    struct closing *k = user;
    if (k->destroy_in_cb)
        prpc__pconn_destroy(k->c); /* freed by the pool once we return */
    prpc__mutex_lock(&k->lock);
    k->st = st;
    k->done = true;
    prpc__cond_broadcast(&k->cv);
    prpc__mutex_unlock(&k->lock);
}

static void test_close_completes_pending_receive(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "closing");
    prpc__addr a = pipe_addr(name, PRPC__CHAN_MESSAGE);
    struct server srv;
    server_start(&srv, &a, false);
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(1, &pool), PRPC_OK);
    for (int round = 0; round < 2; round++) {
        struct closing k;
        memset(&k, 0, sizeof k);
        prpc__mutex_init(&k.lock);
        prpc__cond_init(&k.cv);
        k.destroy_in_cb = round == 1;
        prpc__err err = {{0}};
        assert_int_equal(prpc__pconn_dial(pool, &a, DEADLINE(5000), &k.c, &err), PRPC_OK);
        assert_int_equal(prpc__pconn_recv(k.c, k.buf, sizeof k.buf, on_closing_recv, &k), PRPC_OK);
        /* A second receive while one is outstanding is refused. */
        assert_int_equal(prpc__pconn_recv(k.c, k.buf, sizeof k.buf, on_closing_recv, &k),
                         PRPC_ERR_BUSY);
        if (round == 0) {
            prpc__pconn_close(k.c);
            assert_int_equal(prpc__pconn_send(k.c, "x", 1), PRPC_ERR_CLOSED);
            assert_int_equal(prpc__pconn_recv(k.c, k.buf, sizeof k.buf, on_closing_recv, &k),
                             PRPC_ERR_CLOSED);
            prpc__pconn_stop(k.c);
            assert_true(k.done);
            assert_int_equal(k.st, PRPC_ERR_CLOSED);
            prpc__pconn_free(k.c);
        } else {
            /* The peer goes away: the receive ends with CLOSED and the
             * callback destroys its own connection. */
            prpc__mutex_lock(&srv.lock);
            while (srv.nconns < 2)
                assert_int_equal(prpc__cond_wait_until(&srv.cv, &srv.lock, DEADLINE(5000)), PRPC_OK);
            prpc__pconn_close(srv.conns[1]->c);
            prpc__mutex_unlock(&srv.lock);
            prpc__mutex_lock(&k.lock);
            while (!k.done)
                assert_int_equal(prpc__cond_wait_until(&k.cv, &k.lock, DEADLINE(5000)), PRPC_OK);
            prpc__mutex_unlock(&k.lock);
            assert_int_equal(k.st, PRPC_ERR_CLOSED);
        }
    }
    prpc__iopool_close(pool);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
    server_stop(&srv);
}

struct closer {
    prpc__pconn *c;
    DWORD delay;
};

static DWORD WINAPI close_later(LPVOID p)
{
    struct closer *k = p;
    Sleep(k->delay);
    prpc__pconn_close(k->c);
    return 0;
}

static void test_close_wakes_recv_sync(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "wake");
    prpc__addr a = pipe_addr(name, PRPC__CHAN_MESSAGE);
    struct server srv;
    server_start(&srv, &a, false);
    prpc__pconn *c = dial(&a);
    struct closer k = {.c = c, .delay = 100};
    HANDLE th = CreateThread(NULL, 0, close_later, &k, 0, NULL);
    uint8_t buf[64];
    size_t n = 0;
    uint64_t t0 = prpc__now_ms();
    assert_int_equal(prpc__pconn_recv_sync(c, buf, sizeof buf, DEADLINE(10000), &n), PRPC_ERR_CLOSED);
    assert_true(prpc__now_ms() - t0 < 5000);
    assert_int_equal(WaitForSingleObject(th, 5000), WAIT_OBJECT_0);
    CloseHandle(th);
    prpc__pconn_stop(c);
    prpc__pconn_free(c);
    server_stop(&srv);
}

static void test_send_queue_limit(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "limit");
    prpc__addr a = pipe_addr(name, PRPC__CHAN_MESSAGE);
    struct server srv;
    server_start(&srv, &a, false);
    srv.no_read = true; /* set before anyone connects */
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(1, &pool), PRPC_OK);
    prpc__pconn *c = NULL;
    assert_int_equal(prpc__pconn_dial(pool, &a, DEADLINE(5000), &c, NULL), PRPC_OK);
    size_t len = 1 << 20;
    uint8_t *msg = calloc(1, len);
    prpc__pconn_set_send_limit(c, 2 * len);
    /* Nobody reads: the first message waits in the queue. */
    assert_int_equal(prpc__pconn_send(c, msg, len), PRPC_OK);
    assert_int_equal(prpc__pconn_send(c, msg, len), PRPC_OK);
    assert_int_equal(prpc__pconn_send_queued(c), 2 * len);
    /* At the limit: one byte more is refused and nothing is queued. */
    assert_int_equal(prpc__pconn_send(c, msg, 1), PRPC_ERR_BUSY);
    assert_int_equal(prpc__pconn_send_queued(c), 2 * len);
    prpc__pconn_destroy(c);
    free(msg);
    prpc__iopool_close(pool);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
    server_stop(&srv);
}

/* A client process killed in the middle of a message disturbs nobody. */
static int child_hang(const char *name)
{
    prpc__addr a = pipe_addr(name, PRPC__CHAN_BYTE);
    prpc__pconn *c = NULL;
    if (prpc__pconn_dial(NULL, &a, DEADLINE(10000), &c, NULL) != PRPC_OK)
        return 2;
    prpc__pconn_send(c, "\x94\x00\x01", 3); /* half a msgpack-rpc request */
    Sleep(INFINITE);
    return 0;
}

static void test_client_killed_mid_message(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "killed");
    prpc__addr a = pipe_addr(name, PRPC__CHAN_BYTE);
    struct server srv;
    server_start(&srv, &a, false);
    char cmd[MAX_PATH * 2];
    snprintf(cmd, sizeof cmd, "\"%s\" --child-hang %s", g_self, name);
    STARTUPINFOA si;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    PROCESS_INFORMATION pi;
    assert_true(CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi));
    prpc__mutex_lock(&srv.lock);
    while (srv.nconns < 1)
        assert_int_equal(prpc__cond_wait_until(&srv.cv, &srv.lock, DEADLINE(20000)), PRPC_OK);
    prpc__mutex_unlock(&srv.lock);
    prpc__peer peer;
    prpc__pconn_peer(srv.conns[0]->c, &peer);
    assert_int_equal(peer.pid, (int64_t)pi.dwProcessId);
    TerminateProcess(pi.hProcess, 9);
    WaitForSingleObject(pi.hProcess, 10000);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    prpc__mutex_lock(&srv.lock);
    while (srv.ended < 1)
        assert_int_equal(prpc__cond_wait_until(&srv.cv, &srv.lock, DEADLINE(10000)), PRPC_OK);
    prpc__mutex_unlock(&srv.lock);
    /* A canary still gets its echo. */
    prpc__pconn *c = dial(&a);
    uint8_t buf[8];
    assert_int_equal(prpc__pconn_send(c, "canary", 6), PRPC_OK);
    read_exact(c, buf, 6, DEADLINE(5000));
    assert_memory_equal(buf, "canary", 6);
    prpc__pconn_destroy(c);
    server_stop(&srv);
}

/* ----------------------------------------------------------------- tcp */

static void test_tcp_echo_loopback(void **state)
{
    (void)state;
    prpc__addr a;
    memset(&a, 0, sizeof a);
    a.kind = PRPC__ADDR_TCP;
    a.mode = PRPC__CHAN_BYTE;
    strcpy(a.name, "127.0.0.1");
    a.port = 0;
    struct server srv;
    server_start(&srv, &a, false);
    a.port = prpc__plistener_port(srv.l);
    assert_true(a.port != 0);
    assert_string_equal(prpc__plistener_path(srv.l), "");
    prpc__pconn *c = dial(&a);
    size_t len = 1 << 20;
    uint8_t *msg = malloc(len), *back = malloc(len);
    for (size_t i = 0; i < len; i++)
        msg[i] = (uint8_t)(i * 31u);
    assert_int_equal(prpc__pconn_send(c, msg, len), PRPC_OK);
    read_exact(c, back, len, DEADLINE(20000));
    assert_memory_equal(msg, back, len);
    free(msg);
    free(back);
    prpc__pconn_destroy(c);
    server_stop(&srv);
}

/* --------------------------------------------------------------- spawn */

static int child_echo(void)
{
    prpc__iopool *pool;
    if (prpc__iopool_create(1, &pool) != PRPC_OK)
        return 2;
    prpc__pconn *c;
    if (prpc__pconn_stdio(NULL, &c, NULL) != PRPC_OK)
        return 3;
    /* A second stdio connection in one process is refused. */
    prpc__pconn *c2;
    if (prpc__pconn_stdio(NULL, &c2, NULL) != PRPC_ERR_ADDR_IN_USE)
        return 4;
    printf("stray output goes to stderr, not into the stream\n");
    fflush(stdout);
    static uint8_t buf[65536];
    for (;;) {
        size_t n = 0;
        prpc_status st = prpc__pconn_recv_sync(c, buf, sizeof buf, UINT64_MAX, &n);
        if (st != PRPC_OK)
            break;
        if (prpc__pconn_send(c, buf, n) != PRPC_OK)
            break;
    }
    prpc__pconn_destroy(c);
    prpc__iopool_close(pool);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
    return 0;
}

struct spawn_rx {
    prpc__mutex lock;
    prpc__cond cv;
    uint8_t *buf;
    size_t cap;
    size_t got;
    prpc_status end;
    bool ended;
    prpc__pconn *c;
};

static void on_spawn_recv(void *user, prpc_status st, size_t n)
{
    struct spawn_rx *rx = user;
    prpc__mutex_lock(&rx->lock);
    if (st != PRPC_OK) {
        rx->ended = true;
        rx->end = st;
    } else {
        rx->got += n;
    }
    prpc__cond_broadcast(&rx->cv);
    bool more = st == PRPC_OK && rx->got < rx->cap;
    prpc__mutex_unlock(&rx->lock);
    if (more)
        prpc__pconn_recv(rx->c, rx->buf + rx->got, rx->cap - rx->got, on_spawn_recv, rx);
}


static void test_pipe_attach_after_dial(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "attach");
    prpc__addr a = pipe_addr(name, PRPC__CHAN_MESSAGE);
    struct server srv;
    server_start(&srv, &a, false);
    prpc__pconn *c = dial(&a);
    /* Blocking use first, then the pool takes over. */
    uint8_t buf[64];
    size_t n = 0;
    assert_int_equal(prpc__pconn_send(c, "sync", 4), PRPC_OK);
    assert_int_equal(prpc__pconn_recv_sync(c, buf, sizeof buf, DEADLINE(5000), &n), PRPC_OK);
    assert_int_equal(n, 4);
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(1, &pool), PRPC_OK);
    assert_int_equal(prpc__pconn_attach(c, pool), PRPC_OK);
    assert_int_equal(prpc__pconn_attach(c, pool), PRPC_ERR_BUSY);
    struct spawn_rx rx;
    memset(&rx, 0, sizeof rx);
    prpc__mutex_init(&rx.lock);
    prpc__cond_init(&rx.cv);
    rx.cap = 5;
    rx.buf = malloc(rx.cap);
    rx.c = c;
    assert_int_equal(prpc__pconn_recv(c, rx.buf, rx.cap, on_spawn_recv, &rx), PRPC_OK);
    assert_int_equal(prpc__pconn_send(c, "async", 5), PRPC_OK);
    prpc__mutex_lock(&rx.lock);
    while (rx.got < rx.cap && !rx.ended)
        assert_int_equal(prpc__cond_wait_until(&rx.cv, &rx.lock, DEADLINE(5000)), PRPC_OK);
    prpc__mutex_unlock(&rx.lock);
    assert_memory_equal(rx.buf, "async", 5);
    prpc__pconn_destroy(c);
    free(rx.buf);
    prpc__iopool_close(pool);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
    server_stop(&srv);
}


/* recv_sync and blocking-free sends on a connection bound to the completion
 * port: the synchronous reads must not also post packets to the port (the
 * event handle's low bit), or a pool thread would take a stack OVERLAPPED
 * for one of its own. */
static void test_recv_sync_on_pooled_connection(void **state)
{
    (void)state;
    char name[96];
    unique_name(name, sizeof name, "pooledsync");
    prpc__addr a = pipe_addr(name, PRPC__CHAN_MESSAGE);
    struct server srv;
    server_start(&srv, &a, false);
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(2, &pool), PRPC_OK);
    prpc__pconn *c = NULL;
    assert_int_equal(prpc__pconn_dial(pool, &a, DEADLINE(5000), &c, NULL), PRPC_OK);
    uint8_t buf[64];
    for (int i = 0; i < 200; i++) {
        size_t n = 0;
        assert_int_equal(prpc__pconn_send(c, &i, sizeof i), PRPC_OK);
        assert_int_equal(prpc__pconn_recv_sync(c, buf, sizeof buf, DEADLINE(5000), &n), PRPC_OK);
        assert_int_equal(n, sizeof i);
        assert_memory_equal(buf, &i, sizeof i);
    }
    /* Timeouts cancel the read without leaving a packet behind either. */
    for (int i = 0; i < 20; i++) {
        size_t n = 0;
        assert_int_equal(prpc__pconn_recv_sync(c, buf, sizeof buf, DEADLINE(5), &n), PRPC_ERR_TIMEOUT);
    }
    /* Then the pool still works for this connection. */
    struct spawn_rx rx;
    memset(&rx, 0, sizeof rx);
    prpc__mutex_init(&rx.lock);
    prpc__cond_init(&rx.cv);
    rx.cap = 3;
    rx.buf = malloc(rx.cap);
    rx.c = c;
    assert_int_equal(prpc__pconn_recv(c, rx.buf, rx.cap, on_spawn_recv, &rx), PRPC_OK);
    assert_int_equal(prpc__pconn_send(c, "end", 3), PRPC_OK);
    prpc__mutex_lock(&rx.lock);
    while (rx.got < rx.cap && !rx.ended)
        assert_int_equal(prpc__cond_wait_until(&rx.cv, &rx.lock, DEADLINE(5000)), PRPC_OK);
    prpc__mutex_unlock(&rx.lock);
    assert_memory_equal(rx.buf, "end", 3);
    prpc__pconn_destroy(c);
    free(rx.buf);
    prpc__iopool_close(pool);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
    server_stop(&srv);
}

static void test_spawn_child_echo_over_stdio(void **state)
{
    (void)state;
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(2, &pool), PRPC_OK);
    const char *argv[] = {g_self, "--child-echo", NULL};
    prpc__pconn *c = NULL;
    prpc__err err = {{0}};
    prpc_status st = prpc__pconn_spawn(pool, argv, &c, &err);
    if (st != PRPC_OK)
        print_error("spawn: %s\n", err.msg);
    assert_int_equal(st, PRPC_OK);
    prpc__peer peer;
    prpc__pconn_peer(c, &peer);
    assert_true(peer.pid > 0);
    struct spawn_rx rx;
    memset(&rx, 0, sizeof rx);
    prpc__mutex_init(&rx.lock);
    prpc__cond_init(&rx.cv);
    rx.cap = 300000;
    rx.buf = malloc(rx.cap);
    rx.c = c;
    uint8_t *msg = malloc(rx.cap);
    for (size_t i = 0; i < rx.cap; i++)
        msg[i] = (uint8_t)(i * 3u + 5);
    assert_int_equal(prpc__pconn_recv(c, rx.buf, rx.cap, on_spawn_recv, &rx), PRPC_OK);
    /* Several sends, queued behind each other. */
    for (size_t off = 0; off < rx.cap; off += 100000)
        assert_int_equal(prpc__pconn_send(c, msg + off, 100000), PRPC_OK);
    prpc__mutex_lock(&rx.lock);
    while (rx.got < rx.cap && !rx.ended)
        assert_int_equal(prpc__cond_wait_until(&rx.cv, &rx.lock, DEADLINE(30000)), PRPC_OK);
    prpc__mutex_unlock(&rx.lock);
    assert_int_equal(rx.got, rx.cap);
    assert_memory_equal(rx.buf, msg, rx.cap);
    /* Closing ends the child: stop reaps it (it exits on end of input). */
    HANDLE child = NULL;
    assert_true(DuplicateHandle(GetCurrentProcess(), c->child, GetCurrentProcess(), &child,
                                SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, 0));
    prpc__pconn_destroy(c);
    assert_int_equal(WaitForSingleObject(child, 0), WAIT_OBJECT_0);
    DWORD code = 99;
    assert_true(GetExitCodeProcess(child, &code));
    assert_int_equal(code, 0);
    CloseHandle(child);
    free(msg);
    free(rx.buf);
    prpc__iopool_close(pool);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
}


/* The child's own stdio connection, closed while a receive is outstanding
 * and nothing arrives: the blocking reader must be interrupted. Exit code 0
 * when the receive ended with PRPC_ERR_CLOSED and everything stopped. */
static volatile LONG g_child_recv_status = 1;

static void on_child_recv(void *user, prpc_status st, size_t n)
{
    (void)user;
    (void)n;
    InterlockedExchange(&g_child_recv_status, st == PRPC_ERR_CLOSED ? 0 : 10);
}

static int child_stdio_close(void)
{
    prpc__iopool *pool;
    if (prpc__iopool_create(1, &pool) != PRPC_OK)
        return 2;
    prpc__pconn *c;
    if (prpc__pconn_stdio(pool, &c, NULL) != PRPC_OK)
        return 3;
    static uint8_t buf[1024];
    if (prpc__pconn_recv(c, buf, sizeof buf, on_child_recv, NULL) != PRPC_OK)
        return 4;
    Sleep(200);
    prpc__pconn_close(c);
    prpc__pconn_stop(c);
    prpc__pconn_free(c);
    prpc__iopool_close(pool);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
    return (int)g_child_recv_status;
}

static void test_stdio_close_interrupts_blocking_read(void **state)
{
    (void)state;
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(1, &pool), PRPC_OK);
    const char *argv[] = {g_self, "--child-stdio-close", NULL};
    prpc__pconn *c = NULL;
    assert_int_equal(prpc__pconn_spawn(pool, argv, &c, NULL), PRPC_OK);
    /* We keep our ends open and send nothing: only close() can end the
     * child's read. */
    DWORD w = WaitForSingleObject(c->child, 15000);
    assert_int_equal(w, WAIT_OBJECT_0);
    DWORD code = 99;
    assert_true(GetExitCodeProcess(c->child, &code));
    assert_int_equal(code, 0);
    prpc__pconn_destroy(c);
    prpc__iopool_close(pool);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
}

static void test_spawn_missing_program(void **state)
{
    (void)state;
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(1, &pool), PRPC_OK);
    const char *argv[] = {"piperpc-no-such-program-xyz.exe", NULL};
    prpc__pconn *c = NULL;
    prpc__err err = {{0}};
    assert_int_equal(prpc__pconn_spawn(pool, argv, &c, &err), PRPC_ERR_INVALID_ARG);
    assert_null(c);
    assert_non_null(strstr(err.msg, "spawn"));
    prpc__iopool_close(pool);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child-echo") == 0)
        return child_echo();
    if (argc > 1 && strcmp(argv[1], "--child-stdio-close") == 0)
        return child_stdio_close();
    if (argc > 2 && strcmp(argv[1], "--child-hang") == 0)
        return child_hang(argv[2]);
    GetModuleFileNameA(NULL, g_self, sizeof g_self);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_tasks_and_timers),
        cmocka_unit_test(test_pipe_echo_message_mode),
        cmocka_unit_test(test_pipe_echo_byte_mode),
        cmocka_unit_test(test_pipe_16mib_message_arrives_whole),
        cmocka_unit_test(test_pipe_16mib_echo_through_recv_sync),
        cmocka_unit_test(test_pipe_64_clients_at_once),
        cmocka_unit_test(test_pipe_second_listener_is_refused),
        cmocka_unit_test(test_pipe_security_descriptor_and_flags),
        cmocka_unit_test(test_pipe_peer_identity),
        cmocka_unit_test(test_pipe_dial_nobody_listens),
        cmocka_unit_test(test_pipe_dial_waits_for_a_busy_pipe),
        cmocka_unit_test(test_pipe_instance_limit),
        cmocka_unit_test(test_unix_endpoint_not_supported),
        cmocka_unit_test(test_close_completes_pending_receive),
        cmocka_unit_test(test_close_wakes_recv_sync),
        cmocka_unit_test(test_send_queue_limit),
        cmocka_unit_test(test_client_killed_mid_message),
        cmocka_unit_test(test_tcp_echo_loopback),
        cmocka_unit_test(test_pipe_attach_after_dial),
        cmocka_unit_test(test_recv_sync_on_pooled_connection),
        cmocka_unit_test(test_spawn_child_echo_over_stdio),
        cmocka_unit_test(test_stdio_close_interrupts_blocking_read),
        cmocka_unit_test(test_spawn_missing_program),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
