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

    The actor's other files: raft_actor_int.h.
*/
#include "msg_forward.h"
#include "raft_actor_int.h"

#include "actor.h"

/* The server's addr is "<peer endpoint> <http host:port>". */
void
ra_split_addr (const char *addr, char *peer, size_t peer_len, char *http,
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

/* The leader's HTTP address, or NULL while unknown. */
const char *
ra_leader_http (ra_self_t *self, char *http, size_t len)
{
    raft_status_t st;
    raft_status (self->r, &st);
    const raft_server_t *s =
        st.leader ? raft_conf_get (raft_conf (self->r), st.leader) : NULL;
    if (!s)
        return NULL;
    char peer[RAFT_ADDR_MAX];
    ra_split_addr (s->addr, peer, sizeof peer, http, len);
    return http;
}

/* The gauges of /metrics, after every batch. */
void
ra_publish_metrics (ra_self_t *self)
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
s_on_transport (ra_self_t *self, zmsg_t *zm)
{
    msg_transport_t t;
    if (msg_transport_decode (zm, &t) != 0)
        return;
    if (t.kind == MSG_TRANSPORT_RECV && self->r &&
        msg_forward_is (t.payload, t.payload_len)) {
        ra_forward_recv (self, t.from, t.payload, t.payload_len);
    } else if (t.kind == MSG_TRANSPORT_RECV && self->r) {
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
            ra_trace_msg (self, false, &m);
            raft_step (self->r, &m);
            raft_status (self->r, &st);
            if (st.dropped_msgs == dropped &&
                raft_conf_get (raft_conf (self->r), m.from))
                ra_heard_from (self, m.from);
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
s_on_api (ra_self_t *self, zmsg_t *zm)
{
    zframe_t *identity = zmsg_pop (zm);
    msg_api_req_t req;
    if (!identity || msg_api_req_decode (zm, &req) != 0) {
        log_warn ("raft: malformed API request dropped");
        zframe_destroy (&identity);
        return;
    }
    if (!self->r)
        ra_reply_error (self, identity, req.req_id, 503, "starting");
    else
        ra_api_dispatch (self, &identity, &req);
    zframe_destroy (&identity);
    msg_api_req_clear (&req);
}

void
ra_api_dispatch (ra_self_t *self, zframe_t **identity, msg_api_req_t *req)
{
    if (ra_forward_wanted (self, req)) {
        ra_forward_send (self, identity, req);
        return;
    }
    switch (req->op) {
    case MSG_API_HEALTH: ra_reply_health (self, *identity, req->req_id); break;
    case MSG_API_PUT:
    case MSG_API_DELETE:
    case MSG_API_CMD: ra_propose_kv (self, identity, req); break;
    case MSG_API_GET: ra_get (self, identity, req); break;
    case MSG_API_JOIN: ra_join (self, identity, req); break;
    case MSG_API_REMOVE: ra_remove (self, identity, req); break;
    case MSG_API_READ: ra_read_index (self, identity, req); break;
    case MSG_API_LEASE_KEEPALIVE:
        ra_lease_keepalive (self, identity, req);
        break;
    case MSG_API_LEASE_INFO: ra_lease_info (self, identity, req); break;
    }
}

/* Each reader takes every message already queued on its socket (up to
   S_DRAIN_MAX; the sockets have RCVTIMEO 0, so zmsg_recv returns NULL
   once drained) and then drives the core once. Proposals that arrived
   together become one Ready batch: one log write, one AppendEntries per
   follower (batching, §10.2.1), instead of one of each per request. The
   bound keeps the timers and the other sockets served under a flood. */
#define S_DRAIN_MAX 256

static int
s_drain (ra_self_t *self, zsock_t *sock, void (*on) (ra_self_t *, zmsg_t *))
{
    for (int n = 0; n < S_DRAIN_MAX && !self->failed; n++) {
        zmsg_t *zm = zmsg_recv (sock);
        if (!zm)
            break;
        on (self, zm);
        zmsg_destroy (&zm);
    }
    ra_drive (self);
    /* A node whose storage failed must not go on acknowledging anything. */
    return self->failed ? -1 : 0;
}

static int
s_handle_storage (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    return s_drain (arg, sock, ra_on_storage);
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
    ra_self_t *self = arg;
    if (!self->r)
        return 0;
    raft_tick (self->r);
    ra_lease_tick (self);
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < self->n_reqs; i++) {
        if (now < self->reqs[i].deadline)
            continue;
        /* The deadline passed. A write may still commit later. */
        ra_reply_error (self, self->reqs[i].identity, self->reqs[i].req_id, 503,
                        "timeout");
        ra_req_drop (self, i--);
    }
    ra_drive (self);
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
s_self_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    ra_self_t *self = arg;
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
            ra_drive (self);
        } else {
            zstr_send (pipe, "DONE");
        }
    }
    zstr_free (&command);
    return rc;
}

