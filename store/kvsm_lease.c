/*  kvsm_lease.c -- the lease table of the KV state machine (kvsm_lease.h)
    and what an entry does to it. Pure: no clock at all (expiry is the
    leader's, store/lessor.h; here a lease only ends by an LREVOKE).

    Two sorted arrays: the leases by id, each with its keys sorted, and
    every attached key with its lease, sorted by key, which a put or a
    delete looks up (a binary search) to detach the key from its lease.
    Both are bounded (KVSM_LEASES_MAX, KVSM_LEASE_KEYS_MAX), so the
    memmoves of an insert are at most a few hundred kB.
*/
#include "kvsm_lease.h"

#include <stdlib.h>
#include <string.h>

/*  Planted state-machine bug, numbered with the core's (RAFT_PLANTED_BUG,
    the Makefile's BUGS): the simulator must catch it (make teeth).
      17 lease_revoke_keeps_keys  a revoke removes the lease but leaves
                                  its last key in the KV data (the
                                  reference model of sim_kv.c)        */
#ifndef RAFT_PLANTED_BUG
#define RAFT_PLANTED_BUG 0
#endif
#define KVSM_BUG_LEASE_REVOKE_KEEPS_KEYS (RAFT_PLANTED_BUG == 17)

/* -1, 0, 1: bytewise (memcmp), then the shorter first. */
static int
s_key_cmp (const raft_buf_t *a, const raft_buf_t *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp (a->data, b->data, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len;
}

static void
s_lease_clear (kvsm_lease_t *l)
{
    for (size_t i = 0; i < l->n_keys; i++)
        raft_buf_unref (l->keys[i]);
    free (l->keys);
    memset (l, 0, sizeof *l);
}

kvsm_leases_t *
kvsm_leases_new (void)
{
    return calloc (1, sizeof (kvsm_leases_t));
}

void
kvsm_leases_destroy (kvsm_leases_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kvsm_leases_t *t = *self_p;
    for (size_t i = 0; i < t->n; i++)
        s_lease_clear (&t->v[i]);
    free (t->v);
    for (size_t i = 0; i < t->n_keys; i++)
        raft_buf_unref (t->by_key[i].key);
    free (t->by_key);
    free (t);
    *self_p = NULL;
}

/* The position of id in t->v, or where it would go. */
static size_t
s_pos (const kvsm_leases_t *t, uint64_t id)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The position of key in keys[0..n), or where it would go; *found. */
static size_t
s_key_pos (raft_buf_t *const *keys, size_t n, const raft_buf_t *key,
           bool *found)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s_key_cmp (keys[mid], key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < n && s_key_cmp (keys[lo], key) == 0;
    return lo;
}

/* The same in the by-key index. */
static size_t
s_index_pos (const kvsm_leases_t *t, const raft_buf_t *key, bool *found)
{
    size_t lo = 0, hi = t->n_keys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s_key_cmp (t->by_key[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < t->n_keys && s_key_cmp (t->by_key[lo].key, key) == 0;
    return lo;
}

kvsm_lease_t *
kvsm_leases_find (const kvsm_leases_t *self, uint64_t id)
{
    size_t i = s_pos (self, id);
    return i < self->n && self->v[i].id == id ? &self->v[i] : NULL;
}

uint64_t
kvsm_leases_of_key (const kvsm_leases_t *self, const raft_buf_t *key)
{
    bool found;
    size_t i = s_index_pos (self, key, &found);
    return found ? self->by_key[i].lease : 0;
}

static int
s_index_reserve (kvsm_leases_t *t, size_t n)
{
    if (n <= t->keys_cap)
        return 0;
    size_t cap = t->keys_cap ? t->keys_cap * 2 : 16;
    while (cap < n)
        cap *= 2;
    kvsm_lease_key_t *v = realloc (t->by_key, cap * sizeof *v);
    if (!v)
        return -1;
    t->by_key = v;
    t->keys_cap = cap;
    return 0;
}

static int
s_index_add (kvsm_leases_t *t, raft_buf_t *key, uint64_t lease)
{
    bool found;
    size_t i = s_index_pos (t, key, &found);
    if (found || s_index_reserve (t, t->n_keys + 1) != 0)
        return -1;
    memmove (&t->by_key[i + 1], &t->by_key[i],
             (t->n_keys - i) * sizeof *t->by_key);
    t->by_key[i] = (kvsm_lease_key_t){raft_buf_ref (key), lease};
    t->n_keys++;
    return 0;
}

static void
s_index_del (kvsm_leases_t *t, const raft_buf_t *key)
{
    bool found;
    size_t i = s_index_pos (t, key, &found);
    if (!found)
        return;
    raft_buf_unref (t->by_key[i].key);
    memmove (&t->by_key[i], &t->by_key[i + 1],
             (t->n_keys - i - 1) * sizeof *t->by_key);
    t->n_keys--;
}

static int
s_cmp_bufp (const void *a, const void *b)
{
    return s_key_cmp (*(raft_buf_t *const *)a, *(raft_buf_t *const *)b);
}

int
kvsm_leases_insert (kvsm_leases_t *self, uint64_t id, uint64_t ttl_ms,
                    raft_buf_t **keys, size_t n_keys)
{
    kvsm_lease_t l = {
        .id = id, .ttl_ms = ttl_ms, .keys = keys, .n_keys = n_keys};
    l.cap = n_keys;
    size_t i = s_pos (self, id);
    bool ok = id != 0 && !(i < self->n && self->v[i].id == id) &&
              self->n < KVSM_LEASES_MAX &&
              n_keys <= KVSM_LEASE_KEYS_MAX - self->n_keys &&
              (n_keys == 0 || keys);
    if (ok && n_keys > 1)
        qsort (keys, n_keys, sizeof *keys, s_cmp_bufp);
    for (size_t k = 0; ok && k < n_keys; k++) {
        bool found;
        ok = keys[k] && (k == 0 || s_key_cmp (keys[k - 1], keys[k]) < 0) &&
             (s_index_pos (self, keys[k], &found), !found);
    }
    if (ok && self->n == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 8;
        kvsm_lease_t *v = realloc (self->v, cap * sizeof *v);
        if ((ok = v != NULL)) {
            self->v = v;
            self->cap = cap;
        }
    }
    ok = ok && s_index_reserve (self, self->n_keys + n_keys) == 0;
    if (!ok) {
        s_lease_clear (&l);
        return -1;
    }
    for (size_t k = 0; k < n_keys; k++)
        if (s_index_add (self, keys[k], id) != 0)
            return -1; /* reserved and checked: cannot happen */
    memmove (&self->v[i + 1], &self->v[i], (self->n - i) * sizeof *self->v);
    self->v[i] = l;
    self->n++;
    return 0;
}

kvsm_leases_t *
kvsm_leases_dup (const kvsm_leases_t *self)
{
    kvsm_leases_t *t = kvsm_leases_new ();
    for (size_t i = 0; t && i < self->n; i++) {
        const kvsm_lease_t *l = &self->v[i];
        raft_buf_t **keys = NULL;
        if (l->n_keys && !(keys = calloc (l->n_keys, sizeof *keys))) {
            kvsm_leases_destroy (&t);
            break;
        }
        for (size_t k = 0; k < l->n_keys; k++)
            keys[k] = raft_buf_ref (l->keys[k]);
        if (kvsm_leases_insert (t, l->id, l->ttl_ms, keys, l->n_keys) != 0)
            kvsm_leases_destroy (&t);
    }
    return t;
}

bool
kvsm_leases_eq (const kvsm_leases_t *a, const kvsm_leases_t *b)
{
    if (a->n != b->n || a->n_keys != b->n_keys)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const kvsm_lease_t *x = &a->v[i], *y = &b->v[i];
        if (x->id != y->id || x->ttl_ms != y->ttl_ms || x->n_keys != y->n_keys)
            return false;
        for (size_t k = 0; k < x->n_keys; k++)
            if (s_key_cmp (x->keys[k], y->keys[k]) != 0)
                return false;
    }
    return true;
}

/*  ---------------------------------------------------------------------
    What an entry does                                                   */

/* Note that lease id's record changed (for the caller's storage). */
static int
s_touch (kvsm_result_t *res, uint64_t id)
{
    for (size_t i = 0; i < res->n_leases_touched; i++)
        if (res->leases_touched[i] == id)
            return 0;
    uint64_t *v =
        realloc (res->leases_touched, (res->n_leases_touched + 1) * sizeof *v);
    if (!v)
        return -1;
    res->leases_touched = v;
    v[res->n_leases_touched++] = id;
    return 0;
}

int
kvsm_lease_grant (kvsm_leases_t *t, raft_index_t index, uint64_t ttl_ms,
                  kvsm_result_t *res)
{
    res->op = KVSM_LGRANT;
    if (t->n >= KVSM_LEASES_MAX) {
        res->status = KVSM_LEASE_LIMIT;
        return 0;
    }
    /* the decoder bounds it; the state machine too, whatever the caller
       built (a function of the command alone) */
    if (ttl_ms == 0)
        ttl_ms = 1;
    if (ttl_ms > KVSM_LEASE_TTL_MAX_MS)
        ttl_ms = KVSM_LEASE_TTL_MAX_MS;
    if (kvsm_leases_insert (t, index, ttl_ms, NULL, 0) != 0)
        return -1; /* the index is new: only memory can fail */
    res->succeeded = true;
    res->lease = index;
    res->lease_ttl_ms = ttl_ms;
    res->lease_event = KVSM_LEASE_EV_GRANTED;
    return s_touch (res, index);
}

int
kvsm_lease_take (kvsm_leases_t *t, uint64_t id, bool expired,
                 kvsm_result_t *res, raft_buf_t ***keys, size_t *n_keys)
{
    res->op = KVSM_LREVOKE;
    res->lease = id;
    res->expired = expired;
    *keys = NULL;
    *n_keys = 0;
    size_t i = s_pos (t, id);
    if (i >= t->n || t->v[i].id != id) {
        res->status = KVSM_LEASE_NOT_FOUND;
        return 0;
    }
    if (s_touch (res, id) != 0)
        return -1;
    kvsm_lease_t l = t->v[i];
    memmove (&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof *t->v);
    t->n--;
    for (size_t k = 0; k < l.n_keys; k++)
        s_index_del (t, l.keys[k]);
    if (KVSM_BUG_LEASE_REVOKE_KEEPS_KEYS && l.n_keys) {
        /* planted: the last key is detached but stays */
        raft_buf_unref (l.keys[--l.n_keys]);
    }
    *keys = l.keys;
    *n_keys = l.n_keys;
    res->succeeded = true;
    res->lease_event = KVSM_LEASE_EV_REVOKED;
    return 1;
}

kvsm_status_t
kvsm_lease_check (const kvsm_leases_t *t, const kvsm_txn_op_t *ops, size_t n)
{
    size_t added = 0;
    for (size_t i = 0; i < n; i++) {
        if (ops[i].op != KVSM_PUT || ops[i].lease == 0)
            continue;
        if (!t || !kvsm_leases_find (t, ops[i].lease))
            return KVSM_LEASE_NOT_FOUND;
        /* conservative: a key put twice in one TXN counts twice */
        if (kvsm_leases_of_key (t, ops[i].key) == 0)
            added++;
    }
    if (added && added > KVSM_LEASE_KEYS_MAX - t->n_keys)
        return KVSM_LEASE_LIMIT;
    return KVSM_OK;
}

/* Remove key from lease l's keys (it is there). */
static void
s_lease_key_del (kvsm_lease_t *l, const raft_buf_t *key)
{
    bool found;
    size_t k = s_key_pos (l->keys, l->n_keys, key, &found);
    if (!found)
        return;
    raft_buf_unref (l->keys[k]);
    memmove (&l->keys[k], &l->keys[k + 1],
             (l->n_keys - k - 1) * sizeof *l->keys);
    l->n_keys--;
}

static int
s_lease_key_add (kvsm_lease_t *l, raft_buf_t *key)
{
    bool found;
    size_t k = s_key_pos (l->keys, l->n_keys, key, &found);
    if (found)
        return 0;
    if (l->n_keys == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 4;
        raft_buf_t **v = realloc (l->keys, cap * sizeof *v);
        if (!v)
            return -1;
        l->keys = v;
        l->cap = cap;
    }
    memmove (&l->keys[k + 1], &l->keys[k], (l->n_keys - k) * sizeof *l->keys);
    l->keys[k] = raft_buf_ref (key);
    l->n_keys++;
    return 0;
}

int
kvsm_lease_attach (kvsm_leases_t *t, raft_buf_t *key, uint64_t lease,
                   kvsm_result_t *res)
{
    uint64_t old = kvsm_leases_of_key (t, key);
    if (old == lease)
        return 0;
    kvsm_lease_t *to = lease ? kvsm_leases_find (t, lease) : NULL;
    if (lease && !to)
        return -1; /* REQUIRES: checked by kvsm_lease_check */
    if (old) {
        kvsm_lease_t *from = kvsm_leases_find (t, old);
        if (from)
            s_lease_key_del (from, key);
        s_index_del (t, key);
        if (s_touch (res, old) != 0)
            return -1;
    }
    if (!lease)
        return 0;
    if (s_index_add (t, key, lease) != 0)
        return -1;
    if (s_lease_key_add (to, key) != 0) {
        s_index_del (t, key);
        return -1;
    }
    return s_touch (res, lease);
}
