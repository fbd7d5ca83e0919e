/* The binary min-heap of timers, ordered by deadline, that both I/O pools
 * (linux/iopool.c, win32/iopool.c) keep: the pool's lock guards the array;
 * each prpc__timer records its own index (SIZE_MAX while not scheduled) so
 * that cancelling or moving one is O(log n). Only the pool's wait differs
 * between platforms (a timerfd, a waitable timeout), not the heap. */
#ifndef PRPC_PLATFORM_TIMER_HEAP_H
#define PRPC_PLATFORM_TIMER_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "piperpc/alloc.h"
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

/* Schedules t to fire at deadline_ms: moves it if it is in the heap, else
 * inserts it, growing the array (*heap of *cap entries, *len used). Returns
 * false, leaving t unscheduled, when the array cannot grow. */
static inline bool prpc__heap_schedule(prpc__timer ***heap, size_t *len, size_t *cap,
                                       prpc__timer *t, uint64_t deadline_ms)
{
    if (t->heap_index != SIZE_MAX) {
        t->deadline_ms = deadline_ms;
        prpc__heap_down(*heap, *len, t->heap_index);
        prpc__heap_up(*heap, t->heap_index);
        return true;
    }
    if (*len == *cap) {
        size_t n = *cap ? *cap * 2 : 64;
        prpc__timer **h = prpc_realloc(*heap, n * sizeof *h);
        if (h == NULL)
            return false;
        *heap = h;
        *cap = n;
    }
    t->deadline_ms = deadline_ms;
    t->heap_index = *len;
    (*heap)[(*len)++] = t;
    prpc__heap_up(*heap, t->heap_index);
    return true;
}

#endif /* PRPC_PLATFORM_TIMER_HEAP_H */
