/*  http_int.h -- what the files of the http actor share (http.c says how
    it works and lists the files): the actor's state, each worker
    thread's, one request's, and the functions that cross files.
*/
#ifndef HTTP_INT_H_INCLUDED
#define HTTP_INT_H_INCLUDED

#include "access.h"
#include "actors.h"
#include "admission.h"
#include "kvsm.h"
#include "metrics.h"
#include "msg_api.h"
#include "node_ctx.h"
#include "parse.h"
#include "read_barrier.h"

#include <civetweb.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

/* What init_thread gives each worker thread. */
typedef struct {
    zsock_t *dealer;
    zsock_t *mon;       /* PUSH to the monitor (one per worker), or NULL */
    int64_t wait_start; /* zclock_mono () when this worker began waiting
                           for its connection's next request */
    /* While it reads a body (under watch_mutex): the deadline (0: not
       reading one), the connection's addresses, and whether the actor cut
       it off (http.c, s_watch). */
    int64_t body_deadline;
    char peer[48];
    int peer_port, local_port;
    bool cut;
    bool writing; /* the deadline is a stream's write (http_watch.c): cut
                     the connection both ways */
} http_worker_t;

typedef struct {
    http_args_t args;
    struct mg_context *ctx;
    atomic_uint_fast64_t next_req_id;
    http_access_t access;
    json_t *security;         /* /health's "security" (copied per request) */
    http_admission_t *bodies; /* slots for bodies being read */
    pthread_mutex_t watch_mutex;
    http_worker_t **workers; /* every worker thread's, for the watch */
    size_t n_workers, max_workers;
    node_ctx_t *node; /* the actor thread's, bound by each worker */
    zloop_t *loop;    /* the actor's loop (actor.h): $TERM, the watch */
    int status;       /* start-up status (actor.h); 0: listening */
    /* linearizable GETs' shared read barrier (read_barrier.h) */
    http_read_barrier_t *barrier;
    /* watches (http_watch.c): their slots, and the stop that wakes them */
    http_admission_t *watches;
    int watch_slots;
    atomic_bool watch_stopping;
} http_self_t;

/* One request being served. */
typedef struct {
    http_self_t *self;
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    zsock_t *dealer;
    http_worker_t *w;      /* this worker's, or NULL */
    bool body_read;        /* the whole request body was consumed */
    bool close;            /* close the connection after the reply */
    int64_t read_deadline; /* zclock_mono () by which the body must be in */
    metrics_route_t route;
    const char *who; /* the token's name, for logs, or NULL */
} http_req_t;

/* http_callbacks.c: civetweb's callbacks, external_ssl_ctx when tls. */
void http_callbacks_set (struct mg_callbacks *callbacks, bool tls);

/* http_callbacks.c: the worker's DEALER to the raft actor, made and
   connected at its first use; NULL if it cannot be (logged). */
zsock_t *http_worker_dealer (http_self_t *self, http_worker_t *w);

/* http_routes.c: serve the request (access, then its route's handler);
   returns the status sent. */
int http_route (http_req_t *c);

/* The handlers (http_kv.c, http_members.c): each returns the status
   sent. */
int http_kv_put (http_req_t *c);
int http_kv_get (http_req_t *c);
int http_kv_delete (http_req_t *c);
/* http_txn.c: PUT (put) or DELETE with their compare shorthands; TXN */
int http_kv_write (http_req_t *c, bool put);
/* ?forward=true|false on a write: 0 with *out, or the status of the 400
   sent (http_kv.c). */
int http_kv_forward_param (http_req_t *c, msg_api_forward_t *out);
int http_kv_txn (http_req_t *c);
/* http_session.c: client sessions (§6.3). http_session_fields reads a
   write's "session", "seq", "ack" into cmd (and stamps it): 0, or the
   400 it answered. */
int http_session_open (http_req_t *c);
int http_session_close (http_req_t *c);
int http_session_fields (http_req_t *c, const char *body, size_t len,
                         kvsm_cmd_t *cmd);
/* http_lease.c: leases (store/kvsm_lease.h). http_lease_fields reads a
   write's "lease" (a put's, a TXN's put ops') into cmd: 0 with *first the
   first lease named (0: none), or the 400 it answered. http_lease_call:
   http_call, and a 404 lease_not_found names lease. */
