/*  raft_actor_int.h -- the raft actor's state, shared by its files:

      raft_actor.c           the actor: its sockets, timers and handlers
      raft_actor_storage.c   what storage sends: boot (the core starts),
                             persisted, applied, value, usage, error
      raft_actor_io.c        driving the core (ra_drive) and what goes to
                             storage and transport
      raft_actor_requests.c  the table of client requests waiting for an
                             outcome, and the replies
      raft_actor_api.c       the API's operations: PUT, DELETE, GET, the
                             read barrier, /health, join and remove
      raft_actor_quorum.c    who was heard from lately, for 503 no_quorum
      raft_actor_compact.c   when to compact the log (chapter 5)
      raft_actor_lease.c     the leader's lease deadlines (store/lessor.h):
                             promote, expiry, keep-alive, lease info

    ra_: the raft actor's functions shared between its files. The
    protocol is at the top of raft_actor.c.
*/
#ifndef RAFT_ACTOR_INT_H_INCLUDED
#define RAFT_ACTOR_INT_H_INCLUDED

#include "actors.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "msg_api.h"
#include "msg_raft.h"
#include "msg_store.h"
#include "msg_transport.h"
#include "lessor.h"
#include "quota.h"

#include <msgpack.h>
#include <string.h>

typedef enum {
    RA_WAIT_APPLY = 1, /* proposal: until applied (or lost) */
    RA_WAIT_READ,      /* ReadIndex: until confirmed */
    RA_WAIT_READ_FWD,  /* a follower's ReadIndex: the core answers it, ok or
                          not, whatever the roles do meanwhile (read.c) */
    RA_WAIT_FORWARD,   /* a write forwarded to the leader: its reply
                          (raft_actor_forward.c) */
    RA_WAIT_VALUE,     /* storage get */
    RA_WAIT_CONF,      /* configuration entry: until committed */
    RA_WAIT_CATCH_UP,  /* join: learner added, waiting to promote */
    RA_WAIT_LEASES,    /* lease info: storage's "leases" (ctx) */
} ra_wait_t;

typedef struct {
    zframe_t *identity; /* the HTTP worker's DEALER */
    uint64_t req_id;
    msg_api_op_t op;
    ra_wait_t wait;
    int64_t deadline;
    raft_index_t index;
    raft_term_t term;
    bool committed; /* proposal: its entry was handed out to apply */
    bool acked;     /* proposal: answered 200 (for /metrics) */
    uint64_t ctx;   /* read or storage get */
    raft_buf_t *key;
    bool stale;
    raft_id_t id; /* join / remove */
} ra_req_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *storage;
    zsock_t *transport;
    zsock_t *api;
    zloop_t *loop;
    int status;     /* start-up status (actor.h); 0: ready */
    bool api_bound; /* unbound on the way out */
    raft_actor_args_t args;
    raft_t *r;
    uint64_t rng;
    ra_req_t *reqs;
    size_t n_reqs, cap_reqs;
    uint64_t next_ctx;
    int64_t started;
    int64_t mem_compacted; /* zclock_mono () of the last compaction by memory */
    raft_conf_t peers_sent; /* configuration last sent as "peers" */
    raft_role_t last_role;
    raft_id_t last_leader;
    int64_t last_recv[RAFT_MAX_SERVERS + 1];
    raft_id_t recv_id[RAFT_MAX_SERVERS + 1];
    /* leases (raft_actor_lease.c): the lessor, and the "leases" list
       asked of storage for the term this node leads (req 0: none
       outstanding) */
    struct {
        lessor_t *lessor;
        bool leading;
        raft_term_t term;
        uint64_t req;
    } lease;
    bool shutting_down;
    int64_t shutdown_deadline;
    uint64_t dropped_in;
    uint64_t forged; /* messages whose from is not their link's member */
    bool failed;
    char fail_reason[600]; /* why, for "FAILED <reason>" (actor.h) */
    zsock_t *mon;          /* PUSH to the monitor actor, or NULL */
    quota_t quota;
    int64_t alarm_compacted; /* zclock_mono () of the last compaction
                                forced by the alarm */
    /* the last snapshot installed from a leader (for /health): pending
       until its write is persisted */
    struct {
        bool pending, valid;
        uint64_t seq;
        raft_index_t index;
        raft_term_t term;
        raft_id_t from;
        uint64_t at_ms;
    } snap;
} ra_self_t;

/* raft_actor.c: run one API request (a worker's, or one forwarded) */
void ra_api_dispatch (ra_self_t *self, zframe_t **identity, msg_api_req_t *req);

/* raft_actor_forward.c */
bool ra_forward_wanted (ra_self_t *self, const msg_api_req_t *req);
void ra_forward_send (ra_self_t *self, zframe_t **identity,
                      const msg_api_req_t *req);
