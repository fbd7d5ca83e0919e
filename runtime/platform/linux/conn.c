/* Connections on Linux: one socket (or a pair of pipes for stdio) driven by
 * the I/O pool. Owns the receive request, the send queue and teardown.
 *
 * Hot path of one small call on a server connection: the pool thread wakes
 * from epoll_wait, receives one datagram, runs the callback (which usually
 * sends the reply inline from the same thread and asks for the next
 * receive), and then, while another pool thread is free to watch epoll,
 * parks on the socket: it waits in a blocking recvmsg for the next message
 * for a short while, so that a client calling again is served by the same
 * thread with two system calls per call (recvmsg, sendto), as a plain
 * blocking server would. Otherwise it re-arms the descriptor once: four
 * system calls. Pieces of a long message are read back to back.
 *
 * Sockets stay in blocking mode and every asynchronous operation passes
 * MSG_DONTWAIT, so that recv_sync can wait in one blocking recvmsg with
 * SO_RCVTIMEO instead of poll plus recv. Pipes (stdio) are non-blocking and
 * use poll for the synchronous calls.
 *
 * Linux-specific here: the epoll event bits armed and read (EPOLLRDHUP among
 * them). A kqueue port would arm EVFILT_READ/EVFILT_WRITE and read EV_EOF;
 * on macOS it would also set SO_NOSIGPIPE on each socket, since there is no
 * MSG_NOSIGNAL, and swallow a pipe's SIGPIPE without sigtimedwait, which
 * macOS lacks. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "piperpc/alloc.h"
#include "platform/linux/linux_io.h"

#define IO_AGAIN 1 /* internal: the operation would block */
#define ARM_BUSY 1
#define ARM_DIRTY 2
/* The most receives one readiness event serves back to back, and how long
 * a thread parks on a connection for its next message (see
 * prpc__pconn_on_event). */
#define RECV_ROUNDS 256
#define PARK_MS 2

/* The default cap on bytes queued for sending on one connection. */
#define DEFAULT_SEND_LIMIT ((size_t)128 * 1024 * 1024)

