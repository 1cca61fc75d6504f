/*  raft_actor_api.c -- the API's operations in the raft actor: PUT and
    DELETE proposed (with the space quota's refusal), GET and the read
    barrier (ReadIndex, §6.4), /health, and membership changes (join as a
    learner then promote, §4.2.1; remove).
*/
#include "raft_actor_int.h"

void
ra_reply_health (ra_self_t *self, zframe_t *identity, uint64_t req_id)
{
    raft_status_t st;
    raft_status (self->r, &st);
    const raft_conf_t *conf = raft_conf (self->r);
    raft_progress_info_t prs[RAFT_MAX_SERVERS];
    size_t n_prs = raft_progress (self->r, prs, RAFT_MAX_SERVERS);
    char peers[RAFT_MAX_SERVERS][RAFT_ADDR_MAX];
    char https[RAFT_MAX_SERVERS][RAFT_ADDR_MAX];
    msg_health_member_t members[RAFT_MAX_SERVERS];
    for (uint32_t i = 0; i < conf->n; i++) {
        const raft_server_t *s = &conf->servers[i];
        ra_split_addr (s->addr, peers[i], RAFT_ADDR_MAX, https[i],
                       RAFT_ADDR_MAX);
        members[i] =
            (msg_health_member_t){.id = s->id,
                                  .peer_addr = peers[i],
                                  .http_addr = https[i],
                                  .voter = s->voter,
                                  .dir_id = store_identity_tag (s->addr)};
        /* On the leader: each one's match index, its own durable log. */
        for (size_t k = 0; k < n_prs; k++)
            if (prs[k].id == s->id) {
                members[i].has_match = true;
                members[i].match = prs[k].match;
            }
        if (st.role == RAFT_LEADER && s->id == self->args.id) {
            members[i].has_match = true;
            members[i].match = st.persisted;
        }
    }
    char http[RAFT_ADDR_MAX];
    msg_health_t h = {
        .id = self->args.id,
        .role = raft_role_name (st.role),
        .term = st.term,
        .leader = ra_leader_http (self, http, sizeof http),
        .leader_id = st.leader,
        .commit = st.commit,
        .applied = st.applied,
        .last_index = st.last_index,
        .peer_addr = self->args.peer_advertise,
        .http_addr = self->args.http_advertise,
        .members = members,
        .n_members = conf->n,
        .uptime_s = (uint64_t)(zclock_mono () - self->started) / 1000,
        .dropped_msgs = st.dropped_msgs + self->dropped_in,
        .base_index = st.base_index,
        .base_term = st.base_term,
        .log_entries = st.last_index - st.base_index,
        .log_bytes = st.log_bytes,
        .has_snapshot = self->snap.valid,
        .snap_index = self->snap.index,
        .snap_term = self->snap.term,
        .snap_from = self->snap.from,
        .snap_at_ms = self->snap.at_ms,
        .quota_bytes = self->quota.bytes,
        .quota_known = self->quota.known,
        .quota_used = self->quota.used,
        .quota_clear_below = quota_clear_bytes (self->quota.bytes),
        .fs_free = self->quota.fs_free,
        .alarm = self->quota.alarm};
    const store_identity_t *ident = self->args.identity;
    if (ident) {
        const raft_server_t *me = raft_conf_get (conf, self->args.id);
        h.cluster_id = ident->cluster_id;
        h.dir_id = ident->dir_id;
        h.origin = store_origin_name (ident->origin);
        h.voting = me && me->voter && store_identity_is_self (ident, me);
    }
    msg_api_rep_t r = {.req_id = req_id,
                       .status = 200,
                       .kind = MSG_API_REP_HEALTH,
                       .health = &h};
    ra_send_reply (self, identity, &r);
}

/* What a PUT costs on disk besides its key and value, about: the entry's
   header and the LevelDB keys, twice (log and KV data). */
#define S_ENTRY_OVERHEAD 64

/* The bytes a command's puts add (keys and values): what the quota
   admits. 0 for a command without puts (a delete is let through, since
   it is how space comes back). */
static uint64_t
s_put_bytes (const msg_kv_t *cmd)
{
    if (cmd->op == MSG_KV_PUT)
        return (uint64_t)cmd->key->len + cmd->value->len;
    uint64_t n = 0;
    for (size_t i = 0;
         cmd->op == MSG_KV_TXN && i < cmd->n_success + cmd->n_failure; i++)
        if (cmd->ops[i].op == KVSM_PUT)
            n += (uint64_t)cmd->ops[i].key->len + cmd->ops[i].value->len;
    return n;
}

