/* The compiler context's private layout, shared by the files of the
 * idlc library (never by the generator, which uses idlc.h only). */
#ifndef IDLC_CTX_H
#define IDLC_CTX_H

#include <stdbool.h>
#include <stddef.h>

#include "idlc.h"

typedef struct idlc_chunk idlc_chunk;

/* One `module NAME;` statement as written; the checker verifies there is
 * exactly one and that it comes first. */
typedef struct idlc_module_stmt {
    const char *name;
    idlc_loc loc;            /* of the name */
    idlc_loc keyword_loc;    /* of `module` */
    bool late;               /* an import or declaration came before it */
    struct idlc_module_stmt *next;
} idlc_module_stmt;

/* Per-file bookkeeping that the public idlc_file does not show. */
typedef struct idlc_file_rec {
    idlc_file *file;
    unsigned long long dev; /* identity on disk, so "a.idl" and "./a.idl" */
    unsigned long long ino; /* are read once */
    bool has_identity;
    bool active;            /* its imports are being read (cycle detection) */
    unsigned syntax_errors; /* errors reported while parsing it */
    idlc_module_stmt *modules; /* every module statement, in order */
} idlc_file_rec;

/* One step of the chain of imports being read. */
typedef struct idlc_import_frame {
    idlc_file *file;
    idlc_import *via;       /* the import in `file` being followed, or NULL */
} idlc_import_frame;

typedef struct idlc_symbol {
    const char *key;        /* qualified name "module.Name" */
    idlc_decl *decl;
} idlc_symbol;

struct idlc_ctx {
    idlc_options opts;
    unsigned max_errors;

    idlc_chunk *chunks;     /* arena */
    bool oom;

    unsigned errors;
    bool capped;            /* "too many errors" was printed */
    bool last_printed;      /* the last error was printed: its notes may be */

    char **include_dirs;    /* arena strings */
    size_t include_count;
    size_t include_cap;

    idlc_file *files;
    idlc_file *files_tail;
    idlc_file_rec *recs;    /* malloc'd */
    size_t rec_count;
    size_t rec_cap;

    idlc_import_frame *stack; /* malloc'd */
    size_t stack_len;
    size_t stack_cap;

    idlc_symbol *symbols;   /* open-addressing table, malloc'd; built by idlc_check */
    size_t symbol_cap;
    size_t symbol_count;

    bool checked;
};

/* Symbol table (check.c builds it; ctx.c frees and searches it). */
idlc_decl *idlc__symbol_get(const idlc_ctx *ctx, const char *qualified);
/* Inserts unless present; returns the declaration already there, or NULL
 * (also on out of memory, which sets ctx->oom). */
idlc_decl *idlc__symbol_put(idlc_ctx *ctx, const char *qualified, idlc_decl *decl);

/* True when parsing `file` reported errors; the checker then skips the
 * complaints a half-parsed declaration would cause (an "empty" struct). */
bool idlc__file_had_syntax_errors(const idlc_ctx *ctx, const idlc_file *file);

/* The module statements the parser saw in `file` (NULL if none). */
const idlc_module_stmt *idlc__module_stmts(const idlc_ctx *ctx, const idlc_file *file);

/* The text of line `line` of the file whose path pointer is `file`, and its
 * length without the newline; NULL when unknown. */
const char *idlc__source_line(const idlc_ctx *ctx, const char *file, int line, size_t *len);

#endif /* IDLC_CTX_H */
