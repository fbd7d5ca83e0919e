/* The msgpack-rpc codec: envelopes, typed value helpers, limits and the
 * streaming reader.
 *
 * Encoding goes through msgpack-c's packer into a buffer owned by the
 * encoder. Decoding is piperpc's own bounded reader: msgpack-c's unpacker has
 * no limits, so every message is first validated against prpc_limits (size,
 * nesting depth, every declared length against the bytes that remain, the
 * reserved byte 0xc1) and only then decoded. After validation nothing a
 * decoder allocates can exceed the size of the message.
 *
 * Both the encoder and the decoder keep the first error they meet and ignore
 * every call after it ("sticky errors"), so generated code encodes or decodes
 * a whole structure and checks the status once at the end.
 *
 * Wire format: docs/protocol.md. */
#ifndef PIPERPC_CODEC_H
#define PIPERPC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "export.h"
#include "status.h"

PRPC_BEGIN_DECLS

/* ---------------------------------------------------------------- limits */

#define PRPC_DEFAULT_MAX_MESSAGE_SIZE ((size_t)64 * 1024 * 1024)
#define PRPC_DEFAULT_MAX_DEPTH 32u
/* The deepest nesting any configuration may ask for. */
#define PRPC_MAX_DEPTH_CAP 256u

/* Limits applied to every message received. All-zero means the defaults. */
typedef struct prpc_limits {
    size_t max_message_size; /* bytes in one whole message; 0 = default */
    uint32_t max_depth;      /* array/map nesting; the top level counts as 1; 0 = default */
} prpc_limits;

/* Fills in defaults for zero members; clamps max_depth to PRPC_MAX_DEPTH_CAP. */
PRPC_API prpc_limits prpc_limits_resolve(const prpc_limits *limits);

/* Validates that data[0..len) starts with exactly one well-formed msgpack
 * value within the limits, and stores its length in *value_len.
 * Returns PRPC_ERR_PROTOCOL for malformed or truncated input (including 0xc1
 * and lengths larger than the bytes that remain), PRPC_ERR_TOO_DEEP,
 * PRPC_ERR_TOO_LARGE when the value would exceed max_message_size. Never
 * allocates. limits may be NULL for the defaults. */
PRPC_API prpc_status prpc_msgpack_validate(const void *data, size_t len,
                                           const prpc_limits *limits, size_t *value_len);

/* ------------------------------------------------------- simple values */

/* A byte string. On decode, data points into the decoder's arena. */
typedef struct prpc_bytes {
    const uint8_t *data;
    size_t len;
} prpc_bytes;

/* A whole msgpack value kept as its encoded bytes (the IDL type `any`).
 * On decode it is copied into the arena and known to be well-formed. */
typedef struct prpc_any {
    const uint8_t *data;
    size_t len;
} prpc_any;

/* ---------------------------------------------------------------- encoder */

/* The encoder's buffer is allocated through the allocator hooks. */
typedef struct prpc_encoder {
    uint8_t *data;         /* encoded bytes so far */
    size_t len;            /* bytes used */
    size_t cap;            /* bytes allocated */
    size_t max_size;       /* len may not exceed this (PRPC_ERR_TOO_LARGE); 0 = no limit */
    prpc_status status;    /* first error; PRPC_OK while none */
} prpc_encoder;

/* Starts an empty encoder. max_size 0 means no limit. Allocates nothing. */
PRPC_API void prpc_enc_init(prpc_encoder *enc, size_t max_size);
/* Empties it and clears the error; keeps the buffer for reuse. */
PRPC_API void prpc_enc_reset(prpc_encoder *enc);
/* Frees the buffer. The encoder may be initialised again. */
PRPC_API void prpc_enc_free(prpc_encoder *enc);
/* Records err unless an error is already recorded. */
PRPC_API void prpc_enc_fail(prpc_encoder *enc, prpc_status err);
static inline prpc_status prpc_enc_status(const prpc_encoder *enc) { return enc->status; }

