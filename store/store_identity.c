/*  store_identity.c -- see store_identity.h.

    The file IDENTITY in the data directory, one JSON object (jansson),
    written once when the directory is first used (and again only when a
    joining server learns its cluster id), to IDENTITY.tmp, fsynced,
    renamed over IDENTITY, and the directory fsynced, so a crash leaves
    the old file or the new one:

        {"format": 1,
         "cluster_id": "<32 hex digits>" or "" (a joiner that has not
                       learnt it yet),
         "node_id": <the --id, a positive integer>,
         "dir_id": "<32 hex digits, random, drawn once>",
         "origin": "bootstrap" | "join" | "existing"}

    LevelDB leaves files it does not recognise alone, so IDENTITY can live
    next to its tables. Mode 0600, like everything in the directory.
*/
#include "store_identity.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_FILE "IDENTITY"
#define S_FORMAT 1

static const char *s_origins[] = {"bootstrap", "join", "existing"};

static int s_fail (char **err, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static int
s_fail (char **err, const char *fmt, ...)
{
    if (err) {
        free (*err);
        *err = NULL;
        va_list ap;
        va_start (ap, fmt);
        if (vasprintf (err, fmt, ap) < 0)
            *err = NULL;
        va_end (ap);
    }
    return -1;
}

const char *
store_origin_name (store_origin_t origin)
{
    return (unsigned)origin < 3 ? s_origins[origin] : "?";
}

static bool
s_is_hex_id (const char *s)
{
    if (!s || strlen (s) != STORE_ID_HEX - 1)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

void
store_identity_cluster_of (const raft_conf_t *conf, char out[STORE_ID_HEX])
{
    crypto_generichash_state h;
    unsigned char digest[(STORE_ID_HEX - 1) / 2];
    crypto_generichash_init (&h, NULL, 0, sizeof digest);
    static const char tag[] = "nsxd cluster v1\n";
    crypto_generichash_update (&h, (const unsigned char *)tag, sizeof tag - 1);
    for (uint32_t i = 0; i < conf->n; i++) {
        char line[RAFT_ADDR_MAX + 32];
        int n = snprintf (line, sizeof line, "%llu %s\n",
                          (unsigned long long)conf->servers[i].id,
                          conf->servers[i].addr);
        crypto_generichash_update (&h, (const unsigned char *)line,
                                   (size_t)n < sizeof line ? (size_t)n
                                                           : sizeof line - 1);
    }
    crypto_generichash_final (&h, digest, sizeof digest);
    sodium_bin2hex (out, STORE_ID_HEX, digest, sizeof digest);
}

static char *
s_path (const char *dir, const char *name)
{
    char *p = NULL;
    if (asprintf (&p, "%s/%s", dir, name) < 0)
        return NULL;
    return p;
}

/* Write id to dir/IDENTITY atomically and durably. */
static int
s_write (const char *dir, const store_identity_t *id, char **err)
{
    json_t *j = json_pack ("{s:i, s:s, s:I, s:s, s:s}", "format", S_FORMAT,
                           "cluster_id", id->cluster_id, "node_id",
                           (json_int_t)id->node_id, "dir_id", id->dir_id,
                           "origin", store_origin_name (id->origin));
    char *text = j ? json_dumps (j, JSON_SORT_KEYS) : NULL;
    json_decref (j);
    char *tmp = s_path (dir, S_FILE ".tmp"), *path = s_path (dir, S_FILE);
    int rc = -1;
    if (!text || !tmp || !path) {
        s_fail (err, "out of memory");
        goto done;
    }
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        s_fail (err, "cannot create %s: %s", tmp, strerror (errno));
        goto done;
    }
    size_t len = strlen (text);
    text[len] = '\n'; /* json_dumps's NUL: the file ends with a newline */
    bool ok =
        write (fd, text, len + 1) == (ssize_t)(len + 1) && fsync (fd) == 0;
    int saved = errno;
    close (fd);
    if (!ok) {
        s_fail (err, "cannot write %s: %s", tmp, strerror (saved));
        goto done;
    }
    if (rename (tmp, path) != 0) {
        s_fail (err, "cannot rename %s: %s", tmp, strerror (errno));
        goto done;
    }
    int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync (dfd) != 0) {
        s_fail (err, "cannot sync %s: %s", dir, strerror (errno));
        if (dfd >= 0)
            close (dfd);
        goto done;
    }
    close (dfd);
    rc = 0;
done:
    free (text);
    free (tmp);
    free (path);
    return rc;
}

