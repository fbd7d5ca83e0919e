/* UTF-8 validation for msgpack str values. */
#ifndef PRPC_CODEC_UTF8_H
#define PRPC_CODEC_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True if s[0..len) is well-formed UTF-8 as RFC 3629 defines it (no overlong
 * forms, no surrogates, nothing above U+10FFFF, no truncated sequence) and,
 * unless allow_nul is set, contains no NUL byte. */
bool prpc__utf8_valid(const uint8_t *s, size_t len, bool allow_nul);

#endif /* PRPC_CODEC_UTF8_H */
