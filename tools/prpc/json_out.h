/* prpc's msgpack-to-JSON printer and base64 codec. */
#ifndef PRPC_TOOL_JSON_OUT_H
#define PRPC_TOOL_JSON_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <piperpc/piperpc.h>

/* A growable text buffer (prpc_alloc); on allocation failure `failed` is set
 * and further appends are dropped. */
typedef struct jbuf {
    char *data;
    size_t len, cap;
    int failed;
} jbuf;

void jbuf_free(jbuf *b);
void jbuf_puts(jbuf *b, const char *s);

/* Appends one msgpack value read from dec as JSON text (see README.md for
 * the mapping of bin, ext, non-string map keys and invalid strings).
 * Returns the decoder's status. */
prpc_status json_from_msgpack(prpc_decoder *dec, jbuf *out);

/* Standard base64 with padding. */
void base64_encode(const uint8_t *data, size_t len, jbuf *out);
/* Decodes standard base64 (padding optional, no whitespace) into a
 * prpc_alloc'ed buffer; returns -1 on malformed input or no memory. */
int base64_decode(const char *text, uint8_t **out, size_t *out_len);

#endif
