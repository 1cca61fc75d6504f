/*  raft.c -- lifecycle, message dispatch with the term rules, the batch.

    The seam is described in raft.h. This file holds what every role shares:
    validating input, the "Rules for Servers" about terms (Figure 3.1), the
    outbox with its durability conditions, and raft_ready/raft_persisted.
*/
#include "raft_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/*  ---------------------------------------------------------------------
    Small helpers                                                        */

void *
raft_vec_grow (void *v, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    void *nv = realloc (v, c * elem);
    if (!nv)
        abort ();
    *cap = c;
    return nv;
}

raft_buf_t *
raft_buf_new (const void *data, size_t len)
{
    raft_buf_t *b = malloc (sizeof *b + len);
    if (!b)
        return NULL;
    b->refs = 1;
    b->len = len;
    if (len)
        memcpy (b->data, data, len);
    return b;
}

raft_buf_t *
raft_buf_ref (raft_buf_t *buf)
{
    if (buf)
        buf->refs++;
    return buf;
}

void
raft_buf_unref (raft_buf_t *buf)
{
    if (buf && --buf->refs == 0)
        free (buf);
}

const char *
raft_strerror (int rc)
{
    switch (rc) {
    case RAFT_OK: return "ok";
    case RAFT_ERR_NOT_LEADER: return "not leader";
    case RAFT_ERR_TRANSFERRING: return "leadership transfer in progress";
    case RAFT_ERR_CONF_PENDING: return "configuration change pending";
    case RAFT_ERR_NOT_CAUGHT_UP: return "learner not caught up";
    case RAFT_ERR_UNKNOWN_SERVER: return "unknown server";
    case RAFT_ERR_INVALID: return "invalid argument";
    case RAFT_ERR_NOT_READY: return "leader has not committed in its term";
    case RAFT_ERR_TOO_MANY: return "configuration full";
    }
    return "unknown error";
}

const char *
raft_role_name (raft_role_t role)
{
    static const char *names[] = {"follower", "precandidate", "candidate",
                                  "leader"};
    return role <= RAFT_LEADER ? names[role] : "?";
}

const char *
raft_msg_type_name (raft_msg_type_t type)
{
    static const char *names[] = {"?",
                                  "append",
                                  "append_resp",
                                  "vote",
                                  "vote_resp",
                                  "prevote",
                                  "prevote_resp",
                                  "heartbeat",
                                  "heartbeat_resp",
                                  "timeout_now",
                                  "snapshot",
                                  "snapshot_resp"};
    return type > 0 && type < RAFT_MSG_TYPE_MAX ? names[type] : "?";
}

const char *
raft_event_name (raft_event_type_t type)
{
    static const char *names[] = {"?",
                                  "role",
                                  "term",
                                  "election_start",
                                  "election_won",
                                  "election_lost",
                                  "commit",
                                  "append",
                                  "truncate",
                                  "conf",
                                  "read_round",
                                  "transfer",
                                  "check_quorum_lost",
                                  "snapshot",
                                  "snapshot_send"};
    return type > 0 && type <= RAFT_EV_SNAPSHOT_SEND ? names[type] : "?";
}

void
raft_msg_clear (raft_msg_t *m)
{
    for (size_t i = 0; i < m->n_entries; i++)
        raft_buf_unref (m->entries[i].data);
    free (m->entries);
    m->entries = NULL;
    m->n_entries = 0;
    raft_buf_unref (m->data);
    m->data = NULL;
}

void
raft_options_default (raft_options_t *o)
{
    memset (o, 0, sizeof *o);
    o->election_ticks = 10;
    o->heartbeat_ticks = 1;
    o->max_batch_entries = 256;
    o->max_batch_bytes = 1 << 20;
    o->max_inflight = 64;
    o->pre_vote = true;
    o->check_quorum = true;
}

void
raft_emit (raft_t *r, raft_event_type_t type, uint64_t a, uint64_t b)
{
    if (r->opts.trace) {
        raft_event_t ev = {.type = type, .term = r->term, .a = a, .b = b};
        r->opts.trace (r->opts.trace_ctx, &ev);
    }
}

/*  ---------------------------------------------------------------------
    Configuration helpers                                                */

const raft_server_t *
raft_conf_get (const raft_conf_t *conf, raft_id_t id)
{
    for (uint32_t i = 0; i < conf->n; i++)
        if (conf->servers[i].id == id)
            return &conf->servers[i];
    return NULL;
}

uint32_t
raft_conf_voters (const raft_conf_t *conf)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < conf->n; i++)
        n += conf->servers[i].voter;
    return n;
}

bool
raft_conf_equal (const raft_conf_t *a, const raft_conf_t *b)
{
    if (a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++) {
        const raft_server_t *s = raft_conf_get (b, a->servers[i].id);
        if (!s || s->voter != a->servers[i].voter ||
            strcmp (s->addr, a->servers[i].addr) != 0)
            return false;
    }
    return true;
}

const raft_conf_t *
raft_entry_conf (const raft_entry_t *e)
{
    if (e->type != RAFT_ENTRY_CONF || !e->data ||
        e->data->len != sizeof (raft_conf_t))
        return NULL;
    const raft_conf_t *c = (const raft_conf_t *)e->data->data;
    if (c->n > RAFT_MAX_SERVERS)
        return NULL;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->servers[i].id == 0 ||
            memchr (c->servers[i].addr, 0, RAFT_ADDR_MAX) == NULL)
            return NULL;
    return c;
}

raft_entry_t
raft_bootstrap_entry (const raft_conf_t *conf)
{
    raft_entry_t e = {.term = 1, .index = 1, .type = RAFT_ENTRY_CONF};
    raft_conf_t c;
    memset (&c, 0, sizeof c); /* deterministic bytes, padding included */
    c.n = conf->n;
    for (uint32_t i = 0; i < conf->n && i < RAFT_MAX_SERVERS; i++) {
        c.servers[i].id = conf->servers[i].id;
        c.servers[i].voter = conf->servers[i].voter;
        strncpy (c.servers[i].addr, conf->servers[i].addr, RAFT_ADDR_MAX - 1);
    }
    e.data = raft_buf_new (&c, sizeof c);
    return e;
}

bool
raft_is_voter (const raft_t *r, raft_id_t id)
{
    const raft_server_t *s = raft_conf_get (&r->conf, id);
    return s && s->voter;
}

bool
raft_is_self (const raft_t *r)
{
    if (!r->opts.self_check)
        return true;
    return r->opts.self_check (r->opts.self_ctx,
                               raft_conf_get (&r->conf, r->id));
}

uint32_t
raft_quorum (const raft_t *r)
{
    return raft_conf_voters (&r->conf) / 2 + 1;
}

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

static void
s_free_out (raft_t *r)
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

void
raft_destroy (raft_t **self_p)
{
    raft_t *r = *self_p;
    if (!r)
        return;
    s_free_out (r);
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
    bool response =
        m->type == RAFT_MSG_APPEND_RESP || m->type == RAFT_MSG_VOTE_RESP ||
        m->type == RAFT_MSG_PREVOTE_RESP ||
        m->type == RAFT_MSG_HEARTBEAT_RESP || m->type == RAFT_MSG_SNAPSHOT_RESP;
    if (response && !raft_conf_get (&r->conf, m->from))
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
    The batch                                                            */

bool
raft_ready (raft_t *r, raft_ready_t *rd)
{
    s_free_out (r);
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
