/* The RPC benchmark: for each transport, piperpc calls through typed stubs
 * side by side with a raw ping-pong of the same bytes over the same socket
 * type, measured in the same run.
 *
 *   bench_rpc [--only small|rate|big] [pipe|pipe_byte|tcp ...]   (default: all three)
 *
 * Per transport it prints the small-call round trip (median, p99), calls/s
 * with 1 and 4 client processes, and 1 MiB and 16 MiB round trips (MB/s),
 * each with the raw figure and the ratio. Servers and client processes are
 * this program re-executed (--serve, --client, --raw-serve). Not a
 * pass/fail test; docs/performance.md has the commands and the figures. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/rt_service.h"

extern char **environ;
static const char *g_self;

#define SMALL_CALLS 5000
#define RATE_MS 1000
#define CHUNK 65536

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------ raw side */

static int raw_type(const char *tp)
{
    return strcmp(tp, "pipe") == 0 ? SOCK_SEQPACKET : SOCK_STREAM;
}

/* Echoes whatever arrives, piece by piece, until the peer closes. */
static void raw_echo(int fd)
{
    static char buf[CHUNK];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (w <= 0)
                return;
            off += w;
        }
    }
}

/* A connected pair of the transport's socket type; the far end is served
 * by a child process. Returns the near end. */
static int raw_connect(const char *tp, pid_t *child)
{
    int fds[2];
    if (strcmp(tp, "tcp") == 0) {
        int l = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof a;
        bind(l, (struct sockaddr *)&a, sizeof a);
        listen(l, 4);
        getsockname(l, (struct sockaddr *)&a, &al);
        fds[0] = socket(AF_INET, SOCK_STREAM, 0);
        connect(fds[0], (struct sockaddr *)&a, sizeof a);
        fds[1] = accept(l, NULL, NULL);
        close(l);
        int one = 1;
        setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    } else if (socketpair(AF_UNIX, raw_type(tp), 0, fds) != 0) {
        perror("socketpair");
        exit(1);
    }
    *child = fork();
    if (*child == 0) {
        close(fds[0]);
        raw_echo(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    return fds[0];
}

/* One raw round trip of len bytes: send and receive interleaved, so big
 * payloads never deadlock on full socket buffers. */
static void raw_round(int fd, const char *out, char *in, size_t len)
{
    size_t sent = 0, got = 0;
    while (got < len) {
        struct pollfd pf = {fd, POLLIN | (sent < len ? POLLOUT : 0), 0};
        if (len > CHUNK)
            poll(&pf, 1, -1);
        else
            pf.revents = sent < len ? POLLOUT : POLLIN;
        if (sent < len && (pf.revents & POLLOUT)) {
            size_t n = len - sent < CHUNK ? len - sent : CHUNK;
            ssize_t w = send(fd, out + sent, n, MSG_NOSIGNAL | (len > CHUNK ? MSG_DONTWAIT : 0));
            if (w > 0)
                sent += (size_t)w;
            continue;
        }
        ssize_t r = recv(fd, in + got, len - got < CHUNK ? len - got : CHUNK,
                         len > CHUNK ? MSG_DONTWAIT : 0);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EINTR))
            exit(1);
    }
}

/* --------------------------------------------------------- processes */

static pid_t spawn_self(const char *const *args, int *out_fd)
{
    int p[2];
    if (pipe(p) != 0)
        exit(1);
    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "%d", p[1]);
    const char *argv[16];
    int n = 0;
    argv[n++] = g_self;
    for (int i = 0; args[i] != NULL; i++)
        argv[n++] = args[i];
    argv[n++] = fdarg;
    argv[n] = NULL;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    if (posix_spawn(&pid, g_self, &fa, NULL, (char *const *)argv, environ) != 0)
        exit(1);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    *out_fd = p[0];
    return pid;
}

