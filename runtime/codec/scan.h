/* The msgpack structure scanner of the streaming reader and of
 * prpc_msgpack_validate, and the value-length walk of the decoder's skip.
 *
 * prpc__scan is a resumable state machine: it takes input in pieces of any
 * size and keeps, per open array or map, the number of elements not yet
 * started, so it needs O(1) work per byte however the input is split. Before
 * it accepts a header it checks that the header's declared payload plus one
 * byte for every announced element still fits, so a length bomb fails on the
 * header that declares it. prpc_msgpack_validate applies the same rules in a
 * non-resumable loop when the whole input is at hand (scan.c); the fuzzer
 * checks that both agree. */
#ifndef PRPC_CODEC_SCAN_H
#define PRPC_CODEC_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "piperpc/codec.h"

/* Bytes in the header of a value by its first byte: the lead byte, any
 * length or count, the ext type byte, and the whole body of fixed-size
 * scalars (ints, floats). 0 for the reserved byte 0xc1. */
extern const uint8_t prpc__head_len[256];

static inline uint16_t prpc__be16(const uint8_t *p) { return (uint16_t)((unsigned)p[0] << 8 | p[1]); }
static inline uint32_t prpc__be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t prpc__be64(const uint8_t *p)
{
    return (uint64_t)prpc__be32(p) << 32 | prpc__be32(p + 4);
}

/* The scanner's inner loops run once per value; compilers otherwise keep the
 * header decoder out of line. */
#if defined(__GNUC__)
#  define PRPC__HOT_INLINE inline __attribute__((always_inline))
#else
#  define PRPC__HOT_INLINE inline
#endif

/* What a complete header announces: payload bytes that follow it (str, bin,
 * ext bodies) and elements that follow it (array items, map keys + values). */
static PRPC__HOT_INLINE void prpc__head_decode(const uint8_t *h, uint64_t *payload, uint64_t *children)
{
    uint8_t b = h[0];
    *payload = 0;
    *children = 0;
    if (b <= 0x7f || b >= 0xe0)
        return; /* fixint */
    if (b <= 0x8f) {
        *children = 2u * (b & 0x0fu);
        return;
    }
    if (b <= 0x9f) {
        *children = b & 0x0fu;
        return;
    }
    if (b <= 0xbf) {
        *payload = b & 0x1fu;
        return;
    }
    switch (b) {
    case 0xc4: case 0xc7: case 0xd9: *payload = h[1]; break;
    case 0xc5: case 0xc8: case 0xda: *payload = prpc__be16(h + 1); break;
    case 0xc6: case 0xc9: case 0xdb: *payload = prpc__be32(h + 1); break;
    case 0xd4: *payload = 1; break;
    case 0xd5: *payload = 2; break;
    case 0xd6: *payload = 4; break;
    case 0xd7: *payload = 8; break;
    case 0xd8: *payload = 16; break;
    case 0xdc: *children = prpc__be16(h + 1); break;
    case 0xdd: *children = prpc__be32(h + 1); break;
    case 0xde: *children = 2u * prpc__be16(h + 1); break;
    case 0xdf: *children = 2u * (uint64_t)prpc__be32(h + 1); break;
    default: break; /* nil, bool, fixed-size ints and floats */
    }
}

static inline bool prpc__head_is_container(uint8_t b)
{
    return (b >= 0x80 && b <= 0x9f) || (b >= 0xdc && b <= 0xdf);
}

typedef struct prpc__scan {
    uint64_t max_size;    /* a value past this many bytes is PRPC_ERR_TOO_LARGE */
    uint64_t avail;       /* bytes that exist (PRPC_ERR_PROTOCOL past them); UINT64_MAX for a stream */
    uint64_t consumed;    /* bytes of the current value accepted so far */
    uint64_t skip;        /* payload bytes still to pass over */
    uint64_t outstanding; /* elements announced but not yet started, all levels */
    uint32_t max_depth;
    uint32_t depth;       /* open containers */
    bool done;            /* one whole value has been seen */
    uint8_t head_have;    /* bytes of a header split across pieces */
    uint8_t head_need;
    uint8_t head[9];
    uint64_t left[PRPC_MAX_DEPTH_CAP]; /* per open container: elements not yet started */
} prpc__scan;

/* Starts scanning one value. avail is the number of bytes that exist when
 * the whole input is known (validation), UINT64_MAX for a stream. limits must
 * already be resolved. */
void prpc__scan_init(prpc__scan *s, const prpc_limits *limits, uint64_t avail);

/* Scans the next piece. Stops at the end of the value (s->done), so *used may
 * be less than n; the rest belongs to what follows. Returns PRPC_ERR_PROTOCOL,
 * PRPC_ERR_TOO_DEEP or PRPC_ERR_TOO_LARGE on bad input; the state is then
 * unusable. */
prpc_status prpc__scan_feed(prpc__scan *s, const uint8_t *p, size_t n, size_t *used);

/* The length of the one value at p[0..n): every header and length is checked
 * against the bytes that remain, but nesting is not limited (nothing here
 * recurses). PRPC_ERR_PROTOCOL for malformed or truncated input. */
prpc_status prpc__value_len(const uint8_t *p, size_t n, size_t *len);

#endif /* PRPC_CODEC_SCAN_H */
