/*  ui_relay.c -- the relay actor behind the /ui page (issue 16): the node
    serving the page subscribes to every member's monitoring socket, as
    `nsxctl trace` does, and hands the merged stream to the browsers as
    server-sent events, through the feed (ui_feed.h) that the HTTP
    workers stream (http/http_ui.c).

    Protocol (the skeleton and its contract: actor.h)
    --------
    pipe   <- "$TERM"          end
           -> signal 0         ready (nothing is subscribed yet)
    SUB    (made while someone watches) connected to each member's
           monitoring socket, with the trace key over CURVE (peer_keys.h)
           unless --insecure-peers: every event (msg/msg_trace.h) becomes
           one feed item
               event: trace
               data: {msg_trace_json's object, plus "line": the line
                      `nsxctl trace` prints (msg_trace_render)}
    probes (ui_probe.h, one zactor per member while someone watches)
           <- [status][body]   the member's /health, every second
    feed   -> every second, and as the feed's state block (what a page
              that opens gets first), the members' boxes:
               event: members
               data: {"self": ID, "members": [{"id", "http_addr",
                      "monitor_addr", "up", "status", "error", "health":
                      {role, term, leader_id, leader, commit, applied,
                      last_index, log, members, faults, faults_enabled}
                      or null}]}

    Who the members are: our own /health's "members" (our configuration,
    so the list follows membership changes within a second), each asked
    for its own /health by its probe. That /health also names the
    member's monitoring socket ("monitor_addr"), which the trace cannot,
    and says where it stands when the page opens, which the trace says
    only when something changes; a member that does not answer is shown
    "up": false (its box greys) and comes back when it answers again.
    The SUB keeps its connections: ZeroMQ reconnects to a restarted
    member by itself.

    Only while someone watches. A node traces nothing while nobody
    listens to its monitoring socket (monitor.c), so the relay connects
    only while the feed has viewers, and lets go S_IDLE_MS after the last
    one left (a page reloading keeps it).

    Never blocking. The SUB's receive and the feed's push never wait; the
    probes' fetches block their own threads only; a browser that reads
    too slowly loses the oldest items (ui_feed.h), never slows this.
*/
#include "ui_relay.h"

#include "actor.h"
#include "json.h"
#include "log.h"
#include "msg_trace.h"
#include "ui_probe.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TICK_MS 250
#define S_STATE_MS 1000
#define S_IDLE_MS 5000
#define S_BATCH 256     /* events per turn: the pipe stays responsive */
#define S_RCVHWM 100000 /* a burst waits in the SUB */
#define S_ADDR_MAX 256

typedef struct {
    void *relay; /* the self_t, for the probe's handler */
    bool used;
    raft_id_t id;
    char http[RAFT_ADDR_MAX];
    char monitor[S_ADDR_MAX]; /* connected to, "" if none */
    zactor_t *probe;
    int status; /* the last probe's: 0 no answer */
    char error[192];
    json_t *health; /* the fields the boxes show, or NULL */
} member_t;

typedef struct {
    zsock_t *pipe;
    zloop_t *loop;
    int status;
    ui_relay_args_t args;
    zsock_t *sub; /* while active */
    bool active;
    int64_t idle_since; /* no viewers since (0: someone watches) */
    int64_t next_state;
    member_t members[RAFT_MAX_SERVERS];
} self_t;

static int s_self_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg);
static int s_handle_sub (zloop_t *loop, zsock_t *sub, void *arg);
static int s_handle_probe (zloop_t *loop, zsock_t *probe, void *arg);
static int s_handle_tick (zloop_t *loop, int timer_id, void *arg);

/*  ---------------------------------------------------------------------
    Members                                                              */

static member_t *
s_member (self_t *self, raft_id_t id)
{
    for (size_t i = 0; i < RAFT_MAX_SERVERS; i++)
        if (self->members[i].used && self->members[i].id == id)
            return &self->members[i];
    return NULL;
}

