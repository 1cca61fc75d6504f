/*  test_raft.c -- unit tests of the consensus core (actors/raft), rule by
    rule after Figure 3.1 of Ongaro's dissertation ("Consensus: Bridging
    Theory and Practice", 2014) and the Raft paper, in the spirit of
    etcd-io/raft's raft_paper_test.go.

    The suites:
      test_election.c         the election timer, pre-vote, candidates
      test_vote.c             RequestVote, stale terms
      test_leader.c           the no-op, heartbeats, check-quorum, stickiness
      test_append.c           AppendEntries, the receiver side
      test_replication.c      the leader: commit, backtracking, pipelining
      test_read.c             ReadIndex
      test_membership.c       membership changes, learners
      test_transfer.c         leadership transfer
      test_snapshot.c         compaction and InstallSnapshot
      test_identity.c         a wiped server's identity
      test_raft.c             bad input, whole-cluster runs, main ()

    Each test drives raft_t instances by hand through raft.h (see
    harness.h). Build and run, from the repository root:

      gcc -std=c11 -O1 -g -Wall -Wextra -Werror \
          -fsanitize=address,undefined -fno-omit-frame-pointer \
          -Iactors/raft actors/raft/[a-z]*.c tests/unit/[a-z]*.c \
          -o /tmp/test_raft \
          && /tmp/test_raft

    One line per test; the last line is "N passed, N failed"; the exit code
    is non-zero if any test failed.

    test_lost_append_is_retried and test_new_learner_gets_log_when_idle
    found a liveness bug when they were written: a follower whose last
    AppendEntries was lost, or a new learner, got no entries while nothing
    new was proposed. raft_recv_heartbeat_resp () now sends an empty
    AppendEntries at next - 1 in that case (planted bug no_behind_probe in
    the simulator shows its liveness check catches the old behaviour).
*/
#include "harness.h"

#include <stdio.h>
#include <string.h>

/* raft_step drops (and counts in dropped_msgs) messages that are not for
   this server, come from no one or from itself, carry term 0 or an
   unknown type, or carry entries that are not a well-formed log suffix:
   not contiguous after prev, terms going down or above the message's
   term, unknown entry types, malformed CONF payloads, entries on
   something other than APPEND. Nothing else happens. */
