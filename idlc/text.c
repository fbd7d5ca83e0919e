/* The growing text buffer (text.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* Makes room for `more` bytes plus the NUL; false once out of memory. */
static bool reserve(idlc_text *b, size_t more)
{
    if (b->failed)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void idlc_text_put(idlc_text *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void idlc_text_puts(idlc_text *b, const char *s)
{
    idlc_text_put(b, s, strlen(s));
}

void idlc_text_vprintf(idlc_text *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void idlc_text_printf(idlc_text *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    idlc_text_vprintf(b, fmt, ap);
    va_end(ap);
}

void idlc_text_free(idlc_text *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
