/*  test_snapshot.c -- chapter 5: log compaction and chunked InstallSnapshot
    (actors/raft/snapshot.c), rule by rule.
*/
#include "harness.h"

#include <stdlib.h>
#include <string.h>

/* A SNAPSHOT chunk as the leader's caller fills it in. */
static raft_msg_t
s_chunk (raft_id_t from, raft_id_t to, raft_term_t term, raft_index_t index,
         raft_term_t snap_term, uint64_t chunk, bool done)
{
    raft_msg_t m = h_msg (RAFT_MSG_SNAPSHOT, from, to, term);
    raft_conf_t c = h_conf (3, 0);
    m.prev_index = index;
    m.prev_term = snap_term;
    m.ctx = chunk;
    m.done = done;
    m.data = raft_buf_new ("chunk", 5);
    m.entries = calloc (1, sizeof *m.entries);
    m.entries[0] = (raft_entry_t){.term = snap_term,
                                  .index = index,
                                  .type = RAFT_ENTRY_CONF,
                                  .data = raft_buf_new (&c, sizeof c)};
    m.n_entries = 1;
    return m;
}

/* One raft_ready; the snapshot chunk it hands out is copied to *chunk. */
static bool
s_ready_snap (raft_t *r, h_batch_t *b, raft_snapshot_chunk_t *chunk)
{
    memset (chunk, 0, sizeof *chunk);
    h_batch_free (b);
    raft_ready_t rd;
    bool any = raft_ready (r, &rd);
    if (rd.snapshot) {
        *chunk = *rd.snapshot;
        chunk->data = NULL; /* not kept */
    }
    /* the rest as h_collect would: only messages matter here */
    for (size_t i = 0; i < rd.n_msgs; i++) {
        b->msgs = realloc (b->msgs, (b->n_msgs + 1) * sizeof *b->msgs);
        b->msgs[b->n_msgs] = rd.msgs[i];
        b->msgs[b->n_msgs].entries = NULL;
        b->msgs[b->n_msgs].n_entries = 0;
        b->msgs[b->n_msgs].data = NULL;
        b->n_msgs++;
    }
    b->seq = rd.seq;
    return any;
}

/* Compaction drops entries up to an applied index; the base keeps its term
   and configuration; beyond applied is refused. */
static void
test_compact_moves_base (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    const raft_term_t log[] = {1, 2, 2, 2};
    raft_t *r = h_boot (&o, &c, 2, 0, log, 4, 4); /* applied 4 of 5 */
    size_t sizes[6] = {0}, all = 0;
    for (raft_index_t i = 1; i <= 5; i++) {
        const raft_entry_t *e = raft_log_get (r, i);
        sizes[i] = e && e->data ? e->data->len : 0;
        all += sizes[i];
    }
    /* the data bytes held, for compaction by memory */
    CHECK (all > 0 && h_st (r).log_bytes == all);
    CHECK (raft_log_bytes (r, 0, 5) == all);
    CHECK (raft_log_bytes (r, 3, 4) == sizes[4]);
    CHECK (raft_compact (r, 5) == RAFT_ERR_INVALID);
    CHECK (raft_compact (r, 3) == RAFT_OK);
    CHECK (h_st (r).log_bytes == sizes[4] + sizes[5]);
    CHECK (raft_log_bytes (r, 0, 5) == sizes[4] + sizes[5]);
    raft_status_t st = h_st (r);
    CHECK (st.base_index == 3 && st.base_term == 2 && st.last_index == 5);
    CHECK (raft_log_get (r, 3) == NULL && raft_log_get (r, 4) != NULL);
    CHECK (raft_log_term (r, 3) == 2);
    CHECK (raft_base_conf (r)->n == 3);
    CHECK (raft_compact (r, 2) == RAFT_OK); /* already below the base */
    CHECK (h_st (r).base_index == 3);
    raft_destroy (&r);
}

