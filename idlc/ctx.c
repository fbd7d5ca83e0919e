/* The compiler context: its arena, the include path, reading files and
 * following their imports (with cycle detection), and lookups over what
 * was read. */
#include "ctx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "parse_state.h"

/* Imports nested deeper than this are reported instead of followed; real
 * projects stay far below it and it bounds the recursion. */
#define IDLC_MAX_IMPORT_DEPTH 64

/* Source files larger than this are refused: an IDL file is hand-written. */
#define IDLC_MAX_FILE_SIZE (16u * 1024u * 1024u)

/* ------------------------------------------------------------------ */
/* Arena                                                               */

struct idlc_chunk {
    idlc_chunk *next;
    size_t size;
    size_t used;
    max_align_t data[];
};

#define IDLC_CHUNK_SIZE ((size_t)64 * 1024)

void *idlc_alloc(idlc_ctx *ctx, size_t size)
{
    const size_t align = _Alignof(max_align_t);
    size_t need = (size + align - 1) & ~(align - 1);
    if (need < size) {
        ctx->oom = true;
        return NULL;
    }
    idlc_chunk *c = ctx->chunks;
    if (!c || c->size - c->used < need) {
        size_t csize = need > IDLC_CHUNK_SIZE / 4 ? need : IDLC_CHUNK_SIZE;
        if (csize > SIZE_MAX - sizeof(idlc_chunk)) {
            ctx->oom = true;
            return NULL;
        }
        idlc_chunk *n = malloc(sizeof(idlc_chunk) + csize);
        if (!n) {
            ctx->oom = true;
            return NULL;
        }
        n->size = csize;
        n->used = 0;
        if (c && csize != IDLC_CHUNK_SIZE) {
            /* A dedicated chunk goes behind the current one so the space
             * left in the current chunk stays usable. */
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            ctx->chunks = n;
        }
        c = n;
    }
    void *p = (char *)c->data + c->used;
    c->used += need;
    memset(p, 0, size);
    return p;
}

