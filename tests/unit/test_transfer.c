/*  test_transfer.c -- leadership transfer (§3.10): TimeoutNow once the
    target is caught up, the target campaigning at once, a transfer
    abandoned after an election timeout.

    Section numbers refer to Ongaro's dissertation.
*/
#include "harness.h"

#include <stdio.h>

#include <string.h>

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
    h_propose (r, "a");
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
    h_propose (r, "a");
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
    h_propose (r, "a");
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

void
suite_transfer (void)
{
    H_RUN (test_transfer_timeout_now);
    H_RUN (test_transfer_target_campaigns);
    H_RUN (test_transfer_aborts_after_timeout);
}
