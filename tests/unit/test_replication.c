/*  test_replication.c -- the leader's replication and commit rules (§3.5,
    §3.6), Figure 3.6 and 3.7, accelerated backtracking (§3.5), pipelining
    and batching (§10.2), lost AppendEntries retried, and the delivery of
    committed entries through raft_ready ().

    Section numbers refer to Ongaro's dissertation.
*/
#include "harness.h"

#include <stdio.h>
#include <string.h>

/* True if the buffer holds exactly the C string text. */
static bool
s_data_is (const raft_buf_t *buf, const char *text)
{
    size_t len = strlen (text);
    return buf && buf->len == len && memcmp (buf->data, text, len) == 0;
}

/* Figure 3.1, Leaders: a client command is appended to the local log and
   sent in AppendEntries starting at nextIndex, carrying leaderCommit; a
   success moves matchIndex and nextIndex. */
static void
test_leader_replicates_proposal (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o, &c);
    h_batch_t b = {0};
    raft_buf_t *data = raft_buf_new ("cmd", 3);
    raft_index_t idx = 0;
    raft_term_t term = 0;
    CHECK (raft_propose (r, data, &idx, &term) == RAFT_OK);
    raft_buf_unref (data);
    CHECK (idx == 3 && term == 2);
    CHECK (h_st (r).last_index == 3 && h_st (r).commit == 2);
    h_ready (r, &b);
    CHECK (b.n_entries == 1 && b.entries[0].index == 3);
    CHECK (h_count (&b, RAFT_MSG_APPEND, 0) == 2);
    for (raft_id_t to = 2; to <= 3; to++) {
        const raft_msg_t *m = h_find (&b, RAFT_MSG_APPEND, to);
        CHECK (m->term == 2 && m->prev_index == 2 && m->prev_term == 2);
        CHECK (m->commit == 2 && m->n_entries == 1);
        if (m->n_entries == 1) {
            CHECK (m->entries[0].index == 3 && m->entries[0].term == 2);
            CHECK (m->entries[0].type == RAFT_ENTRY_NORMAL);
            CHECK (s_data_is (m->entries[0].data, "cmd"));
        }
    }
    raft_persisted (r, b.seq);
    h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, 2));
    raft_progress_info_t pr[4];
    size_t n = raft_progress (r, pr, 4);
    CHECK (n == 2);
    for (size_t i = 0; i < n; i++) {
        CHECK (pr[i].voter);
        CHECK (pr[i].match == (pr[i].id == 2 ? 3u : 2u));
        CHECK (pr[i].next == 4);
    }
    CHECK (h_st (r).commit == 3);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* §10.2.1: the leader writes its log in parallel with replication, but its
   own entries count toward a majority only once durable; a majority of
   followers can commit without it, but it hands an entry out for applying
   only once it holds it durably. */
