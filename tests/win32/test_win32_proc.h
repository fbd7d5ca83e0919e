/* Child processes for the Windows end-to-end tests of the examples: start a
 * program from this test's own directory (the cross build puts every
 * program in one bin folder) with its stdin and stdout on pipes, read its
 * output line by line with a deadline, close its stdin, wait for its exit
 * with a bound. Header-only; each test program includes it once. Tests run
 * their cases one after another, so the handles inherited by one child
 * never leak into another. */
#ifndef PRPC_TEST_WIN32_PROC_H
#define PRPC_TEST_WIN32_PROC_H

#include <winsock2.h> /* before anything that includes windows.h */

#include <windows.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The exit status wproc_wait reports for a child it had to kill. */
#define WPROC_KILLED 9999u

typedef struct wproc {
    HANDLE process;
    HANDLE in;     /* our end of the child's stdin; NULL once closed */
    HANDLE out;    /* our end of the child's stdout */
    char buf[65536]; /* output read and not yet returned as lines */
    size_t len;
    bool eof;      /* the child's stdout has ended */
} wproc;

/* The full path of NAME in this program's own directory. */
static inline void wproc_path(const char *name, char *path, size_t size)
{
    char self[MAX_PATH];
    DWORD n = GetModuleFileNameA(NULL, self, sizeof self);
    if (n == 0 || n >= sizeof self)
        n = 0;
    self[n] = '\0';
    char *slash = strrchr(self, '\\');
    if (slash == NULL)
        slash = strrchr(self, '/');
    if (slash != NULL)
        slash[1] = '\0';
    else
        self[0] = '\0';
    snprintf(path, size, "%s%s", self, name);
}

/* Starts PROGRAM (a name in this program's directory) with the argument
 * string ARGS appended to its quoted path. stderr is shared with this
 * program, so a child's diagnostics appear in the test's output. */
static inline bool wproc_start(wproc *p, const char *program, const char *args)
{
    memset(p, 0, sizeof *p);
    char path[MAX_PATH + 32], cmd[4096];
    wproc_path(program, path, sizeof path);
    snprintf(cmd, sizeof cmd, "\"%s\" %s", path, args);

    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    HANDLE in_rd = NULL, in_wr = NULL, out_rd = NULL, out_wr = NULL, err = NULL;
    bool ok = CreatePipe(&in_rd, &in_wr, &sa, 0) && CreatePipe(&out_rd, &out_wr, &sa, 65536);
    /* Our ends stay here; the child inherits only its own. */
    ok = ok && SetHandleInformation(in_wr, HANDLE_FLAG_INHERIT, 0) &&
         SetHandleInformation(out_rd, HANDLE_FLAG_INHERIT, 0);
    ok = ok && DuplicateHandle(GetCurrentProcess(), GetStdHandle(STD_ERROR_HANDLE),
                               GetCurrentProcess(), &err, 0, TRUE, DUPLICATE_SAME_ACCESS);
    if (!ok)
        err = NULL; /* no stderr of our own (possible): the child gets none */
    ok = in_rd != NULL && out_rd != NULL;
    PROCESS_INFORMATION pi;
    memset(&pi, 0, sizeof pi);
    if (ok) {
        STARTUPINFOA si;
        memset(&si, 0, sizeof si);
        si.cb = sizeof si;
        si.dwFlags = STARTF_USESTDHANDLES;
        si.hStdInput = in_rd;
        si.hStdOutput = out_wr;
        si.hStdError = err;
        ok = CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi);
        if (!ok)
            fprintf(stderr, "cannot start %s: error %lu\n", cmd, (unsigned long)GetLastError());
    }
    if (in_rd != NULL)
        CloseHandle(in_rd);
    if (out_wr != NULL)
        CloseHandle(out_wr);
    if (err != NULL)
        CloseHandle(err);
    if (!ok) {
        if (in_wr != NULL)
            CloseHandle(in_wr);
        if (out_rd != NULL)
            CloseHandle(out_rd);
        return false;
    }
    CloseHandle(pi.hThread);
    p->process = pi.hProcess;
    p->in = in_wr;
    p->out = out_rd;
    return true;
}

/* Reads what the child's stdout holds now (without blocking); false once
 * it has ended and nothing is left. */
