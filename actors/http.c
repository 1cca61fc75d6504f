/*  http.c -- the http actor: nsxd's HTTP API (the prototype's, exactly),
    served by civetweb.

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

    No civetweb thread touches Raft or LevelDB state: a worker parses and
    checks the request, asks the raft actor, and renders the answer.

    The API (JSON bodies; Content-Type: application/json, Content-Length,
    keep-alive unless the body was left unread):
      POST   /kv/put       {"key": "foo", "value": "bar"}      op put
      GET    /kv/get?key=foo[&stale=true]                       op get
      DELETE /kv/delete    {"key": "foo"}                       op delete
      GET    /health                                            op health
      POST   /raft/join    {"peer": "node4:8000"[, "id": 4]}    op join
      POST   /raft/remove  {"peer": "node4:8000"} or {"id": 4}  op remove
      GET    /metrics      Prometheus text, rendered here from the
                           registry (actors/metrics.h), not by the raft actor
    The raft actor's status and body map go back as they are. Errors made
    here are JSON too:
      400 {"error": "bad_request", "detail": "..."}   malformed JSON, invalid
          UTF-8, missing or mistyped fields, empty key, missing ?key=
      404 {"error": "unknown_path", "path": "..."}
      405 {"error": "method_not_allowed"} with an Allow header
      413 {"error": "too_large", "detail": "..."}     body > max_body (from
          Content-Length before reading, or counted while reading a chunked
          body), key > max_key, value > max_value
      502 {"error": "peer_unreachable", "peer": "...", "detail": "..."}
          /raft/join could not read the new server's /health
      503 {"error": "timeout"}                         the raft actor did not
          answer in time
      500 {"error": "internal", "detail": "..."}       our own failure only
    and civetweb's own refusals are rendered the same way, with
    "Connection: close": 400 bad_request (unparsable request), 405
    method_not_allowed (unknown method), 413 too_large (header block over
    max_request_size), 408 request_timeout, 505 http_version_not_supported,
    anything else "http_error"; "detail" is civetweb's message.

    Slow clients: civetweb's request_timeout_ms (set to args->timeout_ms)
    bounds each read of headers and body, so a client that stops sending
    is dropped; it is per read, so one trickling a byte at a time is not
    (civetweb 1.15 has no per-request limit; put a proxy in front).

    /raft/join first asks the NEW server for its identity: GET
    http://<peer>/health must return a JSON object with "id" (a positive
    integer) and "peer_addr" (its ZeroMQ endpoint), whatever its status
    (a server that has not joined yet may well report itself unhealthy),
    within min (args->timeout_ms, 2 s). That fetch uses plain POSIX sockets with one deadline for connect, send
    and receive: civetweb 1.15's client has no read timeout after
    mg_get_response () (checked: mg_read () blocked for good on a peer that
    sent headers and stalled), and a join must not pin a worker forever.
*/
#include "actors.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "msg_api.h"

#include <civetweb.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* How long the raft actor may take beyond the request deadline it applies
   itself: its own 503 should win over ours. */
#define S_REPLY_GRACE_MS 500
/* /raft/join's fetch of the new server's /health. */
#define S_JOIN_FETCH_MAX_MS 2000
#define S_JOIN_FETCH_MAX_BYTES 16384
/* civetweb: a header block larger than this is refused (413). */
#define S_MAX_REQUEST_SIZE "16384"

typedef struct {
    http_args_t args;
    struct mg_context *ctx;
    atomic_uint_fast64_t next_req_id;
} self_t;

/* What init_thread gives each worker thread. */
typedef struct {
    zsock_t *dealer;
    zsock_t *mon; /* PUSH to the monitor (one per worker), or NULL */
} s_worker_t;

