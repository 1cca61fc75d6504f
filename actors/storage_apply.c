/*  storage_apply.c -- the storage actor applies committed entries to the
    KV data (staged in the group's batch: storage_log.c) and answers gets.
    What a command does is the state machine's (store/kvsm.h); this file
    gives it its view of the data: the batch, and an overlay of the
    records earlier entries of the batch wrote. See storage.c for the
    protocol.
*/
#include "storage_int.h"

#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "store_format.h"

#include <stdlib.h>
#include <string.h>

/* Overlay values: the record a key holds after the earlier entries of
   the batch (a raft_buf_t *: header and value, as stored), or s_absent
   once deleted. */
static raft_buf_t s_absent;

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

static void
s_val_free (void **val_p)
{
    if (*val_p != &s_absent)
        raft_buf_unref (*val_p);
    *val_p = NULL;
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
    zhashx_set_destructor (h, s_val_free);
    return h;
}

/*  ---------------------------------------------------------------------
    The state machine's view (store/kvsm.h) over the batch and overlay  */

typedef struct {
    storage_t *self;
    store_batch_t *batch;
} s_view_t;

/* A stored record (rec, len bytes) as kvsm sees it: 1, or -1 (storage
   failed: a record shorter than its header is damaged data). */
static int
s_rec_parse (storage_t *self, const raft_buf_t *key, const char *rec,
             size_t len, kvsm_rec_t *out)
{
    const char *val;
    size_t vlen;
    if (!store_rec_parse (rec, len, &out->meta.create_index,
                          &out->meta.mod_index, &out->meta.version, &val,
                          &vlen)) {
        storage_fail (self,
                      "the KV record of a %zu-byte key is damaged "
                      "(%zu bytes, shorter than its header)",
                      key->len, len);
        return -1;
    }
    out->value = raft_buf_new (val, vlen);
    if (!out->value) {
        storage_fail (self, "out of memory for a %zu-byte value", vlen);
        return -1;
    }
    return 1;
}

/* Entries earlier in the same batch count, so the overlay is asked
   before the database. */
static int
s_view_get (void *ctx, const raft_buf_t *key, kvsm_rec_t *rec)
{
    s_view_t *v = ctx;
    const raft_buf_t *o = zhashx_lookup (v->self->overlay, key);
    if (o)
        return o == &s_absent
                   ? 0
                   : s_rec_parse (v->self, key, (const char *)o->data, o->len,
                                  rec);
    raft_buf_t *stored = NULL;
    char *err = NULL;
    int found =
        store_get_kv (v->self->store, key->data, key->len, &stored, &err);
    if (found < 0) {
        storage_fail (v->self, "read failed: %s", err);
        free (err);
        return -1;
    }
    if (found)
        found = s_rec_parse (v->self, key, (const char *)stored->data,
                             stored->len, rec);
    raft_buf_unref (stored);
    return found;
}

static int
s_view_put (void *ctx, const raft_buf_t *key, const kvsm_meta_t *meta,
            const raft_buf_t *value)
{
    s_view_t *v = ctx;
    size_t len = STORE_REC_HEADER + value->len;
    char *bytes = malloc (len);
    raft_buf_t *rec = NULL;
    if (bytes) {
        store_rec_header (bytes, meta->create_index, meta->mod_index,
                          meta->version);
        if (value->len)
            memcpy (bytes + STORE_REC_HEADER, value->data, value->len);
        rec = raft_buf_new (bytes, len);
        free (bytes);
    }
    if (!rec) {
        storage_fail (v->self, "out of memory for a %zu-byte value",
                      value->len);
        return -1;
    }
    store_batch_put_kv (v->batch, key->data, key->len, rec->data, rec->len);
    zhashx_update (v->self->overlay, (void *)key, rec); /* takes rec */
    return 0;
}

static int
s_view_del (void *ctx, const raft_buf_t *key)
{
    s_view_t *v = ctx;
    store_batch_del_kv (v->batch, key->data, key->len);
    zhashx_update (v->self->overlay, (void *)key, &s_absent);
    return 0;
}

/* Apply one NORMAL entry through kvsm into *r; false if storage failed
   (the node stops). */
