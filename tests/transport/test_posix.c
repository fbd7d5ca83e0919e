/* POSIX-specific transport tests: the private runtime directory, stale and
 * live socket files, the access policy, real server processes, SIGPIPE,
 * running out of descriptors on accept, the pool's timers and tasks, and
 * the order of receives read back to back or by a thread parked on a
 * connection. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "echo.h"
#include "platform/linux/linux_io.h"
#include "piperpc/alloc.h"
#include "support/test_wait.h"
#include <stdatomic.h>

extern char **environ;

#define WAIT_MS 10000u

static char g_xdg[64];

/* Every test gets a fresh XDG_RUNTIME_DIR, so runtime-directory state never
 * leaks between tests or into the user's real one. */
static int setup_xdg(void **state)
{
    (void)state;
    snprintf(g_xdg, sizeof g_xdg, "/tmp/prpc-xdg-XXXXXX");
    if (mkdtemp(g_xdg) == NULL)
        return -1;
    setenv("XDG_RUNTIME_DIR", g_xdg, 1);
    return 0;
}

static int teardown_xdg(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_xdg);
    return system(cmd) == 0 ? 0 : -1;
}

static void echo_one(prpc__tconn *c, size_t size, unsigned seed)
{
    uint8_t *m = make_msg(size, seed);
    assert_int_equal(prpc__tconn_send(c, m, size), PRPC_OK);
    free(m);
    const uint8_t *r;
    size_t rlen;
    assert_int_equal(prpc__tconn_recv_sync(c, prpc__now_ms() + WAIT_MS, &r, &rlen), PRPC_OK);
    assert_int_equal(rlen, size);
    assert_true(check_msg(r, rlen, seed));
}

static prpc__tconn *dial(const char *ep)
{
    prpc__dial_opts o;
    memset(&o, 0, sizeof o);
    o.connect_timeout_ms = 5000;
    prpc__tconn *c = NULL;
    prpc__err err = {{0}};
    prpc_status st = prpc__tdial(NULL, ep, &o, &c, &err);
    if (st != PRPC_OK)
        fail_msg("dial %s: %s (%s)", ep, prpc_strerror(st), err.msg);
    return c;
}

/* ------------------------------------------------------ runtime directory */

static void test_runtime_dir_created_private(void **state)
{
    (void)state;
    char name[64], ep[128], path[256];
    unique_name(name, sizeof name, "dir");
    snprintf(ep, sizeof ep, "pipe:%s", name);
    echo_server s;
    prpc__err err = {{0}};
    assert_int_equal(echo_start(&s, ep, NULL, &err), PRPC_OK);
    snprintf(path, sizeof path, "%s/piperpc", g_xdg);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(st.st_uid, geteuid());
    snprintf(path, sizeof path, "%s/piperpc/%s", g_xdg, name);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 077, 0);
    prpc__tconn *c = dial(ep);
    echo_one(c, 10, 1);
    prpc__tconn_destroy(c);
    echo_stop(&s);
    /* The socket path goes with the server. */
    assert_int_not_equal(lstat(path, &st), 0);
}

static void expect_dir_refused(const char *needle)
{
    char name[64], ep[128];
    unique_name(name, sizeof name, "bad");
    snprintf(ep, sizeof ep, "pipe:%s", name);
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(1, &pool), PRPC_OK);
    prpc__tlistener *l = NULL;
    prpc__err err = {{0}};
    assert_int_equal(prpc__tlistener_open(pool, ep, NULL, &l, &err), PRPC_ERR_DENIED);
    assert_null(l);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
    /* A client refuses it too: it will not talk through a directory that
     * someone else may control. */
    prpc__tconn *c = NULL;
    assert_int_equal(prpc__tdial(NULL, ep, NULL, &c, &err), PRPC_ERR_DENIED);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
}

static void test_runtime_dir_wrong_mode_refused(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/piperpc", g_xdg);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(chmod(path, 0755), 0);
    expect_dir_refused("0755");
}

static void test_runtime_dir_wrong_owner_refused(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* only root can give a directory away */
    char path[256];
    snprintf(path, sizeof path, "%s/piperpc", g_xdg);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(chown(path, 65534, 65534), 0);
    expect_dir_refused("owned by uid 65534");
}

static void test_runtime_dir_symlink_refused(void **state)
{
    (void)state;
    char path[256], target[256];
    snprintf(target, sizeof target, "%s/elsewhere", g_xdg);
    snprintf(path, sizeof path, "%s/piperpc", g_xdg);
    assert_int_equal(mkdir(target, 0700), 0);
    assert_int_equal(symlink(target, path), 0);
    expect_dir_refused("not a directory");
}

static void test_pipe_name_too_long_for_sun_path(void **state)
{
    (void)state;
    char ep[300];
    snprintf(ep, sizeof ep, "pipe:");
    memset(ep + 5, 'x', 150);
    ep[155] = '\0';
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(1, &pool), PRPC_OK);
    prpc__tlistener *l = NULL;
    prpc__err err = {{0}};
    assert_int_equal(prpc__tlistener_open(pool, ep, NULL, &l, &err), PRPC_ERR_INVALID_ARG);
    assert_non_null(strstr(err.msg, "limit"));
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
}

