/*  http_routes.c -- the API's routes: who may use each (http/access.h),
    its handler, and the handlers' questions to the raft actor (msg_api).
    actors/http.c has the API and its errors.
*/
#include "http_int.h"
#include "join_fetch.h"
#include "json.h"
#include "log.h"
#include "msg_api.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long the raft actor may take beyond the request deadline it applies
   itself: its own 503 should win over ours. */
#define S_REPLY_GRACE_MS 500
/* /raft/join's fetch of the new server's /health. */
#define S_JOIN_FETCH_MAX_MS 2000

/* Send req (its req_id is set here) and wait for the matching reply:
   0 with *status and *body (a JSON object, the caller's), or the status of
   the error already sent to the client. Takes req's buffers. */
static int
s_ask (http_req_t *c, msg_api_req_t *req, unsigned *status, json_t **body)
{
    if (!c->dealer) {
        msg_api_req_clear (req);
        return http_reply_error (c, 500, "internal",
                                 "no socket to the raft actor");
    }
    req->req_id = atomic_fetch_add (&c->self->next_req_id, 1);
    uint64_t req_id = req->req_id;
    zmsg_t *zm = msg_api_req_encode (req);
    msg_api_req_clear (req);
    if (!zm)
        return http_reply_error (c, 500, "internal",
                                 "could not encode the request");
    int64_t deadline =
        zclock_mono () + c->self->args.timeout_ms + S_REPLY_GRACE_MS;
    if (zmsg_send (&zm, c->dealer) != 0) {
        /* The send queue is full (the raft actor is stuck): same as no
           answer. */
        zmsg_destroy (&zm);
        return http_reply_error (c, 503, "timeout", NULL);
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
            return http_reply_error (c, 500, "internal", "unrenderable reply");
        }
        *body = obj;
        return 0;
    }
    return http_reply_error (c, 503, "timeout", NULL);
}

/* Send req, wait for the reply, send it to the client. Returns the status
   sent. */
static int
s_call (http_req_t *c, msg_api_req_t *req)
{
    unsigned status = 0;
    json_t *body = NULL;
    int st = s_ask (c, req, &status, &body);
    if (st)
        return st;
    return http_reply_json (c, (int)status, body, NULL);
}

/* GET with the KV data at hand (args.shared): a stale read is a local
   LevelDB lookup; a linearizable one first asks the raft actor for a read
   barrier (ReadIndex, §6.4: answered once this node is confirmed leader
   and has applied up to the read index), then looks up locally, which
   sees at least everything applied up to there. Either way no storage
   actor round trip, and the reply is the one the raft actor would send
   (msg_body_value). */
static int
s_get_local (http_req_t *c, store_t *st, msg_api_req_t *req)
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
            return http_reply_json (c, (int)status, body, NULL);
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
        return http_reply_error (c, 500, "internal", "read failed");
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
        return http_reply_error (c, 500, "internal", "unrenderable reply");
    }
    return http_reply_json (c, found ? 200 : 404, body, NULL);
}

/*  ---------------------------------------------------------------------
    Routes                                                               */

static http_parse_limits_t
s_limits (const http_req_t *c)
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
s_kv_write (http_req_t *c, s_kv_parser_t parse, msg_api_op_t op)
{
    char *body = NULL;
    size_t len = 0;
    int st = http_read_body (c, &body, &len);
    if (st)
        return st;
    http_parse_limits_t lim = s_limits (c);
    http_parse_kv_t kv;
    http_parse_err_t err;
    int rc = parse (body, len, &lim, &kv, &err);
    free (body);
    if (rc != 0)
        return http_reply_parse_error (c, &err);
    msg_api_req_t req = {.op = op, .key = kv.key, .value = kv.value};
    return s_call (c, &req);
}

static int
s_kv_put (http_req_t *c)
{
    return s_kv_write (c, http_parse_put, MSG_API_PUT);
}

static int
s_kv_delete (http_req_t *c)
{
    return s_kv_write (c, http_parse_delete, MSG_API_DELETE);
}

static int
s_kv_get (http_req_t *c)
{
    const char *qs = c->ri->query_string ? c->ri->query_string : "";
    http_parse_limits_t lim = s_limits (c);
    http_parse_kv_t kv;
    http_parse_err_t err;
    if (http_parse_get_query (qs, strlen (qs), &lim, &kv, &err) != 0)
        return http_reply_parse_error (c, &err);
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
s_health (http_req_t *c)
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
    return http_reply_json (c, (int)status, body, NULL);
}

/* GET /debug/digest: {"applied", "keys", "digest"} of the KV data at one
   instant (store_digest), computed here in the worker: a full scan must
   not hold up the raft or storage actor. For tests and operators: two
   replicas at the same applied index must show the same digest. Admin
   only, since it reads every key. */
static int
s_debug_digest (http_req_t *c)
{
    store_t *st = c->self->args.shared
                      ? atomic_load_explicit (&c->self->args.shared->store,
                                              memory_order_acquire)
                      : NULL;
    if (!st)
        return http_reply_error (c, 503, "unavailable", "no data open yet");
    raft_index_t applied = 0;
    uint64_t keys = 0;
    uint8_t d[STORE_DIGEST_BYTES];
    char hex[2 * STORE_DIGEST_BYTES + 1], *err = NULL;
    if (store_digest (st, &applied, &keys, d, &err) != 0) {
        log_error ("http: digest: %s", err);
        free (err);
        return http_reply_error (c, 500, "internal", "digest failed");
    }
    sodium_bin2hex (hex, sizeof hex, d, sizeof d);
    json_t *b = json_pack ("{s:I, s:I, s:s}", "applied", (json_int_t)applied,
                           "keys", (json_int_t)keys, "digest", hex);
    if (!b)
        return http_reply_error (c, 500, "internal", "out of memory");
    return http_reply_json (c, 200, b, NULL);
}

