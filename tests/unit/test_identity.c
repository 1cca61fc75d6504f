/*  test_identity.c -- raft_options_t.self_check: a server whose entry in
    the configuration is not itself (an earlier incarnation's, e.g. before
    its disk was wiped) neither votes nor stands, but still replicates.

    The last test is issue 13's scenario in the core: an entry committed on
    servers 1 and 3 survives 3 losing its disk and 1 crashing, because the
    wiped 3 cannot vote for 2, which lacks the entry; the same run without
    self_check elects 2 and loses it (the test's teeth).
*/
#include "harness.h"

#include <stdio.h>
#include <string.h>

static bool
s_never_self (void *ctx, const raft_server_t *s)
{
    (void)ctx;
    (void)s;
    return false;
}

static raft_t *
s_boot_not_self (raft_id_t id, const raft_conf_t *c)
{
    raft_options_t o;
    h_opts (&o, id);
    o.self_check = s_never_self;
    return h_boot (&o, c, 1, 0, NULL, 0, 0);
}

/* RequestVote and pre-vote are refused, whatever the candidate's log; the
   hard state does not change. */
static void
test_not_self_refuses_votes (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = s_boot_not_self (3, &c);
    h_batch_t b = {0};
    raft_msg_t m = h_msg (RAFT_MSG_PREVOTE, 2, 3, 2);
    m.prev_index = 100;
    m.prev_term = 9;
    raft_step (r, &m);
    h_settle (r, &b);
    CHECK (h_find (&b, RAFT_MSG_PREVOTE_RESP, 2)->reject);
    m.type = RAFT_MSG_VOTE;
    raft_step (r, &m);
    h_settle (r, &b);
    const raft_msg_t *resp = h_find (&b, RAFT_MSG_VOTE_RESP, 2);
    CHECK (resp->type == RAFT_MSG_VOTE_RESP && resp->reject);
    CHECK (h_st (r).vote == 0);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* It never stands, and ignores TimeoutNow (§3.10). */
static void
test_not_self_does_not_stand (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = s_boot_not_self (3, &c);
    h_batch_t b = {0};
    for (int i = 0; i < 100; i++)
        raft_tick (r);
    CHECK (h_st (r).role == RAFT_FOLLOWER && h_st (r).term == 1);
    raft_msg_t m = h_msg (RAFT_MSG_TIMEOUT_NOW, 1, 3, 1);
    raft_step (r, &m);
    h_settle (r, &b);
    CHECK (h_st (r).role == RAFT_FOLLOWER);
    CHECK (h_count (&b, RAFT_MSG_VOTE, 0) == 0);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* It still accepts entries and acknowledges them once durable. */
static void
test_not_self_still_replicates (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = s_boot_not_self (3, &c);
    h_batch_t b = {0};
    const raft_term_t terms[] = {2, 2};
    raft_msg_t m = h_append (1, 3, 2, 1, 1, 1, terms, 2);
    h_step_clear (r, &m);
    h_settle (r, &b);
    const raft_msg_t *resp = h_find (&b, RAFT_MSG_APPEND_RESP, 1);
    CHECK (resp->type == RAFT_MSG_APPEND_RESP && !resp->reject);
    CHECK (resp->index == 3);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Drop every message to or from server 2. */
static bool
s_cut_2 (const raft_msg_t *m, void *ctx)
{
    (void)ctx;
    return m->from == 2 || m->to == 2;
}

/* Issue 13: 3 servers; an entry committed on 1 and 3 (2 cut off); 3 is
   wiped and restarts empty; 1 crashes. With self_check the wiped 3 votes
   for no one and 2 cannot be elected: the entry waits on 1's return, it
   is not lost. Returns whether 2 became leader (and then lacks it). */
static bool
s_wiped_voter_run (bool with_check)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *n[3] = {h_new (1, &c), h_new (2, &c), h_new (3, &c)};
    CHECK (h_elect (n[0]));
    h_pump (n, 3, NULL);
    raft_buf_t *data = raft_buf_new ("E", 1);
    raft_index_t idx = 0;
    CHECK (raft_propose (n[0], data, &idx, NULL) == RAFT_OK);
    raft_buf_unref (data);
    h_pump_ex (n, 3, NULL, s_cut_2, NULL);
    CHECK (h_st (n[0]).commit >= idx);
    CHECK (h_term_at (n[2], idx) != 0 && h_term_at (n[1], idx) == 0);

    /* 3 wiped: no log, no hard state, no configuration. 1 crashes. */
    raft_destroy (&n[2]);
    raft_destroy (&n[0]);
    raft_options_t o;
    h_opts (&o, 3);
    if (with_check)
        o.self_check = s_never_self;
    n[2] = h_new_empty (&o);
    raft_t *live[2] = {n[1], n[2]};
    bool two_led = false;
    for (int t = 0; t < 300 && !two_led; t++) {
        raft_tick (live[0]);
        raft_tick (live[1]);
        h_pump (live, 2, NULL);
        two_led = h_st (live[0]).role == RAFT_LEADER;
    }
    if (two_led)
        CHECK (h_term_at (live[0], idx) == 0 ||
               h_type_at (live[0], idx) != RAFT_ENTRY_NORMAL);
    raft_destroy (&n[1]);
    raft_destroy (&n[2]);
    return two_led;
}

static void
test_wiped_voter_cannot_elect (void)
{
    CHECK (!s_wiped_voter_run (true));
    /* Teeth: without the check, the same run elects 2. */
    CHECK (s_wiped_voter_run (false));
}

void
suite_identity (void)
{
    H_RUN (test_not_self_refuses_votes);
    H_RUN (test_not_self_does_not_stand);
    H_RUN (test_not_self_still_replicates);
    H_RUN (test_wiped_voter_cannot_elect);
}
