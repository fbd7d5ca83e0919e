/* A piperpc client against a plain msgpack-rpc server that is not
 * piperpc: it knows no rpc.ping and answers it, like every method it does
 * not serve, with a foreign error object ("no such method"). Connecting
 * must still work (any response proves a live msgpack-rpc peer), calls to
 * the methods it does serve must succeed, its error objects must reach the
 * caller, and keepalive pings answered with errors must keep the link up.
 * A peer that closes without answering must still fail the connect.
 *
 * The server here is a raw socket thread with msgpack-c, in message mode
 * (SOCK_SEQPACKET) and byte mode (SOCK_STREAM). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "piperpc/piperpc.h"
#include "support/test_wait.h"

typedef struct foreign {
    int lfd;
    bool answer;                 /* false: close every connection unanswered */
    char path[108];
    pthread_t thread;
    atomic_int requests;         /* requests seen, pings included */
    atomic_int pings;
} foreign;

static void send_all(int fd, const char *p, size_t n, bool seqpacket)
{
    /* A message-mode reply is one datagram; small here, so one send. */
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        if (seqpacket)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Answers one request object: calc.add(a, b) with a + b, anything else
 * with the foreign error "no such method". */
static void answer(foreign *f, int fd, const msgpack_object *o, bool seqpacket)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4)
        return;
    const msgpack_object *a = o->via.array.ptr;
    if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[0].via.u64 != 0 ||
        a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[2].type != MSGPACK_OBJECT_STR)
        return;
    atomic_fetch_add(&f->requests, 1);
    const char *m = a[2].via.str.ptr;
    uint32_t mlen = a[2].via.str.size;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_uint64(&pk, a[1].via.u64);
    const msgpack_object *params = &a[3];
    if (mlen == 8 && memcmp(m, "calc.add", 8) == 0 && params->type == MSGPACK_OBJECT_ARRAY &&
        params->via.array.size == 2) {
        msgpack_pack_nil(&pk);
        msgpack_pack_int64(&pk, params->via.array.ptr[0].via.i64 + params->via.array.ptr[1].via.i64);
    } else {
        if (mlen == 8 && memcmp(m, "rpc.ping", 8) == 0)
            atomic_fetch_add(&f->pings, 1);
        msgpack_pack_str(&pk, 14);
        msgpack_pack_str_body(&pk, "no such method", 14);
        msgpack_pack_nil(&pk);
    }
    send_all(fd, sb.data, sb.size, seqpacket);
    msgpack_sbuffer_destroy(&sb);
}

static void *serve(void *arg)
{
    foreign *f = arg;
    int type = 0;
    socklen_t tl = sizeof type;
    getsockopt(f->lfd, SOL_SOCKET, SO_TYPE, &type, &tl);
    bool seqpacket = type == SOCK_SEQPACKET;
    for (;;) {
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            return NULL; /* the listener was shut down */
        if (!f->answer) {
            close(fd);
            continue;
        }
        msgpack_unpacker up;
        msgpack_unpacker_init(&up, 4096);
        msgpack_unpacked res;
        msgpack_unpacked_init(&res);
        for (;;) {
            msgpack_unpacker_reserve_buffer(&up, 4096);
            ssize_t n = recv(fd, msgpack_unpacker_buffer(&up), 4096, 0);
            if (n <= 0)
                break;
            msgpack_unpacker_buffer_consumed(&up, (size_t)n);
            while (msgpack_unpacker_next(&up, &res) == MSGPACK_UNPACK_SUCCESS)
                answer(f, fd, &res.data, seqpacket);
        }
        msgpack_unpacked_destroy(&res);
        msgpack_unpacker_destroy(&up);
        close(fd);
    }
}

static void foreign_start(foreign *f, int type, bool answer_requests)
{
    memset(f, 0, sizeof *f);
    f->answer = answer_requests;
    snprintf(f->path, sizeof f->path, "/tmp/prpc-foreign-%d-%d", (int)getpid(), type);
    unlink(f->path);
    f->lfd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, f->path);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(f->lfd, 8), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
}

