/*  raft.c -- lifecycle, message dispatch with the term rules.

    The seam is described in raft.h. This file holds what every role shares:
    validating input and the "Rules for Servers" about terms (Figure 3.1).
    The outbox with its durability conditions and raft_ready/raft_persisted
    are in ready.c; buffers, names and configuration helpers in util.c.
*/
#include "raft_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/*  ---------------------------------------------------------------------
    Persistent state                                                     */

void
raft_set_hard_state (raft_t *r, raft_term_t term, raft_id_t vote)
{
    assert (term >= r->term);
    if (term != r->term || vote != r->vote) {
        if (term != r->term)
            raft_emit (r, RAFT_EV_TERM, term, 0);
        r->term = term;
        r->vote = vote;
        r->hs_dirty = true;
    }
}

void
raft_append_local (raft_t *r, const raft_entry_t *e)
{
    raft_log_append (&r->log, e);
    if (e->index < r->unstable_from)
        r->unstable_from = e->index;
    /* §4.1: a server uses the latest configuration in its log, whether or
       not that entry is committed. */
    if (e->type == RAFT_ENTRY_CONF)
        raft_conf_changed (r);
}

void
raft_truncate_local (raft_t *r, raft_index_t from)
{
    /* Committed entries are never removed (Figure 3.2, State Machine
       Safety); a leader's AppendEntries that asks for it is a bug. */
    assert (from > r->commit);
    raft_emit (r, RAFT_EV_TRUNCATE, from, 0);
    raft_log_truncate (&r->log, from);
    if (r->persisted >= from)
        r->persisted = from - 1;
    if (r->unstable_from > from)
        r->unstable_from = from;
    /* §4.1: removing a configuration entry reverts to the one before. */
    if (r->conf_index >= from)
        raft_conf_changed (r);
}

/*  ---------------------------------------------------------------------
    Lifecycle                                                            */

raft_t *
raft_new (const raft_options_t *opts, const raft_boot_t *boot)
{
    if (!opts || !boot || opts->id == 0 || !opts->rand ||
        opts->election_ticks < 2 || opts->heartbeat_ticks == 0 ||
        opts->heartbeat_ticks >= opts->election_ticks ||
        opts->max_batch_entries == 0 || opts->max_inflight == 0 ||
        boot->base_conf.n > RAFT_MAX_SERVERS)
        return NULL;
    /* The boot state must be a log: contiguous, terms non-decreasing and
       not beyond currentTerm, applied within it. */
    raft_term_t prev_term = boot->base_term;
    for (size_t i = 0; i < boot->n_entries; i++) {
        const raft_entry_t *e = &boot->entries[i];
        if (e->index != boot->base_index + 1 + i || e->term < prev_term ||
            e->term > boot->hs.term ||
            (e->type == RAFT_ENTRY_CONF && !raft_entry_conf (e)))
            return NULL;
        prev_term = e->term;
    }
    if (boot->applied > boot->base_index + boot->n_entries ||
        boot->applied < boot->base_index)
        return NULL;

    raft_t *r = calloc (1, sizeof *r);
    if (!r)
        return NULL;
    r->opts = *opts;
    r->id = opts->id;
    r->term = boot->hs.term;
    r->vote = boot->hs.vote;
    raft_log_init (&r->log, boot->base_index, boot->base_term);
    r->base_conf = boot->base_conf;
    r->conf = boot->base_conf;
    for (size_t i = 0; i < boot->n_entries; i++)
        raft_log_append (&r->log, &boot->entries[i]);
    raft_conf_changed (r);
    /* Everything the caller booted from is durable. Applied entries were
       committed; the rest of the commit index is learned from the leader. */
    r->persisted = raft_log_last_index (&r->log);
    r->unstable_from = r->persisted + 1;
    r->commit = boot->applied;
    r->applied = boot->applied;
    r->apply_next = boot->applied + 1;
    r->role = RAFT_FOLLOWER;
    raft_reset_timeout (r);
    return r;
}