PRPC_API void prpc_enc_nil(prpc_encoder *enc);
PRPC_API void prpc_enc_bool(prpc_encoder *enc, bool v);
PRPC_API void prpc_enc_int(prpc_encoder *enc, int64_t v);   /* smallest msgpack int form */
PRPC_API void prpc_enc_uint(prpc_encoder *enc, uint64_t v); /* smallest msgpack int form */
PRPC_API void prpc_enc_f32(prpc_encoder *enc, float v);
PRPC_API void prpc_enc_f64(prpc_encoder *enc, double v);
/* A str. s must hold len bytes of valid UTF-8 (checked: PRPC_ERR_INVALID_ARG). */
PRPC_API void prpc_enc_str(prpc_encoder *enc, const char *s, size_t len);
/* A NUL-terminated string; NULL is PRPC_ERR_INVALID_ARG. */
PRPC_API void prpc_enc_cstr(prpc_encoder *enc, const char *s);
PRPC_API void prpc_enc_bin(prpc_encoder *enc, const void *data, size_t len);
/* Headers; the caller then encodes n values (arrays) or n key/value pairs (maps). */
PRPC_API void prpc_enc_array(prpc_encoder *enc, uint32_t n);
PRPC_API void prpc_enc_map(prpc_encoder *enc, uint32_t n);
/* Appends one already-encoded, well-formed msgpack value (checked). */
PRPC_API void prpc_enc_any(prpc_encoder *enc, prpc_any v);

/* ---------------------------------------------------------------- decoder */

/* The kinds of msgpack value a decoder can see next. */
typedef enum prpc_type {
    PRPC_TYPE_NONE = 0, /* no bytes left, or the decoder has failed */
    PRPC_TYPE_NIL,
    PRPC_TYPE_BOOL,
    PRPC_TYPE_UINT,     /* a non-negative integer */
    PRPC_TYPE_INT,      /* a negative integer */
    PRPC_TYPE_FLOAT,    /* float 32 or float 64 */
    PRPC_TYPE_STR,
    PRPC_TYPE_BIN,
    PRPC_TYPE_ARRAY,
    PRPC_TYPE_MAP,
    PRPC_TYPE_EXT
} prpc_type;

/* Reads values from a buffer the caller keeps alive while it decodes. Input
 * that has not been through prpc_msgpack_validate is still read safely:
 * every length is checked against the bytes that remain. Values that must
 * outlive the buffer (strings, bytes, any, arrays) are copied into arena. */
typedef struct prpc_decoder {
    const uint8_t *pos;    /* next byte to read */
    const uint8_t *end;    /* one past the last byte */
    prpc_arena *arena;     /* where decoded values are allocated */
    prpc_status status;    /* first error; PRPC_OK while none */
    prpc_status type_err;  /* what a wrong type or range reports: PRPC_ERR_BAD_ARGS by default */
} prpc_decoder;

PRPC_API void prpc_dec_init(prpc_decoder *dec, const void *data, size_t len, prpc_arena *arena);
PRPC_API void prpc_dec_fail(prpc_decoder *dec, prpc_status err);
static inline prpc_status prpc_dec_status(const prpc_decoder *dec) { return dec->status; }
/* Bytes not yet read. */
static inline size_t prpc_dec_remaining(const prpc_decoder *dec) { return (size_t)(dec->end - dec->pos); }

/* The type of the next value, without consuming it. */
PRPC_API prpc_type prpc_dec_peek(const prpc_decoder *dec);

/* Each reader consumes one value. On a wrong type, an out-of-range integer or
 * invalid UTF-8 it records dec->type_err; on truncated or malformed input,
 * PRPC_ERR_PROTOCOL. After an error the outputs are zeroed and nothing more
 * is read. Integer readers accept any msgpack integer form whose value fits;
 * float readers also accept integers. */
