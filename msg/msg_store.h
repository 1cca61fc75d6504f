/*  msg_store.h -- messages between the raft actor and the storage actor,
    and the KV commands carried in log entries.

    Socket: a PAIR pair over inproc; the storage actor binds, the raft actor
    connects. Every message is one zframe holding one msgpack array whose
    first element is the format version (1) and whose second is the kind.

      raft -> storage
        [1, "write", seq: uint, hs_changed: bool, term: uint, vote: uint,
            [entry, ...], snap]
              snap is nil, or a snapshot chunk to stage first (raft.h,
              raft_snapshot_chunk_t): [index: uint, term: uint, chunk: uint,
              data: bin (snapshot data, below), done: bool, keep_tail:
              bool, [conf entry]]; with done, the staged state becomes the
              KV data and the log's base in the same batch.
              persist hard state (if hs_changed) and entries (first delete
              every stored entry with index >= entries[0].index); durable
              (sync) before the answer. Writes waiting together are
              committed in one LevelDB batch (group commit).
        [1, "apply", index: uint, term: uint]
              apply the committed entries up to index (whose term is
              term) to the KV data, in order, from the log entries storage
              itself wrote (it keeps the ones not applied yet in memory):
              the entries do not travel twice. The KV change and the
              applied index go in one batch. An index storage does not
              hold, or a term that differs from its entry's, means the two
              actors disagree about the log: storage reports "error".
        [1, "get", req_id: uint, key: bin]
              read a key from the KV data as applied so far.
        [1, "leases", req_id: uint]
              the lease table as staged (answered below): a new leader
              promotes its lessor with it (store/lessor.h).
        [1, "snap_read", peer: uint, chunk: uint, index: uint, term: uint,
            msg_term: uint, msg_commit: uint]
              the next chunk of the copy being sent to peer (chunk 0: take
              a new copy; index and term: the copy's, for chunk > 0).
              msg_term and msg_commit come back as they are.
        [1, "after", seq: uint, [[index: uint, term: uint, to: uint], ...]]
            + one more frame per triple: the payload of a msg_transport.h
              "send" to `to` (a msg_raft.h message)
              messages the raft core handed out to send once write seq is
              durable (raft_ready_t.after, raft_options_t.async_sends):
              votes after a hard state change, a follower's
              acknowledgements. Storage forwards each frame as it is to
              the transport (PUSH to its "-send" PULL) once everything
              before it is durable, and only if its log entry at index
              still has that term (index 0: no condition); so a follower's
              acknowledgement leaves right after its fsync, without a
              hand-off back to the raft actor. The only multi-frame
              message.
        [1, "compact", [base]]
              the log's new base (raft_compact): in one synced batch,
              record base and delete every stored entry up to its index.
              base is a CONF entry at the base's index and term holding
              the configuration in effect there. No answer.

      storage -> raft
        [1, "boot", term: uint, vote: uint, applied: uint, [entry, ...],
            [base] or []]
              sent once, first: everything durable at start; the entries
              follow the base (none: the log starts at index 1).
        [1, "persisted", seq: uint]
              every write up to seq is durable. Write seqs run 1, 2, 3...
              from each boot; a gap means a write was lost between the
              actors, and storage then reports "error" rather than vouch
              for it.
        [1, "applied", index: uint, [[index: uint, existed: bool,
            status: uint, result: bin|nil], ...]]
              applied up to index; for each NORMAL entry applied (a
              malformed command counts, with existed false, status 0 and
              result nil), whether its key existed before (what DELETE
              reports; a PUT or DELETE's), the HTTP status of its reply
              (200, or 412 for a compare that failed) and the state
              machine's result (msg_kv_result_encode: what the reply
              renders). Entries at or below the applied index are
              skipped. An entry that granted or revoked a lease has
              three more elements: [..., lease_event: uint (1 granted,
              2 revoked), lease: uint, lease_ttl_ms: uint (granted; 0
              otherwise)], what the leader's lessor follows.
        [1, "value", req_id: uint, found: bool, value: bin]
              value is empty when not found.
        [1, "snap_chunk", peer: uint, chunk: uint, ok: bool, [conf entry]
            or [], data: bin, done: bool, msg_term: uint, msg_commit: uint]
              the chunk; the conf entry is at the copy's index and term.
              ok false: no such copy (any more); nothing to send.
        [1, "error", text: str]
              storage failed (disk full, corruption): the node must stop.
        [1, "leases", req_id: uint, applied: uint, [[id: uint,
            ttl_ms: uint], ...]]
              the answer to raft's "leases": the lease table
              (store/kvsm_lease.h) as staged, in id order, and the index
              it is at (what the leader's lessor is promoted with:
              store/lessor.h). At most KVSM_LEASES_MAX; ids >= 1 and
              increasing, ttl_ms >= 1. An answer at index 0 with no lease
              is written as the request's 3 elements (the same fields).
        [1, "usage", db_bytes: uint, fs_free: uint]
              what the database's files take on disk, and what the file
              system holding them has left for us (statvfs f_bavail *
              f_frsize); sent when it changed, sampled at most every
              S_USAGE_MS after writes and compactions (storage.c). The
              raft actor holds the space quota against db_bytes.

    entry is msg_raft.h's entry encoding.

    Snapshot data (each chunk's bytes), version 2: [2, [key: bin, record:
    bin, key: bin, record: bin, ...]], the KV records of the copy in key
    order, each as stored (store_format.h: the metadata header, then the
    value). Version 1 (a leader before versions) was the bare pairs' array
    [key: bin, value: bin, ...]; it still decodes, and its values become
    records with metadata {0, 0, 0} (as its commands' do). A version-1 node
    refuses version 2 data (its first element is not a bin) and so never
    installs records it cannot read.

    Snapshot data version 3 (client sessions, msg/msg_kv_session.h):
    [3, [pairs as version 2], table: bin], the session table at the
    copy's instant; only in the first chunk of a copy whose table is not
    empty. Version-2 data installs with no sessions.

    Snapshot data version 4 (leases, msg/msg_kv_lease.h): [4, [pairs as
    version 2], sessions: bin | nil, leases: bin], the session table (nil:
    empty) and the lease table at the copy's instant; only in the first
    chunk of a copy whose lease table is not empty. Data of versions 2
    and 3 installs with no leases.

    KV commands (the data of NORMAL entries; store/kvsm.h says what each
    does):
      version 1 (the prototype's; still applied, with metadata {0, 0, 0}):
        [1, "put", key: bin, value: bin] | [1, "del", key: bin]
      version 2 (what a leader writes now):
        [2, "put", key: bin, value: bin, [cmp, ...]]
        [2, "del", key: bin, [cmp, ...]]
        [2, "txn", [cmp, ...], [op, ...] (success), [op, ...] (failure)]
      cmp: [key: bin, target: uint (kvsm_target_t: 1 value, 2 version,
            3 create_index, 4 mod_index, 5 exists), op: uint
            (kvsm_cmp_op_t: 1 ==, 2 !=, 3 <, 4 >), operand: bin for
            value, uint otherwise (exists: 0 or 1)]
      op:  ["put", key: bin, value: bin] | ["del", key: bin]
           | ["get", key: bin]
      version 3 (client sessions, store/kvsm_session.h; msg_kv.c):
        [3, "sopen", ttl_ms: uint, stamp_ms: uint]
        [3, "sclose", session: uint, stamp_ms: uint]
        version 2's put, del and txn with one more element, sess:
        [session: uint, seq: uint (>= 1), ack: uint, stamp_ms: uint]
      version 4 (leases, store/kvsm_lease.h; msg_kv.c):
        [4, "lgrant", ttl_ms: uint (1 .. KVSM_LEASE_TTL_MAX_MS)]
        [4, "lrevoke", lease: uint (>= 1), expired: bool]
        [4, "put", key: bin, value: bin, [cmp, ...], sess | nil,
         lease: uint (>= 1)]
        [4, "txn", [cmp, ...], [op, ...], [op, ...], sess | nil]
        op: as version 2, or ["put", key: bin, value: bin, lease: uint
            (>= 1)]
        Only commands naming a lease are written as 4; a delete never is.
      At most KVSM_TXN_MAX_CMPS compares and KVSM_TXN_MAX_OPS ops per
      branch. A version above 4 decodes as -2 (not -1): a command from a
      newer leader, which the node must not skip (it would diverge).

    KV results (the "applied" result, msg_kv_result_encode):
        [1, status: uint (kvsm_status_t), op: uint (kvsm_op_t),
         succeeded: bool, [resp, ...]]
        or, with session fields, [..., session: uint, ttl_ms: uint,
         duplicate: bool, first_index: uint]
        or, with lease fields (an LGRANT's, an LREVOKE's), those and
         [..., lease: uint, lease_ttl_ms: uint, expired: bool,
         lease_event: uint (0, 1 granted, 2 revoked), deleted: uint
         (LREVOKE: how many keys it deleted)]: 14 elements
      resp: [op: uint, key: bin, found: bool, create_index: uint,
             mod_index: uint, version: uint, value: bin|nil]
*/
#ifndef MSG_STORE_H_INCLUDED
#define MSG_STORE_H_INCLUDED

