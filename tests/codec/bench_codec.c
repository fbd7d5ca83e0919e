/* A micro-benchmark of the codec's hot path (not a test): encoding a
 * typical request, parsing its envelope, decoding its arguments, and
 * validating and stream-reading bulk data. Run: build/.../bench_codec */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "piperpc/codec.h"

static double now(void)
{
    struct timespec ts;
    /* CPU time, so other processes on a busy machine do not count */
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void encode_request(prpc_encoder *enc, uint32_t id)
{
    prpc_enc_request(enc, id, "kv.Store.put", 12, 3);
    prpc_enc_str(enc, "user:1234567890", 15);
    prpc_enc_uint(enc, 42);
    prpc_enc_array(enc, 3); /* a struct */
    prpc_enc_int(enc, -123456789);
    prpc_enc_f64(enc, 3.25);
    prpc_enc_bool(enc, true);
}

int main(void)
{
    const int n = 2000000;
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);

    double t0 = now();
    for (int i = 0; i < n; i++) {
        prpc_enc_reset(&enc);
        encode_request(&enc, (uint32_t)i);
    }
    double t_enc = now() - t0;
    if (prpc_enc_status(&enc) != PRPC_OK)
        return 1;
    size_t msg_len = enc.len;

    prpc_msg msg;
    t0 = now();
    for (int i = 0; i < n; i++)
        if (prpc_msg_parse(enc.data, enc.len, NULL, &msg) != PRPC_OK)
            return 1;
    double t_parse = now() - t0;

    prpc_arena *arena = prpc_arena_create(0);
    uint64_t sink = 0;
    t0 = now();
    for (int i = 0; i < n; i++) {
        prpc_arena_reset(arena);
        prpc_decoder dec;
        prpc_dec_init(&dec, msg.params.data, msg.params.len, arena);
        const char *key;
        uint32_t v;
        int64_t a;
        double b;
        bool c;
        prpc_dec_array_exact(&dec, 3);
        prpc_dec_str(&dec, &key, NULL);
        prpc_dec_u32(&dec, &v);
        prpc_dec_array_exact(&dec, 3);
        prpc_dec_i64(&dec, &a);
        prpc_dec_f64(&dec, &b);
        prpc_dec_bool(&dec, &c);
        if (prpc_dec_status(&dec) != PRPC_OK)
            return 1;
        sink += v + (uint64_t)key[0];
    }
    double t_dec = now() - t0;

    /* Bulk: many requests back to back, validated as one array and read as
     * a stream. */
    prpc_encoder bulk;
    prpc_enc_init(&bulk, 0);
    const uint32_t count = 200000;
    prpc_enc_array(&bulk, count);
    for (uint32_t i = 0; i < count; i++)
        encode_request(&bulk, i);
    size_t vlen;
    prpc_limits big = {bulk.len, 0};
    t0 = now();
    for (int r = 0; r < 10; r++)
        if (prpc_msgpack_validate(bulk.data, bulk.len, &big, &vlen) != PRPC_OK)
            return 1;
    double t_val = (now() - t0) / 10;

    prpc_reader *rd = prpc_reader_create(NULL);
    size_t got = 0;
    const size_t piece = 1500; /* a typical TCP segment */
    t0 = now();
    for (size_t off = 1 + 4; off < bulk.len; off += piece) { /* skip the array header */
        size_t len = bulk.len - off < piece ? bulk.len - off : piece;
        if (prpc_reader_feed(rd, bulk.data + off, len) != PRPC_OK)
            return 1;
        const uint8_t *m;
        size_t ml;
        while (prpc_reader_next(rd, &m, &ml) == PRPC_OK && m != NULL)
            got++;
    }
    double t_read = now() - t0;

    printf("message: %zu bytes\n", msg_len);
    printf("encode request        %7.1f ns/msg\n", t_enc / n * 1e9);
    printf("prpc_msg_parse        %7.1f ns/msg\n", t_parse / n * 1e9);
    printf("decode params         %7.1f ns/msg (arena reset included)\n", t_dec / n * 1e9);
    printf("validate bulk         %7.1f MB/s (%zu bytes)\n", bulk.len / t_val / 1e6, bulk.len);
    printf("reader, 1500-byte feed %6.1f MB/s, %zu messages\n", bulk.len / t_read / 1e6, got);
    prpc_reader_destroy(rd);
    prpc_arena_destroy(arena);
    prpc_enc_free(&bulk);
    prpc_enc_free(&enc);
    return sink == 0 && got != count;
}
