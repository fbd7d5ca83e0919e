/* stdio channels on Linux: a server serving on its own stdin/stdout, and a
 * client that spawns a server program and talks to it over two pipes (the
 * anonymous-pipe pattern). Every descriptor is close-on-exec except the two
 * the child is meant to inherit.
 *
 * Besides posix_spawn this uses pipe2(), which FreeBSD has and macOS does
 * not (pipe() and fcntl() there), and `environ`, which a macOS shared
 * library cannot reach directly (_NSGetEnviron() gives it). Which
 * descriptors the pool can wait on (check_stdio_fd) is epoll's rule. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "piperpc/alloc.h"
#include "platform/linux/linux_io.h"

extern char **environ;

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

prpc_status prpc__pconn_spawn(prpc__iopool *pool, const char *const *argv, prpc__pconn **out,
                              prpc__err *err)
{
    *out = NULL;
    if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0') {
        prpc__set_err(err, "stdio: needs a program to run");
        return PRPC_ERR_INVALID_ARG;
    }
    int to_child[2] = {-1, -1}, from_child[2] = {-1, -1};
    prpc_status st = PRPC_OK;
    posix_spawn_file_actions_t fa;
    bool fa_init = false;
    if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) {
        st = prpc__errno_status(errno);
        prpc__set_err(err, "stdio: cannot create pipes: %s", strerror(errno));
        goto fail;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        st = PRPC_ERR_NO_MEMORY;
        goto fail;
    }
    fa_init = true;
    /* dup2 clears close-on-exec on the target, so exactly these two
     * descriptors survive into the child. */
    if (posix_spawn_file_actions_adddup2(&fa, to_child[0], 0) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, from_child[1], 1) != 0) {
        st = PRPC_ERR_NO_MEMORY;
        goto fail;
    }
    pid_t pid;
    int r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    if (r != 0) {
        prpc__set_err(err, "stdio: cannot start '%s': %s", argv[0], strerror(r));
        st = r == ENOENT || r == EACCES ? PRPC_ERR_UNAVAILABLE : prpc__errno_status(r);
        goto fail;
    }
    posix_spawn_file_actions_destroy(&fa);
    fa_init = false;
    close(to_child[0]);
    close(from_child[1]);
    to_child[0] = from_child[1] = -1;
    set_nonblock(from_child[0]);
    set_nonblock(to_child[1]);
    prpc__pconn *c = NULL;
    st = prpc__pconn_new(pool, from_child[0], to_child[1], false, PRPC__CHAN_BYTE, &c);
    if (st != PRPC_OK) {
        close(from_child[0]);
        close(to_child[1]);
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        return st;
    }
    c->child = pid;
    c->peer.has_cred = false;
    c->peer.pid = pid;
    *out = c;
    return PRPC_OK;
fail:
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 2; i++) {
        if (to_child[i] >= 0)
            close(to_child[i]);
        if (from_child[i] >= 0)
            close(from_child[i]);
    }
    return st;
}

static atomic_bool stdio_taken;

static const char *fd_kind(mode_t mode)
{
    if (S_ISREG(mode))
        return "a regular file";
    if (S_ISCHR(mode))
        return "a character device (a terminal or /dev/null)";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISBLK(mode))
        return "a block device";
    return "not a pipe or socket";
}

/* The pool waits for readiness with epoll, which refuses regular files and
 * most devices (EPERM) and cannot wait on a terminal's line discipline the
 * way the protocol needs; only pipes and sockets qualify. Checked before
 * anything is taken over, so a refused process keeps its stdin/stdout. */
static prpc_status check_stdio_fd(int fd, const char *name, prpc__err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        prpc__set_err(err, "stdio: %s is not open (%s); the stdio transport needs a pipe or a "
                      "socket on stdin and stdout", name, strerror(e));
        return PRPC_ERR_INVALID_ARG;
    }
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
        return PRPC_OK;
    prpc__set_err(err, "stdio: %s is %s; the stdio transport needs a pipe or a socket on "
                  "stdin and stdout (start the server from a client that spawns it, or "
                  "through a pipe)", name, fd_kind(st.st_mode));
    return PRPC_ERR_NOT_SUPPORTED;
}

prpc_status prpc__pconn_stdio(prpc__iopool *pool, prpc__pconn **out, prpc__err *err)
{
    *out = NULL;
    if (atomic_exchange(&stdio_taken, true)) {
        prpc__set_err(err, "stdio: this process already serves on its stdin/stdout");
        return PRPC_ERR_ADDR_IN_USE;
    }
    prpc_status chk = check_stdio_fd(0, "stdin", err);
    if (chk == PRPC_OK)
        chk = check_stdio_fd(1, "stdout", err);
    if (chk != PRPC_OK) {
        atomic_store(&stdio_taken, false);
        return chk;
    }
    int in = fcntl(0, F_DUPFD_CLOEXEC, 3);
    int outfd = fcntl(1, F_DUPFD_CLOEXEC, 3);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (in < 0 || outfd < 0 || devnull < 0) {
        prpc__set_err(err, "stdio: cannot take over stdin/stdout: %s", strerror(errno));
        prpc_status st = prpc__errno_status(errno);
        if (in >= 0)
            close(in);
        if (outfd >= 0)
            close(outfd);
        if (devnull >= 0)
            close(devnull);
        atomic_store(&stdio_taken, false);
        return st;
    }
    /* From here on the protocol owns the original descriptors; a printf in
     * application code lands on stderr instead of corrupting the stream. */
    dup2(devnull, 0);
    dup2(2, 1);
    close(devnull);
    struct stat si, so;
    bool sockets = fstat(in, &si) == 0 && fstat(outfd, &so) == 0 && S_ISSOCK(si.st_mode) &&
                   S_ISSOCK(so.st_mode);
    if (!sockets) {
        set_nonblock(in);
        set_nonblock(outfd);
    }
    prpc__pconn *c = NULL;
    prpc_status st = prpc__pconn_new(pool, in, outfd, sockets, PRPC__CHAN_BYTE, &c);
    if (st != PRPC_OK) {
        close(in);
        close(outfd);
        return st;
    }
    c->is_stdio = true;
    c->peer.has_cred = false;
    c->peer.pid = (int64_t)getppid();
    *out = c;
    return PRPC_OK;
}