static bool
s_apply_entry (storage_t *self, store_batch_t *b, const raft_entry_t *e,
               msg_apply_result_t *r)
{
    *r = (msg_apply_result_t){.index = e->index};
    msg_kv_t cmd;
    int rc = e->data ? msg_kv_decode (e->data->data, e->data->len, &cmd) : -1;
    if (rc == -2) {
        /* Skipping it would make this replica differ from the ones that
           know it (an older build did skip, README "Upgrading"). */
        storage_fail (self,
                      "entry %llu holds a KV command of a newer version "
                      "than this build knows: upgrade this node",
                      (unsigned long long)e->index);
        return false;
    }
    if (rc != 0) {
        /* Every replica skips it the same way, so they stay equal. */
        log_warn ("storage: entry %llu holds a malformed command; skipped",
                  (unsigned long long)e->index);
        return true;
    }
    s_view_t view = {.self = self, .batch = b};
    kvsm_view_t kv = {.ctx = &view,
                      .get = s_view_get,
                      .put = s_view_put,
                      .del = s_view_del,
                      .sessions = self->sessions,
                      .leases = self->leases};
    kvsm_result_t res;
    rc = kvsm_apply (&kv, e->index, &cmd, &res);
    msg_kv_clear (&cmd);
    if (rc == 0 && (storage_sessions_write (self, b, &res) != 0 ||
                    storage_leases_write (self, b, &res, r) != 0))
        rc = -1;
    if (rc != 0 || res.status == KVSM_UNKNOWN_VERSION) {
        if (!self->failed)
            storage_fail (self, "entry %llu: the state machine failed",
                          (unsigned long long)e->index);
        kvsm_result_clear (&res);
        return false;
    }
    /* an overwrite or a delete leaves garbage for a compaction */
    for (size_t i = 0; i < res.n_changes; i++)
        if (res.changes[i].existed)
            storage_space_freed (self->space);
    /* watches: seen once the batch is written (storage_commit) */
    if (self->watch)
        watch_hub_stage (self->watch, e->index, res.changes, res.n_changes);
    r->existed = res.op != KVSM_TXN && res.n_resps && res.resps[0].found;
    r->status = storage_kv_status (&res);
    r->result = msg_kv_result_encode (&res);
    kvsm_result_clear (&res);
    if (!r->result) {
        storage_fail (self, "entry %llu: its result cannot be encoded",
                      (unsigned long long)e->index);
        return false;
    }
    return true;
}

static void
s_results_free (msg_apply_result_t *results, size_t n)
{
    for (size_t i = 0; i < n; i++)
        raft_buf_unref (results[i].result);
    free (results);
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
        if (!s_apply_entry (self, b, e, &results[n_results])) {
            s_results_free (results, n_results);
            return;
        }
        n_results++;
    }
    if (applied != self->staged.applied) {
        store_batch_put_applied (b, applied, applied_term);
        /* what a snapshot of this state needs: the configuration here */
        if (conf && store_batch_put_conf (b, conf) != 0) {
            storage_fail (self,
                          "apply: entry %llu is a malformed "
                          "configuration",
                          (unsigned long long)conf->index);
            s_results_free (results, n_results);
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
            s_results_free (results, n_results);
            return;
        }
        metrics_add (METRICS_APPLIED_ENTRIES, applied - self->applied);
        storage_space_wrote (self->space);
        self->applied = applied;
        self->applied_term = applied_term;
        if (self->watch)
            watch_hub_publish (self->watch, applied);
        storage_send (self, &r);
    } else {
        zframe_t *f = storage_encode (&r);
        if (f)
            zlist_append (self->held, f);
    }
    s_results_free (results, n_results);
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
    if (found == 1) {
        /* the value alone: this path (no shared store) shows no metadata */
        kvsm_rec_t rec = {0};
        int ok = s_rec_parse (self, m->key, (const char *)value->data,
                              value->len, &rec);
        raft_buf_unref (value);
        if (ok < 0)
            return;
        value = rec.value;
    }
    msg_store_t r = {.kind = MSG_STORE_VALUE,
                     .req_id = m->req_id,
                     .found = found == 1,
                     .value = value};
    storage_send (self, &r);
    raft_buf_unref (value);
}
