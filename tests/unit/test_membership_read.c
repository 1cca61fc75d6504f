/*  test_membership_read.c -- ReadIndex (§6.4), membership changes one
    server at a time (§4.1-4.3) and leadership transfer (§3.10).

    Section numbers refer to Ongaro's dissertation.
*/
#include "harness.h"

#include <string.h>

static raft_index_t
s_propose (raft_t *r, const char *text)
{
    raft_buf_t *data = raft_buf_new (text, strlen (text));
    raft_index_t idx = 0;
    int rc = raft_propose (r, data, &idx, NULL);
    raft_buf_unref (data);
    CHECK (rc == RAFT_OK);
    return rc == RAFT_OK ? idx : 0;
}

/* The read with ctx in b, or NULL. */
static const raft_read_t *
s_read (const h_batch_t *b, uint64_t ctx)
{
    for (size_t i = 0; i < b->n_reads; i++)
        if (b->reads[i].ctx == ctx)
            return &b->reads[i];
    return NULL;
}

/*  ---------------------------------------------------------------------
    ReadIndex                                                            */

/* §6.4: only a leader serves ReadIndex; anyone else refuses at once. */
static void
test_read_refused_unless_leader (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new (1, &c);
    h_batch_t b = {0};
    CHECK (raft_read_index (r, 1) == RAFT_ERR_NOT_LEADER);
    for (int i = 0; i < 10; i++)
        raft_tick (r);
    CHECK (h_st (r).role == RAFT_PRECANDIDATE);
    CHECK (raft_read_index (r, 2) == RAFT_ERR_NOT_LEADER);
    h_settle (r, &b);
    CHECK (b.n_reads == 0);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §6.4 steps 1-3: a new leader first commits its no-op (until then it may
   not know the commit index), takes the read index = commit, then confirms
   its leadership with a heartbeat round (HEARTBEAT ctx = round, echoed)
   that a majority acknowledges. */
static void
test_read_waits_for_noop_and_round (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new (1, &c);
    h_batch_t first = {0}, b = {0};
    CHECK (h_elect (r));
    h_ready (r, &first);
    raft_persisted (r, first.seq);
    CHECK (raft_read_index (r, 7) == RAFT_OK);
    h_settle (r, &b);
    CHECK (b.n_reads == 0);
    CHECK (h_count (&b, RAFT_MSG_HEARTBEAT, 0) == 0); /* no round yet */

    h_reply_ok (r, h_find (&first, RAFT_MSG_APPEND, 2));
    CHECK (h_st (r).commit == 2);
    h_settle (r, &b);
    CHECK (h_st (r).applied == 2);
    CHECK (b.n_reads == 0);
    CHECK (h_count (&b, RAFT_MSG_HEARTBEAT, 0) == 2);
    const raft_msg_t *hb = h_find (&b, RAFT_MSG_HEARTBEAT, 3);
    CHECK (hb->ctx == 1 && hb->term == 2);

    h_reply_ok (r, hb);
    h_settle (r, &b);
    CHECK (b.n_reads == 1);
    const raft_read_t *rd = s_read (&b, 7);
    CHECK (rd && rd->ok && rd->index == 2);
    h_settle (r, &b);
    CHECK (b.n_reads == 0); /* answered once */
    h_batch_free (&first);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §6.4 step 3: the round needs a majority of voters (leader included);
   an acknowledgement of an older round does not count. */
static void
test_read_needs_majority_round (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (5, 0);
    raft_t *r = h_new_leader (&o, &c);
    h_batch_t b = {0}, out = {0};
    CHECK (raft_read_index (r, 1) == RAFT_OK);
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_HEARTBEAT, 0) == 4);
    uint64_t round = h_find (&b, RAFT_MSG_HEARTBEAT, 2)->ctx;
    CHECK (round >= 1);

    h_reply_ok (r, h_find (&b, RAFT_MSG_HEARTBEAT, 2));
    h_settle (r, &out);
    CHECK (out.n_reads == 0); /* 2 of 5 */
    raft_msg_t stale = h_msg (RAFT_MSG_HEARTBEAT_RESP, 3, 1, 2);
    stale.ctx = round - 1;
    raft_step (r, &stale);
    h_settle (r, &out);
    CHECK (out.n_reads == 0); /* an older round */
    h_reply_ok (r, h_find (&b, RAFT_MSG_HEARTBEAT, 4));
    h_settle (r, &out);
    CHECK (out.n_reads == 1); /* 3 of 5 */
    const raft_read_t *rd = s_read (&out, 1);
    CHECK (rd && rd->ok && rd->index == 2);
    h_batch_free (&out);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §6.4: one heartbeat round serves every read waiting for it; a read that
   arrives after a round was sent waits for the next one (the round must be
   taken after the read was requested). */
static void
test_read_one_round_serves_many (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o, &c);
    h_batch_t b = {0}, out = {0};
    for (uint64_t ctx = 1; ctx <= 3; ctx++)
        CHECK (raft_read_index (r, ctx) == RAFT_OK);
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_HEARTBEAT, 2) == 1);
    CHECK (h_count (&b, RAFT_MSG_HEARTBEAT, 3) == 1);
    uint64_t round = h_find (&b, RAFT_MSG_HEARTBEAT, 2)->ctx;

    CHECK (raft_read_index (r, 4) == RAFT_OK);
    h_reply_ok (r, h_find (&b, RAFT_MSG_HEARTBEAT, 2));
    h_settle (r, &out);
    CHECK (out.n_reads == 3);
    for (uint64_t ctx = 1; ctx <= 3; ctx++) {
        const raft_read_t *rd = s_read (&out, ctx);
        CHECK (rd && rd->ok && rd->index == 2);
    }
    CHECK (s_read (&out, 4) == NULL);
    const raft_msg_t *hb = h_find (&out, RAFT_MSG_HEARTBEAT, 3);
    CHECK (hb->type == RAFT_MSG_HEARTBEAT && hb->ctx == round + 1);
    h_reply_ok (r, hb);
    h_settle (r, &b);
    CHECK (b.n_reads == 1);
    CHECK (s_read (&b, 4) && s_read (&b, 4)->ok);
    h_batch_free (&out);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §6.4 step 4: the answer waits until the state machine has applied up to
   the read index. */
