/*  msg_kv_session.h -- the bytes of client sessions (store/kvsm_session.h):
    one session, as a LevelDB value (store_format.h) and inside the table;
    the whole table, as snapshots and the simulator carry it.

      session: [1, id: uint, ttl_ms: uint, last_ms: uint, acked: uint,
                [[seq: uint, reply: bin], ...]]
               reply: a KV result (msg_kv_result_encode), by seq, each
               seq > acked, at most KVSM_SESSION_KEPT_MAX
      table:   [1, clock_ms: uint, [session: bin, ...]]
               sessions by id, at most KVSM_SESSIONS_MAX

    Decoding checks every bound and order, as for bytes from a peer.
*/
#ifndef MSG_KV_SESSION_H_INCLUDED
#define MSG_KV_SESSION_H_INCLUDED

#include "kvsm_session.h"

/* A new buffer (one ref), or NULL (memory, or a reply that cannot be
   encoded). */
raft_buf_t *msg_kv_session_encode (const kvsm_session_t *s);
/* 0 and *s filled (release with kvsm_session_clear), or -1. */
int msg_kv_session_decode (const void *data, size_t len, kvsm_session_t *s);

raft_buf_t *msg_kv_sessions_encode (const kvsm_sessions_t *t);
/* A new table, or NULL if malformed. */
kvsm_sessions_t *msg_kv_sessions_decode (const void *data, size_t len);

#endif
