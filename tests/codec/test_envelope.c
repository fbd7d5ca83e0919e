/* msgpack-rpc envelopes: writing and parsing requests, responses and
 * notifications, and decoding error objects from any peer. */
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

static void expect_encoded(prpc_encoder *enc, const char *hex)
{
    uint8_t want[128];
    size_t n = tu_hex(hex, want, sizeof want);
    assert_int_equal(prpc_enc_status(enc), PRPC_OK);
    assert_int_equal(enc->len, n);
    assert_memory_equal(enc->data, want, n);
}

static void test_envelope_request_round_trip(void **state)
{
    (void)state;
    const uint32_t ids[] = {0, 1, 127, 128, 65536, UINT32_MAX};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        prpc_encoder enc;
        prpc_enc_init(&enc, 0);
        prpc_enc_request(&enc, ids[i], "kv.Store.get", 12, 2);
        prpc_enc_cstr(&enc, "key");
        prpc_enc_int(&enc, -7);
        assert_int_equal(prpc_enc_status(&enc), PRPC_OK);
        prpc_msg msg;
        assert_int_equal(prpc_msg_parse(enc.data, enc.len, NULL, &msg), PRPC_OK);
        assert_int_equal(msg.type, PRPC_MSG_REQUEST);
        assert_int_equal(msg.msgid, ids[i]);
        assert_int_equal(msg.method_len, 12);
        assert_memory_equal(msg.method, "kv.Store.get", 12);
        /* raw members point into the message */
        assert_true(msg.params.data > enc.data && msg.params.data < enc.data + enc.len);
        assert_ptr_equal(msg.params.data + msg.params.len, enc.data + enc.len);

        prpc_decoder dec;
        prpc_dec_init(&dec, msg.params.data, msg.params.len, g_arena);
        const char *key;
        int32_t v;
        prpc_dec_array_exact(&dec, 2);
        prpc_dec_str(&dec, &key, NULL);
        prpc_dec_i32(&dec, &v);
        assert_int_equal(dec.status, PRPC_OK);
        assert_string_equal(key, "key");
        assert_int_equal(v, -7);
        prpc_enc_free(&enc);
    }
}

static void test_envelope_exact_bytes(void **state)
{
    (void)state;
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_request(&enc, 5, "rpc.ping", 8, 0);
    expect_encoded(&enc, "94 00 05 a8 72 70 63 2e 70 69 6e 67 90");
    prpc_enc_reset(&enc);
    prpc_enc_notify(&enc, "ev", 2, 1);
    prpc_enc_bool(&enc, true);
    expect_encoded(&enc, "93 02 a2 65 76 91 c3");
    prpc_enc_reset(&enc);
    prpc_enc_response_ok(&enc, 300);
    prpc_enc_nil(&enc);
    expect_encoded(&enc, "94 01 cd 01 2c c0 c0");
    prpc_enc_reset(&enc);
    prpc_enc_response_error(&enc, 9, PRPC_ERR_UNKNOWN_METHOD, "no");
    expect_encoded(&enc, "94 01 09 92 f8 a2 6e 6f c0");
    prpc_enc_reset(&enc);
    prpc_enc_response_error(&enc, 9, 3, NULL);
    expect_encoded(&enc, "94 01 09 92 03 a0 c0");
    prpc_enc_reset(&enc);
    /* a bad method name stops the encoder */
    prpc_enc_request(&enc, 1, "a\0b", 3, 0);
    assert_int_equal(prpc_enc_status(&enc), PRPC_ERR_INVALID_ARG);
    prpc_enc_free(&enc);
}