/* ------------------------------------------------------- stale and live */

static void make_stale_socket(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof sa.sun_path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd); /* bound, never listening: what a crashed server leaves */
}

static void test_stale_socket_cleaned(void **state)
{
    (void)state;
    char name[64], ep[128], dir[256], path[512];
    unique_name(name, sizeof name, "stale");
    snprintf(ep, sizeof ep, "pipe:%s", name);
    assert_int_equal(prpc__runtime_dir(dir, sizeof dir, NULL), PRPC_OK);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    make_stale_socket(path);
    echo_server s;
    prpc__err err = {{0}};
    assert_int_equal(echo_start(&s, ep, NULL, &err), PRPC_OK);
    prpc__tconn *c = dial(ep);
    echo_one(c, 10, 1);
    prpc__tconn_destroy(c);
    echo_stop(&s);
}

static void test_live_server_not_hijacked(void **state)
{
    (void)state;
    char name[64], ep[128];
    unique_name(name, sizeof name, "live");
    snprintf(ep, sizeof ep, "pipe:%s", name);
    echo_server a;
    prpc__err err = {{0}};
    assert_int_equal(echo_start(&a, ep, NULL, &err), PRPC_OK);
    /* The second server on the name fails, in either mode, and says why. */
    prpc__tlistener *l = NULL;
    assert_int_equal(prpc__tlistener_open(a.pool, ep, NULL, &l, &err), PRPC_ERR_ADDR_IN_USE);
    assert_non_null(strstr(err.msg, "another server"));
    char ep2[160];
    snprintf(ep2, sizeof ep2, "%s?mode=byte", ep);
    assert_int_equal(prpc__tlistener_open(a.pool, ep2, NULL, &l, &err), PRPC_ERR_ADDR_IN_USE);
    prpc__tconn *c = dial(ep);
    echo_one(c, 10, 1);
    prpc__tconn_destroy(c);
    echo_stop(&a);
    /* Once it has gone, the name is free again. */
    assert_int_equal(echo_start(&a, ep, NULL, &err), PRPC_OK);
    echo_stop(&a);
}

static void test_live_foreign_server_not_hijacked(void **state)
{
    (void)state;
    /* A server that does not use the lock file is found by the probe. */
    char name[48], path[96], ep[160];
    unique_name(name, sizeof name, "foreign");
    snprintf(path, sizeof path, "/tmp/prpc-%s.sock", name);
    snprintf(ep, sizeof ep, "unix:%s", path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(1, &pool), PRPC_OK);
    prpc__tlistener *l = NULL;
    prpc__err err = {{0}};
    assert_int_equal(prpc__tlistener_open(pool, ep, NULL, &l, &err), PRPC_ERR_ADDR_IN_USE);
    assert_non_null(strstr(err.msg, "live server"));
    struct stat st;
    assert_int_equal(lstat(path, &st), 0); /* still there */
    close(fd);
    /* Now it is stale: taken over. */
    assert_int_equal(prpc__tlistener_open(pool, ep, NULL, &l, &err), PRPC_OK);
    prpc__tlistener_destroy(l);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
    char lockpath[160];
    snprintf(lockpath, sizeof lockpath, "%s.lock", path);
    unlink(lockpath);
}

static void test_non_socket_never_removed(void **state)
{
    (void)state;
    char name[48], path[96], ep[160];
    unique_name(name, sizeof name, "file");
    snprintf(path, sizeof path, "/tmp/prpc-%s.sock", name);
    snprintf(ep, sizeof ep, "unix:%s", path);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(1, &pool), PRPC_OK);
    prpc__tlistener *l = NULL;
    prpc__err err = {{0}};
    assert_int_equal(prpc__tlistener_open(pool, ep, NULL, &l, &err), PRPC_ERR_ADDR_IN_USE);
    assert_non_null(strstr(err.msg, "not a socket"));
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unlink(path);
    char lockpath[160];
    snprintf(lockpath, sizeof lockpath, "%s.lock", path);
    unlink(lockpath);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
}

/* ---------------------------------------------------------------- policy */

struct policy_seen {
    int calls;
    prpc__peer peer;
};

static bool deny_all(void *user, const prpc__peer *peer)
{
    struct policy_seen *p = user;
    p->calls++;
    p->peer = *peer;
    return false;
}

