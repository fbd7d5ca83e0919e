/* The catalogue of malformed messages: each gets its exact status from
 * prpc_msg_parse and from the streaming reader, allocates nothing big and
 * leaks nothing. Also every valid message truncated at every offset, and
 * nesting from the depth limit up to 10,000. */
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

/* What the streaming reader does with the same bytes: it only frames, so an
 * envelope error still yields a message, and input that might continue makes
 * it wait. */
#define R_MSG 1  /* yields one message of the whole input (or its first value) */
#define R_WAIT 2 /* yields nothing and waits for more */

struct bad {
    const char *name;
    const char *hex;
    prpc_status parse; /* prpc_msg_parse */
    int reader;        /* R_MSG, R_WAIT or the status prpc_reader_feed/next report */
};

/* A request is [0, 1, "m", params]: 94 00 01 a1 6d <params>. */
#define REQ "94 00 01 a1 6d "
static const struct bad catalogue[] = {
    /* the envelope itself */
    {"empty input", "", PRPC_ERR_PROTOCOL, R_WAIT},
    {"nil, not an array", "c0", PRPC_ERR_PROTOCOL, R_MSG},
    {"int, not an array", "05", PRPC_ERR_PROTOCOL, R_MSG},
    {"map, not an array", "81 00 01", PRPC_ERR_PROTOCOL, R_MSG},
    {"empty array", "90", PRPC_ERR_PROTOCOL, R_MSG},
    {"array of one", "91 00", PRPC_ERR_PROTOCOL, R_MSG},
    {"request of five", "95 00 01 a1 6d 90 c0", PRPC_ERR_PROTOCOL, R_MSG},
    {"request of three", "93 00 01 a1 6d", PRPC_ERR_PROTOCOL, R_MSG},
    {"notify of four", "94 02 a1 6d 90 c0", PRPC_ERR_PROTOCOL, R_MSG},
    {"response of three", "93 01 01 c0", PRPC_ERR_PROTOCOL, R_MSG},
    {"response of five", "95 01 01 c0 c0 c0", PRPC_ERR_PROTOCOL, R_MSG},
    /* the type field */
    {"type 3", "94 03 01 a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"type -1", "94 ff 01 a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"type as str", "94 a1 30 01 a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"type as float", "94 ca 00 00 00 00 01 a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"type nil", "94 c0 01 a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"type 2^32", "94 cf 00 00 00 01 00 00 00 00 01 a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"type true", "94 c3 01 a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    /* msgid */
    {"msgid -1", "94 00 ff a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"msgid INT64_MIN", "94 00 d3 80 00 00 00 00 00 00 00 a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"msgid 2^32", "94 00 cf 00 00 00 01 00 00 00 00 a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"msgid UINT64_MAX", "94 00 cf ff ff ff ff ff ff ff ff a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"msgid float", "94 00 cb 3f f0 00 00 00 00 00 00 a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"msgid str", "94 00 a1 31 a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"msgid nil", "94 00 c0 a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"msgid array", "94 00 90 a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"response msgid -128", "94 01 d0 80 c0 c0", PRPC_ERR_PROTOCOL, R_MSG},
    {"response msgid str", "94 01 a0 c0 c0", PRPC_ERR_PROTOCOL, R_MSG},
    {"response msgid 2^32", "94 01 cf 00 00 00 01 00 00 00 00 c0 c0", PRPC_ERR_PROTOCOL, R_MSG},
    /* method */
    {"method int", "94 00 01 05 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"method bin", "94 00 01 c4 01 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"method nil", "94 00 01 c0 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"method array", "94 00 01 91 a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"notify method int", "93 02 07 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"notify method map", "93 02 80 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"method bad continuation", "94 00 01 a2 c3 28 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"method overlong", "94 00 01 a2 c0 80 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"method surrogate", "94 00 01 a3 ed a0 80 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"method above U+10FFFF", "94 00 01 a4 f4 90 80 80 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"method truncated sequence", "94 00 01 a2 e2 82 90", PRPC_ERR_PROTOCOL, R_MSG},
    {"method embedded NUL", "94 00 01 a3 61 00 62 90", PRPC_ERR_PROTOCOL, R_MSG},
    /* params */
    {"params map", REQ "80", PRPC_ERR_PROTOCOL, R_MSG},
    {"params nil", REQ "c0", PRPC_ERR_PROTOCOL, R_MSG},
    {"params str", REQ "a0", PRPC_ERR_PROTOCOL, R_MSG},
    {"params int", REQ "01", PRPC_ERR_PROTOCOL, R_MSG},
    {"params bin", REQ "c4 00", PRPC_ERR_PROTOCOL, R_MSG},
    {"notify params map", "93 02 a1 6d 80", PRPC_ERR_PROTOCOL, R_MSG},
    {"notify params nil", "93 02 a1 6d c0", PRPC_ERR_PROTOCOL, R_MSG},
    /* trailing bytes */
    {"trailing nil", REQ "90 c0", PRPC_ERR_PROTOCOL, R_MSG},
    {"two messages", "93 02 a1 6d 90 93 02 a1 6d 90", PRPC_ERR_PROTOCOL, R_MSG},
    /* the reserved byte */
    {"0xc1 alone", "c1", PRPC_ERR_PROTOCOL, PRPC_ERR_PROTOCOL},
    {"0xc1 as msgid", "94 00 c1 a1 6d 90", PRPC_ERR_PROTOCOL, PRPC_ERR_PROTOCOL},
    {"0xc1 in params", REQ "91 c1", PRPC_ERR_PROTOCOL, PRPC_ERR_PROTOCOL},
    {"0xc1 as result", "94 01 01 c0 c1", PRPC_ERR_PROTOCOL, PRPC_ERR_PROTOCOL},
    {"0xc1 as map key", REQ "91 81 c1 01", PRPC_ERR_PROTOCOL, PRPC_ERR_PROTOCOL},
    /* lengths larger than the data, for every length form */
    {"fixstr longer than data", REQ "91 a5 61 62", PRPC_ERR_PROTOCOL, R_WAIT},
    {"str8 longer than data", REQ "91 d9 05 61 62", PRPC_ERR_PROTOCOL, R_WAIT},
    {"str16 longer than data", REQ "91 da 01 00 61", PRPC_ERR_PROTOCOL, R_WAIT},
    {"str32 longer than data", REQ "91 db 00 01 00 00 61", PRPC_ERR_PROTOCOL, R_WAIT},
    {"bin8 longer than data", REQ "91 c4 05 01", PRPC_ERR_PROTOCOL, R_WAIT},
    {"bin16 longer than data", REQ "91 c5 01 00 01", PRPC_ERR_PROTOCOL, R_WAIT},
    {"bin32 longer than data", REQ "91 c6 00 01 00 00 01", PRPC_ERR_PROTOCOL, R_WAIT},
    {"fixarray longer than data", REQ "9f 01", PRPC_ERR_PROTOCOL, R_WAIT},
    {"array16 longer than data", REQ "91 dc 01 00 01", PRPC_ERR_PROTOCOL, R_WAIT},
    {"array32 longer than data", REQ "91 dd 00 01 00 00 01", PRPC_ERR_PROTOCOL, R_WAIT},
    {"fixmap longer than data", REQ "91 8f 01 01", PRPC_ERR_PROTOCOL, R_WAIT},
    {"map16 longer than data", REQ "91 de 01 00 01 01", PRPC_ERR_PROTOCOL, R_WAIT},
    {"map32 longer than data", REQ "91 df 00 01 00 00 01 01", PRPC_ERR_PROTOCOL, R_WAIT},
    {"fixext16 longer than data", REQ "91 d8 01 00 00", PRPC_ERR_PROTOCOL, R_WAIT},
    {"ext8 longer than data", REQ "91 c7 05 01 00", PRPC_ERR_PROTOCOL, R_WAIT},
    {"ext16 longer than data", REQ "91 c8 01 00 01 00", PRPC_ERR_PROTOCOL, R_WAIT},
    {"ext32 longer than data", REQ "91 c9 00 01 00 00 01 00", PRPC_ERR_PROTOCOL, R_WAIT},
    {"map with a key and no value", REQ "91 81 01", PRPC_ERR_PROTOCOL, R_WAIT},
    /* allocation bombs: the data cannot hold them (parse) and the size
     * limit cannot either (stream) */
    {"array32 bomb", "dd ff ff ff ff", PRPC_ERR_PROTOCOL, PRPC_ERR_TOO_LARGE},
    {"map32 bomb", "df ff ff ff ff", PRPC_ERR_PROTOCOL, PRPC_ERR_TOO_LARGE},
    {"str32 bomb", "db ff ff ff ff", PRPC_ERR_PROTOCOL, PRPC_ERR_TOO_LARGE},
    {"bin32 bomb", "c6 ff ff ff ff", PRPC_ERR_PROTOCOL, PRPC_ERR_TOO_LARGE},
    {"ext32 bomb", "c9 ff ff ff ff 01", PRPC_ERR_PROTOCOL, PRPC_ERR_TOO_LARGE},
    {"bomb in params", REQ "91 dd ff ff ff ff", PRPC_ERR_PROTOCOL, PRPC_ERR_TOO_LARGE},
    {"nested array16 bombs", "dc ff ff dc ff ff dc ff ff", PRPC_ERR_PROTOCOL, R_WAIT},
    /* truncated headers */
    {"truncated uint16 msgid", "94 00 cd 01", PRPC_ERR_PROTOCOL, R_WAIT},
    {"truncated str8 header", "94 00 01 d9", PRPC_ERR_PROTOCOL, R_WAIT},
    {"truncated float64", "94 01 01 c0 cb 3f f0", PRPC_ERR_PROTOCOL, R_WAIT},
    {"truncated array32 header", "dd 00 00", PRPC_ERR_PROTOCOL, R_WAIT},
};

static void check_reader(const struct bad *b, const uint8_t *data, size_t n)
{
    prpc_reader *r = prpc_reader_create(NULL);
    assert_non_null(r);
    tu_alloc_reset_stats();
    prpc_status st = prpc_reader_feed(r, data, n);
    const uint8_t *m = NULL;
    size_t len = 0;
    if (st == PRPC_OK)
        st = prpc_reader_next(r, &m, &len);
    switch (b->reader) {
    case R_MSG:
        if (st != PRPC_OK || m == NULL)
            fail_msg("%s: reader gave status %d, no message", b->name, st);
        break;
    case R_WAIT:
        if (st != PRPC_OK || m != NULL)
            fail_msg("%s: reader gave status %d, message %p", b->name, st, (const void *)m);
        assert_int_equal(prpc_reader_pending(r), n);
        break;
    default:
        if (st != b->reader)
            fail_msg("%s: reader gave status %d, want %d", b->name, st, b->reader);
        break;
    }
    /* nothing big: the 4 KiB first buffer at most */
    if (tu_alloc_max_request() > 8192)
        fail_msg("%s: reader asked for %zu bytes", b->name, tu_alloc_max_request());
    prpc_reader_destroy(r);
}

static void test_malformed_catalogue(void **state)
{
    (void)state;
    size_t count = sizeof catalogue / sizeof catalogue[0];
    assert_true(count >= 40);
    for (size_t i = 0; i < count; i++) {
        const struct bad *b = &catalogue[i];
        uint8_t data[64];
        size_t n = tu_hex(b->hex, data, sizeof data);
        prpc_msg msg;
        tu_alloc_reset_stats();
        prpc_status st = prpc_msg_parse(data, n, NULL, &msg);
        if (st != b->parse)
            fail_msg("%s: prpc_msg_parse gave %d (%s), want %d", b->name, st,
                     prpc_status_name(st), b->parse);
        /* parsing allocates nothing at all */
        assert_int_equal(tu_alloc_calls(), 0);
        /* a failed parse leaves no dangling pointers */
        assert_null(msg.method);
        assert_null(msg.params.data);
        check_reader(b, data, n);
        /* and a heap copy of exactly n bytes, so ASan sees any overread */
        uint8_t *exact = malloc(n ? n : 1);
        memcpy(exact, data, n);
        assert_int_equal(prpc_msg_parse(exact, n, NULL, &msg), b->parse);
        free(exact);
    }
    printf("%zu malformed messages checked\n", count);
}

/* The 5-byte bomb through every entry point, under the counting allocator. */
static void test_malformed_bomb_allocates_nothing_big(void **state)
{
    (void)state;
    uint8_t bomb[] = {0xdd, 0xff, 0x00, 0x00, 0x00};
    size_t vlen;
    tu_alloc_reset_stats();
    assert_int_equal(prpc_msgpack_validate(bomb, sizeof bomb, NULL, &vlen), PRPC_ERR_PROTOCOL);
    prpc_msg msg;
    assert_int_equal(prpc_msg_parse(bomb, sizeof bomb, NULL, &msg), PRPC_ERR_PROTOCOL);
    assert_int_equal(tu_alloc_calls(), 0);

    prpc_arena *a = prpc_arena_create(0);
    tu_alloc_reset_stats();
    prpc_decoder dec;
    prpc_dec_init(&dec, bomb, sizeof bomb, a);
    uint32_t n = 7;
    prpc_dec_array(&dec, &n);
    assert_int_equal(dec.status, PRPC_ERR_PROTOCOL);
    assert_int_equal(n, 0);
    prpc_any any;
    prpc_dec_init(&dec, bomb, sizeof bomb, a);
    prpc_dec_any(&dec, &any);
    assert_int_equal(dec.status, PRPC_ERR_PROTOCOL);
    prpc_dec_init(&dec, bomb, sizeof bomb, a);
    prpc_dec_skip(&dec);
    assert_int_equal(dec.status, PRPC_ERR_PROTOCOL);
    assert_int_equal(tu_alloc_calls(), 0);
    prpc_remote_error err;
    assert_int_equal(prpc_remote_error_decode((prpc_any){bomb, sizeof bomb}, a, &err), PRPC_OK);
    assert_true(tu_alloc_max_request() <= 4096);
    prpc_arena_destroy(a);

    prpc_reader *r = prpc_reader_create(NULL);
    tu_alloc_reset_stats();
    assert_int_equal(prpc_reader_feed(r, bomb, sizeof bomb), PRPC_ERR_TOO_LARGE);
    assert_true(tu_alloc_max_request() <= 8192);
    prpc_reader_destroy(r);
}

/* Valid messages used for the truncation sweep. */
static size_t valid_messages(uint8_t **out, size_t *lens, size_t max)
{
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    size_t n = 0;
#define TAKE()                                                                                   \
    do {                                                                                         \
        assert_int_equal(prpc_enc_status(&enc), PRPC_OK);                                        \
        assert_true(n < max);                                                                    \
        out[n] = malloc(enc.len);                                                                \
        memcpy(out[n], enc.data, enc.len);                                                       \
        lens[n++] = enc.len;                                                                     \
        prpc_enc_reset(&enc);                                                                    \
    } while (0)
    prpc_enc_request(&enc, 1, "rpc.ping", 8, 0);
    TAKE();
    prpc_enc_request(&enc, UINT32_MAX, "kv.Store.put", 12, 3);
    prpc_enc_cstr(&enc, "key");
    prpc_enc_bin(&enc, "\x00\x01\x02", 3);
    prpc_enc_array(&enc, 3); /* a struct */
    prpc_enc_int(&enc, -100000);
    prpc_enc_nil(&enc);      /* an absent optional */
    prpc_enc_f64(&enc, 0.5);
    TAKE();
    prpc_enc_notify(&enc, "log.Sink.line", 13, 2);
    prpc_enc_uint(&enc, 3);
    prpc_enc_map(&enc, 2);
    prpc_enc_cstr(&enc, "a");
    prpc_enc_bool(&enc, true);
    prpc_enc_cstr(&enc, "b");
    prpc_enc_array(&enc, 2); /* a union: [tag, value] */
    prpc_enc_uint(&enc, 1);
    prpc_enc_cstr(&enc, "h\xc3\xa9");
    TAKE();
    prpc_enc_response_ok(&enc, 70000);
    prpc_enc_array(&enc, 3); /* [ret, out1, out2] */
    prpc_enc_uint(&enc, UINT64_MAX);
    prpc_enc_int(&enc, INT64_MIN);
    prpc_enc_f32(&enc, 2.5f);
    TAKE();
    prpc_enc_response_error(&enc, 3, PRPC_ERR_BAD_ARGS, "argument 1: expected u8");
    TAKE();
    char big[300];
    memset(big, 'x', sizeof big);
    prpc_enc_request(&enc, 2, "m", 1, 2);
    prpc_enc_str(&enc, big, sizeof big);
    prpc_enc_bin(&enc, big, 70);
    TAKE();
    prpc_enc_free(&enc);
#undef TAKE
    return n;
}

static void test_malformed_every_truncation(void **state)
{
    (void)state;
    uint8_t *msgs[16];
    size_t lens[16];
    size_t count = valid_messages(msgs, lens, 16);
    size_t checked = 0;
    for (size_t i = 0; i < count; i++) {
        prpc_msg msg;
        assert_int_equal(prpc_msg_parse(msgs[i], lens[i], NULL, &msg), PRPC_OK);
        for (size_t cut = 0; cut < lens[i]; cut++) {
            /* an exact-size copy, so any read past the cut is caught */
            uint8_t *p = malloc(cut ? cut : 1);
            memcpy(p, msgs[i], cut);
            tu_alloc_reset_stats();
            prpc_status st = prpc_msg_parse(p, cut, NULL, &msg);
            if (st != PRPC_ERR_PROTOCOL)
                fail_msg("message %zu cut at %zu: %d", i, cut, st);
            size_t vlen;
            assert_int_equal(prpc_msgpack_validate(p, cut, NULL, &vlen), PRPC_ERR_PROTOCOL);
            assert_int_equal(tu_alloc_calls(), 0);
            /* the reader waits for the rest */
            prpc_reader *r = prpc_reader_create(NULL);
            assert_int_equal(prpc_reader_feed(r, p, cut), PRPC_OK);
            const uint8_t *m;
            size_t len;
            assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
            assert_null(m);
            assert_int_equal(prpc_reader_pending(r), cut);
            /* and completes the message when it comes */
            assert_int_equal(prpc_reader_feed(r, msgs[i] + cut, lens[i] - cut), PRPC_OK);
            assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
            assert_int_equal(len, lens[i]);
            assert_memory_equal(m, msgs[i], len);
            prpc_reader_destroy(r);
            free(p);
            checked++;
        }
        free(msgs[i]);
    }
    printf("%zu truncations checked\n", checked);
}

/* [0, 1, "m", [[[...]]]]: the envelope is depth 1, params depth 2. */
static uint8_t *deep_request(size_t inner, size_t *len)
{
    uint8_t *b = malloc(6 + inner + 1);
    memcpy(b, "\x94\x00\x01\xa1\x6d\x91", 6);
    memset(b + 6, 0x91, inner);
    b[6 + inner] = 0x01;
    *len = 6 + inner + 1;
    return b;
}

static void test_malformed_nesting_limit_to_10000(void **state)
{
    (void)state;
    size_t len;
    prpc_msg msg;
    /* exactly at the default limit: envelope + params + 30 = 32 */
    uint8_t *b = deep_request(PRPC_DEFAULT_MAX_DEPTH - 2, &len);
    assert_int_equal(prpc_msg_parse(b, len, NULL, &msg), PRPC_OK);
    free(b);
    for (size_t inner = PRPC_DEFAULT_MAX_DEPTH - 1; inner <= 10000;
         inner += inner < 300 ? 1 : 97) {
        b = deep_request(inner, &len);
        tu_alloc_reset_stats();
        assert_int_equal(prpc_msg_parse(b, len, NULL, &msg), PRPC_ERR_TOO_DEEP);
        assert_int_equal(tu_alloc_calls(), 0);
        prpc_reader *r = prpc_reader_create(NULL);
        assert_int_equal(prpc_reader_feed(r, b, len), PRPC_ERR_TOO_DEEP);
        prpc_reader_destroy(r);
        free(b);
    }
    b = deep_request(10000 - 6, &len);
    assert_int_equal(prpc_msg_parse(b, len, NULL, &msg), PRPC_ERR_TOO_DEEP);
    free(b);
    /* a custom limit, at and one past */
    prpc_limits l = {0, 10};
    b = deep_request(8, &len);
    assert_int_equal(prpc_msg_parse(b, len, &l, &msg), PRPC_OK);
    free(b);
    b = deep_request(9, &len);
    assert_int_equal(prpc_msg_parse(b, len, &l, &msg), PRPC_ERR_TOO_DEEP);
    free(b);
    /* the largest configurable limit */
    l.max_depth = 100000;
    b = deep_request(PRPC_MAX_DEPTH_CAP - 2, &len);
    assert_int_equal(prpc_msg_parse(b, len, &l, &msg), PRPC_OK);
    free(b);
    b = deep_request(PRPC_MAX_DEPTH_CAP - 1, &len);
    assert_int_equal(prpc_msg_parse(b, len, &l, &msg), PRPC_ERR_TOO_DEEP);
    free(b);
}

static void test_malformed_message_size_limit(void **state)
{
    (void)state;
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    char s[200];
    memset(s, 'y', sizeof s);
    prpc_enc_request(&enc, 1, "m", 1, 1);
    prpc_enc_str(&enc, s, sizeof s);
    prpc_limits at = {enc.len, 0}, under = {enc.len - 1, 0};
    prpc_msg msg;
    assert_int_equal(prpc_msg_parse(enc.data, enc.len, &at, &msg), PRPC_OK);
    assert_int_equal(prpc_msg_parse(enc.data, enc.len, &under, &msg), PRPC_ERR_TOO_LARGE);
    prpc_reader *r = prpc_reader_create(&under);
    assert_int_equal(prpc_reader_feed(r, enc.data, enc.len), PRPC_ERR_TOO_LARGE);
    prpc_reader_destroy(r);
    prpc_enc_free(&enc);
}

/* Errors in argument values are the decoder's: BAD_ARGS, not PROTOCOL. */
static void test_malformed_arguments_are_bad_args(void **state)
{
    (void)state;
    static const struct {
        const char *params;
        int kind; /* 0 str, 1 u8, 2 i8, 3 bool, 4 array of exactly 2 */
    } cases[] = {
        {"91 a2 c0 80", 0},    {"91 a3 ed a0 80", 0}, {"91 a4 f4 90 80 80", 0},
        {"91 a2 e2 82", 0},    {"91 a1 ff", 0},       {"91 a3 61 00 62", 0},
        {"91 c4 02 c3 28", 0}, {"91 05", 0},          {"91 cd 01 2c", 1},
        {"91 ff", 1},          {"91 cc 80", 2},       {"91 d1 ff 7f", 2},
        {"91 01", 3},          {"91 93 01 02 03", 4}, {"91 a1 61", 1},
    };
    prpc_arena *a = prpc_arena_create(0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t data[32];
        size_t n = tu_hex(REQ, data, sizeof data);
        n += tu_hex(cases[i].params, data + n, sizeof data - n);
        prpc_msg msg;
        assert_int_equal(prpc_msg_parse(data, n, NULL, &msg), PRPC_OK);
        prpc_decoder dec;
        prpc_dec_init(&dec, msg.params.data, msg.params.len, a);
        prpc_dec_array_exact(&dec, 1);
        const char *s;
        uint8_t u;
        int8_t i8;
        bool bo;
        switch (cases[i].kind) {
        case 0: prpc_dec_str(&dec, &s, NULL); break;
        case 1: prpc_dec_u8(&dec, &u); break;
        case 2: prpc_dec_i8(&dec, &i8); break;
        case 3: prpc_dec_bool(&dec, &bo); break;
        default: prpc_dec_array_exact(&dec, 2); break;
        }
        if (dec.status != PRPC_ERR_BAD_ARGS)
            fail_msg("argument case %zu: %d", i, dec.status);
    }
    prpc_arena_destroy(a);
}

#define T(f) cmocka_unit_test_teardown(f, tu_check_leaks)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_malformed_catalogue),
        T(test_malformed_bomb_allocates_nothing_big),
        T(test_malformed_every_truncation),
        T(test_malformed_nesting_limit_to_10000),
        T(test_malformed_message_size_limit),
        T(test_malformed_arguments_are_bad_args),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
