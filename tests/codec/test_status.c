/* prpc_strerror and prpc_status_name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "piperpc/status.h"

static void test_status_every_code_has_distinct_text(void **state)
{
    (void)state;
    for (int a = 0; a >= PRPC_STATUS_MIN; a--) {
        const char *t = prpc_strerror((prpc_status)a);
        const char *n = prpc_status_name((prpc_status)a);
        assert_non_null(t);
        assert_non_null(n);
        assert_string_not_equal(t, "unknown error");
        assert_string_not_equal(n, "UNKNOWN");
        for (int b = a - 1; b >= PRPC_STATUS_MIN; b--) {
            assert_string_not_equal(t, prpc_strerror((prpc_status)b));
            assert_string_not_equal(n, prpc_status_name((prpc_status)b));
        }
    }
}

static void test_status_known_names(void **state)
{
    (void)state;
    assert_string_equal(prpc_status_name(PRPC_OK), "OK");
    assert_string_equal(prpc_status_name(PRPC_ERR_TIMEOUT), "TIMEOUT");
    assert_string_equal(prpc_strerror(PRPC_ERR_TIMEOUT), "timed out");
    assert_string_equal(prpc_status_name(PRPC_ERR_PROTOCOL), "PROTOCOL");
    assert_string_equal(prpc_status_name(PRPC_ERR_INTERNAL), "INTERNAL");
    assert_string_equal(prpc_status_name(PRPC_ERR_BAD_ARGS), "BAD_ARGS");
}

static void test_status_unknown_values(void **state)
{
    (void)state;
    const int unknown[] = {1, 42, PRPC_STATUS_MIN - 1, -1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(prpc_strerror((prpc_status)unknown[i]), "unknown error");
        assert_string_equal(prpc_status_name((prpc_status)unknown[i]), "UNKNOWN");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_every_code_has_distinct_text),
        cmocka_unit_test(test_status_known_names),
        cmocka_unit_test(test_status_unknown_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