static void
test_leader_own_log_counts_once_persisted (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new (1, &c);
    h_batch_t first = {0}, b = {0};
    CHECK (h_elect (r));
    h_ready (r, &first); /* the no-op: written, not yet durable */
    uint64_t seq = first.seq;
    h_reply_ok (r, h_find (&first, RAFT_MSG_APPEND, 2));
    CHECK (h_st (r).commit == 0);
    raft_persisted (r, seq);
    CHECK (h_st (r).commit == 2);
    h_reply_ok (r, h_find (&first, RAFT_MSG_APPEND, 3));
    h_ready (r, &b);
    CHECK (b.n_committed == 2 && b.committed[1].index == 2);
    raft_applied (r, 2);

    raft_index_t idx = h_propose (r, "x");
    h_ready (r, &b);
    seq = b.seq;
    h_ack_all (r, &b, 0);
    CHECK (h_st (r).commit == idx); /* both followers hold it */
    h_ready (r, &b);
    CHECK (b.n_committed == 0); /* but the leader does not, yet */
    raft_persisted (r, seq);
    h_ready (r, &b);
    CHECK (b.n_committed == 1 && b.committed[0].index == idx);
    h_batch_free (&first);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Figure 3.1, Leaders: commit N once a majority has matchIndex >= N (and
   log[N].term == currentTerm), for clusters of 1, 3 and 5; then tell the
   followers the new commit index. */
static void
test_leader_commit_quorum_table (void)
{
    static const struct {
        uint32_t size;
        raft_id_t acks[4];
        bool commit;
    } cases[] = {
        {1, {0}, true},       {3, {0}, false},      {3, {2, 0}, true},
        {3, {3, 0}, true},    {5, {2, 0}, false},   {5, {4, 0}, false},
        {5, {2, 3, 0}, true}, {5, {3, 5, 0}, true}, {5, {2, 3, 4, 5}, true},
    };
    raft_options_t o;
    h_opts (&o, 1);
    h_batch_t b = {0};
    for (size_t i = 0; i < N_OF (cases); i++) {
        raft_conf_t c = h_conf (cases[i].size, 0);
        raft_t *r = h_new_leader (&o, &c);
        raft_index_t idx = h_propose (r, "v");
        h_settle (r, &b);
        for (size_t k = 0; k < 4 && cases[i].acks[k]; k++)
            h_reply_ok (r, h_find (&b, RAFT_MSG_APPEND, cases[i].acks[k]));
        bool ok = (h_st (r).commit == idx) == cases[i].commit;
        if (cases[i].commit && cases[i].size > 1) {
            /* Every follower learns the new commit index. */
            h_settle (r, &b);
            for (raft_id_t to = 2; to <= cases[i].size; to++) {
                const raft_msg_t *m = h_find (&b, RAFT_MSG_APPEND, to);
                ok &= m->type == RAFT_MSG_APPEND && m->commit == idx;
            }
        }
        CHECK (ok);
        if (!ok)
            fprintf (stderr, "  case %zu\n", i);
        raft_destroy (&r);
    }
    h_batch_free (&b);
}

/* Drop APPENDs to server 3 that carry a term-3 entry, except the first. */
static bool
s_drop_noop_to_3 (const raft_msg_t *m, void *ctx)
{
    int *seen = ctx;
    if (m->type != RAFT_MSG_APPEND || m->to != 3)
        return false;
    for (size_t i = 0; i < m->n_entries; i++)
        if (m->entries[i].term == 3)
            return (*seen)++ > 0;
    return false;
}

/* §3.6.2 and Figure 3.7: "Raft never commits log entries from previous
   terms by counting replicas." Leader 1 of term 3 has (2,2)(3,2) from term
   2; once server 3 holds them too they sit on a majority, yet commit stays
   until the leader's own no-op (term 3) is on a majority; then everything
   before it commits with it. */
static void
test_leader_no_commit_of_old_term (void)
{
    raft_options_t o1, o3;
    h_opts (&o1, 1);
    o1.max_batch_entries = 1;
    h_opts (&o3, 3);
    raft_conf_t c = h_conf (3, 0);
    const raft_term_t log[] = {2, 2};
    raft_t *leader = h_boot (&o1, &c, 2, 0, log, 2, 0);
    raft_t *f3 = h_boot (&o3, &c, 2, 0, NULL, 0, 0);
    h_batch_t rest = {0}, b = {0};
    const raft_id_t only2[] = {2, 0};
    CHECK (h_elect_with (leader, only2));
    CHECK (h_st (leader).term == 3 && h_st (leader).last_index == 4);

    int seen = 0;
    raft_t *nodes[] = {leader, f3};
    h_pump_ex (nodes, 2, &rest, s_drop_noop_to_3, &seen);
    CHECK (seen >= 2); /* the no-op reached server 3 only in a probe */
    CHECK (h_st (f3).last_index == 3 && h_term_at (f3, 3) == 2);
    CHECK (h_st (leader).persisted == 4);
    raft_progress_info_t pr[2];
    size_t n = raft_progress (leader, pr, 2);
    for (size_t i = 0; i < n; i++)
        if (pr[i].id == 3)
            CHECK (pr[i].match == 3);
    CHECK (h_st (leader).commit == 0); /* (3,2) is on 2 of 3: no commit */

    /* Server 2 takes the no-op: index 4, of term 3, is on a majority. */
    h_reply_ok (leader, h_find (&rest, RAFT_MSG_APPEND, 2));
    CHECK (h_st (leader).commit == 4);
    h_settle (leader, &b);
    CHECK (b.n_committed == 4);
    for (size_t k = 0; k < b.n_committed; k++)
        CHECK (b.committed[k].index == k + 1);
    h_batch_free (&rest);
    h_batch_free (&b);
    raft_destroy (&leader);
    raft_destroy (&f3);
}

/* Records the prev_index of every APPEND to server 2 (never drops). */
typedef struct {
    raft_index_t prev[32];
    size_t n;
} s_prevs_t;

static bool
s_record_prev_to_2 (const raft_msg_t *m, void *ctx)
{
    s_prevs_t *p = ctx;
    if (m->type == RAFT_MSG_APPEND && m->to == 2 && p->n < 32)
        p->prev[p->n++] = m->prev_index;
    return false;
}

/* §3.5 accelerated log backtracking: a rejection names the conflicting term
   and where the follower's run of it starts; the leader's next AppendEntries
   skips the whole term in one round trip (to just after its own last entry
   of that term, or to the follower's first index of it if it has none).
   Both logs converge and commit. */
static void
test_fast_backtracking (void)
{
    /* Leader: (1..3,1) (4..5,4) (6..9,5) (10,6), elected for term 7. */
    const raft_term_t lead[] = {1, 1, 4, 4, 5, 5, 5, 5, 6};
    static const struct {
        raft_term_t log[10];
        size_t n;
        raft_term_t term;
        raft_index_t prevs[3];
    } cases[] = {
        /* (1..3,1) (4..9,4): 10 is missing; at 9 the term is 4, the
           leader's last term-4 entry is 5: retry after 5, not at 8. */
        {{1, 1, 4, 4, 4, 4, 4, 4}, 8, 4, {10, 9, 5}},
        /* (1..3,1) (4..6,3): term 3 is not in the leader's log, skip to
           the follower's first term-3 index. */
        {{1, 1, 3, 3, 3}, 5, 3, {10, 6, 3}},
    };
    raft_options_t o1, o2;
    h_opts (&o1, 1);
    h_opts (&o2, 2);
    raft_conf_t c = h_conf (3, 0);
    const raft_id_t only3[] = {3, 0};
    for (size_t i = 0; i < N_OF (cases); i++) {
        raft_t *leader = h_boot (&o1, &c, 6, 0, lead, N_OF (lead), 0);
        raft_t *f =
            h_boot (&o2, &c, cases[i].term, 0, cases[i].log, cases[i].n, 1);
        h_batch_t rest = {0};
        CHECK (h_elect_with (leader, only3));
        CHECK (h_st (leader).term == 7 && h_st (leader).last_index == 11);
        s_prevs_t p = {.n = 0};
        raft_t *nodes[] = {leader, f};
        h_pump_ex (nodes, 2, &rest, s_record_prev_to_2, &p);
        CHECK (p.n >= 3);
        bool ok = p.n >= 3;
        for (size_t k = 0; k < 3 && k < p.n; k++)
            ok &= p.prev[k] == cases[i].prevs[k];
        CHECK (ok);
        if (!ok) {
            fprintf (stderr, "  case %zu: prev indexes", i);
            for (size_t k = 0; k < p.n; k++)
                fprintf (stderr, " %llu", (unsigned long long)p.prev[k]);
            fprintf (stderr, "\n");
        }
        const raft_term_t want[] = {1, 1, 4, 4, 5, 5, 5, 5, 6, 7};
        CHECK (h_log_is (f, want, N_OF (want)));
        CHECK (h_st (leader).commit == 11 && h_st (f).commit == 11);
        h_batch_free (&rest);
        raft_destroy (&leader);
        raft_destroy (&f);
    }
}

/* §3.5 and Figure 3.6: whatever a follower's log looks like (missing
   entries, extra uncommitted entries, both), the leader makes it identical
   to its own, and then commits its term-8 no-op with it. */
static void
test_figure_3_6_followers_converge (void)
{
    const raft_term_t lead[] = {1, 1, 4, 4, 5, 5, 6, 6, 6}; /* to 10 */
    static const struct {
        const char *name;
        raft_term_t log[12];
        size_t n;
    } cases[] = {
        {"a", {1, 1, 4, 4, 5, 5, 6, 6}, 8},
        {"b", {1, 1, 4}, 3},
        {"c", {1, 1, 4, 4, 5, 5, 6, 6, 6, 6}, 10},
        {"d", {1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7}, 11},
        {"e", {1, 1, 4, 4, 4, 4}, 6},
        {"f", {1, 1, 2, 2, 2, 3, 3, 3, 3, 3}, 10},
    };
    raft_options_t o1, o2;
    h_opts (&o1, 1);
    h_opts (&o2, 2);
    raft_conf_t c = h_conf (3, 0);
    const raft_id_t only3[] = {3, 0};
    const raft_term_t want[] = {1, 1, 4, 4, 5, 5, 6, 6, 6, 8};
    for (size_t i = 0; i < N_OF (cases); i++) {
        raft_t *leader = h_boot (&o1, &c, 7, 0, lead, N_OF (lead), 0);
        raft_t *f = h_boot (&o2, &c, 1, 0, cases[i].log, cases[i].n, 1);
        h_batch_t rest = {0};
        CHECK (h_elect_with (leader, only3));
        CHECK (h_st (leader).term == 8);
        raft_t *nodes[] = {leader, f};
        h_pump (nodes, 2, &rest);
        bool ok = h_log_is (f, want, N_OF (want)) &&
                  h_log_is (leader, want, N_OF (want)) &&
                  h_st (leader).commit == 11 && h_st (f).commit == 11 &&
                  h_st (f).term == 8 && h_st (f).leader == 1;
        CHECK (ok);
        if (!ok)
            fprintf (stderr, "  follower (%s)\n", cases[i].name);
        h_batch_free (&rest);
        raft_destroy (&leader);
        raft_destroy (&f);
    }
}

/* §10.2.2 pipelining and batching: a follower in steady state gets several
   AppendEntries without waiting for acknowledgements, at most max_inflight
   of them, each with at most max_batch_entries entries (and at most
   max_batch_bytes of payload, but never empty); an acknowledgement frees
   room for the next one. A follower still being probed gets one at a
   time. */
static void
test_pipelining_and_batching (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    o.max_inflight = 3;
    o.max_batch_entries = 2;
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o, &c);
    h_batch_t b = {0};
    for (int i = 0; i < 10; i++)
        h_propose (r, "0123456789"); /* indexes 3..12 */
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_APPEND, 2) == 3);
    for (size_t k = 0; k < 3; k++) {
        const raft_msg_t *m = h_find_nth (&b, RAFT_MSG_APPEND, 2, k);
        CHECK (m->prev_index == 2 + 2 * k && m->n_entries == 2);
    }
    h_batch_t keep = {0};
    h_reply_ok (r, h_find_nth (&b, RAFT_MSG_APPEND, 2, 0)); /* ack 3..4 */
    h_ready (r, &keep);
    CHECK (h_count (&keep, RAFT_MSG_APPEND, 2) == 1);
    CHECK (h_find (&keep, RAFT_MSG_APPEND, 2)->prev_index == 8);
    CHECK (h_find (&keep, RAFT_MSG_APPEND, 2)->n_entries == 2);
    h_reply_ok (r, h_find_nth (&b, RAFT_MSG_APPEND, 2, 1)); /* ack 5..6 */
    h_ready (r, &keep);
    CHECK (h_count (&keep, RAFT_MSG_APPEND, 2) == 1);
    CHECK (h_find (&keep, RAFT_MSG_APPEND, 2)->prev_index == 10);
    h_reply_ok (r, h_find_nth (&b, RAFT_MSG_APPEND, 2, 2)); /* ack 7..8 */
    h_ready (r, &keep);
    /* All sent: at most an empty AppendEntries carrying the new commit. */
    CHECK (h_find (&keep, RAFT_MSG_APPEND, 2)->n_entries == 0);
    raft_destroy (&r);

    /* Bytes: 10-byte payloads with a 15-byte budget go one per message. */
    o.max_batch_entries = 100;
    o.max_batch_bytes = 15;
    r = h_new_leader (&o, &c);
    for (int i = 0; i < 4; i++)
        h_propose (r, "0123456789");
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_APPEND, 2) == 3); /* max_inflight */
    for (size_t k = 0; k < 3; k++)
        CHECK (h_find_nth (&b, RAFT_MSG_APPEND, 2, k)->n_entries == 1);
    raft_destroy (&r);

    /* Probing: before its first answer, one AppendEntries per follower. */
    h_opts (&o, 1);
    o.max_inflight = 3;
    o.max_batch_entries = 2;
    r = h_boot (&o, &c, 1, 0, NULL, 0, 0);
    CHECK (h_make_leader (r, &b));
    CHECK (h_count (&b, RAFT_MSG_APPEND, 2) == 1);
    for (int i = 0; i < 6; i++)
        h_propose (r, "p");
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_APPEND, 2) == 0);
    h_batch_free (&keep);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Figure 3.1, All Servers: "If commitIndex > lastApplied: increment
   lastApplied, apply log[lastApplied]" -- through raft_ready ().committed:
   every committed entry once, in index order, across many batches, with
   its payload, whether or not raft_applied () was called in between. */
