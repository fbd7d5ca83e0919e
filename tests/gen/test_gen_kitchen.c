/* Round trips of every kitchen-sink type through generated stubs, the
 * in-process client and the dispatcher, at boundary values; IDL and
 * framework errors; deferred replies; oneway calls and events; hand-encoded
 * requests with wrong arguments; unknown methods; the built-ins. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gen/sink_server.h"
#include "kv_client.h"
#include "kv_server.h"

typedef struct fixture {
    sink_state sink;
    prpc_client *client;
    prpc_arena *arena;
} fixture;

static int setup(void **st)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    sink_start(&f->sink, NULL);
    assert_int_equal(prpc_client_create_inproc(f->sink.server, NULL, &f->client), PRPC_OK);
    f->arena = prpc_arena_create(0);
    assert_non_null(f->arena);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fixture *f = *st;
    prpc_client_destroy(f->client);
    sink_stop(&f->sink);
    prpc_arena_destroy(f->arena);
    free(f);
    return 0;
}

/* ------------------------------------------------------------ scalars */

static void check_scalars(const ks_Scalars *a, const ks_Scalars *b)
{
    assert_int_equal(a->b, b->b);
    assert_int_equal(a->i8v, b->i8v);
    assert_int_equal(a->i16v, b->i16v);
    assert_int_equal(a->i32v, b->i32v);
    assert_true(a->i64v == b->i64v);
    assert_int_equal(a->u8v, b->u8v);
    assert_int_equal(a->u16v, b->u16v);
    assert_int_equal(a->u32v, b->u32v);
    assert_true(a->u64v == b->u64v);
    if (isnan(a->f32v))
        assert_true(isnan(b->f32v));
    else
        assert_true(a->f32v == b->f32v);
    if (isnan(a->f64v))
        assert_true(isnan(b->f64v));
    else
        assert_memory_equal(&a->f64v, &b->f64v, sizeof a->f64v); /* -0.0 stays -0.0 */
}

