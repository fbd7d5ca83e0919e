/* The client process of the runtime tests.
 *
 *   rt_client calls ENDPOINT N      N echo calls with unique payloads, each
 *                                   checked; exit 0 when all match
 *   rt_client loop ENDPOINT         echo calls until killed
 *   rt_client many ENDPOINT K N     K connections in embed mode (no thread),
 *                                   N asynchronous calls on each, driven by
 *                                   poll(); exit 0 when every reply matches
 *                                   its call exactly once */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_service.h"

static int fail(const char *what, prpc_status st)
{
    fprintf(stderr, "rt_client[%d]: %s: %s\n", (int)getpid(), what, prpc_strerror(st));
    return 1;
}

static int do_calls(const char *ep, long n, int forever)
{
    prpc_client_options o;
    memset(&o, 0, sizeof o);
    o.connect_timeout_ms = 5000;
    prpc_client *c;
    prpc_status st = prpc_client_connect(ep, &o, &c);
    if (st != PRPC_OK)
        return fail("connect", st);
    prpc_arena *arena = prpc_arena_create(0);
    char buf[64];
    for (long i = 0; forever || i < n; i++) {
        int len = snprintf(buf, sizeof buf, "%d:%ld", (int)getpid(), i);
        prpc_bytes out;
        st = rt_echo(c, buf, (size_t)len, arena, &out);
        if (st != PRPC_OK)
            return fail("echo", st);
        if (out.len != (size_t)len || memcmp(out.data, buf, out.len) != 0) {
            fprintf(stderr, "rt_client: mismatched reply\n");
            return 1;
        }
        prpc_arena_destroy(arena);
        arena = prpc_arena_create(0);
    }
    prpc_arena_destroy(arena);
    prpc_client_destroy(c);
    return 0;
}

typedef struct slot {
    uint32_t conn, call;
    int seen;
    int bad;
} slot;

static long g_done;

static void many_done(const prpc_async_result *r)
{
    slot *s = r->user;
    g_done++;
    s->seen++;
    if (r->status != PRPC_OK) {
        s->bad = 1;
        return;
    }
    prpc_bytes b;
    prpc_dec_bytes(r->result, &b);
    char want[32];
    int len = snprintf(want, sizeof want, "%u/%u", s->conn, s->call);
    if (prpc_dec_status(r->result) != PRPC_OK || b.len != (size_t)len ||
        memcmp(b.data, want, b.len) != 0)
        s->bad = 1;
}

typedef struct echo_arg {
    const void *data;
    size_t len;
} echo_arg;

static void enc_echo(prpc_encoder *e, const void *v)
{
    const echo_arg *a = v;
    prpc_enc_bin(e, a->data, a->len);
}

static int do_many(const char *ep, uint32_t k, uint32_t n)
{
    prpc_client_options o;
    memset(&o, 0, sizeof o);
    o.connect_timeout_ms = 10000;
    o.embed = true;
    prpc_client **cs = calloc(k, sizeof *cs);
    slot *slots = calloc((size_t)k * n, sizeof *slots);
    struct pollfd *pf = calloc(k, sizeof *pf);
    if (cs == NULL || slots == NULL || pf == NULL)
        return 1;
    for (uint32_t i = 0; i < k; i++) {
        prpc_status st = prpc_client_connect(ep, &o, &cs[i]);
        if (st != PRPC_OK)
            return fail("connect", st);
        pf[i].fd = (int)prpc_client_fd(cs[i]);
        pf[i].events = POLLIN;
    }
    for (uint32_t i = 0; i < k; i++) {
        for (uint32_t j = 0; j < n; j++) {
            slot *s = &slots[(size_t)i * n + j];
            s->conn = i;
            s->call = j;
            char buf[32];
            int len = snprintf(buf, sizeof buf, "%u/%u", i, j);
            echo_arg a = {buf, (size_t)len};
            prpc_call_options co = {20000, NULL};
            prpc_status st = prpc_client_call_async(cs[i], &rt_methods[RT_ECHO], enc_echo, &a,
                                                    many_done, NULL, s, &co, NULL);
            if (st != PRPC_OK)
                return fail("call_async", st);
        }
    }
    /* n calls and one connect ping per connection come back. */
    long want = (long)k * n;
    int rounds = 0;
    while (g_done < want && rounds < 3000) {
        int r = poll(pf, k, 10);
        rounds++;
        if (r < 0)
            return 1;
        for (uint32_t i = 0; i < k; i++) {
            if (pf[i].revents != 0 || r == 0) {
                prpc_status st = prpc_client_process(cs[i]);
                if (st != PRPC_OK)
                    return fail("process", st);
            }
        }
    }
    int bad = 0;
    for (size_t i = 0; i < (size_t)k * n; i++)
        if (slots[i].seen != 1 || slots[i].bad)
            bad++;
    for (uint32_t i = 0; i < k; i++)
        prpc_client_destroy(cs[i]);
    free(cs);
    free(slots);
    free(pf);
    if (bad != 0 || g_done != want) {
        fprintf(stderr, "rt_client many: %d calls lost, duplicated or mismatched (%ld of %ld)\n",
                bad, g_done, want);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "calls") == 0)
        return do_calls(argv[2], atol(argv[3]), 0);
    if (argc >= 3 && strcmp(argv[1], "loop") == 0)
        return do_calls(argv[2], 0, 1);
    if (argc >= 5 && strcmp(argv[1], "many") == 0)
        return do_many(argv[2], (uint32_t)atol(argv[3]), (uint32_t)atol(argv[4]));
    fprintf(stderr, "usage: rt_client calls|loop|many ENDPOINT ...\n");
    return 2;
}
