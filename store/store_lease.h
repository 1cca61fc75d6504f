/*  store_lease.h -- leases (store/kvsm_lease.h) in LevelDB: one key per
    lease (store_format.h, "Leases", invariant (9)):

        'e' id  (9 bytes)  a lease: msg_kv_lease_encode bytes
                           (msg/msg_kv_lease.h); id is be64

    Outside the KV generations: the storage actor keeps the table in
    memory (loaded at start), writes each lease an entry touched in the
    same batch as the entry's KV changes and applied index (deleting the
    revoked ones), and replaces them all in the batch that switches to an
    installed snapshot.
*/
#ifndef STORE_LEASE_H_INCLUDED
#define STORE_LEASE_H_INCLUDED

#include "kvsm_lease.h"
#include "store.h"

#include <leveldb/c.h>

#define STORE_KEY_LEASE 'e'
#define STORE_LEASE_KEY_LEN 9

/* The table as stored (ro: NULL for the store's own read options, or a
   snapshot's). 0 and *out (kvsm_leases_destroy), or -1 and *err. */
int store_leases_read (store_t *self, const leveldb_readoptions_t *ro,
                       kvsm_leases_t **out, char **err);

/* Lease id as t holds it now: written if present, deleted if not. */
int store_batch_lease (store_batch_t *b, const kvsm_leases_t *t, uint64_t id);
/* Replace every stored lease (as read now, and those of old, which may
   hold some not written yet) with new_t's. 0, or -1 and *err. */
int store_batch_leases_replace (store_t *self, store_batch_t *b,
                                const kvsm_leases_t *old,
                                const kvsm_leases_t *new_t, char **err);

/* The lease table of snapshot copy sn's instant (msg_kv_leases_encode),
   or NULL when it is empty (store_snapshot.c). Borrowed. */
const raft_buf_t *store_snap_leases (store_snap_t *sn);

#endif
