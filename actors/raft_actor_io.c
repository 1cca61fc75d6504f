/*  raft_actor_io.c -- driving the core: each Ready batch's write goes to
    storage (and what waits on it, "after"), its messages to the
    transport, its committed index to storage to apply, its confirmed
    reads to the waiting requests.
*/
#include "raft_actor_int.h"

void
ra_store_send (ra_self_t *self, const msg_store_t *m)
{
    zmsg_t *zm = msg_store_encode (m);
    if (!zm) {
        log_error ("raft: cannot encode a storage message");
        return;
    }
    zmsg_send (&zm, self->storage);
}

void
ra_store_get (ra_self_t *self, uint64_t ctx, raft_buf_t *key)
{
    msg_store_t m = {.kind = MSG_STORE_GET, .req_id = ctx, .key = key};
    ra_store_send (self, &m);
}

static void
s_send_peers (ra_self_t *self)
{
    const raft_conf_t *conf = raft_conf (self->r);
    if (raft_conf_equal (conf, &self->peers_sent))
        return;
    self->peers_sent = *conf;
    msg_peer_t peers[RAFT_MAX_SERVERS];
    size_t n = 0;
    for (uint32_t i = 0; i < conf->n; i++) {
        if (conf->servers[i].id == self->args.id)
            continue;
        char http[RAFT_ADDR_MAX];
        peers[n].id = conf->servers[i].id;
        ra_split_addr (conf->servers[i].addr, peers[n].endpoint,
                       sizeof peers[n].endpoint, http, sizeof http);
        n++;
    }
    msg_transport_t m = {
        .kind = MSG_TRANSPORT_PEERS, .peers = peers, .n_peers = n};
    zmsg_t *zm = msg_transport_encode (&m);
    if (zm)
        zmsg_send (&zm, self->transport);
    log_info ("raft: configuration has %u servers (%u voters)", conf->n,
              raft_conf_voters (conf));
}

static void
s_send_encoded (ra_self_t *self, const raft_msg_t *m)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    if (msg_raft_encode (&buf, m) == 0) {
        msg_transport_t t = {.kind = MSG_TRANSPORT_SEND,
                             .to = m->to,
                             .payload = (uint8_t *)buf.data,
                             .payload_len = buf.size};
        zmsg_t *zm = msg_transport_encode (&t);
        if (zm)
            zmsg_send (&zm, self->transport);
    }
    msgpack_sbuffer_destroy (&buf);
}

/* What the core handed out to send once durable (rd.after): encoded here,
   sent by storage after its fsync (msg_store.h "after"). */
static void
s_send_after (ra_self_t *self, const raft_after_t *after, size_t n)
{
    msg_after_t *v = calloc (n, sizeof *v);
    msg_store_t m = {.kind = MSG_STORE_AFTER, .after = v, .n_after = 0};
    for (size_t i = 0; v && i < n; i++) {
        m.seq = after[i].seq > m.seq ? after[i].seq : m.seq;
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        zframe_t *f = msg_raft_encode (&buf, &after[i].msg) == 0
                          ? zframe_new (buf.data, buf.size)
                          : NULL;
        msgpack_sbuffer_destroy (&buf);
        if (!f)
            continue; /* a message that cannot be encoded is not sent */
        ra_trace_msg (self, true, &after[i].msg);
        v[m.n_after++] = (msg_after_t){.index = after[i].index,
                                       .term = after[i].term,
                                       .to = after[i].msg.to,
                                       .frame = f};
    }
    if (m.n_after)
        ra_store_send (self, &m);
    else if (n)
        log_error ("raft: cannot encode %zu messages to send once durable", n);
    for (size_t i = 0; i < m.n_after; i++)
        zframe_destroy (&v[i].frame);
    free (v);
}

/* The core's messages to peers. An InstallSnapshot chunk leaves without
   its data: storage reads it from its copy of the KV data first, and
   ra_on_snap_chunk sends it. */
static void
s_send_msg (ra_self_t *self, const raft_msg_t *m)
{
    ra_trace_msg (self, true, m);
    if (m->type != RAFT_MSG_SNAPSHOT) {
        s_send_encoded (self, m);
        return;
    }
    msg_store_t r = {.kind = MSG_STORE_SNAP_READ,
                     .peer = m->to,
                     .chunk = m->ctx,
                     .snap_index = m->prev_index,
                     .snap_term = m->prev_term,
                     .msg_term = m->term,
                     .msg_commit = m->commit};
    ra_store_send (self, &r);
}

