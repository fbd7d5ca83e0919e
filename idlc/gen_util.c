/* The generator's shared machinery: output buffer, C names and types of IDL
 * types, parameter conventions, encode/decode statement emitters and the
 * structural signature hash (see generate.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnames.h"
#include "generate.h"

/* -------------------------------------------------------------- buffer */

void gen_buf_free(gen_buf *b)
{
    idlc_text_free(b);
}

void gen_puts(gen_buf *b, const char *s)
{
    idlc_text_puts(b, s);
}

void gen_printf(gen_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    idlc_text_vprintf(b, fmt, ap);
    va_end(ap);
}

void gen_line(gen_buf *b, int ind, const char *fmt, ...)
{
    for (int i = 0; i < ind; i++)
        gen_puts(b, "    ");
    va_list ap;
    va_start(ap, fmt);
    idlc_text_vprintf(b, fmt, ap);
    va_end(ap);
    gen_puts(b, "\n");
}

void gen_nl(gen_buf *b)
{
    gen_puts(b, "\n");
}

/* --------------------------------------------------------------- names */

const char *gen_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    const char *bs = strrchr(path, '\\');
    if (bs != NULL && (s == NULL || bs > s))
        s = bs;
    return s ? s + 1 : path;
}

const idlc_type *gen_resolve(const idlc_type *t, const char **owner)
{
    return idlc__cname_resolve(t, owner);
}

bool gen_is_constructed(const idlc_type *t)
{
    return t->kind == IDLC_TYPE_SEQUENCE || t->kind == IDLC_TYPE_MAP ||
           t->kind == IDLC_TYPE_ARRAY;
}

const char *gen_constructed_name(gen_ctx *g, const idlc_type *t, const char *owner)
{
    return idlc__cname_type(g->ctx, t, owner);
}

static const char *scalar_ctype(idlc_type_kind k)
{
    switch (k) {
    case IDLC_TYPE_VOID: return "void";
    case IDLC_TYPE_BOOL: return "bool";
    case IDLC_TYPE_I8: return "int8_t";
    case IDLC_TYPE_I16: return "int16_t";
    case IDLC_TYPE_I32: return "int32_t";
    case IDLC_TYPE_I64: return "int64_t";
    case IDLC_TYPE_U8: return "uint8_t";
    case IDLC_TYPE_U16: return "uint16_t";
    case IDLC_TYPE_U32: return "uint32_t";
    case IDLC_TYPE_U64: return "uint64_t";
    case IDLC_TYPE_F32: return "float";
    case IDLC_TYPE_F64: return "double";
    case IDLC_TYPE_STRING: return "const char *";
    case IDLC_TYPE_BYTES: return "prpc_bytes";
    case IDLC_TYPE_ANY: return "prpc_any";
    default: return NULL;
    }
}

static bool ends_with_star(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && s[n - 1] == '*';
}

const char *gen_ctype_of(gen_ctx *g, const idlc_type *t, const char *owner)
{
    switch (t->kind) {
    case IDLC_TYPE_NAMED:
        return t->target ? t->target->c_name : "void";
    case IDLC_TYPE_SEQUENCE:
    case IDLC_TYPE_MAP:
    case IDLC_TYPE_ARRAY:
        return idlc__cname_type(g->ctx, t, owner);
    case IDLC_TYPE_OPTIONAL: {
        /* optional<string> is a plain string pointer (NULL = absent); any
         * other optional<T> is a T * into the arena. */
        const idlc_type *e = gen_resolve(t->elem, NULL);
        if (e->kind == IDLC_TYPE_STRING)
            return "const char *";
        const char *inner = gen_ctype_of(g, t->elem, owner);
        return idlc_sprintf(g->ctx, ends_with_star(inner) ? "%s*" : "%s *", inner);
    }
    default:
        return scalar_ctype(t->kind);
    }
}

const char *gen_decl(gen_ctx *g, const char *ctype, const char *name)
{
    return idlc_sprintf(g->ctx, ends_with_star(ctype) ? "%s%s" : "%s %s", ctype, name);
}

