/* Test helpers: an in-process echo server, message builders, descriptor
 * (handle) counting and unique names, portable through support/test_os.h. */
#include "echo.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/test_os.h"

static void echo_msg(void *user, prpc__tconn *c, prpc_status st, const uint8_t *msg, size_t len)
{
    echo_server *s = user;
    if (st == PRPC_OK) {
        if (s->slow_first)
            prpc__sleep_ms(50);
        prpc_status sst = prpc__tconn_send(c, msg, len);
        prpc__mutex_lock(&s->lock);
        s->echoed++;
        prpc__mutex_unlock(&s->lock);
        if (sst == PRPC_OK && prpc__tconn_recv(c, echo_msg, s) == PRPC_OK)
            return;
        st = sst != PRPC_OK ? sst : PRPC_ERR_CLOSED;
    }
    prpc__tconn_destroy(c);
    prpc__mutex_lock(&s->lock);
    s->ended++;
    s->last_end = st;
    prpc__cond_broadcast(&s->cond);
    prpc__mutex_unlock(&s->lock);
}

static void echo_accept(void *user, prpc__tconn *c)
{
    echo_server *s = user;
    prpc__mutex_lock(&s->lock);
    s->accepted++;
    prpc__tconn_peer(c, &s->last_peer);
    prpc__mutex_unlock(&s->lock);
    prpc_status st = prpc__tconn_recv(c, echo_msg, s);
    if (st != PRPC_OK) {
        prpc__tconn_destroy(c);
        prpc__mutex_lock(&s->lock);
        s->ended++;
        s->last_end = st;
        prpc__cond_broadcast(&s->cond);
        prpc__mutex_unlock(&s->lock);
    }
}

prpc_status echo_start(echo_server *s, const char *listen_ep, const prpc__listen_opts *opts,
                       prpc__err *err)
{
    memset(s, 0, sizeof *s);
    prpc__mutex_init(&s->lock);
    prpc__cond_init(&s->cond);
    s->last_end = PRPC_OK;
    const char *nt = getenv("ECHO_THREADS");
    prpc_status st = prpc__iopool_create(nt ? (unsigned)atoi(nt) : 2, &s->pool);
    if (st != PRPC_OK)
        return st;
    st = prpc__tlistener_open(s->pool, listen_ep, opts, &s->listener, err);
    if (st != PRPC_OK) {
        prpc__iopool_stop(s->pool);
        prpc__iopool_free(s->pool);
        s->pool = NULL;
        return st;
    }
    uint16_t port = prpc__tlistener_port(s->listener);
    if (strncmp(listen_ep, "tcp:", 4) == 0) {
        const char *colon = strrchr(listen_ep, ':');
        snprintf(s->endpoint, sizeof s->endpoint, "%.*s:%u", (int)(colon - listen_ep), listen_ep,
                 (unsigned)port);
    } else {
        snprintf(s->endpoint, sizeof s->endpoint, "%s", listen_ep);
    }
    return prpc__tlistener_start(s->listener, echo_accept, s);
}

unsigned echo_wait_ended(echo_server *s, unsigned n, uint32_t timeout_ms)
{
    uint64_t deadline = prpc__now_ms() + timeout_ms;
    prpc__mutex_lock(&s->lock);
    while (s->ended < n && prpc__cond_wait_until(&s->cond, &s->lock, deadline) == PRPC_OK) {
    }
    unsigned e = s->ended;
    prpc__mutex_unlock(&s->lock);
    return e;
}

void echo_stop(echo_server *s)
{
    if (s->listener)
        prpc__tlistener_destroy(s->listener);
    s->listener = NULL;
    /* Give connections the peers closed a moment to finish their teardown. */
    if (s->pool) {
        for (int i = 0; i < 200; i++) {
            prpc__mutex_lock(&s->lock);
            bool done = s->ended >= s->accepted;
            prpc__mutex_unlock(&s->lock);
            if (done)
                break;
            prpc__sleep_ms(10);
        }
        prpc__iopool_stop(s->pool);
        prpc__iopool_free(s->pool);
    }
    s->pool = NULL;
    prpc__cond_destroy(&s->cond);
    prpc__mutex_destroy(&s->lock);
}

uint8_t *make_msg(size_t total, unsigned seed)
{
    uint8_t *m = malloc(total ? total : 1);
    if (m == NULL)
        return NULL;
    size_t h;
    if (total == 1) {
        m[0] = (uint8_t)(seed & 0x7f);
        return m;
    } else if (total - 2 < 256) {
        m[0] = 0xc4;
        m[1] = (uint8_t)(total - 2);
        h = 2;
    } else if (total - 3 < 65536) {
        m[0] = 0xc5;
        m[1] = (uint8_t)((total - 3) >> 8);
        m[2] = (uint8_t)(total - 3);
        h = 3;
    } else {
        size_t n = total - 5;
        m[0] = 0xc6;
        m[1] = (uint8_t)(n >> 24);
        m[2] = (uint8_t)(n >> 16);
        m[3] = (uint8_t)(n >> 8);
        m[4] = (uint8_t)n;
        h = 5;
    }
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = h; i < total; i++) {
        x = x * 1103515245u + 12345u;
        m[i] = (uint8_t)(x >> 16);
    }
    return m;
}

bool check_msg(const uint8_t *msg, size_t len, unsigned seed)
{
    uint8_t *want = make_msg(len, seed);
    bool ok = want != NULL && memcmp(want, msg, len) == 0;
    free(want);
    return ok;
}

int count_fds(void)
{
    return test_os_open_handles();
}

void unique_name(char *buf, size_t size, const char *tag)
{
    static atomic_uint counter;
    snprintf(buf, size, "t%d-%s-%u", (int)test_os_pid(), tag, atomic_fetch_add(&counter, 1));
}
