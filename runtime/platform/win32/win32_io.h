/* Internals shared by the Windows I/O files: the connection and listener
 * structures, the completion-port plumbing and error translation. */
#ifndef PRPC_WIN32_IO_H
#define PRPC_WIN32_IO_H

#include <stdatomic.h>

#include "platform/platform.h"

#include <mswsock.h>

/* One overlapped operation. The completion port hands back the OVERLAPPED;
 * done() finishes the operation on a pool thread. err is the Win32 error of
 * the operation (0 on success), n the bytes transferred. */
struct wio {
    OVERLAPPED ov;
    void (*done)(struct wio *io, DWORD err, DWORD n);
    void *owner;
    DWORD posted_err; /* the error of a packet posted by prpc__pool_post_io */
};

/* How a connection reaches the OS. */
enum wkind {
    WK_PIPE = 1, /* an overlapped named-pipe handle (pipe:, spawn's parent end) */
    WK_SOCK,     /* an overlapped Winsock socket (tcp:) */
    WK_SYNC      /* handles without overlapped I/O (this process's stdin/stdout) */
};

struct sendq {
    struct sendq *next;
    size_t len;
    uint8_t data[];
};

struct prpc__pconn {
    prpc__iopool *pool;
    prpc__mutex lock;
    prpc__cond idle; /* signalled when busy drops to 0 */
    enum wkind kind;
    HANDLE h;       /* read side (the socket for WK_SOCK) */
    HANDLE wh;      /* write side; == h except for WK_SYNC */
    prpc__chan_mode mode;
    prpc__peer peer;
    bool associated; /* h is bound to pool's completion port */
    bool closed;
    bool handles_closed;
    int busy;          /* overlapped operations and callbacks outstanding */
    bool free_pending; /* destroy() ran in a callback: free when busy drops to 0 */
    /* receive */
    bool recv_pending;
    bool in_sync;
    void *rbuf;
    size_t rlen;
    prpc__pconn_recv_fn rcb;
    void *ruser;
    struct wio rio;
    /* send */
    prpc__mutex send_lock; /* serialises the blocking sends of a pool-less connection */
    struct wio wio;
    bool write_pending;
    struct sendq *qhead;
    struct sendq *qtail;
    size_t queued;
    size_t send_limit;
    /* WK_SYNC: a thread does the blocking reads and writes */
    prpc__thread sync_reader;
    prpc__thread sync_writer;
    bool sync_threads;
    prpc__cond sync_wake;
    bool sync_read_req;
    unsigned long write_seq; /* counts finished writes, for the writer thread */
    /* a spawned child, reaped by stop */
    HANDLE child;
};

enum lkind { LK_PIPE = 1, LK_TCP };

#define PRPC__PIPE_WAITING 4 /* instances kept waiting in ConnectNamedPipe */

struct pinst {
    struct wio io;
    HANDLE h;
    bool pending;  /* ConnectNamedPipe outstanding */
    bool ready;    /* a client connected; waiting for accept() */
    SOCKET as;     /* tcp: the socket AcceptEx fills */
    uint8_t abuf[2 * (sizeof(SOCKADDR_STORAGE) + 16)];
};

struct prpc__plistener {
    prpc__iopool *pool;
    prpc__mutex lock;
    prpc__cond idle;
    enum lkind kind;
    prpc__addr addr;
    char path[PRPC__PATH_MAX];
    wchar_t wpath[PRPC__PATH_MAX];
    SOCKET ls;
    uint16_t port;
    int family;
    LPFN_ACCEPTEX acceptex;
    PSECURITY_DESCRIPTOR sd;
    HANDLE guard; /* pipe: the named mutex that claims NAME among local servers */
    DWORD pipe_mode; /* pipe: the dwPipeMode of every instance (tests check its flags) */
    bool closed;
    int busy;
    bool accept_pending;
    bool in_cb;
    prpc__plistener_accept_fn cb;
    void *user;
    prpc__task deliver;
    bool deliver_posted;
    prpc__timer refill;  /* retries instance slots left empty */
    bool refill_armed;
    struct pinst inst[PRPC__PIPE_WAITING];
};

/* Completion-port plumbing (iopool.c). */
prpc_status prpc__pool_associate(prpc__iopool *pool, HANDLE h);
/* Counts one packet the pool must see before its stop is complete: call it
 * for every overlapped operation issued (its failure posted by hand counts
 * as the same packet). */
void prpc__pool_expect(prpc__iopool *pool);
/* Posts io as completed with (err, n), for operations done outside the port. */
void prpc__pool_post_io(prpc__iopool *pool, struct wio *io, DWORD err, DWORD n);

/* Connection internals (conn.c). */
prpc_status prpc__pconn_new(prpc__iopool *pool, enum wkind kind, HANDLE h, HANDLE wh,
                            prpc__chan_mode mode, prpc__pconn **out);

/* The pipe path a client opens: \\.\pipe\NAME, or \\HOST\pipe\NAME for
 * pipe://HOST/NAME (dial.c). */
void prpc__pipe_path(const prpc__addr *a, char *buf, size_t size);

/* Security (security.c). */
prpc_status prpc__user_sid(HANDLE token, PSID *out);
bool prpc__sid_is_self(PSID sid);
uint32_t prpc__sid_uid(PSID sid);
prpc_status prpc__pipe_security(PSECURITY_DESCRIPTOR *out, prpc__err *err);
/* The SID as text ("S-1-5-21-...") into buf; false if it does not fit. */
bool prpc__sid_text(PSID sid, char *buf, size_t size);
/* The identity of the client connected to server pipe h (at accept, before
 * any byte is read); remote_allowed: the listener admits other machines. */
void prpc__pipe_peer(HANDLE h, bool remote_allowed, prpc__peer *out);

/* Errors (thread.c). */
prpc_status prpc__win_status(DWORD err);
void prpc__set_win_err(prpc__err *err, DWORD code, const char *what);
/* UTF-8 to UTF-16 into buf (count wide chars); false if it does not fit. */
bool prpc__utf8_to_wide(const char *s, wchar_t *buf, size_t count);
/* Makes sure Winsock is started (once per process). */
prpc_status prpc__wsa_init(void);

#endif /* PRPC_WIN32_IO_H */