bool gen_by_pointer(const idlc_type *t)
{
    t = gen_resolve(t, NULL);
    if (gen_is_constructed(t))
        return true;
    if (t->kind == IDLC_TYPE_NAMED && t->target != NULL)
        return t->target->kind == IDLC_DECL_STRUCT || t->target->kind == IDLC_DECL_UNION;
    return false;
}

const char *gen_in_param(gen_ctx *g, const idlc_type *t, const char *owner, const char *name)
{
    const char *ct = gen_ctype_of(g, t, owner);
    if (gen_by_pointer(t))
        return idlc_sprintf(g->ctx, "const %s *%s", ct, name);
    return gen_decl(g, ct, name);
}

const char *gen_param_name(gen_ctx *g, const char *name)
{
    return idlc__cname_param(g->ctx, name);
}

const char *gen_zero(const idlc_type *t)
{
    t = gen_resolve(t, NULL);
    switch (t->kind) {
    case IDLC_TYPE_BOOL:
        return "false";
    case IDLC_TYPE_STRING:
    case IDLC_TYPE_OPTIONAL:
        return "NULL";
    case IDLC_TYPE_BYTES:
    case IDLC_TYPE_ANY:
    case IDLC_TYPE_SEQUENCE:
    case IDLC_TYPE_MAP:
    case IDLC_TYPE_ARRAY:
        return "{0}";
    case IDLC_TYPE_NAMED:
        return t->target != NULL && t->target->kind == IDLC_DECL_ENUM ? "0" : "{0}";
    default:
        return "0";
    }
}

const char *gen_cstring(gen_ctx *g, const char *text)
{
    if (text == NULL)
        return "NULL";
    gen_buf b = {0};
    gen_puts(&b, "\"");
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        char esc[8];
        switch (*p) {
        case '\\': gen_puts(&b, "\\\\"); break;
        case '"': gen_puts(&b, "\\\""); break;
        case '\n': gen_puts(&b, "\\n"); break;
        case '\t': gen_puts(&b, "\\t"); break;
        case '?': gen_puts(&b, "\\?"); break; /* no trigraphs */
        default:
            if (*p < 0x20 || *p >= 0x7f) {
                /* Octal escapes stop after three digits, unlike hex ones. */
                snprintf(esc, sizeof esc, "\\%03o", *p);
                gen_puts(&b, esc);
            } else {
                esc[0] = (char)*p;
                esc[1] = '\0';
                gen_puts(&b, esc);
            }
        }
    }
    gen_puts(&b, "\"");
    const char *s = b.failed ? "\"\"" : idlc_strdup(g->ctx, b.p);
    gen_buf_free(&b);
    return s;
}

const char *gen_addr(gen_ctx *g, const char *x)
{
    size_t n = strlen(x);
    if (n > 3 && x[0] == '(' && x[1] == '*' && x[n - 1] == ')')
        return idlc_strndup(g->ctx, x + 2, n - 3);
    return idlc_sprintf(g->ctx, "&%s", x);
}

void gen_doc(gen_buf *b, int ind, const char *doc)
{
    if (doc == NULL || doc[0] == '\0')
        return;
    bool multi = strchr(doc, '\n') != NULL;
    for (int i = 0; i < ind; i++)
        gen_puts(b, "    ");
    gen_puts(b, multi ? "/**\n" : "/** ");
    const char *p = doc;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (multi) {
            for (int i = 0; i < ind; i++)
                gen_puts(b, "    ");
            gen_puts(b, len ? " * " : " *");
        }
        /* A "*" followed by "/" would end the comment early. */
        for (size_t i = 0; i < len; i++) {
            char c[2] = {p[i], '\0'};
            gen_puts(b, c);
            if (p[i] == '*' && i + 1 < len && p[i + 1] == '/')
                gen_puts(b, " ");
        }
        if (multi)
            gen_puts(b, "\n");
        p += len;
        if (*p == '\n')
            p++;
    }
    if (multi) {
        for (int i = 0; i < ind; i++)
            gen_puts(b, "    ");
        gen_puts(b, " */\n");
    } else {
        gen_puts(b, " */\n");
    }
}

