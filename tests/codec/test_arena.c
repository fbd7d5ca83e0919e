/* prpc_arena: alignment, chunking, large allocations, reset, overflow and
 * out-of-memory behaviour, all under the counting allocator. */
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "piperpc/alloc.h"
#include "piperpc/arena.h"
#include "testutil.h"

static void test_arena_create_destroy(void **state)
{
    (void)state;
    prpc_arena *a = prpc_arena_create(0);
    assert_non_null(a);
    /* Header and first chunk are one allocation. */
    assert_int_equal(tu_alloc_live(), 1);
    assert_int_equal(prpc_arena_used(a), 0);
    prpc_arena_destroy(a);
    prpc_arena_destroy(NULL);
    assert_int_equal(prpc_arena_used(NULL), 0);
}

static void test_arena_alignment_every_power(void **state)
{
    (void)state;
    prpc_arena *a = prpc_arena_create(256);
    assert_non_null(a);
    for (int round = 0; round < 50; round++) {
        for (size_t align = 1; align <= 64; align *= 2) {
            /* Odd sizes force padding before the next request. */
            size_t size = (size_t)round % 7 + 1;
            uint8_t *p = prpc_arena_alloc(a, size, align);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % align, 0);
            memset(p, 0xab, size);
        }
        void *q = prpc_arena_alloc(a, 3, 0);
        assert_non_null(q);
        assert_int_equal((uintptr_t)q % alignof(max_align_t), 0);
    }
    prpc_arena_destroy(a);
}

static void test_arena_bad_alignment(void **state)
{
    (void)state;
    prpc_arena *a = prpc_arena_create(0);
    assert_null(prpc_arena_alloc(a, 8, 3));
    assert_null(prpc_arena_alloc(a, 8, 128));
    assert_null(prpc_arena_alloc(a, 8, 65));
    assert_null(prpc_arena_alloc(NULL, 8, 8));
    assert_non_null(prpc_arena_alloc(a, 8, 64));
    prpc_arena_destroy(a);
}

static void test_arena_zero_size_unique(void **state)
{
    (void)state;
    prpc_arena *a = prpc_arena_create(0);
    void *p = prpc_arena_alloc(a, 0, 1);
    void *q = prpc_arena_alloc(a, 0, 1);
    assert_non_null(p);
    assert_non_null(q);
    assert_ptr_not_equal(p, q);
    assert_int_equal(prpc_arena_used(a), 0);
    prpc_arena_destroy(a);
}

static void test_arena_values_survive_new_chunks(void **state)
{
    (void)state;
    prpc_arena *a = prpc_arena_create(128);
    uint32_t *ptrs[1000];
    for (uint32_t i = 0; i < 1000; i++) {
        ptrs[i] = prpc_arena_alloc(a, sizeof(uint32_t) * 4, alignof(uint32_t));
        assert_non_null(ptrs[i]);
        for (int k = 0; k < 4; k++)
            ptrs[i][k] = i * 4 + (uint32_t)k;
    }
    for (uint32_t i = 0; i < 1000; i++)
        for (int k = 0; k < 4; k++)
            assert_int_equal(ptrs[i][k], i * 4 + (uint32_t)k);
    assert_int_equal(prpc_arena_used(a), 1000 * 16);
    assert_true(tu_alloc_live() > 1);
    prpc_arena_destroy(a);
}

static void test_arena_large_gets_own_chunk(void **state)
{
    (void)state;
    prpc_arena *a = prpc_arena_create(1024);
    size_t live0 = tu_alloc_live();
    /* A quarter of a chunk still bumps into the first chunk. */
    assert_non_null(prpc_arena_alloc(a, 256, 1));
    assert_int_equal(tu_alloc_live(), live0);
    /* One byte more is a large request: its own chunk. */
    tu_alloc_reset_stats();
    uint8_t *big = prpc_arena_alloc(a, 257, 1);
    assert_non_null(big);
    assert_int_equal(tu_alloc_live(), live0 + 1);
    assert_true(tu_alloc_max_request() < 257 + 64 + 64);
    /* The first chunk still has room: small requests do not start a chunk. */
    assert_non_null(prpc_arena_alloc(a, 100, 1));
    assert_int_equal(tu_alloc_live(), live0 + 1);
    /* A 1 MiB request. */
    uint8_t *huge = prpc_arena_alloc(a, 1 << 20, 64);
    assert_non_null(huge);
    assert_int_equal((uintptr_t)huge % 64, 0);
    memset(huge, 1, 1 << 20);
    memset(big, 2, 257);
    assert_int_equal(prpc_arena_used(a), 256 + 257 + 100 + (1 << 20));
    prpc_arena_destroy(a);
}

