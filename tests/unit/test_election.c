/*  test_election.c -- Figure 3.1 "Rules for Servers" for followers and
    candidates: the election timer, pre-vote (§9.6) before the vote, terms
    that make a follower, and how a candidate wins, steps down, loses or
    starts again, one rule at a time.

    Section numbers refer to Ongaro's dissertation.
*/
#include "harness.h"

#include <stdio.h>

/* Tick r until it leaves the follower role, granting pre-votes from
   2..1+grants, and settle: r is then a candidate whose VOTEs are in b. */
static void
s_to_candidate (raft_t *r, int grants, h_batch_t *b)
{
    for (int i = 0; i < 100 && h_st (r).role == RAFT_FOLLOWER; i++)
        raft_tick (r);
    CHECK (h_st (r).role == RAFT_PRECANDIDATE);
    h_settle (r, b);
    for (int i = 0; i < grants; i++) {
        raft_msg_t m = h_msg (RAFT_MSG_PREVOTE_RESP, (raft_id_t)(2 + i), 1,
                              h_st (r).term + 1);
        raft_step (r, &m);
    }
    CHECK (h_st (r).role == RAFT_CANDIDATE);
    h_settle (r, b);
}

/* Ticks a fresh node needs before it starts an election. */
static uint32_t
s_ticks_to_campaign (const raft_options_t *o)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_boot (o, &c, 1, 0, NULL, 0, 0);
    uint32_t t = 0;
    while (h_st (r).role == RAFT_FOLLOWER && t < 1000) {
        raft_tick (r);
        t++;
    }
    raft_destroy (&r);
    return t;
}

/* §3.3: "When servers start up, they begin as followers"; a fresh server
   has nothing to persist, send or apply. */
static void
test_starts_as_follower (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new (1, &c);
    raft_status_t st = h_st (r);
    CHECK (st.role == RAFT_FOLLOWER);
    CHECK (st.term == 1 && st.vote == 0 && st.leader == 0);
    CHECK (st.last_index == 1 && st.persisted == 1 && st.commit == 0);
    CHECK (h_type_at (r, 1) == RAFT_ENTRY_CONF);
    h_batch_t b = {0};
    CHECK (!h_ready (r, &b));
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §3.4: election timeouts are chosen randomly, here from
   [election_ticks, 2 * election_ticks); nothing happens before. */
static void
test_election_timeout_randomized (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    uint64_t v;
    o.rand = h_rand_fixed;
    o.rand_ctx = &v;
    const uint64_t values[] = {0, 1, 5, 9, 10, 23, 99999};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        v = values[i];
        CHECK (s_ticks_to_campaign (&o) == 10 + values[i] % 10);
    }

    /* Before the timeout: silence. */
    v = 5;
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_boot (&o, &c, 1, 0, NULL, 0, 0);
    h_batch_t b = {0};
    for (int i = 0; i < 14; i++)
        raft_tick (r);
    CHECK (h_st (r).role == RAFT_FOLLOWER);
    CHECK (!h_ready (r, &b));
    raft_tick (r);
    CHECK (h_st (r).role == RAFT_PRECANDIDATE);
    h_batch_free (&b);
    raft_destroy (&r);

    /* With a real generator the timeouts spread over the interval. */
    rng_t state;
    o.rand = rng_callback;
    o.rand_ctx = &state;
    bool seen[20] = {false};
    int distinct = 0;
    for (uint64_t seed = 1; seed <= 64; seed++) {
        rng_seed (&state, seed * 0x9E3779B97F4A7C15ull);
        uint32_t t = s_ticks_to_campaign (&o);
        CHECK (t >= 10 && t < 20);
        if (t < 20 && !seen[t]) {
            seen[t] = true;
            distinct++;
        }
    }
    CHECK (distinct >= 5);
}

/* Figure 3.1, Followers: "If election timeout elapses ... convert to
   candidate"; §9.6: first a pre-vote round at term + 1 that changes nothing
   durable; then, on a majority, Candidates: "increment currentTerm, vote for
   self, send RequestVote RPCs". Figure 3.1, persistent state: updated on
   stable storage before sending, so the VOTEs wait for raft_persisted. */
