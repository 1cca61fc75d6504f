/*  msg_forward.h -- a client write forwarded from a follower to its leader,
    and the leader's reply, over the peer links.

    A peer payload (msg_transport.h "send"/"recv") is either a Raft message
    (msg_raft.h, a msgpack array of 17) or one of these, a msgpack array of
    5 (fixarray, first byte 0x95), so the raft actor tells them apart by
    one byte:

      follower -> leader
        [1, "fwd", fwd_id: uint, from: uint, request: bin]
              request: a msg_api.h request ("req") as the HTTP worker sent
              it to the follower, req_id included; fwd_id: the follower's
              own number for it; from: the follower's id.
      leader -> follower
        [1, "fwdrep", fwd_id: uint, from: uint, reply: bin]
              reply: the msg_api.h reply ("rep") the leader would have
              given a worker of its own, with the request's req_id; the
              follower hands it to its worker as it is.

    Nothing decoded here is trusted: sizes are bounded (MSG_FORWARD_MAX),
    and the raft actor checks that `from` is the member the link
    authenticated and that the request and reply decode (msg_api.h).
*/
#ifndef MSG_FORWARD_H_INCLUDED
#define MSG_FORWARD_H_INCLUDED

#include "raft.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest request or reply carried: the HTTP side's body limit is far
   lower (1 MiB by default, 64 MiB at most). */
#define MSG_FORWARD_MAX (65u * 1024 * 1024)

typedef struct {
    bool reply;       /* "fwdrep", else "fwd" */
    uint64_t fwd_id;  /* the follower's number for the request */
    raft_id_t from;   /* the sender's id */
    raft_buf_t *body; /* the msg_api request or reply bytes (one ref) */
} msg_forward_t;

/* Whether a peer payload is one of these (not a Raft message): one byte. */
bool msg_forward_is (const void *data, size_t len);

/* The payload for f, or NULL (no body, too large, no memory). */
raft_buf_t *msg_forward_encode (const msg_forward_t *f);
/* 0 with *f filled (release with msg_forward_clear), or -1. */
int msg_forward_decode (const void *data, size_t len, msg_forward_t *f);
void msg_forward_clear (msg_forward_t *f);

#endif
