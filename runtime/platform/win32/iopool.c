/* The I/O pool on Windows: N threads on one I/O completion port. Overlapped
 * operations, posted tasks and timer expiries all arrive as completion
 * packets; a timer thread keeps a min-heap of deadlines and posts one packet
 * when the earliest is due, and the pool thread that takes it runs the
 * expired timers. */
#include <stdatomic.h>
#include <string.h>

#include "piperpc/alloc.h"
#include "platform/win32/win32_io.h"
#include "platform/timer_heap.h"

enum {
    KEY_IO = 1,     /* an overlapped operation; the OVERLAPPED is a struct wio */
    KEY_IO_POSTED,  /* the same, completed outside the port (err in posted_err) */
    KEY_TASK,       /* a prpc__task */
    KEY_TIMERS,     /* run the expired timers */
    KEY_QUIT        /* one thread leaves */
};

struct prpc__iopool {
    HANDLE port;
    unsigned nthreads;
    prpc__thread *threads;
    prpc__thread timer_thread;
    prpc__mutex lock;
    prpc__cond timer_wake;  /* the timer thread waits here */
    prpc__cond timer_done;  /* a timer callback finished */
    prpc__timer **heap;
    size_t heap_len;
    size_t heap_cap;
    bool timers_posted;     /* a KEY_TIMERS packet is queued or being run */
    atomic_long inflight;   /* packets expected: operations issued, tasks posted */
    bool closing;
    bool stopped;
};

static _Thread_local const prpc__iopool *tls_pool;

prpc_status prpc__pool_associate(prpc__iopool *pool, HANDLE h)
{
    if (CreateIoCompletionPort(h, pool->port, KEY_IO, 0) == NULL)
        return prpc__win_status(GetLastError());
    return PRPC_OK;
}

/* PostQueuedCompletionStatus fails only when the system is out of
 * non-paged memory; dropping the packet would hang its owner, so retry. */
static void post(prpc__iopool *pool, DWORD n, ULONG_PTR key, OVERLAPPED *ov)
{
    while (!PostQueuedCompletionStatus(pool->port, n, key, ov))
        Sleep(1);
}

void prpc__pool_expect(prpc__iopool *pool)
{
    atomic_fetch_add(&pool->inflight, 1);
}

void prpc__pool_post_io(prpc__iopool *pool, struct wio *io, DWORD err, DWORD n)
{
    io->posted_err = err;
    post(pool, n, KEY_IO_POSTED, &io->ov);
}

void prpc__task_post(prpc__iopool *pool, prpc__task *task, prpc__task_fn fn, void *user)
{
    task->fn = fn;
    task->user = user;
    memset(&task->ov, 0, sizeof task->ov);
    atomic_fetch_add(&pool->inflight, 1);
    post(pool, 0, KEY_TASK, &task->ov);
}

/* ------------------------------------------------------------ timers */

void prpc__timer_init(prpc__timer *t, prpc__iopool *pool, prpc__timer_fn fn, void *user)
{
    memset(t, 0, sizeof *t);
    t->pool = pool;
    t->fn = fn;
    t->user = user;
    t->heap_index = SIZE_MAX;
}

void prpc__timer_schedule(prpc__timer *t, uint64_t deadline_ms)
{
    prpc__iopool *pool = t->pool;
    prpc__mutex_lock(&pool->lock);
    if (!prpc__heap_schedule(&pool->heap, &pool->heap_len, &pool->heap_cap, t, deadline_ms)) {
        /* Without memory the timer cannot be kept; firing it at once is the
         * safe side for every timeout in piperpc. */
        prpc__mutex_unlock(&pool->lock);
        t->fn(t->user);
        return;
    }
    if (pool->heap[0] == t)
        prpc__cond_signal(&pool->timer_wake);
    prpc__mutex_unlock(&pool->lock);
}

