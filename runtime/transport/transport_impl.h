/* Internals shared by the transport files: the framed connection's state
 * and the connection counter a listener shares with its connections. */
#ifndef PRPC_TRANSPORT_IMPL_H
#define PRPC_TRANSPORT_IMPL_H

#include <stdatomic.h>

#include "transport/transport.h"

/* Outlives the listener as long as one of its connections lives. */
struct prpc__conn_counter {
    atomic_uint active;   /* connections admitted and not yet freed */
    atomic_uint refs;     /* the listener + each connection */
    atomic_ullong refused;
};

void prpc__conn_counter_unref(struct prpc__conn_counter *k);

struct prpc__tconn {
    prpc__pconn *pc;
    prpc__iopool *pool;
    prpc_reader *reader;
    prpc_limits limits;
    prpc__chan_mode mode;
    atomic_int refs;
    prpc__mutex lock;
    /* the request */
    prpc__tconn_msg_fn fn;
    void *user;
    bool want;           /* a request is outstanding */
    bool in_cb;          /* a delivery loop runs (one thread at a time) */
    bool in_sync;        /* recv_sync owns the reader */
    bool pc_pending;     /* a platform receive is outstanding */
    bool maybe_buffered; /* the reader may already hold a whole message */
    bool task_posted;
    prpc__task task;
    /* the end */
    bool ended;
    bool end_reported;
    prpc_status end_st;
    bool closing;        /* closed locally */
    bool destroyed;      /* the owner is gone: fn is never called again */
    uintptr_t cb_thread; /* the thread running fn while in_cb */
    bool fn_running;
    prpc__cond cb_done;  /* signalled when fn returns */
    bool timed_out;
    /* timeouts */
    bool timer_used;
    prpc__timer timer;
    uint64_t hs_deadline; /* 0 = none */
    bool got_first;
    uint32_t idle_ms;
    _Atomic uint64_t last_activity;
    struct prpc__conn_counter *counter;
};

/* Wraps pc: on success the connection owns pc, on failure pc is still the
 * caller's. counter may be NULL; on success it gains a reference (the
 * caller has already counted the connection as active). */
prpc_status prpc__tconn_new(prpc__pconn *pc, const prpc_limits *limits, uint32_t handshake_ms,
                            uint32_t idle_ms, struct prpc__conn_counter *counter,
                            prpc__iopool *pool, prpc__tconn **out);
void prpc__tconn_timer_fn(void *arg);

#endif /* PRPC_TRANSPORT_IMPL_H */
