/* The streaming reader: splits a byte stream into whole msgpack messages.
 *
 * Bytes are appended to one buffer. The scanner (scan.h) runs over each byte
 * once, as it arrives, so a message fed one byte at a time costs O(n), and a
 * header that announces more than the size limit fails as soon as it is
 * complete, before its payload arrives or is buffered. A message handed out
 * by prpc_reader_next stays in place until the next call on the reader. */
#include <stdint.h>
#include <string.h>

#include "codec/scan.h"
#include "piperpc/alloc.h"
#include "piperpc/codec.h"

#define READER_MIN_CAP 4096u
/* A buffer larger than this is released once it is empty after a message
 * that would have fitted in this much, rather than kept for the
 * connection's lifetime. After a larger message it is kept: in a stream of
 * large messages, allocating megabytes afresh for each one costs a page
 * fault per 4 KiB and more than the copies themselves. */
#define READER_KEEP_CAP ((size_t)256 * 1024)
/* The buffer starts on a 64-byte boundary, so that the large receives into
 * it (a datagram, 64 KiB at a time, lands at a multiple of 64 KiB) are
 * aligned like the kernel's page-aligned socket buffers. A copy whose
 * destination sits a few bytes past its source's alignment can be many
 * times slower: on an AMD EPYC, a 64 KiB `rep movsb` (which the kernel's
 * copy to user space uses) took 22 us with the destination 16 bytes off
 * against 1.3 us aligned, and malloc returns addresses 16 bytes past a
 * page boundary for large blocks. */
#define READER_ALIGN ((size_t)64)

struct prpc_reader {
    prpc_limits limits;
    uint8_t *mem;   /* the allocation (cap + READER_ALIGN - 1 bytes), or NULL */
    uint8_t *buf;   /* mem rounded up to a multiple of READER_ALIGN */
    size_t cap;
    size_t start;   /* first byte of the message being assembled */
    size_t scanned; /* bytes before this index have been through the scanner */
    size_t len;     /* bytes held */
    size_t ready;   /* length of the complete message at start, 0 if none yet */
    size_t handed;  /* length of the message last returned, dropped on the next call */
    prpc_status error;
    prpc__scan scan;
};

prpc_reader *prpc_reader_create(const prpc_limits *limits)
{
    prpc_reader *r = prpc_alloc(sizeof *r);
    if (r == NULL)
        return NULL;
    r->limits = prpc_limits_resolve(limits);
    r->mem = NULL;
    r->buf = NULL;
    r->cap = 0;
    r->start = r->scanned = r->len = 0;
    r->ready = r->handed = 0;
    r->error = PRPC_OK;
    prpc__scan_init(&r->scan, &r->limits, UINT64_MAX);
    return r;
}

void prpc_reader_destroy(prpc_reader *r)
{
    if (r == NULL)
        return;
    prpc_free(r->mem);
    prpc_free(r);
}

/* Runs the scanner over the bytes not yet scanned, up to the end of the
 * current message. */
static void absorb(prpc_reader *r)
{
    if (r->error != PRPC_OK || r->ready != 0 || r->scanned == r->len)
        return;
    size_t used = 0;
    prpc_status st = prpc__scan_feed(&r->scan, r->buf + r->scanned, r->len - r->scanned, &used);
    r->scanned += used;
    if (st != PRPC_OK) {
        r->error = st;
        return;
    }
    if (r->scan.done)
        r->ready = r->scanned - r->start;
}

/* Forgets the message handed out last and starts on the next one. */
static void drop_handed(prpc_reader *r)
{
    if (r->handed == 0)
        return;
    size_t handed = r->handed;
    r->start += r->handed;
    r->handed = 0;
    if (r->start == r->len) {
        /* Empty: rewind for free, and let go of a buffer that only a rare
         * large message needed. */
        r->start = r->scanned = r->len = 0;
        if (r->cap > READER_KEEP_CAP && handed <= READER_KEEP_CAP) {
            prpc_free(r->mem);
            r->mem = NULL;
            r->buf = NULL;
            r->cap = 0;
        }
    }
    prpc__scan_init(&r->scan, &r->limits, UINT64_MAX);
    absorb(r);
}

