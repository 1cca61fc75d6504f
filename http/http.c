/*  http.c -- the http actor: nsxd's HTTP API (the prototype's, exactly),
    served by civetweb, with bearer tokens, TLS and a request deadline
    (README, "Security").

    Protocol:
      pipe   <- "$TERM"                 stop: mg_stop (), which waits for
                                        every worker to finish its request
             -> signal 0                listening on args->listen
             -> signal 1                mg_start failed (address in use, bad
                                        listen string), logged; the actor
                                        then only waits for "$TERM"
                                        (actor.h: the one start-up
                                        handshake; actor_start returns NULL)
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
      GET/POST /debug/fault, POST /debug/stop  with --enable-faults
                           (http_fault.c)                       admin
    (* read with --auth-health.) The raft actor's status goes back as it
    is, its typed reply rendered here (http_render.h). Errors made here
    are JSON too:
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

    Slow clients. civetweb 1.15 is thread-per-connection with a fixed pool;
    read from its source (src/civetweb.c at v1.15):
      - the TLS handshake (sslize) gives up after request_timeout_ms;
      - the header block (read_message) must be complete within
        request_timeout_ms of the worker starting to wait for it, checked
        after every read, each read waiting up to request_timeout_ms: at
        most twice that in all (keep_alive_timeout_ms instead for the later
        requests of a connection);
      - the body: mg_read () (pull_all) reads until it has all it asked
        for, and looks at the clock only when a read slice passes without
        a byte; a client sending a byte every 0.9 s keeps one mg_read ()
        going until its whole body is in. civetweb has no per-request
        limit.
    So: request_timeout_ms is a short read slice (read_ms / 5, at most 1 s)
    that bounds handshakes and header blocks, and a body must be in by
    args->read_ms after the worker began waiting for the request
    (init_connection, or the end of the previous request on a keep-alive
    connection). The read loop checks that between reads, and this actor
    checks every S_WATCH_MS for a worker still reading past it
    (http_body_watch):
    it finds the connection's socket by its addresses
    (http/socket_find.h) and shuts down its reading side, which wakes the
    worker; it answers 408 and closes. That bounds each slow client, but
    not how many there are: a worker takes a slot before it reads a body
    (http/admission.h; threads / 4 in all, half of that per client
    address), and a client over either cap is refused at once (503 busy,
    connection closed), so slow bodies hold at most a quarter of the
    workers and /health and the rest keep being served. Slow *header*
    blocks are bounded by two slices (2 s by default) but not capped: more
    of them than workers, renewed as fast as they are cut, still fill the
    pool -- a per-address connection limit in front (iptables connlimit, a
    proxy) is the remedy civetweb leaves us.

    Files (http_int.h between them), one concern each:
      http.c            the actor: civetweb's start and stop, its options,
                        access settings, the loop that runs the watch
      http_callbacks.c  civetweb's callbacks: a worker's sockets, a
                        request's start, end and log line
      http_routes.c     the route table, access, /health, /metrics,
                        /debug/digest
      http_kv.c         /kv/put, /kv/get, /kv/delete
      http_members.c    /raft/join, /raft/remove
      http_fault.c      /debug/fault, /debug/stop (--enable-faults)
      http_watch.c      /kv/watch: long polls and server-sent events
      http_ask.c        a question to the raft actor and its typed answer
      read_barrier.c    one read barrier request for many linearizable GETs
      http_render.c     each kind of typed answer as its JSON body
      http_reply.c      JSON replies out, civetweb's refusals
      http_body.c       bodies in, within the deadline; the watch
*/
#include "http_int.h"

#include "actor.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* civetweb: a header block larger than this is refused (413). */
#define S_MAX_REQUEST_SIZE "16384"
#define S_DEFAULT_READ_MS 5000
/* civetweb's request_timeout_ms: read_ms / S_SLICES, within these. */
#define S_SLICES 5
#define S_SLICE_MIN_MS 10
#define S_SLICE_MAX_MS 1000
/* How often the actor looks for bodies past their deadline. */
#define S_WATCH_MS 50
/* Start-up status (actor.h): civetweb cannot serve on args->listen. */
#define S_STATUS_NO_LISTEN 1

/*  ---------------------------------------------------------------------
    The actor                                                            */

