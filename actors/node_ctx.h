/*  node_ctx.h -- what belongs to one node rather than to the process, so
    that several nodes can run in one process (tests/node/
    test_inproc_cluster.c runs three).

    A node's state is its actors' (each actor's self_t) plus what every
    thread of the node shares:

        log       the node id and level its log lines carry (log.h)
        metrics   the registry its threads count into and /metrics
                  renders (metrics.h)
        monitor   how many subscribers its monitoring socket has, which
                  decides whether its actors send trace events at all
                  (monitor.h)

    Binding, not passing: each thread of a node binds the node's context
    once, when it starts -- the actor skeleton does it for every actor
    (actor_start, actor.h), and the HTTP actor for each civetweb worker in
    its init_thread callback -- and from then on metrics_add (),
    log_info (), monitor_push () ... find it in thread-local pointers.
    Their signatures, and the hundreds of calls to them, stay as they
    were. Passing a context to every call instead would make the binding
    visible in each signature, but would change every call site in the
    node at the time five people are rewriting them, and it would have to
    reach code that has no state of its own to carry it (the store, the
    HTTP reply helpers). A thread bound to no node (a tool, a unit test,
    main before a node starts) uses the process default, as the whole
    process did before.

    What stays per process, on purpose: the ZAP handler (zap.c: libzmq
    asks one per ZeroMQ context, and czmq has one context per process),
    civetweb's library initialisation (refcounted, node.c), the DNS
    resolver's cap on lookup threads (http/resolve.c) and the process_*
    metrics (they describe the process).
*/
#ifndef NODE_CTX_H_INCLUDED
#define NODE_CTX_H_INCLUDED

#include "log.h"
#include "metrics.h"

#include <stdatomic.h>

typedef struct {
    log_ctx_t log;
    metrics_t *metrics;
    atomic_int monitor_listeners;
} node_ctx_t;

/* A context for node `id`, logging at min_level and above. NULL if out of
   memory. */
node_ctx_t *node_ctx_new (uint64_t id, log_level_t min_level);
/* REQUIRES: no thread is bound to it any more. */
void node_ctx_destroy (node_ctx_t **self_p);

/* The calling thread acts for ctx from now on (NULL: for no node, the
   process default). ctx must outlive the binding. */
void node_ctx_bind (node_ctx_t *ctx);
/* What the calling thread is bound to, or NULL. */
node_ctx_t *node_ctx_current (void);

#endif