static void
test_committed_in_order_exactly_once (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new (1, &c);
    h_batch_t b = {0};
    raft_index_t seen[32];
    size_t n_seen = 0;
    bool payload_ok = true;

#define S_TAKE()                                                               \
    do {                                                                       \
        for (size_t k = 0; k < b.n_committed && n_seen < 32; k++) {            \
            const raft_entry_t *e = &b.committed[k];                           \
            seen[n_seen++] = e->index;                                         \
            char want[16];                                                     \
            snprintf (want, sizeof want, "p%llu",                              \
                      (unsigned long long)e->index);                           \
            if (e->index > 2 && !s_data_is (e->data, want))                    \
                payload_ok = false;                                            \
        }                                                                      \
    } while (0)

    CHECK (h_make_leader (r, &b));
    S_TAKE ();
    h_ack_all (r, &b, 0);
    h_settle_ex (r, &b, false); /* not applied: still handed out once */
    S_TAKE ();
    h_settle (r, &b);
    S_TAKE ();

    h_propose (r, "p3");
    h_propose (r, "p4");
    h_settle (r, &b);
    S_TAKE ();
    h_batch_t app = {0};
    h_ack_all (r, &b, 2);
    h_settle (r, &b);
    S_TAKE ();
    for (int i = 0; i < 3; i++) {
        h_ready (r, &app);
        CHECK (app.n_committed == 0);
    }
    h_propose (r, "p5");
    h_propose (r, "p6");
    h_propose (r, "p7");
    h_settle (r, &b);
    S_TAKE ();
    h_ack_all (r, &b, 3); /* server 3 catches up on 3..7 */
    h_settle (r, &b);
    S_TAKE ();
#undef S_TAKE

    CHECK (h_st (r).commit == 7 && h_st (r).applied == 7);
    CHECK (n_seen == 7);
    for (size_t k = 0; k < n_seen; k++)
        CHECK (seen[k] == k + 1);
    CHECK (payload_ok);
    h_batch_free (&app);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Loses APPENDs with entries to server 2. */
static bool
s_drop_entries_to_2 (const raft_msg_t *m, void *ctx)
{
    (void)ctx;
    return m->type == RAFT_MSG_APPEND && m->to == 2 && m->n_entries > 0;
}

/* §3.5: "If followers crash or run slowly, or if network packets are lost,
   the leader retries AppendEntries RPCs indefinitely until all followers
   eventually store all log entries." An AppendEntries lost to a follower in
   steady state is sent again, without any new proposal, once the follower
   answers a heartbeat. */
static void
test_lost_append_is_retried (void)
{
    raft_conf_t c = h_conf (3, 0);
    raft_t *n1 = h_new (1, &c), *n2 = h_new (2, &c), *n3 = h_new (3, &c);
    raft_t *nodes[] = {n1, n2, n3};
    for (int i = 0; i < 10; i++)
        raft_tick (n1);
    h_pump (nodes, 3, NULL);
    CHECK (h_st (n1).role == RAFT_LEADER && h_st (n2).commit == 2);

    raft_index_t idx = h_propose (n1, "lost");
    h_pump_ex (nodes, 3, NULL, s_drop_entries_to_2, NULL);
    CHECK (h_st (n1).commit == idx && h_st (n3).last_index == idx);
    CHECK (h_st (n2).last_index == idx - 1);

    /* Heartbeats flow; node 2 answers them. */
    for (int i = 0; i < 10 && h_st (n2).last_index < idx; i++) {
        raft_tick (n1);
        h_pump (nodes, 3, NULL);
    }
    CHECK (h_st (n2).last_index == idx);
    CHECK (h_st (n2).commit == idx);
    raft_destroy (&n1);
    raft_destroy (&n2);
    raft_destroy (&n3);
}

void
suite_replication (void)
{
    H_RUN (test_leader_replicates_proposal);
    H_RUN (test_leader_own_log_counts_once_persisted);
    H_RUN (test_leader_commit_quorum_table);
    H_RUN (test_leader_no_commit_of_old_term);
    H_RUN (test_fast_backtracking);
    H_RUN (test_figure_3_6_followers_converge);
    H_RUN (test_pipelining_and_batching);
    H_RUN (test_committed_in_order_exactly_once);
    H_RUN (test_lost_append_is_retried);
}
