/* Sockets on Linux: the private runtime directory for pipe: names, binding
 * with a lock file so a live server is never displaced, accepting with
 * peer credentials read before anything else, and connecting with a
 * wait-for-server deadline.
 *
 * Linux-specific here, and what a port would use instead:
 *  - SO_PEERCRED (struct ucred: pid, uid, gid). FreeBSD: LOCAL_PEERCRED
 *    (struct xucred; the pid in cr_pid since FreeBSD 13) or getpeereid()
 *    (uid and gid only); macOS: LOCAL_PEERCRED plus LOCAL_PEERPID; OpenBSD:
 *    SO_PEERCRED with struct sockpeercred.
 *  - accept4() and SOCK_CLOEXEC | SOCK_NONBLOCK in socket(). FreeBSD has
 *    them; macOS needs fcntl() afterwards, which leaves a moment in which a
 *    fork and exec elsewhere in the process inherits the descriptor.
 *  - SOCK_SEQPACKET on AF_UNIX for message mode. FreeBSD has it; macOS does
 *    not, so message mode there would run over SOCK_STREAM with the
 *    streaming reader, as byte mode does.
 *  - the pool's epoll masks (EPOLLIN) when a listener is re-armed. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "piperpc/alloc.h"
#include "platform/linux/linux_io.h"

#define ACCEPT_BACKOFF_MS 100u
#define LISTEN_BACKLOG 128

void prpc__self_peer(prpc__peer *out)
{
    memset(out, 0, sizeof *out); /* no SID, no host on POSIX */
    out->has_cred = true;
    out->pid = (int64_t)getpid();
    out->uid = (uint32_t)geteuid();
    out->gid = (uint32_t)getegid();
}

/* ---------------------------------------------------- runtime directory */

static prpc_status check_private_dir(const char *dir, prpc__err *err)
{
    struct stat st;
    if (lstat(dir, &st) != 0) {
        prpc__set_err(err, "cannot use runtime directory %s: %s", dir, strerror(errno));
        return prpc__errno_status(errno);
    }
    if (!S_ISDIR(st.st_mode)) {
        prpc__set_err(err, "runtime directory %s is not a directory (a symlink?)", dir);
        return PRPC_ERR_DENIED;
    }
    if (st.st_uid != geteuid()) {
        prpc__set_err(err, "runtime directory %s is owned by uid %u, not by us (uid %u)", dir,
                      (unsigned)st.st_uid, (unsigned)geteuid());
        return PRPC_ERR_DENIED;
    }
    if ((st.st_mode & 077) != 0) {
        prpc__set_err(err, "runtime directory %s has mode %04o; it must be private (0700)", dir,
                      (unsigned)(st.st_mode & 0777));
        return PRPC_ERR_DENIED;
    }
    return PRPC_OK;
}

prpc_status prpc__runtime_dir(char *buf, size_t size, prpc__err *err)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    if (xdg != NULL && xdg[0] == '/')
        n = snprintf(buf, size, "%s/piperpc", xdg);
    else
        n = snprintf(buf, size, "/tmp/piperpc-%u", (unsigned)geteuid());
    if (n < 0 || (size_t)n >= size) {
        prpc__set_err(err, "runtime directory path is too long");
        return PRPC_ERR_INVALID_ARG;
    }
    /* mkdir's mode can only be narrowed by the umask, so 0700 is never
     * widened; an existing directory is checked instead of trusted. */
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
        prpc__set_err(err, "cannot create runtime directory %s: %s", buf, strerror(errno));
        return prpc__errno_status(errno);
    }
    return check_private_dir(buf, err);
}

/* -------------------------------------------------------- address setup */

static prpc_status unix_sockaddr(const char *path, struct sockaddr_un *sa, prpc__err *err)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (len == 0 || path[0] != '/') {
        /* A leading NUL would be the abstract namespace, which has no
         * permissions: never used. */
        prpc__set_err(err, "socket path must be absolute: '%s'", path);
        return PRPC_ERR_INVALID_ARG;
    }
    if (len >= sizeof sa->sun_path) {
        prpc__set_err(err, "socket path is %zu bytes, the limit is %zu: %s", len,
                      sizeof sa->sun_path - 1, path);
        return PRPC_ERR_INVALID_ARG;
    }
    memcpy(sa->sun_path, path, len + 1);
    return PRPC_OK;
}