prpc_status prpc__pconn_new(prpc__iopool *pool, int rfd, int wfd, bool is_socket,
                            prpc__chan_mode mode, prpc__pconn **out)
{
    prpc__pconn *c = prpc_alloc(sizeof *c);
    if (c == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(c, 0, sizeof *c);
    atomic_init(&c->obj.busy, 0);
    atomic_init(&c->arm_state, 0);
    c->obj.kind = POBJ_CONN;
    c->rfd = rfd;
    c->wfd = wfd;
    c->is_socket = is_socket;
    c->mode = mode;
    c->send_limit = DEFAULT_SEND_LIMIT;
    c->rcvtimeo_ms = -1;
    c->child = -1;
    c->peer.pid = -1;
    prpc__mutex_init(&c->lock);
    prpc__cond_init(&c->idle);
    if (pool != NULL) {
        prpc_status st = prpc__pconn_attach(c, pool);
        if (st != PRPC_OK) {
            prpc__cond_destroy(&c->idle);
            prpc__mutex_destroy(&c->lock);
            prpc_free(c);
            return st;
        }
    }
    *out = c;
    return PRPC_OK;
}

prpc_status prpc__pconn_attach(prpc__pconn *c, prpc__iopool *pool)
{
    if (c == NULL || pool == NULL || c->pool != NULL)
        return PRPC_ERR_INVALID_ARG;
    /* Under the lock: epoll may report a hang-up to another thread the
     * moment the descriptor is registered, and that thread reads c->pool. */
    prpc__mutex_lock(&c->lock);
    c->pool = pool;
    prpc_status st = prpc__pool_register(pool, &c->obj, c->rfd, c->wfd);
    if (st != PRPC_OK)
        c->pool = NULL;
    prpc__mutex_unlock(&c->lock);
    return st;
}

/* ------------------------------------------------------------- raw I/O */

/* One receive attempt. Returns PRPC_OK with *n > 0, IO_AGAIN, or an error. */
static int raw_recv(prpc__pconn *c, void *buf, size_t len, int flags, size_t *n)
{
    for (;;) {
        ssize_t r;
        int msg_flags = 0;
        if (c->is_socket && c->mode == PRPC__CHAN_MESSAGE) {
            struct iovec iov = {.iov_base = buf, .iov_len = len};
            struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
            r = recvmsg(c->rfd, &mh, flags);
            msg_flags = mh.msg_flags;
        } else if (c->is_socket) {
            r = recv(c->rfd, buf, len, flags);
        } else {
            r = read(c->rfd, buf, len);
        }
        if (r > 0) {
            if (msg_flags & MSG_TRUNC)
                return PRPC_ERR_PROTOCOL; /* a datagram larger than any we send */
            *n = (size_t)r;
            return PRPC_OK;
        }
        if (r == 0)
            return PRPC_ERR_CLOSED;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return IO_AGAIN;
        return prpc__errno_status(errno);
    }
}

/* Writing to a pipe whose reader is gone raises SIGPIPE, which MSG_NOSIGNAL
 * cannot prevent for pipes: block it in this thread for the write and
 * consume a signal the write raised, so the process never sees it. */
static ssize_t pipe_write(int fd, const void *p, size_t len)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    ssize_t r = write(fd, p, len);
    int e = errno;
    if (r < 0 && e == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return r;
}

/* One write attempt of at most one datagram. Returns bytes written (> 0),
 * or -IO_AGAIN / a negative status. */
static ssize_t raw_send(prpc__pconn *c, const uint8_t *p, size_t len)
{
    if (c->is_socket && c->mode == PRPC__CHAN_MESSAGE && len > PRPC__CHUNK_SIZE)
        len = PRPC__CHUNK_SIZE;
    for (;;) {
        ssize_t r = c->is_socket ? send(c->wfd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL)
                                 : pipe_write(c->wfd, p, len);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -IO_AGAIN;
        return (ssize_t)prpc__errno_status(errno);
    }
}

/* Writes as much of p[0..len) as the OS takes now. Returns PRPC_OK and the
 * count in *done, or an error. */
static prpc_status write_some(prpc__pconn *c, const uint8_t *p, size_t len, size_t *done)
{
    size_t off = 0;
    while (off < len) {
        ssize_t r = raw_send(c, p + off, len - off);
        if (r == -IO_AGAIN)
            break;
        if (r < 0) {
            *done = off;
            return (prpc_status)r;
        }
        off += (size_t)r;
    }
    *done = off;
    return PRPC_OK;
}

/* ------------------------------------------------------------- arming */

/* Arms epoll for what the connection waits for now; c->lock held. The
 * receive side is never armed while its callback runs, which is what keeps
 * receive callbacks serial. */
static void rearm_locked(prpc__pconn *c)
{
    if (c->pool == NULL || c->closed)
        return;
    if (atomic_fetch_or(&c->arm_state, ARM_DIRTY) & ARM_BUSY)
        return; /* a pool thread is arming outside the lock: it redoes this */
    atomic_fetch_and(&c->arm_state, ~ARM_DIRTY);
    uint32_t want_r = (c->recv_pending && !c->in_recv_cb) ? (uint32_t)EPOLLIN : 0u;
    uint32_t want_w = c->qhead != NULL ? (uint32_t)EPOLLOUT : 0u;
    if (c->rfd == c->wfd) {
        uint32_t want = want_r | want_w;
        uint32_t armed = c->armed_r | c->armed_w;
        if (want != 0 && (want & ~armed) != 0) {
            prpc__pool_arm(c->pool, &c->obj, c->rfd, want, false);
            c->armed_r = want_r;
            c->armed_w = want_w;
        }
    } else {
        if (want_r && !c->armed_r) {
            prpc__pool_arm(c->pool, &c->obj, c->rfd, want_r, false);
            c->armed_r = want_r;
        }
        if (want_w && !c->armed_w) {
            prpc__pool_arm(c->pool, &c->obj, c->wfd, want_w, true);
            c->armed_w = want_w;
        }
    }
}

static void conn_finish(prpc__pconn *c);

/* The last busy count went away while someone watched; c->lock held on
 * entry, released on return. Wakes stop, or finishes a deferred destroy. */
static void drained_unlock(prpc__pconn *c)
{
    c->drained = true;
    prpc__cond_broadcast(&c->idle);
    if (c->obj.free_pending && !c->finished) {
        c->finished = true;
        prpc__mutex_unlock(&c->lock);
        conn_finish(c);
        return;
    }
    prpc__mutex_unlock(&c->lock);
}

/* Drops one busy count; c->lock held on entry, released on return. */
static void unbusy_unlock(prpc__pconn *c)
{
    int old = atomic_fetch_sub(&c->obj.busy, 1);
    if ((old & BUSY_COUNT) == 1 && (old & BUSY_WATCH)) {
        drained_unlock(c);
        return;
    }
    prpc__mutex_unlock(&c->lock);
}

/* The same without the lock held: the lock is taken only if someone
 * watches, which keeps the per-event path free of a second lock. Nothing
 * of c is touched after an unwatched last decrement. */
static void unbusy(prpc__pconn *c)
{
    int old = atomic_fetch_sub(&c->obj.busy, 1);
    if ((old & BUSY_COUNT) == 1 && (old & BUSY_WATCH)) {
        /* The watcher waits for `drained` under the lock, so c lives. */
        prpc__mutex_lock(&c->lock);
        drained_unlock(c);
    }
}

/* Sets BUSY_WATCH; c->lock held. True when nothing is busy any more. */
static bool watch_locked(prpc__pconn *c)
{
    int old = atomic_fetch_or(&c->obj.busy, BUSY_WATCH);
    if ((old & BUSY_COUNT) == 0)
        c->drained = true;
    return c->drained;
}

/* The largest queue node kept for reuse: big messages that do not fit the
 * socket at once are common in a stream of big messages, and a fresh
 * allocation of megabytes per message costs a page fault per 4 KiB. A node
 * above SPARE_KEEP is let go as soon as a message of at most SPARE_SMALL
 * goes out without queueing, so only a connection that keeps sending large
 * messages keeps a large node. */
#define SPARE_MAX ((size_t)64 * 1024 * 1024)
#define SPARE_KEEP ((size_t)4 * 1024 * 1024)
#define SPARE_SMALL ((size_t)256 * 1024)

/* A queue node for n bytes, reusing the spare when it is big enough; c->lock held. */
static struct sendq *node_get(prpc__pconn *c, size_t n)
{
    struct sendq *q = c->spare;
    if (q != NULL && q->cap >= n) {
        c->spare = NULL;
        return q;
    }
    q = prpc_alloc(sizeof *q + n);
    if (q != NULL)
        q->cap = n;
    return q;
}

/* Keeps the node as the spare if it is worth keeping, else frees it. */
static void node_put(prpc__pconn *c, struct sendq *q)
{
    if (q->cap <= SPARE_MAX && (c->spare == NULL || c->spare->cap < q->cap)) {
        prpc_free(c->spare);
        c->spare = q;
    } else {
        prpc_free(q);
    }
}

/* Writes queued messages; c->lock held. */
static void flush_locked(prpc__pconn *c)
{
    while (c->qhead != NULL && !c->closed) {
        struct sendq *q = c->qhead;
        size_t done;
        prpc_status st = write_some(c, q->data + q->off, q->len - q->off, &done);
        q->off += done;
        c->queued -= done;
        if (st != PRPC_OK) {
            /* The peer is gone; the receive side reports it. */
            while (c->qhead) {
                struct sendq *n = c->qhead->next;
                prpc_free(c->qhead);
                c->qhead = n;
            }
            c->qtail = NULL;
            c->queued = 0;
            return;
        }
        if (q->off < q->len)
            return;
        c->qhead = q->next;
        if (c->qhead == NULL)
            c->qtail = NULL;
        node_put(c, q);
    }
}

/* Sets SO_RCVTIMEO to PARK_MS for a park; usually already set, from the
 * previous park. */
static bool set_park_timeout(prpc__pconn *c)
{
    if (c->rcvtimeo_ms == PARK_MS)
        return true;
    struct timeval tv = {.tv_sec = 0, .tv_usec = PARK_MS * 1000};
    if (setsockopt(c->rfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        return false;
    c->rcvtimeo_ms = PARK_MS;
    return true;
}

void prpc__pconn_on_event(prpc__pconn *c, uint32_t events, bool wside)
{
    /* lookup() counted us busy. */
    prpc__mutex_lock(&c->lock);
    bool read_side = (c->rfd == c->wfd) || !wside;
    bool write_side = (c->rfd == c->wfd) || wside;
    /* The one-shot registration that fired is disarmed now. */
    if (c->rfd == c->wfd) {
        c->armed_r = c->armed_w = 0;
    } else if (wside) {
        c->armed_w = 0;
    } else {
        c->armed_r = 0;
    }
    if (write_side && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && c->qhead != NULL)
        flush_locked(c);
    /* After a receive, the next one is often served right here instead of
     * going back to epoll (an epoll_ctl to re-arm, an epoll_wait, and a
     * wake-up of whichever pool thread epoll picks):
     * - A receive that filled a whole datagram of the largest size
     *   (message mode) or the whole buffer (byte mode) is most likely part
     *   of a long message whose next piece is already waiting: it is read
     *   at once, without waiting (a burst).
     * - After a complete small message, the thread parks on the socket: it
     *   waits for the connection's next message in a blocking recvmsg for
     *   at most PARK_MS, like a plain blocking server, so that a client
     *   calling again soon is answered by the same warm thread with two
     *   system calls per call instead of four. Only while another pool
     *   thread stays in epoll_wait for everything else (prpc__pool_park);
     *   a close wakes the parked thread through shutdown().
     * Bounded, so one connection cannot keep a thread for ever. */
    bool ready = (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0;
    bool park = false; /* the next receive may wait for its message */
    for (int round = 0; read_side && ready && round < RECV_ROUNDS; round++) {
        if (!c->recv_pending || c->in_recv_cb || c->closed)
            break;
        c->recv_pending = false;
        c->in_recv_cb = true;
        void *buf = c->rbuf;
        size_t len = c->rlen;
        prpc__pconn_recv_fn cb = c->rcb;
        void *user = c->ruser;
        prpc__mutex_unlock(&c->lock);
        size_t n = 0;
        int r = IO_AGAIN;
        if (!park) {
            r = raw_recv(c, buf, len, MSG_DONTWAIT, &n);
        } else if (prpc__pool_park(c->pool)) {
            r = raw_recv(c, buf, len, 0, &n);
            prpc__pool_unpark(c->pool);
        }
        if (r == IO_AGAIN) {
            /* Spurious readiness, the next piece is not there yet, or the
             * park timed out or was refused: keep the request and wait in
             * epoll again. */
            prpc__mutex_lock(&c->lock);
            c->in_recv_cb = false;
            if (!c->closed) {
                c->recv_pending = true;
            } else {
                /* close() saw in_recv_cb and left completion to us. */
                prpc__mutex_unlock(&c->lock);
                cb(user, PRPC_ERR_CLOSED, 0);
                prpc__mutex_lock(&c->lock);
            }
            break;
        }
        cb(user, (prpc_status)r, r == PRPC_OK ? n : 0);
        prpc__mutex_lock(&c->lock);
        c->in_recv_cb = false;
        if (r != PRPC_OK)
            break;
        if (c->mode == PRPC__CHAN_MESSAGE && c->is_socket)
            ready = n == PRPC__CHUNK_SIZE;
        else
            ready = n == len;
        park = !ready && c->is_socket && set_park_timeout(c);
        ready = ready || park;
    }
    /* Re-arm outside the lock: when the next message is already waiting,
     * epoll_ctl wakes another pool thread at once, and that thread must not
     * find the lock still held (a futex sleep and wake per call). */
    uint32_t mask = 0;
    uint32_t slot = c->obj.slot, gen = c->obj.gen;
    int fd = c->rfd;
    if (c->pool != NULL && !c->closed && c->rfd == c->wfd &&
        atomic_load(&c->arm_state) == 0) {
        uint32_t want_r = (c->recv_pending && !c->in_recv_cb) ? (uint32_t)EPOLLIN : 0u;
        uint32_t want_w = c->qhead != NULL ? (uint32_t)EPOLLOUT : 0u;
        uint32_t want = want_r | want_w;
        if (want != 0 && (want & ~(c->armed_r | c->armed_w)) != 0) {
            mask = want;
            c->armed_r = want_r;
            c->armed_w = want_w;
            atomic_store(&c->arm_state, ARM_BUSY);
        }
    } else {
        rearm_locked(c);
    }
    prpc__iopool *pool = c->pool;
    prpc__mutex_unlock(&c->lock);
    if (mask != 0) {
        /* busy is still held, so the descriptor cannot be closed yet; if
         * close unregistered it meanwhile, MOD fails harmlessly. */
        prpc__pool_arm_key(pool, slot, gen, fd, mask);
        int expect = ARM_BUSY;
        if (!atomic_compare_exchange_strong(&c->arm_state, &expect, 0)) {
            prpc__mutex_lock(&c->lock);
            atomic_store(&c->arm_state, 0);
            rearm_locked(c);
            prpc__mutex_unlock(&c->lock);
        }
    }
    unbusy(c);
}

/* ------------------------------------------------------------ requests */

prpc_status prpc__pconn_recv(prpc__pconn *c, void *buf, size_t len, prpc__pconn_recv_fn cb,
                             void *user)
{
    if (c == NULL || buf == NULL || len == 0 || cb == NULL)
        return PRPC_ERR_INVALID_ARG;
    if (c->pool == NULL)
        return PRPC_ERR_INVALID_ARG;
    prpc__mutex_lock(&c->lock);
    prpc_status st = PRPC_OK;
    if (c->closed)
        st = PRPC_ERR_CLOSED;
    else if (c->recv_pending)
        st = PRPC_ERR_BUSY;
    else {
        c->recv_pending = true;
        c->rbuf = buf;
        c->rlen = len;
        c->rcb = cb;
        c->ruser = user;
        /* Inside the receive callback the pool re-arms after it returns. */
        rearm_locked(c);
    }
    prpc__mutex_unlock(&c->lock);
    return st;
}

static prpc_status wait_fd(int fd, short ev, uint64_t deadline_ms)
{
    for (;;) {
        int timeout = -1;
        if (deadline_ms != UINT64_MAX) {
            uint64_t now = prpc__now_ms();
            if (now >= deadline_ms)
                return PRPC_ERR_TIMEOUT;
            uint64_t left = deadline_ms - now;
            timeout = left > INT32_MAX ? INT32_MAX : (int)left;
        }
        struct pollfd p = {.fd = fd, .events = ev};
        int r = poll(&p, 1, timeout);
        if (r > 0)
            return PRPC_OK;
        if (r < 0 && errno != EINTR)
            return prpc__errno_status(errno);
    }
}

/* Sets SO_RCVTIMEO to about what is left before the deadline; skipped when
 * the cached value is already close, so that calls with the same timeout
 * cost no extra system call. Returns false if it cannot be set. */
static bool set_rcvtimeo(prpc__pconn *c, uint64_t deadline_ms)
{
    long want = 0;
    if (deadline_ms != UINT64_MAX) {
        uint64_t now = prpc__now_ms();
        uint64_t left = deadline_ms > now ? deadline_ms - now : 1;
        want = left > 86400000u ? 86400000L : (long)left;
        if (want == 0)
            want = 1;
    }
    if (c->rcvtimeo_ms >= 0) {
        if (want == 0 && c->rcvtimeo_ms == 0)
            return true;
        /* The socket may wait up to 2 ms past the deadline or wake early
         * and loop; both are fine for a call deadline. */
        if (want != 0 && c->rcvtimeo_ms != 0 && c->rcvtimeo_ms >= want - 2 && c->rcvtimeo_ms <= want + 2)
            return true;
    }
    struct timeval tv = {.tv_sec = want / 1000, .tv_usec = (want % 1000) * 1000};
    if (setsockopt(c->rfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        return false;
    c->rcvtimeo_ms = want;
    return true;
}

prpc_status prpc__pconn_recv_sync(prpc__pconn *c, void *buf, size_t len, uint64_t deadline_ms,
                                  size_t *n)
{
    if (c == NULL || buf == NULL || len == 0 || n == NULL)
        return PRPC_ERR_INVALID_ARG;
    *n = 0;
    prpc__mutex_lock(&c->lock);
    prpc_status st = c->closed ? PRPC_ERR_CLOSED : c->recv_pending ? PRPC_ERR_BUSY : PRPC_OK;
    prpc__mutex_unlock(&c->lock);
    if (st != PRPC_OK)
        return st;
    if (deadline_ms == 0) {
        /* Only what has already arrived (an application's own loop). */
        int r = raw_recv(c, buf, len, c->is_socket ? MSG_DONTWAIT : 0, n);
        return r == IO_AGAIN ? PRPC_ERR_TIMEOUT : (prpc_status)r;
    }
    for (;;) {
        int r;
        if (c->is_socket && set_rcvtimeo(c, deadline_ms)) {
            r = raw_recv(c, buf, len, 0, n);
        } else {
            st = wait_fd(c->rfd, POLLIN, deadline_ms);
            if (st != PRPC_OK)
                return st;
            r = raw_recv(c, buf, len, c->is_socket ? MSG_DONTWAIT : 0, n);
        }
        if (r != IO_AGAIN)
            return (prpc_status)r;
        if (deadline_ms != UINT64_MAX && prpc__now_ms() >= deadline_ms)
            return PRPC_ERR_TIMEOUT;
        prpc__mutex_lock(&c->lock);
        bool closed = c->closed;
        prpc__mutex_unlock(&c->lock);
        if (closed)
            return PRPC_ERR_CLOSED;
    }
}

static prpc_status send_blocking(prpc__pconn *c, const uint8_t *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        size_t done;
        prpc_status st = write_some(c, p + off, len - off, &done);
        if (st != PRPC_OK)
            return st;
        off += done;
        if (off < len) {
            st = wait_fd(c->wfd, POLLOUT, UINT64_MAX);
            if (st != PRPC_OK)
                return st;
        }
    }
    return PRPC_OK;
}

prpc_status prpc__pconn_send(prpc__pconn *c, const void *data, size_t len)
{
    if (c == NULL || (data == NULL && len > 0))
        return PRPC_ERR_INVALID_ARG;
    if (len == 0)
        return PRPC_OK; /* an empty message would read as end of stream */
    const uint8_t *p = data;
    prpc__mutex_lock(&c->lock);
    if (c->closed) {
        prpc__mutex_unlock(&c->lock);
        return PRPC_ERR_CLOSED;
    }
    if (c->pool == NULL) {
        /* Sync-only: the lock serialises senders so messages never mix. */
        prpc_status st = send_blocking(c, p, len);
        prpc__mutex_unlock(&c->lock);
        return st;
    }
    size_t done = 0;
    prpc_status st = PRPC_OK;
    if (c->qhead == NULL) {
        st = write_some(c, p, len, &done);
        if (done == len && len <= SPARE_SMALL && c->spare != NULL && c->spare->cap > SPARE_KEEP) {
            prpc_free(c->spare);
            c->spare = NULL;
        }
    } else if (c->queued + len > c->send_limit) {
        prpc__mutex_unlock(&c->lock);
        return PRPC_ERR_BUSY;
    }
    if (st == PRPC_OK && done < len) {
        struct sendq *q = node_get(c, len - done);
        if (q == NULL) {
            /* Part of the message may be out already, so the stream cannot
             * continue: treat it as a failed connection. */
            st = PRPC_ERR_NO_MEMORY;
        } else {
            q->next = NULL;
            q->len = len - done;
            q->off = 0;
            memcpy(q->data, p + done, len - done);
            if (c->qtail)
                c->qtail->next = q;
            else
                c->qhead = q;
            c->qtail = q;
            c->queued += q->len;
            rearm_locked(c);
        }
    }
    if (st != PRPC_OK && done > 0 && c->is_socket) {
        /* A half-written message would corrupt the stream; end it. */
        shutdown(c->rfd, SHUT_RDWR);
    }
    prpc__mutex_unlock(&c->lock);
    return st;
}

void prpc__pconn_set_send_limit(prpc__pconn *c, size_t bytes)
{
    prpc__mutex_lock(&c->lock);
    c->send_limit = bytes;
    prpc__mutex_unlock(&c->lock);
}

size_t prpc__pconn_send_queued(prpc__pconn *c)
{
    prpc__mutex_lock(&c->lock);
    size_t n = c->queued;
    prpc__mutex_unlock(&c->lock);
    return n;
}

prpc__chan_mode prpc__pconn_mode(const prpc__pconn *c)
{
    return c->mode;
}

void prpc__pconn_peer(const prpc__pconn *c, prpc__peer *out)
{
    *out = c->peer;
}

intptr_t prpc__pconn_pollable(const prpc__pconn *c)
{
    return c->rfd;
}

/* ------------------------------------------------------------ teardown */

static void close_task_fn(void *arg)
{
    prpc__pconn *c = arg;
    prpc__pconn_recv_fn cb = c->rcb;
    void *user = c->ruser;
    prpc__mutex_lock(&c->lock);
    c->in_recv_cb = true;
    prpc__mutex_unlock(&c->lock);
    cb(user, PRPC_ERR_CLOSED, 0);
    prpc__mutex_lock(&c->lock);
    c->in_recv_cb = false;
    unbusy_unlock(c);
}

void prpc__pconn_close(prpc__pconn *c)
{
    if (c == NULL)
        return;
    prpc__mutex_lock(&c->lock);
    if (c->closed) {
        prpc__mutex_unlock(&c->lock);
        return;
    }
    c->closed = true;
    while (c->qhead) {
        struct sendq *n = c->qhead->next;
        prpc_free(c->qhead);
        c->qhead = n;
    }
    c->qtail = NULL;
    c->queued = 0;
    prpc_free(c->spare);
    c->spare = NULL;
    /* Wake a thread blocked in recv_sync and tell the peer at once. */
    if (c->is_socket)
        shutdown(c->rfd, SHUT_RDWR);
    if (c->pool != NULL)
        prpc__pool_unregister(c->pool, &c->obj, c->rfd, c->wfd);
    if (c->recv_pending) {
        c->recv_pending = false;
        atomic_fetch_add(&c->obj.busy, 1);
        prpc__task_post(c->pool, &c->close_task, close_task_fn, c);
    }
    prpc__mutex_unlock(&c->lock);
}

static void reap_child(prpc__pconn *c)
{
    if (c->child <= 0)
        return;
    /* The child sees end of input when we close; give it a moment to exit
     * on its own before killing it. */
    for (int i = 0; i < 200; i++) {
        pid_t r = waitpid(c->child, NULL, WNOHANG);
        if (r == c->child || (r < 0 && errno != EINTR)) {
            c->child = -1;
            return;
        }
        prpc__sleep_ms(5);
    }
    kill(c->child, SIGKILL);
    while (waitpid(c->child, NULL, 0) < 0 && errno == EINTR) {
    }
    c->child = -1;
}

void prpc__pconn_stop(prpc__pconn *c)
{
    if (c == NULL)
        return;
    prpc__pconn_close(c);
    prpc__mutex_lock(&c->lock);
    watch_locked(c);
    while (!c->drained)
        prpc__cond_wait(&c->idle, &c->lock);
    c->stopped = true;
    prpc__mutex_unlock(&c->lock);
    if (c->rfd >= 0)
        close(c->rfd);
    if (c->wfd >= 0 && c->wfd != c->rfd)
        close(c->wfd);
    c->rfd = c->wfd = -1;
    reap_child(c);
}

void prpc__pconn_free(prpc__pconn *c)
{
    if (c == NULL)
        return;
    prpc__cond_destroy(&c->idle);
    prpc__mutex_destroy(&c->lock);
    prpc_free(c);
}

static void conn_finish(prpc__pconn *c)
{
    prpc__pconn_stop(c);
    prpc__pconn_free(c);
}

void prpc__pconn_destroy(prpc__pconn *c)
{
    if (c == NULL)
        return;
    prpc__pconn_close(c);
    prpc__mutex_lock(&c->lock);
    if (prpc__iopool_on_thread(c->pool)) {
        /* Possibly from our own callback, which cannot wait for itself:
         * whoever sees busy reach zero under the lock finishes. */
        c->obj.free_pending = true;
        if (!watch_locked(c) || c->finished) {
            prpc__mutex_unlock(&c->lock);
            return;
        }
        c->finished = true;
    }
    prpc__mutex_unlock(&c->lock);
    conn_finish(c);
}
