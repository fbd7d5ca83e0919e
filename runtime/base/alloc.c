/* The process-wide allocator hooks (default: malloc) and log callback. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "piperpc/alloc.h"

static void *default_alloc(void *user, size_t size)
{
    (void)user;
    return malloc(size);
}

static void *default_realloc(void *user, void *ptr, size_t size)
{
    (void)user;
    return realloc(ptr, size);
}

static void default_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

static prpc_allocator g_alloc = {default_alloc, default_realloc, default_free, NULL};

prpc_status prpc_set_allocator(const prpc_allocator *allocator)
{
    if (allocator == NULL) {
        g_alloc = (prpc_allocator){default_alloc, default_realloc, default_free, NULL};
        return PRPC_OK;
    }
    if (allocator->alloc == NULL || allocator->realloc == NULL || allocator->free == NULL)
        return PRPC_ERR_INVALID_ARG;
    g_alloc = *allocator;
    return PRPC_OK;
}

void *prpc_alloc(size_t size)
{
    /* malloc(0) may return NULL, which callers would take for failure. */
    return g_alloc.alloc(g_alloc.user, size ? size : 1);
}

void *prpc_realloc(void *ptr, size_t size)
{
    return g_alloc.realloc(g_alloc.user, ptr, size ? size : 1);
}

void prpc_free(void *ptr)
{
    if (ptr != NULL)
        g_alloc.free(g_alloc.user, ptr);
}

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
