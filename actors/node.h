/*  node.h -- one whole nsxd node: started from its configuration, watched,
    stopped. nsxd's main is flags -> node_start -> node_wait until a
    signal or a failure -> node_stop; tests/node/test_inproc_cluster.c runs
    three nodes in one process the same way.

    What node_start does, in order (node.c):
      1. settings that must be right before anything starts: the access
         list (--auth-file), TLS, the peer keys (--peer-secret-file, or
         --insecure-peers said loudly);
      2. the data directory and its identity (README, "Identity"),
         including the founder's check: an empty directory whose cluster
         already runs is not bootstrapped (node_join.c asks the others);
      3. the node's context (node_ctx.h: its log identity, metrics,
         monitor listeners), then the actors, each with actor_start
         (actor.h), on inproc endpoints unique to this node: the keys
         registered with the process's zap actor first, then monitor,
         raft, storage, transport, http.

    Start order matters for the inproc sockets: the raft actor before
    storage and transport (it connects to them before they bind, which
    inproc allows since ZeroMQ 4, and binds the API endpoint), storage
    before transport (its first message, "boot", needs the raft actor's
    PAIR to be there), http last (its workers connect to the raft actor's
    API endpoint). node_stop: a leader first hands leadership over
    (§3.10), then http, raft, transport, storage (closing LevelDB after
    every actor that could ask it something) and the monitor stop.
*/
#ifndef NODE_H_INCLUDED
#define NODE_H_INCLUDED

#include "node_ctx.h"
#include "nsxd_config.h"
#include "raft.h"

#include <signal.h>

typedef struct node node_t;

/* Start a node from c and its founding configuration (--cluster, parsed;
   NULL: none). c is copied. 0 with *node_p set, or the exit status for
   main, after logging why: 2 a setting is unusable (access list, TLS,
   peer secret), 1 the node could not start (data directory, identity,
   an actor). */
int node_start (const nsxd_config_t *c, const raft_conf_t *bootstrap,
                node_t **node_p);

/* --join: ask the cluster to add this node (POST /raft/join), following
   leader hints, until it is added or *stop is set. 0, or -1: this data
   directory belongs to another cluster. Without --join: logs how to add
   it, 0. */
int node_join (node_t *self, volatile sig_atomic_t *stop);

/* Wait up to timeout_ms for an actor to report a failure ("FAILED",
   actor.h). 0: none; -1: one failed (logged): stop the node; 1: POST
   /debug/stop asked for a graceful stop (--enable-faults): stop the node
   as SIGTERM does. */
int node_wait (node_t *self, int timeout_ms);

/* Stop the node and free it; NULL is a no-op. A node that did not fail
   hands leadership over first, waiting at most 3 election timeouts. */
void node_stop (node_t **self_p);

/* The log level named by --log-level (debug, info, warn, error). */
log_level_t node_log_level (const char *name);

/* The node's context (tests read its metrics through /metrics). */
node_ctx_t *node_context (node_t *self);

/* The raft actor's API endpoint (inproc), where the HTTP workers send
   msg_api.h requests: tests send requests no HTTP route builds there. */
const char *node_api_endpoint (const node_t *self);

#endif
