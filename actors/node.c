/*  node.c -- see node.h. What nsxd's main did, for one node among
    possibly several in the process: everything a node owns is in node_t
    or its actors, and its threads are bound to its context (node_ctx.h).
    Its other files: node_int.h.
*/
#include "node_int.h"

#include "actor.h"
#include "log.h"
#include "node_join.h"

#include <civetweb.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* Stop order: no request comes in any more, then the raft actor stops
   asking storage and transport; storage closes LevelDB after every actor
   that could ask it something; the monitor last, to take their last
   events. */
static const int s_stop_order[NODE_ACTORS] = {
    NODE_HTTP, NODE_UI, NODE_RAFT, NODE_TRANSPORT, NODE_STORAGE, NODE_MONITOR};
static const char *s_names[NODE_ACTORS] = {"monitor",   "raft", "storage",
                                           "transport", "http", "ui"};

/* Nodes started in this process: makes endpoints unique, also across a
   restart whose old sockets libzmq has not reaped yet. */
static atomic_uint s_seq;

/* A peer listen endpoint on one specific IP (tcp://127.0.0.12:9002) makes
   our outgoing links start from that IP too, so that a firewall rule
   between two nodes' addresses cuts exactly one link. NULL for wildcards. */
static const char *
s_source_ip (const char *listen, char *buf, size_t len)
{
    if (strncmp (listen, "tcp://", 6) != 0)
        return NULL;
    size_t n = strlen (listen + 6);
    if (n >= len)
        return NULL;
    memcpy (buf, listen + 6, n + 1);
    char *colon = strrchr (buf, ':');
    if (!colon)
        return NULL;
    *colon = 0;
    if (!*buf || streq (buf, "*") || streq (buf, "0.0.0.0") ||
        strspn (buf, "0123456789.") != strlen (buf))
        return NULL;
    return buf;
}

log_level_t
node_log_level (const char *name)
{
    return streq (name, "debug")   ? LOG_LEVEL_DEBUG
           : streq (name, "warn")  ? LOG_LEVEL_WARN
           : streq (name, "error") ? LOG_LEVEL_ERROR
                                   : LOG_LEVEL_INFO;
}

/*  ---------------------------------------------------------------------
    The actors                                                           */

static void
s_endpoints (node_t *self)
{
    unsigned seq = atomic_fetch_add (&s_seq, 1);
    int pid = (int)getpid ();
    snprintf (self->ep_monitor, sizeof self->ep_monitor,
              "inproc://nsxd-%d-%u-monitor", pid, seq);
    snprintf (self->ep_storage, sizeof self->ep_storage,
              "inproc://nsxd-%d-%u-storage", pid, seq);
    snprintf (self->ep_transport, sizeof self->ep_transport,
              "inproc://nsxd-%d-%u-transport", pid, seq);
    snprintf (self->ep_api, sizeof self->ep_api, "inproc://nsxd-%d-%u-api", pid,
              seq);
    snprintf (self->ep_send, sizeof self->ep_send, "inproc://nsxd-%d-%u-send",
              pid, seq);
}

