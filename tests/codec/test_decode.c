/* The decoder's typed readers at their boundaries, prpc_msgpack_validate's
 * limits, and prpc_limits_resolve. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "piperpc/alloc.h"
#include "piperpc/codec.h"
#include "testutil.h"

static prpc_arena *g_arena;

static int arena_setup(void **state)
{
    (void)state;
    g_arena = prpc_arena_create(0);
    return g_arena ? 0 : -1;
}

static int arena_teardown(void **state)
{
    prpc_arena_destroy(g_arena);
    g_arena = NULL;
    return tu_check_leaks(state);
}

/* ------------------------------------------------------------ integers */

enum width { I8, I16, I32, I64, U8, U16, U32, U64, NWIDTH };
static const char *const width_name[] = {"i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"};

/* Reads one integer of width w from b[0..n); returns the status and the
 * value widened (signed readers in *s, unsigned in *u). Also checks that a
 * failed read consumed nothing and zeroed its output. */
static prpc_status read_width(const uint8_t *b, size_t n, enum width w, int64_t *s, uint64_t *u,
                              prpc_status type_err)
{
    prpc_decoder dec;
    prpc_dec_init(&dec, b, n, g_arena);
    dec.type_err = type_err;
    *s = 0;
    *u = 0;
    switch (w) {
    case I8: { int8_t v = 1; prpc_dec_i8(&dec, &v); *s = v; break; }
    case I16: { int16_t v = 1; prpc_dec_i16(&dec, &v); *s = v; break; }
    case I32: { int32_t v = 1; prpc_dec_i32(&dec, &v); *s = v; break; }
    case I64: { int64_t v = 1; prpc_dec_i64(&dec, &v); *s = v; break; }
    case U8: { uint8_t v = 1; prpc_dec_u8(&dec, &v); *u = v; break; }
    case U16: { uint16_t v = 1; prpc_dec_u16(&dec, &v); *u = v; break; }
    case U32: { uint32_t v = 1; prpc_dec_u32(&dec, &v); *u = v; break; }
    default: { uint64_t v = 1; prpc_dec_u64(&dec, &v); *u = v; break; }
    }
    prpc_status st = prpc_dec_status(&dec);
    if (st != PRPC_OK) {
        assert_true(*s == 0 && *u == 0);
        /* nothing more is read after the error */
        prpc_type t = prpc_dec_peek(&dec);
        assert_int_equal(t, PRPC_TYPE_NONE);
    } else {
        assert_int_equal(prpc_dec_remaining(&dec), 0);
    }
    return st;
}

static const int64_t smin[] = {INT8_MIN, INT16_MIN, INT32_MIN, INT64_MIN};
static const int64_t smax[] = {INT8_MAX, INT16_MAX, INT32_MAX, INT64_MAX};
static const uint64_t umax[] = {UINT8_MAX, UINT16_MAX, UINT32_MAX, UINT64_MAX};

static void expect_signed(enum width w, int64_t v, bool ok)
{
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_int(&enc, v);
    int64_t s;
    uint64_t u;
    prpc_status st = read_width(enc.data, enc.len, w, &s, &u, PRPC_ERR_BAD_ARGS);
    if (ok != (st == PRPC_OK))
        fail_msg("%s reading %lld: status %d", width_name[w], (long long)v, st);
    if (ok) {
        if (w <= I64)
            assert_true(s == v);
        else
            assert_true(u == (uint64_t)v);
    } else {
        assert_int_equal(st, PRPC_ERR_BAD_ARGS);
    }
    prpc_enc_free(&enc);
}

static void expect_unsigned(enum width w, uint64_t v, bool ok)
{
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_uint(&enc, v);
    int64_t s;
    uint64_t u;
    prpc_status st = read_width(enc.data, enc.len, w, &s, &u, PRPC_ERR_BAD_ARGS);
    if (ok != (st == PRPC_OK))
        fail_msg("%s reading %llu: status %d", width_name[w], (unsigned long long)v, st);
    if (ok) {
        if (w <= I64)
            assert_true(s == (int64_t)v);
        else
            assert_true(u == v);
    } else {
        assert_int_equal(st, PRPC_ERR_BAD_ARGS);
    }
    prpc_enc_free(&enc);
}

static void test_dec_int_widths_at_and_past_limits(void **state)
{
    (void)state;
    for (int k = 0; k < 4; k++) {
        enum width sw = (enum width)(I8 + k), uw = (enum width)(U8 + k);
        expect_signed(sw, 0, true);
        expect_signed(sw, smin[k], true);
        expect_signed(sw, smax[k], true);
        expect_unsigned(uw, 0, true);
        expect_unsigned(uw, umax[k], true);
        expect_signed(uw, -1, false);
        expect_signed(uw, INT64_MIN, false);
        if (k < 3) {
            expect_signed(sw, smin[k] - 1, false);
            expect_signed(sw, smax[k] + 1, false);
            expect_unsigned(uw, umax[k] + 1, false);
        } else {
            /* INT64_MIN - 1 has no msgpack form; INT64_MAX + 1 does. */
            expect_unsigned(sw, (uint64_t)INT64_MAX + 1, false);
            expect_unsigned(sw, UINT64_MAX, false);
        }
        /* Every wider reader takes the narrower extremes. */
        for (int j = k; j < 4; j++) {
            expect_signed((enum width)(I8 + j), smin[k], true);
            expect_unsigned((enum width)(U8 + j), umax[k], true);
            expect_signed((enum width)(I8 + j), smax[k], true);
        }
    }
}