/* Access settings and /health's view of them; each weakened one logged. */
static void
s_security_init (http_self_t *self)
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
        .peer_warning = a->peer_warning,
        .faults = fault_enabled (a->faults)};
    self->security = http_access_security (&self->access);
    const char *w[8];
    size_t n = http_access_warnings (&self->access, w, 8);
    for (size_t i = 0; i < n && i < 8; i++)
        log_warn ("security: %s", w[i]);
    /* Bodies in flight: a quarter of the workers, half of that for one
       client address (see "Slow clients" at the top). */
    int total = self->args.threads / 4 > 2 ? self->args.threads / 4 : 2;
    self->bodies = http_admission_new (total, total / 2);
    /* Watches hold their worker: a quarter of them too (http_watch.c). */
    self->watch_slots = self->args.threads / 4 > 1 ? self->args.threads / 4 : 1;
    self->watches = http_admission_new (self->watch_slots, self->watch_slots);
}

/* "$TERM" ends the loop; nothing else is expected on the pipe. */
static int
s_self_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop, (void)arg;
    char *cmd = zstr_recv (pipe);
    bool term = !cmd || streq (cmd, "$TERM");
    if (!term)
        log_warn ("http: unknown pipe command '%s'", cmd);
    zstr_free (&cmd);
    return term ? -1 : 0;
}

/* The watch over bodies arriving too slowly (http_body.c). */
static int
s_handle_watch (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop, (void)timer_id;
    http_self_t *self = arg;
    if (self->ctx)
        http_body_watch (self);
    return 0;
}

/* Start civetweb on args->listen; false (logged) if it cannot serve. */
static bool
s_self_listen (http_self_t *self)
{
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
    http_callbacks_set (&callbacks, self->args.tls_server != NULL);
    char err[256] = "";
    struct mg_error_data error = {.text = err, .text_buffer_size = sizeof err};
    struct mg_init_data init = {.callbacks = &callbacks,
                                .user_data = self,
                                .configuration_options = options};
    self->ctx = mg_start2 (&init, &error);
    if (!self->ctx) {
        log_error ("http: cannot serve on %s: %s", self->args.listen,
                   err[0] ? err : "mg_start failed");
        return false;
    }
    log_info ("http: listening on %s (%s, %s threads, tokens %s, "
              "requests read within %d ms)",
              self->args.listen, self->args.tls_server ? "https" : "http",
              threads, self->args.auth ? "on" : "off", self->access.read_ms);
    return true;
}

static void s_self_destroy (http_self_t **self_p);

static http_self_t *
s_self_new (zsock_t *pipe, const http_args_t *args)
{
    http_self_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->args = *args;
    self->node = node_ctx_current ();
    atomic_init (&self->next_req_id, 1);
    /* jansson seeds its hash function on first use; do it here, before
       the workers race to it. */
    json_object_seed (0);
    pthread_mutex_init (&self->watch_mutex, NULL);
    s_security_init (self);
    self->max_workers =
        (size_t)(self->args.threads > 0 ? self->args.threads : 1);
    self->workers = calloc (self->max_workers, sizeof *self->workers);
    self->barrier = http_read_barrier_new ();
    self->loop = zloop_new ();
    atomic_init (&self->watch_stopping, false);
    if (!self->bodies || !self->watches || !self->workers || !self->barrier ||
        !self->loop) {
        s_self_destroy (&self);
        return NULL;
    }
    /* The skeleton's loop (actor.h): only "$TERM" comes on the pipe;
       meanwhile, the watch on a timer. */
    zloop_reader (self->loop, pipe, s_self_handle_pipe, self);
    zloop_timer (self->loop, S_WATCH_MS, 0, s_handle_watch, self);
    if (!s_self_listen (self))
        self->status = S_STATUS_NO_LISTEN; /* waits for $TERM (actor.h) */
    return self;
}

static void
s_self_destroy (http_self_t **self_p)
{
    http_self_t *self = *self_p;
    if (!self)
        return;
    http_watch_stop (self); /* no watch holds its worker any longer */
    if (self->ctx)
        mg_stop (self->ctx); /* joins the workers: their DEALERs close */
    zloop_destroy (&self->loop);
    json_decref (self->security);
    http_admission_destroy (&self->bodies);
    http_admission_destroy (&self->watches);
    pthread_mutex_destroy (&self->watch_mutex);
    http_read_barrier_destroy (&self->barrier);
    free (self->workers);
    free (self);
    *self_p = NULL;
}

void
http_actor (zsock_t *pipe, void *args)
{
    http_self_t *self = s_self_new (pipe, args);
    if (!self)
        log_error ("http: out of memory at start");
    if (actor_ready (pipe, self ? self->status : ACTOR_NO_MEMORY) == 0)
        actor_run (self->loop);
    s_self_destroy (&self);
}
