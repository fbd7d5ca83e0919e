/* Counting allocator, PRNG and hex helpers shared by the codec tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "testutil.h"
#include "piperpc/alloc.h"

/* Each block carries its size in front so realloc and free can account for
 * it; the header keeps max_align_t alignment. */
typedef union header {
    size_t size;
    max_align_t align;
} header;

/* Requests above this fail as malloc would when the address space is
 * exhausted (sanitizer allocators abort on them instead of returning NULL). */
#define TU_MAX_REQUEST (SIZE_MAX / 4)

static size_t g_live, g_calls, g_max_request, g_bytes, g_peak;
static long g_fail_after = -1;

static int should_fail(void)
{
    if (g_fail_after < 0)
        return 0;
    if (g_fail_after == 0)
        return 1;
    g_fail_after--;
    return 0;
}

static void note_request(size_t size)
{
    g_calls++;
    if (size > g_max_request)
        g_max_request = size;
}

static void *count_alloc(void *user, size_t size)
{
    (void)user;
    note_request(size);
    if (should_fail() || size > TU_MAX_REQUEST)
        return NULL;
    header *h = malloc(sizeof(header) + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    g_live++;
    g_bytes += size;
    if (g_bytes > g_peak)
        g_peak = g_bytes;
    return h + 1;
}

static void count_free(void *user, void *ptr)
{
    (void)user;
    if (ptr == NULL)
        return;
    header *h = (header *)ptr - 1;
    g_live--;
    g_bytes -= h->size;
    free(h);
}

static void *count_realloc(void *user, void *ptr, size_t size)
{
    if (ptr == NULL)
        return count_alloc(user, size);
    note_request(size);
    if (should_fail() || size > TU_MAX_REQUEST)
        return NULL;
    header *old = (header *)ptr - 1;
    size_t old_size = old->size;
    header *h = realloc(old, sizeof(header) + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    g_bytes = g_bytes - old_size + size;
    if (g_bytes > g_peak)
        g_peak = g_bytes;
    return h + 1;
}

void tu_alloc_install(void)
{
    static const prpc_allocator a = {count_alloc, count_realloc, count_free, NULL};
    g_live = 0;
    g_bytes = 0;
    g_fail_after = -1;
    tu_alloc_reset_stats();
    prpc_set_allocator(&a);
}

void tu_alloc_uninstall(void) { prpc_set_allocator(NULL); }

void tu_alloc_reset_stats(void)
{
    g_calls = 0;
    g_max_request = 0;
    g_peak = g_bytes;
}

size_t tu_alloc_live(void) { return g_live; }
size_t tu_alloc_calls(void) { return g_calls; }
size_t tu_alloc_max_request(void) { return g_max_request; }
size_t tu_alloc_peak_bytes(void) { return g_peak; }
void tu_alloc_fail_after(long n) { g_fail_after = n; }

int tu_group_setup(void **state)
{
    (void)state;
    tu_alloc_install();
    return 0;
}

int tu_group_teardown(void **state)
{
    (void)state;
    size_t live = tu_alloc_live();
    tu_alloc_uninstall();
    if (live != 0) {
        fprintf(stderr, "%zu allocation(s) leaked\n", live);
        return -1;
    }
    return 0;
}

int tu_check_leaks(void **state)
{
    (void)state;
    g_fail_after = -1;
    if (g_live != 0) {
        fprintf(stderr, "test leaked %zu allocation(s)\n", g_live);
        return -1;
    }
    return 0;
}

uint64_t tu_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

uint64_t tu_seed(const char *test_name)
{
    const char *env = getenv("PRPC_TEST_SEED");
    uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) * 2654435761u;
    if (seed == 0)
        seed = 1;
    printf("%s: seed %llu (set PRPC_TEST_SEED to repeat)\n", test_name, (unsigned long long)seed);
    return seed;
}

size_t tu_hex(const char *hex, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p != '\0'; p++) {
        int v;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            v = *p - 'A' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            assert_true(n < cap);
            buf[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_int_equal(hi, -1);
    return n;
}
