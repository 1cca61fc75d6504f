/*  transport_peers.c -- the transport actor's DEALERs, one per peer:
    opened and closed as the raft actor's "peers" lists them, the payloads
    sent on them (moved, not copied), what peers answer on them, their
    link events (zmq_socket_monitor, read on a timer) and the move to the
    next secret line when handshakes keep failing. See transport.c.
*/
#include "transport_int.h"

static int s_handle_dealer (zloop_t *loop, zsock_t *dealer, void *arg);

static void
s_send_link (transport_t *self, peer_t *peer, bool up)
{
    if (peer->up == up)
        return;
    peer->up = up;
    log_info ("transport: link to n%" PRIu64 " (%s) %s", peer->id,
              peer->endpoint, up ? "up" : "down");
    msg_transport_t m = {.kind = MSG_TRANSPORT_LINK, .to = peer->id, .up = up};
    zmsg_t *zm = self->raft ? msg_transport_encode (&m) : NULL;
    zframe_t *f = zm ? zmsg_pop (zm) : NULL; /* "link" is one frame */
    if (!f || zframe_send (&f, self->raft, ZFRAME_DONTWAIT) != 0)
        self->count.in_dropped++;
    zframe_destroy (&f);
    zmsg_destroy (&zm);
}

/*  libzmq allocates a frame from the size its header declares before
    reading the body, so without a limit 9 bytes from anyone who can reach
    the port ask for up to 2^63 bytes. With ZMQ_MAXMSGSIZE an oversize
    frame makes libzmq drop the connection before that allocation. */
void
transport_set_maxmsgsize (zsock_t *sock, size_t max_msg)
{
    int64_t max = max_msg > INT64_MAX ? INT64_MAX : (int64_t)max_msg;
    zmq_setsockopt (zsock_resolve (sock), ZMQ_MAXMSGSIZE, &max, sizeof max);
}

static peer_t *
s_peer_lookup (transport_t *self, raft_id_t id)
{
    for (size_t i = 0; i < self->n_peers; i++)
        if (self->peers[i]->id == id)
            return self->peers[i];
    return NULL;
}

/* Destroy a peer's sockets; report its link down if it was up. */
void
transport_peer_destroy (transport_t *self, peer_t **peer_p, bool report)
{
    peer_t *peer = *peer_p;
    if (!peer)
        return;
    if (peer->monitor) {
        /* Stop monitoring before closing the reader. We never ask for
           ZMQ_EVENT_MONITOR_STOPPED, so stopping sends nothing. */
        zmq_socket_monitor (zsock_resolve (peer->dealer), NULL, 0);
        zsock_destroy (&peer->monitor);
    }
    if (peer->dealer)
        zloop_reader_end (self->loop, peer->dealer);
    zsock_destroy (&peer->dealer);
    if (report)
        s_send_link (self, peer, false);
    free (peer);
    *peer_p = NULL;
}

