/* libFuzzer target for the idlc front end: every input is parsed from
 * memory and checked; diagnostics are formatted (exercising the excerpt
 * and underline code) and dropped. Imports are not read from disk. */
#include <stddef.h>
#include <stdint.h>

#include "idlc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drop(void *user, const char *text)
{
    (void)user;
    (void)text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    idlc_options opts = {0};
    opts.diag = drop;
    opts.no_import_files = 1;
    opts.max_errors = 1000;
    idlc_ctx *ctx = idlc_ctx_create(&opts);
    if (!ctx)
        return 0;
    if (idlc_parse_string(ctx, "fuzz.idl", (const char *)data, size) != IDLC_ERR_IO)
        idlc_check(ctx);
    idlc_ctx_destroy(ctx);
    return 0;
}
