/* The process-wide log callback (prpc_set_log) and the internal logging
 * calls of log.h. */
#include <stdarg.h>
#include <stdio.h>

#include "base/log.h"
#include "piperpc/alloc.h"

static prpc_log_fn g_log_fn;
static void *g_log_user;
static prpc_log_level g_log_max = PRPC_LOG_ERROR;

void prpc_set_log(prpc_log_fn fn, void *user, prpc_log_level max_level)
{
    g_log_fn = fn;
    g_log_user = user;
    g_log_max = max_level;
}

void prpc__logv(prpc_log_fn fn, void *user, prpc_log_level max_level, prpc_log_level level,
                const char *fmt, va_list ap)
{
    if (fn == NULL || level > max_level)
        return;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    fn(user, level, buf);
}

void prpc__log(prpc_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    prpc__logv(g_log_fn, g_log_user, g_log_max, level, fmt, ap);
    va_end(ap);
}
