/*  actors.h -- the actors of an nsxd node and how main starts them.

    Each actor is a czmq zactor (see czmq's src/zmonitor.c for the shape):
    it signals its pipe once initialised, ends on "$TERM", and owns its
    sockets. The actors talk over inproc sockets, msgpack on every edge
    (msg/):

        civetweb workers --DEALER--> ROUTER [raft] PAIR <--> PAIR [storage]
                                            [raft] PAIR <--> PAIR [transport]
        peers --tcp DEALER--> ROUTER [transport] --tcp DEALER--> peers

    Endpoints are unique per node: "inproc://nsxd-<pid>-<node>-<name>"
    (node.c), so that several nodes can run in one process. The skeleton
    every actor follows, and how they start and fail: actor.h.
*/
#ifndef ACTORS_H_INCLUDED
#define ACTORS_H_INCLUDED

#include "auth.h"
#include "fault.h"
#include "peer_keys.h"
#include "raft.h"
#include "store.h"
#include "store_identity.h"
#include "watch_hub.h"

#include <czmq.h>
#include <openssl/ssl.h>
#include <stdatomic.h>

/* The KV data, shared for reading: the storage actor publishes its store
   here once it is open and loaded, and the HTTP workers read it with
   store_read_kv (LevelDB reads are thread-safe), so a GET does not queue
   behind the storage actor. Every write stays with the storage actor.
   Main stops the http actor before the storage actor closes the store. */
typedef struct {
    _Atomic (store_t *) store;
} kv_shared_t;

/* zap.c: the process's ZAP handler, deciding CURVE handshakes by the
   keys of every node that registered (see peer_keys.h). A node registers
   before any of its sockets serves CURVE (without a handler, libzmq lets
   every client in), and unregisters after they are closed; keys must
   stay valid until then. zap_register starts the actor with the first
   keys: 0, or -1 if it cannot (logged). */
int zap_register (peer_keys_t *keys);
void zap_unregister (peer_keys_t *keys);
void zap_actor (zsock_t *pipe, void *args);

/* storage.c: LevelDB holds the Raft log, the hard state, the KV data and
   the applied index. Binds `endpoint` (PAIR). If the database is new and
   bootstrap is not NULL, writes the bootstrap configuration entry
   (raft_bootstrap_entry) and term 1 before sending "boot". */
typedef struct {
    const char *data_dir;
    const char *endpoint;
    const raft_conf_t *bootstrap;
    const char *monitor_endpoint; /* monitor actor's PULL; NULL: no trace */
    int slow_fsync_ms;         /* a synced write this slow is traced and logged
                            ("slow_fsync"); 0: every one is traced (to
                            watch group commit), none logged */
    kv_shared_t *shared;       /* where to publish the store, or NULL */
    uint64_t quota_bytes;      /* --quota-bytes: near it, deleted data's space
                             is given back by a full compaction (0: none) */
    const char *send_endpoint; /* the transport's PULL for "send": where
                                  "after" messages go once durable; NULL:
                                  none ("after" stops the node) */
    watch_hub_t *watch;        /* where applied changes go for watches
                                  (watch_hub.h), or NULL: none */
    fault_t *faults;           /* slow_fsync (fault.h), or NULL: none */
} storage_args_t;
void storage_actor (zsock_t *pipe, void *args);

/* transport.c: one ROUTER bound on `listen` (tcp) for inbound peer
   traffic, one DEALER per peer. Binds `endpoint` (PAIR) for the raft
   actor. */
typedef struct {
    raft_id_t id;
    const char *listen; /* e.g. "tcp://127.0.0.1:9001" */
    const char *endpoint;
    int queue_max;      /* per-peer send queue (messages) */
    size_t max_msg;     /* larger inbound messages are dropped */
    const char *source; /* IP our links start from, or NULL: any. With one
                           127.0.0.x per node, iptables can cut one link. */
    peer_keys_t *keys;  /* CURVE on every link (peer_keys.h), or NULL:
                           --insecure-peers, nothing authenticated */
    int max_conns;      /* inbound connections open at once, at most */
    const char *send_endpoint; /* PULL bound here: "send" from the storage
                                  actor (what waits on durability); NULL:
                                  none */
    fault_t *faults;           /* drops and delays (fault.h), or NULL: none */
} transport_args_t;
void transport_actor (zsock_t *pipe, void *args);

