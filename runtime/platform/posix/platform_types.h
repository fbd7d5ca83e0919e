/* Concrete types behind platform.h on POSIX systems. */
#ifndef PRPC_PLATFORM_TYPES_H
#define PRPC_PLATFORM_TYPES_H

#include <pthread.h>

typedef struct prpc__thread {
    pthread_t id;
} prpc__thread;

typedef struct prpc__mutex {
    pthread_mutex_t m;
} prpc__mutex;

typedef struct prpc__cond {
    pthread_cond_t c; /* bound to CLOCK_MONOTONIC */
} prpc__cond;

#endif /* PRPC_PLATFORM_TYPES_H */
