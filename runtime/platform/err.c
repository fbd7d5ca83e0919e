/* Explanatory error messages (prpc__err), the same on every platform. */
#include <stdarg.h>
#include <stdio.h>

#include "platform/platform.h"

void prpc__set_err(prpc__err *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}
