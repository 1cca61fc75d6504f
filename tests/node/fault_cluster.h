/*  fault_cluster.h -- three nsxd nodes in one process for test_faults.c:
    started from flags as nsxd's main does (with or without
    --enable-faults), asked over HTTP, watched through /health and
    /metrics. Every wait is bounded.

    Ports, fixed: HTTP 127.0.0.1:6110-6112, peers tcp://127.0.0.1:6210-
    6212, monitoring sockets tcp://127.0.0.1:6220-6222.
*/
#ifndef FAULT_CLUSTER_H_INCLUDED
#define FAULT_CLUSTER_H_INCLUDED

#include "client.h"
#include "node.h"

#include <jansson.h>
#include <stdbool.h>

#define FC_NODES 3
#define FC_HTTP_BASE 6110
#define FC_PEER_BASE 6210
#define FC_MON_BASE 6220

extern node_t *fc_nodes[FC_NODES + 1]; /* by id; NULL: stopped */
extern char fc_dir[256];               /* the data directories' parent */

/* Start node id on fc_dir/n<id>, heartbeats at a sixth of election_ms:
   0, or the status. */
int fc_start (int id, bool faults, int election_ms);
void fc_stop (int id);

/* A request to node id (free the response). */
http_client_resp_t fc_req (int id, const char *method, const char *path,
                           const char *body);
/* Status of a request; its body as JSON in *out when out is not NULL
   (the caller decrefs; NULL if not JSON). */
int fc_call (int id, const char *method, const char *path, const char *body,
             json_t **out);
/* POST /debug/fault body on node id: the status. */
int fc_fault (int id, const char *body);
json_t *fc_health (int id);
/* Node id's role ("" if it does not answer), term, leader id. */
void fc_view (int id, char *role, size_t len, long long *term,
              long long *leader);
/* The leader every node in `among` (a bit per id) agrees on, other than
   `not`, within timeout_ms; 0 if none. */
int fc_wait_leader (unsigned among, int not_, int timeout_ms);
int fc_put (int id, const char *key, const char *value);
bool fc_wait_value (int id, const char *key, const char *value, bool stale,
                    int timeout_ms);
/* A sample of node id's /metrics ("name" or "name{labels}"), or -1. */
long long fc_metric (int id, const char *name);

#endif