static void test_dec_u8_receiving_300_is_bad_args(void **state)
{
    (void)state;
    uint8_t b[] = {0xcd, 0x01, 0x2c}; /* 300 */
    prpc_decoder dec;
    prpc_dec_init(&dec, b, sizeof b, g_arena);
    uint8_t v = 7;
    prpc_dec_u8(&dec, &v);
    assert_int_equal(prpc_dec_status(&dec), PRPC_ERR_BAD_ARGS);
    assert_int_equal(v, 0);
    /* the type error is configurable */
    int64_t s;
    uint64_t u;
    assert_int_equal(read_width(b, sizeof b, U8, &s, &u, PRPC_ERR_PROTOCOL), PRPC_ERR_PROTOCOL);
    assert_int_equal(read_width(b, sizeof b, U16, &s, &u, PRPC_ERR_PROTOCOL), PRPC_OK);
    assert_true(u == 300);
}

static void test_dec_int_every_wire_form(void **state)
{
    (void)state;
    static const char *const five[] = {
        "05", "cc 05", "cd 00 05", "ce 00 00 00 05", "cf 00 00 00 00 00 00 00 05",
        "d0 05", "d1 00 05", "d2 00 00 00 05", "d3 00 00 00 00 00 00 00 05",
    };
    static const char *const minus_five[] = {
        "fb", "d0 fb", "d1 ff fb", "d2 ff ff ff fb", "d3 ff ff ff ff ff ff ff fb",
    };
    uint8_t b[16];
    int64_t s;
    uint64_t u;
    for (size_t i = 0; i < sizeof five / sizeof five[0]; i++) {
        size_t n = tu_hex(five[i], b, sizeof b);
        for (int w = 0; w < NWIDTH; w++) {
            assert_int_equal(read_width(b, n, (enum width)w, &s, &u, PRPC_ERR_BAD_ARGS), PRPC_OK);
            assert_true(w <= I64 ? s == 5 : u == 5);
        }
    }
    for (size_t i = 0; i < sizeof minus_five / sizeof minus_five[0]; i++) {
        size_t n = tu_hex(minus_five[i], b, sizeof b);
        for (int w = 0; w < NWIDTH; w++) {
            prpc_status st = read_width(b, n, (enum width)w, &s, &u, PRPC_ERR_BAD_ARGS);
            if (w <= I64) {
                assert_int_equal(st, PRPC_OK);
                assert_true(s == -5);
            } else {
                assert_int_equal(st, PRPC_ERR_BAD_ARGS);
            }
        }
    }
}

static void test_dec_int_wrong_types_and_truncation(void **state)
{
    (void)state;
    static const char *const not_int[] = {
        "c0", "c2", "c3", "ca 3f 80 00 00", "cb 3f f0 00 00 00 00 00 00", "a1 35", "c4 01 05",
        "90", "80", "d4 01 05",
    };
    static const char *const truncated[] = {
        "", "cc", "cd 01", "ce 00 00 01", "cf 00 00 00 00 00 00 01", "d0", "d1 ff",
        "d2 ff ff ff", "d3 ff ff ff ff ff ff ff",
    };
    uint8_t b[16];
    int64_t s;
    uint64_t u;
    for (int w = 0; w < NWIDTH; w++) {
        for (size_t i = 0; i < sizeof not_int / sizeof not_int[0]; i++) {
            size_t n = tu_hex(not_int[i], b, sizeof b);
            assert_int_equal(read_width(b, n, (enum width)w, &s, &u, PRPC_ERR_BAD_ARGS),
                             PRPC_ERR_BAD_ARGS);
        }
        for (size_t i = 0; i < sizeof truncated / sizeof truncated[0]; i++) {
            size_t n = tu_hex(truncated[i], b, sizeof b);
            assert_int_equal(read_width(b, n, (enum width)w, &s, &u, PRPC_ERR_BAD_ARGS),
                             PRPC_ERR_PROTOCOL);
        }
        /* the reserved byte is malformed input, not a wrong type */
        b[0] = 0xc1;
        assert_int_equal(read_width(b, 1, (enum width)w, &s, &u, PRPC_ERR_BAD_ARGS),
                         PRPC_ERR_PROTOCOL);
    }
}

/* -------------------------------------------------------------- floats */

static prpc_status read_f64(const char *hex, double *out)
{
    uint8_t b[16];
    size_t n = tu_hex(hex, b, sizeof b);
    prpc_decoder dec;
    prpc_dec_init(&dec, b, n, g_arena);
    prpc_dec_f64(&dec, out);
    if (dec.status == PRPC_OK)
        assert_int_equal(prpc_dec_remaining(&dec), 0);
    return dec.status;
}

