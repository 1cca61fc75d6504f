/*  monitor.c -- the monitor actor: a node's monitoring socket.

    Actors report trace events (msg/msg_trace.h) to it; it stamps each with
    the node id, a sequence number and the time, and publishes it on a
    ZeroMQ PUB that `nsxctl trace` (or anything speaking msg_trace.h)
    subscribes to.

    Protocol
    --------
    pipe (zactor, from main; the skeleton and its contract: actor.h):
        start-up  signal 0 once both sockets are bound; if the PULL or the
                  PUB cannot bind, signal 1 after logging why, and then
                  wait for "$TERM" only.
        "$TERM"   end the actor.
        "STATS"   answered with zstr_sendf (pipe, "%llu %llu %llu") of
                  published, dropped, malformed (see counters_t).

    PULL (bound on args->endpoint; each actor connects a PUSH with
    monitor_push_new): one frame per event, [1, kind, term, a, b, text].
    Anything else is counted malformed and dropped (with a warning at most
    once a second, S_REPORT_MS, so garbage cannot flood the log).

    XPUB (bound on args->listen, tcp; none if it is NULL or ""): two frames
    per event, [kind][1, node, seq, wall_us, mono_us, term, kind, a, b,
    text]. seq counts from 1 per process and is given to every well-formed
    event received, published or not, so subscribers see every loss as a
    gap. The first event is this actor's own "monitor" "up".

    Who may subscribe: with args->keys the XPUB serves CURVE with the
    cluster's monitor key, and the zap actor lets in only clients holding
    the trace key (peer_keys.h: `nsxctl trace` derives it from the cluster
    secret), so strangers get neither the events nor the terms and indexes
    they carry (which would help forge peer messages). At most
    args->max_subscribers connections are open at once (conn_limit.h), a
    handshake must finish within S_HANDSHAKE_MS, and a subscriber's frames
    are at most S_MAX_IN bytes (subscriptions are a byte and a topic).

    Nobody listening, nothing sent
    ------------------------------
    The PUB is an XPUB, so this actor sees subscriptions come and go; while
    no monitor in the process has a subscriber (monitor_listened ()),
    monitor_push returns at once and the actors send nothing. Tracing
    costs nothing then: make bench measured the monitor thread at 8% of
    the node's CPU and about 9 of its 60 system calls per write while
    nobody was watching. Events made before a subscription is seen are
    lost, as they would be to a PUB's late subscriber anyway.

    Never blocking
    --------------
    Tracing must not slow the node down. The actors' PUSHes send with
    ZMQ_DONTWAIT into a small queue (monitor_push); the PUB sends with
    ZMQ_DONTWAIT too, and libzmq's PUB drops, per subscriber, what exceeds
    args->hwm rather than block, so a subscriber that stops reading loses
    events and nobody waits for it. The PUB's drops are silent (libzmq
    does not count them; the subscriber sees the gap); "dropped" counts the
    events this actor itself failed to hand to libzmq.
*/
#include "monitor.h"
#include "actor.h"
#include "conn_limit.h"
#include "log.h"
#include "metrics.h"
#include "peer_keys.h"

#include <errno.h>
#include <stdatomic.h>
#include <time.h>

/* Topics subscribed on the monitor of a node (XPUB reports the first
   subscription and the last unsubscription of each topic): per node
   (node_ctx.h), so that a node nobody watches sends nothing even when
   another node of the same process is watched. Each thread counts on the
   counter it is bound to (monitor_bind), or on the process default. */
static atomic_int s_default_listeners;
static _Thread_local atomic_int *s_bound;

static inline atomic_int *
s_listeners (void)
{
    return s_bound ? s_bound : &s_default_listeners;
}

void
monitor_bind (atomic_int *listeners)
{
    s_bound = listeners;
}

#define S_DEFAULT_HWM 10000 /* PUB messages queued per subscriber */
#define S_PULL_HWM 10000    /* events queued towards the monitor */
#define S_PUSH_HWM 1000     /* per reporting actor */
#define S_BATCH                                                                \
    256 /* events read per loop turn: the pipe stays
                               responsive under a flood */
#define S_REPORT_MS 1000
#define S_HANDSHAKE_MS 3000
/* bytes per frame a subscriber may send: a subscription is a byte and a
   topic, but the CURVE handshake's INITIATE command is about 300 */
#define S_MAX_IN 4096
#define S_MAX_HELD (64 << 10) /* unfinished input per subscriber */
#define S_CHECK_MS 50         /* conn_limit_check */

typedef struct {
    uint64_t published; /* handed to the PUB */
    uint64_t dropped;   /* well-formed, but could not be encoded or sent */
    uint64_t malformed; /* undecodable messages on the PULL */
} counters_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *pull; /* NULL if the bind failed */
    zsock_t *pub;  /* NULL if the bind failed */
    zloop_t *loop;
    int status; /* 0, or 1: a socket could not bind */
    raft_id_t id;
    uint64_t seq; /* last seq given */
    counters_t count;
    uint64_t reported_malformed;
    int64_t last_report_ms;
    int topics; /* this monitor's share of s_listeners */
    conn_limit_t *limit;
} self_t;