static void test_policy_hook_denies_peer(void **state)
{
    (void)state;
    char name[64], ep[128];
    unique_name(name, sizeof name, "deny");
    snprintf(ep, sizeof ep, "pipe:%s", name);
    struct policy_seen seen;
    memset(&seen, 0, sizeof seen);
    prpc__listen_opts o;
    memset(&o, 0, sizeof o);
    o.peer_policy = deny_all;
    o.peer_policy_user = &seen;
    echo_server s;
    prpc__err err = {{0}};
    assert_int_equal(echo_start(&s, ep, &o, &err), PRPC_OK);
    prpc__tconn *c = dial(ep);
    uint8_t *m = make_msg(10, 1);
    prpc_status st = prpc__tconn_send(c, m, 10);
    free(m);
    assert_true(st == PRPC_OK || st == PRPC_ERR_CLOSED);
    const uint8_t *r;
    size_t rlen;
    assert_int_equal(prpc__tconn_recv_sync(c, prpc__now_ms() + WAIT_MS, &r, &rlen), PRPC_ERR_CLOSED);
    prpc__tconn_destroy(c);
    assert_int_equal(prpc__tlistener_refused(s.listener), 1);
    echo_stop(&s); /* joins the pool: what its threads wrote is visible */
    /* The hook saw who it was; the core never saw the connection. */
    assert_int_equal(seen.calls, 1);
    assert_true(seen.peer.has_cred);
    assert_int_equal(seen.peer.uid, geteuid());
    assert_int_equal(seen.peer.pid, getpid());
    assert_int_equal(s.accepted, 0);
}

