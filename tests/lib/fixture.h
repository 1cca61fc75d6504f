/*  fixture.h -- start-up helpers the node tests share: a scratch
    directory removed at the end, unique inproc endpoints, a storage
    actor on a directory with the PAIR the raft actor would hold, and
    the KV data published to HTTP workers as nsxd.c does (kv_shared_t).

        const char *root = fixture_tmpdir ("test_storage");
        fixture_storage_t s;
        fixture_storage_start (&s, &(storage_args_t){.data_dir = dir});
        ... talk to s.pair ...
        fixture_storage_stop (&s);
        fixture_tmpdir_remove ();
*/
#ifndef FIXTURE_H_INCLUDED
#define FIXTURE_H_INCLUDED

#include "actors.h"

#include <stddef.h>

/* A fresh /tmp/NAME.XXXXXX (mkdtemp), or NULL with the reason on stderr.
   One per process; fixture_tmpdir_remove deletes it and all it holds. */
const char *fixture_tmpdir (const char *name);
void fixture_tmpdir_remove (void);
/* "ROOT/NAME" in a static buffer (valid until the next call). */
const char *fixture_path (const char *name);
/* Remove a tree (nftw, depth first); 0 or -1. */
int fixture_rmtree (const char *path);

/* "inproc://test-NAME-PID-N" into buf: unique within the process. */
const char *fixture_endpoint (char *buf, size_t size, const char *name);

/* A PAIR connected to an actor's endpoint, as the raft actor holds one:
   receive and send timeouts in ms (-1: none), so that a test talking to a
   dead or stuck actor fails instead of hanging. NULL on failure. */
zsock_t *fixture_pair (const char *endpoint, int rcvtimeo_ms, int sndtimeo_ms);

/* A CONF entry at index, term with voters 1..n on 127.0.0.1 (peer port
   9000 + id, HTTP 8000 + id); its data is the caller's to unref. */
raft_entry_t fixture_conf_entry (raft_index_t index, raft_term_t term,
                                 uint32_t n);

/* Damage dir's biggest LevelDB table (*.ldb): the byte in its middle,
   one bit flipped; its path into path[size] (path may be NULL). The
   table's size, or 0 if there is none or it cannot be written. */
long fixture_damage_table (const char *dir, char *path, size_t size);

/* A message of one frame holding a copy of data[0..len). */
zmsg_t *fixture_zmsg (const void *data, size_t len);

/* The storage actor and the PAIR connected to it (receive timeout
   10 s, so that a test waiting on a dead actor fails instead of
   hanging). args->endpoint is set by fixture_storage_start when NULL. */
typedef struct {
    zactor_t *actor;
    zsock_t *pair;
    char endpoint[96];
} fixture_storage_t;
int fixture_storage_start (fixture_storage_t *f, const storage_args_t *args);
void fixture_storage_stop (fixture_storage_t *f);

/* The KV data of a store opened on `dir`, published in *shared as the
   storage actor does once it is open (HTTP workers then serve GETs from
   it, after the read barrier for a linearizable one). 0 or -1. */
int fixture_kv_open (kv_shared_t *shared, const char *dir);
/* value as a KV record (store_format.h: metadata {0, 0, 0}, then the
   value), malloc'ed (free it), NUL after its *len bytes. */
char *fixture_record (const char *value, size_t *len);
/* Write key=value as a record (value NULL: delete), synced. 0 or -1. */
int fixture_kv_put (kv_shared_t *shared, const char *key, const char *value);
/* Unpublish, then close. */
void fixture_kv_close (kv_shared_t *shared);

#endif
