/*  raft.h -- the nsxd consensus core.

    A pure Raft state machine after Ongaro's dissertation ("Consensus: Bridging
    Theory and Practice", 2014; section numbers below refer to it). It does no
    I/O and has no clock, threads or randomness of its own:

      * time arrives as raft_tick () calls;
      * randomness comes from the generator in raft_options_t;
      * messages arrive as raft_msg_t structs through raft_step ();
      * client requests arrive through raft_propose (), raft_read_index (),
        raft_add_learner (), raft_promote (), raft_remove (),
        raft_transfer_leadership ().

    What the caller must do is handed out as a batch (the seam of etcd-io/raft's
    Ready, with an asynchronous persistence acknowledgement):

        raft_ready_t rd;
        if (raft_ready (r, &rd)) {
            start persisting rd.hs / rd.entries as write number rd.seq;
            send rd.msgs;                   -- may go before the write ends
            apply rd.committed in order;    -- then raft_applied (r, idx)
            answer rd.reads;
        }
        ... later, when write rd.seq (and all before it) is durable:
        raft_persisted (r, rd.seq);

    The core enforces the durability contract itself, so the caller cannot get
    it wrong: a message that depends on state not yet durable (any message
    after a term or vote change, a follower's acknowledgement of entries) is
    held inside the core and only appears in rd.msgs after raft_persisted ()
    reported the write that made it true (or, with opts.async_sends, in
    rd.after with the write it waits for, for the caller's storage to send
    once that write is durable). The leader's own AppendEntries go
    out at once (§10.2.1: the leader may write its log in parallel with
    replication) but its own log counts toward a majority only once durable.

    Ownership: the arrays in a raft_ready_t belong to the core and stay valid
    until the next raft_ready () or raft_destroy (). Entry payloads are
    reference-counted raft_buf_t; take a reference to keep one longer. The
    reference count is not atomic: a raft_t and its buffers live in one thread.

    The values the core speaks in (ids, terms, return codes, buffers,
    configurations, entries, messages) are in raft_types.h; this file is the
    API: creating a node, driving it, compaction, the batch, reading state.
*/
#ifndef RAFT_H_INCLUDED
#define RAFT_H_INCLUDED

#include "raft_types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct raft raft_t;

/*  ---------------------------------------------------------------------
    Creating a node                                                      */

typedef enum {
    RAFT_FOLLOWER = 0,
    RAFT_PRECANDIDATE, /* §9.6: collecting pre-votes, term unchanged */
    RAFT_CANDIDATE,
    RAFT_LEADER,
} raft_role_t;

const char *raft_role_name (raft_role_t role);

typedef struct {
    raft_term_t term; /* currentTerm */
    raft_id_t vote;   /* votedFor, 0 = none */
} raft_hard_state_t;

/* Trace events: what happened inside the core, for logs, the simulator's
   readable trace and the node's monitoring socket. */
typedef enum {
    RAFT_EV_ROLE = 1,          /* a = new role, b = leader id */
    RAFT_EV_TERM,              /* a = new term */
    RAFT_EV_ELECTION_START,    /* a = 1 pre-vote round, 0 real election */
    RAFT_EV_ELECTION_WON,      /* a = 1 pre-vote, 0 real; b = votes */
    RAFT_EV_ELECTION_LOST,     /* a = 1 pre-vote, 0 real; b = rejections */
    RAFT_EV_COMMIT,            /* a = old commit, b = new commit */
    RAFT_EV_APPEND,            /* a = first index, b = last index */
    RAFT_EV_TRUNCATE,          /* a = first index removed */
    RAFT_EV_CONF,              /* a = index of the config now in effect */
    RAFT_EV_READ_ROUND,        /* a = round, b = reads confirmed */
    RAFT_EV_TRANSFER,          /* a = target, b = 1 start, 0 abort, 2 sent */
    RAFT_EV_CHECK_QUORUM_LOST, /* a = active voters seen */
    RAFT_EV_SNAPSHOT,          /* a = index; b = 0 log compacted up to it,
                                  1 snapshot installed */
    RAFT_EV_SNAPSHOT_SEND,     /* a = follower, b = chunk (0: a new send) */
} raft_event_type_t;