static void test_default_policy_other_user_refused(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* needs to become another user */
    char name[48], path[96], ep[160];
    unique_name(name, sizeof name, "uid");
    snprintf(path, sizeof path, "/tmp/prpc-%s.sock", name);
    snprintf(ep, sizeof ep, "unix:%s", path);
    echo_server s;
    prpc__err err = {{0}};
    assert_int_equal(echo_start(&s, ep, NULL, &err), PRPC_OK);
    /* Let the other user reach the socket, so only the policy stops it. */
    assert_int_equal(chmod(path, 0777), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(10);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            _exit(11);
        static const uint8_t msg[] = {0x94, 0x00, 0x01, 0xa1, 'x', 0x90};
        send(fd, msg, sizeof msg, MSG_NOSIGNAL);
        char buf[64];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        _exit(n <= 0 ? 0 : 12); /* closed without an answer */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(s.accepted, 0);
    assert_int_equal(prpc__tlistener_refused(s.listener), 1);
    echo_stop(&s);
    char lockpath[160];
    snprintf(lockpath, sizeof lockpath, "%s.lock", path);
    unlink(lockpath);
}

/* ------------------------------------------------------------- processes */

/* Starts echo_helper serving ep; returns its pid. */
static pid_t start_helper(const char *ep)
{
    int out[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    char *argv[] = {(char *)ECHO_HELPER_PATH, (char *)"listen", (char *)ep, NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, ECHO_HELPER_PATH, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    char buf[64] = {0};
    ssize_t n = read(out[0], buf, sizeof buf - 1); /* "ready PORT" */
    close(out[0]);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "ready"));
    return pid;
}

static void stop_helper(pid_t pid)
{
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
}

static void test_separate_server_process(void **state)
{
    (void)state;
    const char *modes[] = {"", "?mode=byte"};
    for (int m = 0; m < 2; m++) {
        char name[64], ep[160];
        unique_name(name, sizeof name, "proc");
        snprintf(ep, sizeof ep, "pipe:%s%s", name, modes[m]);
        pid_t pid = start_helper(ep);
        prpc__tconn *c = dial(ep);
        prpc__peer peer;
        prpc__tconn_peer(c, &peer);
        assert_true(peer.has_cred);
        assert_int_equal(peer.pid, pid);
        for (unsigned i = 0; i < 500; i++)
            echo_one(c, 16 + i, i);
        echo_one(c, (size_t)4 << 20, 77);
        /* The server dies: the client learns it at once, with no signal. */
        stop_helper(pid);
        const uint8_t *r;
        size_t rlen;
        assert_int_equal(prpc__tconn_recv_sync(c, prpc__now_ms() + WAIT_MS, &r, &rlen),
                         PRPC_ERR_CLOSED);
        uint8_t *msg = make_msg(100, 1);
        assert_int_equal(prpc__tconn_send(c, msg, 100), PRPC_ERR_CLOSED);
        free(msg);
        prpc__tconn_destroy(c);
        /* The dead server's socket file is stale; a new server takes it. */
        pid = start_helper(ep);
        c = dial(ep);
        echo_one(c, 10, 1);
        prpc__tconn_destroy(c);
        stop_helper(pid);
    }
}

static void test_stdio_child_gone_no_sigpipe(void **state)
{
    (void)state;
    /* "true" exits at once; writing to its closed stdin must fail cleanly
     * (SIGPIPE would kill this test). */
    const char *argv[] = {"true", NULL};
    prpc__dial_opts o;
    memset(&o, 0, sizeof o);
    o.argv = argv;
    prpc__tconn *c = NULL;
    prpc__err err = {{0}};
    assert_int_equal(prpc__tdial(NULL, "stdio:", &o, &c, &err), PRPC_OK);
    const uint8_t *r;
    size_t rlen;
    assert_int_equal(prpc__tconn_recv_sync(c, prpc__now_ms() + WAIT_MS, &r, &rlen), PRPC_ERR_CLOSED);
    uint8_t *m = make_msg(100000, 1);
    assert_int_equal(prpc__tconn_send(c, m, 100000), PRPC_ERR_CLOSED);
    free(m);
    prpc__tconn_destroy(c);
    /* A program that does not exist is a clear error, and leaves no child. */
    const char *nope[] = {"/nonexistent/prpc-server", NULL};
    o.argv = nope;
    assert_int_equal(prpc__tdial(NULL, "stdio:", &o, &c, &err), PRPC_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.msg, "nonexistent"));
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static void test_dial_waits_for_server(void **state)
{
    (void)state;
    char name[64], ep[128];
    unique_name(name, sizeof name, "wait");
    snprintf(ep, sizeof ep, "pipe:%s", name);
    /* Nobody there: one attempt fails at once, a deadline fails after it. */
    prpc__tconn *c = NULL;
    prpc__err err = {{0}};
    assert_int_equal(prpc__tdial(NULL, ep, NULL, &c, &err), PRPC_ERR_UNAVAILABLE);
    prpc__dial_opts o;
    memset(&o, 0, sizeof o);
    o.connect_timeout_ms = 200;
    uint64_t t0 = prpc__now_ms();
    assert_int_equal(prpc__tdial(NULL, ep, &o, &c, &err), PRPC_ERR_UNAVAILABLE);
    assert_true(prpc__now_ms() - t0 >= 190);
    /* A server appearing while the client waits is found. */
    pid_t pid = fork();
    if (pid == 0) {
        prpc__sleep_ms(300);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        execl(ECHO_HELPER_PATH, ECHO_HELPER_PATH, "listen", ep, (char *)NULL);
        _exit(127);
    }
    o.connect_timeout_ms = 5000;
    assert_int_equal(prpc__tdial(NULL, ep, &o, &c, &err), PRPC_OK);
    echo_one(c, 10, 3);
    prpc__tconn_destroy(c);
    stop_helper(pid);
}

/* ------------------------------------------------------ out of descriptors */

static atomic_int g_backoffs;

static void count_backoffs(void *user, prpc_log_level level, const char *message)
{
    (void)user;
    (void)level;
    if (strstr(message, "retrying in") != NULL)
        atomic_fetch_add(&g_backoffs, 1);
}

static void test_accept_emfile_does_not_spin(void **state)
{
    (void)state;
    char name[64], ep[128];
    unique_name(name, sizeof name, "emfile");
    snprintf(ep, sizeof ep, "pipe:%s", name);
    /* The log callback is process-wide: set it while no pool runs. */
    atomic_store(&g_backoffs, 0);
    prpc_set_log(count_backoffs, NULL, PRPC_LOG_WARN);
    echo_server s;
    prpc__err err = {{0}};
    assert_int_equal(echo_start(&s, ep, NULL, &err), PRPC_OK);
    int out[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)count_fds() + 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    /* Use up every descriptor, then free exactly two: room for two
     * connections, then EMFILE, however many descriptors were open. */
    int fill[128];
    int nfill = 0;
    while (nfill < 128) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        fill[nfill++] = fd;
    }
    assert_true(nfill >= 2 && nfill < 128);
    close(fill[--nfill]);
    close(fill[--nfill]);
    /* The clients live in another process, so that only the server runs out. */
    char *argv[] = {(char *)ECHO_HELPER_PATH, (char *)"client", ep, (char *)"8", NULL};
    pid_t pid;
    int sr = posix_spawn(&pid, ECHO_HELPER_PATH, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    char x = 0;
    ssize_t n = sr == 0 ? read(out[0], &x, 1) : -1; /* all 8 connected */
    /* The listener runs out of descriptors: its first back-off. */
    TEST_WAIT_UNTIL(atomic_load(&g_backoffs) >= 1, TEST_WAIT_MS);
    int first = atomic_load(&g_backoffs);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    /* A fixed time, not a condition: over it the listener must NOT spin. */
    prpc__sleep_ms(600);
    getrusage(RUSAGE_SELF, &r1);
    while (nfill > 0)
        close(fill[--nfill]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    close(out[0]);
    assert_int_equal(sr, 0);
    assert_int_equal(n, 1);
    long cpu_us = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1000000L +
                  (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) +
                  (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000000L +
                  (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* It ran out, and backed off instead of spinning: a handful of retries
     * in 600 ms, and almost no CPU. */
    if (first < 1)
        fail_msg("no accept back-off: the listener did not run out of descriptors");
    int backoffs = atomic_load(&g_backoffs) - first;
    if (backoffs > 12)
        fail_msg("%d accept back-offs in 600 ms", backoffs);
    if (cpu_us > 150000)
        fail_msg("accept spun: %ld us of CPU in 600 ms", cpu_us);
    assert_int_equal(echo_wait_ended(&s, 8, WAIT_MS), 8);
    echo_stop(&s);
    prpc_set_log(NULL, NULL, PRPC_LOG_ERROR);
}

/* ------------------------------------------------------- timers and tasks */

struct tick {
    prpc__mutex lock;
    prpc__cond cond;
    int order[8];
    int n;
};

struct tick_arg {
    struct tick *t;
    int id;
};

static void tick_fn(void *arg)
{
    struct tick_arg *a = arg;
    prpc__mutex_lock(&a->t->lock);
    a->t->order[a->t->n++] = a->id;
    prpc__cond_broadcast(&a->t->cond);
    prpc__mutex_unlock(&a->t->lock);
}

static void test_pool_timers_and_tasks(void **state)
{
    (void)state;
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(2, &pool), PRPC_OK);
    struct tick t;
    memset(&t, 0, sizeof t);
    prpc__mutex_init(&t.lock);
    prpc__cond_init(&t.cond);
    struct tick_arg a[5];
    prpc__timer tm[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct tick_arg){&t, i};
        prpc__timer_init(&tm[i], pool, tick_fn, &a[i]);
    }
    uint64_t now = prpc__now_ms();
    prpc__timer_schedule(&tm[0], now + 120);
    prpc__timer_schedule(&tm[1], now + 40);
    prpc__timer_schedule(&tm[2], now + 80);
    prpc__timer_schedule(&tm[3], now + 60);
    prpc__timer_cancel(&tm[3]);            /* never fires */
    prpc__timer_schedule(&tm[2], now + 20); /* moved earlier */
    a[4] = (struct tick_arg){&t, 9};
    prpc__task task;
    prpc__task_post(pool, &task, tick_fn, &a[4]);
    prpc__mutex_lock(&t.lock);
    while (t.n < 4 && prpc__cond_wait_until(&t.cond, &t.lock, now + 5000) == PRPC_OK) {
    }
    prpc__mutex_unlock(&t.lock);
    /* A fixed time, not a condition: the cancelled timer must NOT fire. */
    prpc__sleep_ms(100);
    assert_int_equal(t.n, 4);
    assert_int_equal(t.order[0], 9);
    assert_int_equal(t.order[1], 2);
    assert_int_equal(t.order[2], 1);
    assert_int_equal(t.order[3], 0);
    assert_true(prpc__now_ms() - now >= 120);
    for (int i = 0; i < 4; i++)
        prpc__timer_cancel(&tm[i]);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
    prpc__cond_destroy(&t.cond);
    prpc__mutex_destroy(&t.lock);
}

static void test_posix_no_fd_leak(void **state)
{
    (void)state;
    int before = count_fds();
    for (int round = 0; round < 3; round++) {
        char name[64], ep[128];
        unique_name(name, sizeof name, "leak");
        snprintf(ep, sizeof ep, "pipe:%s", name);
        echo_server s;
        prpc__err err = {{0}};
        assert_int_equal(echo_start(&s, ep, NULL, &err), PRPC_OK);
        prpc__tlistener *l = NULL;
        assert_int_equal(prpc__tlistener_open(s.pool, ep, NULL, &l, &err), PRPC_ERR_ADDR_IN_USE);
        prpc__tconn *c = dial(ep);
        echo_one(c, 10, 1);
        prpc__tconn_destroy(c);
        echo_stop(&s);
    }
    assert_int_equal(count_fds(), before);
}


/* ------------------------------------------------------------ send queue */

static void test_send_queue_partial_writes_and_limit(void **state)
{
    (void)state;
    /* A peer that does not read: sends fill the socket, then the queue,
     * then report BUSY without sending anything; once the peer reads, the
     * pool writes the queue out in order. */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(2, &pool), PRPC_OK);
    prpc__pconn *c = NULL;
    assert_int_equal(prpc__pconn_new(pool, sv[0], sv[0], true, PRPC__CHAN_BYTE, &c), PRPC_OK);
    const size_t limit = 256 * 1024, chunk = 50000;
    prpc__pconn_set_send_limit(c, limit);
    uint8_t *msg = malloc(chunk);
    size_t sent = 0;
    unsigned k;
    for (k = 0; k < 1000; k++) {
        for (size_t i = 0; i < chunk; i++)
            msg[i] = (uint8_t)(k * 7 + i);
        prpc_status st = prpc__pconn_send(c, msg, chunk);
        if (st == PRPC_ERR_BUSY)
            break;
        assert_int_equal(st, PRPC_OK);
        sent += chunk;
        assert_true(prpc__pconn_send_queued(c) <= limit + chunk);
    }
    assert_true(k < 1000);                        /* the limit was reached */
    assert_true(prpc__pconn_send_queued(c) > 0); /* and a queue existed */
    /* Drain the peer and check every byte, in order. */
    uint8_t *got = malloc(sent);
    size_t have = 0;
    uint64_t deadline = prpc__now_ms() + 10000;
    while (have < sent && prpc__now_ms() < deadline) {
        ssize_t n = recv(sv[1], got + have, sent - have, 0);
        assert_true(n > 0);
        have += (size_t)n;
    }
    assert_int_equal(have, sent);
    for (size_t off = 0; off < sent; off++) {
        unsigned m = (unsigned)(off / chunk);
        size_t i = off % chunk;
        if (got[off] != (uint8_t)(m * 7 + i))
            fail_msg("byte %zu differs", off);
    }
    /* The pool accounts for the last write just after the peer can read it. */
    for (int i = 0; i < 1000 && prpc__pconn_send_queued(c) != 0; i++)
        prpc__sleep_ms(1);
    assert_int_equal(prpc__pconn_send_queued(c), 0);
    free(got);
    free(msg);
    prpc__pconn_destroy(c);
    close(sv[1]);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
}

/* ------------------------------------------ receive bursts and parking */

/* A receiver that checks that one connection's receive callbacks never
 * overlap and see every datagram, in order: datagram k starts with k. */
struct seq_rx {
    prpc__pconn *c;
    uint8_t buf[PRPC__CHUNK_SIZE];
    atomic_int in_cb;
    atomic_int overlaps;
    prpc__mutex lock;
    prpc__cond cond;
    uint32_t next;      /* (lock) the sequence number expected next */
    uint32_t bad;       /* (lock) datagrams out of order or of the wrong size */
    int closed;         /* (lock) PRPC_ERR_CLOSED completions */
    uint32_t calls;     /* (lock) callbacks so far */
    uint32_t settled;   /* (lock) of those, the ones past their re-arm */
};

static size_t seq_size(uint32_t k)
{
    /* Whole chunks (a burst), small datagrams (a park) and sizes between. */
    static const size_t sizes[] = {PRPC__CHUNK_SIZE, PRPC__CHUNK_SIZE, 9, PRPC__CHUNK_SIZE, 4,
                                   PRPC__CHUNK_SIZE - 1, 1000, 4};
    return sizes[k % (sizeof sizes / sizeof sizes[0])];
}

static void seq_cb(void *user, prpc_status st, size_t n)
{
    struct seq_rx *rx = user;
    if (atomic_fetch_add(&rx->in_cb, 1) != 0)
        atomic_fetch_add(&rx->overlaps, 1);
    prpc__mutex_lock(&rx->lock);
    rx->calls++;
    bool again = false;
    if (st == PRPC_OK) {
        uint32_t k;
        memcpy(&k, rx->buf, sizeof k);
        if (k != rx->next || n != seq_size(k))
            rx->bad++;
        rx->next++;
        again = true;
    } else if (st == PRPC_ERR_CLOSED) {
        rx->closed++;
    }
    prpc__mutex_unlock(&rx->lock);
    atomic_fetch_sub(&rx->in_cb, 1);
    /* Not a cmocka assertion: this is a pool thread. */
    prpc_status rearm = again ? prpc__pconn_recv(rx->c, rx->buf, sizeof rx->buf, seq_cb, rx)
                              : PRPC_OK;
    /* Settled once the next receive is armed: a test that has waited for
     * this message may then close the connection and count on the close
     * completing that receive. */
    prpc__mutex_lock(&rx->lock);
    if (rearm != PRPC_OK)
        rx->bad++;
    rx->settled++;
    prpc__cond_broadcast(&rx->cond);
    prpc__mutex_unlock(&rx->lock);
}

/* Waits until the sequence number count is expected next and `closed`
 * closes were reported, each callback settled. */
static bool seq_wait(struct seq_rx *rx, uint32_t count, int closed)
{
    uint64_t deadline = prpc__now_ms() + WAIT_MS;
    prpc__mutex_lock(&rx->lock);
    while ((rx->next < count || rx->closed < closed || rx->settled < rx->calls) &&
           prpc__cond_wait_until(&rx->cond, &rx->lock, deadline) == PRPC_OK) {
    }
    bool ok = rx->next >= count && rx->closed >= closed && rx->settled == rx->calls;
    prpc__mutex_unlock(&rx->lock);
    return ok;
}

static void test_recv_bursts_and_parks_keep_order(void **state)
{
    (void)state;
    /* Datagrams in runs with pauses between them: whole chunks are read
     * back to back, a small one lets the thread park for the next, and a
     * pause longer than a park sends it back to epoll. None is lost,
     * reordered, or delivered while the previous callback runs. */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    int big = 4 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(2, &pool), PRPC_OK);
    struct seq_rx *rx = calloc(1, sizeof *rx);
    prpc__mutex_init(&rx->lock);
    prpc__cond_init(&rx->cond);
    assert_int_equal(prpc__pconn_new(pool, sv[0], sv[0], true, PRPC__CHAN_MESSAGE, &rx->c),
                     PRPC_OK);
    assert_int_equal(prpc__pconn_recv(rx->c, rx->buf, sizeof rx->buf, seq_cb, rx), PRPC_OK);
    uint8_t *out = calloc(1, PRPC__CHUNK_SIZE);
    const uint32_t total = 2000;
    for (uint32_t k = 0; k < total; k++) {
        memcpy(out, &k, sizeof k);
        assert_int_equal(send(sv[1], out, seq_size(k), MSG_NOSIGNAL), (ssize_t)seq_size(k));
        if (k % 97 == 0)
            prpc__sleep_ms(k % 2 ? 1 : 5); /* within a park, and past one */
        if (k % 256 == 255)
            assert_true(seq_wait(rx, k + 1, 0)); /* keeps the socket from filling */
    }
    assert_true(seq_wait(rx, total, 0));
    /* A thread parked on the connection wakes at once for the close. */
    prpc__sleep_ms(1);
    uint64_t t0 = prpc__now_ms();
    prpc__pconn_close(rx->c);
    assert_true(seq_wait(rx, total, 1));
    assert_true(prpc__now_ms() - t0 < 1000);
    prpc__pconn_stop(rx->c);
    prpc__pconn_free(rx->c);
    assert_int_equal(rx->next, total);
    assert_int_equal(rx->bad, 0);
    assert_int_equal(rx->closed, 1);
    assert_int_equal(atomic_load(&rx->overlaps), 0);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
    close(sv[1]);
    prpc__cond_destroy(&rx->cond);
    prpc__mutex_destroy(&rx->lock);
    free(rx);
    free(out);
}

