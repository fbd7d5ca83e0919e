/* Listeners on Windows. pipe: keeps PRPC__PIPE_WAITING instances of
 * \\.\pipe\NAME waiting in an overlapped ConnectNamedPipe, so a burst of
 * clients finds a free instance instead of ERROR_PIPE_BUSY; tcp: keeps as
 * many AcceptEx calls outstanding. Connected instances wait in the listener
 * until accept() asks for one; each taken instance is replaced at once. */
#include <stdio.h>
#include <string.h>

#include <ws2tcpip.h>

#include "piperpc/alloc.h"
#include "platform/win32/win32_io.h"

static void on_inst(struct wio *io, DWORD err, DWORD n);
static void maybe_deliver_locked(prpc__plistener *l);
static void arm_refill_locked(prpc__plistener *l);
static void refill_fn(void *arg);

static void unbusy_unlock(prpc__plistener *l)
{
    if (--l->busy == 0)
        prpc__cond_broadcast(&l->idle);
    prpc__mutex_unlock(&l->lock);
}

/* ------------------------------------------------------------- pipes */

static prpc_status new_pipe_instance(prpc__plistener *l, bool first, HANDLE *out, DWORD *werr)
{
    SECURITY_ATTRIBUTES sa = {.nLength = sizeof sa, .lpSecurityDescriptor = l->sd,
                              .bInheritHandle = FALSE};
    DWORD open_mode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED |
                      (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
    HANDLE h = CreateNamedPipeW(l->wpath, open_mode, l->pipe_mode, PIPE_UNLIMITED_INSTANCES,
                                (DWORD)PRPC__CHUNK_SIZE, (DWORD)PRPC__CHUNK_SIZE, 0, &sa);
    if (h == INVALID_HANDLE_VALUE) {
        *werr = GetLastError();
        return prpc__win_status(*werr);
    }
    *out = h;
    return PRPC_OK;
}

/* Starts ConnectNamedPipe on instance i; lock held. */
static void arm_pipe_locked(prpc__plistener *l, struct pinst *pi)
{
    memset(&pi->io.ov, 0, sizeof pi->io.ov);
    if (ConnectNamedPipe(pi->h, &pi->io.ov)) {
        pi->pending = true; /* completed; its packet is queued */
        l->busy++;
        prpc__pool_expect(l->pool);
        return;
    }
    DWORD err = GetLastError();
    if (err == ERROR_IO_PENDING) {
        pi->pending = true;
        l->busy++;
        prpc__pool_expect(l->pool);
    } else if (err == ERROR_PIPE_CONNECTED) {
        /* The client came between create and connect: no packet follows. */
        pi->ready = true;
    } else {
        /* ERROR_NO_DATA: a client came and went already. Report through the
         * port so that the retry happens on a pool thread. */
        pi->pending = true;
        l->busy++;
        prpc__pool_expect(l->pool);
        prpc__pool_post_io(l->pool, &pi->io, err, 0);
    }
}

/* Replaces the instance's handle with a fresh one and arms it. */
static void renew_pipe_locked(prpc__plistener *l, struct pinst *pi)
{
    HANDLE h;
    DWORD werr = 0;
    pi->h = INVALID_HANDLE_VALUE;
    if (new_pipe_instance(l, false, &h, &werr) != PRPC_OK) {
        /* Out of resources, or the name is at its 255 instances: the slot
         * stays empty for now and is retried. */
        arm_refill_locked(l);
        return;
    }
    if (prpc__pool_associate(l->pool, h) != PRPC_OK) {
        CloseHandle(h);
        arm_refill_locked(l);
        return;
    }
    pi->h = h;
    arm_pipe_locked(l, pi);
}

/* ------------------------------------------------------------- tcp */

static void arm_tcp_locked(prpc__plistener *l, struct pinst *pi)
{
    pi->as = WSASocketW(l->family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                        WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (pi->as == INVALID_SOCKET) {
        arm_refill_locked(l);
        return;
    }
    memset(&pi->io.ov, 0, sizeof pi->io.ov);
    LPFN_ACCEPTEX acceptex = l->acceptex;
    DWORD n = 0;
    DWORD alen = (DWORD)sizeof(SOCKADDR_STORAGE) + 16u;
    pi->pending = true;
    l->busy++;
    prpc__pool_expect(l->pool);
    if (!acceptex(l->ls, pi->as, pi->abuf, 0, alen, alen, &n, &pi->io.ov)) {
        int e = WSAGetLastError();
        if (e != ERROR_IO_PENDING)
            prpc__pool_post_io(l->pool, &pi->io, (DWORD)e, 0);
    }
}

/* ---------------------------------------------------------- completion */

static void on_inst(struct wio *io, DWORD err, DWORD n)
{
    (void)n;
    prpc__plistener *l = io->owner;
    struct pinst *pi = (struct pinst *)io;
    prpc__mutex_lock(&l->lock);
    pi->pending = false;
    if (l->closed) {
        if (l->kind == LK_TCP && pi->as != INVALID_SOCKET) {
            closesocket(pi->as);
            pi->as = INVALID_SOCKET;
        }
        unbusy_unlock(l);
        return;
    }
    if (l->kind == LK_PIPE) {
        if (err == 0 || err == ERROR_PIPE_CONNECTED) {
            pi->ready = true;
            maybe_deliver_locked(l);
        } else {
            /* The client left before we saw it, or the instance broke:
             * start over with a fresh instance. */
            CloseHandle(pi->h);
            renew_pipe_locked(l, pi);
        }
    } else {
        if (err == 0) {
            setsockopt(pi->as, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&l->ls,
                       (int)sizeof l->ls);
            pi->ready = true;
            maybe_deliver_locked(l);
        } else {
            closesocket(pi->as);
            pi->as = INVALID_SOCKET;
            if (err == WSAEMFILE || err == WSAENOBUFS)
                Sleep(10); /* out of resources: back off instead of spinning */
            arm_tcp_locked(l, pi);
        }
    }
    unbusy_unlock(l);
}

static prpc__pconn *take_ready_locked(prpc__plistener *l)
{
    for (int i = 0; i < PRPC__PIPE_WAITING; i++) {
        struct pinst *pi = &l->inst[i];
        if (!pi->ready)
            continue;
        pi->ready = false;
        prpc__pconn *c = NULL;
        if (l->kind == LK_PIPE) {
            HANDLE h = pi->h;
            /* The connected instance leaves the completion port's key as
             * it is: its association stays valid for the connection. */
            if (prpc__pconn_new(NULL, WK_PIPE, h, h, l->addr.mode, &c) != PRPC_OK) {
                DisconnectNamedPipe(h);
                arm_pipe_locked(l, pi);
                continue;
            }
            prpc__pipe_peer(h, l->addr.remote_clients, &c->peer);
            c->pool = l->pool;
            c->associated = true;
            renew_pipe_locked(l, pi);
        } else {
            SOCKET s = pi->as;
            pi->as = INVALID_SOCKET;
            BOOL one = TRUE;
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, (int)sizeof one);
            if (prpc__pconn_new(NULL, WK_SOCK, (HANDLE)s, (HANDLE)s, PRPC__CHAN_BYTE, &c) != PRPC_OK) {
                closesocket(s);
                arm_tcp_locked(l, pi);
                continue;
            }
            /* An accepted socket is a new handle: bind it to the port too. */
            if (prpc__pool_associate(l->pool, (HANDLE)s) != PRPC_OK) {
                prpc__pconn_free(c);
                closesocket(s);
                arm_tcp_locked(l, pi);
                continue;
            }
            c->pool = l->pool;
            c->associated = true;
            c->peer.has_cred = false;
            c->peer.pid = -1;
            arm_tcp_locked(l, pi);
        }
        return c;
    }
    return NULL;
}

static void deliver_fn(void *arg)
{
    prpc__plistener *l = arg;
    prpc__mutex_lock(&l->lock);
    l->deliver_posted = false;
    if (!l->accept_pending) {
        unbusy_unlock(l);
        return;
    }
    prpc_status st = PRPC_OK;
    prpc__pconn *c = NULL;
    if (l->closed) {
        st = PRPC_ERR_CLOSED;
    } else {
        c = take_ready_locked(l);
        if (c == NULL) {
            unbusy_unlock(l);
            return;
        }
    }
    l->accept_pending = false;
    l->in_cb = true;
    prpc__plistener_accept_fn cb = l->cb;
    void *user = l->user;
    prpc__mutex_unlock(&l->lock);
    cb(user, st, c);
    prpc__mutex_lock(&l->lock);
    l->in_cb = false;
    maybe_deliver_locked(l);
    unbusy_unlock(l);
}

static void maybe_deliver_locked(prpc__plistener *l)
{
    if (!l->accept_pending || l->deliver_posted || l->in_cb)
        return;
    bool any = l->closed;
    for (int i = 0; i < PRPC__PIPE_WAITING && !any; i++)
        any = l->inst[i].ready;
    if (!any)
        return;
    l->deliver_posted = true;
    l->busy++;
    prpc__task_post(l->pool, &l->deliver, deliver_fn, l);
}

/* ---------------------------------------------------------------- open */

/* FILE_FLAG_FIRST_PIPE_INSTANCE is what stops another process from serving
 * our name on Windows. A named mutex held for the listener's life claims the
 * name a second time, between local servers: it makes a second server fail
 * fast even where the pipe flag is not enforced (Wine ignores it), and it
 * names the reason plainly. The mutex dies with its process. */
static prpc_status claim_name(prpc__plistener *l, prpc__err *err)
{
    char name[PRPC__PATH_MAX + 32];
    wchar_t wname[PRPC__PATH_MAX + 32];
    for (int scope = 0; scope < 2; scope++) {
        snprintf(name, sizeof name, "%s\\piperpc-pipe-%s", scope == 0 ? "Global" : "Local",
                 l->addr.name);
        if (!prpc__utf8_to_wide(name, wname, sizeof wname / sizeof wname[0])) {
            prpc__set_err(err, "pipe name is not valid UTF-8: %s", l->addr.name);
            return PRPC_ERR_INVALID_ARG;
        }
        HANDLE m = CreateMutexW(NULL, FALSE, wname);
        DWORD e = GetLastError();
        if (m != NULL && e == ERROR_ALREADY_EXISTS) {
            CloseHandle(m);
            prpc__set_err(err, "pipe %s is already in use by another server", l->path);
            return PRPC_ERR_ADDR_IN_USE;
        }
        if (m != NULL) {
            l->guard = m;
            return PRPC_OK;
        }
        if (e != ERROR_ACCESS_DENIED) /* no right to the global namespace */
            break;
    }
    prpc__set_win_err(err, GetLastError(), "cannot claim the pipe name");
    return PRPC_ERR_IO;
}

/* The pipe mode of every instance, computed once so that no instance can
 * differ: clients on other machines are refused (PIPE_REJECT_REMOTE_CLIENTS)
 * unless the server opted in. A popular runtime once lost that flag when
 * another mode flag was set; tests read l->pipe_mode to catch that. */
static DWORD pipe_mode(const prpc__addr *a)
{
    DWORD m = a->mode == PRPC__CHAN_MESSAGE ? PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE
                                            : PIPE_TYPE_BYTE | PIPE_READMODE_BYTE;
    m |= PIPE_WAIT;
    if (!a->remote_clients)
        m |= PIPE_REJECT_REMOTE_CLIENTS;
    return m;
}

static prpc_status open_pipe(prpc__plistener *l, prpc__err *err)
{
    if (l->addr.host[0] != '\0') {
        /* A server creates pipes on its own machine only; other machines
         * reach them when remote clients are allowed. */
        prpc__set_err(err, "a server cannot listen on pipe://%s/%s: listen on pipe:%s (with "
                           "allow_remote_pipe_clients for clients on other machines)",
                      l->addr.host, l->addr.name, l->addr.name);
        return PRPC_ERR_INVALID_ARG;
    }
    l->pipe_mode = pipe_mode(&l->addr);
    snprintf(l->path, sizeof l->path, "\\\\.\\pipe\\%s", l->addr.name);
    if (!prpc__utf8_to_wide(l->path, l->wpath, PRPC__PATH_MAX)) {
        prpc__set_err(err, "pipe name is not valid UTF-8: %s", l->addr.name);
        return PRPC_ERR_INVALID_ARG;
    }
    prpc_status st = claim_name(l, err);
    if (st != PRPC_OK)
        return st;
    st = prpc__pipe_security(&l->sd, err);
    if (st != PRPC_OK)
        return st;
    for (int i = 0; i < PRPC__PIPE_WAITING; i++) {
        HANDLE h;
        DWORD werr = 0;
        st = new_pipe_instance(l, i == 0, &h, &werr);
        if (st != PRPC_OK) {
            if (i == 0 && (werr == ERROR_ACCESS_DENIED || werr == ERROR_PIPE_BUSY)) {
                /* FILE_FLAG_FIRST_PIPE_INSTANCE: somebody owns the name. */
                prpc__set_err(err, "pipe %s is already in use by another server", l->path);
                return PRPC_ERR_ADDR_IN_USE;
            }
            prpc__set_win_err(err, werr, "cannot create the pipe");
            return st;
        }
        l->inst[i].h = h;
        st = prpc__pool_associate(l->pool, h);
        if (st != PRPC_OK) {
            prpc__set_err(err, "cannot attach the pipe to the I/O pool");
            return st;
        }
    }
    return PRPC_OK;
}

static prpc_status open_tcp(prpc__plistener *l, prpc__err *err)
{
    prpc_status st = prpc__wsa_init();
    if (st != PRPC_OK)
        return st;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)l->addr.port);
    const char *host = l->addr.name[0] ? l->addr.name : NULL;
    int r = getaddrinfo(host, port, &hints, &res);
    if (r != 0) {
        prpc__set_err(err, "tcp: cannot resolve '%s' (error %d)", l->addr.name, r);
        return PRPC_ERR_INVALID_ARG;
    }
    st = PRPC_ERR_IO;
    DWORD werr = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        SOCKET s = WSASocketW(ai->ai_family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                              WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
        if (s == INVALID_SOCKET) {
            werr = (DWORD)WSAGetLastError();
            continue;
        }
        BOOL one = TRUE;
        /* Windows lets SO_REUSEADDR steal a bound port; exclusive use is
         * the equivalent of the POSIX default. */
        setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&one, (int)sizeof one);
        if (bind(s, ai->ai_addr, (int)ai->ai_addrlen) != 0 || listen(s, SOMAXCONN) != 0) {
            werr = (DWORD)WSAGetLastError();
            closesocket(s);
            continue;
        }
        l->ls = s;
        l->family = ai->ai_family;
        st = PRPC_OK;
        break;
    }
    freeaddrinfo(res);
    if (st != PRPC_OK) {
        st = prpc__win_status(werr);
        if (st == PRPC_OK)
            st = PRPC_ERR_IO;
        if (st == PRPC_ERR_ADDR_IN_USE)
            prpc__set_err(err, "tcp port %u is already in use", (unsigned)l->addr.port);
        else
            prpc__set_win_err(err, werr, "tcp: cannot listen");
        return st;
    }
    SOCKADDR_STORAGE ss;
    int sl = (int)sizeof ss;
    if (getsockname(l->ls, (struct sockaddr *)&ss, &sl) == 0)
        l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    GUID guid = WSAID_ACCEPTEX;
    DWORD n = 0;
    LPFN_ACCEPTEX fn = NULL;
    if (WSAIoctl(l->ls, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, (DWORD)sizeof guid, &fn,
                 (DWORD)sizeof fn, &n, NULL, NULL) != 0 || fn == NULL) {
        prpc__set_win_err(err, (DWORD)WSAGetLastError(), "tcp: AcceptEx is not available");
        return PRPC_ERR_IO;
    }
    l->acceptex = fn;
    st = prpc__pool_associate(l->pool, (HANDLE)l->ls);
    if (st != PRPC_OK)
        prpc__set_err(err, "cannot attach the socket to the I/O pool");
    return st;
}

