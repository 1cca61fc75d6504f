/*  store_identity.h -- which node and which cluster a data directory
    belongs to: the file IDENTITY next to LevelDB's files (format in
    store_identity.c).

    A node refuses to start on a directory recorded for another node id or
    another cluster. The directory id is drawn at random when the directory
    is first used: it names this copy of the data, so that a server whose
    disk was wiped (same --id, new directory id) can be told from the one
    that acknowledged entries and cast votes (README, "Identity").

    Errors: -1 and *err, a malloc'ed message naming the directory, for the
    caller to free () (err may be NULL).
*/
#ifndef STORE_IDENTITY_H_INCLUDED
#define STORE_IDENTITY_H_INCLUDED

#include "raft.h"

#include <stdbool.h>

#define STORE_ID_HEX 33 /* 32 hex digits (128 bits) and a NUL */

/* How the directory's data began. */
typedef enum {
    STORE_ORIGIN_BOOTSTRAP = 0, /* new, with --cluster: a founding member */
    STORE_ORIGIN_JOIN = 1,      /* new, without: to be added by /raft/join */
    STORE_ORIGIN_EXISTING = 2,  /* a database from before IDENTITY existed */
} store_origin_t;

typedef struct {
    char cluster_id[STORE_ID_HEX]; /* "" until a joining server learns it */
    raft_id_t node_id;
    char dir_id[STORE_ID_HEX];
    store_origin_t origin;
} store_identity_t;

const char *store_origin_name (store_origin_t origin);

/* The id of the cluster that the founding configuration conf bootstraps:
   a hash of its servers' ids and addresses, so every founder started with
   the same --cluster computes the same id without talking to the others. */
void store_identity_cluster_of (const raft_conf_t *conf,
                                char out[STORE_ID_HEX]);

/* Read dir's IDENTITY, or write a new one (0600, durably) if there is
   none. founding: the node was given --cluster, whose id is cluster_id;
   otherwise cluster_id is NULL. Refuses (-1) an IDENTITY of another node
   id, or of another cluster when founding, or one that cannot be parsed.
   REQUIRES: dir exists. */
int store_identity_open (const char *dir, raft_id_t node_id, bool founding,
                         const char *cluster_id, store_identity_t *id,
                         char **err);

/* Record the cluster id a joining server learnt (durably). 0 if it is the
   one recorded already; -1 if another one is. */
int store_identity_set_cluster (const char *dir, store_identity_t *id,
                                const char *cluster_id, char **err);

/* Is the configuration entry s (NULL: the configuration does not list
   this node) this directory's server? An entry tagged with a directory
   id ("<peer> <http> <dir id>") must carry ours. An untagged entry (the
   founding configuration's, or one written before tags existed) is ours
   unless this directory was created empty to join: such a directory's
   server is listed with its tag once the cluster added it, and an
   untagged entry for its id is an earlier incarnation's. */
bool store_identity_is_self (const store_identity_t *id,
                             const raft_server_t *s);

/* The directory id tag in a configuration address, or NULL if none. */
const char *store_identity_tag (const char *addr);

#endif
