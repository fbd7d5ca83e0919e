/* The client's table of calls in flight (see core/pending.h). */
#include <string.h>

#include "core/pending.h"
#include "piperpc/alloc.h"

static uint32_t slot(uint32_t msgid, uint32_t nbuckets)
{
    /* msgids are mostly sequential; a multiplicative hash spreads them
     * anyway so a peer choosing them cannot be assumed. */
    return (uint32_t)((msgid * 2654435761u) & (nbuckets - 1));
}

void prpc__pending_free(prpc__pending_table *t)
{
    prpc_free(t->buckets);
    memset(t, 0, sizeof *t);
}

static prpc_status grow(prpc__pending_table *t)
{
    uint32_t n = t->nbuckets ? t->nbuckets * 2 : 64;
    if (n == 0 || n > (UINT32_MAX >> 1))
        return PRPC_ERR_NO_MEMORY;
    prpc__pending **b = prpc_alloc((size_t)n * sizeof *b);
    if (b == NULL)
        return PRPC_ERR_NO_MEMORY;
    memset(b, 0, (size_t)n * sizeof *b);
    for (uint32_t i = 0; i < t->nbuckets; i++) {
        prpc__pending *p = t->buckets[i];
        while (p != NULL) {
            prpc__pending *next = p->next;
            uint32_t s = slot(p->msgid, n);
            p->next = b[s];
            b[s] = p;
            p = next;
        }
    }
    prpc_free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
    return PRPC_OK;
}

prpc_status prpc__pending_insert(prpc__pending_table *t, prpc__pending *p)
{
    if (t->count >= t->nbuckets) {
        prpc_status st = grow(t);
        if (st != PRPC_OK)
            return st;
    }
    uint32_t s = slot(p->msgid, t->nbuckets);
    p->next = t->buckets[s];
    t->buckets[s] = p;
    t->count++;
    return PRPC_OK;
}

prpc__pending *prpc__pending_find(const prpc__pending_table *t, uint32_t msgid)
{
    if (t->nbuckets == 0)
        return NULL;
    for (prpc__pending *p = t->buckets[slot(msgid, t->nbuckets)]; p != NULL; p = p->next)
        if (p->msgid == msgid)
            return p;
    return NULL;
}

prpc__pending *prpc__pending_remove(prpc__pending_table *t, uint32_t msgid)
{
    if (t->nbuckets == 0)
        return NULL;
    for (prpc__pending **pp = &t->buckets[slot(msgid, t->nbuckets)]; *pp != NULL;
         pp = &(*pp)->next) {
        if ((*pp)->msgid == msgid) {
            prpc__pending *p = *pp;
            *pp = p->next;
            p->next = NULL;
            t->count--;
            return p;
        }
    }
    return NULL;
}

prpc__pending *prpc__pending_take_all(prpc__pending_table *t)
{
    prpc__pending *list = NULL;
    for (uint32_t i = 0; i < t->nbuckets; i++) {
        while (t->buckets[i] != NULL) {
            prpc__pending *p = t->buckets[i];
            t->buckets[i] = p->next;
            p->next = list;
            list = p;
        }
    }
    t->count = 0;
    return list;
}

prpc__pending *prpc__pending_take_if(prpc__pending_table *t,
                                     bool (*pick)(prpc__pending *p, void *user), void *user)
{
    prpc__pending *list = NULL;
    for (uint32_t i = 0; i < t->nbuckets; i++) {
        prpc__pending **pp = &t->buckets[i];
        while (*pp != NULL) {
            prpc__pending *p = *pp;
            if (pick(p, user)) {
                *pp = p->next;
                p->next = list;
                list = p;
                t->count--;
            } else {
                pp = &p->next;
            }
        }
    }
    return list;
}

prpc__pending *prpc__pending_take_expired(prpc__pending_table *t, uint64_t now, uint64_t *next)
{
    prpc__pending *list = NULL;
    uint64_t earliest = UINT64_MAX;
    for (uint32_t i = 0; i < t->nbuckets; i++) {
        prpc__pending **pp = &t->buckets[i];
        while (*pp != NULL) {
            prpc__pending *p = *pp;
            if (p->is_async && p->deadline_ms <= now) {
                *pp = p->next;
                p->next = list;
                list = p;
                t->count--;
            } else {
                if (p->is_async && p->deadline_ms < earliest)
                    earliest = p->deadline_ms;
                pp = &p->next;
            }
        }
    }
    *next = earliest;
    return list;
}