/* Parse dir/IDENTITY into id: 1 read, 0 no such file, -1 error. */
static int
s_read (const char *dir, store_identity_t *id, char **err)
{
    char *path = s_path (dir, S_FILE);
    if (!path)
        return s_fail (err, "out of memory");
    json_error_t jerr;
    json_t *j = json_load_file (path, 0, &jerr);
    if (!j) {
        bool missing = access (path, F_OK) != 0 && errno == ENOENT;
        int rc = missing
                     ? 0
                     : s_fail (err, "%s: cannot be read: %s", path, jerr.text);
        free (path);
        return rc;
    }
    json_int_t format = 0, node = 0;
    const char *cluster = NULL, *dirid = NULL, *origin = NULL;
    int rc = -1;
    if (json_unpack (j, "{s:I, s:s, s:I, s:s, s:s}", "format", &format,
                     "cluster_id", &cluster, "node_id", &node, "dir_id", &dirid,
                     "origin", &origin) != 0 ||
        format != S_FORMAT || node <= 0 || !s_is_hex_id (dirid) ||
        (*cluster && !s_is_hex_id (cluster))) {
        s_fail (err,
                "%s is not an nsxd identity file of format %d (cluster_id, "
                "node_id, dir_id, origin)",
                path, S_FORMAT);
        goto done;
    }
    memset (id, 0, sizeof *id);
    snprintf (id->cluster_id, sizeof id->cluster_id, "%s", cluster);
    snprintf (id->dir_id, sizeof id->dir_id, "%s", dirid);
    id->node_id = (raft_id_t)node;
    id->origin = STORE_ORIGIN_EXISTING;
    for (int i = 0; i < 3; i++)
        if (strcmp (origin, s_origins[i]) == 0)
            id->origin = (store_origin_t)i;
    rc = 1;
done:
    json_decref (j);
    free (path);
    return rc;
}

int
store_identity_open (const char *dir, raft_id_t node_id, bool founding,
                     const char *cluster_id, store_identity_t *id, char **err)
{
    if (sodium_init () < 0)
        return s_fail (err, "libsodium cannot start");
    int rc = s_read (dir, id, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        /* LevelDB's CURRENT names its manifest: a directory with one holds
           a database from before IDENTITY existed. */
        char *current = s_path (dir, "CURRENT");
        bool existing = current && access (current, F_OK) == 0;
        free (current);
        memset (id, 0, sizeof *id);
        id->node_id = node_id;
        id->origin = existing   ? STORE_ORIGIN_EXISTING
                     : founding ? STORE_ORIGIN_BOOTSTRAP
                                : STORE_ORIGIN_JOIN;
        if (founding && cluster_id)
            snprintf (id->cluster_id, sizeof id->cluster_id, "%s", cluster_id);
        unsigned char rnd[(STORE_ID_HEX - 1) / 2];
        randombytes_buf (rnd, sizeof rnd);
        sodium_bin2hex (id->dir_id, sizeof id->dir_id, rnd, sizeof rnd);
        return s_write (dir, id, err);
    }
    if (id->node_id != node_id)
        return s_fail (err,
                       "data directory %s belongs to node %llu (cluster %s, "
                       "directory %s), not to node %llu: start node %llu on "
                       "it, or give this node a directory of its own",
                       dir, (unsigned long long)id->node_id,
                       *id->cluster_id ? id->cluster_id : "not yet known",
                       id->dir_id, (unsigned long long)node_id,
                       (unsigned long long)id->node_id);
    if (founding && cluster_id && *id->cluster_id &&
        strcmp (id->cluster_id, cluster_id) != 0)
        return s_fail (err,
                       "data directory %s belongs to cluster %s, but this "
                       "--cluster describes cluster %s (a cluster's id is "
                       "derived from the --cluster that bootstrapped it): "
                       "give that --cluster, or none (a directory that "
                       "holds data needs none), or another directory",
                       dir, id->cluster_id, cluster_id);
    return 0;
}

int
store_identity_set_cluster (const char *dir, store_identity_t *id,
                            const char *cluster_id, char **err)
{
    if (!s_is_hex_id (cluster_id))
        return s_fail (err, "'%s' is not a cluster id",
                       cluster_id ? cluster_id : "");
    if (*id->cluster_id)
        return strcmp (id->cluster_id, cluster_id) == 0
                   ? 0
                   : s_fail (err,
                             "data directory %s belongs to cluster %s, not "
                             "to cluster %s",
                             dir, id->cluster_id, cluster_id);
    store_identity_t next = *id;
    snprintf (next.cluster_id, sizeof next.cluster_id, "%s", cluster_id);
    if (s_write (dir, &next, err) != 0)
        return -1;
    *id = next;
    return 0;
}

const char *
store_identity_tag (const char *addr)
{
    const char *sp = addr ? strchr (addr, ' ') : NULL;
    sp = sp ? strchr (sp + 1, ' ') : NULL;
    return sp && sp[1] ? sp + 1 : NULL;
}

bool
store_identity_is_self (const store_identity_t *id, const raft_server_t *s)
{
    const char *tag = s ? store_identity_tag (s->addr) : NULL;
    if (tag)
        return strcmp (tag, id->dir_id) == 0;
    return id->origin != STORE_ORIGIN_JOIN;
}
