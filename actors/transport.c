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
*/
#include "actor.h"
#include "actors.h"
#include "conn_limit.h"
#include "log.h"
#include "metrics.h"
#include "msg_transport.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define S_STATUS_NO_LISTEN 1
#define S_STATUS_NO_ENDPOINT 2

#define S_BATCH 256      /* messages read per socket per loop turn */
#define S_REPORT_MS 1000 /* drop counters reported at most this often */
/* The DEALERs' monitor sockets are read on this timer, not as readers:
   every reader costs two system calls per socket at every loop turn
   (zmq_poll asks each socket for ZMQ_EVENTS), and link events are only
   traced. */
#define S_LINK_POLL_MS 50
#define S_RECONNECT_MS 100   /* first reconnect delay to a peer, */
#define S_RECONNECT_MAX 1000 /* doubling up to this */
/* A SYN that is dropped (iptables DROP, a dead host) is retried after 1 s,
   not after the kernel's ~2 minutes. */
#define S_CONNECT_TIMEOUT 1000
#define S_HEARTBEAT_IVL 1000     /* ZMTP PING every second, */
#define S_HEARTBEAT_TIMEOUT 3000 /* link down after 3 s without traffic */
#define S_HANDSHAKE_MS 3000      /* a connection must finish its handshake */
#define S_HELD_CHECK_MS 50       /* conn_limit_check: unfinished messages */
/* Handshakes that failed in a row before a DEALER tries the next secret. */
#define S_KEY_FAILURES 3

typedef struct self self_t;

typedef struct {
    self_t *self; /* owner, for the monitor handler */
    raft_id_t id;
    char endpoint[MSG_ENDPOINT_MAX];
    zsock_t *dealer;
    zsock_t *monitor; /* reads the DEALER's monitor events; may be NULL */
    bool up;
    size_t secret; /* the secret line its keys come from (peer_keys.h) */
    int failures;  /* handshakes failed since it was last up */
} peer_t;

typedef struct {
    uint64_t in_accepted;    /* payloads forwarded to the raft actor */
    uint64_t in_malformed;   /* bad framing or size on the ROUTER */
    uint64_t in_dropped;     /* raft actor's queue full: "recv"/"link" lost */
    uint64_t out_sent;       /* payloads queued to a peer */
    uint64_t out_dropped;    /* peer not connected or its queue full */
    uint64_t out_unknown;    /* "send" to a peer not in the peer set */
    uint64_t raft_malformed; /* undecodable messages from the raft actor */
} counters_t;

struct self {
    zsock_t *pipe;         /* actor pipe, to main */
    zsock_t *raft;         /* PAIR to the raft actor */
    zsock_t *from_storage; /* PULL: "send" from storage, or NULL */
    zsock_t *router;       /* inbound peer traffic; NULL if the bind failed */
    zloop_t *loop;
    bool terminated;
    int status; /* 0 or S_STATUS_* */

    raft_id_t id;
    char identity[24]; /* id in decimal: our DEALERs' identity */
    char source[64];   /* local IP our DEALERs connect from, "" for any */
    char *endpoint;
    char *send_endpoint; /* from_storage's, or NULL */
    char *listen;
    int queue_max;
    size_t max_msg;
    peer_keys_t *keys;   /* NULL: --insecure-peers */
    conn_limit_t *limit; /* on the ROUTER; NULL if it cannot be watched */
    size_t max_conns;

    peer_t *peers[RAFT_MAX_SERVERS];
    size_t n_peers;
    unsigned monitor_seq; /* makes monitor endpoints unique */

    counters_t count;
    counters_t reported; /* counters at the last report */
};

static int s_handle_dealer (zloop_t *loop, zsock_t *dealer, void *arg);

/*  ---------------------------------------------------------------------
    To the raft actor                                                    */

/* Encode m and send it to the raft actor without blocking. */
static void
s_to_raft (self_t *self, raft_id_t from, zmq_msg_t *payload)
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

static void
s_send_link (self_t *self, peer_t *peer, bool up)
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
static void
s_set_maxmsgsize (zsock_t *sock, size_t max_msg)
{
    int64_t max = max_msg > INT64_MAX ? INT64_MAX : (int64_t)max_msg;
    zmq_setsockopt (zsock_resolve (sock), ZMQ_MAXMSGSIZE, &max, sizeof max);
}

/*  ---------------------------------------------------------------------
    Peers                                                                */

static peer_t *
s_peer_lookup (self_t *self, raft_id_t id)
{
    for (size_t i = 0; i < self->n_peers; i++)
        if (self->peers[i]->id == id)
            return self->peers[i];
    return NULL;
}

