/* The library's version. Generated code records the version of idlc that
 * wrote it and refuses to compile against a runtime whose major.minor
 * differs (see PRPC_GENERATED_VERSION_CHECK in generated.h). */
#ifndef PIPERPC_VERSION_H
#define PIPERPC_VERSION_H

#include "export.h"

#define PRPC_VERSION_MAJOR 0
#define PRPC_VERSION_MINOR 2
#define PRPC_VERSION_PATCH 0
#define PRPC_VERSION_STRING "0.2.0"

PRPC_BEGIN_DECLS

/* The version of the library actually linked, as "MAJOR.MINOR.PATCH". */
PRPC_API const char *prpc_version(void);

PRPC_END_DECLS

#endif /* PIPERPC_VERSION_H */
