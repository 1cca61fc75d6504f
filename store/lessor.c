/*  lessor.c -- the leader's lease deadlines (lessor.h). Pure.

    A sorted array by id: the table is bounded (KVSM_LEASES_MAX) and a
    tick scans it whole, which at 4096 leases is a few microseconds; a
    heap by deadline would save that scan at the cost of an index to keep
    in step on every renew.
*/
#include "lessor.h"

#include <stdlib.h>
#include <string.h>

/*  Planted lessor bug, numbered with the core's (RAFT_PLANTED_BUG,
    actors/raft/raft_int.h; the Makefile's BUGS): the simulator must catch
    it (make teeth, tests/sim/).
      15 lease_keepalive_ignored  a keep-alive is acknowledged but does
                                  not move the deadline: the lease expires
                                  a TTL after its grant, while its holder
                                  kept it alive                       */
#ifndef RAFT_PLANTED_BUG
#define RAFT_PLANTED_BUG 0
#endif
#define LESSOR_BUG_KEEPALIVE_IGNORED (RAFT_PLANTED_BUG == 15)

typedef struct {
    uint64_t id, ttl_ms;
    uint64_t due_ms;      /* the deadline */
    uint64_t revoking_ms; /* when its revoke was proposed; 0: none */
    bool revoking;
} s_lease_t;

struct lessor {
    bool primary;
    s_lease_t *v; /* by id */
    size_t n, cap;
};

uint64_t
lessor_min_ttl_ms (uint64_t election_timeout_ms)
{
    return election_timeout_ms * 3 / 2;
}

lessor_t *
lessor_new (void)
{
    return calloc (1, sizeof (lessor_t));
}

void
lessor_destroy (lessor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->v);
    free (*self_p);
    *self_p = NULL;
}

/* The position of id, or where it would go. */
static size_t
s_find (const lessor_t *self, uint64_t id)
{
    size_t lo = 0, hi = self->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static s_lease_t *
s_get (const lessor_t *self, uint64_t id)
{
    size_t i = s_find (self, id);
    return i < self->n && self->v[i].id == id ? &self->v[i] : NULL;
}

static int
s_reserve (lessor_t *self, size_t n)
{
    if (n <= self->cap)
        return 0;
    size_t cap = self->cap ? self->cap * 2 : 16;
    while (cap < n)
        cap *= 2;
    s_lease_t *v = realloc (self->v, cap * sizeof *v);
    if (!v)
        return -1;
    self->v = v;
    self->cap = cap;
    return 0;
}

static int
s_cmp_id (const void *a, const void *b)
{
    const s_lease_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

int
lessor_promote (lessor_t *self, const lessor_lease_t *leases, size_t n,
                uint64_t now_ms, uint64_t extend_ms)
{
    lessor_demote (self);
    if (s_reserve (self, n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        self->v[i] =
            (s_lease_t){.id = leases[i].id,
                        .ttl_ms = leases[i].ttl_ms,
                        .due_ms = now_ms + leases[i].ttl_ms + extend_ms};
    self->n = n;
    if (n > 1) /* (qsort's array must not be NULL, even when empty) */
        qsort (self->v, n, sizeof *self->v, s_cmp_id);
    /* a list with an id twice keeps the first: the table has none */
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (w == 0 || self->v[w - 1].id != self->v[i].id)
            self->v[w++] = self->v[i];
    self->n = w;
    self->primary = true;
    return 0;
}

void
lessor_demote (lessor_t *self)
{
    self->n = 0;
    self->primary = false;
}

bool
lessor_is_primary (const lessor_t *self)
{
    return self->primary;
}

size_t
lessor_count (const lessor_t *self)
{
    return self->n;
}

int
lessor_granted (lessor_t *self, uint64_t id, uint64_t ttl_ms, uint64_t now_ms)
{
    if (!self->primary || s_get (self, id))
        return 0;
    if (s_reserve (self, self->n + 1) != 0)
        return -1;
    size_t i = s_find (self, id);
    memmove (&self->v[i + 1], &self->v[i], (self->n - i) * sizeof *self->v);
    self->v[i] =
        (s_lease_t){.id = id, .ttl_ms = ttl_ms, .due_ms = now_ms + ttl_ms};
    self->n++;
    return 0;
}

void
lessor_revoked (lessor_t *self, uint64_t id)
{
    size_t i = s_find (self, id);
    if (i >= self->n || self->v[i].id != id)
        return;
    memmove (&self->v[i], &self->v[i + 1], (self->n - i - 1) * sizeof *self->v);
    self->n--;
}

int
lessor_renew (lessor_t *self, uint64_t id, uint64_t now_ms, uint64_t *ttl_ms)
{
    s_lease_t *l = self->primary ? s_get (self, id) : NULL;
    /* A lease whose revoke is in flight is gone as far as its holder is
       concerned: renewing it now could not stop the LREVOKE. */
    if (!l || l->revoking)
        return -1;
    if (!LESSOR_BUG_KEEPALIVE_IGNORED)
        l->due_ms = now_ms + l->ttl_ms;
    *ttl_ms = l->ttl_ms;
    return 0;
}

int
lessor_remaining (const lessor_t *self, uint64_t id, uint64_t now_ms,
                  uint64_t *ttl_ms, uint64_t *remaining_ms)
{
    const s_lease_t *l = self->primary ? s_get (self, id) : NULL;
    if (!l)
        return -1;
    *ttl_ms = l->ttl_ms;
    *remaining_ms = l->revoking || l->due_ms <= now_ms ? 0 : l->due_ms - now_ms;
    return 0;
}

size_t
lessor_expired (lessor_t *self, uint64_t now_ms, uint64_t retry_ms,
                uint64_t *ids, size_t max)
{
    if (!self->primary || max == 0)
        return 0;
    size_t k = 0;
    /* Pick the max earliest deadlines due: a selection over the scan,
       fine at the table's bound. */
    while (k < max) {
        s_lease_t *best = NULL;
        for (size_t i = 0; i < self->n; i++) {
            s_lease_t *l = &self->v[i];
            if (l->due_ms > now_ms)
                continue;
            if (l->revoking && now_ms - l->revoking_ms < retry_ms)
                continue;
            if (!best || l->due_ms < best->due_ms ||
                (l->due_ms == best->due_ms && l->id < best->id))
                best = l;
        }
        if (!best)
            break;
        best->revoking = true;
        best->revoking_ms = now_ms;
        ids[k++] = best->id;
    }
    return k;
}
