/* prpc_arena: a chunked bump allocator.
 *
 * The arena owns every decoded value: a server's call arguments live in the
 * call's arena and die with the call; a client's results live in an arena
 * the caller passes and frees with one prpc_arena_destroy (or reuses after
 * prpc_arena_reset). There are no per-field frees. An arena is not
 * thread-safe; one thread uses it at a time. */
#ifndef PIPERPC_ARENA_H
#define PIPERPC_ARENA_H

#include <stddef.h>

#include "export.h"

PRPC_BEGIN_DECLS

typedef struct prpc_arena prpc_arena;

/* chunk_size is the size of each ordinary chunk; 0 means 4096. Requests
 * larger than a quarter of a chunk get a chunk of their own. Returns NULL
 * when out of memory. */
PRPC_API prpc_arena *prpc_arena_create(size_t chunk_size);

/* Frees every chunk and the arena. Accepts NULL. */
PRPC_API void prpc_arena_destroy(prpc_arena *arena);

/* Returns size bytes aligned to align (a power of two, at most 64; 0 means
 * the alignment of max_align_t). Returns NULL on overflow or when out of
 * memory; a size of 0 returns a valid, unique pointer. */
PRPC_API void *prpc_arena_alloc(prpc_arena *arena, size_t size, size_t align);

/* Like prpc_arena_alloc(arena, count * size, align), zero-filled; NULL if the
 * multiplication overflows. */
PRPC_API void *prpc_arena_calloc(prpc_arena *arena, size_t count, size_t size, size_t align);

/* Copies len bytes and appends a NUL. NULL when out of memory. */
PRPC_API char *prpc_arena_strndup(prpc_arena *arena, const char *s, size_t len);

/* Forgets every allocation. The first ordinary chunk is kept for reuse and
 * every other chunk is freed, so a reused arena does not grow without bound. */
PRPC_API void prpc_arena_reset(prpc_arena *arena);

/* Bytes handed out since creation or the last reset (without padding). */
PRPC_API size_t prpc_arena_used(const prpc_arena *arena);

PRPC_END_DECLS

#endif /* PIPERPC_ARENA_H */