static void test_scalars_boundaries(void **st)
{
    fixture *f = *st;
    const ks_Scalars cases[] = {
        {false, INT8_MIN, INT16_MIN, INT32_MIN, INT64_MIN, 0, 0, 0, 0, -FLT_MAX, -DBL_MAX},
        {true, INT8_MAX, INT16_MAX, INT32_MAX, INT64_MAX, UINT8_MAX, UINT16_MAX, UINT32_MAX,
         UINT64_MAX, FLT_MAX, DBL_MAX},
        {true, -1, -1, -1, -1, 1, 1, 1, 1, NAN, NAN},
        {false, 0, 0, 0, 0, 0, 0, 0, 0, FLT_MIN, -0.0},
        {true, 0, 0, 0, 0, 0, 0, 0, 0, INFINITY, -INFINITY},
        {false, 0, 0, 0, 0, 0, 0, 0, 0, 0.0f, DBL_MIN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ks_Scalars out;
        assert_int_equal(ks_Sink_echo_scalars(f->client, &cases[i], f->arena, &out), PRPC_OK);
        check_scalars(&cases[i], &out);
    }
    double d = 0;
    assert_int_equal(ks_Sink_echo_f64(f->client, NAN, f->arena, &d), PRPC_OK);
    assert_true(isnan(d));
}

/* ------------------------------------------------ strings, bytes, any */

static void test_strings_and_bytes(void **st)
{
    fixture *f = *st;
    const char *s = NULL;
    assert_int_equal(ks_Sink_echo_string(f->client, "", f->arena, &s), PRPC_OK);
    assert_string_equal(s, "");
    assert_int_equal(ks_Sink_echo_string(f->client, "h\xc3\xa9llo \xe2\x82\xac", f->arena, &s),
                     PRPC_OK);
    assert_string_equal(s, "h\xc3\xa9llo \xe2\x82\xac");

    size_t mib = (size_t)1 << 20;
    char *big = malloc(mib + 1);
    assert_non_null(big);
    for (size_t i = 0; i < mib; i++)
        big[i] = (char)('a' + i % 26);
    big[mib] = '\0';
    assert_int_equal(ks_Sink_echo_string(f->client, big, f->arena, &s), PRPC_OK);
    assert_int_equal(strlen(s), mib);
    assert_memory_equal(s, big, mib);

    prpc_bytes b = {NULL, 0}, out;
    assert_int_equal(ks_Sink_echo_bytes(f->client, b, f->arena, &out), PRPC_OK);
    assert_int_equal(out.len, 0);
    uint8_t *raw = malloc(mib);
    assert_non_null(raw);
    for (size_t i = 0; i < mib; i++)
        raw[i] = (uint8_t)(i * 7919u >> 3);
    b = (prpc_bytes){raw, mib};
    assert_int_equal(ks_Sink_echo_bytes(f->client, b, f->arena, &out), PRPC_OK);
    assert_int_equal(out.len, mib);
    assert_memory_equal(out.data, raw, mib);
    free(raw);
    free(big);

    /* Invalid UTF-8 never leaves the client. */
    assert_int_equal(ks_Sink_echo_string(f->client, "\xff\xfe", f->arena, &s), PRPC_ERR_INVALID_ARG);
    /* Nor does a missing result pointer. */
    assert_int_equal(ks_Sink_echo_string(f->client, "x", f->arena, NULL), PRPC_ERR_INVALID_ARG);
}

static void test_any_and_optionals(void **st)
{
    fixture *f = *st;
    /* {"k": [1, -2, "three", nil, 2.5]} */
    static const uint8_t value[] = {0x81, 0xa1, 'k', 0x95, 0x01, 0xfe, 0xa5, 't', 'h', 'r',
                                    'e', 'e', 0xc0, 0xcb, 0x40, 0x04, 0, 0, 0, 0, 0, 0};
    prpc_any out;
    assert_int_equal(ks_Sink_echo_any(f->client, (prpc_any){value, sizeof value}, f->arena, &out),
                     PRPC_OK);
    assert_int_equal(out.len, sizeof value);
    assert_memory_equal(out.data, value, sizeof value);
    static const uint8_t nil[] = {0xc0};
    assert_int_equal(ks_Sink_echo_any(f->client, (prpc_any){nil, 1}, f->arena, &out), PRPC_OK);
    assert_int_equal(out.len, 1);
    /* A malformed any is refused before sending. */
    static const uint8_t bad[] = {0x92, 0x01};
    assert_int_equal(ks_Sink_echo_any(f->client, (prpc_any){bad, sizeof bad}, f->arena, &out),
                     PRPC_ERR_INVALID_ARG);

    const char *m = "unset";
    assert_int_equal(ks_Sink_echo_maybe(f->client, NULL, f->arena, &m), PRPC_OK);
    assert_null(m);
    assert_int_equal(ks_Sink_echo_maybe(f->client, "here", f->arena, &m), PRPC_OK);
    assert_string_equal(m, "here");
}

static void test_blobs_fixed_arrays(void **st)
{
    fixture *f = *st;
    static const uint8_t any1[] = {0x93, 0x01, 0x02, 0x03};
    ks_Blobs b;
    memset(&b, 0, sizeof b);
    b.s = "blob";
    b.data = (prpc_bytes){(const uint8_t *)"\0\1\2", 3};
    b.anything = (prpc_any){any1, sizeof any1};
    for (int i = 0; i < 16; i++)
        b.digest.items[i] = (uint8_t)(255 - i);
    b.triple.items[0] = INT32_MIN;
    b.triple.items[1] = 0;
    b.triple.items[2] = INT32_MAX;
    ks_Blobs out;
    assert_int_equal(ks_Sink_echo_blobs(f->client, &b, f->arena, &out), PRPC_OK);
    assert_string_equal(out.s, "blob");
    assert_int_equal(out.data.len, 3);
    assert_memory_equal(out.data.data, "\0\1\2", 3);
    assert_int_equal(out.anything.len, sizeof any1);
    assert_memory_equal(out.digest.items, b.digest.items, 16);
    assert_memory_equal(out.triple.items, b.triple.items, sizeof b.triple.items);
}

/* ------------------------------------------------- nested containers */

static void test_node_nested(void **st)
{
    fixture *f = *st;
    ks_Node leaves[3];
    memset(leaves, 0, sizeof leaves);
    leaves[0].name = "a";
    leaves[1].name = "b";
    leaves[2].name = "c";
    ks_Node parent;
    memset(&parent, 0, sizeof parent);
    parent.name = "parent";
    leaves[1].parent_copy = &parent;

    enum { NKEYS = 1000 };
    ks_map_string_Node_entry *entries = calloc(NKEYS, sizeof *entries);
    char (*keys)[16] = calloc(NKEYS, sizeof *keys);
    assert_non_null(entries);
    assert_non_null(keys);
    for (int i = 0; i < NKEYS; i++) {
        snprintf(keys[i], sizeof keys[i], "key%04d", i);
        entries[i].key = keys[i];
        entries[i].value.name = keys[i];
    }
    ks_Node root;
    memset(&root, 0, sizeof root);
    root.name = "root";
    root.children = (ks_seq_Node){leaves, 3};
    root.by_name = (ks_map_string_Node){entries, NKEYS};

    ks_Node out;
    assert_int_equal(ks_Sink_echo_node(f->client, &root, f->arena, &out), PRPC_OK);
    assert_string_equal(out.name, "root");
    assert_null(out.parent_copy);
    assert_int_equal(out.children.count, 3);
    assert_string_equal(out.children.items[2].name, "c");
    assert_null(out.children.items[0].parent_copy);
    assert_non_null(out.children.items[1].parent_copy);
    assert_string_equal(out.children.items[1].parent_copy->name, "parent");
    assert_int_equal(out.by_name.count, NKEYS);
    for (int i = 0; i < NKEYS; i++) {
        assert_string_equal(out.by_name.items[i].key, keys[i]);
        assert_string_equal(out.by_name.items[i].value.name, keys[i]);
        assert_int_equal(out.by_name.items[i].value.children.count, 0);
    }
    free(entries);
    free(keys);

    /* An empty tree. */
    ks_Node empty;
    memset(&empty, 0, sizeof empty);
    empty.name = "";
    assert_int_equal(ks_Sink_echo_node(f->client, &empty, f->arena, &out), PRPC_OK);
    assert_int_equal(out.children.count, 0);
    assert_null(out.children.items);
    assert_int_equal(out.by_name.count, 0);
}

static void test_union_every_arm(void **st)
{
    fixture *f = *st;
    ks_common_Point pts[3] = {{1, -1}, {INT32_MIN, INT32_MAX}, {0, 0}};
    ks_Shape shapes[4];
    memset(shapes, 0, sizeof shapes);
    shapes[0].tag = ks_ShapeKind_CIRCLE;
    shapes[0].u.radius = 2.5;
    shapes[1].tag = ks_ShapeKind_RECT;
    shapes[1].u.corners.items[0] = pts[0];
    shapes[1].u.corners.items[1] = pts[1];
    shapes[2].tag = ks_ShapeKind_PATH;
    shapes[2].u.path = (ks_common_Path){pts, 3};
    shapes[3].tag = ks_ShapeKind_EMPTY;
    for (int i = 0; i < 4; i++) {
        ks_Shape out;
        assert_int_equal(ks_Sink_echo_shape(f->client, &shapes[i], f->arena, &out), PRPC_OK);
        assert_int_equal(out.tag, shapes[i].tag);
    }
    ks_Shape out;
    assert_int_equal(ks_Sink_echo_shape(f->client, &shapes[1], f->arena, &out), PRPC_OK);
    assert_int_equal(out.u.corners.items[1].x, INT32_MIN);
    assert_int_equal(out.u.corners.items[1].y, INT32_MAX);
    assert_int_equal(ks_Sink_echo_shape(f->client, &shapes[2], f->arena, &out), PRPC_OK);
    assert_int_equal(out.u.path.count, 3);
    assert_int_equal(out.u.path.items[0].y, -1);
    /* A tag that is not an enumerator cannot be encoded. */
    ks_Shape bad = shapes[0];
    bad.tag = (ks_ShapeKind)77;
    assert_int_equal(ks_Sink_echo_shape(f->client, &bad, f->arena, &out), PRPC_ERR_INVALID_ARG);
}

static void test_bag_containers(void **st)
{
    fixture *f = *st;
    ks_Bag bag;
    memset(&bag, 0, sizeof bag);
    /* Everything empty or absent first. */
    ks_Bag out;
    assert_int_equal(ks_Sink_echo_bag(f->client, &bag, f->arena, &out), PRPC_OK);
    assert_int_equal(out.numbers.count, 0);
    assert_null(out.maybe_number);
    assert_null(out.maybe_text);
    assert_null(out.maybe_scalars);
    assert_null(out.trailing);
    assert_int_equal(out.color, ks_Color_RED);

    uint64_t numbers[] = {0, 1, UINT64_MAX};
    const char *few[] = {"one", "two", "three", "four"};
    int16_t inner1[] = {INT16_MIN, INT16_MAX};
    ks_seq_i16 nested[] = {{NULL, 0}, {inner1, 2}};
    enum { NNAMES = 5000 };
    ks_map_u32_string_entry *names = calloc(NNAMES, sizeof *names);
    assert_non_null(names);
    for (uint32_t i = 0; i < NNAMES; i++) {
        names[i].key = i * 3u;
        names[i].value = (i % 2) ? "odd" : "even";
    }
    ks_map_string_i64_entry counters[] = {{"min", INT64_MIN}, {"max", INT64_MAX}};
    ks_map_Color_Scalars_entry by_color[] = {
        {ks_Color_BLUE, {true, 1, 2, 3, 4, 5, 6, 7, 8, 9.0f, 10.0}},
        {ks_Color_GREEN, {false, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    };
    uint32_t maybe = UINT32_MAX;
    ks_Scalars sc = {true, -8, -16, -32, -64, 8, 16, 32, 64, 0.5f, 0.25};
    ks_Shape shapes[2];
    memset(shapes, 0, sizeof shapes);
    shapes[0].tag = ks_ShapeKind_CIRCLE;
    shapes[0].u.radius = 1;
    shapes[1].tag = ks_ShapeKind_EMPTY;
    prpc_bytes trailing = {(const uint8_t *)"tail", 4};

    bag.numbers = (ks_seq_u64){numbers, 3};
    bag.few_names = (ks_seq4_string){few, 4};
    bag.nested = (ks_seq_seq_i16){nested, 2};
    bag.names = (ks_Names){names, NNAMES};
    bag.counters = (ks_map_string_i64){counters, 2};
    bag.by_color = (ks_map_Color_Scalars){by_color, 2};
    bag.maybe_number = &maybe;
    bag.maybe_text = "text";
    bag.maybe_scalars = &sc;
    bag.shapes = (ks_Shapes){shapes, 2};
    bag.origin = (ks_common_Point){-5, 5};
    bag.color = ks_Color_BLUE;
    bag.trailing = &trailing;

    assert_int_equal(ks_Sink_echo_bag(f->client, &bag, f->arena, &out), PRPC_OK);
    assert_int_equal(out.numbers.count, 3);
    assert_true(out.numbers.items[2] == UINT64_MAX);
    assert_int_equal(out.few_names.count, 4);
    assert_string_equal(out.few_names.items[3], "four");
    assert_int_equal(out.nested.count, 2);
    assert_int_equal(out.nested.items[0].count, 0);
    assert_int_equal(out.nested.items[1].items[0], INT16_MIN);
    assert_int_equal(out.names.count, NNAMES);
    for (uint32_t i = 0; i < NNAMES; i++) {
        assert_int_equal(out.names.items[i].key, i * 3u);
        assert_string_equal(out.names.items[i].value, (i % 2) ? "odd" : "even");
    }
    assert_true(out.counters.items[0].value == INT64_MIN);
    assert_int_equal(out.by_color.items[0].key, ks_Color_BLUE);
    check_scalars(&out.by_color.items[0].value, &by_color[0].value);
    assert_non_null(out.maybe_number);
    assert_int_equal(*out.maybe_number, UINT32_MAX);
    assert_string_equal(out.maybe_text, "text");
    check_scalars(out.maybe_scalars, &sc);
    assert_int_equal(out.shapes.count, 2);
    assert_int_equal(out.shapes.items[1].tag, ks_ShapeKind_EMPTY);
    assert_int_equal(out.origin.x, -5);
    assert_int_equal(out.color, ks_Color_BLUE);
    assert_non_null(out.trailing);
    assert_memory_equal(out.trailing->data, "tail", 4);

    /* Over a sequence's bound: refused by the client's encoder. */
    const char *five[] = {"1", "2", "3", "4", "5"};
    bag.few_names = (ks_seq4_string){five, 5};
    assert_int_equal(ks_Sink_echo_bag(f->client, &bag, f->arena, &out), PRPC_ERR_INVALID_ARG);
    /* count without items. */
    bag.few_names = (ks_seq4_string){NULL, 1};
    assert_int_equal(ks_Sink_echo_bag(f->client, &bag, f->arena, &out), PRPC_ERR_INVALID_ARG);
    free(names);
}

/* --------------------------------------------- inout and out parameters */

static void test_inout_and_out(void **st)
{
    fixture *f = *st;
    int64_t total = 40, before = 0, result = 0;
    assert_int_equal(ks_Sink_add(f->client, &total, 2, &before, f->arena, &result), PRPC_OK);
    assert_true(total == 42);
    assert_true(before == 40);
    assert_true(result == 42);
    assert_int_equal(ks_Sink_add(f->client, &total, 2, NULL, f->arena, &result),
                     PRPC_ERR_INVALID_ARG);

    const char *head = NULL, *tail = NULL;
    assert_int_equal(ks_Sink_split(f->client, "hello big world", &head, &tail, f->arena), PRPC_OK);
    assert_string_equal(head, "hello");
    assert_string_equal(tail, "big world");

    ks_Shape a, r;
    memset(&a, 0, sizeof a);
    a.tag = ks_ShapeKind_CIRCLE;
    a.u.radius = 3;
    ks_Scalars sc;
    memset(&sc, 0, sizeof sc);
    sc.i32v = 21;
    ks_Node n;
    uint32_t *maybe = NULL;
    assert_int_equal(ks_Sink_mix(f->client, &a, &sc, &n, &maybe, f->arena, &r), PRPC_OK);
    assert_int_equal(sc.i32v, 42);
    assert_string_equal(n.name, "mixed");
    assert_non_null(maybe);
    assert_int_equal(*maybe, 99);
    assert_int_equal(r.tag, ks_ShapeKind_CIRCLE);
    assert_true(r.u.radius == 3);
}

/* ------------------------------------------------------------- errors */

static void test_idl_and_framework_errors(void **st)
{
    fixture *f = *st;
    assert_int_equal(ks_Sink_fail(f->client, ks_Error_REFUSED, "no, thanks"), PRPC_ERR_REMOTE);
    const prpc_remote_error *e = prpc_client_last_error();
    assert_true(e->code == ks_Error_REFUSED);
    assert_string_equal(e->message, "no, thanks");
    assert_string_equal(ks_Error_name((ks_Error)e->code), "REFUSED");

    assert_int_equal(ks_Sink_fail(f->client, ks_Error_NOT_FOUND, ""), PRPC_ERR_REMOTE);
    assert_true(prpc_client_last_error()->code == 1);

    /* A handler's framework status reaches the caller as that status. */
    assert_int_equal(ks_Sink_fail(f->client, 0, "x"), PRPC_ERR_BUSY);
    assert_true(prpc_client_last_error()->code == PRPC_ERR_BUSY);

    /* A method the server does not implement (NULL in its ops). */
    prpc_server *server = NULL;
    assert_int_equal(prpc_server_create(NULL, &server), PRPC_OK);
    static const ks_Sink_ops empty_ops;
    assert_int_equal(ks_Sink_register(server, &empty_ops, NULL), PRPC_OK);
    /* Registering the same interface twice is refused. */
    assert_int_equal(ks_Sink_register(server, &empty_ops, NULL), PRPC_ERR_INVALID_ARG);
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_create_inproc(server, NULL, &c), PRPC_OK);
    uint32_t n = 0;
    assert_int_equal(ks_Sink_count(c, f->arena, &n), PRPC_ERR_UNKNOWN_METHOD);
    /* ks.Calc is not registered there. */
    int32_t r = 0;
    assert_int_equal(ks_Calc_neg(c, 5, f->arena, &r), PRPC_ERR_UNKNOWN_METHOD);
    prpc_client_destroy(c);
    prpc_server_destroy(server);
}

/* -------------------------------------------------- deferred, async */

typedef struct async_box {
    prpc__mutex mu;
    prpc__cond cond;
    int done;
    prpc_status status;
    uint64_t value;
    int64_t code;
} async_box;

static void box_init(async_box *b)
{
    memset(b, 0, sizeof *b);
    prpc__mutex_init(&b->mu);
    prpc__cond_init(&b->cond);
}

static void box_wait(async_box *b, int n)
{
    prpc__mutex_lock(&b->mu);
    while (b->done < n)
        prpc__cond_wait(&b->cond, &b->mu);
    prpc__mutex_unlock(&b->mu);
}

static void box_free(async_box *b)
{
    prpc__cond_destroy(&b->cond);
    prpc__mutex_destroy(&b->mu);
}

static void on_slow(void *user, prpc_status status, const prpc_remote_error *error,
                    const uint64_t *result)
{
    (void)error;
    async_box *b = user;
    prpc__mutex_lock(&b->mu);
    b->status = status;
    if (result != NULL)
        b->value += *result;
    b->done++;
    prpc__cond_broadcast(&b->cond);
    prpc__mutex_unlock(&b->mu);
}

static void on_fail(void *user, prpc_status status, const prpc_remote_error *error)
{
    async_box *b = user;
    prpc__mutex_lock(&b->mu);
    b->status = status;
    b->code = error ? error->code : 0;
    b->done++;
    prpc__cond_broadcast(&b->cond);
    prpc__mutex_unlock(&b->mu);
}

static void test_deferred_replies(void **st)
{
    fixture *f = *st;
    uint64_t v = 0;
    uint64_t t0 = prpc__now_ms();
    assert_int_equal(ks_Sink_slow(f->client, 41, 30, f->arena, &v), PRPC_OK);
    assert_true(v == 42);
    assert_true(prpc__now_ms() - t0 >= 25);

    async_box b;
    box_init(&b);
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(ks_Sink_slow_async(f->client, i, 5, on_slow, &b), PRPC_OK);
    box_wait(&b, 10);
    assert_int_equal(b.status, PRPC_OK);
    assert_true(b.value == 55); /* sum of i + 1 for i in 0..9 */

    b.done = 0;
    assert_int_equal(ks_Sink_fail_async(f->client, ks_Error_TOO_BIG, "big", on_fail, &b), PRPC_OK);
    box_wait(&b, 1);
    assert_int_equal(b.status, PRPC_ERR_REMOTE);
    assert_true(b.code == ks_Error_TOO_BIG);
    box_free(&b);
}

/* ----------------------------------------------------- oneway, events */

typedef struct events {
    unsigned poked, shapes, ticks;
    uint32_t value;
    char note[16];
    double radius;
} events;

static void on_poked(void *user, uint32_t value, const char *note)
{
    events *e = user;
    e->poked++;
    e->value = value;
    snprintf(e->note, sizeof e->note, "%s", note);
}

static void on_shape(void *user, const ks_Shape *s)
{
    events *e = user;
    e->shapes++;
    e->radius = s->u.radius;
}

static void on_tick(void *user)
{
    ((events *)user)->ticks++;
}

static void test_oneway_and_events(void **st)
{
    fixture *f = *st;
    events e;
    memset(&e, 0, sizeof e);
    prpc_client *other = NULL;
    events e2;
    memset(&e2, 0, sizeof e2);
    assert_int_equal(prpc_client_create_inproc(f->sink.server, NULL, &other), PRPC_OK);
    assert_int_equal(ks_Sink_on_shape_changed(other, on_shape, &e2), PRPC_OK);

    /* Without subscriptions the oneway call still runs; the events sent to
     * this connection are dropped by the client, the broadcast skips it. */
    assert_int_equal(ks_Sink_poke(f->client, 1), PRPC_OK);
    assert_int_equal(f->sink.last_poke, 1);
    prpc_client_stats cs;
    prpc_client_get_stats(f->client, &cs);
    assert_true(cs.dropped_events == 2); /* poked and tick */
    assert_int_equal(e2.shapes, 1);

    assert_int_equal(ks_Sink_on_poked(f->client, on_poked, &e), PRPC_OK);
    assert_int_equal(ks_Sink_on_shape_changed(f->client, on_shape, &e), PRPC_OK);
    assert_int_equal(ks_Sink_on_tick(f->client, on_tick, &e), PRPC_OK);
    assert_int_equal(ks_Sink_poke(f->client, 7), PRPC_OK);
    assert_int_equal(e.poked, 1);
    assert_int_equal(e.value, 7);
    assert_string_equal(e.note, "poked");
    assert_int_equal(e.shapes, 1);
    assert_true(e.radius == 7.0);
    assert_int_equal(e.ticks, 1);
    assert_int_equal(e2.shapes, 2);

    /* Unsubscribed: the broadcast no longer reaches this client. */
    assert_int_equal(ks_Sink_on_shape_changed(f->client, NULL, NULL), PRPC_OK);
    size_t sent = 0;
    ks_Shape s;
    memset(&s, 0, sizeof s);
    s.tag = ks_ShapeKind_EMPTY;
    assert_int_equal(ks_Sink_broadcast_shape_changed(f->sink.server, &s, &sent), PRPC_OK);
    assert_int_equal(sent, 1);
    assert_int_equal(e.shapes, 1);
    assert_int_equal(e2.shapes, 3);
    prpc_client_destroy(other);
    assert_int_equal(ks_Sink_broadcast_shape_changed(f->sink.server, &s, &sent), PRPC_OK);
    assert_int_equal(sent, 0);
}

/* -------------------------------------- hand-encoded and raw requests */

typedef struct raw_args {
    void (*write)(prpc_encoder *enc);
} raw_args;

static void raw_encode(prpc_encoder *enc, const void *p)
{
    ((const raw_args *)p)->write(enc);
}

static void write_str(prpc_encoder *enc)
{
    prpc_enc_cstr(enc, "not a number");
}

static void write_two_f64(prpc_encoder *enc)
{
    prpc_enc_f64(enc, 1);
    prpc_enc_f64(enc, 2);
}

static void write_u8_overflow(prpc_encoder *enc)
{
    /* A Scalars with u8v = 300. */
    prpc_enc_array(enc, 11);
    prpc_enc_bool(enc, true);
    for (int i = 0; i < 4; i++)
        prpc_enc_int(enc, 0);
    prpc_enc_uint(enc, 300);
    for (int i = 0; i < 3; i++)
        prpc_enc_uint(enc, 0);
    prpc_enc_f32(enc, 0);
    prpc_enc_f64(enc, 0);
}

static void write_scalars_extra_field(prpc_encoder *enc)
{
    /* A newer peer's Scalars with a 12th field: accepted, the extra skipped. */
    prpc_enc_array(enc, 12);
    prpc_enc_bool(enc, true);
    for (int i = 0; i < 8; i++)
        prpc_enc_int(enc, i);
    prpc_enc_f32(enc, 1);
    prpc_enc_f64(enc, 2);
    prpc_enc_cstr(enc, "from the future");
}

static void write_bag_without_trailing(prpc_encoder *enc)
{
    /* An older peer's Bag: the trailing optional field is missing. */
    prpc_enc_array(enc, 12);
    for (int i = 0; i < 3; i++)
        prpc_enc_array(enc, 0); /* numbers, few_names, nested */
    for (int i = 0; i < 3; i++)
        prpc_enc_map(enc, 0);   /* names, counters, by_color */
    for (int i = 0; i < 3; i++)
        prpc_enc_nil(enc);      /* the optionals */
    prpc_enc_array(enc, 0);     /* shapes */
    prpc_enc_array(enc, 2);     /* origin */
    prpc_enc_int(enc, 3);
    prpc_enc_int(enc, 4);
    prpc_enc_int(enc, ks_Color_GREEN);
}

static void write_bag_missing_required(prpc_encoder *enc)
{
    prpc_enc_array(enc, 2);
    prpc_enc_array(enc, 0);
    prpc_enc_array(enc, 0);
}

static void write_unknown_enum(prpc_encoder *enc)
{
    prpc_enc_array(enc, 2);
    prpc_enc_int(enc, 9); /* not a ShapeKind */
    prpc_enc_nil(enc);
}

static void decode_any(prpc_decoder *dec, void *out)
{
    prpc_dec_any(dec, out);
}

static prpc_status raw_call(prpc_client *c, const char *wire, uint32_t nparams,
                            void (*write)(prpc_encoder *), prpc_arena *arena, prpc_any *result)
{
    prpc_method_desc m = {"raw", wire, "", NULL, 0, 0, nparams};
    raw_args a = {write};
    return prpc_client_call(c, &m, write ? raw_encode : NULL, &a, result ? decode_any : NULL,
                            result, arena, NULL);
}

static void test_wrong_arguments(void **st)
{
    fixture *f = *st;
    prpc_any res;
    assert_int_equal(raw_call(f->client, "ks.Sink.echo_f64", 1, write_str, f->arena, &res),
                     PRPC_ERR_BAD_ARGS);
    assert_true(prpc_client_last_error()->code == PRPC_ERR_BAD_ARGS);
    assert_non_null(strstr(prpc_client_last_error()->message, "ks.Sink.echo_f64"));
    assert_int_equal(raw_call(f->client, "ks.Sink.echo_f64", 2, write_two_f64, f->arena, &res),
                     PRPC_ERR_BAD_ARGS);
    assert_non_null(strstr(prpc_client_last_error()->message, "expects 1 parameters, got 2"));
    assert_int_equal(raw_call(f->client, "ks.Sink.echo_f64", 0, NULL, f->arena, &res),
                     PRPC_ERR_BAD_ARGS);
    assert_int_equal(raw_call(f->client, "ks.Sink.echo_scalars", 1, write_u8_overflow, f->arena, &res),
                     PRPC_ERR_BAD_ARGS);
    assert_int_equal(raw_call(f->client, "ks.Sink.echo_shape", 1, write_unknown_enum, f->arena, &res),
                     PRPC_ERR_BAD_ARGS);
    assert_int_equal(raw_call(f->client, "ks.Sink.echo_bag", 1, write_bag_missing_required, f->arena,
                              &res),
                     PRPC_ERR_BAD_ARGS);

    /* Evolution: extra trailing fields are skipped, missing trailing
     * optional fields are absent. */
    assert_int_equal(raw_call(f->client, "ks.Sink.echo_scalars", 1, write_scalars_extra_field,
                              f->arena, &res),
                     PRPC_OK);
    prpc_decoder dec;
    prpc_dec_init(&dec, res.data, res.len, f->arena);
    ks_Scalars sc;
    ks_Scalars_decode(&dec, &sc);
    assert_int_equal(prpc_dec_status(&dec), PRPC_OK);
    assert_int_equal(sc.u64v, 7);
    assert_int_equal(raw_call(f->client, "ks.Sink.echo_bag", 1, write_bag_without_trailing, f->arena,
                              &res),
                     PRPC_OK);
    prpc_dec_init(&dec, res.data, res.len, f->arena);
    ks_Bag bag;
    ks_Bag_decode(&dec, &bag);
    assert_int_equal(prpc_dec_status(&dec), PRPC_OK);
    assert_null(bag.trailing);
    assert_int_equal(bag.color, ks_Color_GREEN);
}

static void test_unknown_method_and_builtins(void **st)
{
    fixture *f = *st;
    assert_int_equal(raw_call(f->client, "ks.Sink.nope", 0, NULL, f->arena, NULL),
                     PRPC_ERR_UNKNOWN_METHOD);
    assert_non_null(strstr(prpc_client_last_error()->message, "ks.Sink.nope"));
    assert_int_equal(raw_call(f->client, "rpc.nope", 0, NULL, f->arena, NULL),
                     PRPC_ERR_UNKNOWN_METHOD);
    /* The IDL name is not the wire name of a renamed method. */
    assert_int_equal(raw_call(f->client, "ks.Sink.touch", 1, write_str, f->arena, NULL),
                     PRPC_ERR_UNKNOWN_METHOD);
    uint32_t len = 0;
    assert_int_equal(ks_Sink_touch(f->client, "four", f->arena, &len), PRPC_OK);
    assert_int_equal(len, 4);
    assert_int_equal(ks_Sink_old_touch(f->client, "x"), PRPC_OK);
    int32_t neg = 0;
    assert_int_equal(ks_Calc_neg(f->client, INT32_MAX, f->arena, &neg), PRPC_OK);
    assert_int_equal(neg, -INT32_MAX);

    assert_int_equal(prpc_client_ping(f->client, 1000), PRPC_OK);

    prpc_any d;
    assert_int_equal(prpc_client_describe(f->client, f->arena, &d), PRPC_OK);
    /* [{"name": ..., "version": [M, m], "hash": h, "methods": [...], "events": [...]}, ...] */
    prpc_decoder dec;
    prpc_dec_init(&dec, d.data, d.len, f->arena);
    uint32_t nsvc = 0;
    prpc_dec_array(&dec, &nsvc);
    assert_int_equal(nsvc, 2);
    bool found = false;
    for (uint32_t i = 0; i < nsvc; i++) {
        uint32_t nkeys = 0;
        prpc_dec_map(&dec, &nkeys);
        assert_int_equal(nkeys, 5);
        const char *key, *name;
        prpc_dec_str(&dec, &key, NULL);
        assert_string_equal(key, "name");
        prpc_dec_str(&dec, &name, NULL);
        prpc_dec_str(&dec, &key, NULL);
        assert_string_equal(key, "version");
        uint32_t nver;
        uint16_t major = 0, minor = 0;
        prpc_dec_array(&dec, &nver);
        prpc_dec_u16(&dec, &major);
        prpc_dec_u16(&dec, &minor);
        prpc_dec_str(&dec, &key, NULL);
        assert_string_equal(key, "hash");
        uint64_t hash = 0;
        prpc_dec_u64(&dec, &hash);
        prpc_dec_str(&dec, &key, NULL);
        assert_string_equal(key, "methods");
        uint32_t nm = 0;
        prpc_dec_array(&dec, &nm);
        if (strcmp(name, "ks.Sink") == 0) {
            found = true;
            assert_int_equal(major, 2);
            assert_int_equal(minor, 3);
            assert_true(hash == ks_Sink_SIGNATURE_HASH);
            assert_int_equal(nm, ks_Sink_METHOD_COUNT);
        }
        for (uint32_t j = 0; j < nm; j++)
            prpc_dec_skip(&dec);
        prpc_dec_str(&dec, &key, NULL);
        assert_string_equal(key, "events");
        prpc_dec_skip(&dec);
    }
    assert_int_equal(prpc_dec_status(&dec), PRPC_OK);
    assert_true(found);
    assert_true(ks_Sink_desc.signature_hash == ks_Sink_SIGNATURE_HASH);
    assert_true(ks_Sink_SIGNATURE_HASH != ks_Calc_SIGNATURE_HASH);
}

/* --------------------------------------------------- authorization */

static bool deny_touch(void *user, const prpc_call *call)
{
    (void)user;
    return prpc_call_peer(call)->in_process &&
           strcmp(prpc_call_method(call)->wire_name, "legacy_touch") != 0;
}

static void test_authorization_hook(void **st)
{
    (void)st;
    sink_state s;
    prpc_server_options opts = {0};
    opts.authorize = deny_touch;
    sink_start(&s, &opts);
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_create_inproc(s.server, NULL, &c), PRPC_OK);
    prpc_arena *a = prpc_arena_create(0);
    uint32_t n = 0;
    assert_int_equal(ks_Sink_touch(c, "key", a, &n), PRPC_ERR_DENIED);
    assert_int_equal(ks_Sink_count(c, a, &n), PRPC_OK);
    prpc_arena_destroy(a);
    prpc_client_destroy(c);
    sink_stop(&s);
}

/* ------------------------------------------------------------- kv */

static prpc_status kv_get(prpc_call *call, const char *key, prpc_bytes *result)
{
    if (strcmp(key, "k") != 0)
        return kv_Store_get_raise(call, kv_Error_NOT_FOUND, "no such key");
    *result = (prpc_bytes){(const uint8_t *)"v", 1};
    return PRPC_OK;
}

static prpc_status kv_stats(prpc_call *call, uint64_t *count, uint64_t *bytes)
{
    (void)call;
    *count = 3;
    *bytes = UINT64_MAX;
    return PRPC_OK;
}

static void test_kv_store(void **st)
{
    (void)st;
    static const kv_Store_ops ops = {.get = kv_get, .stats = kv_stats};
    prpc_server *server = NULL;
    assert_int_equal(prpc_server_create(NULL, &server), PRPC_OK);
    assert_int_equal(kv_Store_register(server, &ops, NULL), PRPC_OK);
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_create_inproc(server, NULL, &c), PRPC_OK);
    prpc_arena *a = prpc_arena_create(0);
    prpc_bytes v;
    assert_int_equal(kv_Store_get(c, "k", a, &v), PRPC_OK);
    assert_int_equal(v.len, 1);
    assert_int_equal(kv_Store_get(c, "x", a, &v), PRPC_ERR_REMOTE);
    assert_true(prpc_client_last_error()->code == kv_Error_NOT_FOUND);
    assert_string_equal(prpc_client_last_error()->message, "no such key");
    uint64_t count = 0, bytes = 0;
    assert_int_equal(kv_Store_stats(c, &count, &bytes, a), PRPC_OK);
    assert_true(count == 3 && bytes == UINT64_MAX);
    uint64_t r;
    assert_int_equal(kv_Store_put(c, "k", v, a, &r), PRPC_ERR_UNKNOWN_METHOD);
    prpc_arena_destroy(a);
    prpc_client_destroy(c);
    prpc_server_destroy(server);
}

