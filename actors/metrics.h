/*  metrics.h -- the node's metrics, rendered in Prometheus' text format
    (version 0.0.4) by GET /metrics.

    One registry per node (node_ctx.h: each thread writes to, and renders,
    the registry of the node it is bound to with metrics_bind; a thread
    bound to none uses the process default), in shared memory rather than
    behind an actor:
    a scrape must answer while the raft actor is busy or stuck (that is when
    an operator looks), and counting must cost an atomic add on the hot
    paths, not a message per HTTP request. The rule that keeps it simple:
    every metric has one writer (the actor that owns what it measures; the
    HTTP histograms are written by every civetweb worker, with atomic
    adds); readers only load. The raft gauges, which must agree with each
    other (a peer's lag is last index minus its match), are copied in and
    out under one mutex, held for the copy.

    There is no C Prometheus client in Debian (only prometheus-cpp), and the
    format is a few printf lines; tests/node/test_metrics.c checks it with
    a strict parser and, when it is there, `promtool check metrics`.

    Histograms keep one count per bucket (not cumulative), so an
    observation is one atomic add; rendering sums them, and derives _count
    from the same sum, so a scrape during updates is still consistent
    (+Inf bucket == _count). _sum may trail by the observations in flight.
*/
#ifndef METRICS_H_INCLUDED
#define METRICS_H_INCLUDED

#include "raft.h"

#include <stddef.h>
#include <stdint.h>

/* Counters and plain gauges, one writer each. */
typedef enum {
    METRICS_PROPOSALS_COMMITTED, /* raft actor: writes acknowledged */
    METRICS_PROPOSALS_FAILED,    /* raft actor: proposed, then answered with
                                    an error (leadership lost, timeout) */
    METRICS_PROPOSALS_PENDING,   /* gauge: proposed, not yet answered */
    METRICS_PREVOTES_STARTED,    /* raft actor, from the core's events */
    METRICS_ELECTIONS_STARTED,
    METRICS_PREVOTES_WON,
    METRICS_ELECTIONS_WON,
    METRICS_LEADER_CHANGES,       /* leader seen changed to another known one */
    METRICS_READ_ROUNDS,          /* ReadIndex rounds confirmed (leader) */
    METRICS_PEER_MSGS_DROPPED,    /* malformed or misaddressed peer input */
    METRICS_FSYNC_ENTRIES,        /* storage: log entries made durable */
    METRICS_APPLIED_ENTRIES,      /* storage: entries applied */
    METRICS_LEVELDB_BYTES,        /* gauge, storage: files in the data dir */
    METRICS_TRACE_PUBLISHED,      /* monitor: handed to the PUB */
    METRICS_TRACE_DROPPED,        /* anyone: events that never got out */
    METRICS_SNAPSHOT_CHUNKS_SENT, /* raft actor: InstallSnapshot chunks */
    METRICS_SNAPSHOTS_INSTALLED,  /* raft actor: snapshots installed here */
    METRICS_COMPACTIONS,          /* raft actor: log compactions */
    METRICS_PEER_HANDSHAKES_REFUSED,    /* zap: peer port, no valid key */
    METRICS_MONITOR_HANDSHAKES_REFUSED, /* zap: monitoring socket */
    METRICS_PEER_MSGS_FORGED,       /* raft actor: `from` is not the member the
                                     link authenticated */
    METRICS_PEER_CONNS_REFUSED,     /* transport: over the connection limit */
    METRICS_MONITOR_CONNS_REFUSED,  /* monitor: over the subscriber limit */
    METRICS_PEER_CONNS_CUT,         /* transport: held an unfinished message */
    METRICS_MONITOR_CONNS_CUT,      /* monitor: the same */
    METRICS_QUOTA_BYTES,            /* gauge, raft actor: --quota-bytes */
    METRICS_DB_SIZE_BYTES,          /* gauge, raft actor: what the quota is
                                      held against (storage's last "usage") */
    METRICS_ALARM_NOSPACE,          /* gauge, raft actor: 1 while over quota */
    METRICS_WRITES_REFUSED_NOSPACE, /* raft actor: 507 no_space answers */
    METRICS_FAULT_DROPPED_OUT,      /* transport: injected faults (fault.h) */
    METRICS_FAULT_DROPPED_IN,
    METRICS_FAULT_DELAYED,
    METRICS_LEASES,                 /* gauge, raft actor: leases the leader's
                                       lessor holds (0 on a follower) */
    METRICS_LEASES_EXPIRED,         /* raft actor: LREVOKEs proposed because
                                       a lease's TTL ran out */
    METRICS_N_SCALARS
} metrics_scalar_t;

/* Routes of the HTTP API, as labels; METRICS_ROUTE_OTHER is anything else
   (unknown paths, and requests civetweb refused before routing). */
typedef enum {
    METRICS_ROUTE_PUT,
    METRICS_ROUTE_GET,
    METRICS_ROUTE_DELETE,
    METRICS_ROUTE_HEALTH,
    METRICS_ROUTE_JOIN,
    METRICS_ROUTE_REMOVE,
    METRICS_ROUTE_METRICS,
    METRICS_ROUTE_OTHER,
    METRICS_N_ROUTES
} metrics_route_t;

/* The label of a route ("/kv/put", ..., "other"). */
const char *metrics_route_name (metrics_route_t route);
/* The route of a request path (exact match), or METRICS_ROUTE_OTHER. */
metrics_route_t metrics_route_of (const char *path);

/* What the raft actor publishes after each batch. */
typedef struct {
    raft_id_t id;
    bool valid; /* the core is up */
    raft_role_t role;
    raft_term_t term;
    raft_id_t leader;
    raft_index_t commit, applied, last_index, base_index;
    uint64_t log_bytes;
    uint32_t voters, learners;
    size_t n_peers; /* on the leader: every other member */
    struct {
        raft_id_t id;
        raft_index_t match;
    } peers[RAFT_MAX_SERVERS];
} metrics_raft_t;

/* A registry, for one node. */
typedef struct metrics metrics_t;
metrics_t *metrics_new (void);
void metrics_destroy (metrics_t **self_p);
/* This thread writes to and renders reg from now on (NULL: the process
   default). reg must outlive the binding. */
void metrics_bind (metrics_t *reg);

void metrics_add (metrics_scalar_t m, uint64_t n);
void metrics_set (metrics_scalar_t m, uint64_t v);
uint64_t metrics_get (metrics_scalar_t m);

/* The raft actor's gauges; copied under the registry's mutex. */
void metrics_raft_set (const metrics_raft_t *r);

/* One HTTP request: its route, status and duration. */
void metrics_http (metrics_route_t route, int status, uint64_t usecs);
/* One synced LevelDB write, and how many entries it made durable. */
void metrics_fsync (uint64_t usecs, uint64_t entries);

/* The whole exposition, malloc'ed, NUL-terminated; *len without the NUL.
   NULL on out of memory. Safe from any thread. */
char *metrics_render (size_t *len);

/* Forget everything in this thread's registry (tests). */
void metrics_reset (void);

#endif