/* The socket path for a PIPE or UNIX address. */
static prpc_status addr_path(const prpc__addr *a, char *path, size_t size, prpc__err *err)
{
    if (a->kind == PRPC__ADDR_UNIX) {
        if (strlen(a->name) >= size) {
            prpc__set_err(err, "socket path too long");
            return PRPC_ERR_INVALID_ARG;
        }
        strcpy(path, a->name);
        return PRPC_OK;
    }
    char dir[PRPC__PATH_MAX];
    prpc_status st = prpc__runtime_dir(dir, sizeof dir, err);
    if (st != PRPC_OK)
        return st;
    int n = snprintf(path, size, "%s/%s", dir, a->name);
    if (n < 0 || (size_t)n >= size) {
        prpc__set_err(err, "socket path too long");
        return PRPC_ERR_INVALID_ARG;
    }
    return PRPC_OK;
}

static int sock_type(const prpc__addr *a)
{
    return a->mode == PRPC__CHAN_BYTE ? SOCK_STREAM : SOCK_SEQPACKET;
}

/* The send buffer asked for on AF_UNIX sockets. The default (about 208 KiB)
 * holds three 64 KiB datagrams, so a 1 MiB message would go out as three
 * datagrams, a copy of the rest into the send queue and a dozen wake-ups of
 * the pool to write it piece by piece. With room for a few MiB the sender
 * writes such a message in one go from its own thread. It is a limit, not
 * an allocation: memory is used only by bytes the peer has not read yet.
 * The kernel caps it at net.core.wmem_max; a smaller cap only means more
 * queueing, so failure is ignored. TCP sockets keep the kernel's
 * autotuning, which a fixed SO_SNDBUF would switch off. */
#define UNIX_SNDBUF (4 * 1024 * 1024)

static void set_unix_sndbuf(int fd)
{
    int size = UNIX_SNDBUF;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

static void read_peercred(int fd, prpc__peer *peer)
{
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 && len == sizeof cr) {
        peer->has_cred = true;
        peer->pid = cr.pid;
        peer->uid = cr.uid;
        peer->gid = cr.gid;
    } else {
        peer->has_cred = false;
        peer->pid = -1;
    }
}

/* --------------------------------------------------------------- listen */

/* With the lock held: is someone answering on path? Removes a stale socket
 * file; refuses to touch anything that is not a socket. */
