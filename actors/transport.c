/*  transport.c -- the transport actor: peer links over ZeroMQ.

    It plays the part of canonical/raft's uv_send/uv_recv: it moves opaque
    payloads (msg_raft.h messages) between this node's raft actor and the
    other nodes, and never decodes them -- the raft actor does.

    Protocol
    --------
    pipe (zactor, from main; the skeleton and its contract: actor.h):
        start-up  signal 0 once both sockets are bound; otherwise, after
                  logging why, S_STATUS_NO_LISTEN (1: the ROUTER could not
                  bind args->listen), S_STATUS_NO_ENDPOINT (2: the PAIR
                  could not bind args->endpoint) or ACTOR_NO_MEMORY.
        "$TERM"   end the actor.
        "STATS"   answered with zsock_send (pipe, "8888888") of the counters
                  in_accepted, in_malformed, in_dropped, out_sent,
                  out_dropped, out_unknown, raft_malformed (see self_t).

    PULL (bound on args->send_endpoint; the storage actor connects):
        storage -> transport: [1, "send", to] + payload only: a vote or an
        acknowledgement the raft core handed out to send once durable,
        which storage forwards right after its fsync (msg_store.h
        "after"), one hand-off fewer than through the raft actor.

    PAIR (bound on args->endpoint; the raft actor connects), one zframe
    per message, msg/msg_transport.h:
        raft -> transport:  [1, "peers", ...], [1, "send", to] + payload
        transport -> raft:  [1, "recv", from] + payload, [1, "link", id, up]
        The payload travels as its own frame, moved from socket to socket
        without a copy.
        `from` in "recv" is the member the link authenticated (0 with
        --insecure-peers): the raft actor drops a message whose own `from`
        differs.
        Anything else from the raft actor is dropped with a warning.

    ROUTER (bound on args->listen, tcp): inbound peer traffic. Each message
    must be exactly [identity][payload] with 0 < |payload| <= max_msg,
    i.e. the peer's DEALER sent one frame; anything else is dropped and
    counted. Accepted payloads go to the raft actor as "recv".

    Authentication (args->keys, peer_keys.h): the ROUTER serves CURVE with
    this node's member key and every DEALER connects with it, checking the
    peer's; the zap actor (zap.c) refuses a client without a member's key
    during the handshake, and names the member it authenticated as the
    connection's ZAP user id, which libzmq stamps on each message
    ("User-Id") and "recv" carries as `from`. On a DEALER, the server's
    key was checked, so what arrives there is from that peer. A DEALER
    whose handshakes keep failing (the peer serves a key of another secret
    line: a rotation under way) tries the next line. The ROUTER holds at
    most args->max_conns connections (conn_limit.h) and drops a handshake
    that has not finished within S_HANDSHAKE_MS.

    DEALER (one per peer, connected to the peer's listen endpoint): carries
    "send" payloads, one frame each. Its identity is this node's id in
    decimal, so when this node restarts the peer's ROUTER hands the identity
    over to the new connection (ZMQ_ROUTER_HANDOVER) at once instead of
    refusing it while the dead connection lingers.

    A "send" to a server we have no DEALER for (a joining server does not
    know our endpoint yet) goes back over the ROUTER to the connection
    whose identity is that id; ZMQ_ROUTER_MANDATORY makes an unknown
    identity fail at once (counted out_unknown). So a DEALER also
    receives: one frame, the payload, checked as on the ROUTER.

    Never blocking
    --------------
    Every send is non-blocking. A "send" to a peer that is not connected
    (ZMQ_IMMEDIATE) or whose queue holds args->queue_max messages
    (ZMQ_SNDHWM) is dropped and counted: Raft retries (heartbeats, probes),
    so a lost message costs time, never safety, while a blocked actor would
    stall the node for every peer. Likewise a "recv" or "link" the raft
    actor has no room for (its PAIR queue is full) is dropped and counted.

    Link events come from zmq_socket_monitor on each DEALER: "up" when the
    ZMTP handshake succeeded (the link can carry messages; a bare TCP
    connect to something that is not a peer is not "up"), "down" on
    disconnection (including a heartbeat timeout) and when the peer is
    removed. They are for tracing only.

    Counted drops are reported at most once a second (S_REPORT_MS), so a
    flood of garbage cannot flood the log.

    Injected faults (args->faults, --enable-faults): every payload out
    (from the PAIR or the PULL) and in (ROUTER or DEALER) passes
    transport_fault.c first, which may drop it or hold it a while.

    The actor's other files: transport_int.h.
*/
#include "transport_int.h"

