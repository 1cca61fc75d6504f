/*  http.c -- the http actor: nsxd's HTTP API (the prototype's, exactly),
    served by civetweb, with bearer tokens, TLS and a request deadline
    (README, "Security").

    Protocol:
      pipe   <- "$TERM"                 stop: mg_stop (), which waits for
                                        every worker to finish its request
             -> signal 0                listening on args->listen
             -> signal 1, "FAILED"      mg_start failed (address in use, bad
                                        listen string); the actor then only
                                        waits for "$TERM". czmq's zactor_new
                                        swallows the signal's status, so main
                                        must watch the pipe for "FAILED" (as
                                        it does the raft actor's) and exit
                                        with an error.
      api    each civetweb worker thread has its own DEALER connected to
             args->api_endpoint (ZeroMQ sockets are not thread-safe; it is
             created in init_thread, closed in exit_thread):
             -> msg_api "req" with a req_id unique in the process
             <- msg_api "rep": the worker waits up to args->timeout_ms +
                500 ms for the reply carrying its req_id; replies with other
                req_ids (late answers to requests that already timed out
                on this worker) and undecodable frames are dropped.

    monitor  each worker also has a PUSH to args->monitor_endpoint (if
             set): one "http" trace event per request (msg/msg_trace.h),
             sent without blocking.

    No civetweb thread touches Raft state: a worker checks access
    (http/access.h), parses the request (http/parse.h), asks the raft actor,
    and renders the answer; GETs read LevelDB themselves (kv_shared_t).

    The API (JSON bodies; Content-Type: application/json, Content-Length,
    keep-alive unless the body was left unread or access was refused):
      POST   /kv/put       {"key": "foo", "value": "bar"}      write
      GET    /kv/get?key=foo[&stale=true]                       read
      DELETE /kv/delete    {"key": "foo"}                       write
      GET    /health       the raft actor's status plus this
                           side's "security" object             open*
      POST   /raft/join    {"peer": "node4:8000"[, "id": 4]}    admin
      POST   /raft/remove  {"peer": "node4:8000"} or {"id": 4}  admin
      GET    /metrics      Prometheus text, rendered here from the
                           registry (actors/metrics.h)          open*
    (* read with --auth-health.) The raft actor's status and body map go
    back as they are. Errors made here are JSON too:
      400 {"error": "bad_request", "detail": "..."}   http/parse.h
      401 {"error": "unauthorized", "detail"} + WWW-Authenticate: Bearer
      403 {"error": "forbidden", "detail"}            http/access.h
      404 {"error": "unknown_path", "path": "..."}
      405 {"error": "method_not_allowed"} with an Allow header
      408 {"error": "request_timeout", "detail"}      the request did not
          arrive within args->read_ms (below)
      409 {"error": "not_leader", "leader"}           /raft/join on a
          follower, before anything is fetched
      413 {"error": "too_large", "detail": "..."}     body > max_body (from
          Content-Length before reading, or counted while reading a chunked
          body), key > max_key, value > max_value
      502 {"error": "peer_unreachable", "peer": "...", "detail": "..."}
          /raft/join could not read the new server's /health
      503 {"error": "busy", "detail"}                 too many bodies
          arriving at once (below)
      503 {"error": "timeout"}                         the raft actor did not
          answer in time
      500 {"error": "internal", "detail": "..."}       our own failure only
    and civetweb's own refusals are rendered the same way, with
    "Connection: close": 400 bad_request (unparsable request), 405
    method_not_allowed (unknown method), 413 too_large (header block over
    max_request_size), 408 request_timeout, 505 http_version_not_supported,
    anything else "http_error"; "detail" is civetweb's message.

    Slow clients. civetweb 1.15 is thread-per-connection with a fixed pool,
    and read from its source (src/civetweb.c at v1.15):
      - the TLS handshake (sslize) gives up after request_timeout_ms;
      - the header block (read_message) must be complete within
        request_timeout_ms of the worker starting to wait for it, checked
        after every read, each read waiting up to request_timeout_ms: at
        most twice that in all (keep_alive_timeout_ms instead of
        request_timeout_ms for the later requests of a connection);
      - the body: each mg_read () waits until it has all it asked for or
        request_timeout_ms passed since it began (pull_all), so a client
        trickling a byte at a time keeps a worker for as long as the
        handler keeps calling mg_read; civetweb has no per-request limit.
    So: request_timeout_ms is a short read slice (read_ms / 5, at most 1 s)
    and the body loop stops at args->read_ms after the worker began
    waiting for the request (init_connection, or the end of the previous
    request on a keep-alive connection): headers and body together within
    read_ms, cut off at most two slices later (408). That bounds each slow
    client, but not how many there are: a worker takes a slot before it
    reads a body (http/admission.h; threads / 4 in all, half of that per
    client address), and a client over either cap is refused at once (503
    busy, connection closed), so slow bodies can hold at most a quarter of
    the workers and /health and the rest keep being served. Slow *header*
    blocks are bounded by the slice alone (2 s by default): more slow
    connections than workers, renewed as fast as they are cut, still fill
    the pool -- a per-address connection limit in front (iptables
    connlimit, a proxy) is the remedy civetweb leaves us.

    /raft/join asks the raft actor first (the health op: role and leader),
    answers 409 not_leader without fetching anything on a follower, then
    asks the NEW server for its identity (http/join_fetch.h: its /health,
    over TLS when we serve TLS, name lookup included in the deadline,
    min (args->timeout_ms, 2 s)), then asks the raft actor to add it.
*/
#include "access.h"
#include "actors.h"
#include "admission.h"
#include "join_fetch.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "msg_api.h"
#include "parse.h"
#include "socket_find.h"