static inline bool wproc_pump(wproc *p)
{
    while (!p->eof && p->len < sizeof p->buf - 1) {
        DWORD avail = 0;
        if (!PeekNamedPipe(p->out, NULL, 0, NULL, &avail, NULL)) {
            p->eof = true; /* broken pipe: every writer has gone */
            break;
        }
        if (avail == 0)
            break;
        DWORD want = (DWORD)(sizeof p->buf - 1 - p->len), got = 0;
        if (want > avail)
            want = avail;
        if (!ReadFile(p->out, p->buf + p->len, want, &got, NULL) || got == 0) {
            p->eof = true;
            break;
        }
        p->len += got;
    }
    return !p->eof || p->len > 0;
}

/* Takes the next whole line of output (without "\r\n") into line, waiting
 * up to timeout_ms; false at the deadline or when the output ended first. */
static inline bool wproc_read_line(wproc *p, char *line, size_t size, DWORD timeout_ms)
{
    ULONGLONG end = GetTickCount64() + timeout_ms;
    for (;;) {
        wproc_pump(p);
        char *nl = memchr(p->buf, '\n', p->len);
        if (nl != NULL) {
            size_t n = (size_t)(nl - p->buf);
            size_t keep = n > 0 && p->buf[n - 1] == '\r' ? n - 1 : n;
            if (keep >= size)
                keep = size - 1;
            memcpy(line, p->buf, keep);
            line[keep] = '\0';
            memmove(p->buf, nl + 1, p->len - n - 1);
            p->len -= n + 1;
            return true;
        }
        if (p->eof || GetTickCount64() >= end)
            return false;
        Sleep(5);
    }
}

/* Closes the child's stdin: a server started with --stop-on-eof stops. */
static inline void wproc_close_stdin(wproc *p)
{
    if (p->in != NULL)
        CloseHandle(p->in);
    p->in = NULL;
}

/* Waits up to timeout_ms for the child to exit, collecting its output
 * meanwhile (so a child writing much never blocks on a full pipe); kills
 * it at the deadline. Returns its exit status, WPROC_KILLED if killed.
 * The output not yet taken as lines stays in p->buf (NUL-terminated). */
static inline DWORD wproc_wait(wproc *p, DWORD timeout_ms)
{
    ULONGLONG end = GetTickCount64() + timeout_ms;
    DWORD code = WPROC_KILLED;
    for (;;) {
        wproc_pump(p);
        DWORD w = WaitForSingleObject(p->process, 5);
        if (w == WAIT_OBJECT_0) {
            for (int i = 0; i < 200 && !p->eof; i++) { /* the output's tail */
                wproc_pump(p);
                if (!p->eof)
                    Sleep(1);
            }
            if (!GetExitCodeProcess(p->process, &code))
                code = WPROC_KILLED;
            break;
        }
        if (GetTickCount64() >= end) {
            fprintf(stderr, "child did not exit within %lu ms: killed\n", (unsigned long)timeout_ms);
            TerminateProcess(p->process, WPROC_KILLED);
            WaitForSingleObject(p->process, 5000);
            break;
        }
    }
    p->buf[p->len] = '\0';
    return code;
}

/* Releases the handles (after wproc_wait). */
static inline void wproc_close(wproc *p)
{
    wproc_close_stdin(p);
    if (p->out != NULL)
        CloseHandle(p->out);
    if (p->process != NULL)
        CloseHandle(p->process);
    p->out = p->process = NULL;
}

/* Runs PROGRAM ARGS to its end (bounded by timeout_ms) with its stdin
 * closed; its whole output, "\r\n" turned into "\n" and without the last
 * newline, goes to out. Returns the exit status (WPROC_KILLED if killed,
 * WPROC_KILLED + 1 if it could not start). */
static inline DWORD wproc_run(const char *program, const char *args, char *out, size_t size,
                              DWORD timeout_ms)
{
    static wproc p; /* 64 KiB of buffer: not on the stack */
    out[0] = '\0';
    if (!wproc_start(&p, program, args))
        return WPROC_KILLED + 1;
    wproc_close_stdin(&p);
    DWORD code = wproc_wait(&p, timeout_ms);
    size_t o = 0;
    for (size_t i = 0; i < p.len && o + 1 < size; i++)
        if (p.buf[i] != '\r')
            out[o++] = p.buf[i];
    if (o > 0 && out[o - 1] == '\n')
        o--;
    out[o] = '\0';
    wproc_close(&p);
    return code;
}

#endif /* PRPC_TEST_WIN32_PROC_H */
