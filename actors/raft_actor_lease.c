/*  raft_actor_lease.c -- the leader's side of leases (store/kvsm_lease.h,
    store/lessor.h): the raft actor owns the lessor, the one clock that
    ever decides an expiry. The table itself is state-machine state that
    the storage actor keeps; what lives here is never replicated.

      becoming leader   ask storage for the table ("leases", with a fresh
                        req); its answer promotes the lessor, every
                        deadline now + TTL + an election timeout (etcd's
                        Promote(extend)): keep-alives the old leader
                        acknowledged are not in the log. Until then a
                        keep-alive gets 503 leases_loading. An answer for
                        another req or an older term is dropped.
      stepping down     demote: a follower's lessor is empty and expires
                        nothing
      applied           each result's lease_event, in apply order:
                        lessor_granted / lessor_revoked (idempotent, so the
                        results that cross the list agree with it)
      every tick        lessor_expired: an LREVOKE (expired) proposed for
                        each lease due, S_EXPIRE_MAX a tick at most (etcd
                        rate-limits its revokes the same way), with no
                        client waiting; a revoke whose entry was lost is
                        proposed again after S_RETRY_TIMEOUTS election
                        timeouts
      keep-alive        never logged (etcd's LeaseRenew): answered once a
                        ReadIndex round taken after it arrived confirms
                        this node still leads (§6.4, as a linearizable
                        read is), then lessor_renew. A deposed leader that
                        has not noticed yet cannot confirm, so it never
                        renews a lease the new leader may be expiring.
      info              the TTL, and the remaining time on the leader;
                        elsewhere the TTL from storage's table

    The clock is zclock_mono (): the leader's alone, and only for
    deadlines; what every replica sees is the LREVOKE's index.
*/
#include "kvsm_lease.h"
#include "raft_actor_int.h"

#include <stdlib.h>

/* Revokes proposed per tick at most. */
#define S_EXPIRE_MAX 16
/* A revoke proposed this many election timeouts ago and still not
   applied was lost (a leader change dropped it): due again. */
#define S_RETRY_TIMEOUTS 3

/*  Planted node bug (NODE_BUGS in the Makefile; make lease-teeth, the
    cluster test tests/cluster/lease_test.sh must catch it):
      10 lease_keepalive_unconfirmed  a keep-alive is renewed at once, with
                                      no ReadIndex round: a leader cut off
                                      from its majority goes on answering
                                      200 while the majority elects a
                                      leader that expires the lease      */
#ifndef NSXD_PLANTED_BUG
#define NSXD_PLANTED_BUG 0
#endif
#define S_BUG_KEEPALIVE_UNCONFIRMED (NSXD_PLANTED_BUG == 10)

static uint64_t
s_now (void)
{
    return (uint64_t)zclock_mono ();
}

int
ra_lease_init (ra_self_t *self)
{
    self->lease.lessor = lessor_new ();
    metrics_set (METRICS_LEASES, 0);
    return self->lease.lessor ? 0 : -1;
}

void
ra_lease_destroy (ra_self_t *self)
{
    lessor_destroy (&self->lease.lessor);
}

static void
s_publish (ra_self_t *self)
{
    metrics_set (METRICS_LEASES, lessor_count (self->lease.lessor));
}

void
ra_lease_settle (ra_self_t *self, const raft_status_t *st)
{
    if (!self->lease.lessor)
        return;
    bool leads = st->role == RAFT_LEADER;
    if (leads && self->lease.leading && self->lease.term == st->term)
        return;
    if (!leads && !self->lease.leading)
        return;
    lessor_demote (self->lease.lessor);
    self->lease.leading = leads;
    self->lease.term = st->term;
    self->lease.req = 0;
    s_publish (self);
    if (!leads)
        return;
    /* Storage answers from what it staged, after every "apply" sent
       before this: the results still to come are granted/revoked on top,
       idempotently. */
    self->lease.req = ++self->next_ctx;
    msg_store_t m = {.kind = MSG_STORE_LEASES, .req_id = self->lease.req};
    ra_store_send (self, &m);
}