static void test_envelope_error_message_is_always_sendable(void **state)
{
    (void)state;
    /* A handler's message with invalid UTF-8 still makes a valid reply:
     * each bad byte becomes '?', so the length is unchanged. */
    const size_t sizes[] = {5, 31, 32, 255, 256, 65535, 65536, 70001};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        char *text = malloc(n + 1);
        char *want = malloc(n + 1);
        for (size_t i = 0; i < n; i++) {
            text[i] = want[i] = (char)('a' + i % 26);
        }
        /* a stray continuation, a truncated sequence at the end, and a
         * valid 2-byte sequence kept as it is */
        text[1] = (char)0x80;
        want[1] = '?';
        text[2] = (char)0xc3;
        text[3] = (char)0xa9;
        want[2] = (char)0xc3;
        want[3] = (char)0xa9;
        text[n - 1] = (char)0xe2;
        want[n - 1] = '?';
        text[n] = want[n] = '\0';
        prpc_encoder enc;
        prpc_enc_init(&enc, 0);
        prpc_enc_response_error(&enc, 4, 17, text);
        assert_int_equal(prpc_enc_status(&enc), PRPC_OK);
        prpc_msg msg;
        assert_int_equal(prpc_msg_parse(enc.data, enc.len, NULL, &msg), PRPC_OK);
        prpc_decoder dec;
        prpc_dec_init(&dec, msg.error.data, msg.error.len, g_arena);
        int64_t code;
        const char *got;
        size_t got_len;
        prpc_dec_array_exact(&dec, 2);
        prpc_dec_i64(&dec, &code);
        prpc_dec_str(&dec, &got, &got_len);
        assert_int_equal(dec.status, PRPC_OK);
        assert_int_equal(code, 17);
        assert_int_equal(got_len, n);
        assert_string_equal(got, want);
        prpc_enc_free(&enc);
        free(text);
        free(want);
    }
}

static void test_envelope_response_and_notify_parse(void **state)
{
    (void)state;
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_response_ok(&enc, 77);
    prpc_enc_array(&enc, 2);
    prpc_enc_uint(&enc, 1);
    prpc_enc_cstr(&enc, "out");
    prpc_msg msg;
    assert_int_equal(prpc_msg_parse(enc.data, enc.len, NULL, &msg), PRPC_OK);
    assert_int_equal(msg.type, PRPC_MSG_RESPONSE);
    assert_int_equal(msg.msgid, 77);
    assert_int_equal(msg.error.len, 1);
    assert_int_equal(msg.error.data[0], 0xc0);
    assert_int_equal(msg.result.len, 1 + 1 + 4);
    assert_null(msg.method);

    prpc_enc_reset(&enc);
    prpc_enc_notify(&enc, "log.line", 8, 0);
    assert_int_equal(prpc_msg_parse(enc.data, enc.len, NULL, &msg), PRPC_OK);
    assert_int_equal(msg.type, PRPC_MSG_NOTIFY);
    assert_int_equal(msg.method_len, 8);
    assert_int_equal(msg.params.len, 1);
    assert_int_equal(msg.msgid, 0);

    prpc_enc_reset(&enc);
    prpc_enc_response_error(&enc, 12, 5, "app failed");
    assert_int_equal(prpc_msg_parse(enc.data, enc.len, NULL, &msg), PRPC_OK);
    prpc_remote_error err;
    assert_int_equal(prpc_remote_error_decode(msg.error, g_arena, &err), PRPC_OK);
    assert_int_equal(err.code, 5);
    assert_string_equal(err.message, "app failed");
    assert_int_equal(prpc_remote_error_status(&err), PRPC_ERR_REMOTE);
    prpc_enc_free(&enc);
}

static void test_envelope_msgid_range(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        prpc_status st;
    } cases[] = {
        {"94 00 ce ff ff ff ff a1 6d 90", PRPC_OK},                  /* 2^32 - 1 */
        {"94 00 d0 05 a1 6d 90", PRPC_OK},                           /* signed form, positive */
        {"94 00 cf 00 00 00 01 00 00 00 00 a1 6d 90", PRPC_ERR_PROTOCOL}, /* 2^32 */
        {"94 00 ff a1 6d 90", PRPC_ERR_PROTOCOL},                    /* -1 */
        {"94 00 d3 80 00 00 00 00 00 00 00 a1 6d 90", PRPC_ERR_PROTOCOL},
        {"94 00 ca 3f 80 00 00 a1 6d 90", PRPC_ERR_PROTOCOL},        /* 1.0f */
        {"94 00 a1 31 a1 6d 90", PRPC_ERR_PROTOCOL},                 /* "1" */
        {"94 00 c0 a1 6d 90", PRPC_ERR_PROTOCOL},                    /* nil */
        {"94 01 cf 00 00 00 01 00 00 00 00 c0 c0", PRPC_ERR_PROTOCOL}, /* response too */
        {"94 01 ff c0 c0", PRPC_ERR_PROTOCOL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t b[32];
        size_t n = tu_hex(cases[i].hex, b, sizeof b);
        prpc_msg msg;
        prpc_status st = prpc_msg_parse(b, n, NULL, &msg);
        if (st != cases[i].st)
            fail_msg("case %zu (%s): status %d", i, cases[i].hex, st);
        if (st == PRPC_OK)
            assert_true(msg.msgid == UINT32_MAX || msg.msgid == 5);
    }
}

