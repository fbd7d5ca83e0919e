/* msgpack-rpc envelopes: parsing one message into a prpc_msg and writing
 * request, notification and response headers. */
#include <string.h>

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

void prpc_enc_response_error(prpc_encoder *enc, uint32_t msgid, int64_t code, const char *message)
{
    prpc_enc_array(enc, 4);
    prpc_enc_uint(enc, PRPC_MSG_RESPONSE);
    prpc_enc_uint(enc, msgid);
    prpc_enc_array(enc, 2);
    prpc_enc_int(enc, code);
    prpc_enc_cstr(enc, message != NULL ? message : "");
    prpc_enc_nil(enc);
}