static void
s_member_drop (self_t *self, member_t *m)
{
    if (m->probe) {
        zloop_reader_end (self->loop, zactor_sock (m->probe));
        zactor_destroy (&m->probe);
    }
    if (*m->monitor && self->sub)
        zsock_disconnect (self->sub, "%s", m->monitor);
    json_decref (m->health);
    *m = (member_t){0};
}

static member_t *
s_member_add (self_t *self, raft_id_t id, const char *http)
{
    member_t *m = NULL;
    for (size_t i = 0; !m && i < RAFT_MAX_SERVERS; i++)
        if (!self->members[i].used)
            m = &self->members[i];
    if (!m)
        return NULL;
    *m = (member_t){.relay = self, .used = true, .id = id};
    snprintf (m->http, sizeof m->http, "%s", http);
    snprintf (m->error, sizeof m->error, "not asked yet");
    ui_probe_args_t pa = {.endpoint = m->http, .tls = self->args.tls};
    m->probe = zactor_new (ui_probe_actor, &pa);
    if (m->probe)
        zloop_reader (self->loop, zactor_sock (m->probe), s_handle_probe, m);
    return m;
}

/* Follow the monitoring socket a member names in its /health. */
static void
s_member_monitor (self_t *self, member_t *m, const char *addr)
{
    if (!addr || strncmp (addr, "tcp://", 6) != 0 ||
        strlen (addr) >= S_ADDR_MAX || strpbrk (addr, " \t\r\n") ||
        streq (addr, m->monitor) || !self->sub)
        return;
    if (*m->monitor)
        zsock_disconnect (self->sub, "%s", m->monitor);
    m->monitor[0] = 0;
    if (zsock_connect (self->sub, "%s", addr) == 0)
        snprintf (m->monitor, sizeof m->monitor, "%s", addr);
    else
        log_warn ("ui: cannot subscribe to n%llu's trace at %s: %s",
                  (unsigned long long)m->id, addr, zmq_strerror (zmq_errno ()));
}

/* Our own /health lists the configuration: follow it. */
static void
s_follow_members (self_t *self, json_t *list)
{
    if (!json_is_array (list))
        return;
    bool listed[RAFT_MAX_SERVERS] = {false};
    size_t i;
    json_t *e;
    json_array_foreach (list, i, e)
    {
        json_t *jid = json_object_get (e, "id");
        const char *http = json_string_value (json_object_get (e, "http_addr"));
        if (!json_is_integer (jid) || json_integer_value (jid) <= 0 || !http ||
            !*http || strlen (http) >= RAFT_ADDR_MAX)
            continue;
        raft_id_t id = (raft_id_t)json_integer_value (jid);
        member_t *m = s_member (self, id);
        if (m && !streq (m->http, http) && id != self->args.id) {
            s_member_drop (self, m); /* moved: ask the new address */
            m = NULL;
        }
        if (!m)
            m = s_member_add (self, id, http);
        if (m)
            listed[m - self->members] = true;
    }
    for (i = 0; i < RAFT_MAX_SERVERS; i++) {
        member_t *m = &self->members[i];
        if (m->used && !listed[i] && m->id != self->args.id)
            s_member_drop (self, m);
    }
}

/* The fields of a /health the boxes show. */
static json_t *
s_box (json_t *h)
{
    static const char *keys[] = {
        "role",       "term", "leader_id", "leader", "commit",        "applied",
        "last_index", "log",  "members",   "faults", "faults_enabled"};
    json_t *b = json_object ();
    for (size_t i = 0; b && i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get (h, keys[i]);
        if (v)
            json_object_set (b, keys[i], v);
    }
    return b;
}