/* Makes room for n more bytes at the end. Moves the pending bytes to the
 * front only when that frees at least as much as it copies, and otherwise
 * grows by doubling (with realloc, which can often extend in place), so every
 * byte is copied O(1) times on average. */
static prpc_status reserve(prpc_reader *r, size_t n)
{
    if (n <= r->cap - r->len)
        return PRPC_OK;
    size_t pending = r->len - r->start;
    if (n > SIZE_MAX - pending)
        return PRPC_ERR_NO_MEMORY;
    size_t need = pending + n;
    if (need > r->cap || r->start < pending) {
        size_t cap = r->cap < READER_MIN_CAP ? READER_MIN_CAP : r->cap;
        while ((cap < need || cap - r->start < need) && cap != SIZE_MAX)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        if (cap - r->start < need || cap > SIZE_MAX - (READER_ALIGN - 1))
            return PRPC_ERR_NO_MEMORY;
        size_t old_off = r->mem != NULL ? (size_t)(r->buf - r->mem) : 0;
        uint8_t *nm = prpc_realloc(r->mem, cap + READER_ALIGN - 1);
        if (nm == NULL)
            return PRPC_ERR_NO_MEMORY;
        size_t off = (size_t)(-(uintptr_t)nm & (READER_ALIGN - 1));
        /* realloc keeps the bytes where they were relative to the block;
         * move them if the block's alignment changed. */
        if (off != old_off && r->len != 0)
            memmove(nm + off, nm + old_off, r->len);
        r->mem = nm;
        r->buf = nm + off;
        r->cap = cap;
        if (n <= r->cap - r->len)
            return PRPC_OK; /* room at the end now: nothing to move */
    }
    memmove(r->buf, r->buf + r->start, pending);
    r->scanned -= r->start;
    r->len = pending;
    r->start = 0;
    return PRPC_OK;
}

prpc_status prpc_reader_feed(prpc_reader *r, const void *data, size_t len)
{
    if (r == NULL || (data == NULL && len != 0))
        return PRPC_ERR_INVALID_ARG;
    drop_handed(r);
    if (r->error != PRPC_OK)
        return r->error;
    if (len == 0)
        return PRPC_OK;
    prpc_status st = reserve(r, len);
    if (st != PRPC_OK)
        return st;
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    absorb(r);
    return r->error;
}

prpc_status prpc_reader_buffer(prpc_reader *r, size_t min_size, void **buf, size_t *avail)
{
    if (buf != NULL)
        *buf = NULL;
    if (avail != NULL)
        *avail = 0;
    if (r == NULL || buf == NULL || avail == NULL)
        return PRPC_ERR_INVALID_ARG;
    drop_handed(r);
    if (r->error != PRPC_OK)
        return r->error;
    prpc_status st = reserve(r, min_size != 0 ? min_size : READER_MIN_CAP / 2);
    if (st != PRPC_OK)
        return st;
    *buf = r->buf + r->len;
    *avail = r->cap - r->len;
    return PRPC_OK;
}

prpc_status prpc_reader_commit(prpc_reader *r, size_t n)
{
    if (r == NULL)
        return PRPC_ERR_INVALID_ARG;
    if (r->error != PRPC_OK)
        return r->error;
    if (n > r->cap - r->len)
        return PRPC_ERR_INVALID_ARG;
    r->len += n;
    absorb(r);
    return r->error;
}

prpc_status prpc_reader_next(prpc_reader *r, const uint8_t **msg, size_t *len)
{
    if (msg != NULL)
        *msg = NULL;
    if (len != NULL)
        *len = 0;
    if (r == NULL || msg == NULL || len == NULL)
        return PRPC_ERR_INVALID_ARG;
    drop_handed(r);
    if (r->ready == 0) {
        absorb(r);
        if (r->ready == 0)
            return r->error;
    }
    *msg = r->buf + r->start;
    *len = r->ready;
    r->handed = r->ready;
    r->ready = 0;
    return PRPC_OK;
}

size_t prpc_reader_pending(const prpc_reader *r)
{
    if (r == NULL)
        return 0;
    return r->len - r->start - r->handed - r->ready;
}