static prpc_status clear_stale(const char *path, const struct sockaddr_un *sa, int type,
                               prpc__err *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? PRPC_OK : prpc__errno_status(errno);
    if (!S_ISSOCK(st.st_mode)) {
        prpc__set_err(err, "%s exists and is not a socket; not removing it", path);
        return PRPC_ERR_ADDR_IN_USE;
    }
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return prpc__errno_status(errno);
    int r;
    do {
        r = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
    } while (r != 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (r != 0 && (e == ECONNREFUSED || e == ENOENT)) {
        /* Nobody listens: a crashed server's leftover. */
        if (unlink(path) != 0 && errno != ENOENT) {
            prpc__set_err(err, "cannot remove stale socket %s: %s", path, strerror(errno));
            return prpc__errno_status(errno);
        }
        return PRPC_OK;
    }
    prpc__set_err(err, "a live server already answers on %s", path);
    return PRPC_ERR_ADDR_IN_USE;
}

static prpc_status listen_unix(prpc__plistener *l, prpc__err *err)
{
    struct sockaddr_un sa;
    prpc_status st = addr_path(&l->addr, l->path, sizeof l->path, err);
    if (st != PRPC_OK)
        return st;
    st = unix_sockaddr(l->path, &sa, err);
    if (st != PRPC_OK)
        return st;
    char lockpath[PRPC__PATH_MAX + 8];
    snprintf(lockpath, sizeof lockpath, "%s.lock", l->path);
    l->lock_fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (l->lock_fd < 0) {
        prpc__set_err(err, "cannot open lock file %s: %s", lockpath, strerror(errno));
        return prpc__errno_status(errno);
    }
    /* The lock file stays in place after we exit: removing it would let two
     * servers lock different files for the same name. */
    if (flock(l->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        prpc__set_err(err, "another server holds %s", l->path);
        return errno == EWOULDBLOCK ? PRPC_ERR_ADDR_IN_USE : prpc__errno_status(errno);
    }
    st = clear_stale(l->path, &sa, sock_type(&l->addr), err);
    if (st != PRPC_OK)
        return st;
    l->fd = socket(AF_UNIX, sock_type(&l->addr) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (l->fd < 0)
        return prpc__errno_status(errno);
    if (bind(l->fd, (const struct sockaddr *)&sa, sizeof sa) != 0) {
        prpc__set_err(err, "cannot bind %s: %s", l->path, strerror(errno));
        st = prpc__errno_status(errno);
        l->path[0] = '\0'; /* not ours to remove */
        return st;
    }
    if (l->addr.kind == PRPC__ADDR_PIPE)
        chmod(l->path, 0600);
    if (listen(l->fd, LISTEN_BACKLOG) != 0) {
        prpc__set_err(err, "cannot listen on %s: %s", l->path, strerror(errno));
        return prpc__errno_status(errno);
    }
    return PRPC_OK;
}

static prpc_status resolve(const prpc__addr *a, bool passive, struct addrinfo **res, prpc__err *err)
{
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)a->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    const char *host = a->name[0] ? a->name : NULL;
    int r = getaddrinfo(host, port, &hints, res);
    if (r != 0) {
        prpc__set_err(err, "cannot resolve '%s': %s", a->name, gai_strerror(r));
        return r == EAI_MEMORY ? PRPC_ERR_NO_MEMORY : PRPC_ERR_INVALID_ARG;
    }
    return PRPC_OK;
}

static prpc_status listen_tcp(prpc__plistener *l, prpc__err *err)
{
    struct addrinfo *res = NULL;
    prpc_status st = resolve(&l->addr, true, &res, err);
    if (st != PRPC_OK)
        return st;
    st = PRPC_ERR_UNAVAILABLE;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            st = prpc__errno_status(errno);
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
            st = prpc__errno_status(errno);
            prpc__set_err(err, "cannot listen on tcp:%s:%u: %s", l->addr.name,
                          (unsigned)l->addr.port, strerror(errno));
            close(fd);
            continue;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
            if (ss.ss_family == AF_INET)
                l->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            else if (ss.ss_family == AF_INET6)
                l->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        l->fd = fd;
        st = PRPC_OK;
        break;
    }
    freeaddrinfo(res);
    return st;
}

static void backoff_fn(void *arg);

prpc_status prpc__plistener_open(prpc__iopool *pool, const prpc__addr *addr,
                                 prpc__plistener **out, prpc__err *err)
{
    *out = NULL;
    if (pool == NULL || addr == NULL)
        return PRPC_ERR_INVALID_ARG;
    if (addr->kind != PRPC__ADDR_PIPE && addr->kind != PRPC__ADDR_UNIX &&
        addr->kind != PRPC__ADDR_TCP) {
        prpc__set_err(err, "this endpoint kind cannot listen");
        return PRPC_ERR_INVALID_ARG;
    }
    prpc__plistener *l = prpc_alloc(sizeof *l);
    if (l == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(l, 0, sizeof *l);
    l->obj.kind = POBJ_LISTENER;
    l->pool = pool;
    l->fd = -1;
    l->lock_fd = -1;
    l->addr = *addr;
    prpc__mutex_init(&l->lock);
    prpc__cond_init(&l->idle);
    prpc_status st =
        addr->kind == PRPC__ADDR_TCP ? listen_tcp(l, err) : listen_unix(l, err);
    if (st == PRPC_OK)
        st = prpc__pool_register(pool, &l->obj, l->fd, l->fd);
    if (st != PRPC_OK) {
        if (l->fd >= 0) {
            close(l->fd);
            if (l->path[0])
                unlink(l->path);
        }
        if (l->lock_fd >= 0)
            close(l->lock_fd);
        prpc__cond_destroy(&l->idle);
        prpc__mutex_destroy(&l->lock);
        prpc_free(l);
        return st;
    }
    prpc__timer_init(&l->backoff, pool, backoff_fn, l);
    *out = l;
    return PRPC_OK;
}

uint16_t prpc__plistener_port(const prpc__plistener *l)
{
    return l->port;
}

const char *prpc__plistener_path(const prpc__plistener *l)
{
    return l->path;
}

static void listener_unbusy_unlock(prpc__plistener *l)
{
    if (atomic_fetch_sub(&l->obj.busy, 1) == 1)
        prpc__cond_broadcast(&l->idle);
    prpc__mutex_unlock(&l->lock);
}

static void backoff_fn(void *arg)
{
    prpc__plistener *l = arg;
    prpc__mutex_lock(&l->lock);
    l->backing_off = false;
    if (!l->closed && l->accept_pending && !l->armed) {
        l->armed = true;
        prpc__pool_arm(l->pool, &l->obj, l->fd, EPOLLIN, false);
    }
    listener_unbusy_unlock(l);
}

prpc_status prpc__plistener_accept(prpc__plistener *l, prpc__plistener_accept_fn cb, void *user)
{
    if (l == NULL || cb == NULL)
        return PRPC_ERR_INVALID_ARG;
    prpc__mutex_lock(&l->lock);
    prpc_status st = PRPC_OK;
    if (l->closed)
        st = PRPC_ERR_CLOSED;
    else if (l->accept_pending)
        st = PRPC_ERR_BUSY;
    else {
        l->accept_pending = true;
        l->cb = cb;
        l->user = user;
        /* While a callback runs (busy) the pool re-arms after it. */
        if (atomic_load(&l->obj.busy) == 0 && !l->backing_off) {
            l->armed = true;
            prpc__pool_arm(l->pool, &l->obj, l->fd, EPOLLIN, false);
        }
    }
    prpc__mutex_unlock(&l->lock);
    return st;
}

void prpc__plistener_on_event(prpc__plistener *l)
{
    prpc__mutex_lock(&l->lock);
    l->armed = false;
    if (l->closed || !l->accept_pending) {
        listener_unbusy_unlock(l);
        return;
    }
    int fd;
    do {
        fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Out of descriptors: the pending connection stays queued and
             * the socket stays readable, so re-arming now would spin. Wait. */
            prpc__log(PRPC_LOG_WARN, "accept on %s: %s; retrying in %u ms",
                      l->path[0] ? l->path : "tcp", strerror(errno), ACCEPT_BACKOFF_MS);
            l->backing_off = true;
            atomic_fetch_add(&l->obj.busy, 1);
            prpc__timer_schedule(&l->backoff, prpc__now_ms() + ACCEPT_BACKOFF_MS);
        } else {
            l->armed = true;
            prpc__pool_arm(l->pool, &l->obj, l->fd, EPOLLIN, false);
        }
        listener_unbusy_unlock(l);
        return;
    }
    prpc__pconn *c = NULL;
    bool is_unix = l->addr.kind != PRPC__ADDR_TCP;
    prpc_status st = prpc__pconn_new(l->pool, fd, fd, true, is_unix ? l->addr.mode : PRPC__CHAN_BYTE, &c);
    if (st != PRPC_OK) {
        close(fd);
        l->armed = true;
        prpc__pool_arm(l->pool, &l->obj, l->fd, EPOLLIN, false);
        listener_unbusy_unlock(l);
        return;
    }
    if (is_unix) {
        /* Identity first, before a single byte is read. */
        read_peercred(fd, &c->peer);
        set_unix_sndbuf(fd);
    } else {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    l->accept_pending = false;
    prpc__plistener_accept_fn cb = l->cb;
    void *user = l->user;
    prpc__mutex_unlock(&l->lock);
    cb(user, PRPC_OK, c);
    prpc__mutex_lock(&l->lock);
    if (!l->closed && l->accept_pending && !l->armed && !l->backing_off) {
        l->armed = true;
        prpc__pool_arm(l->pool, &l->obj, l->fd, EPOLLIN, false);
    }
    listener_unbusy_unlock(l);
}

static void listener_close_task(void *arg)
{
    prpc__plistener *l = arg;
    l->cb(l->user, PRPC_ERR_CLOSED, NULL);
    prpc__mutex_lock(&l->lock);
    listener_unbusy_unlock(l);
}

void prpc__plistener_close(prpc__plistener *l)
{
    if (l == NULL)
        return;
    prpc__mutex_lock(&l->lock);
    if (l->closed) {
        prpc__mutex_unlock(&l->lock);
        return;
    }
    l->closed = true;
    prpc__pool_unregister(l->pool, &l->obj, l->fd, l->fd);
    /* Remove the path while we still hold the lock file, so nobody else's
     * socket can be in its place. */
    if (l->path[0] && l->addr.kind != PRPC__ADDR_TCP)
        unlink(l->path);
    close(l->fd);
    l->fd = -1;
    if (l->lock_fd >= 0) {
        close(l->lock_fd);
        l->lock_fd = -1;
    }
    if (l->accept_pending) {
        l->accept_pending = false;
        atomic_fetch_add(&l->obj.busy, 1);
        prpc__task_post(l->pool, &l->close_task, listener_close_task, l);
    }
    prpc__mutex_unlock(&l->lock);
}

void prpc__plistener_stop(prpc__plistener *l)
{
    if (l == NULL)
        return;
    prpc__plistener_close(l);
    prpc__timer_cancel(&l->backoff);
    prpc__mutex_lock(&l->lock);
    if (l->backing_off) {
        /* The cancelled backoff timer will never drop its busy count. */
        l->backing_off = false;
        atomic_fetch_sub(&l->obj.busy, 1);
    }
    while (atomic_load(&l->obj.busy) > 0)
        prpc__cond_wait(&l->idle, &l->lock);
    prpc__mutex_unlock(&l->lock);
}

void prpc__plistener_free(prpc__plistener *l)
{
    if (l == NULL)
        return;
    prpc__cond_destroy(&l->idle);
    prpc__mutex_destroy(&l->lock);
    prpc_free(l);
}

/* ----------------------------------------------------------------- dial */

/* The pause between attempts while waiting for a server to appear. */
static uint32_t retry_pause(uint64_t deadline_ms)
{
    uint64_t now = prpc__now_ms();
    if (deadline_ms == UINT64_MAX)
        return 20;
    uint64_t left = deadline_ms > now ? deadline_ms - now : 0;
    return left < 20 ? (uint32_t)left : 20;
}

static prpc_status dial_unix(const prpc__addr *a, uint64_t deadline_ms, int *out,
                             prpc__err *err)
{
    char path[PRPC__PATH_MAX];
    struct sockaddr_un sa;
    prpc_status st = addr_path(a, path, sizeof path, err);
    if (st != PRPC_OK)
        return st;
    st = unix_sockaddr(path, &sa, err);
    if (st != PRPC_OK)
        return st;
    for (;;) {
        /* Non-blocking, so a full backlog is EAGAIN (retried until the
         * deadline) instead of a connect that blocks past it. */
        int fd = socket(AF_UNIX, sock_type(a) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            return prpc__errno_status(errno);
        int r;
        do {
            r = connect(fd, (const struct sockaddr *)&sa, sizeof sa);
        } while (r != 0 && errno == EINTR);
        if (r == 0) {
            /* Back to blocking mode: asynchronous calls pass MSG_DONTWAIT. */
            int fl = fcntl(fd, F_GETFL);
            fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
            *out = fd;
            return PRPC_OK;
        }
        int e = errno;
        close(fd);
        if (e != ENOENT && e != ECONNREFUSED && e != EAGAIN) {
            prpc__set_err(err, "cannot connect to %s: %s", path, strerror(e));
            return e == EPROTOTYPE ? PRPC_ERR_PROTOCOL : prpc__errno_status(e);
        }
        if (deadline_ms == 0 || prpc__now_ms() >= deadline_ms) {
            prpc__set_err(err, "no server at %s", path);
            return PRPC_ERR_UNAVAILABLE;
        }
        prpc__sleep_ms(retry_pause(deadline_ms));
    }
}

static prpc_status tcp_connect_one(const struct addrinfo *ai, uint64_t deadline_ms, int *out)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return prpc__errno_status(errno);
    int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r != 0 && errno != EINPROGRESS && errno != EINTR) {
        int e = errno;
        close(fd);
        return prpc__errno_status(e);
    }
    if (r != 0) {
        for (;;) {
            int timeout = -1;
            if (deadline_ms != UINT64_MAX) {
                uint64_t now = prpc__now_ms();
                /* One attempt (deadline 0) still gets a second to connect. */
                uint64_t end = deadline_ms == 0 ? now + 1000 : deadline_ms;
                timeout = end > now ? (int)(end - now > INT32_MAX ? INT32_MAX : end - now) : 0;
            }
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int pr = poll(&p, 1, timeout);
            if (pr < 0 && errno == EINTR)
                continue;
            if (pr <= 0) {
                close(fd);
                return PRPC_ERR_TIMEOUT;
            }
            break;
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr != 0) {
            close(fd);
            return prpc__errno_status(soerr);
        }
    }
    /* Back to blocking mode: asynchronous calls pass MSG_DONTWAIT. */
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *out = fd;
    return PRPC_OK;
}

static prpc_status dial_tcp(const prpc__addr *a, uint64_t deadline_ms, int *out, prpc__err *err)
{
    if (a->port == 0) {
        prpc__set_err(err, "tcp: port 0 cannot be connected to");
        return PRPC_ERR_INVALID_ARG;
    }
    struct addrinfo *res = NULL;
    prpc_status st = resolve(a, false, &res, err);
    if (st != PRPC_OK)
        return st;
    for (;;) {
        for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
            st = tcp_connect_one(ai, deadline_ms, out);
            if (st == PRPC_OK) {
                freeaddrinfo(res);
                return PRPC_OK;
            }
        }
        if (st != PRPC_ERR_UNAVAILABLE && st != PRPC_ERR_TIMEOUT)
            break;
        if (deadline_ms == 0 || prpc__now_ms() >= deadline_ms) {
            st = PRPC_ERR_UNAVAILABLE;
            break;
        }
        prpc__sleep_ms(retry_pause(deadline_ms));
    }
    freeaddrinfo(res);
    prpc__set_err(err, "cannot connect to tcp:%s:%u: %s", a->name, (unsigned)a->port,
                  prpc_strerror(st));
    return st;
}