static peer_t *
s_peer_new (transport_t *self, const msg_peer_t *mp, size_t secret)
{
    peer_t *peer = calloc (1, sizeof *peer);
    if (!peer)
        return NULL;
    peer->self = self;
    peer->id = mp->id;
    peer->secret = secret;
    memcpy (peer->endpoint, mp->endpoint, sizeof peer->endpoint);
    peer->dealer = zsock_new (ZMQ_DEALER);
    if (!peer->dealer) {
        free (peer);
        return NULL;
    }
    zsock_t *d = peer->dealer;
    zsock_set_identity (d, self->identity);
    zsock_set_sndhwm (d, self->queue_max); /* bounded per-peer queue */
    zsock_set_immediate (d, 1); /* no queueing to a peer not connected */
    zsock_set_linger (d, 0);    /* closing never waits for a dead peer */
    zsock_set_reconnect_ivl (d, S_RECONNECT_MS);
    zsock_set_reconnect_ivl_max (d, S_RECONNECT_MAX);
    zsock_set_connect_timeout (d, S_CONNECT_TIMEOUT);
    zsock_set_heartbeat_ivl (d, S_HEARTBEAT_IVL);
    zsock_set_heartbeat_timeout (d, S_HEARTBEAT_TIMEOUT);
    /* The DEALER also receives (s_handle_dealer): the same guards as the
       ROUTER against whatever answers at that endpoint. */
    zsock_set_rcvhwm (d, self->queue_max);
    transport_set_maxmsgsize (d, self->max_msg);
    if (self->keys) {
        peer_keys_connect_peer (self->keys, d, peer->id, secret);
        zsock_set_handshake_ivl (d, S_HANDSHAKE_MS);
    }

    /* Connect the monitor reader before the DEALER connects, so that no
       event is emitted with nobody to receive it. libzmq sends monitor
       events from its I/O thread with a blocking send, so the reader must
       be drained: every S_LINK_POLL_MS (transport_handle_links); its queue holds
       1000 events, far more than a link makes in that time. */
    char mon_endpoint[96];
    snprintf (mon_endpoint, sizeof mon_endpoint,
              "inproc://nsxd-transport-%p-mon-%u", (void *)self,
              self->monitor_seq++);
    if (zmq_socket_monitor (zsock_resolve (d), mon_endpoint,
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                ZMQ_EVENT_DISCONNECTED |
                                ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
        peer->monitor = zsock_new (ZMQ_PAIR);
        if (peer->monitor)
            zsock_set_rcvtimeo (peer->monitor, 0);
        if (!peer->monitor ||
            zsock_connect (peer->monitor, "%s", mon_endpoint) != 0) {
            zmq_socket_monitor (zsock_resolve (d), NULL, 0);
            zsock_destroy (&peer->monitor);
        }
    }
    if (!peer->monitor)
        log_warn ("transport: no link events for n%" PRIu64 ": %s", peer->id,
                  zmq_strerror (zmq_errno ()));

    /* "tcp://SRC:0;HOST:PORT" makes the connection start from SRC. */
    int rc = self->source[0] && strncmp (peer->endpoint, "tcp://", 6) == 0
                 ? zsock_connect (d, "tcp://%s:0;%s", self->source,
                                  peer->endpoint + 6)
                 : zsock_connect (d, "%s", peer->endpoint);
    if (rc != 0) {
        log_warn ("transport: cannot connect to n%" PRIu64 " at '%s': %s",
                  peer->id, peer->endpoint, zmq_strerror (zmq_errno ()));
        transport_peer_destroy (self, &peer, false);
        return NULL;
    }
    /* A peer may answer on this connection (through its ROUTER) when it
       does not know our endpoint yet: a server that is joining. */
    zloop_reader (self->loop, d, s_handle_dealer, peer);
    log_info ("transport: peer n%" PRIu64 " at %s", peer->id, peer->endpoint);
    return peer;
}

/* Make the peer set exactly `list` (minus this node). */
void
transport_set_peers (transport_t *self, const msg_peer_t *list, size_t n)
{
    /* Close the links to peers no longer listed or whose endpoint
       changed. */
    size_t kept = 0;
    for (size_t i = 0; i < self->n_peers; i++) {
        peer_t *peer = self->peers[i];
        const msg_peer_t *want = NULL;
        for (size_t k = 0; k < n && !want; k++)
            if (list[k].id == peer->id)
                want = &list[k];
        if (want && streq (want->endpoint, peer->endpoint))
            self->peers[kept++] = peer;
        else
            transport_peer_destroy (self, &peer, true);
    }
    self->n_peers = kept;

    /* Open links to new peers. The codec allows at most RAFT_MAX_SERVERS
       distinct ids, so the array cannot overflow. */
    for (size_t k = 0; k < n; k++) {
        if (list[k].id == self->id) {
            log_warn ("transport: peer list names this node (n%" PRIu64
                      "); ignored",
                      self->id);
            continue;
        }
        if (s_peer_lookup (self, list[k].id))
            continue;
        assert (self->n_peers < RAFT_MAX_SERVERS);
        /* The zap actor must know every member's key, whatever its id. */
        if (self->keys)
            peer_keys_learn (self->keys, list[k].id);
        peer_t *peer = s_peer_new (self, &list[k], 0);
        if (peer)
            self->peers[self->n_peers++] = peer;
        /* else: a later "peers" retries; meanwhile sends count unknown */
    }
}

/* Hand the payload (zm's second frame, a decoded "send") to the peer's
   DEALER, moved, not copied. */
void
transport_send (transport_t *self, raft_id_t to, zmsg_t *zm)
{
    zframe_t *payload = zmsg_last (zm);
    zmsg_remove (zm, payload);
    if (!transport_fault_out (self, to, &payload))
        transport_send_frame (self, to, &payload);
}

void
transport_send_frame (transport_t *self, raft_id_t to, zframe_t **payload_p)
{
    zframe_t *payload = *payload_p;
    *payload_p = NULL;
    peer_t *peer = s_peer_lookup (self, to);
    if (!peer) {
        /* No link of our own to that server (we do not know its endpoint,
           e.g. we are joining and have no configuration yet): answer over
           the connection it opened to our ROUTER, whose identity is its id.
           ROUTER_MANDATORY makes an unknown identity fail at once. */
        char identity[32];
        snprintf (identity, sizeof identity, "%" PRIu64, to);
        void *h = self->router ? zsock_resolve (self->router) : NULL;
        if (!h ||
            zmq_send (h, identity, strlen (identity),
                      ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zframe_send (&payload, self->router, ZFRAME_DONTWAIT) != 0)
            self->count.out_unknown++;
        else
            self->count.out_sent++;
        zframe_destroy (&payload); /* NULL once sent */
        return;
    }
    /* EAGAIN: not connected (ZMQ_IMMEDIATE) or queue full (SNDHWM) */
    if (zframe_send (&payload, peer->dealer, ZFRAME_DONTWAIT) != 0)
        self->count.out_dropped++;
    else
        self->count.out_sent++;
    zframe_destroy (&payload);
}

/* A peer answered on our own DEALER (see transport_send): one frame, the payload.
   With keys, CURVE checked the server's key: it is from that peer. */
static int
s_handle_dealer (zloop_t *loop, zsock_t *dealer, void *arg)
{
    (void)loop;
    peer_t *peer = arg;
    transport_t *self = peer->self;
    void *handle = zsock_resolve (dealer);
    for (int i = 0; i < S_BATCH; i++) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&part);
            break;
        }
        bool more = zmq_msg_more (&part);
        size_t size = zmq_msg_size (&part);
        if (more || size == 0 || size > self->max_msg) {
            self->count.in_malformed++;
            while (more) { /* drop the rest of a multi-frame message */
                zmq_msg_close (&part);
                zmq_msg_init (&part);
                if (zmq_msg_recv (&part, handle, ZMQ_DONTWAIT) < 0)
                    break;
                more = zmq_msg_more (&part);
            }
        } else if (!transport_fault_in (self, peer->id)) {
            transport_to_raft (self, self->keys ? peer->id : 0, &part);
            self->count.in_accepted++;
        }
        zmq_msg_close (&part);
    }
    return 0;
}

