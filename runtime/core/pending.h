/* The client's table of calls in flight, keyed by msgid.
 *
 * A chained hash table that grows with the number of calls. It is not
 * locked itself: the client holds its mutex around every use. */
#ifndef PRPC_CORE_PENDING_H
#define PRPC_CORE_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "piperpc/client.h"
#include "platform/platform.h"

typedef struct prpc__pending {
    struct prpc__pending *next;    /* hash chain */
    prpc_call_id id;
    uint32_t msgid;
    uint64_t deadline_ms;          /* UINT64_MAX = none */
    const prpc_method_desc *method;
    bool is_async;
    /* Reconnecting clients only (see client.c). keep: the method is
     * idempotent, so the call survives a lost connection and is sent again
     * on the next one; req (prpc_alloc'd, NULL until encoded) is the request
     * to send again. sent: the request went out on connection gen. */
    bool keep;
    bool sent;
    uint64_t gen;
    uint8_t *req;
    size_t req_len;
    /* Synchronous calls: the waiter sleeps on cond until done. A reply
     * another thread delivers is copied, because the transport's buffer
     * dies when delivery returns (see settled below for the caller's own). */
    prpc__cond *cond;
    struct prpc__pending *wait_next; /* the client's list of sync callers asleep */
    bool done;
    prpc_status status;
    uint8_t *reply;                /* prpc_alloc'd copy of the whole message */
    size_t reply_cap;              /* its allocated size (>= the message) */
    prpc_any error;                /* into reply; len 0 = none */
    prpc_any result;               /* into reply */
    /* What the caller wants the result decoded with. When the caller reads
     * its own reply (leader receive), delivery decodes it straight from the
     * transport's buffer into the caller's arena instead of copying the
     * message; settled then says status is final, last error included. */
    prpc_decode_fn decode;
    void *decode_out;
    prpc_arena *arena;
    bool settled;
    /* Asynchronous calls. */
    prpc_async_fn done_fn;
    prpc_fn user_fn;
    void *user;
} prpc__pending;

typedef struct prpc__pending_table {
    prpc__pending **buckets;
    uint32_t nbuckets;             /* a power of two, or 0 before the first insert */
    uint32_t count;
} prpc__pending_table;

void prpc__pending_free(prpc__pending_table *t); /* frees the buckets, not the entries */
/* Inserts p (whose msgid must not be in the table). PRPC_ERR_NO_MEMORY when
 * growing fails; the table is unchanged then. */
prpc_status prpc__pending_insert(prpc__pending_table *t, prpc__pending *p);
prpc__pending *prpc__pending_find(const prpc__pending_table *t, uint32_t msgid);
/* Removes and returns the entry with msgid, or NULL. */
prpc__pending *prpc__pending_remove(prpc__pending_table *t, uint32_t msgid);
/* Removes every entry; returns them as a list linked through next. */
prpc__pending *prpc__pending_take_all(prpc__pending_table *t);
/* Removes the entries for which pick returns true (as a list linked
 * through next); pick may change the entries it keeps. */
prpc__pending *prpc__pending_take_if(prpc__pending_table *t,
                                     bool (*pick)(prpc__pending *p, void *user), void *user);
/* Removes the asynchronous entries whose deadline is <= now (as a list) and
 * stores the earliest remaining asynchronous deadline in *next. */
prpc__pending *prpc__pending_take_expired(prpc__pending_table *t, uint64_t now, uint64_t *next);

#endif /* PRPC_CORE_PENDING_H */
