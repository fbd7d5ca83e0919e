/* The decoder: typed readers straight over the message bytes, with a sticky
 * first error. Every length is checked against the bytes that remain before
 * it is used, so unvalidated input is read safely too. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "base/log.h"
#include "codec/scan.h"
#include "codec/utf8.h"
#include "piperpc/codec.h"

void prpc_dec_init(prpc_decoder *dec, const void *data, size_t len, prpc_arena *arena)
{
    /* NULL + 0 is undefined in C, so an empty input gets no arithmetic. */
    dec->pos = data;
    dec->end = data != NULL ? (const uint8_t *)data + len : data;
    dec->arena = arena;
    dec->status = (data == NULL && len != 0) ? PRPC_ERR_INVALID_ARG : PRPC_OK;
    dec->type_err = PRPC_ERR_BAD_ARGS;
}

void prpc_dec_fail(prpc_decoder *dec, prpc_status err)
{
    if (dec->status == PRPC_OK && err != PRPC_OK)
        dec->status = err;
}

static inline void type_error(prpc_decoder *dec)
{
    prpc_dec_fail(dec, dec->type_err != PRPC_OK ? dec->type_err : PRPC_ERR_BAD_ARGS);
}

/* The lead byte of the next value, or -1 (recording the error) when the
 * decoder has failed or the input ended. */
static inline int lead(prpc_decoder *dec)
{
    if (dec->status != PRPC_OK)
        return -1;
    /* The reserved byte 0xc1 is malformed input, not a value of the wrong
     * type. */
    if (dec->pos >= dec->end || *dec->pos == 0xc1) {
        prpc_dec_fail(dec, PRPC_ERR_PROTOCOL);
        return -1;
    }
    return *dec->pos;
}

/* Consumes the n-byte header of the next value; NULL on truncation. */
static inline const uint8_t *take_head(prpc_decoder *dec, size_t n)
{
    if ((size_t)(dec->end - dec->pos) < n) {
        prpc_dec_fail(dec, PRPC_ERR_PROTOCOL);
        return NULL;
    }
    const uint8_t *h = dec->pos;
    dec->pos += n;
    return h;
}

prpc_type prpc_dec_peek(const prpc_decoder *dec)
{
    if (dec->status != PRPC_OK || dec->pos >= dec->end)
        return PRPC_TYPE_NONE;
    uint8_t b = *dec->pos;
    if (b <= 0x7f || (b >= 0xcc && b <= 0xcf))
        return PRPC_TYPE_UINT;
    if (b >= 0xe0 || (b >= 0xd0 && b <= 0xd3)) {
        /* A signed form may hold a non-negative value. */
        if (b >= 0xe0)
            return PRPC_TYPE_INT;
        size_t n = prpc__head_len[b];
        if ((size_t)(dec->end - dec->pos) < n)
            return PRPC_TYPE_INT;
        return (dec->pos[1] & 0x80) ? PRPC_TYPE_INT : PRPC_TYPE_UINT;
    }
    if (b <= 0x8f || b == 0xde || b == 0xdf)
        return PRPC_TYPE_MAP;
    if (b <= 0x9f || b == 0xdc || b == 0xdd)
        return PRPC_TYPE_ARRAY;
    if (b <= 0xbf || (b >= 0xd9 && b <= 0xdb))
        return PRPC_TYPE_STR;
    switch (b) {
    case 0xc0: return PRPC_TYPE_NIL;
    case 0xc2: case 0xc3: return PRPC_TYPE_BOOL;
    case 0xc4: case 0xc5: case 0xc6: return PRPC_TYPE_BIN;
    case 0xca: case 0xcb: return PRPC_TYPE_FLOAT;
    case 0xc7: case 0xc8: case 0xc9:
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return PRPC_TYPE_EXT;
    default: return PRPC_TYPE_NONE; /* 0xc1 */
    }
}

void prpc_dec_nil(prpc_decoder *dec)
{
    int b = lead(dec);
    if (b < 0)
        return;
    if (b != 0xc0) {
        type_error(dec);
        return;
    }
    dec->pos++;
}

