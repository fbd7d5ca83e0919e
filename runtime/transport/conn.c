/* The framed connection: whole msgpack-rpc messages over a platform
 * channel, with the size and depth limits, the message-mode framing rule,
 * and the handshake and idle timeouts.
 *
 * Both modes feed received bytes to the streaming reader (prpc_reader),
 * receiving straight into its buffer. In message mode each message starts a
 * new datagram and a long one continues in the next datagrams, so the only
 * extra rule is that a message must end where a datagram ends.
 *
 * Lifetime: a reference count. The owner holds one; an outstanding platform
 * receive and a posted task hold one each, so destroy may be called from
 * the connection's own callback and the last holder frees. */
#include <stdatomic.h>
#include <string.h>

#include "base/log.h"
#include "piperpc/alloc.h"
#include "transport/transport_impl.h"

static void conn_unref(prpc__tconn *c);
static void unref_unlock(prpc__tconn *c);

/* The address of a thread-local variable tells threads apart without a
 * system call and without a platform function. */
static _Thread_local char tls_self;

static uintptr_t current_thread(void)
{
    return (uintptr_t)&tls_self;
}
static void deliver_locked(prpc__tconn *c);

prpc_status prpc__tconn_new(prpc__pconn *pc, const prpc_limits *limits, uint32_t handshake_ms,
                            uint32_t idle_ms, struct prpc__conn_counter *counter,
                            prpc__iopool *pool, prpc__tconn **out)
{
    *out = NULL;
    prpc__tconn *c = prpc_alloc(sizeof *c);
    if (c == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(c, 0, sizeof *c);
    c->limits = prpc_limits_resolve(limits);
    c->reader = prpc_reader_create(&c->limits);
    if (c->reader == NULL) {
        prpc_free(c);
        return PRPC_ERR_NO_MEMORY;
    }
    c->pc = pc;
    c->pool = pool;
    c->mode = prpc__pconn_mode(pc);
    atomic_init(&c->refs, 1);
    atomic_init(&c->last_activity, prpc__now_ms());
    prpc__mutex_init(&c->lock);
    prpc__cond_init(&c->cb_done);
    c->counter = counter;
    if (counter != NULL)
        atomic_fetch_add(&counter->refs, 1);
    c->idle_ms = idle_ms;
    if (pool != NULL && (handshake_ms != 0 || idle_ms != 0)) {
        uint64_t now = prpc__now_ms();
        c->hs_deadline = handshake_ms ? now + handshake_ms : 0;
        uint64_t first = UINT64_MAX;
        if (c->hs_deadline)
            first = c->hs_deadline;
        if (idle_ms && now + idle_ms < first)
            first = now + idle_ms;
        c->timer_used = true;
        prpc__timer_init(&c->timer, pool, prpc__tconn_timer_fn, c);
        prpc__timer_schedule(&c->timer, first);
    }
    *out = c;
    return PRPC_OK;
}

void prpc__tconn_timer_fn(void *arg)
{
    prpc__tconn *c = arg;
    prpc__mutex_lock(&c->lock);
    if (c->ended || c->closing) {
        prpc__mutex_unlock(&c->lock);
        return;
    }
    uint64_t now = prpc__now_ms();
    uint64_t last = atomic_load_explicit(&c->last_activity, memory_order_relaxed);
    bool hs_due = !c->got_first && c->hs_deadline != 0 && now >= c->hs_deadline;
    bool idle_due = c->idle_ms != 0 && now - last >= c->idle_ms;
    if (hs_due || idle_due) {
        c->timed_out = true;
        prpc__mutex_unlock(&c->lock);
        prpc__log(PRPC_LOG_INFO, "closing a connection: %s timeout",
                  hs_due ? "handshake" : "idle");
        /* The outstanding receive completes with CLOSED, reported as
         * PRPC_ERR_TIMEOUT. */
        prpc__pconn_close(c->pc);
        return;
    }
    /* Activity does not touch the timer (no system call per message); the
     * timer re-checks and sleeps for what is left instead. */
    uint64_t next = UINT64_MAX;
    if (!c->got_first && c->hs_deadline != 0)
        next = c->hs_deadline;
    if (c->idle_ms != 0 && last + c->idle_ms < next)
        next = last + c->idle_ms;
    if (next != UINT64_MAX)
        prpc__timer_schedule(&c->timer, next);
    prpc__mutex_unlock(&c->lock);
}

/* How the connection ended when the channel reported st. */
static prpc_status end_status(prpc__tconn *c, prpc_status st)
{
    if (c->timed_out)
        return PRPC_ERR_TIMEOUT;
    if (c->closing)
        return PRPC_ERR_CLOSED;
    if (st == PRPC_ERR_CLOSED && prpc_reader_pending(c->reader) != 0)
        return PRPC_ERR_PROTOCOL; /* the peer stopped in the middle of a message */
    return st;
}

static void set_end(prpc__tconn *c, prpc_status st)
{
    if (!c->ended) {
        c->ended = true;
        c->end_st = st;
    }
}

static void on_pc_recv(void *arg, prpc_status st, size_t n)
{
    prpc__tconn *c = arg;
    prpc__mutex_lock(&c->lock);
    c->pc_pending = false;
    if (st == PRPC_OK) {
        st = prpc_reader_commit(c->reader, n);
        if (st != PRPC_OK)
            set_end(c, st);
    } else {
        set_end(c, end_status(c, st));
    }
    c->in_cb = true;
    deliver_locked(c);
    c->in_cb = false;
    unref_unlock(c);
}

/* Starts a platform receive into the reader; c->lock held. */
static prpc_status start_pc_recv(prpc__tconn *c)
{
    void *buf;
    size_t avail;
    /* Message mode needs room for a whole datagram; byte mode reads big
     * pieces so a large message costs few system calls. */
    prpc_status st = prpc_reader_buffer(c->reader, PRPC__CHUNK_SIZE, &buf, &avail);
    if (st != PRPC_OK)
        return st;
    c->pc_pending = true;
    atomic_fetch_add(&c->refs, 1);
    st = prpc__pconn_recv(c->pc, buf, avail, on_pc_recv, c);
    if (st != PRPC_OK) {
        c->pc_pending = false;
        atomic_fetch_sub(&c->refs, 1); /* the owner still holds one */
    }
    return st;
}

/* Calls fn with c->lock released, recording who runs it so that destroy
 * can wait for it (or know it is called from inside it). */
static void call_fn(prpc__tconn *c, prpc_status st, const uint8_t *msg, size_t len)
{
    prpc__tconn_msg_fn fn = c->fn;
    void *user = c->user;
    c->fn_running = true;
    c->cb_thread = current_thread();
    prpc__mutex_unlock(&c->lock);
    fn(user, c, st, msg, len);
    prpc__mutex_lock(&c->lock);
    c->fn_running = false;
    prpc__cond_broadcast(&c->cb_done);
}

/* Hands out messages while someone wants one; c->lock held and c->in_cb
 * set by the caller, so only one thread runs this per connection. */
static void deliver_locked(prpc__tconn *c)
{
    for (;;) {
        if (!c->want || c->destroyed)
            return;
        if (!c->ended) {
            const uint8_t *msg;
            size_t len;
            prpc_status st = prpc_reader_next(c->reader, &msg, &len);
            if (st != PRPC_OK) {
                set_end(c, st);
            } else if (msg == NULL) {
                c->maybe_buffered = false;
                if (c->pc_pending)
                    return;
                st = start_pc_recv(c);
                if (st == PRPC_OK)
                    return;
                set_end(c, end_status(c, st));
            } else if (c->mode == PRPC__CHAN_MESSAGE && prpc_reader_pending(c->reader) != 0) {
                /* A message ended inside a datagram: the peer is not
                 * framing messages, and nothing after it can be trusted. */
                set_end(c, PRPC_ERR_PROTOCOL);
            } else {
                c->want = false;
                c->got_first = true;
                c->maybe_buffered = true;
                atomic_store_explicit(&c->last_activity, prpc__now_ms(), memory_order_relaxed);
                call_fn(c, PRPC_OK, msg, len);
                continue;
            }
        }
        /* Ended: report it once, to the request that is waiting. */
        c->want = false;
        c->end_reported = true;
        prpc_status end = c->end_st;
        if (end != PRPC_ERR_CLOSED && end != PRPC_ERR_TIMEOUT)
            prpc__log(PRPC_LOG_INFO, "closing a connection: %s", prpc_strerror(end));
        call_fn(c, end, NULL, 0);
    }
}

static void deliver_task(void *arg)
{
    prpc__tconn *c = arg;
    prpc__mutex_lock(&c->lock);
    c->task_posted = false;
    if (!c->in_cb) {
        c->in_cb = true;
        deliver_locked(c);
        c->in_cb = false;
    }
    unref_unlock(c);
}

prpc_status prpc__tconn_recv(prpc__tconn *c, prpc__tconn_msg_fn fn, void *user)
{
    if (c == NULL || fn == NULL || c->pool == NULL)
        return PRPC_ERR_INVALID_ARG;
    prpc__mutex_lock(&c->lock);
    prpc_status st = PRPC_OK;
    if (c->ended && c->end_reported) {
        st = c->end_st;
    } else if (c->want) {
        st = PRPC_ERR_BUSY;
    } else {
        c->want = true;
        c->fn = fn;
        c->user = user;
        if (c->in_cb || c->pc_pending) {
            /* The running delivery loop, or the receive completion, picks
             * the request up: the common case, with no extra work. */
        } else if (!c->ended && !c->maybe_buffered) {
            st = start_pc_recv(c);
            if (st != PRPC_OK) {
                c->want = false;
                set_end(c, end_status(c, st));
                st = c->end_st;
            }
        } else if (!c->task_posted) {
            /* A message may wait in the reader, or the end is known: hand
             * it to a pool thread, since fn never runs inside this call. */
            c->task_posted = true;
            atomic_fetch_add(&c->refs, 1);
            prpc__task_post(c->pool, &c->task, deliver_task, c);
        }
    }
    if (c->ended && st != PRPC_OK)
        c->end_reported = true;
    prpc__mutex_unlock(&c->lock);
    return st;
}

prpc_status prpc__tconn_recv_sync(prpc__tconn *c, uint64_t deadline_ms, const uint8_t **msg,
                                  size_t *len)
{
    if (c == NULL || msg == NULL || len == NULL)
        return PRPC_ERR_INVALID_ARG;
    *msg = NULL;
    *len = 0;
    prpc__mutex_lock(&c->lock);
    if (c->want || c->pc_pending || c->in_sync) {
        prpc__mutex_unlock(&c->lock);
        return PRPC_ERR_BUSY;
    }
    if (c->ended) {
        prpc__mutex_unlock(&c->lock);
        return c->end_st;
    }
    c->in_sync = true;
    prpc__mutex_unlock(&c->lock);
    /* The reader is ours alone while in_sync is set. */
    prpc_status st;
    for (;;) {
        st = prpc_reader_next(c->reader, msg, len);
        if (st != PRPC_OK)
            break;
        if (*msg != NULL) {
            if (c->mode == PRPC__CHAN_MESSAGE && prpc_reader_pending(c->reader) != 0) {
                *msg = NULL;
                *len = 0;
                st = PRPC_ERR_PROTOCOL;
            }
            break;
        }
        void *buf;
        size_t avail, n;
        st = prpc_reader_buffer(c->reader, PRPC__CHUNK_SIZE, &buf, &avail);
        if (st != PRPC_OK)
            break;
        st = prpc__pconn_recv_sync(c->pc, buf, avail, deadline_ms, &n);
        if (st == PRPC_ERR_TIMEOUT) {
            prpc__mutex_lock(&c->lock);
            c->in_sync = false;
            prpc__mutex_unlock(&c->lock);
            return st;
        }
        if (st != PRPC_OK)
            break;
        st = prpc_reader_commit(c->reader, n);
        if (st != PRPC_OK)
            break;
    }
    prpc__mutex_lock(&c->lock);
    c->in_sync = false;
    if (st == PRPC_OK) {
        c->got_first = true;
        atomic_store_explicit(&c->last_activity, prpc__now_ms(), memory_order_relaxed);
    } else {
        set_end(c, end_status(c, st));
        st = c->end_st;
    }
    prpc__mutex_unlock(&c->lock);
    return st;
}

prpc_status prpc__tconn_send(void *arg, const uint8_t *msg, size_t len)
{
    prpc__tconn *c = arg;
    if (c == NULL || msg == NULL || len == 0)
        return PRPC_ERR_INVALID_ARG;
    if (len > c->limits.max_message_size)
        return PRPC_ERR_TOO_LARGE;
    prpc_status st = prpc__pconn_send(c->pc, msg, len);
    if (st == PRPC_OK)
        atomic_store_explicit(&c->last_activity, prpc__now_ms(), memory_order_relaxed);
    return st;
}

void prpc__tconn_peer(const prpc__tconn *c, prpc__peer *out)
{
    prpc__pconn_peer(c->pc, out);
}

intptr_t prpc__tconn_pollable(const prpc__tconn *c)
{
    return prpc__pconn_pollable(c->pc);
}

void prpc__tconn_close(void *arg)
{
    prpc__tconn *c = arg;
    if (c == NULL)
        return;
    prpc__mutex_lock(&c->lock);
    c->closing = true;
    bool kick = c->want && !c->pc_pending && !c->in_cb && !c->task_posted;
    if (kick) {
        set_end(c, PRPC_ERR_CLOSED);
        c->task_posted = true;
        atomic_fetch_add(&c->refs, 1);
        prpc__task_post(c->pool, &c->task, deliver_task, c);
    }
    prpc__mutex_unlock(&c->lock);
    /* An outstanding platform receive completes with CLOSED. */
    prpc__pconn_close(c->pc);
}

static void conn_free(prpc__tconn *c)
{
    prpc__pconn_destroy(c->pc);
    prpc_reader_destroy(c->reader);
    if (c->counter != NULL) {
        atomic_fetch_sub(&c->counter->active, 1);
        prpc__conn_counter_unref(c->counter);
    }
    prpc__cond_destroy(&c->cb_done);
    prpc__mutex_destroy(&c->lock);
    prpc_free(c);
}

static void conn_unref(prpc__tconn *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1)
        conn_free(c);
}

