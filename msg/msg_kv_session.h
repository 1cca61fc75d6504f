/*  msg_kv_session.h -- the bytes of client sessions (store/kvsm_session.h):
    one session, as a LevelDB value (store_format.h) and inside the table;
    the whole table, as snapshots and the simulator carry it.

      session: [1, id: uint, ttl_ms: uint, last_ms: uint, acked: uint,
                [[seq: uint, index: uint, reply: bin], ...]]
               index: the entry that applied it; reply: a KV result
               (msg_kv_result_encode), by seq, each
               seq > acked, at most KVSM_SESSION_KEPT_MAX
      table:   [1, clock_ms: uint, [session: bin, ...]]
               sessions by id, at most KVSM_SESSIONS_MAX

    Decoding checks every bound and order, as for bytes from a peer.
*/
#ifndef MSG_KV_SESSION_H_INCLUDED
#define MSG_KV_SESSION_H_INCLUDED

#include "kvsm_session.h"

#include <msgpack.h>

/* A new buffer (one ref), or NULL (memory, or a reply that cannot be
   encoded). */
raft_buf_t *msg_kv_session_encode (const kvsm_session_t *s);
/* 0 and *s filled (release with kvsm_session_clear), or -1. */
int msg_kv_session_decode (const void *data, size_t len, kvsm_session_t *s);

raft_buf_t *msg_kv_sessions_encode (const kvsm_sessions_t *t);
/* A new table, or NULL if malformed. */
kvsm_sessions_t *msg_kv_sessions_decode (const void *data, size_t len);

/* Snapshot data version 3 (msg_store.h): version 2's pairs, then the
   session table of the copy's instant: [3, [pairs], table: bin]. Only
   the first chunk of a copy whose table is not empty is written so; the
   others, and every copy without sessions, stay version 2, so that
   version-2 data means "no sessions". */
#define MSG_SNAP_VERSION_SESSIONS 3
void msg_snap_pack_begin_sessions (msgpack_sbuffer *buf, size_t n_pairs);
/* After the pairs. */
void msg_snap_pack_sessions (msgpack_sbuffer *buf, const raft_buf_t *table);
/* The table's bytes in version-3 data (one ref), or NULL (none). */
raft_buf_t *msg_snap_sessions (const void *data, size_t len);

#endif