void gen_banner(gen_ctx *g, const char *what)
{
    gen_printf(&g->out, "/* generated by idlc %s from %s \xe2\x80\x94 DO NOT EDIT\n", PIPERPC_IDLC_VERSION,
               g->src_name);
    gen_printf(&g->out, " *\n * %s */\n", what);
}

/* ------------------------------------------------------------- codecs */

static const char *int_reader(idlc_type_kind k)
{
    switch (k) {
    case IDLC_TYPE_I8: return "prpc_dec_i8";
    case IDLC_TYPE_I16: return "prpc_dec_i16";
    case IDLC_TYPE_I32: return "prpc_dec_i32";
    case IDLC_TYPE_I64: return "prpc_dec_i64";
    case IDLC_TYPE_U8: return "prpc_dec_u8";
    case IDLC_TYPE_U16: return "prpc_dec_u16";
    case IDLC_TYPE_U32: return "prpc_dec_u32";
    case IDLC_TYPE_U64: return "prpc_dec_u64";
    case IDLC_TYPE_F32: return "prpc_dec_f32";
    case IDLC_TYPE_F64: return "prpc_dec_f64";
    case IDLC_TYPE_BOOL: return "prpc_dec_bool";
    default: return NULL;
    }
}

/* "(*p)" as a plain value "*p", and its member m as "p->m". */
static bool is_deref(const char *x)
{
    size_t n = strlen(x);
    return n > 3 && x[0] == '(' && x[1] == '*' && x[n - 1] == ')';
}

static const char *value_of(gen_ctx *g, const char *x)
{
    return is_deref(x) ? idlc_strndup(g->ctx, x + 1, strlen(x) - 2) : x;
}

static const char *member_of(gen_ctx *g, const char *x, const char *m)
{
    if (is_deref(x))
        return idlc_sprintf(g->ctx, "%.*s->%s", (int)(strlen(x) - 3), x + 2, m);
    return idlc_sprintf(g->ctx, "%s.%s", x, m);
}

void gen_encode(gen_ctx *g, int ind, const idlc_type *t, const char *owner, const char *x)
{
    gen_buf *b = &g->out;
    t = gen_resolve(t, &owner);
    const char *xv = value_of(g, x);
    switch (t->kind) {
    case IDLC_TYPE_BOOL:
        gen_line(b, ind, "prpc_enc_bool(enc, %s);", xv);
        break;
    case IDLC_TYPE_I8:
    case IDLC_TYPE_I16:
    case IDLC_TYPE_I32:
    case IDLC_TYPE_I64:
        gen_line(b, ind, "prpc_enc_int(enc, %s);", xv);
        break;
    case IDLC_TYPE_U8:
    case IDLC_TYPE_U16:
    case IDLC_TYPE_U32:
    case IDLC_TYPE_U64:
        gen_line(b, ind, "prpc_enc_uint(enc, %s);", xv);
        break;
    case IDLC_TYPE_F32:
        gen_line(b, ind, "prpc_enc_f32(enc, %s);", xv);
        break;
    case IDLC_TYPE_F64:
        gen_line(b, ind, "prpc_enc_f64(enc, %s);", xv);
        break;
    case IDLC_TYPE_STRING:
        gen_line(b, ind, "prpc_enc_cstr(enc, %s);", xv);
        break;
    case IDLC_TYPE_BYTES:
        gen_line(b, ind, "prpc_enc_bin(enc, %s, %s);", member_of(g, x, "data"), member_of(g, x, "len"));
        break;
    case IDLC_TYPE_ANY:
        gen_line(b, ind, "prpc_enc_any(enc, %s);", xv);
        break;
    case IDLC_TYPE_NAMED:
        gen_line(b, ind, "%s(enc, %s);", idlc__cname(g->ctx, IDLC_CN_ENCODE, t->target->c_name), gen_addr(g, x));
        break;
    case IDLC_TYPE_SEQUENCE:
    case IDLC_TYPE_MAP:
    case IDLC_TYPE_ARRAY:
        gen_line(b, ind, "%s(enc, %s);", idlc__cname(g->ctx, IDLC_CN_ENCODE, gen_constructed_name(g, t, owner)),
                 gen_addr(g, x));
        break;
    case IDLC_TYPE_OPTIONAL:
        if (gen_resolve(t->elem, NULL)->kind == IDLC_TYPE_STRING) {
            gen_line(b, ind, "if (%s != NULL)", x);
            gen_line(b, ind + 1, "prpc_enc_cstr(enc, %s);", x);
        } else {
            gen_line(b, ind, "if (%s != NULL) {", x);
            gen_encode(g, ind + 1, t->elem, owner, idlc_sprintf(g->ctx, "(*%s)", x));
            gen_line(b, ind, "} else {");
            gen_line(b, ind + 1, "prpc_enc_nil(enc);");
            gen_line(b, ind, "}");
            break;
        }
        gen_line(b, ind, "else");
        gen_line(b, ind + 1, "prpc_enc_nil(enc);");
        break;
    default:
        gen_line(b, ind, "prpc_enc_fail(enc, PRPC_ERR_INTERNAL);");
        break;
    }
}

