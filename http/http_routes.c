/*  http_routes.c -- the API's routes: who may use each (http/access.h),
    which handler serves it, and the small handlers: /health, /metrics,
    /debug/digest (/debug/fault and /debug/stop: http_fault.c). The key-value routes are in http_kv.c, the membership
    ones in http_members.c; http.c has the API and its errors.
*/
#include "http_int.h"
#include "http_render.h"
#include "json.h"
#include "log.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The raft actor's status, plus this side's settings: http owns them. */
static int
s_health (http_req_t *c)
{
    msg_api_req_t req = {.op = MSG_API_HEALTH};
    msg_api_rep_t rep;
    int st = http_ask (c, &req, &rep);
    if (st)
        return st;
    json_t *body = http_render_rep (&rep);
    int status = (int)rep.status;
    msg_api_rep_clear (&rep);
    if (!body)
        return http_reply_error (c, 500, "internal", "unrenderable reply");
    if (c->self->security)
        json_object_set_new (body, "security",
                             json_deep_copy (c->self->security));
    http_ui_health (c, body);
    http_fault_health (c->self, body);
    return http_reply_json (c, status, body, NULL);
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

typedef struct {
    const char *path;
    const char *method;
    int (*handler) (http_req_t *c);
    http_access_need_t need;
} s_route_t;

static const s_route_t s_routes[] = {
    {"/kv/put", "POST", http_kv_put, HTTP_ACCESS_WRITE},
    {"/kv/get", "GET", http_kv_get, HTTP_ACCESS_READ},
    {"/kv/delete", "DELETE", http_kv_delete, HTTP_ACCESS_WRITE},
    {"/kv/txn", "POST", http_kv_txn, HTTP_ACCESS_WRITE},
    {"/kv/range", "GET", http_kv_range, HTTP_ACCESS_READ},
    {"/kv/watch", "GET", http_kv_watch, HTTP_ACCESS_READ},
    {"/session/open", "POST", http_session_open, HTTP_ACCESS_WRITE},
    {"/session/close", "POST", http_session_close, HTTP_ACCESS_WRITE},
    {"/lease/grant", "POST", http_lease_grant, HTTP_ACCESS_WRITE},
    {"/lease/keepalive", "POST", http_lease_keepalive, HTTP_ACCESS_WRITE},
    {"/lease/revoke", "POST", http_lease_revoke, HTTP_ACCESS_WRITE},
    {"/lease/info", "GET", http_lease_info, HTTP_ACCESS_READ},
    {"/lease/list", "GET", http_lease_list, HTTP_ACCESS_READ},
    {"/health", "GET", s_health, HTTP_ACCESS_HEALTH},
    {"/raft/join", "POST", http_raft_join, HTTP_ACCESS_ADMIN},
    {"/raft/remove", "POST", http_raft_remove, HTTP_ACCESS_ADMIN},
    {"/metrics", "GET", s_metrics, HTTP_ACCESS_HEALTH},
    {"/debug/digest", "GET", s_debug_digest, HTTP_ACCESS_ADMIN},
    /* the live cluster page (http_ui.c) */
    {"/ui", "GET", http_ui_page, HTTP_ACCESS_HEALTH},
    {"/ui/index.html", "GET", http_ui_page, HTTP_ACCESS_HEALTH},
    {"/ui/ui.js", "GET", http_ui_page, HTTP_ACCESS_HEALTH},
    {"/ui/ui_panels.js", "GET", http_ui_page, HTTP_ACCESS_HEALTH},
    {"/ui/ui.css", "GET", http_ui_page, HTTP_ACCESS_HEALTH},
    {"/ui/events", "GET", http_ui_events, HTTP_ACCESS_ADMIN},
    {"/ui/fault", "POST", http_ui_proxy, HTTP_ACCESS_ADMIN},
    {"/ui/stop", "POST", http_ui_proxy, HTTP_ACCESS_ADMIN},
    {"/debug/fault", "GET", http_debug_fault, HTTP_ACCESS_ADMIN},
    {"/debug/fault", "POST", http_debug_fault, HTTP_ACCESS_ADMIN},
    {"/debug/stop", "POST", http_debug_stop, HTTP_ACCESS_ADMIN},
};

/* Access first (before any body is read), then the handler. */
static int
s_serve (http_req_t *c, const s_route_t *r)
{
    http_role_t role;
    http_access_denial_t d;
    int off = http_fault_gate (c, r->path);
    if (off)
        return off;
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
    /* A path may have a route per method: 405 only if none matches. */
    char allow[48] = "";
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++) {
        if (strcmp (path, s_routes[i].path) != 0)
            continue;
        if (strcmp (c->ri->request_method, s_routes[i].method) == 0)
            return s_serve (c, &s_routes[i]);
        size_t n = strlen (allow);
        snprintf (allow + n, sizeof allow - n, "%s%s",
                  n ? ", " : "Allow: ", s_routes[i].method);
    }
    if (allow[0]) {
        size_t n = strlen (allow);
        snprintf (allow + n, sizeof allow - n, "\r\n");
        return http_reply_json (
            c, 405, json_error_body ("method_not_allowed", NULL), allow);
    }
    json_t *b = json_error_body ("unknown_path", NULL);
    json_object_set_new (b, "path", json_string_lossy (path, strlen (path)));
    return http_reply_json (c, 404, b, NULL);
}
