/*  storage.c -- the storage actor: LevelDB (store/store.h) behind a PAIR.

    Protocol (the wire format of every PAIR message is msg/msg_store.h):

      pipe, from main:
        "$TERM"      end the actor (the database is closed on the way out)
        "DROPPED"    reply with picture "8": how many malformed messages from
                     the PAIR were dropped so far (for tests and monitoring)

      PAIR (bound on args->endpoint; the raft actor connects), in:
        write        staged; every write waiting together goes into ONE
                     LevelDB batch written with sync (group commit), then
                     ONE "persisted" with the highest seq of the group.
                     Writes must be numbered 1, 2, 3... (as raft_ready
                     numbers them): a gap means a write was lost, and is
                     an error, since "persisted" would vouch for it
        apply        the KV changes and the new applied index, staged in the
                     group's batch (see "Durable in order" below), then
                     "applied" with a result per NORMAL entry
        get          read the KV data as applied so far, then "value"
        compact      record the log's new base and delete the entries up to
                     it, in one synced batch (no answer)
        after        messages to send once every write before them is
                     durable (raft_options_t.async_sends): forwarded to the
                     transport (PUSH to args->send_endpoint) once the group
                     is committed, each only if the log entry it vouches
                     for is still ours (msg_store.h)
        get, compact and snap_read first commit what the group staged
        before them, so each sees every apply that arrived before it.
      PAIR, out:
        boot         first, once: hard state, applied index, the whole log
        persisted, applied, value  as above
        error        storage failed (cannot open, cannot write, an invalid
                     request that would break the log); the actor then stays
                     idle until "$TERM" and the node must stop

      monitor (PUSH to args->monitor_endpoint, never blocking), out:
        slow_fsync   a = microseconds, b = entries, for a synced write
                     slower than args->slow_fsync_ms (msg/msg_trace.h)
      PAIR, out, unasked:
        usage        what the database takes on disk and what the file
                     system has left (actors/storage_space.h): after
                     writes at most every 100 ms, idle every second, when
                     the reading changed. Near the quota, a full LevelDB
                     compaction runs in its own thread once data was
                     deleted, so that the space comes back
      /metrics (actors/metrics.h): the fsync histogram, entries synced and
      applied, and the size of the database directory (as "usage").

    Ordering: messages are handled in arrival order, except that the log
    writes of a group are staged first. Writes touch only the log and hard
    state ('l', 'h'), applies and gets only the KV data and applied index
    ('k', 'a'); and the raft core hands out an entry to apply only once it
    is durable locally, so an apply never waits for a write in its own
    group. The group's writes and the applies up to the next get, compact
    or snap_read go into ONE LevelDB batch; "persisted" and then the
    "applied" replies leave once it is written.

    Durable in order (issue 13): after a power cut the database must be
    one this node really had: applied data, applied index, log, base and
    hard state agreeing. Applies used to be written without sync, on the
    assumption that the next synced write makes them durable; that holds
    only within one write-ahead log file: LevelDB closes the old file
    without fsync when it switches memtables (DBImpl::MakeRoomForWrite),
    so a later apply or compaction could become durable while an earlier
    apply was lost (applied index past data that is not there, or below
    the log's base). The rule now: no write is synced unless every apply
    before it is in it or durable already.
    - A batch with writes (or a snapshot switch) is synced, applies
      included: one fsync covers both.
    - A batch of applies alone is written without sync if no earlier
      apply is still unsynced (the entries are durable in the log, and a
      lost apply is re-applied from it: applied index and data go
      together). A copy is kept ('unsynced') and written again at the
      front of the next synced write (s_self_write_synced), which makes
      it durable wherever LevelDB left the first copy. A second batch of
      applies alone while one is unsynced is synced, so that no later
      apply can reach the disk, even by the kernel's own write-back,
      while an earlier one has not.
    - Compaction is synced through s_self_write_synced too.
    - The staging deletes at chunk 0 of a snapshot transfer are synced:
      lost after the synced chunks that follow, stale keys from an older
      transfer would be installed.
    - Not synced, on purpose: deleting an old generation once the switch
      away from it is durable (losing it leaves unread keys, never wrong
      data).
    Cost: no fsync more than before for a group with writes; applies
    written twice when they come alone (README, "Durability", make bench
    before and after). -DNSXD_PLANTED_BUG=1 (apply_nosync) restores the
    unsynced apply without the copy, for make powercut-teeth.

    Malformed messages on the PAIR are dropped, counted and logged. Replies
    are queued and sent without blocking: a bound PAIR with no peer yet
    blocks a sender, and an actor never blocks on another (STYLE.md), so
    "boot" waits in the queue until the raft actor has connected.
*/
#include "actors.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "msg_store.h"
#include "storage_space.h"
#include "store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -DNSXD_PLANTED_BUG=1 (apply_nosync): each apply is written in its own
   batch without sync, as before issue 13, which a power cut after a
   memtable switch turns into a replica whose applied index claims data it
   does not hold. tests/cluster/powercut_test.sh must catch it (make
   powercut-teeth). 0: no bug. */
#ifndef NSXD_PLANTED_BUG
#define NSXD_PLANTED_BUG 0
#endif
#define S_BUG_APPLY_NOSYNC (NSXD_PLANTED_BUG == 1)
/* -DNSXD_PLANTED_BUG=2 (apply_no_copy): applies that come alone are
   written without sync but their copy is not written again with the next
   synced write: the same loss, through the new path. */
#define S_BUG_APPLY_NO_COPY (NSXD_PLANTED_BUG == 2)

/* At most this many messages are taken into one group: bounds the memory
   and the latency of one turn under a flood. */
#define S_GROUP_MAX 1024

/* A point-in-time copy being sent to one peer. */
typedef struct {
    raft_id_t peer; /* 0: slot free */
    store_snap_t *snap;
    raft_index_t index;
    raft_term_t term;
    raft_entry_t conf; /* the copy's CONF entry (at index, term) */
    uint64_t next;     /* next chunk to read */
    raft_buf_t *last;  /* chunk next - 1, kept for a resend */
    bool last_done;
    int64_t used;
} s_session_t;

