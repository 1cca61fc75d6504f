/*  http_ui.c -- the /ui page's routes (issue 16; README, "The live
    cluster page"):

      GET  /ui, /ui/ui.js, /ui/ui_panels.js, /ui/ui.css
                          the page: files of http/ui/, compiled in
                          (http/ui/embed.sh, xxd -i): no build step,
                          nothing fetched from elsewhere
                          (Content-Security-Policy: 'self' only)      open*
      GET  /ui/events     server-sent events from the relay's feed
                          (actors/ui_relay.c, ui_feed.h): first the
                          members' boxes ("members"), then every member's
                          trace events ("trace"), a "members" every second,
                          and "lost" {"items": N} when this browser fell
                          so far behind that N items were overwritten  admin
      POST /ui/fault?id=N, POST /ui/stop?id=N   the body sent on to member
                          N's POST /debug/fault or /debug/stop, and its
                          answer passed back (status and JSON): the page's
                          buttons. N must be a member of our
                          configuration: the node asks no other host  admin
    (* read with --auth-health.)

    Why admin: the stream carries what the monitoring socket keeps from
    strangers with CURVE (terms, indexes, who talks to whom), and the
    buttons stop nodes. Without --auth-file admin routes answer only
    loopback clients (or anyone with --open-admin, as compose runs);
    with --auth-file the page cannot be used (an EventSource sends no
    token), as for watches.

    Viewers hold a worker each, as watches do: at most a sixteenth of
    --http-threads (8 of the default 128) at once; the next one gets 503
    busy. A browser that stops reading is cut off by the stream's write
    deadline (http_stream_write), one that reads slowly loses items
    (ui_feed.h), and either way the node is not slowed.
*/
#include "http_int.h"
#include "json.h"
#include "log.h"
#include "client.h"
#include "ui_assets.h"
#include "ui_feed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_KEEPALIVE_MS 15000
#define S_ALIVE_MS 500  /* how often a waiting stream looks at its client */
#define S_BATCH 512     /* feed items per write */
#define S_PROXY_MS 2000 /* a member's /debug answer within this */
#define S_PROXY_MAX (64 << 10)

/*  ---------------------------------------------------------------------
    The page                                                             */

