/* Encoder internals shared inside the codec. */
#ifndef PRPC_CODEC_ENC_H
#define PRPC_CODEC_ENC_H

#include <stddef.h>

#include "piperpc/codec.h"

/* Appends bytes as they are, unchecked: the caller guarantees they continue
 * well-formed msgpack. Honours the sticky error and max_size. */
void prpc__enc_raw(prpc_encoder *enc, const void *data, size_t len);

#endif /* PRPC_CODEC_ENC_H */
