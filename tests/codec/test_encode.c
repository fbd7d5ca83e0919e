/* The encoder: exact bytes for every helper at its boundaries, string
 * checks, sticky errors, the size limit and buffer growth. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "piperpc/alloc.h"
#include "piperpc/codec.h"
#include "testutil.h"

/* Asserts that enc holds exactly the bytes spelled by hex, then empties it. */
static void expect_bytes(prpc_encoder *enc, const char *hex)
{
    uint8_t want[64];
    size_t n = tu_hex(hex, want, sizeof want);
    assert_int_equal(prpc_enc_status(enc), PRPC_OK);
    assert_int_equal(enc->len, n);
    assert_memory_equal(enc->data, want, n);
    prpc_enc_reset(enc);
}

static void test_enc_nil_bool(void **state)
{
    (void)state;
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    /* init allocates nothing */
    assert_int_equal(tu_alloc_live(), 0);
    prpc_enc_nil(&enc);
    expect_bytes(&enc, "c0");
    prpc_enc_bool(&enc, true);
    prpc_enc_bool(&enc, false);
    expect_bytes(&enc, "c3 c2");
    prpc_enc_free(&enc);
}

static void test_enc_uint_smallest_form(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        const char *hex;
    } cases[] = {
        {0, "00"},
        {127, "7f"},
        {128, "cc 80"},
        {255, "cc ff"},
        {256, "cd 01 00"},
        {65535, "cd ff ff"},
        {65536, "ce 00 01 00 00"},
        {UINT32_MAX, "ce ff ff ff ff"},
        {(uint64_t)UINT32_MAX + 1, "cf 00 00 00 01 00 00 00 00"},
        {UINT64_MAX, "cf ff ff ff ff ff ff ff ff"},
    };
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        prpc_enc_uint(&enc, cases[i].v);
        expect_bytes(&enc, cases[i].hex);
    }
    prpc_enc_free(&enc);
}

static void test_enc_int_smallest_form(void **state)
{
    (void)state;
    static const struct {
        int64_t v;
        const char *hex;
    } cases[] = {
        {0, "00"},
        {1, "01"},
        {127, "7f"},
        {128, "cc 80"},
        {-1, "ff"},
        {-32, "e0"},
        {-33, "d0 df"},
        {-128, "d0 80"},
        {-129, "d1 ff 7f"},
        {INT16_MIN, "d1 80 00"},
        {INT16_MIN - 1, "d2 ff ff 7f ff"},
        {INT32_MIN, "d2 80 00 00 00"},
        {(int64_t)INT32_MIN - 1, "d3 ff ff ff ff 7f ff ff ff"},
        {INT64_MIN, "d3 80 00 00 00 00 00 00 00"},
        {INT64_MAX, "cf 7f ff ff ff ff ff ff ff"},
    };
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        prpc_enc_int(&enc, cases[i].v);
        expect_bytes(&enc, cases[i].hex);
    }
    prpc_enc_free(&enc);
}

static void test_enc_floats(void **state)
{
    (void)state;
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_f32(&enc, 1.5f);
    expect_bytes(&enc, "ca 3f c0 00 00");
    prpc_enc_f64(&enc, 1.5);
    expect_bytes(&enc, "cb 3f f8 00 00 00 00 00 00");
    prpc_enc_f64(&enc, INFINITY);
    expect_bytes(&enc, "cb 7f f0 00 00 00 00 00 00");
    prpc_enc_f64(&enc, -INFINITY);
    expect_bytes(&enc, "cb ff f0 00 00 00 00 00 00");
    prpc_enc_f32(&enc, -0.0f);
    expect_bytes(&enc, "ca 80 00 00 00");
    prpc_enc_f64(&enc, NAN);
    assert_int_equal(enc.len, 9);
    assert_int_equal(enc.data[0], 0xcb);
    assert_true((enc.data[1] & 0x7f) == 0x7f && (enc.data[2] & 0xf0) == 0xf0);
    prpc_enc_reset(&enc);
    prpc_enc_f32(&enc, NAN);
    assert_int_equal(enc.len, 5);
    assert_int_equal(enc.data[0], 0xca);
    prpc_enc_free(&enc);
}