#include <civetweb.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How long the raft actor may take beyond the request deadline it applies
   itself: its own 503 should win over ours. */
#define S_REPLY_GRACE_MS 500
/* /raft/join's fetch of the new server's /health. */
#define S_JOIN_FETCH_MAX_MS 2000
/* civetweb: a header block larger than this is refused (413). */
#define S_MAX_REQUEST_SIZE "16384"
#define S_DEFAULT_READ_MS 5000
/* civetweb's request_timeout_ms: read_ms / S_SLICES, within these. */
#define S_SLICES 5
#define S_SLICE_MIN_MS 10
#define S_SLICE_MAX_MS 1000
/* How often the actor looks for bodies past their deadline. */
#define S_WATCH_MS 50

/* What init_thread gives each worker thread. */
typedef struct {
    zsock_t *dealer;
    zsock_t *mon;       /* PUSH to the monitor (one per worker), or NULL */
    int64_t wait_start; /* zclock_mono () when this worker began waiting
                           for its connection's next request */
    /* While it reads a body (under self->watch_mutex): the deadline
       (0: not reading one), the connection's addresses, and whether the
       actor cut it off (s_watch). */
    int64_t body_deadline;
    char peer[48];
    int peer_port, local_port;
    bool cut;
} s_worker_t;

typedef struct {
    http_args_t args;
    struct mg_context *ctx;
    atomic_uint_fast64_t next_req_id;
    http_access_t access;
    json_t *security;         /* /health's "security" (copied per request) */
    http_admission_t *bodies; /* slots for bodies being read */
    pthread_mutex_t watch_mutex;
    s_worker_t **workers; /* every worker thread's, for s_watch */
    size_t n_workers, max_workers;
} self_t;

/* One request being served. */
typedef struct {
    self_t *self;
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    zsock_t *dealer;
    s_worker_t *w;         /* this worker's, or NULL */
    bool body_read;        /* the whole request body was consumed */
    bool close;            /* close the connection after the reply */
    int64_t read_deadline; /* zclock_mono () by which the body must be in */
    metrics_route_t route;
    const char *who; /* the token's name, for logs, or NULL */
} s_ctx_t;

/*  ---------------------------------------------------------------------
    Responses                                                            */

/* Whether the request carries a body (read or not). */
static bool
s_has_body (const s_ctx_t *c)
{
    if (c->ri->content_length >= 0)
        return c->ri->content_length > 0;
    if (mg_get_header (c->conn, "Transfer-Encoding"))
        return true;
    /* Neither length nor chunks: civetweb takes the rest of the
       connection as the body of a POST or PUT; other methods have none. */
    return streq (c->ri->request_method, "POST") ||
           streq (c->ri->request_method, "PUT");
}

/* Whether civetweb keeps the connection open after this request: its
   should_keep_alive () for our configuration (keep-alive enabled, no 401
   ever sent): a "Connection" header decides if present, else HTTP/1.1
   means keep-alive. */
static bool
s_keep_alive (const s_ctx_t *c)
{
    const char *h = mg_get_header (c->conn, "Connection");
    if (!h)
        return c->ri->http_version && strcmp (c->ri->http_version, "1.1") == 0;
    /* a comma-separated list of options, any case */
    const char *p = h;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t n = strcspn (p, ", \t");
        if (n == 10 && strncasecmp (p, "keep-alive", 10) == 0)
            return true;
        p += n;
    }
    return false;
}

/* Send status and body (which this takes), with extra header lines
   ("Name: value\r\n"..., or NULL). Returns status, which begin_request
   hands back to civetweb for its bookkeeping.

   The whole response goes out in one write: civetweb's
   mg_response_header_send writes each header line with its own send(),
   which with TCP_NODELAY is one segment each (7 per reply, measured with
   strace), the largest cost of a small request after the kernel's own. */
static int
s_send_json (s_ctx_t *c, int status, json_t *body, const char *extra)
{
    /* civetweb does not skip a body the handler left unread: its bytes
       would be parsed as the next request on the connection (checked:
       a 405 left "GET /x ..." in a body and /x was served next). So a
       reply that leaves a body unread closes the connection. So does a
       refusal of access: civetweb itself closes after a 401
       (should_keep_alive), and a refused client has no claim on a
       worker. */
    bool keep = s_keep_alive (c) && !c->close;
    if (!keep || (!c->body_read && s_has_body (c))) {
        mg_disable_connection_keep_alive (c->conn);
        keep = false;
    }
    size_t len = 0;
    char *text = body ? json_body_text (body, &len) : NULL;
    json_decref (body);
    static const char fallback[] = "{\"error\": \"internal\"}";
    if (!text)
        status = 500;
    const char *out = text ? text : fallback;
    size_t out_len = text ? len : sizeof fallback - 1;
    char date[64];
    time_t now = time (NULL);
    struct tm tm;
    strftime (date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT",
              gmtime_r (&now, &tm));
    char head[768];
    int hn =
        snprintf (head, sizeof head,
                  "HTTP/1.1 %d %s\r\n"
                  "Content-Type: application/json\r\n"
                  "Content-Length: %zu\r\n"
                  "Date: %s\r\n"
                  "Connection: %s\r\n"
                  "%s"
                  "\r\n",
                  status, mg_get_response_code_text (c->conn, status), out_len,
                  date, keep ? "keep-alive" : "close", extra ? extra : "");
    char *msg = hn > 0 && (size_t)hn < sizeof head
                    ? malloc ((size_t)hn + out_len)
                    : NULL;
    if (msg) {
        memcpy (msg, head, (size_t)hn);
        memcpy (msg + hn, out, out_len);
        mg_write (c->conn, msg, (size_t)hn + out_len);
        free (msg);
    } else {
        mg_write (c->conn, head, hn > 0 ? (size_t)hn : 0);
        mg_write (c->conn, out, out_len);
    }
    free (text);
    return status;
}

