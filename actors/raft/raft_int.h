/*  raft_int.h -- internals of the consensus core, shared by its files.

    The core is split by concern, as canonical/raft's src/ is:
      raft.c         lifecycle, message dispatch and term rules, the batch
      log.c          the in-memory log with a base (index, term)
      progress.c     the leader's view of each follower
      election.c     ticks, pre-vote, votes, role changes
      replication.c  AppendEntries, heartbeats, the commit rule
      membership.c   configurations, one server at a time
      read.c         ReadIndex
      snapshot.c     compaction and InstallSnapshot (chapter 5)
*/
#ifndef RAFT_INT_H_INCLUDED
#define RAFT_INT_H_INCLUDED

#include "raft.h"

/*  Planted bugs. The simulator's "teeth" tests build the core with
    -DRAFT_PLANTED_BUG=N to show that each of these is caught; the ones
    only a forged message can trigger (9) are caught by the cluster fuzz
    harness instead (make fuzz-teeth). A normal build has none
    (RAFT_PLANTED_BUG is 0).                                             */
#ifndef RAFT_PLANTED_BUG
#define RAFT_PLANTED_BUG 0
#endif
/* clang-format off */
#define RAFT_BUG_COMMIT_OLD_TERM     1 /* count replicas of old-term entries */
#define RAFT_BUG_VOTE_NO_LOG_CHECK   2 /* grant votes without up-to-date check */
#define RAFT_BUG_ACK_UNPERSISTED     3 /* ack entries before they are durable */
#define RAFT_BUG_READ_NO_ROUND       4 /* ReadIndex without a heartbeat round */
#define RAFT_BUG_CONF_TWO_PENDING    5 /* second config change before commit */
#define RAFT_BUG_NO_NOOP_BEFORE_CONF 6 /* config change before own-term commit */
#define RAFT_BUG_NO_BEHIND_PROBE     7 /* never re-probe an idle lagging peer */
#define RAFT_BUG_SNAP_STALE          8 /* install a snapshot already covered */
#define RAFT_BUG_TERM_WEDGE          9 /* take any term up to RAFT_TERM_MAX */
#define RAFT_BUG_ASYNC_EARLY        10 /* async_sends: ack without waiting */
#define RAFT_BUG_FOLLOWER_READ_LOCAL 13 /* follower read at its own commit */
/* clang-format on */
#define RAFT_BUG(name) (RAFT_PLANTED_BUG == RAFT_BUG_##name)

/*  ---------------------------------------------------------------------
    log.c: entries (base_index, last]; entries[i] has index base_index+1+i */

typedef struct {
    raft_entry_t *entries;
    size_t n;
    size_t cap;
    raft_index_t base_index;
    raft_term_t base_term;
    size_t bytes; /* data bytes of the entries held (memory, compaction) */
} raft_log_t;

void raft_log_init (raft_log_t *log, raft_index_t base_index,
                    raft_term_t base_term);
void raft_log_fini (raft_log_t *log);
raft_index_t raft_log_last_index (const raft_log_t *log);
raft_term_t raft_log_last_term (const raft_log_t *log);
/* Term at index: base_term at the base, 0 outside [base, last]. */
raft_term_t raft_log_term_at (const raft_log_t *log, raft_index_t index);
raft_entry_t *raft_log_entry (const raft_log_t *log, raft_index_t index);
/* REQUIRES: e->index == last + 1, e->term >= last term. Takes a ref. */
int raft_log_append (raft_log_t *log, const raft_entry_t *e);
/* Remove every entry with index >= from. REQUIRES: from > base_index. */
void raft_log_truncate (raft_log_t *log, raft_index_t from);
/* Data bytes of the entries held in (from, to]. */
size_t raft_log_bytes_between (const raft_log_t *log, raft_index_t from,
                               raft_index_t to);