char *idlc_strndup(idlc_ctx *ctx, const char *s, size_t len)
{
    if (len == SIZE_MAX) {
        ctx->oom = true;
        return NULL;
    }
    char *p = idlc_alloc(ctx, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *idlc_strdup(idlc_ctx *ctx, const char *s)
{
    return idlc_strndup(ctx, s, strlen(s));
}

char *idlc_sprintf(idlc_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        ctx->oom = true;
        return NULL;
    }
    char *p = idlc_alloc(ctx, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* ------------------------------------------------------------------ */
/* Context                                                             */

idlc_ctx *idlc_ctx_create(const idlc_options *opts)
{
    idlc_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return NULL;
    if (opts)
        ctx->opts = *opts;
    ctx->max_errors = ctx->opts.max_errors ? ctx->opts.max_errors : 20;
    return ctx;
}

void idlc_ctx_destroy(idlc_ctx *ctx)
{
    if (!ctx)
        return;
    idlc_chunk *c = ctx->chunks;
    while (c) {
        idlc_chunk *n = c->next;
        free(c);
        c = n;
    }
    free(ctx->recs);
    free(ctx->stack);
    free(ctx->symbols);
    free(ctx);
}

idlc_result idlc_add_include_dir(idlc_ctx *ctx, const char *dir)
{
    if (ctx->include_count == ctx->include_cap) {
        size_t cap = ctx->include_cap ? ctx->include_cap * 2 : 8;
        char **n = idlc_alloc(ctx, cap * sizeof(*n));
        if (!n)
            return IDLC_ERR_IO;
        if (ctx->include_count)
            memcpy(n, ctx->include_dirs, ctx->include_count * sizeof(*n));
        ctx->include_dirs = n;
        ctx->include_cap = cap;
    }
    char *d = idlc_strdup(ctx, dir);
    if (!d)
        return IDLC_ERR_IO;
    ctx->include_dirs[ctx->include_count++] = d;
    return IDLC_OK;
}

unsigned idlc_error_count(const idlc_ctx *ctx)
{
    return ctx->errors;
}

const idlc_file *idlc_files(const idlc_ctx *ctx)
{
    return ctx->files;
}

const char *idlc__source_line(const idlc_ctx *ctx, const char *file, int line, size_t *len)
{
    if (!file || line < 1)
        return NULL;
    for (const idlc_file *f = ctx->files; f; f = f->next) {
        if (f->path != file)
            continue;
        if (!f->text)
            return NULL;
        const char *p = f->text;
        const char *end = f->text + f->text_len;
        for (int l = 1; l < line; l++) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                return NULL;
            p = nl + 1;
        }
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n && p[n - 1] == '\r')
            n--;
        *len = n;
        return p;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Reading files                                                       */

static bool push_frame(idlc_ctx *ctx, idlc_file *file)
{
    if (ctx->stack_len == ctx->stack_cap) {
        size_t cap = ctx->stack_cap ? ctx->stack_cap * 2 : 16;
        idlc_import_frame *n = realloc(ctx->stack, cap * sizeof(*n));
        if (!n) {
            ctx->oom = true;
            return false;
        }
        ctx->stack = n;
        ctx->stack_cap = cap;
    }
    ctx->stack[ctx->stack_len].file = file;
    ctx->stack[ctx->stack_len].via = NULL;
    ctx->stack_len++;
    return true;
}

static idlc_file_rec *add_rec(idlc_ctx *ctx, idlc_file *file)
{
    if (ctx->rec_count == ctx->rec_cap) {
        size_t cap = ctx->rec_cap ? ctx->rec_cap * 2 : 16;
        idlc_file_rec *n = realloc(ctx->recs, cap * sizeof(*n));
        if (!n) {
            ctx->oom = true;
            return NULL;
        }
        ctx->recs = n;
        ctx->rec_cap = cap;
    }
    idlc_file_rec *r = &ctx->recs[ctx->rec_count++];
    memset(r, 0, sizeof(*r));
    r->file = file;
    return r;
}

static idlc_file_rec *find_rec_by_file(const idlc_ctx *ctx, const idlc_file *file)
{
    for (size_t i = 0; i < ctx->rec_count; i++)
        if (ctx->recs[i].file == file)
            return &ctx->recs[i];
    return NULL;
}

const idlc_module_stmt *idlc__module_stmts(const idlc_ctx *ctx, const idlc_file *file)
{
    const idlc_file_rec *rec = find_rec_by_file(ctx, file);
    return rec ? rec->modules : NULL;
}

bool idlc__file_had_syntax_errors(const idlc_ctx *ctx, const idlc_file *file)
{
    const idlc_file_rec *rec = find_rec_by_file(ctx, file);
    return rec && rec->syntax_errors;
}

static const char *stem_of(idlc_ctx *ctx, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 4 && strcmp(base + n - 4, ".idl") == 0)
        n -= 4;
    return idlc_strndup(ctx, base, n);
}

/* Reads a whole file into the arena. On failure sets *err to errno (0 for
 * "too large"). */
static char *read_all(idlc_ctx *ctx, const char *path, size_t *len, int *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = errno;
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        *err = EISDIR;
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        *err = ENOMEM;
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            /* Room for one byte past the limit tells "exactly at the
             * limit" from "too large". */
            if (cap > IDLC_MAX_FILE_SIZE) {
                free(buf);
                fclose(f);
                *err = EFBIG;
                return NULL;
            }
            cap = cap * 2 > IDLC_MAX_FILE_SIZE + 1 ? IDLC_MAX_FILE_SIZE + 1 : cap * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                *err = ENOMEM;
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                *err = errno ? errno : EIO;
                free(buf);
                fclose(f);
                return NULL;
            }
            break;
        }
    }
    fclose(f);
    if (n > IDLC_MAX_FILE_SIZE) {
        free(buf);
        *err = EFBIG;
        return NULL;
    }
    char *text = idlc_strndup(ctx, buf, n);
    free(buf);
    if (!text) {
        *err = ENOMEM;
        return NULL;
    }
    *len = n;
    return text;
}

static bool same_identity(const idlc_file_rec *r, const struct stat *st)
{
    return r->has_identity && r->dev == (unsigned long long)st->st_dev &&
           r->ino == (unsigned long long)st->st_ino;
}

static idlc_result parse_imports(idlc_ctx *ctx, idlc_file *file);

/* Creates the file record, parses the text and follows the imports. */
static idlc_result parse_new_file(idlc_ctx *ctx, const char *path, char *text, size_t len,
                                  const struct stat *st, bool is_main, idlc_file **out)
{
    idlc_file *file = idlc_alloc(ctx, sizeof(*file));
    if (!file)
        return IDLC_ERR_IO;
    file->path = idlc_strdup(ctx, path);
    file->stem = stem_of(ctx, path);
    if (!file->path || !file->stem)
        return IDLC_ERR_IO;
    file->text = text;
    file->text_len = len;
    file->is_main = is_main;
    idlc_file_rec *rec = add_rec(ctx, file);
    if (!rec)
        return IDLC_ERR_IO;
    if (st) {
        rec->has_identity = true;
        rec->dev = (unsigned long long)st->st_dev;
        rec->ino = (unsigned long long)st->st_ino;
    }
    if (ctx->files_tail)
        ctx->files_tail->next = file;
    else
        ctx->files = file;
    ctx->files_tail = file;
    if (out)
        *out = file;

    idlc_parse_state ps;
    memset(&ps, 0, sizeof(ps));
    ps.ctx = ctx;
    ps.file = file;
    unsigned before = ctx->errors;
    int syntax_errors = idlc__parse_buffer(&ps, text, len);
    if (ctx->oom)
        return IDLC_ERR_IO;
    rec = find_rec_by_file(ctx, file);
    if (rec) {
        rec->syntax_errors = (unsigned)syntax_errors;
        rec->modules = ps.modules.head;
    }
    idlc_result r = parse_imports(ctx, file);
    if (r == IDLC_ERR_IO)
        return r;
    return ctx->errors != before ? IDLC_ERR_IDL : IDLC_OK;
}

