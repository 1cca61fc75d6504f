/*  harness.h -- a tiny harness for the consensus core's unit tests.

    The tests drive raft_t instances by hand, through raft.h only: they build
    messages as raft_msg_t structs, call raft_step (), drain raft_ready (),
    report writes durable with raft_persisted () and look at raft_status ().

    What is here:
      * CHECK (expr) and the runner: tests/lib/check.h; H_RUN (fn) runs one
        test and prints one line for it.
      * Options and boot states: deterministic randomness, clusters whose
        servers are 1..n with addresses "n1".."nN", logs given as terms.
      * h_batch_t: a copy of what raft_ready () handed out (messages deep
        copied, entries referenced), so it outlives the next raft_ready ().
      * Drivers: settle a node (persist every write at once, apply every
        committed entry), elect a node with fake voters, acknowledge what a
        leader sent, and pump messages among several real nodes.

    A message that is looked up and not found comes back as h_no_msg (all
    zero, type 0), never NULL, so a failed lookup shows up as a failed CHECK
    on its fields instead of a crash.
*/
#ifndef HARNESS_H_INCLUDED
#define HARNESS_H_INCLUDED

#include "check.h"
#include "raft.h"
#include "rng.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  ---------------------------------------------------------------------
    Checks and the runner                                                */

/* CHECK, the runner and the watchdog are tests/lib/check.h's. */
#define H_RUN(fn) check_run (#fn, fn)
/* The number of elements of an array. */
#define N_OF(a) (sizeof (a) / sizeof ((a)[0]))

/* The suites, one per file. */
void suite_election (void);
void suite_vote (void);
void suite_leader (void);
void suite_append (void);
void suite_replication (void);
void suite_read (void);
void suite_membership (void);
void suite_transfer (void);
void suite_misc (void);
void suite_snapshot (void);
void suite_identity (void);
void suite_follower_read (void);

/*  ---------------------------------------------------------------------
    Options, configurations, boot states                                 */

/* Generators for raft_options_t.rand. h_rand_zero makes every randomized
   election timeout exactly election_ticks. h_rand_fixed returns
   *(uint64_t *) ctx. A real generator: tests/lib/rng.h's rng_callback. */
uint64_t h_rand_zero (void *ctx);
uint64_t h_rand_fixed (void *ctx);

/* raft_options_default () with id and rand = h_rand_zero. */
void h_opts (raft_options_t *o, raft_id_t id);

/* Servers 1..voters are voters, the next `learners` ids learners; server i
   has address "n<i>". */
raft_conf_t h_conf (uint32_t voters, uint32_t learners);

/* A server booted from the bootstrap CONF entry (index 1, term 1) of conf,
   followed by NORMAL entries whose terms are terms[0..n) at indexes 2, 3...
   Hard state (term, vote); term is raised to the last entry's term if
   lower. applied: entries up to it count as applied (and committed). */
raft_t *h_boot (const raft_options_t *o, const raft_conf_t *conf,
                raft_term_t term, raft_id_t vote, const raft_term_t *terms,
                size_t n, raft_index_t applied);

/* A brand-new server of conf with h_opts (id): term 1, log = bootstrap. */
raft_t *h_new (raft_id_t id, const raft_conf_t *conf);

/* A joining server: no configuration, no log, term 0. */
raft_t *h_new_empty (const raft_options_t *o);

raft_status_t h_st (const raft_t *r);

/* Term of the entry at index in r's log, 0 if none. */
raft_term_t h_term_at (const raft_t *r, raft_index_t index);
/* Type of the entry at index, or -1 if none. */
int h_type_at (const raft_t *r, raft_index_t index);

/* True if r's log is exactly: index 1 of term 1, then terms[0..n). */
bool h_log_is (const raft_t *r, const raft_term_t *terms, size_t n);

/*  ---------------------------------------------------------------------
    Batches                                                              */

typedef struct {
    uint64_t seq; /* last write handed out, 0: none */
    bool hs_changed;
    raft_hard_state_t hs;
    raft_entry_t *entries; /* to persist; one reference each */
    size_t n_entries, cap_entries;
    raft_msg_t *msgs; /* deep copies */
    size_t n_msgs, cap_msgs;
    raft_entry_t *committed; /* one reference each */
    size_t n_committed, cap_committed;
    raft_read_t *reads;
    size_t n_reads, cap_reads;
} h_batch_t;