void gen_decode(gen_ctx *g, int ind, const idlc_type *t, const char *owner, const char *x)
{
    gen_buf *b = &g->out;
    t = gen_resolve(t, &owner);
    const char *reader = int_reader(t->kind);
    if (reader != NULL) {
        gen_line(b, ind, "%s(dec, %s);", reader, gen_addr(g, x));
        return;
    }
    switch (t->kind) {
    case IDLC_TYPE_STRING:
        gen_line(b, ind, "prpc_dec_str(dec, %s, NULL);", gen_addr(g, x));
        break;
    case IDLC_TYPE_BYTES:
        gen_line(b, ind, "prpc_dec_bytes(dec, %s);", gen_addr(g, x));
        break;
    case IDLC_TYPE_ANY:
        gen_line(b, ind, "prpc_dec_any(dec, %s);", gen_addr(g, x));
        break;
    case IDLC_TYPE_NAMED:
        gen_line(b, ind, "%s(dec, %s);", idlc__cname(g->ctx, IDLC_CN_DECODE, t->target->c_name), gen_addr(g, x));
        break;
    case IDLC_TYPE_SEQUENCE:
    case IDLC_TYPE_MAP:
    case IDLC_TYPE_ARRAY:
        gen_line(b, ind, "%s(dec, %s);", idlc__cname(g->ctx, IDLC_CN_DECODE, gen_constructed_name(g, t, owner)),
                 gen_addr(g, x));
        break;
    case IDLC_TYPE_OPTIONAL:
        if (gen_resolve(t->elem, NULL)->kind == IDLC_TYPE_STRING) {
            gen_line(b, ind, "if (prpc_dec_try_nil(dec))");
            gen_line(b, ind + 1, "%s = NULL;", x);
            gen_line(b, ind, "else");
            gen_line(b, ind + 1, "prpc_dec_str(dec, %s, NULL);", gen_addr(g, x));
        } else {
            const char *ct = gen_ctype_of(g, t->elem, owner);
            gen_line(b, ind, "if (prpc_dec_try_nil(dec)) {");
            gen_line(b, ind + 1, "%s = NULL;", x);
            gen_line(b, ind, "} else {");
            gen_line(b, ind + 1, "%s = prpc_dec_alloc_array(dec, 1, sizeof *%s, _Alignof(%s));", x,
                     x, ct);
            gen_line(b, ind + 1, "if (%s != NULL) {", x);
            gen_decode(g, ind + 2, t->elem, owner, idlc_sprintf(g->ctx, "(*%s)", x));
            gen_line(b, ind + 1, "}");
            gen_line(b, ind, "}");
        }
        break;
    default:
        gen_line(b, ind, "prpc_dec_fail(dec, PRPC_ERR_INTERNAL);");
        break;
    }
}

/* ------------------------------------------------ constructed-type sets */

void gen_ctype_set_free(gen_ctype_set *set)
{
    free(set->items);
    memset(set, 0, sizeof *set);
}