/* ------------------------------------------------------ remote errors */

static prpc_remote_error decode_error(const char *hex)
{
    uint8_t b[256];
    size_t n = tu_hex(hex, b, sizeof b);
    prpc_remote_error err;
    assert_int_equal(prpc_remote_error_decode((prpc_any){b, n}, g_arena, &err), PRPC_OK);
    assert_non_null(err.message);
    return err;
}

static void test_remote_error_shapes(void **state)
{
    (void)state;
    prpc_remote_error e;
    /* piperpc's own shape */
    e = decode_error("92 f3 a7 74 69 6d 65 6f 75 74"); /* [-13, "timeout"] */
    assert_int_equal(e.code, -13);
    assert_string_equal(e.message, "timeout");
    e = decode_error("92 fd a1 78"); /* [-3, "x"] */
    assert_int_equal(prpc_remote_error_status(&e), PRPC_ERR_TIMEOUT);
    /* extra elements are ignored */
    e = decode_error("93 07 a2 68 69 c0");
    assert_int_equal(e.code, 7);
    assert_string_equal(e.message, "hi");
    /* [code] and a bare code */
    e = decode_error("91 fb");
    assert_int_equal(e.code, -5);
    assert_string_equal(e.message, "protocol error");
    assert_int_equal(prpc_remote_error_status(&e), PRPC_ERR_PROTOCOL);
    e = decode_error("2a");
    assert_int_equal(e.code, 42);
    assert_string_equal(e.message, "remote error 42");
    assert_int_equal(prpc_remote_error_status(&e), PRPC_ERR_REMOTE);
    /* a bare string (Neovim, many Python servers) */
    e = decode_error("a4 6f 6f 70 73");
    assert_int_equal(e.code, PRPC_ERR_REMOTE);
    assert_string_equal(e.message, "oops");
    /* a map is rendered as text */
    e = decode_error("82 a4 63 6f 64 65 05 a3 6d 73 67 a1 78");
    assert_int_equal(e.code, PRPC_ERR_REMOTE);
    assert_string_equal(e.message, "{\"code\": 5, \"msg\": \"x\"}");
    /* [code, non-string] keeps the code and renders the rest */
    e = decode_error("92 09 92 01 c3");
    assert_int_equal(e.code, 9);
    assert_string_equal(e.message, "[1, true]");
    /* [string, ...] is rendered whole */
    e = decode_error("92 a1 61 a1 62");
    assert_int_equal(e.code, PRPC_ERR_REMOTE);
    assert_string_equal(e.message, "[\"a\", \"b\"]");
    /* odd scalars */
    e = decode_error("c0");
    assert_string_equal(e.message, "nil");
    e = decode_error("c2");
    assert_string_equal(e.message, "false");
    e = decode_error("cb 3f f8 00 00 00 00 00 00");
    assert_string_equal(e.message, "1.5");
    e = decode_error("c4 03 01 02 03");
    assert_string_equal(e.message, "<3 bytes>");
    e = decode_error("d6 ff 00 00 00 01");
    assert_string_equal(e.message, "<ext 6 bytes>");
    /* a code that does not fit int64 is not a code */
    e = decode_error("cf ff ff ff ff ff ff ff ff");
    assert_int_equal(e.code, PRPC_ERR_REMOTE);
    assert_string_equal(e.message, "18446744073709551615");
    /* an unknown negative code passes through but maps to REMOTE */
    e = decode_error("92 d1 fc 18 a1 78"); /* -1000 */
    assert_int_equal(e.code, -1000);
    assert_int_equal(prpc_remote_error_status(&e), PRPC_ERR_REMOTE);
    /* framework range edges */
    e = decode_error("91 eb"); /* -21 */
    assert_int_equal(prpc_remote_error_status(&e), PRPC_ERR_WOULD_BLOCK);
    e = decode_error("91 ea"); /* -22 */
    assert_int_equal(prpc_remote_error_status(&e), PRPC_ERR_REMOTE);
    e = decode_error("91 00");
    assert_int_equal(prpc_remote_error_status(&e), PRPC_ERR_REMOTE);
    assert_int_equal(prpc_remote_error_status(NULL), PRPC_ERR_REMOTE);
}

