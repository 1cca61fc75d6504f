/*  ready.c -- the outbox and the batch: messages held until what they
    assert is durable (Figure 3.1, §3.8), or handed out with the write
    they wait for (async_sends); raft_ready, raft_persisted, raft_applied.
    The seam is described in raft.h.
*/
#include "raft_int.h"

#include <stdlib.h>
#include <string.h>

void
raft_free_out (raft_t *r)
{
    for (size_t i = 0; i < r->out_msgs.n; i++)
        raft_msg_clear (&r->out_msgs.v[i]);
    r->out_msgs.n = 0;
    for (size_t i = 0; i < r->out_after.n; i++)
        raft_msg_clear (&r->out_after.v[i].msg);
    r->out_after.n = 0;
    for (size_t i = 0; i < r->out_entries.n; i++)
        raft_buf_unref (r->out_entries.v[i].data);
    r->out_entries.n = 0;
    for (size_t i = 0; i < r->out_committed.n; i++)
        raft_buf_unref (r->out_committed.v[i].data);
    r->out_committed.n = 0;
    r->out_reads.n = 0;
    raft_buf_unref (r->out_snapshot.data);
    memset (&r->out_snapshot, 0, sizeof r->out_snapshot);
}

/*  ---------------------------------------------------------------------
    The outbox                                                           */

void
raft_send (raft_t *r, raft_msg_t *m, raft_index_t ack_index)
{
    raft_held_t h = {.msg = *m};
    h.msg.from = r->id;
    /* Figure 3.1: currentTerm and votedFor are "updated on stable storage
       before responding to RPCs". Any message made after a hard state
       change waits for the write that carries it. */
    if (r->hs_dirty)
        h.wait_seq = r->last_seq + 1; /* the next batch will carry it */
    else if (r->hs_seq > r->persisted_seq)
        h.wait_seq = r->hs_seq;
        /* A follower acknowledges only entries that are durable (§3.8): the
       leader counts the acknowledgement toward commitment. */
#if !RAFT_BUG(ACK_UNPERSISTED)
    if (ack_index > 0 && ack_index > r->persisted) {
        h.wait_index = ack_index;
        h.wait_term = raft_log_term_at (&r->log, ack_index);
    }
#else
    (void)ack_index;
#endif
    RAFT_VEC_PUSH (r->held, h);
    memset (m, 0, sizeof *m);
}

/* A successful entry acknowledgement says "my log matches yours up to
   index" and nothing else, and a later one of the same term subsumes an
   earlier (within a term a follower's matching prefix only grows). So
   when one for the same leader and term already waits in out_msgs, keep
   the larger index in it and drop m: a follower that made several
   AppendEntries durable in one write answers them with one message. True
   when m was merged (and cleared). */
static bool
s_coalesce_ack (raft_t *r, raft_msg_t *m)
{
    if (m->type != RAFT_MSG_APPEND_RESP || m->reject)
        return false;
    for (size_t i = 0; i < r->out_msgs.n; i++) {
        raft_msg_t *o = &r->out_msgs.v[i];
        if (o->type == RAFT_MSG_APPEND_RESP && !o->reject && o->to == m->to &&
            o->term == m->term) {
            if (m->index > o->index)
                o->index = m->index;
            raft_msg_clear (m);
            return true;
        }
    }
    return false;
}

/* Move the messages whose conditions hold into out_msgs. An entry
   acknowledgement whose entries were since replaced by a newer leader's is
   dropped: it would vouch for entries this server no longer has. */
static void
s_release_held (raft_t *r)
{
    size_t keep = 0;
    for (size_t i = 0; i < r->held.n; i++) {
        raft_held_t *h = &r->held.v[i];
        if (h->wait_index &&
            raft_log_term_at (&r->log, h->wait_index) != h->wait_term) {
            raft_msg_clear (&h->msg);
            continue;
        }
        bool ready = (h->wait_seq == 0 || h->wait_seq <= r->persisted_seq) &&
                     (h->wait_index == 0 || h->wait_index <= r->persisted);
        if (ready && !s_coalesce_ack (r, &h->msg))
            RAFT_VEC_PUSH (r->out_msgs, h->msg);
        else if (!ready)
            r->held.v[keep++] = *h;
    }
    r->held.n = keep;
}

/* opts.async_sends: hand every message still held out in out_after, with
   the write it waits for. Called once this batch's write (if any) is
   numbered, so every entry of the log has been handed out to persist by
   write last_seq or earlier: an acknowledgement waits for last_seq (the
   last write in flight; group commit makes that no later in practice),
   a message made after a hard state change for the write carrying it.
   Acknowledgements to the same leader in the same term are merged, as in
   s_coalesce_ack. */
