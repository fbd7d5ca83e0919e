/* Dialing on Windows: opening \\.\pipe\NAME, or \\HOST\pipe\NAME on another
 * machine, as a client (waiting with WaitNamedPipe while every instance is
 * busy, retrying while the name does not exist yet) and connecting TCP
 * sockets; also the runtime directory question, which pipes do not have on
 * Windows. */
#include <stdio.h>
#include <string.h>

#include <ws2tcpip.h>

#include "piperpc/alloc.h"
#include "platform/win32/win32_io.h"

static uint32_t retry_pause(uint64_t deadline_ms)
{
    uint64_t now = prpc__now_ms();
    if (deadline_ms <= now)
        return 0;
    uint64_t left = deadline_ms - now;
    return left < 20 ? (uint32_t)left : 20u;
}

static prpc_status dial_pipe(prpc__iopool *pool, const prpc__addr *a, uint64_t deadline_ms,
                             prpc__pconn **out, prpc__err *err)
{
    char path[PRPC__HOST_MAX + PRPC__PATH_MAX + 16];
    wchar_t wpath[PRPC__HOST_MAX + PRPC__PATH_MAX + 16];
    bool remote = a->host[0] != '\0';
    prpc__pipe_path(a, path, sizeof path);
    if (!prpc__utf8_to_wide(path, wpath, sizeof wpath / sizeof wpath[0])) {
        prpc__set_err(err, "pipe path is not valid UTF-8: %s", path);
        return PRPC_ERR_INVALID_ARG;
    }
    HANDLE h;
    for (;;) {
        /* FILE_WRITE_DATA rather than GENERIC_WRITE: the pipe grants
         * clients no FILE_APPEND_DATA (= FILE_CREATE_PIPE_INSTANCE).
         * SECURITY_IDENTIFICATION lets the server learn who we are but
         * never act as us. */
        h = CreateFileW(wpath, GENERIC_READ | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES, 0, NULL,
                        OPEN_EXISTING,
                        FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                        NULL);
        if (h != INVALID_HANDLE_VALUE)
            break;
        DWORD e = GetLastError();
        if (e == ERROR_ACCESS_DENIED || e == ERROR_LOGON_FAILURE) {
            if (remote)
                prpc__set_err(err, "pipe %s refused us: access denied (the server must allow "
                                   "remote pipe clients, and its DACL must grant our user)", path);
            else
                prpc__set_err(err, "pipe %s refused us: access denied by its security descriptor",
                              path);
            return PRPC_ERR_DENIED;
        }
        if (remote && (e == ERROR_BAD_NETPATH || e == ERROR_BAD_NET_NAME ||
                       e == ERROR_PATH_NOT_FOUND || e == ERROR_NETWORK_UNREACHABLE ||
                       e == ERROR_HOST_UNREACHABLE)) {
            prpc__set_err(err, "cannot reach the machine of pipe %s (Windows error %lu)", path,
                          (unsigned long)e);
            return PRPC_ERR_UNAVAILABLE;
        }
        if (e != ERROR_PIPE_BUSY && e != ERROR_FILE_NOT_FOUND) {
            prpc__set_win_err(err, e, "cannot open the pipe");
            return prpc__win_status(e) == PRPC_ERR_UNAVAILABLE ? PRPC_ERR_UNAVAILABLE : PRPC_ERR_IO;
        }
        uint64_t now = prpc__now_ms();
        if (deadline_ms == 0 || now >= deadline_ms) {
            prpc__set_err(err, "nobody %s on pipe %s",
                          e == ERROR_PIPE_BUSY ? "had a free instance" : "listens", path);
            return PRPC_ERR_UNAVAILABLE;
        }
        if (e == ERROR_PIPE_BUSY) {
            /* Every instance is taken: wait for one within our deadline. */
            uint64_t left = deadline_ms == UINT64_MAX ? 1000 : deadline_ms - now;
            WaitNamedPipeW(wpath, left > 1000 ? 1000u : (DWORD)left);
        } else {
            prpc__sleep_ms(retry_pause(deadline_ms == UINT64_MAX ? now + 20 : deadline_ms));
        }
    }
    if (a->mode == PRPC__CHAN_MESSAGE) {
        DWORD mode = PIPE_READMODE_MESSAGE;
        if (!SetNamedPipeHandleState(h, &mode, NULL, NULL)) {
            DWORD e = GetLastError();
            CloseHandle(h);
            prpc__set_win_err(err, e, "the server's pipe is not in message mode (use ?mode=byte)");
            return PRPC_ERR_INVALID_ARG;
        }
    } else {
        DWORD flags = 0;
        if (GetNamedPipeInfo(h, &flags, NULL, NULL, NULL) && (flags & PIPE_TYPE_MESSAGE)) {
            CloseHandle(h);
            prpc__set_err(err, "the server's pipe %s is in message mode, not byte mode", path);
            return PRPC_ERR_INVALID_ARG;
        }
    }
    prpc__pconn *c;
    prpc_status st = prpc__pconn_new(pool, WK_PIPE, h, h, a->mode, &c);
    if (st != PRPC_OK) {
        CloseHandle(h);
        return st;
    }
    ULONG pid = 0;
    c->peer.has_cred = false;
    c->peer.pid = GetNamedPipeServerProcessId(h, &pid) ? (int64_t)pid : -1;
    *out = c;
    return PRPC_OK;
}

/* One non-blocking connect bounded by the deadline, then back to blocking
 * mode (overlapped operations do not care). */