typedef struct {
    raft_event_type_t type;
    raft_term_t term;
    uint64_t a, b;
} raft_event_t;

const char *raft_event_name (raft_event_type_t type);

typedef struct {
    raft_id_t id;                 /* this server */
    uint32_t election_ticks;      /* election timeout, in ticks (e.g. 10) */
    uint32_t heartbeat_ticks;     /* heartbeat interval, in ticks (e.g. 1) */
    uint32_t max_batch_entries;   /* entries per AppendEntries */
    size_t max_batch_bytes;       /* payload bytes per AppendEntries */
    uint32_t max_inflight;        /* pipelined AppendEntries per follower */
    bool pre_vote;                /* §9.6 */
    bool check_quorum;            /* §6.2 leader steps down without a quorum */
    uint64_t (*rand) (void *ctx); /* the only source of randomness */
    void *rand_ctx;
    void (*trace) (void *ctx, const raft_event_t *ev); /* optional */
    void *trace_ctx;
    /* Optional: is s (this server's entry in the configuration in effect,
       NULL when the configuration does not list this server) this server
       as it is now? The caller stores an incarnation in addr (nsxd: the
       data directory's id) and answers false for an entry written for an
       earlier incarnation, e.g. before the server's disk was wiped. A
       server that is not itself in the configuration neither votes
       (votes and pre-votes are refused), nor stands, nor obeys TimeoutNow;
       it still accepts entries and acknowledges them once durable, since
       an acknowledgement says only what it now holds. A server that lost
       its log and its votedFor would otherwise vote as its old self and
       could elect a leader that lacks an entry it had acknowledged (the
       Leader Completeness argument of §3.6.3 assumes voters keep what
       they acknowledged, §3.8). NULL: always itself. */
    bool (*self_check) (void *ctx, const raft_server_t *s);
    void *self_ctx;
    /* The caller's storage sends what waits on durability (etcd-io/raft's
       AsyncStorageWrites): instead of holding a message until
       raft_persisted () and handing it out in rd.msgs, the core hands it
       out at once in rd.after with the write it waits for, and the
       caller's storage sends it once that write is durable, without a
       hand-off back to the thread driving the core (a follower's
       acknowledgement leaves right after its fsync). false: rd.after
       stays empty. */
    bool async_sends;
} raft_options_t;

/* Defaults: election 10, heartbeat 1, 256 entries, 1 MiB, 64 inflight,
   pre_vote and check_quorum on. id and rand must then be set. */
void raft_options_default (raft_options_t *opts);

/* What was durable when the server (re)started: hard state, the log base
   (index and term of the last entry covered by a snapshot, 0/0 without one,
   and the configuration in effect at the base), the entries after the base
   in order, and how far the state machine had applied. The core takes a
   reference on every entry's data. */
typedef struct {
    raft_hard_state_t hs;
    raft_index_t base_index;
    raft_term_t base_term;
    raft_conf_t base_conf; /* n = 0: no configuration (a joining server) */
    const raft_entry_t *entries;
    size_t n_entries;
    raft_index_t applied; /* <= last index; entries up to it are done */
} raft_boot_t;

/* Returns NULL on bad options or a boot state that breaks an invariant. */
raft_t *raft_new (const raft_options_t *opts, const raft_boot_t *boot);
void raft_destroy (raft_t **self_p);

/* The entries a brand-new cluster starts with: one RAFT_ENTRY_CONF entry at
   index 1, term 1, holding conf. Every initial server must boot from the same
   entry (canonical/raft's raft_bootstrap does the same) so that Log Matching
   holds from the start. The caller persists it before raft_new. */
raft_entry_t raft_bootstrap_entry (const raft_conf_t *conf);