static void
s_args (node_t *self)
{
    const nsxd_config_t *c = &self->c;
    self->ma = (monitor_args_t){.id = c->id,
                                .listen = c->monitor_listen,
                                .endpoint = self->ep_monitor,
                                .hwm = 10000,
                                .keys = self->keys,
                                .max_subscribers = c->monitor_max_subscribers};
    self->ra =
        (raft_actor_args_t){.id = c->id,
                            .peer_advertise = c->peer_advertise,
                            .http_advertise = c->http_advertise,
                            .storage_endpoint = self->ep_storage,
                            .transport_endpoint = self->ep_transport,
                            .api_endpoint = self->ep_api,
                            .heartbeat_ms = c->heartbeat_ms,
                            .election_ms = c->election_ms,
                            .timeout_ms = c->timeout_ms,
                            .monitor_endpoint = self->ep_monitor,
                            .compact_entries = (uint64_t)c->compact_entries,
                            .compact_trailing = (uint64_t)c->compact_trailing,
                            .compact_bytes = (uint64_t)c->compact_mib << 20,
                            .quota_bytes = (uint64_t)c->quota_bytes,
                            .peer_auth = self->keys != NULL,
                            .identity = &self->ident,
                            .async_sends = true,
                            .forward_writes = c->forward_writes};
    self->sa = (storage_args_t){
        .data_dir = c->data_dir,
        .shared = &self->kv_shared,
        .endpoint = self->ep_storage,
        .bootstrap = self->have_bootstrap ? &self->bootstrap : NULL,
        .monitor_endpoint = self->ep_monitor,
        .slow_fsync_ms = c->slow_fsync_ms,
        .quota_bytes = (uint64_t)c->quota_bytes,
        .send_endpoint = self->ep_send,
        .watch = self->watch,
        .faults = self->faults};
    /* A peer drops any message over max_msg, and would drop it again on
       every retry: it must exceed the largest AppendEntries, which holds
       at most 1 MiB of entries (the core's max_batch_bytes) or a single
       entry of up to max_body bytes, plus encoding overhead. */
    self->ta = (transport_args_t){
        .id = c->id,
        .listen = c->peer_listen,
        .endpoint = self->ep_transport,
        .queue_max = 1000,
        .source = s_source_ip (c->peer_listen, self->source_ip,
                               sizeof self->source_ip),
        .max_msg = (size_t)c->max_body * 2 + (64 << 10),
        .keys = self->keys,
        .max_conns = c->peer_max_conns,
        .send_endpoint = self->ep_send,
        .faults = self->faults};
    self->ha = (http_args_t){
        .listen = c->http_listen,
        .api_endpoint = self->ep_api,
        .threads = c->http_threads,
        .timeout_ms = c->timeout_ms,
        .max_body = (size_t)c->max_body,
        .max_key = (size_t)c->max_key,
        .max_value = (size_t)c->max_value,
        .session_ttl_ms = (uint64_t)c->session_ttl_ms,
        .monitor_endpoint = self->ep_monitor,
        .shared = &self->kv_shared,
        .watch = self->watch,
        .watch_cors = *c->watch_cors ? c->watch_cors : NULL,
        .ui_feed = self->ui_feed,
        .monitor_addr = self->monitor_addr,
        .faults = self->faults,
        .read_ms = c->read_ms,
        .auth = self->auth,
        .auth_file_loose = self->auth_loose,
        .auth_health = c->auth_health,
        .open_admin = c->open_admin,
        .tls_server = self->tls_server,
        .tls_client = self->tls_client,
        .peer_auth = self->keys ? "curve" : "none",
        .peer_warning = self->keys ? NULL
                                   : "--insecure-peers: peer links and the "
                                     "monitoring socket are neither "
                                     "authenticated nor encrypted"};
    ui_relay_monitor_addr (c->monitor_listen, c->http_advertise,
                           self->monitor_addr, sizeof self->monitor_addr);
    self->ua = (ui_relay_args_t){.id = c->id,
                                 .http_self = c->http_advertise,
                                 .tls = self->tls_client,
                                 .keys = self->keys,
                                 .feed = self->ui_feed};
}

/* The keys before any socket that serves CURVE (zap.c), then each actor
   in order. 0, or -1 (logged) with the ones started still running. */
static int
s_start_actors (node_t *self)
{
    if (self->keys) {
        if (zap_register (self->keys) != 0) {
            log_error ("peer links cannot be authenticated");
            return -1;
        }
        self->zap_registered = true;
    }
    mg_init_library (0); /* refcounted: one per node, node_stop exits */
    self->civetweb = true;
    zactor_fn *fns[NODE_ACTORS] = {monitor_actor,   raft_actor, storage_actor,
                                   transport_actor, http_actor, ui_relay_actor};
    void *args[NODE_ACTORS] = {&self->ma, &self->ra, &self->sa,
                               &self->ta, &self->ha, &self->ua};
    for (int i = 0; i < NODE_ACTORS; i++) {
        self->actors[i] =
            actor_start (s_names[i], fns[i], args[i], self->ctx, NULL);
        if (!self->actors[i])
            return -1;
    }
    self->poller = zpoller_new (NULL);
    for (int i = 0; self->poller && i < NODE_ACTORS; i++)
        zpoller_add (self->poller, self->actors[i]);
    return self->poller ? 0 : -1;
}

/*  ---------------------------------------------------------------------
    Start, wait, stop                                                    */