bool prpc_dec_try_nil(prpc_decoder *dec)
{
    if (dec->status != PRPC_OK || dec->pos >= dec->end || *dec->pos != 0xc0)
        return false;
    dec->pos++;
    return true;
}

void prpc_dec_bool(prpc_decoder *dec, bool *out)
{
    *out = false;
    int b = lead(dec);
    if (b < 0)
        return;
    if (b != 0xc2 && b != 0xc3) {
        type_error(dec);
        return;
    }
    dec->pos++;
    *out = b == 0xc3;
}

/* An integer in any msgpack form: negative values in s (neg set), others in
 * u. Returns false (error recorded) if the next value is not an integer. */
static inline bool read_integer(prpc_decoder *dec, bool *neg, uint64_t *u, int64_t *s)
{
    *neg = false;
    *u = 0;
    *s = 0;
    int b = lead(dec);
    if (b < 0)
        return false;
    if (b <= 0x7f) {
        dec->pos++;
        *u = (uint64_t)b;
        return true;
    }
    if (b >= 0xe0) {
        dec->pos++;
        *neg = true;
        *s = (int64_t)(int8_t)(uint8_t)b;
        return true;
    }
    if (b < 0xcc || b > 0xd3) {
        type_error(dec);
        return false;
    }
    const uint8_t *h = take_head(dec, prpc__head_len[b]);
    if (h == NULL)
        return false;
    int64_t v;
    switch (b) {
    case 0xcc: *u = h[1]; return true;
    case 0xcd: *u = prpc__be16(h + 1); return true;
    case 0xce: *u = prpc__be32(h + 1); return true;
    case 0xcf: *u = prpc__be64(h + 1); return true;
    case 0xd0: v = (int8_t)h[1]; break;
    case 0xd1: v = (int16_t)prpc__be16(h + 1); break;
    case 0xd2: v = (int32_t)prpc__be32(h + 1); break;
    default: v = (int64_t)prpc__be64(h + 1); break;
    }
    if (v < 0) {
        *neg = true;
        *s = v;
    } else {
        *u = (uint64_t)v;
    }
    return true;
}

/* Signed readers: [lo, hi] is the target type's range. */
static inline int64_t read_signed(prpc_decoder *dec, int64_t lo, int64_t hi)
{
    bool neg;
    uint64_t u;
    int64_t s;
    const uint8_t *start = dec->pos;
    if (!read_integer(dec, &neg, &u, &s))
        return 0;
    if (neg ? s < lo : u > (uint64_t)hi) {
        dec->pos = start;
        type_error(dec);
        return 0;
    }
    return neg ? s : (int64_t)u;
}

static inline uint64_t read_unsigned(prpc_decoder *dec, uint64_t hi)
{
    bool neg;
    uint64_t u;
    int64_t s;
    const uint8_t *start = dec->pos;
    if (!read_integer(dec, &neg, &u, &s))
        return 0;
    if (neg || u > hi) {
        dec->pos = start;
        type_error(dec);
        return 0;
    }
    return u;
}

void prpc_dec_i8(prpc_decoder *dec, int8_t *out) { *out = (int8_t)read_signed(dec, INT8_MIN, INT8_MAX); }
void prpc_dec_i16(prpc_decoder *dec, int16_t *out) { *out = (int16_t)read_signed(dec, INT16_MIN, INT16_MAX); }
void prpc_dec_i32(prpc_decoder *dec, int32_t *out) { *out = (int32_t)read_signed(dec, INT32_MIN, INT32_MAX); }
void prpc_dec_i64(prpc_decoder *dec, int64_t *out) { *out = read_signed(dec, INT64_MIN, INT64_MAX); }
void prpc_dec_u8(prpc_decoder *dec, uint8_t *out) { *out = (uint8_t)read_unsigned(dec, UINT8_MAX); }
void prpc_dec_u16(prpc_decoder *dec, uint16_t *out) { *out = (uint16_t)read_unsigned(dec, UINT16_MAX); }
void prpc_dec_u32(prpc_decoder *dec, uint32_t *out) { *out = (uint32_t)read_unsigned(dec, UINT32_MAX); }
void prpc_dec_u64(prpc_decoder *dec, uint64_t *out) { *out = read_unsigned(dec, UINT64_MAX); }