static int
s_error (s_ctx_t *c, int status, const char *error, const char *detail)
{
    return s_send_json (c, status, json_error_body (error, detail), NULL);
}

static int
s_parse_error (s_ctx_t *c, const http_parse_err_t *err)
{
    return s_error (c, err->status, err->error, err->detail);
}

/*  ---------------------------------------------------------------------
    Request bodies                                                       */

/* A reply not sent yet. */
typedef struct {
    int status;
    const char *error;
    char detail[128];
} s_refusal_t;

static int
s_refuse (s_refusal_t *r, int status, const char *error, const char *detail)
{
    r->status = status;
    r->error = error;
    snprintf (r->detail, sizeof r->detail, "%s", detail);
    return status;
}

/* Read the whole body, at most args.max_body bytes, before the request's
   read deadline, holding a body slot (see "Slow clients" at the top).
   Returns 0 with a malloc'ed *out (NUL-terminated, for the logs' sake),
   or the status of the reply to send, in *r: the caller gives the slot
   back before it answers, so that a client's next request never finds
   its own last slot still taken. */
static int
s_read_body_slot (s_ctx_t *c, char **out, size_t *out_len, s_refusal_t *r)
{
    size_t max = c->self->args.max_body;
    long long cl = c->ri->content_length; /* -1: unknown (chunked) */
    /* Known length: one buffer. Unknown: grow, up to one byte past the
       limit, which is how a chunked body too large shows itself. */
    size_t cap = cl >= 0 ? (size_t)cl + 1 : (max + 1 < 4096 ? max + 1 : 4096);
    char *buf = malloc (cap);
    if (!buf)
        return s_refuse (r, 500, "internal", "out of memory");
    s_worker_t *w = c->w;
    if (w) {
        pthread_mutex_lock (&c->self->watch_mutex);
        w->body_deadline = c->read_deadline;
        snprintf (w->peer, sizeof w->peer, "%s", c->ri->remote_addr);
        w->peer_port = c->ri->remote_port;
        w->local_port = c->ri->server_port;
        w->cut = false;
        pthread_mutex_unlock (&c->self->watch_mutex);
    }
    size_t len = 0;
    int st = 0;
    bool complete = false; /* all of it, or more than max */
    while (zclock_mono () < c->read_deadline) {
        if (len + 1 >= cap && (cl >= 0 || len > max)) {
            complete = true; /* all that was announced, or too much */
            break;
        }
        if (len + 1 >= cap) {
            size_t ncap = cap * 2 < max + 2 ? cap * 2 : max + 2;
            char *nbuf = realloc (buf, ncap);
            if (!nbuf) {
                st = s_refuse (r, 500, "internal", "out of memory");
                break;
            }
            buf = nbuf;
            cap = ncap;
        }
        /* mg_read returns once it has all it asked for, or after a read
           slice without a byte (civetweb's request_timeout_ms): bytes that
           keep trickling in faster than that keep it reading, and only
           the actor's watch (s_watch) cuts it off at the deadline. 0: no
           byte in a slice (or the end of a chunked body), -1: the client
           went away, or the watch shut the connection's reading side. */
        int n = mg_read (c->conn, buf + len, cap - 1 - len);
        if (n < 0) {
            st = s_refuse (r, 400, "bad_request", "could not read the body");
            break;
        }
        if (n == 0 && cl < 0) {
            complete = true;
            break;
        }
        len += (size_t)n;
    }
    bool cut = false;
    if (w) {
        pthread_mutex_lock (&c->self->watch_mutex);
        w->body_deadline = 0;
        cut = w->cut;
        pthread_mutex_unlock (&c->self->watch_mutex);
    }
    (void)cut; /* a body cut off is not complete */
    char detail[128];
    if (st == 0 && !complete) {
        snprintf (detail, sizeof detail,
                  "the request did not arrive within %d ms "
                  "(--request-read-ms)",
                  c->self->access.read_ms);
        st = s_refuse (r, 408, "request_timeout", detail);
    }
    if (!st && len > max) {
        snprintf (detail, sizeof detail, "body is larger than %zu bytes", max);
        st = s_refuse (r, 413, "too_large", detail);
    }
    if (st) {
        free (buf);
        return st;
    }
    buf[len] = 0;
    *out = buf;
    *out_len = len;
    c->body_read = true;
    return 0;
}