/*  ---------------------------------------------------------------------
    Driving the core                                                     */

void raft_tick (raft_t *r);
/* Borrowed message: the core takes references on what it keeps. Messages
   not addressed to this server, or malformed, are dropped and counted. */
void raft_step (raft_t *r, const raft_msg_t *m);

/* Propose a command (leader only). The core takes a reference on data. On
   success *index and *term tell which entry will carry it: the command is
   committed when an entry at *index with term *term is handed out to apply;
   if a different term shows up at *index, it was lost. */
int raft_propose (raft_t *r, raft_buf_t *data, raft_index_t *index,
                  raft_term_t *term);

/* Linearizable read (§6.4). ctx is the caller's id for the read; it comes
   back in raft_ready_t.reads once the leader has confirmed its leadership
   with a heartbeat round taken after the request and applied up to the read
   index; or with ok=false if leadership is lost first.
   On a follower that knows its leader, the read is sent to the leader
   (RAFT_MSG_READ_INDEX), which runs the same steps and answers with its
   read index; the read comes back once this follower has applied up to
   it, or with ok=false if the leader refuses or the term or leader
   changes first. A lost request or answer is not retried: the caller's
   deadline covers it. RAFT_ERR_NOT_LEADER when no leader is known (or
   while a candidate). */
int raft_read_index (raft_t *r, uint64_t ctx);

/* Membership changes, one server at a time (§4.1-4.3), leader only. Each
   appends one RAFT_ENTRY_CONF entry; *index tells which. */
int raft_add_learner (raft_t *r, raft_id_t id, const char *addr,
                      raft_index_t *index);
int raft_promote (raft_t *r, raft_id_t id, raft_index_t *index);
int raft_remove (raft_t *r, raft_id_t id, raft_index_t *index);
/* §4.2.1: a learner is caught up once a replication round finished within
   an election timeout. */
bool raft_caught_up (const raft_t *r, raft_id_t id);

/* Leadership transfer (§3.10). target 0 picks the most up-to-date voter. */
int raft_transfer_leadership (raft_t *r, raft_id_t target);

/*  ---------------------------------------------------------------------
    Snapshots and log compaction (chapter 5)

    The caller's state machine is its snapshot (§5.3, disk-based state
    machines): once it durably holds every entry up to an index, the log
    before it can go. raft_compact tells the core; the caller deletes the
    stored entries and records the new base (index, term, configuration,
    from raft_status and raft_base_conf) in one atomic write.

    A follower that needs entries from before the leader's base gets the
    state machine instead, in chunks (RAFT_MSG_SNAPSHOT). The leader's
    caller produces them: for chunk 0 it takes a point-in-time copy of its
    state machine (of applied, hence committed, entries) and fills in its
    index, term, configuration and first bytes; for chunk n > 0 it sends
    the next bytes of the same copy, or drops the message if it has no
    longer got that copy (the core starts over). One chunk is in flight at
    a time; heartbeats go on between them. The follower's caller stages the
    chunks the core hands out (raft_ready_t.snapshot) and, with the last,
    switches atomically to the staged state (see there). A lost chunk is
    sent again; a restarted follower or a new leader starts over. */

/* The state machine durably holds every entry up to index (index <=
   applied): drop them from the log. RAFT_ERR_INVALID if index > applied;
   RAFT_OK (nothing to do) if index <= the base already. */
int raft_compact (raft_t *r, raft_index_t index);
/* Data bytes of the entries held in (from, to] (to size compaction by
   memory as well as by count). */
size_t raft_log_bytes (const raft_t *r, raft_index_t from, raft_index_t to);
/* The configuration in effect at the log's base. */
const raft_conf_t *raft_base_conf (const raft_t *r);

/*  ---------------------------------------------------------------------
    The batch                                                            */

typedef struct {
    uint64_t ctx;
    raft_index_t index;
    bool ok;
} raft_read_t;