static gen_ctype *set_find(const gen_ctype_set *set, const char *name)
{
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->items[i].name, name) == 0)
            return &set->items[i];
    return NULL;
}

void gen_collect(gen_ctx *g, gen_ctype_set *set, const idlc_type *t, const char *owner,
                 unsigned dirs)
{
    if (t == NULL)
        return;
    t = gen_resolve(t, &owner);
    switch (t->kind) {
    case IDLC_TYPE_OPTIONAL:
        gen_collect(g, set, t->elem, owner, dirs);
        return;
    case IDLC_TYPE_SEQUENCE:
    case IDLC_TYPE_MAP:
    case IDLC_TYPE_ARRAY:
        break;
    default:
        return;
    }
    const char *name = gen_constructed_name(g, t, owner);
    gen_ctype *c = set_find(set, name);
    if (c != NULL) {
        if ((c->dirs | dirs) == c->dirs)
            return;
        c->dirs |= dirs;
    } else {
        if (set->count == set->cap) {
            size_t cap = set->cap ? set->cap * 2 : 16;
            gen_ctype *items = realloc(set->items, cap * sizeof *items);
            if (items == NULL) {
                g->out.failed = true;
                return;
            }
            set->items = items;
            set->cap = cap;
        }
        set->items[set->count++] = (gen_ctype){name, t, owner, dirs, false, false};
    }
    if (t->kind == IDLC_TYPE_MAP)
        gen_collect(g, set, t->key, owner, dirs);
    gen_collect(g, set, t->elem, owner, dirs);
}

static void codec_protos(gen_ctx *g, const gen_ctype *c)
{
    if (c->dirs & GEN_ENC)
        gen_line(&g->out, 0, "static void %s(prpc_encoder *enc, const %s *v);",
                 idlc__cname(g->ctx, IDLC_CN_ENCODE, c->name), c->name);
    if (c->dirs & GEN_DEC)
        gen_line(&g->out, 0, "static void %s(prpc_decoder *dec, %s *v);",
                 idlc__cname(g->ctx, IDLC_CN_DECODE, c->name), c->name);
}

