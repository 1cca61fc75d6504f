/*  quota.h -- the space quota and its NOSPACE alarm, as etcd has them
    (--quota-backend-bytes): past the quota the leader refuses writes that
    would grow the data (507 no_space, nothing proposed); reads and deletes
    still work; the alarm clears by itself once compaction brings the
    database back under QUOTA_CLEAR_PCT of the quota (README, "Space
    quota").

    Plain state, no I/O: the raft actor feeds it the storage actor's
    "usage" reports (actors/storage_space.h) and asks it before proposing.
*/
#ifndef QUOTA_H_INCLUDED
#define QUOTA_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

/* The alarm clears below this percentage of the quota, not just below it:
   without the gap, a database hovering at the quota (a compaction running,
   LevelDB's write-ahead log rolling over) would flip the alarm on and off
   and let writes through in bursts. */
#define QUOTA_CLEAR_PCT 90

/* etcd's default (2 GiB); README says why the same. */
#define QUOTA_DEFAULT_BYTES (2ULL << 30)

typedef struct {
    uint64_t bytes;   /* the quota; 0: none (never an alarm) */
    bool known;       /* a reading arrived */
    uint64_t used;    /* database bytes on disk, as last reported */
    uint64_t fs_free; /* the file system's free bytes, as last reported */
    bool alarm;
    uint64_t alarms; /* times raised */
} quota_t;

void quota_init (quota_t *q, uint64_t bytes);

/* Where the alarm clears: QUOTA_CLEAR_PCT of bytes. */
uint64_t quota_clear_bytes (uint64_t bytes);

/* A new reading. Returns 1 if it raised the alarm, -1 if it cleared it,
   0 otherwise. Raised at used >= bytes, cleared at used <
   quota_clear_bytes (bytes). */
int quota_update (quota_t *q, uint64_t used, uint64_t fs_free);

/* Raise the alarm (no quota: nothing): a write was refused because it
   would not fit, as etcd does. 1 if it was off. */
int quota_raise (quota_t *q);

/* May a write that adds about `grow` bytes be proposed? Not during the
   alarm, nor when it would clearly take the database past the quota
   (used + grow > bytes). Always with no quota, and before the first
   reading (the node just started; storage reports within milliseconds). */
bool quota_admit (const quota_t *q, uint64_t grow);

#endif
