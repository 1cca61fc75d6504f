/*  sim_kv.h -- the KV state machine (store/kvsm.h) in the simulator: every
    simulated node applies the committed entries through the same kvsm the
    node runs, over an in-memory map, and the checks here hold at every
    apply (README, "The simulator"):

    - replicas agree: the map after applying index i on top of a given
      history (the simulator's state hash there) is the same on every
      node that gets there, metadata included; a node restarted from its
      durable state or installing a snapshot starts from the map saved
      for that state, as nsxd's storage does from LevelDB;
    - a reference model: an independent, deliberately plain copy of the
      rules (compares, branches, versions) predicts the map after each
      entry and every reply (a TXN's gets see its earlier puts); so a
      TXN is all-or-nothing, and a failed compare changes nothing.

    The workload (sim_kv_command) is drawn from a hash of the op number,
    not from the simulator's generator, so adding it left the fault
    schedule of every seed as it was.
*/
#ifndef SIM_KV_H_INCLUDED
#define SIM_KV_H_INCLUDED

#include "kvsm.h"
#include "sim.h"

/* The command of client write op (a msg_kv_encode buffer, one ref):
   puts, deletes, the compare shorthands and TXNs over a few keys. */
raft_buf_t *sim_kv_command (const sim_t *s, uint64_t op);

/* Node n applies entry e (before the simulator's own state hash moves
   on): kvsm over n's map, then the checks; false (s->violation set) on a
   violation. */
bool sim_kv_apply (sim_t *s, sim_node_t *n, const raft_entry_t *e);

/* Client sessions (§6.3, store/kvsm_session.h): a few clients hold a
   session each, learnt when its SOPEN applies (on whichever node applies
   it first); last is the client's outstanding command, which it
   sometimes proposes again (a retry after a timeout, to whichever node
   it now takes for the leader, across leader changes and snapshot
   installs). The model checks each (session, seq) applies at most once
   and that every duplicate gets the first reply. */
#define SIM_KV_CLIENTS 3
#define SIM_KV_TTL_MS 400 /* short: sessions expire within a seed */
typedef struct {
    uint64_t sid, seq; /* sid 0: none (an SOPEN is proposed) */
    raft_buf_t *last;  /* the last command sent (msg_kv_encode), or NULL */
} sim_kv_client_t;
sim_kv_client_t *sim_kv_clients (const sim_t *s);

/* sim_kv_session.c: the clients and the first application of each
   (session, seq), for the checks. */
typedef struct sim_kv_sessions sim_kv_sessions_t;
sim_kv_sessions_t *sim_kv_sessions_new (void);
void sim_kv_sessions_destroy (sim_kv_sessions_t **self_p);
sim_kv_client_t *sim_kv_sessions_clients (sim_kv_sessions_t *self);
/* A node's copy of table t to apply on (a new one if t is NULL); one
   restored from a restart or an install gets it through the codec, as
   LevelDB and snapshots carry it. */
kvsm_sessions_t *sim_kv_sessions_copy (const kvsm_sessions_t *t,
                                       bool through_codec);
/* The checks of entry e that node applied (cmd, res; the node's table
   after in after; its KV data unchanged or not; its table last came
   through the codec at codec_at): the clients learn their sessions and
   forget expired ones; a refusal or a session command changes no
   record; a (session, seq) applies at most once and each duplicate
   gets the first reply, naming the first entry. *plain: false when the
   entry is not to be checked as a write of its own (the reference
   model). False (s->violation set) on a violation. */
bool sim_kv_session_check (sim_t *s, sim_kv_sessions_t *ss, raft_id_t node,
                           raft_index_t codec_at, const raft_entry_t *e,
                           const kvsm_cmd_t *cmd, const kvsm_result_t *res,
                           const kvsm_sessions_t *after, bool kv_unchanged,
                           bool *plain);

/* Leases (store/kvsm_lease.h, store/lessor.h; sim_kv_lease*.c). Every
   node owns a lessor, promoted when it becomes leader with the table as
   its applied state has it (extend: an election timeout), told of what
   it applies, renewing a lease on a keep-alive only once a read index
   round confirmed its leadership, and proposing LREVOKE (expired) for
   what is due on each tick; the lessors' clock is the simulator's, in
   ms. A few clients grant leases and put keys with them; one keeps its
   lease alive, one for a while, one never. The checks:
   (a) replicas at one index hold equal tables (the maps' equality);
   (b) the reference model and the table's transitions: a grant adds the
       entry's index, a revoke removes its lease and deletes exactly its
       keys, a put attaches or detaches, a command naming a missing lease
       is refused whole, and every reply says so;
   (c) expiry's safety: an LREVOKE (expired) is first applied (committed)
       no earlier than TTL after the lease's grant was first applied and
       after every acknowledgement of a keep-alive, in the simulator's ms
       (checked both when it applies and when a later acknowledgement
       arrives);
   (d) liveness: once clients stop, the leader's table empties (leases
       nobody keeps alive are revoked) before the run may end. */
#define SIM_KV_LEASE_CLIENTS 3
kvsm_leases_t *sim_kv_leases_copy (const kvsm_leases_t *t, bool through_codec);
/* n's table at its applied state (NULL: empty). */
const kvsm_leases_t *sim_kv_node_leases (sim_t *s, const sim_node_t *n);
/* (b) for entry e that n applied: pre and post tables; plain: applied as
   a write of its own (not a session's duplicate or refusal); exists(map,
   key): is key in the data after. */
bool sim_kv_lease_check (sim_t *s, const sim_node_t *n, const raft_entry_t *e,
                         const kvsm_cmd_t *cmd, const kvsm_result_t *res,
                         const kvsm_leases_t *pre, const kvsm_leases_t *post,
                         bool plain,
                         bool (*exists) (void *, const raft_buf_t *),
                         void *map);
/* n applied e: its lessor follows, the clients learn, (c). */
bool sim_kv_lease_applied (sim_t *s, sim_node_t *n, const raft_entry_t *e,
                           const kvsm_cmd_t *cmd, const kvsm_result_t *res);
/* A lease client's command for workload draw r, or NULL (none now). */
raft_buf_t *sim_kv_lease_command (const sim_t *s, uint64_t r);
/* Each tick of n: promote or demote its lessor, propose what expired. */
void sim_kv_lease_tick (sim_t *s, sim_node_t *n);
/* On each client event: the keep-alives that are due. */
void sim_kv_lease_clients (sim_t *s);
/* A read index result on n: true if it was a keep-alive's (taken). */
bool sim_kv_lease_read (sim_t *s, sim_node_t *n, uint64_t ctx, bool ok);
/* (d): the leader's applied table is empty. */
bool sim_kv_leases_idle (sim_t *s);
/* grants, keep-alives acknowledged, expiries, keys revoked (this run) */
void sim_kv_lease_stats (const sim_t *s, uint64_t out[4]);
void sim_kv_lease_fini (void);

/* Free the run's maps. */
void sim_kv_fini (sim_t *s);

#endif
