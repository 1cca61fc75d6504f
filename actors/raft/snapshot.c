/*  snapshot.c -- log compaction and InstallSnapshot (chapter 5).

    nsxd's state machine lives on disk and is its own snapshot (§5.3): the
    core never holds snapshot bytes. Compaction moves the log's base up to
    an index the caller's state machine durably covers. A follower that
    needs entries from before the leader's base receives the leader's state
    machine in chunks (Figure 5.3, with the offset counted in chunks):

      leader                              follower
      SNAPSHOT chunk 0 (caller fills  ->  stage chunk 0 (write seq s0);
      index, term, conf, bytes)           once s0 is durable:
                                      <-  SNAPSHOT_RESP next = 1
      SNAPSHOT chunk 1 ...            ->  ...
      SNAPSHOT chunk k, done          ->  stage it and install: base =
                                          snapshot, applied = commit =
                                          index; once durable:
                                      <-  APPEND_RESP success at index

    One chunk is in flight per follower (stop-and-wait), so a transfer
    never floods a link and heartbeats pass between chunks. A chunk is sent
    again if the follower answers heartbeats but not the chunk; after
    S_MAX_RESENDS unanswered resends the transfer starts over with a fresh
    copy (the leader's caller may have lost the old one). A follower that
    restarted, or a new leader, also starts over: chunks of an unknown
    snapshot are refused with reject, which asks for chunk 0.
*/
#include "raft_int.h"

#include <string.h>

#define S_MAX_RESENDS 3

/*  ---------------------------------------------------------------------
    Compaction                                                           */

int
raft_compact (raft_t *r, raft_index_t index)
{
    if (index > r->applied)
        return RAFT_ERR_INVALID;
    if (index <= r->log.base_index)
        return RAFT_OK;
    /* The base configuration becomes the latest one at or before index. */
    for (raft_index_t i = index; i > r->log.base_index; i--) {
        const raft_entry_t *e = raft_log_entry (&r->log, i);
        if (e->type == RAFT_ENTRY_CONF) {
            const raft_conf_t *c = raft_entry_conf (e);
            if (c)
                r->base_conf = *c;
            break;
        }
    }
    raft_log_compact (&r->log, index);
    if (r->unstable_from <= index)
        r->unstable_from = index + 1;
    raft_conf_changed (r);
    raft_emit (r, RAFT_EV_SNAPSHOT, index, 0);
    return RAFT_OK;
}

const raft_conf_t *
raft_base_conf (const raft_t *r)
{
    return &r->base_conf;
}

/*  ---------------------------------------------------------------------
    Leader side                                                          */

static void
s_send_chunk (raft_t *r, raft_progress_t *pr)
{
    raft_msg_t m = {.type = RAFT_MSG_SNAPSHOT,
                    .to = pr->id,
                    .term = r->term,
                    .prev_index = pr->snap_index,
                    .prev_term = pr->snap_term,
                    .commit = r->commit,
                    .ctx = pr->snap_chunk};
    raft_send (r, &m, 0);
    pr->snap_sent_at = r->now;
    pr->snap_heard = false;
}

void
raft_snapshot_begin (raft_t *r, raft_progress_t *pr)
{
    pr->state = RAFT_PR_SNAPSHOT;
    pr->probe_sent = false;
    pr->in_start = pr->in_count = 0;
    pr->snap_index = 0;
    pr->snap_term = 0;
    pr->snap_chunk = 0;
    pr->snap_resends = 0;
    raft_emit (r, RAFT_EV_SNAPSHOT_SEND, pr->id, 0);
    s_send_chunk (r, pr);
}

void
raft_recv_snapshot_resp (raft_t *r, const raft_msg_t *m)
{
    if (r->role != RAFT_LEADER)
        return;
    raft_progress_t *pr = raft_progress_get (r, m->from);
    if (!pr || pr->state != RAFT_PR_SNAPSHOT)
        return;
    pr->active = true;
    pr->snap_heard = true;
    bool ours = pr->snap_index == 0 || (m->prev_index == pr->snap_index &&
                                        m->prev_term == pr->snap_term);
    if (!ours)
        return; /* about an older transfer */
    if (m->reject) {
        raft_snapshot_begin (r, pr);
        return;
    }
    if (m->ctx != pr->snap_chunk + 1)
        return; /* a duplicate, or an acknowledgement already acted on */
    pr->snap_index = m->prev_index;
    pr->snap_term = m->prev_term;
    pr->snap_chunk = m->ctx;
    pr->snap_resends = 0;
    s_send_chunk (r, pr);
}

void
raft_snapshot_tick (raft_t *r)
{
    uint32_t wait = r->opts.election_ticks / 2;
    if (wait < 1)
        wait = 1;
    for (size_t i = 0; i < r->prs.n; i++) {
        raft_progress_t *pr = &r->prs.v[i];
        /* Resend only to a follower that is there (it answered a
           heartbeat): chunks are large, and one that is down would only
           fill the link's queue. */
        if (pr->state != RAFT_PR_SNAPSHOT || !pr->snap_heard ||
            r->now - pr->snap_sent_at < wait)
            continue;
        if (++pr->snap_resends > S_MAX_RESENDS)
            raft_snapshot_begin (r, pr);
        else
            s_send_chunk (r, pr);
    }
}

