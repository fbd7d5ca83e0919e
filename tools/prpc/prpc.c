/* prpc: a command-line client for any piperpc (or msgpack-rpc) server.
 *
 *   prpc [OPTIONS] ping ENDPOINT
 *   prpc [OPTIONS] describe ENDPOINT
 *   prpc [OPTIONS] call ENDPOINT METHOD [JSON-ARGS]
 *   prpc [OPTIONS] notify ENDPOINT METHOD [JSON-ARGS]
 *   prpc [OPTIONS] watch ENDPOINT [METHOD [JSON-ARGS]]
 *
 * Arguments and results are JSON; README.md documents the mapping (binary
 * data is {"$bin":"<base64>"}). Exit status: 0 success, 1 an error reply,
 * 2 a usage error, 3 a connection failure or a timeout. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>
#include <piperpc/piperpc.h>

#include "json_out.h"

enum { EXIT_OK = 0, EXIT_REMOTE = 1, EXIT_USAGE = 2, EXIT_CONN = 3 };

typedef struct options {
    unsigned long timeout_ms; /* call deadline and connect wait; watch: how long to watch */
    unsigned long count;      /* watch: stop after this many events (0: no bound) */
    bool json;                /* describe: raw JSON */
} options;

static int usage(void)
{
    fprintf(stderr,
            "usage: prpc [OPTIONS] COMMAND ENDPOINT [ARGS]\n"
            "  ping ENDPOINT                          round-trips rpc.ping\n"
            "  describe ENDPOINT                      lists the server's interfaces\n"
            "  call ENDPOINT METHOD [JSON-ARGS]       calls METHOD, prints the result as JSON\n"
            "  notify ENDPOINT METHOD [JSON-ARGS]     sends METHOD as a notification\n"
            "  watch ENDPOINT [METHOD [JSON-ARGS]]    prints events (after calling METHOD)\n"
            "options:\n"
            "  --timeout MS   call deadline and how long to wait for the server (default 5000);\n"
            "                 for watch: how long to watch (default: until SIGINT)\n"
            "  --count N      watch: exit after N events\n"
            "  --json         describe: print the rpc.describe answer as JSON\n"
            "JSON-ARGS is an array of the parameters ('[\"key\", {\"$bin\":\"aGk=\"}]'); any\n"
            "other JSON value is the single parameter. Binary data is {\"$bin\":\"<base64>\"},\n"
            "an exact 64-bit integer may be written {\"$int\":\"-9223372036854775808\"}.\n"
            "exit status: 0 success, 1 error reply, 2 usage error, 3 connection failure or timeout\n");
    return EXIT_USAGE;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int parse_ulong(const char *s, unsigned long *out)
{
    char *end;
    errno = 0;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    *out = strtoul(s, &end, 10);
    return errno == 0 && *end == '\0' && *out <= UINT32_MAX ? 0 : -1;
}

/* The exit status a failed local or remote call means. */
static int report(const char *what, prpc_status st)
{
    if (st == PRPC_ERR_REMOTE || (st < 0 && st != PRPC_ERR_TIMEOUT && st != PRPC_ERR_UNAVAILABLE &&
                                  st != PRPC_ERR_CLOSED && st != PRPC_ERR_IO &&
                                  st != PRPC_ERR_NO_MEMORY && st != PRPC_ERR_INVALID_ARG)) {
        /* The server answered with an error object. */
        const prpc_remote_error *e = prpc_client_last_error();
        fprintf(stderr, "prpc: %s: error %" PRId64 ": %s\n", what, e->code, e->message);
        return EXIT_REMOTE;
    }
    fprintf(stderr, "prpc: %s: %s\n", what, prpc_strerror(st));
    return st == PRPC_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_CONN;
}

/* ------------------------------------------------------ JSON -> msgpack */

static int json_int_string(const char *s, prpc_encoder *enc)
{
    char *end;
    errno = 0;
    if (s[0] == '-') {
        long long v = strtoll(s, &end, 10);
        if (errno || *end || end == s)
            return -1;
        prpc_enc_int(enc, v);
    } else {
        if (s[0] < '0' || s[0] > '9')
            return -1;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end)
            return -1;
        prpc_enc_uint(enc, v);
    }
    return 0;
}

