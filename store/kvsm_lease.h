/*  kvsm_lease.h -- leases in the KV state machine: keys that live as long
    as a client keeps them alive (etcd's leases; Consul's session TTLs):
    service registration, locks that free themselves when their holder
    dies.

    What is replicated, and what is not (etcd's split):
      - The table itself is state-machine state, the same on every
        replica at every index: which leases exist, each one's TTL, and
        which keys are attached to which lease. LGRANT adds a lease (its
        id is the entry's index: unique, assigned by the log, as session
        ids are); LREVOKE removes one and deletes every key attached to
        it, in key order, in that one entry (the deletes are the entry's
        changes: watches see them as ordinary deletes at that index).
      - When a lease expires is not: the leader alone keeps a deadline per
        lease (store/lessor.h), renewed by keep-alives that never touch
        the log, and proposes an LREVOKE (expired) when a deadline passes.
        A follower never expires anything; a new leader starts every
        deadline afresh, extended by an election timeout (etcd's
        Promote). So every replica deletes a lease's keys at the same
        index, the one the leader's LREVOKE was committed at.

    Attaching (at apply): a PUT (or a TXN's put) with lease L attaches its
    key to L, detaching it from any other lease; L must exist, else the
    whole command is refused (KVSM_LEASE_NOT_FOUND, nothing applied; for
    a TXN, the puts of the branch its compares chose, as etcd checks; a
    put whose compares fail applies nothing anyway). A
    PUT without a lease detaches its key (etcd's rule), and so does a
    DEL. Bounded: KVSM_LEASES_MAX leases, KVSM_LEASE_KEYS_MAX attached
    keys over all leases (KVSM_LEASE_LIMIT beyond), so that the whole
    table fits a snapshot's first chunk, as the session table does.

    The table lives in memory, owned by the caller (the storage actor, a
    simulated node), changed in place by kvsm_apply, which lists the
    leases it touched in the result (leases_touched); the caller persists
    them (one LevelDB key per lease, store_format.h) and puts the table in
    snapshots.
*/
#ifndef KVSM_LEASE_H_INCLUDED
#define KVSM_LEASE_H_INCLUDED

#include "kvsm.h"

#define KVSM_LEASES_MAX 4096
#define KVSM_LEASE_KEYS_MAX 16384
/* The decoder's bounds on an LGRANT's TTL; the leader clamps a client's
   TTL into [its minimum, KVSM_LEASE_TTL_MAX_MS] before proposing (the
   minimum depends on its election timeout: lessor.h). */
#define KVSM_LEASE_TTL_MAX_MS (30ULL * 24 * 3600 * 1000)

typedef struct {
    uint64_t id;       /* the LGRANT entry's index */
    uint64_t ttl_ms;   /* as granted */
    raft_buf_t **keys; /* attached, sorted bytewise (memcmp, then length),
                          one ref each */
    size_t n_keys, cap;
} kvsm_lease_t;

typedef struct {
    raft_buf_t *key; /* one ref */
    uint64_t lease;
} kvsm_lease_key_t;

struct kvsm_leases {
    kvsm_lease_t *v; /* by id */
    size_t n, cap;
    /* every attached key with its lease, sorted by key: what a put or a
       delete looks up to detach */
    kvsm_lease_key_t *by_key;
    size_t n_keys, keys_cap;
};

kvsm_leases_t *kvsm_leases_new (void);
void kvsm_leases_destroy (kvsm_leases_t **self_p);
/* A deep copy (NULL: out of memory). */
kvsm_leases_t *kvsm_leases_dup (const kvsm_leases_t *self);
/* Same leases, TTLs and attached keys? */
bool kvsm_leases_eq (const kvsm_leases_t *a, const kvsm_leases_t *b);
kvsm_lease_t *kvsm_leases_find (const kvsm_leases_t *self, uint64_t id);
/* The lease key is attached to, 0 if none. */
uint64_t kvsm_leases_of_key (const kvsm_leases_t *self, const raft_buf_t *key);
/* For the decoders (LevelDB, snapshots): add lease id with its TTL and
   keys (the keys and the array taken, also on failure): 0, or -1 (id
   present, a key attached elsewhere, a bound exceeded, memory). */
int kvsm_leases_insert (kvsm_leases_t *self, uint64_t id, uint64_t ttl_ms,
                        raft_buf_t **keys, size_t n_keys);

/*  Called by kvsm_apply (kvsm.c) only.                                 */

/* LGRANT at index: the lease index with ttl_ms (clamped into [1,
   KVSM_LEASE_TTL_MAX_MS]), or KVSM_LEASE_LIMIT. 0, or -1 (memory). */
int kvsm_lease_grant (kvsm_leases_t *t, raft_index_t index, uint64_t ttl_ms,
                      kvsm_result_t *res);
/* LREVOKE: remove lease id from the table; 1 and its keys (sorted, one
   ref each, and the array: the caller's) for the caller to delete, 0
   (KVSM_LEASE_NOT_FOUND in res), or -1 (memory). */
int kvsm_lease_take (kvsm_leases_t *t, uint64_t id, bool expired,
                     kvsm_result_t *res, raft_buf_t ***keys, size_t *n_keys);
/* May ops[0..n) (the ops that are about to run) attach their keys? KVSM_OK,
   KVSM_LEASE_NOT_FOUND (a put names a lease not in t; t NULL: every
   lease is missing) or KVSM_LEASE_LIMIT (KVSM_LEASE_KEYS_MAX). */
kvsm_status_t kvsm_lease_check (const kvsm_leases_t *t,
                                const kvsm_txn_op_t *ops, size_t n);
/* After a put (lease: its lease, 0 none) or a delete (0) of key: attach
   key to lease, detaching it from any other. 0, or -1 (memory, or lease
   not in t: kvsm_lease_check was not called). */
int kvsm_lease_attach (kvsm_leases_t *t, raft_buf_t *key, uint64_t lease,
                       kvsm_result_t *res);

#endif