/* A reply for a forwarded request's identity goes back to its follower:
   true when identity was one (rep sent or dropped, still the caller's). */
bool ra_forward_reply (ra_self_t *self, zframe_t *identity, zmsg_t *rep);
void ra_forward_recv (ra_self_t *self, raft_id_t link_from, const void *data,
                      size_t len);

/* raft_actor_requests.c */
ra_req_t *ra_req_add (ra_self_t *self, zframe_t **identity,
                      const msg_api_req_t *req, ra_wait_t wait);
void ra_reply_empty (ra_self_t *self, zframe_t *identity, uint64_t req_id);
void ra_reply_error (ra_self_t *self, zframe_t *identity, uint64_t req_id,
                     unsigned status, const char *code);
void ra_reply_error_detail (ra_self_t *self, zframe_t *identity,
                            uint64_t req_id, unsigned status, const char *code,
                            const char *detail);
/* A KV command applied: the state machine's result, as storage sent it. */
void ra_reply_kv (ra_self_t *self, zframe_t *identity, uint64_t req_id,
                  raft_index_t index, const msg_apply_result_t *r);
void ra_reply_value (ra_self_t *self, zframe_t *identity, uint64_t req_id,
                     raft_buf_t *key, raft_buf_t *value, bool stale);
void ra_reply_written (ra_self_t *self, zframe_t *identity, uint64_t req_id,
                       raft_buf_t *key, raft_index_t index, bool is_delete,
                       bool flag);
void ra_req_drop (ra_self_t *self, size_t i);
void ra_req_free (ra_req_t *q);
void ra_send_reply (ra_self_t *self, zframe_t *identity,
                    const msg_api_rep_t *r);
void ra_settle (ra_self_t *self);

/* raft_actor_io.c */
void ra_drive (ra_self_t *self);
void ra_on_snap_chunk (ra_self_t *self, const msg_store_t *c);
void ra_store_get (ra_self_t *self, uint64_t ctx, raft_buf_t *key);
void ra_store_send (ra_self_t *self, const msg_store_t *m);

/* raft_actor_api.c */
void ra_conf_done (ra_self_t *self, ra_req_t *q);
void ra_get (ra_self_t *self, zframe_t **identity, const msg_api_req_t *req);
void ra_join (ra_self_t *self, zframe_t **identity, const msg_api_req_t *req);
void ra_propose_kv (ra_self_t *self, zframe_t **identity,
                    const msg_api_req_t *req);
void ra_read_index (ra_self_t *self, zframe_t **identity,
                    const msg_api_req_t *req);
void ra_remove (ra_self_t *self, zframe_t **identity, const msg_api_req_t *req);
void ra_reply_health (ra_self_t *self, zframe_t *identity, uint64_t req_id);

/* raft_actor_quorum.c */
bool ra_refuse_unless_leader (ra_self_t *self, zframe_t *identity,
                              uint64_t req_id);
void ra_heard_from (ra_self_t *self, raft_id_t id);

/* raft_actor_trace.c: a "msg_send" or "msg_recv" trace event for m */
void ra_trace_msg (ra_self_t *self, bool sent, const raft_msg_t *m);
/* raft_actor_lease.c */
int ra_lease_init (ra_self_t *self);
void ra_lease_destroy (ra_self_t *self);
/* After every batch: promote (ask storage for the table) on becoming
   leader, demote on stepping down. */
void ra_lease_settle (ra_self_t *self, const raft_status_t *st);
/* storage's "leases" answer; an "applied" message's lease events */
void ra_lease_on_list (ra_self_t *self, const msg_store_t *m);
void ra_lease_on_applied (ra_self_t *self, const msg_store_t *m);
/* Every tick: propose an LREVOKE (expired) for each lease due. */
void ra_lease_tick (ra_self_t *self);
/* An LGRANT about to be proposed: its TTL clamped into the leader's
   bounds; true if it changed (cmd must be encoded again). */
bool ra_lease_clamp (ra_self_t *self, msg_kv_t *cmd);
void ra_lease_keepalive (ra_self_t *self, zframe_t **identity,
                         const msg_api_req_t *req);
void ra_lease_info (ra_self_t *self, zframe_t **identity,
                    const msg_api_req_t *req);
/* A keep-alive's ReadIndex round confirmed leadership: renew, answer. */
void ra_lease_confirmed (ra_self_t *self, ra_req_t *q);

/* raft_actor_compact.c */
void ra_maybe_compact (ra_self_t *self);

/* raft_actor_storage.c */
void ra_on_storage (ra_self_t *self, zmsg_t *zm);

/* raft_actor.c */
const char *ra_leader_http (ra_self_t *self, char *http, size_t len);
void ra_publish_metrics (ra_self_t *self);
void ra_split_addr (const char *addr, char *peer, size_t peer_len, char *http,
                    size_t http_len);

#endif