static void
test_read_waits_for_apply (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o, &c);
    h_batch_t b = {0}, hb = {0};
    raft_index_t idx = s_propose (r, "w");
    h_settle_ex (r, &b, false);
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 2));
    CHECK (h_st (r).commit == idx);
    h_settle_ex (r, &b, false);
    CHECK (b.n_committed == 1 && h_st (r).applied == idx - 1);

    CHECK (raft_read_index (r, 5) == RAFT_OK);
    h_settle_ex (r, &hb, false);
    h_reply_ok (r, h_find (&hb, RAFT_MSG_HEARTBEAT, 2));
    h_settle_ex (r, &b, false);
    CHECK (b.n_reads == 0);
    raft_applied (r, idx);
    h_settle_ex (r, &b, false);
    CHECK (b.n_reads == 1);
    const raft_read_t *rd = s_read (&b, 5);
    CHECK (rd && rd->ok && rd->index == idx);
    h_batch_free (&hb);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §6.4: a leader that loses leadership cannot confirm a read: pending reads
   fail (ok = false), whether it learns of a newer term or steps down by
   check-quorum (§6.2). */
static void
test_read_fails_when_leadership_lost (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o, &c);
    h_batch_t b = {0};
    CHECK (raft_read_index (r, 1) == RAFT_OK);
    h_settle (r, &b);
    raft_msg_t m = h_append (2, 1, 3, 2, 2, 2, NULL, 0);
    h_step_clear (r, &m);
    CHECK (h_st (r).role == RAFT_FOLLOWER);
    h_settle (r, &b);
    CHECK (b.n_reads == 1);
    CHECK (s_read (&b, 1) && !s_read (&b, 1)->ok);
    /* a new read goes to the new leader (test_follower_read.c) */
    CHECK (raft_read_index (r, 2) == RAFT_OK);
    h_settle (r, &b);
    CHECK (h_find (&b, RAFT_MSG_READ_INDEX, 2)->ctx == 2);
    raft_destroy (&r);

    /* Nobody answers: check-quorum steps it down at tick 20, and the
       batch after that tick fails the read. */
    r = h_new_leader (&o, &c);
    CHECK (raft_read_index (r, 3) == RAFT_OK);
    for (int i = 0; i < 20 && h_st (r).role == RAFT_LEADER; i++) {
        raft_tick (r);
        h_settle (r, &b);
        CHECK (b.n_reads == 0 || h_st (r).role != RAFT_LEADER);
    }
    CHECK (h_st (r).role == RAFT_FOLLOWER);
    CHECK (b.n_reads == 1);
    CHECK (s_read (&b, 3) && !s_read (&b, 3)->ok);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §6.4: a single-server cluster is its own majority: a read is answered as
   soon as the read index is applied, without any message. */
