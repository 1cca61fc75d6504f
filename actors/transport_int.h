/*  transport_int.h -- the transport actor's state, shared by its files:

      transport.c        the actor: the ROUTER, the raft actor's PAIR and
                         storage's PULL, the handlers, start and stop
      transport_peers.c  one DEALER per peer: opening and closing them,
                         sending, what arrives on them, their link events
                         and CURVE secret rotation
      transport_fault.c  injected faults (fault.h): drops and delays

    The protocol is at the top of transport.c.
*/
#ifndef TRANSPORT_INT_H_INCLUDED
#define TRANSPORT_INT_H_INCLUDED

#include "actors.h"
#include "actor.h"
#include "conn_limit.h"
#include "fault.h"
#include "log.h"
#include "metrics.h"
#include "msg_transport.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define S_STATUS_NO_LISTEN 1
#define S_STATUS_NO_ENDPOINT 2

#define S_BATCH 256      /* messages read per socket per loop turn */
#define S_REPORT_MS 1000 /* drop counters reported at most this often */
/* The DEALERs' monitor sockets are read on this timer, not as readers:
   every reader costs two system calls per socket at every loop turn
   (zmq_poll asks each socket for ZMQ_EVENTS), and link events are only
   traced. */
#define S_LINK_POLL_MS 50
#define S_RECONNECT_MS 100   /* first reconnect delay to a peer, */
#define S_RECONNECT_MAX 1000 /* doubling up to this */
/* A SYN that is dropped (iptables DROP, a dead host) is retried after 1 s,
   not after the kernel's ~2 minutes. */
#define S_CONNECT_TIMEOUT 1000
#define S_HEARTBEAT_IVL 1000     /* ZMTP PING every second, */
#define S_HEARTBEAT_TIMEOUT 3000 /* link down after 3 s without traffic */
#define S_HANDSHAKE_MS 3000      /* a connection must finish its handshake */
#define S_HELD_CHECK_MS 50       /* conn_limit_check: unfinished messages */
/* Handshakes that failed in a row before a DEALER tries the next secret. */
#define S_KEY_FAILURES 3

typedef struct self transport_t;
typedef struct transport_delayq transport_delayq_t; /* transport_fault.c */

typedef struct {
    transport_t *self; /* owner, for the monitor handler */
    raft_id_t id;
    char endpoint[MSG_ENDPOINT_MAX];
    zsock_t *dealer;
    zsock_t *monitor; /* reads the DEALER's monitor events; may be NULL */
    bool up;
    size_t secret; /* the secret line its keys come from (peer_keys.h) */
    int failures;  /* handshakes failed since it was last up */
} peer_t;

typedef struct {
    uint64_t in_accepted;    /* payloads forwarded to the raft actor */
    uint64_t in_malformed;   /* bad framing or size on the ROUTER */
    uint64_t in_dropped;     /* raft actor's queue full: "recv"/"link" lost */
    uint64_t out_sent;       /* payloads queued to a peer */
    uint64_t out_dropped;    /* peer not connected or its queue full */
    uint64_t out_unknown;    /* "send" to a peer not in the peer set */
    uint64_t raft_malformed; /* undecodable messages from the raft actor */
} counters_t;

struct self {
    zsock_t *pipe;         /* actor pipe, to main */
    zsock_t *raft;         /* PAIR to the raft actor */
    zsock_t *from_storage; /* PULL: "send" from storage, or NULL */
    zsock_t *router;       /* inbound peer traffic; NULL if the bind failed */
    zloop_t *loop;
    bool terminated;
    int status; /* 0 or S_STATUS_* */

    raft_id_t id;
    char identity[24]; /* id in decimal: our DEALERs' identity */
    char source[64];   /* local IP our DEALERs connect from, "" for any */
    char *endpoint;
    char *send_endpoint; /* from_storage's, or NULL */
    char *listen;
    int queue_max;
    size_t max_msg;
    peer_keys_t *keys;   /* NULL: --insecure-peers */
    conn_limit_t *limit; /* on the ROUTER; NULL if it cannot be watched */
    size_t max_conns;

    peer_t *peers[RAFT_MAX_SERVERS];
    size_t n_peers;
    unsigned monitor_seq; /* makes monitor endpoints unique */

    counters_t count;
    counters_t reported; /* counters at the last report */

    fault_t *faults;            /* --enable-faults' (fault.h), or NULL */
    transport_delayq_t *delayq; /* messages held by a delay, or NULL */
};

/* shared between the files (transport_*) */
int transport_handle_links (zloop_t *loop, int timer_id, void *arg);
void transport_peer_destroy (transport_t *self, peer_t **peer_p, bool report);
void transport_send (transport_t *self, raft_id_t to, zmsg_t *zm);
void transport_set_maxmsgsize (zsock_t *sock, size_t max_msg);
void transport_set_peers (transport_t *self, const msg_peer_t *list, size_t n);
void transport_to_raft (transport_t *self, raft_id_t from, zmq_msg_t *payload);
/* Send *payload (taken) to peer `to` now, faults or not. */
void transport_send_frame (transport_t *self, raft_id_t to, zframe_t **payload);

/* transport_fault.c. Out: true if the faults took *payload (dropped, or
   held for later); false: send it now. In: true if a message from `from`
   (0: unknown) is to be dropped. The sender a ROUTER identity names (our
   DEALERs' identity is their id in decimal), or 0. */
bool transport_fault_out (transport_t *self, raft_id_t to, zframe_t **payload);
bool transport_fault_in (transport_t *self, raft_id_t from);
raft_id_t transport_fault_sender (zmq_msg_t *identity);
void transport_fault_destroy (transport_t *self);

#endif