static void test_remote_error_hostile_text(void **state)
{
    (void)state;
    prpc_remote_error e;
    /* invalid UTF-8, NUL and control characters are escaped */
    e = decode_error("92 01 a5 61 00 ff 0a 5c");
    assert_int_equal(e.code, 1);
    assert_string_equal(e.message, "a\\x00\\xff\\x0a\\\\");
    e = decode_error("a4 c3 a9 e2 82");
    assert_string_equal(e.message, "\xc3\xa9\\xe2\\x82");
    /* malformed input is reported, not trusted */
    e = decode_error("92 01");
    assert_string_equal(e.message, "<malformed>");
    e = decode_error("92 01 a5 61");
    assert_int_equal(e.code, 1);
    assert_string_equal(e.message, "<malformed>");
    e = decode_error("93 a1 61 92 01 c1 02");
    assert_string_equal(e.message, "[\"a\", [1, <malformed>");
    e = decode_error("c1");
    assert_string_equal(e.message, "<malformed>");
    e = decode_error("");
    assert_string_equal(e.message, "<malformed>");
    e = decode_error("db ff ff ff ff 61");
    assert_string_equal(e.message, "<malformed>");
    e = decode_error("dd ff ff ff ff 01");
    assert_string_equal(e.message, "<malformed>");
    /* deep nesting is cut */
    e = decode_error("91 91 91 91 91 91 91 91 91 91 91 91 01");
    assert_string_equal(e.message, "[[[[[[[[...]]]]]]]]");

    /* a very long message is cut to a bounded length */
    size_t big = 100000;
    uint8_t *b = malloc(big + 5);
    b[0] = 0xdb;
    b[1] = 0;
    b[2] = (uint8_t)(big >> 16);
    b[3] = (uint8_t)(big >> 8);
    b[4] = (uint8_t)big;
    memset(b + 5, 'z', big);
    prpc_remote_error err;
    assert_int_equal(prpc_remote_error_decode((prpc_any){b, big + 5}, g_arena, &err), PRPC_OK);
    size_t len = strlen(err.message);
    assert_true(len > 100 && len < 1024);
    assert_string_equal(err.message + len - 3, "...");
    free(b);
    /* a huge map is cut too */
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_map(&enc, 10000);
    for (int i = 0; i < 10000; i++) {
        prpc_enc_int(&enc, i);
        prpc_enc_cstr(&enc, "value");
    }
    assert_int_equal(prpc_remote_error_decode((prpc_any){enc.data, enc.len}, g_arena, &err),
                     PRPC_OK);
    assert_true(strlen(err.message) < 1024);
    prpc_enc_free(&enc);

    assert_int_equal(prpc_remote_error_decode((prpc_any){NULL, 0}, g_arena, &err), PRPC_OK);
    assert_string_equal(err.message, "<malformed>");
    assert_int_equal(prpc_remote_error_decode((prpc_any){NULL, 0}, NULL, &err), PRPC_ERR_INVALID_ARG);
}

static void test_remote_error_out_of_memory(void **state)
{
    (void)state;
    prpc_arena *a = prpc_arena_create(64);
    /* fill the first chunk so the message needs a new one */
    while (prpc_arena_used(a) < 256 && prpc_arena_alloc(a, 16, 1) != NULL)
        ;
    tu_alloc_fail_after(0);
    uint8_t b[64];
    size_t n = tu_hex("a8 6d 65 73 73 61 67 65 21", b, sizeof b);
    prpc_remote_error err;
    assert_int_equal(prpc_remote_error_decode((prpc_any){b, n}, a, &err), PRPC_ERR_NO_MEMORY);
    assert_non_null(err.message);
    tu_alloc_fail_after(-1);
    prpc_arena_destroy(a);
}

#define T(f) cmocka_unit_test_setup_teardown(f, arena_setup, arena_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_envelope_request_round_trip),
        T(test_envelope_exact_bytes),
        T(test_envelope_error_message_is_always_sendable),
        T(test_envelope_response_and_notify_parse),
        T(test_envelope_msgid_range),
        T(test_remote_error_shapes),
        T(test_remote_error_hostile_text),
        T(test_remote_error_out_of_memory),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
