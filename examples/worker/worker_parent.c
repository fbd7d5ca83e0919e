/* worker_parent: spawns worker processes over "stdio:" (prpc_client_spawn)
 * and farms out a prime count to them: the range [0, LIMIT) is cut into
 * chunks, each worker has up to two chunks in flight (asynchronous calls),
 * and a finished chunk makes room for the next. The total is checked
 * against a sieve computed here.
 *
 * usage: worker_parent [--workers N] [--limit LIMIT] [WORKER_PROGRAM]
 *   (defaults: 2 workers, LIMIT 2000000, the worker next to this program)
 * Runs unchanged on Windows, where the worker is worker.exe.
 * Exit status 0 when every chunk was counted and the total is right. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "work_client.h"

#define MAX_WORKERS 16
#define CHUNK 100000u
#define PER_WORKER 2 /* chunks in flight per worker */

typedef struct farm farm;

typedef struct worker {
    farm *farm;
    prpc_client *client;
    uint32_t pid;
    unsigned done; /* chunks this worker finished */
} worker;

struct farm {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t limit, next; /* the next chunk starts at next */
    uint64_t total;
    unsigned inflight, failed;
    worker workers[MAX_WORKERS];
};

static void send_next(worker *w);

/* Runs on the client's thread when a chunk's reply arrives. */
static void on_counted(void *user, prpc_status status, const prpc_remote_error *error,
                       const uint64_t *result)
{
    worker *w = user;
    farm *f = w->farm;
    pthread_mutex_lock(&f->mu);
    if (status == PRPC_OK) {
        f->total += *result;
        w->done++;
    } else {
        fprintf(stderr, "worker_parent: a chunk failed: %s%s%s\n", prpc_strerror(status),
                error ? ": " : "", error ? error->message : "");
        f->failed++;
    }
    pthread_mutex_unlock(&f->mu);
    /* The next chunk is counted in flight before this one stops being, so
     * the main thread never sees zero while work remains. An asynchronous
     * callback may start new calls. */
    send_next(w);
    pthread_mutex_lock(&f->mu);
    f->inflight--;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Gives the worker the next chunk, if any is left. */
static void send_next(worker *w)
{
    farm *f = w->farm;
    pthread_mutex_lock(&f->mu);
    if (f->next >= f->limit || f->failed) {
        pthread_mutex_unlock(&f->mu);
        return;
    }
    uint64_t lo = f->next;
    uint64_t hi = f->limit - lo > CHUNK ? lo + CHUNK : f->limit;
    f->next = hi;
    f->inflight++;
    pthread_mutex_unlock(&f->mu);
    prpc_status st = work_Worker_count_primes_async(w->client, lo, hi, on_counted, w);
    if (st != PRPC_OK) {
        pthread_mutex_lock(&f->mu);
        f->inflight--;
        f->failed++;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        fprintf(stderr, "worker_parent: cannot send a chunk: %s\n", prpc_strerror(st));
    }
}

static uint64_t sieve_count(uint64_t limit)
{
    if (limit < 3)
        return 0;
    unsigned char *composite = calloc(limit, 1);
    if (composite == NULL)
        return UINT64_MAX;
    uint64_t n = 0;
    for (uint64_t i = 2; i < limit; i++) {
        if (composite[i])
            continue;
        n++;
        for (uint64_t j = i * i; j < limit && i <= limit / i; j += i)
            composite[j] = 1;
    }
    free(composite);
    return n;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t nworkers = 2, limit = 2000000;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        uint64_t *dst = strcmp(argv[i], "--workers") == 0 ? &nworkers
                        : strcmp(argv[i], "--limit") == 0 ? &limit
                                                          : NULL;
        if (dst == NULL || parse_u64(argv[i + 1], dst) != 0) {
            fprintf(stderr, "usage: worker_parent [--workers N] [--limit LIMIT] [WORKER_PROGRAM]\n");
            return 2;
        }
    }
    if (nworkers < 1 || nworkers > MAX_WORKERS || limit > 1000000000u || argc - i > 1) {
        fprintf(stderr, "usage: worker_parent [--workers 1..16] [--limit 0..1000000000] [WORKER_PROGRAM]\n");
        return 2;
    }
    /* The worker program: given, or the one in this program's directory
     * (argv[0]'s; on Windows the separator may be either slash). Without a
     * directory the bare name is searched as a command is: in PATH on
     * POSIX, in this program's own directory first on Windows. */
    char path[PATH_MAX];
    if (i < argc) {
        snprintf(path, sizeof path, "%s", argv[i]);
    } else {
        snprintf(path, sizeof path, "%s", argv[0]);
        char *slash = strrchr(path, '/'), *back = strrchr(path, '\\');
        if (back != NULL && (slash == NULL || back > slash))
            slash = back;
        size_t dir = slash ? (size_t)(slash - path + 1) : 0;
        snprintf(path + dir, sizeof path - dir, "worker");
    }

    farm f;
    memset(&f, 0, sizeof f);
    pthread_mutex_init(&f.mu, NULL);
    pthread_cond_init(&f.cv, NULL);
    f.limit = limit;
    int rc = 0;
    unsigned started = 0;
    const char *args[] = {path, NULL};
    prpc_client_options o = {0};
    o.default_timeout_ms = 60000;
    for (; started < nworkers; started++) {
        worker *w = &f.workers[started];
        w->farm = &f;
        prpc_status st = prpc_client_spawn(args, &o, &w->client);
        if (st == PRPC_OK)
            st = work_Worker_pid(w->client, NULL, &w->pid);
        if (st != PRPC_OK) {
            fprintf(stderr, "worker_parent: cannot start %s: %s\n", path, prpc_strerror(st));
            prpc_client_destroy(w->client);
            rc = 1;
            break;
        }
        printf("started worker %u (pid %u)\n", started, w->pid);
    }
    if (rc == 0) {
        /* An invalid request first: the worker's IDL error comes back. */
        uint64_t dummy;
        prpc_status st = work_Worker_count_primes(f.workers[0].client, 10, 5, NULL, &dummy);
        printf("count_primes(10, 5): %s (code %" PRId64 ")\n",
               st == PRPC_ERR_REMOTE ? "BAD_RANGE raised as expected" : prpc_strerror(st),
               prpc_client_last_error()->code);
        if (st != PRPC_ERR_REMOTE || prpc_client_last_error()->code != work_Error_BAD_RANGE)
            rc = 1;

        for (unsigned k = 0; k < PER_WORKER; k++)
            for (unsigned w = 0; w < started; w++)
                send_next(&f.workers[w]);
        pthread_mutex_lock(&f.mu);
        while (f.inflight > 0)
            pthread_cond_wait(&f.cv, &f.mu);
        pthread_mutex_unlock(&f.mu);

        for (unsigned w = 0; w < started; w++)
            printf("worker %u (pid %u) counted %u chunk(s)\n", w, f.workers[w].pid,
                   f.workers[w].done);
        uint64_t expect = sieve_count(limit);
        printf("primes below %" PRIu64 ": %" PRIu64 " (local sieve: %" PRIu64 ")\n", limit,
               f.total, expect);
        if (f.failed || f.total != expect || f.next != limit)
            rc = 1;
    }
    /* Destroying a client closes the worker's pipes; the worker sees its
     * input end and exits. The runtime kills a child that is still there
     * after a grace of about a second, so a slow destroy means the worker
     * did not stop by itself. */
    for (unsigned w = 0; w < started; w++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        prpc_client_destroy(f.workers[w].client);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long ms = (long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= 900) {
            fprintf(stderr, "worker_parent: worker %u did not exit by itself (%ld ms)\n", w, ms);
            rc = 1;
        }
    }
    pthread_cond_destroy(&f.cv);
    pthread_mutex_destroy(&f.mu);
    printf("%s\n", rc == 0 ? "all workers done" : "FAILED");
    return rc;
}
