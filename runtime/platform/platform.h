/* The one OS contract of piperpc.
 *
 * Everything above runtime/platform/ reaches the operating system only
 * through this header. Each platform folder (linux/, win32/) implements it
 * and provides "platform_types.h" with the concrete types; CMake puts exactly
 * one platform folder on the include path, so no file needs #ifdef _WIN32.
 *
 * Conventions: functions return prpc_status; OS errors are translated to it
 * once, here. Nothing in this file blocks forever unless it says so. */
#ifndef PRPC_PLATFORM_H
#define PRPC_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "piperpc/status.h"
#include "platform_types.h"

/* ------------------------------------------------------------------ time */

/* Milliseconds on a monotonic clock (never jumps with the wall clock). */
uint64_t prpc__now_ms(void);
/* Microseconds on the same monotonic clock, for latency measurements. */
uint64_t prpc__now_us(void);
/* Sleeps at least ms milliseconds. */
void prpc__sleep_ms(uint32_t ms);

/* --------------------------------------------------------------- threads */

typedef void (*prpc__thread_fn)(void *arg);

/* Starts a thread running fn(arg). */
prpc_status prpc__thread_start(prpc__thread *t, prpc__thread_fn fn, void *arg);
/* Waits for the thread to finish. Joining the calling thread is a bug. */
void prpc__thread_join(prpc__thread *t);
/* True when the caller is thread t (to detect stop() from a pool thread). */
bool prpc__thread_is_self(const prpc__thread *t);

/* ---------------------------------------------------- mutexes, conditions */

/* A plain non-recursive mutex. init never fails on supported platforms. */
void prpc__mutex_init(prpc__mutex *m);
void prpc__mutex_destroy(prpc__mutex *m);
void prpc__mutex_lock(prpc__mutex *m);
void prpc__mutex_unlock(prpc__mutex *m);

/* A condition variable waited on with a monotonic-clock deadline. */
void prpc__cond_init(prpc__cond *c);
void prpc__cond_destroy(prpc__cond *c);
void prpc__cond_signal(prpc__cond *c);
void prpc__cond_broadcast(prpc__cond *c);
/* Waits until signalled (spurious wake-ups happen: re-check the predicate). */
void prpc__cond_wait(prpc__cond *c, prpc__mutex *m);
/* Waits until signalled or prpc__now_ms() >= deadline_ms; returns
 * PRPC_ERR_TIMEOUT once the deadline has passed, PRPC_OK otherwise.
 * A deadline of UINT64_MAX waits forever. */
prpc_status prpc__cond_wait_until(prpc__cond *c, prpc__mutex *m, uint64_t deadline_ms);

/* ------------------------------------------------------------------ bells
 *
 * A bell wakes a thread that waits for it, and may be rung from a signal
 * handler: ringing is one system call (an eventfd write on Linux, SetEvent
 * on Windows) with no lock and no allocation, so it is async-signal-safe
 * and leaves errno as it was. A ring is kept until a wait takes it, so a
 * ring before the wait is not lost; rings nobody has taken yet count as
 * one. */

/* Makes a bell. Fails only when the system is out of descriptors or
 * handles (PRPC_ERR_BUSY, PRPC_ERR_NO_MEMORY). */
prpc_status prpc__bell_init(prpc__bell *b);
void prpc__bell_destroy(prpc__bell *b);
/* Rings the bell. Async-signal-safe. */
void prpc__bell_ring(prpc__bell *b);
/* Waits until the bell rings (taking the ring) or prpc__now_ms() >=
 * deadline_ms (UINT64_MAX: no bound). It may also return early, for
 * example when a signal handler runs in the waiting thread: the caller
 * re-checks what it waits for, as with a condition variable. */
void prpc__bell_wait(prpc__bell *b, uint64_t deadline_ms);

/* ------------------------------------------------------------ processes */

/* The number of online processors (at least 1). */
unsigned prpc__cpu_count(void);

/* ------------------------------------------------------- shutdown events
 *
 * The process-wide latch behind prpc_shutdown_watch/wait/request (events
 * are the PRPC_SHUTDOWN_* bits of piperpc/server.h; signal.c of each
 * platform). Once an event has happened it stays: every wait returns it. */

/* Starts catching events (SIGNAL: SIGINT/SIGTERM, or the console's control
 * events on Windows; STDIN: the end of standard input). Cumulative; on
 * failure nothing new is caught. */
prpc_status prpc__shutdown_watch(unsigned events);
/* Waits until any event has happened or prpc__now_ms() >= deadline_ms
 * (UINT64_MAX: no bound); returns the events so far, 0 at the deadline. */
