/*  msg_api.h -- requests from the HTTP workers to the raft actor, and the
    replies.

    Sockets: the raft actor binds a ROUTER over inproc; each civetweb worker
    thread connects its own DEALER (ZeroMQ sockets are not thread-safe).
    One zframe (after the ROUTER's identity frame), one msgpack array:

      http -> raft
        [1, "req", req_id: uint, op: str, key: bin|nil, value: bin|nil,
            stale: bool, peer: str|nil, id: uint, forward: uint]
              op is one of "put", "get", "delete", "health", "join",
              "remove", "read", "cmd" (value: a KV command, msg_store.h),
              "lkeepalive", "linfo" (id: the lease; store/lessor.h). For "join": peer is "<peer endpoint> <http addr>"
              of the new server and id its id (the HTTP side learned both
              from the new server's /health). For "remove": id. forward
              (a write on a follower): 0 the node's default
              (--forward-writes), 1 forward it to the leader, 2 answer 409
              not_leader (msg_forward.h carries it).

      raft -> http
        [1, "rep", req_id: uint, status: uint, kind: str, fields...]
              status is the HTTP status; kind and its fields are a typed
              reply (msg_api_rep_t), which the HTTP side renders as JSON
              itself, one function per kind (http/http_render.h):
                "empty"    -                              {}
                "error"    code: str, detail: str|nil,    {"error"[, "detail"]
                           has_leader: bool,               [, "leader"]}
                           leader: str|nil
                "written"  key: bin|nil, index: uint,     {"ok", "key",
                           deleted: bool, flag: bool       "index", "created"
                                                           | "deleted"}
                "value"    key: bin|nil, value: bin|nil   {"key", "value"} or
                           (nil: not found), stale: bool  {"error": "not_found",
                                                           "key"}[, "stale"]
                "conf"     id: uint, index: uint          {"ok", "id", "index"}
                "health"   one array (msg_api_health.c)   msg_health_t
                "kv"       index: uint, result: bin       the state machine's
                           (msg_kv_result_encode)          result: a PUT's,
                                                           DELETE's, TXN's
                                                           (http_render_kv.c)
                "lease"    id: uint, ttl_ms: uint,        {"id", "ttl"
                           remaining_ms: uint|nil          [, "remaining"]}
                                                           (http_render_lease.c)
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
    MSG_API_CMD,  /* a KV command the HTTP side encoded (msg_kv_encode: a
                     PUT or DELETE with compares, a TXN) in value; key:
                     its key (nil for a TXN). Answered "kv" once applied */
    MSG_API_LEASE_KEEPALIVE, /* id: renew lease id on the leader once a
                                ReadIndex round taken after it arrived
                                confirms leadership (§6.4); never logged.
                                Answered "lease" (actors/raft_actor_lease.c) */
    MSG_API_LEASE_INFO,      /* id: the lease's TTL (and, on the leader,
                                its remaining time). Answered "lease" */
#define MSG_API_OP_LAST MSG_API_LEASE_INFO /* the decoders' bound */
} msg_api_op_t;

typedef enum {
    MSG_API_FORWARD_DEFAULT = 0, /* the node's --forward-writes */
    MSG_API_FORWARD_YES,         /* ?forward=true */
    MSG_API_FORWARD_NO,          /* ?forward=false */
} msg_api_forward_t;

typedef struct {
    uint64_t req_id;
    msg_api_op_t op;
    raft_buf_t *key;   /* may be NULL */
    raft_buf_t *value; /* may be NULL */
    bool stale;
    char peer[RAFT_ADDR_MAX]; /* "" when absent */
    raft_id_t id;
    msg_api_forward_t forward; /* a write reaching a follower */
} msg_api_req_t;

/* Decoders never destroy zm; it stays the caller's. */
zmsg_t *msg_api_req_encode (const msg_api_req_t *req);
int msg_api_req_decode (zmsg_t *zm, msg_api_req_t *req);
void msg_api_req_clear (msg_api_req_t *req);

/*  Replies: one kind each, with its fields (see the top for the JSON the
    HTTP side makes of each; README, "The HTTP API"). */
typedef enum {
    MSG_API_REP_EMPTY = 1, /* a read barrier's answer */
    MSG_API_REP_ERROR,
    MSG_API_REP_WRITTEN, /* a PUT or DELETE applied */
    MSG_API_REP_VALUE,   /* a GET's answer, found or not */
    MSG_API_REP_CONF,    /* a configuration change committed */
    MSG_API_REP_HEALTH,
    MSG_API_REP_KV,    /* a KV command applied: index, and the state
                       machine's result (msg_kv_result_encode) in value */
    MSG_API_REP_LEASE, /* a lease: id, ttl_ms, remaining_ms (has_remaining:
                          the leader's lessor knows it) */
#define MSG_API_REP_LAST MSG_API_REP_LEASE /* the decoders' bound */
} msg_api_rep_kind_t;

/* Longest error code and detail a reply carries (NUL excluded). */
#define MSG_API_CODE_MAX 64
#define MSG_API_DETAIL_MAX 2048

typedef struct msg_health msg_health_t;

/* A reply. The encoder reads only the fields of rep->kind and borrows its
   pointers; the decoder fills them with its own copies, which
   msg_api_rep_clear releases. */
typedef struct {
    uint64_t req_id;
    unsigned status; /* 100..599 */
    msg_api_rep_kind_t kind;
    /* ERROR: code, detail (NULL: none), and for not_leader the leader's
       HTTP address (has_leader; leader NULL: unknown, rendered null) */
    const char *code, *detail, *leader;
    bool has_leader;
    /* WRITTEN, VALUE: the key (NULL renders as ""); VALUE: the value,
       NULL: not found */
    raft_buf_t *key, *value;
    raft_index_t index; /* WRITTEN, CONF */
    bool is_delete;     /* WRITTEN: a DELETE ("deleted") or a PUT */
    bool flag;          /* WRITTEN: PUT created the key / DELETE found it */
    bool stale;         /* VALUE: a local read */
    raft_id_t id;       /* CONF; LEASE: the lease */
    const msg_health_t *health;    /* HEALTH */
    uint64_t ttl_ms, remaining_ms; /* LEASE */
    bool has_remaining;            /* LEASE */
} msg_api_rep_t;

/* NULL if rep is not one the decoder would accept (kind, status, field
   sizes): a bad reply shows up at its source rather than as a timeout. */
zmsg_t *msg_api_rep_encode (const msg_api_rep_t *rep);
int msg_api_rep_decode (zmsg_t *zm, msg_api_rep_t *rep);
void msg_api_rep_clear (msg_api_rep_t *rep);

/*  The health reply: this server's view (msg_api_health.c). */
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

struct msg_health {
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
};

/* For msg_api.c: the health fields as one msgpack array, and back. The
   decoder returns one malloc'ed block (free () it) holding the struct,
   its members and its strings, or NULL if o is not such an array. */
void msg_api_health_pack (msgpack_packer *pk, const msg_health_t *h);
msg_health_t *msg_api_health_unpack (const msgpack_object *o);

#endif