typedef struct {
    zsock_t *pipe;            /* actor command pipe */
    zsock_t *pair;            /* to the raft actor; NULL if bind failed */
    zsock_t *send;            /* PUSH to the transport's PULL ("after"
                                 messages), or NULL: none configured */
    store_t *store;           /* NULL if the database could not be opened */
    store_batch_t *log_batch; /* a group's writes and applies (synced) */
    store_batch_t *kv_batch;  /* compaction; an apply under apply_nosync */
    store_batch_t *unsynced;  /* a copy of the applies written without
                                 sync since the last synced write */
    zhashx_t *overlay;        /* apply: keys changed earlier in the batch */
    zlist_t *held;            /* zframe_t *: "applied" replies waiting for
                                 the batch to be durable */
    kv_shared_t *shared;      /* where the store is published, or NULL */
    zlist_t *outbox;          /* zframe_t *: replies not yet sent */
    msg_store_t *group;       /* S_GROUP_MAX decoded messages */
    /* The log entries written and not yet applied, in index order (one
       ref each): "apply" names an index, and the entries are taken from
       here rather than sent a second time (issue 14). Bounded by what the
       core holds uncommitted or unapplied, which it also keeps in memory. */
    raft_entry_t *tail;
    size_t tail_n, tail_cap;
    raft_index_t last_index;  /* last stored log index */
    raft_index_t base_index;  /* the log's base: entries start after it */
    raft_index_t applied;     /* applied index, as stored */
    raft_term_t applied_term; /* its term (0: unknown, an older database) */
    uint64_t last_seq;        /* seq of the last write staged */
    /* what log_batch holds and is not yet written */
    struct {
        bool writes;          /* writes: "persisted" seq follows */
        uint64_t seq;         /* the last write's seq */
        uint64_t entries;     /* log entries written */
        raft_index_t last;    /* the last log index once written */
        raft_index_t applied; /* the applied index once written */
        raft_term_t applied_term;
    } staged;
    uint64_t dropped; /* malformed messages dropped */
    zsock_t *mon;     /* PUSH to the monitor, or NULL */
    int64_t slow_fsync_us;
    storage_space_t *space; /* disk usage and the quota's compactions */
    uint64_t quota_bytes;   /* --quota-bytes (0: none) */
    int64_t slow_logged;    /* zclock_mono () of the last slow-fsync log */
    bool failed;            /* "error" sent: idle until $TERM */
    /* InstallSnapshot, follower side: an install staged in the current
       group, made effective once its write is durable */
    struct {
        bool pending;
        raft_index_t index;
        raft_term_t term;
    } install;
    uint64_t cleanup_gen[2]; /* generations to delete when idle */
    size_t n_cleanup;
    /* InstallSnapshot, leader side: one copy being sent per peer */
    s_session_t sending[RAFT_MAX_SERVERS];
    bool terminated;
} self_t;

static void s_session_close (self_t *self, size_t i);

/* Overlay values: whether the key exists after the earlier entries. */
static char s_present, s_absent;

/*  ---------------------------------------------------------------------
    The overlay: raft_buf_t keys, compared by content                    */

static void *
s_key_dup (const void *key)
{
    return raft_buf_ref ((raft_buf_t *)key);
}

static void
s_key_free (void **key_p)
{
    raft_buf_unref (*key_p);
    *key_p = NULL;
}

static int
s_key_cmp (const void *a, const void *b)
{
    const raft_buf_t *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp (x->data, y->data, x->len);
}

static size_t
s_key_hash (const void *key)
{
    /* FNV-1a */
    const raft_buf_t *k = key;
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < k->len; i++)
        h = (h ^ k->data[i]) * 1099511628211ULL;
    return (size_t)h;
}

/*  ---------------------------------------------------------------------
    The tail: entries written, not applied yet                           */

/* Entry idx of the tail, or NULL. */
static const raft_entry_t *
s_tail_at (const self_t *self, raft_index_t idx)
{
    if (!self->tail_n || idx < self->tail[0].index)
        return NULL;
    size_t i = (size_t)(idx - self->tail[0].index);
    return i < self->tail_n ? &self->tail[i] : NULL;
}

/* Drop every entry with index >= idx (a write replaces them). */
static void
s_tail_cut_from (self_t *self, raft_index_t idx)
{
    while (self->tail_n && self->tail[self->tail_n - 1].index >= idx)
        raft_buf_unref (self->tail[--self->tail_n].data);
}

/* Drop every entry with index <= idx (applied, or under a snapshot). */
static void
s_tail_cut_upto (self_t *self, raft_index_t idx)
{
    size_t n = 0;
    while (n < self->tail_n && self->tail[n].index <= idx)
        raft_buf_unref (self->tail[n++].data);
    if (!n)
        return;
    memmove (self->tail, self->tail + n,
             (self->tail_n - n) * sizeof *self->tail);
    self->tail_n -= n;
}

/* Append e (one more ref); false if out of memory or not contiguous. */
static bool
s_tail_push (self_t *self, const raft_entry_t *e)
{
    if (self->tail_n && e->index != self->tail[self->tail_n - 1].index + 1)
        return false;
    if (self->tail_n == self->tail_cap) {
        size_t cap = self->tail_cap ? 2 * self->tail_cap : 64;
        raft_entry_t *t = realloc (self->tail, cap * sizeof *t);
        if (!t)
            return false;
        self->tail = t;
        self->tail_cap = cap;
    }
    self->tail[self->tail_n] = *e;
    raft_buf_ref (e->data);
    self->tail_n++;
    return true;
}

/*  ---------------------------------------------------------------------
    Sending                                                              */

static void
s_self_flush (self_t *self)
{
    zframe_t *f;
    while (self->pair && (f = zlist_first (self->outbox))) {
        if (zmq_send (zsock_resolve (self->pair), zframe_data (f),
                      zframe_size (f), ZMQ_DONTWAIT) == -1) {
            if (errno == EAGAIN || errno == EINTR)
                return; /* no peer yet, or full: retried on POLLOUT */
            log_error ("storage: send failed (%s); reply dropped",
                       zmq_strerror (errno));
        }
        zlist_remove (self->outbox, f);
        zframe_destroy (&f);
    }
}

static zframe_t *
s_encode (const msg_store_t *m)
{
    zmsg_t *zm = msg_store_encode (m);
    if (!zm) {
        log_error ("storage: cannot encode a reply (kind %d)", (int)m->kind);
        return NULL;
    }
    zframe_t *f = zmsg_pop (zm);
    zmsg_destroy (&zm);
    return f;
}

static void
s_self_send (self_t *self, const msg_store_t *m)
{
    zframe_t *f = s_encode (m);
    if (!f)
        return;
    if (!self->pair) {
        zframe_destroy (&f);
        return;
    }
    zlist_append (self->outbox, f);
    s_self_flush (self);
}

