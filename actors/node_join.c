/*  node_join.c -- see node_join.h. Moved from nsxd.c's main as it was. */
#include "node_join.h"
#include "client.h"
#include "log.h"

#include <czmq.h>
#include <jansson.h>
#include <string.h>

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

int
node_join_cluster (const nsxd_config_t *c, SSL_CTX *tls,
                   store_identity_t *ident, volatile sig_atomic_t *stop)
{
    char target[256], next[256];
    http_client_opts_t opts = {.tls = tls,
                               .token = *c->join_token ? c->join_token : NULL};
    snprintf (target, sizeof target, "%s", c->join);
    while (!*stop) {
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
        for (int i = 0; i < 10 && !*stop; i++)
            zclock_sleep (100);
    }
    return 0;
}

/*  ---------------------------------------------------------------------
    A founder on an empty directory: is its cluster already running?     */

bool
node_join_cluster_running (const raft_conf_t *boot, raft_id_t self,
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
