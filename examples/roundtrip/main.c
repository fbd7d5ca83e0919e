/* roundtrip: the codec from end to end, without a transport.
 *
 * Encodes the three msgpack-rpc messages of one call (a request, its reply,
 * and an error reply), shows their bytes, parses each back with
 * prpc_msg_parse, decodes the values into an arena, and finally feeds all
 * three through the streaming reader one byte at a time, as a byte-mode
 * transport would. Every value read back is compared with the one written;
 * the program exits non-zero on the first difference. */
#include <piperpc/piperpc.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define METHOD "calc.Calculator.add"

static int failed(const char *what, prpc_status st)
{
    fprintf(stderr, "roundtrip: %s: %s (%s)\n", what, prpc_strerror(st), prpc_status_name(st));
    return 1;
}

static const char *type_name(prpc_msg_type t)
{
    switch (t) {
    case PRPC_MSG_REQUEST:
        return "request";
    case PRPC_MSG_RESPONSE:
        return "response";
    case PRPC_MSG_NOTIFY:
        return "notification";
    }
    return "?";
}

static void print_hex(const uint8_t *p, size_t n)
{
    printf("  bytes:");
    for (size_t i = 0; i < n; i++)
        printf(" %02x", p[i]);
    printf("\n");
}

/* Prints one msgpack value in a JSON-like notation. The message was
 * validated by prpc_msg_parse, so its nesting is bounded by the limits. */
static void print_value(prpc_decoder *dec)
{
    uint32_t n = 0;

    switch (prpc_dec_peek(dec)) {
    case PRPC_TYPE_NIL:
        prpc_dec_nil(dec);
        printf("nil");
        break;
    case PRPC_TYPE_BOOL: {
        bool b = false;
        prpc_dec_bool(dec, &b);
        printf("%s", b ? "true" : "false");
        break;
    }
    case PRPC_TYPE_UINT: {
        uint64_t u = 0;
        prpc_dec_u64(dec, &u);
        printf("%" PRIu64, u);
        break;
    }
    case PRPC_TYPE_INT: {
        int64_t i = 0;
        prpc_dec_i64(dec, &i);
        printf("%" PRId64, i);
        break;
    }
    case PRPC_TYPE_FLOAT: {
        double d = 0;
        prpc_dec_f64(dec, &d);
        printf("%g", d);
        break;
    }
    case PRPC_TYPE_STR: {
        const char *s = NULL;
        prpc_dec_str(dec, &s, NULL);
        printf("\"%s\"", s ? s : "");
        break;
    }
    case PRPC_TYPE_BIN: {
        prpc_bytes b = {0};
        prpc_dec_bytes(dec, &b);
        printf("<%zu bytes>", b.len);
        break;
    }
    case PRPC_TYPE_ARRAY:
        prpc_dec_array(dec, &n);
        printf("[");
        for (uint32_t i = 0; i < n && prpc_dec_status(dec) == PRPC_OK; i++) {
            if (i)
                fputs(", ", stdout);
            print_value(dec);
        }
        printf("]");
        break;
    case PRPC_TYPE_MAP:
        prpc_dec_map(dec, &n);
        printf("{");
        for (uint32_t i = 0; i < n && prpc_dec_status(dec) == PRPC_OK; i++) {
            if (i)
                fputs(", ", stdout);
            print_value(dec);
            printf(": ");
            print_value(dec);
        }
        printf("}");
        break;
    case PRPC_TYPE_EXT:
        prpc_dec_skip(dec);
        printf("<ext>");
        break;
    case PRPC_TYPE_NONE:
        break;
    }
}

static prpc_status show(const char *label, prpc_any v, prpc_arena *arena)
{
    prpc_decoder dec;

    prpc_dec_init(&dec, v.data, v.len, arena);
    printf("  %s: ", label);
    print_value(&dec);
    printf("\n");
    return prpc_dec_status(&dec);
}

