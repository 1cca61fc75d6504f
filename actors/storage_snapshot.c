/*  storage_snapshot.c -- InstallSnapshot in the storage actor: the
    follower stages a leader's chunks apart and switches to them in one
    synced batch; the leader reads a point-in-time copy of its KV data in
    chunks. See storage.c for the protocol.
*/
#include "storage_int.h"

#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "msg_kv_lease.h"
#include "msg_kv_session.h"
#include "store_format.h"
#include "store_lease.h"
#include "store_session.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    store_batch_t *batch;
    int version; /* of the chunk's data (msg_store.h) */
} s_stage_t;

/* One chunk's pairs into the staging generation: records as they come
   (version 2); a leader before versions sends bare values (version 1),
   which become records with metadata {0, 0, 0}, as its commands' writes
   would here (store_format.h, "Upgrade"). */
static int
s_stage_pair (void *ctx, const void *key, size_t key_len, const void *value,
              size_t value_len)
{
    s_stage_t *st = ctx;
    if (st->version >= MSG_SNAP_VERSION) {
        store_batch_put_kv (st->batch, key, key_len, value, value_len);
        return 0;
    }
    char *rec = malloc (STORE_REC_HEADER + value_len);
    if (!rec)
        return -1;
    store_rec_header (rec, 0, 0, 0);
    if (value_len)
        memcpy (rec + STORE_REC_HEADER, value, value_len);
    store_batch_put_kv (st->batch, key, key_len, rec,
                        STORE_REC_HEADER + value_len);
    free (rec);
    return 0;
}

/* Stage a snapshot chunk in the group's batch (generation gen + 1). With
   the last one, the same batch switches to it: generation, applied index
   and term, configuration, the log's base, and the log entries it covers
   (all of them unless keep_tail). *last follows. */
bool
storage_stage_snap (storage_t *self, const raft_snapshot_chunk_t *c,
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
            storage_fail (self, "clearing the staging area: %s", err);
            free (err);
            return false;
        }
    }
    store_batch_set_gen (self->log_batch, gen + 1);
    s_stage_t st = {.batch = self->log_batch,
                    .version =
                        c->data ? msg_snap_version (c->data->data, c->data->len)
                                : -1};
    if (st.version < 0 ||
        msg_snap_unpack (c->data->data, c->data->len, s_stage_pair, &st) != 0) {
        storage_fail (self, "snapshot chunk %llu of %llu is malformed",
                      (unsigned long long)c->chunk,
                      (unsigned long long)c->index);
        return false;
    }
    storage_sessions_stage (self, c);
    storage_leases_stage (self, c);
    if (!c->done)
        return true;
    if (!storage_sessions_install (self, c->index) ||
        !storage_leases_install (self, c->index))
        return false;
    raft_entry_t conf = {.index = c->index,
                         .term = c->term,
                         .type = RAFT_ENTRY_CONF,
                         .data = raft_buf_new (&c->conf, sizeof c->conf)};
    int rc = conf.data ? store_batch_put_base (self->log_batch, &conf) : -1;
    if (rc == 0)
        rc = store_batch_put_conf (self->log_batch, &conf);
    raft_buf_unref (conf.data);
    if (rc != 0) {
        storage_fail (self, "snapshot %llu: bad configuration",
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
        storage_tail_cut_upto (self, c->index);
    else
        storage_tail_cut_from (self, 0);
    self->install.pending = true;
    self->install.index = c->index;
    self->install.term = c->term;
    return true;
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

void
storage_session_close (storage_t *self, size_t i)
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
s_session_read (storage_t *self, size_t i)
{
    storage_session_t *ss = &self->sending[i];
    /* the first chunk carries the copy's session and lease tables, if
       any (version 3 with sessions alone, 4 with leases), and so fewer
       pairs: a chunk stays near S_CHUNK_BYTES, under the peers' largest
       message, unless the tables alone are larger */
    const raft_buf_t *sessions =
        ss->next == 0 ? store_snap_sessions (ss->snap) : NULL;
    const raft_buf_t *leases =
        ss->next == 0 ? store_snap_leases (ss->snap) : NULL;
    size_t tables = (sessions ? sessions->len : 0) + (leases ? leases->len : 0);
    size_t budget = tables < S_CHUNK_BYTES ? S_CHUNK_BYTES - tables : 0;
    msgpack_sbuffer pairs;
    msgpack_sbuffer_init (&pairs);
    size_t n = 0, bytes = 0;
    const char *k, *v;
    size_t kl, vl;
    while (bytes < budget && store_snap_next (ss->snap, &k, &kl, &v, &vl)) {
        msg_snap_pack_pair (&pairs, k, kl, v, vl);
        bytes += kl + vl;
        n++;
        store_snap_advance (ss->snap);
    }
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    if (leases)
        msg_snap_pack_begin_leases (&out, n);
    else if (sessions)
        msg_snap_pack_begin_sessions (&out, n);
    else
        msg_snap_pack_begin (&out, n);
    if (pairs.size)
        msgpack_sbuffer_write (&out, pairs.data, pairs.size);
    if (leases)
        msg_snap_pack_leases (&out, sessions, leases);
    else if (sessions)
        msg_snap_pack_sessions (&out, sessions);
    raft_buf_unref (ss->last);
    ss->last = raft_buf_new (out.data, out.size);
    ss->last_done = !store_snap_next (ss->snap, &k, &kl, &v, &vl);
    ss->next++;
    msgpack_sbuffer_destroy (&pairs);
    msgpack_sbuffer_destroy (&out);
    /* LevelDB's iterator steps over a block it cannot read: a copy that
       met one misses pairs, and a follower must never install it. */
    char *err = NULL;
    if (store_snap_error (ss->snap, &err) != 0) {
        log_error ("storage: the copy for server %llu is damaged (%s); "
                   "not sent",
                   (unsigned long long)ss->peer, err ? err : "?");
        free (err);
        return false;
    }
    return ss->last != NULL;
}

void
storage_snap_read (storage_t *self, const msg_store_t *m)
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
            storage_session_close (self, i);
        else
            i = free_slot;
        if (i == RAFT_MAX_SERVERS)
            goto refuse;
        char *err = NULL;
        storage_session_t *ss = &self->sending[i];
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
    storage_session_t *ss = &self->sending[i];
    ss->used = zclock_mono ();
    if (m->chunk == ss->next && !s_session_read (self, i)) {
        storage_session_close (self, i);
        goto refuse;
    }
    r.ok = true;
    r.base = ss->conf; /* borrowed for the encoding */
    r.value = ss->last;
    r.done = ss->last_done;
    storage_send (self, &r);
    if (r.done)
        log_info ("storage: last chunk (%llu) of the copy at %llu for server "
                  "%llu",
                  (unsigned long long)m->chunk, (unsigned long long)ss->index,
                  (unsigned long long)m->peer);
    return;
refuse:
    storage_send (self, &r);
}

/* When idle: release stale copies, delete old generations. */
void
storage_housekeeping (storage_t *self)
{
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < RAFT_MAX_SERVERS; i++)
        if (self->sending[i].peer &&
            now - self->sending[i].used > S_SESSION_IDLE_MS)
            storage_session_close (self, i);
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