static void
test_read_single_node (void)
{
    raft_conf_t c = h_conf (1, 0);
    raft_t *r = h_new (1, &c);
    h_batch_t b = {0};
    for (int i = 0; i < 10; i++)
        raft_tick (r);
    CHECK (h_st (r).role == RAFT_LEADER);
    h_settle (r, &b);
    CHECK (h_st (r).commit == 2 && h_st (r).applied == 2);
    CHECK (raft_read_index (r, 9) == RAFT_OK);
    h_ready (r, &b);
    CHECK (b.n_msgs == 0 && b.n_reads == 1);
    CHECK (s_read (&b, 9) && s_read (&b, 9)->ok && s_read (&b, 9)->index == 2);

    raft_index_t idx = s_propose (r, "w");
    h_ready (r, &b);
    raft_persisted (r, b.seq);
    CHECK (h_st (r).commit == idx);
    CHECK (raft_read_index (r, 10) == RAFT_OK);
    h_ready (r, &b);
    CHECK (b.n_committed == 1 && b.n_reads == 0);
    raft_applied (r, idx);
    h_ready (r, &b);
    CHECK (b.n_reads == 1);
    CHECK (s_read (&b, 10) && s_read (&b, 10)->ok &&
           s_read (&b, 10)->index == idx);
    h_batch_free (&b);
    raft_destroy (&r);
}

/*  ---------------------------------------------------------------------
    Membership                                                           */

/* §4.2.1: a learner (non-voting member) is not asked for votes, its vote
   does not count, it does not stand for election, and it does not count
   toward the commit majority. */
static void
test_learner_no_vote_no_quorum (void)
{
    raft_conf_t c = h_conf (3, 1); /* 4 is a learner */
    raft_t *r = h_new (1, &c);
    h_batch_t b = {0};
    for (int i = 0; i < 10; i++)
        raft_tick (r);
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_PREVOTE, 0) == 2);
    CHECK (h_count (&b, RAFT_MSG_PREVOTE, 4) == 0);
    raft_msg_t g = h_msg (RAFT_MSG_PREVOTE_RESP, 4, 1, 2);
    raft_step (r, &g);
    CHECK (h_st (r).role == RAFT_PRECANDIDATE);
    g.from = 2;
    raft_step (r, &g);
    CHECK (h_st (r).role == RAFT_CANDIDATE);
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_VOTE, 0) == 2);
    CHECK (h_count (&b, RAFT_MSG_VOTE, 4) == 0);
    g = h_msg (RAFT_MSG_VOTE_RESP, 4, 1, 2);
    raft_step (r, &g);
    CHECK (h_st (r).role == RAFT_CANDIDATE);
    g.from = 3;
    raft_step (r, &g);
    CHECK (h_st (r).role == RAFT_LEADER);
    raft_destroy (&r);

    raft_t *learner = h_new (4, &c);
    for (int i = 0; i < 50; i++)
        raft_tick (learner);
    CHECK (h_st (learner).role == RAFT_FOLLOWER);
    CHECK (!h_ready (learner, &b));
    raft_destroy (&learner);

    raft_options_t o;
    h_opts (&o, 1);
    r = h_new_leader (&o, &c);
    raft_progress_info_t pr[4];
    size_t n = raft_progress (r, pr, 4);
    CHECK (n == 3);
    for (size_t i = 0; i < n; i++)
        CHECK (pr[i].voter == (pr[i].id != 4));
    raft_index_t idx = s_propose (r, "x");
    h_settle (r, &b);
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 4));
    CHECK (h_st (r).commit == idx - 1); /* leader + learner: no majority */
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 2));
    CHECK (h_st (r).commit == idx);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §4.2.1: a new server joins as a learner; the leader promotes it only once
   it has caught up (a replication round that finished within an election
   timeout), and §4.1: only once the previous change is committed. A change
   takes effect when appended. */