/* Drops a pool-side reference with c->lock held, waking a destroy that
 * waits for the last one, and releases the lock. Decrementing under the
 * lock means the waiter cannot free c before we have let go of it. */
static void unref_unlock(prpc__tconn *c)
{
    int old = atomic_fetch_sub(&c->refs, 1);
    if (old == 2)
        prpc__cond_broadcast(&c->cb_done);
    prpc__mutex_unlock(&c->lock);
    if (old == 1)
        conn_free(c);
}

void prpc__tconn_destroy(void *arg)
{
    prpc__tconn *c = arg;
    if (c == NULL)
        return;
    prpc__tconn_close(c);
    if (c->timer_used)
        prpc__timer_cancel(&c->timer);
    /* From here on fn is never called; wait for a call in progress on
     * another thread, so the owner may free what fn uses once we return. */
    prpc__mutex_lock(&c->lock);
    c->destroyed = true;
    c->want = false;
    uintptr_t self = current_thread();
    while (c->fn_running && c->cb_thread != self)
        prpc__cond_wait(&c->cb_done, &c->lock);
    if (!prpc__iopool_on_thread(c->pool)) {
        /* Outside the pool, finish the teardown here: wait for the pool's
         * last reference (the receive that close aborted), then free
         * everything, the channel and a spawned child included, before
         * returning. On a pool thread that wait could deadlock, so the
         * last holder frees instead. */
        while (atomic_load(&c->refs) > 1)
            prpc__cond_wait(&c->cb_done, &c->lock);
    }
    prpc__mutex_unlock(&c->lock);
    conn_unref(c);
}

/* ------------------------------------------------------------------ dial */

prpc_status prpc__tdial(prpc__iopool *pool, const char *endpoint, const prpc__dial_opts *opts,
                        prpc__tconn **out, prpc__err *err)
{
    if (out == NULL)
        return PRPC_ERR_INVALID_ARG;
    *out = NULL;
    prpc__dial_opts o;
    if (opts != NULL)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    prpc__addr addr;
    const prpc__transport *tp;
    prpc_status st = prpc__endpoint_parse(endpoint, &addr, &tp, err);
    if (st != PRPC_OK)
        return st;
    uint64_t deadline = o.connect_timeout_ms ? prpc__now_ms() + o.connect_timeout_ms : 0;
    prpc__pconn *pc = NULL;
    st = tp->dial(pool, &addr, &o, deadline, &pc, err);
    if (st != PRPC_OK)
        return st;
    st = prpc__tconn_new(pc, &o.limits, 0, o.idle_timeout_ms, NULL, pool, out);
    if (st != PRPC_OK)
        prpc__pconn_destroy(pc);
    return st;
}
