/* The kitchen sink's test server: echo handlers for every type, IDL and
 * framework errors, deferred replies from other threads, calls that hang
 * until the test answers them, and events. */
#include <stdlib.h>
#include <string.h>

#include "gen/sink_server.h"

static sink_state *state(prpc_call *call)
{
    return prpc_call_user(call);
}

static prpc_status echo_scalars(prpc_call *call, const ks_Scalars *s, ks_Scalars *result)
{
    (void)call;
    *result = *s;
    return PRPC_OK;
}

static prpc_status echo_blobs(prpc_call *call, const ks_Blobs *b, ks_Blobs *result)
{
    (void)call;
    *result = *b;
    return PRPC_OK;
}

static prpc_status echo_node(prpc_call *call, const ks_Node *n, ks_Node *result)
{
    (void)call;
    *result = *n;
    return PRPC_OK;
}

static prpc_status echo_shape(prpc_call *call, const ks_Shape *s, ks_Shape *result)
{
    (void)call;
    *result = *s;
    return PRPC_OK;
}

static prpc_status echo_bag(prpc_call *call, const ks_Bag *b, ks_Bag *result)
{
    (void)call;
    *result = *b;
    return PRPC_OK;
}

static prpc_status echo_any(prpc_call *call, prpc_any v, prpc_any *result)
{
    (void)call;
    *result = v;
    return PRPC_OK;
}

static prpc_status echo_string(prpc_call *call, const char *s, const char **result)
{
    (void)call;
    *result = s;
    return PRPC_OK;
}

static prpc_status echo_bytes(prpc_call *call, prpc_bytes b, prpc_bytes *result)
{
    (void)call;
    *result = b;
    return PRPC_OK;
}

static prpc_status echo_f64(prpc_call *call, double v, double *result)
{
    (void)call;
    *result = v;
    return PRPC_OK;
}

static prpc_status echo_maybe(prpc_call *call, const char *v, const char **result)
{
    (void)call;
    *result = v;
    return PRPC_OK;
}

static prpc_status add(prpc_call *call, int64_t *total, int64_t delta, int64_t *before,
                       int64_t *result)
{
    (void)call;
    *before = *total;
    *total += delta;
    *result = *total;
    return PRPC_OK;
}

static prpc_status split(prpc_call *call, const char *text, const char **head, const char **tail)
{
    const char *space = strchr(text, ' ');
    if (space == NULL) {
        *head = text;
        *tail = "";
        return PRPC_OK;
    }
    *head = prpc_arena_strndup(prpc_call_arena(call), text, (size_t)(space - text));
    *tail = space + 1;
    return *head ? PRPC_OK : PRPC_ERR_NO_MEMORY;
}

static prpc_status mix(prpc_call *call, const ks_Shape *a, ks_Scalars *s, ks_Node *n,
                       uint32_t **maybe, ks_Shape *result)
{
    s->i32v *= 2;
    memset(n, 0, sizeof *n);
    n->name = "mixed";
    *maybe = prpc_arena_alloc(prpc_call_arena(call), sizeof **maybe, 0);
    if (*maybe == NULL)
        return PRPC_ERR_NO_MEMORY;
    **maybe = 99;
    *result = *a;
    return PRPC_OK;
}

/* code 0: a framework error; otherwise the IDL error with that code. */
static prpc_status fail(prpc_call *call, uint32_t code, const char *message)
{
    if (code == 0)
        return PRPC_ERR_BUSY;
    return ks_Sink_fail_raise(call, (ks_Error)code, message);
}

typedef struct slow_job {
    prpc_call *call;
    uint64_t value;
    uint32_t delay_ms;
} slow_job;

static void slow_thread(void *arg)
{
    slow_job *job = arg;
    prpc__sleep_ms(job->delay_ms);
    (void)ks_Sink_slow_reply(job->call, job->value + 1);
    free(job);
}

/* Answers value + 1 after delay_ms, from a thread of its own. */
static prpc_status slow(prpc_call *call, uint64_t value, uint32_t delay_ms, uint64_t *result)
{
    (void)result;
    sink_state *s = state(call);
    slow_job *job = malloc(sizeof *job);
    if (job == NULL)
        return PRPC_ERR_NO_MEMORY;
    *job = (slow_job){call, value, delay_ms};
    prpc_call_defer(call);
    prpc__mutex_lock(&s->mu);
    prpc_status st = PRPC_ERR_BUSY;
    if (s->nthreads < SINK_MAX_THREADS)
        st = prpc__thread_start(&s->threads[s->nthreads], slow_thread, job);
    if (st == PRPC_OK)
        s->nthreads++;
    prpc__mutex_unlock(&s->mu);
    if (st != PRPC_OK) {
        free(job);
        /* Deferred already: answer the error ourselves. */
        (void)prpc_call_reply_error(call, st, NULL);
    }
    return PRPC_OK;
}

static prpc_status count(prpc_call *call, uint32_t *result)
{
    sink_state *s = state(call);
    prpc__mutex_lock(&s->mu);
    *result = ++s->count;
    s->count_deadline = prpc_call_deadline(call);
    s->count_remaining = prpc_call_remaining_ms(call);
    prpc__mutex_unlock(&s->mu);
    return PRPC_OK;
}