/* A float 32/64 or any integer, as a double. */
static inline bool read_number(prpc_decoder *dec, double *out, bool *was_f32)
{
    *out = 0;
    *was_f32 = false;
    int b = lead(dec);
    if (b < 0)
        return false;
    if (b == 0xca || b == 0xcb) {
        const uint8_t *h = take_head(dec, prpc__head_len[b]);
        if (h == NULL)
            return false;
        if (b == 0xca) {
            uint32_t bits = prpc__be32(h + 1);
            float f;
            memcpy(&f, &bits, sizeof f);
            *out = f;
            *was_f32 = true;
        } else {
            uint64_t bits = prpc__be64(h + 1);
            memcpy(out, &bits, sizeof *out);
        }
        return true;
    }
    bool neg;
    uint64_t u;
    int64_t s;
    if (b > 0x7f && b < 0xe0 && (b < 0xcc || b > 0xd3)) {
        type_error(dec);
        return false;
    }
    if (!read_integer(dec, &neg, &u, &s))
        return false;
    *out = neg ? (double)s : (double)u;
    return true;
}

void prpc_dec_f64(prpc_decoder *dec, double *out)
{
    bool was_f32;
    if (!read_number(dec, out, &was_f32))
        *out = 0;
}

void prpc_dec_f32(prpc_decoder *dec, float *out)
{
    *out = 0;
    double d;
    bool was_f32;
    const uint8_t *start = dec->pos;
    if (!read_number(dec, &d, &was_f32))
        return;
    /* A finite double beyond float's range has no float value (converting it
     * would be undefined); it is a range error like an integer's. */
    if (!was_f32 && isfinite(d) && (d > FLT_MAX || d < -FLT_MAX)) {
        dec->pos = start;
        type_error(dec);
        return;
    }
    *out = (float)d;
}

/* The header of a str (or bin, when accept_bin is set) and its payload. */
static bool read_raw(prpc_decoder *dec, bool accept_str, bool accept_bin, const uint8_t **data,
                     size_t *len)
{
    *data = NULL;
    *len = 0;
    int b = lead(dec);
    if (b < 0)
        return false;
    bool is_str = (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb);
    bool is_bin = b >= 0xc4 && b <= 0xc6;
    if (!((is_str && accept_str) || (is_bin && accept_bin))) {
        type_error(dec);
        return false;
    }
    const uint8_t *start = dec->pos;
    const uint8_t *h = take_head(dec, prpc__head_len[b]);
    if (h == NULL)
        return false;
    uint64_t n, children;
    prpc__head_decode(h, &n, &children);
    if (n > (uint64_t)(dec->end - dec->pos)) {
        dec->pos = start;
        prpc_dec_fail(dec, PRPC_ERR_PROTOCOL);
        return false;
    }
    *data = dec->pos;
    *len = (size_t)n;
    dec->pos += n;
    return true;
}

/* Strings, bytes, any and arrays are copied into the arena; without one
 * they cannot be decoded. That is the caller's bug, so it is logged. */
static bool need_arena(prpc_decoder *dec, const char *what)
{
    if (dec->arena == NULL) {
        if (dec->status == PRPC_OK)
            prpc__log(PRPC_LOG_ERROR, "%s: the decoder has no arena to copy the value into", what);
        prpc_dec_fail(dec, PRPC_ERR_INVALID_ARG);
        return false;
    }
    return true;
}

void prpc_dec_str(prpc_decoder *dec, const char **out, size_t *len)
{
    *out = NULL;
    if (len != NULL)
        *len = 0;
    const uint8_t *start = dec->pos;
    const uint8_t *p;
    size_t n;
    if (!read_raw(dec, true, true, &p, &n))
        return;
    if (!prpc__utf8_valid(p, n, false)) {
        dec->pos = start;
        type_error(dec);
        return;
    }
    if (!need_arena(dec, "prpc_dec_str"))
        return;
    char *s = prpc_arena_strndup(dec->arena, (const char *)p, n);
    if (s == NULL) {
        prpc_dec_fail(dec, PRPC_ERR_NO_MEMORY);
        return;
    }
    *out = s;
    if (len != NULL)
        *len = n;
}

