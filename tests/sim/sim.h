/*  sim.h -- the deterministic cluster simulator for the consensus core.

    One process, one thread, virtual time in microseconds. Everything random
    comes from one seeded generator, so a seed replays bit for bit (the run
    prints a hash of its event trace to show it).

    The world: 3, 5 or 7 servers (plus spares that join later), each a raft_t
    with a simulated disk (hard state and log, written only when a simulated
    fsync completes) and an in-memory state machine; a network that delays,
    drops, duplicates and reorders messages and applies partitions; clients
    that propose writes and ReadIndex reads; faults (crash and restart with
    only what was durable, partitions of several shapes, membership changes,
    leadership transfers). check.c verifies Raft's safety properties after
    every event.
*/
#ifndef SIM_H_INCLUDED
#define SIM_H_INCLUDED

#include "raft.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SIM_MAX_NODES 10
#define SIM_TICK_US 1000 /* one raft tick = 1 ms of virtual time */

/* A snapshot of the simulated state machine: the state after applying
   every committed entry up to index, as a hash chain over those entries,
   with the configuration in effect there. A chunked copy of it travels in
   InstallSnapshot; each chunk's bytes are a sim_snap_wire_t. */
typedef struct {
    raft_index_t index;
    raft_term_t term;
    raft_conf_t conf;
    uint64_t state;   /* the state machine's hash at index */
    uint32_t nchunks; /* how many chunks the copy is sent in */
} sim_snap_t;

typedef struct {
    raft_index_t index;
    uint64_t state;
    uint32_t nchunks, chunk;
} sim_snap_wire_t;

/* Chunks staged so far (in memory as handed out, or on disk). */
typedef struct {
    raft_index_t index;
    raft_term_t term;
    uint64_t state;
    uint32_t next; /* chunks 0..next-1 staged */
} sim_stage_t;

typedef struct {
    uint64_t seq;
    bool hs_changed;
    raft_hard_state_t hs;
    raft_entry_t *entries; /* one ref each */
    size_t n_entries;
    bool has_snap;
    raft_snapshot_chunk_t snap; /* data: one ref */
    uint64_t done_at;
    /* async_sends: messages to send once this write is durable */
    raft_after_t *after; /* msg owned (sim_msg_free'd fields) */
    size_t n_after;
} sim_write_t;

typedef struct {
    raft_index_t index;
    raft_term_t term;
    uint64_t op;
} sim_proposal_t;

typedef struct {
    uint64_t ctx;
    raft_index_t acked_before; /* highest acked write index at start */
} sim_read_t;

typedef struct {
    raft_id_t id;
    bool exists; /* started at least once */
    bool up;
    uint64_t incarnation;
    raft_t *r;
    /* disk */
    raft_hard_state_t disk_hs;
    raft_index_t disk_base; /* the log's base (compaction, snapshots) */
    raft_term_t disk_base_term;
    raft_entry_t *disk_log; /* index i at disk_log[i - disk_base - 1] */
    size_t disk_n, disk_cap;
    raft_conf_t boot_conf; /* base configuration (none for joiners) */
    sim_snap_t disk_sm;    /* the durable state machine (index 0: empty) */
    sim_stage_t disk_stage;
    /* in memory */
    sim_stage_t mem_stage;                 /* chunks handed out to stage */
    sim_snap_t sending[SIM_MAX_NODES + 1]; /* leader: copy sent to each */
    /* writes handed out but not durable yet, in order */
    sim_write_t *writes;
    size_t n_writes, cap_writes;
    /* state machine */
    raft_index_t sm_applied;
    uint64_t sm_state;   /* hash chain of the applied entries */
    raft_conf_t sm_conf; /* configuration at sm_applied */
    /* mirror of the in-memory log as handed out, as a hash chain */
    uint64_t *chain; /* chain[i] for index i; chain[0] = 0 */
    size_t chain_n, chain_cap;
    raft_index_t last_commit; /* this incarnation */
    raft_term_t checked_leader_term;
    /* clients waiting on this node */
    sim_proposal_t *props;
    size_t n_props, cap_props;
    sim_read_t *reads;
    size_t n_reads, cap_reads;
} sim_node_t;

typedef struct {
    /* configuration of the run */
    uint64_t seed;
    int n_initial;
    int n_total;       /* initial + spares */
    uint64_t chaos_us; /* faults happen until then */
    uint64_t heal_us;  /* then this long to show liveness */
    double drop, dup;
    double conf_churn; /* chance a client op is a membership change */
    uint64_t delay_min, delay_max, fsync_max;
    uint64_t fault_every, client_every;
    bool verbose; /* readable trace to stdout */
    /* Set by the fuzz harness (tests/fuzz/fuzz_cluster.c) once it forged a
       message under which Raft's safety is not claimed: the world goes on
       (disks, snapshots, applies) but no longer asks check.c. */
    bool unchecked;

    /* state */
    uint64_t rng[4];
    uint64_t now;
    uint64_t events;
    uint64_t trace_hash;
    bool blocked[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1];
    bool healed;
    bool clients_stopped;
    sim_node_t nodes[SIM_MAX_NODES + 1];
    uint64_t next_op;
    raft_id_t cur_node; /* node whose core is running, for traces */

    /* statistics */
    uint64_t n_acked, n_reads_ok, n_elections, n_crashes, n_partitions;
    uint64_t n_follower_reads_ok; /* of n_reads_ok: served by a follower */
    uint64_t n_conf_changes, n_transfers, n_msgs;
    uint64_t n_compactions, n_installs, n_chunks;
    /* sessions (sim_kv.c): writes applied once, duplicates answered with
       the first reply (in a later term than the first; after the table
       went through a restart or an install), refusals of expired ones */
    uint64_t n_sess_writes, n_sess_dups, n_sess_dups_term, n_sess_dups_codec;
    uint64_t n_sess_expired;

    /* the checker's state (check.c) */
    struct sim_check *check;
    char violation[512];
} sim_t;

