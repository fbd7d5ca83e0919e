/* The kvstore example's store: a thread-safe, sorted, in-memory map of
 * string keys to byte values, with per-connection prefix watches. */
#ifndef KV_STORE_H
#define KV_STORE_H

#include "kv_server.h"

typedef struct kv_store kv_store;

kv_store *kv_store_create(void);
/* Releases every watched connection and frees the entries. Call after
 * prpc_server_stop. Accepts NULL. */
void kv_store_destroy(kv_store *store);

/* Drops the watches of a closed connection. Set it as the server's
 * on_disconnect with the store as its user pointer. */
void kv_store_on_disconnect(void *store, prpc_conn *conn);

/* The handler table; register it with the store as user pointer:
 * kv_Store_register(server, &kv_store_ops, store). */
extern const kv_Store_ops kv_store_ops;

#endif
