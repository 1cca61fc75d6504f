/*  http_callbacks.c -- civetweb's callbacks for the http actor (http.c):
    each worker thread's sockets (its DEALER to the raft actor, its PUSH to
    the monitor), the start of the request deadline, each request served
    (routes, metrics, trace event, log line), and the TLS context.
*/
#include "http_int.h"
#include "log.h"
#include "monitor.h"

#include <stdlib.h>
#include <string.h>

/* Copy s for a log line, control bytes replaced: paths are the client's. */
static void
s_printable (char *dst, size_t dst_len, const char *s)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < dst_len; i++)
        dst[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    dst[i] = 0;
}

/* Every request that civetweb parsed comes here first; returning the
   status tells civetweb the request is handled. */
static int
s_begin_request (struct mg_connection *conn)
{
    int64_t start = zclock_usecs ();
    http_worker_t *w = mg_get_thread_pointer (conn);
    http_req_t c = {.self = mg_get_user_data (mg_get_context (conn)),
                    .conn = conn,
                    .ri = mg_get_request_info (conn),
                    .dealer = w ? w->dealer : NULL,
                    .w = w};
    c.read_deadline =
        (w ? w->wait_start : zclock_mono ()) + c.self->access.read_ms;
    int status = http_route (&c);
    int64_t usecs = zclock_usecs () - start;
    metrics_http (c.route, status, (uint64_t)usecs);
    char path[120];
    s_printable (path, sizeof path, c.ri->local_uri);
    /* The PUSH is made when first needed: 128 of them, each with its
       pipe to the monitor, were about 5 MiB of every node's peak RSS
       while nobody traced (README, "Performance"). */
    if (w && !w->mon && c.self->args.monitor_endpoint && monitor_listened ())
        w->mon = monitor_push_new (c.self->args.monitor_endpoint);
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
    http_worker_t *w = mg_get_thread_pointer (conn);
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
    http_worker_t *w = mg_get_thread_pointer (conn);
    if (w)
        w->wait_start = zclock_mono ();
}

static int
s_log_message (const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_warn ("http: civetweb: %s", message);
    return 1;
}

zsock_t *
http_worker_dealer (http_self_t *self, http_worker_t *w)
{
    if (w->dealer)
        return w->dealer;
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
    return w->dealer;
}

/* Each worker thread's record; its sockets are made when first needed:
   a worker that serves only stale reads (or GETs whose read barrier
   round another worker sends) never makes its
   DEALER, and none makes its PUSH while nobody traces (each socket and
   its inproc pipe cost about 16-32 KiB, times 128 workers: README,
   "Performance"). */
static void *
s_init_thread (const struct mg_context *ctx, int thread_type)
{
    if (thread_type != 1) /* 0 master, 2 timer: they serve no requests */
        return NULL;
    http_self_t *self = mg_get_user_data (ctx);
    node_ctx_bind (self->node); /* this worker acts for our node */
    http_worker_t *w = calloc (1, sizeof *w);
    if (!w)
        return NULL;
    w->wait_start = zclock_mono ();
    /* w->dealer: at its first question to the raft actor
       (http_worker_dealer) */
    /* w->mon: at the first request traced (s_begin_request) */
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
    http_worker_t *w = ptr;
    if (!w)
        return;
    http_self_t *self = mg_get_user_data (ctx);
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
    http_self_t *self = user_data;
    *ssl_ctx = self->args.tls_server;
    return 1;
}

void
http_callbacks_set (struct mg_callbacks *callbacks, bool tls)
{
    memset (callbacks, 0, sizeof *callbacks);
    callbacks->begin_request = s_begin_request;
    callbacks->end_request = s_end_request;
    callbacks->init_connection = s_init_connection;
    callbacks->http_error = http_reply_civetweb_error;
    callbacks->log_message = s_log_message;
    callbacks->init_thread = s_init_thread;
    callbacks->exit_thread = s_exit_thread;
    if (tls)
        callbacks->external_ssl_ctx = s_external_ssl_ctx;
}