/* Reconnect peers[i] with the keys of the next secret line (a rotation is
   under way and it serves a key of another line). */
static void
s_peer_next_secret (transport_t *self, size_t i)
{
    peer_t *old = self->peers[i];
    msg_peer_t mp = {.id = old->id};
    memcpy (mp.endpoint, old->endpoint, sizeof mp.endpoint);
    size_t next = (old->secret + 1) % peer_keys_secrets (self->keys);
    log_info ("transport: n%" PRIu64 " refuses our keys of secret %zu; "
              "trying secret %zu",
              old->id, old->secret + 1, next + 1);
    transport_peer_destroy (self, &self->peers[i], true);
    self->peers[i] = s_peer_new (self, &mp, next);
    if (!self->peers[i]) /* a later "peers" retries */
        self->peers[i] = self->peers[--self->n_peers];
}

/*  The DEALERs' monitor events: two frames, [event: uint16, value:
    uint32] in host byte order, then the endpoint (libzmq's version 1
    format). Read every S_LINK_POLL_MS. */
int
transport_handle_links (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop, (void)timer_id;
    transport_t *self = arg;
    for (size_t i = 0; i < self->n_peers; i++) {
        peer_t *peer = self->peers[i];
        for (int k = 0; peer->monitor && k < S_BATCH; k++) {
            zmsg_t *zm = zmsg_recv (peer->monitor); /* RCVTIMEO 0 */
            if (!zm)
                break;
            zframe_t *frame = zmsg_first (zm);
            if (frame && zframe_size (frame) == 6) {
                uint16_t event;
                memcpy (&event, zframe_data (frame), sizeof event);
                if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
                    peer->failures = 0;
                    s_send_link (self, peer, true);
                } else if (event == ZMQ_EVENT_DISCONNECTED) {
                    /* A connection that ends before its handshake
                       succeeded: the server refused our keys (a peer
                       with a key of another secret line refuses, or
                       cannot read, our HELLO). */
                    if (!peer->up)
                        peer->failures++;
                    s_send_link (self, peer, false);
                } else {
                    peer->failures++; /* HANDSHAKE_FAILED_* */
                }
            }
            zmsg_destroy (&zm);
        }
        if (self->keys && peer_keys_secrets (self->keys) > 1 &&
            peer->failures >= S_KEY_FAILURES)
            s_peer_next_secret (self, i);
    }
    return 0;
}