/*  ---------------------------------------------------------------------
    Follower side                                                        */

void
raft_send_after (raft_t *r, raft_msg_t *m, uint64_t seq)
{
    raft_send (r, m, 0);
    raft_held_t *h = &r->held.v[r->held.n - 1];
    if (seq > h->wait_seq && seq > r->persisted_seq)
        h->wait_seq = seq;
}

static void
s_chunk_resp (raft_t *r, const raft_msg_t *m, bool reject)
{
    raft_msg_t resp = {.type = RAFT_MSG_SNAPSHOT_RESP,
                       .to = m->from,
                       .term = r->term,
                       .prev_index = m->prev_index,
                       .prev_term = m->prev_term,
                       .reject = reject,
                       .ctx = reject ? 0 : r->snap_in.next};
    if (reject)
        raft_send (r, &resp, 0);
    else
        raft_send_after (r, &resp, r->snap_in.ack_seq);
}

/* Figure 5.3, steps 6-8: take the snapshot as the log's base. The entries
   after it survive only if the log holds the snapshot's last entry. */
static bool
s_install (raft_t *r, raft_index_t index, raft_term_t term,
           const raft_conf_t *conf)
{
    bool keep = index <= raft_log_last_index (&r->log) &&
                raft_log_term_at (&r->log, index) == term;
    if (keep) {
        if (index > r->log.base_index)
            raft_log_compact (&r->log, index);
        if (r->unstable_from <= index)
            r->unstable_from = index + 1;
    } else {
        raft_log_reset (&r->log, index, term);
        r->unstable_from = index + 1;
        /* Nothing here is durable as the log now reads until the install
           is: its write (last_index = index) moves persisted up to it. */
        if (r->persisted >= index)
            r->persisted = index - 1;
    }
    r->base_conf = *conf;
    raft_conf_changed (r);
    if (index > r->commit) {
        raft_emit (r, RAFT_EV_COMMIT, r->commit, index);
        r->commit = index;
    }
    if (index > r->applied)
        r->applied = index;
    if (r->apply_next <= index)
        r->apply_next = index + 1;
    raft_emit (r, RAFT_EV_SNAPSHOT, index, 1);
    return keep;
}

void
raft_recv_snapshot (raft_t *r, const raft_msg_t *m)
{
    if (r->role == RAFT_LEADER) {
        r->dropped++; /* Election Safety: no other leader in our term */
        return;
    }
    raft_follow (r, m);
    raft_index_t index = m->prev_index;
    raft_term_t term = m->prev_term;
    if (index <= r->commit && !RAFT_BUG (SNAP_STALE)) {
        /* We hold all of it already (committed entries match the
           leader's): say how far, as AppendEntries would. */
        raft_msg_t resp = {.type = RAFT_MSG_APPEND_RESP,
                           .to = m->from,
                           .term = r->term,
                           .index = r->commit};
        raft_send (r, &resp, r->commit);
        return;
    }
    bool same = r->snap_in.index == index && r->snap_in.term == term;
    if (m->ctx == 0 && !r->snap_pending) {
        /* A new transfer, or the leader starting over. */
        r->snap_in.index = index;
        r->snap_in.term = term;
        r->snap_in.next = 0;
        r->snap_in.ack_seq = 0;
        same = true;
    }
    if (!same) {
        s_chunk_resp (r, m, true); /* not what we are staging: start over */
        return;
    }
    if (m->ctx != r->snap_in.next || r->snap_pending) {
        /* A duplicate or one out of order: say again what we want, once
           what we have is durable. */
        s_chunk_resp (r, m, false);
        return;
    }
    const raft_conf_t *conf = raft_entry_conf (&m->entries[0]);
    raft_snapshot_chunk_t *c = &r->snap_chunk;
    memset (c, 0, sizeof *c);
    c->index = index;
    c->term = term;
    c->conf = *conf;
    c->chunk = m->ctx;
    c->data = m->data ? raft_buf_ref (m->data) : NULL;
    c->done = m->done;
    r->snap_pending = true;
    r->snap_in.next = m->ctx + 1;
    r->snap_in.ack_seq = r->last_seq + 1; /* the batch that will carry it */
    if (!m->done) {
        s_chunk_resp (r, m, false);
        return;
    }
    c->keep_tail = s_install (r, index, term, conf);
    memset (&r->snap_in, 0, sizeof r->snap_in);
    raft_msg_t resp = {.type = RAFT_MSG_APPEND_RESP,
                       .to = m->from,
                       .term = r->term,
                       .index = index};
    raft_send (r, &resp, index);
}
