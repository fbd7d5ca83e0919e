/* Shutdown events on Windows (prpc_shutdown_watch/wait/request): the
 * console's control events (Ctrl-C, Ctrl-Break, the console closing, logoff,
 * system shutdown) through SetConsoleCtrlHandler, the end of stdin, and
 * explicit requests.
 *
 * The events are a latch (once shut down, always shut down): each sets a bit
 * and a manual-reset event that is never reset, so every waiter, now or
 * later, wakes. The system runs a control handler on a thread of its own,
 * and stdin is read by a thread started for it, because a pipe handle
 * cannot be waited on and the handle may not allow overlapped reads. */
#include "platform/platform.h"

#include "piperpc/server.h"

static INIT_ONCE wake_once = INIT_ONCE_STATIC_INIT;
static HANDLE wake_ev; /* manual reset, set by the first event */
static SRWLOCK setup_lock = SRWLOCK_INIT;
static volatile LONG pending; /* PRPC_SHUTDOWN_* bits that happened */
static LONG watched;          /* PRPC_SHUTDOWN_* bits being caught (under setup_lock) */

static BOOL CALLBACK make_event(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    wake_ev = CreateEventW(NULL, TRUE, FALSE, NULL);
    return wake_ev != NULL;
}

static bool have_event(void)
{
    return InitOnceExecuteOnce(&wake_once, make_event, NULL, NULL) && wake_ev != NULL;
}

/* Records events and wakes every waiter. */
static void note(unsigned events)
{
    InterlockedOr(&pending, (LONG)events);
    if (have_event())
        SetEvent(wake_ev);
}

static BOOL WINAPI on_ctrl(DWORD type)
{
    if (InterlockedOr(&pending, PRPC_SHUTDOWN_SIGNAL) & PRPC_SHUTDOWN_SIGNAL)
        return FALSE; /* the second one: the default handler ends the process */
    note(PRPC_SHUTDOWN_SIGNAL);
    if (type == CTRL_CLOSE_EVENT || type == CTRL_LOGOFF_EVENT || type == CTRL_SHUTDOWN_EVENT) {
        /* The system ends the process as soon as this handler returns;
         * waiting here gives the program's graceful stop the time the
         * system allows (about 5 s), and its exit ends the wait sooner. */
        Sleep(10000);
    }
    return TRUE;
}

/* Reads stdin until its end, discarding what it reads. A blocking ReadFile
 * works on every kind of handle (pipe, file, console); the thread is never
 * joined: it ends with the input or with the process. */
static DWORD WINAPI stdin_reader(LPVOID arg)
{
    HANDLE in = (HANDLE)arg;
    char buf[4096];
    DWORD n = 0;
    while (ReadFile(in, buf, sizeof buf, &n, NULL) && n > 0) {
    }
    note(PRPC_SHUTDOWN_STDIN);
    return 0;
}

prpc_status prpc__shutdown_watch(unsigned events)
{
    if (!have_event())
        return PRPC_ERR_NO_MEMORY;
    prpc_status st = PRPC_OK;
    AcquireSRWLockExclusive(&setup_lock);
    unsigned add = events & ~(unsigned)watched;
    if ((add & PRPC_SHUTDOWN_SIGNAL) && !SetConsoleCtrlHandler(on_ctrl, TRUE))
        st = PRPC_ERR_IO;
    if (st == PRPC_OK && (add & PRPC_SHUTDOWN_STDIN)) {
        /* A process with no standard input at all has reached its end. */
        HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
        HANDLE t = NULL;
        if (in != NULL && in != INVALID_HANDLE_VALUE)
            t = CreateThread(NULL, 64 * 1024, stdin_reader, in,
                             STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
        else
            note(PRPC_SHUTDOWN_STDIN);
        if (t != NULL)
            CloseHandle(t);
        else if (in != NULL && in != INVALID_HANDLE_VALUE)
            st = PRPC_ERR_NO_MEMORY;
        if (st != PRPC_OK && (add & PRPC_SHUTDOWN_SIGNAL))
            SetConsoleCtrlHandler(on_ctrl, FALSE);
    }
    if (st == PRPC_OK)
        watched |= (LONG)events;
    ReleaseSRWLockExclusive(&setup_lock);
    return st;
}

void prpc__shutdown_request(void)
{
    note(PRPC_SHUTDOWN_REQUEST);
}

unsigned prpc__shutdown_wait(uint64_t deadline_ms)
{
    bool ev = have_event();
    for (;;) {
        unsigned got = (unsigned)InterlockedOr(&pending, 0);
        if (got != 0)
            return got;
        uint64_t now = prpc__now_ms();
        if (now >= deadline_ms)
            return 0;
        uint64_t left = deadline_ms - now;
        DWORD ms = left > 60000 ? 60000 : (DWORD)left;
        if (ev)
            WaitForSingleObject(wake_ev, ms);
        else
            Sleep(ms < 50 ? ms : 50); /* no event object: look again soon */
    }
}