/* Encodes a str of n 'x' bytes and checks its header. */
static void check_str_header(size_t n, const char *hex_header)
{
    uint8_t want[8];
    size_t hn = tu_hex(hex_header, want, sizeof want);
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, 'x', n);
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_str(&enc, s, n);
    assert_int_equal(prpc_enc_status(&enc), PRPC_OK);
    assert_int_equal(enc.len, hn + n);
    assert_memory_equal(enc.data, want, hn);
    if (n)
        assert_memory_equal(enc.data + hn, s, n);
    prpc_enc_free(&enc);
    free(s);
}

static void test_enc_str_header_forms(void **state)
{
    (void)state;
    check_str_header(0, "a0");
    check_str_header(31, "bf");
    check_str_header(32, "d9 20");
    check_str_header(255, "d9 ff");
    check_str_header(256, "da 01 00");
    check_str_header(65535, "da ff ff");
    check_str_header(65536, "db 00 01 00 00");
    check_str_header(1 << 20, "db 00 10 00 00");
}

static void check_bin_header(size_t n, const char *hex_header)
{
    uint8_t want[8];
    size_t hn = tu_hex(hex_header, want, sizeof want);
    uint8_t *b = malloc(n + 1);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)i;
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_bin(&enc, b, n);
    assert_int_equal(prpc_enc_status(&enc), PRPC_OK);
    assert_int_equal(enc.len, hn + n);
    assert_memory_equal(enc.data, want, hn);
    if (n)
        assert_memory_equal(enc.data + hn, b, n);
    prpc_enc_free(&enc);
    free(b);
}

static void test_enc_bin_header_forms(void **state)
{
    (void)state;
    check_bin_header(0, "c4 00");
    check_bin_header(255, "c4 ff");
    check_bin_header(256, "c5 01 00");
    check_bin_header(65535, "c5 ff ff");
    check_bin_header(65536, "c6 00 01 00 00");
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_bin(&enc, NULL, 0);
    expect_bytes(&enc, "c4 00");
    prpc_enc_bin(&enc, NULL, 1);
    assert_int_equal(prpc_enc_status(&enc), PRPC_ERR_INVALID_ARG);
    prpc_enc_free(&enc);
}

static void test_enc_array_map_headers(void **state)
{
    (void)state;
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_array(&enc, 0);
    expect_bytes(&enc, "90");
    prpc_enc_array(&enc, 15);
    expect_bytes(&enc, "9f");
    prpc_enc_array(&enc, 16);
    expect_bytes(&enc, "dc 00 10");
    prpc_enc_array(&enc, 65535);
    expect_bytes(&enc, "dc ff ff");
    prpc_enc_array(&enc, 65536);
    expect_bytes(&enc, "dd 00 01 00 00");
    prpc_enc_array(&enc, UINT32_MAX);
    expect_bytes(&enc, "dd ff ff ff ff");
    prpc_enc_map(&enc, 0);
    expect_bytes(&enc, "80");
    prpc_enc_map(&enc, 15);
    expect_bytes(&enc, "8f");
    prpc_enc_map(&enc, 16);
    expect_bytes(&enc, "de 00 10");
    prpc_enc_map(&enc, 65536);
    expect_bytes(&enc, "df 00 01 00 00");
    prpc_enc_free(&enc);
}

static void test_enc_str_rejects_bad_utf8_and_nul(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
    } bad[] = {
        {"\xc0\x80", 2},         /* overlong NUL */
        {"\xe0\x80\x80", 3},     /* overlong */
        {"\xed\xa0\x80", 3},     /* surrogate */
        {"\xf4\x90\x80\x80", 4}, /* above U+10FFFF */
        {"\xe2\x82", 2},         /* truncated */
        {"\x80", 1},             /* stray continuation */
        {"\xff", 1},
        {"a\0b", 3},             /* embedded NUL */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        prpc_encoder enc;
        prpc_enc_init(&enc, 0);
        prpc_enc_str(&enc, bad[i].s, bad[i].len);
        assert_int_equal(prpc_enc_status(&enc), PRPC_ERR_INVALID_ARG);
        assert_int_equal(enc.len, 0);
        prpc_enc_free(&enc);
    }
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_cstr(&enc, "h\xc3\xa9llo \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf");
    assert_int_equal(prpc_enc_status(&enc), PRPC_OK);
    prpc_enc_cstr(&enc, NULL);
    assert_int_equal(prpc_enc_status(&enc), PRPC_ERR_INVALID_ARG);
    prpc_enc_free(&enc);
}