/* A lease info request waiting for storage's table. */
static void
s_info_answer (ra_self_t *self, const msg_store_t *m)
{
    for (size_t i = 0; i < self->n_reqs; i++) {
        ra_req_t *q = &self->reqs[i];
        if (q->wait != RA_WAIT_LEASES || q->ctx != m->req_id)
            continue;
        const lessor_lease_t *l = NULL;
        for (size_t k = 0; k < m->n_leases && !l; k++)
            if (m->leases[k].id == q->id)
                l = &m->leases[k];
        if (!l) {
            ra_reply_error (self, q->identity, q->req_id, 404,
                            "lease_not_found");
        } else {
            msg_api_rep_t r = {.req_id = q->req_id,
                               .status = 200,
                               .kind = MSG_API_REP_LEASE,
                               .id = l->id,
                               .ttl_ms = l->ttl_ms};
            ra_send_reply (self, q->identity, &r);
        }
        ra_req_drop (self, i);
        return;
    }
}

void
ra_lease_on_list (ra_self_t *self, const msg_store_t *m)
{
    if (m->req_id == 0 || m->req_id != self->lease.req) {
        s_info_answer (self, m);
        return;
    }
    raft_status_t st;
    raft_status (self->r, &st);
    self->lease.req = 0;
    if (st.role != RAFT_LEADER || st.term != self->lease.term)
        return; /* asked for a leadership since lost: settle asks again */
    if (lessor_promote (self->lease.lessor, m->leases, m->n_leases, s_now (),
                        self->args.election_ms) != 0) {
        log_error ("raft: out of memory promoting %zu leases; keep-alives "
                   "answer 503 until the next leadership",
                   m->n_leases);
        return;
    }
    log_info ("raft: lessor promoted in term %llu with %zu leases (applied "
              "%llu), each extended by %d ms",
              (unsigned long long)st.term, m->n_leases,
              (unsigned long long)m->applied, self->args.election_ms);
    s_publish (self);
}

void
ra_lease_on_applied (ra_self_t *self, const msg_store_t *m)
{
    lessor_t *l = self->lease.lessor;
    if (!l || !lessor_is_primary (l))
        return;
    uint64_t now = s_now ();
    for (size_t k = 0; k < m->n_results; k++) {
        const msg_apply_result_t *r = &m->results[k];
        if (r->lease_event == KVSM_LEASE_EV_GRANTED &&
            lessor_granted (l, r->lease, r->lease_ttl_ms, now) != 0)
            log_error ("raft: out of memory: lease %llu has no deadline "
                       "here until the next leadership",
                       (unsigned long long)r->lease);
        else if (r->lease_event == KVSM_LEASE_EV_REVOKED)
            lessor_revoked (l, r->lease);
    }
    s_publish (self);
}

void
ra_lease_tick (ra_self_t *self)
{
    lessor_t *l = self->lease.lessor;
    if (!l || !lessor_is_primary (l))
        return;
    uint64_t ids[S_EXPIRE_MAX];
    size_t n = lessor_expired (
        l, s_now (), (uint64_t)S_RETRY_TIMEOUTS * self->args.election_ms, ids,
        S_EXPIRE_MAX);
    for (size_t i = 0; i < n; i++) {
        msg_kv_t cmd = {.op = KVSM_LREVOKE, .lease = ids[i], .expired = true};
        raft_buf_t *data = msg_kv_encode (&cmd);
        raft_index_t index = 0;
        raft_term_t term = 0;
        int rc = data ? raft_propose (self->r, data, &index, &term)
                      : RAFT_ERR_INVALID;
        raft_buf_unref (data);
        if (rc != RAFT_OK) {
            /* a transfer in progress, or no longer leading: the retry
               (or the next leader) proposes it again */
            log_debug ("raft: lease %llu expired; its revoke was not "
                       "proposed (%d)",
                       (unsigned long long)ids[i], rc);
            continue;
        }
        metrics_add (METRICS_LEASES_EXPIRED, 1);
        log_info ("raft: lease %llu expired; revoke proposed at index %llu",
                  (unsigned long long)ids[i], (unsigned long long)index);
        if (self->mon) {
            msg_trace_ev_t ev;
            monitor_push (self->mon,
                          msg_trace_ev_set (&ev, "lease_expired", term, ids[i],
                                            index, NULL));
        }
    }
}

bool
ra_lease_clamp (ra_self_t *self, msg_kv_t *cmd)
{
    if (cmd->op != KVSM_LGRANT)
        return false;
    uint64_t min = lessor_min_ttl_ms ((uint64_t)self->args.election_ms);
    uint64_t ttl = cmd->ttl_ms < min ? min : cmd->ttl_ms;
    if (ttl > KVSM_LEASE_TTL_MAX_MS)
        ttl = KVSM_LEASE_TTL_MAX_MS;
    if (ttl == cmd->ttl_ms)
        return false;
    cmd->ttl_ms = ttl;
    return true;
}