/* One request being served. */
typedef struct {
    self_t *self;
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    zsock_t *dealer;
    bool body_read; /* the whole request body was consumed */
    metrics_route_t route;
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

/* Send status and body (which this takes). Returns status, which
   begin_request hands back to civetweb for its bookkeeping.

   The whole response goes out in one write: civetweb's
   mg_response_header_send writes each header line with its own send(),
   which with TCP_NODELAY is one segment each (7 per reply, measured with
   strace), the largest cost of a small request after the kernel's own. */
static int
s_send_json (s_ctx_t *c, int status, json_t *body, const char *allow)
{
    /* civetweb does not skip a body the handler left unread: its bytes
       would be parsed as the next request on the connection (checked:
       a 405 left "GET /x ..." in a body and /x was served next). So a
       reply that leaves a body unread closes the connection. */
    bool keep = s_keep_alive (c);
    if (!c->body_read && s_has_body (c)) {
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
    char head[512];
    int hn =
        snprintf (head, sizeof head,
                  "HTTP/1.1 %d %s\r\n"
                  "Content-Type: application/json\r\n"
                  "Content-Length: %zu\r\n"
                  "Date: %s\r\n"
                  "Connection: %s\r\n"
                  "%s%s%s"
                  "\r\n",
                  status, mg_get_response_code_text (c->conn, status), out_len,
                  date, keep ? "keep-alive" : "close", allow ? "Allow: " : "",
                  allow ? allow : "", allow ? "\r\n" : "");
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

static int s_bad_request (s_ctx_t *c, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
static int
s_bad_request (s_ctx_t *c, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (detail, sizeof detail, fmt, ap);
    va_end (ap);
    return s_error (c, 400, "bad_request", detail);
}

static int
s_too_large (s_ctx_t *c, const char *detail)
{
    return s_error (c, 413, "too_large", detail);
}

/*  ---------------------------------------------------------------------
    Request bodies                                                       */

/* Read the whole body, at most args.max_body bytes. Returns 0 with a
   malloc'ed *out (NUL-terminated, for the logs' sake), or the status of
   the error reply already sent. */
static int
s_read_body (s_ctx_t *c, char **out, size_t *out_len)
{
    size_t max = c->self->args.max_body;
    long long cl = c->ri->content_length; /* -1: unknown (chunked) */
    char detail[96];
    snprintf (detail, sizeof detail, "body is larger than %zu bytes", max);
    if (cl > 0 && (unsigned long long)cl > max)
        return s_too_large (c, detail); /* never read it */
    /* Known length: one buffer. Unknown: grow, up to one byte past the
       limit, which is how a chunked body too large shows itself. */
    size_t cap = cl >= 0 ? (size_t)cl + 1 : (max + 1 < 4096 ? max + 1 : 4096);
    char *buf = malloc (cap);
    if (!buf)
        return s_error (c, 500, "internal", "out of memory");
    size_t len = 0;
    while (true) {
        if (len + 1 >= cap) {
            if (cl >= 0)
                break; /* read all that was announced */
            if (len > max) {
                free (buf);
                return s_too_large (c, detail);
            }
            size_t ncap = cap * 2 < max + 2 ? cap * 2 : max + 2;
            char *nbuf = realloc (buf, ncap);
            if (!nbuf) {
                free (buf);
                return s_error (c, 500, "internal", "out of memory");
            }
            buf = nbuf;
            cap = ncap;
        }
        /* mg_read gives up after request_timeout_ms of silence, so a body
           that stops half way ends here rather than pinning the worker
           (per read only: see "Slow clients" at the top). */
        int n = mg_read (c->conn, buf + len, cap - 1 - len);
        if (n < 0) {
            free (buf);
            return s_bad_request (c, "could not read the body");
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > max) {
        free (buf);
        return s_too_large (c, detail);
    }
    if (cl >= 0 && len != (size_t)cl) {
        free (buf);
        return s_bad_request (c, "body ended after %zu of %lld bytes", len, cl);
    }
    buf[len] = 0;
    *out = buf;
    *out_len = len;
    c->body_read = true;
    return 0;
}

/* The body as a JSON object in *obj, or the status of the reply sent. */
static int
s_read_object (s_ctx_t *c, json_t **obj)
{
    char *buf = NULL;
    size_t len = 0;
    int st = s_read_body (c, &buf, &len);
    if (st)
        return st;
    if (!json_utf8_valid (buf, len)) {
        free (buf);
        return s_bad_request (c, "body is not valid UTF-8");
    }
    json_error_t err;
    /* A key given twice is ambiguous: refuse it rather than pick one. */
    json_t *j =
        json_loadb (buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    free (buf);
    if (!j)
        return s_bad_request (c, "malformed JSON: %s (at byte %d)", err.text,
                              err.position);
    if (!json_is_object (j)) {
        json_decref (j);
        return s_bad_request (c, "body must be a JSON object");
    }
    *obj = j;
    return 0;
}

/* A string field: 0 with *s and *len set (NULL if absent and optional),
   or the status of the reply sent. */
static int
s_string_field (s_ctx_t *c, json_t *obj, const char *name, bool required,
                size_t max, const char **s, size_t *len)
{
    json_t *v = json_object_get (obj, name);
    *s = NULL;
    *len = 0;
    if (!v) {
        if (required)
            return s_bad_request (c, "missing field \"%s\"", name);
        return 0;
    }
    if (!json_is_string (v))
        return s_bad_request (c, "field \"%s\" must be a string", name);
    *s = json_string_value (v);
    *len = json_string_length (v);
    if (*len > max) {
        char detail[96];
        snprintf (detail, sizeof detail, "%s is longer than %zu bytes", name,
                  max);
        return s_too_large (c, detail);
    }
    return 0;
}

/* An optional positive integer field: 0 with *id (0 if absent), or the
   status of the reply sent. */
static int
s_id_field (s_ctx_t *c, json_t *obj, raft_id_t *id)
{
    json_t *v = json_object_get (obj, "id");
    *id = 0;
    if (!v)
        return 0;
    if (!json_is_integer (v) || json_integer_value (v) <= 0)
        return s_bad_request (c, "field \"id\" must be a positive integer");
    *id = (raft_id_t)json_integer_value (v);
    return 0;
}

/* An HTTP address "host:port" as the cluster stores it: host of letters,
   digits, '.', '-', '_'; port 1..65535; short enough to share a
   configuration slot with a ZeroMQ endpoint. */
static bool
s_host_port (const char *s, size_t len, char *host, size_t host_len, int *port)
{
    const char *colon = memrchr (s, ':', len);
    if (!colon || colon == s || len >= RAFT_ADDR_MAX)
        return false;
    size_t hl = (size_t)(colon - s);
    if (hl >= host_len)
        return false;
    for (size_t i = 0; i < hl; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
            return false;
    }
    const char *p = colon + 1;
    size_t pl = len - hl - 1;
    if (pl == 0 || pl > 5)
        return false;
    long v = 0;
    for (size_t i = 0; i < pl; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    if (v < 1 || v > 65535)
        return false;
    memcpy (host, s, hl);
    host[hl] = 0;
    *port = (int)v;
    return true;
}

/*  ---------------------------------------------------------------------
    Asking the raft actor                                                */

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
    /raft/join: the new server's identity, from its /health              */

/* Wait for fd to be ready for events until deadline (zclock_mono ms). */
static bool
s_wait_fd (int fd, short events, int64_t deadline)
{
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll (&p, 1, (int)left);
        if (n > 0)
            return true;
        if (n < 0 && errno != EINTR)
            return false;
    }
}

static int
s_connect (const char *host, int port, int64_t deadline, const char **why)
{
    char service[8];
    snprintf (service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (getaddrinfo (host, service, &hints, &ai) != 0) {
        *why = "cannot resolve the host";
        return -1;
    }
    int fd = -1;
    *why = "cannot connect";
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd =
            socket (a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    a->ai_protocol);
        if (fd < 0)
            continue;
        int err = 0;
        socklen_t elen = sizeof err;
        if (connect (fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS && s_wait_fd (fd, POLLOUT, deadline) &&
            getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0)
            break;
        close (fd);
        fd = -1;
    }
    freeaddrinfo (ai);
    return fd;
}

/* GET http://host:port/health: fills *id and peer_addr, or returns -1
   with *why. */
static int
s_fetch_identity (const char *host, int port, const char *peer, int fetch_ms,
                  raft_id_t *id, char *peer_addr, size_t peer_addr_len,
                  const char **why)
{
    int64_t deadline = zclock_mono () + fetch_ms;
    int fd = s_connect (host, port, deadline, why);
    if (fd < 0)
        return -1;
    char req[RAFT_ADDR_MAX + 96];
    int rl = snprintf (req, sizeof req,
                       "GET /health HTTP/1.0\r\nHost: %s\r\n"
                       "Connection: close\r\n\r\n",
                       peer);
    size_t sent = 0;
    *why = "cannot send the request";
    while (sent < (size_t)rl) {
        if (!s_wait_fd (fd, POLLOUT, deadline))
            goto fail;
        ssize_t n = send (fd, req + sent, (size_t)rl - sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            goto fail;
        if (n > 0)
            sent += (size_t)n;
    }
    /* HTTP/1.0 without keep-alive: the response ends when the server
       closes, or once Content-Length bytes of body are in. */
    char *buf = malloc (S_JOIN_FETCH_MAX_BYTES + 1);
    if (!buf)
        goto fail;
    size_t len = 0;
    char *body = NULL;
    long long cl = -1;
    *why = "no complete response to GET /health";
    while (len < S_JOIN_FETCH_MAX_BYTES) {
        if (!s_wait_fd (fd, POLLIN, deadline))
            break;
        ssize_t n = recv (fd, buf + len, S_JOIN_FETCH_MAX_BYTES - len, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            if (n == 0 && body && cl < 0) /* no Content-Length: EOF ends */
                cl = (long long)(len - (size_t)(body - buf));
            break;
        }
        len += (size_t)n;
        buf[len] = 0;
        if (!body) {
            char *end = strstr (buf, "\r\n\r\n");
            if (!end)
                continue;
            body = end + 4;
            char *h = strcasestr (buf, "\r\nContent-Length:");
            if (h && h < end) {
                char *e;
                long long v = strtoll (h + 17, &e, 10);
                cl = (e != h + 17 && v >= 0) ? v : -1;
            }
        }
        if (body && cl >= 0 && (long long)(len - (size_t)(body - buf)) >= cl)
            break;
    }
    close (fd);
    fd = -1;
    int rc = -1;
    if (body && cl >= 0 && (long long)(len - (size_t)(body - buf)) >= cl &&
        strncmp (buf, "HTTP/1.", 7) == 0) {
        json_t *j = json_loadb (body, (size_t)cl, 0, NULL);
        json_t *jid = json_object_get (j, "id");
        json_t *jpa = json_object_get (j, "peer_addr");
        const char *pa = json_string_value (jpa);
        *why = "its /health has no \"id\" and \"peer_addr\"";
        if (json_is_integer (jid) && json_integer_value (jid) > 0 && pa &&
            *pa && !strpbrk (pa, " \t\r\n") && strlen (pa) < peer_addr_len) {
            *id = (raft_id_t)json_integer_value (jid);
            snprintf (peer_addr, peer_addr_len, "%s", pa);
            rc = 0;
        }
        json_decref (j);
    }
    free (buf);
    return rc;
fail:
    close (fd);
    return -1;
}

/*  ---------------------------------------------------------------------
    Routes                                                               */

static int
s_kv_put (s_ctx_t *c)
{
    json_t *obj = NULL;
    int st = s_read_object (c, &obj);
    if (st)
        return st;
    const char *key, *value;
    size_t klen, vlen;
    if ((st = s_string_field (c, obj, "key", true, c->self->args.max_key, &key,
                              &klen)) ||
        (st = s_string_field (c, obj, "value", true, c->self->args.max_value,
                              &value, &vlen))) {
        json_decref (obj);
        return st;
    }
    if (klen == 0) {
        json_decref (obj);
        return s_bad_request (c, "empty key");
    }
    msg_api_req_t req = {.op = MSG_API_PUT};
    req.key = raft_buf_new (key, klen);
    req.value = raft_buf_new (value, vlen);
    json_decref (obj);
    if (!req.key || !req.value) {
        msg_api_req_clear (&req);
        return s_error (c, 500, "internal", "out of memory");
    }
    return s_call (c, &req);
}

static int
s_kv_delete (s_ctx_t *c)
{
    json_t *obj = NULL;
    int st = s_read_object (c, &obj);
    if (st)
        return st;
    const char *key;
    size_t klen;
    st = s_string_field (c, obj, "key", true, c->self->args.max_key, &key,
                         &klen);
    if (st || klen == 0) {
        json_decref (obj);
        return st ? st : s_bad_request (c, "empty key");
    }
    msg_api_req_t req = {.op = MSG_API_DELETE};
    req.key = raft_buf_new (key, klen);
    json_decref (obj);
    if (!req.key)
        return s_error (c, 500, "internal", "out of memory");
    return s_call (c, &req);
}

static int
s_kv_get (s_ctx_t *c)
{
    const char *qs = c->ri->query_string ? c->ri->query_string : "";
    size_t qlen = strlen (qs);
    size_t max = c->self->args.max_key;
    /* One byte more than allowed tells "too long" from "fits". */
    char *key = malloc (max + 2);
    if (!key)
        return s_error (c, 500, "internal", "out of memory");
    int n = mg_get_var2 (qs, qlen, "key", key, max + 2, 0);
    int st = 0;
    if (n == -1)
        st = s_bad_request (c, "missing ?key=");
    else if (n == -2 || (size_t)n > max) {
        char detail[96];
        snprintf (detail, sizeof detail, "key is longer than %zu bytes", max);
        st = s_too_large (c, detail);
    } else if (n == 0)
        st = s_bad_request (c, "empty key");
    else if (!json_utf8_valid (key, (size_t)n))
        st = s_bad_request (c, "key is not valid UTF-8");
    if (st) {
        free (key);
        return st;
    }
    msg_api_req_t req = {.op = MSG_API_GET};
    char stale[8];
    int sn = mg_get_var2 (qs, qlen, "stale", stale, sizeof stale, 0);
    if (sn >= 0 && (strcmp (stale, "true") == 0 || strcmp (stale, "1") == 0))
        req.stale = true;
    else if (sn != -1 && !(sn >= 0 && (strcmp (stale, "false") == 0 ||
                                       strcmp (stale, "0") == 0))) {
        free (key);
        return s_bad_request (c, "stale must be true or false");
    }
    req.key = raft_buf_new (key, (size_t)n);
    free (key);
    if (!req.key)
        return s_error (c, 500, "internal", "out of memory");
    store_t *kv = c->self->args.shared
                      ? atomic_load_explicit (&c->self->args.shared->store,
                                              memory_order_acquire)
                      : NULL;
    if (kv)
        return s_get_local (c, kv, &req);
    return s_call (c, &req);
}

static int
s_health (s_ctx_t *c)
{
    msg_api_req_t req = {.op = MSG_API_HEALTH};
    return s_call (c, &req);
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
    json_t *obj = NULL;
    int st = s_read_object (c, &obj);
    if (st)
        return st;
    const char *peer;
    size_t plen;
    raft_id_t want = 0;
    char host[RAFT_ADDR_MAX];
    int port = 0;
    if ((st = s_string_field (c, obj, "peer", true, SIZE_MAX, &peer, &plen)) ||
        (st = s_id_field (c, obj, &want))) {
        json_decref (obj);
        return st;
    }
    if (!s_host_port (peer, plen, host, sizeof host, &port)) {
        json_decref (obj);
        return s_bad_request (c, "peer must be host:port");
    }
    char given[RAFT_ADDR_MAX];
    snprintf (given, sizeof given, "%s", peer);
    json_decref (obj);

    int fetch_ms = c->self->args.timeout_ms < S_JOIN_FETCH_MAX_MS
                       ? c->self->args.timeout_ms
                       : S_JOIN_FETCH_MAX_MS;
    raft_id_t id = 0;
    char peer_addr[RAFT_ADDR_MAX];
    const char *why = "";
    if (s_fetch_identity (host, port, given, fetch_ms, &id, peer_addr,
                          sizeof peer_addr, &why) != 0) {
        log_warn ("http: join %s: %s", given, why);
        json_t *b = json_error_body ("peer_unreachable", NULL);
        json_object_set_new (b, "peer", json_string (given));
        json_object_set_new (b, "detail", json_string (why));
        return s_send_json (c, 502, b, NULL);
    }
    if (want && want != id)
        return s_bad_request (c, "id %llu does not match %s's id %llu",
                              (unsigned long long)want, given,
                              (unsigned long long)id);
    msg_api_req_t req = {.op = MSG_API_JOIN, .id = id};
    /* The configuration keeps both addresses in one slot: "<peer endpoint>
       <http address>" (split on the first space by the raft actor). */
    if ((size_t)snprintf (req.peer, sizeof req.peer, "%s %s", peer_addr,
                          given) >= sizeof req.peer)
        return s_bad_request (c, "peer addresses too long (%s %s)", peer_addr,
                              given);
    return s_call (c, &req);
}

static int
s_raft_remove (s_ctx_t *c)
{
    json_t *obj = NULL;
    int st = s_read_object (c, &obj);
    if (st)
        return st;
    const char *peer;
    size_t plen;
    raft_id_t id = 0;
    if ((st = s_string_field (c, obj, "peer", false, SIZE_MAX, &peer, &plen)) ||
        (st = s_id_field (c, obj, &id))) {
        json_decref (obj);
        return st;
    }
    msg_api_req_t req = {.op = MSG_API_REMOVE, .id = id};
    if (peer) {
        if (plen == 0 || plen >= RAFT_ADDR_MAX || memchr (peer, ' ', plen) ||
            memchr (peer, 0, plen)) {
            json_decref (obj);
            return s_bad_request (c,
                                  "peer must be an address without spaces, "
                                  "shorter than %d bytes",
                                  RAFT_ADDR_MAX);
        }
        memcpy (req.peer, peer, plen);
    }
    json_decref (obj);
    if (!peer && id == 0)
        return s_bad_request (c, "give \"peer\" or \"id\"");
    return s_call (c, &req);
}

typedef struct {
    const char *path;
    const char *method;
    int (*handler) (s_ctx_t *c);
} s_route_t;

static const s_route_t s_routes[] = {
    {"/kv/put", "POST", s_kv_put},
    {"/kv/get", "GET", s_kv_get},
    {"/kv/delete", "DELETE", s_kv_delete},
    {"/health", "GET", s_health},
    {"/raft/join", "POST", s_raft_join},
    {"/raft/remove", "POST", s_raft_remove},
    {"/metrics", "GET", s_metrics},
};

static int
s_route (s_ctx_t *c)
{
    const char *path = c->ri->local_uri ? c->ri->local_uri : "";
    c->route = metrics_route_of (path);
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++) {
        if (strcmp (path, s_routes[i].path) != 0)
            continue;
        if (strcmp (c->ri->request_method, s_routes[i].method) != 0)
            return s_send_json (c, 405,
                                json_error_body ("method_not_allowed", NULL),
                                s_routes[i].method);
        return s_routes[i].handler (c);
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
                 .dealer = w ? w->dealer : NULL};
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
    log_debug ("http: %s %s %d %.1f ms", c.ri->request_method, path, status,
               (double)usecs / 1000.0);
    return status;
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
    return w;
}

static void
s_exit_thread (const struct mg_context *ctx, int thread_type, void *ptr)
{
    (void)ctx;
    (void)thread_type;
    s_worker_t *w = ptr;
    if (!w)
        return;
    zsock_destroy (&w->dealer);
    zsock_destroy (&w->mon);
    free (w);
}

/*  ---------------------------------------------------------------------
    The actor                                                            */

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

    char threads[16], timeout[16];
    snprintf (threads, sizeof threads, "%d",
              self->args.threads > 0 ? self->args.threads : 1);
    /* request_timeout_ms bounds every read and write of a request, so a
       client that sends its headers or body slowly is dropped after the
       same deadline the raft actor gives a request. */
    snprintf (timeout, sizeof timeout, "%d",
              self->args.timeout_ms > 0 ? self->args.timeout_ms : 1);
    /* Small JSON replies go out in a few writes: without tcp_nodelay,
       Nagle and delayed ACKs add 40 ms to each keep-alive request. */
    /* clang-format off */
    const char *options[] = {
        "listening_ports",       self->args.listen,
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
    callbacks.http_error = s_http_error;
    callbacks.log_message = s_log_message;
    callbacks.init_thread = s_init_thread;
    callbacks.exit_thread = s_exit_thread;
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
        log_info ("http: listening on %s (%s threads)", self->args.listen,
                  threads);
        zsock_signal (pipe, 0);
    }

    /* Only "$TERM" comes on the pipe. */
    while (true) {
        char *cmd = zstr_recv (pipe);
        if (!cmd && errno == EINTR)
            continue; /* a signal: main decides when to stop, with $TERM */
        if (!cmd)
            break; /* the context is going away */
        bool term = streq (cmd, "$TERM");
        zstr_free (&cmd);
        if (term)
            break;
    }
    if (self->ctx)
        mg_stop (self->ctx); /* joins the workers: their DEALERs close */
    free (self);
}
