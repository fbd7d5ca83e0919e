/* Connections on Windows: overlapped reads and writes on named pipes and
 * sockets completed through the pool's completion port, a blocking-thread
 * fallback for handles without overlapped I/O (this process's stdin and
 * stdout), and the close / stop / free teardown. */
#include <string.h>

#include "piperpc/alloc.h"
#include "platform/win32/win32_io.h"

#define DEFAULT_SEND_LIMIT ((size_t)64 * 1024 * 1024)

static void on_read(struct wio *io, DWORD err, DWORD n);
static void on_write(struct wio *io, DWORD err, DWORD n);
static void sync_reader_main(void *arg);
static void sync_writer_main(void *arg);

prpc_status prpc__pconn_new(prpc__iopool *pool, enum wkind kind, HANDLE h, HANDLE wh,
                            prpc__chan_mode mode, prpc__pconn **out)
{
    *out = NULL;
    prpc__pconn *c = prpc_alloc(sizeof *c);
    if (c == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(c, 0, sizeof *c);
    prpc__mutex_init(&c->lock);
    prpc__mutex_init(&c->send_lock);
    prpc__cond_init(&c->idle);
    prpc__cond_init(&c->sync_wake);
    c->kind = kind;
    c->h = h;
    c->wh = wh;
    c->mode = mode;
    c->peer.pid = -1;
    c->send_limit = DEFAULT_SEND_LIMIT;
    c->rio.done = on_read;
    c->rio.owner = c;
    c->wio.done = on_write;
    c->wio.owner = c;
    if (pool != NULL) {
        prpc_status st = prpc__pconn_attach(c, pool);
        if (st != PRPC_OK) {
            /* The caller still owns the handles on failure. */
            prpc__cond_destroy(&c->idle);
            prpc__cond_destroy(&c->sync_wake);
            prpc__mutex_destroy(&c->send_lock);
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
    if (c == NULL || pool == NULL)
        return PRPC_ERR_INVALID_ARG;
    prpc__mutex_lock(&c->lock);
    prpc_status st = PRPC_OK;
    if (c->pool != NULL)
        st = PRPC_ERR_BUSY;
    else if (c->closed)
        st = PRPC_ERR_CLOSED;
    else if (c->in_sync)
        st = PRPC_ERR_BUSY;
    if (st != PRPC_OK)
        goto out;
    if (c->kind == WK_SYNC) {
        c->pool = pool;
        st = prpc__thread_start(&c->sync_reader, sync_reader_main, c);
        if (st == PRPC_OK) {
            st = prpc__thread_start(&c->sync_writer, sync_writer_main, c);
            if (st != PRPC_OK) {
                c->closed = true;
                prpc__cond_broadcast(&c->sync_wake);
                prpc__mutex_unlock(&c->lock);
                prpc__thread_join(&c->sync_reader);
                prpc__mutex_lock(&c->lock);
                c->closed = false;
            }
        }
        if (st != PRPC_OK)
            c->pool = NULL;
        else
            c->sync_threads = true;
        goto out;
    }
    st = prpc__pool_associate(pool, c->h);
    if (st == PRPC_OK && c->wh != c->h)
        st = prpc__pool_associate(pool, c->wh);
    if (st == PRPC_OK) {
        c->pool = pool;
        c->associated = true;
    }
out:
    prpc__mutex_unlock(&c->lock);
    return st;
}

/* Drops one unit of busy; frees c when a destroy() from a callback is
 * waiting for the last one. Called with the lock held; releases it. */
static void unbusy_unlock(prpc__pconn *c)
{
    if (--c->busy == 0) {
        prpc__cond_broadcast(&c->idle);
        if (c->free_pending) {
            prpc__mutex_unlock(&c->lock);
            prpc__pconn_stop(c);
            prpc__pconn_free(c);
            return;
        }
    }
    prpc__mutex_unlock(&c->lock);
}

/* ------------------------------------------------------------- receive */

/* Issues the overlapped read of the pending receive; lock held, busy
 * already counted. A failure that queues no packet is posted by hand so
 * that every read ends in exactly one on_read. */
static void start_read_locked(prpc__pconn *c)
{
    prpc__pool_expect(c->pool);
    memset(&c->rio.ov, 0, sizeof c->rio.ov);
    DWORD len = c->rlen > MAXDWORD ? MAXDWORD : (DWORD)c->rlen;
    if (c->kind == WK_SYNC) {
        c->sync_read_req = true;
        prpc__cond_broadcast(&c->sync_wake);
        return;
    }
    DWORD err = 0;
    if (c->kind == WK_SOCK) {
        WSABUF b = {.len = len, .buf = c->rbuf};
        DWORD flags = 0;
        if (WSARecv((SOCKET)c->h, &b, 1, NULL, &flags, &c->rio.ov, NULL) == SOCKET_ERROR)
            err = (DWORD)WSAGetLastError();
        if (err == WSA_IO_PENDING)
            err = 0;
    } else if (!ReadFile(c->h, c->rbuf, len, NULL, &c->rio.ov)) {
        err = GetLastError();
        /* ERROR_MORE_DATA is a warning: the packet is queued as for success. */
        if (err == ERROR_IO_PENDING || err == ERROR_MORE_DATA)
            err = 0;
    }
    if (err != 0)
        prpc__pool_post_io(c->pool, &c->rio, err, 0);
}

/* Maps a finished read to the receive result. *again asks for the read to
 * be issued once more (an empty pipe message carries nothing). */
static prpc_status read_result(prpc__pconn *c, DWORD err, DWORD n, bool *again)
{
    *again = false;
    if (c->closed)
        return PRPC_ERR_CLOSED;
    if (err == ERROR_MORE_DATA) {
        /* A pipe message longer than the buffer: this part is delivered
         * now and the next read continues the same message, which is how a
         * message larger than one datagram continues elsewhere. */
        return n > 0 ? PRPC_OK : PRPC_ERR_PROTOCOL;
    }
    if (err != 0)
        return prpc__win_status(err) == PRPC_ERR_CLOSED ? PRPC_ERR_CLOSED : PRPC_ERR_IO;
    if (n == 0) {
        if (c->kind == WK_PIPE && c->mode == PRPC__CHAN_MESSAGE) {
            *again = true;
            return PRPC_OK;
        }
        return PRPC_ERR_CLOSED; /* end of stream */
    }
    return PRPC_OK;
}

static void on_read(struct wio *io, DWORD err, DWORD n)
{
    prpc__pconn *c = io->owner;
    prpc__mutex_lock(&c->lock);
    bool again;
    prpc_status st = read_result(c, err, n, &again);
    if (again) {
        start_read_locked(c);
        prpc__mutex_unlock(&c->lock);
        return;
    }
    c->recv_pending = false;
    prpc__pconn_recv_fn cb = c->rcb;
    void *user = c->ruser;
    prpc__mutex_unlock(&c->lock);
    cb(user, st, st == PRPC_OK ? (size_t)n : 0);
    prpc__mutex_lock(&c->lock);
    unbusy_unlock(c);
}

prpc_status prpc__pconn_recv(prpc__pconn *c, void *buf, size_t len, prpc__pconn_recv_fn cb,
                             void *user)
{
    if (c == NULL || buf == NULL || len == 0 || cb == NULL)
        return PRPC_ERR_INVALID_ARG;
    prpc__mutex_lock(&c->lock);
    prpc_status st = PRPC_OK;
    if (c->closed)
        st = PRPC_ERR_CLOSED;
    else if (c->recv_pending || c->in_sync)
        st = PRPC_ERR_BUSY;
    else if (c->pool == NULL)
        st = PRPC_ERR_INVALID_ARG;
    if (st == PRPC_OK) {
        c->recv_pending = true;
        c->rbuf = buf;
        c->rlen = len;
        c->rcb = cb;
        c->ruser = user;
        c->busy++;
        start_read_locked(c);
    }
    prpc__mutex_unlock(&c->lock);
    return st;
}

static DWORD wait_ms(uint64_t deadline_ms)
{
    if (deadline_ms == UINT64_MAX)
        return INFINITE;
    uint64_t now = prpc__now_ms();
    if (now >= deadline_ms)
        return 0;
    uint64_t left = deadline_ms - now;
    return left >= 0x7FFFFFFFu ? 0x7FFFFFFFu : (DWORD)left;
}

/* Waits for an overlapped socket write that the peer may never take (it
 * stopped reading and reset the connection). Every WRITE_PROBE_MS without
 * completion the socket is polled: an error there means the connection is
 * gone, and the write is cancelled instead of waited for. Real Winsock
 * completes such a write with the error by itself; Wine can leave it
 * pending after the reset until the socket is polled again. Returns true
 * when the connection is dead and the write still pending; false when the
 * write finished or the deadline came. */
#define WRITE_PROBE_MS 250u
static bool wait_socket_write(HANDLE ev, SOCKET s, uint64_t deadline_ms)
{
    for (;;) {
        DWORD left = wait_ms(deadline_ms);
        DWORD slice = left < WRITE_PROBE_MS ? left : WRITE_PROBE_MS;
        if (WaitForSingleObject(ev, slice) != WAIT_TIMEOUT || slice == left)
            return false;
        WSAPOLLFD pf = {.fd = s, .events = POLLWRNORM, .revents = 0};
        if (WSAPoll(&pf, 1, 0) == 1 && (pf.revents & POLLERR) != 0)
            return WaitForSingleObject(ev, 0) == WAIT_TIMEOUT;
    }
}

/* One overlapped operation waited for in the caller's thread. The event's
 * low bit keeps the completion away from the port even when the handle is
 * associated with one. Issued under the lock so that close() either comes
 * first (seen here) or cancels it. */
static prpc_status sync_overlapped(prpc__pconn *c, bool write, void *buf, DWORD len,
                                   uint64_t deadline_ms, DWORD *n, DWORD *err_out)
{
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (ev == NULL)
        return PRPC_ERR_NO_MEMORY;
    ov.hEvent = (HANDLE)((uintptr_t)ev | 1u);
    HANDLE h = write ? c->wh : c->h;
    DWORD err = 0;
    prpc__mutex_lock(&c->lock);
    if (c->closed) {
        prpc__mutex_unlock(&c->lock);
        CloseHandle(ev);
        return PRPC_ERR_CLOSED;
    }
    BOOL ok;
    if (c->kind == WK_SOCK) {
        WSABUF b = {.len = len, .buf = buf};
        DWORD flags = 0;
        int r = write ? WSASend((SOCKET)h, &b, 1, NULL, 0, &ov, NULL)
                      : WSARecv((SOCKET)h, &b, 1, NULL, &flags, &ov, NULL);
        ok = r == 0;
        if (!ok)
            err = (DWORD)WSAGetLastError();
        if (err == WSA_IO_PENDING)
            err = ERROR_IO_PENDING;
    } else {
        ok = write ? WriteFile(h, buf, len, NULL, &ov) : ReadFile(h, buf, len, NULL, &ov);
        if (!ok)
            err = GetLastError();
    }
    prpc__mutex_unlock(&c->lock);
    prpc_status st = PRPC_OK;
    if (ok || err == ERROR_IO_PENDING || err == ERROR_MORE_DATA) {
        bool dead = false;
        if (write && c->kind == WK_SOCK)
            dead = wait_socket_write(ev, (SOCKET)h, deadline_ms);
        if (dead) {
            CancelIoEx(h, &ov);
        } else if (WaitForSingleObject(ev, wait_ms(deadline_ms)) == WAIT_TIMEOUT) {
            CancelIoEx(h, &ov);
            st = PRPC_ERR_TIMEOUT;
        }
        /* Always collect the result: the operation may have finished just
         * as it was cancelled, and then its bytes count. */
        ok = GetOverlappedResult(h, &ov, n, TRUE);
        err = ok ? 0 : GetLastError();
        if (dead && ok && *n < len)
            err = WSAECONNRESET; /* cut short by the reset */
        if (st == PRPC_ERR_TIMEOUT && (ok || err == ERROR_MORE_DATA))
            st = PRPC_OK;
        if (st == PRPC_ERR_TIMEOUT)
            err = 0;
    } else {
        *n = 0;
    }
    CloseHandle(ev);
    *err_out = err;
    return st;
}

prpc_status prpc__pconn_recv_sync(prpc__pconn *c, void *buf, size_t len, uint64_t deadline_ms,
                                  size_t *n)
{
    if (c == NULL || buf == NULL || len == 0 || n == NULL)
        return PRPC_ERR_INVALID_ARG;
    *n = 0;
    prpc__mutex_lock(&c->lock);
    prpc_status st = PRPC_OK;
    if (c->closed)
        st = PRPC_ERR_CLOSED;
    else if (c->recv_pending || c->in_sync || c->sync_threads)
        st = PRPC_ERR_BUSY;
    else
        c->in_sync = true;
    prpc__mutex_unlock(&c->lock);
    if (st != PRPC_OK)
        return st;
    DWORD dlen = len > MAXDWORD ? MAXDWORD : (DWORD)len;
    for (;;) {
        DWORD got = 0, err = 0;
        if (c->kind == WK_SYNC) {
            /* No overlapped I/O on these handles: wait for data by peeking
             * when a deadline is set, then read (which cannot block then). */
            if (deadline_ms != UINT64_MAX) {
                DWORD avail = 0;
                while (PeekNamedPipe(c->h, NULL, 0, NULL, &avail, NULL) && avail == 0) {
                    if (prpc__now_ms() >= deadline_ms) {
                        st = PRPC_ERR_TIMEOUT;
                        break;
                    }
                    Sleep(1);
                }
                if (st == PRPC_ERR_TIMEOUT)
                    break;
            }
            if (!ReadFile(c->h, buf, dlen, &got, NULL))
                err = GetLastError();
        } else {
            st = sync_overlapped(c, false, buf, dlen, deadline_ms, &got, &err);
            if (st != PRPC_OK)
                break;
        }
        bool again;
        prpc__mutex_lock(&c->lock);
        st = read_result(c, err, got, &again);
        prpc__mutex_unlock(&c->lock);
        if (!again) {
            if (st == PRPC_OK)
                *n = got;
            break;
        }
    }
    prpc__mutex_lock(&c->lock);
    c->in_sync = false;
    prpc__cond_broadcast(&c->idle); /* stop() waits for recv_sync to leave */
    prpc__mutex_unlock(&c->lock);
    return st;
}

/* ---------------------------------------------------------------- send */

static void drop_queue_locked(prpc__pconn *c)
{
    while (c->qhead) {
        struct sendq *nx = c->qhead->next;
        prpc_free(c->qhead);
        c->qhead = nx;
    }
    c->qtail = NULL;
    c->queued = 0;
}

/* Issues the write of the queue's head; lock held, busy already counted. */
static void start_write_locked(prpc__pconn *c)
{
    struct sendq *q = c->qhead;
    prpc__pool_expect(c->pool);
    memset(&c->wio.ov, 0, sizeof c->wio.ov);
    c->write_pending = true;
    if (c->kind == WK_SYNC) {
        prpc__cond_broadcast(&c->sync_wake);
        return;
    }
    DWORD err = 0;
    if (c->kind == WK_SOCK) {
        WSABUF b = {.len = (DWORD)q->len, .buf = (char *)q->data};
        if (WSASend((SOCKET)c->wh, &b, 1, NULL, 0, &c->wio.ov, NULL) == SOCKET_ERROR)
            err = (DWORD)WSAGetLastError();
        if (err == WSA_IO_PENDING)
            err = 0;
    } else if (!WriteFile(c->wh, q->data, (DWORD)q->len, NULL, &c->wio.ov)) {
        err = GetLastError();
        if (err == ERROR_IO_PENDING)
            err = 0;
    }
    if (err != 0)
        prpc__pool_post_io(c->pool, &c->wio, err, 0);
}

static void on_write(struct wio *io, DWORD err, DWORD n)
{
    prpc__pconn *c = io->owner;
    prpc__mutex_lock(&c->lock);
    c->write_pending = false;
    c->write_seq++;
    if (c->kind == WK_SYNC)
        prpc__cond_broadcast(&c->sync_wake);
    struct sendq *q = c->qhead;
    if (err != 0 || c->closed || q == NULL || n != q->len) {
        /* A failed or short write leaves the stream unusable: the reader
         * sees the end through its own receive. */
        drop_queue_locked(c);
        if (!c->closed && c->kind == WK_SOCK)
            shutdown((SOCKET)c->h, SD_BOTH);
    } else {
        c->qhead = q->next;
        if (c->qhead == NULL)
            c->qtail = NULL;
        c->queued -= q->len;
        prpc_free(q);
        if (c->qhead != NULL) {
            c->busy++;
            start_write_locked(c);
        }
    }
    unbusy_unlock(c);
}

prpc_status prpc__pconn_send(prpc__pconn *c, const void *data, size_t len)
{
    if (c == NULL || (data == NULL && len > 0))
        return PRPC_ERR_INVALID_ARG;
    if (len == 0)
        return PRPC_OK; /* an empty message would read as end of stream */
    if (len > MAXDWORD)
        return PRPC_ERR_TOO_LARGE; /* one pipe message is at most 4 GiB - 1 */
    prpc__mutex_lock(&c->lock);
    if (c->closed) {
        prpc__mutex_unlock(&c->lock);
        return PRPC_ERR_CLOSED;
    }
    if (c->pool == NULL) {
        prpc__mutex_unlock(&c->lock);
        /* Sync-only: one blocking write per message, one sender at a time
         * (as on POSIX). Senders on several threads are normal (the
         * transport's send is thread-safe), and Winsock does not allow
         * WSASend on one socket from several threads at once. send_lock
         * is not the connection's lock, so close() still gets in and
         * cancels a write that waits for the peer. */
        DWORD n = 0, err = 0;
        prpc_status st;
        prpc__mutex_lock(&c->send_lock);
        if (c->kind == WK_SYNC) {
            st = WriteFile(c->wh, data, (DWORD)len, &n, NULL) ? PRPC_OK
                                                              : prpc__win_status(GetLastError());
        } else {
            st = sync_overlapped(c, true, (void *)data, (DWORD)len, UINT64_MAX, &n, &err);
            if (st == PRPC_OK && err != 0)
                st = prpc__win_status(err);
        }
        prpc__mutex_unlock(&c->send_lock);
        if (st == PRPC_OK && n != len)
            st = PRPC_ERR_IO;
        return st == PRPC_ERR_UNAVAILABLE ? PRPC_ERR_CLOSED : st;
    }
    if (c->qhead != NULL && c->queued + len > c->send_limit) {
        prpc__mutex_unlock(&c->lock);
        return PRPC_ERR_BUSY;
    }
    /* An overlapped write needs its buffer until it completes, so the
     * message is copied once into the queue. */
    struct sendq *q = prpc_alloc(sizeof *q + len);
    if (q == NULL) {
        prpc__mutex_unlock(&c->lock);
        return PRPC_ERR_NO_MEMORY;
    }
    q->next = NULL;
    q->len = len;
    memcpy(q->data, data, len);
    if (c->qtail)
        c->qtail->next = q;
    else
        c->qhead = q;
    c->qtail = q;
    c->queued += len;
    if (!c->write_pending) {
        c->busy++;
        start_write_locked(c);
    }
    prpc__mutex_unlock(&c->lock);
    return PRPC_OK;
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
    /* Windows has no readiness handle for a pipe or socket that an event
     * loop could wait on without issuing a read; embedders use a thread
     * with recv_sync instead. */
    (void)c;
    return -1;
}

/* ---------------------------------------------- blocking-handle threads */

/* WK_SYNC reads: the handle cannot do overlapped I/O, so a thread blocks in
 * ReadFile for each requested receive and posts the result to the port. */
static void sync_reader_main(void *arg)
{
    prpc__pconn *c = arg;
    prpc__mutex_lock(&c->lock);
    for (;;) {
        while (!c->sync_read_req && !c->closed)
            prpc__cond_wait(&c->sync_wake, &c->lock);
        if (c->closed && !c->sync_read_req)
            break;
        void *buf = c->rbuf;
        DWORD len = c->rlen > MAXDWORD ? MAXDWORD : (DWORD)c->rlen;
        bool closed = c->closed;
        prpc__mutex_unlock(&c->lock);
        DWORD n = 0, err = 0;
        if (closed)
            err = ERROR_OPERATION_ABORTED;
        else if (!ReadFile(c->h, buf, len, &n, NULL))
            err = GetLastError();
        prpc__mutex_lock(&c->lock);
        c->sync_read_req = false;
        prpc__pool_post_io(c->pool, &c->rio, err, n);
    }
    prpc__mutex_unlock(&c->lock);
}

static void sync_writer_main(void *arg)
{
    prpc__pconn *c = arg;
    prpc__mutex_lock(&c->lock);
    for (;;) {
        while (!(c->write_pending && c->qhead) && !c->closed)
            prpc__cond_wait(&c->sync_wake, &c->lock);
        if (!(c->write_pending && c->qhead))
            break;
        struct sendq *q = c->qhead;
        unsigned long seq = c->write_seq;
        prpc__mutex_unlock(&c->lock);
        DWORD n = 0, err = 0;
        const uint8_t *p = q->data;
        size_t left = q->len;
        /* A console or file may take less than asked: loop until done. */
        while (left > 0) {
            DWORD w = 0;
            if (!WriteFile(c->wh, p, (DWORD)left, &w, NULL)) {
                err = GetLastError();
                break;
            }
            p += w;
            left -= w;
            n += w;
        }
        prpc__mutex_lock(&c->lock);
        prpc__pool_post_io(c->pool, &c->wio, err, n);
        /* Wait for on_write to consume this packet before the next one. */
        while (c->write_seq == seq && !c->closed)
            prpc__cond_wait(&c->sync_wake, &c->lock);
        if (c->closed)
            break;
    }
    prpc__mutex_unlock(&c->lock);
}

/* ------------------------------------------------------------ teardown */

static void close_handles_locked(prpc__pconn *c)
{
    if (c->handles_closed)
        return;
    c->handles_closed = true;
    if (c->kind == WK_SOCK) {
        closesocket((SOCKET)c->h);
    } else {
        CloseHandle(c->h);
        if (c->wh != c->h)
            CloseHandle(c->wh);
    }
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
    if (!c->write_pending)
        drop_queue_locked(c);
    if (c->kind == WK_SYNC) {
        /* Blocking reads cannot be cancelled reliably everywhere; the
         * reader thread is asked to stop and its handles close in stop. */
        prpc__cond_broadcast(&c->sync_wake);
        if (c->sync_threads) {
            CancelSynchronousIo(c->sync_reader.h);
            CancelSynchronousIo(c->sync_writer.h);
        }
    } else {
        /* Every overlapped operation of ours ends with a packet (aborted),
         * and recv_sync wakes up; then the peer sees the end at once. */
        CancelIoEx(c->h, NULL);
        if (c->wh != c->h)
            CancelIoEx(c->wh, NULL);
        if (c->kind == WK_SOCK)
            shutdown((SOCKET)c->h, SD_BOTH);
        close_handles_locked(c);
    }
    prpc__mutex_unlock(&c->lock);
}

static void reap_child(prpc__pconn *c)
{
    if (c->child == NULL)
        return;
    /* The child sees the end of its input when we close; give it a moment
     * to exit on its own before ending it. */
    if (WaitForSingleObject(c->child, 1000) != WAIT_OBJECT_0) {
        TerminateProcess(c->child, 1);
        WaitForSingleObject(c->child, INFINITE);
    }
    CloseHandle(c->child);
    c->child = NULL;
}

void prpc__pconn_stop(prpc__pconn *c)
{
    if (c == NULL)
        return;
    prpc__pconn_close(c);
    prpc__mutex_lock(&c->lock);
    while (c->busy > 0 || c->in_sync)
        prpc__cond_wait(&c->idle, &c->lock);
    bool threads = c->sync_threads;
    c->sync_threads = false;
    prpc__mutex_unlock(&c->lock);
    if (threads) {
        /* A thread may still sit in a blocking ReadFile the cancel did not
         * reach (the peer still holds the pipe open): closing the handle
         * below ends it. */
        prpc__thread_join(&c->sync_writer);
        prpc__mutex_lock(&c->lock);
        close_handles_locked(c);
        prpc__mutex_unlock(&c->lock);
        prpc__thread_join(&c->sync_reader);
    }
    prpc__mutex_lock(&c->lock);
    drop_queue_locked(c);
    close_handles_locked(c);
    prpc__mutex_unlock(&c->lock);
    reap_child(c);
}

void prpc__pconn_free(prpc__pconn *c)
{
    if (c == NULL)
        return;
    prpc__cond_destroy(&c->idle);
    prpc__cond_destroy(&c->sync_wake);
    prpc__mutex_destroy(&c->send_lock);
    prpc__mutex_destroy(&c->lock);
    prpc_free(c);
}

void prpc__pconn_destroy(prpc__pconn *c)
{
    if (c == NULL)
        return;
    prpc__pconn_close(c);
    prpc__mutex_lock(&c->lock);
    if (c->busy > 0 && prpc__iopool_on_thread(c->pool)) {
        /* Possibly our own callback: whoever drops busy to zero frees. */
        c->free_pending = true;
        prpc__mutex_unlock(&c->lock);
        return;
    }
    prpc__mutex_unlock(&c->lock);
    prpc__pconn_stop(c);
    prpc__pconn_free(c);
}
