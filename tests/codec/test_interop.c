/* Interoperability with another msgpack-rpc implementation: Python's
 * msgpack package (interop.py) decodes what piperpc encodes, and piperpc
 * decodes what Python encodes. Skipped when no Python with msgpack exists. */
#define _POSIX_C_SOURCE 200809L /* mkstemp */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "piperpc/alloc.h"
#include "piperpc/codec.h"
#include "testutil.h"

#ifndef PRPC_TEST_PYTHON
#  define PRPC_TEST_PYTHON ""
#endif

static void write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *buf = NULL;
    size_t n = 0;
    uint8_t chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        buf = realloc(buf, n + got);
        memcpy(buf + n, chunk, got);
        n += got;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void encode_ours(prpc_encoder *enc)
{
    prpc_enc_request(enc, 1, "kv.Store.put", 12, 5);
    prpc_enc_cstr(enc, "key");
    prpc_enc_bin(enc, "\x00\x01\xff", 3);
    prpc_enc_array(enc, 6);
    prpc_enc_int(enc, -1);
    prpc_enc_uint(enc, UINT64_MAX);
    prpc_enc_int(enc, INT64_MIN);
    prpc_enc_f32(enc, 1.5f);
    prpc_enc_bool(enc, true);
    prpc_enc_nil(enc);
    prpc_enc_map(enc, 1);
    prpc_enc_cstr(enc, "a");
    prpc_enc_uint(enc, 1);
    prpc_enc_cstr(enc, "h\xc3\xa9llo");
    prpc_enc_notify(enc, "ev", 2, 2);
    prpc_enc_f64(enc, 3.25);
    prpc_enc_array(enc, 2);
    prpc_enc_uint(enc, 1);
    prpc_enc_cstr(enc, "union");
    prpc_enc_response_ok(enc, 7);
    prpc_enc_array(enc, 2);
    prpc_enc_uint(enc, 42);
    prpc_enc_cstr(enc, "out");
    prpc_enc_response_error(enc, 8, PRPC_ERR_BAD_ARGS, "bad arguments");
    assert_int_equal(prpc_enc_status(enc), PRPC_OK);
}