/* Defers and keeps the call until the test answers it. */
static prpc_status hang(prpc_call *call)
{
    sink_state *s = state(call);
    prpc__mutex_lock(&s->mu);
    if (s->nhung >= SINK_MAX_HUNG) {
        prpc__mutex_unlock(&s->mu);
        return PRPC_ERR_BUSY;
    }
    prpc_call_defer(call);
    s->hang_deadline = prpc_call_deadline(call);
    s->hung[s->nhung++] = call;
    s->hung_total++;
    prpc__cond_broadcast(&s->changed);
    prpc__mutex_unlock(&s->mu);
    return PRPC_OK;
}

static prpc_status touch(prpc_call *call, const char *key, uint32_t *result)
{
    (void)call;
    *result = (uint32_t)strlen(key);
    return PRPC_OK;
}

static prpc_status old_touch(prpc_call *call, const char *key)
{
    (void)call;
    (void)key;
    return PRPC_OK;
}

/* Records the value, tells the caller with `poked`, everyone subscribed
 * with `shape_changed`, and sends a `tick`. */
static prpc_status poke(prpc_call *call, uint32_t value)
{
    sink_state *s = state(call);
    prpc__mutex_lock(&s->mu);
    s->last_poke = value;
    s->pokes++;
    prpc__mutex_unlock(&s->mu);
    (void)ks_Sink_emit_poked(prpc_call_conn(call), value, "poked");
    ks_Shape shape;
    memset(&shape, 0, sizeof shape);
    shape.tag = ks_ShapeKind_CIRCLE;
    shape.u.radius = (double)value;
    (void)ks_Sink_broadcast_shape_changed(s->server, &shape, NULL);
    (void)ks_Sink_emit_tick(prpc_call_conn(call));
    return PRPC_OK;
}

const ks_Sink_ops sink_ops = {
    .echo_scalars = echo_scalars,
    .echo_blobs = echo_blobs,
    .echo_node = echo_node,
    .echo_shape = echo_shape,
    .echo_bag = echo_bag,
    .echo_any = echo_any,
    .echo_string = echo_string,
    .echo_bytes = echo_bytes,
    .echo_f64 = echo_f64,
    .echo_maybe = echo_maybe,
    .add = add,
    .split = split,
    .mix = mix,
    .fail = fail,
    .slow = slow,
    .count = count,
    .hang = hang,
    .touch = touch,
    .old_touch = old_touch,
    .poke = poke,
};

static prpc_status neg(prpc_call *call, int32_t v, int32_t *result)
{
    (void)call;
    *result = -v;
    return PRPC_OK;
}

const ks_Calc_ops calc_ops = {.neg = neg};

void sink_start(sink_state *s, const prpc_server_options *opts)
{
    memset(s, 0, sizeof *s);
    prpc__mutex_init(&s->mu);
    prpc__cond_init(&s->changed);
    if (prpc_server_create(opts, &s->server) != PRPC_OK)
        abort();
    if (ks_Sink_register(s->server, &sink_ops, s) != PRPC_OK ||
        ks_Calc_register(s->server, &calc_ops, s) != PRPC_OK)
        abort();
}

void sink_wait_hung(sink_state *s, unsigned n)
{
    prpc__mutex_lock(&s->mu);
    while (s->hung_total < n)
        prpc__cond_wait(&s->changed, &s->mu);
    prpc__mutex_unlock(&s->mu);
}

unsigned sink_wait_hung_cancelled(sink_state *s, unsigned n)
{
    uint64_t deadline = prpc__now_ms() + 5000;
    for (;;) {
        unsigned cancelled = 0;
        prpc__mutex_lock(&s->mu);
        for (unsigned i = 0; i < s->nhung; i++)
            cancelled += prpc_call_cancelled(s->hung[i]) ? 1u : 0u;
        prpc__mutex_unlock(&s->mu);
        if (cancelled >= n || prpc__now_ms() >= deadline)
            return cancelled;
        prpc__sleep_ms(1);
    }
}

unsigned sink_release_hung(sink_state *s)
{
    prpc__mutex_lock(&s->mu);
    unsigned n = s->nhung;
    prpc_call *calls[SINK_MAX_HUNG];
    memcpy(calls, s->hung, n * sizeof calls[0]);
    s->nhung = 0;
    prpc__mutex_unlock(&s->mu);
    unsigned closed = 0;
    for (unsigned i = 0; i < n; i++) {
        if (prpc_call_cancelled(calls[i])) {
            prpc__mutex_lock(&s->mu);
            s->hung_saw_cancel = true;
            prpc__mutex_unlock(&s->mu);
        }
        if (ks_Sink_hang_reply(calls[i]) == PRPC_ERR_CLOSED)
            closed++;
    }
    return closed;
}

void sink_stop(sink_state *s)
{
    prpc__mutex_lock(&s->mu);
    unsigned n = s->nthreads;
    prpc__mutex_unlock(&s->mu);
    for (unsigned i = 0; i < n; i++)
        prpc__thread_join(&s->threads[i]);
    (void)sink_release_hung(s);
    prpc_server_destroy(s->server);
    prpc__cond_destroy(&s->changed);
    prpc__mutex_destroy(&s->mu);
}
