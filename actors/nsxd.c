/*  nsxd.c -- the node: flags, the actors, signals.

    Start order matters for the inproc sockets: the raft actor first (it
    connects to storage and transport before they bind, which inproc allows
    since ZeroMQ 4, and binds the API endpoint), then storage (whose first
    message, "boot", needs the raft actor's PAIR to be there), transport,
    and http last (its workers connect to the raft actor's API endpoint).

    SIGINT/SIGTERM: a leader first hands leadership over (§3.10), then the
    actors stop in reverse order; storage closes LevelDB last; exit 0.
*/
#include "actors.h"
#include "auth.h"
#include "client.h"
#include "log.h"
#include "monitor.h"
#include "nsxd_config.h"
#include "tls.h"

#include <civetweb.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t s_stop;

static void
s_on_signal (int sig)
{
    (void)sig;
    s_stop = 1;
}

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

/*  ---------------------------------------------------------------------
    --join: ask the cluster to add us, following leader hints            */

/* POST /raft/join to host:port. Returns the HTTP status (0 if unreachable)
   and, on 409, the leader hint in next (or "" if none). */
static int
s_post_join (const char *target, const nsxd_config_t *c,
             const http_client_opts_t *opts, char *next, size_t next_len)
{
    json_t *req = json_pack ("{s:s, s:I}", "peer", c->http_advertise, "id",
                             (json_int_t)c->id);
    char *body = req ? json_dumps (req, JSON_COMPACT) : NULL;
    json_decref (req);
    http_client_resp_t r = {0};
    if (body)
        r = http_client_request (opts, target, "POST", "/raft/join", body,
                                 60000);
    else
        snprintf (r.error, sizeof r.error, "out of memory");
    if (r.status == 0)
        log_info ("join through %s: %s", target, r.error);
    else if (r.status == 401 || r.status == 403)
        log_error ("join through %s: %d %s (an admin token is needed: "
                   "--join-token-file)",
                   target, r.status, r.body ? r.body : "");
    free (body);
    next[0] = 0;
    json_t *j = r.body ? json_loads (r.body, 0, NULL) : NULL;
    const char *leader =
        j ? json_string_value (json_object_get (j, "leader")) : NULL;
    if (leader)
        snprintf (next, next_len, "%s", leader);
    /* A refusal that is not "ask the leader" (409 not_leader) nor about
       credentials (logged above) says why: reused_id, other_cluster... */
    if (r.status >= 400 && r.status < 500 && r.status != 401 &&
        r.status != 403 && !leader)
        log_warn ("join through %s refused (%d): %s", target, r.status,
                  r.body ? r.body : "");
    json_decref (j);
    int status = r.status;
    http_client_resp_free (&r);
    return status;
}

/* After a join: record the cluster's id (the leader's /health) in the
   data directory. -1 if the directory belongs to another cluster. */
static int
s_learn_cluster (const char *target, const nsxd_config_t *c,
                 const http_client_opts_t *opts, store_identity_t *ident)
{
    http_client_resp_t r =
        http_client_request (opts, target, "GET", "/health", NULL, 5000);
    json_t *j = r.body ? json_loads (r.body, 0, NULL) : NULL;
    const char *cl = json_string_value (
        json_object_get (json_object_get (j, "identity"), "cluster_id"));
    int rc = 0;
    char *err = NULL;
    if (!cl)
        log_warn ("join: %s reports no cluster id (an older nsxd?); this "
                  "directory's stays unknown",
                  target);
    else if (store_identity_set_cluster (c->data_dir, ident, cl, &err) != 0) {
        log_error ("join: %s", err);
        rc = -1;
    } else
        log_info ("join: data directory %s belongs to cluster %s", c->data_dir,
                  cl);
    free (err);
    json_decref (j);
    http_client_resp_free (&r);
    return rc;
}

