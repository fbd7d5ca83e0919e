/* The encoder: msgpack-c's packer writing into a growable buffer owned by
 * prpc_encoder, with a sticky first error and an optional size limit. */
#include <msgpack/pack.h>
#include <string.h>

#include "codec/enc.h"
#include "codec/scan.h"
#include "codec/utf8.h"
#include "piperpc/alloc.h"
#include "piperpc/codec.h"

#define ENC_MIN_CAP 256u

void prpc_enc_init(prpc_encoder *enc, size_t max_size)
{
    enc->data = NULL;
    enc->len = 0;
    enc->cap = 0;
    enc->max_size = max_size;
    enc->status = PRPC_OK;
}

void prpc_enc_reset(prpc_encoder *enc)
{
    enc->len = 0;
    enc->status = PRPC_OK;
}

void prpc_enc_free(prpc_encoder *enc)
{
    prpc_free(enc->data);
    enc->data = NULL;
    enc->len = 0;
    enc->cap = 0;
    enc->status = PRPC_OK;
}

void prpc_enc_fail(prpc_encoder *enc, prpc_status err)
{
    if (enc->status == PRPC_OK && err != PRPC_OK)
        enc->status = err;
}

/* Grows the buffer to hold `more` further bytes: at least double, so
 * appending n bytes costs O(n) in total, and never past max_size. */
static bool grow(prpc_encoder *enc, size_t more)
{
    size_t need = enc->len + more; /* the caller checked this cannot overflow */
    size_t cap = enc->cap < ENC_MIN_CAP ? ENC_MIN_CAP : enc->cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (enc->max_size != 0 && cap > enc->max_size)
        cap = enc->max_size;
    uint8_t *p = prpc_realloc(enc->data, cap);
    if (p == NULL) {
        prpc_enc_fail(enc, PRPC_ERR_NO_MEMORY);
        return false;
    }
    enc->data = p;
    enc->cap = cap;
    return true;
}

/* Appends raw bytes; every write of the encoder ends here. */
static inline bool put(prpc_encoder *enc, const void *buf, size_t n)
{
    if (enc->status != PRPC_OK)
        return false;
    if (n == 0)
        return true; /* and enc->data may still be NULL */
    if (n > enc->cap - enc->len) {
        size_t limit = enc->max_size != 0 ? enc->max_size : SIZE_MAX;
        if (enc->len > limit || n > limit - enc->len) {
            prpc_enc_fail(enc, PRPC_ERR_TOO_LARGE);
            return false;
        }
        if (!grow(enc, n))
            return false;
    }
    /* msgpack-c writes headers and scalars in pieces of 1, 2, 3, 5 or 9
     * bytes: fixed-size copies compile to plain moves instead of a call. */
    uint8_t *dst = enc->data + enc->len;
    switch (n) {
    case 1: dst[0] = *(const uint8_t *)buf; break;
    case 2: memcpy(dst, buf, 2); break;
    case 3: memcpy(dst, buf, 3); break;
    case 5: memcpy(dst, buf, 5); break;
    case 9: memcpy(dst, buf, 9); break;
    default: memcpy(dst, buf, n); break;
    }
    enc->len += n;
    return true;
}

/* msgpack-c's write callback. A non-zero return makes the packer stop. */
static int packer_write(void *data, const char *buf, size_t len)
{
    return put(data, buf, len) ? 0 : -1;
}

/* A packer is two pointers and lives on the stack for one call: nothing is
 * allocated per value. */
#define PACKER(pk, enc)                                                          \
    msgpack_packer pk;                                                           \
    msgpack_packer_init(&pk, (enc), packer_write)

void prpc_enc_nil(prpc_encoder *enc)
{
    PACKER(pk, enc);
    (void)msgpack_pack_nil(&pk);
}

void prpc_enc_bool(prpc_encoder *enc, bool v)
{
    PACKER(pk, enc);
    (void)(v ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk));
}

void prpc_enc_int(prpc_encoder *enc, int64_t v)
{
    PACKER(pk, enc);
    (void)msgpack_pack_int64(&pk, v);
}

void prpc_enc_uint(prpc_encoder *enc, uint64_t v)
{
    PACKER(pk, enc);
    (void)msgpack_pack_uint64(&pk, v);
}

void prpc_enc_f32(prpc_encoder *enc, float v)
{
    PACKER(pk, enc);
    (void)msgpack_pack_float(&pk, v);
}

void prpc_enc_f64(prpc_encoder *enc, double v)
{
    PACKER(pk, enc);
    (void)msgpack_pack_double(&pk, v);
}

void prpc_enc_str(prpc_encoder *enc, const char *s, size_t len)
{
    if (enc->status != PRPC_OK)
        return;
    /* piperpc strings are C strings on the receiving side, so a str that the
     * decoder would refuse (bad UTF-8, an embedded NUL) is refused here. */
    if ((s == NULL && len != 0) || len > UINT32_MAX ||
        !prpc__utf8_valid((const uint8_t *)s, len, false)) {
        prpc_enc_fail(enc, PRPC_ERR_INVALID_ARG);
        return;
    }
    PACKER(pk, enc);
    if (msgpack_pack_str(&pk, len) == 0 && len != 0)
        (void)msgpack_pack_str_body(&pk, s, len);
}

void prpc_enc_cstr(prpc_encoder *enc, const char *s)
{
    if (s == NULL) {
        prpc_enc_fail(enc, PRPC_ERR_INVALID_ARG);
        return;
    }
    prpc_enc_str(enc, s, strlen(s));
}

void prpc_enc_bin(prpc_encoder *enc, const void *data, size_t len)
{
    if (enc->status != PRPC_OK)
        return;
    if ((data == NULL && len != 0) || len > UINT32_MAX) {
        prpc_enc_fail(enc, PRPC_ERR_INVALID_ARG);
        return;
    }
    PACKER(pk, enc);
    if (msgpack_pack_bin(&pk, len) == 0 && len != 0)
        (void)msgpack_pack_bin_body(&pk, data, len);
}

void prpc_enc_array(prpc_encoder *enc, uint32_t n)
{
    PACKER(pk, enc);
    (void)msgpack_pack_array(&pk, n);
}

void prpc_enc_map(prpc_encoder *enc, uint32_t n)
{
    PACKER(pk, enc);
    (void)msgpack_pack_map(&pk, n);
}

void prpc__enc_raw(prpc_encoder *enc, const void *data, size_t len)
{
    put(enc, data, len);
}

void prpc_enc_any(prpc_encoder *enc, prpc_any v)
{
    if (enc->status != PRPC_OK)
        return;
    size_t vlen = 0;
    /* Exactly one well-formed value, or the stream would lose its framing. */
    if (v.data == NULL || prpc__value_len(v.data, v.len, &vlen) != PRPC_OK || vlen != v.len) {
        prpc_enc_fail(enc, PRPC_ERR_INVALID_ARG);
        return;
    }
    put(enc, v.data, v.len);
}