static void codec_bodies(gen_ctx *g, const gen_ctype *c)
{
    gen_buf *b = &g->out;
    const idlc_type *t = c->type;
    const char *o = c->owner;
    const char *elem_ct = gen_ctype_of(g, t->elem, o);

    if (!(c->dirs & GEN_ENC))
        goto decode;
    gen_line(b, 0, "static void %s(prpc_encoder *enc, const %s *v)", idlc__cname(g->ctx, IDLC_CN_ENCODE, c->name),
             c->name);
    gen_line(b, 0, "{");
    if (t->kind == IDLC_TYPE_ARRAY) {
        gen_line(b, 1, "prpc_enc_array(enc, %llu);", (unsigned long long)t->size);
        gen_line(b, 1, "for (uint32_t i = 0; i < %llu; i++) {", (unsigned long long)t->size);
        gen_encode(g, 2, t->elem, o, "v->items[i]");
        gen_line(b, 1, "}");
    } else {
        gen_line(b, 1, "if (v->count > 0 && v->items == NULL) {");
        gen_line(b, 2, "prpc_enc_fail(enc, PRPC_ERR_INVALID_ARG);");
        gen_line(b, 2, "return;");
        gen_line(b, 1, "}");
        if (t->kind == IDLC_TYPE_SEQUENCE && t->size > 0 && t->size < UINT32_MAX) {
            gen_line(b, 1, "if (v->count > %llu) {", (unsigned long long)t->size);
            gen_line(b, 2, "prpc_enc_fail(enc, PRPC_ERR_INVALID_ARG); /* over the bound */");
            gen_line(b, 2, "return;");
            gen_line(b, 1, "}");
        }
        if (t->kind == IDLC_TYPE_MAP) {
            gen_line(b, 1, "prpc_enc_map(enc, v->count);");
            gen_line(b, 1, "for (uint32_t i = 0; i < v->count; i++) {");
            gen_encode(g, 2, t->key, o, "v->items[i].key");
            gen_encode(g, 2, t->elem, o, "v->items[i].value");
        } else {
            gen_line(b, 1, "prpc_enc_array(enc, v->count);");
            gen_line(b, 1, "for (uint32_t i = 0; i < v->count; i++) {");
            gen_encode(g, 2, t->elem, o, "v->items[i]");
        }
        gen_line(b, 1, "}");
    }
    gen_line(b, 0, "}");
    gen_nl(b);

decode:
    if (!(c->dirs & GEN_DEC))
        return;
    gen_line(b, 0, "static void %s(prpc_decoder *dec, %s *v)", idlc__cname(g->ctx, IDLC_CN_DECODE, c->name),
             c->name);
    gen_line(b, 0, "{");
    if (t->kind == IDLC_TYPE_ARRAY) {
        gen_line(b, 1, "prpc_dec_array_exact(dec, %llu);", (unsigned long long)t->size);
        gen_line(b, 1, "for (uint32_t i = 0; i < %llu; i++) {", (unsigned long long)t->size);
        gen_decode(g, 2, t->elem, o, "v->items[i]");
        gen_line(b, 1, "}");
    } else {
        bool map = t->kind == IDLC_TYPE_MAP;
        gen_line(b, 1, "uint32_t n = 0;");
        gen_nl(b);
        gen_line(b, 1, "v->items = NULL;");
        gen_line(b, 1, "v->count = 0;");
        gen_line(b, 1, map ? "prpc_dec_map(dec, &n);" : "prpc_dec_array(dec, &n);");
        if (t->kind == IDLC_TYPE_SEQUENCE && t->size > 0 && t->size < UINT32_MAX) {
            gen_line(b, 1, "if (n > %llu) {", (unsigned long long)t->size);
            gen_line(b, 2, "prpc_dec_fail(dec, dec->type_err); /* over the bound */");
            gen_line(b, 2, "return;");
            gen_line(b, 1, "}");
        }
        const char *item_ct =
            map ? idlc__cname(g->ctx, IDLC_CN_ENTRY, c->name) : elem_ct;
        gen_line(b, 1, "v->items = prpc_dec_alloc_array(dec, n, sizeof *v->items, _Alignof(%s));",
                 item_ct);
        gen_line(b, 1, "if (v->items == NULL)");
        gen_line(b, 2, "return;");
        gen_line(b, 1, "v->count = n;");
        gen_line(b, 1, "for (uint32_t i = 0; i < n; i++) {");
        if (map) {
            gen_decode(g, 2, t->key, o, "v->items[i].key");
            gen_decode(g, 2, t->elem, o, "v->items[i].value");
        } else {
            gen_decode(g, 2, t->elem, o, "v->items[i]");
        }
        gen_line(b, 1, "}");
    }
    gen_line(b, 0, "}");
    gen_nl(b);
}

void gen_constructed_codecs(gen_ctx *g, const gen_ctype_set *set)
{
    if (set->count == 0)
        return;
    gen_line(&g->out, 0, "/* Codecs of the sequences, maps and fixed arrays used here. */");
    for (size_t i = 0; i < set->count; i++)
        codec_protos(g, &set->items[i]);
    gen_nl(&g->out);
    for (size_t i = 0; i < set->count; i++)
        codec_bodies(g, &set->items[i]);
}

/* ---------------------------------------------------------- signature */

/* Named types already written, so recursive and shared types appear once;
 * later mentions are "#k", k being the order of first appearance. */
typedef struct canon_state {
    gen_ctx *g;
    gen_buf b;
    const idlc_decl **seen;
    size_t nseen;
    size_t cap;
} canon_state;

static void canon_type(canon_state *s, const idlc_type *t);

static void canon_enum(canon_state *s, const idlc_decl *d)
{
    gen_puts(&s->b, "enum{");
    for (const idlc_enumerator *e = d->u.enum_.items; e != NULL; e = e->next)
        gen_printf(&s->b, "%lld%s", (long long)e->value, e->next ? "," : "");
    gen_puts(&s->b, "}");
}