void prpc_dec_bytes(prpc_decoder *dec, prpc_bytes *out)
{
    out->data = NULL;
    out->len = 0;
    const uint8_t *p;
    size_t n;
    if (!read_raw(dec, true, true, &p, &n) || !need_arena(dec, "prpc_dec_bytes"))
        return;
    uint8_t *copy = prpc_arena_alloc(dec->arena, n, 1);
    if (copy == NULL) {
        prpc_dec_fail(dec, PRPC_ERR_NO_MEMORY);
        return;
    }
    if (n != 0)
        memcpy(copy, p, n);
    out->data = copy;
    out->len = n;
}

/* An array (or map) header; the count of following values is checked
 * against the bytes that remain, one byte at least for each. */
static uint32_t read_container(prpc_decoder *dec, bool map)
{
    int b = lead(dec);
    if (b < 0)
        return 0;
    bool ok = map ? ((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf)
                  : ((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd);
    if (!ok) {
        type_error(dec);
        return 0;
    }
    const uint8_t *start = dec->pos;
    const uint8_t *h = take_head(dec, prpc__head_len[b]);
    if (h == NULL)
        return 0;
    uint64_t payload, children;
    prpc__head_decode(h, &payload, &children);
    if (children > (uint64_t)(dec->end - dec->pos)) {
        dec->pos = start;
        prpc_dec_fail(dec, PRPC_ERR_PROTOCOL);
        return 0;
    }
    return (uint32_t)(map ? children / 2 : children);
}

void prpc_dec_array(prpc_decoder *dec, uint32_t *count) { *count = read_container(dec, false); }
void prpc_dec_map(prpc_decoder *dec, uint32_t *count) { *count = read_container(dec, true); }

void prpc_dec_array_exact(prpc_decoder *dec, uint32_t count)
{
    const uint8_t *start = dec->pos;
    uint32_t n = read_container(dec, false);
    if (dec->status == PRPC_OK && n != count) {
        dec->pos = start;
        type_error(dec);
    }
}

void *prpc_dec_alloc_array(prpc_decoder *dec, uint32_t count, size_t size, size_t align)
{
    if (dec->status != PRPC_OK || count == 0)
        return NULL;
    if (!need_arena(dec, "prpc_dec_alloc_array"))
        return NULL;
    if (size != 0 && count > SIZE_MAX / size) {
        prpc_dec_fail(dec, PRPC_ERR_TOO_LARGE);
        return NULL;
    }
    if (align > 64 || (align & (align - 1)) != 0) {
        prpc_dec_fail(dec, PRPC_ERR_INVALID_ARG);
        return NULL;
    }
    void *p = prpc_arena_calloc(dec->arena, count, size, align);
    if (p == NULL)
        prpc_dec_fail(dec, PRPC_ERR_NO_MEMORY);
    return p;
}

/* The extent of the next whole value, or false (error recorded). */
static bool value_extent(prpc_decoder *dec, size_t *len)
{
    *len = 0;
    if (lead(dec) < 0)
        return false;
    prpc_status st = prpc__value_len(dec->pos, (size_t)(dec->end - dec->pos), len);
    if (st != PRPC_OK) {
        prpc_dec_fail(dec, st);
        return false;
    }
    return true;
}

void prpc_dec_any(prpc_decoder *dec, prpc_any *out)
{
    out->data = NULL;
    out->len = 0;
    size_t n;
    if (!value_extent(dec, &n) || !need_arena(dec, "prpc_dec_any"))
        return;
    uint8_t *copy = prpc_arena_alloc(dec->arena, n, 1);
    if (copy == NULL) {
        prpc_dec_fail(dec, PRPC_ERR_NO_MEMORY);
        return;
    }
    memcpy(copy, dec->pos, n);
    dec->pos += n;
    out->data = copy;
    out->len = n;
}

void prpc_dec_skip(prpc_decoder *dec)
{
    size_t n;
    if (value_extent(dec, &n))
        dec->pos += n;
}