unsigned prpc__shutdown_wait(uint64_t deadline_ms);
/* Records PRPC_SHUTDOWN_REQUEST and wakes the waiters. Async-signal-safe. */
void prpc__shutdown_request(void);


/* ============================================================= I/O layer
 *
 * The I/O layer is completion-based so that an IOCP implementation fits
 * without touching anything above it: the caller asks "receive into this
 * buffer and call me back", "accept the next connection and call me back",
 * "run this task / timer on a pool thread". On Linux an epoll thread pool
 * turns readiness into those completions.
 *
 * Ordering and concurrency guarantees:
 * - One connection has at most one receive outstanding, and its receive
 *   callbacks never run concurrently with each other; a listener likewise
 *   has one accept outstanding.
 * - A callback never runs inside the call that requested it.
 * - Sends never block on a connection attached to a pool: the message is
 *   written at once from the caller's thread when the socket has room, and
 *   the rest is copied and written by the pool.
 *
 * Teardown of every object is three steps, as in nng: close (never blocks;
 * outstanding requests complete with PRPC_ERR_CLOSED), stop (waits until no
 * callback of the object is running or pending), free. */

/* A message of the platform's choosing for errors worth explaining (the
 * reason a path cannot be used, which process holds a name). Functions that
 * take one fill it on failure; a NULL pointer is allowed. */
typedef struct prpc__err {
    char msg[256];
} prpc__err;

/* Formats a message into err; a NULL err is allowed and ignored. */
void prpc__set_err(prpc__err *err, const char *fmt, ...)
#if defined(__MINGW32__) && !defined(__clang__) /* mingw gcc's printf means ms_printf (no %zu) */
    __attribute__((format(gnu_printf, 2, 3)))
#elif defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ------------------------------------------------------------- addresses */

typedef enum prpc__addr_kind {
    PRPC__ADDR_PIPE = 1,  /* a named local channel: pipe:NAME */
    PRPC__ADDR_UNIX,      /* an explicit socket path: unix:/abs/path */
    PRPC__ADDR_TCP,       /* tcp:HOST:PORT */
    PRPC__ADDR_STDIO      /* stdio: (server: own stdin/stdout; client: a child) */
} prpc__addr_kind;

/* How messages travel. MESSAGE keeps message boundaries (SEQPACKET, message
 * pipes); BYTE is a plain stream of concatenated msgpack values. */
typedef enum prpc__chan_mode {
    PRPC__CHAN_MESSAGE = 0,
    PRPC__CHAN_BYTE = 1
} prpc__chan_mode;

#define PRPC__NAME_MAX 200   /* longest pipe NAME */
#define PRPC__PATH_MAX 1024  /* longest unix: path or host name held */
#define PRPC__HOST_MAX 256   /* longest HOST of pipe://HOST/NAME, with its NUL */
#define PRPC__SID_MAX 192    /* longest SID as text ("S-1-..."), with its NUL */

/* Whether the platform has pipes on other machines (pipe://HOST/NAME):
 * 1 where platform_types.h says so (Windows), 0 elsewhere. A plain value,
 * not a switch for #if, so that the endpoint parser stays free of
 * conditional compilation. */
#ifndef PRPC__REMOTE_PIPES
#define PRPC__REMOTE_PIPES 0
#endif

/* A parsed endpoint (runtime/transport/endpoint.c fills it). */
typedef struct prpc__addr {
    prpc__addr_kind kind;
    prpc__chan_mode mode;
    char name[PRPC__PATH_MAX]; /* PIPE: NAME; UNIX: the path; TCP: the host */
    uint16_t port;             /* TCP; 0 asks for an ephemeral port */
    char host[PRPC__HOST_MAX]; /* PIPE: the machine of pipe://HOST/NAME; "" = this one */
    bool remote_clients;       /* PIPE listeners: admit clients from other machines
                                  (Windows); set by the transport listener */
} prpc__addr;

/* Who is on the other end of a connection. */
typedef struct prpc__peer {
    bool has_cred;  /* false where the OS cannot tell (TCP, pipes) */
    int64_t pid;    /* -1 when unknown */
    uint32_t uid;
    uint32_t gid;
    char user_sid[PRPC__SID_MAX]; /* Windows: the user's SID as text; "" elsewhere or unknown */
} prpc__peer;

/* The identity of the calling process, in the same terms. */
void prpc__self_peer(prpc__peer *out);