#include "kvsm.h"
#include "lessor.h"
#include "raft.h"

#include <czmq.h>
#include <msgpack.h>

typedef enum {
    MSG_STORE_WRITE = 1,
    MSG_STORE_APPLY,
    MSG_STORE_GET,
    MSG_STORE_BOOT,
    MSG_STORE_PERSISTED,
    MSG_STORE_APPLIED,
    MSG_STORE_VALUE,
    MSG_STORE_ERROR,
    MSG_STORE_COMPACT,
    MSG_STORE_SNAP_READ,
    MSG_STORE_SNAP_CHUNK,
    MSG_STORE_USAGE,
    MSG_STORE_AFTER,
    MSG_STORE_LEASES, /* raft -> storage: [1, "leases", req_id]; storage
                         -> raft: the table (above) */
} msg_store_kind_t;

/* "after": one message to send once durable, and its condition. */
typedef struct {
    raft_index_t index; /* 0: none; else the entry there must have term */
    raft_term_t term;
    raft_id_t to;    /* the peer */
    zframe_t *frame; /* the payload, a msg_raft.h message (owned) */
} msg_after_t;

typedef struct {
    raft_index_t index;
    bool existed;
    unsigned status;    /* 200, 412; 0: no result (malformed command) */
    raft_buf_t *result; /* msg_kv_result_encode, or NULL; one ref */
    /* what the entry did to the lease table, for the leader's lessor
       (kvsm_result_t's lease_event: 0 none, 1 granted, 2 revoked), the
       lease and (granted) its TTL */
    unsigned lease_event;
    uint64_t lease, lease_ttl_ms;
} msg_apply_result_t;

