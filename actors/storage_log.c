/*  storage_log.c -- the storage actor's log: group commit, durable in
    order, the tail of entries not applied yet, compaction, and what
    waited on durability ("after"). See storage.c for the protocol.

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
*/
#include "storage_int.h"

#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "msg_transport.h"

#include <stdlib.h>
#include <string.h>

/*  ---------------------------------------------------------------------
    The tail: entries written, not applied yet                           */

/* Entry idx of the tail, or NULL. */
const raft_entry_t *
storage_tail_at (const storage_t *self, raft_index_t idx)
{
    if (!self->tail_n || idx < self->tail[0].index)
        return NULL;
    size_t i = (size_t)(idx - self->tail[0].index);
    return i < self->tail_n ? &self->tail[i] : NULL;
}

/* Drop every entry with index >= idx (a write replaces them). */
void
storage_tail_cut_from (storage_t *self, raft_index_t idx)
{
    while (self->tail_n && self->tail[self->tail_n - 1].index >= idx)
        raft_buf_unref (self->tail[--self->tail_n].data);
}

/* Drop every entry with index <= idx (applied, or under a snapshot). */
void
storage_tail_cut_upto (storage_t *self, raft_index_t idx)
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
bool
storage_tail_push (storage_t *self, const raft_entry_t *e)
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
    Group commit of writes                                               */

/* Stage one write into the log batch; false (and the actor failed) if it
   would break the log. *last is the last index once the batch is in. */
