/* Semantic checks (in progress). */
#include "ctx.h"

idlc_result idlc_check(idlc_ctx *ctx)
{
    ctx->checked = true;
    if (ctx->oom)
        return IDLC_ERR_IO;
    return ctx->errors ? IDLC_ERR_IDL : IDLC_OK;
}