/* An asynchronous completion's result goes through the engine's rules: a
 * failed call passes its status on, a result of the wrong type or with bytes
 * left over is PRPC_ERR_INCOMPATIBLE. */
static void decode_u64(prpc_decoder *dec, void *out)
{
    prpc_dec_u64(dec, out);
}

static void test_async_result_decode(void **st)
{
    (void)st;
    prpc_arena *a = prpc_arena_create(0);
    prpc_encoder enc;
    prpc_enc_init(&enc, 0);
    prpc_enc_uint(&enc, 7);
    prpc_enc_cstr(&enc, "x");
    assert_int_equal(prpc_enc_status(&enc), PRPC_OK);
    prpc_decoder dec;
    prpc_async_result r;
    memset(&r, 0, sizeof r);
    r.result = &dec;
    uint64_t v = 0;

    prpc_dec_init(&dec, enc.data, 1, a); /* the u64 alone */
    dec.type_err = PRPC_ERR_INCOMPATIBLE;
    assert_int_equal(prpc_async_result_decode(&r, decode_u64, &v), PRPC_OK);
    assert_true(v == 7);

    prpc_dec_init(&dec, enc.data, enc.len, a); /* the u64, then a string */
    dec.type_err = PRPC_ERR_INCOMPATIBLE;
    assert_int_equal(prpc_async_result_decode(&r, decode_u64, &v), PRPC_ERR_INCOMPATIBLE);

    prpc_dec_init(&dec, enc.data + 1, enc.len - 1, a); /* a string, not a u64 */
    dec.type_err = PRPC_ERR_INCOMPATIBLE;
    assert_int_equal(prpc_async_result_decode(&r, decode_u64, &v), PRPC_ERR_INCOMPATIBLE);

    r.status = PRPC_ERR_TIMEOUT;
    r.result = NULL;
    assert_int_equal(prpc_async_result_decode(&r, decode_u64, &v), PRPC_ERR_TIMEOUT);
    assert_int_equal(prpc_async_result_decode(&r, NULL, &v), PRPC_ERR_INVALID_ARG);
    prpc_enc_free(&enc);
    prpc_arena_destroy(a);
}

