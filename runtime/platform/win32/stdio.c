/* stdio: on Windows. spawn gives a child two pipes as its stdin and stdout:
 * the parent's ends are overlapped named-pipe instances (so the pool can
 * complete them), the child's ends plain handles, and only those two plus
 * stderr are inherited (PROC_THREAD_ATTRIBUTE_HANDLE_LIST). pconn_stdio
 * turns this process's own stdin/stdout into a connection served by
 * blocking threads, since inherited handles may not allow overlapped I/O. */
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <string.h>

#include "piperpc/alloc.h"
#include "platform/win32/win32_io.h"

static LONG spawn_counter;

/* One direction: a uniquely named, single-instance pipe. parent_reads says
 * which side the parent gets. The parent end is overlapped; the child end
 * is inheritable and synchronous. */
static prpc_status make_pipe(bool parent_reads, HANDLE *parent, HANDLE *child, prpc__err *err)
{
    wchar_t name[96];
    swprintf(name, sizeof name / sizeof name[0], L"\\\\.\\pipe\\piperpc-spawn-%lu-%ld-%llu",
             (unsigned long)GetCurrentProcessId(), (long)InterlockedIncrement(&spawn_counter),
             (unsigned long long)prpc__now_us());
    DWORD access = (parent_reads ? PIPE_ACCESS_INBOUND : PIPE_ACCESS_OUTBOUND) |
                   FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE;
    HANDLE p = CreateNamedPipeW(name, access,
                                PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                                    PIPE_REJECT_REMOTE_CLIENTS,
                                1, (DWORD)PRPC__CHUNK_SIZE, (DWORD)PRPC__CHUNK_SIZE, 0, NULL);
    if (p == INVALID_HANDLE_VALUE) {
        prpc__set_win_err(err, GetLastError(), "cannot create a pipe for the child");
        return PRPC_ERR_IO;
    }
    SECURITY_ATTRIBUTES sa = {.nLength = sizeof sa, .bInheritHandle = TRUE};
    HANDLE c = CreateFileW(name, parent_reads ? GENERIC_WRITE : GENERIC_READ, 0, &sa, OPEN_EXISTING,
                           0, NULL);
    if (c == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        CloseHandle(p);
        prpc__set_win_err(err, e, "cannot open the child's end of a pipe");
        return PRPC_ERR_IO;
    }
    *parent = p;
    *child = c;
    return PRPC_OK;
}

/* Appends one argument quoted the way CommandLineToArgvW and the C runtime
 * split it back: backslashes double only before a quote. */
static bool append_arg(wchar_t *cmd, size_t cap, size_t *len, const wchar_t *arg)
{
    size_t n = *len;
#define PUT(ch)                     \
    do {                            \
        if (n + 1 >= cap)           \
            return false;           \
        cmd[n++] = (ch);            \
    } while (0)
    if (n > 0)
        PUT(L' ');
    bool quote = arg[0] == 0 || wcspbrk(arg, L" \t\n\v\"") != NULL;
    if (!quote) {
        for (const wchar_t *p = arg; *p; p++)
            PUT(*p);
    } else {
        PUT(L'"');
        for (const wchar_t *p = arg;; p++) {
            size_t bs = 0;
            while (*p == L'\\') {
                bs++;
                p++;
            }
            if (*p == 0) {
                for (size_t i = 0; i < bs * 2; i++)
                    PUT(L'\\');
                break;
            }
            if (*p == L'"') {
                for (size_t i = 0; i < bs * 2 + 1; i++)
                    PUT(L'\\');
            } else {
                for (size_t i = 0; i < bs; i++)
                    PUT(L'\\');
            }
            PUT(*p);
        }
        PUT(L'"');
    }
#undef PUT
    cmd[n] = 0;
    *len = n;
    return true;
}

