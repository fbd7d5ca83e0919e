/* libFuzzer target for the message decoder.
 *
 * Every input goes through prpc_msg_parse, the typed decoder (on the parsed
 * params and on the raw bytes, which have not been validated), the
 * remote-error decoder and the streaming reader fed in pieces chosen by the
 * input. Beyond the sanitizers it checks that the entry points agree: a
 * message the reader yields validates to the same length, and a parsed
 * message's parts re-encode byte for byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "piperpc/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (!(cond))                                                                             \
            abort();                                                                             \
    } while (0)

/* Reads one value with the typed reader its type calls for; containers
 * recurse to a bounded depth and are skipped below it. */
static void walk(prpc_decoder *dec, unsigned depth)
{
    switch (prpc_dec_peek(dec)) {
    case PRPC_TYPE_NIL:
        CHECK(prpc_dec_try_nil(dec));
        break;
    case PRPC_TYPE_BOOL: {
        bool b;
        prpc_dec_bool(dec, &b);
        break;
    }
    case PRPC_TYPE_UINT:
    case PRPC_TYPE_INT: {
        /* narrow readers on a copy: a range error must not consume */
        prpc_decoder probe = *dec;
        int8_t i8;
        prpc_dec_i8(&probe, &i8);
        probe = *dec;
        uint16_t u16;
        prpc_dec_u16(&probe, &u16);
        probe = *dec;
        float f;
        prpc_dec_f32(&probe, &f);
        if (prpc_dec_peek(dec) == PRPC_TYPE_UINT) {
            uint64_t u;
            prpc_dec_u64(dec, &u);
        } else {
            int64_t i;
            prpc_dec_i64(dec, &i);
        }
        /* every integer that reads as one also reads as a float */
        CHECK(dec->status != PRPC_OK || probe.status == PRPC_OK);
        break;
    }
    case PRPC_TYPE_FLOAT: {
        prpc_decoder probe = *dec;
        float f;
        prpc_dec_f32(&probe, &f);
        double d;
        prpc_dec_f64(dec, &d);
        break;
    }
    case PRPC_TYPE_STR: {
        prpc_decoder probe = *dec;
        const char *s;
        size_t len;
        prpc_dec_str(&probe, &s, &len);
        if (probe.status == PRPC_OK)
            CHECK(s != NULL && strlen(s) == len);
        prpc_bytes b;
        prpc_dec_bytes(dec, &b);
        break;
    }
    case PRPC_TYPE_BIN: {
        prpc_decoder probe = *dec;
        const char *s;
        prpc_dec_str(&probe, &s, NULL);
        prpc_bytes b;
        prpc_dec_bytes(dec, &b);
        break;
    }
    case PRPC_TYPE_ARRAY:
    case PRPC_TYPE_MAP: {
        if (depth > 48) {
            prpc_dec_skip(dec);
            break;
        }
        bool map = prpc_dec_peek(dec) == PRPC_TYPE_MAP;
        uint32_t n;
        if (map)
            prpc_dec_map(dec, &n);
        else
            prpc_dec_array(dec, &n);
        /* the count was checked against the bytes left, so this is bounded */
        void *p = prpc_dec_alloc_array(dec, n, 8, 8);
        CHECK(n == 0 || p != NULL || dec->status != PRPC_OK);
        for (uint32_t i = 0; i < (map ? 2 * (uint64_t)n : n) && dec->status == PRPC_OK; i++)
            walk(dec, depth + 1);
        break;
    }
    case PRPC_TYPE_EXT: {
        prpc_any a;
        prpc_dec_any(dec, &a);
        break;
    }
    case PRPC_TYPE_NONE:
        prpc_dec_skip(dec);
        break;
    }
}

static void check_any_round_trip(prpc_any v)
{
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_any(&enc, v);
    CHECK(enc.status == PRPC_OK && enc.len == v.len && memcmp(enc.data, v.data, v.len) == 0);
    prpc_enc_free(&enc);
}

