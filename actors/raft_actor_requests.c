/*  raft_actor_requests.c -- the raft actor's table of client requests:
    each waits until its outcome is known (applied, committed, confirmed,
    lost) or its deadline passes, then gets one typed reply (msg_api.h).
*/
#include "raft_actor_int.h"

void
ra_send_reply (ra_self_t *self, zframe_t *identity, const msg_api_rep_t *r)
{
    zmsg_t *rep = msg_api_rep_encode (r);
    if (!rep)
        return;
    if (ra_forward_reply (self, identity, rep)) {
        zmsg_destroy (&rep);
        return;
    }
    zframe_t *id = zframe_dup (identity);
    zmsg_prepend (rep, &id);
    zmsg_send (&rep, self->api);
}

/* Error reply: {"error": code}; not_leader also names the leader. */
void
ra_reply_error (ra_self_t *self, zframe_t *identity, uint64_t req_id,
                unsigned status, const char *code)
{
    msg_api_rep_t r = {.req_id = req_id,
                       .status = status,
                       .kind = MSG_API_REP_ERROR,
                       .code = code};
    char http[RAFT_ADDR_MAX];
    if (strcmp (code, "not_leader") == 0) {
        r.has_leader = true;
        r.leader = ra_leader_http (self, http, sizeof http);
    }
    ra_send_reply (self, identity, &r);
}

void
ra_reply_error_detail (ra_self_t *self, zframe_t *identity, uint64_t req_id,
                       unsigned status, const char *code, const char *detail)
{
    msg_api_rep_t r = {.req_id = req_id,
                       .status = status,
                       .kind = MSG_API_REP_ERROR,
                       .code = code,
                       .detail = detail};
    ra_send_reply (self, identity, &r);
}

/* 200 {}: a read barrier passed. */
void
ra_reply_empty (ra_self_t *self, zframe_t *identity, uint64_t req_id)
{
    msg_api_rep_t r = {
        .req_id = req_id, .status = 200, .kind = MSG_API_REP_EMPTY};
    ra_send_reply (self, identity, &r);
}

/* A PUT or DELETE applied: flag is whether a PUT created the key, or a
   DELETE found it. */
void
ra_reply_written (ra_self_t *self, zframe_t *identity, uint64_t req_id,
                  raft_buf_t *key, raft_index_t index, bool is_delete,
                  bool flag)
{
    msg_api_rep_t r = {.req_id = req_id,
                       .status = 200,
                       .kind = MSG_API_REP_WRITTEN,
                       .key = key,
                       .index = index,
                       .is_delete = is_delete,
                       .flag = flag};
    ra_send_reply (self, identity, &r);
}

void
ra_reply_kv (ra_self_t *self, zframe_t *identity, uint64_t req_id,
             raft_index_t index, const msg_apply_result_t *r)
{
    msg_api_rep_t rep = {.req_id = req_id,
                         .status = r->status ? r->status : 200,
                         .kind = MSG_API_REP_KV,
                         .index = index,
                         .value = r->result};
    ra_send_reply (self, identity, &rep);
}

/* A GET's answer: 200 with the value, 404 without (value NULL). */
void
ra_reply_value (ra_self_t *self, zframe_t *identity, uint64_t req_id,
                raft_buf_t *key, raft_buf_t *value, bool stale)
{
    msg_api_rep_t r = {.req_id = req_id,
                       .status = value ? 200 : 404,
                       .kind = MSG_API_REP_VALUE,
                       .key = key,
                       .value = value,
                       .stale = stale};
    ra_send_reply (self, identity, &r);
}

void
ra_req_free (ra_req_t *q)
{
    if (q->wait == RA_WAIT_APPLY) {
        metrics_add (q->acked ? METRICS_PROPOSALS_COMMITTED
                              : METRICS_PROPOSALS_FAILED,
                     1);
        metrics_add (METRICS_PROPOSALS_PENDING, (uint64_t)-1);
    }
    zframe_destroy (&q->identity);
    raft_buf_unref (q->key);
    q->key = NULL;
}

/* Remove request i from the table (order not kept). */
void
ra_req_drop (ra_self_t *self, size_t i)
{
    ra_req_free (&self->reqs[i]);
    self->reqs[i] = self->reqs[--self->n_reqs];
}

ra_req_t *
ra_req_add (ra_self_t *self, zframe_t **identity, const msg_api_req_t *req,
            ra_wait_t wait)
{
    if (self->n_reqs == self->cap_reqs) {
        self->cap_reqs = self->cap_reqs ? 2 * self->cap_reqs : 64;
        self->reqs = realloc (self->reqs, self->cap_reqs * sizeof *self->reqs);
        if (!self->reqs)
            abort ();
    }
    ra_req_t *q = &self->reqs[self->n_reqs++];
    memset (q, 0, sizeof *q);
    q->identity = *identity;
    *identity = NULL;
    q->req_id = req->req_id;
    q->op = req->op;
    q->wait = wait;
    int timeout = self->args.timeout_ms;
    if (req->op == MSG_API_JOIN || req->op == MSG_API_REMOVE)
        timeout = timeout * 5 > 10000 ? timeout * 5 : 10000;
    q->deadline = zclock_mono () + timeout;
    q->key = raft_buf_ref (req->key);
    q->stale = req->stale;
    q->id = req->id;
    return q;
}

/* After the batch: settle what the new state decides. */
void
ra_settle (ra_self_t *self)
{
    raft_status_t st;
    raft_status (self->r, &st);
    if (st.role != self->last_role || st.leader != self->last_leader) {
        log_info ("raft: %s in term %llu, leader %llu",
                  raft_role_name (st.role), (unsigned long long)st.term,
                  (unsigned long long)st.leader);
        if (st.leader && st.leader != self->last_leader)
            metrics_add (METRICS_LEADER_CHANGES, 1);
        self->last_role = st.role;
        self->last_leader = st.leader;
    }
    ra_lease_settle (self, &st);
    for (size_t i = 0; i < self->n_reqs; i++) {
        ra_req_t *q = &self->reqs[i];
        if (q->wait == RA_WAIT_CONF && st.commit >= q->index) {
            ra_conf_done (self, q);
            ra_req_drop (self, i--);
            continue;
        }
        if (q->wait == RA_WAIT_CATCH_UP && st.role == RAFT_LEADER &&
            st.commit >= q->index && raft_caught_up (self->r, q->id)) {
            raft_index_t index;
            int rc = raft_promote (self->r, q->id, &index);
            if (rc == RAFT_OK) {
                log_info ("raft: promoting server %llu at index %llu",
                          (unsigned long long)q->id, (unsigned long long)index);
                q->wait = RA_WAIT_CONF;
                q->index = index;
            }
            continue;
        }
        /* A leader that lost leadership cannot finish what it proposed:
           the outcome is unknown (it may still commit under the next
           leader), so 503, never 409. */
        if (st.role != RAFT_LEADER && !q->committed &&
            (q->wait == RA_WAIT_APPLY || q->wait == RA_WAIT_CONF ||
             q->wait == RA_WAIT_CATCH_UP || q->wait == RA_WAIT_READ)) {
            ra_reply_error (self, q->identity, q->req_id, 503,
                            "leadership_lost");
            ra_req_drop (self, i--);
        }
    }
}
