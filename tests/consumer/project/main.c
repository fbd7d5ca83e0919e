/* A consumer of the installed library: encodes a msgpack-rpc request with the
 * public encoder, parses it back with prpc_msg_parse, decodes its params into
 * an arena, and checks every field. Exits non-zero on any mismatch. */
#include <piperpc/piperpc.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#if defined(CONSUMER_EXPECT_STATIC) && !defined(PRPC_STATIC)
#error "linking the static library must define PRPC_STATIC"
#endif

static int fail(const char *what, prpc_status st)
{
    fprintf(stderr, "consumer: %s: %s\n", what, prpc_strerror(st));
    return 1;
}

int main(void)
{
    static const char method[] = "calc.Calculator.add";
    prpc_encoder enc;
    prpc_msg msg;
    prpc_decoder dec;
    prpc_arena *arena;
    prpc_status st;
    uint32_t count = 0;
    int64_t a = 0;
    const char *s = NULL;
    int rc = 1;

    if (strcmp(prpc_version(), PRPC_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer: header says %s, library says %s\n", PRPC_VERSION_STRING,
                prpc_version());
        return 1;
    }

    prpc_enc_init(&enc, 0);
    prpc_enc_request(&enc, 7, method, sizeof method - 1, 2);
    prpc_enc_int(&enc, -40);
    prpc_enc_cstr(&enc, "two");
    st = prpc_enc_status(&enc);
    if (st != PRPC_OK) {
        prpc_enc_free(&enc);
        return fail("encode", st);
    }

    st = prpc_msg_parse(enc.data, enc.len, NULL, &msg);
    if (st != PRPC_OK) {
        prpc_enc_free(&enc);
        return fail("parse", st);
    }
    if (msg.type != PRPC_MSG_REQUEST || msg.msgid != 7 || msg.method_len != sizeof method - 1 ||
        memcmp(msg.method, method, msg.method_len) != 0) {
        fprintf(stderr, "consumer: the parsed envelope differs from the one encoded\n");
        prpc_enc_free(&enc);
        return 1;
    }

    arena = prpc_arena_create(0);
    if (arena == NULL) {
        prpc_enc_free(&enc);
        return fail("arena", PRPC_ERR_NO_MEMORY);
    }
    prpc_dec_init(&dec, msg.params.data, msg.params.len, arena);
    prpc_dec_array(&dec, &count);
    prpc_dec_i64(&dec, &a);
    prpc_dec_str(&dec, &s, NULL);
    st = prpc_dec_status(&dec);
    if (st != PRPC_OK) {
        fail("decode params", st);
    } else if (count != 2 || a != -40 || strcmp(s, "two") != 0 || prpc_dec_remaining(&dec) != 0) {
        fprintf(stderr, "consumer: the decoded params differ from the ones encoded\n");
    } else {
        printf("piperpc %s: request %" PRIu32 " %.*s(%" PRId64 ", \"%s\") in %zu bytes\n",
               prpc_version(), msg.msgid, (int)msg.method_len, msg.method, a, s, enc.len);
        rc = 0;
    }
    prpc_arena_destroy(arena);
    prpc_enc_free(&enc);
    return rc;
}
