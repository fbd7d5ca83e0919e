/* The one OS contract of piperpc.
 *
 * Everything above runtime/platform/ reaches the operating system only
 * through this header. Each platform folder (posix/, win32/) implements it
 * and provides "platform_types.h" with the concrete types; CMake puts exactly
 * one platform folder on the include path, so no file needs #ifdef _WIN32.
 *
 * Conventions: functions return prpc_status; OS errors are translated to it
 * once, here. Nothing in this file blocks forever unless it says so. */
#ifndef PRPC_PLATFORM_H
#define PRPC_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "piperpc/status.h"
#include "platform_types.h"

/* ------------------------------------------------------------------ time */

/* Milliseconds on a monotonic clock (never jumps with the wall clock). */
uint64_t prpc__now_ms(void);
/* Microseconds on the same monotonic clock, for latency measurements. */
uint64_t prpc__now_us(void);
/* Sleeps at least ms milliseconds. */
void prpc__sleep_ms(uint32_t ms);

/* --------------------------------------------------------------- threads */

typedef void (*prpc__thread_fn)(void *arg);

/* Starts a thread running fn(arg). */
prpc_status prpc__thread_start(prpc__thread *t, prpc__thread_fn fn, void *arg);
/* Waits for the thread to finish. Joining the calling thread is a bug. */
void prpc__thread_join(prpc__thread *t);
/* True when the caller is thread t (to detect stop() from a pool thread). */
bool prpc__thread_is_self(const prpc__thread *t);

/* ---------------------------------------------------- mutexes, conditions */

/* A plain non-recursive mutex. init never fails on supported platforms. */
void prpc__mutex_init(prpc__mutex *m);
void prpc__mutex_destroy(prpc__mutex *m);
void prpc__mutex_lock(prpc__mutex *m);
void prpc__mutex_unlock(prpc__mutex *m);

/* A condition variable waited on with a monotonic-clock deadline. */
void prpc__cond_init(prpc__cond *c);
void prpc__cond_destroy(prpc__cond *c);
void prpc__cond_signal(prpc__cond *c);
void prpc__cond_broadcast(prpc__cond *c);
/* Waits until signalled (spurious wake-ups happen: re-check the predicate). */
void prpc__cond_wait(prpc__cond *c, prpc__mutex *m);
/* Waits until signalled or prpc__now_ms() >= deadline_ms; returns
 * PRPC_ERR_TIMEOUT once the deadline has passed, PRPC_OK otherwise.
 * A deadline of UINT64_MAX waits forever. */
prpc_status prpc__cond_wait_until(prpc__cond *c, prpc__mutex *m, uint64_t deadline_ms);

/* ------------------------------------------------------------ processes */

/* The number of online processors (at least 1). */
unsigned prpc__cpu_count(void);

#endif /* PRPC_PLATFORM_H */
