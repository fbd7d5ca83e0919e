/* Internals shared by the Linux I/O files (iopool.c, conn.c, sockets.c,
 * stdio.c): the connection and listener structures, the pool's registration
 * table and the small system-call wrappers (EINTR retried, errno translated
 * once). The event masks passed around are epoll's (EPOLLIN, EPOLLOUT). */
#ifndef PRPC_LINUX_IO_H
#define PRPC_LINUX_IO_H

#include <stdatomic.h>
#include <sys/types.h>

#include "platform/platform.h"

/* What a registration-table slot points at. */
enum pobj_kind { POBJ_CONN = 1, POBJ_LISTENER = 2 };

/* The header every pool-registered object starts with. Events carry the
 * object's slot and generation rather than a pointer, so an event that was
 * already taken from epoll when the object went away finds a stale
 * generation instead of freed memory. */
struct pobj {
    enum pobj_kind kind;
    uint32_t slot;     /* 0 while not registered */
    uint32_t gen;
    /* Callbacks running or posted. Raised without the object's lock (by the
     * event lookup, which must not take it: close holds it while it
     * unregisters); lowered under the lock, so waiters never miss zero. */
    atomic_int busy;
    bool free_pending; /* destroy() ran in a callback: free when busy drops to 0 */
};

/* For connections, a high bit of busy says someone waits for the count to
 * reach zero (stop, or a deferred destroy). Carrying it in the same word lets
 * the last decrement see it without touching the object afterwards, since a
 * waiter could free the object the moment the count is zero. */
#define BUSY_WATCH 0x40000000
#define BUSY_COUNT 0x3fffffff

struct sendq {
    struct sendq *next;
    size_t cap; /* bytes data[] can hold */
    size_t len;
    size_t off;
    uint8_t data[];
};

struct prpc__pconn {
    struct pobj obj;
    prpc__iopool *pool;
    prpc__mutex lock;
    prpc__cond idle; /* signalled when busy drops to 0 */
    int rfd;
    int wfd;          /* == rfd for sockets */
    bool is_socket;
    prpc__chan_mode mode;
    prpc__peer peer;
    bool closed;
    bool stopped;
    /* receive request */
    bool recv_pending;
    bool in_recv_cb;
    void *rbuf;
    size_t rlen;
    prpc__pconn_recv_fn rcb;
    void *ruser;
    prpc__task close_task; /* completes a receive aborted by close */
    /* send queue */
    struct sendq *qhead;
    struct sendq *qtail;
    struct sendq *spare; /* a written-out node kept for reuse */
    size_t queued;
    size_t send_limit;
    /* what epoll currently has armed (EPOLLIN / EPOLLOUT bits) */
    uint32_t armed_r;
    uint32_t armed_w;
    /* A pool thread re-arms after releasing the lock (ARM_BUSY); others
     * that need arming meanwhile set ARM_DIRTY and leave it to that thread. */
    atomic_int arm_state;
    bool drained;  /* busy reached zero after BUSY_WATCH was set */
    bool finished; /* the deferred destroy has been claimed */
    /* recv_sync's cached SO_RCVTIMEO in ms (-1 unknown, 0 none) */
    long rcvtimeo_ms;
    /* a spawned child, reaped by stop */
    pid_t child;
    bool is_stdio;
};

struct prpc__plistener {
    struct pobj obj;
    prpc__iopool *pool;
    prpc__mutex lock;
    prpc__cond idle;
    int fd;
    int lock_fd;
    prpc__addr addr;
    char path[PRPC__PATH_MAX];
    uint16_t port;
    bool closed;
    bool accept_pending;
    bool armed;
    prpc__plistener_accept_fn cb;
    void *user;
    prpc__task close_task;
    prpc__timer backoff; /* EMFILE/ENFILE: retry later instead of spinning */
    bool backing_off;
};

/* Registers o with the pool's epoll set (fds disarmed). */
prpc_status prpc__pool_register(prpc__iopool *pool, struct pobj *o, int rfd, int wfd);
/* Invalidates o's slot (later events for it are ignored) and removes its fds
 * from epoll. */
void prpc__pool_unregister(prpc__iopool *pool, struct pobj *o, int rfd, int wfd);
/* Arms fd for the events in mask (EPOLLIN/EPOLLOUT), one shot. wside marks
 * the write fd of a two-descriptor connection. */
void prpc__pool_arm(prpc__iopool *pool, const struct pobj *o, int fd, uint32_t mask, bool wside);
/* The same with the slot and generation captured earlier under a lock. */
void prpc__pool_arm_key(prpc__iopool *pool, uint32_t slot, uint32_t gen, int fd, uint32_t mask);

/* Asks to let the calling pool thread wait on one connection's socket
 * instead of epoll (see prpc__pconn_on_event). Refused unless another
 * thread of the pool stays free for epoll; prpc__pool_unpark ends it. */
bool prpc__pool_park(prpc__iopool *pool);
void prpc__pool_unpark(prpc__iopool *pool);

/* Connection internals used by the socket and spawn files. */
prpc_status prpc__pconn_new(prpc__iopool *pool, int rfd, int wfd, bool is_socket,
                            prpc__chan_mode mode, prpc__pconn **out);
void prpc__pconn_on_event(prpc__pconn *c, uint32_t events, bool wside);
void prpc__plistener_on_event(prpc__plistener *l);

/* Maps errno to a status. */
prpc_status prpc__errno_status(int err);

#endif /* PRPC_LINUX_IO_H */