/* A server whose kv.Store.get answers a u64 instead of bytes: the generated
 * asynchronous stub reports PRPC_ERR_INCOMPATIBLE and no result. */
static void write_u64_reply(prpc_encoder *enc, const void *p)
{
    (void)p;
    prpc_enc_uint(enc, 42);
}

static prpc_status wrong_get_invoke(prpc_call *call, const void *ops, prpc_decoder *params)
{
    (void)ops;
    (void)params;
    return prpc_call_reply(call, write_u64_reply, NULL);
}

typedef struct get_outcome {
    int calls;
    prpc_status status;
    bool had_result;
} get_outcome;

static void on_get(void *user, prpc_status status, const prpc_remote_error *error,
                   const prpc_bytes *result)
{
    get_outcome *o = user;
    (void)error;
    o->calls++;
    o->status = status;
    o->had_result = result != NULL;
}

static void test_async_wrong_result_type(void **st)
{
    (void)st;
    static const int token = 1;
    const prpc_invoke_fn invoke[kv_Store_METHOD_COUNT] = {NULL, wrong_get_invoke, NULL, NULL};
    prpc_server *server = NULL;
    assert_int_equal(prpc_server_create(NULL, &server), PRPC_OK);
    assert_int_equal(prpc_server_register(server, &kv_Store_desc, invoke, &token, NULL), PRPC_OK);
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_create_inproc(server, NULL, &c), PRPC_OK);
    get_outcome o = {0, PRPC_OK, false};
    assert_int_equal(kv_Store_get_async(c, "k", on_get, &o), PRPC_OK);
    /* In process, the reply is delivered before the call returns. */
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, PRPC_ERR_INCOMPATIBLE);
    assert_false(o.had_result);
    prpc_client_destroy(c);
    prpc_server_destroy(server);
}