/* ----------------------------------------------------------------- pool */

typedef struct prpc__iopool prpc__iopool;

/* Starts a pool of nthreads threads, at most PRPC__POOL_MAX_THREADS (0 =
 * the platform's default: two per processor on POSIX, where a thread may
 * park on one connection, and one per processor on Windows). */
#define PRPC__POOL_MAX_THREADS 256u
prpc_status prpc__iopool_create(unsigned nthreads, prpc__iopool **out);
/* Tells the threads to finish; never blocks. Objects still attached must be
 * closed by their owners. */
void prpc__iopool_close(prpc__iopool *pool);
/* Waits for the threads to exit, then runs tasks still queued in the
 * caller's thread. Never call it from a pool thread. */
void prpc__iopool_stop(prpc__iopool *pool);
/* Frees the pool after stop. Accepts NULL. */
void prpc__iopool_free(prpc__iopool *pool);
/* True when the caller runs on one of the pool's threads. */
bool prpc__iopool_on_thread(const prpc__iopool *pool);

/* A task posted to run once on a pool thread. The caller owns the struct
 * (prpc__task, in platform_types.h) and keeps it alive until fn has run; a
 * task may be posted again from its own fn. */
typedef void (*prpc__task_fn)(void *user);
void prpc__task_post(prpc__iopool *pool, prpc__task *task, prpc__task_fn fn, void *user);

/* ---------------------------------------------------------------- timers */

/* A timer whose callback runs on a pool thread. The struct (prpc__timer, in
 * platform_types.h) is owned by the caller. */
typedef void (*prpc__timer_fn)(void *user);
void prpc__timer_init(prpc__timer *t, prpc__iopool *pool, prpc__timer_fn fn, void *user);
/* (Re)schedules the timer to fire once at deadline_ms (prpc__now_ms clock). */
void prpc__timer_schedule(prpc__timer *t, uint64_t deadline_ms);
/* Unschedules the timer. On return fn is neither pending nor running, except
 * when called from fn itself (which then simply does not fire again). */
void prpc__timer_cancel(prpc__timer *t);

/* ----------------------------------------------------------- connections */

typedef struct prpc__pconn prpc__pconn;

/* The largest datagram a message-mode connection sends; a message longer
 * than this continues in the next datagrams. Receive buffers for message
 * mode must hold at least this much. */
#define PRPC__CHUNK_SIZE ((size_t)64 * 1024)

/* Receive completion: st is PRPC_OK with n > 0 bytes written to the buffer
 * (in message mode exactly one datagram), PRPC_ERR_CLOSED when the peer
 * closed or the connection was closed, PRPC_ERR_PROTOCOL when a datagram did
 * not fit the buffer, PRPC_ERR_IO otherwise. */
typedef void (*prpc__pconn_recv_fn)(void *user, prpc_status st, size_t n);

/* Connects to addr (not STDIO), retrying while nobody listens there until
 * deadline_ms (UINT64_MAX = forever; 0 = one attempt). pool may be NULL: the
 * connection then supports only the blocking calls (recv_sync, and send
 * blocks) until prpc__pconn_attach. Errors: PRPC_ERR_UNAVAILABLE (nobody
 * listened before the deadline), PRPC_ERR_INVALID_ARG (unusable address),
 * PRPC_ERR_DENIED, PRPC_ERR_IO. */
prpc_status prpc__pconn_dial(prpc__iopool *pool, const prpc__addr *addr, uint64_t deadline_ms,
                             prpc__pconn **out, prpc__err *err);
/* Spawns argv[0] (searched in PATH) with argv, its stdin and stdout joined to
 * the returned byte-mode connection (stderr inherited). The child is reaped
 * by stop: after the channel closes it gets a grace period, then SIGKILL. */
prpc_status prpc__pconn_spawn(prpc__iopool *pool, const char *const *argv, prpc__pconn **out,
                              prpc__err *err);
/* A byte-mode connection over this process's stdin and stdout. The original
 * descriptors are moved aside so that stray printf output cannot corrupt the
 * stream: afterwards fd 0 reads /dev/null and fd 1 writes to stderr. Only one
 * may exist per process (PRPC_ERR_ADDR_IN_USE). */
prpc_status prpc__pconn_stdio(prpc__iopool *pool, prpc__pconn **out, prpc__err *err);
/* Attaches a connection made with pool NULL to a pool. */
prpc_status prpc__pconn_attach(prpc__pconn *c, prpc__iopool *pool);

