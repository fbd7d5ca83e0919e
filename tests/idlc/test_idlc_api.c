/* The idlc library API: parsing from memory, the resolved tree the
 * generator relies on, diagnostics through the callback and their cap, and
 * atomic file writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "idlc.h"

typedef struct captured {
    char text[16384];
    size_t len;
    int calls;
} captured;

static void capture(void *user, const char *text)
{
    captured *c = user;
    size_t n = strlen(text);
    if (c->len + n < sizeof(c->text)) {
        memcpy(c->text + c->len, text, n + 1);
        c->len += n;
    }
    c->calls++;
}

static idlc_ctx *new_ctx(captured *c, unsigned max_errors)
{
    idlc_options o = {0};
    o.diag = capture;
    o.diag_user = c;
    o.max_errors = max_errors;
    o.no_import_files = 1;
    idlc_ctx *ctx = idlc_ctx_create(&o);
    assert_non_null(ctx);
    return ctx;
}

static const char kv_text[] =
    "/// Store things.\n"
    "module kv;\n"
    "const u32 MAX = 4;\n"
    "enum Error { NOT_FOUND = 1, FULL }\n"
    "/// An entry.\n"
    "struct Entry {\n"
    "    /// The key.\n"
    "    string key;\n"
    "    u8[MAX] tag;\n"
    "    sequence<Entry, 10> children;\n"
    "    Inner inner;\n"
    "}\n"
    "struct Inner { map<string, i64> counts; }\n"
    "[version(3.4)]\n"
    "interface Store {\n"
    "    [idempotent, timeout(250)] Entry get(string key) raises (Error);\n"
    "    [name(\"legacy.put\")] void put(in Entry e, out u64 version);\n"
    "    event changed(string key);\n"
    "}\n";

static void test_parse_string_resolves_everything(void **state)
{
    (void)state;
    captured c = {0};
    idlc_ctx *ctx = new_ctx(&c, 0);
    assert_int_equal(idlc_parse_string(ctx, "kv.idl", kv_text, strlen(kv_text)), IDLC_OK);
    assert_int_equal(idlc_check(ctx), IDLC_OK);
    assert_int_equal(c.calls, 0);

    const idlc_file *f = idlc_files(ctx);
    assert_non_null(f);
    assert_string_equal(f->path, "kv.idl");
    assert_string_equal(f->stem, "kv");
    assert_string_equal(f->module, "kv");
    assert_string_equal(f->doc, "Store things.");
    assert_true(f->is_main);
    assert_null(f->next);

    const idlc_decl *entry = idlc_find_decl(ctx, "kv.Entry");
    const idlc_decl *inner = idlc_find_decl(ctx, "kv.Inner");
    const idlc_decl *err = idlc_find_decl(ctx, "kv.Error");
    assert_non_null(entry);
    assert_non_null(inner);
    assert_non_null(err);
    assert_string_equal(entry->c_name, "kv_Entry");
    assert_string_equal(entry->doc, "An entry.");
    assert_int_equal(entry->u.struct_.count, 4);

    const idlc_field *key = entry->u.struct_.fields;
    assert_string_equal(key->doc, "The key.");
    assert_int_equal(key->type->kind, IDLC_TYPE_STRING);
    const idlc_field *tag = key->next;
    assert_int_equal(tag->type->kind, IDLC_TYPE_ARRAY);
    assert_int_equal(tag->type->size, 4);
    assert_int_equal(tag->type->elem->kind, IDLC_TYPE_U8);
    const idlc_field *children = tag->next;
    assert_int_equal(children->type->kind, IDLC_TYPE_SEQUENCE);
    assert_int_equal(children->type->size, 10);
    assert_ptr_equal(children->type->elem->target, entry);
    const idlc_field *in = children->next;
    assert_ptr_equal(in->type->target, inner);
    assert_ptr_equal(idlc_type_decl(in->type), inner);

    assert_int_equal(err->u.enum_.items->value, 1);
    assert_int_equal(err->u.enum_.items->next->value, 2);
    assert_string_equal(err->u.enum_.items->next->c_name, "kv_Error_FULL");

    const idlc_decl *store = idlc_find_decl(ctx, "kv.Store");
    assert_non_null(store);
    assert_int_equal(store->u.interface_.version_major, 3);
    assert_int_equal(store->u.interface_.version_minor, 4);
    assert_int_equal(store->u.interface_.method_count, 2);
    assert_int_equal(store->u.interface_.event_count, 1);
    const idlc_method *get = store->u.interface_.methods;
    assert_string_equal(get->wire_name, "kv.Store.get");
    assert_string_equal(get->c_name, "kv_Store_get");
    assert_string_equal(get->signature, "kv.Entry get(in string key) raises (kv.Error)");
    assert_ptr_equal(get->raises, err);
    assert_true(get->attrs.idempotent);
    assert_int_equal(get->attrs.timeout_ms, 250);
    const idlc_method *put = get->next;
    assert_string_equal(put->wire_name, "legacy.put");
    assert_int_equal(put->params->next->dir, IDLC_DIR_OUT);
    assert_int_equal(put->index, 1);
    assert_string_equal(store->u.interface_.events->wire_name, "kv.Store.changed");
    assert_non_null(strstr(store->u.interface_.signature, "struct kv.Entry { string; u8[4]; sequence<kv.Entry, 10>; kv.Inner; }"));

    /* Inner is held by value, so it comes before Entry; the interface last. */
    size_t pos_inner = 0, pos_entry = 0, pos_store = 0;
    for (size_t i = 0; i < f->decl_count; i++) {
        if (f->decl_order[i] == inner)
            pos_inner = i + 1;
        if (f->decl_order[i] == entry)
            pos_entry = i + 1;
        if (f->decl_order[i] == store)
            pos_store = i + 1;
    }
    assert_true(pos_inner && pos_entry && pos_store);
    assert_true(pos_inner < pos_entry);
    assert_true(pos_entry < pos_store);
    idlc_ctx_destroy(ctx);
}

