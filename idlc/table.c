/* Open-addressing hash map for the checker (see table.h). */
#include "table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void idlc__table_init(idlc_table *t, bool by_pointer)
{
    memset(t, 0, sizeof(*t));
    t->by_pointer = by_pointer;
}

void idlc__table_free(idlc_table *t)
{
    free(t->keys);
    free(t->values);
    memset(t, 0, sizeof(*t));
}

static size_t hash_key(const idlc_table *t, const void *key)
{
    if (t->by_pointer) {
        uint64_t x = (uint64_t)(uintptr_t)key;
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdull;
        x ^= x >> 33;
        return (size_t)x;
    }
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *s = key; *s; s++)
        h = (h ^ *s) * 1099511628211ull;
    return (size_t)h;
}

static bool same_key(const idlc_table *t, const void *a, const void *b)
{
    return t->by_pointer ? a == b : strcmp(a, b) == 0;
}

void *idlc__table_get(const idlc_table *t, const void *key)
{
    if (!t->cap)
        return NULL;
    size_t mask = t->cap - 1;
    for (size_t i = hash_key(t, key) & mask; t->keys[i]; i = (i + 1) & mask)
        if (same_key(t, t->keys[i], key))
            return t->values[i];
    return NULL;
}

static bool grow(idlc_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 32;
    const void **keys = calloc(cap, sizeof(*keys));
    void **values = calloc(cap, sizeof(*values));
    if (!keys || !values) {
        free(keys);
        free(values);
        return false;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->keys[i])
            continue;
        size_t j = hash_key(t, t->keys[i]) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = t->keys[i];
        values[j] = t->values[i];
    }
    free(t->keys);
    free(t->values);
    t->keys = keys;
    t->values = values;
    t->cap = cap;
    return true;
}

void *idlc__table_put(idlc_table *t, const void *key, void *value, bool *oom)
{
    if ((t->count + 1) * 2 > t->cap && !grow(t)) {
        *oom = true;
        return NULL;
    }
    size_t mask = t->cap - 1;
    size_t i = hash_key(t, key) & mask;
    for (; t->keys[i]; i = (i + 1) & mask)
        if (same_key(t, t->keys[i], key))
            return t->values[i];
    t->keys[i] = key;
    t->values[i] = value;
    t->count++;
    return NULL;
}

bool idlc__table_set(idlc_table *t, const void *key, void *value)
{
    bool oom = false;
    if (!idlc__table_put(t, key, value, &oom))
        return !oom;
    size_t mask = t->cap - 1;
    for (size_t i = hash_key(t, key) & mask; t->keys[i]; i = (i + 1) & mask) {
        if (same_key(t, t->keys[i], key)) {
            t->values[i] = value;
            break;
        }
    }
    return true;
}