static prpc_status read_f32(const char *hex, float *out)
{
    uint8_t b[16];
    size_t n = tu_hex(hex, b, sizeof b);
    prpc_decoder dec;
    prpc_dec_init(&dec, b, n, g_arena);
    prpc_dec_f32(&dec, out);
    if (dec.status == PRPC_OK)
        assert_int_equal(prpc_dec_remaining(&dec), 0);
    return dec.status;
}

static void test_dec_floats(void **state)
{
    (void)state;
    double d;
    float f;
    assert_int_equal(read_f64("cb 3f f8 00 00 00 00 00 00", &d), PRPC_OK);
    assert_true(d == 1.5);
    assert_int_equal(read_f64("ca 3f c0 00 00", &d), PRPC_OK);
    assert_true(d == 1.5);
    assert_int_equal(read_f64("cb 7f f8 00 00 00 00 00 00", &d), PRPC_OK);
    assert_true(isnan(d));
    assert_int_equal(read_f64("cb 7f f0 00 00 00 00 00 00", &d), PRPC_OK);
    assert_true(isinf(d) && d > 0);
    assert_int_equal(read_f64("cb ff f0 00 00 00 00 00 00", &d), PRPC_OK);
    assert_true(isinf(d) && d < 0);
    /* integers are accepted for floats */
    assert_int_equal(read_f64("07", &d), PRPC_OK);
    assert_true(d == 7.0);
    assert_int_equal(read_f64("d3 80 00 00 00 00 00 00 00", &d), PRPC_OK);
    assert_true(d == (double)INT64_MIN);
    assert_int_equal(read_f64("cf ff ff ff ff ff ff ff ff", &d), PRPC_OK);
    assert_true(d == (double)UINT64_MAX);
    assert_int_equal(read_f64("a1 31", &d), PRPC_ERR_BAD_ARGS);
    assert_true(d == 0);
    assert_int_equal(read_f64("c0", &d), PRPC_ERR_BAD_ARGS);
    assert_int_equal(read_f64("cb 3f f8 00", &d), PRPC_ERR_PROTOCOL);
    assert_int_equal(read_f64("ca 3f", &d), PRPC_ERR_PROTOCOL);

    assert_int_equal(read_f32("ca 3f c0 00 00", &f), PRPC_OK);
    assert_true(f == 1.5f);
    assert_int_equal(read_f32("cb 3f f8 00 00 00 00 00 00", &f), PRPC_OK);
    assert_true(f == 1.5f);
    assert_int_equal(read_f32("ca 7f c0 00 00", &f), PRPC_OK);
    assert_true(isnan(f));
    assert_int_equal(read_f32("cb 7f f8 00 00 00 00 00 00", &f), PRPC_OK);
    assert_true(isnan(f));
    assert_int_equal(read_f32("cb ff f0 00 00 00 00 00 00", &f), PRPC_OK);
    assert_true(isinf(f) && f < 0);
    assert_int_equal(read_f32("d0 9c", &f), PRPC_OK); /* -100 */
    assert_true(f == -100.0f);
    /* a double beyond float's range is a range error */
    assert_int_equal(read_f32("cb 7e 37 e4 3c 88 00 75 9c", &f), PRPC_ERR_BAD_ARGS); /* 1e300 */
    assert_true(f == 0);
    assert_int_equal(read_f32("cb fe 37 e4 3c 88 00 75 9c", &f), PRPC_ERR_BAD_ARGS);
    /* FLT_MAX itself, as a double, fits */
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_f64(&enc, (double)FLT_MAX);
    prpc_decoder dec;
    prpc_dec_init(&dec, enc.data, enc.len, g_arena);
    prpc_dec_f32(&dec, &f);
    assert_int_equal(dec.status, PRPC_OK);
    assert_true(f == FLT_MAX);
    prpc_enc_free(&enc);
    assert_int_equal(read_f32("c3", &f), PRPC_ERR_BAD_ARGS);
}

/* -------------------------------------------------------------- strings */

static prpc_status read_str(const uint8_t *b, size_t n, const char **s, size_t *len)
{
    prpc_decoder dec;
    prpc_dec_init(&dec, b, n, g_arena);
    prpc_dec_str(&dec, s, len);
    if (dec.status == PRPC_OK) {
        assert_int_equal(prpc_dec_remaining(&dec), 0);
        assert_non_null(*s);
        assert_int_equal((*s)[*len], '\0');
        /* copied into the arena, not pointing into the input */
        assert_true(*s < (const char *)b || *s >= (const char *)b + n);
    } else {
        assert_null(*s);
        assert_int_equal(*len, 0);
        assert_ptr_equal(dec.pos, b);
    }
    return dec.status;
}

