/*  replication.c -- AppendEntries, heartbeats and the commit rule (§3.5,
    §3.6, Figure 3.1), with batching and pipelining (§10.2).
*/
#include "raft_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/*  ---------------------------------------------------------------------
    Leader side: sending                                                 */

/* An AppendEntries to pr after prev, carrying our commit index. */
static raft_msg_t
s_append_msg (const raft_t *r, const raft_progress_t *pr, raft_index_t prev)
{
    return (raft_msg_t){.type = RAFT_MSG_APPEND,
                        .to = pr->id,
                        .term = r->term,
                        .prev_index = prev,
                        .prev_term = raft_log_term_at (&r->log, prev),
                        .commit = r->commit};
}

/* Send one AppendEntries to pr, starting at pr->next, batched by count and
   bytes. Returns true if entries went out. */
static bool
s_send_entries (raft_t *r, raft_progress_t *pr)
{
    raft_index_t last = raft_log_last_index (&r->log);
    if (pr->state == RAFT_PR_SNAPSHOT || pr->next > last)
        return false;
    if (pr->state == RAFT_PR_PROBE && pr->probe_sent)
        return false;
    if (pr->state == RAFT_PR_REPLICATE && raft_inflight_full (r, pr))
        return false;
    raft_index_t prev = pr->next - 1;
    if (prev < r->log.base_index) {
        /* Compacted away: the follower gets the state machine (§5.3). */
        raft_snapshot_begin (r, pr);
        return false;
    }

    size_t n = 0, bytes = 0;
    while (pr->next + n <= last && n < r->opts.max_batch_entries) {
        const raft_entry_t *e = raft_log_entry (&r->log, pr->next + n);
        size_t len = e->data ? e->data->len : 0;
        if (n > 0 && bytes + len > r->opts.max_batch_bytes)
            break;
        bytes += len;
        n++;
    }
    raft_msg_t m = s_append_msg (r, pr, prev);
    m.entries = malloc (n * sizeof *m.entries);
    if (!m.entries)
        abort ();
    for (size_t i = 0; i < n; i++) {
        m.entries[i] = *raft_log_entry (&r->log, pr->next + i);
        raft_buf_ref (m.entries[i].data);
    }
    m.n_entries = n;
    raft_index_t sent_last = pr->next + n - 1;
    raft_send (r, &m, 0);
    pr->sent_commit = r->commit;
    if (pr->state == RAFT_PR_REPLICATE) {
        /* Pipelining: assume success and move on (etcd-io/raft's optimistic
           nextIndex); a rejection sends pr back to PROBE. */
        pr->next = sent_last + 1;
        raft_inflight_add (r, pr, sent_last);
    } else {
        pr->probe_sent = true;
    }
    return true;
}

/* An AppendEntries with no entries whose prev is pr->match, which the
   follower is known to hold: it carries the commit index without risking
   a rejection. */
static void
s_send_commit (raft_t *r, raft_progress_t *pr)
{
    raft_msg_t m = s_append_msg (r, pr, pr->match);
    raft_send (r, &m, 0);
    pr->sent_commit = r->commit;
}

/* The follower answers heartbeats but lacks entries we have nothing more
   to send of: the request that carried them was lost, or it is a new server
   whose nextIndex starts past its log. An empty AppendEntries at next - 1
   finds out: the follower accepts it (the entries are on their way) or
   rejects it, which sends it back to PROBE from its hint (etcd-io/raft does
   the same). */
static void
s_send_behind_probe (raft_t *r, raft_progress_t *pr)
{
    raft_index_t prev = pr->next - 1;
    if (pr->state == RAFT_PR_SNAPSHOT || prev < r->log.base_index ||
        RAFT_BUG (NO_BEHIND_PROBE))
        return;
    raft_msg_t m = s_append_msg (r, pr, prev);
    raft_send (r, &m, 0);
    if (pr->state == RAFT_PR_PROBE)
        pr->probe_sent = true;
}

void
raft_flush (raft_t *r)
{
    r->need_flush = false;
    for (size_t i = 0; i < r->prs.n; i++) {
        raft_progress_t *pr = &r->prs.v[i];
        bool sent = false;
        while (s_send_entries (r, pr))
            sent = true;
        if (!sent && pr->match > 0 && pr->sent_commit < r->commit &&
            pr->match >= r->log.base_index)
            s_send_commit (r, pr);
    }
}

void
raft_bcast_heartbeat (raft_t *r)
{
    for (size_t i = 0; i < r->prs.n; i++) {
        raft_progress_t *pr = &r->prs.v[i];
        /* Never tell a follower to commit beyond what it is known to hold
           (its log may differ after that). */
        raft_msg_t m = {.type = RAFT_MSG_HEARTBEAT,
                        .to = pr->id,
                        .term = r->term,
                        .commit = pr->match < r->commit ? pr->match : r->commit,
                        .ctx = r->read_round};
        raft_send (r, &m, 0);
    }
}