/* Storage failed: tell the raft actor (the node must stop) and go idle. */
static void s_self_fail (self_t *self, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_self_fail (self_t *self, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (text, sizeof text, fmt, ap);
    va_end (ap);
    log_error ("storage: %s; stopping", text);
    if (self->failed)
        return;
    self->failed = true;
    msg_store_t m = {.kind = MSG_STORE_ERROR, .error = text};
    s_self_send (self, &m);
}

/*  ---------------------------------------------------------------------
    Start: open, bootstrap, boot                                         */

/* Open the database, write the bootstrap state into a new one, queue
   "boot". On failure, queue "error" instead. */
static void
s_self_open (self_t *self, const storage_args_t *args)
{
    char *err = NULL;
    self->store = store_open (args->data_dir, &err);
    if (!self->store) {
        s_self_fail (self, "cannot open the database in %s: %s",
                     args->data_dir ? args->data_dir : "(null)", err);
        free (err);
        return;
    }
    store_state_t st;
    if (store_load (self->store, &st, &err) != 0) {
        s_self_fail (self, "cannot load %s: %s", args->data_dir, err);
        free (err);
        return;
    }
    if (st.fresh) {
        /* A new database: stamp it, and for a founding server write the
           bootstrap entry with term 1, as every founding server does, so
           that Log Matching holds from the start (raft.h). A joining
           server starts empty and learns the log from the leader. */
        raft_hard_state_t hs = {0, 0};
        raft_entry_t e = {0};
        if (args->bootstrap) {
            e = raft_bootstrap_entry (args->bootstrap);
            hs.term = 1;
            if (!raft_entry_conf (&e)) {
                raft_buf_unref (e.data);
                s_self_fail (self, "the bootstrap configuration is invalid");
                return;
            }
        }
        int rc =
            store_create (self->store, &hs, &e, args->bootstrap ? 1 : 0, &err);
        raft_buf_unref (e.data);
        if (rc != 0) {
            s_self_fail (self, "cannot initialise %s: %s", args->data_dir, err);
            free (err);
            return;
        }
        log_info ("storage: new database in %s%s", args->data_dir,
                  args->bootstrap ? ", bootstrapped" : "");
        /* Boot from what is on disk now, not from what we meant to write. */
        if (store_load (self->store, &st, &err) != 0) {
            s_self_fail (self, "cannot load %s: %s", args->data_dir, err);
            free (err);
            return;
        }
    }
    self->base_index = st.base.index;
    self->last_index =
        st.n_entries ? st.entries[st.n_entries - 1].index : st.base.index;
    self->applied = st.applied;
    self->applied_term = st.applied_term;
    for (size_t i = 0; i < st.n_entries; i++)
        if (st.entries[i].index > st.applied &&
            !s_tail_push (self, &st.entries[i])) {
            s_self_fail (self, "out of memory at start");
            store_state_clear (&st);
            return;
        }
    self->space = storage_space_new (self->store, self->quota_bytes);
    if (!self->space) {
        s_self_fail (self, "out of memory at start");
        store_state_clear (&st);
        return;
    }
    log_info ("storage: opened %s: term %llu, vote %llu, %zu log entries "
              "(last %llu), applied %llu",
              args->data_dir, (unsigned long long)st.hs.term,
              (unsigned long long)st.hs.vote, st.n_entries,
              (unsigned long long)self->last_index,
              (unsigned long long)self->applied);
    msg_store_t boot = {.kind = MSG_STORE_BOOT,
                        .hs = st.hs,
                        .applied = st.applied,
                        .entries = st.entries,
                        .n_entries = st.n_entries,
                        .base = st.base};
    s_self_send (self, &boot);
    store_state_clear (&st);
    if (args->shared)
        atomic_store_explicit (&args->shared->store, self->store,
                               memory_order_release);
    self->shared = args->shared;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    /* copies pin LevelDB versions: released before the database closes */
    for (size_t i = 0; i < RAFT_MAX_SERVERS; i++)
        if (self->sending[i].peer)
            s_session_close (self, i);
    /* a compaction in its thread uses the store: done before it closes */
    storage_space_destroy (&self->space);
    if (self->shared)
        atomic_store_explicit (&self->shared->store, NULL,
                               memory_order_release);
    store_close (&self->store);
    store_batch_destroy (&self->log_batch);
    store_batch_destroy (&self->kv_batch);
    store_batch_destroy (&self->unsynced);
    s_tail_cut_from (self, 0);
    free (self->tail);
    zhashx_destroy (&self->overlay);
    if (self->held) {
        zframe_t *f;
        while ((f = zlist_pop (self->held)))
            zframe_destroy (&f);
        zlist_destroy (&self->held);
    }
    if (self->outbox) {
        zframe_t *f;
        while ((f = zlist_pop (self->outbox)))
            zframe_destroy (&f);
        zlist_destroy (&self->outbox);
    }
    free (self->group);
    zsock_destroy (&self->pair);
    zsock_destroy (&self->send);
    zsock_destroy (&self->mon);
    free (self);
    *self_p = NULL;
}

static self_t *
s_self_new (zsock_t *pipe, const storage_args_t *args)
{
    self_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->pipe = pipe;
    self->quota_bytes = args->quota_bytes;
    self->slow_fsync_us =
        1000 * (int64_t)(args->slow_fsync_ms > 0 ? args->slow_fsync_ms : 0);
    if (args->monitor_endpoint)
        self->mon = monitor_push_new (args->monitor_endpoint);
    self->outbox = zlist_new ();
    self->group = calloc (S_GROUP_MAX, sizeof *self->group);
    self->log_batch = store_batch_new ();
    self->kv_batch = store_batch_new ();
    self->unsynced = store_batch_new ();
    self->overlay = zhashx_new ();
    self->held = zlist_new ();
    if (!self->outbox || !self->group || !self->log_batch || !self->kv_batch ||
        !self->unsynced || !self->overlay || !self->held) {
        s_self_destroy (&self);
        return NULL;
    }
    zhashx_set_key_duplicator (self->overlay, s_key_dup);
    zhashx_set_key_destructor (self->overlay, s_key_free);
    zhashx_set_key_comparator (self->overlay, s_key_cmp);
    zhashx_set_key_hasher (self->overlay, s_key_hash);

    self->pair = zsock_new (ZMQ_PAIR);
    if (self->pair) {
        /* No high-water mark either way (checked: with ours at 0 the
           inproc pipe is unbounded in both directions whatever the raft
           actor sets, in either connect order; with defaults it holds
           2000). A write or apply the raft actor could not queue would be
           lost; replies must not be dropped either. Memory stays bounded
           by the raft actor, which sends one write and one apply per
           batch. */
        zsock_set_sndhwm (self->pair, 0);
        zsock_set_rcvhwm (self->pair, 0);
        if (zsock_bind (self->pair, "%s", args->endpoint) == -1) {
            log_error ("storage: cannot bind %s: %s", args->endpoint,
                       zmq_strerror (errno));
            zsock_destroy (&self->pair);
        }
    }
    if (!self->pair) {
        /* Nobody to tell: main sees the raft actor never boot. */
        self->failed = true;
        return self;
    }
    if (args->send_endpoint) {
        /* Connecting first is fine over inproc (ZeroMQ 4). No high-water
           mark: what goes here is bounded by the raft actor's writes, and
           a dropped acknowledgement would cost a retry, not safety. */
        self->send = zsock_new (ZMQ_PUSH);
        if (self->send) {
            zsock_set_sndhwm (self->send, 0);
            if (zsock_connect (self->send, "%s", args->send_endpoint) == -1)
                zsock_destroy (&self->send);
        }
        if (!self->send)
            log_error ("storage: cannot connect to %s", args->send_endpoint);
    }
    s_self_open (self, args);
    return self;
}

/*  ---------------------------------------------------------------------
    Group commit of writes                                               */

static bool s_self_stage_snap (self_t *self, const raft_snapshot_chunk_t *c,
                               raft_index_t *last);

/* Stage one write into the log batch; false (and the actor failed) if it
   would break the log. *last is the last index once the batch is in. */
static bool
s_self_stage_write (self_t *self, const msg_store_t *w, raft_index_t *last)
{
    /* "persisted seq" vouches for every write up to seq, so a write that
       never arrived (dropped as malformed, or never sent) must stop the
       node rather than be acknowledged by a later one. The core numbers
       its writes 1, 2, 3... from its start, which is our start. */
    if (w->seq != self->last_seq + 1) {
        s_self_fail (self, "write %llu follows write %llu: a write was lost",
                     (unsigned long long)w->seq,
                     (unsigned long long)self->last_seq);
        return false;
    }
    self->last_seq = w->seq;
    if (w->has_snap && !s_self_stage_snap (self, &w->snap, last))
        return false;
    if (w->n_entries) {
        raft_index_t first = w->entries[0].index;
        /* These are bugs in the sender, not disk errors, but persisting
           them would leave a log the core refuses at the next start, or
           replace entries already applied (committed: §3.6.2 says they
           never change); acknowledging anything after would be a lie. */
        if (first == 0 || first > *last + 1) {
            s_self_fail (self,
                         "write %llu starts at index %llu, not after the "
                         "last stored index %llu",
                         (unsigned long long)w->seq, (unsigned long long)first,
                         (unsigned long long)*last);
            return false;
        }
        if (first <= self->applied) {
            s_self_fail (self,
                         "write %llu would replace entry %llu, already "
                         "applied (applied %llu)",
                         (unsigned long long)w->seq, (unsigned long long)first,
                         (unsigned long long)self->applied);
            return false;
        }
        for (size_t i = 1; i < w->n_entries; i++)
            if (w->entries[i].index != first + i) {
                s_self_fail (self, "write %llu: entries are not contiguous",
                             (unsigned long long)w->seq);
                return false;
            }
        /* The core's contract (raft_ready_t): first delete every stored
           entry from entries[0].index on, then store the entries. */
        for (raft_index_t idx = first; idx <= *last; idx++)
            store_batch_del_entry (self->log_batch, idx);
        s_tail_cut_from (self, first);
        for (size_t i = 0; i < w->n_entries; i++) {
            if (store_batch_put_entry (self->log_batch, &w->entries[i]) != 0) {
                s_self_fail (self, "write %llu: entry %llu cannot be encoded",
                             (unsigned long long)w->seq,
                             (unsigned long long)w->entries[i].index);
                return false;
            }
            if (!s_tail_push (self, &w->entries[i])) {
                s_self_fail (self, "write %llu: out of memory",
                             (unsigned long long)w->seq);
                return false;
            }
        }
        *last = w->entries[w->n_entries - 1].index;
    }
    if (w->hs_changed)
        store_batch_put_hs (self->log_batch, &w->hs);
    return true;
}

/* One synced write took usecs: /metrics, and a trace event and a log
   line (at most one a second) if it was slow. */
static void
s_self_timed_fsync (self_t *self, int64_t usecs, uint64_t entries)
{
    metrics_fsync ((uint64_t)usecs, entries);
    if (usecs < self->slow_fsync_us)
        return;
    msg_trace_ev_t ev;
    monitor_push (self->mon, msg_trace_ev_set (&ev, "slow_fsync", 0,
                                               (uint64_t)usecs, entries, NULL));
    int64_t now = zclock_mono ();
    if (self->slow_fsync_us > 0 && now - self->slow_logged >= 1000) {
        log_warn ("storage: slow fsync: %.1f ms for %llu entries",
                  (double)usecs / 1000.0, (unsigned long long)entries);
        self->slow_logged = now;
    }
}

/* One chunk's pairs into the staging generation. */
static int
s_stage_pair (void *ctx, const void *key, size_t key_len, const void *value,
              size_t value_len)
{
    store_batch_put_kv ((store_batch_t *)ctx, key, key_len, value, value_len);
    return 0;
}

/* Stage a snapshot chunk in the group's batch (generation gen + 1). With
   the last one, the same batch switches to it: generation, applied index
   and term, configuration, the log's base, and the log entries it covers
   (all of them unless keep_tail). *last follows. */
static bool
s_self_stage_snap (self_t *self, const raft_snapshot_chunk_t *c,
                   raft_index_t *last)
{
    uint64_t gen = store_gen (self->store);
    char *err = NULL;
    if (c->chunk == 0) {
        /* A new copy: whatever an earlier transfer staged goes first. */
        int64_t n;
        /* Synced: lost after the synced chunks that follow, they would
           leave stale keys in the copy that is installed. */
        while ((n = store_delete_gen (self->store, gen + 1, 100000, true,
                                      &err)) > 0)
            ;
        if (n < 0) {
            s_self_fail (self, "clearing the staging area: %s", err);
            free (err);
            return false;
        }
    }
    store_batch_set_gen (self->log_batch, gen + 1);
    if (!c->data || msg_snap_unpack (c->data->data, c->data->len, s_stage_pair,
                                     self->log_batch) != 0) {
        s_self_fail (self, "snapshot chunk %llu of %llu is malformed",
                     (unsigned long long)c->chunk,
                     (unsigned long long)c->index);
        return false;
    }
    if (!c->done)
        return true;
    raft_entry_t conf = {.index = c->index,
                         .term = c->term,
                         .type = RAFT_ENTRY_CONF,
                         .data = raft_buf_new (&c->conf, sizeof c->conf)};
    int rc = conf.data ? store_batch_put_base (self->log_batch, &conf) : -1;
    if (rc == 0)
        rc = store_batch_put_conf (self->log_batch, &conf);
    raft_buf_unref (conf.data);
    if (rc != 0) {
        s_self_fail (self, "snapshot %llu: bad configuration",
                     (unsigned long long)c->index);
        return false;
    }
    store_batch_put_gen (self->log_batch, gen + 1);
    store_batch_put_applied (self->log_batch, c->index, c->term);
    raft_index_t upto = c->keep_tail && *last > c->index ? c->index : *last;
    for (raft_index_t i = self->base_index + 1; i <= upto; i++)
        store_batch_del_entry (self->log_batch, i);
    if (!c->keep_tail || *last < c->index)
        *last = c->index;
    if (c->keep_tail)
        s_tail_cut_upto (self, c->index);
    else
        s_tail_cut_from (self, 0);
    self->install.pending = true;
    self->install.index = c->index;
    self->install.term = c->term;
    return true;
}

/* Write b with sync, preceded by a copy of the applies written without
   sync since the last synced write: whatever this write makes durable,
   every apply before it is durable too, even one left unsynced in the
   write-ahead log file LevelDB switched away from (see the top). */
static int
s_self_write_synced (self_t *self, store_batch_t *b, char **err)
{
    store_batch_t *w = b;
    if (store_batch_size (self->unsynced) > 0) {
        store_batch_append (self->unsynced, b);
        w = self->unsynced;
    }
    int rc = store_write (self->store, w, true, err);
    if (rc == 0)
        store_batch_clear (self->unsynced);
    return rc;
}

/* Write what log_batch holds (the group's writes and the applies staged
   so far) in one synced LevelDB write, then "persisted" and the held
   "applied" replies, in that order. False if the write failed (the actor
   has failed). */
static bool
s_self_commit (self_t *self)
{
    if (self->failed)
        return false;
    bool writes = self->staged.writes;
    bool applies = self->staged.applied != self->applied;
    if (!writes && !applies && !zlist_size (self->held))
        return true;
    char *err = NULL;
    /* Applies alone, none unsynced before them: written without sync
       and kept, to be written again in front of the next synced write;
       otherwise one synced write. */
    bool alone = !writes && !self->install.pending &&
                 store_batch_size (self->unsynced) == 0;
    if (alone && store_batch_size (self->log_batch) > 0) {
        if (store_write (self->store, self->log_batch, false, &err) != 0) {
            s_self_fail (self, "apply write failed: %s", err);
            free (err);
            return false;
        }
        if (!S_BUG_APPLY_NO_COPY)
            store_batch_append (self->unsynced, self->log_batch);
    } else if (store_batch_size (self->log_batch) > 0) {
        int64_t start = zclock_usecs ();
        if (s_self_write_synced (self, self->log_batch, &err) != 0) {
            s_self_fail (self, "log write failed: %s", err);
            free (err);
            return false;
        }
        s_self_timed_fsync (self, zclock_usecs () - start,
                            self->staged.entries);
        storage_space_wrote (self->space);
    }
    store_batch_clear (self->log_batch);
    zhashx_purge (self->overlay);
    if (self->install.pending) {
        /* The staged copy is the KV data now; the old one goes when idle. */
        uint64_t old = store_gen (self->store);
        store_set_gen (self->store, old + 1);
        self->applied = self->install.index;
        self->applied_term = self->install.term;
        self->base_index = self->install.index;
        self->install.pending = false;
        if (self->n_cleanup < 2)
            self->cleanup_gen[self->n_cleanup++] = old;
        storage_space_freed (self->space);
        log_info ("storage: installed the snapshot at %llu (generation %llu)",
                  (unsigned long long)self->applied,
                  (unsigned long long)(old + 1));
    } else if (applies) {
        metrics_add (METRICS_APPLIED_ENTRIES,
                     self->staged.applied - self->applied);
        self->applied = self->staged.applied;
        self->applied_term = self->staged.applied_term;
    }
    self->last_index = self->staged.last;
    if (writes) {
        msg_store_t m = {.kind = MSG_STORE_PERSISTED, .seq = self->staged.seq};
        s_self_send (self, &m);
    }
    zframe_t *f;
    while ((f = zlist_pop (self->held))) {
        if (self->pair)
            zlist_append (self->outbox, f);
        else
            zframe_destroy (&f);
    }
    s_self_flush (self);
    self->staged.writes = false;
    self->staged.entries = 0;
    self->staged.applied = self->applied;
    self->staged.applied_term = self->applied_term;
    return true;
}

/* Stage every write of the group in log_batch (committed with the applies
   that follow, or at once if the group installs a snapshot, whose switch
   of generation the applies after it must see). */
static void
s_self_stage_writes (self_t *self, size_t n)
{
    store_batch_clear (self->log_batch);
    self->staged.writes = false;
    self->staged.entries = 0;
    self->staged.last = self->last_index;
    self->staged.applied = self->applied;
    self->staged.applied_term = self->applied_term;
    for (size_t i = 0; i < n; i++) {
        const msg_store_t *w = &self->group[i];
        if (w->kind != MSG_STORE_WRITE)
            continue;
        if (!s_self_stage_write (self, w, &self->staged.last))
            return;
        self->staged.writes = true;
        self->staged.seq = w->seq;
        self->staged.entries += w->n_entries;
    }
    if (self->install.pending || S_BUG_APPLY_NOSYNC)
        s_self_commit (self);
}

/* The log's new base: record it and delete the entries up to it, in one
   synced batch. Only applied entries may go (the core compacts up to its
   applied index, which it learned from us); an apply still unsynced goes
   in front of it (s_self_write_synced), so the base never gets ahead of
   the durable applied index. */
static void
s_self_compact (self_t *self, const msg_store_t *m)
{
    raft_index_t index = m->base.index;
    if (index <= self->base_index)
        return; /* nothing new */
    if (index > self->applied || index > self->last_index) {
        s_self_fail (self,
                     "compact to %llu beyond applied %llu or the log's end "
                     "%llu",
                     (unsigned long long)index,
                     (unsigned long long)self->applied,
                     (unsigned long long)self->last_index);
        return;
    }
    store_batch_clear (self->kv_batch);
    if (store_batch_put_base (self->kv_batch, &m->base) != 0) {
        s_self_fail (self, "compact: the base is not a configuration entry");
        return;
    }
    for (raft_index_t i = self->base_index + 1; i <= index; i++)
        store_batch_del_entry (self->kv_batch, i);
    char *err = NULL;
    if (s_self_write_synced (self, self->kv_batch, &err) != 0) {
        s_self_fail (self, "compaction write failed: %s", err);
        free (err);
        return;
    }
    log_debug ("storage: log compacted up to %llu", (unsigned long long)index);
    self->base_index = index;
    storage_space_freed (self->space);
}

/*  ---------------------------------------------------------------------
    InstallSnapshot, the leader's side: chunks of a point-in-time copy   */

/* Bytes of KV pairs per chunk: large enough that a transfer is a few
   round trips per hundred MB, small enough that a chunk never holds up a
   link (heartbeats pass between chunks) nor the transport's queue. */
#define S_CHUNK_BYTES (1u << 20)
/* A copy nobody asked a chunk of for this long is released (it pins
   LevelDB's older files). */
#define S_SESSION_IDLE_MS 60000

static void
s_session_close (self_t *self, size_t i)
{
    store_snap_close (&self->sending[i].snap);
    /* the copy pinned what was deleted since: a compaction may drop it now */
    storage_space_freed (self->space);
    raft_buf_unref (self->sending[i].conf.data);
    raft_buf_unref (self->sending[i].last);
    memset (&self->sending[i], 0, sizeof self->sending[i]);
}

/* Read the next chunk of session i into sess->last. */
static bool
s_session_read (self_t *self, size_t i)
{
    s_session_t *ss = &self->sending[i];
    msgpack_sbuffer pairs;
    msgpack_sbuffer_init (&pairs);
    size_t n = 0, bytes = 0;
    const char *k, *v;
    size_t kl, vl;
    while (bytes < S_CHUNK_BYTES &&
           store_snap_next (ss->snap, &k, &kl, &v, &vl)) {
        msg_snap_pack_pair (&pairs, k, kl, v, vl);
        bytes += kl + vl;
        n++;
        store_snap_advance (ss->snap);
    }
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    msg_snap_pack_begin (&out, n);
    if (pairs.size)
        msgpack_sbuffer_write (&out, pairs.data, pairs.size);
    raft_buf_unref (ss->last);
    ss->last = raft_buf_new (out.data, out.size);
    ss->last_done = !store_snap_next (ss->snap, &k, &kl, &v, &vl);
    ss->next++;
    msgpack_sbuffer_destroy (&pairs);
    msgpack_sbuffer_destroy (&out);
    return ss->last != NULL;
}

static void
s_self_snap_read (self_t *self, const msg_store_t *m)
{
    msg_store_t r = {.kind = MSG_STORE_SNAP_CHUNK,
                     .peer = m->peer,
                     .chunk = m->chunk,
                     .msg_term = m->msg_term,
                     .msg_commit = m->msg_commit};
    size_t i = 0, free_slot = RAFT_MAX_SERVERS;
    for (; i < RAFT_MAX_SERVERS; i++) {
        if (self->sending[i].peer == m->peer)
            break;
        if (!self->sending[i].peer && free_slot == RAFT_MAX_SERVERS)
            free_slot = i;
    }
    if (m->chunk == 0) {
        /* A new copy of the data as it is now. */
        if (i < RAFT_MAX_SERVERS)
            s_session_close (self, i);
        else
            i = free_slot;
        if (i == RAFT_MAX_SERVERS)
            goto refuse;
        char *err = NULL;
        s_session_t *ss = &self->sending[i];
        ss->snap = store_snap_open (self->store, &ss->index, &ss->term,
                                    &ss->conf, &err);
        if (!ss->snap) {
            log_warn ("storage: cannot snapshot for server %llu: %s",
                      (unsigned long long)m->peer, err);
            free (err);
            goto refuse;
        }
        /* the CONF entry names the copy: its index and term */
        ss->conf.index = ss->index;
        ss->conf.term = ss->term;
        ss->peer = m->peer;
        log_info ("storage: sending server %llu a copy of the data at %llu",
                  (unsigned long long)m->peer, (unsigned long long)ss->index);
    } else if (i == RAFT_MAX_SERVERS ||
               self->sending[i].index != m->snap_index ||
               self->sending[i].term != m->snap_term ||
               (m->chunk != self->sending[i].next &&
                m->chunk + 1 != self->sending[i].next)) {
        goto refuse; /* not the copy in progress (any more) */
    }
    s_session_t *ss = &self->sending[i];
    ss->used = zclock_mono ();
    if (m->chunk == ss->next && !s_session_read (self, i)) {
        s_session_close (self, i);
        goto refuse;
    }
    r.ok = true;
    r.base = ss->conf; /* borrowed for the encoding */
    r.value = ss->last;
    r.done = ss->last_done;
    s_self_send (self, &r);
    if (r.done)
        log_info ("storage: last chunk (%llu) of the copy at %llu for server "
                  "%llu",
                  (unsigned long long)m->chunk, (unsigned long long)ss->index,
                  (unsigned long long)m->peer);
    return;
refuse:
    s_self_send (self, &r);
}

/* When idle: release stale copies, delete old generations. */
static void
s_self_housekeeping (self_t *self)
{
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < RAFT_MAX_SERVERS; i++)
        if (self->sending[i].peer &&
            now - self->sending[i].used > S_SESSION_IDLE_MS)
            s_session_close (self, i);
    if (self->n_cleanup && self->store) {
        char *err = NULL;
        int64_t n = store_delete_gen (self->store, self->cleanup_gen[0], 20000,
                                      false, &err);
        if (n < 0) {
            log_warn ("storage: deleting old data: %s", err);
            free (err);
        }
        if (n <= 0) {
            self->cleanup_gen[0] = self->cleanup_gen[1];
            self->n_cleanup--;
        }
        if (n > 0)
            storage_space_freed (self->space);
    }
}

