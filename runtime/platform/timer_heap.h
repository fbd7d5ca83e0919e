/* The binary min-heap of timers, ordered by deadline, that both I/O pools
 * (posix/iopool.c, win32/iopool.c) keep: the pool's lock guards the array;
 * each prpc__timer records its own index (SIZE_MAX while not scheduled) so
 * that cancelling or moving one is O(log n). Only the pool's wait differs
 * between platforms (a timerfd, a waitable timeout), not the heap. */
#ifndef PRPC_PLATFORM_TIMER_HEAP_H
#define PRPC_PLATFORM_TIMER_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "platform/platform.h"

static inline void prpc__heap_swap(prpc__timer **h, size_t a, size_t b)
{
    prpc__timer *t = h[a];
    h[a] = h[b];
    h[b] = t;
    h[a]->heap_index = a;
    h[b]->heap_index = b;
}

/* Moves h[i] towards the root while it is earlier than its parent. */
static inline void prpc__heap_up(prpc__timer **h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p]->deadline_ms <= h[i]->deadline_ms)
            break;
        prpc__heap_swap(h, p, i);
        i = p;
    }
}

/* Moves h[i] towards the leaves while a child of it is earlier. */
static inline void prpc__heap_down(prpc__timer **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l]->deadline_ms < h[m]->deadline_ms)
            m = l;
        if (r < n && h[r]->deadline_ms < h[m]->deadline_ms)
            m = r;
        if (m == i)
            return;
        prpc__heap_swap(h, i, m);
        i = m;
    }
}

/* Takes scheduled timer t out of the heap h of *len timers. */
static inline void prpc__heap_remove(prpc__timer **h, size_t *len, prpc__timer *t)
{
    size_t i = t->heap_index;
    size_t last = --*len;
    if (i != last) {
        prpc__heap_swap(h, i, last);
        prpc__heap_down(h, *len, i);
        prpc__heap_up(h, i);
    }
    t->heap_index = SIZE_MAX;
}

#endif /* PRPC_PLATFORM_TIMER_HEAP_H */
