/*  raft_actor.c -- the raft actor: owns the timers and the consensus core,
    and routes the core's outputs to the other actors.

    Protocol (wire formats in msg/):
      pipe        <- "$TERM"                 stop
                  <- "SHUTDOWN"              a leader hands over (§3.10),
                  -> "DONE"                  then answers (within 3 election
                                             timeouts at most)
      storage     <- msg_store "boot"        first: the durable state
      (PAIR)      -> "write" / "apply" (up to an index) / "get"
                  -> "after": votes and acknowledgements the core hands
                     out to send once durable (args.async_sends); storage
                     sends them to the transport itself after its fsync
                  <- "persisted" / "applied" / "value" / "error"
                  <- "usage" (unasked): disk usage, for the space quota
      transport   -> "peers" (on configuration changes) / "send"
      (PAIR)      <- "recv" (decoded with msg_raft_decode; dropped unless
                     its from is the member the link authenticated, when
                     args.peer_auth) / "link"
      api         <- msg_api "req" from each HTTP worker's DEALER
      (ROUTER)    -> msg_api "rep": status and a typed reply (msg_api.h)

    Every handler ends by draining the core's Ready batches (s_drive): the
    writes go to storage (one per batch; storage commits the batches that
    wait together in one fsync), messages to transport, committed entries to
    storage to apply, confirmed reads to storage to read.

    Client requests wait in a table until their outcome is known or their
    deadline passes (503 timeout; a write that timed out may still commit).

    Space quota (actors/quota.h): the leader refuses a PUT with 507
    no_space before proposing it while its own database is over the quota
    (or the PUT would clearly take it there); DELETE, reads and membership
    changes go on. Each node holds its own alarm against its own disk: all
    replicas hold the same KV data and compact their logs alike, so the
    leader's size stands for theirs; a follower whose disk runs out anyway
    stops (fail-stop) and says so in its log, and its /health shows the
    alarm first (README, "Space quota").
*/
#include "actors.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "msg_api.h"
#include "msg_raft.h"
#include "msg_store.h"
#include "msg_transport.h"
#include "quota.h"

#include <msgpack.h>
#include <string.h>

typedef enum {
    S_WAIT_APPLY = 1, /* proposal: until applied (or lost) */
    S_WAIT_READ,      /* ReadIndex: until confirmed */
    S_WAIT_VALUE,     /* storage get */
    S_WAIT_CONF,      /* configuration entry: until committed */
    S_WAIT_CATCH_UP,  /* join: learner added, waiting to promote */
} s_wait_t;

typedef struct {
    zframe_t *identity; /* the HTTP worker's DEALER */
    uint64_t req_id;
    msg_api_op_t op;
    s_wait_t wait;
    int64_t deadline;
    raft_index_t index;
    raft_term_t term;
    bool committed; /* proposal: its entry was handed out to apply */
    bool acked;     /* proposal: answered 200 (for /metrics) */
    uint64_t ctx;   /* read or storage get */
    raft_buf_t *key;
    bool stale;
    raft_id_t id; /* join / remove */
} s_req_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *storage;
    zsock_t *transport;
    zsock_t *api;
    zloop_t *loop;
    raft_actor_args_t args;
    raft_t *r;
    uint64_t rng;
    s_req_t *reqs;
    size_t n_reqs, cap_reqs;
    uint64_t next_ctx;
    int64_t started;
    int64_t mem_compacted; /* zclock_mono () of the last compaction by memory */
    raft_conf_t peers_sent; /* configuration last sent as "peers" */
    raft_role_t last_role;
    raft_id_t last_leader;
    int64_t last_recv[RAFT_MAX_SERVERS + 1];
    raft_id_t recv_id[RAFT_MAX_SERVERS + 1];
    bool shutting_down;
    int64_t shutdown_deadline;
    uint64_t dropped_in;
    uint64_t forged; /* messages whose from is not their link's member */
    bool failed;
    zsock_t *mon; /* PUSH to the monitor actor, or NULL */
    quota_t quota;
    int64_t alarm_compacted; /* zclock_mono () of the last compaction
                                forced by the alarm */
    /* the last snapshot installed from a leader (for /health): pending
       until its write is persisted */
    struct {
        bool pending, valid;
        uint64_t seq;
        raft_index_t index;
        raft_term_t term;
        raft_id_t from;
        uint64_t at_ms;
    } snap;
} self_t;

/*  ---------------------------------------------------------------------
    Small helpers                                                        */

static uint64_t
s_rand (void *ctx)
{
    /* xorshift64*: the core's randomness, seeded per process in s_new */
    uint64_t *x = ctx;
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 2685821657736338717ULL;
}