/* Is this node a leader whose lessor may answer? Else the reply is sent
   (400, 409 not_leader, 503 no_quorum or leases_loading). */
static bool
s_refuse (ra_self_t *self, zframe_t *identity, const msg_api_req_t *req)
{
    if (req->id == 0) {
        ra_reply_error (self, identity, req->req_id, 400, "bad_request");
        return true;
    }
    if (ra_refuse_unless_leader (self, identity, req->req_id))
        return true;
    if (!lessor_is_primary (self->lease.lessor)) {
        ra_reply_error_detail (self, identity, req->req_id, 503,
                               "leases_loading",
                               "this leader is still loading the lease "
                               "table; retry in a moment");
        return true;
    }
    return false;
}

static void
s_reply_lease (ra_self_t *self, zframe_t *identity, uint64_t req_id,
               uint64_t id, uint64_t ttl_ms, bool has_remaining,
               uint64_t remaining_ms)
{
    msg_api_rep_t r = {.req_id = req_id,
                       .status = 200,
                       .kind = MSG_API_REP_LEASE,
                       .id = id,
                       .ttl_ms = ttl_ms,
                       .remaining_ms = remaining_ms,
                       .has_remaining = has_remaining};
    ra_send_reply (self, identity, &r);
}

void
ra_lease_keepalive (ra_self_t *self, zframe_t **identity,
                    const msg_api_req_t *req)
{
    if (s_refuse (self, *identity, req))
        return;
    uint64_t ttl, rem, now = s_now ();
    /* unknown, or its revoke in flight: gone for its holder */
    if (lessor_remaining (self->lease.lessor, req->id, now, &ttl, &rem) != 0) {
        ra_reply_error (self, *identity, req->req_id, 404, "lease_not_found");
        return;
    }
    if (S_BUG_KEEPALIVE_UNCONFIRMED) {
        if (lessor_renew (self->lease.lessor, req->id, now, &ttl) == 0)
            s_reply_lease (self, *identity, req->req_id, req->id, ttl, false,
                           0);
        else
            ra_reply_error (self, *identity, req->req_id, 404,
                            "lease_not_found");
        return;
    }
    /* §6.4: leadership confirmed by a heartbeat round that started after
       the keep-alive arrived, as a linearizable read is. */
    uint64_t ctx = ++self->next_ctx;
    if (raft_read_index (self->r, ctx) != RAFT_OK) {
        ra_reply_error (self, *identity, req->req_id, 409, "not_leader");
        return;
    }
    ra_req_t *q = ra_req_add (self, identity, req, RA_WAIT_READ);
    q->ctx = ctx;
}

void
ra_lease_confirmed (ra_self_t *self, ra_req_t *q)
{
    uint64_t ttl;
    if (!lessor_is_primary (self->lease.lessor)) {
        ra_reply_error (self, q->identity, q->req_id, 503, "leadership_lost");
        return;
    }
    if (lessor_renew (self->lease.lessor, q->id, s_now (), &ttl) != 0) {
        ra_reply_error (self, q->identity, q->req_id, 404, "lease_not_found");
        return;
    }
    s_reply_lease (self, q->identity, q->req_id, q->id, ttl, false, 0);
}

void
ra_lease_info (ra_self_t *self, zframe_t **identity, const msg_api_req_t *req)
{
    if (req->id == 0) {
        ra_reply_error (self, *identity, req->req_id, 400, "bad_request");
        return;
    }
    uint64_t ttl, rem;
    if (lessor_is_primary (self->lease.lessor)) {
        if (lessor_remaining (self->lease.lessor, req->id, s_now (), &ttl,
                              &rem) != 0)
            ra_reply_error (self, *identity, req->req_id, 404,
                            "lease_not_found");
        else
            s_reply_lease (self, *identity, req->req_id, req->id, ttl, true,
                           rem);
        return;
    }
    /* Not the leader (or not promoted yet): the TTL from this node's
       table, as applied here; no deadline is known. */
    ra_req_t *q = ra_req_add (self, identity, req, RA_WAIT_LEASES);
    q->ctx = ++self->next_ctx;
    msg_store_t m = {.kind = MSG_STORE_LEASES, .req_id = q->ctx};
    ra_store_send (self, &m);
}