/*  ---------------------------------------------------------------------
    Apply and get                                                        */

/* Did key exist before this entry? Entries earlier in the same batch
   count, so the overlay is asked before the database. 1, 0 or -1. */
static int
s_self_existed (self_t *self, raft_buf_t *key)
{
    const char *state = zhashx_lookup (self->overlay, key);
    if (state)
        return state == &s_present;
    char *err = NULL;
    int found = store_get_kv (self->store, key->data, key->len, NULL, &err);
    if (found < 0) {
        s_self_fail (self, "read failed: %s", err);
        free (err);
    }
    return found;
}

/* Stage the applies up to m->applied in log_batch, from the tail; the
   "applied" reply is held until the batch is durable (s_self_commit).
   Under apply_nosync, written at once without sync instead. */
static void
s_self_apply (self_t *self, const msg_store_t *m)
{
    raft_index_t from = self->staged.applied + 1;
    size_t n_entries = 0;
    if (m->applied < from) {
        /* Harmless (never applied twice), but the raft actor should not
           ask again, so say so; the answer is the applied index as is. */
        log_warn ("storage: apply up to %llu: already applied (%llu)",
                  (unsigned long long)m->applied,
                  (unsigned long long)self->staged.applied);
    } else {
        const raft_entry_t *upto = s_tail_at (self, m->applied);
        if (!s_tail_at (self, from) || !upto || upto->term != m->applied_term) {
            /* Applying what we do not hold, or another entry than the
               core committed, would make this replica differ. */
            s_self_fail (
                self,
                "apply up to %llu (term %llu): not an entry written here "
                "(%zu held from %llu, applied %llu)",
                (unsigned long long)m->applied,
                (unsigned long long)m->applied_term, self->tail_n,
                (unsigned long long)(self->tail_n ? self->tail[0].index : 0),
                (unsigned long long)self->staged.applied);
            return;
        }
        n_entries = (size_t)(m->applied - from + 1);
    }
    msg_apply_result_t *results =
        calloc (n_entries ? n_entries : 1, sizeof *results);
    if (!results) {
        s_self_fail (self, "out of memory applying %zu entries", n_entries);
        return;
    }
    size_t n_results = 0;
    raft_index_t applied = self->staged.applied;
    raft_term_t applied_term = self->staged.applied_term;
    const raft_entry_t *conf = NULL; /* the last CONF entry applied */
    store_batch_t *b = S_BUG_APPLY_NOSYNC ? self->kv_batch : self->log_batch;
    if (S_BUG_APPLY_NOSYNC) {
        store_batch_clear (b);
        zhashx_purge (self->overlay);
    }
    store_batch_set_gen (b, store_gen (self->store));
    for (raft_index_t idx = from; idx < from + n_entries; idx++) {
        const raft_entry_t *e = s_tail_at (self, idx);
        applied = e->index;
        applied_term = e->term;
        if (e->type == RAFT_ENTRY_CONF)
            conf = e;
        if (e->type != RAFT_ENTRY_NORMAL)
            continue; /* NOOP and CONF only advance the applied index */
        bool existed = false;
        msg_kv_t cmd;
        if (!e->data || msg_kv_decode (e->data->data, e->data->len, &cmd)) {
            /* Every replica skips it the same way, so they stay equal. */
            log_warn ("storage: entry %llu holds a malformed command; "
                      "skipped",
                      (unsigned long long)e->index);
        } else {
            int had = s_self_existed (self, cmd.key);
            if (had < 0) {
                msg_kv_clear (&cmd);
                free (results);
                return;
            }
            existed = had;
            /* an overwrite or a delete leaves garbage for a compaction */
            if (existed)
                storage_space_freed (self->space);
            if (cmd.op == MSG_KV_PUT) {
                store_batch_put_kv (b, cmd.key->data, cmd.key->len,
                                    cmd.value->data, cmd.value->len);
                zhashx_update (self->overlay, cmd.key, &s_present);
            } else {
                store_batch_del_kv (b, cmd.key->data, cmd.key->len);
                zhashx_update (self->overlay, cmd.key, &s_absent);
            }
            msg_kv_clear (&cmd);
        }
        results[n_results++] =
            (msg_apply_result_t){.index = e->index, .existed = existed};
    }
    if (applied != self->staged.applied) {
        store_batch_put_applied (b, applied, applied_term);
        /* what a snapshot of this state needs: the configuration here */
        if (conf && store_batch_put_conf (b, conf) != 0) {
            s_self_fail (self,
                         "apply: entry %llu is a malformed "
                         "configuration",
                         (unsigned long long)conf->index);
            free (results);
            return;
        }
        self->staged.applied = applied;
        self->staged.applied_term = applied_term;
    }
    msg_store_t r = {.kind = MSG_STORE_APPLIED,
                     .applied = applied,
                     .results = results,
                     .n_results = n_results};
    if (S_BUG_APPLY_NOSYNC) {
        char *err = NULL;
        if (store_batch_size (b) &&
            store_write (self->store, b, false, &err) != 0) {
            s_self_fail (self, "apply write failed: %s", err);
            free (err);
            free (results);
            return;
        }
        metrics_add (METRICS_APPLIED_ENTRIES, applied - self->applied);
        storage_space_wrote (self->space);
        self->applied = applied;
        self->applied_term = applied_term;
        s_self_send (self, &r);
    } else {
        zframe_t *f = s_encode (&r);
        if (f)
            zlist_append (self->held, f);
    }
    free (results);
    /* staged (LevelDB's batch holds copies): the entries' work is done */
    s_tail_cut_upto (self, applied);
}

