/* The streaming reader: whole, byte-by-byte and randomly split input, the
 * zero-copy API, sticky errors, limits and memory bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "piperpc/alloc.h"
#include "piperpc/codec.h"
#include "testutil.h"

/* A stream of varied messages and where each one ends. */
struct stream {
    uint8_t *data;
    size_t len;
    size_t ends[64];
    size_t count;
};

static void add(struct stream *s, prpc_encoder *enc)
{
    assert_int_equal(prpc_enc_status(enc), PRPC_OK);
    s->data = realloc(s->data, s->len + enc->len);
    assert_non_null(s->data);
    memcpy(s->data + s->len, enc->data, enc->len);
    s->len += enc->len;
    s->ends[s->count++] = s->len;
    prpc_enc_reset(enc);
}

static void make_stream(struct stream *s)
{
    memset(s, 0, sizeof *s);
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    for (uint32_t id = 0; id < 10; id++) {
        prpc_enc_request(&enc, id, "svc.Iface.call", 14, 2);
        prpc_enc_uint(&enc, (uint64_t)id * 1000003u);
        prpc_enc_cstr(&enc, "argument");
        add(s, &enc);
    }
    prpc_enc_notify(&enc, "ev", 2, 0);
    add(s, &enc);
    prpc_enc_response_ok(&enc, 7);
    prpc_enc_nil(&enc);
    add(s, &enc);
    prpc_enc_response_error(&enc, 8, -9, "bad arguments");
    add(s, &enc);
    /* A value split across headers of every width. */
    char *big = malloc(100000);
    memset(big, 'q', 100000);
    prpc_enc_response_ok(&enc, 9);
    prpc_enc_array(&enc, 4);
    prpc_enc_str(&enc, big, 40);
    prpc_enc_str(&enc, big, 300);
    prpc_enc_str(&enc, big, 70000);
    prpc_enc_bin(&enc, big, 100000);
    add(s, &enc);
    free(big);
    /* Nested containers, at the default depth limit (the map is the last
     * level). */
    for (unsigned i = 0; i + 1 < PRPC_DEFAULT_MAX_DEPTH; i++)
        prpc_enc_array(&enc, 1);
    prpc_enc_map(&enc, 0);
    add(s, &enc);
    /* Every scalar form. */
    prpc_enc_array(&enc, 8);
    prpc_enc_int(&enc, INT64_MIN);
    prpc_enc_uint(&enc, UINT64_MAX);
    prpc_enc_f32(&enc, 1.0f);
    prpc_enc_f64(&enc, 2.0);
    prpc_enc_bool(&enc, true);
    prpc_enc_nil(&enc);
    uint8_t ext[] = {0xc7, 0x03, 0x01, 'a', 'b', 'c'};
    prpc_enc_any(&enc, (prpc_any){ext, sizeof ext});
    uint8_t fixext[] = {0xd8, 0x02, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    prpc_enc_any(&enc, (prpc_any){fixext, sizeof fixext});
    add(s, &enc);
    /* Scalars alone are messages too, as far as framing goes. */
    prpc_enc_uint(&enc, 5);
    add(s, &enc);
    prpc_enc_free(&enc);
}

/* Takes every message the reader has and checks it against the stream. */
static void drain(prpc_reader *r, const struct stream *s, size_t *next)
{
    for (;;) {
        const uint8_t *msg;
        size_t len;
        assert_int_equal(prpc_reader_next(r, &msg, &len), PRPC_OK);
        if (msg == NULL)
            return;
        assert_true(*next < s->count);
        size_t start = *next == 0 ? 0 : s->ends[*next - 1];
        assert_int_equal(len, s->ends[*next] - start);
        assert_memory_equal(msg, s->data + start, len);
        (*next)++;
    }
}

static void test_reader_whole_stream(void **state)
{
    (void)state;
    struct stream s;
    make_stream(&s);
    prpc_reader *r = prpc_reader_create(NULL);
    assert_non_null(r);
    size_t next = 0;
    assert_int_equal(prpc_reader_feed(r, s.data, s.len), PRPC_OK);
    drain(r, &s, &next);
    assert_int_equal(next, s.count);
    assert_int_equal(prpc_reader_pending(r), 0);
    prpc_reader_destroy(r);
    free(s.data);
}

static void test_reader_one_byte_at_a_time(void **state)
{
    (void)state;
    struct stream s;
    make_stream(&s);
    prpc_reader *r = prpc_reader_create(NULL);
    size_t next = 0;
    for (size_t i = 0; i < s.len; i++) {
        assert_int_equal(prpc_reader_feed(r, s.data + i, 1), PRPC_OK);
        size_t before = next;
        drain(r, &s, &next);
        /* a message appears exactly when its last byte arrives */
        if (next != before)
            assert_int_equal(s.ends[next - 1], i + 1);
        size_t start = next == 0 ? 0 : s.ends[next - 1];
        assert_int_equal(prpc_reader_pending(r), i + 1 - start);
    }
    assert_int_equal(next, s.count);
    prpc_reader_destroy(r);
    free(s.data);
}

static void test_reader_random_splits(void **state)
{
    (void)state;
    struct stream s;
    make_stream(&s);
    uint64_t rng = tu_seed("test_reader_random_splits");
    int rounds = getenv("PIPERPC_UNDER_VALGRIND") ? 20 : 200;
    for (int round = 0; round < rounds; round++) {
        prpc_reader *r = prpc_reader_create(NULL);
        size_t next = 0, i = 0;
        /* drain after some pieces only, so several messages pile up */
        while (i < s.len) {
            uint64_t x = tu_rand(&rng);
            size_t piece = (x & 3) == 0 ? (size_t)(x >> 8) % 200000 + 1 : (size_t)(x >> 8) % 17 + 1;
            if (piece > s.len - i)
                piece = s.len - i;
            assert_int_equal(prpc_reader_feed(r, s.data + i, piece), PRPC_OK);
            i += piece;
            if ((x >> 40) & 1)
                drain(r, &s, &next);
        }
        drain(r, &s, &next);
        assert_int_equal(next, s.count);
        assert_int_equal(prpc_reader_pending(r), 0);
        prpc_reader_destroy(r);
    }
    free(s.data);
}

static void test_reader_zero_copy_api(void **state)
{
    (void)state;
    struct stream s;
    make_stream(&s);
    uint64_t rng = tu_seed("test_reader_zero_copy_api");
    int rounds = getenv("PIPERPC_UNDER_VALGRIND") ? 10 : 100;
    for (int round = 0; round < rounds; round++) {
        prpc_reader *r = prpc_reader_create(NULL);
        size_t next = 0, i = 0;
        while (i < s.len) {
            uint64_t x = tu_rand(&rng);
            size_t want = (size_t)(x % 5000);
            void *buf;
            size_t avail;
            assert_int_equal(prpc_reader_buffer(r, want, &buf, &avail), PRPC_OK);
            assert_non_null(buf);
            assert_true(avail >= want && avail > 0);
            size_t n = (size_t)((x >> 20) % avail) + 1;
            if (n > s.len - i)
                n = s.len - i;
            memcpy(buf, s.data + i, n);
            assert_int_equal(prpc_reader_commit(r, n), PRPC_OK);
            i += n;
            drain(r, &s, &next);
        }
        assert_int_equal(next, s.count);
        /* committing more than was offered is refused */
        void *buf;
        size_t avail;
        assert_int_equal(prpc_reader_buffer(r, 0, &buf, &avail), PRPC_OK);
        assert_int_equal(prpc_reader_commit(r, avail + 1), PRPC_ERR_INVALID_ARG);
        assert_int_equal(prpc_reader_commit(r, 0), PRPC_OK);
        prpc_reader_destroy(r);
    }
    free(s.data);
}

/* Datagrams of 64 KiB land at 64-byte boundaries (page-aligned kernel
 * buffers copy many times faster into them on some CPUs), while the buffer
 * grows from 4 KiB to over 1 MiB and the message stays intact. */
static void test_reader_buffer_is_aligned(void **state)
{
    (void)state;
    size_t payload = (size_t)1 << 20;
    size_t total = 5 + payload;
    uint8_t *msg = malloc(total);
    assert_non_null(msg);
    msg[0] = 0xc6; /* bin 32 */
    msg[1] = (uint8_t)(payload >> 24);
    msg[2] = (uint8_t)(payload >> 16);
    msg[3] = (uint8_t)(payload >> 8);
    msg[4] = (uint8_t)payload;
    for (size_t i = 0; i < payload; i++)
        msg[5 + i] = (uint8_t)(i * 7 + 1);
    for (int round = 0; round < 2; round++) {
        prpc_reader *r = prpc_reader_create(NULL);
        assert_non_null(r);
        size_t off = 0;
        const uint8_t *out = NULL;
        size_t out_len = 0;
        while (off < total) {
            void *buf;
            size_t avail;
            assert_int_equal(prpc_reader_buffer(r, 65536, &buf, &avail), PRPC_OK);
            assert_int_equal((uintptr_t)buf % 64, 0);
            size_t n = total - off < 65536 ? total - off : 65536;
            memcpy(buf, msg + off, n);
            assert_int_equal(prpc_reader_commit(r, n), PRPC_OK);
            off += n;
        }
        assert_int_equal(prpc_reader_next(r, &out, &out_len), PRPC_OK);
        assert_int_equal(out_len, total);
        assert_memory_equal(out, msg, total);
        assert_int_equal((uintptr_t)out % 64, 0);
        prpc_reader_destroy(r);
    }
    free(msg);
}

static void test_reader_message_valid_until_next_call(void **state)
{
    (void)state;
    uint8_t two[] = {0x92, 0x01, 0x02, 0x91, 0x03};
    prpc_reader *r = prpc_reader_create(NULL);
    assert_int_equal(prpc_reader_feed(r, two, sizeof two), PRPC_OK);
    const uint8_t *m;
    size_t len;
    assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
    assert_int_equal(len, 3);
    /* feeding a lot (which may move the buffer) is the next call */
    uint8_t copy[3];
    memcpy(copy, m, 3);
    assert_memory_equal(copy, two, 3);
    uint8_t many[5000];
    memset(many, 0x07, sizeof many);
    assert_int_equal(prpc_reader_feed(r, many, sizeof many), PRPC_OK);
    assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
    assert_int_equal(len, 2);
    assert_memory_equal(m, two + 3, 2);
    for (size_t i = 0; i < sizeof many; i++) {
        assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
        assert_non_null(m);
        assert_int_equal(len, 1);
        assert_int_equal(m[0], 7);
    }
    assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
    assert_null(m);
    assert_int_equal(len, 0);
    prpc_reader_destroy(r);
}

static void test_reader_sticky_error_after_good_messages(void **state)
{
    (void)state;
    uint8_t in[] = {0x91, 0x01, 0xc0, 0xc1, 0x91, 0x02};
    prpc_reader *r = prpc_reader_create(NULL);
    /* The error is in the third message: feed still succeeds, because the
     * reader scans only the message it is assembling. */
    assert_int_equal(prpc_reader_feed(r, in, sizeof in), PRPC_OK);
    const uint8_t *m;
    size_t len;
    assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
    assert_int_equal(len, 2);
    assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
    assert_int_equal(len, 1);
    assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_ERR_PROTOCOL);
    assert_null(m);
    /* sticky: every later call fails the same way */
    assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_ERR_PROTOCOL);
    assert_int_equal(prpc_reader_feed(r, in, 2), PRPC_ERR_PROTOCOL);
    void *buf;
    size_t avail;
    assert_int_equal(prpc_reader_buffer(r, 0, &buf, &avail), PRPC_ERR_PROTOCOL);
    assert_null(buf);
    assert_int_equal(prpc_reader_commit(r, 0), PRPC_ERR_PROTOCOL);
    prpc_reader_destroy(r);
}