/* Release everything a batch holds and zero it (reusable afterwards). */
void h_batch_free (h_batch_t *b);

/* One raft_ready (), appended to b. Returns raft_ready ()'s result; *seq
   (may be NULL) gets this batch's write number. Persists nothing. */
bool h_collect (raft_t *r, h_batch_t *b, uint64_t *seq);

/* Reset b, then one raft_ready () into it. Persists nothing. */
bool h_ready (raft_t *r, h_batch_t *b);

/* Reset b, then drain r: raft_ready (), raft_persisted () of its write at
   once, raft_applied () of its committed entries if apply, until
   raft_ready () has nothing more. b gets everything handed out. */
void h_settle_ex (raft_t *r, h_batch_t *b, bool apply);
void h_settle (raft_t *r, h_batch_t *b); /* apply = true */

extern const raft_msg_t h_no_msg;

/* The first message of type to `to` (0: to anyone), or &h_no_msg. */
const raft_msg_t *h_find (const h_batch_t *b, raft_msg_type_t type,
                          raft_id_t to);
/* The k-th (from 0) such message, or &h_no_msg. */
const raft_msg_t *h_find_nth (const h_batch_t *b, raft_msg_type_t type,
                              raft_id_t to, size_t k);
size_t h_count (const h_batch_t *b, raft_msg_type_t type, raft_id_t to);

/*  ---------------------------------------------------------------------
    Messages                                                             */

raft_msg_t h_msg (raft_msg_type_t type, raft_id_t from, raft_id_t to,
                  raft_term_t term);

/* An APPEND with NORMAL entries of the given terms at prev_index + 1...;
   the message owns them: raft_msg_clear () it. */
raft_msg_t h_append (raft_id_t from, raft_id_t to, raft_term_t term,
                     raft_index_t prev_index, raft_term_t prev_term,
                     raft_index_t commit, const raft_term_t *terms, size_t n);

/* raft_step (), then raft_msg_clear (m). */
void h_step_clear (raft_t *r, raft_msg_t *m);

/* Answer, on behalf of its receiver, a message r sent: APPEND -> successful
   APPEND_RESP for all its entries; HEARTBEAT -> HEARTBEAT_RESP echoing ctx;
   PREVOTE/VOTE -> granted response. Other types are ignored. */
void h_reply_ok (raft_t *r, const raft_msg_t *m);

/* Propose text on leader r; returns the index it got (0 on failure). */
raft_index_t h_propose (raft_t *r, const char *text);

/* h_reply_ok () every APPEND and HEARTBEAT in b sent to `to` (0: to all). */
void h_ack_all (raft_t *r, const h_batch_t *b, raft_id_t to);

/*  ---------------------------------------------------------------------
    Elections and networks                                               */

/* Tick r until its election timeout fires, then grant its pre-votes and
   votes on behalf of the voters in grant[] (0-terminated; NULL: every
   other voter), until it wins. Returns true if r is then leader. The
   leader's first batch is left unread. */
bool h_elect_with (raft_t *r, const raft_id_t *grant);
bool h_elect (raft_t *r);

/* h_elect () and then h_settle () into b: b holds the new leader's first
   AppendEntries (its no-op is persisted; nothing is acknowledged). */
bool h_make_leader (raft_t *r, h_batch_t *b);

/* A leader of term 2 of conf with options o whose no-op (index 2) every
   other server acknowledged: commit = applied = 2, every follower
   replicating with match 2. */
raft_t *h_new_leader (const raft_options_t *o, const raft_conf_t *conf);

/* Deliver messages among nodes[0..n) (persisting and applying at once)
   until none is produced. Messages to servers not in nodes are appended to
   *rest (if not NULL); drop (if not NULL) returning true loses a message.
   Returns the number of messages moved. */
size_t h_pump_ex (raft_t **nodes, size_t n, h_batch_t *rest,
                  bool (*drop) (const raft_msg_t *m, void *ctx), void *ctx);
size_t h_pump (raft_t **nodes, size_t n, h_batch_t *rest);

#endif