typedef struct {
    msg_store_kind_t kind;
    uint64_t seq;          /* write, persisted */
    bool hs_changed;       /* write */
    raft_hard_state_t hs;  /* write, boot */
    raft_entry_t *entries; /* write, boot: one ref each */
    size_t n_entries;
    raft_index_t applied;        /* boot, applied, apply (up to) */
    raft_term_t applied_term;    /* apply: the term of entry applied */
    msg_apply_result_t *results; /* applied */
    size_t n_results;
    uint64_t req_id;   /* get, value */
    raft_buf_t *key;   /* get */
    bool found;        /* value */
    raft_buf_t *value; /* value (NULL when not found) */
    char *error;       /* error (malloc'ed) */
    raft_entry_t base; /* boot, compact, snap_chunk (the copy's conf entry):
                          index 0 = none; data one ref */
    /* snap_read, snap_chunk: InstallSnapshot, the leader's side */
    raft_id_t peer;
    uint64_t chunk;
    raft_index_t snap_index; /* snap_read */
    raft_term_t snap_term;   /* snap_read */
    raft_term_t msg_term;
    raft_index_t msg_commit;
    bool ok, done; /* snap_chunk; its data is in value */
    /* write: a chunk to stage, the follower's side */
    bool has_snap;
    raft_snapshot_chunk_t snap; /* data: one ref when decoded */
    uint64_t db_bytes, fs_free; /* usage */
    msg_after_t *after;         /* after (malloc'ed; frames owned) */
    size_t n_after;
    lessor_lease_t *leases; /* leases (the answer; malloc'ed), in id order;
                               req_id and applied as above */
    size_t n_leases;
} msg_store_t;