/* A follower behind the leader's base gets chunks, one at a time; chunk 0
   goes out without snapshot index (the caller fills it), later ones carry
   the index the follower acknowledged; success after the install moves the
   follower back to replication from the snapshot on. */
static void
test_leader_sends_chunks (void)
{
    raft_options_t o;
    h_opts (&o, 1);
    raft_conf_t c = h_conf (3, 0);
    raft_t *r = h_new_leader (&o, &c); /* term 2, commit = applied = 2 */
    h_batch_t b = {0};
    raft_index_t idx;
    raft_term_t term;
    raft_buf_t *d = raft_buf_new ("x", 1);
    for (int i = 0; i < 3; i++)
        CHECK (raft_propose (r, d, &idx, &term) == RAFT_OK);
    raft_buf_unref (d);
    h_settle (r, &b);
    /* follower 2 takes everything; 3 hears nothing */
    for (size_t i = 0; i < b.n_msgs; i++)
        if (b.msgs[i].to == 2)
            h_reply_ok (r, &b.msgs[i]);
    h_settle (r, &b);
    CHECK (h_st (r).commit == 5 && h_st (r).applied == 5);
    CHECK (raft_compact (r, 5) == RAFT_OK);
    /* 3 says it has only the bootstrap entry */
    raft_msg_t rej = h_msg (RAFT_MSG_APPEND_RESP, 3, 1, 2);
    rej.reject = true;
    rej.index = 5;
    rej.hint_index = 2;
    raft_step (r, &rej);
    h_settle (r, &b);
    const raft_msg_t *s0 = h_find (&b, RAFT_MSG_SNAPSHOT, 3);
    CHECK (s0->type == RAFT_MSG_SNAPSHOT && s0->ctx == 0 &&
           s0->prev_index == 0 && !s0->data);
    CHECK (h_count (&b, RAFT_MSG_APPEND, 3) == 0);
    /* its acknowledgement of chunk 0 names the snapshot: chunk 1 follows */
    raft_msg_t ack = h_msg (RAFT_MSG_SNAPSHOT_RESP, 3, 1, 2);
    ack.prev_index = 5;
    ack.prev_term = 2;
    ack.ctx = 1;
    raft_step (r, &ack);
    h_settle (r, &b);
    const raft_msg_t *s1 = h_find (&b, RAFT_MSG_SNAPSHOT, 3);
    CHECK (s1->ctx == 1 && s1->prev_index == 5 && s1->prev_term == 2);
    /* a duplicate acknowledgement sends nothing more */
    raft_step (r, &ack);
    h_settle (r, &b);
    CHECK (h_count (&b, RAFT_MSG_SNAPSHOT, 3) == 0);
    /* installed: 3 holds everything up to 5, and replication resumes */
    raft_msg_t ok = h_msg (RAFT_MSG_APPEND_RESP, 3, 1, 2);
    ok.index = 5;
    raft_step (r, &ok);
    d = raft_buf_new ("y", 1);
    CHECK (raft_propose (r, d, &idx, &term) == RAFT_OK);
    raft_buf_unref (d);
    h_settle (r, &b);
    const raft_msg_t *ap = h_find (&b, RAFT_MSG_APPEND, 3);
    CHECK (ap->type == RAFT_MSG_APPEND && ap->prev_index == 5);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* The follower stages each chunk through the Ready write and acknowledges
   it only once durable; duplicates and gaps get the next chunk wanted
   again; the last chunk installs: base, commit and applied jump to the
   snapshot, and the success answer waits for the install to be durable. */
static void
test_follower_installs_chunks (void)
{
    raft_options_t o;
    h_opts (&o, 2);
    raft_conf_t c = h_conf (3, 0);
    const raft_term_t log[] = {1};
    raft_t *r = h_boot (&o, &c, 3, 0, log, 1, 2);
    h_batch_t b = {0};
    raft_snapshot_chunk_t ch;

    raft_msg_t m = s_chunk (1, 2, 3, 10, 3, 0, false);
    h_step_clear (r, &m);
    s_ready_snap (r, &b, &ch);
    CHECK (b.seq && ch.chunk == 0 && ch.index == 10 && !ch.done);
    CHECK (h_count (&b, RAFT_MSG_SNAPSHOT_RESP, 1) == 0); /* not durable */
    raft_persisted (r, b.seq);
    s_ready_snap (r, &b, &ch);
    const raft_msg_t *a = h_find (&b, RAFT_MSG_SNAPSHOT_RESP, 1);
    CHECK (a->ctx == 1 && !a->reject && a->prev_index == 10);

    /* a gap: chunk 2 before 1 -> "I want 1" */
    m = s_chunk (1, 2, 3, 10, 3, 2, false);
    h_step_clear (r, &m);
    s_ready_snap (r, &b, &ch);
    CHECK (!b.seq);
    a = h_find (&b, RAFT_MSG_SNAPSHOT_RESP, 1);
    CHECK (a->ctx == 1 && !a->reject);

    /* a chunk of a snapshot we are not staging -> start over */
    m = s_chunk (1, 2, 3, 20, 3, 1, false);
    h_step_clear (r, &m);
    s_ready_snap (r, &b, &ch);
    CHECK (h_find (&b, RAFT_MSG_SNAPSHOT_RESP, 1)->reject);

    /* the last chunk: install */
    m = s_chunk (1, 2, 3, 10, 3, 1, true);
    h_step_clear (r, &m);
    s_ready_snap (r, &b, &ch);
    CHECK (b.seq && ch.chunk == 1 && ch.done && !ch.keep_tail);
    raft_status_t st = h_st (r);
    CHECK (st.base_index == 10 && st.base_term == 3 && st.commit == 10 &&
           st.applied == 10 && st.last_index == 10);
    CHECK (h_count (&b, RAFT_MSG_APPEND_RESP, 1) == 0); /* not durable */
    raft_persisted (r, b.seq);
    s_ready_snap (r, &b, &ch);
    a = h_find (&b, RAFT_MSG_APPEND_RESP, 1);
    CHECK (a->type == RAFT_MSG_APPEND_RESP && !a->reject && a->index == 10);

    /* a stale chunk of a snapshot we already hold: answered with commit */
    m = s_chunk (1, 2, 3, 8, 3, 0, false);
    h_step_clear (r, &m);
    s_ready_snap (r, &b, &ch);
    CHECK (!b.seq);
    a = h_find (&b, RAFT_MSG_APPEND_RESP, 1);
    CHECK (a->index == 10 && !a->reject);
    h_batch_free (&b);
    raft_destroy (&r);
}

/* Figure 5.3 step 6: if the log holds the snapshot's last entry, the
   entries after it stay. */
static void
test_install_keeps_matching_tail (void)
{
    raft_options_t o;
    h_opts (&o, 2);
    raft_conf_t c = h_conf (3, 0);
    const raft_term_t log[] = {1, 2, 2, 2}; /* indexes 2..5 */
    raft_t *r = h_boot (&o, &c, 2, 0, log, 4, 1);
    h_batch_t b = {0};
    raft_snapshot_chunk_t ch;
    raft_msg_t m = s_chunk (1, 2, 2, 4, 2, 0, true);
    h_step_clear (r, &m);
    s_ready_snap (r, &b, &ch);
    CHECK (ch.done && ch.keep_tail);
    raft_status_t st = h_st (r);
    CHECK (st.base_index == 4 && st.last_index == 5 && st.commit == 4);
    CHECK (raft_log_get (r, 5) != NULL);
    h_batch_free (&b);
    raft_destroy (&r);
}

void
suite_snapshot (void)
{
    H_RUN (test_compact_moves_base);
    H_RUN (test_leader_sends_chunks);
    H_RUN (test_follower_installs_chunks);
    H_RUN (test_install_keeps_matching_tail);
}