/* Encodes one JSON value; returns -1 (with *why) on a value it cannot map. */
static int encode_json(const cJSON *j, prpc_encoder *enc, const char **why)
{
    if (cJSON_IsNull(j)) {
        prpc_enc_nil(enc);
    } else if (cJSON_IsBool(j)) {
        prpc_enc_bool(enc, cJSON_IsTrue(j));
    } else if (cJSON_IsNumber(j)) {
        double v = j->valuedouble;
        /* Integral values within the exact range of a double travel as
         * integers; others as float 64. */
        if (v == floor(v) && fabs(v) <= 9007199254740992.0) {
            if (v < 0)
                prpc_enc_int(enc, (int64_t)v);
            else
                prpc_enc_uint(enc, (uint64_t)v);
        } else {
            prpc_enc_f64(enc, v);
        }
    } else if (cJSON_IsString(j)) {
        prpc_enc_cstr(enc, j->valuestring);
        if (prpc_enc_status(enc) != PRPC_OK) {
            *why = "a string is not valid UTF-8";
            return -1;
        }
    } else if (cJSON_IsArray(j)) {
        int n = cJSON_GetArraySize(j);
        prpc_enc_array(enc, (uint32_t)n);
        for (const cJSON *c = j->child; c; c = c->next)
            if (encode_json(c, enc, why) != 0)
                return -1;
    } else if (cJSON_IsObject(j)) {
        const cJSON *only = j->child;
        if (only && !only->next && only->string && cJSON_IsString(only)) {
            if (strcmp(only->string, "$bin") == 0) {
                uint8_t *data;
                size_t len;
                if (base64_decode(only->valuestring, &data, &len) != 0) {
                    *why = "a \"$bin\" value is not base64";
                    return -1;
                }
                prpc_enc_bin(enc, data, len);
                prpc_free(data);
                return 0;
            }
            if (strcmp(only->string, "$int") == 0) {
                if (json_int_string(only->valuestring, enc) != 0) {
                    *why = "a \"$int\" value is not a 64-bit integer";
                    return -1;
                }
                return 0;
            }
        }
        int n = cJSON_GetArraySize(j);
        prpc_enc_map(enc, (uint32_t)n);
        for (const cJSON *c = j->child; c; c = c->next) {
            prpc_enc_cstr(enc, c->string);
            if (encode_json(c, enc, why) != 0)
                return -1;
        }
    } else {
        *why = "unsupported JSON value";
        return -1;
    }
    return 0;
}

/* The parameters of a call: each element encoded in turn (the runtime
 * writes the array header from the descriptor's nparams). */
typedef struct call_params {
    const cJSON *list; /* array of parameters, or NULL */
} call_params;

static void encode_params(prpc_encoder *enc, const void *v)
{
    const call_params *p = v;
    const char *why = NULL;
    for (const cJSON *c = p->list ? p->list->child : NULL; c; c = c->next)
        if (encode_json(c, enc, &why) != 0) {
            prpc_enc_fail(enc, PRPC_ERR_INVALID_ARG);
            return;
        }
}