/* Start-up statuses (actor.h): a socket could not be opened. */
#define S_STATUS_NO_SOCKETS 1

static void s_self_destroy (ra_self_t **self_p);

static ra_self_t *
s_self_new (zsock_t *pipe, const raft_actor_args_t *args)
{
    ra_self_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->pipe = pipe;
    self->args = *args;
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
    if (ra_lease_init (self) != 0) {
        s_self_destroy (&self);
        return NULL;
    }
    /* Storage and transport bind their PAIRs; we bind the API ROUTER that
       every HTTP worker connects to. */
    self->storage = zsock_new (ZMQ_PAIR);
    self->transport = zsock_new (ZMQ_PAIR);
    self->api = zsock_new (ZMQ_ROUTER);
    self->loop = zloop_new ();
    if (!self->storage || !self->transport || !self->api || !self->loop) {
        s_self_destroy (&self);
        return NULL;
    }
    if (zsock_connect (self->storage, "%s", self->args.storage_endpoint) ||
        zsock_connect (self->transport, "%s", self->args.transport_endpoint) ||
        zsock_bind (self->api, "%s", self->args.api_endpoint) != 0) {
        log_error ("raft: cannot open the actor sockets");
        self->status = S_STATUS_NO_SOCKETS;
        return self;
    }
    self->api_bound = true;
    /* The readers drain their sockets (s_drain): recv must not block. */
    zsock_set_rcvtimeo (self->storage, 0);
    zsock_set_rcvtimeo (self->transport, 0);
    zsock_set_rcvtimeo (self->api, 0);
    zloop_reader (self->loop, pipe, s_self_handle_pipe, self);
    zloop_reader (self->loop, self->storage, s_handle_storage, self);
    zloop_reader (self->loop, self->transport, s_handle_transport, self);
    zloop_reader (self->loop, self->api, s_handle_api, self);
    zloop_timer (self->loop, (size_t)self->args.heartbeat_ms, 0, s_handle_tick,
                 self);
    return self;
}

static void
s_self_destroy (ra_self_t **self_p)
{
    ra_self_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n_reqs; i++) {
        ra_reply_error (self, self->reqs[i].identity, self->reqs[i].req_id, 503,
                        "shutting_down");
        ra_req_free (&self->reqs[i]);
    }
    free (self->reqs);
    ra_lease_destroy (self);
    raft_destroy (&self->r);
    zloop_destroy (&self->loop);
    zsock_destroy (&self->storage);
    zsock_destroy (&self->transport);
    if (self->api_bound) /* frees the inproc name at once (actor.h) */
        zsock_unbind (self->api, "%s", self->args.api_endpoint);
    zsock_destroy (&self->api);
    zsock_destroy (&self->mon);
    free (self);
    *self_p = NULL;
}

void
raft_actor (zsock_t *pipe, void *args)
{
    ra_self_t *self = s_self_new (pipe, args);
    if (!self)
        log_error ("raft: out of memory at start");
    if (actor_ready (pipe, self ? self->status : ACTOR_NO_MEMORY) == 0) {
        actor_run (self->loop);
        if (self->failed) /* tell main (actor.h), then wait for $TERM */
            actor_fail (pipe, "raft: %s", self->fail_reason);
    }
    s_self_destroy (&self);
}