static void test_parked_thread_leaves_one_for_others(void **state)
{
    (void)state;
    /* Connection A is busy in ping-pong: its thread may park on it. A
     * message on connection B must still be served by the other thread
     * every time, and neither connection sees overlapping callbacks. */
    int a[2], b[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, a), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, b), 0);
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(2, &pool), PRPC_OK);
    struct seq_rx *ra = calloc(1, sizeof *ra), *rb = calloc(1, sizeof *rb);
    struct seq_rx *rxs[2] = {ra, rb};
    int fds[2] = {a[0], b[0]};
    for (int i = 0; i < 2; i++) {
        prpc__mutex_init(&rxs[i]->lock);
        prpc__cond_init(&rxs[i]->cond);
        struct seq_rx *rx = rxs[i];
        assert_int_equal(prpc__pconn_new(pool, fds[i], fds[i], true, PRPC__CHAN_MESSAGE, &rx->c),
                         PRPC_OK);
        assert_int_equal(prpc__pconn_recv(rx->c, rx->buf, sizeof rx->buf, seq_cb, rx), PRPC_OK);
    }
    uint8_t out[PRPC__CHUNK_SIZE];
    memset(out, 0, sizeof out);
    uint32_t kb = 0;
    for (uint32_t k = 0; k < 300; k++) {
        /* A: one small message, then wait for it (its thread may park) */
        while (seq_size(k) != 4 && seq_size(k) != 9)
            k++;
        memcpy(out, &k, sizeof k);
        /* keep A's sequence in step with what its receiver expects */
        prpc__mutex_lock(&ra->lock);
        ra->next = k;
        prpc__mutex_unlock(&ra->lock);
        assert_int_equal(send(a[1], out, seq_size(k), MSG_NOSIGNAL), (ssize_t)seq_size(k));
        assert_true(seq_wait(ra, k + 1, 0));
        if (k % 10 != 0)
            continue;
        /* B, while A's thread may be parked */
        while (seq_size(kb) != 4)
            kb++;
        memcpy(out, &kb, sizeof kb);
        prpc__mutex_lock(&rb->lock);
        rb->next = kb;
        prpc__mutex_unlock(&rb->lock);
        assert_int_equal(send(b[1], out, 4, MSG_NOSIGNAL), 4);
        assert_true(seq_wait(rb, kb + 1, 0));
        kb++;
    }
    for (int i = 0; i < 2; i++) {
        prpc__pconn_close(rxs[i]->c);
        prpc__pconn_stop(rxs[i]->c);
        prpc__pconn_free(rxs[i]->c);
        assert_int_equal(rxs[i]->bad, 0);
        assert_int_equal(atomic_load(&rxs[i]->overlaps), 0);
        prpc__cond_destroy(&rxs[i]->cond);
        prpc__mutex_destroy(&rxs[i]->lock);
        free(rxs[i]);
    }
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
    close(a[1]);
    close(b[1]);
}