static int
s_join (const nsxd_config_t *c, SSL_CTX *tls, store_identity_t *ident)
{
    char target[256], next[256];
    http_client_opts_t opts = {.tls = tls,
                               .token = *c->join_token ? c->join_token : NULL};
    snprintf (target, sizeof target, "%s", c->join);
    while (!s_stop) {
        int status = s_post_join (target, c, &opts, next, sizeof next);
        if (status == 200) {
            log_info ("joined the cluster through %s", target);
            return s_learn_cluster (target, c, &opts, ident);
        }
        if (status == 409 && next[0]) {
            snprintf (target, sizeof target, "%s", next);
            continue; /* follow the leader hint at once */
        }
        log_info ("join through %s: %s; retrying", target,
                  status ? "refused" : "unreachable");
        if (status == 409 || status == 0)
            snprintf (target, sizeof target, "%s", c->join);
        for (int i = 0; i < 10 && !s_stop; i++)
            zclock_sleep (100);
    }
    return 0;
}

/*  ---------------------------------------------------------------------
    A founder on an empty directory: is its cluster already running?     */

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

/* Ask the other founders' /health (1 s each): does one of them report
   this cluster past its bootstrap entry (commit > 1)? Then an empty
   directory here is not a founder's first start but, most likely, a
   founder's wiped disk (README, "Identity"). Unreachable or unreadable
   answers count as no. */
static bool
s_cluster_running (const raft_conf_t *boot, raft_id_t self,
                   const char *cluster_id, SSL_CTX *tls, char *why,
                   size_t why_len)
{
    http_client_opts_t opts = {.tls = tls};
    for (uint32_t i = 0; i < boot->n; i++) {
        const char *sp = strchr (boot->servers[i].addr, ' ');
        if (boot->servers[i].id == self || !sp)
            continue;
        http_client_resp_t r =
            http_client_request (&opts, sp + 1, "GET", "/health", NULL, 1000);
        json_t *j = r.body ? json_loads (r.body, 0, NULL) : NULL;
        const char *cl = json_string_value (
            json_object_get (json_object_get (j, "identity"), "cluster_id"));
        json_int_t commit = json_integer_value (json_object_get (j, "commit"));
        bool running = cl && strcmp (cl, cluster_id) == 0 && commit > 1;
        if (running)
            snprintf (why, why_len, "node %llu (%s) reports commit %lld",
                      (unsigned long long)boot->servers[i].id, sp + 1,
                      (long long)commit);
        json_decref (j);
        http_client_resp_free (&r);
        if (running)
            return true;
    }
    return false;
}

/*  ---------------------------------------------------------------------
    main                                                                 */

