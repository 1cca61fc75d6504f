/*  trace_client.c -- see trace_client.h.

    One SUB socket connected to every node's PUB (ZeroMQ fair-queues
    them). Events wait in a buffer for TRACE_CLIENT_DELAY_MS after they
    arrive, then leave it in (wall_us, node, seq) order. The delay counts
    from arrival on this machine, not from the nodes' clocks, so a node
    whose clock is ahead or behind cannot stall or rush the output: what
    arrives later than the delay is printed late, out of order, not lost.

    A node's wall clock may step backwards (NTP); sorting by raw wall time
    would then print its later events before its earlier ones. Each event
    is sorted by its node's wall time so far (the maximum over its events
    up to it), which keeps every node's events in seq order: one PUB to one
    SUB is a FIFO, so they arrive in seq order.
*/
#include "trace_client.h"
#include "msg_trace.h"

#include <czmq.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_POLL_MS 50
#define S_RCVHWM 100000 /* a burst waits in the SUB rather than being lost */

typedef struct {
    msg_trace_t t;
    uint64_t sort_us; /* the node's wall time so far */
    uint64_t order;   /* arrival order: the last tie-breaker */
    int64_t arrived_ms;
} entry_t;

typedef struct {
    uint64_t node;
    uint64_t last_seq;
    uint64_t last_wall_us;
} node_t;

typedef struct {
    entry_t *buf;
    size_t n, cap;
    node_t *nodes;
    size_t n_nodes, cap_nodes;
    uint64_t order;
    uint64_t malformed;
    uint64_t lost;
    bool json;
    bool hide_msgs; /* msg_send, msg_recv: only when asked for by --kind */
    FILE *out;
} client_t;

static int
s_cmp (const void *pa, const void *pb)
{
    const entry_t *a = pa, *b = pb;
    if (a->sort_us != b->sort_us)
        return a->sort_us < b->sort_us ? -1 : 1;
    if (a->t.node != b->t.node)
        return a->t.node < b->t.node ? -1 : 1;
    if (a->t.seq != b->t.seq)
        return a->t.seq < b->t.seq ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* NULL only on out of memory. */
static node_t *
s_node (client_t *c, uint64_t id)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].node == id)
            return &c->nodes[i];
    if (c->n_nodes == c->cap_nodes) {
        size_t cap = c->cap_nodes ? 2 * c->cap_nodes : 8;
        node_t *nodes = realloc (c->nodes, cap * sizeof *nodes);
        if (!nodes)
            return NULL;
        c->nodes = nodes;
        c->cap_nodes = cap;
    }
    node_t *node = &c->nodes[c->n_nodes++];
    *node = (node_t){.node = id};
    return node;
}

static void
s_add (client_t *c, const msg_trace_t *t)
{
    node_t *node = s_node (c, t->node);
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        entry_t *buf = realloc (c->buf, cap * sizeof *buf);
        if (!buf || !node) {
            if (buf)
                c->buf = buf;
            c->lost++; /* out of memory: count it as lost */
            return;
        }
        c->buf = buf;
        c->cap = cap;
    }
    if (!node) {
        c->lost++;
        return;
    }
    if (t->seq <= node->last_seq)
        node->last_wall_us = 0; /* a lower seq: the node restarted */
    else if (node->last_seq && t->seq > node->last_seq + 1)
        c->lost += t->seq - node->last_seq - 1;
    node->last_seq = t->seq;
    if (t->wall_us > node->last_wall_us)
        node->last_wall_us = t->wall_us;
    if (c->hide_msgs && strncmp (t->ev.kind, "msg_", 4) == 0)
        return; /* seen (no gap), not shown */
    c->buf[c->n++] = (entry_t){.t = *t,
                               .sort_us = node->last_wall_us,
                               .order = c->order++,
                               .arrived_ms = zclock_mono ()};
}

static void
s_print (client_t *c, const msg_trace_t *t)
{
    if (c->json) {
        char *line = msg_trace_json (t);
        if (line) {
            fprintf (c->out, "%s\n", line);
            free (line);
        }
    } else {
        char line[512];
        msg_trace_render (t, line, sizeof line);
        fprintf (c->out, "%s\n", line);
    }
}

/* Print, in order, the events that have waited long enough (all of them
   when all). An event still waiting holds back those sorted after it. */
static void
s_flush (client_t *c, bool all)
{
    if (c->n == 0)
        return;
    qsort (c->buf, c->n, sizeof *c->buf, s_cmp);
    int64_t now = zclock_mono ();
    size_t i = 0;
    while (i < c->n &&
           (all || c->buf[i].arrived_ms + TRACE_CLIENT_DELAY_MS <= now))
        s_print (c, &c->buf[i++].t);
    memmove (c->buf, c->buf + i, (c->n - i) * sizeof *c->buf);
    c->n -= i;
    if (i)
        fflush (c->out);
}

static void
s_receive (client_t *c, zsock_t *sub)
{
    for (int i = 0; i < 1024; i++) {
        zmsg_t *zm = zmsg_recv_nowait (sub);
        if (!zm)
            break;
        msg_trace_t t;
        if (msg_trace_decode (zm, &t) == 0)
            s_add (c, &t);
        else
            c->malformed++;
        zmsg_destroy (&zm);
    }
}

int
trace_client_run (const char **endpoints, size_t n, const char **kinds,
                  size_t n_kinds, bool json, int duration_ms,
                  const peer_keys_t *keys, FILE *out)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    if (!sub)
        return -1;
    if (keys)
        peer_keys_connect_monitor (keys, sub, 0);
    zsock_set_rcvhwm (sub, S_RCVHWM);
    zsock_set_linger (sub, 0);
    if (n_kinds == 0)
        zsock_set_subscribe (sub, "");
    for (size_t i = 0; i < n_kinds; i++)
        zsock_set_subscribe (sub, kinds[i]);
    for (size_t i = 0; i < n; i++)
        if (zsock_connect (sub, "%s", endpoints[i]) < 0) {
            fprintf (stderr, "trace: cannot connect to %s: %s\n", endpoints[i],
                     zmq_strerror (zmq_errno ()));
            zsock_destroy (&sub);
            return -1;
        }
    zpoller_t *poller = zpoller_new (sub, NULL);
    if (!poller) {
        zsock_destroy (&sub);
        return -1;
    }

    /* Every Raft message is a trace event (for the /ui page): a flood
       that `nsxctl trace` shows only when --kind asks for it (msg_). */
    client_t c = {.json = json, .hide_msgs = n_kinds == 0, .out = out};
    int64_t end = zclock_mono () + duration_ms;
    while (!zsys_interrupted) {
        int timeout = S_POLL_MS;
        if (duration_ms > 0) {
            int64_t left = end - zclock_mono ();
            if (left <= 0)
                break;
            if (left < timeout)
                timeout = (int)left;
        }
        void *which = zpoller_wait (poller, timeout);
        if (which == sub)
            s_receive (&c, sub);
        else if (!which && zmq_errno () == ETERM)
            break; /* the context is going away */
        /* SIGINT ends the loop through zsys_interrupted; other signals
           (EINTR) do not */
        s_flush (&c, false);
    }
    s_receive (&c, sub); /* whatever arrived by now is printed too */
    s_flush (&c, true);
    if (c.malformed || c.lost)
        fprintf (stderr,
                 "trace: %llu malformed message(s) skipped, %llu event(s) "
                 "lost (seq gaps)\n",
                 (unsigned long long)c.malformed, (unsigned long long)c.lost);
    zpoller_destroy (&poller);
    zsock_destroy (&sub);
    free (c.buf);
    free (c.nodes);
    return 0;
}