uint64_t sim_rand (sim_t *s);
/* Events, in a queue ordered by (time, insertion order) (run.c). */
typedef enum {
    EV_TICK = 1,
    EV_DELIVER,
    EV_PERSIST,
    EV_CLIENT,
    EV_FAULT,
    EV_RESTART,
    EV_HEAL_LINKS,
} sim_ev_type_t;

typedef struct {
    uint64_t at;
    uint64_t seq;
    sim_ev_type_t type;
    raft_id_t node;
    uint64_t incarnation;
    raft_msg_t *msg; /* EV_DELIVER */
} sim_event_t;
void sim_push (sim_event_t ev);

/* run.c: one seed's run, its chaos period in ticks before the heal. */
typedef struct {
    bool ok;
    uint64_t hash;
    uint64_t virtual_us;
    uint64_t events;
} sim_result_t;
extern uint64_t sim_chaos_ticks;
sim_result_t sim_run (uint64_t seed, int nodes, bool verbose);

/* world.c */
void sim_seed (sim_t *s, uint64_t seed);
uint64_t sim_range (sim_t *s, uint64_t lo, uint64_t hi); /* [lo, hi] */
bool sim_chance (sim_t *s, double p);
void sim_hash_u64 (sim_t *s, uint64_t v);
void sim_addr (raft_id_t id, char *buf);
void sim_node_boot (sim_t *s, sim_node_t *n);
void sim_node_crash (sim_t *s, sim_node_t *n);
void sim_node_free (sim_node_t *n);
void sim_disk_append (sim_node_t *n, const raft_entry_t *e);
/* The disk's entry at index, or NULL (compacted, or beyond the end). */
const raft_entry_t *sim_disk_entry (const sim_node_t *n, raft_index_t index);
raft_index_t sim_disk_last (const sim_node_t *n);
/* Drop the disk's entries from index `from` on. */
void sim_disk_truncate (sim_node_t *n, raft_index_t from);
/* Drop the disk's entries up to index; (index, term) becomes the base. */
void sim_disk_compact (sim_node_t *n, raft_index_t index, raft_term_t term);
/* Stage one snapshot chunk in st (memory or disk); false on a broken
   sequence. */
bool sim_stage (sim_t *s, sim_node_t *n, sim_stage_t *st,
                const raft_snapshot_chunk_t *c, const char *where);
/* Compact n's log up to about its applied index (a fault). */
void sim_compact (sim_t *s, sim_node_t *n);
/* Leader l committed its whole log, and every server of its
   configuration is up and applied all of it. */
bool sim_caught_up (sim_t *s, sim_node_t *l);

/* net.c */
void sim_msg_free (raft_msg_t *m);
/* A copy of m on the heap, its entries' and data's buffers shared. */
raft_msg_t *sim_msg_copy (const raft_msg_t *m);
/* Hand out n's batches: writes, messages, applies, reads. */
bool sim_process (sim_t *s, sim_node_t *n);
/* Complete n's oldest write if its fsync is done. */
void sim_persist_one (sim_t *s, sim_node_t *n);

/* faults.c */
sim_node_t *sim_pick_leader (sim_t *s);
void sim_client_op (sim_t *s);
void sim_fault (sim_t *s);
void sim_heal_links (sim_t *s);

void sim_trace (sim_t *s, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
void sim_hash (sim_t *s, const void *data, size_t len);
uint64_t sim_entry_hash (const raft_entry_t *e);

/* check.c: every function returns false (and fills s->violation) when a
   property is broken. */
bool sim_fail (sim_t *s, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
void sim_check_init (sim_t *s);
void sim_check_fini (sim_t *s);
/* A node handed out entries to write: its log now ends with them. */
bool sim_check_log (sim_t *s, sim_node_t *n, const raft_entry_t *e,
                    size_t count);
/* A node (re)booted with this disk log. */
void sim_check_boot (sim_t *s, sim_node_t *n);
/* The state machine's hash after applying entry hash h onto state. */
uint64_t sim_state_next (uint64_t state, uint64_t h);
/* A node installs snapshot sn (in memory): it must be the committed state
   at its index; its log mirror restarts at the snapshot. */
bool sim_check_install (sim_t *s, sim_node_t *n, const sim_snap_t *sn,
                        bool keep_tail);
/* Inside the core: node n moves its commit index from..to. */
bool sim_check_commit_event (sim_t *s, sim_node_t *n, raft_index_t from,
                             raft_index_t to);
/* After each event: roles, terms, commit indexes. */
bool sim_check_state (sim_t *s);
/* A node applies an entry. */
bool sim_check_apply (sim_t *s, sim_node_t *n, const raft_entry_t *e);
/* A write was acknowledged to a client. */
void sim_check_acked (sim_t *s, raft_index_t index);
raft_index_t sim_check_acked_max (sim_t *s);
/* A read returned with the node's state at sm_applied. */
bool sim_check_read (sim_t *s, sim_node_t *n, const sim_read_t *rd,
                     raft_index_t index);
raft_index_t sim_check_committed (sim_t *s);

#endif
