/*  cluster.h -- what the cluster fuzz harness (fuzz_cluster.c, one input
    and its checks) and its world (cluster_world.c) share: the simulator's
    servers, the network queue, the threat level the input reached, and
    the actions an input's bytes choose. See fuzz_cluster.c for the whole
    story.
*/
#ifndef CLUSTER_H_INCLUDED
#define CLUSTER_H_INCLUDED

#include "forge.h"
#include "sim.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FC_NODES FORGE_NODES
#define FC_QUEUE_MAX 256 /* messages in flight; a full network drops */

/* What a forged message may have broken (fuzz_cluster.c, threat model). */
typedef enum {
    FC_CHECKED = 0,   /* A: safety and liveness */
    FC_FORGED_MEMBER, /* B: liveness after a restart */
    FC_FORGED_LEADER, /* C: no crash */
} fc_level_t;

extern sim_t fc_sim;
extern raft_msg_t *fc_queue[FC_QUEUE_MAX]; /* the network, oldest first */
extern size_t fc_qn;
extern fc_level_t fc_level;
extern unsigned fc_rounds; /* of normal running in this input */
extern uint64_t fc_ops;    /* client requests made */

/* The servers' state with what broke, then abort (fuzz_cluster.c). */
void fc_fail_state (const char *what) __attribute__ ((noreturn));

/* The server an input byte names. */
sim_node_t *fc_node (forge_in_t *in);
/* Hand out every server's batches, then check safety (A only). */
void fc_settle (void);
/* Deliver the i-th message of the queue. */
void fc_deliver (size_t i);
void fc_tick (sim_node_t *n);
/* One round of normal running: writes complete, the messages in flight
   arrive in order, every server ticks. */
void fc_round (void);
/* The leader of the highest term, or NULL. */
sim_node_t *fc_leader (void);
/* Propose at n; the client waits there (world.c acknowledges it). */
bool fc_propose (sim_node_t *n, raft_index_t *index, raft_term_t *term);
/* Start a ReadIndex read at n. */
void fc_read (sim_node_t *n);
/* Links of server 1 + b % 3 cut both ways, or only towards it (b & 4). */
void fc_partition (uint8_t b);
/* One membership change at the leader (§4.1-4.3). */
void fc_membership (uint8_t b);
/* A forged message (forge.c), delivered. */
void fc_forge (forge_in_t *in);

#endif