void
raft_destroy (raft_t **self_p)
{
    raft_t *r = *self_p;
    if (!r)
        return;
    raft_free_out (r);
    for (size_t i = 0; i < r->held.n; i++)
        raft_msg_clear (&r->held.v[i].msg);
    raft_progress_free_all (r);
    raft_log_fini (&r->log);
    if (r->snap_pending)
        raft_buf_unref (r->snap_chunk.data);
    free (r->writes.v);
    free (r->votes.v);
    free (r->prs.v);
    free (r->reads.v);
    free (r->held.v);
    free (r->out_msgs.v);
    free (r->out_after.v);
    free (r->out_entries.v);
    free (r->out_committed.v);
    free (r->out_reads.v);
    free (r->done_reads.v);
    free (r);
    *self_p = NULL;
}

/*  ---------------------------------------------------------------------
    Input                                                                */

static bool
s_msg_valid (const raft_t *r, const raft_msg_t *m)
{
    if (m->type <= 0 || m->type >= RAFT_MSG_TYPE_MAX || m->to != r->id ||
        m->from == 0 || m->from == r->id || m->term == 0)
        return false;
    /* A response matters only from a server of our configuration (the
       leader tracks progress, a candidate counts votes, of those alone);
       from anyone else its only effect would be its term. Requests are
       different: a server being added hears from a leader it does not
       know yet. */
    bool response = m->type == RAFT_MSG_APPEND_RESP ||
                    m->type == RAFT_MSG_VOTE_RESP ||
                    m->type == RAFT_MSG_PREVOTE_RESP ||
                    m->type == RAFT_MSG_HEARTBEAT_RESP ||
                    m->type == RAFT_MSG_SNAPSHOT_RESP ||
                    m->type == RAFT_MSG_READ_INDEX_RESP;
    /* A read index is served to members only (a stranger could otherwise
       queue reads on the leader). */
    if ((response || m->type == RAFT_MSG_READ_INDEX) &&
        !raft_conf_get (&r->conf, m->from))
        return false;
    /* Terms and indexes far beyond any real cluster's are garbage: a term
       near 2^64 would overflow term + 1 at the next election. */
    if (m->term > RAFT_TERM_MAX || m->prev_term > RAFT_TERM_MAX ||
        m->prev_index > RAFT_INDEX_MAX || m->commit > RAFT_INDEX_MAX ||
        m->index > RAFT_INDEX_MAX || m->hint_index > RAFT_INDEX_MAX ||
        m->hint_term > RAFT_TERM_MAX || m->n_entries > RAFT_INDEX_MAX)
        return false;
    if (m->type == RAFT_MSG_SNAPSHOT) {
        /* Figure 5.3's arguments: the last included index and term, and
           the configuration at that index as one CONF entry there. */
        if (m->prev_index == 0 || m->prev_term == 0 || m->prev_term > m->term ||
            m->n_entries != 1 || !m->entries ||
            m->entries[0].index != m->prev_index ||
            m->entries[0].term != m->prev_term ||
            m->entries[0].type != RAFT_ENTRY_CONF ||
            !raft_entry_conf (&m->entries[0]))
            return false;
        return true;
    }
    if (m->data || m->done)
        return false;
    if (m->n_entries && (m->type != RAFT_MSG_APPEND || !m->entries))
        return false;
    raft_term_t prev = m->prev_term;
    for (size_t i = 0; i < m->n_entries; i++) {
        const raft_entry_t *e = &m->entries[i];
        if (e->index != m->prev_index + 1 + i || e->term < prev ||
            e->term > m->term || e->type > RAFT_ENTRY_CONF ||
            (e->type == RAFT_ENTRY_CONF && !raft_entry_conf (e)))
            return false;
        prev = e->term;
    }
    return true;
}

/* §4.2.3: a server that heard from a leader within the minimum election
   timeout ignores RequestVote, so that a removed or partitioned server
   cannot disrupt the cluster; a TimeoutNow election (§3.10) is exempt. */
