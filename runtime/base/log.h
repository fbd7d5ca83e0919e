/* Internal logging: formats a message only when a callback wants it. */
#ifndef PRPC_BASE_LOG_H
#define PRPC_BASE_LOG_H

#include <stdarg.h>

#include "piperpc/alloc.h"

#if defined(__GNUC__)
#  define PRPC__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#  define PRPC__PRINTF(f, a)
#endif

/* Logs through the process-wide callback set with prpc_set_log. */
void prpc__log(prpc_log_level level, const char *fmt, ...) PRPC__PRINTF(2, 3);

/* Logs through an explicit callback (a server's or client's own); a NULL fn
 * drops the message. */
void prpc__logv(prpc_log_fn fn, void *user, prpc_log_level max_level, prpc_log_level level,
                const char *fmt, va_list ap);

#endif /* PRPC_BASE_LOG_H */
