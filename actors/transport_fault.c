/*  transport_fault.c -- the transport actor's part of fault injection
    (actors/fault.h, --enable-faults): where the faults a student set act
    on peer messages.

      out  every payload on its way to a peer, from the raft actor's PAIR
           and from storage's PULL alike (transport_send), is dropped if
           the faults cut that direction of that link (or isolate the
           node), else held if a delay applies: a delayed message waits in
           its peer's queue until its time, and every later message to
           that peer queues behind it, so a peer sees them in order even
           once the delay is lowered or cleared. A queue holds at most
           args->queue_max messages (what the peer's own socket would
           hold); beyond that, a message is dropped, as a full socket
           drops it. A faulty link must never grow memory without bound.
      in   every payload from a peer, on the ROUTER or on our DEALER, is
           dropped if the faults cut that direction of that link. The
           sender is the member its link authenticated (CURVE), or with
           --insecure-peers the identity its DEALER connected with (its id
           in decimal: good enough to choose what to drop, as anything from
           an unauthenticated link is).

    Each drop and each hold is counted (nsxd_fault_messages_dropped_total
    {direction}, nsxd_fault_messages_delayed_total). Queued messages are
    sent by a timer that runs every S_TICK_MS while any are queued.
*/
#include "transport_int.h"

#include "fault.h"

#define S_TICK_MS 5

typedef struct {
    int64_t due; /* zclock_mono () at which it may go */
    zframe_t *payload;
} s_held_t;

typedef struct {
    raft_id_t peer;
    zlist_t *held; /* s_held_t, in order of due (and of sending) */
} s_queue_t;

struct transport_delayq {
    s_queue_t q[RAFT_MAX_SERVERS];
    size_t n;
    size_t held; /* in every queue */
    int timer;   /* zloop timer id while something is held, else -1 */
};

void
transport_fault_destroy (transport_t *self)
{
    transport_delayq_t *d = self->delayq;
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        s_held_t *h;
        while ((h = zlist_pop (d->q[i].held))) {
            zframe_destroy (&h->payload);
            free (h);
        }
        zlist_destroy (&d->q[i].held);
    }
    free (d);
    self->delayq = NULL;
}

static s_queue_t *
s_queue (transport_t *self, raft_id_t peer, bool add)
{
    transport_delayq_t *d = self->delayq;
    if (!d) {
        if (!add || !(d = self->delayq = calloc (1, sizeof *d)))
            return NULL;
        d->timer = -1;
    }
    for (size_t i = 0; i < d->n; i++)
        if (d->q[i].peer == peer)
            return &d->q[i];
    if (!add || d->n == RAFT_MAX_SERVERS)
        return NULL;
    zlist_t *l = zlist_new ();
    if (!l)
        return NULL;
    d->q[d->n] = (s_queue_t){.peer = peer, .held = l};
    return &d->q[d->n++];
}

static void
s_drop_out (zframe_t **payload)
{
    zframe_destroy (payload);
    metrics_add (METRICS_FAULT_DROPPED_OUT, 1);
}

/* Send what is due; the timer ends once nothing is held. */
static int
s_handle_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop, (void)timer_id;
    transport_t *self = arg;
    transport_delayq_t *d = self->delayq;
    int64_t now = zclock_mono ();
    for (size_t i = 0; d && i < d->n; i++) {
        s_held_t *h;
        while ((h = zlist_first (d->q[i].held)) && h->due <= now) {
            zlist_pop (d->q[i].held);
            d->held--;
            if (fault_drops (self->faults, d->q[i].peer, FAULT_DIR_OUT))
                s_drop_out (&h->payload); /* isolated meanwhile */
            else
                transport_send_frame (self, d->q[i].peer, &h->payload);
            free (h);
        }
    }
    if (d && d->held == 0 && d->timer != -1) {
        zloop_timer_end (self->loop, d->timer);
        d->timer = -1;
    }
    return 0;
}

bool
transport_fault_out (transport_t *self, raft_id_t to, zframe_t **payload)
{
    s_queue_t *q = s_queue (self, to, false);
    bool queued = q && zlist_size (q->held) > 0;
    if (!queued && !fault_any (self->faults))
        return false;
    if (fault_drops (self->faults, to, FAULT_DIR_OUT)) {
        s_drop_out (payload);
        return true;
    }
    uint32_t ms = fault_delay_ms (self->faults, to);
    if (!ms && !queued)
        return false;
    if (!q && !(q = s_queue (self, to, true)))
        return false; /* no room for another queue: not delayed */
    if (zlist_size (q->held) >= (size_t)self->queue_max) {
        s_drop_out (payload); /* as the peer's full socket would */
        return true;
    }
    s_held_t *h = malloc (sizeof *h);
    if (!h) {
        s_drop_out (payload);
        return true;
    }
    /* In order: never before the one queued ahead of it. */
    s_held_t *last = zlist_last (q->held);
    h->due = zclock_mono () + ms;
    if (last && last->due > h->due)
        h->due = last->due;
    h->payload = *payload;
    *payload = NULL;
    zlist_append (q->held, h);
    transport_delayq_t *d = self->delayq;
    d->held++;
    metrics_add (METRICS_FAULT_DELAYED, 1);
    if (d->timer == -1)
        d->timer = zloop_timer (self->loop, S_TICK_MS, 0, s_handle_tick, self);
    return true;
}

bool
transport_fault_in (transport_t *self, raft_id_t from)
{
    if (!fault_drops (self->faults, from, FAULT_DIR_IN))
        return false;
    metrics_add (METRICS_FAULT_DROPPED_IN, 1);
    return true;
}

raft_id_t
transport_fault_sender (zmq_msg_t *identity)
{
    size_t n = zmq_msg_size (identity);
    const char *p = zmq_msg_data (identity);
    raft_id_t id = 0;
    if (n == 0 || n > 19)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        id = id * 10 + (raft_id_t)(p[i] - '0');
    }
    return id;
}
