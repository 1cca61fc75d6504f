/*  msg_transport.h -- messages between the raft actor and the transport
    actor.

    Socket: a PAIR pair over inproc; the transport actor binds, the raft
    actor connects. One zframe, one msgpack array [1, kind, ...]; "send"
    and "recv" add the payload as a second frame, as it is (never wrapped
    in msgpack again, so the transport moves it without a copy):

      raft -> transport
        [1, "peers", [[id: uint, endpoint: str], ...]]
              the full set of peers to keep a link to (not this node); the
              transport opens a DEALER to each new endpoint and closes those
              no longer listed (or whose endpoint changed).
        [1, "send", to: uint] + payload
              send payload (a msg_raft.h message) to peer `to` on our link
              to it; without one (we do not know its endpoint yet: we are
              joining), back over the link it opened to our ROUTER, whose
              identity is its id. Dropped if neither exists, the peer is
              not connected or its queue is full.

      transport -> raft
        [1, "recv", from: uint] + payload
              a peer sent payload; the raft actor decodes and validates it.
              from: the member the link authenticated (CURVE, see
              actors/transport.c), 0 when links are not authenticated
              (--insecure-peers); a message whose own from differs is
              dropped.
        [1, "link", id: uint, up: bool]
              a peer link connected or disconnected (for tracing).
*/
#ifndef MSG_TRANSPORT_H_INCLUDED
#define MSG_TRANSPORT_H_INCLUDED

#include "raft.h"

#include <czmq.h>

#define MSG_ENDPOINT_MAX 256

typedef enum {
    MSG_TRANSPORT_PEERS = 1,
    MSG_TRANSPORT_SEND,
    MSG_TRANSPORT_RECV,
    MSG_TRANSPORT_LINK,
} msg_transport_kind_t;

typedef struct {
    raft_id_t id;
    char endpoint[MSG_ENDPOINT_MAX];
} msg_peer_t;

typedef struct {
    msg_transport_kind_t kind;
    msg_peer_t *peers; /* peers (malloc'ed) */
    size_t n_peers;
    raft_id_t to;     /* send; link: the peer */
    raft_id_t from;   /* recv: the authenticated sender, 0: none */
    bool up;          /* link */
    uint8_t *payload; /* send, recv: encode: the caller's; decode: the
                         second frame's data, borrowed (valid while the
                         decoded zmsg is) */
    size_t payload_len;
} msg_transport_t;

zmsg_t *msg_transport_encode (const msg_transport_t *m);
/* The first frame of a "send" (id: to) or "recv" (id: from), for a sender
   that sends the payload frame after it itself, without a copy (the
   transport's receive path, storage's "after"). NULL: invalid. */
zframe_t *msg_transport_header (msg_transport_kind_t kind, raft_id_t id);
int msg_transport_decode (zmsg_t *zm, msg_transport_t *m);
void msg_transport_clear (msg_transport_t *m);

#endif