static void test_arena_reset_keeps_first_chunk(void **state)
{
    (void)state;
    prpc_arena *a = prpc_arena_create(512);
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 100; i++)
            assert_non_null(prpc_arena_alloc(a, 64, 8));
        assert_non_null(prpc_arena_alloc(a, 10000, 8));
        assert_true(tu_alloc_live() > 2);
        prpc_arena_reset(a);
        /* Only the arena itself (with its first chunk) is left. */
        assert_int_equal(tu_alloc_live(), 1);
        assert_int_equal(prpc_arena_used(a), 0);
    }
    /* Reusing the first chunk needs no new allocation. */
    tu_alloc_reset_stats();
    assert_non_null(prpc_arena_alloc(a, 64, 8));
    assert_int_equal(tu_alloc_calls(), 0);
    prpc_arena_reset(NULL);
    prpc_arena_destroy(a);
}

static void test_arena_calloc_zeroes_and_checks_overflow(void **state)
{
    (void)state;
    prpc_arena *a = prpc_arena_create(0);
    /* Dirty the first chunk, reset, and make sure calloc clears. */
    uint8_t *d = prpc_arena_alloc(a, 512, 1);
    memset(d, 0xff, 512);
    prpc_arena_reset(a);
    uint32_t *z = prpc_arena_calloc(a, 100, sizeof(uint32_t), alignof(uint32_t));
    assert_non_null(z);
    for (int i = 0; i < 100; i++)
        assert_int_equal(z[i], 0);
    tu_alloc_reset_stats();
    assert_null(prpc_arena_calloc(a, SIZE_MAX / 2 + 1, 2, 1));
    assert_null(prpc_arena_calloc(a, SIZE_MAX, SIZE_MAX, 1));
    assert_null(prpc_arena_calloc(a, (size_t)1 << (sizeof(size_t) * 4), (size_t)1 << (sizeof(size_t) * 4), 1));
    /* Overflow is caught before anything is requested. */
    assert_int_equal(tu_alloc_calls(), 0);
    assert_non_null(prpc_arena_calloc(a, 0, 8, 8));
    prpc_arena_destroy(a);
}

static void test_arena_huge_sizes_fail_cleanly(void **state)
{
    (void)state;
    prpc_arena *a = prpc_arena_create(0);
    assert_null(prpc_arena_alloc(a, SIZE_MAX, 1));
    assert_null(prpc_arena_alloc(a, SIZE_MAX - 8, 64));
    assert_null(prpc_arena_alloc(a, SIZE_MAX - 100, 1));
    assert_null(prpc_arena_strndup(a, "x", SIZE_MAX));
    assert_null(prpc_arena_create(SIZE_MAX));
    assert_null(prpc_arena_create(SIZE_MAX - 16));
    prpc_arena_destroy(a);
}

static void test_arena_strndup(void **state)
{
    (void)state;
    prpc_arena *a = prpc_arena_create(0);
    char *s = prpc_arena_strndup(a, "hello world", 5);
    assert_string_equal(s, "hello");
    char *e = prpc_arena_strndup(a, NULL, 0);
    assert_non_null(e);
    assert_string_equal(e, "");
    assert_null(prpc_arena_strndup(a, NULL, 3));
    assert_int_equal(prpc_arena_used(a), 6 + 1);
    prpc_arena_destroy(a);
}

static void test_arena_out_of_memory(void **state)
{
    (void)state;
    tu_alloc_fail_after(0);
    assert_null(prpc_arena_create(0));
    tu_alloc_fail_after(-1);
    prpc_arena *a = prpc_arena_create(128);
    assert_non_null(a);
    tu_alloc_fail_after(0);
    /* Fits the first chunk: no allocation needed. */
    assert_non_null(prpc_arena_alloc(a, 16, 1));
    /* Needs a chunk: fails, and the arena stays usable. */
    assert_null(prpc_arena_alloc(a, 1000, 1));
    for (int i = 0; i < 20; i++)
        (void)prpc_arena_alloc(a, 16, 1);
    assert_null(prpc_arena_alloc(a, 16, 1));
    tu_alloc_fail_after(-1);
    assert_non_null(prpc_arena_alloc(a, 16, 1));
    assert_non_null(prpc_arena_alloc(a, 1000, 1));
    prpc_arena_destroy(a);
}

static void test_arena_tiny_chunk_size_is_raised(void **state)
{
    (void)state;
    prpc_arena *a = prpc_arena_create(1);
    assert_non_null(a);
    for (int i = 0; i < 100; i++) {
        uint8_t *p = prpc_arena_alloc(a, 16, 64);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 64, 0);
        memset(p, i, 16);
    }
    prpc_arena_destroy(a);
}

#define T(f) cmocka_unit_test_teardown(f, tu_check_leaks)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_arena_create_destroy),
        T(test_arena_alignment_every_power),
        T(test_arena_bad_alignment),
        T(test_arena_zero_size_unique),
        T(test_arena_values_survive_new_chunks),
        T(test_arena_large_gets_own_chunk),
        T(test_arena_reset_keeps_first_chunk),
        T(test_arena_calloc_zeroes_and_checks_overflow),
        T(test_arena_huge_sizes_fail_cleanly),
        T(test_arena_strndup),
        T(test_arena_out_of_memory),
        T(test_arena_tiny_chunk_size_is_raised),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
