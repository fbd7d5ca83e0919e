/* Concrete types behind platform.h on Windows (Win32 threads, slim
 * reader/writer locks, condition variables). */
#ifndef PRPC_PLATFORM_TYPES_H
#define PRPC_PLATFORM_TYPES_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct prpc__thread {
    HANDLE h;
    DWORD id;
} prpc__thread;

typedef struct prpc__mutex {
    SRWLOCK l; /* used exclusively only: a plain non-recursive mutex */
} prpc__mutex;

typedef struct prpc__cond {
    CONDITION_VARIABLE c;
} prpc__cond;

/* A bell (platform.h): an auto-reset event. */
typedef struct prpc__bell {
    HANDLE ev;
} prpc__bell;

/* A task posted to an I/O pool (platform.h); fields are the pool's. The
 * OVERLAPPED is the completion packet's identity: a task is posted to the
 * completion port as itself, with no allocation. */
typedef struct prpc__task {
    OVERLAPPED ov;
    void (*fn)(void *user);
    void *user;
} prpc__task;

/* A timer of an I/O pool (platform.h); fields are the pool's. */
typedef struct prpc__timer {
    struct prpc__iopool *pool;
    void (*fn)(void *user);
    void *user;
    uint64_t deadline_ms;
    size_t heap_index; /* SIZE_MAX while not scheduled */
    bool running;      /* fn is running now */
    DWORD runner;      /* the thread id running fn */
} prpc__timer;

/* Pipes on other machines are reachable as \\HOST\pipe\NAME (platform.h). */
#define PRPC__REMOTE_PIPES 1

#endif /* PRPC_PLATFORM_TYPES_H */
