/* The msgpack structure scanner, prpc_limits_resolve and
 * prpc_msgpack_validate. See scan.h for how the scanner bounds its input. */
#include "codec/scan.h"

#define R8(x) x, x, x, x, x, x, x, x
#define R16(x) R8(x), R8(x)
#define R32(x) R16(x), R16(x)

const uint8_t prpc__head_len[256] = {
    /* 0x00..0x7f positive fixint */
    R32(1), R32(1), R32(1), R32(1),
    /* 0x80..0x8f fixmap, 0x90..0x9f fixarray, 0xa0..0xbf fixstr */
    R16(1), R16(1), R32(1),
    /* 0xc0 nil, 0xc1 never used, 0xc2 false, 0xc3 true */
    1, 0, 1, 1,
    /* 0xc4..0xc6 bin 8/16/32, 0xc7..0xc9 ext 8/16/32 (length + type byte) */
    2, 3, 5, 3, 4, 6,
    /* 0xca float 32, 0xcb float 64 */
    5, 9,
    /* 0xcc..0xcf uint 8..64, 0xd0..0xd3 int 8..64 */
    2, 3, 5, 9, 2, 3, 5, 9,
    /* 0xd4..0xd8 fixext 1/2/4/8/16 (type byte) */
    2, 2, 2, 2, 2,
    /* 0xd9..0xdb str 8/16/32, 0xdc..0xdd array 16/32, 0xde..0xdf map 16/32 */
    2, 3, 5, 3, 5, 3, 5,
    /* 0xe0..0xff negative fixint */
    R32(1),
};

_Static_assert(sizeof prpc__head_len == 256, "one entry per lead byte");

prpc_limits prpc_limits_resolve(const prpc_limits *limits)
{
    prpc_limits l = {0, 0};
    if (limits != NULL)
        l = *limits;
    if (l.max_message_size == 0)
        l.max_message_size = PRPC_DEFAULT_MAX_MESSAGE_SIZE;
    if (l.max_depth == 0)
        l.max_depth = PRPC_DEFAULT_MAX_DEPTH;
    if (l.max_depth > PRPC_MAX_DEPTH_CAP)
        l.max_depth = PRPC_MAX_DEPTH_CAP;
    return l;
}

void prpc__scan_init(prpc__scan *s, const prpc_limits *limits, uint64_t avail)
{
    /* left[] is written before it is read, so it is not cleared: the state
     * is reset once per message and must stay cheap. */
    s->max_size = limits->max_message_size;
    s->avail = avail;
    s->consumed = 0;
    s->skip = 0;
    s->outstanding = 0;
    s->max_depth = limits->max_depth;
    s->depth = 0;
    s->done = false;
    s->head_have = 0;
    s->head_need = 0;
}

/* After a value ends: close every container whose elements have all been
 * seen; the scan is done when none is left open. */
static inline void value_end(prpc__scan *s)
{
    while (s->depth > 0 && s->left[s->depth - 1] == 0)
        s->depth--;
    if (s->depth == 0)
        s->done = true;
}

/* Checks that `need` more bytes fit: first against the bytes that exist (a
 * length larger than the data is malformed input), then against the size
 * limit. */
static inline prpc_status check_room(const prpc__scan *s, uint64_t payload, uint64_t elements)
{
    if (s->consumed > s->avail)
        return PRPC_ERR_PROTOCOL;
    uint64_t room = s->avail - s->consumed;
    if (s->outstanding > room || elements > room - s->outstanding ||
        payload > room - s->outstanding - elements)
        return PRPC_ERR_PROTOCOL;
    if (s->consumed > s->max_size)
        return PRPC_ERR_TOO_LARGE;
    room = s->max_size - s->consumed;
    if (s->outstanding > room || elements > room - s->outstanding ||
        payload > room - s->outstanding - elements)
        return PRPC_ERR_TOO_LARGE;
    return PRPC_OK;
}

/* A whole header h has just been accepted (s->consumed includes it). */
static inline prpc_status on_header(prpc__scan *s, const uint8_t *h)
{
    uint64_t payload, children;
    prpc__head_decode(h, &payload, &children);
    if (s->depth > 0) {
        /* This value was announced by its container; it has now started. */
        s->left[s->depth - 1]--;
        s->outstanding--;
    }
    prpc_status st = check_room(s, payload, children);
    if (st != PRPC_OK)
        return st;
    if (prpc__head_is_container(h[0])) {
        if (s->depth >= s->max_depth)
            return PRPC_ERR_TOO_DEEP;
        if (children != 0) {
            s->left[s->depth++] = children;
            s->outstanding += children;
            return PRPC_OK;
        }
    } else if (payload != 0) {
        s->skip = payload;
        return PRPC_OK;
    }
    value_end(s);
    return PRPC_OK;
}