prpc_status prpc__pconn_spawn(prpc__iopool *pool, const char *const *argv, prpc__pconn **out,
                              prpc__err *err)
{
    if (out == NULL || argv == NULL || argv[0] == NULL)
        return PRPC_ERR_INVALID_ARG;
    *out = NULL;
    const size_t cap = 32768; /* CreateProcess's command-line limit */
    wchar_t *cmd = prpc_alloc(cap * sizeof *cmd);
    wchar_t *warg = prpc_alloc(cap * sizeof *warg);
    HANDLE p_in = NULL, c_out = NULL, p_out = NULL, c_in = NULL, c_err = NULL;
    LPPROC_THREAD_ATTRIBUTE_LIST attrs = NULL;
    prpc_status st = PRPC_ERR_NO_MEMORY;
    if (cmd == NULL || warg == NULL)
        goto fail;
    cmd[0] = 0;
    size_t len = 0;
    for (size_t i = 0; argv[i] != NULL; i++) {
        if (!prpc__utf8_to_wide(argv[i], warg, cap) || !append_arg(cmd, cap, &len, warg)) {
            prpc__set_err(err, "spawn: argument %u is not UTF-8 or the command line is too long", (unsigned)i);
            st = PRPC_ERR_INVALID_ARG;
            goto fail;
        }
    }
    st = make_pipe(true, &p_in, &c_out, err);
    if (st != PRPC_OK)
        goto fail;
    st = make_pipe(false, &p_out, &c_in, err);
    if (st != PRPC_OK)
        goto fail;
    HANDLE se = GetStdHandle(STD_ERROR_HANDLE);
    if (se != NULL && se != INVALID_HANDLE_VALUE)
        DuplicateHandle(GetCurrentProcess(), se, GetCurrentProcess(), &c_err, 0, TRUE,
                        DUPLICATE_SAME_ACCESS);
    HANDLE inherit[3] = {c_in, c_out, c_err};
    DWORD ninherit = c_err ? 3u : 2u;
    SIZE_T asize = 0;
    InitializeProcThreadAttributeList(NULL, 1, 0, &asize);
    attrs = prpc_alloc(asize);
    st = PRPC_ERR_NO_MEMORY;
    if (attrs == NULL)
        goto fail;
    st = PRPC_ERR_IO;
    if (!InitializeProcThreadAttributeList(attrs, 1, 0, &asize)) {
        prpc_free(attrs);
        attrs = NULL;
        goto fail;
    }
    if (!UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherit,
                                   ninherit * sizeof(HANDLE), NULL, NULL))
        goto fail;
    STARTUPINFOEXW si;
    memset(&si, 0, sizeof si);
    si.StartupInfo.cb = sizeof si;
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = c_in;
    si.StartupInfo.hStdOutput = c_out;
    si.StartupInfo.hStdError = c_err;
    si.lpAttributeList = attrs;
    PROCESS_INFORMATION pi;
    if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, EXTENDED_STARTUPINFO_PRESENT, NULL, NULL,
                        &si.StartupInfo, &pi)) {
        DWORD e = GetLastError();
        prpc__set_win_err(err, e, "spawn: cannot start the program");
        st = e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND ? PRPC_ERR_INVALID_ARG
                                                                    : PRPC_ERR_IO;
        goto fail;
    }
    CloseHandle(pi.hThread);
    CloseHandle(c_in);
    CloseHandle(c_out);
    if (c_err)
        CloseHandle(c_err);
    c_in = c_out = c_err = NULL;
    prpc__pconn *c;
    st = prpc__pconn_new(pool, WK_PIPE, p_in, p_out, PRPC__CHAN_BYTE, &c);
    if (st != PRPC_OK) {
        TerminateProcess(pi.hProcess, 1);
        WaitForSingleObject(pi.hProcess, INFINITE);
        CloseHandle(pi.hProcess);
        goto fail;
    }
    c->child = pi.hProcess;
    c->peer.has_cred = false;
    c->peer.pid = (int64_t)pi.dwProcessId;
    DeleteProcThreadAttributeList(attrs);
    prpc_free(attrs);
    prpc_free(cmd);
    prpc_free(warg);
    *out = c;
    return PRPC_OK;
fail:
    if (attrs) {
        DeleteProcThreadAttributeList(attrs);
        prpc_free(attrs);
    }
    HANDLE hs[5] = {p_in, c_out, p_out, c_in, c_err};
    for (int i = 0; i < 5; i++)
        if (hs[i])
            CloseHandle(hs[i]);
    prpc_free(cmd);
    prpc_free(warg);
    return st;
}

static LONG stdio_taken;

prpc_status prpc__pconn_stdio(prpc__iopool *pool, prpc__pconn **out, prpc__err *err)
{
    if (out == NULL)
        return PRPC_ERR_INVALID_ARG;
    *out = NULL;
    if (InterlockedCompareExchange(&stdio_taken, 1, 0) != 0) {
        prpc__set_err(err, "stdio: this process's stdin/stdout already carry a connection");
        return PRPC_ERR_ADDR_IN_USE;
    }
    HANDLE self = GetCurrentProcess();
    HANDLE in = NULL, outh = NULL;
    if (!DuplicateHandle(self, GetStdHandle(STD_INPUT_HANDLE), self, &in, 0, FALSE,
                         DUPLICATE_SAME_ACCESS) ||
        !DuplicateHandle(self, GetStdHandle(STD_OUTPUT_HANDLE), self, &outh, 0, FALSE,
                         DUPLICATE_SAME_ACCESS)) {
        DWORD e = GetLastError();
        if (in)
            CloseHandle(in);
        InterlockedExchange(&stdio_taken, 0);
        prpc__set_win_err(err, e, "stdio: no usable stdin/stdout");
        return PRPC_ERR_IO;
    }
    /* Move the originals aside so that stray printf output cannot corrupt
     * the stream: stdout now writes to stderr, stdin reads NUL. */
    fflush(stdout);
    _dup2(_fileno(stderr), _fileno(stdout));
    int nul = _open("NUL", _O_RDONLY | _O_BINARY);
    if (nul >= 0) {
        _dup2(nul, _fileno(stdin));
        _close(nul);
    }
    SetStdHandle(STD_OUTPUT_HANDLE, GetStdHandle(STD_ERROR_HANDLE));
    SetStdHandle(STD_INPUT_HANDLE, (HANDLE)_get_osfhandle(_fileno(stdin)));
    prpc__pconn *c;
    prpc_status st = prpc__pconn_new(pool, WK_SYNC, in, outh, PRPC__CHAN_BYTE, &c);
    if (st != PRPC_OK) {
        CloseHandle(in);
        CloseHandle(outh);
        InterlockedExchange(&stdio_taken, 0);
        return st;
    }
    c->peer.has_cred = false;
    c->peer.pid = -1;
    *out = c;
    return PRPC_OK;
}
