/* The C code generator's shared machinery: an output buffer, C names and
 * types for IDL types, the parameter-passing conventions, encode/decode
 * statement emitters, and the structural signature hash.
 *
 * gen_types.c writes <stem>.h and <stem>.c (types, codecs, descriptors),
 * gen_client.c writes <stem>_client.h/.c, gen_server.c <stem>_server.h/.c,
 * and gen_c.c drives them (idlc_generate). The conventions are described
 * for users in docs/generated-code.md. */
#ifndef IDLC_GENERATE_H
#define IDLC_GENERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "idlc.h"
#include "text.h"
#include "piperpc/version.h"

/* idlc is versioned with the runtime it generates code for. */
#define PIPERPC_IDLC_VERSION PRPC_VERSION_STRING

/* Generated files are built in the shared text buffer (text.h). */
typedef idlc_text gen_buf;

void gen_buf_free(gen_buf *b);
void gen_puts(gen_buf *b, const char *s);
void gen_printf(gen_buf *b, const char *fmt, ...) IDLC_PRINTF(2, 3);
/* Writes `ind` levels of four-space indentation, then the formatted text. */
void gen_line(gen_buf *b, int ind, const char *fmt, ...) IDLC_PRINTF(3, 4);
/* An empty line. */
void gen_nl(gen_buf *b);

/* A constructed type (sequence, map, fixed array) that needs a C type and
 * codec functions, identified by its C name. */
typedef struct gen_ctype {
    const char *name;         /* "kv_seq_u8" */
    const idlc_type *type;    /* a representative node */
    const char *owner;        /* the module whose header defines it */
    unsigned dirs;            /* GEN_ENC | GEN_DEC: which codecs a source file needs */
    bool defined;             /* header: definition emitted */
    bool visiting;
} gen_ctype;

typedef struct gen_ctype_set {
    gen_ctype *items;
    size_t count;
    size_t cap;
} gen_ctype_set;

/* One generation run for one main file. */
typedef struct gen_ctx {
    idlc_ctx *ctx;
    const idlc_file *file;
    const char *module;       /* the file's module */
    const char *src_name;     /* the file's base name, for banners */
    gen_buf out;
} gen_ctx;

/* --------------------------------------------------------------- names */

/* The base name of a path ("dir/kv.idl" -> "kv.idl"). */
const char *gen_basename(const char *path);

/* A type with its typedefs followed; *owner becomes the module of the last
 * typedef followed (constructed types are named after the module that
 * writes them). */
const idlc_type *gen_resolve(const idlc_type *t, const char **owner);

/* True for sequences, maps and fixed arrays (types with generated codecs
 * that are not declarations). */
bool gen_is_constructed(const idlc_type *t);

/* The C type of a value of t, as it appears in a declaration before the
 * name ("uint64_t", "const char *", "kv_Entry", "kv_Entry *"). owner is the
 * module of the file the type is written in. */
const char *gen_ctype_of(gen_ctx *g, const idlc_type *t, const char *owner);

/* The C name of a constructed type after resolving typedefs. */
const char *gen_constructed_name(gen_ctx *g, const idlc_type *t, const char *owner);

/* "T name" with the right spacing for pointer types. */
const char *gen_decl(gen_ctx *g, const char *ctype, const char *name);

/* How an in-parameter (or event parameter, or reply value) is passed: by
 * value for scalars, strings, bytes, any and optionals; by const pointer for
 * structs, unions, sequences, maps and fixed arrays. */
bool gen_by_pointer(const idlc_type *t);
/* The C declaration of such a parameter. */
const char *gen_in_param(gen_ctx *g, const idlc_type *t, const char *owner, const char *name);

/* A parameter name that does not clash with the generated code's own. */
const char *gen_param_name(gen_ctx *g, const char *name);

/* An initializer that zeroes a value of t: "0", "NULL", "false", or "{0}"
 * for an aggregate (which every C compiler accepts without a warning). */
const char *gen_zero(const idlc_type *t);

/* A C string literal for text (with quotes); NULL text gives "NULL". */
const char *gen_cstring(gen_ctx *g, const char *text);

/* &x, simplified for x of the form (*p). */
const char *gen_addr(gen_ctx *g, const char *x);

/* Writes a doc comment at indentation ind, if doc is not NULL. */
void gen_doc(gen_buf *b, int ind, const char *doc);

/* The generated-file banner. */
void gen_banner(gen_ctx *g, const char *what);

/* ------------------------------------------------------------- codecs */

/* Emits statements that encode the value denoted by the C expression x
 * (an lvalue of the type's C type) with encoder `enc`. */
void gen_encode(gen_ctx *g, int ind, const idlc_type *t, const char *owner, const char *x);
/* Emits statements that decode into the lvalue x with decoder `dec`. */
void gen_decode(gen_ctx *g, int ind, const idlc_type *t, const char *owner, const char *x);

/* Adds every constructed type reached from t (through typedefs, not into
 * structs or unions) to set, noting which of its codecs are needed (an
 * unused static function would be a warning). */
#define GEN_ENC 1u
#define GEN_DEC 2u
void gen_collect(gen_ctx *g, gen_ctype_set *set, const idlc_type *t, const char *owner,
                 unsigned dirs);
void gen_ctype_set_free(gen_ctype_set *set);

/* Emits static encode/decode functions for every constructed type in set
 * (prototypes first, so recursive types work). */
void gen_constructed_codecs(gen_ctx *g, const gen_ctype_set *set);
/* Emits the codecs of every constructed type the interfaces of the file
 * use, in the directions one side needs: the client encodes what it sends
 * (in and inout parameters) and decodes what it receives (results, out and
 * inout parameters, events); the server the other way round. */
void gen_interface_codecs(gen_ctx *g, bool server);

/* ---------------------------------------------------------- signature */

/* The canonical structural text of an interface (see docs/generated-code.md)
 * and its FNV-1a 64 hash. */
const char *gen_interface_canon(gen_ctx *g, const idlc_decl *iface);
uint64_t gen_fnv1a64(const char *text);

/* ------------------------------------------------------------- outputs */

/* Writes the buffer to out_dir/name through a temporary and a rename. */
idlc_result gen_write(gen_ctx *g, const char *out_dir, const char *name);

idlc_result gen_types(gen_ctx *g, const char *out_dir);
idlc_result gen_client(gen_ctx *g, const char *out_dir);
idlc_result gen_server(gen_ctx *g, const char *out_dir);


/* Method helpers shared by the client and server generators. */
bool gen_has_outs(const idlc_method *m);          /* out or inout parameters */
bool gen_has_result(const idlc_method *m);        /* a non-void return or outs */
uint32_t gen_wire_params(const idlc_method *m);   /* in and inout parameters */
uint32_t gen_reply_values(const idlc_method *m);  /* return (if any) + outs */

#endif /* IDLC_GENERATE_H */