static void
test_bad_input_dropped (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new (1, &c);
    h_batch_t b = {0};
    const raft_term_t two[] = {2, 2}, down[] = {3, 2}, up[] = {3};
    raft_msg_t bad[24];
    size_t n = 0;

    bad[n] = h_msg (RAFT_MSG_HEARTBEAT, 2, 9, 5); /* wrong to */
    n++;
    bad[n] = h_msg (RAFT_MSG_HEARTBEAT, 0, 1, 5); /* from none */
    n++;
    bad[n] = h_msg (RAFT_MSG_HEARTBEAT, 1, 1, 5); /* from itself */
    n++;
    bad[n] = h_msg (RAFT_MSG_HEARTBEAT, 2, 1, 0); /* term 0 */
    n++;
    bad[n] = h_msg ((raft_msg_type_t)0, 2, 1, 5); /* no type */
    n++;
    bad[n] = h_msg (RAFT_MSG_TYPE_MAX, 2, 1, 5); /* unknown */
    n++;
    bad[n] = h_msg ((raft_msg_type_t)99, 2, 1, 5);
    n++;
    bad[n] = h_append (2, 1, 2, 1, 1, 0, two, 2); /* gap: 2, 4 */
    bad[n].entries[1].index = 4;
    n++;
    bad[n] = h_append (2, 1, 2, 1, 1, 0, two, 2); /* not after prev */
    bad[n].entries[0].index = 3;
    bad[n].entries[1].index = 4;
    n++;
    bad[n] = h_append (2, 1, 3, 1, 1, 0, down, 2); /* terms go down */
    n++;
    bad[n] = h_append (2, 1, 2, 1, 1, 0, up, 1); /* term > msg */
    n++;
    bad[n] = h_append (2, 1, 2, 1, 1, 0, two, 1); /* unknown type */
    bad[n].entries[0].type = (raft_entry_type_t)7;
    n++;
    bad[n] = h_append (2, 1, 2, 1, 1, 0, two, 1); /* bad CONF */
    bad[n].entries[0].type = RAFT_ENTRY_CONF;
    n++;
    bad[n] = h_append (2, 1, 2, 1, 1, 0, two, 1); /* on a VOTE */
    bad[n].type = RAFT_MSG_VOTE;
    n++;
    bad[n] = h_msg (RAFT_MSG_APPEND, 2, 1, 2); /* no array */
    bad[n].n_entries = 1;
    n++;
    /* Terms and indexes beyond 2^62: a term near 2^64 once crashed a node
       (term + 1 overflowed at its next election). */
    bad[n] = h_msg (RAFT_MSG_HEARTBEAT, 2, 1, UINT64_MAX);
    n++;
    bad[n] = h_msg (RAFT_MSG_VOTE, 2, 1, RAFT_TERM_MAX + 1);
    n++;
    bad[n] = h_msg (RAFT_MSG_APPEND, 2, 1, 5);
    bad[n].prev_index = UINT64_MAX;
    n++;
    bad[n] = h_msg (RAFT_MSG_HEARTBEAT, 2, 1, 5);
    bad[n].commit = UINT64_MAX;
    n++;

    for (size_t i = 0; i < n; i++) {
        raft_step (r, &bad[i]);
        CHECK (h_st (r).dropped_msgs == i + 1);
        if (h_st (r).dropped_msgs != i + 1)
            fprintf (stderr, "  message %zu not dropped\n", i);
        if (bad[i].entries)
            raft_msg_clear (&bad[i]);
    }
    raft_status_t st = h_st (r);
    CHECK (st.term == 1 && st.vote == 0 && st.leader == 0);
    CHECK (st.role == RAFT_FOLLOWER && st.last_index == 1);
    CHECK (!h_ready (r, &b));
    raft_destroy (&r);

    /* A leader drops an acknowledgement of entries it never had, and an
       AppendEntries from another leader of its own term. */
    raft_options_t o;
    h_opts (&o, 1);
    r = h_new_leader (&o, &c);
    raft_msg_t m = h_msg (RAFT_MSG_APPEND_RESP, 2, 1, 2);
    m.index = 10;
    raft_step (r, &m);
    CHECK (h_st (r).dropped_msgs == 1);
    raft_progress_info_t pr[2];
    size_t k = raft_progress (r, pr, 2);
    for (size_t i = 0; i < k; i++)
        CHECK (pr[i].match == 2);
    m = h_append (3, 1, 2, 2, 2, 2, NULL, 0);
    h_step_clear (r, &m);
    CHECK (h_st (r).dropped_msgs == 2);
    CHECK (h_st (r).role == RAFT_LEADER && h_st (r).leader == 1);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* raft_new refuses options and boot states that break its invariants
   (§3.5 Log Matching starts from a well-formed log). */
static void
test_new_refuses_bad_boot (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    const raft_term_t log[] = {2, 3};
    raft_t *r = h_boot (&o, &c, 3, 0, log, 2, 0);
    CHECK (r != NULL);
    raft_destroy (&r);

    raft_options_t bad = o;
    bad.id = 0;
    CHECK (h_boot (&bad, &c, 1, 0, NULL, 0, 0) == NULL);
    bad = o;
    bad.rand = NULL;
    CHECK (h_boot (&bad, &c, 1, 0, NULL, 0, 0) == NULL);
    bad = o;
    bad.heartbeat_ticks = bad.election_ticks;
    CHECK (h_boot (&bad, &c, 1, 0, NULL, 0, 0) == NULL);

    raft_entry_t e[2];
    memset (e, 0, sizeof e);
    e[0] = raft_bootstrap_entry (&c);
    e[1].index = 3; /* gap */
    e[1].term = 1;
    raft_boot_t boot;
    memset (&boot, 0, sizeof boot);
    boot.hs.term = 1;
    boot.entries = e;
    boot.n_entries = 2;
    CHECK (raft_new (&o, &boot) == NULL);
    e[1].index = 2;
    e[1].term = 2; /* above currentTerm */
    CHECK (raft_new (&o, &boot) == NULL);
    e[1].term = 1;
    boot.applied = 3; /* beyond the log */
    CHECK (raft_new (&o, &boot) == NULL);
    boot.applied = 2;
    r = raft_new (&o, &boot);
    CHECK (r != NULL && h_st (r).commit == 2 && h_st (r).applied == 2);
    raft_destroy (&r);
    raft_buf_unref (e[0].data);
}

/* Three real servers booted from the same bootstrap entry (§3.3, Log
   Matching from the start): one times out, wins the election (§3.4),
   replicates its no-op and then client commands (§3.5), and every server
   commits and applies the same entries (State Machine Safety). */
static void
test_cluster_elects_and_replicates (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *n[3] = {h_new (1, &c), h_new (2, &c), h_new (3, &c)};
    for (int i = 0; i < 10; i++)
        raft_tick (n[0]);
    h_pump (n, 3, NULL);
    CHECK (h_st (n[0]).role == RAFT_LEADER && h_st (n[0]).term == 2);
    for (int i = 1; i < 3; i++) {
        CHECK (h_st (n[i]).role == RAFT_FOLLOWER);
        CHECK (h_st (n[i]).leader == 1 && h_st (n[i]).term == 2);
        CHECK (h_st (n[i]).vote == 1);
    }
    for (int k = 0; k < 3; k++) {
        raft_buf_t *d = raft_buf_new ("cmd", 3);
        CHECK (raft_propose (n[0], d, NULL, NULL) == RAFT_OK);
        raft_buf_unref (d);
    }
    h_pump (n, 3, NULL);
    for (int i = 0; i < 3; i++) {
        raft_status_t st = h_st (n[i]);
        CHECK (st.last_index == 5 && st.commit == 5 && st.applied == 5);
        for (raft_index_t k = 2; k <= 5; k++)
            CHECK (h_term_at (n[i], k) == 2);
        CHECK (h_type_at (n[i], 2) == RAFT_ENTRY_NOOP);
    }
    for (int i = 0; i < 3; i++)
        raft_destroy (&n[i]);
}

/* §3.10 end to end: the leader transfers to server 2, which wins the next
   term at once although every voter still has a leader (§4.2.3); the old
   leader follows it and the new leader's entries commit everywhere. */
static void
test_cluster_transfer (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *n[3] = {h_new (1, &c), h_new (2, &c), h_new (3, &c)};
    for (int i = 0; i < 10; i++)
        raft_tick (n[0]);
    h_pump (n, 3, NULL);
    CHECK (h_st (n[0]).role == RAFT_LEADER);
    CHECK (raft_transfer_leadership (n[0], 2) == RAFT_OK);
    h_pump (n, 3, NULL);
    CHECK (h_st (n[1]).role == RAFT_LEADER && h_st (n[1]).term == 3);
    CHECK (h_st (n[0]).role == RAFT_FOLLOWER && h_st (n[0]).leader == 2);
    CHECK (h_st (n[2]).leader == 2 && h_st (n[2]).term == 3);
    CHECK (h_st (n[0]).transfer_target == 0);
    raft_buf_t *d = raft_buf_new ("after", 5);
    raft_index_t idx = 0;
    CHECK (raft_propose (n[1], d, &idx, NULL) == RAFT_OK);
    raft_buf_unref (d);
    h_pump (n, 3, NULL);
    for (int i = 0; i < 3; i++) {
        CHECK (h_st (n[i]).commit == idx);
        CHECK (h_term_at (n[i], idx) == 3);
    }
    for (int i = 0; i < 3; i++)
        raft_destroy (&n[i]);
}

/* A server restarted from what it had made durable (hard state, log,
   applied index) is a follower with that state (Figure 3.1, persistent
   state); a vote it had granted in its term stands. */
static void
test_restart_keeps_hard_state (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    const raft_term_t log[] = {2, 2};
    raft_t *r = h_boot (&o, &c, 4, 3, log, 2, 2);
    raft_status_t st = h_st (r);
    CHECK (st.role == RAFT_FOLLOWER && st.term == 4 && st.vote == 3);
    CHECK (st.last_index == 3 && st.commit == 2 && st.applied == 2);
    h_batch_t b = {0};
    raft_msg_t m = h_msg (RAFT_MSG_VOTE, 2, 1, 4);
    m.prev_index = 3;
    m.prev_term = 2;
    raft_step (r, &m);
    h_settle (r, &b);
    CHECK (h_find (&b, RAFT_MSG_VOTE_RESP, 2)->reject);
    m.from = 3;
    raft_step (r, &m);
    h_settle (r, &b);
    const raft_msg_t *resp = h_find (&b, RAFT_MSG_VOTE_RESP, 3);
    CHECK (resp->type == RAFT_MSG_VOTE_RESP && !resp->reject);
    CHECK (b.n_committed == 0); /* committed past 2: learned later */
    h_batch_free (&b);
    raft_destroy (&r);
}

/* The issue-12 wedge: one HEARTBEAT_RESP with term 2^62 from a stranger
   used to lift every server to 2^62, after which every pre-vote carried
   2^62 + 1 and was dropped as malformed: no election could ever succeed
   again. Now a term above RAFT_TERM_ACCEPT_MAX (2^61) is taken only one
   above the receiver's own; a farther one is dropped and only moves its
   receiver one step towards it (to 2^61, then one at a time), so no run
   of forged terms lifts a server faster than forged terms of 2^61 and
   term + 1, which it takes anyway; and the cluster goes on electing. */
static void
test_forged_terms_cannot_wedge (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *n[3] = {h_new (1, &c), h_new (2, &c), h_new (3, &c)};
    for (int i = 0; i < 10; i++)
        raft_tick (n[0]);
    h_pump (n, 3, NULL);
    CHECK (h_st (n[0]).role == RAFT_LEADER && h_st (n[0]).term == 2);

    const raft_term_t forged[] = {RAFT_TERM_MAX, RAFT_TERM_MAX - 1,
                                  RAFT_TERM_ACCEPT_MAX + 5};
    for (size_t k = 0; k < 3; k++)
        for (int i = 0; i < 3; i++) {
            raft_msg_t m =
                h_msg (RAFT_MSG_HEARTBEAT_RESP, (raft_id_t)(i % 3 + 1) % 3 + 1,
                       (raft_id_t)i + 1, forged[k]);
            raft_status_t pre = h_st (n[i]);
            raft_step (n[i], &m);
            CHECK (h_st (n[i]).dropped_msgs == pre.dropped_msgs + 1);
            CHECK (h_st (n[i]).term ==
                   (k == 0 ? RAFT_TERM_ACCEPT_MAX : pre.term + 1));
            CHECK (h_st (n[i]).role == RAFT_FOLLOWER);
        }
    h_pump (n, 3, NULL);
    /* An election still succeeds: its pre-vote and vote carry one above
       every receiver's term. */
    for (int i = 0; i < 10; i++)
        raft_tick (n[1]);
    h_pump (n, 3, NULL);
    CHECK (h_st (n[1]).role == RAFT_LEADER);
    CHECK (h_st (n[1]).term == RAFT_TERM_ACCEPT_MAX + 3);
    raft_buf_t *d = raft_buf_new ("after", 5);
    raft_index_t idx = 0;
    CHECK (raft_propose (n[1], d, &idx, NULL) == RAFT_OK);
    raft_buf_unref (d);
    h_pump (n, 3, NULL);
    for (int i = 0; i < 3; i++)
        CHECK (h_st (n[i]).commit == idx);
    for (int i = 0; i < 3; i++)
        raft_destroy (&n[i]);

    /* A server whose term reached RAFT_TERM_MAX does not campaign (there
       is no next term); it stays a follower. */
    raft_options_t o;
    h_opts (&o, 1);
    raft_t *r = h_boot (&o, &c, RAFT_TERM_MAX, 0, NULL, 0, 0);
    h_batch_t b = {0};
    for (int i = 0; i < 40; i++)
        raft_tick (r);
    h_settle (r, &b);
    CHECK (h_st (r).role == RAFT_FOLLOWER && h_st (r).term == RAFT_TERM_MAX);
    CHECK (h_count (&b, RAFT_MSG_PREVOTE, 0) == 0);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Found by the cluster fuzz harness (tests/fuzz/fuzz_cluster.c, threat
   level A: one stranger's RequestVote, no member forged): a stranger's
   term of 2^61 reached two servers, which then held elections among
   themselves (2^61 + 1, + 2, ...) while the third was away at term 2.
   Back, the third dropped every message of theirs, each more than one
   above its term and above 2^61, and they dropped its: it was shut out
   for ever (its term is on disk), and the cluster had lost a server's
   worth of fault tolerance to four messages of a stranger's (the same
   again shuts out a second server: no majority). Now each dropped message
   moves it one step up, and it rejoins. */
static void
test_lagging_server_rejoins_above_2_61 (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *n[3] = {h_new (1, &c), h_new (2, &c), h_new (3, &c)};
    for (int i = 0; i < 10; i++)
        raft_tick (n[0]);
    h_pump (n, 3, NULL);
    CHECK (h_st (n[0]).role == RAFT_LEADER && h_st (n[0]).term == 2);

    /* n3 is away. A stranger (9) lifts n1 and n2 to 2^61. */
    h_batch_t away = {0};
    for (int i = 0; i < 2; i++) {
        raft_msg_t m =
            h_msg (RAFT_MSG_VOTE, 9, (raft_id_t)i + 1, RAFT_TERM_ACCEPT_MAX);
        m.transfer = true;
        raft_step (n[i], &m);
        CHECK (h_st (n[i]).term == RAFT_TERM_ACCEPT_MAX);
    }
    h_pump (n, 2, &away);
    /* n1 and n2 elect, then hand leadership back and forth: 2^61 + 3. */
    for (int i = 0; i < 20 && h_st (n[0]).role != RAFT_LEADER; i++) {
        raft_tick (n[0]);
        h_pump (n, 2, &away);
    }
    CHECK (h_st (n[0]).role == RAFT_LEADER);
    CHECK (raft_transfer_leadership (n[0], 2) == RAFT_OK);
    h_pump (n, 2, &away);
    CHECK (raft_transfer_leadership (n[1], 1) == RAFT_OK);
    h_pump (n, 2, &away);
    raft_term_t term = h_st (n[0]).term;
    CHECK (h_st (n[0]).role == RAFT_LEADER && term == RAFT_TERM_ACCEPT_MAX + 3);
    h_batch_free (&away);

    /* n3 is back: heartbeats, and its own campaigns' rejections, bring it
       up to the cluster's term; then it follows and replicates. */
    for (int i = 0; i < 30; i++) {
        for (int k = 0; k < 3; k++)
            raft_tick (n[k]);
        h_pump (n, 3, NULL);
    }
    CHECK (h_st (n[2]).term == h_st (n[0]).term);
    CHECK (h_st (n[2]).leader == 1);
    raft_buf_t *d = raft_buf_new ("back", 4);
    raft_index_t idx = 0;
    CHECK (raft_propose (n[0], d, &idx, NULL) == RAFT_OK);
    raft_buf_unref (d);
    h_pump (n, 3, NULL);
    CHECK (h_st (n[2]).commit == idx && h_term_at (n[2], idx) == term);
    for (int i = 0; i < 3; i++)
        raft_destroy (&n[i]);
}

/* A response from a server outside the configuration is dropped: a
   leader tracks progress and a candidate counts votes of members only, so
   its one effect would have been its term. */
static void
test_response_from_stranger_dropped (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o, &c);
    const raft_msg_type_t types[] = {
        RAFT_MSG_APPEND_RESP, RAFT_MSG_VOTE_RESP, RAFT_MSG_PREVOTE_RESP,
        RAFT_MSG_HEARTBEAT_RESP, RAFT_MSG_SNAPSHOT_RESP};
    for (size_t k = 0; k < 5; k++) {
        raft_msg_t m = h_msg (types[k], 9, 1, 7);
        raft_step (r, &m);
        CHECK (h_st (r).dropped_msgs == k + 1);
    }
    CHECK (h_st (r).role == RAFT_LEADER && h_st (r).term == 2);
    raft_destroy (&r);
}

void
suite_misc (void)
{
    H_RUN (test_bad_input_dropped);
    H_RUN (test_forged_terms_cannot_wedge);
    H_RUN (test_lagging_server_rejoins_above_2_61);
    H_RUN (test_response_from_stranger_dropped);
    H_RUN (test_new_refuses_bad_boot);
    H_RUN (test_cluster_elects_and_replicates);
    H_RUN (test_cluster_transfer);
    H_RUN (test_restart_keeps_hard_state);
}

int
main (void)
{
    check_watchdog ("test_raft", 120);
    suite_election ();
    suite_vote ();
    suite_leader ();
    suite_append ();
    suite_replication ();
    suite_read ();
    suite_membership ();
    suite_transfer ();
    suite_misc ();
    suite_snapshot ();
    suite_identity ();
    suite_follower_read ();
    return check_report ();
}
