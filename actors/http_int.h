/*  http_int.h -- what the files of the http actor share (actors/http.c
    says how it works): the actor's state, each worker thread's, one
    request's, and the functions that cross files:

      http.c         the actor: civetweb start and stop, its callbacks, the
                     deadline watch, access settings
      http_routes.c  the routes: access check, handlers, asking the raft
                     actor
      http_reply.c   a request's bytes: its body read within the deadline
                     and a body slot; JSON replies and civetweb's own
                     refusals
*/
#ifndef HTTP_INT_H_INCLUDED
#define HTTP_INT_H_INCLUDED

#include "access.h"
#include "actors.h"
#include "admission.h"
#include "metrics.h"
#include "node_ctx.h"
#include "parse.h"

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

/* http_routes.c: serve the request (access, then its route's handler);
   returns the status sent. */
int http_route (http_req_t *c);

/* http_reply.c: send status and body (which this takes), with extra header
   lines ("Name: value\r\n"..., or NULL); returns status. */
int http_reply_json (http_req_t *c, int status, json_t *body,
                     const char *extra);
/* {"error": error[, "detail": detail]}; returns status. */
int http_reply_error (http_req_t *c, int status, const char *error,
                      const char *detail);
int http_reply_parse_error (http_req_t *c, const http_parse_err_t *err);
/* The whole body (README, "Slow clients" in http.c): 0 with a malloc'ed,
   NUL-terminated *out, or the status of the error reply already sent. */
int http_read_body (http_req_t *c, char **out, size_t *out_len);
/* Whether the request carries a body (read or not). */
bool http_has_body (const http_req_t *c);
/* civetweb's http_error callback: its refusals as JSON. */
int http_reply_civetweb_error (struct mg_connection *conn, int status,
                               const char *errmsg);

#endif
