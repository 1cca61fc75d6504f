/*  store.h -- nsxd's LevelDB storage: the Raft log, the hard state, the
    applied index and the KV data, in one database (the format on disk:
    store_format.h; the files of store/: store_int.h).

    One store_t belongs to one thread (the storage actor). Every change goes
    through a store_batch_t written atomically by store_write, so that what
    must change together (a write's truncation and its new entries; the KV
    changes of an apply and the applied index) does.

    Errors: functions that can fail return -1 and set *err to a malloc'ed
    message the caller frees with free () (err may be NULL).
*/
#ifndef STORE_H_INCLUDED
#define STORE_H_INCLUDED

#include "raft.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct store store_t;
typedef struct store_batch store_batch_t;

/* Open the database in directory path, creating the directory (and its
   parents) and the database if missing; the directory is made 0700 and
   its files 0600 (new files get their mode from the process's umask:
   nsxd's is 077). LevelDB's paranoid checks are on: a corrupted log or
   manifest record fails the open. NULL and *err on failure, e.g. when
   another process holds the database's lock; a corruption error names
   the damaged file(s) and the recovery (README). */
store_t *store_open (const char *path, char **err);
void store_close (store_t **self_p);

/* Bytes of the files in the database directory (tables, write-ahead log,
   manifest): what the database costs on disk. 0 if it cannot be read. */
uint64_t store_disk_bytes (store_t *self);

/* Bytes the file system holding the database has left for an unprivileged
   writer (statvfs: f_bavail * f_frsize); UINT64_MAX if it cannot be read. */
uint64_t store_fs_free (store_t *self);

/* Compact the whole key range down to the last level, so that deleted keys
   and overwritten values give their space back (LevelDB otherwise keeps
   tombstones until a compaction happens to reach them). Blocks for as long
   as it rewrites the data (seconds per GiB). Unlike every other function
   here, safe from another thread while the owner goes on writing (LevelDB
   serialises it with its own background work). */
void store_compact_all (store_t *self);

/* What the database holds, as read at start. */
typedef struct {
    bool fresh;            /* no format version: a brand-new database */
    raft_hard_state_t hs;  /* 0/0 if never written */
    raft_index_t applied;  /* 0 if never written */
    raft_entry_t *entries; /* every stored entry, in index order, one ref */
    size_t n_entries;
    raft_entry_t base;        /* the log's base (index 0: none): a CONF entry at
                          its index and term with the configuration there */
    raft_term_t applied_term; /* 0: unknown (an older database) */
    raft_entry_t applied_conf; /* the configuration at applied (index 0:
                                  none recorded) */
    uint64_t gen;              /* the KV data's generation */
    bool upgraded;             /* opened as format 1, upgraded to 2 now */
    uint64_t upgraded_keys;    /* the KV records it rewrote */
} store_state_t;

/* Read everything durable. First reads every record once with block
   checksums verified, so a corrupted table anywhere fails the start (the
   error names the file). Upgrades a format-1 database to format 2 (its
   KV values become records, store_format.h) in one synced batch. Refuses
   (-1) a database that is not nsxd's format 1 or 2, and one whose log is not contiguous or disagrees with its keys.
   Release with store_state_clear. */
int store_load (store_t *self, store_state_t *st, char **err);
void store_state_clear (store_state_t *st);

/* Stamp a new database with the format version, hard state hs and the
   entries (e.g. the bootstrap entry), durably, in one batch.
   REQUIRES: the database is fresh (store_load said so). */
int store_create (store_t *self, const raft_hard_state_t *hs,
                  const raft_entry_t *entries, size_t n_entries, char **err);

/* Look up a KV key: 1 found (and *value, if value is not NULL, a new buffer
   the caller unrefs), 0 not found, -1 error. */
int store_get_kv (store_t *self, const void *key, size_t key_len,
                  raft_buf_t **value, char **err);

/* The same, safe to call from any thread while the owner writes (LevelDB
   reads are thread-safe; the generation is read under a lock that
   store_set_gen takes). The HTTP workers read the KV data this way. */
int store_read_kv (store_t *self, const void *key, size_t key_len,
                   raft_buf_t **value, char **err);

/* Batches: a list of changes applied atomically, in order, by store_write.
   Later operations on the same key win. */
store_batch_t *store_batch_new (void);
void store_batch_destroy (store_batch_t **self_p);
void store_batch_clear (store_batch_t *self);
/* Append src's operations to dst (after dst's own). */
void store_batch_append (store_batch_t *dst, const store_batch_t *src);
/* How many operations the batch holds. */
size_t store_batch_size (const store_batch_t *self);

