/* The kvstore handlers and the store behind them.
 *
 * Entries live in one array sorted by key (binary search; list() walks a
 * prefix range in order) under a read-write lock: gets, lists and counts run
 * in parallel, writes one at a time. Values are copied in; a reply copies
 * them out into the call's arena while the read lock is held, so a
 * concurrent write never frees bytes a reply is still encoding.
 *
 * Watches are (connection, prefix) pairs under their own mutex. A write
 * collects the matching connections (retained) and emits `changed` after
 * dropping every lock, so a slow watcher never stalls the store.
 *
 * The server reports every closed connection (the server option
 * on_disconnect, wired to kv_store_on_disconnect), after the last handler
 * of that connection has returned, so no watch() can add one later: the
 * store releases that connection's watches at once, and a client that goes
 * away frees its connection at once. */
#define _POSIX_C_SOURCE 200809L
#include "kv_store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Watches across all connections; past it watch() raises TOO_LARGE. */
#define KV_MAX_WATCHES 4096u

typedef struct kv_item {
    char *key; /* NUL-terminated copy */
    size_t key_len;
    uint8_t *value;
    size_t value_len;
    uint64_t version;
} kv_item;

typedef struct kv_watcher {
    prpc_conn *conn; /* retained */
    char *prefix;
    size_t prefix_len;
} kv_watcher;

struct kv_store {
    pthread_rwlock_t lock;
    kv_item *items;
    size_t nitems, cap;
    uint64_t total_bytes;

    pthread_mutex_t watch_mu;
    kv_watcher *watches;
    size_t nwatches, watch_cap;
};

void kv_store_on_disconnect(void *store, prpc_conn *conn)
{
    kv_store *s = store;
    pthread_mutex_lock(&s->watch_mu);
    for (size_t i = 0; i < s->nwatches;) {
        kv_watcher *w = &s->watches[i];
        if (w->conn != conn) {
            i++;
            continue;
        }
        prpc_conn_release(w->conn); /* only the connection's own lock */
        prpc_free(w->prefix);
        s->watches[i] = s->watches[--s->nwatches];
    }
    pthread_mutex_unlock(&s->watch_mu);
}

kv_store *kv_store_create(void)
{
    kv_store *s = prpc_alloc(sizeof *s);
    if (s == NULL)
        return NULL;
    memset(s, 0, sizeof *s);
    if (pthread_rwlock_init(&s->lock, NULL) != 0) {
        prpc_free(s);
        return NULL;
    }
    if (pthread_mutex_init(&s->watch_mu, NULL) != 0) {
        pthread_rwlock_destroy(&s->lock);
        prpc_free(s);
        return NULL;
    }
    return s;
}

void kv_store_destroy(kv_store *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nitems; i++) {
        prpc_free(s->items[i].key);
        prpc_free(s->items[i].value);
    }
    prpc_free(s->items);
    for (size_t i = 0; i < s->nwatches; i++) {
        prpc_conn_release(s->watches[i].conn);
        prpc_free(s->watches[i].prefix);
    }
    prpc_free(s->watches);
    pthread_mutex_destroy(&s->watch_mu);
    pthread_rwlock_destroy(&s->lock);
    prpc_free(s);
}

/* Byte-wise comparison of (a, alen) with (b, blen), as memcmp then length:
 * the order list() promises ("sorted by key") is the order of the bytes. */