static void
test_promote_after_catch_up (void)
{
    raft_options_t o1, o4;
    h_opts (&o1, 1);
    h_opts (&o4, 4);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o1, &c);
    raft_t *learner = h_new_empty (&o4);
    h_batch_t b = {0}, rest = {0};
    raft_index_t idx = 0;
    CHECK (raft_add_learner (r, 4, "n4", &idx) == RAFT_OK);
    CHECK (idx == 3 && h_type_at (r, 3) == RAFT_ENTRY_CONF);
    CHECK (h_st (r).conf_index == 3 && !h_st (r).conf_committed);
    const raft_server_t *s = raft_conf_get (raft_conf (r), 4);
    CHECK (s && !s->voter && strcmp (s->addr, "n4") == 0);
    CHECK (raft_conf_voters (raft_conf (r)) == 3);
    CHECK (raft_promote (r, 4, NULL) == RAFT_ERR_CONF_PENDING);

    h_settle (r, &b);
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 2));
    CHECK (h_st (r).commit == 3 && h_st (r).conf_committed);
    CHECK (!raft_caught_up (r, 4));
    CHECK (raft_promote (r, 4, NULL) == RAFT_ERR_NOT_CAUGHT_UP);

    s_propose (r, "x"); /* traffic, so that the learner is sent entries */
    raft_t *nodes[] = {r, learner};
    h_pump (nodes, 2, &rest);
    CHECK (h_st (learner).last_index == 4);
    s = raft_conf_get (raft_conf (learner), 4);
    CHECK (s && !s->voter);
    CHECK (raft_caught_up (r, 4));
    CHECK (raft_promote (r, 4, &idx) == RAFT_OK);
    CHECK (idx == 5);
    s = raft_conf_get (raft_conf (r), 4);
    CHECK (s && s->voter);
    CHECK (raft_conf_voters (raft_conf (r)) == 4);
    CHECK (raft_promote (r, 9, NULL) == RAFT_ERR_CONF_PENDING);
    h_batch_free (&rest);
    h_batch_free (&b);
    raft_destroy (&r);
    raft_destroy (&learner);
}

/* §4.2.1: a learner whose replication round took longer than an election
   timeout is not caught up yet; a new round starts, and a quick one
   counts. */
static void
test_promote_slow_learner (void)
{
    raft_options_t o1, o4;
    h_opts (&o1, 1);
    h_opts (&o4, 4);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o1, &c);
    raft_t *learner = h_new_empty (&o4);
    h_batch_t b = {0}, rest = {0};
    CHECK (raft_add_learner (r, 4, "n4", NULL) == RAFT_OK);
    h_settle (r, &b);
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 2));
    for (int i = 0; i < 11; i++) { /* the learner is cut off */
        raft_tick (r);
        h_settle (r, &b);
        h_ack_all (r, &b, 2);
    }
    CHECK (h_st (r).role == RAFT_LEADER);
    s_propose (r, "a");
    raft_t *nodes[] = {r, learner};
    h_pump (nodes, 2, &rest);
    CHECK (h_st (learner).last_index == 4);
    CHECK (!raft_caught_up (r, 4));
    CHECK (raft_promote (r, 4, NULL) == RAFT_ERR_NOT_CAUGHT_UP);
    s_propose (r, "b");
    h_pump (nodes, 2, &rest);
    CHECK (h_st (learner).last_index == 5);
    CHECK (raft_caught_up (r, 4));
    CHECK (raft_promote (r, 4, NULL) == RAFT_OK);
    h_batch_free (&rest);
    h_batch_free (&b);
    raft_destroy (&r);
    raft_destroy (&learner);
}

/* §4.1: a leader starts a change only once the previous one is committed,
   so that consecutive configurations share a majority. */