static bool
s_self_stage_write (storage_t *self, const msg_store_t *w, raft_index_t *last)
{
    /* "persisted seq" vouches for every write up to seq, so a write that
       never arrived (dropped as malformed, or never sent) must stop the
       node rather than be acknowledged by a later one. The core numbers
       its writes 1, 2, 3... from its start, which is our start. */
    if (w->seq != self->last_seq + 1) {
        storage_fail (self, "write %llu follows write %llu: a write was lost",
                      (unsigned long long)w->seq,
                      (unsigned long long)self->last_seq);
        return false;
    }
    self->last_seq = w->seq;
    if (w->has_snap && !storage_stage_snap (self, &w->snap, last))
        return false;
    if (w->n_entries) {
        raft_index_t first = w->entries[0].index;
        /* These are bugs in the sender, not disk errors, but persisting
           them would leave a log the core refuses at the next start, or
           replace entries already applied (committed: §3.6.2 says they
           never change); acknowledging anything after would be a lie. */
        if (first == 0 || first > *last + 1) {
            storage_fail (self,
                          "write %llu starts at index %llu, not after the "
                          "last stored index %llu",
                          (unsigned long long)w->seq, (unsigned long long)first,
                          (unsigned long long)*last);
            return false;
        }
        if (first <= self->applied) {
            storage_fail (self,
                          "write %llu would replace entry %llu, already "
                          "applied (applied %llu)",
                          (unsigned long long)w->seq, (unsigned long long)first,
                          (unsigned long long)self->applied);
            return false;
        }
        for (size_t i = 1; i < w->n_entries; i++)
            if (w->entries[i].index != first + i) {
                storage_fail (self, "write %llu: entries are not contiguous",
                              (unsigned long long)w->seq);
                return false;
            }
        /* The core's contract (raft_ready_t): first delete every stored
           entry from entries[0].index on, then store the entries. */
        for (raft_index_t idx = first; idx <= *last; idx++)
            store_batch_del_entry (self->log_batch, idx);
        storage_tail_cut_from (self, first);
        for (size_t i = 0; i < w->n_entries; i++) {
            if (store_batch_put_entry (self->log_batch, &w->entries[i]) != 0) {
                storage_fail (self, "write %llu: entry %llu cannot be encoded",
                              (unsigned long long)w->seq,
                              (unsigned long long)w->entries[i].index);
                return false;
            }
            if (!storage_tail_push (self, &w->entries[i])) {
                storage_fail (self, "write %llu: out of memory",
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
s_self_timed_fsync (storage_t *self, int64_t usecs, uint64_t entries)
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

/* Write b with sync, preceded by a copy of the applies written without
   sync since the last synced write: whatever this write makes durable,
   every apply before it is durable too, even one left unsynced in the
   write-ahead log file LevelDB switched away from (see the top). */
static int
s_self_write_synced (storage_t *self, store_batch_t *b, char **err)
{
    store_batch_t *w = b;
    if (store_batch_size (self->unsynced) > 0) {
        store_batch_append (self->unsynced, b);
        w = self->unsynced;
    }
    int rc = store_write (self->store, w, true, err);
    if (rc == 0)
        store_batch_clear (self->unsynced);
    /* An injected slow disk (POST /debug/fault slow_fsync): inside the
       timed write, so it shows as slow_fsync in the trace and /metrics. */
    fault_fsync_wait (self->faults);
    return rc;
}

/* Write what log_batch holds (the group's writes and the applies staged
   so far) in one synced LevelDB write, then "persisted" and the held
   "applied" replies, in that order. False if the write failed (the actor
   has failed). */
bool
storage_commit (storage_t *self)
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
            storage_fail (self, "apply write failed: %s", err);
            free (err);
            return false;
        }
        if (!S_BUG_APPLY_NO_COPY)
            store_batch_append (self->unsynced, self->log_batch);
    } else if (store_batch_size (self->log_batch) > 0) {
        int64_t start = zclock_usecs ();
        if (s_self_write_synced (self, self->log_batch, &err) != 0) {
            storage_fail (self, "log write failed: %s", err);
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
        if (self->watch) /* the history starts over at the snapshot */
            watch_hub_reset (self->watch, self->applied);
        log_info ("storage: installed the snapshot at %llu (generation %llu)",
                  (unsigned long long)self->applied,
                  (unsigned long long)(old + 1));
    } else if (applies) {
        metrics_add (METRICS_APPLIED_ENTRIES,
                     self->staged.applied - self->applied);
        self->applied = self->staged.applied;
        self->applied_term = self->staged.applied_term;
        if (self->watch) /* written: readable, so watchers may see it */
            watch_hub_publish (self->watch, self->applied);
    }
    self->last_index = self->staged.last;
    if (writes) {
        msg_store_t m = {.kind = MSG_STORE_PERSISTED, .seq = self->staged.seq};
        storage_send (self, &m);
    }
    zframe_t *f;
    while ((f = zlist_pop (self->held))) {
        if (self->pair)
            zlist_append (self->outbox, f);
        else
            zframe_destroy (&f);
    }
    storage_flush (self);
    self->staged.writes = false;
    self->staged.entries = 0;
    self->staged.applied = self->applied;
    self->staged.applied_term = self->applied_term;
    return true;
}

/* Stage every write of the group in log_batch (committed with the applies
   that follow, or at once if the group installs a snapshot, whose switch
   of generation the applies after it must see). */
void
storage_stage_writes (storage_t *self, size_t n)
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
        storage_commit (self);
}

/* The log's new base: record it and delete the entries up to it, in one
   synced batch. Only applied entries may go (the core compacts up to its
   applied index, which it learned from us); an apply still unsynced goes
   in front of it (s_self_write_synced), so the base never gets ahead of
   the durable applied index. */
void
storage_compact (storage_t *self, const msg_store_t *m)
{
    raft_index_t index = m->base.index;
    if (index <= self->base_index)
        return; /* nothing new */
    if (index > self->applied || index > self->last_index) {
        storage_fail (self,
                      "compact to %llu beyond applied %llu or the log's end "
                      "%llu",
                      (unsigned long long)index,
                      (unsigned long long)self->applied,
                      (unsigned long long)self->last_index);
        return;
    }
    store_batch_clear (self->kv_batch);
    if (store_batch_put_base (self->kv_batch, &m->base) != 0) {
        storage_fail (self, "compact: the base is not a configuration entry");
        return;
    }
    for (raft_index_t i = self->base_index + 1; i <= index; i++)
        store_batch_del_entry (self->kv_batch, i);
    char *err = NULL;
    if (s_self_write_synced (self, self->kv_batch, &err) != 0) {
        storage_fail (self, "compaction write failed: %s", err);
        free (err);
        return;
    }
    log_debug ("storage: log compacted up to %llu", (unsigned long long)index);
    self->base_index = index;
    storage_space_freed (self->space);
}

/*  ---------------------------------------------------------------------
    Sending what waited on durability ("after")                          */

/* m arrived after write m->seq: false (and failed) if that write never
   came, since then nothing would make the messages true. */
bool
storage_check_after (storage_t *self, const msg_store_t *m)
{
    if (!self->send) {
        storage_fail (self, "\"after\" without a transport to send to");
        return false;
    }
    if (m->seq > self->last_seq) {
        storage_fail (self, "\"after\" write %llu, but the last write is %llu",
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
void
storage_send_after (storage_t *self, msg_store_t *m)
{
    for (size_t i = 0; i < m->n_after; i++) {
        msg_after_t *a = &m->after[i];
        if (a->index > self->applied) {
            const raft_entry_t *e = storage_tail_at (self, a->index);
            if (!e || e->term != a->term)
                continue;
        }
        /* a transport "send": its header, then the payload as it is */
        zframe_t *h = msg_transport_header (MSG_TRANSPORT_SEND, a->to);
        if (h &&
            zframe_send (&h, self->send, ZFRAME_MORE | ZFRAME_DONTWAIT) == 0)
            zframe_send (&a->frame, self->send, ZFRAME_DONTWAIT);
        zframe_destroy (&h); /* unsent: lost, Raft retries */
        zframe_destroy (&a->frame);
    }
}
