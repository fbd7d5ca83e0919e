/* msgpack-rpc envelopes: parsing one message into a prpc_msg and writing
 * request, notification and response headers. */
#include <string.h>

#include "codec/enc.h"
#include "codec/scan.h"
#include "codec/utf8.h"
#include "piperpc/codec.h"

/* Reads the raw extent of the next value (already validated) as a prpc_any. */
static void raw_value(prpc_decoder *dec, prpc_any *out)
{
    const uint8_t *start = dec->pos;
    prpc_dec_skip(dec);
    out->data = dec->status == PRPC_OK ? start : NULL;
    out->len = dec->status == PRPC_OK ? (size_t)(dec->pos - start) : 0;
}

/* The envelope's small integers (type, msgid) must be integers in range;
 * anything else is a protocol error, not a bad argument. */
static uint32_t read_u32_field(prpc_decoder *dec)
{
    uint32_t v = 0;
    prpc_dec_u32(dec, &v);
    return v;
}

static void read_method(prpc_decoder *dec, prpc_msg *msg)
{
    if (dec->status != PRPC_OK)
        return;
    prpc_type t = prpc_dec_peek(dec);
    if (t != PRPC_TYPE_STR) {
        prpc_dec_fail(dec, PRPC_ERR_PROTOCOL);
        return;
    }
    /* Validated input: the str header and body are known to be in bounds. */
    const uint8_t *h = dec->pos;
    uint64_t len, children;
    prpc__head_decode(h, &len, &children);
    const uint8_t *body = h + prpc__head_len[*h];
    /* Method names are compared and logged as text, so they must be UTF-8
     * without NUL like every piperpc string. */
    if (!prpc__utf8_valid(body, (size_t)len, false)) {
        prpc_dec_fail(dec, PRPC_ERR_PROTOCOL);
        return;
    }
    msg->method = (const char *)body;
    msg->method_len = (size_t)len;
    dec->pos = body + len;
}

prpc_status prpc_msg_parse(const void *data, size_t len, const prpc_limits *limits, prpc_msg *msg)
{
    if (msg == NULL)
        return PRPC_ERR_INVALID_ARG;
    memset(msg, 0, sizeof *msg);
    size_t vlen;
    prpc_status st = prpc_msgpack_validate(data, len, limits, &vlen);
    if (st != PRPC_OK)
        return st;
    if (vlen != len)
        return PRPC_ERR_PROTOCOL; /* trailing bytes after the message */

    prpc_decoder dec;
    prpc_dec_init(&dec, data, len, NULL);
    /* Inside the envelope a wrong type is the peer breaking the protocol. */
    dec.type_err = PRPC_ERR_PROTOCOL;
    uint32_t n = 0;
    prpc_dec_array(&dec, &n);
    uint32_t type = read_u32_field(&dec);
    if (dec.status != PRPC_OK)
        return PRPC_ERR_PROTOCOL;
    switch (type) {
    case PRPC_MSG_REQUEST:
        if (n != 4)
            return PRPC_ERR_PROTOCOL;
        msg->msgid = read_u32_field(&dec);
        read_method(&dec, msg);
        if (dec.status == PRPC_OK && prpc_dec_peek(&dec) != PRPC_TYPE_ARRAY)
            prpc_dec_fail(&dec, PRPC_ERR_PROTOCOL);
        raw_value(&dec, &msg->params);
        break;
    case PRPC_MSG_RESPONSE:
        if (n != 4)
            return PRPC_ERR_PROTOCOL;
        msg->msgid = read_u32_field(&dec);
        raw_value(&dec, &msg->error);
        raw_value(&dec, &msg->result);
        break;
    case PRPC_MSG_NOTIFY:
        if (n != 3)
            return PRPC_ERR_PROTOCOL;
        read_method(&dec, msg);
        if (dec.status == PRPC_OK && prpc_dec_peek(&dec) != PRPC_TYPE_ARRAY)
            prpc_dec_fail(&dec, PRPC_ERR_PROTOCOL);
        raw_value(&dec, &msg->params);
        break;
    default:
        return PRPC_ERR_PROTOCOL;
    }
    if (dec.status != PRPC_OK) {
        memset(msg, 0, sizeof *msg);
        return PRPC_ERR_PROTOCOL;
    }
    msg->type = (prpc_msg_type)type;
    return PRPC_OK;
}

