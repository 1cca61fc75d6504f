/*  storage_apply.c -- the storage actor applies committed entries to the
    KV data (staged in the group's batch: storage_log.c) and answers gets.
    See storage.c for the protocol.
*/
#include "storage_int.h"

#include "log.h"
#include "metrics.h"
#include "monitor.h"

#include <stdlib.h>
#include <string.h>

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

zhashx_t *
storage_overlay_new (void)
{
    zhashx_t *h = zhashx_new ();
    if (!h)
        return NULL;
    zhashx_set_key_duplicator (h, s_key_dup);
    zhashx_set_key_destructor (h, s_key_free);
    zhashx_set_key_comparator (h, s_key_cmp);
    zhashx_set_key_hasher (h, s_key_hash);
    return h;
}

/*  ---------------------------------------------------------------------
    Apply and get                                                        */

/* Did key exist before this entry? Entries earlier in the same batch
   count, so the overlay is asked before the database. 1, 0 or -1. */
static int
s_self_existed (storage_t *self, raft_buf_t *key)
{
    const char *state = zhashx_lookup (self->overlay, key);
    if (state)
        return state == &s_present;
    char *err = NULL;
    int found = store_get_kv (self->store, key->data, key->len, NULL, &err);
    if (found < 0) {
        storage_fail (self, "read failed: %s", err);
        free (err);
    }
    return found;
}

/* Stage the applies up to m->applied in log_batch, from the tail; the
   "applied" reply is held until the batch is durable (storage_commit).
   Under apply_nosync, written at once without sync instead. */
void
storage_apply (storage_t *self, const msg_store_t *m)
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
        const raft_entry_t *upto = storage_tail_at (self, m->applied);
        if (!storage_tail_at (self, from) || !upto ||
            upto->term != m->applied_term) {
            /* Applying what we do not hold, or another entry than the
               core committed, would make this replica differ. */
            storage_fail (
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
        storage_fail (self, "out of memory applying %zu entries", n_entries);
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
        const raft_entry_t *e = storage_tail_at (self, idx);
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
            storage_fail (self,
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
            storage_fail (self, "apply write failed: %s", err);
            free (err);
            free (results);
            return;
        }
        metrics_add (METRICS_APPLIED_ENTRIES, applied - self->applied);
        storage_space_wrote (self->space);
        self->applied = applied;
        self->applied_term = applied_term;
        storage_send (self, &r);
    } else {
        zframe_t *f = storage_encode (&r);
        if (f)
            zlist_append (self->held, f);
    }
    free (results);
    /* staged (LevelDB's batch holds copies): the entries' work is done */
    storage_tail_cut_upto (self, applied);
}

void
storage_get (storage_t *self, const msg_store_t *m)
{
    raft_buf_t *value = NULL;
    char *err = NULL;
    int found =
        store_get_kv (self->store, m->key->data, m->key->len, &value, &err);
    if (found < 0) {
        storage_fail (self, "read failed: %s", err);
        free (err);
        return;
    }
    msg_store_t r = {.kind = MSG_STORE_VALUE,
                     .req_id = m->req_id,
                     .found = found == 1,
                     .value = value};
    storage_send (self, &r);
    raft_buf_unref (value);
}
