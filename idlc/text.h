/* A growing, NUL-terminated text buffer shared by the checker (signature
 * strings), the diagnostics (one message at a time) and the generator (whole
 * files). An allocation failure sets `failed`, which sticks: later appends
 * do nothing, so callers check once at the end. */
#ifndef IDLC_TEXT_H
#define IDLC_TEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "idlc.h"

typedef struct idlc_text {
    char *p;      /* the text, NUL-terminated once anything was appended */
    size_t len;   /* bytes before the NUL */
    size_t cap;
    bool failed;
} idlc_text;

void idlc_text_put(idlc_text *b, const char *s, size_t n);
void idlc_text_puts(idlc_text *b, const char *s);
void idlc_text_vprintf(idlc_text *b, const char *fmt, va_list ap);
void idlc_text_printf(idlc_text *b, const char *fmt, ...) IDLC_PRINTF(2, 3);
/* Frees the text and empties the buffer for reuse. */
void idlc_text_free(idlc_text *b);

#endif /* IDLC_TEXT_H */
