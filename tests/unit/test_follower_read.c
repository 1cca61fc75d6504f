/*  test_follower_read.c -- linearizable reads served by followers (§6.4):
    the follower asks its leader for a read index (RAFT_MSG_READ_INDEX),
    the leader confirms its leadership with a heartbeat round taken after
    the request and answers with the index, and the follower answers once
    it has applied that far. The planted bug FOLLOWER_READ_LOCAL (a
    follower trusting its own commit index) fails test_read_waits_for_
    leaders_index and the simulator's read check.
*/
#include "harness.h"

#include <stdlib.h>
#include <string.h>

/* A three-server cluster with server 1 leading in term 2, every entry
   applied everywhere. */
static void
s_cluster (raft_t *n[3])
{
    raft_conf_t c = h_conf (3, 0);
    for (int i = 0; i < 3; i++)
        n[i] = h_new ((raft_id_t)i + 1, &c);
    for (int i = 0; i < 10; i++)
        raft_tick (n[0]);
    h_pump (n, 3, NULL);
    CHECK (h_st (n[0]).role == RAFT_LEADER && h_st (n[1]).leader == 1);
}

static void
s_destroy (raft_t *n[3])
{
    for (int i = 0; i < 3; i++)
        raft_destroy (&n[i]);
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

/* Keep the reads of b (which the next settle resets) in *into. */
static void
s_copy_reads (const h_batch_t *b, h_batch_t *into)
{
    into->reads = calloc (b->n_reads + 1, sizeof *into->reads);
    CHECK (into->reads != NULL);
    if (b->n_reads)
        memcpy (into->reads, b->reads, b->n_reads * sizeof *b->reads);
    into->n_reads = into->cap_reads = b->n_reads;
}

/* The whole exchange: READ_INDEX to the leader, a heartbeat round, the
   answer, and the read on the follower at the leader's commit index. */
static void
test_follower_read_round_trip (void)
{
    raft_t *n[3];
    s_cluster (n);
    h_batch_t b = {0};
    CHECK (raft_read_index (n[1], 7) == RAFT_OK);
    h_settle (n[1], &b);
    CHECK (b.n_reads == 0);
    const raft_msg_t *q = h_find (&b, RAFT_MSG_READ_INDEX, 1);
    CHECK (q->type == RAFT_MSG_READ_INDEX && q->ctx == 7 && q->term == 2);
    raft_step (n[0], q);
    h_settle (n[0], &b);
    /* not answered before a round confirms the leader */
    CHECK (h_count (&b, RAFT_MSG_READ_INDEX_RESP, 2) == 0);
    CHECK (h_count (&b, RAFT_MSG_HEARTBEAT, 0) == 2);
    h_reply_ok (n[0], h_find (&b, RAFT_MSG_HEARTBEAT, 3));
    h_settle (n[0], &b);
    const raft_msg_t *a = h_find (&b, RAFT_MSG_READ_INDEX_RESP, 2);
    CHECK (a->type == RAFT_MSG_READ_INDEX_RESP && !a->reject && a->ctx == 7);
    CHECK (a->index == h_st (n[0]).commit);
    CHECK (b.n_reads == 0); /* the leader answers no read of its own */
    raft_step (n[1], a);
    h_settle (n[1], &b);
    CHECK (b.n_reads == 1 && s_read (&b, 7) && s_read (&b, 7)->ok);
    CHECK (s_read (&b, 7)->index == h_st (n[0]).commit);
    h_batch_free (&b);
    s_destroy (n);
}

/* §6.4: the follower answers only once it has applied up to the leader's
   read index, which covers a write the follower has not seen yet. */
static void
test_read_waits_for_leaders_index (void)
{
    raft_t *n[3];
    s_cluster (n);
    raft_t *two[2] = {n[0], n[2]}; /* 2 is cut off from 1's messages */
    h_batch_t rest = {0}, b = {0};
    raft_buf_t *d = raft_buf_new ("w", 1);
    raft_index_t idx;
    CHECK (raft_propose (n[0], d, &idx, NULL) == RAFT_OK);
    raft_buf_unref (d);
    h_pump (two, 2, &rest);
    CHECK (h_st (n[0]).commit == idx && h_st (n[1]).commit < idx);

    CHECK (raft_read_index (n[1], 9) == RAFT_OK);
    h_settle (n[1], &b);
    CHECK (b.n_reads == 0);
    raft_step (n[0], h_find (&b, RAFT_MSG_READ_INDEX, 1));
    h_pump (two, 2, &rest);
    const raft_msg_t *a = h_find (&rest, RAFT_MSG_READ_INDEX_RESP, 2);
    CHECK (a->type == RAFT_MSG_READ_INDEX_RESP && a->index >= idx);
    raft_step (n[1], a);
    h_settle (n[1], &b);
    CHECK (b.n_reads == 0); /* the write is not applied here yet */
    /* now the link heals: the follower catches up and answers */
    const raft_read_t *rd = NULL;
    h_batch_t mine = {0};
    for (int t = 0; t < 20 && !rd; t++) {
        raft_tick (n[0]);
        for (int i = 0; i < 3; i++) {
            h_settle (n[i], &b);
            if (i == 1)
                h_batch_free (&mine), s_copy_reads (&b, &mine);
            for (size_t k = 0; k < b.n_msgs; k++)
                raft_step (n[b.msgs[k].to - 1], &b.msgs[k]);
            if (i == 1 && mine.n_reads)
                rd = s_read (&mine, 9);
        }
    }
    CHECK (rd && rd->ok && rd->index >= idx);
    CHECK (h_st (n[1]).applied >= idx);
    h_batch_free (&mine);
    h_batch_free (&b);
    h_batch_free (&rest);
    s_destroy (n);
}

/* A server that does not lead refuses a read index; the follower's read
   fails at once (the caller answers 503 and the client retries). */
static void
test_read_refused_by_non_leader (void)
{
    raft_t *n[3];
    s_cluster (n);
    raft_msg_t m = h_msg (RAFT_MSG_READ_INDEX, 2, 3, 2);
    m.ctx = 4;
    h_batch_t b = {0};
    CHECK (raft_read_index (n[1], 4) == RAFT_OK);
    h_settle (n[1], &b);
    raft_step (n[2], &m);
    h_settle (n[2], &b);
    const raft_msg_t *a = h_find (&b, RAFT_MSG_READ_INDEX_RESP, 2);
    CHECK (a->type == RAFT_MSG_READ_INDEX_RESP && a->reject && a->ctx == 4);
    /* from server 3, which 2 does not follow: dropped */
    uint64_t dropped = h_st (n[1]).dropped_msgs;
    raft_step (n[1], a);
    CHECK (h_st (n[1]).dropped_msgs == dropped + 1);
    /* the same refusal from its leader fails the read */
    raft_msg_t r = h_msg (RAFT_MSG_READ_INDEX_RESP, 1, 2, 2);
    r.ctx = 4;
    r.reject = true;
    raft_step (n[1], &r);
    h_settle (n[1], &b);
    CHECK (s_read (&b, 4) && !s_read (&b, 4)->ok);
    /* a second answer for the same read is dropped */
    r.reject = false;
    dropped = h_st (n[1]).dropped_msgs;
    raft_step (n[1], &r);
    h_settle (n[1], &b);
    CHECK (b.n_reads == 0 && h_st (n[1]).dropped_msgs == dropped + 1);
    h_batch_free (&b);
    s_destroy (n);
}

/* A new term fails the reads still waiting for the old leader's answer;
   the old leader's late answer is dropped (older term). */
static void
test_read_fails_on_new_term (void)
{
    raft_t *n[3];
    s_cluster (n);
    h_batch_t b = {0};
    CHECK (raft_read_index (n[1], 5) == RAFT_OK);
    h_settle (n[1], &b);
    raft_msg_t hb = h_msg (RAFT_MSG_HEARTBEAT, 3, 2, 3);
    raft_step (n[1], &hb);
    h_settle (n[1], &b);
    CHECK (h_st (n[1]).term == 3 && h_st (n[1]).leader == 3);
    CHECK (s_read (&b, 5) && !s_read (&b, 5)->ok);
    raft_msg_t late = h_msg (RAFT_MSG_READ_INDEX_RESP, 1, 2, 2);
    late.ctx = 5;
    late.index = 2;
    raft_step (n[1], &late);
    h_settle (n[1], &b);
    CHECK (b.n_reads == 0);
    h_batch_free (&b);
    s_destroy (n);
}

/* A leader that steps down refuses the followers' reads it held. */
static void
test_leader_step_down_refuses (void)
{
    raft_t *n[3];
    s_cluster (n);
    h_batch_t b = {0};
    raft_msg_t m = h_msg (RAFT_MSG_READ_INDEX, 2, 1, 2);
    m.ctx = 6;
    raft_step (n[0], &m);
    h_settle (n[0], &b);
    raft_msg_t vote = h_msg (RAFT_MSG_APPEND_RESP, 3, 1, 3);
    raft_step (n[0], &vote); /* a higher term: step down */
    h_settle (n[0], &b);
    const raft_msg_t *a = h_find (&b, RAFT_MSG_READ_INDEX_RESP, 2);
    CHECK (a->type == RAFT_MSG_READ_INDEX_RESP && a->reject && a->ctx == 6);
    h_batch_free (&b);
    s_destroy (n);
}

/* Nobody outside the configuration can queue reads on the leader; with no
   leader known a follower refuses at once. */
static void
test_read_index_from_stranger_dropped (void)
{
    raft_t *n[3];
    s_cluster (n);
    h_batch_t b = {0};
    raft_msg_t m = h_msg (RAFT_MSG_READ_INDEX, 9, 1, 2);
    uint64_t dropped = h_st (n[0]).dropped_msgs;
    raft_step (n[0], &m);
    h_settle (n[0], &b);
    CHECK (h_st (n[0]).dropped_msgs == dropped + 1);
    CHECK (h_count (&b, RAFT_MSG_READ_INDEX_RESP, 0) == 0);
    CHECK (h_count (&b, RAFT_MSG_HEARTBEAT, 0) == 0);
    raft_conf_t c = h_conf (3, 0);
    raft_t *lone = h_new (2, &c);
    CHECK (raft_read_index (lone, 1) == RAFT_ERR_NOT_LEADER);
    raft_destroy (&lone);
    h_batch_free (&b);
    s_destroy (n);
}

/* An answer that never comes (lost, or a leader that does not know the
   message) fails the read after two election timeouts at most. */
static void
test_unanswered_read_fails (void)
{
    raft_t *n[3];
    s_cluster (n);
    h_batch_t b = {0};
    CHECK (raft_read_index (n[1], 8) == RAFT_OK);
    bool failed = false;
    for (int t = 0; t < 100 && !failed; t++) {
        raft_tick (n[1]);
        h_settle (n[1], &b);
        failed = s_read (&b, 8) != NULL;
        if (failed)
            CHECK (!s_read (&b, 8)->ok);
    }
    CHECK (failed);
    h_batch_free (&b);
    s_destroy (n);
}

void
suite_follower_read (void)
{
    H_RUN (test_follower_read_round_trip);
    H_RUN (test_read_waits_for_leaders_index);
    H_RUN (test_read_refused_by_non_leader);
    H_RUN (test_read_fails_on_new_term);
    H_RUN (test_leader_step_down_refuses);
    H_RUN (test_read_index_from_stranger_dropped);
    H_RUN (test_unanswered_read_fails);
}