static void test_reader_declared_giant_fails_at_header(void **state)
{
    (void)state;
    static const char *const giants[] = {
        "db 40 00 00 00",       /* 1 GiB str */
        "c6 40 00 00 00",       /* 1 GiB bin */
        "c9 40 00 00 00 01",    /* 1 GiB ext */
        "dd ff ff ff ff",       /* 4 G elements */
        "df ff ff ff ff",       /* 4 G pairs */
    };
    for (size_t i = 0; i < sizeof giants / sizeof giants[0]; i++) {
        uint8_t b[16];
        size_t n = tu_hex(giants[i], b, sizeof b);
        prpc_reader *r = prpc_reader_create(NULL); /* 64 MiB limit */
        tu_alloc_reset_stats();
        /* byte by byte: the error comes with the last header byte */
        for (size_t k = 0; k + 1 < n; k++)
            assert_int_equal(prpc_reader_feed(r, b + k, 1), PRPC_OK);
        prpc_status st = prpc_reader_feed(r, b + n - 1, 1);
        assert_int_equal(st, PRPC_ERR_TOO_LARGE);
        assert_true(tu_alloc_max_request() <= 8192);
        const uint8_t *m;
        size_t len;
        assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_ERR_TOO_LARGE);
        prpc_reader_destroy(r);
    }
    /* Values that pass one by one but not together. */
    prpc_limits l = {100, 0};
    prpc_reader *r = prpc_reader_create(&l);
    uint8_t two[1 + 2 + 48 + 2] = {0x92, 0xc4, 48};
    two[51] = 0xc4;
    two[52] = 48; /* 1 + 50 + 50 = 101 */
    assert_int_equal(prpc_reader_feed(r, two, 52), PRPC_OK);
    assert_int_equal(prpc_reader_feed(r, two + 52, 1), PRPC_ERR_TOO_LARGE);
    prpc_reader_destroy(r);
}