static void
test_conf_change_pending (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o, &c);
    h_batch_t b = {0};
    raft_index_t idx = 0;
    CHECK (raft_add_learner (r, 4, "n4", &idx) == RAFT_OK);
    CHECK (raft_add_learner (r, 5, "n5", NULL) == RAFT_ERR_CONF_PENDING);
    CHECK (raft_remove (r, 3, NULL) == RAFT_ERR_CONF_PENDING);
    CHECK (raft_promote (r, 4, NULL) == RAFT_ERR_CONF_PENDING);
    CHECK (h_st (r).last_index == idx);
    h_settle (r, &b);
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 3));
    CHECK (h_st (r).commit == idx);
    CHECK (raft_add_learner (r, 5, "n5", &idx) == RAFT_OK);
    CHECK (idx == 4 && raft_conf (r)->n == 5);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §4.1 (one server at a time): adding a server that is already there with
   the same address changes nothing; with a new address, the server keeps
   its id and role and the address is replaced. */
static void
test_add_learner_same_or_moved (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o, &c);
    h_batch_t b = {0};
    raft_index_t idx = 0;
    CHECK (raft_add_learner (r, 4, "n4", &idx) == RAFT_OK && idx == 3);
    h_settle (r, &b);
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 2));
    CHECK (h_st (r).commit == 3);

    idx = 0;
    CHECK (raft_add_learner (r, 4, "n4", &idx) == RAFT_OK);
    CHECK (idx == 3 && h_st (r).last_index == 3);
    CHECK (raft_conf (r)->n == 4);

    CHECK (raft_add_learner (r, 4, "n4-moved", &idx) == RAFT_OK);
    CHECK (idx == 4 && h_st (r).last_index == 4);
    const raft_server_t *s = raft_conf_get (raft_conf (r), 4);
    CHECK (raft_conf (r)->n == 4);
    CHECK (s && !s->voter && strcmp (s->addr, "n4-moved") == 0);
    h_settle (r, &b);
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 2));
    CHECK (h_st (r).commit == 4);

    CHECK (raft_add_learner (r, 2, "n2-moved", &idx) == RAFT_OK && idx == 5);
    s = raft_conf_get (raft_conf (r), 2);
    CHECK (s && s->voter && strcmp (s->addr, "n2-moved") == 0);
    CHECK (raft_conf_voters (raft_conf (r)) == 3);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §4.1 with the fix Ongaro posted to raft-dev (2015): a new leader makes
   no configuration change before an entry of its own term (its no-op) is
   committed; and only a leader makes changes. */
static void
test_conf_change_not_ready (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new (1, &c);
    h_batch_t b = {0};
    CHECK (raft_add_learner (r, 4, "n4", NULL) == RAFT_ERR_NOT_LEADER);
    CHECK (raft_remove (r, 3, NULL) == RAFT_ERR_NOT_LEADER);
    CHECK (h_make_leader (r, &b));
    CHECK (raft_add_learner (r, 4, "n4", NULL) == RAFT_ERR_NOT_READY);
    CHECK (raft_remove (r, 3, NULL) == RAFT_ERR_NOT_READY);
    CHECK (raft_promote (r, 3, NULL) == RAFT_ERR_NOT_READY);
    CHECK (h_st (r).last_index == 2);
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 2));
    CHECK (h_st (r).commit == 2);
    CHECK (raft_add_learner (r, 4, "n4", NULL) == RAFT_OK);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §4.2.2: a leader removed from the configuration keeps leading until the
   entry commits -- by a majority of the new configuration, without
   counting itself -- and then steps down (handing over with TimeoutNow to
   an up-to-date voter); as a non-member it never stands for election. */