static int
s_read_body (s_ctx_t *c, char **out, size_t *out_len)
{
    size_t max = c->self->args.max_body;
    long long cl = c->ri->content_length;
    if (cl > 0 && (unsigned long long)cl > max) {
        char detail[96];
        snprintf (detail, sizeof detail, "body is larger than %zu bytes", max);
        return s_error (c, 413, "too_large", detail); /* never read it */
    }
    if (cl == 0) {
        *out = calloc (1, 1);
        *out_len = 0;
        c->body_read = true;
        return *out ? 0 : s_error (c, 500, "internal", "out of memory");
    }
    const char *addr = c->ri->remote_addr;
    http_admit_t admit = http_admission_enter (c->self->bodies, addr);
    if (admit != HTTP_ADMIT_OK) {
        char detail[160];
        if (admit == HTTP_ADMIT_ADDR_FULL)
            snprintf (detail, sizeof detail,
                      "too many requests from %s are sending their bodies "
                      "at once; retry later",
                      addr);
        else
            snprintf (detail, sizeof detail,
                      "too many requests are sending their bodies at once; "
                      "retry later");
        c->close = true;
        return s_send_json (c, 503, json_error_body ("busy", detail),
                            "Retry-After: 1\r\n");
    }
    s_refusal_t r;
    int st = s_read_body_slot (c, out, out_len, &r);
    http_admission_leave (c->self->bodies, addr);
    return st ? s_error (c, r.status, r.error, r.detail) : 0;
}

/* Send req (its req_id is set here) and wait for the matching reply:
   0 with *status and *body (a JSON object, the caller's), or the status of
   the error already sent to the client. Takes req's buffers. */
static int
s_ask (s_ctx_t *c, msg_api_req_t *req, unsigned *status, json_t **body)
{
    if (!c->dealer) {
        msg_api_req_clear (req);
        return s_error (c, 500, "internal", "no socket to the raft actor");
    }
    req->req_id = atomic_fetch_add (&c->self->next_req_id, 1);
    uint64_t req_id = req->req_id;
    zmsg_t *zm = msg_api_req_encode (req);
    msg_api_req_clear (req);
    if (!zm)
        return s_error (c, 500, "internal", "could not encode the request");
    int64_t deadline =
        zclock_mono () + c->self->args.timeout_ms + S_REPLY_GRACE_MS;
    if (zmsg_send (&zm, c->dealer) != 0) {
        /* The send queue is full (the raft actor is stuck): same as no
           answer. */
        zmsg_destroy (&zm);
        return s_error (c, 503, "timeout", NULL);
    }
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        zsock_set_rcvtimeo (c->dealer, (int)left);
        zmsg_t *in = zmsg_recv (c->dealer);
        if (!in) {
            if (errno == ETERM)
                break;
            continue; /* EAGAIN (deadline) or EINTR: the loop decides */
        }
        msg_api_rep_t rep;
        int rc = msg_api_rep_decode (in, &rep);
        zmsg_destroy (&in);
        if (rc != 0) {
            log_warn ("http: malformed reply from the raft actor dropped");
            continue;
        }
        if (rep.req_id != req_id) {
            log_debug ("http: late reply to request %llu dropped",
                       (unsigned long long)rep.req_id);
            msg_api_rep_clear (&rep);
            continue;
        }
        json_t *obj = json_from_msgpack_bytes (rep.body, rep.body_len);
        *status = rep.status;
        msg_api_rep_clear (&rep);
        if (!json_is_object (obj)) {
            json_decref (obj);
            log_error ("http: reply to request %llu cannot be rendered",
                       (unsigned long long)req_id);
            return s_error (c, 500, "internal", "unrenderable reply");
        }
        *body = obj;
        return 0;
    }
    return s_error (c, 503, "timeout", NULL);
}

/* Send req, wait for the reply, send it to the client. Returns the status
   sent. */
static int
s_call (s_ctx_t *c, msg_api_req_t *req)
{
    unsigned status = 0;
    json_t *body = NULL;
    int st = s_ask (c, req, &status, &body);
    if (st)
        return st;
    return s_send_json (c, (int)status, body, NULL);
}

/* GET with the KV data at hand (args.shared): a stale read is a local
   LevelDB lookup; a linearizable one first asks the raft actor for a read
   barrier (ReadIndex, §6.4: answered once this node is confirmed leader
   and has applied up to the read index), then looks up locally, which
   sees at least everything applied up to there. Either way no storage
   actor round trip, and the reply is the one the raft actor would send
   (msg_body_value). */
