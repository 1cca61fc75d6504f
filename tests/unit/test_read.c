/*  test_read.c -- ReadIndex (§6.4): refused unless leader, after the
    no-op and a majority round, one round serving many reads, the answer
    after apply, pending reads failed when leadership is lost, a single
    server its own majority.

    Section numbers refer to Ongaro's dissertation.
*/
#include "harness.h"

#include <stdio.h>

#include <string.h>

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
    raft_index_t idx = h_propose (r, "w");
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

    raft_index_t idx = h_propose (r, "w");
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

void
suite_read (void)
{
    H_RUN (test_read_refused_unless_leader);
    H_RUN (test_read_waits_for_noop_and_round);
    H_RUN (test_read_needs_majority_round);
    H_RUN (test_read_one_round_serves_many);
    H_RUN (test_read_waits_for_apply);
    H_RUN (test_read_fails_when_leadership_lost);
    H_RUN (test_read_single_node);
}