static void release(prpc__plistener *l)
{
    for (int i = 0; i < PRPC__PIPE_WAITING; i++) {
        if (l->inst[i].h != INVALID_HANDLE_VALUE)
            CloseHandle(l->inst[i].h);
        if (l->inst[i].as != INVALID_SOCKET)
            closesocket(l->inst[i].as);
        l->inst[i].h = INVALID_HANDLE_VALUE;
        l->inst[i].as = INVALID_SOCKET;
    }
    if (l->ls != INVALID_SOCKET)
        closesocket(l->ls);
    l->ls = INVALID_SOCKET;
    if (l->guard != NULL)
        CloseHandle(l->guard);
    l->guard = NULL;
}

prpc_status prpc__plistener_open(prpc__iopool *pool, const prpc__addr *addr,
                                 prpc__plistener **out, prpc__err *err)
{
    *out = NULL;
    if (pool == NULL || addr == NULL)
        return PRPC_ERR_INVALID_ARG;
    if (addr->kind == PRPC__ADDR_UNIX) {
        prpc__set_err(err, "unix: sockets are not supported on Windows; use pipe:NAME");
        return PRPC_ERR_NOT_SUPPORTED;
    }
    if (addr->kind != PRPC__ADDR_PIPE && addr->kind != PRPC__ADDR_TCP) {
        prpc__set_err(err, "this endpoint cannot listen");
        return PRPC_ERR_INVALID_ARG;
    }
    prpc__plistener *l = prpc_alloc(sizeof *l);
    if (l == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(l, 0, sizeof *l);
    prpc__mutex_init(&l->lock);
    prpc__cond_init(&l->idle);
    l->pool = pool;
    l->addr = *addr;
    l->ls = INVALID_SOCKET;
    l->kind = addr->kind == PRPC__ADDR_PIPE ? LK_PIPE : LK_TCP;
    prpc__timer_init(&l->refill, pool, refill_fn, l);
    for (int i = 0; i < PRPC__PIPE_WAITING; i++) {
        l->inst[i].h = INVALID_HANDLE_VALUE;
        l->inst[i].as = INVALID_SOCKET;
        l->inst[i].io.done = on_inst;
        l->inst[i].io.owner = l;
    }
    prpc_status st = l->kind == LK_PIPE ? open_pipe(l, err) : open_tcp(l, err);
    if (st != PRPC_OK) {
        release(l);
        prpc_free(l->sd);
        prpc_free(l);
        return st;
    }
    prpc__mutex_lock(&l->lock);
    for (int i = 0; i < PRPC__PIPE_WAITING; i++) {
        if (l->kind == LK_PIPE)
            arm_pipe_locked(l, &l->inst[i]);
        else
            arm_tcp_locked(l, &l->inst[i]);
    }
    prpc__mutex_unlock(&l->lock);
    *out = l;
    return PRPC_OK;
}

uint16_t prpc__plistener_port(const prpc__plistener *l)
{
    return l->kind == LK_TCP ? l->port : 0;
}

const char *prpc__plistener_path(const prpc__plistener *l)
{
    return l->kind == LK_PIPE ? l->path : "";
}

/* A slot whose replacement failed (out of handles, or the pipe is at
 * Windows' limit of 255 instances) is tried again every 100 ms and whenever
 * an accept is requested, so the listener recovers once connections go
 * away. */
#define REFILL_MS 100

static void refill_locked(prpc__plistener *l)
{
    for (int i = 0; i < PRPC__PIPE_WAITING && !l->closed; i++) {
        struct pinst *pi = &l->inst[i];
        if (pi->pending || pi->ready)
            continue;
        if (l->kind == LK_PIPE && pi->h == INVALID_HANDLE_VALUE)
            renew_pipe_locked(l, pi);
        else if (l->kind == LK_TCP && pi->as == INVALID_SOCKET)
            arm_tcp_locked(l, pi);
    }
}

static void refill_fn(void *arg)
{
    prpc__plistener *l = arg;
    prpc__mutex_lock(&l->lock);
    l->refill_armed = false;
    refill_locked(l); /* arms the timer again if a slot is still empty */
    prpc__mutex_unlock(&l->lock);
}

static void arm_refill_locked(prpc__plistener *l)
{
    if (l->refill_armed || l->closed)
        return;
    l->refill_armed = true;
    prpc__timer_schedule(&l->refill, prpc__now_ms() + REFILL_MS);
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
    if (st == PRPC_OK) {
        l->accept_pending = true;
        l->cb = cb;
        l->user = user;
        refill_locked(l);
        maybe_deliver_locked(l);
    }
    prpc__mutex_unlock(&l->lock);
    return st;
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
    for (int i = 0; i < PRPC__PIPE_WAITING; i++) {
        struct pinst *pi = &l->inst[i];
        pi->ready = false;
        if (l->kind == LK_PIPE && pi->h != INVALID_HANDLE_VALUE) {
            if (pi->pending)
                CancelIoEx(pi->h, &pi->io.ov);
            CloseHandle(pi->h);
            pi->h = INVALID_HANDLE_VALUE;
        }
    }
    if (l->guard != NULL) {
        CloseHandle(l->guard); /* the name is free for the next server */
        l->guard = NULL;
    }
    if (l->ls != INVALID_SOCKET) {
        CancelIoEx((HANDLE)l->ls, NULL);
        closesocket(l->ls);
        l->ls = INVALID_SOCKET;
    }
    for (int i = 0; i < PRPC__PIPE_WAITING; i++) {
        struct pinst *pi = &l->inst[i];
        if (!pi->pending && pi->as != INVALID_SOCKET) {
            closesocket(pi->as);
            pi->as = INVALID_SOCKET;
        }
    }
    maybe_deliver_locked(l); /* an outstanding accept ends with CLOSED */
    prpc__mutex_unlock(&l->lock);
}

void prpc__plistener_stop(prpc__plistener *l)
{
    if (l == NULL)
        return;
    prpc__plistener_close(l);
    /* close() keeps the timer from being armed again; this waits for a
     * refill that is running. */
    prpc__timer_cancel(&l->refill);
    prpc__mutex_lock(&l->lock);
    l->refill_armed = false;
    while (l->busy > 0)
        prpc__cond_wait(&l->idle, &l->lock);
    prpc__mutex_unlock(&l->lock);
}

void prpc__plistener_free(prpc__plistener *l)
{
    if (l == NULL)
        return;
    prpc__plistener_stop(l);
    release(l);
    prpc_free(l->sd);
    prpc__cond_destroy(&l->idle);
    prpc__mutex_destroy(&l->lock);
    prpc_free(l);
}