static void
s_hand_out_held (raft_t *r)
{
    for (size_t i = 0; i < r->held.n; i++) {
        raft_held_t *h = &r->held.v[i];
        raft_after_t a = {.seq = h->wait_seq, .msg = h->msg};
        if (h->wait_index) {
            a.seq = r->last_seq;
            a.index = h->wait_index;
            a.term = h->wait_term;
        }
#if RAFT_BUG(ASYNC_EARLY)
        a.seq = 0; /* "durable already", no condition: sent at once */
        a.index = 0;
#endif
        bool merged = false;
        if (a.msg.type == RAFT_MSG_APPEND_RESP && !a.msg.reject) {
            for (size_t k = 0; k < r->out_after.n && !merged; k++) {
                raft_after_t *o = &r->out_after.v[k];
                if (o->msg.type != RAFT_MSG_APPEND_RESP || o->msg.reject ||
                    o->msg.to != a.msg.to || o->msg.term != a.msg.term ||
                    o->seq != a.seq)
                    continue;
                if (a.msg.index > o->msg.index) {
                    o->msg.index = a.msg.index;
                    o->index = a.index;
                    o->term = a.term;
                }
                raft_msg_clear (&a.msg);
                merged = true;
            }
        }
        if (!merged)
            RAFT_VEC_PUSH (r->out_after, a);
    }
    r->held.n = 0;
}

/*  ---------------------------------------------------------------------
    The batch                                                            */

bool
raft_ready (raft_t *r, raft_ready_t *rd)
{
    raft_free_out (r);
    memset (rd, 0, sizeof *rd);
    if (r->role == RAFT_LEADER) {
        raft_read_start_round (r);
        if (r->need_flush)
            raft_flush (r);
    }

    /* 1. What to persist. */
    raft_index_t last = raft_log_last_index (&r->log);
    bool have_entries = r->unstable_from <= last;
    if (r->hs_dirty || have_entries || r->snap_pending) {
        rd->seq = ++r->last_seq;
        raft_write_t w = {.seq = rd->seq};
        if (r->snap_pending) {
            r->out_snapshot = r->snap_chunk; /* the data ref moves */
            r->snap_pending = false;
            rd->snapshot = &r->out_snapshot;
            if (r->out_snapshot.done) {
                /* The install makes the log durable up to the snapshot. */
                w.last_index = r->out_snapshot.index;
                w.last_term = r->out_snapshot.term;
            }
        }
        if (r->hs_dirty) {
            rd->hs_changed = true;
            rd->hs.term = r->term;
            rd->hs.vote = r->vote;
            r->hs_seq = rd->seq;
            r->hs_dirty = false;
        }
        if (have_entries) {
            for (raft_index_t i = r->unstable_from; i <= last; i++) {
                raft_entry_t e = *raft_log_entry (&r->log, i);
                raft_buf_ref (e.data);
                RAFT_VEC_PUSH (r->out_entries, e);
            }
            w.last_index = last;
            w.last_term = raft_log_last_term (&r->log);
            r->unstable_from = last + 1;
        }
        RAFT_VEC_PUSH (r->writes, w);
        rd->entries = r->out_entries.v;
        rd->n_entries = r->out_entries.n;
    }

    /* 2. What to send: now, and (async_sends) once durable. */
    s_release_held (r);
    if (r->opts.async_sends)
        s_hand_out_held (r);
    rd->msgs = r->out_msgs.v;
    rd->n_msgs = r->out_msgs.n;
    rd->after = r->out_after.v;
    rd->n_after = r->out_after.n;

    /* 3. What to apply: committed and durable here, each entry once. */
    raft_index_t upto = r->commit < r->persisted ? r->commit : r->persisted;
    for (; r->apply_next <= upto; r->apply_next++) {
        raft_entry_t e = *raft_log_entry (&r->log, r->apply_next);
        raft_buf_ref (e.data);
        RAFT_VEC_PUSH (r->out_committed, e);
    }
    rd->committed = r->out_committed.v;
    rd->n_committed = r->out_committed.n;

    /* 4. Reads answered. */
    for (size_t i = 0; i < r->done_reads.n; i++)
        RAFT_VEC_PUSH (r->out_reads, r->done_reads.v[i]);
    r->done_reads.n = 0;
    rd->reads = r->out_reads.v;
    rd->n_reads = r->out_reads.n;

    return rd->seq || rd->n_msgs || rd->n_after || rd->n_committed ||
           rd->n_reads;
}

void
raft_persisted (raft_t *r, uint64_t seq)
{
    if (seq <= r->persisted_seq || seq > r->last_seq)
        return;
    size_t done = 0;
    for (; done < r->writes.n && r->writes.v[done].seq <= seq; done++) {
        raft_write_t *w = &r->writes.v[done];
        /* Disk now holds the log as it was when w was handed out, up to
           w->last_index. If the entry there is still the same (same term),
           Log Matching says the whole prefix is; if it was replaced since,
           the replacement is not durable yet. */
        if (w->last_index > r->persisted &&
            raft_log_term_at (&r->log, w->last_index) == w->last_term)
            r->persisted = w->last_index;
    }
    memmove (r->writes.v, r->writes.v + done,
             (r->writes.n - done) * sizeof *r->writes.v);
    r->writes.n -= done;
    r->persisted_seq = seq;
    if (r->role == RAFT_LEADER)
        raft_maybe_commit (r);
}

void
raft_applied (raft_t *r, raft_index_t index)
{
    if (index > r->applied && index < r->apply_next) {
        r->applied = index;
        raft_read_on_applied (r);
    }
}