static void test_dial_full_backlog_keeps_deadline(void **state)
{
    (void)state;
    /* A listener that never accepts: once its backlog is full, a client
     * must give up at its deadline instead of blocking in connect. */
    char name[64], ep[128];
    unique_name(name, sizeof name, "backlog");
    snprintf(ep, sizeof ep, "pipe:%s", name);
    prpc__iopool *pool;
    assert_int_equal(prpc__iopool_create(1, &pool), PRPC_OK);
    prpc__tlistener *l = NULL;
    prpc__err err = {{0}};
    assert_int_equal(prpc__tlistener_open(pool, ep, NULL, &l, &err), PRPC_OK);
    prpc__dial_opts o;
    memset(&o, 0, sizeof o);
    o.connect_timeout_ms = 100;
    prpc__tconn *cs[300];
    int n = 0;
    prpc_status st = PRPC_OK;
    uint64_t t0 = 0;
    while (n < 300) {
        t0 = prpc__now_ms();
        st = prpc__tdial(NULL, ep, &o, &cs[n], &err);
        if (st != PRPC_OK)
            break;
        n++;
    }
    uint64_t took = prpc__now_ms() - t0;
    assert_int_equal(st, PRPC_ERR_UNAVAILABLE);
    assert_true(n > 0 && n < 300);
    assert_true(took >= 90 && took < 2000);
    for (int i = 0; i < n; i++)
        prpc__tconn_destroy(cs[i]);
    prpc__tlistener_destroy(l);
    prpc__iopool_stop(pool);
    prpc__iopool_free(pool);
}