static int
s_get_local (s_ctx_t *c, store_t *st, msg_api_req_t *req)
{
    if (!req->stale) {
        msg_api_req_t barrier = {.op = MSG_API_READ};
        unsigned status = 0;
        json_t *body = NULL;
        int rc = s_ask (c, &barrier, &status, &body);
        if (rc) {
            msg_api_req_clear (req);
            return rc;
        }
        if (status != 200) {
            msg_api_req_clear (req);
            return s_send_json (c, (int)status, body, NULL);
        }
        json_decref (body);
    }
    raft_buf_t *value = NULL;
    char *err = NULL;
    int found = store_read_kv (st, req->key->data, req->key->len, &value, &err);
    if (found < 0) {
        log_error ("http: read failed: %s", err);
        free (err);
        msg_api_req_clear (req);
        return s_error (c, 500, "internal", "read failed");
    }
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msg_body_value (&buf, req->key, value, req->stale);
    raft_buf_unref (value);
    msg_api_req_clear (req);
    json_t *body = json_from_msgpack_bytes (buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
    if (!json_is_object (body)) {
        json_decref (body);
        return s_error (c, 500, "internal", "unrenderable reply");
    }
    return s_send_json (c, found ? 200 : 404, body, NULL);
}

/*  ---------------------------------------------------------------------
    Routes                                                               */

static http_parse_limits_t
s_limits (const s_ctx_t *c)
{
    return (http_parse_limits_t){.max_key = c->self->args.max_key,
                                 .max_value = c->self->args.max_value};
}

/* The body through a parser of http/parse.h: 0 with *out filled, or the
   status of the reply sent. */
typedef int (*s_kv_parser_t) (const void *body, size_t len,
                              const http_parse_limits_t *lim,
                              http_parse_kv_t *out, http_parse_err_t *err);

static int
s_kv_write (s_ctx_t *c, s_kv_parser_t parse, msg_api_op_t op)
{
    char *body = NULL;
    size_t len = 0;
    int st = s_read_body (c, &body, &len);
    if (st)
        return st;
    http_parse_limits_t lim = s_limits (c);
    http_parse_kv_t kv;
    http_parse_err_t err;
    int rc = parse (body, len, &lim, &kv, &err);
    free (body);
    if (rc != 0)
        return s_parse_error (c, &err);
    msg_api_req_t req = {.op = op, .key = kv.key, .value = kv.value};
    return s_call (c, &req);
}

static int
s_kv_put (s_ctx_t *c)
{
    return s_kv_write (c, http_parse_put, MSG_API_PUT);
}

static int
s_kv_delete (s_ctx_t *c)
{
    return s_kv_write (c, http_parse_delete, MSG_API_DELETE);
}

static int
s_kv_get (s_ctx_t *c)
{
    const char *qs = c->ri->query_string ? c->ri->query_string : "";
    http_parse_limits_t lim = s_limits (c);
    http_parse_kv_t kv;
    http_parse_err_t err;
    if (http_parse_get_query (qs, strlen (qs), &lim, &kv, &err) != 0)
        return s_parse_error (c, &err);
    msg_api_req_t req = {.op = MSG_API_GET, .key = kv.key, .stale = kv.stale};
    store_t *st = c->self->args.shared
                      ? atomic_load_explicit (&c->self->args.shared->store,
                                              memory_order_acquire)
                      : NULL;
    if (st)
        return s_get_local (c, st, &req);
    return s_call (c, &req);
}

/* The raft actor's status, plus this side's settings: http owns them. */
static int
s_health (s_ctx_t *c)
{
    msg_api_req_t req = {.op = MSG_API_HEALTH};
    unsigned status = 0;
    json_t *body = NULL;
    int st = s_ask (c, &req, &status, &body);
    if (st)
        return st;
    if (c->self->security)
        json_object_set_new (body, "security",
                             json_deep_copy (c->self->security));
    return s_send_json (c, (int)status, body, NULL);
}

/* Rendered here, in the worker: a scrape must not wait on the raft
   actor (metrics.h). */
static int
s_metrics (s_ctx_t *c)
{
    size_t len = 0;
    char *text = metrics_render (&len);
    if (!text)
        return s_error (c, 500, "internal", "out of memory");
    if (s_has_body (c))
        mg_disable_connection_keep_alive (c->conn);
    mg_response_header_start (c->conn, 200);
    mg_response_header_add (c->conn, "Content-Type",
                            "text/plain; version=0.0.4; charset=utf-8", -1);
    char cl[32];
    snprintf (cl, sizeof cl, "%zu", len);
    mg_response_header_add (c->conn, "Content-Length", cl, -1);
    mg_response_header_send (c->conn);
    mg_write (c->conn, text, len);
    free (text);
    return 200;
}

static int
s_raft_join (s_ctx_t *c)
{
    char *body = NULL;
    size_t len = 0;
    int st = s_read_body (c, &body, &len);
    if (st)
        return st;
    http_parse_join_t j;
    http_parse_err_t err;
    int rc = http_parse_join (body, len, &j, &err);
    free (body);
    if (rc != 0)
        return s_parse_error (c, &err);

    /* Leadership first: a follower must not fetch anything on behalf of
       whoever asked (the raft actor checks again when asked to add). */
    msg_api_req_t hreq = {.op = MSG_API_HEALTH};
    unsigned status = 0;
    json_t *health = NULL;
    if ((st = s_ask (c, &hreq, &status, &health)))
        return st;
    const char *role = json_string_value (json_object_get (health, "role"));
    if (status != 200 || !role || strcmp (role, "leader") != 0) {
        json_t *leader = json_object_get (health, "leader");
        json_t *b = json_error_body ("not_leader", NULL);
        json_object_set (b, "leader",
                         json_is_string (leader) ? leader : json_null ());
        json_decref (health);
        return s_send_json (c, 409, b, NULL);
    }
    json_decref (health);

    int fetch_ms = c->self->args.timeout_ms < S_JOIN_FETCH_MAX_MS
                       ? c->self->args.timeout_ms
                       : S_JOIN_FETCH_MAX_MS;
    raft_id_t id = 0;
    char peer_addr[RAFT_ADDR_MAX], why[192];
    if (http_join_fetch (c->self->args.tls_client, j.peer, fetch_ms, &id,
                         peer_addr, sizeof peer_addr, why, sizeof why) != 0) {
        log_warn ("http: join %s: %s", j.peer, why);
        json_t *b = json_error_body ("peer_unreachable", NULL);
        json_object_set_new (b, "peer", json_string (j.peer));
        json_object_set_new (b, "detail",
                             json_string_lossy (why, strlen (why)));
        return s_send_json (c, 502, b, NULL);
    }
    if (j.id && j.id != id) {
        char detail[192];
        snprintf (detail, sizeof detail, "id %llu does not match %s's id %llu",
                  (unsigned long long)j.id, j.peer, (unsigned long long)id);
        return s_error (c, 400, "bad_request", detail);
    }
    msg_api_req_t req = {.op = MSG_API_JOIN, .id = id};
    /* The configuration keeps both addresses in one slot: "<peer endpoint>
       <http address>" (split on the first space by the raft actor). */
    if ((size_t)snprintf (req.peer, sizeof req.peer, "%s %s", peer_addr,
                          j.peer) >= sizeof req.peer)
        return s_error (c, 400, "bad_request", "peer addresses too long");
    return s_call (c, &req);
}

static int
s_raft_remove (s_ctx_t *c)
{
    char *body = NULL;
    size_t len = 0;
    int st = s_read_body (c, &body, &len);
    if (st)
        return st;
    http_parse_remove_t rm;
    http_parse_err_t err;
    int rc = http_parse_remove (body, len, &rm, &err);
    free (body);
    if (rc != 0)
        return s_parse_error (c, &err);
    msg_api_req_t req = {.op = MSG_API_REMOVE, .id = rm.id};
    memcpy (req.peer, rm.peer, sizeof req.peer);
    return s_call (c, &req);
}

typedef struct {
    const char *path;
    const char *method;
    int (*handler) (s_ctx_t *c);
    http_access_need_t need;
} s_route_t;

static const s_route_t s_routes[] = {
    {"/kv/put", "POST", s_kv_put, HTTP_ACCESS_WRITE},
    {"/kv/get", "GET", s_kv_get, HTTP_ACCESS_READ},
    {"/kv/delete", "DELETE", s_kv_delete, HTTP_ACCESS_WRITE},
    {"/health", "GET", s_health, HTTP_ACCESS_HEALTH},
    {"/raft/join", "POST", s_raft_join, HTTP_ACCESS_ADMIN},
    {"/raft/remove", "POST", s_raft_remove, HTTP_ACCESS_ADMIN},
    {"/metrics", "GET", s_metrics, HTTP_ACCESS_HEALTH},
};

/* Access first (before any body is read), then the handler. */
static int
s_serve (s_ctx_t *c, const s_route_t *r)
{
    http_role_t role;
    http_access_denial_t d;
    if (http_access_check (&c->self->access, r->need, r->path,
                           mg_get_header (c->conn, "Authorization"),
                           c->ri->remote_addr, &role, &c->who, &d) != 0) {
        c->close = true;
        log_debug ("http: %d %s for %s %s from %s", d.status, d.error,
                   c->ri->request_method, r->path, c->ri->remote_addr);
        char extra[160] = "";
        if (d.www_authenticate)
            snprintf (extra, sizeof extra, "WWW-Authenticate: %s\r\n",
                      d.www_authenticate);
        return s_send_json (c, d.status, json_error_body (d.error, d.detail),
                            extra[0] ? extra : NULL);
    }
    return r->handler (c);
}

static int
s_route (s_ctx_t *c)
{
    const char *path = c->ri->local_uri ? c->ri->local_uri : "";
    c->route = metrics_route_of (path);
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++) {
        if (strcmp (path, s_routes[i].path) != 0)
            continue;
        if (strcmp (c->ri->request_method, s_routes[i].method) != 0) {
            char allow[32];
            snprintf (allow, sizeof allow, "Allow: %s\r\n", s_routes[i].method);
            return s_send_json (
                c, 405, json_error_body ("method_not_allowed", NULL), allow);
        }
        return s_serve (c, &s_routes[i]);
    }
    json_t *b = json_error_body ("unknown_path", NULL);
    json_object_set_new (b, "path", json_string_lossy (path, strlen (path)));
    return s_send_json (c, 404, b, NULL);
}