static int key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* The index of the first item whose key is >= key; *found if equal. */
static size_t lower_bound(const kv_store *s, const char *key, size_t len, bool *found)
{
    size_t lo = 0, hi = s->nitems;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(s->items[mid].key, s->items[mid].key_len, key, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (found != NULL)
        *found = lo < s->nitems &&
                 key_cmp(s->items[lo].key, s->items[lo].key_len, key, len) == 0;
    return lo;
}

static bool has_prefix(const char *key, size_t key_len, const char *prefix, size_t prefix_len)
{
    return key_len >= prefix_len && memcmp(key, prefix, prefix_len) == 0;
}

/* Stores a copy; *version receives the key's new version. */
static prpc_status store_put(kv_store *s, const char *key, prpc_bytes value, uint64_t *version)
{
    size_t klen = strlen(key);
    uint8_t *copy = NULL;
    if (value.len > 0) {
        copy = prpc_alloc(value.len);
        if (copy == NULL)
            return PRPC_ERR_NO_MEMORY;
        memcpy(copy, value.data, value.len);
    }
    pthread_rwlock_wrlock(&s->lock);
    bool found;
    size_t at = lower_bound(s, key, klen, &found);
    if (found) {
        kv_item *it = &s->items[at];
        s->total_bytes -= it->value_len;
        prpc_free(it->value);
        it->value = copy;
        it->value_len = value.len;
        it->version++;
        *version = it->version;
    } else {
        char *kcopy = prpc_alloc(klen + 1);
        if (kcopy == NULL)
            goto nomem;
        memcpy(kcopy, key, klen + 1);
        if (s->nitems == s->cap) {
            size_t ncap = s->cap ? s->cap * 2 : 64;
            kv_item *n = prpc_realloc(s->items, ncap * sizeof *n);
            if (n == NULL) {
                prpc_free(kcopy);
                goto nomem;
            }
            s->items = n;
            s->cap = ncap;
        }
        memmove(&s->items[at + 1], &s->items[at], (s->nitems - at) * sizeof *s->items);
        s->items[at] = (kv_item){kcopy, klen, copy, value.len, 1};
        s->nitems++;
        *version = 1;
    }
    s->total_bytes += value.len;
    pthread_rwlock_unlock(&s->lock);
    return PRPC_OK;
nomem:
    pthread_rwlock_unlock(&s->lock);
    prpc_free(copy);
    return PRPC_ERR_NO_MEMORY;
}

/* Sends `changed` to every connection watching a prefix of key. */
static void notify_watchers(kv_store *s, const char *key, uint64_t version)
{
    size_t klen = strlen(key);
    prpc_conn *small[16];
    prpc_conn **targets = small;
    size_t n = 0;

    pthread_mutex_lock(&s->watch_mu);
    if (s->nwatches > 16) {
        targets = prpc_alloc(s->nwatches * sizeof *targets);
        if (targets == NULL) {
            /* Under memory pressure the event is lost, never the write. */
            pthread_mutex_unlock(&s->watch_mu);
            return;
        }
    }
    for (size_t i = 0; i < s->nwatches; i++) {
        kv_watcher *w = &s->watches[i];
        if (has_prefix(key, klen, w->prefix, w->prefix_len)) {
            /* One event per connection even if several of its prefixes match. */
            bool dup = false;
            for (size_t j = 0; j < n && !dup; j++)
                dup = targets[j] == w->conn;
            if (!dup) {
                prpc_conn_retain(w->conn);
                targets[n++] = w->conn;
            }
        }
    }
    pthread_mutex_unlock(&s->watch_mu);

    for (size_t i = 0; i < n; i++) {
        kv_Store_emit_changed(targets[i], key, version); /* CLOSED: dropped on disconnect */
        prpc_conn_release(targets[i]);
    }
    if (targets != small)
        prpc_free(targets);
}

static prpc_status check_key(const char *key)
{
    return strlen(key) > kv_MAX_KEY ? PRPC_ERR_TOO_LARGE : PRPC_OK;
}

/* ------------------------------------------------------------ handlers */

static prpc_status kv_do_put(prpc_call *call, const char *key, prpc_bytes value, uint64_t *result)
{
    kv_store *s = prpc_call_user(call);
    if (check_key(key) != PRPC_OK)
        return kv_Store_put_raise(call, kv_Error_TOO_LARGE, "key longer than 256 bytes");
    if (value.len > kv_MAX_VALUE)
        return kv_Store_put_raise(call, kv_Error_TOO_LARGE, "value larger than 1 MiB");
    prpc_status st = store_put(s, key, value, result);
    if (st == PRPC_OK)
        notify_watchers(s, key, *result);
    return st;
}

static prpc_status kv_do_set_quiet(prpc_call *call, const char *key, prpc_bytes value)
{
    kv_store *s = prpc_call_user(call);
    uint64_t version;
    /* A notification has nobody to tell about a refusal: it is dropped. */
    if (check_key(key) != PRPC_OK || value.len > kv_MAX_VALUE)
        return PRPC_OK;
    if (store_put(s, key, value, &version) == PRPC_OK)
        notify_watchers(s, key, version);
    return PRPC_OK;
}

static prpc_status kv_do_get(prpc_call *call, const char *key, prpc_bytes *result)
{
    kv_store *s = prpc_call_user(call);
    if (check_key(key) != PRPC_OK)
        return kv_Store_get_raise(call, kv_Error_TOO_LARGE, "key longer than 256 bytes");
    pthread_rwlock_rdlock(&s->lock);
    bool found;
    size_t at = lower_bound(s, key, strlen(key), &found);
    prpc_status st = PRPC_OK;
    if (found) {
        const kv_item *it = &s->items[at];
        uint8_t *copy = it->value_len ? prpc_arena_alloc(prpc_call_arena(call), it->value_len, 1) : NULL;
        if (it->value_len && copy == NULL) {
            st = PRPC_ERR_NO_MEMORY;
        } else {
            if (it->value_len)
                memcpy(copy, it->value, it->value_len);
            result->data = copy;
            result->len = it->value_len;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    if (!found)
        return kv_Store_get_raise(call, kv_Error_NOT_FOUND, "no such key");
    return st;
}

static prpc_status kv_do_remove(prpc_call *call, const char *key, bool *result)
{
    kv_store *s = prpc_call_user(call);
    if (check_key(key) != PRPC_OK)
        return kv_Store_remove_raise(call, kv_Error_TOO_LARGE, "key longer than 256 bytes");
    pthread_rwlock_wrlock(&s->lock);
    bool found;
    size_t at = lower_bound(s, key, strlen(key), &found);
    if (found) {
        kv_item *it = &s->items[at];
        s->total_bytes -= it->value_len;
        prpc_free(it->key);
        prpc_free(it->value);
        memmove(it, it + 1, (s->nitems - at - 1) * sizeof *it);
        s->nitems--;
    }
    pthread_rwlock_unlock(&s->lock);
    *result = found;
    return PRPC_OK;
}

static prpc_status kv_do_list(prpc_call *call, const char *prefix, uint32_t limit, kv_seq_Entry *result)
{
    kv_store *s = prpc_call_user(call);
    if (check_key(prefix) != PRPC_OK)
        return kv_Store_list_raise(call, kv_Error_TOO_LARGE, "prefix longer than 256 bytes");
    prpc_arena *arena = prpc_call_arena(call);
    size_t plen = strlen(prefix);
    prpc_status st = PRPC_OK;
    pthread_rwlock_rdlock(&s->lock);
    size_t first = lower_bound(s, prefix, plen, NULL);
    size_t n = 0;
    while (first + n < s->nitems && n < limit &&
           has_prefix(s->items[first + n].key, s->items[first + n].key_len, prefix, plen))
        n++;
    result->count = (uint32_t)n;
    result->items = n ? prpc_arena_calloc(arena, n, sizeof *result->items, _Alignof(kv_Entry)) : NULL;
    if (n && result->items == NULL)
        st = PRPC_ERR_NO_MEMORY;
    for (size_t i = 0; i < n && st == PRPC_OK; i++) {
        const kv_item *it = &s->items[first + i];
        kv_Entry *e = &result->items[i];
        e->key = prpc_arena_strndup(arena, it->key, it->key_len);
        uint8_t *v = it->value_len ? prpc_arena_alloc(arena, it->value_len, 1) : NULL;
        if (e->key == NULL || (it->value_len && v == NULL)) {
            st = PRPC_ERR_NO_MEMORY;
            break;
        }
        if (it->value_len)
            memcpy(v, it->value, it->value_len);
        e->value = (prpc_bytes){v, it->value_len};
        e->version = it->version;
    }
    pthread_rwlock_unlock(&s->lock);
    return st;
}

static prpc_status kv_do_count(prpc_call *call, uint64_t *result)
{
    kv_store *s = prpc_call_user(call);
    pthread_rwlock_rdlock(&s->lock);
    *result = s->nitems;
    pthread_rwlock_unlock(&s->lock);
    return PRPC_OK;
}

static prpc_status kv_do_stats(prpc_call *call, uint64_t *count, uint64_t *bytes)
{
    kv_store *s = prpc_call_user(call);
    pthread_rwlock_rdlock(&s->lock);
    *count = s->nitems;
    *bytes = s->total_bytes;
    pthread_rwlock_unlock(&s->lock);
    return PRPC_OK;
}

static prpc_status kv_do_watch(prpc_call *call, const char *prefix, bool *result)
{
    kv_store *s = prpc_call_user(call);
    if (check_key(prefix) != PRPC_OK)
        return kv_Store_watch_raise(call, kv_Error_TOO_LARGE, "prefix longer than 256 bytes");
    prpc_conn *conn = prpc_call_conn(call);
    size_t plen = strlen(prefix);
    pthread_mutex_lock(&s->watch_mu);
    for (size_t i = 0; i < s->nwatches; i++) {
        if (s->watches[i].conn == conn && s->watches[i].prefix_len == plen &&
            memcmp(s->watches[i].prefix, prefix, plen) == 0) {
            pthread_mutex_unlock(&s->watch_mu);
            *result = true; /* already watching: nothing changes */
            return PRPC_OK;
        }
    }
    if (s->nwatches >= KV_MAX_WATCHES) {
        pthread_mutex_unlock(&s->watch_mu);
        return kv_Store_watch_raise(call, kv_Error_TOO_LARGE, "too many watches");
    }
    if (s->nwatches == s->watch_cap) {
        size_t ncap = s->watch_cap ? s->watch_cap * 2 : 16;
        kv_watcher *n = prpc_realloc(s->watches, ncap * sizeof *n);
        if (n == NULL) {
            pthread_mutex_unlock(&s->watch_mu);
            return PRPC_ERR_NO_MEMORY;
        }
        s->watches = n;
        s->watch_cap = ncap;
    }
    char *copy = prpc_alloc(plen + 1);
    if (copy == NULL) {
        pthread_mutex_unlock(&s->watch_mu);
        return PRPC_ERR_NO_MEMORY;
    }
    memcpy(copy, prefix, plen + 1);
    prpc_conn_retain(conn);
    s->watches[s->nwatches++] = (kv_watcher){conn, copy, plen};
    pthread_mutex_unlock(&s->watch_mu);
    *result = true;
    return PRPC_OK;
}

const kv_Store_ops kv_store_ops = {
    .put = kv_do_put,
    .get = kv_do_get,
    .remove = kv_do_remove,
    .list = kv_do_list,
    .count = kv_do_count,
    .stats = kv_do_stats,
    .set_quiet = kv_do_set_quiet,
    .watch = kv_do_watch,
};