int
node_start (const nsxd_config_t *c, const raft_conf_t *bootstrap,
            node_t **node_p)
{
    *node_p = NULL;
    node_t *self = calloc (1, sizeof *self);
    if (!self)
        return 1;
    self->c = *c;
    if (bootstrap) {
        self->bootstrap = *bootstrap;
        self->have_bootstrap = true;
    }
    self->ctx = node_ctx_new (c->id, node_log_level (c->log_level));
    if (!self->ctx) {
        free (self);
        return 1;
    }
    /* The caller's thread too speaks for the node while it starts it. */
    node_ctx_t *caller = node_ctx_current ();
    node_ctx_bind (self->ctx);
    int rc = node_settings (self) != 0 ? 2 : node_identity (self) != 0 ? 1 : 0;
    if (rc == 0) {
        s_endpoints (self);
        self->watch =
            watch_hub_new (c->watch_history > 0 ? (size_t)c->watch_history
                                                : WATCH_HUB_DEFAULT_EVENTS,
                           WATCH_HUB_DEFAULT_BYTES);
        self->ui_feed = ui_feed_new (UI_FEED_DEFAULT_ITEMS);
        /* Always made, enabled or not: /health says which. */
        self->faults = fault_new (c->enable_faults);
        if (!self->watch || !self->ui_feed || !self->faults)
            rc = 1; /* the http actor says --enable-faults in its warnings */
    }
    if (rc == 0) {
        s_args (self);
        log_info ("starting: http %s (advertised %s), peers %s (advertised "
                  "%s), data %s",
                  c->http_listen, c->http_advertise, c->peer_listen,
                  c->peer_advertise, c->data_dir);
        if (s_start_actors (self) != 0) {
            log_error ("could not start the actors");
            self->failed = true; /* no leadership to hand over */
            rc = 1;
        }
    }
    node_ctx_bind (caller);
    if (rc != 0)
        node_stop (&self);
    *node_p = self;
    return rc;
}

int
node_join (node_t *self, volatile sig_atomic_t *stop)
{
    node_ctx_t *caller = node_ctx_current ();
    node_ctx_bind (self->ctx);
    int rc = 0;
    if (*self->c.join)
        rc = node_join_cluster (&self->c, self->tls_client, &self->ident, stop);
    else if (!*self->c.cluster)
        log_info ("no --cluster or --join: a new server waits to be added "
                  "(POST /raft/join {\"peer\": \"%s\"} on the leader)",
                  self->c.http_advertise);
    node_ctx_bind (caller);
    return rc;
}

int
node_wait (node_t *self, int timeout_ms)
{
    if (fault_take_stop (self->faults))
        return 1;
    void *which = zpoller_wait (self->poller, timeout_ms);
    if (!which)
        return fault_take_stop (self->faults) ? 1 : 0; /* timeout, or a
                                                  signal: the caller decides */
    int i = 0;
    while (i < NODE_ACTORS && self->actors[i] != which)
        i++;
    char *msg = zstr_recv (which);
    const char *reason = NULL;
    if (actor_failed (msg, &reason)) {
        node_ctx_t *caller = node_ctx_current ();
        node_ctx_bind (self->ctx);
        log_error ("the %s actor failed%s%s; stopping",
                   i < NODE_ACTORS ? s_names[i] : "?", *reason ? ": " : "",
                   reason);
        node_ctx_bind (caller);
        self->failed = true;
    }
    zstr_free (&msg);
    return self->failed ? -1 : 0;
}

void
node_stop (node_t **self_p)
{
    node_t *self = *self_p;
    if (!self)
        return;
    node_ctx_t *caller = node_ctx_current ();
    node_ctx_bind (self->ctx);
    zactor_t *raft = self->actors[NODE_RAFT];
    if (raft && !self->failed) {
        /* Hand leadership over before going (§3.10). */
        zstr_send (raft, "SHUTDOWN");
        zsock_set_rcvtimeo (raft, 3 * self->c.election_ms + 1000);
        char *done = zstr_recv (raft);
        zstr_free (&done);
    }
    zpoller_destroy (&self->poller);
    log_info ("stopping");
    for (int k = 0; k < NODE_ACTORS; k++) {
        int i = s_stop_order[k];
        if (!self->actors[i])
            continue;
        zactor_destroy (&self->actors[i]);
        log_debug ("%s actor stopped", s_names[i]);
    }
    /* The sockets that served CURVE are closed. */
    if (self->zap_registered)
        zap_unregister (self->keys);
    if (self->civetweb)
        mg_exit_library ();
    peer_keys_destroy (&self->keys);
    http_auth_destroy (&self->auth);
    SSL_CTX_free (self->tls_server);
    SSL_CTX_free (self->tls_client);
    watch_hub_destroy (&self->watch); /* its readers and writer are gone */
    ui_feed_destroy (&self->ui_feed);
    fault_destroy (&self->faults);    /* likewise */
    log_info ("stopped");
    node_ctx_bind (caller);
    node_ctx_destroy (&self->ctx);
    free (self);
    *self_p = NULL;
}

node_ctx_t *
node_context (node_t *self)
{
    return self->ctx;
}

const char *
node_api_endpoint (const node_t *self)
{
    return self->ep_api;
}