/* Copy s for a log line, control bytes replaced: paths are the client's. */
static void
s_printable (char *dst, size_t dst_len, const char *s)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < dst_len; i++)
        dst[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    dst[i] = 0;
}

/*  ---------------------------------------------------------------------
    civetweb callbacks                                                   */

/* Every request that civetweb parsed comes here first; returning the
   status tells civetweb the request is handled. */
static int
s_begin_request (struct mg_connection *conn)
{
    int64_t start = zclock_usecs ();
    s_worker_t *w = mg_get_thread_pointer (conn);
    s_ctx_t c = {.self = mg_get_user_data (mg_get_context (conn)),
                 .conn = conn,
                 .ri = mg_get_request_info (conn),
                 .dealer = w ? w->dealer : NULL,
                 .w = w};
    c.read_deadline =
        (w ? w->wait_start : zclock_mono ()) + c.self->access.read_ms;
    int status = s_route (&c);
    int64_t usecs = zclock_usecs () - start;
    metrics_http (c.route, status, (uint64_t)usecs);
    char path[120];
    s_printable (path, sizeof path, c.ri->local_uri);
    if (w && w->mon) {
        msg_trace_ev_t ev;
        monitor_push (w->mon,
                      msg_trace_ev_set (&ev, "http", 0, (uint64_t)usecs, 0,
                                        "%.12s %s %d", c.ri->request_method,
                                        path, status));
    }
    log_debug ("http: %s %s %d %.1f ms%s%s", c.ri->request_method, path, status,
               (double)usecs / 1000.0, c.who ? " token " : "",
               c.who ? c.who : "");
    return status;
}

/* The request deadline counts from when the worker begins waiting for a
   request: here for a connection's first (after the TLS handshake, which
   civetweb bounds by request_timeout_ms itself)... */