static void read_line(int fd, char *buf, size_t size)
{
    size_t got = 0;
    while (got < size - 1) {
        ssize_t r = read(fd, buf + got, 1);
        if (r <= 0 || buf[got] == '\n')
            break;
        got++;
    }
    buf[got] = '\0';
}

/* --serve ENDPOINT FD: a server on its own pool, until SIGTERM. */
static prpc_server *g_server;
static void on_term(int sig)
{
    (void)sig;
    prpc_server_stop_async(g_server);
}

static int serve(const char *ep, int fd)
{
    prpc_server_options o;
    memset(&o, 0, sizeof o);
    o.limits.max_message_size = 64u << 20;
    if (prpc_server_create(&o, &g_server) != PRPC_OK || rt_register(g_server) != PRPC_OK ||
        prpc_server_listen(g_server, ep) != PRPC_OK || prpc_server_start(g_server) != PRPC_OK) {
        fprintf(stderr, "bench server: %s\n", prpc_server_error(g_server));
        return 1;
    }
    signal(SIGTERM, on_term);
    char bound[1200];
    prpc_server_endpoint(g_server, 0, bound, sizeof bound);
    dprintf(fd, "%s\n", bound);
    close(fd);
    prpc_server_run(g_server);
    prpc_server_destroy(g_server);
    return 0;
}

static prpc_client *connect_or_die(const char *ep)
{
    prpc_client_options o;
    memset(&o, 0, sizeof o);
    o.connect_timeout_ms = 5000;
    o.limits.max_message_size = 64u << 20;
    prpc_client *c;
    if (prpc_client_connect(ep, &o, &c) != PRPC_OK) {
        fprintf(stderr, "bench: cannot connect to %s\n", ep);
        exit(1);
    }
    return c;
}

/* --client ENDPOINT MS FD: calls for MS ms, prints the count. */
static int client(const char *ep, int ms, int fd)
{
    prpc_client *c = connect_or_die(ep);
    uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
    long n = 0;
    int64_t sum;
    while (now_ns() < end) {
        if (rt_add(c, n, 1, &sum) != PRPC_OK)
            return 1;
        n++;
    }
    dprintf(fd, "%ld\n", n);
    prpc_client_destroy(c);
    return 0;
}

/* --raw-client TRANSPORT MS FD: the same with raw ping-pongs of len bytes
 * on a private connection to a private echo process. */
static int raw_client(const char *tp, int ms, int fd, size_t len)
{
    pid_t child;
    int s = raw_connect(tp, &child);
    char out[64] = {0}, in[64];
    uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
    long n = 0;
    while (now_ns() < end) {
        raw_round(s, out, in, len);
        n++;
    }
    close(s);
    waitpid(child, NULL, 0);
    dprintf(fd, "%ld\n", n);
    return 0;
}

/* ------------------------------------------------------------ measure */

/* Small calls and raw ping-pongs of the same size, in alternating blocks of
 * SMALL_BLOCK, so that both see the same load on a shared machine (a burst
 * of other work slows both sides of the ratio instead of one) while each
 * still runs in a tight loop of its own. */
#define SMALL_BLOCK 250
static void small_latency(prpc_client *c, int s, size_t len, double out[4])
{
    static uint64_t ns[SMALL_CALLS], raw_ns[SMALL_CALLS];
    char rout[64] = {0}, rin[64];
    int64_t sum;
    for (int i = 0; i < SMALL_BLOCK; i++) { /* warm-up */
        raw_round(s, rout, rin, len);
        rt_add(c, i, 1, &sum);
    }
    for (int b = 0; b < SMALL_CALLS; b += SMALL_BLOCK) {
        for (int i = b; i < b + SMALL_BLOCK; i++) {
            uint64_t t0 = now_ns();
            if (rt_add(c, i, 1, &sum) != PRPC_OK)
                exit(1);
            ns[i] = now_ns() - t0;
        }
        for (int i = b; i < b + SMALL_BLOCK; i++) {
            uint64_t t0 = now_ns();
            raw_round(s, rout, rin, len);
            raw_ns[i] = now_ns() - t0;
        }
    }
    qsort(ns, SMALL_CALLS, sizeof ns[0], cmp_u64);
    qsort(raw_ns, SMALL_CALLS, sizeof raw_ns[0], cmp_u64);
    out[0] = (double)ns[SMALL_CALLS / 2] / 1000.0;
    out[1] = (double)ns[SMALL_CALLS * 99 / 100] / 1000.0;
    out[2] = (double)raw_ns[SMALL_CALLS / 2] / 1000.0;
    out[3] = (double)raw_ns[SMALL_CALLS * 99 / 100] / 1000.0;
}