/* Parses JSON-ARGS into an array of parameters (owned by *root). */
static int parse_args(const char *text, cJSON **root, const cJSON **list)
{
    *root = NULL;
    *list = NULL;
    if (text == NULL)
        return 0;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(text, &end, 1);
    if (j == NULL) {
        fprintf(stderr, "prpc: JSON-ARGS is not valid JSON (near: %.20s)\n", end ? end : text);
        return -1;
    }
    if (!cJSON_IsArray(j)) {
        cJSON *arr = cJSON_CreateArray();
        if (arr == NULL) {
            cJSON_Delete(j);
            return -1;
        }
        cJSON_AddItemToArray(arr, j);
        j = arr;
    }
    /* Check every value maps before anything is sent. */
    prpc_encoder probe;
    prpc_enc_init(&probe, 0);
    const char *why = NULL;
    int rc = 0;
    for (const cJSON *c = j->child; c && rc == 0; c = c->next)
        rc = encode_json(c, &probe, &why);
    prpc_enc_free(&probe);
    if (rc != 0) {
        fprintf(stderr, "prpc: JSON-ARGS: %s\n", why ? why : "cannot encode");
        cJSON_Delete(j);
        return -1;
    }
    *root = j;
    *list = j;
    return 0;
}

/* ------------------------------------------------------------- commands */

static void decode_any(prpc_decoder *dec, void *out)
{
    prpc_dec_any(dec, out);
}

/* Converts one msgpack value to JSON text (prpc_alloc'ed, in *out). */
static prpc_status to_json(prpc_any v, jbuf *out)
{
    prpc_arena *arena = prpc_arena_create(0);
    if (arena == NULL)
        return PRPC_ERR_NO_MEMORY;
    prpc_decoder dec;
    prpc_dec_init(&dec, v.data, v.len, arena);
    prpc_status st = json_from_msgpack(&dec, out);
    prpc_arena_destroy(arena);
    return st;
}

static prpc_status print_json(prpc_any v, FILE *f)
{
    jbuf out = {0};
    prpc_status st = to_json(v, &out);
    if (st == PRPC_OK)
        fprintf(f, "%s\n", out.data ? out.data : "null");
    jbuf_free(&out);
    return st;
}

static int connect_to(const char *endpoint, const options *o, prpc_client **c)
{
    prpc_client_options co = {0};
    co.connect_timeout_ms = (uint32_t)o->timeout_ms;
    co.default_timeout_ms = (uint32_t)o->timeout_ms;
    prpc_status st = prpc_client_connect(endpoint, &co, c);
    if (st == PRPC_OK)
        return EXIT_OK;
    fprintf(stderr, "prpc: cannot connect to %s: %s\n", endpoint, prpc_strerror(st));
    return st == PRPC_ERR_INVALID_ARG || st == PRPC_ERR_NOT_SUPPORTED ? EXIT_USAGE : EXIT_CONN;
}

static int cmd_ping(prpc_client *c, const options *o)
{
    uint64_t t0 = now_ms();
    prpc_status st = prpc_client_ping(c, (uint32_t)o->timeout_ms);
    if (st != PRPC_OK)
        return report("rpc.ping", st);
    printf("pong in %" PRIu64 " ms\n", now_ms() - t0);
    return EXIT_OK;
}

/* Fetches rpc.describe as JSON text parsed by cJSON. */
static int fetch_describe(prpc_client *c, cJSON **out, prpc_any *raw, prpc_arena *arena)
{
    prpc_status st = prpc_client_describe(c, arena, raw);
    if (st != PRPC_OK)
        return report("rpc.describe", st);
    jbuf text = {0};
    st = to_json(*raw, &text);
    *out = st == PRPC_OK ? cJSON_Parse(text.data ? text.data : "null") : NULL;
    jbuf_free(&text);
    if (*out == NULL || !cJSON_IsArray(*out)) {
        fprintf(stderr, "prpc: the rpc.describe answer is malformed\n");
        cJSON_Delete(*out);
        *out = NULL;
        return EXIT_REMOTE;
    }
    return EXIT_OK;
}

