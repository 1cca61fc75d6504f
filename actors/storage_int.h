/*  storage_int.h -- the storage actor's state, shared by its files:

      storage.c           the actor: its sockets, the loop, group commit,
                          replies
      storage_boot.c      the start: open, bootstrap, "boot"
      storage_log.c       group commit of the log, durable in order, the
                          tail of entries not applied yet, compaction, and
                          sending what waited on durability ("after")
      storage_apply.c     applying committed entries to the KV data; gets
      storage_snapshot.c  InstallSnapshot: staging chunks (follower) and
                          reading a point-in-time copy in chunks (leader)

    The protocol is at the top of storage.c; the on-disk format in
    store/store.h.
*/
#ifndef STORAGE_INT_H_INCLUDED
#define STORAGE_INT_H_INCLUDED

#include "actors.h"
#include "msg_store.h"
#include "storage_space.h"
#include "store.h"

/* -DNSXD_PLANTED_BUG=1 (apply_nosync): each apply is written in its own
   batch without sync, as before issue 13, which a power cut after a
   memtable switch turns into a replica whose applied index claims data it
   does not hold. tests/cluster/powercut_test.sh must catch it (make
   powercut-teeth). 0: no bug. */
#ifndef NSXD_PLANTED_BUG
#define NSXD_PLANTED_BUG 0
#endif
#define S_BUG_APPLY_NOSYNC (NSXD_PLANTED_BUG == 1)
/* -DNSXD_PLANTED_BUG=2 (apply_no_copy): applies that come alone are
   written without sync but their copy is not written again with the next
   synced write: the same loss, through the new path. */
#define S_BUG_APPLY_NO_COPY (NSXD_PLANTED_BUG == 2)
/* -DNSXD_PLANTED_BUG=6 (after_before_fsync): the "after" messages (votes
   and acknowledgements waiting on durability) are forwarded as their group
   is read, before its fsync: a follower vouches for entries a power cut
   can still take. tests/node/test_storage.c test_after_durable must catch
   it (make powercut-teeth). */
#define S_BUG_AFTER_BEFORE_FSYNC (NSXD_PLANTED_BUG == 6)

/* A point-in-time copy being sent to one peer. */
typedef struct {
    raft_id_t peer; /* 0: slot free */
    store_snap_t *snap;
    raft_index_t index;
    raft_term_t term;
    raft_entry_t conf; /* the copy's CONF entry (at index, term) */
    uint64_t next;     /* next chunk to read */
    raft_buf_t *last;  /* chunk next - 1, kept for a resend */
    bool last_done;
    int64_t used;
} storage_session_t;