static void test_enc_sticky_error(void **state)
{
    (void)state;
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_array(&enc, 3);
    prpc_enc_uint(&enc, 1);
    prpc_enc_fail(&enc, PRPC_ERR_BAD_ARGS);
    size_t len = enc.len;
    /* Everything after the first error is ignored, including other errors. */
    prpc_enc_str(&enc, "\xff", 1);
    prpc_enc_uint(&enc, 2);
    prpc_enc_cstr(&enc, "more");
    prpc_enc_any(&enc, (prpc_any){(const uint8_t *)"\xc1", 1});
    prpc_enc_fail(&enc, PRPC_ERR_NO_MEMORY);
    assert_int_equal(prpc_enc_status(&enc), PRPC_ERR_BAD_ARGS);
    assert_int_equal(enc.len, len);
    /* reset clears the error and keeps the buffer */
    uint8_t *buf = enc.data;
    prpc_enc_reset(&enc);
    assert_int_equal(prpc_enc_status(&enc), PRPC_OK);
    prpc_enc_nil(&enc);
    expect_bytes(&enc, "c0");
    assert_ptr_equal(enc.data, buf);
    prpc_enc_fail(&enc, PRPC_OK); /* not an error */
    assert_int_equal(prpc_enc_status(&enc), PRPC_OK);
    prpc_enc_free(&enc);
}

static void test_enc_max_size_at_and_past_limit(void **state)
{
    (void)state;
    prpc_encoder enc;
    /* Exactly at the limit: a 10-byte str (1 + 9) and nothing more. */
    prpc_enc_init(&enc, 10);
    prpc_enc_str(&enc, "123456789", 9);
    assert_int_equal(prpc_enc_status(&enc), PRPC_OK);
    assert_int_equal(enc.len, 10);
    assert_true(enc.cap <= 10);
    /* One byte past. */
    prpc_enc_nil(&enc);
    assert_int_equal(prpc_enc_status(&enc), PRPC_ERR_TOO_LARGE);
    assert_int_equal(enc.len, 10);
    prpc_enc_free(&enc);

    prpc_enc_init(&enc, 10);
    prpc_enc_str(&enc, "1234567890", 10);
    assert_int_equal(prpc_enc_status(&enc), PRPC_ERR_TOO_LARGE);
    prpc_enc_free(&enc);

    prpc_enc_init(&enc, 4);
    prpc_enc_uint(&enc, UINT32_MAX); /* 5 bytes */
    assert_int_equal(prpc_enc_status(&enc), PRPC_ERR_TOO_LARGE);
    prpc_enc_free(&enc);
}

