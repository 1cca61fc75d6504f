/*  node_int.h -- a node's state, shared by its files:

      node.c           start (endpoints, the actors' arguments, the actors
                       in order), wait, stop
      node_settings.c  what is checked before anything starts: access,
                       TLS, peer keys, the data directory's identity
*/
#ifndef NODE_INT_H_INCLUDED
#define NODE_INT_H_INCLUDED

#include "actors.h"
#include "auth.h"
#include "monitor.h"
#include "node.h"
#include "tls.h"
#include "ui_relay.h"

/* The actors, in start order (node.h says why). */
enum {
    NODE_MONITOR,
    NODE_RAFT,
    NODE_STORAGE,
    NODE_TRANSPORT,
    NODE_HTTP,
    NODE_UI, /* the /ui page's relay (ui_relay.c) */
    NODE_ACTORS
};

struct node {
    nsxd_config_t c;
    raft_conf_t bootstrap;
    bool have_bootstrap;
    node_ctx_t *ctx;
    http_auth_t *auth;
    bool auth_loose;
    SSL_CTX *tls_server, *tls_client;
    peer_keys_t *keys;
    bool zap_registered;
    bool civetweb; /* mg_init_library called */
    store_identity_t ident;
    kv_shared_t kv_shared;
    watch_hub_t *watch; /* the changes for watches: storage in, http out */
    /* the /ui page's events: the relay in, http out */
    ui_feed_t *ui_feed;
    char monitor_addr[256]; /* /health's "monitor_addr" */
    fault_t *faults;    /* injected faults: http in, transport and storage
                           out; and POST /debug/stop (fault.h) */
    /* unique per node: "inproc://nsxd-<pid>-<seq>-<name>" */
    char ep_storage[64], ep_transport[64], ep_api[64], ep_monitor[64],
        ep_send[64];
    char source_ip[64];
    /* the actors' arguments live as long as the actors */
    monitor_args_t ma;
    raft_actor_args_t ra;
    storage_args_t sa;
    transport_args_t ta;
    http_args_t ha;
    ui_relay_args_t ua;
    zactor_t *actors[NODE_ACTORS];
    zpoller_t *poller;
    bool failed;
};

/* node_settings.c: each 0, or -1 after a message. */
int node_settings (node_t *self);
int node_identity (node_t *self);

#endif