static void
test_remove_leader_steps_down (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o, &c);
    h_batch_t b = {0};
    raft_index_t idx = 0;
    CHECK (raft_remove (r, 1, &idx) == RAFT_OK && idx == 3);
    CHECK (raft_conf_get (raft_conf (r), 1) == NULL);
    CHECK (raft_conf_voters (raft_conf (r)) == 2);
    CHECK (h_st (r).role == RAFT_LEADER);
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_APPEND, 0) == 2);
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 2));
    CHECK (h_st (r).commit == 2); /* 1 of the 2 new voters */
    CHECK (h_st (r).role == RAFT_LEADER);
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 3));
    CHECK (h_st (r).commit == 3);
    CHECK (h_st (r).role == RAFT_FOLLOWER);
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_TIMEOUT_NOW, 0) == 1);
    CHECK (h_find (&b, RAFT_MSG_TIMEOUT_NOW, 0)->term == 2);
    for (int i = 0; i < 50; i++)
        raft_tick (r);
    h_settle (r, &b);
    CHECK (h_st (r).role == RAFT_FOLLOWER && h_st (r).term == 2);
    CHECK (b.n_msgs == 0);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Found by the cluster fuzz harness (tests/fuzz/fuzz_cluster.c): a
   leader of two voters removes itself (§4.2.2), the entry reaches the
   other voter's memory but not its disk, and the other crashes; the
   leader, alone, steps down (check-quorum). Back, the other's log ends
   before the removal, so its configuration is still both servers and it
   needs the old leader's vote, which the old leader refuses: its log is
   longer. The old leader, not a voter of the latest configuration in its
   log, never stood again: no leader, for ever. A server removed by an
   entry that is not committed yet, and a voter of the configuration
   before it, may stand: it counts votes in the new configuration, wins
   there, commits its removal and hands over. */
static void
test_removed_leader_stands_while_uncommitted (void)
{
    raft_conf_t c = h_conf (2, 0);
    raft_t *n[2] = {h_new (1, &c), h_new (2, &c)};
    for (int i = 0; i < 10; i++)
        raft_tick (n[1]);
    h_pump (n, 2, NULL);
    CHECK (h_st (n[1]).role == RAFT_LEADER && h_st (n[1]).commit == 2);

    /* The removal never reaches n1's disk; n2 loses its quorum. */
    raft_index_t idx = 0;
    CHECK (raft_remove (n[1], 2, &idx) == RAFT_OK && idx == 3);
    h_batch_t lost = {0};
    for (int i = 0; i < 30; i++) {
        raft_tick (n[1]);
        h_settle (n[1], &lost);
    }
    h_batch_free (&lost);
    CHECK (h_st (n[1]).role != RAFT_LEADER);
    CHECK (h_st (n[1]).last_index == 3 && h_st (n[0]).last_index == 2);

    /* Both up again: a leader is elected, the removal commits, and n1
       ends up leading the configuration it is alone in. */
    for (int i = 0; i < 60; i++) {
        raft_tick (n[0]);
        raft_tick (n[1]);
        h_pump (n, 2, NULL);
    }
    CHECK (h_st (n[0]).role == RAFT_LEADER);
    CHECK (h_st (n[0]).commit >= 3 && h_st (n[1]).commit >= 3);
    CHECK (raft_conf (n[0])->n == 1 && raft_conf (n[0])->servers[0].id == 1);
    raft_buf_t *d = raft_buf_new ("alone", 5);
    raft_index_t w = 0;
    CHECK (raft_propose (n[0], d, &w, NULL) == RAFT_OK);
    raft_buf_unref (d);
    h_pump (n, 2, NULL);
    CHECK (h_st (n[0]).commit == w);
    for (int i = 0; i < 2; i++)
        raft_destroy (&n[i]);
}

/* §4.1: removing a follower: the leader stops replicating to it and the
   majority is that of the new configuration; the last voter cannot go. */
static void
test_remove_follower (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o, &c);
    h_batch_t b = {0};
    raft_index_t idx = 0;
    CHECK (raft_remove (r, 9, NULL) == RAFT_ERR_UNKNOWN_SERVER);
    CHECK (raft_remove (r, 3, &idx) == RAFT_OK && idx == 3);
    raft_progress_info_t pr[4];
    CHECK (raft_progress (r, pr, 4) == 1 && pr[0].id == 2);
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_APPEND, 3) == 0);
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 2));
    CHECK (h_st (r).commit == 3);
    CHECK (raft_remove (r, 2, &idx) == RAFT_OK && idx == 4);
    h_settle (r, &b); /* a lone voter commits on its own write */
    CHECK (h_st (r).commit == 4);
    CHECK (raft_remove (r, 1, NULL) == RAFT_ERR_INVALID);
    h_batch_free (&b);
    raft_destroy (&r);
}

/*  ---------------------------------------------------------------------
    Leadership transfer                                                  */

/* §3.10: during a transfer the leader refuses client requests; it brings
   the target up to date and then sends it TimeoutNow (at once if it is
   already up to date). Target 0 picks the most up-to-date voter. */
