/* msgpack -> JSON for prpc's output, written directly from the decoder so
 * 64-bit integers print exactly (a JSON library keeping numbers as doubles
 * would round them), and base64 for binary data. */
#include "json_out.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

void jbuf_free(jbuf *b)
{
    prpc_free(b->data);
    memset(b, 0, sizeof *b);
}

static void jbuf_put(jbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = prpc_realloc(b->data, cap);
        if (d == NULL) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void jbuf_puts(jbuf *b, const char *s)
{
    jbuf_put(b, s, strlen(s));
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(const uint8_t *d, size_t len, jbuf *out)
{
    char q[4];
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)d[i + 1] << 8;
        if (i + 2 < len)
            v |= d[i + 2];
        q[0] = b64[(v >> 18) & 63];
        q[1] = b64[(v >> 12) & 63];
        q[2] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        q[3] = i + 2 < len ? b64[v & 63] : '=';
        jbuf_put(out, q, 4);
    }
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

int base64_decode(const char *text, uint8_t **out, size_t *out_len)
{
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    uint8_t *buf = prpc_alloc(n / 4 * 3 + 3);
    if (buf == NULL)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(text[i]);
        if (v < 0) {
            prpc_free(buf);
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out = buf;
    *out_len = o;
    return 0;
}

/* True if s[0..n) is UTF-8 without NUL, so it can be a JSON string. */
static bool text_ok(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (c == 0 || k == 0 || i + k > n || (k == 2 && c < 0xc2) || (k == 4 && c > 0xf4))
            return false;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
        if (k == 3) {
            uint32_t cp = ((uint32_t)(c & 0x0f) << 12) | ((uint32_t)(s[i + 1] & 0x3f) << 6) | (s[i + 2] & 0x3f);
            if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
                return false;
        }
        if (k == 4) {
            uint32_t cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3f) << 12);
            if (cp < 0x10000 || cp > 0x10ffff)
                return false;
        }
        i += k;
    }
    return true;
}

static void json_string(const uint8_t *s, size_t n, jbuf *out)
{
    jbuf_put(out, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jbuf_put(out, (const char *)s + run, i - run);
        char esc[8];
        switch (c) {
        case '"': jbuf_puts(out, "\\\""); break;
        case '\\': jbuf_puts(out, "\\\\"); break;
        case '\n': jbuf_puts(out, "\\n"); break;
        case '\r': jbuf_puts(out, "\\r"); break;
        case '\t': jbuf_puts(out, "\\t"); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            jbuf_puts(out, esc);
        }
        run = i + 1;
    }
    jbuf_put(out, (const char *)s + run, n - run);
    jbuf_put(out, "\"", 1);
}

static void json_tagged_b64(const char *tag, const uint8_t *d, size_t n, jbuf *out)
{
    jbuf_puts(out, "{\"");
    jbuf_puts(out, tag);
    jbuf_puts(out, "\":\"");
    base64_encode(d, n, out);
    jbuf_puts(out, "\"}");
}

static prpc_status json_value(prpc_decoder *dec, jbuf *out, unsigned depth);

/* A map key: a str that is valid text stays as is; any other key is written
 * as its JSON text inside a string, so the output stays valid JSON. */
static void json_key(prpc_decoder *dec, jbuf *out, unsigned depth)
{
    if (prpc_dec_peek(dec) == PRPC_TYPE_STR) {
        prpc_decoder probe = *dec;
        prpc_bytes b;
        prpc_dec_bytes(&probe, &b);
        if (prpc_dec_status(&probe) == PRPC_OK && text_ok(b.data, b.len)) {
            *dec = probe;
            json_string(b.data, b.len, out);
            return;
        }
    }
    jbuf inner = {0};
    json_value(dec, &inner, depth + 1);
    if (inner.failed)
        out->failed = 1;
    json_string((const uint8_t *)(inner.data ? inner.data : ""), inner.len, out);
    jbuf_free(&inner);
}