int http_lease_grant (http_req_t *c);
int http_lease_keepalive (http_req_t *c);
int http_lease_revoke (http_req_t *c);
int http_lease_info (http_req_t *c);
int http_lease_list (http_req_t *c);
int http_lease_fields (http_req_t *c, const char *body, size_t len,
                       kvsm_cmd_t *cmd, uint64_t *first);
int http_lease_call (http_req_t *c, msg_api_req_t *req, uint64_t lease);
/* http_range.c: GET /kv/range */
int http_kv_range (http_req_t *c);
/* http_watch.c: GET /kv/watch; and, before civetweb stops, wake every
   watch so that none holds the stop up */
int http_kv_watch (http_req_t *c);
void http_watch_stop (http_self_t *self);
/* http_watch.c, for every stream (watches, /ui/events): the
   connection's socket (or -1), whether its client went away, and a write
   done within 5 s or the connection cut (false: gone or too slow). */
int http_stream_fd (http_req_t *c);
bool http_stream_gone (int fd);
bool http_stream_write (http_req_t *c, const char *data, size_t len);
/* http_ui.c: the /ui page (issue 16) */
int http_ui_page (http_req_t *c);
int http_ui_events (http_req_t *c);
int http_ui_proxy (http_req_t *c);
/* /health's "monitor_addr", when the node has a monitoring socket */
void http_ui_health (http_req_t *c, json_t *body);
int http_raft_join (http_req_t *c);
int http_raft_remove (http_req_t *c);
/* http_fault.c: /debug/fault (GET, POST) and /debug/stop (--enable-faults);
   the gate answers 403 faults_disabled for either path when faults are
   off (returns that status, else 0); /health's "faults_enabled" and
   "faults"; the faults object. */
int http_debug_fault (http_req_t *c);
int http_debug_stop (http_req_t *c);
int http_fault_gate (http_req_t *c, const char *path);
void http_fault_health (http_self_t *self, json_t *body);
json_t *http_fault_json (const fault_state_t *st);

/* http_ask.c: send req (its req_id is set here) to the raft actor and wait
   for the reply carrying that req_id: 0 with *rep (the caller clears it
   with msg_api_rep_clear), or the status of the error already sent to the
   client (*rep then holds nothing). Takes req's buffers. */
int http_ask (http_req_t *c, msg_api_req_t *req, msg_api_rep_t *rep);
/* http_ask for a shared read barrier round (read_barrier.h's ask, arg
   the http_req_t of the worker sending the round): one MSG_API_READ, its
   answer or the failure (500 internal, 503 timeout) in *out; sends
   nothing to the client. */
void http_ask_barrier (void *arg, http_read_barrier_result_t *out);
/* Send rep's status and its body (http_render_rep); returns the status
   sent. */
int http_reply_rep (http_req_t *c, const msg_api_rep_t *rep);
/* http_ask, then http_reply_rep. */
int http_call (http_req_t *c, msg_api_req_t *req);

/* http_reply.c: send status and body (which this takes), with extra header
   lines ("Name: value\r\n"..., or NULL); returns status. */
int http_reply_json (http_req_t *c, int status, json_t *body,
                     const char *extra);
/* {"error": error[, "detail": detail]}; returns status. */
int http_reply_error (http_req_t *c, int status, const char *error,
                      const char *detail);
int http_reply_parse_error (http_req_t *c, const http_parse_err_t *err);
/* Whether the request carries a body (read or not). */
bool http_has_body (const http_req_t *c);
/* civetweb's http_error callback: its refusals as JSON. */
int http_reply_civetweb_error (struct mg_connection *conn, int status,
                               const char *errmsg);

/* http_body.c: the whole body (README, "Slow clients" in http.c): 0 with
   a malloc'ed, NUL-terminated *out, or the status of the error reply
   already sent. */
int http_read_body (http_req_t *c, char **out, size_t *out_len);
/* Cut off the bodies still arriving past their deadline (the actor, every
   S_WATCH_MS). */
void http_body_watch (http_self_t *self);

#endif
