/* The one timeout value that means "never".
 *
 * Every timeout in the API is a uint32_t count of milliseconds, and
 * PRPC_TIMEOUT_INFINITE means the same thing wherever one is taken: as an
 * option (client deadlines, connect and keepalive waits, a server's
 * handshake, idle and call timeouts) or as an argument (prpc_shutdown_wait),
 * and wherever one is returned (prpc_client_next_timeout,
 * prpc_call_remaining_ms). 0 keeps its own meaning in each place (the
 * default, or "do not wait"); see the option's comment. */
#ifndef PIPERPC_TIMEOUT_H
#define PIPERPC_TIMEOUT_H

#include <stdint.h>

/* A timeout that never expires. */
#define PRPC_TIMEOUT_INFINITE UINT32_MAX

#endif /* PIPERPC_TIMEOUT_H */