/* Wraps raw bytes in a str (lead 0xd9 or fixstr) or bin header. */
static size_t wrap(uint8_t *out, const void *raw, size_t n, bool bin)
{
    size_t h;
    if (bin) {
        out[0] = 0xc4;
        out[1] = (uint8_t)n;
        h = 2;
    } else if (n < 32) {
        out[0] = (uint8_t)(0xa0 | n);
        h = 1;
    } else {
        out[0] = 0xd9;
        out[1] = (uint8_t)n;
        h = 2;
    }
    memcpy(out + h, raw, n);
    return h + n;
}

static void test_dec_str_valid_utf8(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "",
        "hello",
        "h\xc3\xa9llo",                                  /* U+00E9 */
        "\xc2\x80",                                      /* U+0080, smallest 2-byte */
        "\xdf\xbf",                                      /* U+07FF */
        "\xe0\xa0\x80",                                  /* U+0800, smallest 3-byte */
        "\xed\x9f\xbf",                                  /* U+D7FF, just below surrogates */
        "\xee\x80\x80",                                  /* U+E000, just above */
        "\xef\xbf\xbf",                                  /* U+FFFF */
        "\xf0\x90\x80\x80",                              /* U+10000 */
        "\xf4\x8f\xbf\xbf",                              /* U+10FFFF, the last */
        "abcdefgh\xf0\x9f\x98\x80ijklmnopqrstuvwxyz0123", /* multibyte inside the fast path */
    };
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t len = strlen(ok[i]);
        for (int bin = 0; bin < 2; bin++) {
            size_t n = wrap(buf, ok[i], len, bin);
            const char *s;
            size_t slen;
            assert_int_equal(read_str(buf, n, &s, &slen), PRPC_OK);
            assert_int_equal(slen, len);
            assert_string_equal(s, ok[i]);
        }
    }
}

static void test_dec_str_rejects_bad_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
    } bad[] = {
        {"\xc0\x80", 2},             /* overlong NUL */
        {"\xc1\xbf", 2},             /* overlong 2-byte */
        {"\xe0\x9f\xbf", 3},         /* overlong 3-byte */
        {"\xf0\x8f\xbf\xbf", 4},     /* overlong 4-byte */
        {"\xed\xa0\x80", 3},         /* U+D800 */
        {"\xed\xbf\xbf", 3},         /* U+DFFF */
        {"\xf4\x90\x80\x80", 4},     /* U+110000 */
        {"\xf5\x80\x80\x80", 4},
        {"\xf8\x88\x80\x80\x80", 5}, /* old 5-byte form */
        {"\xfe", 1},
        {"\xff", 1},
        {"\x80", 1},                 /* stray continuation */
        {"a\xbf", 2},
        {"\xc3", 1},                 /* truncated */
        {"\xe2\x82", 2},
        {"\xf0\x9f\x98", 3},
        {"\xc3\x28", 2},             /* bad continuation */
        {"\xe2\x28\xa1", 3},
        {"\xf0\x9f\x28\x80", 4},
        {"a\0b", 3},                 /* embedded NUL */
        {"\0", 1},
        {"abcdefghijklmno\0", 16},   /* NUL found by the word-at-a-time path */
        {"abcdefgh\xff" "bcdefgh", 16},
    };
    uint8_t buf[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int bin = 0; bin < 2; bin++) {
            size_t n = wrap(buf, bad[i].s, bad[i].n, bin);
            const char *s;
            size_t slen;
            if (read_str(buf, n, &s, &slen) != PRPC_ERR_BAD_ARGS)
                fail_msg("bad string %zu (bin %d) accepted", i, bin);
        }
    }
}

static char g_logged[256];

static void capture_log(void *user, prpc_log_level level, const char *message)
{
    (void)user;
    (void)level;
    snprintf(g_logged, sizeof g_logged, "%s", message);
}

static void test_dec_str_header_forms_and_limits(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 31, 32, 255, 256, 65535, 65536, (size_t)1 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t len = sizes[k];
        char *raw = malloc(len + 1);
        for (size_t i = 0; i < len; i++)
            raw[i] = (char)('a' + i % 26);
        prpc_encoder enc;
        prpc_enc_init(&enc, 0);
        prpc_enc_str(&enc, raw, len);
        const char *s;
        size_t slen;
        assert_int_equal(read_str(enc.data, enc.len, &s, &slen), PRPC_OK);
        assert_int_equal(slen, len);
        assert_memory_equal(s, raw, len);
        /* one byte short of the declared length */
        if (len > 0)
            assert_int_equal(read_str(enc.data, enc.len - 1, &s, &slen), PRPC_ERR_PROTOCOL);
        prpc_enc_free(&enc);
        free(raw);
    }
    /* no arena: a caller's bug, refused and logged */
    uint8_t b[] = {0xa1, 'x'};
    prpc_decoder dec;
    const char *s;
    g_logged[0] = '\0';
    prpc_set_log(capture_log, NULL, PRPC_LOG_ERROR);
    prpc_dec_init(&dec, b, sizeof b, NULL);
    prpc_dec_str(&dec, &s, NULL);
    prpc_set_log(NULL, NULL, PRPC_LOG_ERROR);
    assert_int_equal(dec.status, PRPC_ERR_INVALID_ARG);
    assert_non_null(strstr(g_logged, "no arena"));
    uint8_t i[] = {0x01};
    size_t slen;
    assert_int_equal(read_str(i, 1, &s, &slen), PRPC_ERR_BAD_ARGS);
}

