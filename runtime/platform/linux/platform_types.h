/* Concrete types behind platform.h on Linux: pthreads. */
#ifndef PRPC_PLATFORM_TYPES_H
#define PRPC_PLATFORM_TYPES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct prpc__thread {
    pthread_t id;
} prpc__thread;

typedef struct prpc__mutex {
    pthread_mutex_t m;
} prpc__mutex;

typedef struct prpc__cond {
    pthread_cond_t c; /* bound to CLOCK_MONOTONIC */
} prpc__cond;

/* A bell (platform.h): an eventfd. */
typedef struct prpc__bell {
    int fd;
} prpc__bell;

/* A task posted to an I/O pool (platform.h); fields are the pool's. */
typedef struct prpc__task {
    struct prpc__task *next;
    void (*fn)(void *user);
    void *user;
} prpc__task;

/* A timer of an I/O pool (platform.h); fields are the pool's. */
typedef struct prpc__timer {
    struct prpc__iopool *pool;
    void (*fn)(void *user);
    void *user;
    uint64_t deadline_ms;
    size_t heap_index;  /* SIZE_MAX while not scheduled */
    bool running;       /* fn is running now */
    pthread_t runner;   /* the thread running fn */
} prpc__timer;

#endif /* PRPC_PLATFORM_TYPES_H */