void
raft_send_timeout_now (raft_t *r, raft_id_t to)
{
    raft_msg_t m = {.type = RAFT_MSG_TIMEOUT_NOW, .to = to, .term = r->term};
    raft_send (r, &m, 0);
    raft_emit (r, RAFT_EV_TRANSFER, to, 2);
}

/*  ---------------------------------------------------------------------
    The commit rule                                                      */

static int
s_cmp_desc (const void *a, const void *b)
{
    raft_index_t x = *(const raft_index_t *)a, y = *(const raft_index_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

void
raft_maybe_commit (raft_t *r)
{
    if (r->role != RAFT_LEADER)
        return;
    raft_index_t match[RAFT_MAX_SERVERS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->conf.n; i++) {
        const raft_server_t *s = &r->conf.servers[i];
        if (!s->voter)
            continue;
        if (s->id == r->id) {
            /* The leader's own log counts only once durable (§10.2.1). */
            match[n++] = r->persisted;
        } else {
            raft_progress_t *pr = raft_progress_get (r, s->id);
            match[n++] = pr ? pr->match : 0;
        }
    }
    if (n == 0)
        return;
    qsort (match, n, sizeof match[0], s_cmp_desc);
    raft_index_t N = match[n / 2]; /* held by a majority: n/2 + 1 servers */
    /* §3.6.2 and Figure 3.7: "a leader never commits log entries from
       previous terms by counting replicas"; only an entry of the current
       term commits by counting, and everything before it with it. */
#if RAFT_BUG(COMMIT_OLD_TERM)
    bool own_term = true;
#else
    bool own_term = raft_log_term_at (&r->log, N) == r->term;
#endif
    if (N > r->commit && own_term) {
        raft_emit (r, RAFT_EV_COMMIT, r->commit, N);
        r->commit = N;
        r->need_flush = true;
        raft_conf_on_commit (r);
        if (r->role == RAFT_LEADER)
            raft_read_on_commit (r);
    }
}

/*  ---------------------------------------------------------------------
    Follower side                                                        */

void
raft_follow (raft_t *r, const raft_msg_t *m)
{
    /* Figure 3.1, Candidates: "If AppendEntries RPC received from new
       leader: convert to follower". */
    if (r->role != RAFT_FOLLOWER || r->leader != m->from)
        raft_become_follower (r, r->term, m->from);
    r->election_elapsed = 0;
}

static void
s_advance_commit (raft_t *r, raft_index_t leader_commit, raft_index_t upto)
{
    /* Figure 3.1, AppendEntries 5: commitIndex = min(leaderCommit, index of
       last new entry); it never moves back. */
    raft_index_t c = leader_commit < upto ? leader_commit : upto;
    if (c > r->commit) {
        raft_emit (r, RAFT_EV_COMMIT, r->commit, c);
        r->commit = c;
    }
}

void
raft_recv_append (raft_t *r, const raft_msg_t *m)
{
    if (r->role == RAFT_LEADER) {
        /* Two leaders in one term cannot happen (Election Safety); drop. */
        r->dropped++;
        return;
    }
    raft_follow (r, m);
    raft_msg_t resp = {
        .type = RAFT_MSG_APPEND_RESP, .to = m->from, .term = r->term};
    raft_index_t last = raft_log_last_index (&r->log);

    if (m->prev_index < r->commit) {
        /* Everything up to commit is already settled here; say so, and the
           leader skips ahead (entries beyond commit come again). */
        resp.index = r->commit;
        raft_send (r, &resp, r->commit);
        return;
    }
    /* Figure 3.1, AppendEntries 2: reply false if the log does not contain
       an entry at prevLogIndex whose term matches prevLogTerm. */
    if (m->prev_index > last ||
        raft_log_term_at (&r->log, m->prev_index) != m->prev_term) {
        resp.reject = true;
        resp.index = m->prev_index;
        /* §3.5: name the conflicting term and the first index we store for
           it, so the leader skips the whole term in one round trip. */
        if (m->prev_index > last) {
            resp.hint_index = last + 1;
            resp.hint_term = 0;
        } else {
            resp.hint_term = raft_log_term_at (&r->log, m->prev_index);
            resp.hint_index = raft_log_term_start (&r->log, m->prev_index);
            if (resp.hint_index <= r->commit)
                resp.hint_index = r->commit + 1;
        }
        raft_send (r, &resp, 0);
        return;
    }
    /* AppendEntries 3 and 4: delete a conflicting entry and all that follow
       it, append new entries not already in the log. Entries we already
       hold are kept: a delayed, duplicated request must not cut the log. */
    raft_index_t first_new = 0, last_new = 0;
    for (size_t i = 0; i < m->n_entries; i++) {
        const raft_entry_t *e = &m->entries[i];
        raft_index_t cur_last = raft_log_last_index (&r->log);
        if (e->index <= cur_last) {
            if (raft_log_term_at (&r->log, e->index) == e->term)
                continue;
            raft_truncate_local (r, e->index);
        }
        raft_append_local (r, e);
        if (!first_new)
            first_new = e->index;
        last_new = e->index;
    }
    if (first_new)
        raft_emit (r, RAFT_EV_APPEND, first_new, last_new);
    raft_index_t upto = m->prev_index + m->n_entries;
    s_advance_commit (r, m->commit, upto);
    resp.index = upto;
    raft_send (r, &resp, upto);
}

void
raft_recv_heartbeat (raft_t *r, const raft_msg_t *m)
{
    if (r->role == RAFT_LEADER) {
        r->dropped++;
        return;
    }
    raft_follow (r, m);
    /* The leader caps commit at our match index, so our log agrees with its
       log up to there. */
    s_advance_commit (r, m->commit, raft_log_last_index (&r->log));
    raft_msg_t resp = {.type = RAFT_MSG_HEARTBEAT_RESP,
                       .to = m->from,
                       .term = r->term,
                       .ctx = m->ctx};
    raft_send (r, &resp, 0);
}

/*  ---------------------------------------------------------------------
    Leader side: responses                                               */

/* §3.5: the next index to try after a rejection, from the follower's hint. */
static raft_index_t
s_next_after_reject (raft_t *r, const raft_msg_t *m)
{
    raft_index_t next = m->hint_index;
    if (m->hint_term) {
        raft_index_t k = raft_log_last_of_term (&r->log, m->hint_term);
        if (k)
            next = k + 1;
    }
    if (next > m->index)
        next = m->index; /* never retry at or past the rejected point */
    return next;
}

void
raft_recv_append_resp (raft_t *r, const raft_msg_t *m)
{
    if (r->role != RAFT_LEADER)
        return;
    raft_progress_t *pr = raft_progress_get (r, m->from);
    if (!pr)
        return;
    if (m->index > raft_log_last_index (&r->log)) {
        r->dropped++; /* acknowledges entries we never sent */
        return;
    }
    pr->active = true;
    if (pr->state == RAFT_PR_SNAPSHOT)
        pr->snap_heard = true;
    if (m->reject) {
        if (pr->state == RAFT_PR_SNAPSHOT)
            return; /* about entries from before the transfer */
        /* Stale rejections (for a request we already moved past) are
           ignored: REPLICATE knows match is held; PROBE waits for the
           answer to the one request it sent, at next - 1. */
        if (m->index <= pr->match)
            return;
        if (pr->state == RAFT_PR_PROBE && m->index != pr->next - 1)
            return;
        raft_index_t next = s_next_after_reject (r, m);
        raft_progress_become_probe (r, pr);
        pr->next = next > pr->match + 1 ? next : pr->match + 1;
        r->need_flush = true;
        return;
    }
    bool updated = false;
    if (m->index > pr->match) {
        pr->match = m->index;
        updated = true;
    }
    if (pr->next < m->index + 1)
        pr->next = m->index + 1;
    if (pr->state == RAFT_PR_PROBE || pr->state == RAFT_PR_SNAPSHOT) {
        /* after a snapshot: the follower holds everything up to index */
        raft_progress_become_replicate (r, pr);
    } else {
        raft_inflight_free_to (pr, m->index);
    }
    r->need_flush = true;
    if (updated) {
        raft_maybe_commit (r);
        if (r->role != RAFT_LEADER)
            return;
        raft_learner_progress (r, pr);
        /* §3.10: once the target's log is current, tell it to start an
           election now. */
        if (r->transfer_target == pr->id &&
            pr->match == raft_log_last_index (&r->log))
            raft_send_timeout_now (r, pr->id);
    }
}

void
raft_recv_heartbeat_resp (raft_t *r, const raft_msg_t *m)
{
    if (r->role != RAFT_LEADER)
        return;
    raft_progress_t *pr = raft_progress_get (r, m->from);
    if (!pr)
        return;
    pr->active = true;
    if (m->ctx > pr->read_ack) {
        pr->read_ack = m->ctx;
        raft_read_confirm (r);
        if (r->role != RAFT_LEADER)
            return;
    }
    if (pr->state == RAFT_PR_SNAPSHOT) {
        pr->snap_heard = true; /* chunks go on; see snapshot.c */
        return;
    }
    /* A follower that answers is alive: resume a paused probe, and free a
       pipeline slot in case a request was lost (etcd-io/raft does both). */
    if (pr->state == RAFT_PR_PROBE)
        pr->probe_sent = false;
    else if (raft_inflight_full (r, pr))
        raft_inflight_free_first (pr);
    raft_index_t last = raft_log_last_index (&r->log);
    if (pr->match < last) {
        if (pr->next > last)
            s_send_behind_probe (r, pr);
        else
            r->need_flush = true;
    }
}
