/*  node_fixture.h -- one real node in the test's process (a cluster of
    one, started from flags as nsxd's main does), and JSON requests to its
    HTTP API: what the suites that drive the whole node over HTTP share
    (test_http_session, test_http_txn, test_http_watch through
    watch_client.c).

    Each suite has its own ports (its HTTP port p, peer p + 100, monitor
    p + 200, so that suites never meet) and its own extra flags:

        static const char *extra[] = {"--max-key", "16", NULL};
        node_t *n;
        CHECK (nf_start (&n, 5140, dir, extra) == 0);
        CHECK (nf_wait_leader ("127.0.0.1:5140"));
        json_t *j;
        CHECK_EQ (nf_req ("127.0.0.1:5140", "GET", "/kv/get?key=a", NULL,
                          &j), 404);

    Fast elections (200 ms, heartbeats 40 ms) and --insecure-peers (one
    node has no peers). Every request has a timeout and every wait a
    deadline.
*/
#ifndef NODE_FIXTURE_H_INCLUDED
#define NODE_FIXTURE_H_INCLUDED

#include "node.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Start a node with HTTP on 127.0.0.1:port, its data in dir/n1, and the
   flags extra (NULL-terminated; NULL: none). 0 and *node, or the status
   node_start returned (2: flags refused). */
int nf_start (node_t **node, int port, const char *dir,
              const char *const *extra);
/* One request to ep ("127.0.0.1:<port>", 5 s timeout): its status (0: none), and its body as JSON
   in *j (NULL if none) when j is given. */
int nf_req (const char *ep, const char *method, const char *path,
            const char *body, json_t **j);
/* j's integer k, or -1. */
int64_t nf_int (json_t *j, const char *k);
/* j's string k, or "" if absent. */
const char *nf_str (json_t *j, const char *k);
bool nf_str_is (json_t *j, const char *k, const char *want);
/* Wait (5 s at most) until the node leads: a PUT answers 200. */
bool nf_wait_leader (const char *ep);

#endif