void
ra_propose_kv (ra_self_t *self, zframe_t **identity, const msg_api_req_t *req)
{
    msg_kv_t cmd = {0};
    bool encoded = req->op == MSG_API_CMD;
    /* MSG_API_CMD: the HTTP side encoded the command (compares, a TXN);
       decoded here only to check it and weigh it for the quota. */
    if (encoded ? !req->value ||
                      msg_kv_decode (req->value->data, req->value->len, &cmd) !=
                          0 ||
                      cmd.version < KVSM_CMD_V2 /* V3: sessions */
                : !req->key || req->key->len == 0) {
        msg_kv_clear (&cmd);
        ra_reply_error (self, *identity, req->req_id, 400, "bad_request");
        return;
    }
    if (ra_refuse_unless_leader (self, *identity, req->req_id)) {
        msg_kv_clear (&cmd);
        return;
    }
    if (!encoded) {
        cmd = (msg_kv_t){.op = req->op == MSG_API_PUT ? MSG_KV_PUT : MSG_KV_DEL,
                         .key = raft_buf_ref (req->key),
                         .value = raft_buf_ref (req->value)};
        if (cmd.op == MSG_KV_PUT && !cmd.value) {
            msg_kv_clear (&cmd);
            ra_reply_error (self, *identity, req->req_id, 400, "bad_request");
            return;
        }
    }
    uint64_t put_bytes = s_put_bytes (&cmd);
    /* A PUT grows the log by its entry and the KV data by its pair; a
       DELETE is let through, since it is how space comes back. */
    if (put_bytes &&
        !quota_admit (&self->quota, 2 * put_bytes + S_ENTRY_OVERHEAD)) {
        metrics_add (METRICS_WRITES_REFUSED_NOSPACE, 1);
        /* Refused because it would not fit: the alarm is on from here (as
           etcd raises NOSPACE), so that every 507 shows in /health and
           the next writes are not let through one by one as they fit. */
        if (quota_raise (&self->quota)) {
            metrics_set (METRICS_ALARM_NOSPACE, 1);
            log_warn (
                "raft: NOSPACE alarm: a PUT of %llu bytes would take "
                "the database (%llu bytes) past the quota (%llu); "
                "writes are refused (507) until compaction brings it "
                "under %llu",
                (unsigned long long)put_bytes,
                (unsigned long long)self->quota.used,
                (unsigned long long)self->quota.bytes,
                (unsigned long long)quota_clear_bytes (self->quota.bytes));
        }
        ra_reply_error (self, *identity, req->req_id, 507, "no_space");
        msg_kv_clear (&cmd);
        return;
    }
    /* A session command is stamped again with the leader's clock: the
       HTTP worker that encoded it stamped it with its node's, and a
       follower's (a forwarded write: msg_forward.h) may run ahead of the
       leader's. The session table's clock is the max stamp applied, so
       one stamp from a clock a day fast would expire every session
       early; stamped here, only the clocks of the leaders that proposed
       count (store/kvsm_session.h). */
    bool restamp = encoded && (cmd.has_session || cmd.op == KVSM_SOPEN ||
                               cmd.op == KVSM_SCLOSE);
    if (restamp) {
        int64_t now = zclock_time ();
        cmd.stamp_ms = now > 0 ? (uint64_t)now : 0;
    }
    /* An LGRANT's TTL is the leader's to clamp (raft_actor_lease.c):
       what it proposes is what every replica grants. */
    bool clamped = encoded && ra_lease_clamp (self, &cmd);
    raft_buf_t *data = encoded && !restamp && !clamped
                           ? raft_buf_ref (req->value)
                           : msg_kv_encode (&cmd);
    msg_kv_clear (&cmd);
    raft_index_t index;
    raft_term_t term;
    int rc =
        data ? raft_propose (self->r, data, &index, &term) : RAFT_ERR_INVALID;
    raft_buf_unref (data);
    if (rc == RAFT_ERR_TRANSFERRING) {
        ra_reply_error (self, *identity, req->req_id, 503, "transferring");
        return;
    }
    if (rc != RAFT_OK) {
        ra_reply_error (self, *identity, req->req_id, 409, "not_leader");
        return;
    }
    ra_req_t *q = ra_req_add (self, identity, req, RA_WAIT_APPLY);
    q->index = index;
    q->term = term;
    metrics_add (METRICS_PROPOSALS_PENDING, 1);
}

