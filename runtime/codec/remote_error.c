/* Decoding the error object of a response, in whatever shape a peer sent.
 *
 * piperpc sends [code, message]; other msgpack-rpc implementations send a
 * bare string, a code, a map, or anything else. The client must still give
 * its caller a code and a readable message, so unknown shapes are rendered
 * as bounded, escaped text. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codec/scan.h"
#include "codec/utf8.h"
#include "piperpc/codec.h"

/* Longest message text made from a foreign error object; longer text is cut
 * and ends in "...". */
#define TEXT_MAX 512u
/* Containers nested deeper than this are shown as "...". */
#define TEXT_DEPTH 8u

struct text {
    char buf[TEXT_MAX + 4];
    size_t len;
    bool full;
};

static void put_text(struct text *t, const char *s, size_t n)
{
    if (t->full)
        return;
    if (n > TEXT_MAX - t->len) {
        memcpy(t->buf + t->len, s, TEXT_MAX - t->len);
        t->len = TEXT_MAX;
        memcpy(t->buf + t->len, "...", 3);
        t->len += 3;
        t->full = true;
        return;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
}

static void put_cstr(struct text *t, const char *s) { put_text(t, s, strlen(s)); }

/* Copies a string, escaping control characters, NUL and bytes that are not
 * part of valid UTF-8 as \xNN so the result is always printable UTF-8. */
static void put_escaped(struct text *t, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && !t->full) {
        uint8_t c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            size_t j = i;
            while (j < n && p[j] >= 0x20 && p[j] < 0x7f && p[j] != '\\')
                j++;
            put_text(t, (const char *)p + i, j - i);
            i = j;
            continue;
        }
        if (c >= 0x80) {
            /* Keep a valid multi-byte sequence as it is. */
            size_t k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            if (k <= n - i && prpc__utf8_valid(p + i, k, false)) {
                put_text(t, (const char *)p + i, k);
                i += k;
                continue;
            }
        }
        char esc[8];
        if (c == '\\')
            snprintf(esc, sizeof esc, "\\\\");
        else
            snprintf(esc, sizeof esc, "\\x%02x", c);
        put_cstr(t, esc);
        i++;
    }
}

/* Renders the next value of dec as text. Malformed input ends the text with
 * "<malformed>" and stops the decoder. */
static void render(prpc_decoder *dec, struct text *t, unsigned depth)
{
    char num[48];
    const uint8_t *p;
    uint64_t len, children;
    switch (prpc_dec_peek(dec)) {
    case PRPC_TYPE_NIL:
        prpc_dec_nil(dec);
        put_cstr(t, "nil");
        return;
    case PRPC_TYPE_BOOL: {
        bool b;
        prpc_dec_bool(dec, &b);
        put_cstr(t, b ? "true" : "false");
        return;
    }
    case PRPC_TYPE_UINT: {
        uint64_t u;
        prpc_dec_u64(dec, &u);
        snprintf(num, sizeof num, "%" PRIu64, u);
        put_cstr(t, num);
        return;
    }
    case PRPC_TYPE_INT: {
        int64_t i;
        prpc_dec_i64(dec, &i);
        snprintf(num, sizeof num, "%" PRId64, i);
        put_cstr(t, num);
        return;
    }
    case PRPC_TYPE_FLOAT: {
        double d;
        prpc_dec_f64(dec, &d);
        snprintf(num, sizeof num, "%.17g", d);
        put_cstr(t, num);
        return;
    }
    case PRPC_TYPE_STR:
    case PRPC_TYPE_BIN: {
        bool bin = prpc_dec_peek(dec) == PRPC_TYPE_BIN;
        p = dec->pos;
        if ((size_t)(dec->end - p) < prpc__head_len[*p])
            break;
        prpc__head_decode(p, &len, &children);
        p += prpc__head_len[*p];
        if (len > (uint64_t)(dec->end - p))
            break;
        dec->pos = p + len;
        if (bin) {
            snprintf(num, sizeof num, "<%" PRIu64 " bytes>", len);
            put_cstr(t, num);
        } else {
            put_cstr(t, "\"");
            put_escaped(t, p, (size_t)len);
            put_cstr(t, "\"");
        }
        return;
    }
    case PRPC_TYPE_ARRAY:
    case PRPC_TYPE_MAP: {
        bool map = prpc_dec_peek(dec) == PRPC_TYPE_MAP;
        uint32_t n = 0;
        if (depth >= TEXT_DEPTH) {
            put_cstr(t, "...");
            prpc_dec_skip(dec);
            return;
        }
        if (map)
            prpc_dec_map(dec, &n);
        else
            prpc_dec_array(dec, &n);
        if (dec->status != PRPC_OK)
            break;
        put_cstr(t, map ? "{" : "[");
        for (uint32_t i = 0; i < n && dec->status == PRPC_OK; i++) {
            if (i != 0)
                put_cstr(t, ", ");
            if (t->full) {
                /* Keep the decoder in step but stop rendering. */
                prpc_dec_skip(dec);
                if (map)
                    prpc_dec_skip(dec);
                continue;
            }
            render(dec, t, depth + 1);
            if (map) {
                put_cstr(t, ": ");
                render(dec, t, depth + 1);
            }
        }
        if (dec->status == PRPC_OK)
            put_cstr(t, map ? "}" : "]");
        return;
    }
    case PRPC_TYPE_EXT: {
        size_t vlen;
        p = dec->pos;
        if (prpc__value_len(p, (size_t)(dec->end - p), &vlen) != PRPC_OK)
            break;
        dec->pos = p + vlen;
        snprintf(num, sizeof num, "<ext %zu bytes>", vlen);
        put_cstr(t, num);
        return;
    }
    case PRPC_TYPE_NONE:
        break;
    }
    prpc_dec_fail(dec, PRPC_ERR_PROTOCOL);
    put_cstr(t, "<malformed>");
}

