/* The idlc command line: options, then parse -> check -> generate through
 * the library, then the depfile. Exit 0 on success, 1 when the IDL has
 * errors, 2 on usage and I/O errors. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "idlc.h"
#include "piperpc/version.h"

#define EXIT_IDL 1
#define EXIT_USAGE 2

static void usage(FILE *out)
{
    fputs("usage: idlc [OPTION]... FILE.idl...\n"
          "Compile piperpc IDL files into C headers, client stubs and server skeletons.\n"
          "\n"
          "  -I DIR, --include-dir=DIR  search DIR for imported files (after the\n"
          "                             importing file's own directory; repeatable)\n"
          "  -o DIR, --out=DIR          write generated files into DIR (default: .)\n"
          "      --depfile=FILE         write a Make-style dependency file listing every\n"
          "                             file read, with the generated files as targets\n"
          "      --header               generate FILE.h (types, codecs, descriptors)\n"
          "      --client               generate the client stubs\n"
          "      --server               generate the server skeletons\n"
          "                             (no --header/--client/--server: all three)\n"
          "      --check                check the IDL only; write nothing\n"
          "      --dump-ast             check, then print the resolved declarations\n"
          "      --max-errors=N         stop after N errors (default 20)\n"
          "  -h, --help                 show this help and exit\n"
          "      --version              show the version and exit\n"
          "\n"
          "Exit status: 0 success, 1 errors in the IDL, 2 usage or I/O errors.\n",
          out);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("idlc: error: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'idlc --help' for more information.\n", stderr);
    return EXIT_USAGE;
}

/* Matches "--name=value" or "--name value"; *value is set and *i advanced
 * past a separate value. Returns 1 on a match, 0 if it is another option,
 * -1 when the value is missing. */
static int long_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i] + 2;
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

/* The depfile text, grown as needed; `failed` sticks on out of memory. */
typedef struct depbuf {
    char *p;
    size_t len;
    size_t cap;
    bool failed;
} depbuf;

static void dep_raw(depbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* A file name with Make's escapes: "\ " for space, "\#", "$$". */
static void dep_name(depbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == ' ' || *s == '#')
            dep_raw(b, "\\", 1);
        if (*s == '$')
            dep_raw(b, "$", 1);
        dep_raw(b, s, 1);
    }
}

/* gen is NULL when nothing was generated (--check). */
static int write_depfile(idlc_ctx *ctx, const char *depfile, const idlc_gen_options *gen)
{
    depbuf b = {0};
    bool first = true;
    for (const idlc_file *f = idlc_files(ctx); gen && f; f = f->next) {
        if (!f->is_main)
            continue;
        const char *outs[16];
        size_t n = idlc_generate_outputs(ctx, gen, f, outs, 16);
        for (size_t i = 0; i < n && i < 16; i++) {
            if (!first)
                dep_raw(&b, " ", 1);
            first = false;
            dep_name(&b, outs[i]);
        }
    }
    if (first) /* nothing generated (--check): the depfile is its own target */
        dep_name(&b, depfile);
    dep_raw(&b, ":", 1);
    for (const idlc_file *f = idlc_files(ctx); f; f = f->next) {
        dep_raw(&b, " ", 1);
        dep_name(&b, f->path);
    }
    dep_raw(&b, "\n", 1);
    if (b.failed) {
        free(b.p);
        fputs("idlc: error: out of memory\n", stderr);
        return EXIT_USAGE;
    }
    idlc_result r = idlc_write_file_atomic(ctx, depfile, b.p, b.len);
    free(b.p);
    return r == IDLC_OK ? 0 : EXIT_USAGE;
}

