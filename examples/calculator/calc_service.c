/* The calculator's handlers: plain arithmetic that raises the IDL's errors,
 * and slow_add, which defers its reply to one timer thread. Deferring is
 * what keeps a slow call from blocking the calls behind it on the same
 * connection (the server starts one connection's calls in arrival order). */
#define _POSIX_C_SOURCE 200809L
#include "calc_service.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

static prpc_status calc_add(prpc_call *call, int64_t a, int64_t b, int64_t *result)
{
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b))
        return calc_Calculator_add_raise(call, calc_Error_OVERFLOW, "the sum does not fit in 64 bits");
    *result = a + b;
    return PRPC_OK;
}

static prpc_status calc_divide(prpc_call *call, int64_t a, int64_t b, int64_t *result)
{
    if (b == 0)
        return calc_Calculator_divide_raise(call, calc_Error_DIVIDE_BY_ZERO, "division by zero");
    if (a == INT64_MIN && b == -1)
        return calc_Calculator_divide_raise(call, calc_Error_OVERFLOW,
                                            "the quotient does not fit in 64 bits");
    *result = a / b;
    return PRPC_OK;
}

/* ------------------------------------------------------------- the timer */

/* A deferred slow_add waiting for its time. */
typedef struct slow_call {
    prpc_call *call;
    struct timespec due; /* CLOCK_MONOTONIC */
    int64_t a, b;
    struct slow_call *next;
} slow_call;

static pthread_mutex_t timer_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_cv;
static slow_call *timer_list; /* unordered; a demo holds few */
static bool timer_running;
static bool timer_quit;
static pthread_t timer_thread;

static bool ts_before(const struct timespec *x, const struct timespec *y)
{
    return x->tv_sec < y->tv_sec || (x->tv_sec == y->tv_sec && x->tv_nsec < y->tv_nsec);
}

static void ts_add_ms(struct timespec *t, uint32_t ms)
{
    t->tv_sec += ms / 1000;
    t->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

/* Answers one slow call; the call is freed by the reply. */
static void answer(slow_call *s, bool shutting_down)
{
    if (shutting_down) {
        prpc_call_reply_error(s->call, PRPC_ERR_UNAVAILABLE, NULL);
    } else if (prpc_call_cancelled(s->call)) {
        prpc_call_reply_error(s->call, PRPC_ERR_CANCELLED, NULL);
    } else {
        int64_t r = 0;
        /* calc_add raises through prpc_call_raise, which answers a deferred
         * call at once; a successful sum is sent here. */
        if (calc_add(s->call, s->a, s->b, &r) == PRPC_OK)
            calc_Calculator_slow_add_reply(s->call, r);
    }
}

static void *timer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&timer_mu);
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        /* Wake at least every 50 ms to notice cancelled calls early. */
        struct timespec wake = now;
        ts_add_ms(&wake, 50);
        slow_call **pp = &timer_list;
        while (*pp) {
            slow_call *s = *pp;
            if (timer_quit || !ts_before(&now, &s->due) || prpc_call_cancelled(s->call)) {
                *pp = s->next;
                pthread_mutex_unlock(&timer_mu);
                answer(s, timer_quit);
                prpc_free(s);
                pthread_mutex_lock(&timer_mu);
                pp = &timer_list; /* the list may have changed meanwhile */
                continue;
            }
            if (ts_before(&s->due, &wake))
                wake = s->due;
            pp = &s->next;
        }
        if (timer_quit && timer_list == NULL)
            break;
        int rc = pthread_cond_timedwait(&timer_cv, &timer_mu, &wake);
        (void)rc; /* ETIMEDOUT or a new call: either way, look again */
    }
    pthread_mutex_unlock(&timer_mu);
    return NULL;
}

prpc_status calc_service_start(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&timer_cv, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        return PRPC_ERR_NO_MEMORY;
    timer_quit = false;
    if (pthread_create(&timer_thread, NULL, timer_main, NULL) != 0) {
        pthread_cond_destroy(&timer_cv);
        return PRPC_ERR_NO_MEMORY;
    }
    pthread_mutex_lock(&timer_mu);
    timer_running = true;
    pthread_mutex_unlock(&timer_mu);
    return PRPC_OK;
}

void calc_service_stop(void)
{
    pthread_mutex_lock(&timer_mu);
    bool running = timer_running;
    timer_quit = true;
    timer_running = false;
    pthread_cond_signal(&timer_cv);
    pthread_mutex_unlock(&timer_mu);
    if (running) {
        pthread_join(timer_thread, NULL);
        pthread_cond_destroy(&timer_cv);
    }
}

static prpc_status calc_slow_add(prpc_call *call, int64_t a, int64_t b, uint32_t delay_ms,
                                 int64_t *result)
{
    (void)result; /* answered later by the timer thread */
    slow_call *s = prpc_alloc(sizeof *s);
    if (s == NULL)
        return PRPC_ERR_NO_MEMORY;
    clock_gettime(CLOCK_MONOTONIC, &s->due);
    ts_add_ms(&s->due, delay_ms);
    s->call = call;
    s->a = a;
    s->b = b;
    pthread_mutex_lock(&timer_mu);
    if (!timer_running) {
        pthread_mutex_unlock(&timer_mu);
        prpc_free(s);
        return PRPC_ERR_UNAVAILABLE;
    }
    prpc_call_defer(call);
    s->next = timer_list;
    timer_list = s;
    pthread_cond_signal(&timer_cv);
    pthread_mutex_unlock(&timer_mu);
    return PRPC_OK;
}

const calc_Calculator_ops calc_service_ops = {
    .add = calc_add,
    .divide = calc_divide,
    .slow_add = calc_slow_add,
};
