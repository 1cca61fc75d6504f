/*  raft_actor_storage.c -- what storage sends the raft actor: "boot"
    (the core starts from it, with the node's randomness, trace and
    identity check), "persisted", "applied", "value", "usage" and
    "error". See raft_actor.c for the protocol.
*/
#include "raft_actor_int.h"

static uint64_t
s_rand (void *ctx)
{
    /* xorshift64*: the core's randomness, seeded per process in s_self_new */
    uint64_t *x = ctx;
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 2685821657736338717ULL;
}

/* raft_options_t.self_check: is this configuration entry this data
   directory's server? (store_identity_is_self) */
static bool
s_self_check (void *ctx, const raft_server_t *s)
{
    const store_identity_t *id = ctx;
#if NSXD_PLANTED_BUG == 4
    /* -DNSXD_PLANTED_BUG=4 (no_self_check, make identity-teeth): every
       entry under our id is us, the wiped server votes as its old self
       and identity_test.sh's entry E is lost */
    (void)id;
    (void)s;
    return true;
#else
    return !id || store_identity_is_self (id, s);
#endif
}

/* The core's trace events: counted for /metrics, and sent to the
   monitoring socket (never blocks). */
static void
s_trace (void *ctx, const raft_event_t *ev)
{
    ra_self_t *self = ctx;
    raft_event_t e = *ev;
    switch (e.type) {
    case RAFT_EV_ELECTION_START:
        metrics_add (e.a ? METRICS_PREVOTES_STARTED : METRICS_ELECTIONS_STARTED,
                     1);
        break;
    case RAFT_EV_ELECTION_WON:
        metrics_add (e.a ? METRICS_PREVOTES_WON : METRICS_ELECTIONS_WON, 1);
        break;
    case RAFT_EV_READ_ROUND: metrics_add (METRICS_READ_ROUNDS, 1); break;
    case RAFT_EV_CONF:
        if (self->r)
            e.b = raft_conf (self->r)->n;
        break;
    default: break;
    }
    if (self->mon)
        monitor_push_raft (self->mon, &e);
}

static void
s_on_boot (ra_self_t *self, msg_store_t *m)
{
    raft_options_t o;
    raft_options_default (&o);
    o.id = self->args.id;
    o.heartbeat_ticks = 1;
    o.election_ticks =
        (uint32_t)(self->args.election_ms / self->args.heartbeat_ms);
    if (o.election_ticks < 2)
        o.election_ticks = 2;
    o.rand = s_rand;
    o.rand_ctx = &self->rng;
    o.trace = s_trace;
    o.trace_ctx = self;
    o.self_check = s_self_check;
    o.async_sends = self->args.async_sends;
    o.self_ctx = (void *)self->args.identity;
    raft_boot_t b = {.hs = m->hs,
                     .entries = m->entries,
                     .n_entries = m->n_entries,
                     .applied = m->applied};
    if (m->base.index) {
        b.base_index = m->base.index;
        b.base_term = m->base.term;
        b.base_conf = *raft_entry_conf (&m->base); /* checked by msg/ */
    }
    self->r = raft_new (&o, &b);
    if (!self->r) {
        snprintf (self->fail_reason, sizeof self->fail_reason,
                  "the stored state is not a valid Raft state (term %llu, "
                  "%zu entries, applied %llu); refusing to start",
                  (unsigned long long)m->hs.term, m->n_entries,
                  (unsigned long long)m->applied);
        self->failed = true;
        return;
    }
    log_info ("raft: booted with term %llu, vote %llu, %zu log entries, "
              "applied %llu",
              (unsigned long long)m->hs.term, (unsigned long long)m->hs.vote,
              m->n_entries, (unsigned long long)m->applied);
}