int main(int argc, char **argv)
{
    const char *out_dir = NULL;
    const char *depfile = NULL;
    int header = 0, client = 0, server = 0, check_only = 0, dump = 0;
    unsigned max_errors = 0;
    const char **inputs = calloc((size_t)argc + 1, sizeof(*inputs));
    const char **incs = calloc((size_t)argc + 1, sizeof(*incs));
    size_t ninputs = 0, nincs = 0;
    int rc = 0;
    if (!inputs || !incs) {
        fputs("idlc: error: out of memory\n", stderr);
        free(inputs);
        free(incs);
        return EXIT_USAGE;
    }

    bool only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        int m;
        if (only_files || a[0] != '-' || a[1] == '\0') {
            inputs[ninputs++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_files = true;
        } else if (strncmp(a, "-I", 2) == 0) {
            if (a[2])
                incs[nincs++] = a + 2;
            else if (i + 1 < argc)
                incs[nincs++] = argv[++i];
            else {
                rc = usage_error("option '%s' needs a directory", a);
                goto done;
            }
        } else if (strncmp(a, "-o", 2) == 0) {
            if (a[2])
                out_dir = a + 2;
            else if (i + 1 < argc)
                out_dir = argv[++i];
            else {
                rc = usage_error("option '%s' needs a directory", a);
                goto done;
            }
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            goto done;
        } else if (strcmp(a, "--version") == 0) {
            printf("idlc %s\n", PRPC_VERSION_STRING);
            goto done;
        } else if (strcmp(a, "--header") == 0) {
            header = 1;
        } else if (strcmp(a, "--client") == 0) {
            client = 1;
        } else if (strcmp(a, "--server") == 0) {
            server = 1;
        } else if (strcmp(a, "--check") == 0) {
            check_only = 1;
        } else if (strcmp(a, "--dump-ast") == 0) {
            check_only = dump = 1;
        } else if (a[1] == '-' && (m = long_opt(argc, argv, &i, "include-dir", &v)) != 0) {
            if (m < 0) {
                rc = usage_error("option '%s' needs a directory", a);
                goto done;
            }
            incs[nincs++] = v;
        } else if (a[1] == '-' && (m = long_opt(argc, argv, &i, "out", &v)) != 0) {
            if (m < 0) {
                rc = usage_error("option '%s' needs a directory", a);
                goto done;
            }
            out_dir = v;
        } else if (a[1] == '-' && (m = long_opt(argc, argv, &i, "depfile", &v)) != 0) {
            if (m < 0 || !*v) {
                rc = usage_error("option '%s' needs a file name", a);
                goto done;
            }
            depfile = v;
        } else if (a[1] == '-' && (m = long_opt(argc, argv, &i, "max-errors", &v)) != 0) {
            char *end = NULL;
            unsigned long n = m > 0 ? strtoul(v, &end, 10) : 0;
            if (m < 0 || !*v || *end || n == 0 || n > 100000) {
                rc = usage_error("option '%s' needs a number from 1 to 100000", a);
                goto done;
            }
            max_errors = (unsigned)n;
        } else {
            rc = usage_error("unknown option '%s'", a);
            goto done;
        }
    }
    if (ninputs == 0) {
        rc = usage_error("%s", "no input files");
        goto done;
    }
    if (!header && !client && !server)
        header = client = server = 1;

    idlc_options opts = {0};
    opts.max_errors = max_errors;
    idlc_ctx *ctx = idlc_ctx_create(&opts);
    if (!ctx) {
        fputs("idlc: error: out of memory\n", stderr);
        rc = EXIT_USAGE;
        goto done;
    }
    for (size_t i = 0; i < nincs; i++) {
        if (idlc_add_include_dir(ctx, incs[i]) != IDLC_OK) {
            rc = EXIT_USAGE;
            goto out;
        }
    }
    bool io_error = false;
    for (size_t i = 0; i < ninputs; i++)
        if (idlc_parse_file(ctx, inputs[i]) == IDLC_ERR_IO)
            io_error = true;
    idlc_result r = idlc_check(ctx);
    if (io_error || r == IDLC_ERR_IO) {
        rc = EXIT_USAGE;
        goto out;
    }
    if (r != IDLC_OK) {
        rc = EXIT_IDL;
        goto out;
    }
    if (dump)
        idlc_dump(ctx, stdout);
    if (!check_only) {
        idlc_gen_options gen = {0};
        gen.out_dir = out_dir;
        gen.header = header;
        gen.client = client;
        gen.server = server;
        r = idlc_generate(ctx, &gen);
        if (r != IDLC_OK) {
            rc = r == IDLC_ERR_IDL ? EXIT_IDL : EXIT_USAGE;
            goto out;
        }
        if (depfile)
            rc = write_depfile(ctx, depfile, &gen);
    } else if (depfile) {
        rc = write_depfile(ctx, depfile, NULL);
    }
out:
    idlc_ctx_destroy(ctx);
done:
    free(inputs);
    free(incs);
    return rc;
}
