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
#include <msgpack.h>

typedef enum {
    MSG_API_PUT = 1,
    MSG_API_GET,
    MSG_API_DELETE,
    MSG_API_HEALTH,
    MSG_API_JOIN,
    MSG_API_REMOVE,
    MSG_API_READ, /* read barrier: 200 {} once a local read here would be
                     linearizable (ReadIndex confirmed, applied) */
} msg_api_op_t;

typedef struct {
    uint64_t req_id;
    msg_api_op_t op;
    raft_buf_t *key;   /* may be NULL */
    raft_buf_t *value; /* may be NULL */
    bool stale;
    char peer[RAFT_ADDR_MAX]; /* "" when absent */
    raft_id_t id;
} msg_api_req_t;

typedef struct {
    uint64_t req_id;
    unsigned status;
    uint8_t *body; /* msgpack map (malloc'ed) */
    size_t body_len;
} msg_api_rep_t;

/* Decoders never destroy zm; it stays the caller's. */
zmsg_t *msg_api_req_encode (const msg_api_req_t *req);
int msg_api_req_decode (zmsg_t *zm, msg_api_req_t *req);
void msg_api_req_clear (msg_api_req_t *req);

/* body: msgpack bytes of a map, copied. */
zmsg_t *msg_api_rep_encode (uint64_t req_id, unsigned status, const void *body,
                            size_t body_len);
int msg_api_rep_decode (zmsg_t *zm, msg_api_rep_t *rep);
void msg_api_rep_clear (msg_api_rep_t *rep);

/*  Reply bodies (msg_api_body.c). Each writes one msgpack map into buf,
    which the caller has initialised; keys and values are the JSON the
    client sees (README, "The HTTP API"):

      empty        {} (a read barrier's answer)
      error        {"error": code}
      not_leader   {"error": "not_leader", "leader": "host:port" | null}
      written      {"ok": true, "key", "index", "created" | "deleted": bool}
      value        {"key", "value"} or {"error": "not_found", "key"},
                   plus "stale": true for local reads
      conf         {"ok": true, "id", "index"}
      health       see msg_health_t                                      */
void msg_body_empty (msgpack_sbuffer *buf);
void msg_body_error (msgpack_sbuffer *buf, const char *code);
void msg_body_not_leader (msgpack_sbuffer *buf, const char *leader);
void msg_body_written (msgpack_sbuffer *buf, const raft_buf_t *key,
                       raft_index_t index, bool is_delete, bool flag);
void msg_body_value (msgpack_sbuffer *buf, const raft_buf_t *key,
                     const raft_buf_t *value, bool stale);
void msg_body_conf (msgpack_sbuffer *buf, raft_id_t id, raft_index_t index);
/* {"error": code, "detail": detail} */
void msg_body_error_detail (msgpack_sbuffer *buf, const char *code,
                            const char *detail);

typedef struct {
    raft_id_t id;
    const char *peer_addr;
    const char *http_addr;
    bool voter;
    bool has_match; /* on the leader */
    raft_index_t match;
    const char *dir_id; /* the directory id it was added with, NULL: none
                           recorded (a founding member) */
} msg_health_member_t;

typedef struct {
    raft_id_t id;
    const char *role;
    raft_term_t term;
    const char *leader;  /* HTTP address, NULL: unknown */
    raft_id_t leader_id; /* 0: unknown */
    raft_index_t commit, applied, last_index;
    const char *peer_addr, *http_addr;
    const msg_health_member_t *members;
    size_t n_members;
    uint64_t uptime_s;
    uint64_t dropped_msgs;
    /* the data directory's identity (store_identity.h); cluster_id NULL:
       no "identity" object. "" renders as null (not learnt yet). */
    const char *cluster_id, *dir_id, *origin;
    bool voting; /* the configuration lists this directory's server: it
                    may vote (raft_options_t.self_check) */
    /* "log": the log's base (the snapshot it starts after, §5.1) and what
       it holds past it: entries, and the bytes of their data in memory */
    raft_index_t base_index;
    raft_term_t base_term;
    uint64_t log_entries, log_bytes;
    /* "last_snapshot_installed": from a leader, since this process
       started; null when none */
    bool has_snapshot;
    raft_index_t snap_index;
    raft_term_t snap_term;
    raft_id_t snap_from; /* the leader that sent it (0: unknown) */
    uint64_t snap_at_ms; /* wall clock, Unix milliseconds */
    /* "quota" (actors/quota.h): used and fs_free are null until the
       storage actor's first reading; fs_free also when statvfs failed */
    uint64_t quota_bytes; /* 0: no quota */
    bool quota_known;
    uint64_t quota_used, quota_clear_below, fs_free;
    bool alarm;
} msg_health_t;

void msg_body_health (msgpack_sbuffer *buf, const msg_health_t *h);

#endif