static const char *jstr(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* The "hash" of the index-th interface, read exactly from the raw answer
 * (cJSON keeps numbers as doubles, which would round a 64-bit hash). */
static uint64_t describe_hash(prpc_any raw, uint32_t index, prpc_arena *arena)
{
    prpc_decoder dec;
    prpc_dec_init(&dec, raw.data, raw.len, arena);
    uint32_t n = 0, nkeys = 0;
    uint64_t hash = 0;
    prpc_dec_array(&dec, &n);
    for (uint32_t i = 0; i < n && i <= index && prpc_dec_status(&dec) == PRPC_OK; i++) {
        prpc_dec_map(&dec, &nkeys);
        for (uint32_t k = 0; k < nkeys && prpc_dec_status(&dec) == PRPC_OK; k++) {
            const char *key = NULL;
            prpc_dec_str(&dec, &key, NULL);
            if (i == index && key && strcmp(key, "hash") == 0 && prpc_dec_peek(&dec) == PRPC_TYPE_UINT)
                prpc_dec_u64(&dec, &hash);
            else
                prpc_dec_skip(&dec);
        }
    }
    return hash;
}

static int cmd_describe(prpc_client *c, const options *o)
{
    prpc_arena *arena = prpc_arena_create(0);
    if (arena == NULL)
        return report("rpc.describe", PRPC_ERR_NO_MEMORY);
    cJSON *d = NULL;
    prpc_any raw;
    int rc = fetch_describe(c, &d, &raw, arena);
    if (rc == EXIT_OK && o->json) {
        print_json(raw, stdout);
    } else if (rc == EXIT_OK) {
        const cJSON *svc;
        uint32_t index = 0;
        cJSON_ArrayForEach(svc, d)
        {
            const cJSON *ver = cJSON_GetObjectItemCaseSensitive(svc, "version");
            printf("interface %s %d.%d hash 0x%016" PRIx64 "\n", jstr(svc, "name"),
                   cJSON_GetArrayItem(ver, 0) ? cJSON_GetArrayItem(ver, 0)->valueint : 0,
                   cJSON_GetArrayItem(ver, 1) ? cJSON_GetArrayItem(ver, 1)->valueint : 0,
                   describe_hash(raw, index++, arena));
            const cJSON *m;
            cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(svc, "methods"))
            {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "timeout_ms");
                printf("  method %-24s %s", jstr(m, "name"), jstr(m, "signature"));
                if (cJSON_IsNumber(t) && t->valuedouble > 0)
                    printf("  [timeout %.0f ms]", t->valuedouble);
                printf("\n");
            }
            const cJSON *e;
            cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(svc, "events"))
                printf("  event  %-24s %s\n", jstr(e, "name"), jstr(e, "signature"));
        }
    }
    cJSON_Delete(d);
    prpc_arena_destroy(arena);
    return rc;
}

static int cmd_call(prpc_client *c, const options *o, const char *method, const char *args,
                    bool oneway, FILE *out)
{
    cJSON *root;
    const cJSON *list;
    if (parse_args(args, &root, &list) != 0)
        return EXIT_USAGE;
    prpc_method_desc m = {0};
    m.name = method;
    m.wire_name = method;
    m.signature = "";
    m.flags = oneway ? PRPC_METHOD_ONEWAY : 0;
    m.nparams = list ? (uint32_t)cJSON_GetArraySize(list) : 0;
    call_params p = {list};
    int rc = EXIT_OK;
    prpc_status st;
    if (oneway) {
        st = prpc_client_notify(c, &m, encode_params, &p);
        /* One connection's messages are handled in order: once the ping
         * behind it is answered, the server has taken the notification. */
        if (st == PRPC_OK)
            st = prpc_client_ping(c, (uint32_t)o->timeout_ms);
        if (st != PRPC_OK)
            rc = report(method, st);
    } else {
        prpc_arena *arena = prpc_arena_create(0);
        prpc_any result = {0};
        prpc_call_options co = {(uint32_t)o->timeout_ms, NULL};
        st = arena ? prpc_client_call(c, &m, encode_params, &p, decode_any, &result, arena, &co)
                   : PRPC_ERR_NO_MEMORY;
        if (st != PRPC_OK)
            rc = report(method, st);
        else if (print_json(result, out) != PRPC_OK) {
            fprintf(stderr, "prpc: %s: the result cannot be shown as JSON\n", method);
            rc = EXIT_REMOTE;
        }
        prpc_arena_destroy(arena);
    }
    cJSON_Delete(root);
    return rc;
}