static void
s_self_get (self_t *self, const msg_store_t *m)
{
    raft_buf_t *value = NULL;
    char *err = NULL;
    int found =
        store_get_kv (self->store, m->key->data, m->key->len, &value, &err);
    if (found < 0) {
        s_self_fail (self, "read failed: %s", err);
        free (err);
        return;
    }
    msg_store_t r = {.kind = MSG_STORE_VALUE,
                     .req_id = m->req_id,
                     .found = found == 1,
                     .value = value};
    s_self_send (self, &r);
    raft_buf_unref (value);
}

/*  ---------------------------------------------------------------------
    Sending what waited on durability ("after")                          */

/* m arrived after write m->seq: false (and failed) if that write never
   came, since then nothing would make the messages true. */
static bool
s_self_check_after (self_t *self, const msg_store_t *m)
{
    if (!self->send) {
        s_self_fail (self, "\"after\" without a transport to send to");
        return false;
    }
    if (m->seq > self->last_seq) {
        s_self_fail (self, "\"after\" write %llu, but the last write is %llu",
                     (unsigned long long)m->seq,
                     (unsigned long long)self->last_seq);
        return false;
    }
    return true;
}

/* Everything before m is durable now (the group is committed): send its
   messages whose entry is still ours. An acknowledgement of an entry a
   newer leader's write has since replaced (in this same group) vouches
   for an entry this server no longer has: dropped, as the core drops a
   held one (raft.c, s_release_held). An entry at or below the applied
   index is committed and never changes. */
