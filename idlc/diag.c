/* Diagnostics: `file:line:col: error: message`, the source line, and a
 * `^~~~` underline under the span, handed to the options' callback. Errors
 * past the cap are counted but not shown. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "text.h"

/* Hands one whole diagnostic to the callback, or to stderr without one. */
static void emit(idlc_ctx *ctx, const char *text)
{
    if (ctx->opts.diag)
        ctx->opts.diag(ctx->opts.diag_user, text);
    else
        fputs(text, stderr);
}

/* The source line, with control characters other than tab shown as spaces
 * so the terminal stays sane, then the underline. */
static void put_excerpt(idlc_ctx *ctx, idlc_text *b, const idlc_loc *loc)
{
    size_t len = 0;
    const char *line = idlc__source_line(ctx, loc->file, loc->line, &len);
    if (!line)
        return;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        char out = (c < 0x20 && c != '\t') || c == 0x7f ? ' ' : (char)c;
        idlc_text_put(b, &out, 1);
    }
    idlc_text_put(b, "\n", 1);
    size_t col = loc->col > 0 ? (size_t)loc->col : 1;
    size_t end;
    if (loc->end_line == loc->line && loc->end_col >= loc->col)
        end = (size_t)loc->end_col;
    else if (loc->end_line > loc->line)
        end = len; /* a span over several lines is underlined to the end of its first */
    else
        end = col;
    if (end > len)
        end = len > col ? len : col; /* end of file or of line: at least a caret */
    for (size_t i = 1; i < col; i++)
        idlc_text_put(b, i - 1 < len && line[i - 1] == '\t' ? "\t" : " ", 1);
    idlc_text_put(b, "^", 1);
    for (size_t i = col + 1; i <= end; i++)
        idlc_text_put(b, "~", 1);
    idlc_text_put(b, "\n", 1);
}

static void report(idlc_ctx *ctx, const char *kind, const idlc_loc *loc, const char *fmt, va_list ap)
{
    idlc_text b = {0};
    if (loc && loc->file && loc->line > 0)
        idlc_text_printf(&b, "%s:%d:%d: %s: ", loc->file, loc->line, loc->col, kind);
    else if (loc && loc->file)
        idlc_text_printf(&b, "%s: %s: ", loc->file, kind);
    else
        idlc_text_printf(&b, "idlc: %s: ", kind);
    idlc_text_vprintf(&b, fmt, ap);
    idlc_text_put(&b, "\n", 1);
    if (loc && loc->file && loc->line > 0)
        put_excerpt(ctx, &b, loc);
    if (!b.failed && b.p)
        emit(ctx, b.p);
    else
        ctx->oom = true;
    idlc_text_free(&b);
}

void idlc_error(idlc_ctx *ctx, const idlc_loc *loc, const char *fmt, ...)
{
    ctx->errors++;
    if (ctx->errors > ctx->max_errors) {
        ctx->last_printed = false;
        if (!ctx->capped) {
            ctx->capped = true;
            char msg[96];
            snprintf(msg, sizeof(msg), "idlc: error: too many errors (more than %u); stopping here\n",
                     ctx->max_errors);
            emit(ctx, msg);
        }
        return;
    }
    ctx->last_printed = true;
    va_list ap;
    va_start(ap, fmt);
    report(ctx, "error", loc, fmt, ap);
    va_end(ap);
}

void idlc_note(idlc_ctx *ctx, const idlc_loc *loc, const char *fmt, ...)
{
    if (!ctx->last_printed)
        return;
    va_list ap;
    va_start(ap, fmt);
    report(ctx, "note", loc, fmt, ap);
    va_end(ap);
}