static void test_diagnostics_go_to_the_callback(void **state)
{
    (void)state;
    captured c = {0};
    idlc_ctx *ctx = new_ctx(&c, 0);
    static const char text[] = "module m;\nstruct A { Missing x; }\n";
    assert_int_equal(idlc_parse_string(ctx, "a.idl", text, strlen(text)), IDLC_OK);
    assert_int_equal(idlc_check(ctx), IDLC_ERR_IDL);
    assert_int_equal(idlc_error_count(ctx), 1);
    assert_string_equal(c.text, "a.idl:2:12: error: unknown type 'Missing'\n"
                                "struct A { Missing x; }\n"
                                "           ^~~~~~~\n");
    /* A second check changes nothing and reports nothing new. */
    assert_int_equal(idlc_check(ctx), IDLC_ERR_IDL);
    assert_int_equal(c.calls, 1);
    idlc_ctx_destroy(ctx);
}

static void test_error_cap_at_limit_and_past_it(void **state)
{
    (void)state;
    static const char three[] = "module m;\nstruct A { X1 a; X2 b; X3 c; }\n";
    /* Exactly at the cap: all three shown, no "too many". */
    captured c = {0};
    idlc_ctx *ctx = new_ctx(&c, 3);
    idlc_parse_string(ctx, "a.idl", three, strlen(three));
    assert_int_equal(idlc_check(ctx), IDLC_ERR_IDL);
    assert_int_equal(c.calls, 3);
    assert_null(strstr(c.text, "too many errors"));
    idlc_ctx_destroy(ctx);
    /* One past: two shown, then the cap message once. */
    captured d = {0};
    ctx = new_ctx(&d, 2);
    idlc_parse_string(ctx, "a.idl", three, strlen(three));
    assert_int_equal(idlc_check(ctx), IDLC_ERR_IDL);
    assert_int_equal(idlc_error_count(ctx), 3);
    assert_int_equal(d.calls, 3);
    assert_non_null(strstr(d.text, "idlc: error: too many errors (more than 2); stopping here\n"));
    assert_null(strstr(d.text, "unknown type 'X3'"));
    assert_non_null(strstr(d.text, "unknown type 'X2'"));
    idlc_ctx_destroy(ctx);
}

static void test_text_with_nul_bytes_is_an_error_not_a_crash(void **state)
{
    (void)state;
    captured c = {0};
    idlc_ctx *ctx = new_ctx(&c, 0);
    static const char text[] = "module m;\nstruct A { u8\0 x; }\n";
    assert_int_equal(idlc_parse_string(ctx, "n.idl", text, sizeof(text) - 1), IDLC_ERR_IDL);
    assert_non_null(strstr(c.text, "n.idl:2:14: error: invalid byte 0x00 in source"));
    idlc_ctx_destroy(ctx);
}

static void test_imports_can_be_disabled(void **state)
{
    (void)state;
    captured c = {0};
    idlc_ctx *ctx = new_ctx(&c, 0);
    static const char text[] = "module m;\nimport \"/etc/hostname\";\n";
    assert_int_equal(idlc_parse_string(ctx, "i.idl", text, strlen(text)), IDLC_ERR_IDL);
    assert_non_null(strstr(c.text, "cannot find imported file '/etc/hostname'"));
    idlc_ctx_destroy(ctx);
}