static void canon_decl(canon_state *s, const idlc_decl *d)
{
    for (size_t i = 0; i < s->nseen; i++) {
        if (s->seen[i] == d) {
            gen_printf(&s->b, "#%zu", i);
            return;
        }
    }
    if (s->nseen == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        const idlc_decl **seen = realloc(s->seen, cap * sizeof *seen);
        if (seen == NULL) {
            s->b.failed = true;
            return;
        }
        s->seen = seen;
        s->cap = cap;
    }
    s->seen[s->nseen++] = d;
    switch (d->kind) {
    case IDLC_DECL_ENUM:
        canon_enum(s, d);
        break;
    case IDLC_DECL_STRUCT:
        gen_puts(&s->b, "struct{");
        for (const idlc_field *f = d->u.struct_.fields; f != NULL; f = f->next) {
            canon_type(s, f->type);
            if (f->next)
                gen_puts(&s->b, ",");
        }
        gen_puts(&s->b, "}");
        break;
    case IDLC_DECL_UNION:
        gen_puts(&s->b, "union<");
        if (d->u.union_.discriminator_enum != NULL)
            canon_decl(s, d->u.union_.discriminator_enum);
        gen_puts(&s->b, ">{");
        for (const idlc_union_case *c = d->u.union_.cases; c != NULL; c = c->next) {
            gen_printf(&s->b, "%lld:", c->enumerator ? (long long)c->enumerator->value : 0LL);
            canon_type(s, c->type);
            if (c->next)
                gen_puts(&s->b, ",");
        }
        gen_puts(&s->b, "}");
        break;
    default:
        gen_puts(&s->b, "?");
        break;
    }
}

static void canon_type(canon_state *s, const idlc_type *t)
{
    t = gen_resolve(t, NULL);
    switch (t->kind) {
    case IDLC_TYPE_NAMED:
        if (t->target != NULL)
            canon_decl(s, t->target);
        else
            gen_puts(&s->b, "?");
        break;
    case IDLC_TYPE_SEQUENCE:
        gen_puts(&s->b, "seq<");
        canon_type(s, t->elem);
        if (t->size > 0)
            gen_printf(&s->b, ",%llu", (unsigned long long)t->size);
        gen_puts(&s->b, ">");
        break;
    case IDLC_TYPE_MAP:
        gen_puts(&s->b, "map<");
        canon_type(s, t->key);
        gen_puts(&s->b, ",");
        canon_type(s, t->elem);
        gen_puts(&s->b, ">");
        break;
    case IDLC_TYPE_OPTIONAL:
        gen_puts(&s->b, "opt<");
        canon_type(s, t->elem);
        gen_puts(&s->b, ">");
        break;
    case IDLC_TYPE_ARRAY:
        gen_puts(&s->b, "arr<");
        canon_type(s, t->elem);
        gen_printf(&s->b, ",%llu>", (unsigned long long)t->size);
        break;
    default:
        gen_puts(&s->b, idlc_type_kind_name(t->kind));
        break;
    }
}

static int cmp_method(const void *a, const void *b)
{
    const idlc_method *x = *(const idlc_method *const *)a;
    const idlc_method *y = *(const idlc_method *const *)b;
    if (x->is_event != y->is_event)
        return x->is_event ? 1 : -1;
    return strcmp(x->wire_name, y->wire_name);
}