static int
s_handle_probe (zloop_t *loop, zsock_t *probe, void *arg)
{
    (void)loop;
    member_t *m = arg;
    self_t *self = m->relay;
    char *status = NULL, *body = NULL;
    if (zstr_recvx (probe, &status, &body, NULL) < 0)
        return 0;
    m->status = atoi (status);
    json_decref (m->health);
    m->health = NULL;
    m->error[0] = 0;
    json_t *h = m->status ? json_loads (body, 0, NULL) : NULL;
    if (!m->status)
        snprintf (m->error, sizeof m->error, "%s", body);
    else if (!json_is_object (h) || !json_object_get (h, "role"))
        snprintf (m->error, sizeof m->error, "its /health answered %d%s",
                  m->status,
                  m->status == 401 || m->status == 403
                      ? " (it needs a token: --auth-health)"
                      : "");
    else {
        m->health = s_box (h);
        s_member_monitor (
            self, m, json_string_value (json_object_get (h, "monitor_addr")));
        if (m->id == self->args.id)
            s_follow_members (self, json_object_get (h, "members"));
    }
    json_decref (h);
    zstr_free (&status);
    zstr_free (&body);
    return 0;
}

/*  ---------------------------------------------------------------------
    The feed                                                             */

/* One SSE block, "event: NAME\ndata: JSON\n\n", pushed (and set as the
   state block when state). */
static void
s_feed (self_t *self, const char *name, json_t *data, bool state)
{
    size_t len = 0;
    char *text = data ? json_body_text (data, &len) : NULL;
    if (!text)
        return;
    char *block = NULL;
    int n = asprintf (&block, "event: %s\ndata: %s\n\n", name, text);
    free (text);
    if (n < 0)
        return;
    ui_feed_push (self->args.feed, block, (size_t)n);
    if (state)
        ui_feed_set_state (self->args.feed, block, (size_t)n);
    free (block);
}

static json_t *
s_state (self_t *self)
{
    json_t *list = json_array ();
    for (size_t i = 0; list && i < RAFT_MAX_SERVERS; i++) {
        const member_t *m = &self->members[i];
        if (!m->used)
            continue;
        json_t *box = m->health ? json_deep_copy (m->health) : json_null ();
#if defined(NSXD_PLANTED_BUG) && NSXD_PLANTED_BUG == 11
        /* planted ui_wrong_leader: the serving node always drawn leader */
        if (m->id == self->args.id && json_is_object (box))
            json_object_set_new (box, "role", json_string ("leader"));
#endif
        json_array_append_new (
            list,
            json_pack ("{s:I, s:s, s:s, s:b, s:i, s:s, s:o}", "id",
                       (json_int_t)m->id, "http_addr", m->http, "monitor_addr",
                       m->monitor, "up", m->status != 0, "status", m->status,
                       "error", m->error, "health", box));
    }
    return json_pack ("{s:I, s:o, s:i}", "self", (json_int_t)self->args.id,
                      "members", list ? list : json_array (), "viewers",
                      ui_feed_viewers (self->args.feed));
}

static int
s_handle_sub (zloop_t *loop, zsock_t *sub, void *arg)
{
    (void)loop, (void)sub;
    self_t *self = arg;
    for (int i = 0; self->sub && i < S_BATCH; i++) {
        zmsg_t *zm = zmsg_recv_nowait (self->sub);
        if (!zm)
            break;
        msg_trace_t t;
        if (msg_trace_decode (zm, &t) == 0) {
            char *text = msg_trace_json (&t);
            json_t *j = text ? json_loads (text, 0, NULL) : NULL;
            char line[512];
            msg_trace_render (&t, line, sizeof line);
            if (j &&
                json_object_set_new (
                    j, "line", json_string_lossy (line, strlen (line))) == 0)
                s_feed (self, "trace", j, false);
            json_decref (j);
            free (text);
        }
        zmsg_destroy (&zm);
    }
    return 0;
}

/*  ---------------------------------------------------------------------
    Watched or not                                                       */