static void
s_self_send_after (self_t *self, msg_store_t *m)
{
    for (size_t i = 0; i < m->n_after; i++) {
        msg_after_t *a = &m->after[i];
        if (a->index > self->applied) {
            const raft_entry_t *e = s_tail_at (self, a->index);
            if (!e || e->term != a->term)
                continue;
        }
        if (zframe_send (&a->frame, self->send, ZFRAME_DONTWAIT) != 0)
            zframe_destroy (&a->frame); /* lost: Raft retries */
    }
}

/*  ---------------------------------------------------------------------
    Handlers                                                             */

static void
s_self_handle_pipe (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->pipe);
    if (!msg) {
        self->terminated = true; /* interrupted */
        return;
    }
    char *command = zmsg_popstr (msg);
    if (command && streq (command, "$TERM"))
        self->terminated = true;
    else if (command && streq (command, "DROPPED"))
        zsock_send (self->pipe, "8", self->dropped);
    else
        log_warn ("storage: unknown pipe command '%s'", command ? command : "");
    zstr_free (&command);
    zmsg_destroy (&msg);
}

/* Take the message that woke us and every other one already waiting,
   then handle them as one group. */
static void
s_self_handle_pair (self_t *self)
{
    size_t n = 0, taken = 0;
    do {
        zmsg_t *zm = zmsg_recv (self->pair);
        if (!zm)
            break;
        taken++;
        if (self->failed) {
            zmsg_destroy (&zm); /* stopping: nothing is acted on */
            continue;
        }
        msg_store_t *m = &self->group[n];
        if (msg_store_decode (zm, m) != 0) {
            self->dropped++;
            log_warn ("storage: malformed message dropped (%llu so far)",
                      (unsigned long long)self->dropped);
        } else if (m->kind != MSG_STORE_WRITE && m->kind != MSG_STORE_APPLY &&
                   m->kind != MSG_STORE_AFTER && m->kind != MSG_STORE_GET &&
                   m->kind != MSG_STORE_COMPACT &&
                   m->kind != MSG_STORE_SNAP_READ) {
            self->dropped++;
            log_warn ("storage: unexpected message kind %d dropped (%llu so "
                      "far)",
                      (int)m->kind, (unsigned long long)self->dropped);
            msg_store_clear (m);
        } else {
            n++;
        }
        zmsg_destroy (&zm);
    } while (taken < S_GROUP_MAX && (zsock_events (self->pair) & ZMQ_POLLIN));

    s_self_stage_writes (self, n);
    for (size_t i = 0; i < n && !self->failed; i++) {
        msg_store_kind_t kind = self->group[i].kind;
        if (kind == MSG_STORE_APPLY) {
            s_self_apply (self, &self->group[i]);
            continue;
        }
        if (kind == MSG_STORE_AFTER) {
            s_self_check_after (self, &self->group[i]);
            continue;
        }
        /* the others see every apply before them, durable */
        if ((kind == MSG_STORE_GET || kind == MSG_STORE_COMPACT ||
             kind == MSG_STORE_SNAP_READ) &&
            !s_self_commit (self))
            break;
        if (kind == MSG_STORE_GET)
            s_self_get (self, &self->group[i]);
        else if (kind == MSG_STORE_COMPACT)
            s_self_compact (self, &self->group[i]);
        else if (kind == MSG_STORE_SNAP_READ)
            s_self_snap_read (self, &self->group[i]);
    }
    /* the group is durable: what waited on it may go */
    if (s_self_commit (self))
        for (size_t i = 0; i < n; i++)
            if (self->group[i].kind == MSG_STORE_AFTER)
                s_self_send_after (self, &self->group[i]);
    for (size_t i = 0; i < n; i++)
        msg_store_clear (&self->group[i]);
}