static void test_reader_size_limit_at_and_past(void **state)
{
    (void)state;
    prpc_limits l = {100, 0};
    uint8_t msg[101];
    memset(msg, 'a', sizeof msg);
    msg[0] = 0xd9;
    /* exactly 100 bytes */
    msg[1] = 98;
    prpc_reader *r = prpc_reader_create(&l);
    assert_int_equal(prpc_reader_feed(r, msg, 100), PRPC_OK);
    const uint8_t *m;
    size_t len;
    assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
    assert_int_equal(len, 100);
    /* 101 bytes fails as soon as the 2-byte header is in */
    msg[1] = 99;
    assert_int_equal(prpc_reader_feed(r, msg, 1), PRPC_OK);
    assert_int_equal(prpc_reader_feed(r, msg + 1, 1), PRPC_ERR_TOO_LARGE);
    prpc_reader_destroy(r);

    /* many small elements add up too */
    r = prpc_reader_create(&l);
    uint8_t arr[3] = {0xdc, 0x00, 100};
    assert_int_equal(prpc_reader_feed(r, arr, 3), PRPC_ERR_TOO_LARGE);
    prpc_reader_destroy(r);
    r = prpc_reader_create(&l);
    arr[2] = 97; /* 3 + 97 = 100 */
    assert_int_equal(prpc_reader_feed(r, arr, 3), PRPC_OK);
    for (int i = 0; i < 97; i++)
        assert_int_equal(prpc_reader_feed(r, "\x01", 1), PRPC_OK);
    assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
    assert_int_equal(len, 100);
    prpc_reader_destroy(r);
}