static void
s_activate (self_t *self)
{
    self->sub = zsock_new (ZMQ_SUB);
    if (!self->sub) {
        log_warn ("ui: cannot make a SUB socket");
        return;
    }
    if (self->args.keys)
        peer_keys_connect_monitor (self->args.keys, self->sub, 0);
    zsock_set_rcvhwm (self->sub, S_RCVHWM);
    zsock_set_linger (self->sub, 0);
    zsock_set_subscribe (self->sub, "");
    zloop_reader (self->loop, self->sub, s_handle_sub, self);
    if (!s_member_add (self, self->args.id, self->args.http_self)) {
        zloop_reader_end (self->loop, self->sub);
        zsock_destroy (&self->sub);
        return;
    }
    self->active = true;
    self->next_state = zclock_mono ();
    log_info ("ui: a page watches: relaying every member's trace");
}

static void
s_deactivate (self_t *self)
{
    for (size_t i = 0; i < RAFT_MAX_SERVERS; i++)
        if (self->members[i].used)
            s_member_drop (self, &self->members[i]);
    if (self->sub) {
        zloop_reader_end (self->loop, self->sub);
        zsock_destroy (&self->sub);
    }
    self->active = false;
    log_info ("ui: nobody watches: relay stopped");
}

static int
s_handle_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop, (void)timer_id;
    self_t *self = arg;
    int64_t now = zclock_mono ();
    if (ui_feed_viewers (self->args.feed) > 0)
        self->idle_since = 0;
    else if (!self->idle_since)
        self->idle_since = now;
    if (!self->active && !self->idle_since)
        s_activate (self);
    else if (self->active && self->idle_since &&
             now - self->idle_since >= S_IDLE_MS)
        s_deactivate (self);
    if (self->active && now >= self->next_state) {
        self->next_state = now + S_STATE_MS;
        json_t *st = s_state (self);
        s_feed (self, "members", st, true);
        json_decref (st);
    }
    return 0;
}

/*  ---------------------------------------------------------------------
    The actor                                                            */

static self_t *
s_self_new (zsock_t *pipe, const ui_relay_args_t *args)
{
    self_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->pipe = pipe;
    self->args = *args;
    self->loop = zloop_new ();
    if (!self->loop || !args->feed) {
        self->status = ACTOR_NO_MEMORY;
        return self;
    }
    self->idle_since = zclock_mono ();
    zloop_reader (self->loop, pipe, s_self_handle_pipe, self);
    zloop_timer (self->loop, S_TICK_MS, 0, s_handle_tick, self);
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    if (self->loop)
        s_deactivate (self);
    zloop_destroy (&self->loop);
    free (self);
    *self_p = NULL;
}

static int
s_self_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop, (void)arg;
    char *cmd = zstr_recv (pipe);
    if (!cmd)
        return 0; /* EINTR: main decides when to stop */
    bool term = streq (cmd, "$TERM");
    if (!term)
        log_warn ("ui: unknown command '%s' on the pipe", cmd);
    zstr_free (&cmd);
    return term ? -1 : 0;
}

void
ui_relay_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (const ui_relay_args_t *)args);
    if (actor_ready (pipe, self ? self->status : ACTOR_NO_MEMORY) == 0)
        actor_run (self->loop);
    s_self_destroy (&self);
}

void
ui_relay_monitor_addr (const char *listen, const char *http_advertise,
                       char *out, size_t len)
{
    out[0] = 0;
    if (!listen || strncmp (listen, "tcp://", 6) != 0)
        return;
    const char *host = listen + 6;
    const char *colon = strrchr (host, ':');
    if (!colon)
        return;
    size_t hl = (size_t)(colon - host);
    bool wild = (hl == 1 && host[0] == '*') ||
                (hl == 7 && strncmp (host, "0.0.0.0", 7) == 0);
    if (!wild) {
        snprintf (out, len, "%s", listen);
        return;
    }
    /* the host others reach our HTTP at ("h:p", "[v6]:p") */
    const char *hc = http_advertise ? strrchr (http_advertise, ':') : NULL;
    if (!hc || hc == http_advertise)
        return;
    snprintf (out, len, "tcp://%.*s%s", (int)(hc - http_advertise),
              http_advertise, colon);
}
