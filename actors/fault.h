/*  fault.h -- faults a student injects into a running node
    (--enable-faults, POST /debug/fault; README, "Fault injection"): cut
    this node off from every peer, drop the messages to or from one peer,
    hold outgoing peer messages a while, slow every fsync.

    Why a shared struct and not a message: the HTTP worker that takes the
    request writes the faults here, and the two actors that enforce them
    read them where they act -- the transport actor for every peer message
    it passes (transport_fault.c), the storage actor before each synced
    write -- exactly as kv_shared_t shares the store. A message on the raft
    actor's API pipe would have to be relayed by the raft actor to two
    other actors (two more codecs in msg/ and two more hops), for state
    that is a few integers. One writer at a time (the mutex), readers take
    the mutex only while some fault is set: with none, a check is one
    atomic load, so a node with --enable-faults and no fault pays nothing
    measurable on its hot paths.

    Faults live in memory only: a restart clears them. They add up (a
    drop in, then a drop out of the same peer is both ways; a delay for
    one peer overrides the delay for all) until "clear".

    No clock, no I/O here except fault_fsync_wait, which sleeps.
*/
#ifndef FAULT_H_INCLUDED
#define FAULT_H_INCLUDED

#include "raft.h"

#include <stdbool.h>
#include <stdint.h>

/* Directions, as bits: what a drop cuts, seen from this node. */
typedef enum {
    FAULT_DIR_OUT = 1,  /* messages this node sends to the peer */
    FAULT_DIR_IN = 2,   /* messages it receives from the peer */
    FAULT_DIR_BOTH = 3, /* both */
} fault_dir_t;

#define FAULT_MAX_MS 10000 /* delay and slow_fsync, at most */

typedef enum {
    FAULT_ISOLATE = 1, /* drop every peer message, both ways */
    FAULT_DROP,        /* drop to/from one peer: peer, dir */
    FAULT_DELAY,       /* hold outgoing messages ms (peer, or 0: all) */
    FAULT_SLOW_FSYNC,  /* every fsync takes ms more (0: no more) */
    FAULT_CLEAR,       /* no fault at all */
} fault_action_t;

/* One request, as POST /debug/fault's body says it (http/parse_fault.h). */
typedef struct {
    fault_action_t action;
    raft_id_t peer; /* DROP: required; DELAY: 0 for every peer */
    fault_dir_t dir;
    uint32_t ms;
} fault_cmd_t;

/* What is set for one peer. */
typedef struct {
    raft_id_t peer;
    unsigned drop;     /* fault_dir_t bits, 0: none */
    uint32_t delay_ms; /* 0: the delay for all */
} fault_link_t;

/* The faults in effect, for rendering. links[] holds one entry per peer
   named in a drop or a per-peer delay. */
typedef struct {
    bool isolate;
    uint32_t delay_ms; /* every peer; 0: none */
    uint32_t slow_fsync_ms;
    size_t n_links;
    fault_link_t links[RAFT_MAX_SERVERS];
} fault_state_t;

typedef struct fault fault_t;

/* Faults for one node; enabled says whether they may be set at all
   (--enable-faults). NULL if out of memory. */
fault_t *fault_new (bool enabled);
void fault_destroy (fault_t **self_p);

/* self may be NULL below: no faults, never enabled. */
bool fault_enabled (const fault_t *self);
/* Apply cmd: 0, or -1 when it names more peers than RAFT_MAX_SERVERS
   (nothing changed). REQUIRES: enabled; cmd checked (parse_fault.h). */
int fault_apply (fault_t *self, const fault_cmd_t *cmd);
void fault_get (fault_t *self, fault_state_t *out);
/* Whether any fault is set (one atomic load). */
bool fault_any (const fault_t *self);

/* The transport's questions, per message: is a message to (FAULT_DIR_OUT)
   or from (FAULT_DIR_IN) peer dropped? (peer 0: unknown sender; dropped
   only when isolated.) How long is a message to peer held (ms, 0: not)? */
bool fault_drops (fault_t *self, raft_id_t peer, fault_dir_t dir);
uint32_t fault_delay_ms (fault_t *self, raft_id_t peer);

/* The storage actor, after each synced write: sleeps slow_fsync ms (cut
   short if the setting is lowered or cleared meanwhile). */
void fault_fsync_wait (fault_t *self);

/* POST /debug/stop: asked once by the HTTP worker, taken once by
   node_wait (node.h), which then stops the node as SIGTERM does. */
void fault_ask_stop (fault_t *self);
bool fault_take_stop (fault_t *self);

/* "out", "in", "both" (or "none"). */
const char *fault_dir_name (unsigned dir);

#endif