/* http.c: civetweb on `listen` (host:port); each worker thread reaches the
   raft actor through its own DEALER connected to `api_endpoint`. Access
   control, TLS and the request deadline: http/access.h and README,
   "Security". Zero values are the defaults (no tokens, admin on loopback
   only, plain HTTP). Main owns what the pointers point to and frees it
   after the actor stopped. */
typedef struct {
    const char *listen; /* e.g. "127.0.0.1:8001" */
    const char *api_endpoint;
    int threads;
    int timeout_ms; /* request deadline (answering) */
    int read_ms;    /* headers and body must arrive within this; 0: 5000 */
    size_t max_body;
    size_t max_key;
    size_t max_value;
    uint64_t session_ttl_ms;      /* a new session's TTL; 0: the default */
    const char *monitor_endpoint; /* monitor actor's PULL; NULL: no trace */
    kv_shared_t *shared;      /* the KV data for GETs, or NULL: the raft actor
                            reads it through storage (tests) */
    const http_auth_t *auth;  /* --auth-file's tokens, or NULL: none */
    bool auth_file_loose;     /* that file is readable by group or others */
    bool auth_health;         /* /health and /metrics need a read token */
    bool open_admin;          /* no tokens: admin routes open to anyone */
    SSL_CTX *tls_server;      /* serve HTTPS with it, or NULL: plain HTTP */
    SSL_CTX *tls_client;      /* for /raft/join's fetch: https with it, or
                                NULL: plain http */
    const char *peer_auth;    /* the peer links' authentication, shown in
                                 /health ("none", "curve", ...) */
    const char *peer_warning; /* a weakened peer setting for /health's
                                 warnings, or NULL */
    watch_hub_t *watch;       /* the changes GET /kv/watch serves, or NULL:
                                 503 (http/http_watch.c) */
    const char *watch_cors;   /* its Access-Control-Allow-Origin, or NULL */
    /* what /ui/events streams (ui_feed.h), or NULL: 503 */
    struct ui_feed_t *ui_feed;
    /* /health's "monitor_addr", or NULL */
    const char *monitor_addr;
    fault_t *faults; /* /debug/fault and /debug/stop (fault.h), or NULL:
                        403 faults_disabled */
} http_args_t;
void http_actor (zsock_t *pipe, void *args);

/* raft_actor.c: owns the timers and the consensus core, routes its
   outputs. Connects to storage and transport; binds api_endpoint. */
typedef struct {
    raft_id_t id;
    const char *peer_advertise; /* tcp endpoint others reach us at */
    const char *http_advertise; /* host:port others reach our API at */
    const char *storage_endpoint;
    const char *transport_endpoint;
    const char *api_endpoint;
    int heartbeat_ms;
    int election_ms;
    int timeout_ms;               /* request deadline */
    const char *monitor_endpoint; /* monitor actor's PULL; NULL: no trace */
    uint64_t compact_entries;     /* compact the log every this many applied
                                     entries; 0: never */
    uint64_t compact_trailing;    /* applied entries kept in the log */
    uint64_t compact_bytes;       /* also compact at this much entry data
                                     in the log (0: by count only) */
    bool peer_auth; /* the transport authenticates peers: a message whose
                       `from` is not the member its link authenticated is
                       dropped */
    const store_identity_t *identity; /* the data directory's; NULL: none
                                         (tests): every entry is us */
    uint64_t quota_bytes; /* space quota (actors/quota.h); 0: none */
    bool async_sends;     /* storage sends what waits on durability (it has a
                         send_endpoint): raft_options_t.async_sends */
    bool forward_writes;  /* a follower forwards writes to the leader unless
                             the request says ?forward=false (else 409) */
} raft_actor_args_t;
void raft_actor (zsock_t *pipe, void *args);

#endif