static void test_dec_bytes(void **state)
{
    (void)state;
    uint8_t b[16];
    prpc_bytes out;
    prpc_decoder dec;
    size_t n = tu_hex("c4 03 00 ff 01 a2 68 69 c4 00 c5 00 01 07", b, sizeof b);
    prpc_dec_init(&dec, b, n, g_arena);
    prpc_dec_bytes(&dec, &out);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.data, "\0\xff\1", 3);
    prpc_dec_bytes(&dec, &out); /* a str is accepted */
    assert_int_equal(out.len, 2);
    assert_memory_equal(out.data, "hi", 2);
    prpc_dec_bytes(&dec, &out);
    assert_int_equal(out.len, 0);
    assert_non_null(out.data);
    prpc_dec_bytes(&dec, &out);
    assert_int_equal(out.len, 1);
    assert_int_equal(out.data[0], 7);
    assert_int_equal(dec.status, PRPC_OK);
    assert_int_equal(prpc_dec_remaining(&dec), 0);

    n = tu_hex("01", b, sizeof b);
    prpc_dec_init(&dec, b, n, g_arena);
    prpc_dec_bytes(&dec, &out);
    assert_int_equal(dec.status, PRPC_ERR_BAD_ARGS);
    assert_null(out.data);
    n = tu_hex("c6 00 00 00 05 01 02", b, sizeof b);
    prpc_dec_init(&dec, b, n, g_arena);
    prpc_dec_bytes(&dec, &out);
    assert_int_equal(dec.status, PRPC_ERR_PROTOCOL);
}

/* ------------------------------------------------- containers and others */

