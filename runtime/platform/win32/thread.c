/* Threads, locks, condition variables, bells, clocks and error
 * translation on Windows. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "piperpc/alloc.h"
#include "platform/win32/win32_io.h"

/* ------------------------------------------------------------------ time */

static uint64_t qpc_freq(void)
{
    /* QueryPerformanceFrequency is fixed at boot, so it is read once; the
     * cache is atomic because the first calls may come from several
     * threads at once. */
    static atomic_ullong freq;
    uint64_t f = atomic_load_explicit(&freq, memory_order_relaxed);
    if (f == 0) {
        LARGE_INTEGER li;
        QueryPerformanceFrequency(&li);
        f = (uint64_t)li.QuadPart;
        atomic_store_explicit(&freq, f, memory_order_relaxed);
    }
    return f;
}

uint64_t prpc__now_ms(void)
{
    /* GetTickCount64 moves in steps of about 16 ms, which would make short
     * deadlines fire up to a step early or late; the performance counter is
     * exact and just as monotonic. */
    return prpc__now_us() / 1000u;
}

uint64_t prpc__now_us(void)
{
    LARGE_INTEGER c;
    QueryPerformanceCounter(&c);
    uint64_t q = (uint64_t)c.QuadPart, fr = qpc_freq();
    return q / fr * 1000000u + q % fr * 1000000u / fr;
}

void prpc__sleep_ms(uint32_t ms)
{
    Sleep(ms);
}

/* --------------------------------------------------------------- threads */

struct tstart {
    prpc__thread_fn fn;
    void *arg;
};

static DWORD WINAPI thread_main(LPVOID p)
{
    struct tstart s = *(struct tstart *)p;
    prpc_free(p);
    s.fn(s.arg);
    return 0;
}

prpc_status prpc__thread_start(prpc__thread *t, prpc__thread_fn fn, void *arg)
{
    struct tstart *s = prpc_alloc(sizeof *s);
    if (s == NULL)
        return PRPC_ERR_NO_MEMORY;
    s->fn = fn;
    s->arg = arg;
    t->h = CreateThread(NULL, 0, thread_main, s, 0, &t->id);
    if (t->h == NULL) {
        prpc_free(s);
        return PRPC_ERR_NO_MEMORY;
    }
    return PRPC_OK;
}

void prpc__thread_join(prpc__thread *t)
{
    if (t->h == NULL)
        return;
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
    t->h = NULL;
}

bool prpc__thread_is_self(const prpc__thread *t)
{
    return t->h != NULL && t->id == GetCurrentThreadId();
}

/* ---------------------------------------------------- mutexes, conditions */

void prpc__mutex_init(prpc__mutex *m)
{
    InitializeSRWLock(&m->l);
}

void prpc__mutex_destroy(prpc__mutex *m)
{
    (void)m; /* an SRW lock holds no resources */
}

void prpc__mutex_lock(prpc__mutex *m)
{
    AcquireSRWLockExclusive(&m->l);
}

void prpc__mutex_unlock(prpc__mutex *m)
{
    ReleaseSRWLockExclusive(&m->l);
}

void prpc__cond_init(prpc__cond *c)
{
    InitializeConditionVariable(&c->c);
}

void prpc__cond_destroy(prpc__cond *c)
{
    (void)c;
}

void prpc__cond_signal(prpc__cond *c)
{
    WakeConditionVariable(&c->c);
}

void prpc__cond_broadcast(prpc__cond *c)
{
    WakeAllConditionVariable(&c->c);
}

void prpc__cond_wait(prpc__cond *c, prpc__mutex *m)
{
    SleepConditionVariableSRW(&c->c, &m->l, INFINITE, 0);
}

prpc_status prpc__cond_wait_until(prpc__cond *c, prpc__mutex *m, uint64_t deadline_ms)
{
    if (deadline_ms == UINT64_MAX) {
        SleepConditionVariableSRW(&c->c, &m->l, INFINITE, 0);
        return PRPC_OK;
    }
    uint64_t now = prpc__now_ms();
    if (now >= deadline_ms)
        return PRPC_ERR_TIMEOUT;
    uint64_t left = deadline_ms - now;
    /* INFINITE is 0xFFFFFFFF: stay below it and let the caller loop. */
    DWORD ms = left >= 0x7FFFFFFFu ? 0x7FFFFFFFu : (DWORD)left;
    SleepConditionVariableSRW(&c->c, &m->l, ms, 0);
    return prpc__now_ms() >= deadline_ms ? PRPC_ERR_TIMEOUT : PRPC_OK;
}

