/* The umbrella header: everything an application or generated code needs. */
#ifndef PIPERPC_PIPERPC_H
#define PIPERPC_PIPERPC_H

#include "export.h"
#include "version.h"
#include "status.h"
#include "timeout.h"
#include "alloc.h"
#include "arena.h"
#include "codec.h"
#include "generated.h"
#include "call.h"
#include "client.h"
#include "server.h"

#endif /* PIPERPC_PIPERPC_H */
