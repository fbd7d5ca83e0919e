/* The process-wide allocator hooks (default: malloc). */
#include <stdlib.h>

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