static char *join_dir(idlc_ctx *ctx, const char *dir, size_t dir_len, const char *name)
{
    if (name[0] == '/' || dir_len == 0)
        return idlc_strdup(ctx, name);
    if (dir[dir_len - 1] == '/')
        return idlc_sprintf(ctx, "%.*s%s", (int)dir_len, dir, name);
    return idlc_sprintf(ctx, "%.*s/%s", (int)dir_len, dir, name);
}

static bool is_regular(const char *path, struct stat *st)
{
    return stat(path, st) == 0 && S_ISREG(st->st_mode);
}

/* Finds an import: beside the importing file first, then along -I. */
static char *resolve_import(idlc_ctx *ctx, const idlc_file *from, const char *name, struct stat *st)
{
    const char *slash = strrchr(from->path, '/');
    size_t dir_len = slash ? (size_t)(slash - from->path + 1) : 0;
    char *cand = join_dir(ctx, from->path, dir_len, name);
    if (!cand)
        return NULL;
    if (is_regular(cand, st))
        return cand;
    if (name[0] == '/')
        return NULL;
    for (size_t i = 0; i < ctx->include_count; i++) {
        const char *d = ctx->include_dirs[i];
        cand = join_dir(ctx, d, strlen(d), name);
        if (!cand)
            return NULL;
        if (is_regular(cand, st))
            return cand;
    }
    return NULL;
}

static void report_cycle(idlc_ctx *ctx, idlc_import *imp, const idlc_file *target)
{
    idlc_error(ctx, &imp->loc, "import cycle: '%s' imports itself", target->path);
    /* Walk the chain from the target to the importer that closed it. */
    size_t start = 0;
    for (size_t i = 0; i < ctx->stack_len; i++)
        if (ctx->stack[i].file == target)
            start = i;
    for (size_t i = start; i + 1 < ctx->stack_len; i++) {
        const idlc_import *via = ctx->stack[i].via;
        if (via)
            idlc_note(ctx, &via->loc, "'%s' imports '%s' here", ctx->stack[i].file->path,
                      ctx->stack[i + 1].file->path);
    }
}

static idlc_result parse_imports(idlc_ctx *ctx, idlc_file *file)
{
    idlc_file_rec *rec = find_rec_by_file(ctx, file);
    if (!rec)
        return IDLC_ERR_IO;
    rec->active = true;
    if (!push_frame(ctx, file))
        return IDLC_ERR_IO;
    size_t frame = ctx->stack_len - 1;
    idlc_result result = IDLC_OK;
    for (idlc_import *imp = file->imports; imp; imp = imp->next) {
        ctx->stack[frame].via = imp;
        struct stat st;
        char *path = ctx->opts.no_import_files ? NULL : resolve_import(ctx, file, imp->path, &st);
        if (ctx->oom) {
            result = IDLC_ERR_IO;
            break;
        }
        if (!path) {
            if (ctx->include_count == 0)
                idlc_error(ctx, &imp->loc, "cannot find imported file '%s' (searched beside '%s' only; "
                           "add search directories with -I)", imp->path, file->path);
            else
                idlc_error(ctx, &imp->loc, "cannot find imported file '%s' (searched beside '%s' and in "
                           "%zu -I director%s)", imp->path, file->path, ctx->include_count,
                           ctx->include_count == 1 ? "y" : "ies");
            continue;
        }
        idlc_file *found = NULL;
        for (size_t i = 0; i < ctx->rec_count; i++) {
            if (same_identity(&ctx->recs[i], &st)) {
                found = ctx->recs[i].file;
                if (ctx->recs[i].active) {
                    report_cycle(ctx, imp, found);
                    found = NULL;
                    imp->file = NULL;
                    goto next;
                }
                break;
            }
        }
        if (found) {
            imp->file = found;
            continue;
        }
        if (ctx->stack_len >= IDLC_MAX_IMPORT_DEPTH) {
            idlc_error(ctx, &imp->loc, "imports nested more than %d deep", IDLC_MAX_IMPORT_DEPTH);
            continue;
        }
        {
            size_t len = 0;
            int err = 0;
            char *text = read_all(ctx, path, &len, &err);
            if (!text) {
                if (ctx->oom) {
                    result = IDLC_ERR_IO;
                    break;
                }
                idlc_error(ctx, &imp->loc, "cannot read imported file '%s': %s", path,
                           err == EFBIG ? "file too large" : strerror(err));
                continue;
            }
            idlc_file *nf = NULL;
            idlc_result r = parse_new_file(ctx, path, text, len, &st, false, &nf);
            imp->file = nf;
            if (r == IDLC_ERR_IO) {
                result = r;
                break;
            }
        }
    next:;
    }
    ctx->stack_len = frame;
    rec = find_rec_by_file(ctx, file); /* recs may have moved */
    if (rec)
        rec->active = false;
    return result;
}

