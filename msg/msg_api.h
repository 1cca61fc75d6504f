/*  msg_api.h -- requests from the HTTP workers to the raft actor, and the
    replies.

    Sockets: the raft actor binds a ROUTER over inproc; each civetweb worker
    thread connects its own DEALER (ZeroMQ sockets are not thread-safe).
    One zframe (after the ROUTER's identity frame), one msgpack array:

      http -> raft
        [1, "req", req_id: uint, op: str, key: bin|nil, value: bin|nil,
            stale: bool, peer: str|nil, id: uint]
              op is one of "put", "get", "delete", "health", "join",
              "remove". For "join": peer is "<peer endpoint> <http addr>"
              of the new server and id its id (the HTTP side learned both
              from the new server's /health). For "remove": id.

      raft -> http
        [1, "rep", req_id: uint, status: uint, body]
              status is the HTTP status; body is a msgpack map that the HTTP
              side renders as the JSON response body as it is (nil -> null,
              bin and str -> string, ints, bools, arrays and maps).
*/
#ifndef MSG_API_H_INCLUDED
#define MSG_API_H_INCLUDED

#include "raft.h"

#include <czmq.h>

typedef enum {
    MSG_API_PUT = 1,
    MSG_API_GET,
    MSG_API_DELETE,
    MSG_API_HEALTH,
    MSG_API_JOIN,
    MSG_API_REMOVE,
} msg_api_op_t;

typedef struct {
    uint64_t req_id;
    msg_api_op_t op;
    raft_buf_t *key;      /* may be NULL */
    raft_buf_t *value;    /* may be NULL */
    bool stale;
    char peer[RAFT_ADDR_MAX];   /* "" when absent */
    raft_id_t id;
} msg_api_req_t;

typedef struct {
    uint64_t req_id;
    unsigned status;
    uint8_t *body;        /* msgpack map (malloc'ed) */
    size_t body_len;
} msg_api_rep_t;

/* Decoders never destroy zm; it stays the caller's. */
zmsg_t *msg_api_req_encode (const msg_api_req_t *req);
int msg_api_req_decode (zmsg_t *zm, msg_api_req_t *req);
void msg_api_req_clear (msg_api_req_t *req);

/* body: msgpack bytes of a map, copied. */
zmsg_t *msg_api_rep_encode (uint64_t req_id, unsigned status,
                            const void *body, size_t body_len);
int msg_api_rep_decode (zmsg_t *zm, msg_api_rep_t *rep);
void msg_api_rep_clear (msg_api_rep_t *rep);

#endif
