/* The rt.Echo test service: descriptors, server glue and handlers, typed
 * client calls, and the counting allocator the fault tests read. */
#define _GNU_SOURCE
#include "rt_service.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* --------------------------------------------------------------- coders */

typedef struct rt_bytes_arg {
    const void *data;
    size_t len;
} rt_bytes_arg;

static void enc_bytes_arg(prpc_encoder *e, const void *v)
{
    const rt_bytes_arg *a = v;
    prpc_enc_bin(e, a->data, a->len);
}

static void enc_bytes(prpc_encoder *e, const void *v)
{
    const prpc_bytes *b = v;
    prpc_enc_bin(e, b->data, b->len);
}

static void dec_bytes(prpc_decoder *d, void *v)
{
    prpc_dec_bytes(d, v);
}

static void enc_i64(prpc_encoder *e, const void *v)
{
    prpc_enc_int(e, *(const int64_t *)v);
}

static void enc_i64_pair(prpc_encoder *e, const void *v)
{
    const int64_t *p = v;
    prpc_enc_int(e, p[0]);
    prpc_enc_int(e, p[1]);
}

static void dec_i64(prpc_decoder *d, void *v)
{
    prpc_dec_i64(d, v);
}

static void enc_u32(prpc_encoder *e, const void *v)
{
    prpc_enc_uint(e, *(const uint32_t *)v);
}

static void dec_u32(prpc_decoder *d, void *v)
{
    prpc_dec_u32(d, v);
}

static void enc_u64x3(prpc_encoder *e, const void *v)
{
    const uint64_t *p = v;
    prpc_enc_array(e, 3);
    for (int i = 0; i < 3; i++)
        prpc_enc_uint(e, p[i]);
}

static void dec_u64x3(prpc_decoder *d, void *v)
{
    uint64_t *p = v;
    prpc_dec_array_exact(d, 3);
    for (int i = 0; i < 3; i++)
        prpc_dec_u64(d, &p[i]);
}

/* Nested arrays: depth levels, the innermost holding 1. */
static void enc_nest(prpc_encoder *e, const void *v)
{
    uint32_t depth = *(const uint32_t *)v;
    for (uint32_t i = 0; i < depth; i++)
        prpc_enc_array(e, 1);
    prpc_enc_uint(e, 1);
}

/* ------------------------------------------------------------- handlers */

static prpc_status inv_echo(prpc_call *call, const void *ops, prpc_decoder *p)
{
    (void)ops;
    prpc_bytes b;
    prpc_dec_bytes(p, &b);
    if (prpc_dec_status(p) != PRPC_OK)
        return prpc_dec_status(p);
    return prpc_call_reply(call, enc_bytes, &b);
}

static prpc_status inv_add(prpc_call *call, const void *ops, prpc_decoder *p)
{
    (void)ops;
    int64_t a = 0, b = 0;
    prpc_dec_i64(p, &a);
    prpc_dec_i64(p, &b);
    if (prpc_dec_status(p) != PRPC_OK)
        return prpc_dec_status(p);
    int64_t r = (int64_t)((uint64_t)a + (uint64_t)b);
    return prpc_call_reply(call, enc_i64, &r);
}

