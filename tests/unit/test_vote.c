/*  test_vote.c -- Figure 3.1 RequestVote (receiver side) and stale terms:
    stale AppendEntries refused, one vote per term, the timer reset by a
    vote, the log up-to-date check, lower terms refused.

    Section numbers refer to Ongaro's dissertation.
*/
#include "harness.h"

#include <stdio.h>

/* Figure 3.1, AppendEntries 1: "Reply false if term < currentTerm"; the
   reply carries currentTerm so that the stale leader steps down. */
static void
test_stale_append_rejected (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_boot (&o, &c, 3, 0, NULL, 0, 0);
    h_batch_t b = {0};
    const raft_term_t ents[] = {2};
    raft_msg_t m = h_append (2, 1, 2, 1, 1, 0, ents, 1);
    h_step_clear (r, &m);
    h_ready (r, &b);
    const raft_msg_t *resp = h_find (&b, RAFT_MSG_APPEND_RESP, 2);
    CHECK (resp->reject && resp->term == 3 && resp->index == 1);
    CHECK (h_st (r).last_index == 1 && h_st (r).term == 3);
    CHECK (h_st (r).leader == 0);

    m = h_msg (RAFT_MSG_HEARTBEAT, 2, 1, 2);
    raft_step (r, &m);
    h_ready (r, &b);
    resp = h_find (&b, RAFT_MSG_APPEND_RESP, 2);
    CHECK (resp->reject && resp->term == 3);
    CHECK (h_count (&b, RAFT_MSG_HEARTBEAT_RESP, 0) == 0);
    CHECK (h_st (r).leader == 0);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Figure 3.1, RequestVote 2 and §3.4: at most one vote per term, first come
   first served; the same candidate asking again gets the vote again. The
   answer waits until votedFor is durable. */
static void
test_vote_once_per_term (void)
{
    raft_conf_t c = h_conf (5, 0);
    raft_t *r = h_new (1, &c);
    h_batch_t b = {0};

    raft_msg_t m = h_msg (RAFT_MSG_VOTE, 2, 1, 2);
    m.prev_index = 1;
    m.prev_term = 1;
    raft_step (r, &m);
    CHECK (h_st (r).term == 2 && h_st (r).vote == 2);
    h_ready (r, &b);
    CHECK (b.hs_changed && b.hs.term == 2 && b.hs.vote == 2);
    CHECK (b.n_msgs == 0);
    uint64_t seq = b.seq;
    CHECK (seq != 0);
    h_ready (r, &b);
    CHECK (b.n_msgs == 0); /* still not durable */
    raft_persisted (r, seq);
    h_ready (r, &b);
    const raft_msg_t *resp = h_find (&b, RAFT_MSG_VOTE_RESP, 2);
    CHECK (resp->type == RAFT_MSG_VOTE_RESP && !resp->reject);
    CHECK (resp->term == 2);

    m.from = 3;
    raft_step (r, &m);
    h_settle (r, &b);
    resp = h_find (&b, RAFT_MSG_VOTE_RESP, 3);
    CHECK (resp->type == RAFT_MSG_VOTE_RESP && resp->reject);
    CHECK (h_st (r).vote == 2);

    m.from = 2;
    raft_step (r, &m);
    h_settle (r, &b);
    resp = h_find (&b, RAFT_MSG_VOTE_RESP, 2);
    CHECK (resp->type == RAFT_MSG_VOTE_RESP && !resp->reject);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Figure 3.1, Followers: the election timer restarts when the follower
   grants its vote. */
static void
test_vote_resets_election_timer (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_boot (&o, &c, 2, 0, NULL, 0, 0);
    for (int i = 0; i < 9; i++)
        raft_tick (r);
    raft_msg_t m = h_msg (RAFT_MSG_VOTE, 2, 1, 2);
    m.prev_index = 1;
    m.prev_term = 1;
    raft_step (r, &m);
    CHECK (h_st (r).vote == 2);
    for (int i = 0; i < 9; i++)
        raft_tick (r);
    CHECK (h_st (r).role == RAFT_FOLLOWER);
    raft_tick (r);
    CHECK (h_st (r).role == RAFT_PRECANDIDATE);
    raft_destroy (&r);
}

/* Figure 3.1, RequestVote 2 and §3.6.1: grant only if the candidate's log
   is at least as up-to-date: a later last term wins; with equal last terms
   the longer log wins. Voter's log: (1,1)(2,1)(3,2). */
static void
test_vote_log_up_to_date (void)
{
    static const struct {
        raft_index_t last_index;
        raft_term_t last_term;
        bool grant;
    } cases[] = {
        {5, 1, false},                /* lower last term, longer log */
        {1, 1, false}, {2, 2, false}, /* same last term, shorter */
        {3, 2, true},                 /* same */
        {4, 2, true},                 /* same last term, longer */
        {2, 3, true},                 /* higher last term, shorter */
    };
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    const raft_term_t log[] = {1, 2};
    h_batch_t b = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        raft_t *r = h_boot (&o, &c, 2, 0, log, 2, 0);
        raft_msg_t m = h_msg (RAFT_MSG_VOTE, 2, 1, 3);
        m.prev_index = cases[i].last_index;
        m.prev_term = cases[i].last_term;
        raft_step (r, &m);
        h_settle (r, &b);
        const raft_msg_t *resp = h_find (&b, RAFT_MSG_VOTE_RESP, 2);
        CHECK (resp->type == RAFT_MSG_VOTE_RESP);
        CHECK (resp->reject == !cases[i].grant);
        CHECK (resp->term == 3);
        CHECK (h_st (r).term == 3);
        CHECK (h_st (r).vote == (cases[i].grant ? 2u : 0u));
        if (resp->reject == cases[i].grant)
            fprintf (stderr, "  case %zu: last (%llu, %llu)\n", i,
                     (unsigned long long)cases[i].last_index,
                     (unsigned long long)cases[i].last_term);
        raft_destroy (&r);
    }
    h_batch_free (&b);
}

/* Figure 3.1, RequestVote 1: "Reply false if term < currentTerm", for
   votes and pre-votes alike; nothing changes. */
static void
test_vote_lower_term_rejected (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_boot (&o, &c, 3, 0, NULL, 0, 0);
    h_batch_t b = {0};
    raft_msg_t m = h_msg (RAFT_MSG_VOTE, 2, 1, 2);
    m.prev_index = 1;
    m.prev_term = 1;
    raft_step (r, &m);
    h_ready (r, &b);
    const raft_msg_t *resp = h_find (&b, RAFT_MSG_VOTE_RESP, 2);
    CHECK (resp->type == RAFT_MSG_VOTE_RESP && resp->reject);
    CHECK (resp->term == 3);
    m.type = RAFT_MSG_PREVOTE;
    raft_step (r, &m);
    h_ready (r, &b);
    resp = h_find (&b, RAFT_MSG_PREVOTE_RESP, 2);
    CHECK (resp->type == RAFT_MSG_PREVOTE_RESP && resp->reject);
    CHECK (resp->term == 3);
    CHECK (h_st (r).term == 3 && h_st (r).vote == 0);
    h_batch_free (&b);
    raft_destroy (&r);
}

void
suite_vote (void)
{
    H_RUN (test_stale_append_rejected);
    H_RUN (test_vote_once_per_term);
    H_RUN (test_vote_resets_election_timer);
    H_RUN (test_vote_log_up_to_date);
    H_RUN (test_vote_lower_term_rejected);
}
