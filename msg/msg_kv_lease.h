/*  msg_kv_lease.h -- the bytes of leases (store/kvsm_lease.h): one lease,
    as a LevelDB value (store_format.h, 'e') and inside the table; the
    whole table, as snapshots carry it.

      lease: [1, id: uint (>= 1), ttl_ms: uint (1 ..
              KVSM_LEASE_TTL_MAX_MS), [key: bin, ...]]
             the attached keys, sorted bytewise (memcmp, then length),
             no repeat
      table: [1, [lease: bin, ...]]
             leases by id, at most KVSM_LEASES_MAX, their keys at most
             KVSM_LEASE_KEYS_MAX in all, no key in two

    Decoding checks every bound and order, as for bytes from a peer.
*/
#ifndef MSG_KV_LEASE_H_INCLUDED
#define MSG_KV_LEASE_H_INCLUDED

#include "kvsm_lease.h"

#include <msgpack.h>

/* A new buffer (one ref), or NULL (memory). */
raft_buf_t *msg_kv_lease_encode (const kvsm_lease_t *l);
/* Decode one lease and add it to t (kvsm_leases_insert's checks): 0 and
   *id, or -1 (malformed, or t refuses it). */
int msg_kv_lease_decode (kvsm_leases_t *t, const void *data, size_t len,
                         uint64_t *id);

raft_buf_t *msg_kv_leases_encode (const kvsm_leases_t *t);
/* A new table, or NULL if malformed. */
kvsm_leases_t *msg_kv_leases_decode (const void *data, size_t len);

/* Snapshot data version 4 (msg_store.h): version 2's pairs, then the
   session table (nil: none) and the lease table of the copy's instant:
   [4, [pairs], sessions: bin | nil, leases: bin]. Only the first chunk of
   a copy whose lease table is not empty is written so; data of versions
   2 and 3 means "no leases". */
#define MSG_SNAP_VERSION_LEASES 4
void msg_snap_pack_begin_leases (msgpack_sbuffer *buf, size_t n_pairs);
/* After the pairs; sessions may be NULL. */
void msg_snap_pack_leases (msgpack_sbuffer *buf, const raft_buf_t *sessions,
                           const raft_buf_t *leases);
/* The lease table's bytes in version-4 data (one ref), or NULL (none). */
raft_buf_t *msg_snap_leases (const void *data, size_t len);

#endif