static int
s_init_connection (const struct mg_connection *conn, void **conn_data)
{
    (void)conn_data;
    s_worker_t *w = mg_get_thread_pointer (conn);
    if (w)
        w->wait_start = zclock_mono ();
    return 0;
}

/* ... and at the end of the previous one for the next request on a
   keep-alive connection (idle time counts; civetweb drops a connection
   idle for keep_alive_timeout_ms anyway). */
static void
s_end_request (const struct mg_connection *conn, int status)
{
    (void)status;
    s_worker_t *w = mg_get_thread_pointer (conn);
    if (w)
        w->wait_start = zclock_mono ();
}

/* civetweb's own refusals (a request it could not parse, a header block
   over max_request_size, an unknown method...) as JSON too. Written by
   hand: the request may be too broken for the response-header API. */
static int
s_http_error (struct mg_connection *conn, int status, const char *errmsg)
{
    const char *error = status == 400   ? "bad_request"
                        : status == 405 ? "method_not_allowed"
                        : status == 408 ? "request_timeout"
                        : status == 413 ? "too_large"
                        : status == 431 ? "too_large"
                        : status == 505 ? "http_version_not_supported"
                                        : "http_error";
    json_t *b = json_error_body (error, errmsg && *errmsg ? errmsg : NULL);
    size_t len = 0;
    char *text = b ? json_body_text (b, &len) : NULL;
    json_decref (b);
    /* Counted, without a duration: civetweb does not say when it began. */
    metrics_http (METRICS_ROUTE_OTHER, status, 0);
    if (!text)
        return 1; /* let civetweb send its own */
    mg_disable_connection_keep_alive (conn);
    mg_printf (conn,
               "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
               "Content-Length: %zu\r\nConnection: close\r\n\r\n",
               status, mg_get_response_code_text (conn, status), len);
    mg_write (conn, text, len);
    free (text);
    return 0;
}

static int
s_log_message (const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_warn ("http: civetweb: %s", message);
    return 1;
}

/* Each worker thread's own DEALER to the raft actor. */
static void *
s_init_thread (const struct mg_context *ctx, int thread_type)
{
    if (thread_type != 1) /* 0 master, 2 timer: they serve no requests */
        return NULL;
    self_t *self = mg_get_user_data (ctx);
    s_worker_t *w = calloc (1, sizeof *w);
    if (!w)
        return NULL;
    w->wait_start = zclock_mono ();
    w->dealer = zsock_new (ZMQ_DEALER);
    if (w->dealer) {
        zsock_set_linger (w->dealer, 0);
        /* Never block a worker on a stuck raft actor: a full queue fails
           the send, which the client sees as 503. */
        zsock_set_sndtimeo (w->dealer, self->args.timeout_ms);
        if (zsock_connect (w->dealer, "%s", self->args.api_endpoint) != 0)
            zsock_destroy (&w->dealer);
    }
    if (!w->dealer)
        log_error ("http: worker cannot connect to %s",
                   self->args.api_endpoint);
    if (self->args.monitor_endpoint)
        w->mon = monitor_push_new (self->args.monitor_endpoint);
    pthread_mutex_lock (&self->watch_mutex);
    if (self->n_workers < self->max_workers)
        self->workers[self->n_workers++] = w;
    pthread_mutex_unlock (&self->watch_mutex);
    return w;
}

static void
s_exit_thread (const struct mg_context *ctx, int thread_type, void *ptr)
{
    (void)thread_type;
    s_worker_t *w = ptr;
    if (!w)
        return;
    self_t *self = mg_get_user_data (ctx);
    pthread_mutex_lock (&self->watch_mutex);
    for (size_t i = 0; i < self->n_workers; i++)
        if (self->workers[i] == w)
            self->workers[i] = self->workers[--self->n_workers];
    pthread_mutex_unlock (&self->watch_mutex);
    zsock_destroy (&w->dealer);
    zsock_destroy (&w->mon);
    free (w);
}

/* HTTPS: civetweb takes our context as it is (TLS 1.2+, the certificate
   and key main loaded: http/tls.h) and, seeing 1, does not free it. */
static int
s_external_ssl_ctx (void **ssl_ctx, void *user_data)
{
    self_t *self = user_data;
    *ssl_ctx = self->args.tls_server;
    return 1;
}

/*  ---------------------------------------------------------------------
    The actor                                                            */

/* Cut off every body still arriving past its request's deadline: shut
   down the reading side of its connection, which wakes its worker in
   mg_read (); the worker answers 408 (writing still works) and closes. */
static void
s_watch (self_t *self)
{
    int64_t now = zclock_mono ();
    pthread_mutex_lock (&self->watch_mutex);
    for (size_t i = 0; i < self->n_workers; i++) {
        s_worker_t *w = self->workers[i];
        if (!w->body_deadline || w->cut || now < w->body_deadline)
            continue;
        /* The worker is inside its read loop, so the connection is open
           and its descriptor cannot be reused while we hold the mutex. */
        int fd = http_socket_find (w->peer, w->peer_port, w->local_port);
        if (fd >= 0)
            shutdown (fd, SHUT_RD);
        else
            log_warn ("http: cannot find the connection from %s:%d to cut "
                      "it off",
                      w->peer, w->peer_port);
        w->cut = true;
    }
    pthread_mutex_unlock (&self->watch_mutex);
}