typedef struct {
    zsock_t *pipe;            /* actor command pipe */
    zsock_t *pair;            /* to the raft actor; NULL if bind failed */
    zsock_t *send;            /* PUSH to the transport's PULL ("after"
                                 messages), or NULL: none configured */
    store_t *store;           /* NULL if the database could not be opened */
    store_batch_t *log_batch; /* a group's writes and applies (synced) */
    store_batch_t *kv_batch;  /* compaction; an apply under apply_nosync */
    store_batch_t *unsynced;  /* a copy of the applies written without
                                 sync since the last synced write */
    zhashx_t *overlay;        /* apply: keys changed earlier in the batch */
    zlist_t *held;            /* zframe_t *: "applied" replies waiting for
                                 the batch to be durable */
    kv_shared_t *shared;      /* where the store is published, or NULL */
    watch_hub_t *watch;       /* applied changes for watches, or NULL */
    zlist_t *outbox;          /* zframe_t *: replies not yet sent */
    msg_store_t *group;       /* S_GROUP_MAX decoded messages */
    /* The log entries written and not yet applied, in index order (one
       ref each): "apply" names an index, and the entries are taken from
       here rather than sent a second time (issue 14). Bounded by what the
       core holds uncommitted or unapplied, which it also keeps in memory. */
    raft_entry_t *tail;
    size_t tail_n, tail_cap;
    raft_index_t last_index;  /* last stored log index */
    raft_index_t base_index;  /* the log's base: entries start after it */
    raft_index_t applied;     /* applied index, as stored */
    raft_term_t applied_term; /* its term (0: unknown, an older database) */
    uint64_t last_seq;        /* seq of the last write staged */
    /* what log_batch holds and is not yet written */
    struct {
        bool writes;          /* writes: "persisted" seq follows */
        uint64_t seq;         /* the last write's seq */
        uint64_t entries;     /* log entries written */
        raft_index_t last;    /* the last log index once written */
        raft_index_t applied; /* the applied index once written */
        raft_term_t applied_term;
    } staged;
    uint64_t dropped; /* malformed messages dropped */
    zsock_t *mon;     /* PUSH to the monitor, or NULL */
    int64_t slow_fsync_us;
    storage_space_t *space; /* disk usage and the quota's compactions */
    uint64_t quota_bytes;   /* --quota-bytes (0: none) */
    int64_t slow_logged;    /* zclock_mono () of the last slow-fsync log */
    bool failed;            /* "error" sent: idle until $TERM */
    /* InstallSnapshot, follower side: an install staged in the current
       group, made effective once its write is durable */
    struct {
        bool pending;
        raft_index_t index;
        raft_term_t term;
        raft_buf_t *sessions; /* chunk 0's table (msg_snap_sessions) */
        raft_buf_t *leases;   /* chunk 0's lease table (msg_snap_leases) */
    } install;
    /* client sessions (store/kvsm_session.h): the table as applied,
       loaded at start; each apply writes what it touched (storage_apply.c)
       and an install replaces it (install.sessions, storage_snapshot.c) */
    kvsm_sessions_t *sessions;
    /* leases (store/kvsm_lease.h): the same, storage_leases.c */
    kvsm_leases_t *leases;
    uint64_t cleanup_gen[2]; /* generations to delete when idle */
    size_t n_cleanup;
    /* InstallSnapshot, leader side: one copy being sent per peer */
    storage_session_t sending[RAFT_MAX_SERVERS];
    zloop_t *loop;     /* the actor's loop (actor.h) */
    bool pair_watched; /* the PAIR is in the loop, polled for... */
    bool pair_out;     /* ...POLLOUT (replies wait), else POLLIN */
} storage_t;

/* storage.c */
void storage_flush (storage_t *self);
zframe_t *storage_encode (const msg_store_t *m);
void storage_send (storage_t *self, const msg_store_t *m);
/* Storage failed: tell the raft actor (the node must stop) and go idle. */
void storage_fail (storage_t *self, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* storage_boot.c */
void storage_open (storage_t *self, const storage_args_t *args);

/* storage_log.c */
const raft_entry_t *storage_tail_at (const storage_t *self, raft_index_t idx);
void storage_tail_cut_from (storage_t *self, raft_index_t idx);
void storage_tail_cut_upto (storage_t *self, raft_index_t idx);
bool storage_tail_push (storage_t *self, const raft_entry_t *e);
void storage_stage_writes (storage_t *self, size_t n);
bool storage_commit (storage_t *self);
void storage_compact (storage_t *self, const msg_store_t *m);
bool storage_check_after (storage_t *self, const msg_store_t *m);
void storage_send_after (storage_t *self, msg_store_t *m);

/* storage_sessions.c: client sessions */
unsigned storage_kv_status (const kvsm_result_t *res);
int storage_sessions_write (storage_t *self, store_batch_t *b,
                            const kvsm_result_t *res);
void storage_sessions_stage (storage_t *self, const raft_snapshot_chunk_t *c);
bool storage_sessions_install (storage_t *self, raft_index_t index);

/* storage_leases.c: leases */
int storage_leases_write (storage_t *self, store_batch_t *b,
                          const kvsm_result_t *res, msg_apply_result_t *r);
void storage_leases_stage (storage_t *self, const raft_snapshot_chunk_t *c);
bool storage_leases_install (storage_t *self, raft_index_t index);
void storage_leases_answer (storage_t *self, const msg_store_t *m);

/* storage_apply.c */
zhashx_t *storage_overlay_new (void);
void storage_apply (storage_t *self, const msg_store_t *m);
void storage_get (storage_t *self, const msg_store_t *m);

/* storage_snapshot.c */
bool storage_stage_snap (storage_t *self, const raft_snapshot_chunk_t *c,
                         raft_index_t *last);
void storage_snap_read (storage_t *self, const msg_store_t *m);
void storage_session_close (storage_t *self, size_t i);
void storage_housekeeping (storage_t *self);

#endif