idlc_result idlc_parse_file(idlc_ctx *ctx, const char *path)
{
    struct stat st;
    bool have_st = stat(path, &st) == 0;
    if (have_st) {
        for (size_t i = 0; i < ctx->rec_count; i++) {
            if (same_identity(&ctx->recs[i], &st)) {
                ctx->recs[i].file->is_main = true;
                return IDLC_OK;
            }
        }
    }
    size_t len = 0;
    int err = 0;
    char *text = read_all(ctx, path, &len, &err);
    if (!text) {
        if (ctx->oom)
            return IDLC_ERR_IO;
        idlc_error(ctx, NULL, "cannot read '%s': %s", path, err == EFBIG ? "file too large" : strerror(err));
        return IDLC_ERR_IO;
    }
    idlc_result r = parse_new_file(ctx, path, text, len, have_st ? &st : NULL, true, NULL);
    if (ctx->oom)
        return IDLC_ERR_IO;
    return r;
}

idlc_result idlc_parse_string(idlc_ctx *ctx, const char *name, const char *text, size_t len)
{
    if (len > IDLC_MAX_FILE_SIZE) {
        idlc_error(ctx, NULL, "cannot read '%s': file too large", name);
        return IDLC_ERR_IO;
    }
    char *copy = idlc_strndup(ctx, text, len);
    if (!copy)
        return IDLC_ERR_IO;
    idlc_result r = parse_new_file(ctx, name, copy, len, NULL, true, NULL);
    if (ctx->oom)
        return IDLC_ERR_IO;
    return r;
}

/* ------------------------------------------------------------------ */
/* Lookups                                                             */

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ull & SIZE_MAX;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * (size_t)1099511628211ull;
    return h;
}

idlc_decl *idlc__symbol_get(const idlc_ctx *ctx, const char *qualified)
{
    if (!ctx->symbol_cap)
        return NULL;
    size_t mask = ctx->symbol_cap - 1;
    for (size_t i = hash_str(qualified) & mask;; i = (i + 1) & mask) {
        const idlc_symbol *s = &ctx->symbols[i];
        if (!s->key)
            return NULL;
        if (strcmp(s->key, qualified) == 0)
            return s->decl;
    }
}

idlc_decl *idlc__symbol_put(idlc_ctx *ctx, const char *qualified, idlc_decl *decl)
{
    if ((ctx->symbol_count + 1) * 2 > ctx->symbol_cap) {
        size_t cap = ctx->symbol_cap ? ctx->symbol_cap * 2 : 64;
        idlc_symbol *n = calloc(cap, sizeof(*n));
        if (!n) {
            ctx->oom = true;
            return NULL;
        }
        for (size_t i = 0; i < ctx->symbol_cap; i++) {
            if (!ctx->symbols[i].key)
                continue;
            size_t j = hash_str(ctx->symbols[i].key) & (cap - 1);
            while (n[j].key)
                j = (j + 1) & (cap - 1);
            n[j] = ctx->symbols[i];
        }
        free(ctx->symbols);
        ctx->symbols = n;
        ctx->symbol_cap = cap;
    }
    size_t mask = ctx->symbol_cap - 1;
    size_t i = hash_str(qualified) & mask;
    for (; ctx->symbols[i].key; i = (i + 1) & mask)
        if (strcmp(ctx->symbols[i].key, qualified) == 0)
            return ctx->symbols[i].decl;
    ctx->symbols[i].key = qualified;
    ctx->symbols[i].decl = decl;
    ctx->symbol_count++;
    return NULL;
}

const idlc_decl *idlc_find_decl(const idlc_ctx *ctx, const char *qualified_name)
{
    return idlc__symbol_get(ctx, qualified_name);
}
