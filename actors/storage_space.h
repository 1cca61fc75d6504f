/*  storage_space.h -- the storage actor's view of its disk space: what the
    database takes (store_disk_bytes) and what the file system has left
    (store_fs_free), sampled off the request path and reported to the raft
    actor ("usage", msg/msg_store.h), which holds the space quota
    (actors/quota.h); and, near or over the quota, a full LevelDB
    compaction in a thread of its own, so that deleted keys and compacted
    log entries give their space back and the alarm can clear.

    One storage_space_t belongs to the storage actor's thread; the
    compaction thread touches only the store (store_compact_all, which
    LevelDB makes safe next to the owner's writes) and one atomic flag.
*/
#ifndef STORAGE_SPACE_H_INCLUDED
#define STORAGE_SPACE_H_INCLUDED

#include "store.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct storage_space storage_space_t;

/* The shortest time between two samples (after writes, or while a full
   compaction runs): the storage actor polls this often. */
#define STORAGE_SPACE_BUSY_MS 100

/* quota_bytes: the node's --quota-bytes (0: none; no compaction is ever
   started for it). NULL on out of memory. */
storage_space_t *storage_space_new (store_t *store, uint64_t quota_bytes);
/* Waits for a compaction in progress (LevelDB would wait for it at close
   anyway). */
void storage_space_destroy (storage_space_t **self_p);

/* (Both take NULL: nothing to do.) Something was written: sample soon (at most every STORAGE_SPACE_BUSY_MS). */
void storage_space_wrote (storage_space_t *self);
/* Something was deleted or overwritten (KV keys, log entries, an old
   generation): a full compaction could give space back. */
void storage_space_freed (storage_space_t *self);

/* Sample if due (now: zclock_mono ()). True, with *db_bytes and *fs_free,
   when the reading changed since the last one reported: send "usage".
   Starts a full compaction when one is due (see storage_space.c). */
bool storage_space_poll (storage_space_t *self, int64_t now, uint64_t *db_bytes,
                         uint64_t *fs_free);

/* Full compactions started so far (tests, logs). */
uint64_t storage_space_compactions (const storage_space_t *self);

#endif