PRPC_API void prpc_dec_nil(prpc_decoder *dec);
/* If the next value is nil, consumes it and returns true (for optionals). */
PRPC_API bool prpc_dec_try_nil(prpc_decoder *dec);
PRPC_API void prpc_dec_bool(prpc_decoder *dec, bool *out);
PRPC_API void prpc_dec_i8(prpc_decoder *dec, int8_t *out);
PRPC_API void prpc_dec_i16(prpc_decoder *dec, int16_t *out);
PRPC_API void prpc_dec_i32(prpc_decoder *dec, int32_t *out);
PRPC_API void prpc_dec_i64(prpc_decoder *dec, int64_t *out);
PRPC_API void prpc_dec_u8(prpc_decoder *dec, uint8_t *out);
PRPC_API void prpc_dec_u16(prpc_decoder *dec, uint16_t *out);
PRPC_API void prpc_dec_u32(prpc_decoder *dec, uint32_t *out);
PRPC_API void prpc_dec_u64(prpc_decoder *dec, uint64_t *out);
PRPC_API void prpc_dec_f32(prpc_decoder *dec, float *out);
PRPC_API void prpc_dec_f64(prpc_decoder *dec, double *out);
/* A str (or a bin holding valid UTF-8) copied into the arena with a
 * terminating NUL. Invalid UTF-8 or an embedded NUL is a type error: piperpc
 * strings are NUL-terminated C strings. *len may be NULL. */
PRPC_API void prpc_dec_str(prpc_decoder *dec, const char **out, size_t *len);
/* A bin (or a str: old msgpack peers send raw for both) copied into the arena. */
PRPC_API void prpc_dec_bytes(prpc_decoder *dec, prpc_bytes *out);
/* Array and map headers. The count is checked against the bytes that remain
 * (each element needs at least one byte), so a caller may allocate count
 * elements after checking count * size for overflow with prpc_dec_alloc_array. */
PRPC_API void prpc_dec_array(prpc_decoder *dec, uint32_t *count);
PRPC_API void prpc_dec_map(prpc_decoder *dec, uint32_t *count);
/* An array header whose count must be exactly `count` (fixed arrays, envelopes). */
PRPC_API void prpc_dec_array_exact(prpc_decoder *dec, uint32_t count);
/* Allocates count elements of size bytes, zeroed, in the arena, with the
 * multiplication checked. Returns NULL (and records an error) on failure;
 * count 0 returns NULL without an error. */
PRPC_API void *prpc_dec_alloc_array(prpc_decoder *dec, uint32_t count, size_t size, size_t align);
/* Any one value, copied whole into the arena. */
PRPC_API void prpc_dec_any(prpc_decoder *dec, prpc_any *out);
/* Skips one whole value (e.g. extra trailing struct fields from a newer peer). */
PRPC_API void prpc_dec_skip(prpc_decoder *dec);

/* ------------------------------------------------------------- envelopes */

typedef enum prpc_msg_type {
    PRPC_MSG_REQUEST = 0,  /* [0, msgid, method, params] */
    PRPC_MSG_RESPONSE = 1, /* [1, msgid, error, result] */
    PRPC_MSG_NOTIFY = 2    /* [2, method, params] */
} prpc_msg_type;

/* A parsed envelope. Every pointer points into the message buffer; nothing is
 * allocated. Each raw member is one whole msgpack value. */
typedef struct prpc_msg {
    prpc_msg_type type;
    uint32_t msgid;          /* requests and responses */
    const char *method;      /* requests and notifications; not NUL-terminated */
    size_t method_len;
    prpc_any params;         /* requests and notifications: always an array */
    prpc_any error;          /* responses: nil on success, anything otherwise */
    prpc_any result;         /* responses */
} prpc_msg;

/* Validates data[0..len) as exactly one msgpack-rpc message within limits
 * (NULL = defaults) and fills *msg. Errors: PRPC_ERR_PROTOCOL (malformed
 * msgpack, trailing bytes, not an array of the right length, unknown type,
 * msgid not an integer in [0, 2^32), method not a str, params not an array),
 * PRPC_ERR_TOO_DEEP, PRPC_ERR_TOO_LARGE. */
