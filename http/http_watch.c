/*  http_watch.c -- GET /kv/watch (issue 15; README, "Watches"): the
    changes applied on this node, from its history (actors/watch_hub.h),
    as a long poll or as server-sent events.

      long poll   200 {"events": [...], "index": N}: the events with an
                  index above from_index, at once if there are some, else
                  the first ones within timeout_ms, else none; N covers
                  them (resume with from_index=N). An entry's events are
                  never split between two answers.
      stream      (Accept: text/event-stream, or stream=true) 200
                  text/event-stream, for `curl -N` and EventSource:
                    event: put|delete
                    data: {the event's JSON}
                  one block per event; the last event of an entry also
                  carries "id: <index>", so Last-Event-ID always names a
                  whole entry delivered. Every 15 s a comment line and the
                  index covered ("id: N" alone dispatches nothing, but
                  moves the browser's Last-Event-ID on), until the client
                  goes, the node stops, or the stream falls out of the
                  history ("compacted": it then reconnects with
                  Last-Event-ID and is answered 410 if still too old).
      410 {"error": "compacted", "oldest_index", "index"}   from_index is
                  below the history: re-read (GET, /kv/range report an
                  index) and watch from there
      503 {"error": "busy"}  + Retry-After: every watch slot is taken
      503 {"error": "unavailable"}  no history (yet), or stopping

    Workers. civetweb gives a connection one worker for as long as its
    handler runs, and a watch holds it: at most a quarter of the workers
    watch at once (32 of 128; http.c), the rest keep serving. A stream's
    write must be done within S_WRITE_MS or the actor's watch cuts the
    connection both ways (http_body.c), so a reader that stops reading
    holds nothing for long; one that reads too slowly falls behind the
    history and is dropped. The node's stop sets `stopping` and wakes
    every reader (http_watch_stop), so no watch delays it.
*/
#include "http_int.h"
#include "json.h"
#include "log.h"
#include "parse_watch.h"
#include "socket_find.h"
#include "ui_feed.h"

#include <poll.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A keep-alive comment this often on an idle stream. */
#define S_KEEPALIVE_MS 15000
/* A stream's write must be done within this. */
#define S_WRITE_MS 5000
/* A waiting watch looks this often whether its client went away. */
#define S_ALIVE_MS 500

/* The connection's socket, to see a client leave while nothing is
   written (civetweb does not hand it out: found by its addresses, once
   per watch), or -1: then only a failed write tells. */
int
http_stream_fd (http_req_t *c)
{
    return http_socket_find (c->ri->remote_addr, c->ri->remote_port,
                             c->ri->server_port);
}

/* The client closed its side (or the connection broke). */
bool
http_stream_gone (int fd)
{
    if (fd < 0)
        return false;
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll (&p, 1, 0) <= 0)
        return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* watch_hub_read until deadline_ms, in slices, leaving early (as if
   cancelled) when the client is gone. */
static watch_status_t
s_read (http_req_t *c, int fd, const watch_filter_t *f, uint64_t from,
        size_t limit, int64_t deadline_ms, watch_read_t *r)
{
    for (;;) {
        int64_t slice = zclock_mono () + S_ALIVE_MS;
        watch_status_t st =
            watch_hub_read (c->self->args.watch, f, from, limit,
                            slice < deadline_ms ? slice : deadline_ms,
                            &c->self->watch_stopping, r);
        if (st != WATCH_OK || r->n || zclock_mono () >= deadline_ms)
            return st;
        if (http_stream_gone (fd))
            return WATCH_CANCELLED;
        from = r->index;
    }
}

static json_t *
s_uint (uint64_t v)
{
    return json_integer ((json_int_t)(v > INT64_MAX ? INT64_MAX : v));
}

/* The event as the API shows it. */
static json_t *
s_event_json (const watch_event_t *ev)
{
    json_t *o = json_object ();
    bool ok =
        o &&
        !json_object_set_new (o, "type",
                              json_string (ev->deleted ? "delete" : "put")) &&
        !json_object_set_new (o, "key",
                              json_string_lossy (ev->key, ev->key_len)) &&
        (ev->deleted ||
         !json_object_set_new (o, "value",
                               json_string_lossy (ev->value, ev->value_len))) &&
        !json_object_set_new (o, "index", s_uint (ev->index)) &&
        !json_object_set_new (o, "create_index",
                              s_uint (ev->meta.create_index)) &&
        !json_object_set_new (
            o, "mod_index",
            s_uint (ev->deleted ? ev->index : ev->meta.mod_index)) &&
        !json_object_set_new (o, "version",
                              s_uint (ev->deleted ? 0 : ev->meta.version)) &&
        (!ev->deleted || !json_object_set_new (o, "prev_mod_index",
                                               s_uint (ev->meta.mod_index)));
    if (!ok) {
        json_decref (o);
        return NULL;
    }
    return o;
}

