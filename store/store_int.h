/*  store_int.h -- internals of store/, shared by its files.

    store/ is split by concern:
      store.c           open and close, the handle, disk usage, full
                        compaction
      store_boot.c      start-up: the checksum scan, reading and checking
                        what is durable, stamping a new database
      store_batch.c     batches, the atomic write, KV generations
      store_kv.c        KV reads, by the owner and by any thread
      store_snapshot.c  point-in-time reads: the copy sent as
                        InstallSnapshot, the digest
      store_corrupt.c   naming the damaged files in a corruption error
      store_identity.c  the data directory's IDENTITY file
    The key scheme, and the functions that build and parse keys:
    store_format.h.
*/
#ifndef STORE_INT_H_INCLUDED
#define STORE_INT_H_INCLUDED

#include "store.h"
#include "store_format.h"

#include <leveldb/c.h>
#include <pthread.h>

/* planted node bugs (Makefile NODE_BUGS): 5 no_paranoid -- LevelDB's
   default paranoid_checks (off) and no checksum scan at start (store.c,
   store_boot.c; make identity-teeth, tests/perf/paranoid_measure.sh) */
#ifndef NSXD_PLANTED_BUG
#define NSXD_PLANTED_BUG 0
#endif
#define STORE_BUG_NO_PARANOID (NSXD_PLANTED_BUG == 5)

struct store {
    leveldb_t *db;
    leveldb_options_t *options;
    leveldb_cache_t *cache;
    leveldb_readoptions_t *read;   /* gets: verify checksums */
    leveldb_readoptions_t *scan;   /* boot scan: also skip the cache */
    leveldb_writeoptions_t *write; /* no sync */
    leveldb_writeoptions_t *write_sync;
    char *keybuf; /* the owner's scratch for KV keys */
    size_t keycap;
    char *path;   /* the database directory */
    uint64_t gen; /* the KV data's generation ('g') */
    /* store_read_kv runs in other threads (the HTTP workers): it holds
       this for reading while it looks gen up, store_set_gen for writing,
       so no read sees a generation that is being switched away from and
       then deleted. */
    pthread_rwlock_t gen_lock;
    /* the damaged files a read found (store_corrupt_name), under the
       lock: reads come from several threads */
    pthread_mutex_t corrupt_lock;
    char *corrupt_note;
};

struct store_batch {
    uint64_t gen; /* the generation its KV operations go to */
    leveldb_writebatch_t *wb;
    size_t n;     /* operations */
    char *keybuf; /* scratch for KV keys */
    size_t keycap;
};

/* *err = the formatted message (malloc'ed; freed first if set); nothing
   if err is NULL. */
void store_err_set (char **err, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* Turn a LevelDB error into ours ("what: ..."; LevelDB's must go to
   leveldb_free): always -1. */
int store_err_ldb (char **err, const char *what, char *ldb_err);

/* Read one key: 1 found (*value malloc'ed by LevelDB: leveldb_free), 0
   not found, -1 error. */
int store_get_raw (store_t *self, const char *key, size_t key_len, char **value,
                   size_t *value_len, char **err);

/* The LevelDB key of KV key in generation gen, built in *buf (grown as
   needed; LevelDB itself aborts on allocation failure, and a batch that
   silently lost an operation would be worse than stopping, so this does
   too); *out_len its length. */
char *store_kv_key (char **buf, size_t *cap, uint64_t gen, const void *key,
                    size_t len, size_t *out_len);

/* Upgrade a format-1 database (store_format.h, "Upgrade"): every KV value
   of generation gen becomes a record with metadata {0, 0, 0}, and 'v'
   "2", in one synced batch. 0 and *keys (how many), or -1. */
int store_upgrade_1 (store_t *self, uint64_t gen, uint64_t *keys, char **err);

/* A corruption error (*err mentions "Corruption") at open or start:
   appended to it, the files at fault -- a write-ahead log or manifest
   that LevelDB's LOG in dir names, the tables that LevelDB's RepairDB
   finds damaged -- and where the recovery is written up. Other errors are
   left as they are. */
void store_corrupt_name_at_start (const char *dir, char **err);

/* The same for a read while the node runs (any thread): the tables are
   searched the first time only, and later errors name the same files, so
   a client retrying a damaged key does not rescan the database. */
void store_corrupt_name (store_t *self, char **err);

#endif