/*  Planted node bugs, for the end-to-end linearizability test (make
    jepsen-teeth, tests/jepsen/): build with -DNSXD_PLANTED_BUG=N to show
    that the workload and its checker catch what the simulator cannot (the
    simulator runs the core, not this actor). A normal build has none
    (NSXD_PLANTED_BUG is 0). The core's own are RAFT_PLANTED_BUG
    (raft/raft_int.h); the numbering is shared with storage.c's (Makefile,
    NODE_BUGS).
      3 stale_read  a node that believes it leads answers a linearizable
                    read from its local state at once: no ReadIndex round
                    (§6.4) and no check that a majority was heard lately
                    (s_refuse_unless_leader). A leader cut off by a
                    partition believes it leads until check-quorum steps it
                    down (§6.2: one to two election timeouts) while the
                    majority elects another leader that commits writes; its
                    reads meanwhile are stale.                           */
#ifndef NSXD_PLANTED_BUG
#define NSXD_PLANTED_BUG 0
#endif
#define NSXD_BUG_STALE_READ 3
#define NSXD_BUG(name) (NSXD_PLANTED_BUG == NSXD_BUG_##name)

/* A linearizable read (ReadIndex, §6.4): a GET, answered with the value
   once confirmed, or a read barrier (MSG_API_READ) for an HTTP worker that
   reads the KV data itself (actors.h, kv_shared_t), answered 200 {}. On a
   follower that knows its leader the core asks the leader for the read
   index and answers once this node has applied that far (§6.4; read.c),
   so a GET is linearizable on every node; without a leader: 409
   not_leader (or 503 no_quorum), as before. */
void
ra_read_index (ra_self_t *self, zframe_t **identity, const msg_api_req_t *req)
{
    if (NSXD_BUG (STALE_READ)) {
        raft_status_t st;
        raft_status (self->r, &st);
        if (st.role == RAFT_LEADER && req->op == MSG_API_READ) {
            ra_reply_empty (self, *identity, req->req_id);
            return;
        }
        if (st.role == RAFT_LEADER) {
            ra_req_t *q = ra_req_add (self, identity, req, RA_WAIT_VALUE);
            q->ctx = ++self->next_ctx;
            ra_store_get (self, q->ctx, q->key);
            return;
        }
    }
    raft_status_t st;
    raft_status (self->r, &st);
    if (st.role == RAFT_FOLLOWER && st.leader != 0) {
        uint64_t ctx = ++self->next_ctx;
        if (raft_read_index (self->r, ctx) == RAFT_OK) {
            ra_req_t *q = ra_req_add (self, identity, req, RA_WAIT_READ_FWD);
            q->ctx = ctx;
            return;
        }
    }
    if (ra_refuse_unless_leader (self, *identity, req->req_id))
        return;
    uint64_t ctx = ++self->next_ctx;
    if (raft_read_index (self->r, ctx) != RAFT_OK) {
        ra_reply_error (self, *identity, req->req_id, 409, "not_leader");
        return;
    }
    ra_req_t *q = ra_req_add (self, identity, req, RA_WAIT_READ);
    q->ctx = ctx;
}

void
ra_get (ra_self_t *self, zframe_t **identity, const msg_api_req_t *req)
{
    if (!req->key || req->key->len == 0) {
        ra_reply_error (self, *identity, req->req_id, 400, "bad_request");
        return;
    }
    if (req->stale) {
        /* Local read on any node: may miss recent writes, says so. */
        ra_req_t *q = ra_req_add (self, identity, req, RA_WAIT_VALUE);
        q->ctx = ++self->next_ctx;
        ra_store_get (self, q->ctx, q->key);
        return;
    }
    ra_read_index (self, identity, req);
}

static void
s_conf_reply (ra_self_t *self, zframe_t *identity, uint64_t req_id, int rc)
{
    switch (rc) {
    case RAFT_ERR_NOT_LEADER:
        ra_reply_error (self, identity, req_id, 409, "not_leader");
        break;
    case RAFT_ERR_CONF_PENDING:
    case RAFT_ERR_NOT_READY:
    case RAFT_ERR_TRANSFERRING:
        ra_reply_error (self, identity, req_id, 503, "conf_change_in_progress");
        break;
    case RAFT_ERR_UNKNOWN_SERVER:
        ra_reply_error (self, identity, req_id, 404, "unknown_server");
        break;
    case RAFT_ERR_TOO_MANY:
        ra_reply_error (self, identity, req_id, 409, "cluster_full");
        break;
    default: ra_reply_error (self, identity, req_id, 400, "bad_request"); break;
    }
}

