/* A test implementation of the kitchen sink's ks.Sink and ks.Calc
 * interfaces, shared by the generated-code tests. */
#ifndef TESTS_GEN_SINK_SERVER_H
#define TESTS_GEN_SINK_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "kitchen_client.h"
#include "kitchen_server.h"
#include "platform/platform.h"

#define SINK_MAX_HUNG 64
#define SINK_MAX_THREADS 256

typedef struct sink_state {
    prpc__mutex mu;
    prpc__cond changed;           /* signalled when hung calls arrive */
    uint32_t count;
    uint32_t last_poke;
    unsigned pokes;
    prpc_call *hung[SINK_MAX_HUNG]; /* deferred calls nobody answered yet */
    unsigned nhung;
    unsigned hung_total;
    bool hung_saw_cancel;
    uint64_t hang_deadline;       /* prpc_call_deadline of the last hang call */
    uint64_t count_deadline;      /* ... and of the last count call */
    uint32_t count_remaining;     /* prpc_call_remaining_ms in the last count */
    prpc__thread threads[SINK_MAX_THREADS];
    unsigned nthreads;
    prpc_server *server;
} sink_state;

/* Creates a server (opts may be NULL) with both interfaces registered. */
void sink_start(sink_state *s, const prpc_server_options *opts);
/* Joins the reply threads and destroys the server. */
void sink_stop(sink_state *s);
/* Waits until at least n hang calls arrived in total. */
void sink_wait_hung(sink_state *s, unsigned n);
/* Answers every hung call; returns how many replies failed with CLOSED. */
unsigned sink_release_hung(sink_state *s);
/* Waits up to 5 s until n of the calls hanging now see prpc_call_cancelled;
 * returns how many do. */
unsigned sink_wait_hung_cancelled(sink_state *s, unsigned n);

extern const ks_Sink_ops sink_ops;
extern const ks_Calc_ops calc_ops;

#endif /* TESTS_GEN_SINK_SERVER_H */