prpc_status prpc__pconn_dial(prpc__iopool *pool, const prpc__addr *addr, uint64_t deadline_ms,
                             prpc__pconn **out, prpc__err *err)
{
    *out = NULL;
    if (addr == NULL)
        return PRPC_ERR_INVALID_ARG;
    int fd = -1;
    prpc_status st;
    switch (addr->kind) {
    case PRPC__ADDR_PIPE:
    case PRPC__ADDR_UNIX:
        st = dial_unix(addr, deadline_ms, &fd, err);
        break;
    case PRPC__ADDR_TCP:
        st = dial_tcp(addr, deadline_ms, &fd, err);
        break;
    default:
        prpc__set_err(err, "this endpoint kind cannot be dialled");
        return PRPC_ERR_INVALID_ARG;
    }
    if (st != PRPC_OK)
        return st;
    prpc__chan_mode mode = addr->kind == PRPC__ADDR_TCP ? PRPC__CHAN_BYTE : addr->mode;
    prpc__pconn *c = NULL;
    st = prpc__pconn_new(pool, fd, fd, true, mode, &c);
    if (st != PRPC_OK) {
        close(fd);
        return st;
    }
    if (addr->kind != PRPC__ADDR_TCP) {
        read_peercred(fd, &c->peer);
        set_unix_sndbuf(fd);
    }
    *out = c;
    return PRPC_OK;
}