/* A voter's place belongs to the data directory that cast its votes and
   acknowledged its entries (README, "Identity"): a join for a voter's id
   from another directory -- a wiped disk, a copy -- is refused, never
   taken as an address change, since the cluster would count the votes of
   a server that forgot them. A founding member's directory was never
   recorded, so a founder cannot move address by /raft/join either: the
   cluster cannot tell it from a wiped one. (A learner's place may be
   taken: a learner does not vote, and its acknowledgements count towards
   nothing.) True if refused (the reply is sent). */
static bool
s_refuse_other_incarnation (ra_self_t *self, zframe_t *identity,
                            const msg_api_req_t *req, const raft_server_t *s)
{
    const char *was = store_identity_tag (s->addr);
    const char *now = store_identity_tag (req->peer);
    if (was && now && strcmp (was, now) == 0)
        return false; /* the same directory at a new address */
    char detail[768];
    snprintf (detail, sizeof detail,
              "server %llu is a voter whose data directory is %s; the server "
              "asking has directory %s, so it is not the server that cast "
              "that member's votes and holds the entries it acknowledged, "
              "and cannot take its place. If server %llu lost its data: "
              "remove it (nsxctl remove), then join again with an empty "
              "directory (it joins as a learner and is promoted once caught "
              "up). If it kept its data, start it on that directory",
              (unsigned long long)s->id,
              was ? was : "not recorded (a founding member)",
              now ? now : "unknown (an older nsxd)", (unsigned long long)s->id);
    log_warn ("raft: join of server %llu (%s) refused: %s",
              (unsigned long long)req->id, req->peer, detail);
    ra_reply_error_detail (self, identity, req->req_id, 409, "reused_id",
                           detail);
    return true;
}

void
ra_join (ra_self_t *self, zframe_t **identity, const msg_api_req_t *req)
{
    if (req->id == 0 || !strchr (req->peer, ' ')) {
        ra_reply_error (self, *identity, req->req_id, 400, "bad_request");
        return;
    }
    if (ra_refuse_unless_leader (self, *identity, req->req_id))
        return;
    const raft_server_t *s = raft_conf_get (raft_conf (self->r), req->id);
    raft_index_t index = 0;
    int rc;
    if (s && s->voter && strcmp (s->addr, req->peer) != 0 &&
        s_refuse_other_incarnation (self, *identity, req, s))
        return;
    if (s && s->voter && strcmp (s->addr, req->peer) == 0) {
        /* Already a voter with this address: nothing to do. */
        ra_req_t *q = ra_req_add (self, identity, req, RA_WAIT_CONF);
        raft_status_t st;
        raft_status (self->r, &st);
        q->index = st.conf_index;
        return;
    }
    /* A new server joins as a learner; a known one that moved keeps its
       role with the new address (raft_add_learner does both). */
    rc = raft_add_learner (self->r, req->id, req->peer, &index);
    if (rc != RAFT_OK) {
        s_conf_reply (self, *identity, req->req_id, rc);
        return;
    }
    log_info ("raft: adding server %llu (%s) as a learner at index %llu",
              (unsigned long long)req->id, req->peer,
              (unsigned long long)index);
    ra_req_t *q = ra_req_add (self, identity, req,
                              s && s->voter ? RA_WAIT_CONF : RA_WAIT_CATCH_UP);
    q->index = index;
}

void
ra_remove (ra_self_t *self, zframe_t **identity, const msg_api_req_t *req)
{
    if (ra_refuse_unless_leader (self, *identity, req->req_id))
        return;
    raft_id_t id = req->id;
    if (id == 0 && req->peer[0]) {
        const raft_conf_t *conf = raft_conf (self->r);
        for (uint32_t i = 0; i < conf->n; i++) {
            char peer[RAFT_ADDR_MAX], http[RAFT_ADDR_MAX];
            ra_split_addr (conf->servers[i].addr, peer, sizeof peer, http,
                           sizeof http);
            if (strcmp (http, req->peer) == 0 || strcmp (peer, req->peer) == 0)
                id = conf->servers[i].id;
        }
    }
    raft_index_t index;
    int rc = raft_remove (self->r, id, &index);
    if (rc != RAFT_OK) {
        s_conf_reply (self, *identity, req->req_id, rc);
        return;
    }
    log_info ("raft: removing server %llu at index %llu",
              (unsigned long long)id, (unsigned long long)index);
    ra_req_t *q = ra_req_add (self, identity, req, RA_WAIT_CONF);
    q->index = index;
    q->id = id;
}

void
ra_conf_done (ra_self_t *self, ra_req_t *q)
{
    msg_api_rep_t r = {.req_id = q->req_id,
                       .status = 200,
                       .kind = MSG_API_REP_CONF,
                       .id = q->id,
                       .index = q->index};
    ra_send_reply (self, q->identity, &r);
}
