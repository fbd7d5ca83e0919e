/* Placeholder for the C code generator: the generator's own gen_c.c
 * replaces this file. Until then idlc parses and checks, and generation
 * reports that it is not available. */
#include "idlc.h"

idlc_result idlc_generate(idlc_ctx *ctx, const idlc_gen_options *opts)
{
    (void)opts;
    idlc_error(ctx, NULL, "code generation is not available in this build");
    return IDLC_ERR_IO;
}

size_t idlc_generate_outputs(idlc_ctx *ctx, const idlc_gen_options *opts, const idlc_file *file,
                             const char **paths, size_t max)
{
    (void)ctx;
    (void)opts;
    (void)file;
    (void)paths;
    (void)max;
    return 0;
}
