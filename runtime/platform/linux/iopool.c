/* The I/O pool on Linux: N threads over one epoll set turn readiness into
 * completions. Also owns posted tasks (an eventfd doorbell), timers (a
 * min-heap behind one timerfd) and the registration table that makes events
 * for vanished objects harmless.
 *
 * Every descriptor is registered EPOLLONESHOT, so one readiness event wakes
 * exactly one thread and nothing fires again for that descriptor until its
 * owner re-arms it: that is what keeps one connection's callbacks serial
 * while different connections run in parallel. Threads take one event per
 * epoll_wait so that a slow callback never holds back events already
 * claimed by its thread. A thread may also park on one connection for its
 * next message (conn.c); the pool counts parked and busy threads so that
 * one is always left in epoll_wait.
 *
 * epoll, eventfd and timerfd are Linux's. A BSD or macOS port would keep the
 * design over one kqueue: EV_DISPATCH registrations (re-enabled by the
 * owner) for EPOLLONESHOT, an EVFILT_USER event for the eventfd doorbell,
 * and an EVFILT_TIMER event for the timerfd in front of the heap. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "piperpc/alloc.h"
#include "platform/linux/linux_io.h"
#include "platform/timer_heap.h"

/* Slots 0 and 1 of the table stand for the eventfd and the timerfd. */
#define SLOT_EVFD 0u
#define SLOT_TFD 1u
#define SLOT_FIRST 2u
#define WSIDE_BIT 0x80000000u

struct slot {
    struct pobj *obj; /* NULL when free */
    uint32_t gen;
    uint32_t next_free;
};

struct prpc__iopool {
    int epfd;
    int evfd;
    int tfd;
    unsigned nthreads;
    prpc__thread *threads;
    atomic_bool closing;
    /* Where the threads are: the low 16 bits count those running callbacks
     * (neither in epoll_wait nor parked), the high 16 bits those parked on
     * one connection (prpc__pool_park). One word, so that a park sees both
     * at once. */
    atomic_uint where;
    unsigned park_limit; /* all threads but one (set before they start) */

    prpc__mutex lock; /* tasks, timers */
    prpc__cond timer_done;
    prpc__task *task_head;
    prpc__task *task_tail;
    bool evfd_signalled;
    prpc__timer **heap;
    size_t heap_len;
    size_t heap_cap;
    uint64_t tfd_deadline; /* what the timerfd is set to; UINT64_MAX = off */

    prpc__mutex reg_lock; /* the registration table */
    struct slot *slots;
    uint32_t nslots;
    uint32_t free_head; /* UINT32_MAX = none */
};

prpc_status prpc__errno_status(int err)
{
    switch (err) {
    case 0:
        return PRPC_OK;
    case ENOMEM:
    case ENOBUFS:
        return PRPC_ERR_NO_MEMORY;
    case EPIPE:
    case ECONNRESET:
    case ENOTCONN:
    case ESHUTDOWN:
        return PRPC_ERR_CLOSED;
    case ECONNREFUSED:
    case ENOENT:
    case EHOSTUNREACH:
    case ENETUNREACH:
        return PRPC_ERR_UNAVAILABLE;
    case EACCES:
    case EPERM:
        return PRPC_ERR_DENIED;
    case EADDRINUSE:
        return PRPC_ERR_ADDR_IN_USE;
    case ETIMEDOUT:
        return PRPC_ERR_TIMEOUT;
    case EMFILE:
    case ENFILE:
        return PRPC_ERR_BUSY;
    case EINVAL:
    case ENAMETOOLONG:
        return PRPC_ERR_INVALID_ARG;
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
        return PRPC_ERR_NOT_SUPPORTED;
    default:
        return PRPC_ERR_IO;
    }
}

/* ------------------------------------------------------ registration */

static uint64_t ev_key(uint32_t slot, uint32_t gen, bool wside)
{
    return ((uint64_t)slot << 32) | (gen & ~WSIDE_BIT) | (wside ? WSIDE_BIT : 0u);
}