void
storage_actor (zsock_t *pipe, void *args)
{
    /* named for top -H and perf (--sort comm) */
    pthread_setname_np (pthread_self (), "storage");
    self_t *self = s_self_new (pipe, args);
    if (!self) {
        log_error ("storage: out of memory at start");
        return; /* czmq's actor shim signals the pipe for us */
    }
    /* Signalled once the database is open and "boot" (or "error") is
       queued; it leaves as soon as the raft actor's PAIR is there. */
    zsock_signal (pipe, 0);

    while (!self->terminated) {
        zmq_pollitem_t items[2] = {
            {zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0}};
        int n_items = 1;
        if (self->pair) {
            /* While replies wait, read nothing more from the raft actor:
               that is the back-pressure that bounds the outbox. */
            short events = zlist_size (self->outbox) ? ZMQ_POLLOUT : ZMQ_POLLIN;
            items[1] =
                (zmq_pollitem_t){zsock_resolve (self->pair), 0, events, 0};
            n_items = 2;
        }
        int64_t now = zclock_mono ();
        uint64_t db, fs;
        if (self->space && !self->failed &&
            storage_space_poll (self->space, now, &db, &fs)) {
            metrics_set (METRICS_LEVELDB_BYTES, db);
            msg_store_t u = {
                .kind = MSG_STORE_USAGE, .db_bytes = db, .fs_free = fs};
            s_self_send (self, &u);
        }
        int wait = self->space ? storage_space_wait_ms (self->space, now) : -1;
        /* Old generations are deleted in steps while nothing else waits. */
        if (self->n_cleanup && (wait < 0 || wait > 5))
            wait = 5;
        int rc = zmq_poll (items, n_items, wait);
        if (rc == -1) {
            if (errno == EINTR)
                continue; /* main owns shutdown: we end on $TERM only */
            log_error ("storage: poll failed: %s", zmq_strerror (errno));
            break;
        }
        if (rc == 0 && !self->failed)
            s_self_housekeeping (self);
        if (items[0].revents & ZMQ_POLLIN)
            s_self_handle_pipe (self);
        if (self->terminated || n_items < 2)
            continue;
        if (items[1].revents & ZMQ_POLLOUT)
            s_self_flush (self);
        if (items[1].revents & ZMQ_POLLIN)
            s_self_handle_pair (self);
    }
    if (self->dropped)
        log_info ("storage: closing; %llu malformed messages were dropped",
                  (unsigned long long)self->dropped);
    s_self_destroy (&self);
}
