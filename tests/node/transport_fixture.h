/*  transport_fixture.h -- what the transport actor's tests
    (test_transport_*.c) share: transport actors on tcp://127.0.0.1:<port>
    (8 ports per run in 19000-19999, derived from the pid so that parallel
    runs rarely collide), each with a PAIR playing its raft actor, and the
    helpers that talk through that PAIR.

        int main (void) {
            tf_init ("test_transport_links");
            tf_nodes_start ();           n1 on tf_base_port, n2 on + 1
            check_run ("link up event", test_link_up);
            return tf_done ();
        }
*/
#ifndef TRANSPORT_FIXTURE_H_INCLUDED
#define TRANSPORT_FIXTURE_H_INCLUDED

#include "fixture.h"
#include "actors.h"
#include "msg_transport.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TF_QUEUE_MAX 1024
#define TF_MAX_MSG (64 * 1024)

/*  Nodes: a transport actor and the PAIR that plays its raft actor */
typedef struct {
    raft_id_t id;
    int port;
    unsigned gen; /* a fresh inproc endpoint per start */
    char listen[64];
    char endpoint[96];
    transport_args_t args; /* must outlive zactor_new */
    zactor_t *actor;
    zsock_t *raft;
    bool link[8];    /* last link state reported, by peer id */
    int link_events; /* link events seen */
    zmsg_t *last;    /* the last message tf_next decoded (its payload) */
} tf_node_t;

extern tf_node_t tf_n1, tf_n2;
/* This run's 8 ports start here (n1, n2, then the tests' own). */
extern int tf_base_port;

/* Watchdog (60 s), the random seed (TEST_SEED replays a run), logs,
   czmq and the base port. */
void tf_init (const char *name);
/* n1 (id 1) on tf_base_port and n2 (id 2) on tf_base_port + 1. */
void tf_nodes_start (void);
/* The nodes stopped if started; the exit status (check_report). */
int tf_done (void);

uint64_t tf_rand (void);

/* Start a transport; returns its STATUS (0 when working). */
int tf_node_start (tf_node_t *n, raft_id_t id, int port, const char *endpoint);
void tf_node_stop (tf_node_t *n);
/* A restarted transport may find its port still held for a moment by the
   one before it (libzmq closes listeners asynchronously): retry. */
int tf_node_start_retry (tf_node_t *n, raft_id_t id, int port);

/* The actor's counters (STATS), indexed as below. */
void tf_stats (tf_node_t *n, uint64_t c[7]);
enum {
    TF_IN_ACCEPTED,
    TF_IN_MALFORMED,
    TF_IN_DROPPED,
    TF_OUT_SENT,
    TF_OUT_DROPPED,
    TF_OUT_UNKNOWN,
    TF_RAFT_MALFORMED
};

/* As n's raft actor: a message to the transport. */
void tf_raft_send (tf_node_t *n, const msg_transport_t *m);
/* Tell n its peers: pairs of (id, port). */
void tf_peers (tf_node_t *n, size_t count, const raft_id_t *ids,
               const int *ports);
void tf_send (tf_node_t *n, raft_id_t to, const void *data, size_t len);
void tf_send_str (tf_node_t *n, raft_id_t to, const char *s);
/* Next message to n's raft actor, or -1 after timeout_ms. Link events are
   recorded in n->link. */
int tf_next (tf_node_t *n, int timeout_ms, msg_transport_t *m);
bool tf_payload_is (const msg_transport_t *m, const char *s);
/* Wait for a "recv" of s at n; count other "recv"s in *others. */
bool tf_wait_recv (tf_node_t *n, const char *s, int timeout_ms, int *others);
/* Wait until n's raft actor was told that the link to peer is up/down. */
bool tf_wait_link (tf_node_t *n, raft_id_t peer, bool up, int timeout_ms);
/* Nothing but link events arrives at n for ms milliseconds. */
int tf_count_recvs (tf_node_t *n, int ms);

#endif