static bool
s_ignore_vote (const raft_t *r, const raft_msg_t *m)
{
    bool in_lease = r->opts.check_quorum && r->leader != 0 &&
                    r->election_elapsed < r->opts.election_ticks;
    return (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE) &&
           in_lease && !m->transfer;
}

/* m's term is above RAFT_TERM_ACCEPT_MAX and more than one above ours: too
   far to take (forged, it could lift us to RAFT_TERM_MAX, where no one can
   campaign), so m is dropped. But it may come from a cluster that really
   is up there (lifted to 2^61 by a forged term while we were away, then
   electing one term at a time): ignoring it would shut us out of that
   cluster for ever, our term being on disk. So m still moves us one step
   towards its term, to 2^61 or one above ours, where m itself would have
   moved us: each such message from the cluster brings us closer, and a
   forger gains nothing it could not get by sending 2^61 or our term + 1.
   (Found by tests/fuzz/fuzz_cluster.c: one stranger's RequestVote.) */
static void
s_step_towards (raft_t *r, const raft_msg_t *m)
{
    r->dropped++;
    if (s_ignore_vote (r, m) || m->type == RAFT_MSG_PREVOTE ||
        (m->type == RAFT_MSG_PREVOTE_RESP && !m->reject))
        return; /* would not have changed our term either */
    raft_become_follower (
        r, r->term < RAFT_TERM_ACCEPT_MAX ? RAFT_TERM_ACCEPT_MAX : r->term + 1,
        0);
}

void
raft_step (raft_t *r, const raft_msg_t *m)
{
    if (!s_msg_valid (r, m)) {
        r->dropped++;
        return;
    }
    if (m->term > RAFT_TERM_ACCEPT_MAX && m->term > r->term + 1 &&
        !RAFT_BUG (TERM_WEDGE)) {
        s_step_towards (r, m); /* see RAFT_TERM_ACCEPT_MAX */
        return;
    }
    /* Figure 3.1, Rules for Servers: "If RPC request or response contains
       term T > currentTerm: set currentTerm = T, convert to follower". */
    if (m->term > r->term) {
        if (s_ignore_vote (r, m))
            return;
        if (m->type == RAFT_MSG_PREVOTE ||
            (m->type == RAFT_MSG_PREVOTE_RESP && !m->reject)) {
            /* §9.6: pre-vote messages carry the term the sender would have;
               they change no one's term. */
        } else if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_SNAPSHOT ||
                   m->type == RAFT_MSG_HEARTBEAT ||
                   m->type == RAFT_MSG_TIMEOUT_NOW) {
            raft_become_follower (r, m->term, m->from);
        } else {
            raft_become_follower (r, m->term, 0);
        }
    } else if (m->term < r->term) {
        /* Figure 3.1: reply false if term < currentTerm. The reply carries
           our term, so a stale leader (say, one back from a partition)
           steps down; with pre-vote that is how a server that raised its
           term in isolation rejoins. */
        raft_msg_t resp = {.to = m->from, .term = r->term, .reject = true};
        switch (m->type) {
        case RAFT_MSG_APPEND:
        case RAFT_MSG_HEARTBEAT:
            resp.type = RAFT_MSG_APPEND_RESP;
            resp.index = m->prev_index;
            break;
        case RAFT_MSG_SNAPSHOT:
            /* no reject flag: a reject would restart the transfer */
            resp.type = RAFT_MSG_SNAPSHOT_RESP;
            resp.reject = false;
            break;
        case RAFT_MSG_VOTE: resp.type = RAFT_MSG_VOTE_RESP; break;
        case RAFT_MSG_PREVOTE: resp.type = RAFT_MSG_PREVOTE_RESP; break;
        case RAFT_MSG_READ_INDEX:
            resp.type = RAFT_MSG_READ_INDEX_RESP;
            resp.ctx = m->ctx;
            break;
        default: return;
        }
        raft_send (r, &resp, 0);
        return;
    }

    switch (m->type) {
    case RAFT_MSG_APPEND: raft_recv_append (r, m); break;
    case RAFT_MSG_APPEND_RESP: raft_recv_append_resp (r, m); break;
    case RAFT_MSG_VOTE:
    case RAFT_MSG_PREVOTE: raft_recv_vote (r, m); break;
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE_RESP: raft_recv_vote_resp (r, m); break;
    case RAFT_MSG_HEARTBEAT: raft_recv_heartbeat (r, m); break;
    case RAFT_MSG_HEARTBEAT_RESP: raft_recv_heartbeat_resp (r, m); break;
    case RAFT_MSG_TIMEOUT_NOW: raft_recv_timeout_now (r, m); break;
    case RAFT_MSG_SNAPSHOT: raft_recv_snapshot (r, m); break;
    case RAFT_MSG_SNAPSHOT_RESP: raft_recv_snapshot_resp (r, m); break;
    case RAFT_MSG_READ_INDEX: raft_recv_read_index (r, m); break;
    case RAFT_MSG_READ_INDEX_RESP: raft_recv_read_index_resp (r, m); break;
    default: r->dropped++; break;
    }
}