/* Requests one receive into buf[0..len). Only one may be outstanding; cb
 * runs later on a pool thread (never inside this call). Returns
 * PRPC_ERR_CLOSED after close, PRPC_ERR_BUSY if a receive is outstanding. */
prpc_status prpc__pconn_recv(prpc__pconn *c, void *buf, size_t len, prpc__pconn_recv_fn cb,
                             void *user);
/* Receives in the caller's thread, waiting until deadline_ms, with no pool
 * involved (one system call in the steady state). deadline_ms 0 takes only
 * what has already arrived, without waiting. Not while an asynchronous
 * receive is outstanding (PRPC_ERR_BUSY). Same results as the callback,
 * plus PRPC_ERR_TIMEOUT. */
prpc_status prpc__pconn_recv_sync(prpc__pconn *c, void *buf, size_t len, uint64_t deadline_ms,
                                  size_t *n);
/* Sends one whole message. With a pool it never blocks: what the socket does
 * not take at once is copied and written by the pool, in order. Without a
 * pool it blocks until everything is written. Returns PRPC_ERR_CLOSED when
 * the connection or the peer is closed, PRPC_ERR_BUSY when the queue of
 * unsent bytes would exceed the connection's limit (nothing is sent then). */
prpc_status prpc__pconn_send(prpc__pconn *c, const void *data, size_t len);
/* The most bytes queued for sending before send reports PRPC_ERR_BUSY. */
void prpc__pconn_set_send_limit(prpc__pconn *c, size_t bytes);
/* Bytes accepted by send but not yet handed to the OS. */
size_t prpc__pconn_send_queued(prpc__pconn *c);
prpc__chan_mode prpc__pconn_mode(const prpc__pconn *c);
void prpc__pconn_peer(const prpc__pconn *c, prpc__peer *out);
/* A descriptor that polls readable when a receive would not block, for an
 * application's own event loop (an int on POSIX). */
intptr_t prpc__pconn_pollable(const prpc__pconn *c);
/* Closes the channel; never blocks. An outstanding receive completes with
 * PRPC_ERR_CLOSED; queued sends are dropped. */
void prpc__pconn_close(prpc__pconn *c);
/* Waits until no callback for c is running or pending (not from c's own
 * callback), and reaps a spawned child. */
void prpc__pconn_stop(prpc__pconn *c);
/* Frees a stopped connection. Accepts NULL. */
void prpc__pconn_free(prpc__pconn *c);
/* close + stop + free, callable from any thread including c's own receive
 * callback (the pool then frees c once the callback has returned). */
void prpc__pconn_destroy(prpc__pconn *c);

/* ------------------------------------------------------------- listeners */

typedef struct prpc__plistener prpc__plistener;

/* Accept completion: PRPC_OK with a new connection (owned by the callee,
 * attached to the listener's pool, no receive started, peer credentials
 * already read) or PRPC_ERR_CLOSED after close. Running out of descriptors
 * is not reported: the listener backs off and retries. */
typedef void (*prpc__plistener_accept_fn)(void *user, prpc_status st, prpc__pconn *c);

/* Binds and listens on addr (PIPE, UNIX or TCP). For PIPE and UNIX a lock
 * file guards the socket path: a stale socket is removed, a live server is
 * never displaced (PRPC_ERR_ADDR_IN_USE). PIPE names live in the private
 * runtime directory, which is created (0700) or checked. */
prpc_status prpc__plistener_open(prpc__iopool *pool, const prpc__addr *addr,
                                 prpc__plistener **out, prpc__err *err);
/* The bound TCP port (useful after asking for port 0); 0 for other kinds. */
uint16_t prpc__plistener_port(const prpc__plistener *l);
/* The socket path bound (PIPE, UNIX); "" for TCP. */
const char *prpc__plistener_path(const prpc__plistener *l);
/* Requests the next connection; one outstanding at a time. */
prpc_status prpc__plistener_accept(prpc__plistener *l, prpc__plistener_accept_fn cb, void *user);
/* Stops listening and removes the socket path; never blocks. An outstanding
 * accept completes with PRPC_ERR_CLOSED. */
void prpc__plistener_close(prpc__plistener *l);
/* Waits until no accept callback is running or pending. */
void prpc__plistener_stop(prpc__plistener *l);
void prpc__plistener_free(prpc__plistener *l);

/* The directory that holds pipe: sockets, created 0700 if missing and
 * checked (owned by us, not a symlink, no group/other access). */
prpc_status prpc__runtime_dir(char *buf, size_t size, prpc__err *err);

#endif /* PRPC_PLATFORM_H */
