/*  node.c -- see node.h. What nsxd's main did, for one node among
    possibly several in the process: everything a node owns is in node_t
    or its actors, and its threads are bound to its context (node_ctx.h).
*/
#include "node.h"
#include "actor.h"
#include "actors.h"
#include "auth.h"
#include "log.h"
#include "monitor.h"
#include "node_join.h"
#include "tls.h"

#include <civetweb.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The actors, in start order (node.h says why). */
enum { S_MONITOR, S_RAFT, S_STORAGE, S_TRANSPORT, S_HTTP, S_ACTORS };
/* Stop order: no request comes in any more, then the raft actor stops
   asking storage and transport; storage closes LevelDB after every actor
   that could ask it something; the monitor last, to take their last
   events. */
static const int s_stop_order[S_ACTORS] = {S_HTTP, S_RAFT, S_TRANSPORT,
                                           S_STORAGE, S_MONITOR};
static const char *s_names[S_ACTORS] = {"monitor", "raft", "storage",
                                        "transport", "http"};

struct node {
    nsxd_config_t c;
    raft_conf_t bootstrap;
    bool have_bootstrap;
    node_ctx_t *ctx;
    http_auth_t *auth;
    bool auth_loose;
    SSL_CTX *tls_server, *tls_client;
    peer_keys_t *keys;
    bool zap_registered;
    bool civetweb; /* mg_init_library called */
    store_identity_t ident;
    kv_shared_t kv_shared;
    /* unique per node: "inproc://nsxd-<pid>-<seq>-<name>" */
    char ep_storage[64], ep_transport[64], ep_api[64], ep_monitor[64],
        ep_send[64];
    char source_ip[64];
    /* the actors' arguments live as long as the actors */
    monitor_args_t ma;
    raft_actor_args_t ra;
    storage_args_t sa;
    transport_args_t ta;
    http_args_t ha;
    zactor_t *actors[S_ACTORS];
    zpoller_t *poller;
    bool failed;
};

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

