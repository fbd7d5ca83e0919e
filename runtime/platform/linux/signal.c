/* Shutdown events on Linux (prpc_shutdown_watch/wait/request): SIGINT and
 * SIGTERM caught by a handler, the end of stdin, and explicit requests.
 *
 * The handler does only async-signal-safe work: it sets a bit in an atomic
 * word and writes one byte into a self-pipe. The byte is never read back:
 * the events are a latch (once shut down, always shut down), so the pipe
 * stays readable and every waiter, now or later, wakes. The end of stdin is
 * found by the waiters themselves, which poll fd 0 beside the self-pipe, so
 * no extra thread reads it.
 *
 * This file is plain POSIX, with one catch for a macOS port: poll() does not
 * work on terminals there, so a terminal's stdin would have to be watched
 * with select() instead. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "piperpc/server.h"
#include "platform/platform.h"

static pthread_mutex_t setup_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint pending; /* PRPC_SHUTDOWN_* bits that happened */
static atomic_uint watched; /* PRPC_SHUTDOWN_* bits being caught */
static atomic_int wake_wr = -1; /* the self-pipe's write end, once made */
static int wake_rd = -1;        /* its read end (under setup_mu until set) */

/* Records events and wakes every waiter; async-signal-safe. */
static void note(unsigned events)
{
    atomic_fetch_or(&pending, events);
    int fd = atomic_load(&wake_wr);
    if (fd >= 0) {
        ssize_t r = write(fd, "!", 1); /* a full pipe is already readable */
        (void)r;
    }
}

static void on_signal(int sig)
{
    int saved = errno;
    if (atomic_fetch_or(&pending, PRPC_SHUTDOWN_SIGNAL) & PRPC_SHUTDOWN_SIGNAL) {
        /* The second signal: the program did not stop in time (or waits for
         * nothing), so it ends as if no handler had been installed. The
         * signal is blocked while its handler runs: raised here, it is
         * delivered with the default action once the handler returns. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(sig, &dfl, NULL);
        raise(sig);
    }
    note(PRPC_SHUTDOWN_SIGNAL);
    errno = saved;
}

/* Makes the self-pipe once; called with setup_mu held. */
static prpc_status make_pipe(void)
{
    if (wake_rd >= 0)
        return PRPC_OK;
    int fds[2];
    if (pipe(fds) != 0)
        return errno == EMFILE || errno == ENFILE ? PRPC_ERR_NO_MEMORY : PRPC_ERR_IO;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    }
    wake_rd = fds[0];
    atomic_store(&wake_wr, fds[1]);
    /* A request made before the pipe existed is seen by the waiters' check
     * of `pending`, which comes after this store. */
    return PRPC_OK;
}

prpc_status prpc__shutdown_watch(unsigned events)
{
    pthread_mutex_lock(&setup_mu);
    prpc_status st = make_pipe();
    if (st == PRPC_OK && (events & PRPC_SHUTDOWN_SIGNAL) &&
        !(atomic_load(&watched) & PRPC_SHUTDOWN_SIGNAL)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART; /* other threads' system calls go on */
        if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
            st = PRPC_ERR_IO;
    }
    if (st == PRPC_OK)
        atomic_fetch_or(&watched, events);
    pthread_mutex_unlock(&setup_mu);
    return st;
}

void prpc__shutdown_request(void)
{
    note(PRPC_SHUTDOWN_REQUEST);
}

/* Reads and discards what stdin holds; records its end. Every waiter's
 * poll reports the same readiness, but only the first reader finds the
 * bytes: a second read would block on the empty pipe (stdin stays in
 * blocking mode, since its flags are shared with other processes) and
 * miss every later event. So one waiter reads at a time, and only after
 * looking again, without waiting, that something is still there. */
static void drain_stdin(void)
{
    static pthread_mutex_t stdin_mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&stdin_mu);
    struct pollfd p = {STDIN_FILENO, POLLIN, 0};
    if (poll(&p, 1, 0) == 1) {
        char buf[4096];
        ssize_t n = (p.revents & POLLNVAL) ? 0 : read(STDIN_FILENO, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
            note(PRPC_SHUTDOWN_STDIN);
    }
    pthread_mutex_unlock(&stdin_mu);
}

unsigned prpc__shutdown_wait(uint64_t deadline_ms)
{
    pthread_mutex_lock(&setup_mu);
    prpc_status st = make_pipe();
    pthread_mutex_unlock(&setup_mu);
    for (;;) {
        unsigned got = atomic_load(&pending);
        if (got != 0)
            return got;
        uint64_t now = prpc__now_ms();
        if (now >= deadline_ms)
            return 0;
        if (st != PRPC_OK) {
            /* No pipe to wait on (out of descriptors): look again soon. */
            prpc__sleep_ms(deadline_ms - now < 50 ? (uint32_t)(deadline_ms - now) : 50);
            continue;
        }
        uint64_t left = deadline_ms - now;
        int ms = left > 60000 ? 60000 : (int)left;
        struct pollfd p[2] = {{wake_rd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
        nfds_t n = (atomic_load(&watched) & PRPC_SHUTDOWN_STDIN) ? 2 : 1;
        if (poll(p, n, ms) <= 0)
            continue; /* the timeout, or EINTR: the loop looks again */
        if (n == 2 && (p[1].revents & POLLNVAL))
            note(PRPC_SHUTDOWN_STDIN); /* fd 0 is not even open */
        else if (n == 2 && p[1].revents != 0)
            drain_stdin();
    }
}