static void
test_timeout_prevote_then_vote (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    const raft_term_t log[] = {2, 2};
    raft_t *r = h_boot (&o, &c, 2, 0, log, 2, 0); /* last (3, 2) */
    h_batch_t b = {0};

    for (int i = 0; i < 9; i++)
        raft_tick (r);
    CHECK (h_st (r).role == RAFT_FOLLOWER);
    raft_tick (r);
    CHECK (h_st (r).role == RAFT_PRECANDIDATE);
    CHECK (h_st (r).term == 2 && h_st (r).vote == 0);

    h_ready (r, &b);
    CHECK (b.seq == 0 && !b.hs_changed); /* nothing to persist */
    CHECK (b.n_msgs == 2 && h_count (&b, RAFT_MSG_PREVOTE, 0) == 2);
    for (raft_id_t to = 2; to <= 3; to++) {
        const raft_msg_t *m = h_find (&b, RAFT_MSG_PREVOTE, to);
        CHECK (m->from == 1 && m->term == 3);
        CHECK (m->prev_index == 3 && m->prev_term == 2);
        CHECK (!m->transfer);
    }

    raft_msg_t g = h_msg (RAFT_MSG_PREVOTE_RESP, 2, 1, 3);
    raft_step (r, &g);
    CHECK (h_st (r).role == RAFT_CANDIDATE);
    CHECK (h_st (r).term == 3 && h_st (r).vote == 1);

    h_ready (r, &b);
    CHECK (b.seq != 0 && b.hs_changed);
    CHECK (b.hs.term == 3 && b.hs.vote == 1);
    CHECK (b.n_msgs == 0); /* VOTEs wait for the hard state */
    uint64_t seq = b.seq;
    h_ready (r, &b);
    CHECK (b.n_msgs == 0);
    raft_persisted (r, seq);
    h_ready (r, &b);
    CHECK (b.n_msgs == 2 && h_count (&b, RAFT_MSG_VOTE, 0) == 2);
    for (raft_id_t to = 2; to <= 3; to++) {
        const raft_msg_t *m = h_find (&b, RAFT_MSG_VOTE, to);
        CHECK (m->term == 3 && m->prev_index == 3 && m->prev_term == 2);
        CHECK (!m->transfer);
    }
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §9.6: a pre-vote changes neither the receiver's term nor its vote, is
   answered without a write, and binds nothing: a real vote in that term can
   still go to someone else. A pre-candidate with a stale log is refused. */
static void
test_prevote_changes_nothing (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new (2, &c);
    h_batch_t b = {0};
    raft_msg_t m = h_msg (RAFT_MSG_PREVOTE, 1, 2, 2);
    m.prev_index = 1;
    m.prev_term = 1;
    raft_step (r, &m);
    h_ready (r, &b);
    CHECK (b.seq == 0 && !b.hs_changed);
    const raft_msg_t *resp = h_find (&b, RAFT_MSG_PREVOTE_RESP, 1);
    CHECK (resp->term == 2 && !resp->reject);
    CHECK (h_st (r).term == 1 && h_st (r).vote == 0);
    CHECK (h_st (r).role == RAFT_FOLLOWER);

    m = h_msg (RAFT_MSG_VOTE, 3, 2, 2);
    m.prev_index = 1;
    m.prev_term = 1;
    raft_step (r, &m);
    h_settle (r, &b);
    resp = h_find (&b, RAFT_MSG_VOTE_RESP, 3);
    CHECK (resp->term == 2 && !resp->reject);
    CHECK (h_st (r).vote == 3);
    raft_destroy (&r);

    /* Log (1,1)(2,2): a pre-candidate whose log ends at (1,1) loses. */
    raft_options_t o;
    h_opts (&o, 2);
    const raft_term_t log[] = {2};
    r = h_boot (&o, &c, 2, 0, log, 1, 0);
    m = h_msg (RAFT_MSG_PREVOTE, 3, 2, 3);
    m.prev_index = 1;
    m.prev_term = 1;
    raft_step (r, &m);
    h_ready (r, &b);
    resp = h_find (&b, RAFT_MSG_PREVOTE_RESP, 3);
    CHECK (resp->type == RAFT_MSG_PREVOTE_RESP && resp->reject);
    CHECK (resp->term == 2);
    CHECK (h_st (r).term == 2 && h_st (r).vote == 0);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Figure 3.1, All Servers: "If RPC request or response contains term
   T > currentTerm: set currentTerm = T, convert to follower", from every
   role; the leader is known only if the message came from one. */
static void
test_higher_term_makes_follower (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    h_batch_t b = {0};

    /* Follower. */
    raft_t *r = h_new (1, &c);
    raft_msg_t m = h_msg (RAFT_MSG_HEARTBEAT, 2, 1, 3);
    raft_step (r, &m);
    CHECK (h_st (r).role == RAFT_FOLLOWER && h_st (r).term == 3);
    CHECK (h_st (r).leader == 2 && h_st (r).vote == 0);
    raft_destroy (&r);

    /* Pre-candidate. */
    r = h_new (1, &c);
    for (int i = 0; i < 10; i++)
        raft_tick (r);
    CHECK (h_st (r).role == RAFT_PRECANDIDATE);
    m = h_msg (RAFT_MSG_HEARTBEAT, 2, 1, 2);
    raft_step (r, &m);
    CHECK (h_st (r).role == RAFT_FOLLOWER && h_st (r).term == 2);
    CHECK (h_st (r).leader == 2);
    raft_destroy (&r);

    /* Candidate. */
    r = h_new (1, &c);
    s_to_candidate (r, 1, &b);
    CHECK (h_st (r).term == 2);
    m = h_append (3, 1, 3, 1, 1, 0, NULL, 0);
    h_step_clear (r, &m);
    CHECK (h_st (r).role == RAFT_FOLLOWER && h_st (r).term == 3);
    CHECK (h_st (r).leader == 3 && h_st (r).vote == 0);
    raft_destroy (&r);

    /* Leader, by a request... */
    r = h_new_leader (&o, &c);
    m = h_append (2, 1, 3, 2, 2, 2, NULL, 0);
    h_step_clear (r, &m);
    CHECK (h_st (r).role == RAFT_FOLLOWER && h_st (r).term == 3);
    CHECK (h_st (r).leader == 2);
    raft_destroy (&r);

    /* ...and by a response. */
    r = h_new_leader (&o, &c);
    m = h_msg (RAFT_MSG_APPEND_RESP, 3, 1, 5);
    m.reject = true;
    m.index = 2;
    raft_step (r, &m);
    CHECK (h_st (r).role == RAFT_FOLLOWER && h_st (r).term == 5);
    CHECK (h_st (r).leader == 0);
    /* The new term is durable before anything else is said. */
    h_ready (r, &b);
    CHECK (b.hs_changed && b.hs.term == 5 && b.hs.vote == 0);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Figure 3.1, Candidates: "If votes received from majority of servers:
   become leader". Each voter counts once; rejections do not count. */
static void
test_candidate_wins_with_majority (void)
{
    raft_conf_t c = h_conf (5, 0);
    raft_t *r = h_new (1, &c);
    h_batch_t b = {0};
    s_to_candidate (r, 2, &b);
    CHECK (h_st (r).term == 2);
    CHECK (h_count (&b, RAFT_MSG_VOTE, 0) == 4);

    raft_msg_t m = h_msg (RAFT_MSG_VOTE_RESP, 2, 1, 2);
    raft_step (r, &m);
    raft_step (r, &m); /* a duplicate counts once */
    CHECK (h_st (r).role == RAFT_CANDIDATE);
    m.from = 4;
    m.reject = true;
    raft_step (r, &m);
    CHECK (h_st (r).role == RAFT_CANDIDATE);
    m.from = 3;
    m.reject = false;
    raft_step (r, &m);
    CHECK (h_st (r).role == RAFT_LEADER);
    CHECK (h_st (r).leader == 1 && h_st (r).term == 2);
    h_batch_free (&b);
    raft_destroy (&r);

    /* A lone voter elects itself at once. */
    c = h_conf (1, 0);
    r = h_new (1, &c);
    for (int i = 0; i < 10; i++)
        raft_tick (r);
    CHECK (h_st (r).role == RAFT_LEADER && h_st (r).term == 2);
    raft_destroy (&r);
}

/* Figure 3.1, Candidates: "If AppendEntries RPC received from new leader:
   convert to follower" -- a leader of the candidate's own term. The same
   holds for a pre-candidate. */
static void
test_candidate_steps_down_on_append (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new (1, &c);
    h_batch_t b = {0};
    s_to_candidate (r, 1, &b);
    raft_msg_t m = h_append (3, 1, 2, 1, 1, 0, NULL, 0);
    h_step_clear (r, &m);
    CHECK (h_st (r).role == RAFT_FOLLOWER);
    CHECK (h_st (r).term == 2 && h_st (r).leader == 3);
    CHECK (h_st (r).vote == 1); /* its vote in term 2 stands */
    h_settle (r, &b);
    const raft_msg_t *resp = h_find (&b, RAFT_MSG_APPEND_RESP, 3);
    CHECK (resp->type == RAFT_MSG_APPEND_RESP && !resp->reject);
    CHECK (resp->index == 1);
    raft_destroy (&r);

    r = h_new (1, &c);
    for (int i = 0; i < 10; i++)
        raft_tick (r);
    CHECK (h_st (r).role == RAFT_PRECANDIDATE);
    m = h_msg (RAFT_MSG_HEARTBEAT, 2, 1, 1);
    raft_step (r, &m);
    CHECK (h_st (r).role == RAFT_FOLLOWER);
    CHECK (h_st (r).term == 1 && h_st (r).leader == 2);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §3.4: a candidate that a majority refuses cannot win this term and goes
   back to being a follower (term kept); so does a pre-candidate (§9.6). */
static void
test_candidate_loses_on_majority_reject (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new (1, &c);
    h_batch_t b = {0};
    s_to_candidate (r, 1, &b);
    raft_msg_t m = h_msg (RAFT_MSG_VOTE_RESP, 2, 1, 2);
    m.reject = true;
    raft_step (r, &m);
    CHECK (h_st (r).role == RAFT_CANDIDATE);
    m.from = 3;
    raft_step (r, &m);
    CHECK (h_st (r).role == RAFT_FOLLOWER);
    CHECK (h_st (r).term == 2 && h_st (r).leader == 0);
    raft_destroy (&r);

    c = h_conf (5, 0);
    r = h_new (1, &c);
    for (int i = 0; i < 10; i++)
        raft_tick (r);
    m = h_msg (RAFT_MSG_PREVOTE_RESP, 2, 1, 1);
    m.reject = true;
    for (raft_id_t from = 2; from <= 3; from++) {
        m.from = from;
        raft_step (r, &m);
    }
    CHECK (h_st (r).role == RAFT_PRECANDIDATE);
    m.from = 4;
    raft_step (r, &m);
    CHECK (h_st (r).role == RAFT_FOLLOWER && h_st (r).term == 1);
    h_ready (r, &b);
    CHECK (!b.hs_changed);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Figure 3.1, Candidates: "If election timeout elapses: start new
   election" -- with pre-vote, a new pre-vote round at term + 1; without,
   straight to the next term. */
static void
test_candidate_timeout_new_election (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new (1, &c);
    h_batch_t b = {0};
    s_to_candidate (r, 1, &b);
    for (int i = 0; i < 9; i++)
        raft_tick (r);
    CHECK (h_st (r).role == RAFT_CANDIDATE);
    raft_tick (r);
    CHECK (h_st (r).role == RAFT_PRECANDIDATE && h_st (r).term == 2);
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_PREVOTE, 0) == 2);
    CHECK (h_find (&b, RAFT_MSG_PREVOTE, 2)->term == 3);
    raft_destroy (&r);

    raft_options_t o;
    h_opts (&o, 1);
    o.pre_vote = false;
    r = h_boot (&o, &c, 1, 0, NULL, 0, 0);
    for (int i = 0; i < 10; i++)
        raft_tick (r);
    CHECK (h_st (r).role == RAFT_CANDIDATE && h_st (r).term == 2);
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_VOTE, 0) == 2);
    CHECK (h_find (&b, RAFT_MSG_VOTE, 3)->term == 2);
    for (int i = 0; i < 10; i++)
        raft_tick (r);
    CHECK (h_st (r).role == RAFT_CANDIDATE && h_st (r).term == 3);
    CHECK (h_st (r).vote == 1);
    h_settle (r, &b);
    CHECK (b.hs_changed && b.hs.term == 3 && b.hs.vote == 1);
    CHECK (h_count (&b, RAFT_MSG_VOTE, 0) == 2);
    CHECK (h_find (&b, RAFT_MSG_VOTE, 2)->term == 3);
    CHECK (h_find (&b, RAFT_MSG_VOTE, 3)->term == 3);
    h_batch_free (&b);
    raft_destroy (&r);
}

void
suite_election (void)
{
    H_RUN (test_starts_as_follower);
    H_RUN (test_election_timeout_randomized);
    H_RUN (test_timeout_prevote_then_vote);
    H_RUN (test_prevote_changes_nothing);
    H_RUN (test_higher_term_makes_follower);
    H_RUN (test_candidate_wins_with_majority);
    H_RUN (test_candidate_steps_down_on_append);
    H_RUN (test_candidate_loses_on_majority_reject);
    H_RUN (test_candidate_timeout_new_election);
}