/* An event whose parameters are not the event's types is dropped: the
 * generated trampoline reports the decoder's error, the handler does not
 * run, and the client counts it in dropped_events, not in events. */
typedef struct changed_seen {
    int calls;
    uint64_t version;
} changed_seen;

static void on_changed(void *user, const char *key, uint64_t version)
{
    changed_seen *c = user;
    (void)key;
    c->calls++;
    c->version = version;
}

static void write_changed_two_strings(prpc_encoder *enc, const void *p)
{
    (void)p;
    prpc_enc_cstr(enc, "key");
    prpc_enc_cstr(enc, "not a u64");
}

static void test_malformed_event_dropped(void **st)
{
    (void)st;
    static const kv_Store_ops ops = {.get = kv_get};
    prpc_server *server = NULL;
    assert_int_equal(prpc_server_create(NULL, &server), PRPC_OK);
    assert_int_equal(kv_Store_register(server, &ops, NULL), PRPC_OK);
    prpc_client *c = NULL;
    assert_int_equal(prpc_client_create_inproc(server, NULL, &c), PRPC_OK);
    changed_seen seen = {0, 0};
    assert_int_equal(kv_Store_on_changed(c, on_changed, &seen), PRPC_OK);

    /* In process, an event is delivered before the broadcast returns. */
    size_t sent = 0;
    assert_int_equal(prpc_server_broadcast(server, &kv_Store_events[0], write_changed_two_strings,
                                           NULL, &sent),
                     PRPC_OK);
    assert_int_equal(sent, 1);
    prpc_client_stats cs;
    prpc_client_get_stats(c, &cs);
    assert_int_equal(seen.calls, 0);
    assert_true(cs.events == 0);
    assert_true(cs.dropped_events == 1);

    /* A well-formed one after it is delivered and counted as such. */
    assert_int_equal(kv_Store_broadcast_changed(server, "key", 5, &sent), PRPC_OK);
    assert_int_equal(sent, 1);
    prpc_client_get_stats(c, &cs);
    assert_int_equal(seen.calls, 1);
    assert_true(seen.version == 5);
    assert_true(cs.events == 1);
    assert_true(cs.dropped_events == 1);
    prpc_client_destroy(c);
    prpc_server_destroy(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scalars_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strings_and_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_any_and_optionals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blobs_fixed_arrays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_union_every_arm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bag_containers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inout_and_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idl_and_framework_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oneway_and_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_method_and_builtins, setup, teardown),
        cmocka_unit_test(test_authorization_hook),
        cmocka_unit_test(test_kv_store),
        cmocka_unit_test(test_async_result_decode),
        cmocka_unit_test(test_async_wrong_result_type),
        cmocka_unit_test(test_malformed_event_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