static void
test_transfer_timeout_now (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o, &c);
    h_batch_t first = {0}, b = {0};
    s_propose (r, "a");
    h_settle (r, &first);
    h_reply_ok (r, h_find (&first, RAFT_MSG_APPEND, 3)); /* 2 lags */
    CHECK (h_st (r).commit == 3);

    CHECK (raft_transfer_leadership (r, 1) == RAFT_ERR_UNKNOWN_SERVER);
    CHECK (raft_transfer_leadership (r, 9) == RAFT_ERR_UNKNOWN_SERVER);
    CHECK (raft_transfer_leadership (r, 2) == RAFT_OK);
    CHECK (h_st (r).transfer_target == 2);
    raft_buf_t *data = raft_buf_new ("b", 1);
    CHECK (raft_propose (r, data, NULL, NULL) == RAFT_ERR_TRANSFERRING);
    raft_buf_unref (data);
    CHECK (raft_add_learner (r, 4, "n4", NULL) == RAFT_ERR_TRANSFERRING);
    CHECK (h_st (r).last_index == 3);
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_TIMEOUT_NOW, 0) == 0);

    h_reply_ok (r, h_find (&first, RAFT_MSG_APPEND, 2)); /* caught up */
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_TIMEOUT_NOW, 0) == 1);
    const raft_msg_t *tn = h_find (&b, RAFT_MSG_TIMEOUT_NOW, 2);
    CHECK (tn->type == RAFT_MSG_TIMEOUT_NOW && tn->term == 2);
    raft_destroy (&r);

    r = h_new_leader (&o, &c);
    s_propose (r, "a");
    h_settle (r, &first);
    h_reply_ok (r, h_find (&first, RAFT_MSG_APPEND, 3));
    CHECK (raft_transfer_leadership (r, 0) == RAFT_OK);
    CHECK (h_st (r).transfer_target == 3);
    h_settle (r, &b);
    CHECK (h_find (&b, RAFT_MSG_TIMEOUT_NOW, 3)->type == RAFT_MSG_TIMEOUT_NOW);
    raft_destroy (&r);

    r = h_new (1, &c);
    CHECK (raft_transfer_leadership (r, 2) == RAFT_ERR_NOT_LEADER);
    h_batch_free (&first);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §3.10: on TimeoutNow the target starts an election at once (no pre-vote,
   term + 1) with transfer set, and voters that still hear from the old
   leader (§4.2.3 lease) grant it, though they ignore a plain request. */
static void
test_transfer_target_campaigns (void)
{
    raft_options_t o2, o3;
    h_opts (&o2, 2);
    h_opts (&o3, 3);
    raft_conf_t c = h_conf (3, 0);
    raft_t *f2 = h_boot (&o2, &c, 2, 0, NULL, 0, 0);
    raft_t *f3 = h_boot (&o3, &c, 2, 0, NULL, 0, 0);
    h_batch_t b = {0}, b3 = {0};
    raft_msg_t hb = h_msg (RAFT_MSG_HEARTBEAT, 1, 2, 2);
    raft_step (f2, &hb);
    hb.to = 3;
    raft_step (f3, &hb);
    h_settle (f2, &b);
    h_settle (f3, &b3);

    raft_msg_t tn = h_msg (RAFT_MSG_TIMEOUT_NOW, 1, 2, 2);
    raft_step (f2, &tn);
    CHECK (h_st (f2).role == RAFT_CANDIDATE);
    CHECK (h_st (f2).term == 3 && h_st (f2).vote == 2);
    h_ready (f2, &b);
    CHECK (b.hs_changed && b.n_msgs == 0);
    raft_persisted (f2, b.seq);
    h_ready (f2, &b);
    CHECK (h_count (&b, RAFT_MSG_PREVOTE, 0) == 0);
    CHECK (h_count (&b, RAFT_MSG_VOTE, 0) == 2);
    const raft_msg_t *v = h_find (&b, RAFT_MSG_VOTE, 3);
    CHECK (v->term == 3 && v->transfer);
    CHECK (v->prev_index == 1 && v->prev_term == 1);

    raft_msg_t plain = *v;
    plain.transfer = false;
    raft_step (f3, &plain);
    h_settle (f3, &b3);
    CHECK (b3.n_msgs == 0 && h_st (f3).term == 2);

    raft_step (f3, v);
    h_settle (f3, &b3);
    const raft_msg_t *resp = h_find (&b3, RAFT_MSG_VOTE_RESP, 2);
    CHECK (resp->type == RAFT_MSG_VOTE_RESP && !resp->reject);
    CHECK (h_st (f3).term == 3 && h_st (f3).vote == 2);
    raft_step (f2, resp);
    CHECK (h_st (f2).role == RAFT_LEADER && h_st (f2).term == 3);
    h_batch_free (&b);
    h_batch_free (&b3);
    raft_destroy (&f2);
    raft_destroy (&f3);
}