/* Encode m as a one-frame zmsg; NULL if m cannot be encoded. Borrows m. */
zmsg_t *msg_store_encode (const msg_store_t *m);
/* Decode; 0 and *m filled (release with msg_store_clear), or -1 if
   malformed (nothing to release). Does not destroy zm. */
int msg_store_decode (zmsg_t *zm, msg_store_t *m);
void msg_store_clear (msg_store_t *m);

/* Snapshot data: pairs are appended with msg_snap_pack_pair between
   msg_snap_pack_begin (n pairs to come) and the end of the buffer. It is
   version MSG_SNAP_VERSION: the values are records (store_format.h). */
#define MSG_SNAP_VERSION 2
void msg_snap_pack_begin (msgpack_sbuffer *buf, size_t n_pairs);
void msg_snap_pack_pair (msgpack_sbuffer *buf, const void *key, size_t key_len,
                         const void *value, size_t value_len);
/* Call fn for each pair of data; 0, or -1 if data is malformed or fn
   returned non-zero. Pairs are borrowed from data. Either version. */
int msg_snap_unpack (const void *data, size_t len,
                     int (*fn) (void *ctx, const void *key, size_t key_len,
                                const void *value, size_t value_len),
                     void *ctx);
/* The same, and *version (if not NULL): 1, bare values (a leader before
   versions), or 2, records. */
int msg_snap_unpack_v (const void *data, size_t len,
                       int (*fn) (void *ctx, const void *key, size_t key_len,
                                  const void *value, size_t value_len),
                       void *ctx, unsigned *version);
/* The version of snapshot data (1 or 2), or -1 if it is neither. */
int msg_snap_version (const void *data, size_t len);

/* True if data is well-formed snapshot data (msg_snap_unpack would take
   it). A chunk from a peer is checked with this before the core sees it,
   so that storage never meets a malformed one. */
bool msg_snap_valid (const void *data, size_t len);

/* KV commands: the state machine's (store/kvsm.h), under msg/'s names. */
typedef kvsm_op_t msg_kv_op_t;
#define MSG_KV_PUT KVSM_PUT
#define MSG_KV_DEL KVSM_DEL
#define MSG_KV_TXN KVSM_TXN
typedef kvsm_cmd_t msg_kv_t;

/* A new buffer holding the command (one ref, the caller's); NULL if it
   is not one the decoder would take. Written as cmd->version (0: the
   current one, 2). */
raft_buf_t *msg_kv_encode (const msg_kv_t *cmd);
/* 0 and *cmd filled (release with msg_kv_clear), -1 if malformed, -2 if
   it is a command of a version newer than this build knows. */
int msg_kv_decode (const void *data, size_t len, msg_kv_t *cmd);
void msg_kv_clear (msg_kv_t *cmd);

/* The state machine's result of one entry (what its reply renders), and
   back: 0, or -1 if malformed (nothing to release). The decoded result
   has no changes (they stay where the entry was applied). */
raft_buf_t *msg_kv_result_encode (const kvsm_result_t *res);
int msg_kv_result_decode (const void *data, size_t len, kvsm_result_t *res);

#endif