void prpc__timer_cancel(prpc__timer *t)
{
    prpc__iopool *pool = t->pool;
    if (pool == NULL)
        return;
    prpc__mutex_lock(&pool->lock);
    if (t->heap_index != SIZE_MAX)
        prpc__heap_remove(pool->heap, &pool->heap_len, t);
    while (t->running && t->runner != GetCurrentThreadId())
        prpc__cond_wait(&pool->timer_done, &pool->lock);
    prpc__mutex_unlock(&pool->lock);
}

/* Sleeps until the earliest deadline, then hands the expired timers to a
 * pool thread: timer callbacks must run on pool threads, and one packet at a
 * time keeps them from piling up behind a slow callback. */
static void timer_main(void *arg)
{
    prpc__iopool *pool = arg;
    prpc__mutex_lock(&pool->lock);
    while (!pool->closing) {
        uint64_t next = UINT64_MAX;
        if (!pool->timers_posted && pool->heap_len > 0)
            next = pool->heap[0]->deadline_ms;
        if (next != UINT64_MAX && next <= prpc__now_ms()) {
            pool->timers_posted = true;
            atomic_fetch_add(&pool->inflight, 1);
            post(pool, 0, KEY_TIMERS, NULL);
            continue;
        }
        prpc__cond_wait_until(&pool->timer_wake, &pool->lock, next);
    }
    prpc__mutex_unlock(&pool->lock);
}

static void run_timers(prpc__iopool *pool)
{
    prpc__mutex_lock(&pool->lock);
    uint64_t now = prpc__now_ms();
    while (pool->heap_len > 0 && pool->heap[0]->deadline_ms <= now) {
        prpc__timer *t = pool->heap[0];
        prpc__heap_remove(pool->heap, &pool->heap_len, t);
        t->running = true;
        t->runner = GetCurrentThreadId();
        prpc__mutex_unlock(&pool->lock);
        t->fn(t->user);
        prpc__mutex_lock(&pool->lock);
        t->running = false;
        prpc__cond_broadcast(&pool->timer_done);
    }
    pool->timers_posted = false;
    prpc__cond_signal(&pool->timer_wake);
    prpc__mutex_unlock(&pool->lock);
}

/* ------------------------------------------------------------ threads */

bool prpc__iopool_on_thread(const prpc__iopool *pool)
{
    return pool != NULL && tls_pool == pool;
}

/* Takes one packet and runs it. Returns false when there was none within
 * timeout_ms or the packet said to quit. */
static bool run_one(prpc__iopool *pool, DWORD timeout_ms)
{
    DWORD n = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *ov = NULL;
    BOOL ok = GetQueuedCompletionStatus(pool->port, &n, &key, &ov, timeout_ms);
    DWORD err = ok ? 0 : GetLastError();
    if (!ok && ov == NULL) {
        /* Nothing dequeued: a timeout, or the port is gone. */
        return err != WAIT_TIMEOUT && err != ERROR_ABANDONED_WAIT_0 && err != ERROR_INVALID_HANDLE;
    }
    switch (key) {
    case KEY_IO: {
        struct wio *io = (struct wio *)ov;
        io->done(io, err, n);
        break;
    }
    case KEY_IO_POSTED: {
        struct wio *io = (struct wio *)ov;
        io->done(io, io->posted_err, n);
        break;
    }
    case KEY_TASK: {
        prpc__task *t = (prpc__task *)ov;
        t->fn(t->user);
        break;
    }
    case KEY_TIMERS:
        if (pool->stopped) {
            /* timers are not run once the pool has stopped */
            prpc__mutex_lock(&pool->lock);
            pool->timers_posted = false;
            prpc__mutex_unlock(&pool->lock);
        } else {
            run_timers(pool);
        }
        break;
    case KEY_QUIT:
        return false;
    default:
        return true;
    }
    atomic_fetch_sub(&pool->inflight, 1);
    return true;
}

static void pool_main(void *arg)
{
    prpc__iopool *pool = arg;
    tls_pool = pool;
    while (run_one(pool, INFINITE)) {
    }
    tls_pool = NULL;
}

