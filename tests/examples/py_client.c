/* py_client: a C client generated from pyi.idl calling the Python
 * msgpack-rpc server of py_server_interop.py, which has no piperpc code.
 * Checks every result and prints one line per check; exit status 0 when all
 * pass.
 *
 * The Python server does not know the framework's rpc.ping: it answers the
 * one prpc_client_connect sends with an error, which is enough to show a
 * live msgpack-rpc peer, so this is an ordinary connected client.
 *
 * usage: py_client ENDPOINT */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "pyi_client.h"

static int failures;
static atomic_uint ticks_seen;
static atomic_uint tick_order_ok = 1;

static void check(int cond, const char *what)
{
    printf("  %s %s\n", cond ? "ok  " : "FAIL", what);
    if (!cond)
        failures++;
}

static void on_tick(void *user, uint32_t i)
{
    (void)user;
    if (i != atomic_load(&ticks_seen))
        atomic_store(&tick_order_ok, 0);
    atomic_fetch_add(&ticks_seen, 1);
}

static atomic_uint adds_bad;

static void *adder(void *arg)
{
    prpc_client *c = arg;
    prpc_arena *a = prpc_arena_create(0);
    for (int64_t i = 0; i < 100; i++) {
        int64_t r = 0;
        if (pyi_Py_add(c, i, 1000 * i, a, &r) != PRPC_OK || r != 1001 * i)
            atomic_fetch_add(&adds_bad, 1);
    }
    prpc_arena_destroy(a);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: py_client ENDPOINT\n");
        return 2;
    }
    prpc_client_options o = {0};
    o.connect_timeout_ms = 5000;
    o.default_timeout_ms = 5000;
    prpc_client *c = NULL;
    prpc_status st = prpc_client_connect(argv[1], &o, &c);
    if (st != PRPC_OK) {
        fprintf(stderr, "py_client: cannot connect to %s: %s\n", argv[1], prpc_strerror(st));
        return 3;
    }
    prpc_arena *a = prpc_arena_create(0);

    int64_t r = 0;
    check(pyi_Py_add(c, 40, 2, a, &r) == PRPC_OK && r == 42, "add(40, 2) == 42");
    check(pyi_Py_add(c, INT64_MIN, 0, a, &r) == PRPC_OK && r == INT64_MIN, "add(INT64_MIN, 0)");

    const char *text = NULL;
    st = pyi_Py_echo(c, "h\xc3\xa9llo", a, &text);
    check(st == PRPC_OK && text && strcmp(text, "h\xc3\xa9llo") == 0,
          "echo, sent under its wire name \"Echo\", returns the UTF-8 text");

    uint8_t raw[300];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (uint8_t)i;
    prpc_bytes rev = {0};
    st = pyi_Py_reverse(c, (prpc_bytes){raw, sizeof raw}, a, &rev);
    int same = st == PRPC_OK && rev.len == sizeof raw;
    for (size_t i = 0; same && i < sizeof raw; i++)
        same = rev.data[i] == raw[sizeof raw - 1 - i];
    check(same, "reverse(300 bytes) comes back reversed as bin");

    check(pyi_Py_isqrt(c, 1000001, a, &r) == PRPC_OK && r == 1000, "isqrt(1000001) == 1000");
    st = pyi_Py_isqrt(c, -4, a, &r);
    const prpc_remote_error *e = prpc_client_last_error();
    check(st == PRPC_ERR_REMOTE && e->code == pyi_Error_NEGATIVE && strcmp(e->message, "negative input") == 0,
          "isqrt(-4) raises NEGATIVE (1) with the server's message");

    pyi_Point p = {3, -4, "p"}, q = {0};
    st = pyi_Py_scale(c, &p, 10, a, &q);
    check(st == PRPC_OK && q.x == 30 && q.y == -40 && q.label && strcmp(q.label, "p scaled") == 0,
          "scale(Point) round-trips a struct as an array with an optional field");
    p.label = NULL;
    st = pyi_Py_scale(c, &p, 2, a, &q);
    check(st == PRPC_OK && q.x == 6 && q.label == NULL, "an absent optional travels as nil");

    int64_t qq = 0, rr = 0;
    st = pyi_Py_divmod(c, 17, 5, &qq, &rr, a);
    check(st == PRPC_OK && qq == 3 && rr == 2, "divmod(17, 5): out parameters from the result array [3, 2]");

    const char *words[] = {"a", "bb", "\xc3\xa9t\xc3\xa9"};
    pyi_seq_string ws = {words, 3};
    pyi_map_string_u32 lens = {0};
    st = pyi_Py_lengths(c, &ws, a, &lens);
    uint32_t found = 0;
    for (uint32_t i = 0; st == PRPC_OK && i < lens.count; i++)
        for (int j = 0; j < 3; j++)
            if (strcmp(lens.items[i].key, words[j]) == 0 && lens.items[i].value == strlen(words[j]))
                found++;
    check(st == PRPC_OK && lens.count == 3 && found == 3, "lengths: a sequence in, a map out");

    check(pyi_Py_note(c, "first") == PRPC_OK && pyi_Py_note(c, "second") == PRPC_OK,
          "two oneway notes sent as notifications");
    pyi_seq_string notes = {0};
    st = pyi_Py_notes(c, a, &notes);
    check(st == PRPC_OK && notes.count == 2 && strcmp(notes.items[0], "first") == 0 &&
              strcmp(notes.items[1], "second") == 0,
          "the server received the notes in order");

    check(pyi_Py_on_tick(c, on_tick, NULL) == PRPC_OK, "tick handler registered");
    uint32_t n = 0;
    st = pyi_Py_ticks(c, 25, a, &n);
    /* The events were written before the reply on one stream, so they have
     * been delivered by the time the reply is. */
    check(st == PRPC_OK && n == 25 && atomic_load(&ticks_seen) == 25 && atomic_load(&tick_order_ok),
          "25 tick events arrived, in order, before the reply");

    /* Pipelined: four threads share the connection, so requests overlap on
     * the wire and replies are matched by msgid. */
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, adder, c);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    check(atomic_load(&adds_bad) == 0, "4 threads x 100 overlapping calls on one connection");

    /* A foreign error object (a plain string) is accepted, not a crash. */
    static const prpc_method_desc missing = {"missing", "pyi.Py.missing", "void missing()", NULL, 0, 0, 0};
    st = prpc_client_call(c, &missing, NULL, NULL, NULL, NULL, a, NULL);
    e = prpc_client_last_error();
    check(st != PRPC_OK && strstr(e->message, "no such method") != NULL,
          "a foreign error object (a string) reaches the caller");

    prpc_arena_destroy(a);
    prpc_client_destroy(c);
    printf("%s\n", failures ? "py_client: FAILED" : "py_client: all checks passed");
    return failures ? 1 : 0;
}