const char *gen_interface_canon(gen_ctx *g, const idlc_decl *iface)
{
    canon_state s = {g, {0}, NULL, 0, 0};
    size_t n = iface->u.interface_.method_count + iface->u.interface_.event_count;
    const idlc_method **all = calloc(n ? n : 1, sizeof *all);
    if (all == NULL) {
        g->out.failed = true;
        return "";
    }
    size_t k = 0;
    for (const idlc_method *m = iface->u.interface_.methods; m != NULL && k < n; m = m->next)
        all[k++] = m;
    for (const idlc_method *m = iface->u.interface_.events; m != NULL && k < n; m = m->next)
        all[k++] = m;
    /* Sorted by wire name: declaration order does not matter on the wire. */
    qsort(all, k, sizeof *all, cmp_method);
    for (size_t i = 0; i < k; i++) {
        const idlc_method *m = all[i];
        if (m->is_event) {
            gen_printf(&s.b, "event %s(", m->wire_name);
        } else {
            gen_printf(&s.b, "%s%s(", m->oneway ? "oneway " : "", m->wire_name);
        }
        for (const idlc_param *p = m->params; p != NULL; p = p->next) {
            if (!m->is_event)
                gen_puts(&s.b, p->dir == IDLC_DIR_IN ? "in " : p->dir == IDLC_DIR_OUT ? "out " : "inout ");
            canon_type(&s, p->type);
            if (p->next)
                gen_puts(&s.b, ",");
        }
        gen_puts(&s.b, ")");
        if (!m->is_event) {
            gen_puts(&s.b, "->");
            canon_type(&s, m->ret);
            if (m->raises != NULL) {
                gen_puts(&s.b, " raises ");
                canon_decl(&s, m->raises);
            }
        }
        gen_puts(&s.b, ";\n");
    }
    free(all);
    free(s.seen);
    const char *text = s.b.failed ? NULL : idlc_strdup(g->ctx, s.b.p ? s.b.p : "");
    if (text == NULL)
        g->out.failed = true;
    gen_buf_free(&s.b);
    return text ? text : "";
}

uint64_t gen_fnv1a64(const char *text)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ------------------------------------------------------------- methods */

bool gen_has_outs(const idlc_method *m)
{
    for (const idlc_param *p = m->params; p != NULL; p = p->next)
        if (p->dir != IDLC_DIR_IN)
            return true;
    return false;
}

bool gen_has_result(const idlc_method *m)
{
    return m->ret->kind != IDLC_TYPE_VOID || gen_has_outs(m);
}

uint32_t gen_wire_params(const idlc_method *m)
{
    uint32_t n = 0;
    for (const idlc_param *p = m->params; p != NULL; p = p->next)
        if (p->dir != IDLC_DIR_OUT)
            n++;
    return n;
}

uint32_t gen_reply_values(const idlc_method *m)
{
    uint32_t n = m->ret->kind != IDLC_TYPE_VOID ? 1 : 0;
    for (const idlc_param *p = m->params; p != NULL; p = p->next)
        if (p->dir != IDLC_DIR_IN)
            n++;
    return n;
}

/* ------------------------------------------------------------- outputs */

idlc_result gen_write(gen_ctx *g, const char *out_dir, const char *name)
{
    if (g->out.failed) {
        idlc_error(g->ctx, NULL, "out of memory while generating %s", name);
        return IDLC_ERR_IO;
    }
    const char *path = out_dir && out_dir[0] ? idlc_sprintf(g->ctx, "%s/%s", out_dir, name) : name;
    if (path == NULL)
        return IDLC_ERR_IO;
    return idlc_write_file_atomic(g->ctx, path, g->out.p ? g->out.p : "", g->out.len);
}

void gen_interface_codecs(gen_ctx *g, bool server)
{
    gen_ctype_set set = {0};
    for (const idlc_decl *d = g->file->decls; d != NULL; d = d->next) {
        if (d->kind != IDLC_DECL_INTERFACE)
            continue;
        for (int e = 0; e < 2; e++)
            for (const idlc_method *m = e ? d->u.interface_.events : d->u.interface_.methods;
                 m != NULL; m = m->next) {
                /* Directions as the client sees them; the server mirrors them. */
                gen_collect(g, &set, m->ret, d->module, server ? GEN_ENC : GEN_DEC);
                for (const idlc_param *p = m->params; p != NULL; p = p->next) {
                    unsigned dirs = e ? GEN_DEC
                                  : p->dir == IDLC_DIR_IN  ? GEN_ENC
                                  : p->dir == IDLC_DIR_OUT ? GEN_DEC
                                                           : GEN_ENC | GEN_DEC;
                    if (server && dirs != (GEN_ENC | GEN_DEC))
                        dirs ^= GEN_ENC | GEN_DEC;
                    gen_collect(g, &set, p->type, d->module, dirs);
                }
            }
    }
    gen_constructed_codecs(g, &set);
    gen_ctype_set_free(&set);
}