PRPC_API prpc_status prpc_msg_parse(const void *data, size_t len, const prpc_limits *limits,
                                    prpc_msg *msg);

/* Writes [0, msgid, method, <array header of nparams>]; the caller then
 * encodes the nparams arguments. */
PRPC_API void prpc_enc_request(prpc_encoder *enc, uint32_t msgid, const char *method,
                               size_t method_len, uint32_t nparams);
/* Writes [2, method, <array header of nparams>]; the caller encodes the params. */
PRPC_API void prpc_enc_notify(prpc_encoder *enc, const char *method, size_t method_len,
                              uint32_t nparams);
/* Writes [1, msgid, nil, ; the caller then encodes exactly one result value
 * (nil for a void method without out-parameters). */
PRPC_API void prpc_enc_response_ok(prpc_encoder *enc, uint32_t msgid);
/* Writes the whole response [1, msgid, [code, message], nil]. */
PRPC_API void prpc_enc_response_error(prpc_encoder *enc, uint32_t msgid, int64_t code,
                                      const char *message);

/* An error object decoded from a response, in whatever shape a peer sent. */
typedef struct prpc_remote_error {
    int64_t code;          /* [code, message] as piperpc sends it; otherwise PRPC_ERR_REMOTE */
    const char *message;   /* NUL-terminated, in the arena; never NULL */
} prpc_remote_error;

/* Interprets msg->error (which must not be nil). [int, str] gives its code and
 * message; [int] or an int gives the code; a str gives the message with code
 * PRPC_ERR_REMOTE; anything else is rendered as text into the message.
 * Returns PRPC_ERR_NO_MEMORY only if the arena cannot hold the message. */
PRPC_API prpc_status prpc_remote_error_decode(prpc_any error, prpc_arena *arena,
                                              prpc_remote_error *out);

/* The status a client reports for a decoded error: the code itself when it is
 * a known framework status (PRPC_STATUS_MIN..-1), PRPC_ERR_REMOTE otherwise. */
PRPC_API prpc_status prpc_remote_error_status(const prpc_remote_error *err);

/* ------------------------------------------------------- streaming reader */

/* Splits a byte stream (byte-mode pipes, TCP, stdio) into whole messages.
 * It takes input in pieces of any size and validates incrementally, so a
 * message fed one byte at a time costs the same as one fed whole. Memory is
 * bounded by the message size limit. */
typedef struct prpc_reader prpc_reader;

/* limits NULL = defaults. Returns NULL when out of memory. */
PRPC_API prpc_reader *prpc_reader_create(const prpc_limits *limits);
PRPC_API void prpc_reader_destroy(prpc_reader *r); /* accepts NULL */

/* Copies len bytes into the reader. */
PRPC_API prpc_status prpc_reader_feed(prpc_reader *r, const void *data, size_t len);

/* Zero-copy feeding: returns a place to write at least min_size bytes (0 =
 * whatever is convenient) in *buf and how much fits in *avail; after writing
 * n <= *avail bytes there, call prpc_reader_commit(r, n). */
PRPC_API prpc_status prpc_reader_buffer(prpc_reader *r, size_t min_size, void **buf, size_t *avail);
PRPC_API prpc_status prpc_reader_commit(prpc_reader *r, size_t n);

/* Takes the next whole message: on PRPC_OK with *msg non-NULL, msg[0..*len)
 * is one complete msgpack value, valid until the next call on the reader;
 * *msg NULL means more input is needed. An error (PRPC_ERR_PROTOCOL,
 * PRPC_ERR_TOO_DEEP, PRPC_ERR_TOO_LARGE) is sticky: the stream cannot be
 * resynchronised and the connection must be closed. */
PRPC_API prpc_status prpc_reader_next(prpc_reader *r, const uint8_t **msg, size_t *len);

/* Bytes held that do not yet form a whole message. */
PRPC_API size_t prpc_reader_pending(const prpc_reader *r);

PRPC_END_DECLS

#endif /* PIPERPC_CODEC_H */
