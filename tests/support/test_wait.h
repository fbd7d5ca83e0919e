/* Waiting in a test for something another thread or process does: look at
 * a condition, with a short sleep between looks, until it holds or a
 * deadline passes; the test then asserts the condition. On a slow machine
 * (sanitizers, valgrind, ctest -j past the processor count) such a test
 * takes longer but gives the same answer, where a fixed sleep followed by
 * an assertion fails as soon as the machine is slower than the sleep
 * assumed.
 *
 * A fixed sleep is still right where a test shows that something does NOT
 * happen within some time (a timer that was cancelled, a connection that
 * stays open under a limit): no condition can say "never". Such a sleep
 * says so in a comment.
 *
 * Header only; it uses the runtime's clock and sleep (platform.h), which
 * every test has on its include path. */
#ifndef PRPC_TESTS_SUPPORT_TEST_WAIT_H
#define PRPC_TESTS_SUPPORT_TEST_WAIT_H

#include <stdint.h>

#include "platform/platform.h"

/* The deadline for what normally takes milliseconds: generous for a loaded
 * machine, well inside every test's ctest timeout. */
#define TEST_WAIT_MS 10000u

/* The pause between two looks at a condition. */
#define TEST_WAIT_STEP_MS 2u

/* Evaluates cond until it is true or timeout_ms have passed; cond is looked
 * at once more after the last sleep, so a condition that became true just
 * before the deadline counts. Asserts nothing: the caller asserts cond (or
 * the values behind it) afterwards, so a failure reports what was seen. */
#define TEST_WAIT_UNTIL(cond, timeout_ms) \
    do { \
        const uint64_t test_wait_deadline_ = prpc__now_ms() + (timeout_ms); \
        while (!(cond) && prpc__now_ms() < test_wait_deadline_) \
            prpc__sleep_ms(TEST_WAIT_STEP_MS); \
    } while (0)

#endif