/* A snapshot chunk to stage (follower side). chunk 0 starts a new staged
   snapshot (anything staged before is discarded). With done, after
   staging the chunk, the write must atomically: make the staged state the
   state machine's (applied = index), make (index, term, conf) the log's
   base, delete the stored entries up to index, and, unless keep_tail,
   every stored entry after it too. A crash leaves the old state or the
   new, never a mix. */
typedef struct {
    raft_index_t index;
    raft_term_t term;
    raft_conf_t conf;
    uint64_t chunk;
    raft_buf_t *data;
    bool done;
    bool keep_tail;
} raft_snapshot_chunk_t;

/* A message to send once a write is durable (raft_ready_t.after). */
typedef struct {
    uint64_t seq;
    raft_index_t index;
    raft_term_t term;
    raft_msg_t msg;
} raft_after_t;

typedef struct {
    /* 1. Persist, asynchronously, in seq order; then raft_persisted (seq).
       seq == 0: nothing to persist. First the snapshot chunk, if any; then
       the hard state; if n_entries > 0, delete every stored entry with
       index >= entries[0].index, then store entries. */
    uint64_t seq;
    const raft_snapshot_chunk_t *snapshot; /* NULL: none */
    bool hs_changed;
    raft_hard_state_t hs;
    const raft_entry_t *entries;
    size_t n_entries;

    /* 2. Send. */
    const raft_msg_t *msgs;
    size_t n_msgs;
    /* 2b. With opts.async_sends: send each after write after[i].seq (and
       every one before it) is durable, and only if the log entry at
       after[i].index still has term after[i].term then (index 0: no such
       condition; an entry since replaced by a newer leader's must not be
       vouched for). Never before: a vote or an acknowledgement sent
       early could elect a leader that lacks a committed entry. */
    const raft_after_t *after;
    size_t n_after;

    /* 3. Apply, in order, exactly once; then raft_applied (). */
    const raft_entry_t *committed;
    size_t n_committed;

    /* 4. Reads that became safe (or failed). */
    const raft_read_t *reads;
    size_t n_reads;
} raft_ready_t;

/* Fill *rd with everything to do now; false if there is nothing. */
bool raft_ready (raft_t *r, raft_ready_t *rd);
/* Write number seq, and every one before it, is durable. */
void raft_persisted (raft_t *r, uint64_t seq);
/* The state machine has applied every entry up to index. */
void raft_applied (raft_t *r, raft_index_t index);

/*  ---------------------------------------------------------------------
    Reading state                                                        */

typedef struct {
    raft_id_t id;
    bool voter;
    raft_index_t match;
    raft_index_t next;
    bool active; /* heard from within the last election timeout */
} raft_progress_info_t;

typedef struct {
    raft_id_t id;
    raft_role_t role;
    raft_term_t term;
    raft_id_t vote;
    raft_id_t leader;
    raft_index_t commit;
    raft_index_t applied;
    raft_index_t persisted;
    raft_index_t last_index;
    raft_term_t last_term;
    raft_index_t base_index;
    raft_term_t base_term;
    raft_index_t conf_index; /* index of the config in effect (0: base) */
    bool conf_committed;
    raft_id_t transfer_target;
    uint64_t dropped_msgs; /* malformed or misaddressed input */
    size_t log_bytes;      /* data bytes of the entries held in memory */
} raft_status_t;

void raft_status (const raft_t *r, raft_status_t *st);
const raft_conf_t *raft_conf (const raft_t *r);
/* Leader only: progress of each other server; returns how many were filled. */
size_t raft_progress (const raft_t *r, raft_progress_info_t *out, size_t max);
/* Entry at index, or NULL if outside (base, last]. Borrowed. */
const raft_entry_t *raft_log_get (const raft_t *r, raft_index_t index);
/* Term of the entry at index (base term at the base), 0 if unknown. */
raft_term_t raft_log_term (const raft_t *r, raft_index_t index);

#ifdef __cplusplus
}
#endif
#endif