static void test_enc_growth_is_amortised(void **state)
{
    (void)state;
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    tu_alloc_reset_stats();
    const size_t n = 1 << 20;
    for (size_t i = 0; i < n; i++)
        prpc_enc_uint(&enc, 1);
    assert_int_equal(prpc_enc_status(&enc), PRPC_OK);
    assert_int_equal(enc.len, n);
    /* Doubling from 256 bytes: about log2(1 MiB / 256) = 12 reallocations. */
    assert_true(tu_alloc_calls() <= 14);
    assert_true(enc.cap >= n && enc.cap <= 2 * n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(enc.data[i], 1);
    prpc_enc_free(&enc);
    assert_null(enc.data);
    /* free then init again is allowed */
    prpc_enc_init(&enc, 0);
    prpc_enc_nil(&enc);
    expect_bytes(&enc, "c0");
    prpc_enc_free(&enc);
}

static void test_enc_out_of_memory(void **state)
{
    (void)state;
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    tu_alloc_fail_after(0);
    prpc_enc_nil(&enc);
    assert_int_equal(prpc_enc_status(&enc), PRPC_ERR_NO_MEMORY);
    assert_int_equal(enc.len, 0);
    tu_alloc_fail_after(-1);
    prpc_enc_free(&enc);

    /* Failing on growth keeps the values written before (the failed value
     * may have left its header: after an error the bytes are not sent). */
    prpc_enc_init(&enc, 0);
    prpc_enc_nil(&enc);
    tu_alloc_fail_after(0);
    char big[1000];
    memset(big, 'a', sizeof big);
    prpc_enc_str(&enc, big, sizeof big);
    assert_int_equal(prpc_enc_status(&enc), PRPC_ERR_NO_MEMORY);
    assert_true(enc.len >= 1 && enc.len < 1 + sizeof big);
    assert_int_equal(enc.data[0], 0xc0);
    tu_alloc_fail_after(-1);
    prpc_enc_free(&enc);
}

static void test_enc_any(void **state)
{
    (void)state;
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    uint8_t v[32];
    size_t n = tu_hex("92 a1 61 81 01 c0", v, sizeof v);
    prpc_enc_any(&enc, (prpc_any){v, n});
    expect_bytes(&enc, "92 a1 61 81 01 c0");

    static const char *bad[] = {
        "",          /* empty */
        "c1",        /* reserved */
        "92 01",     /* truncated */
        "c0 c0",     /* two values */
        "a3 61 62",  /* str shorter than declared */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = tu_hex(bad[i], v, sizeof v);
        prpc_enc_any(&enc, (prpc_any){v, n});
        assert_int_equal(prpc_enc_status(&enc), PRPC_ERR_INVALID_ARG);
        assert_int_equal(enc.len, 0);
        prpc_enc_reset(&enc);
    }
    prpc_enc_any(&enc, (prpc_any){NULL, 0});
    assert_int_equal(prpc_enc_status(&enc), PRPC_ERR_INVALID_ARG);
    prpc_enc_free(&enc);
}

static void test_enc_round_trip_through_decoder(void **state)
{
    (void)state;
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_array(&enc, 6);
    prpc_enc_int(&enc, INT64_MIN);
    prpc_enc_uint(&enc, UINT64_MAX);
    prpc_enc_f64(&enc, -2.25);
    prpc_enc_cstr(&enc, "h\xc3\xa9");
    prpc_enc_bin(&enc, "\0\1\2", 3);
    prpc_enc_map(&enc, 1);
    prpc_enc_cstr(&enc, "k");
    prpc_enc_bool(&enc, true);
    assert_int_equal(prpc_enc_status(&enc), PRPC_OK);
    size_t vlen;
    assert_int_equal(prpc_msgpack_validate(enc.data, enc.len, NULL, &vlen), PRPC_OK);
    assert_int_equal(vlen, enc.len);

    prpc_arena *a = prpc_arena_create(0);
    prpc_decoder dec;
    prpc_dec_init(&dec, enc.data, enc.len, a);
    int64_t i;
    uint64_t u;
    double d;
    const char *s;
    size_t slen;
    prpc_bytes b;
    uint32_t n;
    bool t;
    prpc_dec_array_exact(&dec, 6);
    prpc_dec_i64(&dec, &i);
    prpc_dec_u64(&dec, &u);
    prpc_dec_f64(&dec, &d);
    prpc_dec_str(&dec, &s, &slen);
    prpc_dec_bytes(&dec, &b);
    prpc_dec_map(&dec, &n);
    prpc_dec_str(&dec, &s, NULL);
    prpc_dec_bool(&dec, &t);
    assert_int_equal(prpc_dec_status(&dec), PRPC_OK);
    assert_int_equal(prpc_dec_remaining(&dec), 0);
    assert_true(i == INT64_MIN);
    assert_true(u == UINT64_MAX);
    assert_true(d == -2.25);
    assert_string_equal(s, "k");
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "\0\1\2", 3);
    assert_int_equal(n, 1);
    assert_true(t);
    prpc_arena_destroy(a);
    prpc_enc_free(&enc);
}

#define T(f) cmocka_unit_test_teardown(f, tu_check_leaks)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_enc_nil_bool),
        T(test_enc_uint_smallest_form),
        T(test_enc_int_smallest_form),
        T(test_enc_floats),
        T(test_enc_str_header_forms),
        T(test_enc_bin_header_forms),
        T(test_enc_array_map_headers),
        T(test_enc_str_rejects_bad_utf8_and_nul),
        T(test_enc_sticky_error),
        T(test_enc_max_size_at_and_past_limit),
        T(test_enc_growth_is_amortised),
        T(test_enc_out_of_memory),
        T(test_enc_any),
        T(test_enc_round_trip_through_decoder),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