static double rate(const char *mode, const char *arg, int nclients, size_t len)
{
    pid_t pids[8];
    int fds[8];
    char ms[16], lenarg[16];
    snprintf(ms, sizeof ms, "%d", RATE_MS);
    snprintf(lenarg, sizeof lenarg, "%zu", len);
    for (int i = 0; i < nclients; i++) {
        const char *args[] = {mode, arg, ms, lenarg, NULL};
        pids[i] = spawn_self(args, &fds[i]);
    }
    long total = 0;
    for (int i = 0; i < nclients; i++) {
        char line[64];
        read_line(fds[i], line, sizeof line);
        total += atol(line);
        close(fds[i]);
        waitpid(pids[i], NULL, 0);
    }
    return (double)total * 1000.0 / RATE_MS;
}

static double big_prpc(prpc_client *c, size_t size, int rounds)
{
    char *buf = malloc(size);
    memset(buf, 0x5a, size);
    prpc_arena *arena = prpc_arena_create(0);
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < rounds; i++) {
        prpc_bytes out;
        uint64_t t0 = now_ns();
        if (rt_echo(c, buf, size, arena, &out) != PRPC_OK || out.len != size)
            exit(1);
        uint64_t t = now_ns() - t0;
        if (i > 0 && t < best) /* the first round warms the buffers */
            best = t;
        prpc_arena_reset(arena);
    }
    prpc_arena_destroy(arena);
    free(buf);
    return (double)size / ((double)best / 1e9) / 1e6;
}

static double big_raw(int s, size_t size, int rounds)
{
    char *out = malloc(size), *in = malloc(size);
    memset(out, 0x5a, size);
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < rounds; i++) {
        uint64_t t0 = now_ns();
        raw_round(s, out, in, size);
        uint64_t t = now_ns() - t0;
        if (i > 0 && t < best)
            best = t;
    }
    free(out);
    free(in);
    return (double)size / ((double)best / 1e9) / 1e6;
}

/* Which measurements run (--only): all by default. */
static bool g_small = true, g_rate = true, g_big = true;