void
ra_on_snap_chunk (ra_self_t *self, const msg_store_t *c)
{
    raft_status_t st;
    raft_status (self->r, &st);
    /* Only while still the leader of the term that asked for it. */
    if (!c->ok || st.role != RAFT_LEADER || st.term != c->msg_term)
        return;
    raft_entry_t conf = c->base;
    raft_msg_t m = {.type = RAFT_MSG_SNAPSHOT,
                    .from = self->args.id,
                    .to = c->peer,
                    .term = c->msg_term,
                    .prev_index = c->base.index,
                    .prev_term = c->base.term,
                    .commit = c->msg_commit,
                    .ctx = c->chunk,
                    .entries = &conf,
                    .n_entries = 1,
                    .data = c->value,
                    .done = c->done};
    s_send_encoded (self, &m);
    metrics_add (METRICS_SNAPSHOT_CHUNKS_SENT, 1);
}

void
ra_drive (ra_self_t *self)
{
    if (!self->r)
        return;
    raft_ready_t rd;
    while (raft_ready (self->r, &rd)) {
        if (rd.seq) {
            msg_store_t w = {.kind = MSG_STORE_WRITE,
                             .seq = rd.seq,
                             .hs_changed = rd.hs_changed,
                             .hs = rd.hs,
                             .entries = (raft_entry_t *)rd.entries,
                             .n_entries = rd.n_entries};
            if (rd.snapshot) {
                w.has_snap = true;
                w.snap = *rd.snapshot;
                if (rd.snapshot->done) {
                    metrics_add (METRICS_SNAPSHOTS_INSTALLED, 1);
                    raft_status_t st;
                    raft_status (self->r, &st);
                    self->snap.pending = true;
                    self->snap.seq = rd.seq;
                    self->snap.index = rd.snapshot->index;
                    self->snap.term = rd.snapshot->term;
                    self->snap.from = st.leader;
                }
            }
            ra_store_send (self, &w);
        }
        for (size_t i = 0; i < rd.n_msgs; i++)
            s_send_msg (self, &rd.msgs[i]);
        if (rd.n_after)
            s_send_after (self, rd.after, rd.n_after);
        if (rd.n_committed) {
            /* Note which pending proposals made it, and which were lost
               (another entry committed at their index). */
            for (size_t k = 0; k < rd.n_committed; k++) {
                const raft_entry_t *e = &rd.committed[k];
                for (size_t i = 0; i < self->n_reqs; i++) {
                    ra_req_t *q = &self->reqs[i];
                    if (q->wait != RA_WAIT_APPLY || q->index != e->index)
                        continue;
                    if (q->term == e->term) {
                        q->committed = true;
                    } else {
                        ra_reply_error (self, q->identity, q->req_id, 503,
                                        "leadership_lost");
                        ra_req_drop (self, i--);
                    }
                }
            }
            /* storage holds the entries it wrote: only the index goes */
            const raft_entry_t *last = &rd.committed[rd.n_committed - 1];
            msg_store_t a = {.kind = MSG_STORE_APPLY,
                             .applied = last->index,
                             .applied_term = last->term};
            ra_store_send (self, &a);
        }
        for (size_t k = 0; k < rd.n_reads; k++) {
            for (size_t i = 0; i < self->n_reqs; i++) {
                ra_req_t *q = &self->reqs[i];
                if ((q->wait != RA_WAIT_READ && q->wait != RA_WAIT_READ_FWD) ||
                    q->ctx != rd.reads[k].ctx)
                    continue;
                if (rd.reads[k].ok && q->op == MSG_API_READ) {
                    ra_reply_empty (self, q->identity, q->req_id);
                    ra_req_drop (self, i);
                } else if (rd.reads[k].ok && q->op == MSG_API_LEASE_KEEPALIVE) {
                    ra_lease_confirmed (self, q);
                    ra_req_drop (self, i);
                } else if (rd.reads[k].ok) {
                    q->wait = RA_WAIT_VALUE;
                    ra_store_get (self, q->ctx, q->key);
                } else {
                    ra_reply_error (self, q->identity, q->req_id, 503,
                                    "leadership_lost");
                    ra_req_drop (self, i);
                }
                break;
            }
        }
    }
    s_send_peers (self);
    ra_settle (self);
    ra_maybe_compact (self);
    ra_publish_metrics (self);
}
