/*  node_join.h -- what a node asks other members over HTTP before and
    while it starts (node.c): whether its cluster already runs (the
    founder's check), and --join.
*/
#ifndef NODE_JOIN_H_INCLUDED
#define NODE_JOIN_H_INCLUDED

#include "nsxd_config.h"
#include "raft.h"
#include "store_identity.h"

#include <openssl/ssl.h>
#include <signal.h>
#include <stdbool.h>

/* Ask the other founders' /health (1 s each): does one of them report
   this cluster past its bootstrap entry (commit > 1)? Then an empty
   directory here is not a founder's first start but, most likely, a
   founder's wiped disk (README, "Identity"). Unreachable or unreadable
   answers count as no; why says which node answered yes. */
bool node_join_cluster_running (const raft_conf_t *boot, raft_id_t self,
                                const char *cluster_id, SSL_CTX *tls, char *why,
                                size_t why_len);

/* POST /raft/join {"peer": our advertised API, "id"} to c->join, following
   leader hints, retrying every second, until it answers 200 or *stop is
   set; then record the cluster's id (the leader's /health) in ident. 0,
   or -1 if the directory belongs to another cluster. */
int node_join_cluster (const nsxd_config_t *c, SSL_CTX *tls,
                       store_identity_t *ident, volatile sig_atomic_t *stop);

#endif
