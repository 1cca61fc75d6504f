/*  test_membership.c -- membership changes one server at a time
    (§4.1-4.3): learners, promotion after catch-up, one change at a time,
    removing the leader or a follower, and a new learner fed while the
    cluster is idle.

    Section numbers refer to Ongaro's dissertation.
*/
#include "harness.h"

#include <stdio.h>

#include <string.h>

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
    raft_index_t idx = h_propose (r, "x");
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

    h_propose (r, "x"); /* traffic, so that the learner is sent entries */
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
    h_propose (r, "a");
    raft_t *nodes[] = {r, learner};
    h_pump (nodes, 2, &rest);
    CHECK (h_st (learner).last_index == 4);
    CHECK (!raft_caught_up (r, 4));
    CHECK (raft_promote (r, 4, NULL) == RAFT_ERR_NOT_CAUGHT_UP);
    h_propose (r, "b");
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
suite_membership (void)
{
    H_RUN (test_learner_no_vote_no_quorum);
    H_RUN (test_promote_after_catch_up);
    H_RUN (test_promote_slow_learner);
    H_RUN (test_conf_change_pending);
    H_RUN (test_add_learner_same_or_moved);
    H_RUN (test_conf_change_not_ready);
    H_RUN (test_remove_leader_steps_down);
    H_RUN (test_removed_leader_stands_while_uncommitted);
    H_RUN (test_remove_follower);
    H_RUN (test_new_learner_gets_log_when_idle);
}
