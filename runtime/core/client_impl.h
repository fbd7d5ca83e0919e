/* The client object's private structure and what its files share:
 * client.c (creation, calls, the timer thread, teardown), client_rx.c
 * (the receiver role, completions, delivery, events),
 * client_reconnect.c and client_inproc.c. Locking is described at the
 * top of client.c and client_rx.c. */
#ifndef PRPC_CORE_CLIENT_IMPL_H
#define PRPC_CORE_CLIENT_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/client_link.h"
#include "core/pending.h"
#include "platform/platform.h"

typedef struct event_handler {
    const prpc_event_desc *event;
    prpc_event_fn fn;
    prpc_fn user_fn;
    void *user;
} event_handler;

struct prpc_client {
    prpc__mutex mu;
    prpc__cond drained;          /* users or cancel_sends dropped to 0 */
    const prpc__link_ops *ops;
    void *link;
    prpc_limits limits;
    uint32_t default_timeout_ms;
    uint32_t max_pending;
    prpc_log_fn log;
    void *log_user;
    prpc_log_level log_level;

    bool closed;                 /* (mu) destroyed or link lost */
    prpc_status closed_status;   /* (mu) what new calls fail with */
    prpc__pending_table table;   /* (mu) */
    uint64_t next_id;            /* (mu) */
    unsigned users;              /* (mu) threads inside a call function */
    unsigned cancel_sends;       /* (mu) rpc.cancel notices being sent after a timeout */
    event_handler *handlers;     /* (mu) */
    uint32_t nhandlers;
    prpc_client_stats stats;     /* (mu) */

    /* Reconnect (see the top of client.c). */
    bool reconnect;              /* the link reconnects; fixed at creation */
    bool down;                   /* (mu) the connection is lost; the link reconnects */
    uint64_t gen;                /* (mu) the connection calls are sent on */
    prpc_client_state_fn on_state;
    void *on_state_user;

    /* The receiver role (leader receive; see the top of client_rx.c). */
    bool rx_busy;                /* (mu) a thread is reading from the link */
    bool rx_bg_parked;           /* (mu) the background receiver sleeps on rx_cond */
    prpc__cond rx_cond;          /* (mu) the background receiver's */
    prpc__pending *waiters;      /* (mu) synchronous callers asleep, newest first */
    uint32_t nasync;             /* (mu) asynchronous calls in the table */
    uint64_t last_sync_ms;       /* (mu) when a synchronous call last ended */

    /* One reply buffer kept between synchronous calls: a large reply then
     * costs no fresh allocation (a fresh mmap and its page faults) each
     * time. */
    uint8_t *spare;              /* (mu) */
    size_t spare_cap;            /* (mu) */
    /* Likewise the request encoder's buffer (see ENC_KEEP_SMALL). A caller
     * takes it when it registers its call and gives it back after the
     * send, in critical sections it enters anyway. */
    uint8_t *enc_spare;          /* (mu) */
    size_t enc_spare_cap;        /* (mu) */

    /* The timer thread for asynchronous deadlines. */
    prpc__cond timer_cond;       /* (mu) */
    prpc__thread timer;
    bool timer_running;          /* (mu) */
    bool timer_stop;             /* (mu) */
    uint64_t timer_next;         /* (mu) the deadline it sleeps until */
};

/* client.c */
prpc_status prpc__client_send_notify(prpc_client *c, uint64_t gen, const char *wire_name,
                                     uint32_t nparams, prpc_encode_fn encode, const void *args);
prpc_status prpc__client_settle_reply(const prpc__pending *p, prpc_any error, prpc_any reply);

/* client_rx.c */
extern _Thread_local const prpc_client *prpc__client_tl_receiving;
extern _Thread_local const prpc__pending *prpc__client_tl_leading;
const prpc_client *prpc__client_callbacks_begin(const prpc_client *c);
void prpc__client_callbacks_end(const prpc_client *old);
prpc__pending *prpc__client_table_remove(prpc_client *c, uint32_t msgid);
prpc__pending *prpc__client_table_take_all(prpc_client *c);
void prpc__client_rx_kick_locked(prpc_client *c);
bool prpc__client_is_nil(prpc_any v);
void prpc__client_complete_async(prpc__pending *p, prpc_status status, const prpc_msg *msg);
void prpc__client_complete_sync_locked(prpc__pending *p, prpc_status status);
void prpc__client_fail_list(prpc_client *c, prpc__pending *list, prpc_status why);
void prpc__client_fail_list_receiving(prpc_client *c, prpc__pending *list, prpc_status why);
void prpc__client_encode_name(prpc_encoder *enc, const void *v);
extern const prpc_method_desc prpc__client_subscribe_method;

#endif /* PRPC_CORE_CLIENT_IMPL_H */