/* Checks the messages interop.py wrote, in order. */
static void check_theirs(const uint8_t *data, size_t len)
{
    prpc_reader *r = prpc_reader_create(NULL);
    assert_int_equal(prpc_reader_feed(r, data, len), PRPC_OK);
    prpc_arena *a = prpc_arena_create(0);
    const uint8_t *m;
    size_t mlen;
    prpc_msg msg;
    prpc_decoder dec;
    const char *s;
    size_t slen;
    prpc_bytes b;
    uint32_t n;

    /* [0, 2^32-1, "m.I.f", ["s"*40, b"b"*300, 2^63, -2^63, 0.1, [], {}, ext]] */
    assert_int_equal(prpc_reader_next(r, &m, &mlen), PRPC_OK);
    assert_int_equal(prpc_msg_parse(m, mlen, NULL, &msg), PRPC_OK);
    assert_int_equal(msg.type, PRPC_MSG_REQUEST);
    assert_true(msg.msgid == UINT32_MAX);
    assert_int_equal(msg.method_len, 5);
    assert_memory_equal(msg.method, "m.I.f", 5);
    prpc_dec_init(&dec, msg.params.data, msg.params.len, a);
    prpc_dec_array_exact(&dec, 8);
    prpc_dec_str(&dec, &s, &slen);
    assert_int_equal(slen, 40);
    prpc_dec_bytes(&dec, &b);
    assert_int_equal(b.len, 300);
    assert_int_equal(b.data[299], 'b');
    uint64_t u;
    int64_t i;
    double d;
    prpc_dec_u64(&dec, &u);
    assert_true(u == (uint64_t)1 << 63);
    prpc_dec_i64(&dec, &i);
    assert_true(i == INT64_MIN);
    prpc_dec_f64(&dec, &d);
    assert_true(d == 0.1);
    prpc_dec_array(&dec, &n);
    assert_int_equal(n, 0);
    prpc_dec_map(&dec, &n);
    assert_int_equal(n, 0);
    assert_int_equal(prpc_dec_peek(&dec), PRPC_TYPE_EXT);
    prpc_any any;
    prpc_dec_any(&dec, &any);
    /* a 3-byte ext has no fixext form: ext 8, type 5 */
    assert_int_equal(any.len, 6);
    assert_memory_equal(any.data, "\xc7\x03\x05xyz", 6);
    assert_int_equal(dec.status, PRPC_OK);
    assert_int_equal(prpc_dec_remaining(&dec), 0);

    /* [1, 3, None, [1, 2, 3]] */
    assert_int_equal(prpc_reader_next(r, &m, &mlen), PRPC_OK);
    assert_int_equal(prpc_msg_parse(m, mlen, NULL, &msg), PRPC_OK);
    assert_int_equal(msg.type, PRPC_MSG_RESPONSE);
    assert_int_equal(msg.msgid, 3);
    assert_int_equal(msg.error.data[0], 0xc0);
    prpc_dec_init(&dec, msg.result.data, msg.result.len, a);
    prpc_dec_array_exact(&dec, 3);
    uint8_t v8[3];
    for (int k = 0; k < 3; k++)
        prpc_dec_u8(&dec, &v8[k]);
    assert_int_equal(dec.status, PRPC_OK);
    assert_int_equal(v8[2], 3);

    /* [1, 4, "plain string error", None] */
    assert_int_equal(prpc_reader_next(r, &m, &mlen), PRPC_OK);
    assert_int_equal(prpc_msg_parse(m, mlen, NULL, &msg), PRPC_OK);
    prpc_remote_error err;
    assert_int_equal(prpc_remote_error_decode(msg.error, a, &err), PRPC_OK);
    assert_int_equal(err.code, PRPC_ERR_REMOTE);
    assert_string_equal(err.message, "plain string error");

    /* [2, "note", [{"k": [1, {"x": None}]}]] */
    assert_int_equal(prpc_reader_next(r, &m, &mlen), PRPC_OK);
    assert_int_equal(prpc_msg_parse(m, mlen, NULL, &msg), PRPC_OK);
    assert_int_equal(msg.type, PRPC_MSG_NOTIFY);
    prpc_dec_init(&dec, msg.params.data, msg.params.len, a);
    prpc_dec_array_exact(&dec, 1);
    prpc_dec_map(&dec, &n);
    assert_int_equal(n, 1);
    prpc_dec_str(&dec, &s, NULL);
    assert_string_equal(s, "k");
    prpc_dec_skip(&dec);
    assert_int_equal(dec.status, PRPC_OK);
    assert_int_equal(prpc_dec_remaining(&dec), 0);

    /* [0, 5, "m", [b"raw bytes"]] from an old-style peer: bytes as str */
    assert_int_equal(prpc_reader_next(r, &m, &mlen), PRPC_OK);
    assert_int_equal(prpc_msg_parse(m, mlen, NULL, &msg), PRPC_OK);
    prpc_dec_init(&dec, msg.params.data, msg.params.len, a);
    prpc_dec_array_exact(&dec, 1);
    prpc_dec_bytes(&dec, &b);
    assert_int_equal(dec.status, PRPC_OK);
    assert_int_equal(b.len, 9);
    assert_memory_equal(b.data, "raw bytes", 9);

    /* [2, "f", [float32 0.5]] */
    assert_int_equal(prpc_reader_next(r, &m, &mlen), PRPC_OK);
    assert_int_equal(prpc_msg_parse(m, mlen, NULL, &msg), PRPC_OK);
    prpc_dec_init(&dec, msg.params.data, msg.params.len, a);
    prpc_dec_array_exact(&dec, 1);
    float f;
    prpc_dec_f32(&dec, &f);
    assert_int_equal(dec.status, PRPC_OK);
    assert_true(f == 0.5f);

    assert_int_equal(prpc_reader_next(r, &m, &mlen), PRPC_OK);
    assert_null(m);
    assert_int_equal(prpc_reader_pending(r), 0);
    prpc_arena_destroy(a);
    prpc_reader_destroy(r);
}

static void test_interop_python_msgpack(void **state)
{
    (void)state;
    const char *py = PRPC_TEST_PYTHON;
    if (py[0] == '\0') {
        printf("no python3 with the msgpack package: skipped\n");
        skip();
    }
    char ours[] = "/tmp/prpc-interop-ours-XXXXXX";
    char theirs[] = "/tmp/prpc-interop-theirs-XXXXXX";
    int fd1 = mkstemp(ours), fd2 = mkstemp(theirs);
    assert_true(fd1 >= 0 && fd2 >= 0);
    close(fd1);
    close(fd2);

    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    encode_ours(&enc);
    write_file(ours, enc.data, enc.len);
    prpc_enc_free(&enc);

    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s'", py, PRPC_TEST_INTEROP_SCRIPT, ours, theirs);
    int rc = system(cmd);
    unlink(ours);
    if (rc != 0) {
        unlink(theirs);
        fail_msg("interop.py failed (%d)", rc);
    }
    size_t len;
    uint8_t *data = read_file(theirs, &len);
    unlink(theirs);
    check_theirs(data, len);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_interop_python_msgpack, tu_check_leaks),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