static void test_dec_arrays_and_maps(void **state)
{
    (void)state;
    uint8_t b[32];
    uint32_t count;
    prpc_decoder dec;
    struct {
        const char *hex;
        bool map;
        prpc_status st;
        uint32_t count;
    } cases[] = {
        {"90", false, PRPC_OK, 0},
        {"92 01 02", false, PRPC_OK, 2},
        {"dc 00 02 01 02", false, PRPC_OK, 2},
        {"dd 00 00 00 02 01 02", false, PRPC_OK, 2},
        {"80", true, PRPC_OK, 0},
        {"81 01 02", true, PRPC_OK, 1},
        {"de 00 01 01 02", true, PRPC_OK, 1},
        {"df 00 00 00 01 01 02", true, PRPC_OK, 1},
        {"93 01 02", false, PRPC_ERR_PROTOCOL, 0},       /* more elements than bytes */
        {"dd ff ff ff ff", false, PRPC_ERR_PROTOCOL, 0}, /* the allocation bomb */
        {"82 01 02 03", true, PRPC_ERR_PROTOCOL, 0},     /* 4 values, 3 bytes */
        {"df ff ff ff ff", true, PRPC_ERR_PROTOCOL, 0},
        {"dc 00", false, PRPC_ERR_PROTOCOL, 0},          /* truncated header */
        {"81 01 02", false, PRPC_ERR_BAD_ARGS, 0},       /* map for array */
        {"92 01 02", true, PRPC_ERR_BAD_ARGS, 0},
        {"c0", false, PRPC_ERR_BAD_ARGS, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = tu_hex(cases[i].hex, b, sizeof b);
        prpc_dec_init(&dec, b, n, g_arena);
        count = 99;
        if (cases[i].map)
            prpc_dec_map(&dec, &count);
        else
            prpc_dec_array(&dec, &count);
        if (dec.status != cases[i].st)
            fail_msg("case %zu (%s): status %d", i, cases[i].hex, dec.status);
        assert_int_equal(count, cases[i].count);
    }
    /* exact arrays */
    size_t n = tu_hex("92 01 02", b, sizeof b);
    prpc_dec_init(&dec, b, n, g_arena);
    prpc_dec_array_exact(&dec, 2);
    assert_int_equal(dec.status, PRPC_OK);
    prpc_dec_init(&dec, b, n, g_arena);
    prpc_dec_array_exact(&dec, 3);
    assert_int_equal(dec.status, PRPC_ERR_BAD_ARGS);
    assert_ptr_equal(dec.pos, b);
}

static void test_dec_alloc_array(void **state)
{
    (void)state;
    uint8_t b[] = {0x93, 1, 2, 3};
    prpc_decoder dec;
    prpc_dec_init(&dec, b, sizeof b, g_arena);
    uint32_t n;
    prpc_dec_array(&dec, &n);
    uint64_t *v = prpc_dec_alloc_array(&dec, n, sizeof *v, 8);
    assert_non_null(v);
    assert_int_equal((uintptr_t)v % 8, 0);
    for (uint32_t i = 0; i < n; i++) {
        assert_true(v[i] == 0);
        prpc_dec_u64(&dec, &v[i]);
    }
    assert_true(v[0] == 1 && v[2] == 3);
    assert_null(prpc_dec_alloc_array(&dec, 0, 8, 8));
    assert_int_equal(dec.status, PRPC_OK);
    /* count x size overflows size_t */
    tu_alloc_reset_stats();
    assert_null(prpc_dec_alloc_array(&dec, UINT32_MAX, SIZE_MAX / 2, 8));
    assert_int_equal(dec.status, PRPC_ERR_TOO_LARGE);
    assert_int_equal(tu_alloc_calls(), 0);
    /* sticky: nothing after the error */
    assert_null(prpc_dec_alloc_array(&dec, 1, 1, 1));

    prpc_dec_init(&dec, b, sizeof b, NULL);
    assert_null(prpc_dec_alloc_array(&dec, 1, 8, 8));
    assert_int_equal(dec.status, PRPC_ERR_INVALID_ARG);
    prpc_dec_init(&dec, b, sizeof b, g_arena);
    assert_null(prpc_dec_alloc_array(&dec, 1, 8, 3));
    assert_int_equal(dec.status, PRPC_ERR_INVALID_ARG);
}

static void test_dec_nil_bool_try_nil(void **state)
{
    (void)state;
    uint8_t b[8];
    size_t n = tu_hex("c0 c3 c2 c0 01", b, sizeof b);
    prpc_decoder dec;
    prpc_dec_init(&dec, b, n, g_arena);
    bool v = false;
    prpc_dec_nil(&dec);
    prpc_dec_bool(&dec, &v);
    assert_true(v);
    assert_false(prpc_dec_try_nil(&dec));
    prpc_dec_bool(&dec, &v);
    assert_false(v);
    assert_true(prpc_dec_try_nil(&dec));
    assert_false(prpc_dec_try_nil(&dec));
    prpc_dec_bool(&dec, &v);
    assert_int_equal(dec.status, PRPC_ERR_BAD_ARGS);
    assert_false(prpc_dec_try_nil(&dec));

    prpc_dec_init(&dec, b + 4, 1, g_arena);
    prpc_dec_nil(&dec);
    assert_int_equal(dec.status, PRPC_ERR_BAD_ARGS);
    prpc_dec_init(&dec, NULL, 0, g_arena);
    assert_false(prpc_dec_try_nil(&dec));
    prpc_dec_nil(&dec);
    assert_int_equal(dec.status, PRPC_ERR_PROTOCOL);
    prpc_dec_init(&dec, NULL, 5, g_arena);
    assert_int_equal(dec.status, PRPC_ERR_INVALID_ARG);
}

static void test_dec_peek_every_lead_byte(void **state)
{
    (void)state;
    for (int lead = 0; lead < 256; lead++) {
        uint8_t b[9] = {(uint8_t)lead};
        prpc_decoder dec;
        prpc_dec_init(&dec, b, sizeof b, g_arena);
        prpc_type t = prpc_dec_peek(&dec);
        prpc_type want;
        if (lead <= 0x7f || (lead >= 0xcc && lead <= 0xcf))
            want = PRPC_TYPE_UINT;
        else if (lead <= 0x8f || lead == 0xde || lead == 0xdf)
            want = PRPC_TYPE_MAP;
        else if (lead <= 0x9f || lead == 0xdc || lead == 0xdd)
            want = PRPC_TYPE_ARRAY;
        else if (lead <= 0xbf || (lead >= 0xd9 && lead <= 0xdb))
            want = PRPC_TYPE_STR;
        else if (lead == 0xc0)
            want = PRPC_TYPE_NIL;
        else if (lead == 0xc1)
            want = PRPC_TYPE_NONE;
        else if (lead == 0xc2 || lead == 0xc3)
            want = PRPC_TYPE_BOOL;
        else if (lead >= 0xc4 && lead <= 0xc6)
            want = PRPC_TYPE_BIN;
        else if (lead == 0xca || lead == 0xcb)
            want = PRPC_TYPE_FLOAT;
        else if (lead >= 0xd0 && lead <= 0xd3)
            want = PRPC_TYPE_UINT; /* signed forms holding 0 */
        else if (lead >= 0xe0)
            want = PRPC_TYPE_INT;
        else
            want = PRPC_TYPE_EXT;
        if (t != want)
            fail_msg("lead 0x%02x: %d, want %d", lead, t, want);
    }
    uint8_t neg[] = {0xd1, 0xff, 0x00};
    prpc_decoder dec;
    prpc_dec_init(&dec, neg, sizeof neg, g_arena);
    assert_int_equal(prpc_dec_peek(&dec), PRPC_TYPE_INT);
    prpc_dec_init(&dec, neg, 0, g_arena);
    assert_int_equal(prpc_dec_peek(&dec), PRPC_TYPE_NONE);
    prpc_dec_init(&dec, neg, sizeof neg, g_arena);
    prpc_dec_fail(&dec, PRPC_ERR_CANCELLED);
    assert_int_equal(prpc_dec_peek(&dec), PRPC_TYPE_NONE);
    prpc_dec_fail(&dec, PRPC_ERR_PROTOCOL);
    assert_int_equal(dec.status, PRPC_ERR_CANCELLED);
}

static void test_dec_any_and_skip(void **state)
{
    (void)state;
    uint8_t b[64];
    size_t n = tu_hex("93 82 a1 61 c0 01 92 c3 c2 d4 01 07 c0 c7 02 05 aa bb ca 00 00 00 00 2a", b,
                      sizeof b);
    prpc_decoder dec;
    prpc_dec_init(&dec, b, n, g_arena);
    prpc_any any;
    prpc_dec_any(&dec, &any);
    assert_int_equal(dec.status, PRPC_OK);
    assert_int_equal(any.len, n - 11);
    assert_memory_equal(any.data, b, any.len);
    assert_true(any.data < b || any.data >= b + n);
    prpc_dec_skip(&dec); /* ext 8 */
    prpc_dec_skip(&dec); /* float */
    uint8_t v;
    prpc_dec_u8(&dec, &v);
    assert_int_equal(v, 42);
    assert_int_equal(dec.status, PRPC_OK);
    assert_int_equal(prpc_dec_remaining(&dec), 0);
    prpc_dec_skip(&dec);
    assert_int_equal(dec.status, PRPC_ERR_PROTOCOL);

    static const char *const bad[] = {"c1", "92 01", "a5 61", "c7 05 01 00", "dd ff ff ff ff",
                                      "81 01", "91 c1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = tu_hex(bad[i], b, sizeof b);
        prpc_dec_init(&dec, b, n, g_arena);
        prpc_dec_any(&dec, &any);
        assert_int_equal(dec.status, PRPC_ERR_PROTOCOL);
        assert_null(any.data);
        assert_int_equal(any.len, 0);
        prpc_dec_init(&dec, b, n, g_arena);
        prpc_dec_skip(&dec);
        assert_int_equal(dec.status, PRPC_ERR_PROTOCOL);
        assert_ptr_equal(dec.pos, b);
    }
}

static void test_dec_skip_deep_nesting_without_recursion(void **state)
{
    (void)state;
    /* skip and any are not limited in depth (validation is) and must not
     * recurse: 100,000 nested arrays. */
    const size_t depth = 100000;
    uint8_t *b = malloc(depth + 1);
    memset(b, 0x91, depth);
    b[depth] = 0x00;
    prpc_decoder dec;
    prpc_dec_init(&dec, b, depth + 1, g_arena);
    prpc_dec_skip(&dec);
    assert_int_equal(dec.status, PRPC_OK);
    assert_int_equal(prpc_dec_remaining(&dec), 0);
    prpc_dec_init(&dec, b, depth, g_arena);
    prpc_dec_skip(&dec);
    assert_int_equal(dec.status, PRPC_ERR_PROTOCOL);
    free(b);
}

/* ---------------------------------------------------------- validation */

static uint8_t *nested(size_t depth, size_t *len)
{
    uint8_t *b = malloc(depth + 1);
    memset(b, 0x91, depth);
    b[depth] = 0xc0;
    *len = depth + 1;
    return b;
}

static void test_validate_depth_at_and_past_limit(void **state)
{
    (void)state;
    const uint32_t limits[] = {1, 5, PRPC_DEFAULT_MAX_DEPTH, PRPC_MAX_DEPTH_CAP};
    for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
        prpc_limits l = {0, limits[k]};
        size_t len, vlen;
        uint8_t *b = nested(limits[k], &len);
        assert_int_equal(prpc_msgpack_validate(b, len, &l, &vlen), PRPC_OK);
        assert_int_equal(vlen, len);
        free(b);
        b = nested(limits[k] + 1, &len);
        assert_int_equal(prpc_msgpack_validate(b, len, &l, &vlen), PRPC_ERR_TOO_DEEP);
        /* an empty container one level too deep counts too */
        b[limits[k]] = 0x90;
        assert_int_equal(prpc_msgpack_validate(b, len, &l, &vlen), PRPC_ERR_TOO_DEEP);
        b[limits[k]] = 0x80;
        assert_int_equal(prpc_msgpack_validate(b, len, &l, &vlen), PRPC_ERR_TOO_DEEP);
        free(b);
    }
    /* maps nest too: {0: {0: nil}} at depth 2 */
    uint8_t m[] = {0x81, 0x00, 0x81, 0x00, 0xc0};
    prpc_limits two = {0, 2}, one = {0, 1};
    size_t vlen;
    assert_int_equal(prpc_msgpack_validate(m, sizeof m, &two, &vlen), PRPC_OK);
    assert_int_equal(prpc_msgpack_validate(m, sizeof m, &one, &vlen), PRPC_ERR_TOO_DEEP);
    /* a scalar at the top level has depth 0 */
    uint8_t s[] = {0x01};
    assert_int_equal(prpc_msgpack_validate(s, 1, &one, &vlen), PRPC_OK);
}