static void
s_on_applied (ra_self_t *self, msg_store_t *m)
{
    raft_status_t st;
    raft_status (self->r, &st);
    if (self->mon && m->applied > st.applied) {
        msg_trace_ev_t ev;
        monitor_push (self->mon,
                      msg_trace_ev_set (&ev, "apply", st.term, st.applied + 1,
                                        m->applied, NULL));
    }
    raft_applied (self->r, m->applied);
    ra_lease_on_applied (self, m);
    for (size_t k = 0; k < m->n_results; k++) {
        for (size_t i = 0; i < self->n_reqs; i++) {
            ra_req_t *q = &self->reqs[i];
            if (q->wait != RA_WAIT_APPLY || q->index != m->results[k].index ||
                !q->committed)
                continue;
            bool is_delete = q->op == MSG_API_DELETE;
            /* the state machine's result (versions, compares); else (a
               malformed command) whether the key existed */
            if (m->results[k].result)
                ra_reply_kv (self, q->identity, q->req_id, q->index,
                             &m->results[k]);
            else
                ra_reply_written (
                    self, q->identity, q->req_id, q->key, q->index, is_delete,
                    is_delete ? m->results[k].existed : !m->results[k].existed);
            q->acked = true;
            ra_req_drop (self, i);
            break;
        }
    }
}

static void
s_on_value (ra_self_t *self, msg_store_t *m)
{
    for (size_t i = 0; i < self->n_reqs; i++) {
        ra_req_t *q = &self->reqs[i];
        if (q->wait != RA_WAIT_VALUE || q->ctx != m->req_id)
            continue;
        ra_reply_value (self, q->identity, q->req_id, q->key,
                        m->found ? m->value : NULL, q->stale);
        ra_req_drop (self, i);
        return;
    }
}

/* A disk usage reading from storage: the quota's alarm follows it. */
static void
s_on_usage (ra_self_t *self, const msg_store_t *m)
{
    int change = quota_update (&self->quota, m->db_bytes, m->fs_free);
    metrics_set (METRICS_DB_SIZE_BYTES, m->db_bytes);
    metrics_set (METRICS_ALARM_NOSPACE, self->quota.alarm);
    if (change > 0)
        log_warn ("raft: NOSPACE alarm: the database takes %llu bytes, "
                  "quota %llu; writes are refused (507) until compaction "
                  "brings it under %llu",
                  (unsigned long long)m->db_bytes,
                  (unsigned long long)self->quota.bytes,
                  (unsigned long long)quota_clear_bytes (self->quota.bytes));
    else if (change < 0)
        log_info ("raft: NOSPACE alarm cleared: the database takes %llu "
                  "bytes, quota %llu",
                  (unsigned long long)m->db_bytes,
                  (unsigned long long)self->quota.bytes);
}

void
ra_on_storage (ra_self_t *self, zmsg_t *zm)
{
    msg_store_t m;
    if (msg_store_decode (zm, &m) != 0) {
        log_warn ("raft: malformed message from storage dropped");
        return;
    }
    if (m.kind == MSG_STORE_BOOT && !self->r) {
        s_on_boot (self, &m);
    } else if (m.kind == MSG_STORE_ERROR) {
        snprintf (self->fail_reason, sizeof self->fail_reason,
                  "storage failed: %s; stopping", m.error);
        self->failed = true;
    } else if (self->r) {
        switch (m.kind) {
        case MSG_STORE_PERSISTED:
            if (self->snap.pending && m.seq >= self->snap.seq) {
                self->snap.pending = false;
                self->snap.valid = true;
                self->snap.at_ms = (uint64_t)zclock_time ();
            }
            raft_persisted (self->r, m.seq);
            break;
        case MSG_STORE_USAGE: s_on_usage (self, &m); break;
        case MSG_STORE_APPLIED: s_on_applied (self, &m); break;
        case MSG_STORE_VALUE: s_on_value (self, &m); break;
        case MSG_STORE_SNAP_CHUNK: ra_on_snap_chunk (self, &m); break;
        case MSG_STORE_LEASES: ra_lease_on_list (self, &m); break;
        default: break;
        }
    }
    msg_store_clear (&m);
}