static prpc_status json_value(prpc_decoder *dec, jbuf *out, unsigned depth)
{
    char num[64];
    if (depth > 64) {
        prpc_dec_fail(dec, PRPC_ERR_TOO_DEEP);
        return prpc_dec_status(dec);
    }
    switch (prpc_dec_peek(dec)) {
    case PRPC_TYPE_NIL:
        prpc_dec_nil(dec);
        jbuf_puts(out, "null");
        break;
    case PRPC_TYPE_BOOL: {
        bool v = false;
        prpc_dec_bool(dec, &v);
        jbuf_puts(out, v ? "true" : "false");
        break;
    }
    case PRPC_TYPE_UINT: {
        uint64_t v = 0;
        prpc_dec_u64(dec, &v);
        snprintf(num, sizeof num, "%" PRIu64, v);
        jbuf_puts(out, num);
        break;
    }
    case PRPC_TYPE_INT: {
        int64_t v = 0;
        prpc_dec_i64(dec, &v);
        snprintf(num, sizeof num, "%" PRId64, v);
        jbuf_puts(out, num);
        break;
    }
    case PRPC_TYPE_FLOAT: {
        double v = 0;
        prpc_dec_f64(dec, &v);
        if (v != v || v - v != 0) /* NaN and infinities have no JSON form */
            jbuf_puts(out, "null");
        else {
            snprintf(num, sizeof num, "%.17g", v);
            jbuf_puts(out, num);
        }
        break;
    }
    case PRPC_TYPE_STR: {
        prpc_bytes b = {0};
        prpc_dec_bytes(dec, &b);
        if (text_ok(b.data, b.len))
            json_string(b.data, b.len, out);
        else
            json_tagged_b64("$str", b.data, b.len, out); /* not valid text */
        break;
    }
    case PRPC_TYPE_BIN: {
        prpc_bytes b = {0};
        prpc_dec_bytes(dec, &b);
        json_tagged_b64("$bin", b.data, b.len, out);
        break;
    }
    case PRPC_TYPE_ARRAY: {
        uint32_t n = 0;
        prpc_dec_array(dec, &n);
        jbuf_puts(out, "[");
        for (uint32_t i = 0; i < n && prpc_dec_status(dec) == PRPC_OK; i++) {
            if (i)
                jbuf_puts(out, ",");
            json_value(dec, out, depth + 1);
        }
        jbuf_puts(out, "]");
        break;
    }
    case PRPC_TYPE_MAP: {
        uint32_t n = 0;
        prpc_dec_map(dec, &n);
        jbuf_puts(out, "{");
        for (uint32_t i = 0; i < n && prpc_dec_status(dec) == PRPC_OK; i++) {
            if (i)
                jbuf_puts(out, ",");
            json_key(dec, out, depth);
            jbuf_puts(out, ":");
            json_value(dec, out, depth + 1);
        }
        jbuf_puts(out, "}");
        break;
    }
    case PRPC_TYPE_EXT: {
        /* {"$ext":[type, "base64 of the data"]} */
        prpc_any raw = {0};
        prpc_dec_any(dec, &raw);
        if (prpc_dec_status(dec) != PRPC_OK || raw.len < 2)
            break;
        const uint8_t *p = raw.data;
        size_t hdr;
        switch (p[0]) {
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: hdr = 1; break;
        case 0xc7: hdr = 2; break;
        case 0xc8: hdr = 3; break;
        default: hdr = 5; break; /* 0xc9 */
        }
        if (raw.len < hdr + 1)
            break;
        snprintf(num, sizeof num, "{\"$ext\":[%d,\"", (int)(int8_t)p[hdr]);
        jbuf_puts(out, num);
        base64_encode(p + hdr + 1, raw.len - hdr - 1, out);
        jbuf_puts(out, "\"]}");
        break;
    }
    default:
        if (prpc_dec_status(dec) == PRPC_OK)
            prpc_dec_fail(dec, PRPC_ERR_PROTOCOL);
        break;
    }
    return prpc_dec_status(dec);
}

prpc_status json_from_msgpack(prpc_decoder *dec, jbuf *out)
{
    prpc_status st = json_value(dec, out, 0);
    if (st == PRPC_OK && out->failed)
        st = PRPC_ERR_NO_MEMORY;
    return st;
}
