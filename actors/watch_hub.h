/*  watch_hub.h -- the recent history of changes, for watches (issue 15;
    README, "Watches").

    One event per key an applied entry changed (kvsm_result_t.changes), in
    log order: the storage actor stages them as it applies and publishes
    them once its batch is written, the same order on every node. The
    HTTP workers read them, waiting for the next ones (long polls and
    server-sent events). Shared like kv_shared_t: one mutex and one
    condition variable (CLOCK_MONOTONIC).

    Bounded: a ring of at most max_events events and max_bytes of keys and
    values, whichever comes first; the oldest go first. The hub holds
    every event with an index above `base` (and at most `applied`); base
    moves up as events go, and jumps to a snapshot's index when one is
    installed (the history starts over there), and starts at the applied
    index when the node starts. A reader asking for what comes after an
    index below base is told "compacted": it must re-read and resume.

    Events are immutable once published and reference-counted (atomic),
    so a reader takes them under the lock and renders them without it.
*/
#ifndef WATCH_HUB_H_INCLUDED
#define WATCH_HUB_H_INCLUDED

#include "kvsm.h"
#include "raft.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WATCH_HUB_DEFAULT_EVENTS 10000
#define WATCH_HUB_DEFAULT_BYTES (16u << 20)

/* One event: immutable once published. */
typedef struct {
    _Atomic uint32_t refs;
    raft_index_t index; /* the entry that made the change */
    bool deleted;       /* else a put */
    kvsm_meta_t meta;   /* put: the record after; delete: the record
                           deleted */
    size_t key_len, value_len;
    char *key, *value; /* inside this allocation; value NULL: a delete */
} watch_event_t;

void watch_event_unref (watch_event_t *ev);

typedef struct watch_hub_t watch_hub_t;

/* REQUIRES: max_events >= 1, max_bytes >= 1. */
watch_hub_t *watch_hub_new (size_t max_events, size_t max_bytes);
/* REQUIRES: nobody waits (the HTTP workers have stopped). */
void watch_hub_destroy (watch_hub_t **self_p);

/*  The storage actor's side (one thread).  */

/* The history starts empty at applied (the node started, or restarted).
   Until then readers get WATCH_NOT_READY. */
void watch_hub_start (watch_hub_t *self, raft_index_t applied);
/* The changes the entry at index made, staged: seen by no reader until
   watch_hub_publish. 0, or -1 out of memory (then the history is reset
   at the next publish: readers behind it get "compacted", never a gap). */
int watch_hub_stage (watch_hub_t *self, raft_index_t index,
                     const kvsm_change_t *changes, size_t n);
/* Everything staged is applied and readable up to applied: into the
   ring, the oldest evicted past the bounds, waiting readers woken. */
void watch_hub_publish (watch_hub_t *self, raft_index_t applied);
/* A snapshot was installed at index: the history is empty there. */
void watch_hub_reset (watch_hub_t *self, raft_index_t index);

/*  The readers' side (any thread).  */

typedef struct {
    const char *key; /* exactly this key, or with prefix every key that
                        starts with it ("" with prefix: every key) */
    size_t key_len;
    bool prefix;
} watch_filter_t;

bool watch_filter_match (const watch_filter_t *f, const watch_event_t *ev);

typedef enum {
    WATCH_OK = 0,
    WATCH_COMPACTED, /* from is below base: events are gone */
    WATCH_NOT_READY, /* the storage actor has not started the history */
    WATCH_CANCELLED, /* *cancel was set (the HTTP side stops) */
} watch_status_t;

typedef struct {
    watch_event_t **events; /* one ref each (watch_read_clear) */
    size_t n;
    raft_index_t index;   /* covered: every matching event with an index
                             in (from, index] is in events */
    raft_index_t applied; /* the hub's applied index at the answer */
    raft_index_t base;    /* the hub's base: events above it are held */
} watch_read_t;

/* Release the events (index, applied and base stay). */
void watch_read_clear (watch_read_t *r);

/* The matching events with an index above from, at most limit of them
   but never part of an entry's (an entry whose events pass the limit
   ends the answer before it, unless it is the first, given whole). If
   there are none, waits until there are or deadline_ms (zclock_mono's
   clock) passes or *cancel (may be NULL) is set and watch_hub_wake is
   called. WATCH_OK then: *out holds them (maybe none, at the deadline)
   and the index covered. REQUIRES: limit >= 1. */
watch_status_t watch_hub_read (watch_hub_t *self, const watch_filter_t *f,
                               raft_index_t from, size_t limit,
                               int64_t deadline_ms, const atomic_bool *cancel,
                               watch_read_t *out);

/* Wake every reader (they look at their cancel flags). */
void watch_hub_wake (watch_hub_t *self);

/* For tests, /health and logs. */
typedef struct {
    raft_index_t base, applied;
    size_t events, bytes;
    size_t max_events, max_bytes;
    bool started;
} watch_hub_stats_t;
void watch_hub_stats (watch_hub_t *self, watch_hub_stats_t *out);

#endif