void
raft_tick (raft_t *r)
{
    r->now++;
    if (r->role == RAFT_LEADER)
        raft_tick_leader (r);
    else
        raft_tick_election (r);
    if (r->reads.n && r->role == RAFT_FOLLOWER)
        raft_read_tick (r);
}

int
raft_propose (raft_t *r, raft_buf_t *data, raft_index_t *index,
              raft_term_t *term)
{
    if (r->role != RAFT_LEADER)
        return RAFT_ERR_NOT_LEADER;
    if (r->transfer_target)
        return RAFT_ERR_TRANSFERRING;
    raft_entry_t e = {.term = r->term,
                      .index = raft_log_last_index (&r->log) + 1,
                      .type = RAFT_ENTRY_NORMAL,
                      .data = data};
    raft_append_local (r, &e);
    raft_emit (r, RAFT_EV_APPEND, e.index, e.index);
    r->need_flush = true;
    if (index)
        *index = e.index;
    if (term)
        *term = e.term;
    return RAFT_OK;
}

/*  ---------------------------------------------------------------------
    Reading state                                                        */

void
raft_status (const raft_t *r, raft_status_t *st)
{
    memset (st, 0, sizeof *st);
    st->id = r->id;
    st->role = r->role;
    st->term = r->term;
    st->vote = r->vote;
    st->leader = r->leader;
    st->commit = r->commit;
    st->applied = r->applied;
    st->persisted = r->persisted;
    st->last_index = raft_log_last_index (&r->log);
    st->last_term = raft_log_last_term (&r->log);
    st->base_index = r->log.base_index;
    st->base_term = r->log.base_term;
    st->conf_index = r->conf_index;
    st->conf_committed = r->conf_index <= r->commit;
    st->transfer_target = r->transfer_target;
    st->dropped_msgs = r->dropped;
    st->log_bytes = r->log.bytes;
}

size_t
raft_log_bytes (const raft_t *r, raft_index_t from, raft_index_t to)
{
    return raft_log_bytes_between (&r->log, from, to);
}

const raft_conf_t *
raft_conf (const raft_t *r)
{
    return &r->conf;
}

size_t
raft_progress (const raft_t *r, raft_progress_info_t *out, size_t max)
{
    if (r->role != RAFT_LEADER)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < r->prs.n && n < max; i++) {
        const raft_progress_t *pr = &r->prs.v[i];
        out[n].id = pr->id;
        out[n].voter = raft_is_voter (r, pr->id);
        out[n].match = pr->match;
        out[n].next = pr->next;
        out[n].active = pr->active;
        n++;
    }
    return n;
}

const raft_entry_t *
raft_log_get (const raft_t *r, raft_index_t index)
{
    return raft_log_entry (&r->log, index);
}

raft_term_t
raft_log_term (const raft_t *r, raft_index_t index)
{
    return raft_log_term_at (&r->log, index);
}
