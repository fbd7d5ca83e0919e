/* State shared by the scanner (lexer.l) and the grammar (parser.y) while one
 * file is parsed, and the small tree-building helpers the grammar actions
 * call. Nothing here outlives idlc__parse_buffer(). */
#ifndef IDLC_PARSE_STATE_H
#define IDLC_PARSE_STATE_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctx.h"

/* The grammar's location type: bison's four fields plus `empty`, set for the
 * location of an empty rule so a rule's start can skip empty prefixes (an
 * absent attribute list) and land on its first real token, where its doc
 * comment is anchored. Columns are 1-based; last_column is inclusive. */
typedef struct idlc_yyltype {
    int first_line;
    int first_column;
    int last_line;
    int last_column;
    int empty;
} idlc_yyltype;

/* A doc comment and the position of the token that follows it. */
typedef struct idlc_doc_anchor {
    int line;
    int col;
    const char *text;
} idlc_doc_anchor;

/* Head, tail and length of a list under construction. */
typedef struct idlc_list {
    void *head;
    void *tail;
    size_t count;
} idlc_list;

typedef struct idlc_parse_state {
    idlc_ctx *ctx;
    idlc_file *file;
    void *scanner;

    /* Scanner position and mode. */
    int line;
    int col;
    bool attr_ok;        /* a '[' here opens an attribute list */
    int last_line;       /* end of the last token, where "unexpected end of */
    int last_col;        /* file" is reported */
    idlc_yyltype comment_start; /* of the block comment being skipped */
    jmp_buf fatal;       /* the scanner's fatal errors unwind to here */

    /* Doc comment text seen since the last token (growable, malloc'd). */
    char *pending;
    size_t pending_len;
    size_t pending_cap;
    bool have_pending;

    /* Doc comments anchored to the token after them, in source order. */
    idlc_doc_anchor *docs;
    size_t doc_count;
    size_t doc_cap;

    /* Declarations of the file, appended by the grammar. */
    idlc_list decls;
    idlc_list imports;
    idlc_list modules;   /* idlc_module_stmt, checked by idlc_check */
} idlc_parse_state;

/* Grammar helpers (parse_build.c). */
idlc_loc idlc__loc(const idlc_parse_state *ps, const idlc_yyltype *l);
const char *idlc__doc_at(idlc_parse_state *ps, const idlc_yyltype *l);
/* A type named by an identifier: a built-in scalar ("u64") or a reference. */
idlc_type *idlc__type_named(idlc_parse_state *ps, const char *name, const idlc_yyltype *l);
idlc_type *idlc__type_new(idlc_parse_state *ps, idlc_type_kind kind, const idlc_yyltype *l);
idlc_attr_kind idlc__attr_kind(const char *name);
/* Frees the scanner-side buffers once a file is parsed. */
void idlc__parse_finish(idlc_parse_state *ps);

/* Scanner helpers (lexer.l). */
bool idlc__doc_append(idlc_parse_state *ps, const char *text, size_t len);
void idlc__doc_anchor(idlc_parse_state *ps, int line, int col);

/* Parses one buffer (NUL-terminated, len bytes) into ps->file. Returns the
 * number of syntax errors reported. */
int idlc__parse_buffer(idlc_parse_state *ps, const char *text, size_t len);

#endif /* IDLC_PARSE_STATE_H */