int main(void)
{
    prpc_encoder req, rep, err;
    prpc_msg msg;
    prpc_decoder dec;
    prpc_remote_error rerr;
    prpc_reader *reader = NULL;
    prpc_arena *arena = NULL;
    prpc_status st;
    uint32_t count = 0;
    int64_t a = 0, b = 0, sum = 0;
    int rc = 1;

    prpc_enc_init(&req, 0);
    prpc_enc_init(&rep, 0);
    prpc_enc_init(&err, 0);
    arena = prpc_arena_create(0);
    if (arena == NULL) {
        failed("arena", PRPC_ERR_NO_MEMORY);
        goto out;
    }

    /* The request a client sends for add(2, 40). */
    prpc_enc_request(&req, 1, METHOD, strlen(METHOD), 2);
    prpc_enc_int(&req, 2);
    prpc_enc_int(&req, 40);
    if ((st = prpc_enc_status(&req)) != PRPC_OK) {
        failed("encode request", st);
        goto out;
    }
    printf("request, %zu bytes\n", req.len);
    print_hex(req.data, req.len);

    /* What the server does with it: parse the envelope, decode the params. */
    if ((st = prpc_msg_parse(req.data, req.len, NULL, &msg)) != PRPC_OK) {
        failed("parse request", st);
        goto out;
    }
    printf("  parsed: %s, msgid %" PRIu32 ", method %.*s\n", type_name(msg.type), msg.msgid,
           (int)msg.method_len, msg.method);
    if ((st = show("params", msg.params, arena)) != PRPC_OK) {
        failed("print params", st);
        goto out;
    }
    prpc_dec_init(&dec, msg.params.data, msg.params.len, arena);
    prpc_dec_array(&dec, &count);
    prpc_dec_i64(&dec, &a);
    prpc_dec_i64(&dec, &b);
    if ((st = prpc_dec_status(&dec)) != PRPC_OK) {
        failed("decode params", st);
        goto out;
    }
    if (msg.type != PRPC_MSG_REQUEST || msg.msgid != 1 || msg.method_len != strlen(METHOD) ||
        memcmp(msg.method, METHOD, msg.method_len) != 0 || count != 2 || a != 2 || b != 40) {
        fprintf(stderr, "roundtrip: the request read back differs from the one written\n");
        goto out;
    }

    /* The server's reply: [1, msgid, nil, result]. */
    prpc_enc_response_ok(&rep, msg.msgid);
    prpc_enc_int(&rep, a + b);
    if ((st = prpc_enc_status(&rep)) != PRPC_OK) {
        failed("encode response", st);
        goto out;
    }
    printf("response, %zu bytes\n", rep.len);
    print_hex(rep.data, rep.len);
    if ((st = prpc_msg_parse(rep.data, rep.len, NULL, &msg)) != PRPC_OK) {
        failed("parse response", st);
        goto out;
    }
    prpc_dec_init(&dec, msg.result.data, msg.result.len, arena);
    prpc_dec_i64(&dec, &sum);
    if ((st = prpc_dec_status(&dec)) != PRPC_OK) {
        failed("decode result", st);
        goto out;
    }
    printf("  parsed: %s, msgid %" PRIu32 ", result %" PRId64 "\n", type_name(msg.type), msg.msgid,
           sum);
    if (msg.type != PRPC_MSG_RESPONSE || msg.msgid != 1 || sum != 42) {
        fprintf(stderr, "roundtrip: the response read back differs from the one written\n");
        goto out;
    }

    /* An error reply: [1, msgid, [code, message], nil]. */
    prpc_enc_response_error(&err, 2, PRPC_ERR_UNKNOWN_METHOD, "no method calc.Calculator.pow");
    if ((st = prpc_enc_status(&err)) != PRPC_OK) {
        failed("encode error response", st);
        goto out;
    }
    printf("error response, %zu bytes\n", err.len);
    print_hex(err.data, err.len);
    if ((st = prpc_msg_parse(err.data, err.len, NULL, &msg)) != PRPC_OK) {
        failed("parse error response", st);
        goto out;
    }
    if ((st = prpc_remote_error_decode(msg.error, arena, &rerr)) != PRPC_OK) {
        failed("decode error", st);
        goto out;
    }
    printf("  parsed: %s, msgid %" PRIu32 ", error %" PRId64 " (%s): %s\n", type_name(msg.type),
           msg.msgid,
           rerr.code, prpc_status_name(prpc_remote_error_status(&rerr)), rerr.message);
    if (msg.msgid != 2 || rerr.code != PRPC_ERR_UNKNOWN_METHOD ||
        prpc_remote_error_status(&rerr) != PRPC_ERR_UNKNOWN_METHOD ||
        strcmp(rerr.message, "no method calc.Calculator.pow") != 0) {
        fprintf(stderr, "roundtrip: the error read back differs from the one written\n");
        goto out;
    }

    /* A byte stream carries the three messages back to back; the reader
     * finds their boundaries however the bytes arrive. */
    reader = prpc_reader_create(NULL);
    if (reader == NULL) {
        failed("reader", PRPC_ERR_NO_MEMORY);
        goto out;
    }
    {
        const prpc_encoder *msgs[3] = {&req, &rep, &err};
        size_t found = 0;

        for (size_t m = 0; m < 3; m++) {
            for (size_t i = 0; i < msgs[m]->len; i++) {
                const uint8_t *whole = NULL;
                size_t len = 0;

                if ((st = prpc_reader_feed(reader, msgs[m]->data + i, 1)) != PRPC_OK ||
                    (st = prpc_reader_next(reader, &whole, &len)) != PRPC_OK) {
                    failed("stream", st);
                    goto out;
                }
                if (whole == NULL)
                    continue;
                if (found >= 3 || len != msgs[found]->len ||
                    memcmp(whole, msgs[found]->data, len) != 0) {
                    fprintf(stderr, "roundtrip: the stream yielded a message that was not sent\n");
                    goto out;
                }
                found++;
            }
        }
        if (found != 3 || prpc_reader_pending(reader) != 0) {
            fprintf(stderr, "roundtrip: the stream yielded %zu of 3 messages\n", found);
            goto out;
        }
        printf("stream: 3 messages read back from %zu bytes fed one at a time\n",
               req.len + rep.len + err.len);
    }

    printf("round trip ok (piperpc %s)\n", prpc_version());
    rc = 0;
out:
    prpc_reader_destroy(reader);
    prpc_arena_destroy(arena);
    prpc_enc_free(&err);
    prpc_enc_free(&rep);
    prpc_enc_free(&req);
    return rc;
}