void store_batch_put_hs (store_batch_t *self, const raft_hard_state_t *hs);
void store_batch_put_applied (store_batch_t *self, raft_index_t applied,
                              raft_term_t term);
/* The configuration in effect at the applied index (a CONF entry). */
int store_batch_put_conf (store_batch_t *self, const raft_entry_t *conf);
/* -1 if the entry cannot be encoded (a CONF entry without a configuration);
   the batch is then unchanged. */
int store_batch_put_entry (store_batch_t *self, const raft_entry_t *e);
void store_batch_del_entry (store_batch_t *self, raft_index_t index);
/* Record the log's base (a CONF entry, see store_state_t); -1 if it is
   not one. Deleting the entries up to it is the caller's, in the same
   batch. */
int store_batch_put_base (store_batch_t *self, const raft_entry_t *base);
void store_batch_put_kv (store_batch_t *self, const void *key, size_t key_len,
                         const void *value, size_t value_len);
void store_batch_del_kv (store_batch_t *self, const void *key, size_t key_len);
/* Which KV generation the batch's put_kv / del_kv go to (default 0: set it
   to store_gen, or to store_gen + 1 to stage a snapshot). */
void store_batch_set_gen (store_batch_t *self, uint64_t gen);
/* Make gen the KV data (with the applied index and base, atomically). */
void store_batch_put_gen (store_batch_t *self, uint64_t gen);

/* The generation reads see; set it after a write that changed 'g'. */
uint64_t store_gen (const store_t *self);
void store_set_gen (store_t *self, uint64_t gen);
/* Delete up to max keys of generation gen (synced if sync): how many, 0
   once none is left, -1 on error. */
int64_t store_delete_gen (store_t *self, uint64_t gen, size_t max, bool sync,
                          char **err);

/* A point-in-time copy of the KV data (a LevelDB snapshot), to send to a
   follower: its applied index, term and configuration (a CONF entry, one
   ref, the caller's), then its pairs in key order. NULL (and *err) if the
   database has no applied index with a term and configuration yet. */
typedef struct store_snap store_snap_t;
store_snap_t *store_snap_open (store_t *self, raft_index_t *index,
                               raft_term_t *term, raft_entry_t *conf,
                               char **err);
/* 1 and the current pair (valid until the next call), or 0 at the end. */
int store_snap_next (store_snap_t *sn, const char **key, size_t *key_len,
                     const char **value, size_t *value_len);
void store_snap_advance (store_snap_t *sn);
/* Has a read of the copy failed (a damaged table)? -1 and *err (naming
   the file) then, else 0. LevelDB's iterator steps over a block it cannot
   read and goes on, so store_snap_next does not stop there: a copy with
   an error misses pairs and must not be sent. Check it after each chunk
   and before the last is marked done. */
int store_snap_error (store_snap_t *sn, char **err);
void store_snap_close (store_snap_t **sn_p);

/* A digest of the KV data at one instant (a LevelDB snapshot): the
   applied index there, the number of keys, and BLAKE2b-256 (libsodium's
   crypto_generichash) over every pair in key order, each as key length
   (uint64 big-endian), key, value length (uint64 big-endian), value.
   Two replicas at the same applied index must have the same digest.
   Safe from any thread while the owner writes (reads only). */
#define STORE_DIGEST_BYTES 32
int store_digest (store_t *self, raft_index_t *applied, uint64_t *keys,
                  uint8_t digest[STORE_DIGEST_BYTES], char **err);

/* A page of the KV data at one instant (a LevelDB snapshot): fn for each
   record (key, and the stored record: store_format.h) with start <= key
   < end (end NULL: no end), in key order, at most limit of them; the
   applied index of that instant in *applied, and *more when records are
   left past the page. fn returns 0, or -1 to stop (the range fails).
   Safe from any thread while the owner writes (reads only). */
typedef int (*store_range_fn_t) (void *ctx, const char *key, size_t key_len,
                                 const char *rec, size_t rec_len);
int store_range (store_t *self, const void *start, size_t start_len,
                 const void *end, size_t end_len, size_t limit,
                 raft_index_t *applied, bool *more, store_range_fn_t fn,
                 void *ctx, char **err);

/* Write the batch atomically; with sync, durable (fsync) before returning.
   The batch is left as it was (clear it to reuse it). */
int store_write (store_t *self, store_batch_t *batch, bool sync, char **err);

#endif