/* Encode m and send it to the raft actor without blocking. */
void
transport_to_raft (transport_t *self, raft_id_t from, zmq_msg_t *payload)
{
    if (!self->raft) {
        self->count.in_dropped++; /* the PAIR could not bind */
        return;
    }
    zframe_t *header = msg_transport_header (MSG_TRANSPORT_RECV, from);
    if (!header) {
        self->count.in_dropped++; /* only out of memory */
        return;
    }
    /* "recv" header, then the payload moved as it came (no copy). The
       parts of one message are queued together: once the first is taken,
       the second is. */
    void *h = zsock_resolve (self->raft);
    if (zframe_send (&header, self->raft, ZFRAME_MORE | ZFRAME_DONTWAIT) != 0)
        self->count.in_dropped++;
    else if (zmq_msg_send (payload, h, ZMQ_DONTWAIT) < 0)
        self->count.in_dropped++;
    zframe_destroy (&header);
}

static int
s_self_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    transport_t *self = arg;
    zmsg_t *request = zmsg_recv (pipe);
    if (!request)
        return 0; /* interrupted: actor_run restarts the loop */
    char *command = zmsg_popstr (request);
    if (command && streq (command, "$TERM"))
        self->terminated = true;
    else if (command && streq (command, "STATS"))
        zsock_send (pipe, "8888888", self->count.in_accepted,
                    self->count.in_malformed, self->count.in_dropped,
                    self->count.out_sent, self->count.out_dropped,
                    self->count.out_unknown, self->count.raft_malformed);
    else
        log_error ("transport: invalid pipe command '%s'",
                   command ? command : "(none)");
    free (command);
    zmsg_destroy (&request);
    return self->terminated ? -1 : 0;
}

/* Messages from the raft actor. */
static int
s_handle_raft (zloop_t *loop, zsock_t *raft, void *arg)
{
    (void)loop;
    transport_t *self = arg;
    for (int i = 0; i < S_BATCH; i++) {
        zmsg_t *zm = zmsg_recv (raft); /* RCVTIMEO 0: NULL when drained */
        if (!zm)
            break;
        msg_transport_t m;
        if (msg_transport_decode (zm, &m) < 0) {
            self->count.raft_malformed++;
        } else if (m.kind == MSG_TRANSPORT_PEERS) {
            /* This adds and removes monitor readers; zloop rebuilds its
               poll set before it calls another handler, so no handler
               sees a freed peer. */
            transport_set_peers (self, m.peers, m.n_peers);
        } else if (m.kind == MSG_TRANSPORT_SEND) {
            transport_send (self, m.to, zm);
        } else {
            self->count.raft_malformed++; /* "recv"/"link" go the other way */
        }
        msg_transport_clear (&m);
        zmsg_destroy (&zm);
    }
    return 0;
}

/* "send" from the storage actor: what the core handed out to send once
   durable (msg_store.h "after"), forwarded by storage after its fsync.
   Only "send" is accepted here. */
static int
s_handle_storage (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    transport_t *self = arg;
    for (int i = 0; i < S_BATCH; i++) {
        zmsg_t *zm = zmsg_recv (sock); /* RCVTIMEO 0: NULL when drained */
        if (!zm)
            break;
        msg_transport_t m;
        if (msg_transport_decode (zm, &m) < 0) {
            self->count.raft_malformed++;
        } else {
            if (m.kind == MSG_TRANSPORT_SEND)
                transport_send (self, m.to, zm);
            else
                self->count.raft_malformed++;
            msg_transport_clear (&m);
        }
        zmsg_destroy (&zm);
    }
    return 0;
}

/* The member the zap actor authenticated for the connection a message
   came on (its ZAP user id, in decimal), or 0. */
static raft_id_t
s_user_id (zmq_msg_t *msg)
{
    const char *uid = zmq_msg_gets (msg, "User-Id");
    if (!uid || !*uid || strspn (uid, "0123456789") != strlen (uid) ||
        strlen (uid) > 19)
        return 0;
    return (raft_id_t)strtoull (uid, NULL, 10);
}

/*  Inbound peer traffic. Read frame by frame with libzmq's own calls, so
    that a message with many frames is counted and discarded without
    being gathered. A frame larger than max_msg never reaches us:
    ZMQ_MAXMSGSIZE makes libzmq drop the connection before allocating it. */