/* Access settings and /health's view of them; each weakened one logged. */
static void
s_security_init (self_t *self)
{
    const http_args_t *a = &self->args;
    self->access = (http_access_t){
        .auth = a->auth,
        .auth_health = a->auth_health,
        .open_admin = a->open_admin,
        .tls = a->tls_server != NULL,
        .auth_file_loose = a->auth_file_loose,
        .read_ms = a->read_ms > 0 ? a->read_ms : S_DEFAULT_READ_MS,
        .peer_auth = a->peer_auth,
        .peer_warning = a->peer_warning};
    self->security = http_access_security (&self->access);
    const char *w[8];
    size_t n = http_access_warnings (&self->access, w, 8);
    for (size_t i = 0; i < n && i < 8; i++)
        log_warn ("security: %s", w[i]);
    /* Bodies in flight: a quarter of the workers, half of that for one
       client address (see "Slow clients" at the top). */
    int total = self->args.threads / 4 > 2 ? self->args.threads / 4 : 2;
    self->bodies = http_admission_new (total, total / 2);
}

void
http_actor (zsock_t *pipe, void *args)
{
    /* named for top -H and perf (--sort comm) */
    pthread_setname_np (pthread_self (), "http");
    self_t *self = calloc (1, sizeof *self);
    assert (self);
    self->args = *(const http_args_t *)args;
    atomic_init (&self->next_req_id, 1);
    /* jansson seeds its hash function on first use; do it here, before
       the workers race to it. */
    json_object_seed (0);
    s_security_init (self);
    assert (self->bodies);
    pthread_mutex_init (&self->watch_mutex, NULL);
    self->max_workers =
        (size_t)(self->args.threads > 0 ? self->args.threads : 1);
    self->workers = calloc (self->max_workers, sizeof *self->workers);
    assert (self->workers);

    char threads[16], timeout[16], listen[300];
    snprintf (threads, sizeof threads, "%d",
              self->args.threads > 0 ? self->args.threads : 1);
    /* request_timeout_ms: one read slice (see "Slow clients"). */
    int slice = self->access.read_ms / S_SLICES;
    slice = slice < S_SLICE_MIN_MS   ? S_SLICE_MIN_MS
            : slice > S_SLICE_MAX_MS ? S_SLICE_MAX_MS
                                     : slice;
    snprintf (timeout, sizeof timeout, "%d", slice);
    /* civetweb marks an HTTPS port with a trailing 's'. */
    snprintf (listen, sizeof listen, "%s%s", self->args.listen,
              self->args.tls_server ? "s" : "");
    /* Small JSON replies go out in a few writes: without tcp_nodelay,
       Nagle and delayed ACKs add 40 ms to each keep-alive request. */
    /* clang-format off */
    const char *options[] = {
        "listening_ports",       listen,
        "num_threads",           threads,
        "enable_keep_alive",     "yes",
        "keep_alive_timeout_ms", "500",
        "request_timeout_ms",    timeout,
        "max_request_size",      S_MAX_REQUEST_SIZE,
        "tcp_nodelay",           "1",
        NULL};
    /* clang-format on */
    struct mg_callbacks callbacks;
    memset (&callbacks, 0, sizeof callbacks);
    callbacks.begin_request = s_begin_request;
    callbacks.end_request = s_end_request;
    callbacks.init_connection = s_init_connection;
    callbacks.http_error = s_http_error;
    callbacks.log_message = s_log_message;
    callbacks.init_thread = s_init_thread;
    callbacks.exit_thread = s_exit_thread;
    if (self->args.tls_server)
        callbacks.external_ssl_ctx = s_external_ssl_ctx;
    char err[256] = "";
    struct mg_error_data error = {.text = err, .text_buffer_size = sizeof err};
    struct mg_init_data init = {.callbacks = &callbacks,
                                .user_data = self,
                                .configuration_options = options};
    self->ctx = mg_start2 (&init, &error);
    if (!self->ctx) {
        log_error ("http: cannot serve on %s: %s", self->args.listen,
                   err[0] ? err : "mg_start failed");
        zsock_signal (pipe, 1);
        zstr_send (pipe, "FAILED");
    } else {
        log_info ("http: listening on %s (%s, %s threads, tokens %s, "
                  "requests read within %d ms)",
                  self->args.listen, self->args.tls_server ? "https" : "http",
                  threads, self->args.auth ? "on" : "off",
                  self->access.read_ms);
        zsock_signal (pipe, 0);
    }

    /* Only "$TERM" comes on the pipe; meanwhile, the watch. */
    zpoller_t *poller = zpoller_new (pipe, NULL);
    assert (poller);
    /* a signal is main's to handle: it decides when to stop, with $TERM */
    zpoller_set_nonstop (poller, true);
    while (true) {
        void *which = zpoller_wait (poller, S_WATCH_MS);
        if (which == pipe) {
            char *cmd = zstr_recv (pipe);
            if (!cmd && errno != EINTR)
                break; /* the context is going away */
            bool term = cmd && streq (cmd, "$TERM");
            zstr_free (&cmd);
            if (term)
                break;
        } else if (!which && errno == ETERM) {
            break;
        }
        if (self->ctx)
            s_watch (self);
    }
    zpoller_destroy (&poller);
    if (self->ctx)
        mg_stop (self->ctx); /* joins the workers: their DEALERs close */
    json_decref (self->security);
    http_admission_destroy (&self->bodies);
    pthread_mutex_destroy (&self->watch_mutex);
    free (self->workers);
    free (self);
}