/* Rendered here, in the worker: a scrape must not wait on the raft
   actor (metrics.h). */
static int
s_metrics (http_req_t *c)
{
    size_t len = 0;
    char *text = metrics_render (&len);
    if (!text)
        return http_reply_error (c, 500, "internal", "out of memory");
    if (http_has_body (c))
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
s_raft_join (http_req_t *c)
{
    char *body = NULL;
    size_t len = 0;
    int st = http_read_body (c, &body, &len);
    if (st)
        return st;
    http_parse_join_t j;
    http_parse_err_t err;
    int rc = http_parse_join (body, len, &j, &err);
    free (body);
    if (rc != 0)
        return http_reply_parse_error (c, &err);

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
        return http_reply_json (c, 409, b, NULL);
    }
    /* The leader's own cluster id: a server of another cluster is not
       let in (README, "Identity"). */
    char own_cluster[HTTP_JOIN_ID_LEN] = "";
    const char *oc = json_string_value (
        json_object_get (json_object_get (health, "identity"), "cluster_id"));
    if (oc)
        snprintf (own_cluster, sizeof own_cluster, "%s", oc);
    json_decref (health);

    int fetch_ms = c->self->args.timeout_ms < S_JOIN_FETCH_MAX_MS
                       ? c->self->args.timeout_ms
                       : S_JOIN_FETCH_MAX_MS;
    raft_id_t id = 0;
    char peer_addr[RAFT_ADDR_MAX], why[192];
    char dir_id[HTTP_JOIN_ID_LEN], cluster_id[HTTP_JOIN_ID_LEN];
    if (http_join_fetch_identity (c->self->args.tls_client, j.peer, fetch_ms,
                                  &id, peer_addr, sizeof peer_addr, dir_id,
                                  cluster_id, why, sizeof why) != 0) {
        log_warn ("http: join %s: %s", j.peer, why);
        json_t *b = json_error_body ("peer_unreachable", NULL);
        json_object_set_new (b, "peer", json_string (j.peer));
        json_object_set_new (b, "detail",
                             json_string_lossy (why, strlen (why)));
        return http_reply_json (c, 502, b, NULL);
    }
    if (j.id && j.id != id) {
        char detail[192];
        snprintf (detail, sizeof detail, "id %llu does not match %s's id %llu",
                  (unsigned long long)j.id, j.peer, (unsigned long long)id);
        return http_reply_error (c, 400, "bad_request", detail);
    }
    if (*cluster_id && *own_cluster && strcmp (cluster_id, own_cluster)) {
        char detail[512];
        snprintf (detail, sizeof detail,
                  "%s's data directory belongs to cluster %s, this is "
                  "cluster %s",
                  j.peer, cluster_id, own_cluster);
        log_warn ("http: join %s refused: %s", j.peer, detail);
        return http_reply_error (c, 409, "other_cluster", detail);
    }
    msg_api_req_t req = {.op = MSG_API_JOIN, .id = id};
    /* The configuration keeps both addresses and the directory id in one
       slot: "<peer endpoint> <http address>[ <directory id>]" (split on
       spaces by the raft actor; store_identity.h). */
    if ((size_t)snprintf (req.peer, sizeof req.peer, "%s %s%s%s", peer_addr,
                          j.peer, *dir_id ? " " : "",
                          dir_id) >= sizeof req.peer)
        return http_reply_error (c, 400, "bad_request",
                                 "peer addresses too long");
    return s_call (c, &req);
}

static int
s_raft_remove (http_req_t *c)
{
    char *body = NULL;
    size_t len = 0;
    int st = http_read_body (c, &body, &len);
    if (st)
        return st;
    http_parse_remove_t rm;
    http_parse_err_t err;
    int rc = http_parse_remove (body, len, &rm, &err);
    free (body);
    if (rc != 0)
        return http_reply_parse_error (c, &err);
    msg_api_req_t req = {.op = MSG_API_REMOVE, .id = rm.id};
    memcpy (req.peer, rm.peer, sizeof req.peer);
    return s_call (c, &req);
}

typedef struct {
    const char *path;
    const char *method;
    int (*handler) (http_req_t *c);
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
    {"/debug/digest", "GET", s_debug_digest, HTTP_ACCESS_ADMIN},
};

/* Access first (before any body is read), then the handler. */
static int
s_serve (http_req_t *c, const s_route_t *r)
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
        return http_reply_json (c, d.status,
                                json_error_body (d.error, d.detail),
                                extra[0] ? extra : NULL);
    }
    return r->handler (c);
}

int
http_route (http_req_t *c)
{
    const char *path = c->ri->local_uri ? c->ri->local_uri : "";
    c->route = metrics_route_of (path);
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++) {
        if (strcmp (path, s_routes[i].path) != 0)
            continue;
        if (strcmp (c->ri->request_method, s_routes[i].method) != 0) {
            char allow[32];
            snprintf (allow, sizeof allow, "Allow: %s\r\n", s_routes[i].method);
            return http_reply_json (
                c, 405, json_error_body ("method_not_allowed", NULL), allow);
        }
        return s_serve (c, &s_routes[i]);
    }
    json_t *b = json_error_body ("unknown_path", NULL);
    json_object_set_new (b, "path", json_string_lossy (path, strlen (path)));
    return http_reply_json (c, 404, b, NULL);
}