/* First index of the run of entries with the same term that ends at index. */
raft_index_t raft_log_term_start (const raft_log_t *log, raft_index_t index);
/* Last index holding an entry of term, or 0. */
raft_index_t raft_log_last_of_term (const raft_log_t *log, raft_term_t term);
/* Drop the entries up to index (base < index <= last): it becomes the
   base. */
void raft_log_compact (raft_log_t *log, raft_index_t index);
/* Drop every entry; the base becomes (index, term). */
void raft_log_reset (raft_log_t *log, raft_index_t index, raft_term_t term);

/*  ---------------------------------------------------------------------
    progress.c: the leader's view of one other server (§3.5, Figure 3.1
    nextIndex/matchIndex), with the flow control of etcd-io/raft: PROBE
    sends one AppendEntries and waits; REPLICATE pipelines up to
    max_inflight of them without waiting for each acknowledgement.      */

/* SNAPSHOT: the follower needs entries from before our base; it gets the
   state machine in chunks, one at a time (snapshot.c). */
typedef enum {
    RAFT_PR_PROBE = 0,
    RAFT_PR_REPLICATE,
    RAFT_PR_SNAPSHOT
} raft_pr_state_t;

typedef struct {
    raft_id_t id;
    raft_index_t match;
    raft_index_t next;
    raft_pr_state_t state;
    bool probe_sent;        /* PROBE: one request out, wait for its answer */
    raft_index_t *inflight; /* REPLICATE: last index of each request out */
    uint32_t in_start;
    uint32_t in_count;
    uint32_t in_cap;          /* = max_inflight */
    bool active;              /* heard from since the last quorum check */
    uint64_t read_ack;        /* highest ReadIndex round acknowledged */
    raft_index_t sent_commit; /* commit index last sent */
    /* §4.2.1 catch-up rounds, for learners */
    raft_index_t round_target;
    uint64_t round_start;
    bool caught_up;
    /* SNAPSHOT */
    raft_index_t snap_index; /* learned from the first acknowledgement */
    raft_term_t snap_term;
    uint64_t snap_chunk;   /* chunk in flight */
    uint64_t snap_sent_at; /* tick it was sent */
    uint32_t snap_resends; /* of this chunk, without an answer */
    bool snap_heard;       /* the follower answered something since */
} raft_progress_t;

/*  ---------------------------------------------------------------------
    The core's state                                                     */

/* A message waiting until what it asserts is durable (see raft.h). */
typedef struct {
    raft_msg_t msg;
    uint64_t wait_seq;       /* hard state write it depends on, 0: none */
    raft_index_t wait_index; /* entries it acknowledges, 0: none */
    raft_term_t wait_term;   /* term at wait_index when it was made */
} raft_held_t;

/* A write handed out in a batch and not yet reported durable. */
typedef struct {
    uint64_t seq;
    raft_index_t last_index; /* 0: hard state only */
    raft_term_t last_term;
} raft_write_t;

typedef enum {
    RAFT_READ_WAIT_COMMIT = 0, /* §6.4 step 1: own-term entry not committed */
    RAFT_READ_WAIT_ROUND,      /* step 3: heartbeat round not confirmed */
    RAFT_READ_WAIT_APPLY,      /* step 4: applied < read index */
    RAFT_READ_WAIT_LEADER,     /* a follower's: asked the leader, no answer */
} raft_read_state_t;

typedef struct {
    uint64_t ctx;
    raft_index_t index;
    uint64_t round;
    raft_read_state_t state;
    /* On the leader: the follower that asked (RAFT_MSG_READ_INDEX), 0 for
       its own reads; it gets the read index once confirmed, not waiting
       for the leader's own apply. */
    raft_id_t from;
    uint64_t asked; /* a follower's: r->now when it asked the leader */
} raft_read_req_t;

/* Reads the leader holds for followers at once; more are refused. */
#define RAFT_MAX_REMOTE_READS 4096

#define RAFT_VEC(type)                                                         \
    struct {                                                                   \
        type *v;                                                               \
        size_t n;                                                              \
        size_t cap;                                                            \
    }

