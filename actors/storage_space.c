/*  storage_space.c -- see storage_space.h.

    Sampling. One sample is a readdir and a stat per file of the database
    directory (a few dozen files: tens of microseconds) and one statvfs:
    cheap, but not free, so never per write. After writes, at most every
    STORAGE_SPACE_BUSY_MS; when idle, every STORAGE_SPACE_IDLE_MS (the disk
    can fill or free from outside the node); at once after a compaction.

    Compaction. LevelDB keeps a deleted key's tombstone, and an overwritten
    value, until a compaction that reaches the last level holding the key
    rewrites it; in a small or quiet database that may be never, so
    deleting data would not bring the node back under its quota. So, when
    the database is at or above the quota's clearing point (QUOTA_CLEAR_PCT
    of it, actors/quota.h) and something was deleted since the last full
    compaction, one runs, in a thread of its own (it rewrites everything:
    seconds per GiB, and the actor must go on serving log writes
    meanwhile), at most one at a time. Writes near the quota free
    something all the time (log compaction, overwrites), so the next one
    waits at least STORAGE_SPACE_COMPACT_GAP_MS and nine times as long as
    the last one took: full compactions take at most a tenth of the time.
    A LevelDB snapshot still held for a follower's InstallSnapshot pins
    what was deleted after it: its release counts as freeing. A compaction
    needs free space for the tables it writes before it deletes the old
    ones: README says so.
*/
#include "storage_space.h"
#include "log.h"
#include "quota.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define STORAGE_SPACE_IDLE_MS 1000
#define STORAGE_SPACE_COMPACT_GAP_MS 2000

struct storage_space {
    store_t *store;
    uint64_t quota;
    int64_t sampled;   /* zclock_mono () of the last sample */
    bool wrote;        /* written since the last sample */
    bool freed;        /* deleted since the last full compaction started */
    bool reported;     /* a reading was reported */
    uint64_t db, free; /* the last reading reported */
    pthread_t thread;
    bool running;            /* thread started, not joined */
    atomic_bool done;        /* the thread finished */
    int64_t compact_started; /* zclock_mono () */
    int64_t compact_gap;     /* ms from that start to the next one */
    uint64_t compactions;
};

static void *
s_compact (void *arg)
{
    storage_space_t *self = arg;
    store_compact_all (self->store);
    atomic_store (&self->done, true);
    return NULL;
}

storage_space_t *
storage_space_new (store_t *store, uint64_t quota_bytes)
{
    storage_space_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->quota = quota_bytes;
    self->wrote = true; /* the first poll samples */
    self->sampled = -STORAGE_SPACE_IDLE_MS;
    atomic_init (&self->done, false);
    return self;
}

static void
s_join (storage_space_t *self)
{
    if (!self->running)
        return;
    pthread_join (self->thread, NULL);
    self->running = false;
    atomic_store (&self->done, false);
}

void
storage_space_destroy (storage_space_t **self_p)
{
    storage_space_t *self = *self_p;
    if (!self)
        return;
    s_join (self);
    free (self);
    *self_p = NULL;
}

void
storage_space_wrote (storage_space_t *self)
{
    if (self)
        self->wrote = true;
}

void
storage_space_freed (storage_space_t *self)
{
    if (!self)
        return;
    self->freed = true;
    self->wrote = true;
}

static int64_t
s_interval (const storage_space_t *self)
{
    return self->wrote ? STORAGE_SPACE_BUSY_MS : STORAGE_SPACE_IDLE_MS;
}

uint64_t
storage_space_compactions (const storage_space_t *self)
{
    return self->compactions;
}

bool
storage_space_poll (storage_space_t *self, int64_t now, uint64_t *db_bytes,
                    uint64_t *fs_free)
{
    bool finished = self->running && atomic_load (&self->done);
    if (finished) {
        s_join (self);
        int64_t took = now - self->compact_started;
        self->compact_gap = 10 * took > STORAGE_SPACE_COMPACT_GAP_MS
                                ? 10 * took
                                : STORAGE_SPACE_COMPACT_GAP_MS;
        log_info ("storage: full compaction done in %lld ms", (long long)took);
    }
    if (!finished && now - self->sampled < s_interval (self))
        return false;
    self->sampled = now;
    self->wrote = false;
    uint64_t db = store_disk_bytes (self->store);
    uint64_t fs = store_fs_free (self->store);
    if (self->quota && !self->running && self->freed &&
        db >= quota_clear_bytes (self->quota) &&
        (!self->compactions ||
         now - self->compact_started >= self->compact_gap)) {
        self->freed = false;
        self->compact_started = now;
        atomic_store (&self->done, false);
        if (pthread_create (&self->thread, NULL, s_compact, self) == 0) {
            self->running = true;
            self->compactions++;
            log_info ("storage: %llu bytes on disk, quota %llu: full "
                      "compaction to give deleted data's space back",
                      (unsigned long long)db, (unsigned long long)self->quota);
        } else {
            log_warn ("storage: cannot start a compaction thread");
        }
    }
    if (self->reported && db == self->db && fs == self->free)
        return false;
    self->reported = true;
    self->db = db;
    self->free = fs;
    *db_bytes = db;
    *fs_free = fs;
    return true;
}
