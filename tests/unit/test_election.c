/*  test_election.c -- Figure 3.1 "Rules for Servers" (all servers,
    followers, candidates, leaders), RequestVote, pre-vote (§9.6), leader
    stickiness (§4.2.3) and check-quorum (§6.2), one rule at a time.

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
suite_election (void)
{
    H_RUN (test_starts_as_follower);
    H_RUN (test_election_timeout_randomized);
    H_RUN (test_timeout_prevote_then_vote);
    H_RUN (test_prevote_changes_nothing);
    H_RUN (test_higher_term_makes_follower);
    H_RUN (test_stale_append_rejected);
    H_RUN (test_vote_once_per_term);
    H_RUN (test_vote_resets_election_timer);
    H_RUN (test_vote_log_up_to_date);
    H_RUN (test_vote_lower_term_rejected);
    H_RUN (test_leader_stickiness);
    H_RUN (test_candidate_wins_with_majority);
    H_RUN (test_candidate_steps_down_on_append);
    H_RUN (test_candidate_loses_on_majority_reject);
    H_RUN (test_candidate_timeout_new_election);
    H_RUN (test_leader_noop_and_first_append);
    H_RUN (test_leader_heartbeat);
    H_RUN (test_leader_check_quorum);
}
