/* The public shutdown latch (prpc_shutdown_watch/wait/request in
 * piperpc/server.h): argument checks over the platform's signal.c, which
 * owns the OS side (signal handlers or the console control handler, stdin,
 * the wake-up). */
#include "piperpc/server.h"
#include "platform/platform.h"

#define ALL_EVENTS (PRPC_SHUTDOWN_SIGNAL | PRPC_SHUTDOWN_STDIN | PRPC_SHUTDOWN_REQUEST)

prpc_status prpc_shutdown_watch(unsigned events)
{
    if (events & ~ALL_EVENTS)
        return PRPC_ERR_INVALID_ARG;
    events &= ~PRPC_SHUTDOWN_REQUEST; /* always watched */
    return events ? prpc__shutdown_watch(events) : PRPC_OK;
}

prpc_status prpc_shutdown_wait(uint32_t timeout_ms, unsigned *events)
{
    uint64_t deadline =
        timeout_ms == PRPC_TIMEOUT_INFINITE ? UINT64_MAX : prpc__now_ms() + timeout_ms;
    unsigned got = prpc__shutdown_wait(deadline);
    if (events != NULL)
        *events = got;
    return got ? PRPC_OK : PRPC_ERR_TIMEOUT;
}

void prpc_shutdown_request(void)
{
    prpc__shutdown_request();
}
