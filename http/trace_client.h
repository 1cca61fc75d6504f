/*  trace_client.h -- the subscriber side of the monitoring sockets, for
    `nsxctl trace`: one merged, time-ordered timeline of every node's
    trace events (msg/msg_trace.h).
*/
#ifndef TRACE_CLIENT_H_INCLUDED
#define TRACE_CLIENT_H_INCLUDED

#include "peer_keys.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Hold each event this long before printing it, so that one that comes
   a little later from another node, but happened earlier, is printed
   before it. */
#define TRACE_CLIENT_DELAY_MS 200

/* Subscribe to every endpoint (ZeroMQ endpoints of nodes' monitoring
   PUBs, e.g. "tcp://127.0.0.1:9101") and print their events to out, one
   line each (msg_trace_render, or msg_trace_json when json), sorted by
   (wall time, node, seq): events from different nodes interleave in time
   order, each node's stay in seq order. kinds (n_kinds > 0) are topic
   prefixes to subscribe to ("election" gets election_start, _won and
   _lost); n_kinds 0 gets everything but the Raft messages (msg_send,
   msg_recv: "msg" asks for them).

   keys: the cluster's (peer_keys.h), to subscribe with the trace key over
   CURVE; NULL for nodes run with --insecure-peers.

   Runs for duration_ms, or until SIGINT when duration_ms is 0 (czmq's
   handler must be installed, as it is by default). Returns 0, or -1 if
   an endpoint is refused (bad syntax) or a socket cannot be made.
   Malformed messages are skipped; at the end a line on stderr counts
   them and the events lost (gaps in a node's seq), when there are any. */
int trace_client_run (const char **endpoints, size_t n, const char **kinds,
                      size_t n_kinds, bool json, int duration_ms,
                      const peer_keys_t *keys, FILE *out);

#endif
