/* Small-message round trip over the pipe: transport against a raw
 * SOCK_SEQPACKET ping-pong, measured in the same run. The echo servers run
 * in child processes, as a real server would.
 *
 *   bench_transport [ITERATIONS] [both|raw|prpc] [SIZE]
 *
 * Prints the median and p99 round trip in microseconds and the payload rate.
 * Messages over 60000 bytes are compared with a raw SOCK_STREAM ping-pong
 * (piperpc still uses pipe:, message mode). Not a pass/fail
 * test; run `strace -f -c bench_transport 20000 prpc` to count system calls
 * per call. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "transport/echo.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *ns, size_t n, size_t size)
{
    qsort(ns, n, sizeof *ns, cmp_u64);
    /* MB/s counts the payload once per round trip. */
    printf("%-28s median %9.2f us   p99 %9.2f us   %8.1f MB/s   (%zu round trips)\n", what,
           (double)ns[n / 2] / 1000.0, (double)ns[n * 99 / 100] / 1000.0,
           (double)size / ((double)ns[n / 2] / 1e9) / 1e6, n);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Moves exactly len bytes (a stream may split them). */
static bool xfer(int fd, uint8_t *p, size_t len, bool out)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = out ? send(fd, p + off, len - off, MSG_NOSIGNAL) : recv(fd, p + off, len - off, 0);
        if (n <= 0)
            return false;
        off += (size_t)n;
    }
    return true;
}

/* Small messages: one SEQPACKET datagram each way. Big ones: a SOCK_STREAM
 * socket, the plainest way to move that many bytes. */
static void bench_raw(size_t iters, size_t size, uint64_t *ns)
{
    bool big = size > 60000;
    int sv[2];
    if (socketpair(AF_UNIX, big ? SOCK_STREAM : SOCK_SEQPACKET, 0, sv) != 0) {
        perror("socketpair");
        exit(1);
    }
    uint8_t *buf = malloc(size > 65536 ? size : 65536);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        for (;;) {
            if (big) {
                if (!xfer(sv[1], buf, size, false) || !xfer(sv[1], buf, size, true))
                    _exit(0);
                continue;
            }
            ssize_t n = recv(sv[1], buf, 65536, 0);
            if (n <= 0)
                _exit(0);
            send(sv[1], buf, (size_t)n, MSG_NOSIGNAL);
        }
    }
    close(sv[1]);
    uint8_t *msg = make_msg(size, 1);
    for (size_t i = 0; i < iters + iters / 10; i++) {
        uint64_t t0 = now_ns();
        if (big) {
            xfer(sv[0], msg, size, true);
            xfer(sv[0], buf, size, false);
        } else {
            send(sv[0], msg, size, MSG_NOSIGNAL);
            recv(sv[0], buf, 65536, 0);
        }
        if (i >= iters / 10) /* warm-up excluded */
            ns[i - iters / 10] = now_ns() - t0;
    }
    free(msg);
    free(buf);
    close(sv[0]);
    waitpid(pid, NULL, 0);
}

static void bench_prpc(size_t iters, size_t size, uint64_t *ns)
{
    char name[64], ep[128];
    snprintf(name, sizeof name, "bench-%d", (int)getpid());
    snprintf(ep, sizeof ep, "pipe:%s", name);
    int ready[2];
    if (pipe(ready) != 0)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        echo_server s;
        prpc__err err = {{0}};
        if (echo_start(&s, ep, NULL, &err) != PRPC_OK) {
            fprintf(stderr, "bench: %s\n", err.msg);
            _exit(1);
        }
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        echo_wait_ended(&s, 1, 600000);
        echo_stop(&s);
        _exit(0);
    }
    close(ready[1]);
    char r;
    if (read(ready[0], &r, 1) != 1)
        exit(1);
    close(ready[0]);
    prpc__tconn *c = NULL;
    prpc__err err = {{0}};
    if (prpc__tdial(NULL, ep, NULL, &c, &err) != PRPC_OK) {
        fprintf(stderr, "bench: dial: %s\n", err.msg);
        exit(1);
    }
    uint8_t *msg = make_msg(size, 1);
    for (size_t i = 0; i < iters + iters / 10; i++) {
        uint64_t t0 = now_ns();
        const uint8_t *reply;
        size_t rlen;
        if (prpc__tconn_send(c, msg, size) != PRPC_OK ||
            prpc__tconn_recv_sync(c, UINT64_MAX, &reply, &rlen) != PRPC_OK || rlen != size) {
            fprintf(stderr, "bench: echo failed\n");
            exit(1);
        }
        if (i >= iters / 10)
            ns[i - iters / 10] = now_ns() - t0;
    }
    free(msg);
    prpc__tconn_destroy(c);
    waitpid(pid, NULL, 0);
    char dir[512], lock[700];
    if (prpc__runtime_dir(dir, sizeof dir, NULL) == PRPC_OK) {
        snprintf(lock, sizeof lock, "%s/%s.lock", dir, name);
        unlink(lock);
    }
}

int main(int argc, char **argv)
{
    size_t iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    const char *mode = argc > 2 ? argv[2] : "both";
    size_t size = argc > 3 ? strtoul(argv[3], NULL, 10) : 32;
    if (iters < 10 || size < 1 || size > ((size_t)64 << 20) - 16)
        return 2;
    uint64_t *ns = malloc(iters * sizeof *ns);
    bool raw = strcmp(mode, "prpc") != 0, prpc = strcmp(mode, "raw") != 0;
    /* Alternate the two so drift on a shared machine hits both alike. */
    uint64_t *all_raw = malloc(iters * sizeof *ns), *all_prpc = malloc(iters * sizeof *ns);
    size_t nr = 0, np = 0, chunk = iters / 4 ? iters / 4 : iters;
    for (size_t done = 0; done < iters; done += chunk) {
        size_t k = done + chunk > iters ? iters - done : chunk;
        if (raw) {
            bench_raw(k, size, ns);
            memcpy(all_raw + nr, ns, k * sizeof *ns);
            nr += k;
        }
        if (prpc) {
            bench_prpc(k, size, ns);
            memcpy(all_prpc + np, ns, k * sizeof *ns);
            np += k;
        }
    }
    char label[64];
    if (raw) {
        snprintf(label, sizeof label, "raw %s %zu B", size > 60000 ? "STREAM" : "SEQPACKET", size);
        report(label, all_raw, nr, size);
    }
    if (prpc) {
        snprintf(label, sizeof label, "piperpc pipe: %zu B", size);
        report(label, all_prpc, np, size);
    }
    if (raw && prpc)
        printf("ratio (median) %.3f\n", (double)all_prpc[np / 2] / (double)all_raw[nr / 2]);
    free(ns);
    free(all_raw);
    free(all_prpc);
    return 0;
}