static void fuzz_parse(const uint8_t *data, size_t size, prpc_arena *arena)
{
    prpc_limits limits = {1u << 20, 16};
    prpc_msg msg;
    if (prpc_msg_parse(data, size, &limits, &msg) != PRPC_OK)
        return;
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_decoder dec;
    if (msg.type != PRPC_MSG_RESPONSE) {
        CHECK(msg.method != NULL);
        check_any_round_trip(msg.params);
        prpc_dec_init(&dec, msg.params.data, msg.params.len, arena);
        walk(&dec, 0);
        /* re-encode the envelope and compare what it means */
        if (msg.type == PRPC_MSG_REQUEST)
            prpc_enc_request(&enc, msg.msgid, msg.method, msg.method_len, 0);
        else
            prpc_enc_notify(&enc, msg.method, msg.method_len, 0);
        CHECK(enc.status == PRPC_OK);
    } else {
        check_any_round_trip(msg.result);
        check_any_round_trip(msg.error);
        prpc_dec_init(&dec, msg.result.data, msg.result.len, arena);
        walk(&dec, 0);
        if (!(msg.error.len == 1 && msg.error.data[0] == 0xc0)) {
            prpc_remote_error err;
            CHECK(prpc_remote_error_decode(msg.error, arena, &err) == PRPC_OK);
            CHECK(err.message != NULL);
            prpc_enc_response_error(&enc, msg.msgid, err.code, err.message);
            CHECK(enc.status == PRPC_OK);
        }
    }
    prpc_enc_free(&enc);
}

static void fuzz_reader(const uint8_t *data, size_t size)
{
    prpc_limits limits = {1u << 16, 12};
    prpc_reader *r = prpc_reader_create(&limits);
    if (r == NULL)
        return;
    /* whole-buffer validation and the incremental scanner must agree on
     * where the first value ends */
    size_t first_len = 0, first_seen = 0;
    bool first_valid = prpc_msgpack_validate(data, size, &limits, &first_len) == PRPC_OK;
    /* piece sizes come from the input itself */
    size_t pos = 0, seen = 0;
    unsigned step = size ? data[0] : 1;
    prpc_status st = PRPC_OK;
    while (pos < size && st == PRPC_OK) {
        size_t piece = (size_t)(step % 13) + 1;
        step = step * 1103515245u + 12345u;
        if (piece > size - pos)
            piece = size - pos;
        if (step & 0x10000) {
            st = prpc_reader_feed(r, data + pos, piece);
        } else {
            void *buf;
            size_t avail;
            st = prpc_reader_buffer(r, piece, &buf, &avail);
            if (st == PRPC_OK) {
                CHECK(avail >= piece);
                memcpy(buf, data + pos, piece);
                st = prpc_reader_commit(r, piece);
            }
        }
        pos += piece;
        const uint8_t *m;
        size_t len;
        while (st == PRPC_OK && prpc_reader_next(r, &m, &len) == PRPC_OK && m != NULL) {
            /* the reader yields exactly the input, in order, one valid
             * value at a time */
            size_t vlen;
            CHECK(len > 0 && seen + len <= pos);
            CHECK(memcmp(m, data + seen, len) == 0);
            CHECK(prpc_msgpack_validate(m, len, &limits, &vlen) == PRPC_OK && vlen == len);
            if (seen == 0)
                first_seen = len;
            seen += len;
        }
    }
    if (st == PRPC_OK)
        CHECK(prpc_reader_pending(r) == pos - seen);
    if (first_valid)
        CHECK(first_seen == first_len);
    else
        CHECK(first_seen == 0);
    prpc_reader_destroy(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    prpc_arena *arena = prpc_arena_create(0);
    if (arena == NULL)
        return 0;
    fuzz_parse(data, size, arena);

    /* the typed decoder on raw, unvalidated bytes */
    prpc_decoder dec;
    prpc_dec_init(&dec, data, size, arena);
    while (dec.status == PRPC_OK && prpc_dec_remaining(&dec) > 0)
        walk(&dec, 0);

    /* validation agrees with skip on where a valid value ends */
    size_t vlen;
    if (prpc_msgpack_validate(data, size, NULL, &vlen) == PRPC_OK) {
        prpc_dec_init(&dec, data, size, arena);
        prpc_dec_skip(&dec);
        CHECK(dec.status == PRPC_OK && (size_t)(dec.pos - data) == vlen);
    }

    prpc_remote_error err;
    CHECK(prpc_remote_error_decode((prpc_any){data, size}, arena, &err) == PRPC_OK);
    fuzz_reader(data, size);
    prpc_arena_destroy(arena);
    return 0;
}