int
http_ui_page (http_req_t *c)
{
    const char *path = c->ri->local_uri ? c->ri->local_uri : "";
    if (streq (path, "/ui"))
        path = "/ui/index.html";
    for (size_t i = 0; i < http_ui_n_assets; i++) {
        const http_ui_asset_t *a = &http_ui_assets[i];
        if (!streq (a->path, path))
            continue;
        if (http_has_body (c))
            mg_disable_connection_keep_alive (c->conn);
        char len[32];
        snprintf (len, sizeof len, "%zu", a->len);
        mg_response_header_start (c->conn, 200);
        mg_response_header_add (c->conn, "Content-Type", a->type, -1);
        mg_response_header_add (c->conn, "Content-Length", len, -1);
        mg_response_header_add (c->conn, "Cache-Control", "no-cache", -1);
        mg_response_header_add (c->conn, "X-Content-Type-Options", "nosniff",
                                -1);
        mg_response_header_add (c->conn, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:", -1);
        mg_response_header_send (c->conn);
        mg_write (c->conn, a->data, a->len);
        return 200;
    }
    return http_reply_error (c, 404, "unknown_path", NULL);
}

void
http_ui_health (http_req_t *c, json_t *body)
{
    if (body && c->self->args.monitor_addr && *c->self->args.monitor_addr)
        json_object_set_new (body, "monitor_addr",
                             json_string (c->self->args.monitor_addr));
}

/*  ---------------------------------------------------------------------
    The stream                                                           */

static int
s_stream (http_req_t *c, ui_feed_t *feed, uint64_t from)
{
    mg_disable_connection_keep_alive (c->conn);
    static const char head[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: text/event-stream\r\n"
                               "Cache-Control: no-cache\r\n"
                               "X-Accel-Buffering: no\r\n"
                               "Connection: close\r\n"
                               "\r\n"
                               ": the cluster, live (nsxd /ui)\n"
                               "retry: 1000\n\n";
    if (!http_stream_write (c, head, sizeof head - 1))
        return 200;
    int fd = http_stream_fd (c);
    bool first = true;
    int64_t keepalive = zclock_mono () + S_KEEPALIVE_MS;
    for (;;) {
        ui_feed_read_t r;
        if (ui_feed_read (feed, from, S_BATCH, zclock_mono () + S_ALIVE_MS,
                          first, &r) != 0)
            break; /* stopping */
        first = false;
        bool ok = true;
        if (r.lost) {
            char lost[96];
            int n = snprintf (lost, sizeof lost,
                              "event: lost\ndata: {\"items\": %llu}\n\n",
                              (unsigned long long)r.lost);
            ok = http_stream_write (c, lost, (size_t)n);
        }
        if (ok && r.len)
            ok = http_stream_write (c, r.text, r.len);
        from = r.next;
        bool wrote = r.len || r.lost;
        ui_feed_read_clear (&r);
        if (!ok)
            break;
        int64_t now = zclock_mono ();
        if (wrote)
            keepalive = now + S_KEEPALIVE_MS;
        else if (now >= keepalive) {
            if (!http_stream_write (c, ": keep-alive\n\n", 14))
                break;
            keepalive = now + S_KEEPALIVE_MS;
        } else if (http_stream_gone (fd))
            break;
    }
    return 200;
}

int
http_ui_events (http_req_t *c)
{
    ui_feed_t *feed = c->self->args.ui_feed;
    if (!feed)
        return http_reply_error (c, 503, "unavailable",
                                 "this node relays no trace");
    int threads = c->self->args.threads > 0 ? c->self->args.threads : 1;
    int slots = threads / 16 > 1 ? threads / 16 : 1;
    if (!ui_feed_join (feed, slots)) {
        char detail[128];
        snprintf (detail, sizeof detail,
                  "every /ui viewer slot is taken (%d of --http-threads %d); "
                  "retry later",
                  slots, threads);
        c->close = true;
        return http_reply_json (c, 503, json_error_body ("busy", detail),
                                "Retry-After: 1\r\n");
    }
    /* A reconnecting EventSource resumes after the last item it got, if
       the feed still holds it (else it is told what it lost). */
    uint64_t last = ui_feed_last (feed), from = last;
    const char *lei = mg_get_header (c->conn, "Last-Event-ID");
    if (lei && *lei) {
        char *end = NULL;
        unsigned long long v = strtoull (lei, &end, 10);
        if (end && !*end && v <= last)
            from = v;
    }
    int status = s_stream (c, feed, from);
    ui_feed_leave (feed);
    return status;
}

/*  ---------------------------------------------------------------------
    The buttons                                                          */

/* Member id's HTTP address from our configuration (the raft actor's
   health): 0, or the status of the error already sent. */
static int
s_member_addr (http_req_t *c, unsigned long long id, char *out, size_t len)
{
    msg_api_req_t req = {.op = MSG_API_HEALTH};
    msg_api_rep_t rep;
    int st = http_ask (c, &req, &rep);
    if (st)
        return st;
    out[0] = 0;
    const msg_health_t *h = rep.health;
    for (size_t i = 0; h && i < h->n_members; i++)
        if (h->members[i].id == id && h->members[i].http_addr)
            snprintf (out, len, "%s", h->members[i].http_addr);
    msg_api_rep_clear (&rep);
    if (!*out)
        return http_reply_error (c, 404, "not_found",
                                 "no such member in this node's configuration");
    return 0;
}

int
http_ui_proxy (http_req_t *c)
{
    const char *path = c->ri->local_uri ? c->ri->local_uri : "";
    const char *target =
        streq (path, "/ui/stop") ? "/debug/stop" : "/debug/fault";
    const char *qs = c->ri->query_string ? c->ri->query_string : "";
    char idv[32] = "";
    char *end = NULL;
    unsigned long long id = 0;
    /* digits only: strtoull would take "-1" (as 2^64 - 1) and " 7" */
    if (mg_get_var (qs, strlen (qs), "id", idv, sizeof idv) > 0 &&
        idv[0] >= '0' && idv[0] <= '9') {
        errno = 0;
        id = strtoull (idv, &end, 10);
    }
    if (!id || !end || *end || errno == ERANGE)
        return http_reply_error (c, 400, "bad_request",
                                 "id: a member's id is required (?id=N)");
    char *body = NULL;
    size_t body_len = 0;
    int st = http_read_body (c, &body, &body_len);
    if (st)
        return st;
    char addr[RAFT_ADDR_MAX];
    st = s_member_addr (c, id, addr, sizeof addr);
    if (st) {
        free (body);
        return st;
    }
    http_client_opts_t opts = {.tls = c->self->args.tls_client,
                               .max_response = S_PROXY_MAX};
    http_client_resp_t r = http_client_request (
        &opts, addr, "POST", target, body_len ? body : "{}", S_PROXY_MS);
    free (body);
    if (r.status == 0) {
        json_t *b = json_error_body ("peer_unreachable", r.error);
        json_object_set_new (b, "peer", json_string (addr));
        http_client_resp_free (&r);
        return http_reply_json (c, 502, b, NULL);
    }
    json_t *j = json_loadb (r.body, r.body_len, 0, NULL);
    int status = r.status;
    http_client_resp_free (&r);
    if (!j)
        return http_reply_error (c, 502, "bad_answer",
                                 "the member's answer is not JSON");
    return http_reply_json (c, status, j, NULL);
}