static void test_missing_file_is_an_io_error(void **state)
{
    (void)state;
    captured c = {0};
    idlc_ctx *ctx = new_ctx(&c, 0);
    assert_int_equal(idlc_parse_file(ctx, "/nonexistent/x.idl"), IDLC_ERR_IO);
    assert_non_null(strstr(c.text, "idlc: error: cannot read '/nonexistent/x.idl'"));
    idlc_ctx_destroy(ctx);
    idlc_ctx_destroy(NULL);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[256];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_write_file_atomic(void **state)
{
    (void)state;
    char dir[] = "/tmp/idlc-api-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], sub[256];
    snprintf(path, sizeof(path), "%s/out.h", dir);
    snprintf(sub, sizeof(sub), "%s/adir", dir);
    captured c = {0};
    idlc_ctx *ctx = new_ctx(&c, 0);

    assert_int_equal(idlc_write_file_atomic(ctx, path, "one\n", 4), IDLC_OK);
    assert_string_equal(slurp(path), "one\n");
    assert_int_equal(idlc_write_file_atomic(ctx, path, "two!\n", 5), IDLC_OK);
    assert_string_equal(slurp(path), "two!\n");
    assert_int_equal(idlc_write_file_atomic(ctx, path, "", 0), IDLC_OK);
    assert_string_equal(slurp(path), "");

    /* Renaming over a directory fails: an I/O error, the directory stays,
     * and no temporary file is left behind. */
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(idlc_write_file_atomic(ctx, sub, "x", 1), IDLC_ERR_IO);
    assert_non_null(strstr(c.text, "cannot write"));
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s | grep tmp)\"", dir);
    assert_int_equal(system(cmd), 0);

    /* A directory that does not exist. */
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/no/such.h", dir);
    assert_int_equal(idlc_write_file_atomic(ctx, missing, "x", 1), IDLC_ERR_IO);
    idlc_ctx_destroy(ctx);

    rmdir(sub);
    unlink(path);
    rmdir(dir);
}

/* 16 MiB of valid IDL: a module line, then lines of blanks. */
#define MAX_SOURCE ((size_t)16 * 1024 * 1024)

static char *padded_source(size_t len)
{
    char *p = malloc(len);
    assert_non_null(p);
    static const char head[] = "module m;\n";
    memcpy(p, head, sizeof(head) - 1);
    for (size_t i = sizeof(head) - 1; i < len; i++)
        p[i] = (i % 64 == 63) ? '\n' : ' ';
    p[len - 1] = '\n';
    return p;
}

static void test_source_size_limit(void **state)
{
    (void)state;
    char *text = padded_source(MAX_SOURCE + 1);
    captured c = {0};
    idlc_ctx *ctx = new_ctx(&c, 0);
    assert_int_equal(idlc_parse_string(ctx, "big.idl", text, MAX_SOURCE), IDLC_OK);
    assert_int_equal(idlc_check(ctx), IDLC_OK);
    idlc_ctx_destroy(ctx);

    ctx = new_ctx(&c, 0);
    assert_int_equal(idlc_parse_string(ctx, "big.idl", text, MAX_SOURCE + 1), IDLC_ERR_IO);
    assert_non_null(strstr(c.text, "cannot read 'big.idl': file too large"));
    idlc_ctx_destroy(ctx);

    /* The same through the file system. */
    char path[] = "/tmp/idlc-big-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, MAX_SOURCE, f), MAX_SOURCE);
    fflush(f);
    captured d = {0};
    ctx = new_ctx(&d, 0);
    assert_int_equal(idlc_parse_file(ctx, path), IDLC_OK);
    idlc_ctx_destroy(ctx);
    assert_int_equal(fwrite("\n", 1, 1, f), 1);
    fclose(f);
    ctx = new_ctx(&d, 0);
    assert_int_equal(idlc_parse_file(ctx, path), IDLC_ERR_IO);
    assert_non_null(strstr(d.text, "file too large"));
    idlc_ctx_destroy(ctx);
    unlink(path);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_string_resolves_everything),
        cmocka_unit_test(test_diagnostics_go_to_the_callback),
        cmocka_unit_test(test_error_cap_at_limit_and_past_it),
        cmocka_unit_test(test_text_with_nul_bytes_is_an_error_not_a_crash),
        cmocka_unit_test(test_imports_can_be_disabled),
        cmocka_unit_test(test_missing_file_is_an_io_error),
        cmocka_unit_test(test_write_file_atomic),
        cmocka_unit_test(test_source_size_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
