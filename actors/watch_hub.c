/*  watch_hub.c -- the recent history of changes (watch_hub.h).

    The ring holds pointers to events in index order (an entry's events
    together, in the order kvsm made them). `base` is the index at and
    below which events may be missing: the hub holds every event above
    it. Evicting the oldest event of index i makes base i, and the other
    events of i go too (no reader can be given part of an entry).

    A reader scans from the first event above its from (a binary search:
    indexes never go down along the ring), takes matching events entry by
    entry, and, finding none, waits on the condition variable for the next
    publish; it then goes on from the applied index it had seen (every
    event up to it was looked at), not from the start again.

    Memory: each event is one allocation (its struct, key, value); the
    ring counts key and value bytes plus the struct against max_bytes.
*/
#include "watch_hub.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*  Planted bug (Makefile NODE_BUGS, numbering shared with the node):
    watch_drop_on_wrap, the event that first wraps the ring round to its
    first slot is dropped without moving base, so a reader misses it
    silently (one event in the node's life). tests/node/test_watch_hub.c and
    tests/cluster/watch_test.sh must catch it.  */
#ifndef NSXD_PLANTED_BUG
#define NSXD_PLANTED_BUG 0
#endif
#define NSXD_BUG_WATCH_DROP_ON_WRAP 8
#define NSXD_BUG(name) (NSXD_PLANTED_BUG == NSXD_BUG_##name)

struct watch_hub_t {
    pthread_mutex_t mutex; /* everything below but staged */
    pthread_cond_t cond;   /* CLOCK_MONOTONIC: a publish, a wake */
    watch_event_t **ring;
    size_t head, count, max_events, max_bytes, bytes;
    raft_index_t base, applied;
    bool started, wrapped;
    size_t waiters;
    /* the storage actor's own: staged events, not yet published */
    watch_event_t **staged;
    size_t n_staged, cap_staged;
    bool lost; /* a stage failed: reset at the next publish */
};

static size_t
s_cost (const watch_event_t *ev)
{
    return sizeof *ev + ev->key_len + ev->value_len;
}

void
watch_event_unref (watch_event_t *ev)
{
    if (ev && atomic_fetch_sub (&ev->refs, 1) == 1)
        free (ev);
}

watch_hub_t *
watch_hub_new (size_t max_events, size_t max_bytes)
{
    assert (max_events >= 1 && max_bytes >= 1);
    watch_hub_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ring = calloc (max_events, sizeof *self->ring);
    if (!self->ring) {
        free (self);
        return NULL;
    }
    self->max_events = max_events;
    self->max_bytes = max_bytes;
    pthread_mutex_init (&self->mutex, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_cond_init (&self->cond, &attr);
    pthread_condattr_destroy (&attr);
    return self;
}

static watch_event_t *
s_at (const watch_hub_t *self, size_t i)
{
    return self->ring[(self->head + i) % self->max_events];
}

/* Drop every event; base and applied stay. REQUIRES: the lock. */
static void
s_empty (watch_hub_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        watch_event_unref (s_at (self, i));
    self->head = self->count = self->bytes = 0;
}

static void
s_drop_staged (watch_hub_t *self)
{
    for (size_t i = 0; i < self->n_staged; i++)
        watch_event_unref (self->staged[i]);
    self->n_staged = 0;
}

void
watch_hub_destroy (watch_hub_t **self_p)
{
    watch_hub_t *self = *self_p;
    if (!self)
        return;
    assert (self->waiters == 0);
    s_empty (self);
    s_drop_staged (self);
    free (self->staged);
    free (self->ring);
    pthread_cond_destroy (&self->cond);
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
}

void
watch_hub_start (watch_hub_t *self, raft_index_t applied)
{
    pthread_mutex_lock (&self->mutex);
    s_empty (self);
    self->base = self->applied = applied;
    self->started = true;
    pthread_cond_broadcast (&self->cond);
    pthread_mutex_unlock (&self->mutex);
    s_drop_staged (self);
    self->lost = false;
}

static watch_event_t *
s_event_new (raft_index_t index, const kvsm_change_t *c)
{
    size_t vlen = c->deleted || !c->value ? 0 : c->value->len;
    size_t klen = c->key->len;
    watch_event_t *ev = malloc (sizeof *ev + klen + vlen + 2);
    if (!ev)
        return NULL;
    *ev = (watch_event_t){.index = index,
                          .deleted = c->deleted,
                          .meta = c->meta,
                          .key_len = klen,
                          .value_len = vlen};
    atomic_init (&ev->refs, 1);
    ev->key = (char *)(ev + 1);
    memcpy (ev->key, c->key->data, klen);
    ev->key[klen] = 0;
    if (!c->deleted) {
        ev->value = ev->key + klen + 1;
        if (vlen)
            memcpy (ev->value, c->value->data, vlen);
        ev->value[vlen] = 0;
    }
    return ev;
}

int
watch_hub_stage (watch_hub_t *self, raft_index_t index,
                 const kvsm_change_t *changes, size_t n)
{
    if (self->lost)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (self->n_staged == self->cap_staged) {
            size_t cap = self->cap_staged ? 2 * self->cap_staged : 64;
            watch_event_t **s = realloc (self->staged, cap * sizeof *s);
            if (!s) {
                self->lost = true;
                return -1;
            }
            self->staged = s;
            self->cap_staged = cap;
        }
        watch_event_t *ev = s_event_new (index, &changes[i]);
        if (!ev) {
            self->lost = true;
            return -1;
        }
        self->staged[self->n_staged++] = ev;
    }
    return 0;
}

/* Evict the oldest event and every other of its index: base moves to
   it. REQUIRES: the lock, count > 0. */
static void
s_evict_entry (watch_hub_t *self)
{
    raft_index_t idx = s_at (self, 0)->index;
    while (self->count && s_at (self, 0)->index == idx) {
        watch_event_t *ev = s_at (self, 0);
        self->bytes -= s_cost (ev);
        watch_event_unref (ev);
        self->head = (self->head + 1) % self->max_events;
        self->count--;
    }
    if (idx > self->base)
        self->base = idx;
}

/* Append ev, evicting what the bounds need. REQUIRES: the lock. */
static void
s_push (watch_hub_t *self, watch_event_t *ev)
{
    while (self->count && (self->count == self->max_events ||
                           self->bytes + s_cost (ev) > self->max_bytes))
        s_evict_entry (self);
    size_t slot = (self->head + self->count) % self->max_events;
    bool first_wrap = slot == 0 && self->count && !self->wrapped;
    if (first_wrap)
        self->wrapped = true;
    if (NSXD_BUG (WATCH_DROP_ON_WRAP) && first_wrap) {
        watch_event_unref (ev); /* planted: lost, base unmoved */
        return;
    }
    self->ring[slot] = ev;
    self->count++;
    self->bytes += s_cost (ev);
    /* An event larger than the whole budget: it cannot be kept either. */
    if (self->bytes > self->max_bytes)
        s_evict_entry (self);
}

void
watch_hub_publish (watch_hub_t *self, raft_index_t applied)
{
    pthread_mutex_lock (&self->mutex);
    if (self->lost) {
        /* Some changes were not recorded: nobody may be told there were
           none, so the history starts over here. */
        s_empty (self);
        s_drop_staged (self);
        self->base = applied;
        self->lost = false;
    }
    for (size_t i = 0; i < self->n_staged; i++) {
        if (self->staged[i]->index > self->base)
            s_push (self, self->staged[i]);
        else /* its entry was evicted whole (an event over the budget) */
            watch_event_unref (self->staged[i]);
    }
    self->n_staged = 0;
    if (applied > self->applied)
        self->applied = applied;
    if (self->waiters)
        pthread_cond_broadcast (&self->cond);
    pthread_mutex_unlock (&self->mutex);
}

void
watch_hub_reset (watch_hub_t *self, raft_index_t index)
{
    pthread_mutex_lock (&self->mutex);
    s_empty (self);
    s_drop_staged (self);
    self->lost = false;
    self->base = self->applied = index;
    self->started = true;
    pthread_cond_broadcast (&self->cond);
    pthread_mutex_unlock (&self->mutex);
}

bool
watch_filter_match (const watch_filter_t *f, const watch_event_t *ev)
{
    if (f->prefix)
        return ev->key_len >= f->key_len &&
               memcmp (ev->key, f->key, f->key_len) == 0;
    return ev->key_len == f->key_len &&
           memcmp (ev->key, f->key, f->key_len) == 0;
}

void
watch_read_clear (watch_read_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        watch_event_unref (r->events[i]);
    free (r->events);
    r->events = NULL;
    r->n = 0;
}

/* The position of the first event above from (count if none).
   REQUIRES: the lock. */
static size_t
s_find (const watch_hub_t *self, raft_index_t from)
{
    size_t lo = 0, hi = self->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s_at (self, mid)->index <= from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Take the matching events above from into out, entry by entry, within
   limit; out->index is what they cover. -1: out of memory.
   REQUIRES: the lock. */
static int
s_collect (watch_hub_t *self, const watch_filter_t *f, raft_index_t from,
           size_t limit, watch_read_t *out)
{
    size_t i = s_find (self, from);
    out->index = self->applied;
    while (i < self->count) {
        raft_index_t idx = s_at (self, i)->index;
        size_t j = i, matching = 0;
        for (; j < self->count && s_at (self, j)->index == idx; j++)
            matching += watch_filter_match (f, s_at (self, j));
        if (out->n && out->n + matching > limit) {
            out->index = idx - 1; /* this entry is the next answer's */
            break;
        }
        if (matching) {
            watch_event_t **e =
                realloc (out->events, (out->n + matching) * sizeof *e);
            if (!e)
                return -1;
            out->events = e;
            for (size_t k = i; k < j; k++) {
                watch_event_t *ev = s_at (self, k);
                if (watch_filter_match (f, ev)) {
                    atomic_fetch_add (&ev->refs, 1);
                    out->events[out->n++] = ev;
                }
            }
        }
        i = j;
        if (out->n >= limit) {
            out->index = idx;
            break;
        }
    }
    return 0;
}

watch_status_t
watch_hub_read (watch_hub_t *self, const watch_filter_t *f, raft_index_t from,
                size_t limit, int64_t deadline_ms, const atomic_bool *cancel,
                watch_read_t *out)
{
    memset (out, 0, sizeof *out);
    raft_index_t asked = from;
    watch_status_t st = WATCH_OK;
    pthread_mutex_lock (&self->mutex);
    for (;;) {
        out->applied = self->applied;
        out->base = self->base;
        if (cancel && atomic_load (cancel)) {
            st = WATCH_CANCELLED;
            break;
        }
        if (!self->started) {
            st = WATCH_NOT_READY;
            break;
        }
        if (from < self->base) {
            st = WATCH_COMPACTED;
            break;
        }
        if (s_collect (self, f, from, limit, out) != 0) {
            watch_read_clear (out);
            st = WATCH_COMPACTED; /* out of memory: the caller re-reads */
            break;
        }
        /* never tell a client less than it already knows */
        if (out->index < asked)
            out->index = asked;
        if (out->n)
            break;
        struct timespec now;
        clock_gettime (CLOCK_MONOTONIC, &now);
        int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
        if (now_ms >= deadline_ms)
            break;
        /* nothing matched up to applied: the next scan starts there */
        if (self->applied > from)
            from = self->applied;
        struct timespec until = {.tv_sec = deadline_ms / 1000,
                                 .tv_nsec = (deadline_ms % 1000) * 1000000};
        self->waiters++;
        pthread_cond_timedwait (&self->cond, &self->mutex, &until);
        self->waiters--;
    }
    pthread_mutex_unlock (&self->mutex);
    return st;
}

void
watch_hub_wake (watch_hub_t *self)
{
    pthread_mutex_lock (&self->mutex);
    pthread_cond_broadcast (&self->cond);
    pthread_mutex_unlock (&self->mutex);
}

void
watch_hub_stats (watch_hub_t *self, watch_hub_stats_t *out)
{
    pthread_mutex_lock (&self->mutex);
    *out = (watch_hub_stats_t){.base = self->base,
                               .applied = self->applied,
                               .events = self->count,
                               .bytes = self->bytes,
                               .max_events = self->max_events,
                               .max_bytes = self->max_bytes,
                               .started = self->started};
    pthread_mutex_unlock (&self->mutex);
}