static void test_tcp_port_in_use(void **state)
{
    (void)state;
    echo_server a;
    prpc__err err = {{0}};
    assert_int_equal(echo_start(&a, "tcp:127.0.0.1:0", NULL, &err), PRPC_OK);
    uint16_t port = prpc__tlistener_port(a.listener);
    assert_true(port != 0);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp:127.0.0.1:%u", (unsigned)port);
    assert_string_equal(a.endpoint, ep);
    prpc__tlistener *l = NULL;
    assert_int_equal(prpc__tlistener_open(a.pool, ep, NULL, &l, &err), PRPC_ERR_ADDR_IN_USE);
    assert_non_null(strstr(err.msg, ep + 4));
    /* TCP peers carry no credentials; the default policy admits them. */
    prpc__tconn *c = dial(ep);
    prpc__peer peer;
    prpc__tconn_peer(c, &peer);
    assert_false(peer.has_cred);
    echo_one(c, 10, 1);
    prpc__tconn_destroy(c);
    echo_stop(&a);
}

static void test_thousand_connections(void **state)
{
    (void)state;
    /* 1000 connections open at once on one pipe: name, each echoing its own
     * message: nothing lost, duplicated or crossed; nothing leaked. */
    enum { N = 1000 };
    int before = count_fds();
    char name[64], ep[128];
    unique_name(name, sizeof name, "many");
    snprintf(ep, sizeof ep, "pipe:%s", name);
    echo_server s;
    prpc__err err = {{0}};
    assert_int_equal(echo_start(&s, ep, NULL, &err), PRPC_OK);
    prpc__tconn **cs = calloc(N, sizeof *cs);
    for (int i = 0; i < N; i++)
        cs[i] = dial(ep);
    for (int i = 0; i < N; i++) {
        uint8_t *m = make_msg(20 + (size_t)(i % 100), (unsigned)i);
        assert_int_equal(prpc__tconn_send(cs[i], m, 20 + (size_t)(i % 100)), PRPC_OK);
        free(m);
    }
    for (int i = 0; i < N; i++) {
        const uint8_t *r;
        size_t rlen;
        assert_int_equal(prpc__tconn_recv_sync(cs[i], prpc__now_ms() + WAIT_MS, &r, &rlen), PRPC_OK);
        assert_int_equal(rlen, 20 + (size_t)(i % 100));
        assert_true(check_msg(r, rlen, (unsigned)i));
    }
    assert_int_equal(prpc__tlistener_active(s.listener), N);
    for (int i = 0; i < N; i++)
        prpc__tconn_destroy(cs[i]);
    free(cs);
    assert_int_equal(echo_wait_ended(&s, N, WAIT_MS), N);
    echo_stop(&s);
    assert_int_equal(count_fds(), before);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_xdg, teardown_xdg)

