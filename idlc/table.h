/* A small open-addressing hash map from a string or a pointer to a pointer,
 * used by the checker for duplicate detection and visited sets. The keys
 * are borrowed, not copied. */
#ifndef IDLC_TABLE_H
#define IDLC_TABLE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct idlc_table {
    const void **keys;
    void **values;
    size_t cap;
    size_t count;
    bool by_pointer;  /* compare keys as pointers, not as strings */
} idlc_table;

void idlc__table_init(idlc_table *t, bool by_pointer);
void idlc__table_free(idlc_table *t);
/* The value stored under key, or NULL. */
void *idlc__table_get(const idlc_table *t, const void *key);
/* Stores value under key unless the key is present. Returns the value
 * already there (and stores nothing), or NULL when it stored the new one.
 * *oom is set when memory ran out. */
void *idlc__table_put(idlc_table *t, const void *key, void *value, bool *oom);

/* Stores value under key, replacing any value there. False on out of memory. */
bool idlc__table_set(idlc_table *t, const void *key, void *value);

#endif /* IDLC_TABLE_H */
