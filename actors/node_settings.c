/*  node_settings.c -- what a node checks before anything starts (node.c
    starts it): its access list, TLS certificates and peer keys, and
    which node and cluster its data directory belongs to.
*/
#include "node_int.h"

#include "log.h"
#include "node_join.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Access and TLS settings are checked before anything starts: a node must
   not come up on a half-understood access list or certificate. Then the
   keys: a node that cannot authenticate its peers does not start (unless
   told, loudly, to run without). 0, or -1 after a message. */
int
node_settings (node_t *self)
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
int
node_identity (node_t *self)
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
