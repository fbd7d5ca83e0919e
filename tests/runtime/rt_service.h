/* The service the runtime tests and the benchmark serve: a hand-written
 * equivalent of what idlc generates for
 *
 *   module rt;
 *   interface Echo {
 *     bytes echo(bytes data);
 *     i64 add(i64 a, i64 b);
 *     u32 sleep(u32 ms);          // logs ms, sleeps ms; returns early, cancelled,
 *                                 // if the call is cancelled
 *     void hold();                // deferred until release()
 *     u32 release();              // answers every held call; returns how many
 *     void nest(any value);
 *     u64[] stats();              // [live allocations, live bytes, open fds]
 *     u32 pid();
 *     u32 work(u32 ms, u32 tag);  // logs tag, sleeps ms (cancellable), returns tag
 *     [idempotent] u32 work_idem(u32 ms, u32 tag);  // the same, safe to re-send
 *     u32 emit(u32 n);            // broadcasts tick(n); returns to how many
 *     event tick(u32 n);
 *   }
 *
 * The descriptors serve both sides; the invoke glue is server-side only. */
#ifndef RT_SERVICE_H
#define RT_SERVICE_H

#include <stdint.h>

#include "piperpc/client.h"
#include "piperpc/server.h"

enum {
    RT_ECHO,
    RT_ADD,
    RT_SLEEP,
    RT_HOLD,
    RT_RELEASE,
    RT_NEST,
    RT_STATS,
    RT_PID,
    RT_WORK,
    RT_WORK_IDEM,
    RT_EMIT,
    RT_NMETHODS
};

extern const prpc_method_desc rt_methods[RT_NMETHODS];
extern const prpc_service_desc rt_service;
extern const prpc_event_desc rt_tick_event;

/* Registers rt.Echo on a server. */
prpc_status rt_register(prpc_server *server);

/* Typed client calls. echo's result lives in arena. */
prpc_status rt_echo(prpc_client *c, const void *data, size_t len, prpc_arena *arena,
                    prpc_bytes *out);
prpc_status rt_add(prpc_client *c, int64_t a, int64_t b, int64_t *out);
prpc_status rt_sleep(prpc_client *c, uint32_t ms, uint32_t timeout_ms, uint32_t *out);
prpc_status rt_hold_async(prpc_client *c, prpc_async_fn done, void *user);
prpc_status rt_release(prpc_client *c, uint32_t *out);
prpc_status rt_nest(prpc_client *c, uint32_t depth);
prpc_status rt_stats(prpc_client *c, uint64_t out[3]);
prpc_status rt_pid(prpc_client *c, uint32_t *out);

/* work and work_idem append "<tag>\n" to this file when they start, sleep
 * appends "<ms>\n" (NULL: nowhere), so a test sees how often a call ran,
 * or that it is running, across server processes. */
void rt_set_exec_log(const char *path);

/* How many sleep calls this process's servers are running now: a test with
 * a server in its own process waits for this instead of guessing how long
 * a call takes to get there. */
int rt_sleeping(void);

/* A counting allocator for the server process (live allocations, bytes). */
void rt_install_counting_allocator(void);
void rt_alloc_counts(uint64_t *allocs, uint64_t *bytes);
/* Open descriptors of this process (Linux /proc). */
uint32_t rt_open_fds(void);

#endif /* RT_SERVICE_H */