/* ---------------------------------------------------------------- watch */

static atomic_ulong events_seen;

static prpc_status on_event(const prpc_event_delivery *d)
{
    jbuf out = {0};
    jbuf_puts(&out, "{\"event\":");
    const char *name = d->event->wire_name;
    prpc_decoder *dec = d->params;
    jbuf_puts(&out, "\"");
    jbuf_puts(&out, name); /* wire names have no quotes or controls (idlc checks) */
    jbuf_puts(&out, "\",\"params\":[");
    for (uint32_t i = 0; i < d->event->nparams; i++) {
        if (i)
            jbuf_puts(&out, ",");
        if (json_from_msgpack(dec, &out) != PRPC_OK)
            break;
    }
    jbuf_puts(&out, "]}");
    /* An event that could not be shown counts as dropped. */
    prpc_status st = out.failed ? PRPC_ERR_NO_MEMORY : prpc_dec_status(dec);
    if (st == PRPC_OK) {
        printf("%s\n", out.data);
        fflush(stdout);
        atomic_fetch_add(&events_seen, 1);
    }
    jbuf_free(&out);
    return st;
}

/* The number of parameters in a signature "event changed(string key, u64 v)":
 * top-level commas between the outer parentheses, plus one. */
static uint32_t count_params(const char *sig)
{
    const char *p = strchr(sig, '(');
    if (p == NULL)
        return 0;
    int depth = 0;
    uint32_t n = 0;
    bool any = false;
    for (p++; *p; p++) {
        if (*p == '<' || *p == '(' || *p == '[')
            depth++;
        else if (*p == '>' || *p == ']')
            depth--;
        else if (*p == ')') {
            if (depth == 0)
                break;
            depth--;
        } else if (*p == ',' && depth == 0)
            n++;
        else if (*p != ' ')
            any = true;
    }
    return any ? n + 1 : 0;
}

static int cmd_watch(prpc_client *c, const options *o, const char *method, const char *args)
{
    prpc_arena *arena = prpc_arena_create(0);
    if (arena == NULL)
        return report("rpc.describe", PRPC_ERR_NO_MEMORY);
    cJSON *d = NULL;
    prpc_any raw;
    int rc = fetch_describe(c, &d, &raw, arena);
    if (rc != EXIT_OK) {
        prpc_arena_destroy(arena);
        return rc;
    }
    /* One handler per event the server describes; the descriptors live in
     * the arena until the client is gone (the caller destroys it first). */
    uint32_t nevents = 0;
    const cJSON *svc;
    cJSON_ArrayForEach(svc, d)
    {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(svc, "events"))
        {
            prpc_event_desc *ed = prpc_arena_calloc(arena, 1, sizeof *ed, _Alignof(prpc_event_desc));
            const char *wn = jstr(e, "name"), *sig = jstr(e, "signature");
            if (ed == NULL)
                break;
            ed->name = ed->wire_name = prpc_arena_strndup(arena, wn, strlen(wn));
            ed->signature = prpc_arena_strndup(arena, sig, strlen(sig));
            ed->nparams = count_params(sig);
            if (ed->wire_name == NULL || ed->signature == NULL)
                break;
            prpc_status st = prpc_client_on_event(c, ed, on_event, NULL, NULL);
            if (st != PRPC_OK) {
                rc = report("rpc.subscribe", st);
                break;
            }
            nevents++;
        }
    }
    cJSON_Delete(d);
    if (rc == EXIT_OK && nevents == 0)
        fprintf(stderr, "prpc: the server describes no events; watching anyway\n");
    if (rc == EXIT_OK && method != NULL) {
        /* The call's result goes to stderr: stdout carries only events. */
        options call_o = *o;
        call_o.timeout_ms = 5000;
        rc = cmd_call(c, &call_o, method, args, false, stderr);
    }
    if (rc == EXIT_OK) {
        fprintf(stderr, "prpc: watching %u event(s)\n", nevents);
        sigset_t sigs;
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        uint64_t start = now_ms(), last_ping = start;
        for (;;) {
            if (o->count && atomic_load(&events_seen) >= o->count)
                break;
            if (o->timeout_ms && now_ms() - start >= o->timeout_ms) {
                if (o->count) {
                    fprintf(stderr, "prpc: timed out after %lu of %lu event(s)\n",
                            atomic_load(&events_seen), o->count);
                    rc = EXIT_CONN;
                }
                break;
            }
            struct timespec step = {0, 20 * 1000 * 1000};
            if (sigtimedwait(&sigs, NULL, &step) >= 0)
                break;
            if (now_ms() - last_ping >= 1000) {
                last_ping = now_ms();
                prpc_status st = prpc_client_ping(c, 2000);
                if (st != PRPC_OK) {
                    rc = report("the connection", st);
                    break;
                }
            }
        }
    }
    /* Handlers reference descriptors in the arena: drop them first. */
    prpc_client_destroy(c);
    prpc_arena_destroy(arena);
    return rc;
}