/* §3.10: a transfer that has not completed within an election timeout is
   aborted and the leader accepts client requests again. */
static void
test_transfer_aborts_after_timeout (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o, &c);
    h_batch_t b = {0};
    s_propose (r, "a");
    h_settle (r, &b);
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 3)); /* 2 never answers */
    CHECK (raft_transfer_leadership (r, 2) == RAFT_OK);
    raft_buf_t *data = raft_buf_new ("b", 1);
    for (int i = 0; i < 9; i++) {
        raft_tick (r);
        h_settle (r, &b);
        h_ack_all (r, &b, 3);
    }
    CHECK (h_st (r).transfer_target == 2);
    CHECK (raft_propose (r, data, NULL, NULL) == RAFT_ERR_TRANSFERRING);
    raft_tick (r);
    CHECK (h_st (r).role == RAFT_LEADER);
    CHECK (h_st (r).transfer_target == 0);
    CHECK (raft_propose (r, data, NULL, NULL) == RAFT_OK);
    raft_buf_unref (data);
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_TIMEOUT_NOW, 0) == 0);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* A learner that joins an idle cluster (no proposals after the change)
   must still be sent the log: §4.2.1 has the leader replicate to a new
   server until it catches up, and §3.5 retries AppendEntries until every
   server stores every entry. */
static void
test_new_learner_gets_log_when_idle (void)
{
    raft_options_t o1, o4;
    h_opts (&o1, 1);
    h_opts (&o4, 4);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o1, &c);
    raft_t *learner = h_new_empty (&o4);
    h_batch_t b = {0}, rest = {0};
    CHECK (raft_add_learner (r, 4, "n4", NULL) == RAFT_OK);
    h_settle (r, &b);
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 2));
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 3));
    CHECK (h_st (r).commit == 3);
    raft_t *nodes[] = {r, learner};
    for (int i = 0; i < 10 && h_st (learner).last_index < 3; i++) {
        raft_tick (r);
        h_batch_free (&rest);
        h_pump (nodes, 2, &rest);
        h_ack_all (r, &rest, 0); /* voters 2 and 3 answer heartbeats */
    }
    CHECK (h_st (learner).last_index == 3);
    CHECK (h_st (learner).commit == 3);
    h_batch_free (&rest);
    h_batch_free (&b);
    raft_destroy (&r);
    raft_destroy (&learner);
}

void
suite_membership_read (void)
{
    H_RUN (test_read_refused_unless_leader);
    H_RUN (test_read_waits_for_noop_and_round);
    H_RUN (test_read_needs_majority_round);
    H_RUN (test_read_one_round_serves_many);
    H_RUN (test_read_waits_for_apply);
    H_RUN (test_read_fails_when_leadership_lost);
    H_RUN (test_read_single_node);
    H_RUN (test_learner_no_vote_no_quorum);
    H_RUN (test_promote_after_catch_up);
    H_RUN (test_promote_slow_learner);
    H_RUN (test_conf_change_pending);
    H_RUN (test_add_learner_same_or_moved);
    H_RUN (test_conf_change_not_ready);
    H_RUN (test_remove_leader_steps_down);
    H_RUN (test_removed_leader_stands_while_uncommitted);
    H_RUN (test_remove_follower);
    H_RUN (test_transfer_timeout_now);
    H_RUN (test_transfer_target_campaigns);
    H_RUN (test_transfer_aborts_after_timeout);
    H_RUN (test_new_learner_gets_log_when_idle);
}