struct raft {
    raft_options_t opts;
    raft_id_t id;

    /* Persistent state (Figure 3.1) and its durability tracking */
    raft_term_t term;
    raft_id_t vote;
    raft_log_t log;
    bool hs_dirty;              /* hard state changed, not yet handed out */
    uint64_t hs_seq;            /* write carrying the latest hard state */
    uint64_t last_seq;          /* last write number handed out */
    uint64_t persisted_seq;     /* every write up to it is durable */
    raft_index_t persisted;     /* log[1..persisted] is durable as in memory */
    raft_index_t unstable_from; /* first index not yet handed out to write */
    RAFT_VEC (raft_write_t) writes;

    /* Volatile state */
    raft_role_t role;
    raft_id_t leader;
    raft_index_t commit;
    raft_index_t applied;    /* reported by raft_applied */
    raft_index_t apply_next; /* next index to hand out for applying */
    uint64_t now;            /* ticks since raft_new */
    uint32_t election_elapsed;
    uint32_t heartbeat_elapsed;
    uint32_t randomized_timeout;

    /* Configuration (§4.1): the latest one in the log is in effect. */
    raft_conf_t conf;
    raft_index_t conf_index; /* 0: the base configuration */
    raft_conf_t base_conf;

    /* Elections: votes received in the current (pre-)election */
    RAFT_VEC (struct raft_vote {
        raft_id_t id;
        bool granted;
    })
    votes;

    /* Leader */
    RAFT_VEC (raft_progress_t) prs;
    bool need_flush;           /* new entries or commit to send */
    raft_id_t transfer_target; /* §3.10 */
    uint32_t transfer_elapsed;

    /* ReadIndex (§6.4) */
    RAFT_VEC (raft_read_req_t) reads;
    uint64_t read_round;    /* last round sent */
    bool read_round_needed; /* reads wait for round read_round + 1 */

    /* Outputs */
    RAFT_VEC (raft_held_t) held;
    RAFT_VEC (raft_msg_t) out_msgs;
    RAFT_VEC (raft_after_t) out_after; /* opts.async_sends */
    RAFT_VEC (raft_entry_t) out_entries;
    RAFT_VEC (raft_entry_t) out_committed;
    RAFT_VEC (raft_read_t) out_reads;
    RAFT_VEC (raft_read_t) done_reads; /* collected for the next batch */

    /* InstallSnapshot, follower side (snapshot.c) */
    struct {
        raft_index_t index; /* the snapshot being staged, 0: none */
        raft_term_t term;
        uint64_t next;    /* next chunk wanted */
        uint64_t ack_seq; /* write carrying chunk next - 1 */
    } snap_in;
    bool snap_pending;                  /* a chunk waits for the next batch */
    raft_snapshot_chunk_t snap_chunk;   /* that chunk (holds a data ref) */
    raft_snapshot_chunk_t out_snapshot; /* the one in the current batch */

    uint64_t dropped;
};

/* Vector helpers: grow by doubling; abort on allocation failure, which the
   core cannot recover from without losing track of the protocol. */
void *raft_vec_grow (void *v, size_t *cap, size_t need, size_t elem);
#define RAFT_VEC_PUSH(vec, item)                                               \
    do {                                                                       \
        if ((vec).n == (vec).cap)                                              \
            (vec).v = raft_vec_grow ((vec).v, &(vec).cap, (vec).n + 1,         \
                                     sizeof *(vec).v);                         \
        (vec).v[(vec).n++] = (item);                                           \
    } while (0)

/* raft.c */
void raft_emit (raft_t *r, raft_event_type_t type, uint64_t a, uint64_t b);
/* Queue m for sending once the hard state it depends on is durable; if
   ack_index > 0, also once log[1..ack_index] is. Takes over m's entries. */
void raft_send (raft_t *r, raft_msg_t *m, raft_index_t ack_index);
bool raft_is_voter (const raft_t *r, raft_id_t id);
/* raft_options_t.self_check on the configuration in effect: false when
   this server must not vote or stand as the id it has (raft.h). */
