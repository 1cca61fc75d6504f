/*  monitor.h -- the monitor actor: a node's monitoring socket (ZeroMQ PUB)
    streaming trace events (msg/msg_trace.h), and the helpers other actors
    use to report events to it. The protocol is at the top of monitor.c.
*/
#ifndef MONITOR_H_INCLUDED
#define MONITOR_H_INCLUDED

#include "msg_trace.h"
#include "peer_keys.h"
#include "raft.h"

#include <czmq.h>
#include <stdatomic.h>

typedef struct {
    raft_id_t id;         /* stamped on every event; not 0 */
    const char *listen;   /* tcp endpoint for the PUB, e.g.
                             "tcp://127.0.0.1:9101", or NULL / "" for none
                             (events are then received and discarded) */
    const char *endpoint; /* inproc PULL the actors PUSH events to; the
                             monitor binds it */
    int hwm;              /* PUB send high-water mark per subscriber
                             (messages; 0: S_DEFAULT_HWM in monitor.c) */
    peer_keys_t *keys;    /* CURVE: subscribers need the trace key; NULL:
                             anyone may subscribe (--insecure-peers) */
    int max_subscribers;  /* connections open at once (0: 16) */
} monitor_args_t;

void monitor_actor (zsock_t *pipe, void *args);

/* A PUSH connected to the monitor's endpoint, for one actor (one thread:
   ZeroMQ sockets are not thread-safe). Its queue is small and it never
   lingers, so a monitor that is gone or slow costs events, never a
   blocked actor. NULL on failure. Destroy it with zsock_destroy. */
zsock_t *monitor_push_new (const char *endpoint);

/* Send ev without blocking: 0, or -1 if it was dropped (queue full, no
   monitor, ev invalid). push may be NULL (tracing off): -1. */
int monitor_push (zsock_t *push, const msg_trace_ev_t *ev);
/* Whether this thread's node's monitor has a subscriber: while it has
   none, monitor_push sends nothing (monitor.c), and callers may skip
   building events. */
bool monitor_listened (void);
/* The node's subscriber count this thread reads and (in the monitor
   actor) writes from now on (node_ctx.h; NULL: the process default). */
void monitor_bind (atomic_int *listeners);
/* For a reader of the events without a monitor actor (a test's own PULL):
   count it as a listener (+1), and stop (-1). */
void monitor_listeners_add (int n);

/* The same for one core event: kind raft_event_name (ev->type). Fits
   raft_options_t.trace with trace_ctx = the PUSH:
       opts.trace = monitor_push_raft; opts.trace_ctx = push; */
void monitor_push_raft (void *push, const raft_event_t *ev);

#endif
