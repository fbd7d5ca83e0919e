/* Shared test support for the codec tests: a counting allocator installed
 * through prpc_set_allocator, a seeded PRNG and hex helpers. */
#ifndef PRPC_TESTS_CODEC_TESTUTIL_H
#define PRPC_TESTS_CODEC_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Installs the counting allocator and clears its counters. */
void tu_alloc_install(void);
/* Restores malloc. */
void tu_alloc_uninstall(void);
/* Clears the statistics (not the live count). */
void tu_alloc_reset_stats(void);
/* Blocks allocated and not yet freed. */
size_t tu_alloc_live(void);
/* Calls to alloc and realloc since the last reset. */
size_t tu_alloc_calls(void);
/* The largest single size requested since the last reset. */
size_t tu_alloc_max_request(void);
/* Bytes live at the high-water mark since the last reset. */
size_t tu_alloc_peak_bytes(void);
/* Makes every allocation after the next n fail; n < 0 never fails. */
void tu_alloc_fail_after(long n);

/* cmocka group setup/teardown: install the allocator, and on teardown check
 * that every block was freed. */
int tu_group_setup(void **state);
int tu_group_teardown(void **state);
/* Per-test teardown: fails the test if anything it allocated is still live. */
int tu_check_leaks(void **state);

/* xorshift64* PRNG. */
uint64_t tu_rand(uint64_t *state);
/* The seed for randomized tests: $PRPC_TEST_SEED if set, otherwise the
 * time; printed so a failure can be repeated. */
uint64_t tu_seed(const char *test_name);

/* Parses "c0 91 01" (spaces optional) into buf; returns the length. */
size_t tu_hex(const char *hex, uint8_t *buf, size_t cap);

#endif /* PRPC_TESTS_CODEC_TESTUTIL_H */