/* Access-Control-Allow-Origin (--watch-cors), so that a page from
   another origin can use EventSource, or NULL. */
static const char *
s_cors (http_req_t *c, char *buf, size_t len)
{
    if (!c->self->args.watch_cors)
        return NULL;
    snprintf (buf, len, "Access-Control-Allow-Origin: %s\r\n",
              c->self->args.watch_cors);
    return buf;
}

static int
s_compacted (http_req_t *c, const watch_read_t *r)
{
    json_t *b =
        json_pack ("{s:s, s:o, s:o}", "error", "compacted", "oldest_index",
                   s_uint (r->base + 1), "index", s_uint (r->applied));
    char cors[320];
    return http_reply_json (c, 410, b, s_cors (c, cors, sizeof cors));
}

static int
s_not_served (http_req_t *c, watch_status_t st)
{
    return http_reply_error (c, 503, "unavailable",
                             st == WATCH_CANCELLED ? "the node is stopping"
                                                   : "the node is starting");
}

/*  ---------------------------------------------------------------------
    Long poll                                                            */

static int
s_long_poll (http_req_t *c, int fd, const watch_filter_t *f, uint64_t from,
             const http_parse_watch_t *q)
{
    watch_read_t r;
    watch_status_t st =
        s_read (c, fd, f, from, q->limit, zclock_mono () + q->timeout_ms, &r);
    if (st == WATCH_COMPACTED)
        return s_compacted (c, &r);
    if (st != WATCH_OK)
        return s_not_served (c, st);
    json_t *events = json_array ();
    for (size_t i = 0; events && i < r.n; i++)
        if (json_array_append_new (events, s_event_json (r.events[i])) != 0) {
            json_decref (events);
            events = NULL;
        }
    uint64_t index = r.index;
    watch_read_clear (&r);
    if (!events)
        return http_reply_error (c, 500, "internal", "out of memory");
    char cors[320];
    return http_reply_json (
        c, 200,
        json_pack ("{s:o, s:o}", "events", events, "index", s_uint (index)),
        s_cors (c, cors, sizeof cors));
}

/*  ---------------------------------------------------------------------
    Server-sent events                                                   */

/* Write len bytes within S_WRITE_MS: the actor's watch cuts the
   connection both ways past it (http_body_watch). false: the client is
   gone or too slow. */
bool
http_stream_write (http_req_t *c, const char *data, size_t len)
{
    http_worker_t *w = c->w;
    if (w) {
        pthread_mutex_lock (&c->self->watch_mutex);
        w->body_deadline = zclock_mono () + S_WRITE_MS;
        w->writing = true;
        snprintf (w->peer, sizeof w->peer, "%s", c->ri->remote_addr);
        w->peer_port = c->ri->remote_port;
        w->local_port = c->ri->server_port;
        w->cut = false;
        pthread_mutex_unlock (&c->self->watch_mutex);
    }
    int n = mg_write (c->conn, data, len);
    bool cut = false;
    if (w) {
        pthread_mutex_lock (&c->self->watch_mutex);
        w->body_deadline = 0;
        w->writing = false;
        cut = w->cut;
        pthread_mutex_unlock (&c->self->watch_mutex);
    }
    return n == (int)len && !cut;
}

/* Append text to a growing buffer; false: out of memory. */
typedef struct {
    char *data;
    size_t len, cap;
    bool failed;
} s_text_t;

static void s_text_add (s_text_t *t, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_text_add (s_text_t *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (NULL, 0, fmt, ap);
    va_end (ap);
    if (n < 0 || t->len + (size_t)n + 1 > t->cap) {
        size_t cap = (t->cap ? t->cap * 2 : 4096) + (n > 0 ? (size_t)n : 0);
        char *d = n < 0 ? NULL : realloc (t->data, cap);
        if (!d) {
            t->failed = true;
            return;
        }
        t->data = d;
        t->cap = cap;
    }
    va_start (ap, fmt);
    vsnprintf (t->data + t->len, t->cap - t->len, fmt, ap);
    va_end (ap);
    t->len += (size_t)n;
}

/* The events of r as SSE blocks; the id on each entry's last event. */
static void
s_sse_events (s_text_t *t, const watch_read_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const watch_event_t *ev = r->events[i];
        json_t *j = s_event_json (ev);
        size_t len = 0;
        char *text = j ? json_body_text (j, &len) : NULL;
        json_decref (j);
        if (!text) {
            t->failed = true;
            return;
        }
        bool last = i + 1 == r->n || r->events[i + 1]->index != ev->index;
        s_text_add (t, "event: %s\ndata: %s\n", ev->deleted ? "delete" : "put",
                    text);
        if (last)
            s_text_add (t, "id: %llu\n", (unsigned long long)ev->index);
        s_text_add (t, "\n");
        free (text);
    }
}

