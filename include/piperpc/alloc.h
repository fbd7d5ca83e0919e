/* Allocator hooks and the log callback.
 *
 * Every allocation the library makes goes through the hooks, so an
 * application can count, limit or redirect memory. The library never prints:
 * what it has to say goes to the log callback, which is off by default. */
#ifndef PIPERPC_ALLOC_H
#define PIPERPC_ALLOC_H

#include <stddef.h>

#include "export.h"
#include "status.h"

PRPC_BEGIN_DECLS

/* All three functions must be set. They are called from any thread, so they
 * must be thread-safe. realloc(user, NULL, n) must behave as alloc. */
typedef struct prpc_allocator {
    void *(*alloc)(void *user, size_t size);
    void *(*realloc)(void *user, void *ptr, size_t size);
    void (*free)(void *user, void *ptr);
    void *user;
} prpc_allocator;

/* Installs allocator hooks for the whole process; NULL restores malloc.
 * Call it before any other piperpc function and never while piperpc objects
 * exist. Returns PRPC_ERR_INVALID_ARG if a member is missing. */
PRPC_API prpc_status prpc_set_allocator(const prpc_allocator *allocator);

/* Allocation through the installed hooks, for code (tests, generated code,
 * applications) that hands memory to piperpc or frees what it returns. */
PRPC_API void *prpc_alloc(size_t size);
PRPC_API void *prpc_realloc(void *ptr, size_t size);
PRPC_API void prpc_free(void *ptr);

typedef enum prpc_log_level {
    PRPC_LOG_ERROR = 0,
    PRPC_LOG_WARN = 1,
    PRPC_LOG_INFO = 2,
    PRPC_LOG_DEBUG = 3
} prpc_log_level;

/* Receives one complete message without a trailing newline. Called from any
 * thread, possibly from several at once. */
typedef void (*prpc_log_fn)(void *user, prpc_log_level level, const char *message);

/* Sets the process-wide log callback; messages above max_level are dropped
 * before they are formatted. NULL turns logging off (the default). Servers
 * and clients can override it in their options. */
PRPC_API void prpc_set_log(prpc_log_fn fn, void *user, prpc_log_level max_level);

PRPC_END_DECLS

#endif /* PIPERPC_ALLOC_H */
