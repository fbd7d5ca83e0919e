/* The linked library's version string. */
#include "piperpc/version.h"

const char *prpc_version(void)
{
    return PRPC_VERSION_STRING;
}