static int
s_stream (http_req_t *c, int fd, const watch_filter_t *f, uint64_t from,
          const http_parse_watch_t *q)
{
    watch_hub_t *hub = c->self->args.watch;
    /* Too old already: a plain 410, which EventSource takes as final. */
    watch_read_t r;
    watch_status_t st = watch_hub_read (hub, f, from, q->limit, 0,
                                        &c->self->watch_stopping, &r);
    watch_read_clear (&r); /* keeps base and applied */
    if (st == WATCH_COMPACTED)
        return s_compacted (c, &r);
    if (st != WATCH_OK)
        return s_not_served (c, st);
    mg_disable_connection_keep_alive (c->conn);
    char head[1024], cors[320];
    const char *ac = s_cors (c, cors, sizeof cors);
    int hn = snprintf (head, sizeof head,
                       "HTTP/1.1 200 OK\r\n"
                       "Content-Type: text/event-stream\r\n"
                       "Cache-Control: no-cache\r\n"
                       "X-Accel-Buffering: no\r\n"
                       "Connection: close\r\n"
                       "%s"
                       "\r\n"
                       ": watching from index %llu\n"
                       "retry: 1000\n"
                       "id: %llu\n\n",
                       ac ? ac : "", (unsigned long long)from,
                       (unsigned long long)from);
    if (!http_stream_write (c, head, (size_t)hn))
        return 200;
    for (;;) {
        st = s_read (c, fd, f, from, q->limit, zclock_mono () + S_KEEPALIVE_MS,
                     &r);
        s_text_t t = {0};
        if (st == WATCH_COMPACTED)
            s_text_add (&t,
                        ": compacted: this stream fell behind the "
                        "history (oldest index %llu); reconnect with "
                        "Last-Event-ID, or re-read\n\n",
                        (unsigned long long)(r.base + 1));
        else if (st == WATCH_OK && r.n)
            s_sse_events (&t, &r);
        else if (st == WATCH_OK) /* idle: keep-alive, and the progress */
            s_text_add (&t, ": keep-alive\nid: %llu\n\n",
                        (unsigned long long)r.index);
        bool more = st == WATCH_OK && !t.failed;
        if (more)
            from = r.index;
        watch_read_clear (&r);
        bool wrote = t.len && !t.failed && http_stream_write (c, t.data, t.len);
        free (t.data);
        if (!more || !wrote)
            break;
    }
    return 200;
}

/*  ---------------------------------------------------------------------
    The route                                                            */

int
http_kv_watch (http_req_t *c)
{
    watch_hub_t *hub = c->self->args.watch;
    const char *qs = c->ri->query_string ? c->ri->query_string : "";
    http_parse_limits_t lim = {.max_key = c->self->args.max_key,
                               .max_value = c->self->args.max_value};
    http_parse_watch_t q;
    http_parse_err_t err;
    if (http_parse_watch_query (
            qs, strlen (qs), mg_get_header (c->conn, "Accept"),
            mg_get_header (c->conn, "Last-Event-ID"), &lim, &q, &err) != 0)
        return http_reply_parse_error (c, &err);
    if (!hub) {
        http_parse_watch_clear (&q);
        return http_reply_error (c, 503, "unavailable",
                                 "this node keeps no watch history");
    }
    watch_hub_stats_t s;
    watch_hub_stats (hub, &s);
    if (!s.started) {
        http_parse_watch_clear (&q);
        return s_not_served (c, WATCH_NOT_READY);
    }
    const char *addr = c->ri->remote_addr;
    if (http_admission_enter (c->self->watches, addr) != HTTP_ADMIT_OK) {
        http_parse_watch_clear (&q);
        char detail[128];
        snprintf (detail, sizeof detail,
                  "every watch slot is taken (%d of --http-threads %d); "
                  "retry later",
                  c->self->watch_slots, c->self->args.threads);
        c->close = true;
        return http_reply_json (c, 503, json_error_body ("busy", detail),
                                "Retry-After: 1\r\n");
    }
    watch_filter_t f = {.key = (const char *)q.key->data,
                        .key_len = q.key->len,
                        .prefix = q.prefix};
    uint64_t from = q.has_from ? q.from : s.applied;
    int fd = http_stream_fd (c);
    int status = q.stream ? s_stream (c, fd, &f, from, &q)
                          : s_long_poll (c, fd, &f, from, &q);
    http_admission_leave (c->self->watches, addr);
    http_parse_watch_clear (&q);
    return status;
}

void
http_watch_stop (http_self_t *self)
{
    atomic_store (&self->watch_stopping, true);
    if (self->args.watch)
        watch_hub_wake (self->args.watch);
    if (self->args.ui_feed) /* the /ui page's streams too (http_ui.c) */
        ui_feed_stop (self->args.ui_feed);
}
