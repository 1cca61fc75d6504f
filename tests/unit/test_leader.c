/*  test_leader.c -- Figure 3.1 "Rules for Servers", leaders: the no-op and
    first AppendEntries, heartbeats, check-quorum (§6.2), and the leader
    stickiness (§4.2.3) that keeps a live leader in place.

    Section numbers refer to Ongaro's dissertation.
*/
#include "harness.h"

#include <stdio.h>

/* §4.2.3: a server that heard from a leader within the minimum election
   timeout ignores PREVOTE and VOTE (no reply, no term change), unless the
   request follows a TimeoutNow (§3.10, msg.transfer). After the timeout
   has passed it answers again. */
static void
test_leader_stickiness (void)
{
    raft_options_t o;
    h_opts (&o, 3);
    uint64_t v = 9; /* randomized timeout 19: no election of its own */
    o.rand = h_rand_fixed;
    o.rand_ctx = &v;
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_boot (&o, &c, 2, 0, NULL, 0, 0);
    h_batch_t b = {0};
    raft_msg_t hb = h_msg (RAFT_MSG_HEARTBEAT, 1, 3, 2);
    raft_step (r, &hb);
    h_settle (r, &b);
    CHECK (h_st (r).leader == 1);

    raft_msg_t m = h_msg (RAFT_MSG_PREVOTE, 2, 3, 3);
    m.prev_index = 1;
    m.prev_term = 1;
    raft_step (r, &m);
    m.type = RAFT_MSG_VOTE;
    raft_step (r, &m);
    h_settle (r, &b);
    CHECK (b.n_msgs == 0);
    CHECK (h_st (r).term == 2 && h_st (r).vote == 0);
    CHECK (h_st (r).leader == 1);

    /* An election timeout without the leader: the lease is over. */
    for (int i = 0; i < 10; i++)
        raft_tick (r);
    CHECK (h_st (r).role == RAFT_FOLLOWER);
    m.type = RAFT_MSG_PREVOTE;
    raft_step (r, &m);
    h_settle (r, &b);
    const raft_msg_t *resp = h_find (&b, RAFT_MSG_PREVOTE_RESP, 2);
    CHECK (resp->type == RAFT_MSG_PREVOTE_RESP && !resp->reject);
    CHECK (h_st (r).term == 2);
    raft_destroy (&r);

    /* Within the lease, a transfer election is answered. */
    r = h_boot (&o, &c, 2, 0, NULL, 0, 0);
    raft_step (r, &hb);
    h_settle (r, &b);
    m.type = RAFT_MSG_VOTE;
    m.transfer = true;
    raft_step (r, &m);
    h_settle (r, &b);
    resp = h_find (&b, RAFT_MSG_VOTE_RESP, 2);
    CHECK (resp->type == RAFT_MSG_VOTE_RESP && !resp->reject);
    CHECK (resp->term == 3);
    CHECK (h_st (r).term == 3 && h_st (r).vote == 2);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Figure 3.1, Leaders: "Upon election: send initial empty AppendEntries
   RPCs"; §6.4/§3.6.2: the new leader's first entry is a no-op of its term.
   §10.2.1: its AppendEntries go out in the same batch as the write of its
   own log, without waiting for it. */
static void
test_leader_noop_and_first_append (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new (1, &c);
    h_batch_t b = {0};
    CHECK (h_elect (r));
    CHECK (h_st (r).leader == 1 && h_st (r).term == 2);
    CHECK (h_st (r).last_index == 2 && h_st (r).last_term == 2);
    CHECK (h_type_at (r, 2) == RAFT_ENTRY_NOOP);

    h_ready (r, &b);
    CHECK (b.seq != 0 && b.n_entries == 1);
    CHECK (b.n_entries == 1 && b.entries[0].index == 2 &&
           b.entries[0].type == RAFT_ENTRY_NOOP);
    CHECK (h_count (&b, RAFT_MSG_APPEND, 0) == 2);
    for (raft_id_t to = 2; to <= 3; to++) {
        const raft_msg_t *m = h_find (&b, RAFT_MSG_APPEND, to);
        CHECK (m->term == 2 && m->prev_index == 1 && m->prev_term == 1);
        CHECK (m->n_entries == 1 && m->commit == 0);
        if (m->n_entries == 1)
            CHECK (m->entries[0].index == 2 && m->entries[0].term == 2 &&
                   m->entries[0].type == RAFT_ENTRY_NOOP);
    }
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Figure 3.1, Leaders: heartbeats "during idle periods to prevent election
   timeouts", here every heartbeat_ticks; the commit they carry never
   exceeds what the follower is known to hold. */
static void
test_leader_heartbeat (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    o.heartbeat_ticks = 3;
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o, &c);
    h_batch_t b = {0};
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 2; i++) {
            raft_tick (r);
            h_settle (r, &b);
            CHECK (h_count (&b, RAFT_MSG_HEARTBEAT, 0) == 0);
        }
        raft_tick (r);
        h_settle (r, &b);
        CHECK (h_count (&b, RAFT_MSG_HEARTBEAT, 0) == 2);
        for (raft_id_t to = 2; to <= 3; to++) {
            const raft_msg_t *m = h_find (&b, RAFT_MSG_HEARTBEAT, to);
            CHECK (m->term == 2 && m->commit == 2 && m->n_entries == 0);
        }
    }

    /* A follower that holds nothing yet is told commit 0. */
    raft_index_t idx;
    CHECK (raft_add_learner (r, 4, "n4", &idx) == RAFT_OK);
    for (int i = 0; i < 3; i++)
        raft_tick (r);
    h_settle (r, &b);
    CHECK (h_find (&b, RAFT_MSG_HEARTBEAT, 4)->type == RAFT_MSG_HEARTBEAT);
    CHECK (h_find (&b, RAFT_MSG_HEARTBEAT, 4)->commit == 0);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §6.2 check-quorum: a leader that has not heard from a majority within an
   election timeout steps down (same term, no leader known); one that hears
   from a majority stays; without check_quorum it stays regardless. */
static void
test_leader_check_quorum (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o, &c);
    h_batch_t b = {0};
    /* Server 2 answers every heartbeat up to the check at tick 20 (not
       after it), server 3 is gone. */
    for (int i = 0; i < 20; i++) {
        raft_tick (r);
        h_settle (r, &b);
        if (i < 19)
            h_ack_all (r, &b, 2);
    }
    CHECK (h_st (r).role == RAFT_LEADER);
    for (int i = 0; i < 9; i++) {
        raft_tick (r);
        h_settle (r, &b);
    }
    CHECK (h_st (r).role == RAFT_LEADER);
    raft_tick (r);
    CHECK (h_st (r).role == RAFT_FOLLOWER);
    CHECK (h_st (r).term == 2 && h_st (r).leader == 0);
    raft_destroy (&r);

    o.check_quorum = false;
    r = h_new_leader (&o, &c);
    for (int i = 0; i < 50; i++) {
        raft_tick (r);
        h_settle (r, &b);
    }
    CHECK (h_st (r).role == RAFT_LEADER);
    h_batch_free (&b);
    raft_destroy (&r);
}

void
suite_leader (void)
{
    H_RUN (test_leader_stickiness);
    H_RUN (test_leader_noop_and_first_append);
    H_RUN (test_leader_heartbeat);
    H_RUN (test_leader_check_quorum);
}