static void test_validate_size_at_and_past_limit(void **state)
{
    (void)state;
    /* a 100-byte value: str 8 header (2) + 98 bytes */
    uint8_t b[100];
    memset(b, 'a', sizeof b);
    b[0] = 0xd9;
    b[1] = 98;
    size_t vlen;
    prpc_limits at = {100, 0}, under = {99, 0};
    assert_int_equal(prpc_msgpack_validate(b, sizeof b, &at, &vlen), PRPC_OK);
    assert_int_equal(vlen, 100);
    assert_int_equal(prpc_msgpack_validate(b, sizeof b, &under, &vlen), PRPC_ERR_TOO_LARGE);
    /* an array whose elements push it past the limit */
    uint8_t a[10] = {0x99, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    prpc_limits nine = {9, 0}, ten = {10, 0};
    assert_int_equal(prpc_msgpack_validate(a, sizeof a, &ten, &vlen), PRPC_OK);
    assert_int_equal(prpc_msgpack_validate(a, sizeof a, &nine, &vlen), PRPC_ERR_TOO_LARGE);
    /* trailing bytes are not part of the value */
    uint8_t t[] = {0x92, 1, 2, 0xc1, 0xc1};
    assert_int_equal(prpc_msgpack_validate(t, sizeof t, NULL, &vlen), PRPC_OK);
    assert_int_equal(vlen, 3);
    assert_int_equal(prpc_msgpack_validate(NULL, 0, NULL, &vlen), PRPC_ERR_PROTOCOL);
    assert_int_equal(prpc_msgpack_validate(NULL, 1, NULL, &vlen), PRPC_ERR_INVALID_ARG);
}

/* Input longer than the size limit takes the resumable scanner instead of
 * the whole-buffer loop; the answers must be the same kind. */
static void test_validate_input_longer_than_limit(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        uint32_t max_depth;
        prpc_status st;
        size_t vlen;
    } cases[] = {
        {"92 01 02 c0 c0 c0 c0 c0", 0, PRPC_OK, 3},               /* fits, trailing bytes */
        {"c0 c1 c1 c1 c1 c1 c1 c1", 0, PRPC_OK, 1},
        {"95 01 02 03 04 05 c0 c0", 0, PRPC_ERR_TOO_LARGE, 0},    /* 6 bytes > 4 */
        {"d9 05 61 62 63 64 65 c0", 0, PRPC_ERR_TOO_LARGE, 0},
        {"92 c1 01 c0 c0 c0 c0 c0", 0, PRPC_ERR_PROTOCOL, 0},
        {"91 91 91 01 c0 c0 c0 c0", 2, PRPC_ERR_TOO_DEEP, 0},
        {"dd ff ff ff ff 00 00 00", 0, PRPC_ERR_PROTOCOL, 0},     /* larger than the data */
        {"c6 00 00 00 09 00 00 00", 0, PRPC_ERR_PROTOCOL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t b[16];
        size_t n = tu_hex(cases[i].hex, b, sizeof b);
        prpc_limits l = {4, cases[i].max_depth};
        size_t vlen = 99;
        prpc_status st = prpc_msgpack_validate(b, n, &l, &vlen);
        if (st != cases[i].st)
            fail_msg("case %zu (%s): %d", i, cases[i].hex, st);
        assert_int_equal(vlen, cases[i].vlen);
    }
}

static void test_limits_resolve(void **state)
{
    (void)state;
    prpc_limits l = prpc_limits_resolve(NULL);
    assert_int_equal(l.max_message_size, PRPC_DEFAULT_MAX_MESSAGE_SIZE);
    assert_int_equal(l.max_depth, PRPC_DEFAULT_MAX_DEPTH);
    prpc_limits in = {123, 1000};
    l = prpc_limits_resolve(&in);
    assert_int_equal(l.max_message_size, 123);
    assert_int_equal(l.max_depth, PRPC_MAX_DEPTH_CAP);
    in = (prpc_limits){0, 7};
    l = prpc_limits_resolve(&in);
    assert_int_equal(l.max_message_size, PRPC_DEFAULT_MAX_MESSAGE_SIZE);
    assert_int_equal(l.max_depth, 7);
}

#define T(f) cmocka_unit_test_setup_teardown(f, arena_setup, arena_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_dec_int_widths_at_and_past_limits),
        T(test_dec_u8_receiving_300_is_bad_args),
        T(test_dec_int_every_wire_form),
        T(test_dec_int_wrong_types_and_truncation),
        T(test_dec_floats),
        T(test_dec_str_valid_utf8),
        T(test_dec_str_rejects_bad_utf8),
        T(test_dec_str_header_forms_and_limits),
        T(test_dec_bytes),
        T(test_dec_arrays_and_maps),
        T(test_dec_alloc_array),
        T(test_dec_nil_bool_try_nil),
        T(test_dec_peek_every_lead_byte),
        T(test_dec_any_and_skip),
        T(test_dec_skip_deep_nesting_without_recursion),
        T(test_validate_depth_at_and_past_limit),
        T(test_validate_size_at_and_past_limit),
        T(test_validate_input_longer_than_limit),
        T(test_limits_resolve),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
