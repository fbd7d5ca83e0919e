/* The C code generator's entry points: idlc_generate writes, for every
 * main file of a checked context, <stem>.h/.c (types, codecs,
 * descriptors), <stem>_client.h/.c and <stem>_server.h/.c as asked; and
 * idlc_generate_outputs names those files for --depfile. */
#include <string.h>

#include "generate.h"

/* All three when none is asked for, as the command line does. */
static void selection(const idlc_gen_options *opts, int *header, int *client, int *server)
{
    *header = opts ? opts->header : 0;
    *client = opts ? opts->client : 0;
    *server = opts ? opts->server : 0;
    if (!*header && !*client && !*server)
        *header = *client = *server = 1;
}

size_t idlc_generate_outputs(idlc_ctx *ctx, const idlc_gen_options *opts, const idlc_file *file,
                             const char **paths, size_t max)
{
    int header, client, server;
    selection(opts, &header, &client, &server);
    const char *dir = opts && opts->out_dir && opts->out_dir[0] ? opts->out_dir : NULL;
    static const char *const suffixes[3][2] = {{".h", ".c"}, {"_client.h", "_client.c"},
                                               {"_server.h", "_server.c"}};
    const int on[3] = {header, client, server};
    size_t n = 0;
    for (int k = 0; k < 3; k++) {
        if (!on[k])
            continue;
        for (int j = 0; j < 2; j++) {
            if (n < max) {
                paths[n] = dir ? idlc_sprintf(ctx, "%s/%s%s", dir, file->stem, suffixes[k][j])
                               : idlc_sprintf(ctx, "%s%s", file->stem, suffixes[k][j]);
            }
            n++;
        }
    }
    return n;
}

idlc_result idlc_generate(idlc_ctx *ctx, const idlc_gen_options *opts)
{
    int header, client, server;
    selection(opts, &header, &client, &server);
    const char *dir = opts ? opts->out_dir : NULL;
    for (const idlc_file *f = idlc_files(ctx); f != NULL; f = f->next) {
        if (!f->is_main)
            continue;
        if (f->module == NULL) {
            idlc_error(ctx, NULL, "%s: no module declaration; nothing to generate", f->path);
            return IDLC_ERR_IDL;
        }
        gen_ctx g;
        memset(&g, 0, sizeof g);
        g.ctx = ctx;
        g.file = f;
        g.module = f->module;
        /* The base name only: generated files carry no machine paths. */
        g.src_name = gen_basename(f->path);
        idlc_result r = IDLC_OK;
        if (header)
            r = gen_types(&g, dir);
        if (r == IDLC_OK && client)
            r = gen_client(&g, dir);
        if (r == IDLC_OK && server)
            r = gen_server(&g, dir);
        gen_buf_free(&g.out);
        if (r != IDLC_OK)
            return r;
    }
    return IDLC_OK;
}