static void log_fn(void *user, prpc_log_level level, const char *msg)
{
    (void)user;
    (void)level;
    fprintf(stderr, "prpc: %s\n", msg);
}

int main(int argc, char **argv)
{
    options o = {5000, 0, false};
    bool timeout_given = false;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            o.json = true;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage();
            return EXIT_OK;
        } else if (i + 1 < argc && strcmp(argv[i], "--timeout") == 0) {
            if (parse_ulong(argv[++i], &o.timeout_ms) != 0)
                return usage();
            timeout_given = true;
        } else if (i + 1 < argc && strcmp(argv[i], "--count") == 0) {
            if (parse_ulong(argv[++i], &o.count) != 0)
                return usage();
        } else {
            return usage();
        }
    }
    if (argc - i < 2)
        return usage();
    const char *cmd = argv[i], *endpoint = argv[i + 1];
    char **rest = argv + i + 2;
    int nrest = argc - i - 2;
    bool known = (strcmp(cmd, "ping") == 0 && nrest == 0) ||
                 (strcmp(cmd, "describe") == 0 && nrest == 0) ||
                 ((strcmp(cmd, "call") == 0 || strcmp(cmd, "notify") == 0) && nrest >= 1 && nrest <= 2) ||
                 (strcmp(cmd, "watch") == 0 && nrest <= 2);
    if (!known)
        return usage();
    prpc_set_log(log_fn, NULL, PRPC_LOG_ERROR);

    /* Signals are blocked before the client's threads exist, so watch can
     * take them with sigtimedwait. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    if (strcmp(cmd, "watch") == 0)
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    options conn_o = o;
    if (strcmp(cmd, "watch") == 0 && (!timeout_given || o.timeout_ms > 5000))
        conn_o.timeout_ms = 5000;
    if (strcmp(cmd, "watch") == 0 && !timeout_given)
        o.timeout_ms = 0; /* watch until a signal or --count */
    prpc_client *c = NULL;
    int rc = connect_to(endpoint, &conn_o, &c);
    if (rc != EXIT_OK)
        return rc;
    if (strcmp(cmd, "ping") == 0)
        rc = cmd_ping(c, &o);
    else if (strcmp(cmd, "describe") == 0)
        rc = cmd_describe(c, &o);
    else if (strcmp(cmd, "call") == 0)
        rc = cmd_call(c, &o, rest[0], nrest > 1 ? rest[1] : NULL, false, stdout);
    else if (strcmp(cmd, "notify") == 0)
        rc = cmd_call(c, &o, rest[0], nrest > 1 ? rest[1] : NULL, true, stdout);
    else
        return cmd_watch(c, &o, nrest > 0 ? rest[0] : NULL, nrest > 1 ? rest[1] : NULL);
    prpc_client_destroy(c);
    return rc;
}