static void test_reader_depth_limit(void **state)
{
    (void)state;
    prpc_limits l = {0, 4};
    uint8_t ok[] = {0x91, 0x91, 0x91, 0x91, 0x01};
    uint8_t deep[] = {0x91, 0x91, 0x91, 0x91, 0x91, 0x01};
    prpc_reader *r = prpc_reader_create(&l);
    assert_int_equal(prpc_reader_feed(r, ok, sizeof ok), PRPC_OK);
    const uint8_t *m;
    size_t len;
    assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
    assert_int_equal(len, sizeof ok);
    assert_int_equal(prpc_reader_feed(r, deep, sizeof deep), PRPC_ERR_TOO_DEEP);
    prpc_reader_destroy(r);
}

static void test_reader_16mib_byte_by_byte_is_linear(void **state)
{
    (void)state;
    /* memcheck is ~50x slower: a smaller message still shows linearity */
    const size_t payload = getenv("PIPERPC_UNDER_VALGRIND") ? (size_t)1 << 20 : (size_t)16 << 20;
    uint8_t *msg = malloc(payload + 5);
    msg[0] = 0xc6;
    msg[1] = (uint8_t)(payload >> 24);
    msg[2] = (uint8_t)(payload >> 16);
    msg[3] = (uint8_t)(payload >> 8);
    msg[4] = (uint8_t)payload;
    for (size_t i = 0; i < payload; i++)
        msg[5 + i] = (uint8_t)(i * 31);
    prpc_reader *r = prpc_reader_create(NULL);
    tu_alloc_reset_stats();
    clock_t t0 = clock();
    for (size_t i = 0; i < payload + 5; i++) {
        if (prpc_reader_feed(r, msg + i, 1) != PRPC_OK)
            fail_msg("feed failed at %zu", i);
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("16 MiB fed one byte at a time: %.2f s, %zu allocations, peak %zu bytes\n", secs,
           tu_alloc_calls(), tu_alloc_peak_bytes());
    /* doubling growth: a few dozen allocations, never more than twice the
     * message held at once */
    assert_true(tu_alloc_calls() < 40);
    assert_true(tu_alloc_peak_bytes() <= 2 * (payload + 5) + 16384);
    const uint8_t *m;
    size_t len;
    assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
    assert_int_equal(len, payload + 5);
    assert_memory_equal(m, msg, len);
    /* once consumed, the big buffer is kept for the next large message ... */
    assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
    assert_null(m);
    assert_int_equal(tu_alloc_live(), 2); /* the reader and its buffer */
    /* ... and released after a small one */
    const uint8_t nil = 0xc0;
    assert_int_equal(prpc_reader_feed(r, &nil, 1), PRPC_OK);
    assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
    assert_int_equal(len, 1);
    assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
    assert_null(m);
    assert_int_equal(tu_alloc_live(), 1); /* the reader itself */
    prpc_reader_destroy(r);
    free(msg);
}

static void test_reader_truncated_stream_leaves_pending(void **state)
{
    (void)state;
    struct stream s;
    make_stream(&s);
    /* cut the stream inside the last-but-one message at every offset */
    size_t from = s.ends[s.count - 3], to = s.ends[s.count - 2];
    for (size_t cut = from + 1; cut < to; cut++) {
        prpc_reader *r = prpc_reader_create(NULL);
        size_t next = 0;
        assert_int_equal(prpc_reader_feed(r, s.data, cut), PRPC_OK);
        drain(r, &s, &next);
        assert_int_equal(next, s.count - 2);
        assert_int_equal(prpc_reader_pending(r), cut - from);
        prpc_reader_destroy(r);
    }
    free(s.data);
}

static void test_reader_out_of_memory_and_bad_args(void **state)
{
    (void)state;
    tu_alloc_fail_after(0);
    assert_null(prpc_reader_create(NULL));
    tu_alloc_fail_after(-1);
    prpc_reader *r = prpc_reader_create(NULL);
    tu_alloc_fail_after(0);
    assert_int_equal(prpc_reader_feed(r, "\x01", 1), PRPC_ERR_NO_MEMORY);
    void *buf;
    size_t avail;
    assert_int_equal(prpc_reader_buffer(r, 10, &buf, &avail), PRPC_ERR_NO_MEMORY);
    tu_alloc_fail_after(-1);
    /* not sticky: the reader works once memory is back */
    assert_int_equal(prpc_reader_feed(r, "\x01", 1), PRPC_OK);
    const uint8_t *m;
    size_t len;
    assert_int_equal(prpc_reader_next(r, &m, &len), PRPC_OK);
    assert_non_null(m);
    assert_int_equal(prpc_reader_feed(r, NULL, 1), PRPC_ERR_INVALID_ARG);
    assert_int_equal(prpc_reader_feed(r, NULL, 0), PRPC_OK);
    assert_int_equal(prpc_reader_feed(NULL, "x", 1), PRPC_ERR_INVALID_ARG);
    assert_int_equal(prpc_reader_next(r, NULL, &len), PRPC_ERR_INVALID_ARG);
    assert_int_equal(prpc_reader_buffer(r, SIZE_MAX, &buf, &avail), PRPC_ERR_NO_MEMORY);
    assert_int_equal(prpc_reader_pending(NULL), 0);
    prpc_reader_destroy(r);
    prpc_reader_destroy(NULL);
}

#define T(f) cmocka_unit_test_teardown(f, tu_check_leaks)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_reader_whole_stream),
        T(test_reader_one_byte_at_a_time),
        T(test_reader_random_splits),
        T(test_reader_zero_copy_api),
        T(test_reader_buffer_is_aligned),
        T(test_reader_message_valid_until_next_call),
        T(test_reader_sticky_error_after_good_messages),
        T(test_reader_declared_giant_fails_at_header),
        T(test_reader_size_limit_at_and_past),
        T(test_reader_depth_limit),
        T(test_reader_16mib_byte_by_byte_is_linear),
        T(test_reader_truncated_stream_leaves_pending),
        T(test_reader_out_of_memory_and_bad_args),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