static int s_self_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg);
static int s_handle_pull (zloop_t *loop, zsock_t *pull, void *arg);
static int s_handle_subscription (zloop_t *loop, zsock_t *pub, void *arg);
static int s_handle_limit (zloop_t *loop, zsock_t *reader, void *arg);
static int s_handle_check (zloop_t *loop, int timer_id, void *arg);

static uint64_t
s_clock_us (clockid_t clock)
{
    struct timespec ts;
    clock_gettime (clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static self_t *
s_self_new (zsock_t *pipe, const monitor_args_t *args)
{
    self_t *self = (self_t *)zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->id = args->id;

    self->pull = zsock_new (ZMQ_PULL);
    if (self->pull) {
        zsock_set_rcvhwm (self->pull, S_PULL_HWM);
        if (!args->endpoint || zsock_bind (self->pull, "%s", args->endpoint)) {
            log_error ("monitor: cannot bind %s: %s",
                       args->endpoint ? args->endpoint : "(null)",
                       zmq_strerror (zmq_errno ()));
            zsock_destroy (&self->pull);
        }
    }
    /* Without a listen endpoint the PUB stays unbound: libzmq drops what
       it is sent, and the actors' PUSHes still drain. */
    self->pub = zsock_new (ZMQ_XPUB);
    if (self->pub) {
        zsock_set_sndhwm (self->pub, args->hwm > 0 ? args->hwm : S_DEFAULT_HWM);
        zsock_set_linger (self->pub, 0);
        zsock_set_maxmsgsize (self->pub, S_MAX_IN);
        zsock_set_handshake_ivl (self->pub, S_HANDSHAKE_MS);
        if (args->keys)
            peer_keys_serve_monitor (args->keys, self->pub);
        if (args->listen && args->listen[0] &&
            zsock_bind (self->pub, "%s", args->listen) < 0) {
            log_error ("monitor: cannot bind %s: %s", args->listen,
                       zmq_strerror (zmq_errno ()));
            zsock_destroy (&self->pub);
        }
    }
    self->status = !self->pull || !self->pub ? 1 : 0;
    if (self->status) {
        /* Half a monitor would still take events and publish nothing:
           keep neither socket, so that a retry can bind both. */
        zsock_destroy (&self->pull);
        zsock_destroy (&self->pub);
        return self;
    }
    self->loop = zloop_new ();
    if (!self->loop) {
        self->status = ACTOR_NO_MEMORY;
        return self;
    }
    zloop_reader (self->loop, pipe, s_self_handle_pipe, self);
    zloop_reader (self->loop, self->pull, s_handle_pull, self);
    zloop_reader (self->loop, self->pub, s_handle_subscription, self);
    if (args->listen && args->listen[0]) {
        log_info ("monitor: publishing trace events on %s%s", args->listen,
                  args->keys ? " (CURVE: subscribers need the trace key)"
                             : " to anyone (--insecure-peers)");
        self->limit = conn_limit_new (
            self->pub, args->max_subscribers > 0 ? args->max_subscribers : 16,
            S_MAX_HELD, "monitor");
        if (self->limit) {
            zloop_reader (self->loop, conn_limit_reader (self->limit),
                          s_handle_limit, self);
            zloop_timer (self->loop, S_CHECK_MS, 0, s_handle_check, self);
        }
    }
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    zloop_destroy (&self->loop);
    conn_limit_destroy (&self->limit);
    zsock_destroy (&self->pull);
    zsock_destroy (&self->pub);
    atomic_fetch_sub (s_listeners (), self->topics);
    free (self);
    *self_p = NULL;
}

/* Stamp ev and publish it; never blocks. */
static void
s_publish (self_t *self, const msg_trace_ev_t *ev)
{
    msg_trace_t t = {.node = self->id,
                     .seq = ++self->seq,
                     .wall_us = s_clock_us (CLOCK_REALTIME),
                     .mono_us = s_clock_us (CLOCK_MONOTONIC),
                     .ev = *ev};
    zmsg_t *zm = msg_trace_encode (&t);
    if (!zm) {
        self->count.dropped++; /* out of memory, or node id 0 */
        metrics_add (METRICS_TRACE_DROPPED, 1);
        return;
    }
    void *pub = zsock_resolve (self->pub);
    zframe_t *topic = zmsg_first (zm);
    zframe_t *body = zmsg_next (zm);
    /* A PUB never refuses the first frame and then the second (it drops
       whole messages at the HWM), so one check per frame is enough. */
    if (zmq_send (pub, zframe_data (topic), zframe_size (topic),
                  ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send (pub, zframe_data (body), zframe_size (body), ZMQ_DONTWAIT) <
            0) {
        self->count.dropped++;
        metrics_add (METRICS_TRACE_DROPPED, 1);
    } else {
        self->count.published++;
        metrics_add (METRICS_TRACE_PUBLISHED, 1);
    }
    zmsg_destroy (&zm);
}

static void
s_report (self_t *self)
{
    int64_t now = zclock_mono ();
    if (self->count.malformed == self->reported_malformed ||
        now - self->last_report_ms < S_REPORT_MS)
        return;
    log_warn (
        "monitor: %llu malformed event(s) dropped",
        (unsigned long long)(self->count.malformed - self->reported_malformed));
    self->reported_malformed = self->count.malformed;
    self->last_report_ms = now;
}

static int
s_handle_pull (zloop_t *loop, zsock_t *pull, void *arg)
{
    (void)loop, (void)pull;
    self_t *self = arg;
    for (int i = 0; i < S_BATCH; i++) {
        zmsg_t *zm = zmsg_recv_nowait (self->pull);
        if (!zm)
            break;
        msg_trace_ev_t ev;
        if (msg_trace_ev_decode (zm, &ev) == 0)
            s_publish (self, &ev);
        else
            self->count.malformed++;
        zmsg_destroy (&zm);
    }
    s_report (self);
    return 0;
}

static int
s_self_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    self_t *self = arg;
    char *cmd = zstr_recv (pipe);
    if (!cmd)
        return 0; /* EINTR (a signal): main decides when to stop */
    bool term = streq (cmd, "$TERM");
    if (streq (cmd, "STATS"))
        zstr_sendf (pipe, "%llu %llu %llu",
                    (unsigned long long)self->count.published,
                    (unsigned long long)self->count.dropped,
                    (unsigned long long)self->count.malformed);
    else if (!term)
        log_warn ("monitor: unknown command '%s' on the pipe", cmd);
    zstr_free (&cmd);
    return term ? -1 : 0;
}

/* XPUB: one frame per (un)subscription, 1 or 0 then the topic. */
static int
s_handle_subscription (zloop_t *loop, zsock_t *pub, void *arg)
{
    (void)loop, (void)pub;
    self_t *self = arg;
    for (int i = 0; i < S_BATCH; i++) {
        zmq_msg_t m;
        zmq_msg_init (&m);
        if (zmq_msg_recv (&m, zsock_resolve (self->pub), ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&m);
            break;
        }
        int fd = zmq_msg_get (&m, ZMQ_SRCFD);
        if (self->limit && fd >= 0)
            conn_limit_delivered (self->limit, fd, zmq_msg_size (&m));
        const uint8_t *d = zmq_msg_data (&m);
        if (zmq_msg_size (&m) >= 1 && (d[0] == 0 || d[0] == 1)) {
            int delta = d[0] == 1 ? 1 : -1;
            if (self->topics + delta >= 0) {
                self->topics += delta;
                atomic_fetch_add (s_listeners (), delta);
            }
        }
        zmq_msg_close (&m);
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
        metrics_add (METRICS_MONITOR_CONNS_REFUSED, refused);
    if (failed)
        metrics_add (METRICS_MONITOR_HANDSHAKES_REFUSED, failed);
    return 0;
}

static int
s_handle_check (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop, (void)timer_id;
    self_t *self = arg;
    size_t cut = conn_limit_check (self->limit);
    if (cut)
        metrics_add (METRICS_MONITOR_CONNS_CUT, cut);
    return 0;
}

void
monitor_listeners_add (int n)
{
    atomic_fetch_add (s_listeners (), n);
}

bool
monitor_listened (void)
{
    return atomic_load_explicit (s_listeners (), memory_order_relaxed) > 0;
}

void
monitor_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (const monitor_args_t *)args);
    if (actor_ready (pipe, self->status) == 0) {
        msg_trace_ev_t up;
        s_publish (self, msg_trace_ev_set (&up, "monitor", 0, 0, 0, "up"));
        actor_run (self->loop);
    }
    s_self_destroy (&self);
}

/*  ---------------------------------------------------------------------
    The reporting side                                                   */

zsock_t *
monitor_push_new (const char *endpoint)
{
    zsock_t *push = zsock_new (ZMQ_PUSH);
    if (!push)
        return NULL;
    zsock_set_sndhwm (push, S_PUSH_HWM);
    zsock_set_linger (push, 0);
    /* inproc: connecting before the monitor binds is fine (ZeroMQ >= 4) */
    if (zsock_connect (push, "%s", endpoint) < 0) {
        zsock_destroy (&push);
        return NULL;
    }
    return push;
}

int
monitor_push (zsock_t *push, const msg_trace_ev_t *ev)
{
    if (!push)
        return -1;
    if (!monitor_listened ())
        return 0; /* nobody would see it */
    zmsg_t *zm = msg_trace_ev_encode (ev);
    if (!zm)
        return -1;
    zframe_t *frame = zmsg_first (zm);
    int rc = zmq_send (zsock_resolve (push), zframe_data (frame),
                       zframe_size (frame), ZMQ_DONTWAIT) < 0
                 ? -1
                 : 0;
    zmsg_destroy (&zm);
    if (rc)
        metrics_add (METRICS_TRACE_DROPPED, 1);
    return rc;
}

void
monitor_push_raft (void *push, const raft_event_t *ev)
{
    msg_trace_ev_t tev;
    msg_trace_ev_set (&tev, raft_event_name (ev->type), ev->term, ev->a, ev->b,
                      NULL);
    monitor_push ((zsock_t *)push, &tev);
}