static int
s_handle_router (zloop_t *loop, zsock_t *router, void *arg)
{
    (void)loop;
    transport_t *self = arg;
    void *handle = zsock_resolve (router);
    for (int i = 0; i < S_BATCH; i++) {
        zmq_msg_t part, payload;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&part);
            break; /* drained */
        }
        /* part is the identity the ROUTER prepends; the rest follows at
           once (ZeroMQ delivers a message's frames together). */
        raft_id_t sender = self->faults ? transport_fault_sender (&part) : 0;
        zmq_msg_init (&payload);
        int frames = 1, fd = -1;
        size_t bytes = 0;
        bool more = zmq_msg_more (&part);
        while (more) {
            zmq_msg_close (&part);
            zmq_msg_init (&part);
            if (zmq_msg_recv (&part, handle, ZMQ_DONTWAIT) < 0)
                break;
            more = zmq_msg_more (&part);
            bytes += zmq_msg_size (&part);
            fd = zmq_msg_get (&part, ZMQ_SRCFD);
            if (++frames == 2)
                zmq_msg_move (&payload, &part);
        }
        zmq_msg_close (&part);
        if (self->limit && fd >= 0)
            conn_limit_delivered (self->limit, fd, bytes);
        size_t size = zmq_msg_size (&payload);
        raft_id_t from = 0;
        if (frames != 2 || size == 0 || size > self->max_msg ||
            (self->keys && (from = s_user_id (&payload)) == 0)) {
            self->count.in_malformed++;
        } else if (!transport_fault_in (self, from ? from : sender)) {
            transport_to_raft (self, from, &payload);
            self->count.in_accepted++;
        }
        zmq_msg_close (&payload);
    }
    return 0;
}

static int
s_handle_limit (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop, (void)reader;
    transport_t *self = arg;
    size_t refused = 0, failed = 0;
    conn_limit_handle (self->limit, &refused, &failed);
    if (refused)
        metrics_add (METRICS_PEER_CONNS_REFUSED, refused);
    if (failed)
        metrics_add (METRICS_PEER_HANDSHAKES_REFUSED, failed);
    return 0;
}

static int
s_handle_held (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop, (void)timer_id;
    transport_t *self = arg;
    size_t cut = conn_limit_check (self->limit);
    if (cut)
        metrics_add (METRICS_PEER_CONNS_CUT, cut);
    return 0;
}

/* Report drops since the last report, at most once per S_REPORT_MS. */
static int
s_handle_report (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    transport_t *self = arg;
    counters_t *c = &self->count, *r = &self->reported;
    if (c->in_malformed != r->in_malformed ||
        c->raft_malformed != r->raft_malformed)
        log_warn (
            "transport: dropped %" PRIu64 " malformed peer messages, %" PRIu64
            " malformed raft actor messages (totals %" PRIu64 ", %" PRIu64 ")",
            c->in_malformed - r->in_malformed,
            c->raft_malformed - r->raft_malformed, c->in_malformed,
            c->raft_malformed);
    if (c->in_dropped != r->in_dropped)
        log_warn ("transport: raft actor behind: dropped %" PRIu64
                  " messages to it (total %" PRIu64 ")",
                  c->in_dropped - r->in_dropped, c->in_dropped);
    /* Sends to a peer that is down are routine (Raft keeps retrying), so
       they are debug-level. */
    if (c->out_dropped != r->out_dropped || c->out_unknown != r->out_unknown)
        log_debug ("transport: dropped %" PRIu64 " sends to unconnected or "
                   "full peers, %" PRIu64 " to unknown peers",
                   c->out_dropped - r->out_dropped,
                   c->out_unknown - r->out_unknown);
    *r = *c;
    return 0;
}

static zsock_t *
s_router_new (transport_t *self)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    if (!router)
        return NULL;
    zsock_set_router_handover (router, 1);
    zsock_set_router_mandatory (router, 1);
    /* Per-connection receive queue; when full, libzmq stops reading that
       connection and the peer's own bounded queue drops. */
    zsock_set_rcvhwm (router, self->queue_max);
    transport_set_maxmsgsize (router, self->max_msg);
    zsock_set_linger (router, 0);
    /* Drop inbound connections from peers that died without a FIN. */
    zsock_set_heartbeat_ivl (router, S_HEARTBEAT_IVL);
    zsock_set_heartbeat_timeout (router, S_HEARTBEAT_TIMEOUT);
    if (self->keys) {
        peer_keys_serve_peer (self->keys, router);
        zsock_set_handshake_ivl (router, S_HANDSHAKE_MS);
    }
    if (zsock_bind (router, "%s", self->listen) == -1) {
        log_error ("transport: cannot listen on '%s': %s", self->listen,
                   zmq_strerror (zmq_errno ()));
        zsock_destroy (&router);
        return NULL;
    }
    return router;
}

static void s_self_destroy (transport_t **self_p);