/* Destroy a peer's sockets; report its link down if it was up. */
static void
s_peer_destroy (self_t *self, peer_t **peer_p, bool report)
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
s_peer_new (self_t *self, const msg_peer_t *mp, size_t secret)
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
    s_set_maxmsgsize (d, self->max_msg);
    if (self->keys) {
        peer_keys_connect_peer (self->keys, d, peer->id, secret);
        zsock_set_handshake_ivl (d, S_HANDSHAKE_MS);
    }

    /* Connect the monitor reader before the DEALER connects, so that no
       event is emitted with nobody to receive it. libzmq sends monitor
       events from its I/O thread with a blocking send, so the reader must
       be drained: every S_LINK_POLL_MS (s_handle_links); its queue holds
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
        s_peer_destroy (self, &peer, false);
        return NULL;
    }
    /* A peer may answer on this connection (through its ROUTER) when it
       does not know our endpoint yet: a server that is joining. */
    zloop_reader (self->loop, d, s_handle_dealer, peer);
    log_info ("transport: peer n%" PRIu64 " at %s", peer->id, peer->endpoint);
    return peer;
}

/* Make the peer set exactly `list` (minus this node). */
static void
s_set_peers (self_t *self, const msg_peer_t *list, size_t n)
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
            s_peer_destroy (self, &peer, true);
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
static void
s_send (self_t *self, raft_id_t to, zmsg_t *zm)
{
    zframe_t *payload = zmsg_last (zm);
    zmsg_remove (zm, payload);
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

/*  ---------------------------------------------------------------------
    Handlers                                                             */

static int
s_self_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    self_t *self = arg;
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
    self_t *self = arg;
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
            s_set_peers (self, m.peers, m.n_peers);
        } else if (m.kind == MSG_TRANSPORT_SEND) {
            s_send (self, m.to, zm);
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
    self_t *self = arg;
    for (int i = 0; i < S_BATCH; i++) {
        zmsg_t *zm = zmsg_recv (sock); /* RCVTIMEO 0: NULL when drained */
        if (!zm)
            break;
        msg_transport_t m;
        if (msg_transport_decode (zm, &m) < 0) {
            self->count.raft_malformed++;
        } else {
            if (m.kind == MSG_TRANSPORT_SEND)
                s_send (self, m.to, zm);
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
    self_t *self = arg;
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
        } else {
            s_to_raft (self, from, &payload);
            self->count.in_accepted++;
        }
        zmq_msg_close (&payload);
    }
    return 0;
}

/* A peer answered on our own DEALER (see s_send): one frame, the payload.
   With keys, CURVE checked the server's key: it is from that peer. */
static int
s_handle_dealer (zloop_t *loop, zsock_t *dealer, void *arg)
{
    (void)loop;
    peer_t *peer = arg;
    self_t *self = peer->self;
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
        } else {
            s_to_raft (self, self->keys ? peer->id : 0, &part);
            self->count.in_accepted++;
        }
        zmq_msg_close (&part);
    }
    return 0;
}

/* Reconnect peers[i] with the keys of the next secret line (a rotation is
   under way and it serves a key of another line). */
static void
s_peer_next_secret (self_t *self, size_t i)
{
    peer_t *old = self->peers[i];
    msg_peer_t mp = {.id = old->id};
    memcpy (mp.endpoint, old->endpoint, sizeof mp.endpoint);
    size_t next = (old->secret + 1) % peer_keys_secrets (self->keys);
    log_info ("transport: n%" PRIu64 " refuses our keys of secret %zu; "
              "trying secret %zu",
              old->id, old->secret + 1, next + 1);
    s_peer_destroy (self, &self->peers[i], true);
    self->peers[i] = s_peer_new (self, &mp, next);
    if (!self->peers[i]) /* a later "peers" retries */
        self->peers[i] = self->peers[--self->n_peers];
}

/*  The DEALERs' monitor events: two frames, [event: uint16, value:
    uint32] in host byte order, then the endpoint (libzmq's version 1
    format). Read every S_LINK_POLL_MS. */
static int
s_handle_links (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop, (void)timer_id;
    self_t *self = arg;
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

static int
s_handle_limit (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop, (void)reader;
    self_t *self = arg;
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
    self_t *self = arg;
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
    self_t *self = arg;
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

/*  ---------------------------------------------------------------------
    Lifecycle                                                            */

static zsock_t *
s_router_new (self_t *self)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    if (!router)
        return NULL;
    zsock_set_router_handover (router, 1);
    zsock_set_router_mandatory (router, 1);
    /* Per-connection receive queue; when full, libzmq stops reading that
       connection and the peer's own bounded queue drops. */
    zsock_set_rcvhwm (router, self->queue_max);
    s_set_maxmsgsize (router, self->max_msg);
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

static void s_self_destroy (self_t **self_p);

static self_t *
s_self_new (zsock_t *pipe, const transport_args_t *args)
{
    self_t *self = calloc (1, sizeof *self);
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
    zloop_timer (self->loop, S_LINK_POLL_MS, 0, s_handle_links, self);
    if (self->limit)
        zloop_timer (self->loop, S_HELD_CHECK_MS, 0, s_handle_held, self);
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n_peers; i++)
        s_peer_destroy (self, &self->peers[i], false);
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
    self_t *self = s_self_new (pipe, a);
    if (!self)
        log_error ("transport: out of memory at start");
    if (actor_ready (pipe, self ? self->status : ACTOR_NO_MEMORY) == 0) {
        log_info ("transport: listening on %s", self->listen);
        actor_run (self->loop);
    }
    s_self_destroy (&self);
}