prpc_status prpc__pool_register(prpc__iopool *pool, struct pobj *o, int rfd, int wfd)
{
    prpc__mutex_lock(&pool->reg_lock);
    if (pool->free_head == UINT32_MAX) {
        uint32_t n = pool->nslots ? pool->nslots * 2u : 64u;
        struct slot *s = prpc_realloc(pool->slots, (size_t)n * sizeof *s);
        if (s == NULL) {
            prpc__mutex_unlock(&pool->reg_lock);
            return PRPC_ERR_NO_MEMORY;
        }
        for (uint32_t i = pool->nslots; i < n; i++) {
            s[i].obj = NULL;
            s[i].gen = 1;
            s[i].next_free = (i + 1 < n) ? i + 1 : UINT32_MAX;
        }
        if (pool->nslots == 0) {
            /* reserved */
            s[SLOT_EVFD].obj = s[SLOT_TFD].obj = NULL;
            pool->free_head = SLOT_FIRST;
        } else {
            pool->free_head = pool->nslots;
        }
        pool->slots = s;
        pool->nslots = n;
    }
    uint32_t idx = pool->free_head;
    struct slot *sl = &pool->slots[idx];
    pool->free_head = sl->next_free;
    sl->obj = o;
    o->slot = idx;
    o->gen = sl->gen & ~WSIDE_BIT;
    prpc__mutex_unlock(&pool->reg_lock);

    struct epoll_event ev = {.events = EPOLLONESHOT, .data.u64 = ev_key(idx, o->gen, false)};
    if (epoll_ctl(pool->epfd, EPOLL_CTL_ADD, rfd, &ev) != 0)
        goto fail;
    if (wfd != rfd) {
        ev.data.u64 = ev_key(idx, o->gen, true);
        if (epoll_ctl(pool->epfd, EPOLL_CTL_ADD, wfd, &ev) != 0) {
            epoll_ctl(pool->epfd, EPOLL_CTL_DEL, rfd, NULL);
            goto fail;
        }
    }
    return PRPC_OK;
fail:;
    int e = errno;
    prpc__mutex_lock(&pool->reg_lock);
    sl = &pool->slots[idx];
    sl->obj = NULL;
    sl->gen++;
    sl->next_free = pool->free_head;
    pool->free_head = idx;
    prpc__mutex_unlock(&pool->reg_lock);
    o->slot = 0;
    return prpc__errno_status(e);
}

void prpc__pool_unregister(prpc__iopool *pool, struct pobj *o, int rfd, int wfd)
{
    if (o->slot == 0)
        return;
    epoll_ctl(pool->epfd, EPOLL_CTL_DEL, rfd, NULL);
    if (wfd != rfd && wfd >= 0)
        epoll_ctl(pool->epfd, EPOLL_CTL_DEL, wfd, NULL);
    prpc__mutex_lock(&pool->reg_lock);
    struct slot *sl = &pool->slots[o->slot];
    sl->obj = NULL;
    sl->gen++;
    sl->next_free = pool->free_head;
    pool->free_head = o->slot;
    prpc__mutex_unlock(&pool->reg_lock);
    o->slot = 0;
}

