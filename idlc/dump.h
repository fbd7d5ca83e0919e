/* The tree dump behind `idlc --dump-ast`, used by the front end's tests. */
#ifndef IDLC_DUMP_H
#define IDLC_DUMP_H

#include <stdio.h>

#include "idlc.h"

/* Writes every file's checked declarations to `out`. */
void idlc_dump(const idlc_ctx *ctx, FILE *out);

#endif /* IDLC_DUMP_H */