int main(void)
{
    /* A parent's ignored SIGPIPE would hide a bug: use the default. */
    signal(SIGPIPE, SIG_DFL);
    const struct CMUnitTest tests[] = {
        T(test_runtime_dir_created_private),
        T(test_runtime_dir_wrong_mode_refused),
        T(test_runtime_dir_wrong_owner_refused),
        T(test_runtime_dir_symlink_refused),
        T(test_pipe_name_too_long_for_sun_path),
        T(test_stale_socket_cleaned),
        T(test_live_server_not_hijacked),
        T(test_live_foreign_server_not_hijacked),
        T(test_non_socket_never_removed),
        T(test_policy_hook_denies_peer),
        T(test_default_policy_other_user_refused),
        T(test_separate_server_process),
        T(test_stdio_child_gone_no_sigpipe),
        T(test_dial_waits_for_server),
        T(test_accept_emfile_does_not_spin),
        T(test_pool_timers_and_tasks),
        T(test_posix_no_fd_leak),
        T(test_send_queue_partial_writes_and_limit),
        T(test_recv_bursts_and_parks_keep_order),
        T(test_parked_thread_leaves_one_for_others),
        T(test_dial_full_backlog_keeps_deadline),
        T(test_tcp_port_in_use),
        T(test_thousand_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