static void foreign_stop(foreign *f)
{
    shutdown(f->lfd, SHUT_RDWR);
    pthread_join(f->thread, NULL);
    close(f->lfd);
    unlink(f->path);
}

static void encode_add(prpc_encoder *enc, const void *v)
{
    const int64_t *ab = v;
    prpc_enc_int(enc, ab[0]);
    prpc_enc_int(enc, ab[1]);
}

static void decode_i64(prpc_decoder *dec, void *out)
{
    prpc_dec_i64(dec, out);
}

static const prpc_method_desc add_method = {"add", "calc.add", "i64 add(i64 a, i64 b)", NULL, 0,
                                            0, 2};
static const prpc_method_desc mul_method = {"mul", "calc.mul", "i64 mul(i64 a, i64 b)", NULL, 0,
                                            0, 2};

static void run_against(int type, const char *suffix)
{
    foreign f;
    foreign_start(&f, type, true);
    char ep[200];
    snprintf(ep, sizeof ep, "unix:%s%s", f.path, suffix);
    prpc_client_options o;
    memset(&o, 0, sizeof o);
    /* Short keepalive: its pings get error replies, which must count as
     * signs of life. */
    o.keepalive_ms = 100;
    o.keepalive_timeout_ms = 300;
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_connect(ep, &o, &c), PRPC_OK);
    assert_non_null(c);
    assert_true(atomic_load(&f.pings) >= 1);

    int64_t ab[2] = {2, 3}, sum = 0;
    assert_int_equal(prpc_client_call(c, &add_method, encode_add, ab, decode_i64, &sum, NULL, NULL),
                     PRPC_OK);
    assert_int_equal(sum, 5);

    /* A method it does not serve: its own error object reaches the caller. */
    prpc_status st = prpc_client_call(c, &mul_method, encode_add, ab, decode_i64, &sum, NULL, NULL);
    assert_int_not_equal(st, PRPC_OK);
    assert_int_not_equal(st, PRPC_ERR_CLOSED);
    assert_int_not_equal(st, PRPC_ERR_TIMEOUT);
    assert_non_null(strstr(prpc_client_last_error()->message, "no such method"));

    /* Idle for several keepalive periods, each ping answered with an error:
     * the link stays up. A ping goes out 100 ms after the last message, so
     * five more mean at least 500 ms of pings answered only with errors,
     * past keepalive_ms + keepalive_timeout_ms. */
    int before = atomic_load(&f.pings);
    TEST_WAIT_UNTIL(atomic_load(&f.pings) >= before + 5, TEST_WAIT_MS);
    assert_true(atomic_load(&f.pings) >= before + 5);
    ab[0] = 40;
    ab[1] = 2;
    assert_int_equal(prpc_client_call(c, &add_method, encode_add, ab, decode_i64, &sum, NULL, NULL),
                     PRPC_OK);
    assert_int_equal(sum, 42);
    prpc_client_destroy(c);
    foreign_stop(&f);
}

static void test_message_mode(void **state)
{
    (void)state;
    run_against(SOCK_SEQPACKET, "");
}

static void test_byte_mode(void **state)
{
    (void)state;
    run_against(SOCK_STREAM, "?mode=byte");
}

/* A peer that closes without a word is no msgpack-rpc server: the connect
 * fails, and fails with a clear status rather than hanging. */
static void test_silent_close_fails(void **state)
{
    (void)state;
    foreign f;
    foreign_start(&f, SOCK_SEQPACKET, false);
    char ep[200];
    snprintf(ep, sizeof ep, "unix:%s", f.path);
    prpc_client *c = (prpc_client *)&f; /* must be reset to NULL */
    prpc_status st = prpc_client_connect(ep, NULL, &c);
    assert_int_not_equal(st, PRPC_OK);
    assert_null(c);
    foreign_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_mode),
        cmocka_unit_test(test_byte_mode),
        cmocka_unit_test(test_silent_close_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
