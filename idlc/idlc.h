/* The IDL compiler as a library: parse -> check -> generate on one context.
 *
 *     idlc_ctx *ctx = idlc_ctx_create(&opts);
 *     idlc_add_include_dir(ctx, "include");
 *     idlc_parse_file(ctx, "kv.idl");      (reads its imports as well)
 *     if (idlc_check(ctx) == IDLC_OK)
 *         idlc_generate(ctx, &gen_opts);
 *     idlc_ctx_destroy(ctx);
 *
 * The library never exits and never keeps global state. Diagnostics are
 * formatted as `file:line:col: error: message`, the source line and a `^~~~`
 * underline, and handed to the options' callback (stderr when none is set). */
#ifndef IDLC_IDLC_H
#define IDLC_IDLC_H

#include <stddef.h>

#include "ast.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Results of library calls. They double as the process exit codes. */
typedef enum idlc_result {
    IDLC_OK = 0,
    IDLC_ERR_IDL = 1, /* the IDL has errors (reported as diagnostics) */
    IDLC_ERR_IO = 2   /* a file could not be read or written, or out of memory */
} idlc_result;

/* Receives one complete diagnostic (several lines, ending in '\n'). */
typedef void (*idlc_diag_fn)(void *user, const char *text);

/* All-zero means the defaults. */
typedef struct idlc_options {
    idlc_diag_fn diag;      /* NULL: write diagnostics to stderr */
    void *diag_user;
    unsigned max_errors;    /* stop reporting after this many errors; 0 = 20 */
    int no_import_files;    /* report every import as not found instead of
                             * reading it (for fuzzing from memory) */
} idlc_options;

typedef struct idlc_ctx idlc_ctx;

/* NULL when out of memory. */
idlc_ctx *idlc_ctx_create(const idlc_options *opts);

/* Frees the context, the whole syntax tree and every string it holds.
 * Accepts NULL. */
void idlc_ctx_destroy(idlc_ctx *ctx);

/* Adds a directory to the import search path (searched in order, after the
 * importing file's own directory). */
idlc_result idlc_add_include_dir(idlc_ctx *ctx, const char *dir);

/* Reads and parses a main file and, recursively, everything it imports.
 * Syntax errors are reported and parsing continues where it can. Returns
 * IDLC_ERR_IO when the file itself cannot be read (reported as a
 * diagnostic without location), IDLC_ERR_IDL on syntax errors. */
idlc_result idlc_parse_file(idlc_ctx *ctx, const char *path);

/* Parses a main file from memory; `name` is used in diagnostics. Imports
 * are still read from disk relative to name's directory and the include
 * path. text need not be NUL-terminated; it is copied. */
idlc_result idlc_parse_string(idlc_ctx *ctx, const char *name, const char *text, size_t len);

/* Resolves names and runs every semantic check over everything parsed so
 * far. Returns IDLC_OK when the context has no errors at all (including
 * earlier syntax errors), IDLC_ERR_IDL otherwise. Call it once. */
idlc_result idlc_check(idlc_ctx *ctx);

/* Diagnostics. loc may be NULL for a message without a location. Errors are
 * counted; past max_errors one "too many errors" line is printed and further
 * diagnostics are dropped (but still counted). A note is only printed when
 * the error it belongs to was. */
#if defined(__GNUC__) || defined(__clang__)
#define IDLC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define IDLC_PRINTF(f, a)
#endif
void idlc_error(idlc_ctx *ctx, const idlc_loc *loc, const char *fmt, ...) IDLC_PRINTF(3, 4);
void idlc_note(idlc_ctx *ctx, const idlc_loc *loc, const char *fmt, ...) IDLC_PRINTF(3, 4);
unsigned idlc_error_count(const idlc_ctx *ctx);

/* Every file read, in reading order (main files and their imports); follow
 * file->next. Main files have is_main set. This is also the list a
 * --depfile names. */
const idlc_file *idlc_files(const idlc_ctx *ctx);

/* Looks up a declaration by qualified name ("kv.Entry"); NULL if none.
 * Valid after idlc_check(). */
const idlc_decl *idlc_find_decl(const idlc_ctx *ctx, const char *qualified_name);

/* Memory from the context's arena (zero-filled), freed with the context.
 * NULL on out of memory; the context then remembers the failure and later
 * calls (idlc_check, idlc_generate) return IDLC_ERR_IO. */
void *idlc_alloc(idlc_ctx *ctx, size_t size);
char *idlc_strdup(idlc_ctx *ctx, const char *s);
char *idlc_strndup(idlc_ctx *ctx, const char *s, size_t len);
char *idlc_sprintf(idlc_ctx *ctx, const char *fmt, ...) IDLC_PRINTF(2, 3);

/* Writes a whole file through a temporary in the same directory and an
 * atomic rename, so a reader never sees a half-written file and a failure
 * leaves the old file untouched. Reports failures as diagnostics and
 * returns IDLC_ERR_IO. */
idlc_result idlc_write_file_atomic(idlc_ctx *ctx, const char *path, const void *data, size_t len);

/* ------------------------------------------------------------------ */
/* Code generation (implemented in gen_*.c; see generate.h).            */

typedef struct idlc_gen_options {
    const char *out_dir;   /* NULL or "" = current directory */
    int header;            /* write <stem>.h (types, encoders, descriptors) */
    int client;            /* write <stem>_client.h/.c */
    int server;            /* write <stem>_server.h/.c */
} idlc_gen_options;

/* Generates the selected outputs for every main file of a checked context.
 * Returns IDLC_OK, or IDLC_ERR_IO after reporting a diagnostic. */
idlc_result idlc_generate(idlc_ctx *ctx, const idlc_gen_options *opts);

/* The output paths idlc_generate() writes for one main file with these
 * options, for --depfile targets: fills up to `max` entries of `paths` (arena
 * strings) and returns the number of outputs. Implemented beside
 * idlc_generate. */
size_t idlc_generate_outputs(idlc_ctx *ctx, const idlc_gen_options *opts, const idlc_file *file,
                             const char **paths, size_t max);

#ifdef __cplusplus
}
#endif

#endif /* IDLC_IDLC_H */
