/* Test helpers for the transport suites: an in-process echo server over the
 * transport layer, message builders and descriptor counting. */
#ifndef PRPC_TESTS_TRANSPORT_ECHO_H
#define PRPC_TESTS_TRANSPORT_ECHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/transport.h"

typedef struct echo_server {
    prpc__iopool *pool;
    prpc__tlistener *listener;
    prpc__mutex lock;
    prpc__cond cond;
    unsigned accepted;
    unsigned ended;
    prpc_status last_end;    /* how the most recent connection ended */
    prpc__peer last_peer;    /* who the most recent accepted connection came from */
    unsigned long echoed;
    bool slow_first;         /* delay the first message of every connection */
    char endpoint[300];      /* what a client dials */
} echo_server;

/* Starts an echo server on listen_ep (tcp port 0 is resolved into
 * endpoint). Returns the status of the listener. */
prpc_status echo_start(echo_server *s, const char *listen_ep, const prpc__listen_opts *opts,
                       prpc__err *err);
/* Waits until `ended` reaches n or timeout_ms passes; returns the count. */
unsigned echo_wait_ended(echo_server *s, unsigned n, uint32_t timeout_ms);
void echo_stop(echo_server *s);

/* Serves echo on an already opened listener until the process is killed or
 * the peer closes (used by the helper process). */

/* One msgpack value of exactly total bytes (a bin, or a fixint for 1 byte);
 * the payload is a pattern derived from seed. Caller frees with free(). */
uint8_t *make_msg(size_t total, unsigned seed);
/* True if msg equals make_msg(len, seed). */
bool check_msg(const uint8_t *msg, size_t len, unsigned seed);

/* Open descriptors (handles on Windows) of this process. */
int count_fds(void);

/* A name unique to this process and call, for pipe names and paths. */
void unique_name(char *buf, size_t size, const char *tag);

#endif
