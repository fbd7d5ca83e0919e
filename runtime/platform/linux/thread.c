/* Threads, mutexes, condition variables, bells and clocks on Linux
 * (pthreads, CLOCK_MONOTONIC, eventfd).
 *
 * Plain POSIX, apart from the adaptive mutex (glibc; used only where it is
 * defined) and condition variables bound to CLOCK_MONOTONIC with
 * pthread_condattr_setclock(), which FreeBSD has and macOS does not: a
 * macOS port would wait with pthread_cond_timedwait_relative_np(). Bells
 * are eventfds, which are Linux's: a port would use a self-pipe. */
#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "piperpc/alloc.h"
#include "platform/platform.h"

uint64_t prpc__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t prpc__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void prpc__sleep_ms(uint32_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L};
    /* nanosleep updates ts with the time left when a signal interrupts it. */
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

struct thread_start {
    prpc__thread_fn fn;
    void *arg;
};

static void *thread_main(void *p)
{
    struct thread_start start = *(struct thread_start *)p;
    prpc_free(p);
    start.fn(start.arg);
    return NULL;
}

prpc_status prpc__thread_start(prpc__thread *t, prpc__thread_fn fn, void *arg)
{
    struct thread_start *start = prpc_alloc(sizeof *start);
    if (start == NULL)
        return PRPC_ERR_NO_MEMORY;
    start->fn = fn;
    start->arg = arg;
    int rc = pthread_create(&t->id, NULL, thread_main, start);
    if (rc != 0) {
        prpc_free(start);
        return rc == EAGAIN ? PRPC_ERR_NO_MEMORY : PRPC_ERR_INTERNAL;
    }
    return PRPC_OK;
}

void prpc__thread_join(prpc__thread *t)
{
    pthread_join(t->id, NULL);
}

bool prpc__thread_is_self(const prpc__thread *t)
{
    return pthread_equal(t->id, pthread_self()) != 0;
}

void prpc__mutex_init(prpc__mutex *m)
{
#if defined(PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP)
    /* Critical sections in piperpc are a few instructions long. When a pool
     * thread takes a connection's next event while the previous thread is
     * still leaving the lock, spinning briefly beats a futex sleep and
     * wake-up (two system calls on the hot path). */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&m->m, &attr);
    pthread_mutexattr_destroy(&attr);
#else
    pthread_mutex_init(&m->m, NULL);
#endif
}

void prpc__mutex_destroy(prpc__mutex *m)
{
    pthread_mutex_destroy(&m->m);
}

void prpc__mutex_lock(prpc__mutex *m)
{
    pthread_mutex_lock(&m->m);
}

void prpc__mutex_unlock(prpc__mutex *m)
{
    pthread_mutex_unlock(&m->m);
}

void prpc__cond_init(prpc__cond *c)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    /* Deadlines are monotonic so that a wall-clock jump neither fires nor
     * postpones a timeout. */
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->c, &attr);
    pthread_condattr_destroy(&attr);
}

void prpc__cond_destroy(prpc__cond *c)
{
    pthread_cond_destroy(&c->c);
}

void prpc__cond_signal(prpc__cond *c)
{
    pthread_cond_signal(&c->c);
}

void prpc__cond_broadcast(prpc__cond *c)
{
    pthread_cond_broadcast(&c->c);
}

void prpc__cond_wait(prpc__cond *c, prpc__mutex *m)
{
    pthread_cond_wait(&c->c, &m->m);
}

prpc_status prpc__cond_wait_until(prpc__cond *c, prpc__mutex *m, uint64_t deadline_ms)
{
    if (deadline_ms == UINT64_MAX) {
        pthread_cond_wait(&c->c, &m->m);
        return PRPC_OK;
    }
    if (prpc__now_ms() >= deadline_ms)
        return PRPC_ERR_TIMEOUT;
    struct timespec ts = {.tv_sec = (time_t)(deadline_ms / 1000u),
                          .tv_nsec = (long)(deadline_ms % 1000u) * 1000000L};
    int rc = pthread_cond_timedwait(&c->c, &m->m, &ts);
    return rc == ETIMEDOUT ? PRPC_ERR_TIMEOUT : PRPC_OK;
}

prpc_status prpc__bell_init(prpc__bell *b)
{
    b->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (b->fd >= 0)
        return PRPC_OK;
    return errno == EMFILE || errno == ENFILE ? PRPC_ERR_BUSY : PRPC_ERR_NO_MEMORY;
}

void prpc__bell_destroy(prpc__bell *b)
{
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
}

void prpc__bell_ring(prpc__bell *b)
{
    /* write(2) is async-signal-safe; errno is restored because the caller
     * may be a signal handler that interrupted code reading errno. A full
     * counter (EAGAIN) is a bell already rung. */
    int saved = errno;
    uint64_t one = 1;
    ssize_t n;
    do {
        n = write(b->fd, &one, sizeof one);
    } while (n < 0 && errno == EINTR);
    errno = saved;
}

void prpc__bell_wait(prpc__bell *b, uint64_t deadline_ms)
{
    int ms = -1;
    if (deadline_ms != UINT64_MAX) {
        uint64_t now = prpc__now_ms();
        uint64_t left = deadline_ms > now ? deadline_ms - now : 0;
        ms = left > 60000 ? 60000 : (int)left; /* an early return is allowed */
    }
    struct pollfd p = {b->fd, POLLIN, 0};
    if (poll(&p, 1, ms) == 1) {
        /* Takes the ring; another waiter may have taken it first (EAGAIN). */
        uint64_t v;
        ssize_t n = read(b->fd, &v, sizeof v);
        (void)n;
    }
}

unsigned prpc__cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}