prpc_status prpc__bell_init(prpc__bell *b)
{
    /* Auto-reset: a wait that returns takes the ring. */
    b->ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    return b->ev != NULL ? PRPC_OK : PRPC_ERR_NO_MEMORY;
}

void prpc__bell_destroy(prpc__bell *b)
{
    if (b->ev != NULL)
        CloseHandle(b->ev);
    b->ev = NULL;
}

void prpc__bell_ring(prpc__bell *b)
{
    /* SetEvent takes no lock of the process: safe from a console control
     * handler's thread and from a C runtime signal handler. The last error
     * is kept for the interrupted code. */
    DWORD saved = GetLastError();
    SetEvent(b->ev);
    SetLastError(saved);
}

void prpc__bell_wait(prpc__bell *b, uint64_t deadline_ms)
{
    DWORD ms = INFINITE;
    if (deadline_ms != UINT64_MAX) {
        uint64_t now = prpc__now_ms();
        uint64_t left = deadline_ms > now ? deadline_ms - now : 0;
        ms = left > 60000 ? 60000 : (DWORD)left; /* an early return is allowed */
    }
    WaitForSingleObject(b->ev, ms);
}

unsigned prpc__cpu_count(void)
{
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return n >= 1 ? (unsigned)n : 1u;
}

/* ---------------------------------------------------------------- errors */

prpc_status prpc__win_status(DWORD err)
{
    switch (err) {
    case ERROR_SUCCESS:
        return PRPC_OK;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case WSAENOBUFS:
        return PRPC_ERR_NO_MEMORY;
    case ERROR_ACCESS_DENIED:
    case WSAEACCES:
        return PRPC_ERR_DENIED;
    case ERROR_BROKEN_PIPE:
    case ERROR_NO_DATA:
    case ERROR_PIPE_NOT_CONNECTED:
    case ERROR_OPERATION_ABORTED:
    case ERROR_HANDLE_EOF:
    case ERROR_NETNAME_DELETED:
    case ERROR_CONNECTION_ABORTED:
    case WSAECONNRESET:
    case WSAECONNABORTED:
    case WSAESHUTDOWN:
    case WSAENOTCONN:
        return PRPC_ERR_CLOSED;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PIPE_BUSY:
    case ERROR_SEM_TIMEOUT:
    case WSAECONNREFUSED:
    case WSAENETUNREACH:
    case WSAEHOSTUNREACH:
    case ERROR_CONNECTION_REFUSED:
        return PRPC_ERR_UNAVAILABLE;
    case ERROR_PIPE_CONNECTED:
        return PRPC_OK;
    case WSAEADDRINUSE:
        return PRPC_ERR_ADDR_IN_USE;
    case ERROR_INVALID_NAME:
    case ERROR_BAD_PATHNAME:
    case WSAEINVAL:
    case WSAEAFNOSUPPORT:
        return PRPC_ERR_INVALID_ARG;
    case WAIT_TIMEOUT:
    case WSAETIMEDOUT:
        return PRPC_ERR_TIMEOUT;
    default:
        return PRPC_ERR_IO;
    }
}

void prpc__set_win_err(prpc__err *err, DWORD code, const char *what)
{
    if (err == NULL)
        return;
    char text[160];
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                             code, 0, text, (DWORD)sizeof text, NULL);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        n--;
    text[n] = '\0';
    prpc__set_err(err, "%s: %s (Windows error %lu)", what, n ? text : "unknown error",
                  (unsigned long)code);
}

bool prpc__utf8_to_wide(const char *s, wchar_t *buf, size_t count)
{
    if (count == 0 || count > INT32_MAX)
        return false;
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, buf, (int)count);
    return n > 0;
}

static INIT_ONCE wsa_once = INIT_ONCE_STATIC_INIT;
static int wsa_result;

static BOOL CALLBACK wsa_start(PINIT_ONCE once, PVOID p, PVOID *ctx)
{
    (void)once;
    (void)p;
    (void)ctx;
    WSADATA d;
    wsa_result = WSAStartup(MAKEWORD(2, 2), &d);
    return TRUE;
}

prpc_status prpc__wsa_init(void)
{
    InitOnceExecuteOnce(&wsa_once, wsa_start, NULL, NULL);
    return wsa_result == 0 ? PRPC_OK : PRPC_ERR_IO;
}