/* The server's addr is "<peer endpoint> <http host:port>". */
static void
s_split_addr (const char *addr, char *peer, size_t peer_len, char *http,
              size_t http_len)
{
    /* "<peer> <http>[ <directory id>]" (store_identity.h) */
    const char *sp = strchr (addr, ' ');
    size_t n = sp ? (size_t)(sp - addr) : strlen (addr);
    snprintf (peer, peer_len, "%.*s", (int)n, addr);
    const char *h = sp ? sp + 1 : "";
    const char *end = strchr (h, ' ');
    snprintf (http, http_len, "%.*s",
              (int)(end ? (size_t)(end - h) : strlen (h)), h);
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

/* The leader's HTTP address, or NULL while unknown. */
static const char *
s_leader_http (self_t *self, char *http, size_t len)
{
    raft_status_t st;
    raft_status (self->r, &st);
    const raft_server_t *s =
        st.leader ? raft_conf_get (raft_conf (self->r), st.leader) : NULL;
    if (!s)
        return NULL;
    char peer[RAFT_ADDR_MAX];
    s_split_addr (s->addr, peer, sizeof peer, http, len);
    return http;
}

/*  ---------------------------------------------------------------------
    Replies                                                              */

static void
s_send_reply (self_t *self, zframe_t *identity, const msg_api_rep_t *r)
{
    zmsg_t *rep = msg_api_rep_encode (r);
    if (!rep)
        return;
    zframe_t *id = zframe_dup (identity);
    zmsg_prepend (rep, &id);
    zmsg_send (&rep, self->api);
}

/* Error reply: {"error": code}; not_leader also names the leader. */
static void
s_reply_error (self_t *self, zframe_t *identity, uint64_t req_id,
               unsigned status, const char *code)
{
    msg_api_rep_t r = {.req_id = req_id,
                       .status = status,
                       .kind = MSG_API_REP_ERROR,
                       .code = code};
    char http[RAFT_ADDR_MAX];
    if (strcmp (code, "not_leader") == 0) {
        r.has_leader = true;
        r.leader = s_leader_http (self, http, sizeof http);
    }
    s_send_reply (self, identity, &r);
}

static void
s_reply_error_detail (self_t *self, zframe_t *identity, uint64_t req_id,
                      unsigned status, const char *code, const char *detail)
{
    msg_api_rep_t r = {.req_id = req_id,
                       .status = status,
                       .kind = MSG_API_REP_ERROR,
                       .code = code,
                       .detail = detail};
    s_send_reply (self, identity, &r);
}

/* 200 {}: a read barrier passed. */
static void
s_reply_empty (self_t *self, zframe_t *identity, uint64_t req_id)
{
    msg_api_rep_t r = {
        .req_id = req_id, .status = 200, .kind = MSG_API_REP_EMPTY};
    s_send_reply (self, identity, &r);
}

/* A PUT or DELETE applied: flag is whether a PUT created the key, or a
   DELETE found it. */
static void
s_reply_written (self_t *self, zframe_t *identity, uint64_t req_id,
                 raft_buf_t *key, raft_index_t index, bool is_delete, bool flag)
{
    msg_api_rep_t r = {.req_id = req_id,
                       .status = 200,
                       .kind = MSG_API_REP_WRITTEN,
                       .key = key,
                       .index = index,
                       .is_delete = is_delete,
                       .flag = flag};
    s_send_reply (self, identity, &r);
}

/* A GET's answer: 200 with the value, 404 without (value NULL). */
static void
s_reply_value (self_t *self, zframe_t *identity, uint64_t req_id,
               raft_buf_t *key, raft_buf_t *value, bool stale)
{
    msg_api_rep_t r = {.req_id = req_id,
                       .status = value ? 200 : 404,
                       .kind = MSG_API_REP_VALUE,
                       .key = key,
                       .value = value,
                       .stale = stale};
    s_send_reply (self, identity, &r);
}

static void
s_req_free (s_req_t *q)
{
    if (q->wait == S_WAIT_APPLY) {
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
static void
s_req_drop (self_t *self, size_t i)
{
    s_req_free (&self->reqs[i]);
    self->reqs[i] = self->reqs[--self->n_reqs];
}

static s_req_t *
s_req_add (self_t *self, zframe_t **identity, const msg_api_req_t *req,
           s_wait_t wait)
{
    if (self->n_reqs == self->cap_reqs) {
        self->cap_reqs = self->cap_reqs ? 2 * self->cap_reqs : 64;
        self->reqs = realloc (self->reqs, self->cap_reqs * sizeof *self->reqs);
        if (!self->reqs)
            abort ();
    }
    s_req_t *q = &self->reqs[self->n_reqs++];
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

/*  ---------------------------------------------------------------------
    Talking to storage and transport                                     */

static void
s_store_send (self_t *self, const msg_store_t *m)
{
    zmsg_t *zm = msg_store_encode (m);
    if (!zm) {
        log_error ("raft: cannot encode a storage message");
        return;
    }
    zmsg_send (&zm, self->storage);
}

static void
s_store_get (self_t *self, uint64_t ctx, raft_buf_t *key)
{
    msg_store_t m = {.kind = MSG_STORE_GET, .req_id = ctx, .key = key};
    s_store_send (self, &m);
}

static void
s_send_peers (self_t *self)
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
        s_split_addr (conf->servers[i].addr, peers[n].endpoint,
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
s_send_encoded (self_t *self, const raft_msg_t *m)
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
s_send_after (self_t *self, const raft_after_t *after, size_t n)
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
        v[m.n_after++] = (msg_after_t){.index = after[i].index,
                                       .term = after[i].term,
                                       .to = after[i].msg.to,
                                       .frame = f};
    }
    if (m.n_after)
        s_store_send (self, &m);
    else if (n)
        log_error ("raft: cannot encode %zu messages to send once durable", n);
    for (size_t i = 0; i < m.n_after; i++)
        zframe_destroy (&v[i].frame);
    free (v);
}

/* The core's messages to peers. An InstallSnapshot chunk leaves without
   its data: storage reads it from its copy of the KV data first, and
   s_on_snap_chunk sends it. */
static void
s_send_msg (self_t *self, const raft_msg_t *m)
{
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
    s_store_send (self, &r);
}

static void
s_on_snap_chunk (self_t *self, const msg_store_t *c)
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

/*  ---------------------------------------------------------------------
    Quorum knowledge, for 503 no_quorum                                  */

/* REQUIRES: id is a member of the configuration (at most
   RAFT_MAX_SERVERS of them, so a slot is free or already id's). */
static void
s_heard_from (self_t *self, raft_id_t id)
{
    size_t slot = RAFT_MAX_SERVERS;
    for (size_t i = 0; i < RAFT_MAX_SERVERS; i++) {
        if (self->recv_id[i] == id) {
            slot = i;
            break;
        }
        if (self->recv_id[i] == 0 && slot == RAFT_MAX_SERVERS)
            slot = i;
    }
    if (slot == RAFT_MAX_SERVERS)
        slot = id % RAFT_MAX_SERVERS;
    self->recv_id[slot] = id;
    self->last_recv[slot] = zclock_mono ();
}

/* Did we hear from a majority of voters (ourselves included) lately? */
static bool
s_quorum_reachable (self_t *self, int64_t window)
{
    const raft_conf_t *conf = raft_conf (self->r);
    uint32_t voters = 0, heard = 0;
    int64_t now = zclock_mono ();
    for (uint32_t i = 0; i < conf->n; i++) {
        if (!conf->servers[i].voter)
            continue;
        voters++;
        raft_id_t id = conf->servers[i].id;
        if (id == self->args.id) {
            heard++;
            continue;
        }
        for (size_t k = 0; k < RAFT_MAX_SERVERS; k++)
            if (self->recv_id[k] == id && now - self->last_recv[k] <= window)
                heard++;
    }
    return voters > 0 && heard >= voters / 2 + 1;
}

/* Answer a request the leader must serve and we cannot: 409 naming the
   leader (the request was not proposed, so it may be retried anywhere), or
   503 no_quorum when we know a majority is out of reach. Returns true if
   it answered. */
static bool
s_refuse_unless_leader (self_t *self, zframe_t *identity, uint64_t req_id)
{
    raft_status_t st;
    raft_status (self->r, &st);
    int64_t window = 2 * (int64_t)self->args.election_ms;
    if (st.role == RAFT_LEADER) {
        if (!s_quorum_reachable (self, self->args.election_ms)) {
            s_reply_error (self, identity, req_id, 503, "no_quorum");
            return true;
        }
        return false;
    }
    if (st.leader == 0 && !s_quorum_reachable (self, window)) {
        s_reply_error (self, identity, req_id, 503, "no_quorum");
        return true;
    }
    s_reply_error (self, identity, req_id, 409, "not_leader");
    return true;
}

/*  ---------------------------------------------------------------------
    Requests                                                             */

static void
s_reply_health (self_t *self, zframe_t *identity, uint64_t req_id)
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
        s_split_addr (s->addr, peers[i], RAFT_ADDR_MAX, https[i],
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
        .leader = s_leader_http (self, http, sizeof http),
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
    s_send_reply (self, identity, &r);
}

/* What a PUT costs on disk besides its key and value, about: the entry's
   header and the LevelDB keys, twice (log and KV data). */
#define S_ENTRY_OVERHEAD 64

static void
s_propose_kv (self_t *self, zframe_t **identity, const msg_api_req_t *req)
{
    if (!req->key || req->key->len == 0) {
        s_reply_error (self, *identity, req->req_id, 400, "bad_request");
        return;
    }
    if (s_refuse_unless_leader (self, *identity, req->req_id))
        return;
    msg_kv_t cmd = {.op = req->op == MSG_API_PUT ? MSG_KV_PUT : MSG_KV_DEL,
                    .key = req->key,
                    .value = req->value};
    if (cmd.op == MSG_KV_PUT && !cmd.value) {
        s_reply_error (self, *identity, req->req_id, 400, "bad_request");
        return;
    }
    /* A PUT grows the log by its entry and the KV data by its pair; a
       DELETE is let through, since it is how space comes back. */
    if (cmd.op == MSG_KV_PUT &&
        !quota_admit (&self->quota,
                      2 * ((uint64_t)cmd.key->len + cmd.value->len) +
                          S_ENTRY_OVERHEAD)) {
        metrics_add (METRICS_WRITES_REFUSED_NOSPACE, 1);
        /* Refused because it would not fit: the alarm is on from here (as
           etcd raises NOSPACE), so that every 507 shows in /health and
           the next writes are not let through one by one as they fit. */
        if (quota_raise (&self->quota)) {
            metrics_set (METRICS_ALARM_NOSPACE, 1);
            log_warn (
                "raft: NOSPACE alarm: a PUT of %zu bytes would take "
                "the database (%llu bytes) past the quota (%llu); "
                "writes are refused (507) until compaction brings it "
                "under %llu",
                cmd.key->len + cmd.value->len,
                (unsigned long long)self->quota.used,
                (unsigned long long)self->quota.bytes,
                (unsigned long long)quota_clear_bytes (self->quota.bytes));
        }
        s_reply_error (self, *identity, req->req_id, 507, "no_space");
        return;
    }
    raft_buf_t *data = msg_kv_encode (&cmd);
    raft_index_t index;
    raft_term_t term;
    int rc =
        data ? raft_propose (self->r, data, &index, &term) : RAFT_ERR_INVALID;
    raft_buf_unref (data);
    if (rc == RAFT_ERR_TRANSFERRING) {
        s_reply_error (self, *identity, req->req_id, 503, "transferring");
        return;
    }
    if (rc != RAFT_OK) {
        s_reply_error (self, *identity, req->req_id, 409, "not_leader");
        return;
    }
    s_req_t *q = s_req_add (self, identity, req, S_WAIT_APPLY);
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
   reads the KV data itself (actors.h, kv_shared_t), answered 200 {}. */
static void
s_read_index (self_t *self, zframe_t **identity, const msg_api_req_t *req)
{
    if (NSXD_BUG (STALE_READ)) {
        raft_status_t st;
        raft_status (self->r, &st);
        if (st.role == RAFT_LEADER && req->op == MSG_API_READ) {
            s_reply_empty (self, *identity, req->req_id);
            return;
        }
        if (st.role == RAFT_LEADER) {
            s_req_t *q = s_req_add (self, identity, req, S_WAIT_VALUE);
            q->ctx = ++self->next_ctx;
            s_store_get (self, q->ctx, q->key);
            return;
        }
    }
    if (s_refuse_unless_leader (self, *identity, req->req_id))
        return;
    uint64_t ctx = ++self->next_ctx;
    if (raft_read_index (self->r, ctx) != RAFT_OK) {
        s_reply_error (self, *identity, req->req_id, 409, "not_leader");
        return;
    }
    s_req_t *q = s_req_add (self, identity, req, S_WAIT_READ);
    q->ctx = ctx;
}

static void
s_get (self_t *self, zframe_t **identity, const msg_api_req_t *req)
{
    if (!req->key || req->key->len == 0) {
        s_reply_error (self, *identity, req->req_id, 400, "bad_request");
        return;
    }
    if (req->stale) {
        /* Local read on any node: may miss recent writes, says so. */
        s_req_t *q = s_req_add (self, identity, req, S_WAIT_VALUE);
        q->ctx = ++self->next_ctx;
        s_store_get (self, q->ctx, q->key);
        return;
    }
    s_read_index (self, identity, req);
}

static void
s_conf_reply (self_t *self, zframe_t *identity, uint64_t req_id, int rc)
{
    switch (rc) {
    case RAFT_ERR_NOT_LEADER:
        s_reply_error (self, identity, req_id, 409, "not_leader");
        break;
    case RAFT_ERR_CONF_PENDING:
    case RAFT_ERR_NOT_READY:
    case RAFT_ERR_TRANSFERRING:
        s_reply_error (self, identity, req_id, 503, "conf_change_in_progress");
        break;
    case RAFT_ERR_UNKNOWN_SERVER:
        s_reply_error (self, identity, req_id, 404, "unknown_server");
        break;
    case RAFT_ERR_TOO_MANY:
        s_reply_error (self, identity, req_id, 409, "cluster_full");
        break;
    default: s_reply_error (self, identity, req_id, 400, "bad_request"); break;
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
s_refuse_other_incarnation (self_t *self, zframe_t *identity,
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
    s_reply_error_detail (self, identity, req->req_id, 409, "reused_id",
                          detail);
    return true;
}

static void
s_join (self_t *self, zframe_t **identity, const msg_api_req_t *req)
{
    if (req->id == 0 || !strchr (req->peer, ' ')) {
        s_reply_error (self, *identity, req->req_id, 400, "bad_request");
        return;
    }
    if (s_refuse_unless_leader (self, *identity, req->req_id))
        return;
    const raft_server_t *s = raft_conf_get (raft_conf (self->r), req->id);
    raft_index_t index = 0;
    int rc;
    if (s && s->voter && strcmp (s->addr, req->peer) != 0 &&
        s_refuse_other_incarnation (self, *identity, req, s))
        return;
    if (s && s->voter && strcmp (s->addr, req->peer) == 0) {
        /* Already a voter with this address: nothing to do. */
        s_req_t *q = s_req_add (self, identity, req, S_WAIT_CONF);
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
    s_req_t *q = s_req_add (self, identity, req,
                            s && s->voter ? S_WAIT_CONF : S_WAIT_CATCH_UP);
    q->index = index;
}

static void
s_remove (self_t *self, zframe_t **identity, const msg_api_req_t *req)
{
    if (s_refuse_unless_leader (self, *identity, req->req_id))
        return;
    raft_id_t id = req->id;
    if (id == 0 && req->peer[0]) {
        const raft_conf_t *conf = raft_conf (self->r);
        for (uint32_t i = 0; i < conf->n; i++) {
            char peer[RAFT_ADDR_MAX], http[RAFT_ADDR_MAX];
            s_split_addr (conf->servers[i].addr, peer, sizeof peer, http,
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
    s_req_t *q = s_req_add (self, identity, req, S_WAIT_CONF);
    q->index = index;
    q->id = id;
}

static void
s_conf_done (self_t *self, s_req_t *q)
{
    msg_api_rep_t r = {.req_id = q->req_id,
                       .status = 200,
                       .kind = MSG_API_REP_CONF,
                       .id = q->id,
                       .index = q->index};
    s_send_reply (self, q->identity, &r);
}

/*  ---------------------------------------------------------------------
    Driving the core                                                     */

/* After the batch: settle what the new state decides. */
static void
s_settle (self_t *self)
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
    for (size_t i = 0; i < self->n_reqs; i++) {
        s_req_t *q = &self->reqs[i];
        if (q->wait == S_WAIT_CONF && st.commit >= q->index) {
            s_conf_done (self, q);
            s_req_drop (self, i--);
            continue;
        }
        if (q->wait == S_WAIT_CATCH_UP && st.role == RAFT_LEADER &&
            st.commit >= q->index && raft_caught_up (self->r, q->id)) {
            raft_index_t index;
            int rc = raft_promote (self->r, q->id, &index);
            if (rc == RAFT_OK) {
                log_info ("raft: promoting server %llu at index %llu",
                          (unsigned long long)q->id, (unsigned long long)index);
                q->wait = S_WAIT_CONF;
                q->index = index;
            }
            continue;
        }
        /* A leader that lost leadership cannot finish what it proposed:
           the outcome is unknown (it may still commit under the next
           leader), so 503, never 409. */
        if (st.role != RAFT_LEADER && !q->committed &&
            (q->wait == S_WAIT_APPLY || q->wait == S_WAIT_CONF ||
             q->wait == S_WAIT_CATCH_UP || q->wait == S_WAIT_READ)) {
            s_reply_error (self, q->identity, q->req_id, 503,
                           "leadership_lost");
            s_req_drop (self, i--);
        }
    }
}

static void s_publish_metrics (self_t *self);

/* Log compaction (chapter 5):
   - by count (off if compact_entries is 0): once compact_entries applied
     entries are in the log beyond the compact_trailing most recent ones,
     drop them;
   - by memory (off if compact_bytes is 0): the log is held in memory, so
     once its entries hold compact_bytes of data, drop applied entries
     until at most a quarter of that, and at most compact_trailing
     entries, of applied data stays (the quarter leaves room to grow
     before the next compaction, so large values do not compact at every
     write; and at most every S_MEM_COMPACT_MS, for when unapplied entries
     alone hold that much and each turn could free only a few).
   - under the space alarm: every applied entry but the compact_trailing
     most recent ones, at most every S_ALARM_COMPACT_MS, so that the log
     gives its share of the space back without waiting for the count.
   The state machine in LevelDB is the snapshot, so nothing is copied:
   storage records the new base and deletes the entries in one synced
   batch. */
#define S_MEM_COMPACT_MS 100
#define S_ALARM_COMPACT_MS 1000

static void
s_maybe_compact (self_t *self)
{
    raft_status_t st;
    raft_status (self->r, &st);
    raft_index_t keep = self->args.compact_trailing;
    raft_index_t to = 0;
    if (self->args.compact_entries && st.applied > keep &&
        st.applied - keep - st.base_index >= self->args.compact_entries)
        to = st.applied - keep;
    int64_t now = zclock_mono ();
    if (self->quota.alarm && st.applied > keep &&
        st.applied - keep > st.base_index &&
        now - self->alarm_compacted >= S_ALARM_COMPACT_MS) {
        to = st.applied - keep;
        self->alarm_compacted = now;
    }
    if (self->args.compact_bytes && st.log_bytes >= self->args.compact_bytes &&
        st.applied > st.base_index &&
        now - self->mem_compacted >= S_MEM_COMPACT_MS) {
        /* walk back from applied while the kept data stays small */
        raft_index_t from = st.applied;
        size_t kept = 0;
        while (from > st.base_index && st.applied - from < keep) {
            size_t b = raft_log_bytes (self->r, from - 1, from);
            if (kept + b > self->args.compact_bytes / 4)
                break;
            kept += b;
            from--;
        }
        if (from > to) {
            to = from;
            self->mem_compacted = now;
        }
    }
    if (to <= st.base_index || raft_compact (self->r, to) != RAFT_OK)
        return;
    raft_status (self->r, &st);
    msg_store_t c = {.kind = MSG_STORE_COMPACT};
    c.base = (raft_entry_t){
        .index = st.base_index,
        .term = st.base_term,
        .type = RAFT_ENTRY_CONF,
        .data = raft_buf_new (raft_base_conf (self->r), sizeof (raft_conf_t))};
    s_store_send (self, &c);
    raft_buf_unref (c.base.data);
    metrics_add (METRICS_COMPACTIONS, 1);
}

static void
s_drive (self_t *self)
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
            s_store_send (self, &w);
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
                    s_req_t *q = &self->reqs[i];
                    if (q->wait != S_WAIT_APPLY || q->index != e->index)
                        continue;
                    if (q->term == e->term) {
                        q->committed = true;
                    } else {
                        s_reply_error (self, q->identity, q->req_id, 503,
                                       "leadership_lost");
                        s_req_drop (self, i--);
                    }
                }
            }
            /* storage holds the entries it wrote: only the index goes */
            const raft_entry_t *last = &rd.committed[rd.n_committed - 1];
            msg_store_t a = {.kind = MSG_STORE_APPLY,
                             .applied = last->index,
                             .applied_term = last->term};
            s_store_send (self, &a);
        }
        for (size_t k = 0; k < rd.n_reads; k++) {
            for (size_t i = 0; i < self->n_reqs; i++) {
                s_req_t *q = &self->reqs[i];
                if (q->wait != S_WAIT_READ || q->ctx != rd.reads[k].ctx)
                    continue;
                if (rd.reads[k].ok && q->op == MSG_API_READ) {
                    s_reply_empty (self, q->identity, q->req_id);
                    s_req_drop (self, i);
                } else if (rd.reads[k].ok) {
                    q->wait = S_WAIT_VALUE;
                    s_store_get (self, q->ctx, q->key);
                } else {
                    s_reply_error (self, q->identity, q->req_id, 503,
                                   "leadership_lost");
                    s_req_drop (self, i);
                }
                break;
            }
        }
    }
    s_send_peers (self);
    s_settle (self);
    s_maybe_compact (self);
    s_publish_metrics (self);
}

/*  ---------------------------------------------------------------------
    Handlers                                                             */

/* The core's trace events: counted for /metrics, and sent to the
   monitoring socket (never blocks). */
static void
s_trace (void *ctx, const raft_event_t *ev)
{
    self_t *self = ctx;
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

/* The gauges of /metrics, after every batch. */
static void
s_publish_metrics (self_t *self)
{
    raft_status_t st;
    raft_status (self->r, &st);
    metrics_raft_t m = {.id = self->args.id,
                        .valid = true,
                        .role = st.role,
                        .term = st.term,
                        .leader = st.leader,
                        .commit = st.commit,
                        .applied = st.applied,
                        .last_index = st.last_index,
                        .base_index = st.base_index,
                        .log_bytes = st.log_bytes};
    const raft_conf_t *conf = raft_conf (self->r);
    for (uint32_t i = 0; i < conf->n; i++) {
        if (conf->servers[i].voter)
            m.voters++;
        else
            m.learners++;
    }
    raft_progress_info_t prs[RAFT_MAX_SERVERS];
    size_t n = raft_progress (self->r, prs, RAFT_MAX_SERVERS);
    for (size_t i = 0; i < n; i++) {
        if (prs[i].id == self->args.id)
            continue;
        m.peers[m.n_peers].id = prs[i].id;
        m.peers[m.n_peers].match = prs[i].match;
        m.n_peers++;
    }
    metrics_raft_set (&m);
    metrics_set (METRICS_PEER_MSGS_DROPPED, st.dropped_msgs + self->dropped_in);
}

static void
s_on_boot (self_t *self, msg_store_t *m)
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
        log_error ("raft: the stored state is not a valid Raft state "
                   "(term %llu, %zu entries, applied %llu); refusing to start",
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
s_on_applied (self_t *self, msg_store_t *m)
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
    for (size_t k = 0; k < m->n_results; k++) {
        for (size_t i = 0; i < self->n_reqs; i++) {
            s_req_t *q = &self->reqs[i];
            if (q->wait != S_WAIT_APPLY || q->index != m->results[k].index ||
                !q->committed)
                continue;
            bool is_delete = q->op == MSG_API_DELETE;
            /* DELETE says whether the key existed; PUT whether it is new */
            s_reply_written (
                self, q->identity, q->req_id, q->key, q->index, is_delete,
                is_delete ? m->results[k].existed : !m->results[k].existed);
            q->acked = true;
            s_req_drop (self, i);
            break;
        }
    }
}

static void
s_on_value (self_t *self, msg_store_t *m)
{
    for (size_t i = 0; i < self->n_reqs; i++) {
        s_req_t *q = &self->reqs[i];
        if (q->wait != S_WAIT_VALUE || q->ctx != m->req_id)
            continue;
        s_reply_value (self, q->identity, q->req_id, q->key,
                       m->found ? m->value : NULL, q->stale);
        s_req_drop (self, i);
        return;
    }
}

/* A disk usage reading from storage: the quota's alarm follows it. */
static void
s_on_usage (self_t *self, const msg_store_t *m)
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

static void
s_on_storage (self_t *self, zmsg_t *zm)
{
    msg_store_t m;
    if (msg_store_decode (zm, &m) != 0) {
        log_warn ("raft: malformed message from storage dropped");
        return;
    }
    if (m.kind == MSG_STORE_BOOT && !self->r) {
        s_on_boot (self, &m);
    } else if (m.kind == MSG_STORE_ERROR) {
        log_error ("raft: storage failed: %s; stopping", m.error);
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
        case MSG_STORE_SNAP_CHUNK: s_on_snap_chunk (self, &m); break;
        default: break;
        }
    }
    msg_store_clear (&m);
}

static void
s_on_transport (self_t *self, zmsg_t *zm)
{
    msg_transport_t t;
    if (msg_transport_decode (zm, &t) != 0)
        return;
    if (t.kind == MSG_TRANSPORT_RECV && self->r) {
        raft_msg_t m;
        int rc = msg_raft_decode (t.payload, t.payload_len, &m);
        /* A chunk's data goes to storage as it is: a malformed one is
           refused here, never a storage failure. */
        if (rc == 0 && m.type == RAFT_MSG_SNAPSHOT &&
            (!m.data || !msg_snap_valid (m.data->data, m.data->len))) {
            raft_msg_clear (&m);
            rc = -1;
        }
        if (rc == 0 && self->args.peer_auth && m.from != t.from) {
            /* Not from the member its link authenticated: a member that
               claims to be another, or a bug. Never seen by the core. */
            metrics_add (METRICS_PEER_MSGS_FORGED, 1);
            self->forged++;
            if ((self->forged & (self->forged - 1)) == 0)
                log_warn ("raft: %llu peer messages dropped: from n%llu on "
                          "the link of n%llu",
                          (unsigned long long)self->forged,
                          (unsigned long long)m.from,
                          (unsigned long long)t.from);
            raft_msg_clear (&m);
        } else if (rc == 0) {
            /* Only a member's message that the core took counts as
               hearing from it: junk from strangers must not make a
               healthy leader answer 503 no_quorum, nor hide a lost
               majority. */
            raft_status_t st;
            raft_status (self->r, &st);
            uint64_t dropped = st.dropped_msgs;
            raft_step (self->r, &m);
            raft_status (self->r, &st);
            if (st.dropped_msgs == dropped &&
                raft_conf_get (raft_conf (self->r), m.from))
                s_heard_from (self, m.from);
            raft_msg_clear (&m);
        } else {
            self->dropped_in++;
            if ((self->dropped_in & (self->dropped_in - 1)) == 0)
                log_warn ("raft: %llu malformed peer messages dropped",
                          (unsigned long long)self->dropped_in);
        }
    } else if (t.kind == MSG_TRANSPORT_LINK) {
        log_info ("transport: link to %llu %s", (unsigned long long)t.to,
                  t.up ? "up" : "down");
    }
    msg_transport_clear (&t);
}

static void
s_on_api (self_t *self, zmsg_t *zm)
{
    zframe_t *identity = zmsg_pop (zm);
    msg_api_req_t req;
    if (!identity || msg_api_req_decode (zm, &req) != 0) {
        log_warn ("raft: malformed API request dropped");
        zframe_destroy (&identity);
        return;
    }
    if (!self->r) {
        s_reply_error (self, identity, req.req_id, 503, "starting");
    } else {
        switch (req.op) {
        case MSG_API_HEALTH: s_reply_health (self, identity, req.req_id); break;
        case MSG_API_PUT:
        case MSG_API_DELETE: s_propose_kv (self, &identity, &req); break;
        case MSG_API_GET: s_get (self, &identity, &req); break;
        case MSG_API_JOIN: s_join (self, &identity, &req); break;
        case MSG_API_REMOVE: s_remove (self, &identity, &req); break;
        case MSG_API_READ: s_read_index (self, &identity, &req); break;
        }
    }
    zframe_destroy (&identity);
    msg_api_req_clear (&req);
}

/* Each reader takes every message already queued on its socket (up to
   S_DRAIN_MAX; the sockets have RCVTIMEO 0, so zmsg_recv returns NULL
   once drained) and then drives the core once. Proposals that arrived
   together become one Ready batch: one log write, one AppendEntries per
   follower (batching, §10.2.1), instead of one of each per request. The
   bound keeps the timers and the other sockets served under a flood. */
#define S_DRAIN_MAX 256

static int
s_drain (self_t *self, zsock_t *sock, void (*on) (self_t *, zmsg_t *))
{
    for (int n = 0; n < S_DRAIN_MAX && !self->failed; n++) {
        zmsg_t *zm = zmsg_recv (sock);
        if (!zm)
            break;
        on (self, zm);
        zmsg_destroy (&zm);
    }
    s_drive (self);
    /* A node whose storage failed must not go on acknowledging anything. */
    return self->failed ? -1 : 0;
}

static int
s_handle_storage (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    return s_drain (arg, sock, s_on_storage);
}

static int
s_handle_transport (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    return s_drain (arg, sock, s_on_transport);
}

static int
s_handle_api (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    return s_drain (arg, sock, s_on_api);
}

static int
s_handle_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop, (void)timer_id;
    self_t *self = arg;
    if (!self->r)
        return 0;
    raft_tick (self->r);
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < self->n_reqs; i++) {
        if (now < self->reqs[i].deadline)
            continue;
        /* The deadline passed. A write may still commit later. */
        s_reply_error (self, self->reqs[i].identity, self->reqs[i].req_id, 503,
                       "timeout");
        s_req_drop (self, i--);
    }
    s_drive (self);
    if (self->shutting_down) {
        raft_status_t st;
        raft_status (self->r, &st);
        if (st.role != RAFT_LEADER || now >= self->shutdown_deadline) {
            zstr_send (self->pipe, "DONE");
            self->shutting_down = false;
        }
    }
    return 0;
}

static int
s_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    self_t *self = arg;
    char *command = zstr_recv (pipe);
    if (!command)
        return -1;
    int rc = 0;
    if (streq (command, "$TERM")) {
        rc = -1;
    } else if (streq (command, "SHUTDOWN")) {
        /* §3.10: a leader hands over before it goes, so the cluster does
           not wait an election timeout. */
        raft_status_t st;
        if (self->r)
            raft_status (self->r, &st);
        if (self->r && st.role == RAFT_LEADER &&
            raft_transfer_leadership (self->r, 0) == RAFT_OK) {
            log_info ("raft: shutting down; transferring leadership");
            self->shutting_down = true;
            self->shutdown_deadline =
                zclock_mono () + 3 * (int64_t)self->args.election_ms;
            s_drive (self);
        } else {
            zstr_send (pipe, "DONE");
        }
    }
    zstr_free (&command);
    return rc;
}

/*  ---------------------------------------------------------------------
    The actor                                                            */

void
raft_actor (zsock_t *pipe, void *args)
{
    /* named for top -H and perf (--sort comm) */
    pthread_setname_np (pthread_self (), "raft");
    self_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->pipe = pipe;
    self->args = *(raft_actor_args_t *)args;
    self->started = zclock_mono ();
    self->rng = ((uint64_t)zclock_time () << 16) ^ (uint64_t)getpid () ^
                (self->args.id * 0x9e3779b97f4a7c15ULL);
    if (!self->rng)
        self->rng = 1;
    self->last_role = RAFT_FOLLOWER;
    quota_init (&self->quota, self->args.quota_bytes);
    metrics_set (METRICS_QUOTA_BYTES, self->args.quota_bytes);
    metrics_set (METRICS_ALARM_NOSPACE, 0);
    if (self->args.monitor_endpoint)
        self->mon = monitor_push_new (self->args.monitor_endpoint);
    /* Storage and transport bind their PAIRs; we bind the API ROUTER that
       every HTTP worker connects to. */
    self->storage = zsock_new (ZMQ_PAIR);
    self->transport = zsock_new (ZMQ_PAIR);
    self->api = zsock_new (ZMQ_ROUTER);
    if (!self->storage || !self->transport || !self->api ||
        zsock_connect (self->storage, "%s", self->args.storage_endpoint) ||
        zsock_connect (self->transport, "%s", self->args.transport_endpoint) ||
        zsock_bind (self->api, "%s", self->args.api_endpoint) != 0) {
        log_error ("raft: cannot open the actor sockets");
        zsock_signal (pipe, 1);
        goto done;
    }
    /* The readers drain their sockets (s_drain): recv must not block. */
    zsock_set_rcvtimeo (self->storage, 0);
    zsock_set_rcvtimeo (self->transport, 0);
    zsock_set_rcvtimeo (self->api, 0);
    self->loop = zloop_new ();
    zloop_reader (self->loop, pipe, s_handle_pipe, self);
    zloop_reader (self->loop, self->storage, s_handle_storage, self);
    zloop_reader (self->loop, self->transport, s_handle_transport, self);
    zloop_reader (self->loop, self->api, s_handle_api, self);
    zloop_timer (self->loop, (size_t)self->args.heartbeat_ms, 0, s_handle_tick,
                 self);
    zsock_signal (pipe, 0);
    zloop_start (self->loop);
    if (self->failed) {
        /* Tell main, then wait for $TERM. */
        zstr_send (pipe, "FAILED");
        char *cmd;
        while ((cmd = zstr_recv (pipe)) && !streq (cmd, "$TERM"))
            zstr_free (&cmd);
        zstr_free (&cmd);
    }
done:
    for (size_t i = 0; i < self->n_reqs; i++) {
        s_reply_error (self, self->reqs[i].identity, self->reqs[i].req_id, 503,
                       "shutting_down");
        s_req_free (&self->reqs[i]);
    }
    free (self->reqs);
    raft_destroy (&self->r);
    zloop_destroy (&self->loop);
    zsock_destroy (&self->storage);
    zsock_destroy (&self->transport);
    zsock_destroy (&self->api);
    zsock_destroy (&self->mon);
    free (self);
}