void prpc_enc_request(prpc_encoder *enc, uint32_t msgid, const char *method, size_t method_len,
                      uint32_t nparams)
{
    prpc_enc_array(enc, 4);
    prpc_enc_uint(enc, PRPC_MSG_REQUEST);
    prpc_enc_uint(enc, msgid);
    prpc_enc_str(enc, method, method_len);
    prpc_enc_array(enc, nparams);
}

void prpc_enc_notify(prpc_encoder *enc, const char *method, size_t method_len, uint32_t nparams)
{
    prpc_enc_array(enc, 3);
    prpc_enc_uint(enc, PRPC_MSG_NOTIFY);
    prpc_enc_str(enc, method, method_len);
    prpc_enc_array(enc, nparams);
}

void prpc_enc_response_ok(prpc_encoder *enc, uint32_t msgid)
{
    prpc_enc_array(enc, 4);
    prpc_enc_uint(enc, PRPC_MSG_RESPONSE);
    prpc_enc_uint(enc, msgid);
    prpc_enc_nil(enc);
}

/* Encodes an error message that must go out whatever it holds: a reply
 * that cannot be encoded would leave the caller waiting, so bytes that are
 * not valid UTF-8 are replaced by '?' (one byte for one, so the length is
 * known up front) instead of failing the encoder. */
static void enc_text_lossy(prpc_encoder *enc, const char *text)
{
    const uint8_t *s = (const uint8_t *)text;
    size_t len = strlen(text);
    if (prpc__utf8_valid(s, len, false)) {
        prpc_enc_str(enc, text, len);
        return;
    }
    uint8_t buf[256];
    size_t used = 0;
    /* Written by hand: the str header for len bytes, then the cleaned
     * bytes in pieces. */
    if (len > UINT32_MAX) {
        prpc_enc_fail(enc, PRPC_ERR_TOO_LARGE);
        return;
    }
    uint8_t head[5];
    size_t hlen;
    if (len < 32) {
        head[0] = (uint8_t)(0xa0 | len);
        hlen = 1;
    } else if (len <= UINT8_MAX) {
        head[0] = 0xd9;
        head[1] = (uint8_t)len;
        hlen = 2;
    } else if (len <= UINT16_MAX) {
        head[0] = 0xda;
        head[1] = (uint8_t)(len >> 8);
        head[2] = (uint8_t)len;
        hlen = 3;
    } else {
        head[0] = 0xdb;
        head[1] = (uint8_t)(len >> 24);
        head[2] = (uint8_t)(len >> 16);
        head[3] = (uint8_t)(len >> 8);
        head[4] = (uint8_t)len;
        hlen = 5;
    }
    prpc__enc_raw(enc, head, hlen);
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (k > len - i || !prpc__utf8_valid(s + i, k, false)) {
            buf[used++] = '?';
            i++;
        } else {
            memcpy(buf + used, s + i, k);
            used += k;
            i += k;
        }
        if (used > sizeof buf - 4) {
            prpc__enc_raw(enc, buf, used);
            used = 0;
        }
    }
    prpc__enc_raw(enc, buf, used);
}

void prpc_enc_response_error(prpc_encoder *enc, uint32_t msgid, int64_t code, const char *message)
{
    prpc_enc_array(enc, 4);
    prpc_enc_uint(enc, PRPC_MSG_RESPONSE);
    prpc_enc_uint(enc, msgid);
    prpc_enc_array(enc, 2);
    prpc_enc_int(enc, code);
    enc_text_lossy(enc, message != NULL ? message : "");
    prpc_enc_nil(enc);
}
