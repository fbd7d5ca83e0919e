/* prpc_arena: a chunked bump allocator that owns decoded values.
 *
 * The arena header and its first chunk are one allocation, so decoding a
 * small call costs a single malloc. Ordinary chunks form a list; a request
 * larger than a quarter of a chunk gets a chunk of its own so that it wastes
 * no space in the ordinary ones. reset() keeps only the first chunk, so a
 * reused arena never keeps the memory of its largest call. */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "piperpc/alloc.h"
#include "piperpc/arena.h"

#define ARENA_DEFAULT_CHUNK 4096u
/* Smaller chunk sizes are raised to this, so that a request of a quarter
 * chunk plus the worst alignment padding always fits a fresh chunk. */
#define ARENA_MIN_CHUNK 256u
#define ARENA_MAX_ALIGN 64u

struct chunk {
    struct chunk *next;
    size_t size; /* usable bytes in data */
    size_t used; /* bytes bumped so far, padding included */
    alignas(max_align_t) unsigned char data[];
};

struct prpc_arena {
    struct chunk *first;   /* lives in the same allocation as the arena */
    struct chunk *current; /* ordinary chunk that small requests bump into */
    struct chunk *others;  /* every other chunk: full ordinary ones and large ones */
    size_t chunk_size;
    size_t used;           /* bytes handed out since the last reset */
};

/* Offset of the first chunk behind the arena header, keeping its alignment. */
#define FIRST_CHUNK_OFFSET \
    ((sizeof(struct prpc_arena) + alignof(struct chunk) - 1) & ~(alignof(struct chunk) - 1))

prpc_arena *prpc_arena_create(size_t chunk_size)
{
    if (chunk_size == 0)
        chunk_size = ARENA_DEFAULT_CHUNK;
    if (chunk_size < ARENA_MIN_CHUNK)
        chunk_size = ARENA_MIN_CHUNK;
    if (chunk_size > SIZE_MAX - FIRST_CHUNK_OFFSET - sizeof(struct chunk))
        return NULL;
    unsigned char *block = prpc_alloc(FIRST_CHUNK_OFFSET + sizeof(struct chunk) + chunk_size);
    if (block == NULL)
        return NULL;
    prpc_arena *a = (prpc_arena *)block;
    struct chunk *c = (struct chunk *)(block + FIRST_CHUNK_OFFSET);
    c->next = NULL;
    c->size = chunk_size;
    c->used = 0;
    a->first = c;
    a->current = c;
    a->others = NULL;
    a->chunk_size = chunk_size;
    a->used = 0;
    return a;
}

static void free_list(struct chunk *c)
{
    while (c != NULL) {
        struct chunk *next = c->next;
        prpc_free(c);
        c = next;
    }
}

void prpc_arena_destroy(prpc_arena *arena)
{
    if (arena == NULL)
        return;
    free_list(arena->others);
    if (arena->current != arena->first)
        prpc_free(arena->current);
    prpc_free(arena);
}

void prpc_arena_reset(prpc_arena *arena)
{
    if (arena == NULL)
        return;
    free_list(arena->others);
    arena->others = NULL;
    if (arena->current != arena->first)
        prpc_free(arena->current);
    arena->current = arena->first;
    arena->first->used = 0;
    arena->used = 0;
}

size_t prpc_arena_used(const prpc_arena *arena)
{
    return arena ? arena->used : 0;
}

/* Bumps size bytes aligned to align out of c, or returns NULL if they do not
 * fit. Alignment is computed on the real address, so it holds for any
 * alignment up to ARENA_MAX_ALIGN whatever malloc returned. */
static inline void *bump(struct chunk *c, size_t size, size_t align)
{
    uintptr_t at = (uintptr_t)(c->data + c->used);
    size_t pad = (size_t)(-at & (uintptr_t)(align - 1));
    size_t room = c->size - c->used;
    if (pad > room || size > room - pad)
        return NULL;
    void *p = c->data + c->used + pad;
    c->used += pad + size;
    return p;
}

static struct chunk *new_chunk(size_t size)
{
    if (size > SIZE_MAX - sizeof(struct chunk))
        return NULL;
    struct chunk *c = prpc_alloc(sizeof(struct chunk) + size);
    if (c == NULL)
        return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

void *prpc_arena_alloc(prpc_arena *arena, size_t size, size_t align)
{
    if (arena == NULL)
        return NULL;
    if (align == 0)
        align = alignof(max_align_t);
    if (align > ARENA_MAX_ALIGN || (align & (align - 1)) != 0)
        return NULL;
    /* A zero-size request still takes one byte so every pointer is unique. */
    size_t take = size ? size : 1;

    void *p;
    if (take > arena->chunk_size / 4) {
        /* Large: a chunk of its own, with room for the worst padding, so it
         * wastes nothing in the ordinary chunks. */
        if (take > SIZE_MAX - ARENA_MAX_ALIGN)
            return NULL;
        struct chunk *c = new_chunk(take + align - 1);
        if (c == NULL)
            return NULL;
        p = bump(c, take, align);
        c->next = arena->others;
        arena->others = c;
    } else if ((p = bump(arena->current, take, align)) == NULL) {
        struct chunk *c = new_chunk(arena->chunk_size);
        if (c == NULL)
            return NULL;
        /* The full chunk moves to the other list, except the first one,
         * which lives in the arena's own allocation and stays reachable
         * through arena->first. */
        if (arena->current != arena->first) {
            arena->current->next = arena->others;
            arena->others = arena->current;
        }
        arena->current = c;
        p = bump(c, take, align);
        if (p == NULL)
            return NULL; /* only with an allocator that aligns below max_align_t */
    }
    arena->used += size;
    return p;
}

void *prpc_arena_calloc(prpc_arena *arena, size_t count, size_t size, size_t align)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = prpc_arena_alloc(arena, count * size, align);
    if (p != NULL && count * size != 0)
        memset(p, 0, count * size);
    return p;
}

char *prpc_arena_strndup(prpc_arena *arena, const char *s, size_t len)
{
    if (len == SIZE_MAX || (s == NULL && len != 0))
        return NULL;
    char *p = prpc_arena_alloc(arena, len + 1, 1);
    if (p == NULL)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
