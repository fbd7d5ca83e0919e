/* kv_client: one call on a kv.Store server from the command line.
 *
 * usage: kv_client ENDPOINT COMMAND ARGS...
 *   put KEY VALUE         prints the key's new version
 *   get KEY               prints the value
 *   remove KEY            prints true or false
 *   list [PREFIX [LIMIT]] prints "key version value" lines (LIMIT default 100)
 *   count                 prints the number of keys
 *   stats                 prints "count bytes"
 *   set-quiet KEY VALUE   stores without waiting for a reply
 * Exit status: 0 success, 1 an error reply (e.g. NOT_FOUND), 2 usage error,
 * 3 no connection or a timeout. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv_client.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: kv_client ENDPOINT COMMAND ARGS...\n"
            "commands: put KEY VALUE | get KEY | remove KEY | list [PREFIX [LIMIT]] |\n"
            "          count | stats | set-quiet KEY VALUE\n");
    return 2;
}

/* Reports a failed call; returns the exit status it means. */
static int fail(prpc_status st)
{
    if (st == PRPC_ERR_REMOTE) {
        const prpc_remote_error *e = prpc_client_last_error();
        const char *name = kv_Error_name((kv_Error)e->code);
        fprintf(stderr, "kv_client: %s (%" PRId64 "): %s\n", name ? name : "error", e->code,
                e->message);
        return 1;
    }
    fprintf(stderr, "kv_client: %s\n", prpc_strerror(st));
    return st == PRPC_ERR_TIMEOUT || st == PRPC_ERR_UNAVAILABLE || st == PRPC_ERR_CLOSED ? 3 : 1;
}

static prpc_bytes text_bytes(const char *s)
{
    return (prpc_bytes){(const uint8_t *)s, strlen(s)};
}

static int run(prpc_client *c, const char *cmd, int argc, char **argv, prpc_arena *arena)
{
    prpc_status st;
    if (strcmp(cmd, "put") == 0 && argc == 2) {
        uint64_t version = 0;
        st = kv_Store_put(c, argv[0], text_bytes(argv[1]), arena, &version);
        if (st != PRPC_OK)
            return fail(st);
        printf("%" PRIu64 "\n", version);
    } else if (strcmp(cmd, "get") == 0 && argc == 1) {
        prpc_bytes v = {0};
        st = kv_Store_get(c, argv[0], arena, &v);
        if (st != PRPC_OK)
            return fail(st);
        fwrite(v.data, 1, v.len, stdout);
        putchar('\n');
    } else if (strcmp(cmd, "remove") == 0 && argc == 1) {
        bool existed = false;
        st = kv_Store_remove(c, argv[0], arena, &existed);
        if (st != PRPC_OK)
            return fail(st);
        printf("%s\n", existed ? "true" : "false");
    } else if (strcmp(cmd, "list") == 0 && argc <= 2) {
        unsigned long limit = 100;
        if (argc == 2) {
            char *end;
            errno = 0;
            limit = strtoul(argv[1], &end, 10);
            if (errno || *end || end == argv[1] || limit > UINT32_MAX)
                return usage();
        }
        kv_seq_Entry entries = {0};
        st = kv_Store_list(c, argc ? argv[0] : "", (uint32_t)limit, arena, &entries);
        if (st != PRPC_OK)
            return fail(st);
        for (uint32_t i = 0; i < entries.count; i++) {
            const kv_Entry *e = &entries.items[i];
            printf("%s %" PRIu64 " ", e->key, e->version);
            fwrite(e->value.data, 1, e->value.len, stdout);
            putchar('\n');
        }
    } else if (strcmp(cmd, "count") == 0 && argc == 0) {
        uint64_t n = 0;
        st = kv_Store_count(c, arena, &n);
        if (st != PRPC_OK)
            return fail(st);
        printf("%" PRIu64 "\n", n);
    } else if (strcmp(cmd, "stats") == 0 && argc == 0) {
        uint64_t n = 0, bytes = 0;
        st = kv_Store_stats(c, &n, &bytes, arena);
        if (st != PRPC_OK)
            return fail(st);
        printf("%" PRIu64 " %" PRIu64 "\n", n, bytes);
    } else if (strcmp(cmd, "set-quiet") == 0 && argc == 2) {
        st = kv_Store_set_quiet(c, argv[0], text_bytes(argv[1]));
        if (st != PRPC_OK)
            return fail(st);
        /* A notification has no reply; a ping behind it returns once the
         * server has read it, so the write is in before this program exits. */
        st = prpc_client_ping(c, 5000);
        if (st != PRPC_OK)
            return fail(st);
    } else {
        return usage();
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    prpc_client_options o = {0};
    o.connect_timeout_ms = 2000;
    prpc_client *c = NULL;
    prpc_status st = prpc_client_connect(argv[1], &o, &c);
    if (st != PRPC_OK) {
        fprintf(stderr, "kv_client: cannot connect to %s: %s\n", argv[1], prpc_strerror(st));
        return st == PRPC_ERR_INVALID_ARG || st == PRPC_ERR_NOT_SUPPORTED ? 2 : 3;
    }
    prpc_arena *arena = prpc_arena_create(0);
    int rc = arena ? run(c, argv[2], argc - 3, argv + 3, arena) : fail(PRPC_ERR_NO_MEMORY);
    prpc_arena_destroy(arena);
    prpc_client_destroy(c);
    return rc;
}