int
main (int argc, char **argv)
{
    /* Everything nsxd creates -- the data directory, LevelDB's tables, log
       and manifest, IDENTITY -- is the owner's alone: values are private
       data. LevelDB creates its files 0644 & ~umask, so the umask is what
       makes them 0600 (store_open fixes older files and the directory). */
    umask (077);
    nsxd_config_t c;
    if (nsxd_config_parse (argc, argv, &c) != 0)
        return 2;
    log_level_t level = LOG_LEVEL_INFO;
    if (streq (c.log_level, "debug"))
        level = LOG_LEVEL_DEBUG;
    else if (streq (c.log_level, "warn"))
        level = LOG_LEVEL_WARN;
    else if (streq (c.log_level, "error"))
        level = LOG_LEVEL_ERROR;
    log_init (c.id, level);

    raft_conf_t bootstrap;
    bool have_bootstrap = false;
    if (*c.cluster) {
        if (nsxd_config_cluster (c.cluster, &bootstrap) != 0) {
            fprintf (stderr, "nsxd: cannot parse --cluster '%s'\n", c.cluster);
            return 2;
        }
        if (!raft_conf_get (&bootstrap, c.id)) {
            fprintf (stderr, "nsxd: --cluster does not list id %llu\n",
                     (unsigned long long)c.id);
            return 2;
        }
        have_bootstrap = true;
    }
    /* Access and TLS settings are checked before anything starts: a node
       must not come up on a half-understood access list or certificate. */
    http_auth_t *auth = NULL;
    bool auth_loose = false;
    if (*c.auth_file) {
        char err[256];
        auth = http_auth_load (c.auth_file, &auth_loose, err, sizeof err);
        if (!auth) {
            fprintf (stderr, "nsxd: --auth-file %s: %s\n", c.auth_file, err);
            return 2;
        }
        log_info ("%zu tokens from %s", http_auth_count (auth), c.auth_file);
        if (auth_loose)
            log_warn ("--auth-file %s is readable by group or others "
                      "(chmod 600 it)",
                      c.auth_file);
    }
    SSL_CTX *tls_server = NULL, *tls_client = NULL;
    if (*c.tls_cert) {
        char err[320];
        tls_server =
            http_tls_server_ctx (c.tls_cert, c.tls_key, err, sizeof err);
        tls_client = tls_server
                         ? http_tls_client_ctx (*c.tls_ca ? c.tls_ca : NULL,
                                                err, sizeof err)
                         : NULL;
        if (tls_client && http_tls_compat_load (err, sizeof err) != 0) {
            SSL_CTX_free (tls_client);
            tls_client = NULL;
        }
        if (!tls_server || !tls_client) {
            fprintf (stderr,
                     "nsxd: TLS (--tls-cert %s, --tls-key %s%s%s): "
                     "%s\n",
                     c.tls_cert, c.tls_key, *c.tls_ca ? ", --tls-ca " : "",
                     c.tls_ca, err);
            SSL_CTX_free (tls_server);
            http_auth_destroy (&auth);
            return 2;
        }
        struct stat kst;
        if (stat (c.tls_key, &kst) == 0 && (kst.st_mode & (S_IRWXG | S_IRWXO)))
            log_warn ("--tls-key %s is readable by group or others (chmod "
                      "600 it)",
                      c.tls_key);
    }
    /* The keys: a node that cannot authenticate its peers does not start
       (unless told, loudly, to run without). */
    peer_keys_t *keys = NULL;
    if (c.insecure_peers) {
        log_warn ("--insecure-peers: peer links (%s) and the monitoring "
                  "socket are neither authenticated nor encrypted; anyone "
                  "who reaches them can act as a member of the cluster",
                  c.peer_listen);
    } else {
        char err[512];
        keys = peer_keys_load (c.peer_secret_file, c.id, err, sizeof err);
        if (!keys) {
            fprintf (stderr, "nsxd: --peer-secret-file: %s\n", err);
            SSL_CTX_free (tls_server);
            SSL_CTX_free (tls_client);
            http_auth_destroy (&auth);
            return 2;
        }
        for (uint32_t i = 0; have_bootstrap && i < bootstrap.n; i++)
            peer_keys_learn (keys, bootstrap.servers[i].id);
        log_info ("peer links: CURVE, keys from %s (%zu secret%s)",
                  c.peer_secret_file, peer_keys_secrets (keys),
                  peer_keys_secrets (keys) > 1 ? "s" : "");
    }
    if (s_mkdirs (c.data_dir) != 0) {
        fprintf (stderr, "nsxd: cannot create %s: %s\n", c.data_dir,
                 strerror (errno));
        return 1;
    }
    /* Which node and cluster the directory belongs to, before anything
       reads it (README, "Identity"). */
    static store_identity_t ident;
    {
        char cluster_id[STORE_ID_HEX];
        if (have_bootstrap)
            store_identity_cluster_of (&bootstrap, cluster_id);
        /* A founder's wiped disk restarted with its original --cluster
           would bootstrap a founder's directory and be taken for the old
           one. If the cluster is already running, start as a server that
           waits to be added instead: no bootstrap entry, a directory of
           origin "join", so it does not vote as the founder (self_check)
           until it is removed and joins again. */
        bool running = false;
        char why[256] = "";
        if (have_bootstrap && s_dir_fresh (c.data_dir) &&
            s_cluster_running (&bootstrap, c.id, cluster_id, tls_client, why,
                               sizeof why)) {
            running = true;
            have_bootstrap = false;
            log_warn ("data directory %s is empty but cluster %s is already "
                      "running (%s): not bootstrapping. If this server lost "
                      "its data, it must not vote as node %llu: it starts "
                      "without a vote; remove it (nsxctl remove --id %llu) "
                      "and let it join (README, \"Recovering a corrupted "
                      "node\")",
                      c.data_dir, cluster_id, why, (unsigned long long)c.id,
                      (unsigned long long)c.id);
        }
        char *err = NULL;
        if (store_identity_open (c.data_dir, c.id, have_bootstrap,
                                 have_bootstrap ? cluster_id : NULL, &ident,
                                 &err) != 0 ||
            (running && store_identity_set_cluster (c.data_dir, &ident,
                                                    cluster_id, &err) != 0)) {
            fprintf (stderr, "nsxd: %s\n", err ? err : "out of memory");
            free (err);
            return 1;
        }
        log_info ("data directory %s: node %llu, cluster %s, directory %s "
                  "(%s)",
                  c.data_dir, (unsigned long long)ident.node_id,
                  *ident.cluster_id ? ident.cluster_id : "not yet known",
                  ident.dir_id, store_origin_name (ident.origin));
    }

    /* Our own shutdown sequence instead of czmq's interrupt handling. */
    zsys_handler_set (NULL);
    signal (SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    mg_init_library (0);

    char ep_storage[64], ep_transport[64], ep_api[64], ep_monitor[64],
        ep_send[64];
    snprintf (ep_send, sizeof ep_send, "inproc://nsxd-%d-send", (int)getpid ());
    snprintf (ep_monitor, sizeof ep_monitor, "inproc://nsxd-%d-monitor",
              (int)getpid ());
    snprintf (ep_storage, sizeof ep_storage, "inproc://nsxd-%d-storage",
              (int)getpid ());
    snprintf (ep_transport, sizeof ep_transport, "inproc://nsxd-%d-transport",
              (int)getpid ());
    snprintf (ep_api, sizeof ep_api, "inproc://nsxd-%d-api", (int)getpid ());

    raft_actor_args_t ra = {.id = c.id,
                            .peer_advertise = c.peer_advertise,
                            .http_advertise = c.http_advertise,
                            .storage_endpoint = ep_storage,
                            .transport_endpoint = ep_transport,
                            .api_endpoint = ep_api,
                            .heartbeat_ms = c.heartbeat_ms,
                            .election_ms = c.election_ms,
                            .timeout_ms = c.timeout_ms,
                            .monitor_endpoint = ep_monitor,
                            .compact_entries = (uint64_t)c.compact_entries,
                            .compact_trailing = (uint64_t)c.compact_trailing,
                            .compact_bytes = (uint64_t)c.compact_mib << 20,
                            .quota_bytes = (uint64_t)c.quota_bytes,
                            .peer_auth = keys != NULL,
                            .identity = &ident,
                            .async_sends = true};
    static kv_shared_t kv_shared;
    storage_args_t sa_args = {.data_dir = c.data_dir,
                              .shared = &kv_shared,
                              .endpoint = ep_storage,
                              .bootstrap = have_bootstrap ? &bootstrap : NULL,
                              .monitor_endpoint = ep_monitor,
                              .slow_fsync_ms = c.slow_fsync_ms,
                              .quota_bytes = (uint64_t)c.quota_bytes,
                              .send_endpoint = ep_send};
    char source_ip[64];
    /* A peer drops any message over max_msg, and would drop it again on
       every retry: it must exceed the largest AppendEntries, which holds
       at most 1 MiB of entries (the core's max_batch_bytes) or a single
       entry of up to max_body bytes, plus encoding overhead. */
    transport_args_t ta = {
        .id = c.id,
        .listen = c.peer_listen,
        .endpoint = ep_transport,
        .queue_max = 1000,
        .source = s_source_ip (c.peer_listen, source_ip, sizeof source_ip),
        .max_msg = (size_t)c.max_body * 2 + (64 << 10),
        .keys = keys,
        .max_conns = c.peer_max_conns,
        .send_endpoint = ep_send};
    http_args_t ha = {.listen = c.http_listen,
                      .api_endpoint = ep_api,
                      .threads = c.http_threads,
                      .timeout_ms = c.timeout_ms,
                      .max_body = (size_t)c.max_body,
                      .max_key = (size_t)c.max_key,
                      .max_value = (size_t)c.max_value,
                      .monitor_endpoint = ep_monitor,
                      .shared = &kv_shared,
                      .read_ms = c.read_ms,
                      .auth = auth,
                      .auth_file_loose = auth_loose,
                      .auth_health = c.auth_health,
                      .open_admin = c.open_admin,
                      .tls_server = tls_server,
                      .tls_client = tls_client,
                      .peer_auth = keys ? "curve" : "none",
                      .peer_warning =
                          keys ? NULL
                               : "--insecure-peers: peer links and the "
                                 "monitoring socket are neither authenticated "
                                 "nor encrypted"};

    log_info ("starting: http %s (advertised %s), peers %s (advertised %s), "
              "data %s",
              c.http_listen, c.http_advertise, c.peer_listen, c.peer_advertise,
              c.data_dir);
    /* The ZAP handler before any socket that serves CURVE: without one,
       libzmq lets every client in. Then the monitor: its PULL must be
       bound before anyone pushes. */
    zap_args_t za = {.keys = keys};
    zactor_t *zap = keys ? zactor_new (zap_actor, &za) : NULL;
    if (zap)
        zstr_send (zap, "STATUS");
    if (zap && zsock_wait (zap) != 0) {
        /* zactor_new swallowed the start signal: ask again */
        log_error ("the zap actor failed: peer links cannot be "
                   "authenticated; stopping");
        zactor_destroy (&zap);
        return 1;
    }
    monitor_args_t ma = {.id = c.id,
                         .listen = c.monitor_listen,
                         .endpoint = ep_monitor,
                         .hwm = 10000,
                         .keys = keys,
                         .max_subscribers = c.monitor_max_subscribers};
    zactor_t *monitor = zactor_new (monitor_actor, &ma);
    zactor_t *raft = zactor_new (raft_actor, &ra);
    zactor_t *storage = zactor_new (storage_actor, &sa_args);
    zactor_t *transport = zactor_new (transport_actor, &ta);
    zactor_t *http = zactor_new (http_actor, &ha);
    int rc = 0;
    if (!monitor || !raft || !storage || !transport || !http) {
        log_error ("could not start the actors");
        rc = 1;
        s_stop = 1;
    }
    if (!s_stop && *c.join) {
        if (s_join (&c, tls_client, &ident) != 0) {
            rc = 1;
            s_stop = 1;
        }
    } else if (!*c.cluster)
        log_info ("no --cluster or --join: a new server waits to be added "
                  "(POST /raft/join {\"peer\": \"%s\"} on the leader)",
                  c.http_advertise);

    /* Wait for a signal, or for an actor to report a failure: czmq's
       zactor_new drops the status of an actor's first signal, so a failed
       actor says "FAILED" on its pipe and waits for $TERM. */
    zpoller_t *poller = raft && http && transport
                            ? zpoller_new (raft, http, transport, NULL)
                            : NULL;
    while (!s_stop) {
        void *which = poller ? zpoller_wait (poller, 200) : NULL;
        if (which) {
            char *msg = zstr_recv (which);
            if (msg && streq (msg, "FAILED")) {
                log_error ("the %s actor failed; stopping",
                           which == raft      ? "raft"
                           : which == http    ? "http"
                           : which == monitor ? "monitor"
                                              : "transport");
                rc = 1;
                s_stop = 1;
            }
            zstr_free (&msg);
        }
    }
    if (raft && rc == 0) {
        /* Hand leadership over before going (§3.10). */
        zstr_send (raft, "SHUTDOWN");
        char *done = NULL;
        zsock_set_rcvtimeo (raft, 3 * c.election_ms + 1000);
        done = zstr_recv (raft);
        zstr_free (&done);
    }
    zpoller_destroy (&poller);
    log_info ("stopping");
    zactor_destroy (&http);
    log_debug ("http actor stopped");
    zactor_destroy (&raft);
    log_debug ("raft actor stopped");
    zactor_destroy (&transport);
    log_debug ("transport actor stopped");
    zactor_destroy (&storage);
    log_debug ("storage actor stopped");
    zactor_destroy (&monitor);
    zactor_destroy (&zap);
    peer_keys_destroy (&keys);
    http_auth_destroy (&auth);
    SSL_CTX_free (tls_server);
    SSL_CTX_free (tls_client);
    mg_exit_library ();
    log_info ("stopped");
    return rc;
}