static void sleep_1ms(void)
{
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

static const char *exec_log;

void rt_set_exec_log(const char *path)
{
    exec_log = path;
}

/* Appends "<n>\n" to the execution log, if there is one. */
static void exec_log_append(uint32_t n)
{
    if (exec_log == NULL)
        return;
    /* One small append: whole lines even from several processes. */
    FILE *f = fopen(exec_log, "a");
    if (f != NULL) {
        fprintf(f, "%u\n", n);
        fclose(f);
    }
}

static atomic_int sleeping;

int rt_sleeping(void)
{
    return atomic_load(&sleeping);
}

static prpc_status inv_sleep(prpc_call *call, const void *ops, prpc_decoder *p)
{
    (void)ops;
    uint32_t ms = 0;
    prpc_dec_u32(p, &ms);
    if (prpc_dec_status(p) != PRPC_OK)
        return prpc_dec_status(p);
    atomic_fetch_add(&sleeping, 1);
    exec_log_append(ms);
    prpc_status st = PRPC_OK;
    for (uint32_t i = 0; i < ms && st == PRPC_OK; i++) {
        if (prpc_call_cancelled(call))
            st = PRPC_ERR_CANCELLED;
        else
            sleep_1ms();
    }
    atomic_fetch_sub(&sleeping, 1);
    return st == PRPC_OK ? prpc_call_reply(call, enc_u32, &ms) : st;
}

static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;
static prpc_call **held;
static size_t nheld, capheld;

static prpc_status inv_hold(prpc_call *call, const void *ops, prpc_decoder *p)
{
    (void)ops;
    (void)p;
    pthread_mutex_lock(&held_mu);
    if (nheld == capheld) {
        size_t n = capheld ? capheld * 2 : 16;
        prpc_call **h = realloc(held, n * sizeof *h);
        if (h == NULL) {
            pthread_mutex_unlock(&held_mu);
            return PRPC_ERR_NO_MEMORY;
        }
        held = h;
        capheld = n;
    }
    prpc_call_defer(call);
    held[nheld++] = call;
    pthread_mutex_unlock(&held_mu);
    return PRPC_OK;
}

static prpc_status inv_release(prpc_call *call, const void *ops, prpc_decoder *p)
{
    (void)ops;
    (void)p;
    pthread_mutex_lock(&held_mu);
    prpc_call **list = held;
    uint32_t n = (uint32_t)nheld;
    held = NULL;
    nheld = capheld = 0;
    pthread_mutex_unlock(&held_mu);
    for (uint32_t i = 0; i < n; i++)
        (void)prpc_call_reply(list[i], NULL, NULL);
    free(list);
    return prpc_call_reply(call, enc_u32, &n);
}

static prpc_status inv_nest(prpc_call *call, const void *ops, prpc_decoder *p)
{
    (void)ops;
    prpc_any v;
    prpc_dec_any(p, &v);
    if (prpc_dec_status(p) != PRPC_OK)
        return prpc_dec_status(p);
    return prpc_call_reply(call, NULL, NULL);
}

static prpc_status inv_stats(prpc_call *call, const void *ops, prpc_decoder *p)
{
    (void)ops;
    (void)p;
    uint64_t v[3];
    rt_alloc_counts(&v[0], &v[1]);
    v[2] = rt_open_fds();
    return prpc_call_reply(call, enc_u64x3, v);
}

typedef struct work_job {
    prpc_call *call;
    uint32_t ms, tag;
} work_job;

static void *work_main(void *arg)
{
    work_job *j = arg;
    uint32_t i = 0;
    while (i < j->ms && !prpc_call_cancelled(j->call)) {
        sleep_1ms();
        i++;
    }
    if (i < j->ms)
        (void)prpc_call_reply_error(j->call, PRPC_ERR_CANCELLED, "cancelled");
    else
        (void)prpc_call_reply(j->call, enc_u32, &j->tag);
    free(j);
    return NULL;
}

/* Deferred to a thread of its own, so that several calls of one connection
 * run at once (a connection starts its calls one after the other). */
static prpc_status inv_work(prpc_call *call, const void *ops, prpc_decoder *p)
{
    (void)ops;
    uint32_t ms = 0, tag = 0;
    prpc_dec_u32(p, &ms);
    prpc_dec_u32(p, &tag);
    if (prpc_dec_status(p) != PRPC_OK)
        return prpc_dec_status(p);
    exec_log_append(tag);
    work_job *j = malloc(sizeof *j);
    if (j == NULL)
        return PRPC_ERR_NO_MEMORY;
    j->call = call;
    j->ms = ms;
    j->tag = tag;
    prpc_call_defer(call);
    pthread_t th;
    if (pthread_create(&th, NULL, work_main, j) != 0) {
        free(j);
        return prpc_call_reply_error(call, PRPC_ERR_NO_MEMORY, "no thread");
    }
    pthread_detach(th);
    return PRPC_OK;
}

static prpc_server *emit_server; /* the server rt_register last saw */

static void enc_u32_event(prpc_encoder *e, const void *v)
{
    prpc_enc_uint(e, *(const uint32_t *)v);
}

static prpc_status inv_emit(prpc_call *call, const void *ops, prpc_decoder *p);

static prpc_status inv_pid(prpc_call *call, const void *ops, prpc_decoder *p)
{
    (void)ops;
    (void)p;
    uint32_t pid = (uint32_t)getpid();
    return prpc_call_reply(call, enc_u32, &pid);
}

const prpc_method_desc rt_methods[RT_NMETHODS] = {
    {"echo", "rt.Echo.echo", "bytes echo(bytes)", NULL, PRPC_METHOD_IDEMPOTENT, 0, 1},
    {"add", "rt.Echo.add", "i64 add(i64,i64)", NULL, PRPC_METHOD_IDEMPOTENT, 0, 2},
    {"sleep", "rt.Echo.sleep", "u32 sleep(u32)", NULL, 0, 0, 1},
    {"hold", "rt.Echo.hold", "void hold()", NULL, 0, 0, 0},
    {"release", "rt.Echo.release", "u32 release()", NULL, 0, 0, 0},
    {"nest", "rt.Echo.nest", "void nest(any)", NULL, 0, 0, 1},
    {"stats", "rt.Echo.stats", "u64[] stats()", NULL, 0, 0, 0},
    {"pid", "rt.Echo.pid", "u32 pid()", NULL, 0, 0, 0},
    {"work", "rt.Echo.work", "u32 work(u32,u32)", NULL, 0, 0, 2},
    {"work_idem", "rt.Echo.work_idem", "u32 work_idem(u32,u32)", NULL, PRPC_METHOD_IDEMPOTENT, 0,
     2},
    {"emit", "rt.Echo.emit", "u32 emit(u32)", NULL, 0, 0, 1},
};
/* The glue of each method, in the order of rt_methods. */
static const prpc_invoke_fn rt_invoke[RT_NMETHODS] = {
    inv_echo, inv_add, inv_sleep, inv_hold, inv_release, inv_nest,
    inv_stats, inv_pid, inv_work, inv_work, inv_emit,
};

const prpc_event_desc rt_tick_event = {"tick", "rt.Echo.tick", "event tick(u32 n)", NULL, 1};

const prpc_service_desc rt_service = {
    "rt", "Echo", "rt.Echo", NULL, 1, 0, 0x72744563686f3031ull, rt_methods, RT_NMETHODS,
    &rt_tick_event, 1};

static prpc_status inv_emit(prpc_call *call, const void *ops, prpc_decoder *p)
{
    (void)ops;
    uint32_t n = 0;
    prpc_dec_u32(p, &n);
    if (prpc_dec_status(p) != PRPC_OK)
        return prpc_dec_status(p);
    size_t sent = 0;
    prpc_status st = prpc_server_broadcast(emit_server, &rt_tick_event, enc_u32_event, &n, &sent);
    if (st != PRPC_OK)
        return st;
    uint32_t count = (uint32_t)sent;
    return prpc_call_reply(call, enc_u32, &count);
}

static const int rt_ops_token = 1;

prpc_status rt_register(prpc_server *server)
{
    emit_server = server;
    return prpc_server_register(server, &rt_service, rt_invoke, &rt_ops_token, NULL);
}

/* --------------------------------------------------------- client calls */

prpc_status rt_echo(prpc_client *c, const void *data, size_t len, prpc_arena *arena,
                    prpc_bytes *out)
{
    rt_bytes_arg a = {data, len};
    return prpc_client_call(c, &rt_methods[RT_ECHO], enc_bytes_arg, &a, dec_bytes, out, arena,
                            NULL);
}

prpc_status rt_add(prpc_client *c, int64_t a, int64_t b, int64_t *out)
{
    int64_t args[2] = {a, b};
    return prpc_client_call(c, &rt_methods[RT_ADD], enc_i64_pair, args, dec_i64, out, NULL,
                            NULL);
}

prpc_status rt_sleep(prpc_client *c, uint32_t ms, uint32_t timeout_ms, uint32_t *out)
{
    prpc_call_options o = {timeout_ms, NULL};
    return prpc_client_call(c, &rt_methods[RT_SLEEP], enc_u32, &ms, dec_u32, out, NULL, &o);
}

prpc_status rt_hold_async(prpc_client *c, prpc_async_fn done, void *user)
{
    return prpc_client_call_async(c, &rt_methods[RT_HOLD], NULL, NULL, done, NULL, user, NULL,
                                  NULL);
}

prpc_status rt_release(prpc_client *c, uint32_t *out)
{
    return prpc_client_call(c, &rt_methods[RT_RELEASE], NULL, NULL, dec_u32, out, NULL, NULL);
}

prpc_status rt_nest(prpc_client *c, uint32_t depth)
{
    return prpc_client_call(c, &rt_methods[RT_NEST], enc_nest, &depth, NULL, NULL, NULL, NULL);
}

prpc_status rt_stats(prpc_client *c, uint64_t out[3])
{
    return prpc_client_call(c, &rt_methods[RT_STATS], NULL, NULL, dec_u64x3, out, NULL, NULL);
}

prpc_status rt_pid(prpc_client *c, uint32_t *out)
{
    return prpc_client_call(c, &rt_methods[RT_PID], NULL, NULL, dec_u32, out, NULL, NULL);
}

/* ------------------------------------------------- counting allocator */

static atomic_ullong live_allocs, live_bytes;

typedef union hdr {
    size_t size;
    max_align_t align;
} hdr;

static void *count_alloc(void *user, size_t size)
{
    (void)user;
    hdr *h = malloc(sizeof *h + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    atomic_fetch_add(&live_allocs, 1);
    atomic_fetch_add(&live_bytes, size);
    return h + 1;
}

static void count_free(void *user, void *ptr)
{
    (void)user;
    if (ptr == NULL)
        return;
    hdr *h = (hdr *)ptr - 1;
    atomic_fetch_sub(&live_allocs, 1);
    atomic_fetch_sub(&live_bytes, h->size);
    free(h);
}

static void *count_realloc(void *user, void *ptr, size_t size)
{
    if (ptr == NULL)
        return count_alloc(user, size);
    hdr *h = (hdr *)ptr - 1;
    size_t old = h->size;
    hdr *n = realloc(h, sizeof *n + size);
    if (n == NULL)
        return NULL;
    n->size = size;
    atomic_fetch_sub(&live_bytes, old);
    atomic_fetch_add(&live_bytes, size);
    return n + 1;
}

void rt_install_counting_allocator(void)
{
    static const prpc_allocator a = {count_alloc, count_realloc, count_free, NULL};
    prpc_set_allocator(&a);
}

void rt_alloc_counts(uint64_t *allocs, uint64_t *bytes)
{
    *allocs = atomic_load(&live_allocs);
    *bytes = atomic_load(&live_bytes);
}

uint32_t rt_open_fds(void)
{
    uint32_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}