static int
s_mkdirs (const char *path)
{
    char buf[1024];
    snprintf (buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir (buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir (buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
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
    Before anything starts                                               */

/* Access and TLS settings are checked before anything starts: a node must
   not come up on a half-understood access list or certificate. Then the
   keys: a node that cannot authenticate its peers does not start (unless
   told, loudly, to run without). 0, or -1 after a message. */
static int
s_settings (node_t *self)
{
    const nsxd_config_t *c = &self->c;
    if (*c->auth_file) {
        char err[256];
        self->auth =
            http_auth_load (c->auth_file, &self->auth_loose, err, sizeof err);
        if (!self->auth) {
            log_error ("--auth-file %s: %s", c->auth_file, err);
            return -1;
        }
        log_info ("%zu tokens from %s", http_auth_count (self->auth),
                  c->auth_file);
        if (self->auth_loose)
            log_warn ("--auth-file %s is readable by group or others "
                      "(chmod 600 it)",
                      c->auth_file);
    }
    if (*c->tls_cert) {
        char err[320];
        self->tls_server =
            http_tls_server_ctx (c->tls_cert, c->tls_key, err, sizeof err);
        self->tls_client =
            self->tls_server
                ? http_tls_client_ctx (*c->tls_ca ? c->tls_ca : NULL, err,
                                       sizeof err)
                : NULL;
        if (self->tls_client && http_tls_compat_load (err, sizeof err) != 0) {
            SSL_CTX_free (self->tls_client);
            self->tls_client = NULL;
        }
        if (!self->tls_server || !self->tls_client) {
            log_error ("TLS (--tls-cert %s, --tls-key %s%s%s): %s", c->tls_cert,
                       c->tls_key, *c->tls_ca ? ", --tls-ca " : "", c->tls_ca,
                       err);
            return -1;
        }
        struct stat kst;
        if (stat (c->tls_key, &kst) == 0 && (kst.st_mode & (S_IRWXG | S_IRWXO)))
            log_warn ("--tls-key %s is readable by group or others (chmod "
                      "600 it)",
                      c->tls_key);
    }
    if (c->insecure_peers) {
        log_warn ("--insecure-peers: peer links (%s) and the monitoring "
                  "socket are neither authenticated nor encrypted; anyone "
                  "who reaches them can act as a member of the cluster",
                  c->peer_listen);
        return 0;
    }
    char err[512];
    self->keys = peer_keys_load (c->peer_secret_file, c->id, err, sizeof err);
    if (!self->keys) {
        log_error ("--peer-secret-file: %s", err);
        return -1;
    }
    for (uint32_t i = 0; self->have_bootstrap && i < self->bootstrap.n; i++)
        peer_keys_learn (self->keys, self->bootstrap.servers[i].id);
    log_info ("peer links: CURVE, keys from %s (%zu secret%s)",
              c->peer_secret_file, peer_keys_secrets (self->keys),
              peer_keys_secrets (self->keys) > 1 ? "s" : "");
    return 0;
}

/* No IDENTITY and no LevelDB database (CURRENT) in dir. */
static bool
s_dir_fresh (const char *dir)
{
    char p[1100];
    snprintf (p, sizeof p, "%s/IDENTITY", dir);
    if (access (p, F_OK) == 0)
        return false;
    snprintf (p, sizeof p, "%s/CURRENT", dir);
    return access (p, F_OK) != 0;
}

/* Which node and cluster the directory belongs to, before anything reads
   it (README, "Identity"). 0, or -1 after a message. */
static int
s_identity (node_t *self)
{
    const nsxd_config_t *c = &self->c;
    if (s_mkdirs (c->data_dir) != 0) {
        log_error ("cannot create %s: %s", c->data_dir, strerror (errno));
        return -1;
    }
    char cluster_id[STORE_ID_HEX];
    if (self->have_bootstrap)
        store_identity_cluster_of (&self->bootstrap, cluster_id);
    /* A founder's wiped disk restarted with its original --cluster would
       bootstrap a founder's directory and be taken for the old one. If
       the cluster is already running, start as a server that waits to be
       added instead: no bootstrap entry, a directory of origin "join", so
       it does not vote as the founder (self_check) until it is removed
       and joins again. */
    bool running = false;
    char why[256] = "";
    if (self->have_bootstrap && s_dir_fresh (c->data_dir) &&
        node_join_cluster_running (&self->bootstrap, c->id, cluster_id,
                                   self->tls_client, why, sizeof why)) {
        running = true;
        self->have_bootstrap = false;
        log_warn ("data directory %s is empty but cluster %s is already "
                  "running (%s): not bootstrapping. If this server lost "
                  "its data, it must not vote as node %llu: it starts "
                  "without a vote; remove it (nsxctl remove --id %llu) "
                  "and let it join (README, \"Recovering a corrupted "
                  "node\")",
                  c->data_dir, cluster_id, why, (unsigned long long)c->id,
                  (unsigned long long)c->id);
    }
    char *err = NULL;
    if (store_identity_open (c->data_dir, c->id, self->have_bootstrap,
                             self->have_bootstrap ? cluster_id : NULL,
                             &self->ident, &err) != 0 ||
        (running && store_identity_set_cluster (c->data_dir, &self->ident,
                                                cluster_id, &err) != 0)) {
        log_error ("%s", err ? err : "out of memory");
        free (err);
        return -1;
    }
    log_info ("data directory %s: node %llu, cluster %s, directory %s (%s)",
              c->data_dir, (unsigned long long)self->ident.node_id,
              *self->ident.cluster_id ? self->ident.cluster_id
                                      : "not yet known",
              self->ident.dir_id, store_origin_name (self->ident.origin));
    return 0;
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
        .send_endpoint = self->ep_send};
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
        .send_endpoint = self->ep_send};
    self->ha = (http_args_t){
        .listen = c->http_listen,
        .api_endpoint = self->ep_api,
        .threads = c->http_threads,
        .timeout_ms = c->timeout_ms,
        .max_body = (size_t)c->max_body,
        .max_key = (size_t)c->max_key,
        .max_value = (size_t)c->max_value,
        .monitor_endpoint = self->ep_monitor,
        .shared = &self->kv_shared,
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
    zactor_fn *fns[S_ACTORS] = {monitor_actor, raft_actor, storage_actor,
                                transport_actor, http_actor};
    void *args[S_ACTORS] = {&self->ma, &self->ra, &self->sa, &self->ta,
                            &self->ha};
    for (int i = 0; i < S_ACTORS; i++) {
        self->actors[i] =
            actor_start (s_names[i], fns[i], args[i], self->ctx, NULL);
        if (!self->actors[i])
            return -1;
    }
    self->poller = zpoller_new (NULL);
    for (int i = 0; self->poller && i < S_ACTORS; i++)
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
    int rc = s_settings (self) != 0 ? 2 : s_identity (self) != 0 ? 1 : 0;
    if (rc == 0) {
        s_endpoints (self);
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
    void *which = zpoller_wait (self->poller, timeout_ms);
    if (!which)
        return 0; /* timeout, or a signal: the caller decides */
    int i = 0;
    while (i < S_ACTORS && self->actors[i] != which)
        i++;
    char *msg = zstr_recv (which);
    const char *reason = NULL;
    if (actor_failed (msg, &reason)) {
        node_ctx_t *caller = node_ctx_current ();
        node_ctx_bind (self->ctx);
        log_error ("the %s actor failed%s%s; stopping",
                   i < S_ACTORS ? s_names[i] : "?", *reason ? ": " : "",
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
    zactor_t *raft = self->actors[S_RAFT];
    if (raft && !self->failed) {
        /* Hand leadership over before going (§3.10). */
        zstr_send (raft, "SHUTDOWN");
        zsock_set_rcvtimeo (raft, 3 * self->c.election_ms + 1000);
        char *done = zstr_recv (raft);
        zstr_free (&done);
    }
    zpoller_destroy (&self->poller);
    log_info ("stopping");
    for (int k = 0; k < S_ACTORS; k++) {
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