prpc_status prpc__scan_feed(prpc__scan *s, const uint8_t *p, size_t n, size_t *used)
{
    size_t i = 0;
    prpc_status st = PRPC_OK;
    while (i < n && !s->done) {
        if (s->skip != 0) {
            size_t take = s->skip < (uint64_t)(n - i) ? (size_t)s->skip : n - i;
            i += take;
            s->skip -= take;
            s->consumed += take;
            if (s->skip == 0)
                value_end(s);
            continue;
        }
        const uint8_t *h;
        size_t hlen;
        if (s->head_have == 0) {
            hlen = prpc__head_len[p[i]];
            if (hlen == 0) {
                st = PRPC_ERR_PROTOCOL; /* 0xc1 */
                break;
            }
            if (n - i < hlen) {
                /* The header is split across pieces: keep its start. */
                memcpy(s->head, p + i, n - i);
                s->head_have = (uint8_t)(n - i);
                s->head_need = (uint8_t)hlen;
                s->consumed += n - i;
                i = n;
                break;
            }
            h = p + i;
            i += hlen;
            s->consumed += hlen;
        } else {
            size_t want = (size_t)(s->head_need - s->head_have);
            size_t take = want < n - i ? want : n - i;
            memcpy(s->head + s->head_have, p + i, take);
            s->head_have = (uint8_t)(s->head_have + take);
            s->consumed += take;
            i += take;
            if (s->head_have < s->head_need)
                break;
            h = s->head;
            s->head_have = 0;
        }
        st = on_header(s, h);
        if (st != PRPC_OK)
            break;
    }
    *used = i;
    return st;
}

prpc_status prpc__value_len(const uint8_t *p, size_t n, size_t *len)
{
    /* Without nesting limits no stack is needed: a count of the values still
     * to read is enough to find the end. Every value needs at least one
     * byte, so pending never exceeds the bytes that remain. */
    uint64_t pending = 1;
    size_t i = 0;
    while (pending != 0) {
        if (i >= n)
            return PRPC_ERR_PROTOCOL;
        size_t hlen = prpc__head_len[p[i]];
        if (hlen == 0 || n - i < hlen)
            return PRPC_ERR_PROTOCOL;
        uint64_t payload, children;
        prpc__head_decode(p + i, &payload, &children);
        i += hlen;
        pending--;
        uint64_t room = n - i;
        if (pending > room || children > room - pending || payload > room - pending - children)
            return PRPC_ERR_PROTOCOL;
        i += (size_t)payload;
        pending += children;
    }
    *len = i;
    return PRPC_OK;
}

/* The scanner's rules for input that is all there and no longer than the
 * size limit (so no value can exceed the limit, and every length is checked
 * against the data alone): the same checks without the bookkeeping that
 * resuming needs. This is the path of every message a transport delivers. */
static prpc_status validate_whole(const uint8_t *p, size_t n, uint32_t max_depth, size_t *value_len)
{
    uint64_t left[PRPC_MAX_DEPTH_CAP];
    uint32_t depth = 0;
    uint64_t outstanding = 0;
    size_t i = 0;
    for (;;) {
        if (i >= n)
            return PRPC_ERR_PROTOCOL;
        uint8_t b = p[i];
        size_t hlen = prpc__head_len[b];
        if (hlen == 0 || n - i < hlen)
            return PRPC_ERR_PROTOCOL;
        uint64_t payload, children;
        prpc__head_decode(p + i, &payload, &children);
        i += hlen;
        if (depth > 0) {
            left[depth - 1]--;
            outstanding--;
        }
        uint64_t room = n - i;
        if (outstanding > room || children > room - outstanding ||
            payload > room - outstanding - children)
            return PRPC_ERR_PROTOCOL;
        if (prpc__head_is_container(b)) {
            if (depth >= max_depth)
                return PRPC_ERR_TOO_DEEP;
            if (children != 0) {
                left[depth++] = children;
                outstanding += children;
                continue;
            }
        } else {
            i += (size_t)payload;
        }
        while (depth > 0 && left[depth - 1] == 0)
            depth--;
        if (depth == 0) {
            *value_len = i;
            return PRPC_OK;
        }
    }
}

prpc_status prpc_msgpack_validate(const void *data, size_t len, const prpc_limits *limits,
                                  size_t *value_len)
{
    if (value_len != NULL)
        *value_len = 0;
    if (data == NULL && len != 0)
        return PRPC_ERR_INVALID_ARG;
    prpc_limits l = prpc_limits_resolve(limits);
    if (len <= l.max_message_size) {
        size_t vlen = 0;
        prpc_status st = validate_whole(data, len, l.max_depth, &vlen);
        if (st == PRPC_OK && value_len != NULL)
            *value_len = vlen;
        return st;
    }
    /* Longer input: the resumable scanner tells a value that exceeds the
     * limit from one that lies about its length. */
    prpc__scan s;
    prpc__scan_init(&s, &l, len);
    size_t used = 0;
    prpc_status st = prpc__scan_feed(&s, data, len, &used);
    if (st != PRPC_OK)
        return st;
    if (!s.done)
        return PRPC_ERR_PROTOCOL; /* truncated, or empty */
    if (value_len != NULL)
        *value_len = used;
    return PRPC_OK;
}
