/* UTF-8 validation: a word-at-a-time ASCII fast path and an exact check of
 * multi-byte sequences (Table 3-7 of the Unicode standard). */
#include <string.h>

#include "codec/utf8.h"

#define HIGH_BITS UINT64_C(0x8080808080808080)
#define LOW_BITS UINT64_C(0x0101010101010101)

bool prpc__utf8_valid(const uint8_t *s, size_t len, bool allow_nul)
{
    size_t i = 0;
    while (i < len) {
        /* Most strings are ASCII: check eight bytes at once for a high bit
         * (a multi-byte sequence) and, when NUL is forbidden, a zero byte. */
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & HIGH_BITS)
                break;
            if (!allow_nul && ((w - LOW_BITS) & ~w & HIGH_BITS))
                return false;
            i += 8;
        }
        if (i >= len)
            break;
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c == 0 && !allow_nul)
                return false;
            i++;
            continue;
        }
        size_t n;      /* continuation bytes */
        uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            else if (c == 0xed)
                hi = 0x9f; /* surrogates U+D800..U+DFFF */
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            else if (c == 0xf4)
                hi = 0x8f; /* above U+10FFFF */
        } else {
            return false; /* 0x80..0xc1 (stray continuation, overlong) or 0xf5..0xff */
        }
        if (len - i <= n)
            return false; /* truncated */
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += n + 1;
    }
    return true;
}