static void bench_transport(const char *tp)
{
    char want[256];
    if (strcmp(tp, "pipe") == 0)
        snprintf(want, sizeof want, "pipe:bench-%d", (int)getpid());
    else if (strcmp(tp, "pipe_byte") == 0)
        snprintf(want, sizeof want, "pipe:bench-%d?mode=byte", (int)getpid());
    else
        snprintf(want, sizeof want, "tcp:127.0.0.1:0");
    int fd;
    const char *args[] = {"--serve", want, NULL};
    pid_t server = spawn_self(args, &fd);
    char ep[1200];
    read_line(fd, ep, sizeof ep);
    close(fd);

    prpc_client *c = connect_or_die(ep);
    pid_t child;
    int s = raw_connect(tp, &child);
    /* The raw ping-pong moves as many bytes as an rt.Echo.add request. */
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_request(&enc, 100, "rt.Echo.add", 11, 2);
    prpc_enc_int(&enc, 1000);
    prpc_enc_int(&enc, 1);
    size_t small = enc.len;
    prpc_enc_free(&enc);

    if (g_small) {
        double t[4];
        small_latency(c, s, small, t);
        printf("%-10s small call       median %7.2f us  p99 %7.2f us | raw %7.2f / %7.2f us | "
               "ratio %.2fx\n",
               tp, t[0], t[1], t[2], t[3], t[0] / t[2]);
        fflush(stdout);
    }
    for (int n = 1; g_rate && n <= 4; n *= 4) {
        double pr = rate("--client", ep, n, small);
        double rr = rate("--raw-client", tp, n, small);
        printf("%-10s %d client%s        %9.0f calls/s | raw %9.0f calls/s | %.0f%%\n", tp, n,
               n > 1 ? "s" : " ", pr, rr, 100.0 * pr / rr);
        fflush(stdout);
    }
    size_t sizes[2] = {1u << 20, 16u << 20};
    int rounds[2] = {20, 4};
    for (int k = 0; g_big && k < 2; k++) {
        double pb = big_prpc(c, sizes[k], rounds[k]);
        double rb = big_raw(s, sizes[k], rounds[k]);
        printf("%-10s %2zu MiB echo      %9.0f MB/s    | raw %9.0f MB/s    | %.0f%%\n", tp,
               sizes[k] >> 20, pb, rb, 100.0 * pb / rb);
        fflush(stdout);
    }
    close(s);
    waitpid(child, NULL, 0);
    prpc_client_destroy(c);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
}

int main(int argc, char **argv)
{
    g_self = argv[0];
    signal(SIGPIPE, SIG_IGN);
    if (argc == 4 && strcmp(argv[1], "--serve") == 0)
        return serve(argv[2], atoi(argv[3]));
    if (argc == 6 && strcmp(argv[1], "--client") == 0)
        return client(argv[2], atoi(argv[3]), atoi(argv[5]));
    if (argc == 6 && strcmp(argv[1], "--raw-client") == 0)
        return raw_client(argv[2], atoi(argv[3]), atoi(argv[5]), (size_t)atol(argv[4]));
    if (argc == 3 && strcmp(argv[1], "--calls") == 0) {
        /* For strace: N small calls on pipe:, no raw side. */
        int fd;
        char want[128];
        snprintf(want, sizeof want, "pipe:bench-%d", (int)getpid());
        const char *args[] = {"--serve", want, NULL};
        pid_t server = spawn_self(args, &fd);
        char ep[1200];
        read_line(fd, ep, sizeof ep);
        close(fd);
        prpc_client *c = connect_or_die(ep);
        int64_t sum;
        for (long i = 0; i < atol(argv[2]); i++)
            rt_add(c, i, 1, &sum);
        prpc_client_destroy(c);
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
        return 0;
    }
    const char *all[] = {"pipe", "pipe_byte", "tcp"};
    if (argc >= 3 && strcmp(argv[1], "--only") == 0) {
        g_small = strcmp(argv[2], "small") == 0;
        g_rate = strcmp(argv[2], "rate") == 0;
        g_big = strcmp(argv[2], "big") == 0;
        /* Not a measurement: shift onto the bad word so the usage follows. */
        int skip = (!g_small && !g_rate && !g_big) ? 1 : 2;
        argc -= skip;
        argv += skip;
    }
    /* Every argument must name a transport: anything else (--help, a typo)
     * gets the usage rather than a run of some other transport. */
    for (int i = 1; i < argc; i++) {
        bool known = false;
        for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
            known = known || strcmp(argv[i], all[k]) == 0;
        if (!known) {
            bool help = strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
            fprintf(help ? stdout : stderr,
                    "usage: bench_rpc [--only small|rate|big] [pipe|pipe_byte|tcp ...]\n"
                    "                                            (default: everything, all three)\n"
                    "       bench_rpc --calls N                  (a steady stream on pipe:, for strace)\n");
            return help ? 0 : 2;
        }
    }
    int n = argc > 1 ? argc - 1 : 3;
    for (int i = 0; i < n; i++)
        bench_transport(argc > 1 ? argv[i + 1] : all[i]);
    return 0;
}