/* If the next value is an integer that fits int64, consumes it. */
static bool take_code(prpc_decoder *dec, int64_t *code)
{
    prpc_type ty = prpc_dec_peek(dec);
    if (ty != PRPC_TYPE_INT && ty != PRPC_TYPE_UINT)
        return false;
    prpc_decoder probe = *dec;
    prpc_dec_i64(&probe, code);
    if (probe.status != PRPC_OK)
        return false;
    *dec = probe;
    return true;
}

/* If the next value is a str of valid UTF-8 without NUL, consumes it. */
static bool take_message(prpc_decoder *dec, struct text *t)
{
    if (prpc_dec_peek(dec) != PRPC_TYPE_STR)
        return false;
    const uint8_t *p = dec->pos;
    uint64_t len, children;
    if ((size_t)(dec->end - p) < prpc__head_len[*p])
        return false;
    prpc__head_decode(p, &len, &children);
    p += prpc__head_len[*p];
    if (len > (uint64_t)(dec->end - p))
        return false;
    put_escaped(t, p, (size_t)len);
    dec->pos = p + len;
    return true;
}

static void default_message(struct text *t, int64_t code)
{
    if (code < 0 && code >= PRPC_STATUS_MIN) {
        put_cstr(t, prpc_strerror((prpc_status)code));
    } else {
        char num[48];
        snprintf(num, sizeof num, "remote error %" PRId64, code);
        put_cstr(t, num);
    }
}

prpc_status prpc_remote_error_decode(prpc_any error, prpc_arena *arena, prpc_remote_error *out)
{
    if (out == NULL || arena == NULL)
        return PRPC_ERR_INVALID_ARG;
    out->code = PRPC_ERR_REMOTE;
    out->message = "";
    struct text t;
    t.len = 0;
    t.full = false;
    prpc_decoder dec;
    prpc_dec_init(&dec, error.data, error.data != NULL ? error.len : 0, NULL);

    int64_t code;
    prpc_type ty = prpc_dec_peek(&dec);
    if (take_code(&dec, &code)) {
        out->code = code; /* a bare code */
        default_message(&t, code);
    } else if (ty == PRPC_TYPE_STR && take_message(&dec, &t)) {
        /* a bare message */
    } else if (ty == PRPC_TYPE_ARRAY) {
        /* [code, message, ...]: piperpc's shape; later elements are
         * ignored, as a struct's extra trailing fields are. */
        prpc_decoder probe = dec;
        uint32_t n = 0;
        prpc_dec_array(&probe, &n);
        if (n >= 1 && take_code(&probe, &code)) {
            out->code = code;
            if (n == 1)
                default_message(&t, code);
            else if (!take_message(&probe, &t))
                render(&probe, &t, 1);
        } else {
            render(&dec, &t, 0);
        }
    } else {
        render(&dec, &t, 0);
    }

    char *msg = prpc_arena_strndup(arena, t.buf, t.len);
    if (msg == NULL)
        return PRPC_ERR_NO_MEMORY;
    out->message = msg;
    return PRPC_OK;
}

prpc_status prpc_remote_error_status(const prpc_remote_error *err)
{
    if (err != NULL && err->code < 0 && err->code >= PRPC_STATUS_MIN)
        return (prpc_status)err->code;
    return PRPC_ERR_REMOTE;
}
