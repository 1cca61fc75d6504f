/*  test_append.c -- Figure 3.1 AppendEntries, the receiver side: refusals
    (missing or mismatched prev), conflicts truncated, stale duplicates,
    the commit rule, acknowledgements held until persisted (or sent at once
    with async_sends, coalesced, dropped for replaced entries), and only
    durable committed entries applied.

    Section numbers refer to Ongaro's dissertation.
*/
#include "harness.h"

#include <stdio.h>
#include <string.h>

/* Figure 3.1, AppendEntries 2: reply false if the log has no entry at
   prevLogIndex; §3.5: the hint names the first missing index. */
static void
test_append_reject_missing_prev (void)
{
    raft_options_t o;
    h_opts (&o, 2);
    raft_conf_t c = h_conf (3, 0);
    const raft_term_t log[] = {1, 1};
    raft_t *r = h_boot (&o, &c, 2, 0, log, 2, 0); /* last index 3 */
    h_batch_t b = {0};
    const raft_term_t ents[] = {2};
    raft_msg_t m = h_append (1, 2, 2, 5, 2, 0, ents, 1);
    h_step_clear (r, &m);
    h_settle (r, &b);
    const raft_msg_t *resp = h_find (&b, RAFT_MSG_APPEND_RESP, 1);
    CHECK (resp->type == RAFT_MSG_APPEND_RESP && resp->reject);
    CHECK (resp->term == 2 && resp->index == 5);
    CHECK (resp->hint_index == 4 && resp->hint_term == 0);
    CHECK (h_log_is (r, log, 2));
    CHECK (h_st (r).leader == 1);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Figure 3.1, AppendEntries 2: reply false if the term at prevLogIndex does
   not match; §3.5: the hint is the conflicting term and the first index the
   follower has of it. Nothing is truncated by a rejection, and the reply
   (made after the term change) waits for the hard state write. */
static void
test_append_reject_term_mismatch (void)
{
    raft_options_t o;
    h_opts (&o, 2);
    raft_conf_t c = h_conf (3, 0);
    const raft_term_t log[] = {1, 2, 2, 2}; /* (2,1)(3,2)(4,2)(5,2) */
    raft_t *r = h_boot (&o, &c, 2, 0, log, 4, 0);
    h_batch_t b = {0};
    const raft_term_t ents[] = {4};
    raft_msg_t m = h_append (1, 2, 4, 4, 3, 0, ents, 1);
    h_step_clear (r, &m);
    h_ready (r, &b);
    CHECK (b.hs_changed && b.hs.term == 4);
    CHECK (b.n_msgs == 0);
    raft_persisted (r, b.seq);
    h_ready (r, &b);
    const raft_msg_t *resp = h_find (&b, RAFT_MSG_APPEND_RESP, 1);
    CHECK (resp->type == RAFT_MSG_APPEND_RESP && resp->reject);
    CHECK (resp->term == 4 && resp->index == 4);
    CHECK (resp->hint_term == 2 && resp->hint_index == 3);
    CHECK (h_log_is (r, log, 4));
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Figure 3.1, AppendEntries 3 and 4: "If an existing entry conflicts with a
   new one (same index but different terms), delete the existing entry and
   all that follow it"; "Append any new entries not already in the log".
   Entries that match are kept, and so is what follows them. The write asks
   the caller to replace the stored log from the first changed index. */
static void
test_append_truncate_and_append (void)
{
    static const struct {
        raft_index_t prev_index;
        raft_term_t prev_term;
        raft_term_t ents[3];
        size_t n;
        raft_term_t want[5]; /* log from index 2 */
        size_t want_n;
        raft_index_t first_written; /* 0: nothing written */
    } cases[] = {
        {4, 2, {3}, 1, {1, 2, 2, 3}, 4, 5}, /* append at the end */
        {2, 1, {3, 3}, 2, {1, 3, 3}, 3, 3}, /* replace a suffix */
        {2, 1, {3}, 1, {1, 3}, 2, 3},       /* and cut the rest */
        {1, 1, {1}, 1, {1, 2, 2}, 3, 0},    /* all held: no cut */
        {2, 1, {2}, 1, {1, 2, 2}, 3, 0},    /* matching: no cut */
        {3, 2, {0}, 0, {1, 2, 2}, 3, 0},    /* empty */
        {3, 2, {2, 3, 3}, 3, {1, 2, 2, 3, 3}, 5, 5},
    };
    raft_options_t o;
    h_opts (&o, 2);
    raft_conf_t c = h_conf (3, 0);
    const raft_term_t log[] = {1, 2, 2}; /* (2,1)(3,2)(4,2) */
    h_batch_t b = {0};
    for (size_t i = 0; i < N_OF (cases); i++) {
        raft_t *r = h_boot (&o, &c, 3, 0, log, 3, 1);
        raft_msg_t m =
            h_append (1, 2, 3, cases[i].prev_index, cases[i].prev_term, 0,
                      cases[i].ents, cases[i].n);
        h_step_clear (r, &m);
        h_settle (r, &b);
        const raft_msg_t *resp = h_find (&b, RAFT_MSG_APPEND_RESP, 1);
        bool ok = true;
        ok &= resp->type == RAFT_MSG_APPEND_RESP && !resp->reject;
        ok &= resp->index == cases[i].prev_index + cases[i].n;
        ok &= h_log_is (r, cases[i].want, cases[i].want_n);
        if (cases[i].first_written)
            ok &=
                b.n_entries > 0 && b.entries[0].index == cases[i].first_written;
        else
            ok &= b.n_entries == 0;
        CHECK (ok);
        if (!ok)
            fprintf (stderr, "  case %zu\n", i);
        raft_destroy (&r);
    }
    h_batch_free (&b);
}

/* §3.5/Figure 3.1 AppendEntries 3: "If an existing entry conflicts..." --
   only a conflict truncates. A delayed duplicate of an older request whose
   entries the follower already holds must not cut the entries after them
   (they may be acknowledged, even committed). */
static void
test_append_stale_duplicate_keeps_log (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new (2, &c);
    h_batch_t b = {0};
    const raft_term_t four[] = {2, 2, 2, 2};
    raft_msg_t m = h_append (1, 2, 2, 1, 1, 0, four, 4);
    raft_msg_t dup = h_append (1, 2, 2, 1, 1, 0, four, 2);
    h_step_clear (r, &m);
    h_settle (r, &b);
    CHECK (h_find (&b, RAFT_MSG_APPEND_RESP, 1)->index == 5);
    const raft_entry_t *e4 = raft_log_get (r, 4);
    const raft_buf_t *d4 = e4 ? e4->data : NULL;

    h_step_clear (r, &dup);
    h_settle (r, &b);
    CHECK (h_st (r).last_index == 5);
    CHECK (b.n_entries == 0);
    CHECK (raft_log_get (r, 4) && raft_log_get (r, 4)->data == d4);
    const raft_msg_t *resp = h_find (&b, RAFT_MSG_APPEND_RESP, 1);
    CHECK (resp->type == RAFT_MSG_APPEND_RESP && !resp->reject);
    CHECK (resp->index == 3);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Figure 3.1, AppendEntries 5: "If leaderCommit > commitIndex, set
   commitIndex = min(leaderCommit, index of last new entry)"; commit never
   goes back; the follower hands out its committed entries in order, each
   exactly once. */
static void
test_append_commit_rule (void)
{
    raft_options_t o;
    h_opts (&o, 2);
    raft_conf_t c = h_conf (3, 0);
    const raft_term_t log[] = {2, 2, 2, 2}; /* last index 5 */
    raft_t *r = h_boot (&o, &c, 2, 0, log, 4, 0);
    h_batch_t b = {0};
    raft_index_t applied[16];
    size_t n_applied = 0;
    const raft_term_t two[] = {2};

    static const struct {
        raft_msg_type_t type;
        raft_index_t prev_index;
        size_t n;
        raft_index_t leader_commit;
        raft_index_t want;
    } steps[] = {
        {RAFT_MSG_APPEND, 1, 1, 5, 2}, /* last new entry is 2 */
        {RAFT_MSG_APPEND, 3, 0, 3, 3}, /* empty: prev index 3 */
        {RAFT_MSG_HEARTBEAT, 0, 0, 4, 4},
        {RAFT_MSG_APPEND, 4, 0, 1, 4},  /* never back */
        {RAFT_MSG_APPEND, 5, 1, 10, 6}, /* one new entry */
    };
    for (size_t i = 0; i < N_OF (steps); i++) {
        raft_msg_t m;
        if (steps[i].type == RAFT_MSG_HEARTBEAT) {
            m = h_msg (RAFT_MSG_HEARTBEAT, 1, 2, 2);
            m.commit = steps[i].leader_commit;
        } else {
            m = h_append (1, 2, 2, steps[i].prev_index, 2,
                          steps[i].leader_commit, two, steps[i].n);
            if (steps[i].prev_index == 1)
                m.prev_term = 1;
        }
        h_step_clear (r, &m);
        CHECK (h_st (r).commit == steps[i].want);
        h_settle (r, &b);
        for (size_t k = 0; k < b.n_committed && n_applied < 16; k++)
            applied[n_applied++] = b.committed[k].index;
        if (h_st (r).commit != steps[i].want)
            fprintf (stderr, "  step %zu: commit %llu\n", i,
                     (unsigned long long)h_st (r).commit);
    }
    CHECK (n_applied == 6);
    for (size_t k = 0; k < n_applied; k++)
        CHECK (applied[k] == k + 1);
    CHECK (h_st (r).applied == 6);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Figure 3.1: persistent state is "updated on stable storage before
   responding to RPCs"; §3.8: a follower acknowledges entries only once
   they are durable, since the leader counts the acknowledgement. */
static void
test_append_ack_held_until_persisted (void)
{
    raft_options_t o;
    h_opts (&o, 2);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_boot (&o, &c, 2, 0, NULL, 0, 0);
    h_batch_t b = {0};
    const raft_term_t ents[] = {2, 2};
    raft_msg_t m = h_append (1, 2, 2, 1, 1, 0, ents, 2);
    h_step_clear (r, &m);
    CHECK (h_st (r).last_index == 3 && h_st (r).persisted == 1);
    h_ready (r, &b);
    CHECK (b.seq != 0 && !b.hs_changed);
    CHECK (b.n_entries == 2 && b.entries[0].index == 2);
    CHECK (b.n_msgs == 0);
    uint64_t seq = b.seq;
    h_ready (r, &b);
    CHECK (b.n_msgs == 0 && b.seq == 0);
    raft_persisted (r, seq);
    CHECK (h_st (r).persisted == 3);
    h_ready (r, &b);
    const raft_msg_t *resp = h_find (&b, RAFT_MSG_APPEND_RESP, 1);
    CHECK (resp->type == RAFT_MSG_APPEND_RESP && !resp->reject);
    CHECK (resp->index == 3);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* With async_sends the same acknowledgement is handed out at once, in
   rd.after, naming the write it waits for and the entry it vouches for
   (for the caller's storage to send after its fsync), and never in
   rd.msgs; a vote after a term change waits for the write carrying it. */
static void
test_async_sends (void)
{
    raft_options_t o;
    h_opts (&o, 2);
    o.async_sends = true;
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_boot (&o, &c, 2, 0, NULL, 0, 0);
    const raft_term_t ents[] = {2, 2};
    raft_msg_t m = h_append (1, 2, 2, 1, 1, 0, ents, 2);
    h_step_clear (r, &m);
    raft_ready_t rd;
    CHECK (raft_ready (r, &rd));
    CHECK (rd.seq != 0 && rd.n_entries == 2 && rd.n_msgs == 0);
    CHECK (rd.n_after == 1);
    CHECK (rd.after[0].seq == rd.seq && rd.after[0].index == 3 &&
           rd.after[0].term == 2);
    CHECK (rd.after[0].msg.type == RAFT_MSG_APPEND_RESP &&
           rd.after[0].msg.to == 1 && !rd.after[0].msg.reject &&
           rd.after[0].msg.index == 3);
    uint64_t seq = rd.seq;
    /* handed out once: nothing more, and nothing when the write is done */
    CHECK (!raft_ready (r, &rd));
    raft_persisted (r, seq);
    CHECK (h_st (r).persisted == 3);
    CHECK (!raft_ready (r, &rd) || (rd.n_msgs == 0 && rd.n_after == 0));
    /* a vote in a new term: after the hard state's write */
    raft_msg_t v = {.type = RAFT_MSG_VOTE,
                    .from = 3,
                    .to = 2,
                    .term = 3,
                    .prev_index = 3,
                    .prev_term = 2,
                    .transfer = true}; /* past the leader lease */
    h_step_clear (r, &v);
    CHECK (raft_ready (r, &rd));
    CHECK (rd.seq == seq + 1 && rd.hs_changed && rd.hs.vote == 3);
    CHECK (rd.n_msgs == 0 && rd.n_after == 1 && rd.after[0].seq == rd.seq &&
           rd.after[0].index == 0 &&
           rd.after[0].msg.type == RAFT_MSG_VOTE_RESP &&
           !rd.after[0].msg.reject);
    raft_destroy (&r);
}

/* Pipelined AppendEntries made durable by one write are acknowledged with
   one message, carrying the highest index (the acknowledgements of one
   term are cumulative), so a follower's answers do not grow with the
   number of requests the leader pipelined. */
static void
test_append_acks_coalesced (void)
{
    raft_options_t o;
    h_opts (&o, 2);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_boot (&o, &c, 2, 0, NULL, 0, 0);
    h_batch_t b = {0};
    const raft_term_t ents[] = {2};
    uint64_t seq = 0;
    for (raft_index_t prev = 1; prev <= 3; prev++) {
        raft_msg_t m = h_append (1, 2, 2, prev, prev == 1 ? 1 : 2, 0, ents, 1);
        h_step_clear (r, &m);
        h_ready (r, &b);
        CHECK (b.seq != 0 && b.n_msgs == 0);
        seq = b.seq;
    }
    raft_persisted (r, seq);
    CHECK (h_st (r).persisted == 4);
    h_ready (r, &b);
    CHECK (h_count (&b, RAFT_MSG_APPEND_RESP, 1) == 1);
    CHECK (h_find (&b, RAFT_MSG_APPEND_RESP, 1)->index == 4);
    CHECK (!h_find (&b, RAFT_MSG_APPEND_RESP, 1)->reject);
    /* A rejection is its own message: it says something else. */
    raft_msg_t bad = h_append (1, 2, 2, 9, 2, 0, ents, 1);
    h_step_clear (r, &bad);
    raft_msg_t ok = h_append (1, 2, 2, 4, 2, 0, ents, 1);
    h_step_clear (r, &ok);
    h_ready (r, &b);
    raft_persisted (r, b.seq);
    h_batch_t b2 = {0};
    h_ready (r, &b2);
    CHECK (h_count (&b, RAFT_MSG_APPEND_RESP, 1) +
               h_count (&b2, RAFT_MSG_APPEND_RESP, 1) ==
           2);
    h_batch_free (&b);
    h_batch_free (&b2);
    raft_destroy (&r);
}

/* §3.8 with a change of leader: an acknowledgement of entries that a newer
   leader replaced before they became durable is never sent (it would vouch
   for entries the follower no longer has); the new leader's entries are
   acknowledged once their own write is durable. */
static void
test_append_ack_of_replaced_entries_dropped (void)
{
    raft_options_t o;
    h_opts (&o, 2);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_boot (&o, &c, 2, 0, NULL, 0, 0);
    h_batch_t b = {0};
    const raft_term_t t2[] = {2}, t3[] = {3};
    raft_msg_t m = h_append (1, 2, 2, 1, 1, 0, t2, 1);
    h_step_clear (r, &m);
    h_ready (r, &b);
    uint64_t seq1 = b.seq;
    m = h_append (3, 2, 3, 1, 1, 0, t3, 1);
    h_step_clear (r, &m);
    CHECK (h_term_at (r, 2) == 3);
    h_ready (r, &b);
    uint64_t seq2 = b.seq;
    CHECK (b.n_msgs == 0);
    raft_persisted (r, seq1);
    CHECK (h_st (r).persisted == 1); /* index 2 on disk is the old one */
    h_ready (r, &b);
    CHECK (b.n_msgs == 0);
    raft_persisted (r, seq2);
    CHECK (h_st (r).persisted == 2);
    h_ready (r, &b);
    CHECK (h_count (&b, RAFT_MSG_APPEND_RESP, 1) == 0);
    CHECK (h_count (&b, RAFT_MSG_APPEND_RESP, 3) == 1);
    CHECK (h_find (&b, RAFT_MSG_APPEND_RESP, 3)->index == 2);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* A follower hands out for applying only committed entries it has made
   durable (§3.8: what it applies must survive its own crash). */
static void
test_follower_applies_durable_only (void)
{
    raft_options_t o;
    h_opts (&o, 2);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_boot (&o, &c, 2, 0, NULL, 0, 0);
    h_batch_t b = {0};
    const raft_term_t ents[] = {2, 2};
    raft_msg_t m = h_append (1, 2, 2, 1, 1, 3, ents, 2);
    h_step_clear (r, &m);
    CHECK (h_st (r).commit == 3);
    h_ready (r, &b);
    CHECK (b.n_committed == 1 && b.committed[0].index == 1);
    raft_persisted (r, b.seq);
    h_ready (r, &b);
    CHECK (b.n_committed == 2 && b.committed[0].index == 2 &&
           b.committed[1].index == 3);
    h_batch_free (&b);
    raft_destroy (&r);
}

void
suite_append (void)
{
    H_RUN (test_append_reject_missing_prev);
    H_RUN (test_append_reject_term_mismatch);
    H_RUN (test_append_truncate_and_append);
    H_RUN (test_append_stale_duplicate_keeps_log);
    H_RUN (test_append_commit_rule);
    H_RUN (test_append_acks_coalesced);
    H_RUN (test_append_ack_held_until_persisted);
    H_RUN (test_async_sends);
    H_RUN (test_append_ack_of_replaced_entries_dropped);
    H_RUN (test_follower_applies_durable_only);
}