static prpc_status tcp_connect_one(const struct addrinfo *ai, uint64_t deadline_ms, SOCKET *out,
                                   DWORD *werr)
{
    SOCKET s = WSASocketW(ai->ai_family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                          WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
        *werr = (DWORD)WSAGetLastError();
        return PRPC_ERR_IO;
    }
    u_long nb = 1;
    ioctlsocket(s, FIONBIO, &nb);
    prpc_status st = PRPC_OK;
    if (connect(s, ai->ai_addr, (int)ai->ai_addrlen) != 0) {
        int e = WSAGetLastError();
        if (e != WSAEWOULDBLOCK) {
            *werr = (DWORD)e;
            st = prpc__win_status((DWORD)e);
        } else {
            fd_set wr, ex;
            FD_ZERO(&wr);
            FD_ZERO(&ex);
            FD_SET(s, &wr);
            FD_SET(s, &ex);
            uint64_t now = prpc__now_ms();
            uint64_t left = deadline_ms == UINT64_MAX ? 10000 : (deadline_ms > now ? deadline_ms - now : 0);
            if (left < 1)
                left = 1;
            struct timeval tv = {.tv_sec = (long)(left / 1000), .tv_usec = (long)(left % 1000) * 1000};
            int r = select(0, NULL, &wr, &ex, &tv);
            if (r == 0) {
                *werr = WSAETIMEDOUT;
                st = PRPC_ERR_UNAVAILABLE;
            } else if (r < 0 || FD_ISSET(s, &ex)) {
                int so = 0, sl = (int)sizeof so;
                getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&so, &sl);
                *werr = so ? (DWORD)so : (DWORD)WSAECONNREFUSED;
                st = prpc__win_status(*werr);
            }
        }
    }
    if (st != PRPC_OK) {
        closesocket(s);
        return st == PRPC_ERR_TIMEOUT ? PRPC_ERR_UNAVAILABLE : st;
    }
    nb = 0;
    ioctlsocket(s, FIONBIO, &nb);
    BOOL one = TRUE;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, (int)sizeof one);
    *out = s;
    return PRPC_OK;
}

static prpc_status dial_tcp(prpc__iopool *pool, const prpc__addr *a, uint64_t deadline_ms,
                            prpc__pconn **out, prpc__err *err)
{
    prpc_status st = prpc__wsa_init();
    if (st != PRPC_OK)
        return st;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)a->port);
    int r = getaddrinfo(a->name, port, &hints, &res);
    if (r != 0) {
        prpc__set_err(err, "tcp: cannot resolve '%s' (error %d)", a->name, r);
        return PRPC_ERR_INVALID_ARG;
    }
    SOCKET s = INVALID_SOCKET;
    DWORD werr = 0;
    for (;;) {
        st = PRPC_ERR_UNAVAILABLE;
        for (struct addrinfo *ai = res; ai && s == INVALID_SOCKET; ai = ai->ai_next)
            st = tcp_connect_one(ai, deadline_ms, &s, &werr);
        if (s != INVALID_SOCKET || st != PRPC_ERR_UNAVAILABLE)
            break;
        uint64_t now = prpc__now_ms();
        if (deadline_ms == 0 || now >= deadline_ms)
            break;
        prpc__sleep_ms(retry_pause(deadline_ms == UINT64_MAX ? now + 20 : deadline_ms));
    }
    freeaddrinfo(res);
    if (s == INVALID_SOCKET) {
        if (st == PRPC_ERR_UNAVAILABLE)
            prpc__set_err(err, "nobody listens on tcp:%s:%u", a->name, (unsigned)a->port);
        else
            prpc__set_win_err(err, werr, "tcp: cannot connect");
        return st == PRPC_OK ? PRPC_ERR_IO : st;
    }
    prpc__pconn *c;
    st = prpc__pconn_new(pool, WK_SOCK, (HANDLE)s, (HANDLE)s, PRPC__CHAN_BYTE, &c);
    if (st != PRPC_OK) {
        closesocket(s);
        return st;
    }
    *out = c;
    return PRPC_OK;
}

void prpc__pipe_path(const prpc__addr *a, char *buf, size_t size)
{
    snprintf(buf, size, "\\\\%s\\pipe\\%s", a->host[0] != '\0' ? a->host : ".", a->name);
}

prpc_status prpc__pconn_dial(prpc__iopool *pool, const prpc__addr *addr, uint64_t deadline_ms,
                             prpc__pconn **out, prpc__err *err)
{
    if (out == NULL || addr == NULL)
        return PRPC_ERR_INVALID_ARG;
    *out = NULL;
    switch (addr->kind) {
    case PRPC__ADDR_PIPE:
        return dial_pipe(pool, addr, deadline_ms, out, err);
    case PRPC__ADDR_TCP:
        return dial_tcp(pool, addr, deadline_ms, out, err);
    case PRPC__ADDR_UNIX:
        prpc__set_err(err, "unix: sockets are not supported on Windows; use pipe:NAME");
        return PRPC_ERR_NOT_SUPPORTED;
    default:
        prpc__set_err(err, "this endpoint cannot be dialed");
        return PRPC_ERR_INVALID_ARG;
    }
}

prpc_status prpc__runtime_dir(char *buf, size_t size, prpc__err *err)
{
    /* Pipes live in the pipe file system, not in a directory; their
     * protection is the security descriptor of each pipe. */
    const char *ns = "\\\\.\\pipe\\";
    if (buf == NULL || size <= strlen(ns)) {
        prpc__set_err(err, "buffer too small for the pipe namespace");
        return PRPC_ERR_INVALID_ARG;
    }
    memcpy(buf, ns, strlen(ns) + 1);
    return PRPC_OK;
}