bool raft_is_self (const raft_t *r);
uint32_t raft_quorum (const raft_t *r);
void raft_set_hard_state (raft_t *r, raft_term_t term, raft_id_t vote);
/* Append one entry to the local log (any role); applies configurations. */
void raft_append_local (raft_t *r, const raft_entry_t *e);
void raft_truncate_local (raft_t *r, raft_index_t from);

/* election.c */
void raft_become_follower (raft_t *r, raft_term_t term, raft_id_t leader);
void raft_become_leader (raft_t *r);
void raft_campaign (raft_t *r, bool pre_vote, bool transfer);
void raft_tick_election (raft_t *r);
void raft_tick_leader (raft_t *r);
void raft_recv_vote (raft_t *r, const raft_msg_t *m);
void raft_recv_vote_resp (raft_t *r, const raft_msg_t *m);
void raft_recv_timeout_now (raft_t *r, const raft_msg_t *m);
void raft_reset_timeout (raft_t *r);

/* replication.c */
void raft_recv_append (raft_t *r, const raft_msg_t *m);
void raft_recv_append_resp (raft_t *r, const raft_msg_t *m);
void raft_recv_heartbeat (raft_t *r, const raft_msg_t *m);
void raft_recv_heartbeat_resp (raft_t *r, const raft_msg_t *m);
void raft_flush (raft_t *r); /* send what followers lack */
void raft_bcast_heartbeat (raft_t *r);
void raft_maybe_commit (raft_t *r);
void raft_send_timeout_now (raft_t *r, raft_id_t to);

/* progress.c */
raft_progress_t *raft_progress_get (raft_t *r, raft_id_t id);
void raft_progress_reset_all (raft_t *r); /* on becoming leader */
void raft_progress_sync_conf (raft_t *r); /* add/remove after a conf change */
void raft_progress_free_all (raft_t *r);
void raft_progress_become_probe (raft_t *r, raft_progress_t *pr);
void raft_progress_become_replicate (raft_t *r, raft_progress_t *pr);
bool raft_inflight_full (const raft_t *r, const raft_progress_t *pr);
void raft_inflight_add (raft_t *r, raft_progress_t *pr, raft_index_t last);
void raft_inflight_free_to (raft_progress_t *pr, raft_index_t index);
void raft_inflight_free_first (raft_progress_t *pr);

/* membership.c */
void raft_conf_changed (raft_t *r);   /* rescan the log for the config */
void raft_conf_on_commit (raft_t *r); /* §4.2.2 removed leader */
void raft_learner_progress (raft_t *r, raft_progress_t *pr);

/* snapshot.c */
void raft_snapshot_begin (raft_t *r, raft_progress_t *pr);
void raft_recv_snapshot (raft_t *r, const raft_msg_t *m);
void raft_recv_snapshot_resp (raft_t *r, const raft_msg_t *m);
void raft_snapshot_tick (raft_t *r); /* leader, each heartbeat */
/* Send m (made after a chunk handed out as write seq) once seq is
   durable. */
void raft_send_after (raft_t *r, raft_msg_t *m, uint64_t seq);

/* replication.c, shared with snapshot.c */
void raft_follow (raft_t *r, const raft_msg_t *m);

/* read.c */
void raft_read_on_commit (raft_t *r);
void raft_read_confirm (raft_t *r);
void raft_read_on_applied (raft_t *r);
void raft_read_fail_all (raft_t *r);
void raft_read_fail_forwarded (raft_t *r);
void raft_read_tick (raft_t *r);
void raft_recv_read_index (raft_t *r, const raft_msg_t *m);
void raft_recv_read_index_resp (raft_t *r, const raft_msg_t *m);
void raft_read_start_round (raft_t *r);

/* ready.c: release what the last batch handed out (raft_destroy too). */
void raft_free_out (raft_t *r);

#endif