prpc_status prpc__iopool_create(unsigned nthreads, prpc__iopool **out)
{
    *out = NULL;
    if (nthreads == 0) {
        nthreads = prpc__cpu_count();
        if (nthreads > PRPC__POOL_MAX_THREADS)
            nthreads = PRPC__POOL_MAX_THREADS;
    }
    if (nthreads > PRPC__POOL_MAX_THREADS)
        return PRPC_ERR_INVALID_ARG;
    prpc__iopool *pool = prpc_alloc(sizeof *pool);
    if (pool == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(pool, 0, sizeof *pool);
    prpc__mutex_init(&pool->lock);
    prpc__cond_init(&pool->timer_wake);
    prpc__cond_init(&pool->timer_done);
    prpc_status st = prpc__wsa_init();
    if (st != PRPC_OK)
        goto fail;
    pool->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, nthreads);
    if (pool->port == NULL) {
        st = prpc__win_status(GetLastError());
        goto fail;
    }
    pool->threads = prpc_alloc(nthreads * sizeof *pool->threads);
    if (pool->threads == NULL) {
        st = PRPC_ERR_NO_MEMORY;
        goto fail;
    }
    memset(pool->threads, 0, nthreads * sizeof *pool->threads);
    st = prpc__thread_start(&pool->timer_thread, timer_main, pool);
    if (st != PRPC_OK)
        goto fail;
    for (unsigned i = 0; i < nthreads; i++) {
        st = prpc__thread_start(&pool->threads[i], pool_main, pool);
        if (st != PRPC_OK) {
            pool->nthreads = i;
            prpc__iopool_close(pool);
            prpc__iopool_stop(pool);
            prpc__iopool_free(pool);
            return st;
        }
    }
    pool->nthreads = nthreads;
    *out = pool;
    return PRPC_OK;
fail:
    if (pool->port != NULL)
        CloseHandle(pool->port);
    prpc_free(pool->threads);
    prpc_free(pool);
    return st;
}

void prpc__iopool_close(prpc__iopool *pool)
{
    prpc__mutex_lock(&pool->lock);
    bool first = !pool->closing;
    pool->closing = true;
    prpc__cond_signal(&pool->timer_wake);
    prpc__mutex_unlock(&pool->lock);
    if (first)
        for (unsigned i = 0; i < pool->nthreads; i++)
            post(pool, 0, KEY_QUIT, NULL);
}

void prpc__iopool_stop(prpc__iopool *pool)
{
    if (pool->stopped)
        return;
    prpc__iopool_close(pool);
    for (unsigned i = 0; i < pool->nthreads; i++)
        prpc__thread_join(&pool->threads[i]);
    prpc__thread_join(&pool->timer_thread);
    pool->stopped = true;
    /* Packets queued behind the quit packets (tasks posted as part of a
     * teardown, completions of I/O cancelled by it) still run, here, so
     * nothing is leaked. A cancelled operation's packet may still be on
     * its way, so this waits (boundedly) until every expected packet has
     * come. The caller stands in for a pool thread meanwhile, so that code
     * which defers work inside the pool does so here too. */
    const prpc__iopool *saved = tls_pool;
    tls_pool = pool;
    uint64_t until = prpc__now_ms() + 5000;
    while (atomic_load(&pool->inflight) > 0 && prpc__now_ms() < until)
        run_one(pool, 50);
    tls_pool = saved;
}

void prpc__iopool_free(prpc__iopool *pool)
{
    if (pool == NULL)
        return;
    prpc__iopool_stop(pool);
    CloseHandle(pool->port);
    prpc__cond_destroy(&pool->timer_wake);
    prpc__cond_destroy(&pool->timer_done);
    prpc__mutex_destroy(&pool->lock);
    prpc_free(pool->heap);
    prpc_free(pool->threads);
    prpc_free(pool);
}