void prpc__pool_arm(prpc__iopool *pool, const struct pobj *o, int fd, uint32_t mask, bool wside)
{
    if (o->slot == 0)
        return;
    struct epoll_event ev = {.events = mask | EPOLLONESHOT, .data.u64 = ev_key(o->slot, o->gen, wside)};
    /* Failure here means the descriptor is gone, which only close does;
     * close completes the outstanding requests itself. */
    (void)epoll_ctl(pool->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void prpc__pool_arm_key(prpc__iopool *pool, uint32_t slot, uint32_t gen, int fd, uint32_t mask)
{
    if (slot == 0)
        return;
    struct epoll_event ev = {.events = mask | EPOLLONESHOT, .data.u64 = ev_key(slot, gen, false)};
    (void)epoll_ctl(pool->epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* Finds the live object an event is for and marks it busy, or NULL. */
static struct pobj *lookup(prpc__iopool *pool, uint64_t key, bool *wside)
{
    uint32_t idx = (uint32_t)(key >> 32);
    uint32_t gen = (uint32_t)key & ~WSIDE_BIT;
    *wside = ((uint32_t)key & WSIDE_BIT) != 0;
    struct pobj *o = NULL;
    prpc__mutex_lock(&pool->reg_lock);
    if (idx < pool->nslots && pool->slots[idx].obj != NULL &&
        (pool->slots[idx].gen & ~WSIDE_BIT) == gen)
        o = pool->slots[idx].obj;
    if (o != NULL)
        atomic_fetch_add(&o->busy, 1); /* keeps it alive after reg_lock */
    prpc__mutex_unlock(&pool->reg_lock);
    return o;
}

#define WHERE_ACTIVE 1u
#define WHERE_PARKED 0x10000u

/* A thread may park on its connection only while another thread is left
 * in epoll_wait for everything else once it has parked: some thread is
 * neither running a callback nor parked. A parked thread sleeps in the
 * kernel like a thread of a blocking server, so with more threads than
 * processors the busiest connections each keep a thread of their own, and
 * the thread in epoll_wait serves the rest. When no thread would be left,
 * the park is refused and the connection goes back to epoll; a parked
 * thread comes back after PARK_MS at most (conn.c), so an event that
 * arrives while every thread is parked or busy waits at most that long
 * for a thread. */
bool prpc__pool_park(prpc__iopool *pool)
{
    if (atomic_load_explicit(&pool->closing, memory_order_relaxed))
        return false;
    unsigned w = atomic_load_explicit(&pool->where, memory_order_relaxed);
    do {
        unsigned active = w & 0xffffu, parked = w >> 16;
        /* The caller is one of the active threads. */
        if (active + parked > pool->park_limit)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&pool->where, &w,
                                                    w - WHERE_ACTIVE + WHERE_PARKED,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed));
    return true;
}

void prpc__pool_unpark(prpc__iopool *pool)
{
    atomic_fetch_add_explicit(&pool->where, WHERE_ACTIVE - WHERE_PARKED, memory_order_relaxed);
}

/* ------------------------------------------------------------- tasks */

static void evfd_ring(prpc__iopool *pool)
{
    uint64_t one = 1;
    ssize_t n;
    do {
        n = write(pool->evfd, &one, sizeof one);
    } while (n < 0 && errno == EINTR);
}

static void evfd_arm(prpc__iopool *pool)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = ev_key(SLOT_EVFD, 0, false)};
    epoll_ctl(pool->epfd, EPOLL_CTL_MOD, pool->evfd, &ev);
}

void prpc__task_post(prpc__iopool *pool, prpc__task *task, prpc__task_fn fn, void *user)
{
    task->fn = fn;
    task->user = user;
    task->next = NULL;
    prpc__mutex_lock(&pool->lock);
    if (pool->task_tail)
        pool->task_tail->next = task;
    else
        pool->task_head = task;
    pool->task_tail = task;
    bool ring = !pool->evfd_signalled;
    pool->evfd_signalled = true;
    prpc__mutex_unlock(&pool->lock);
    if (ring)
        evfd_ring(pool);
}

/* One thread woke on the doorbell: it takes one task and re-arms the
 * doorbell first, so that another thread can take the next task meanwhile. */
static void run_one_task(prpc__iopool *pool)
{
    prpc__mutex_lock(&pool->lock);
    prpc__task *t = pool->task_head;
    if (t != NULL) {
        pool->task_head = t->next;
        if (pool->task_head == NULL)
            pool->task_tail = NULL;
    }
    if (pool->task_head == NULL) {
        uint64_t v;
        ssize_t n;
        do {
            n = read(pool->evfd, &v, sizeof v);
        } while (n < 0 && errno == EINTR);
        pool->evfd_signalled = false;
    }
    prpc__mutex_unlock(&pool->lock);
    evfd_arm(pool);
    if (t != NULL)
        t->fn(t->user);
}

/* ------------------------------------------------------------ timers */

/* Sets the timerfd to the earliest deadline; pool->lock held. */
static void tfd_update(prpc__iopool *pool)
{
    uint64_t want = pool->heap_len ? pool->heap[0]->deadline_ms : UINT64_MAX;
    if (want == pool->tfd_deadline)
        return;
    pool->tfd_deadline = want;
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (want != UINT64_MAX) {
        /* CLOCK_MONOTONIC absolute time equals prpc__now_ms's clock; a zero
         * value would disarm, so a past deadline becomes 1 ns. */
        its.it_value.tv_sec = (time_t)(want / 1000u);
        its.it_value.tv_nsec = (long)(want % 1000u) * 1000000L;
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1;
    }
    timerfd_settime(pool->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

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
    tfd_update(pool);
    prpc__mutex_unlock(&pool->lock);
}

void prpc__timer_cancel(prpc__timer *t)
{
    prpc__iopool *pool = t->pool;
    if (pool == NULL)
        return;
    prpc__mutex_lock(&pool->lock);
    if (t->heap_index != SIZE_MAX) {
        prpc__heap_remove(pool->heap, &pool->heap_len, t);
        tfd_update(pool);
    }
    while (t->running && !pthread_equal(t->runner, pthread_self()))
        prpc__cond_wait(&pool->timer_done, &pool->lock);
    prpc__mutex_unlock(&pool->lock);
}

static void run_timers(prpc__iopool *pool)
{
    uint64_t v;
    ssize_t n;
    do {
        n = read(pool->tfd, &v, sizeof v);
    } while (n < 0 && errno == EINTR);
    prpc__mutex_lock(&pool->lock);
    uint64_t now = prpc__now_ms();
    while (pool->heap_len > 0 && pool->heap[0]->deadline_ms <= now) {
        prpc__timer *t = pool->heap[0];
        prpc__heap_remove(pool->heap, &pool->heap_len, t);
        t->running = true;
        t->runner = pthread_self();
        prpc__mutex_unlock(&pool->lock);
        t->fn(t->user);
        prpc__mutex_lock(&pool->lock);
        t->running = false;
        prpc__cond_broadcast(&pool->timer_done);
    }
    pool->tfd_deadline = 0; /* force a reset: the timerfd has expired */
    tfd_update(pool);
    prpc__mutex_unlock(&pool->lock);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = ev_key(SLOT_TFD, 0, false)};
    epoll_ctl(pool->epfd, EPOLL_CTL_MOD, pool->tfd, &ev);
}

/* ------------------------------------------------------------ threads */

static __thread const prpc__iopool *tls_pool;

bool prpc__iopool_on_thread(const prpc__iopool *pool)
{
    return pool != NULL && tls_pool == pool;
}

static void pool_main(void *arg)
{
    prpc__iopool *pool = arg;
    tls_pool = pool;
    atomic_fetch_add_explicit(&pool->where, WHERE_ACTIVE, memory_order_relaxed);
    for (;;) {
        struct epoll_event ev;
        atomic_fetch_sub_explicit(&pool->where, WHERE_ACTIVE, memory_order_relaxed);
        int n = epoll_wait(pool->epfd, &ev, 1, -1);
        atomic_fetch_add_explicit(&pool->where, WHERE_ACTIVE, memory_order_relaxed);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (n == 0)
            continue;
        uint32_t idx = (uint32_t)(ev.data.u64 >> 32);
        if (idx == SLOT_EVFD) {
            if (atomic_load(&pool->closing)) {
                /* Leave the doorbell ringing for the next thread. */
                evfd_arm(pool);
                break;
            }
            run_one_task(pool);
            continue;
        }
        if (idx == SLOT_TFD) {
            run_timers(pool);
            continue;
        }
        bool wside;
        struct pobj *o = lookup(pool, ev.data.u64, &wside);
        if (o == NULL)
            continue;
        if (o->kind == POBJ_CONN)
            prpc__pconn_on_event((prpc__pconn *)o, ev.events, wside);
        else
            prpc__plistener_on_event((prpc__plistener *)o);
    }
    atomic_fetch_sub_explicit(&pool->where, WHERE_ACTIVE, memory_order_relaxed);
    tls_pool = NULL;
}

prpc_status prpc__iopool_create(unsigned nthreads, prpc__iopool **out)
{
    *out = NULL;
    /* Two per processor by default: one to run callbacks, and one that
     * can sleep parked on a busy connection (prpc__pool_park) without
     * taking a processor from the others. */
    if (nthreads == 0) {
        nthreads = 2 * prpc__cpu_count();
        if (nthreads > PRPC__POOL_MAX_THREADS)
            nthreads = PRPC__POOL_MAX_THREADS;
    }
    if (nthreads > PRPC__POOL_MAX_THREADS)
        return PRPC_ERR_INVALID_ARG;
    prpc__iopool *pool = prpc_alloc(sizeof *pool);
    if (pool == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(pool, 0, sizeof *pool);
    pool->epfd = pool->evfd = pool->tfd = -1;
    pool->free_head = UINT32_MAX;
    pool->tfd_deadline = UINT64_MAX;
    atomic_init(&pool->closing, false);
    atomic_init(&pool->where, 0);
    prpc__mutex_init(&pool->lock);
    prpc__mutex_init(&pool->reg_lock);
    prpc__cond_init(&pool->timer_done);
    prpc_status st = PRPC_ERR_IO;

    pool->epfd = epoll_create1(EPOLL_CLOEXEC);
    pool->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pool->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (pool->epfd < 0 || pool->evfd < 0 || pool->tfd < 0) {
        st = prpc__errno_status(errno);
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = ev_key(SLOT_EVFD, 0, false)};
    if (epoll_ctl(pool->epfd, EPOLL_CTL_ADD, pool->evfd, &ev) != 0)
        goto fail;
    ev.data.u64 = ev_key(SLOT_TFD, 0, false);
    if (epoll_ctl(pool->epfd, EPOLL_CTL_ADD, pool->tfd, &ev) != 0)
        goto fail;

    pool->park_limit = nthreads - 1;
    pool->threads = prpc_alloc(nthreads * sizeof *pool->threads);
    if (pool->threads == NULL) {
        st = PRPC_ERR_NO_MEMORY;
        goto fail;
    }
    for (unsigned i = 0; i < nthreads; i++) {
        st = prpc__thread_start(&pool->threads[i], pool_main, pool);
        if (st != PRPC_OK) {
            pool->nthreads = i;
            prpc__iopool_close(pool);
            prpc__iopool_stop(pool);
            prpc__iopool_free(pool);
            return st;
        }
        pool->nthreads = i + 1;
    }
    *out = pool;
    return PRPC_OK;
fail:
    prpc__iopool_free(pool);
    return st;
}

void prpc__iopool_close(prpc__iopool *pool)
{
    if (pool == NULL || atomic_exchange(&pool->closing, true))
        return;
    evfd_ring(pool);
}

void prpc__iopool_stop(prpc__iopool *pool)
{
    if (pool == NULL)
        return;
    prpc__iopool_close(pool);
    for (unsigned i = 0; i < pool->nthreads; i++)
        prpc__thread_join(&pool->threads[i]);
    pool->nthreads = 0;
    /* Tasks posted before the end (teardown work of connections destroyed
     * from callbacks) still run, here, so nothing is leaked. The caller
     * stands in for a pool thread meanwhile, so that code which defers work
     * when it runs inside the pool does so here too. */
    const prpc__iopool *saved = tls_pool;
    tls_pool = pool;
    for (;;) {
        prpc__mutex_lock(&pool->lock);
        prpc__task *t = pool->task_head;
        if (t != NULL) {
            pool->task_head = t->next;
            if (pool->task_head == NULL)
                pool->task_tail = NULL;
        }
        prpc__mutex_unlock(&pool->lock);
        if (t == NULL)
            break;
        t->fn(t->user);
    }
    tls_pool = saved;
}

void prpc__iopool_free(prpc__iopool *pool)
{
    if (pool == NULL)
        return;
    if (pool->epfd >= 0)
        close(pool->epfd);
    if (pool->evfd >= 0)
        close(pool->evfd);
    if (pool->tfd >= 0)
        close(pool->tfd);
    prpc_free(pool->threads);
    prpc_free(pool->slots);
    prpc_free(pool->heap);
    prpc__cond_destroy(&pool->timer_done);
    prpc__mutex_destroy(&pool->reg_lock);
    prpc__mutex_destroy(&pool->lock);
    prpc_free(pool);
}