static transport_t *
s_self_new (zsock_t *pipe, const transport_args_t *args)
{
    transport_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->pipe = pipe;
    self->id = args->id;
    snprintf (self->identity, sizeof self->identity, "%" PRIu64, args->id);
    snprintf (self->source, sizeof self->source, "%s",
              args->source ? args->source : "");
    self->endpoint = strdup (args->endpoint);
    self->listen = strdup (args->listen);
    self->queue_max = args->queue_max;
    self->max_msg = args->max_msg;
    self->keys = args->keys;
    self->max_conns = args->max_conns > 0 ? (size_t)args->max_conns : 64;
    self->faults = args->faults;
    self->loop = zloop_new ();
    self->raft = zsock_new (ZMQ_PAIR);
    if (args->send_endpoint) {
        self->send_endpoint = strdup (args->send_endpoint);
        self->from_storage = zsock_new (ZMQ_PULL);
    }
    if (!self->endpoint || !self->listen || !self->loop || !self->raft ||
        (args->send_endpoint &&
         (!self->send_endpoint || !self->from_storage))) {
        s_self_destroy (&self);
        return NULL;
    }
    zsock_set_rcvtimeo (self->raft, 0); /* s_handle_raft reads until empty */
    if (zsock_bind (self->raft, "%s", self->endpoint) == -1) {
        log_error ("transport: cannot bind '%s': %s", self->endpoint,
                   zmq_strerror (zmq_errno ()));
        zsock_destroy (&self->raft);
        self->status = S_STATUS_NO_ENDPOINT;
    }
    if (self->from_storage) {
        zsock_set_rcvtimeo (self->from_storage, 0);
        zsock_set_rcvhwm (self->from_storage, 0); /* bounded by the raft
                                                     actor's writes */
        if (zsock_bind (self->from_storage, "%s", self->send_endpoint) == -1) {
            log_error ("transport: cannot bind '%s': %s", self->send_endpoint,
                       zmq_strerror (zmq_errno ()));
            zsock_destroy (&self->from_storage);
            if (!self->status)
                self->status = S_STATUS_NO_ENDPOINT;
        }
    }
    self->router = s_router_new (self);
    if (!self->router && !self->status)
        self->status = S_STATUS_NO_LISTEN;

    zloop_reader (self->loop, pipe, s_self_handle_pipe, self);
    if (self->raft)
        zloop_reader (self->loop, self->raft, s_handle_raft, self);
    if (self->from_storage)
        zloop_reader (self->loop, self->from_storage, s_handle_storage, self);
    if (self->router) {
        zloop_reader (self->loop, self->router, s_handle_router, self);
        /* A connection may hold a frame in progress (max_msg) and whole
           messages we have not read yet (under load, pipelined
           AppendEntries of up to 1 MiB each); an unfinished multipart
           message grows beyond that and is cut. */
        self->limit = conn_limit_new (self->router, self->max_conns,
                                      4 * self->max_msg + (16 << 20),
                                      "transport: peer port");
        if (self->limit)
            zloop_reader (self->loop, conn_limit_reader (self->limit),
                          s_handle_limit, self);
        else
            log_warn ("transport: cannot watch the peer port's connections; "
                      "no limit on them");
    }
    zloop_timer (self->loop, S_REPORT_MS, 0, s_handle_report, self);
    zloop_timer (self->loop, S_LINK_POLL_MS, 0, transport_handle_links, self);
    if (self->limit)
        zloop_timer (self->loop, S_HELD_CHECK_MS, 0, s_handle_held, self);
    return self;
}

static void
s_self_destroy (transport_t **self_p)
{
    transport_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n_peers; i++)
        transport_peer_destroy (self, &self->peers[i], false);
    transport_fault_destroy (self);
    zloop_destroy (&self->loop);
    conn_limit_destroy (&self->limit);
    zsock_destroy (&self->router);
    if (self->raft) {
        /* An inproc endpoint is released only when libzmq reaps the
           socket, later; unbinding frees the name at once, so a new
           actor can bind it. */
        zsock_unbind (self->raft, "%s", self->endpoint);
        zsock_destroy (&self->raft);
    }
    if (self->from_storage) {
        zsock_unbind (self->from_storage, "%s", self->send_endpoint);
        zsock_destroy (&self->from_storage);
    }
    free (self->send_endpoint);
    free (self->endpoint);
    free (self->listen);
    free (self);
    *self_p = NULL;
}

void
transport_actor (zsock_t *pipe, void *args)
{
    const transport_args_t *a = args;
    assert (a && a->id != 0 && a->listen && a->endpoint);
    assert (a->queue_max > 0 && a->max_msg > 0);
    transport_t *self = s_self_new (pipe, a);
    if (!self)
        log_error ("transport: out of memory at start");
    if (actor_ready (pipe, self ? self->status : ACTOR_NO_MEMORY) == 0) {
        log_info ("transport: listening on %s", self->listen);
        actor_run (self->loop);
    }
    s_self_destroy (&self);
}
