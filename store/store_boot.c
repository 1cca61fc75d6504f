/*  store_boot.c -- start-up (store.h: store_load, store_create): read
    every record once to verify its checksum, then read what is durable --
    format version, hard state, applied index, generation, configuration,
    base, the log -- and check the invariants of store_format.h before the
    node uses any of it.
*/
#include "msg_raft.h"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

/* Is the database empty? 1 yes, 0 no, -1 error. */
static int
s_empty (store_t *self, char **err)
{
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->scan);
    leveldb_iter_seek_to_first (it);
    int empty = !leveldb_iter_valid (it);
    char *ldb_err = NULL;
    leveldb_iter_get_error (it, &ldb_err);
    leveldb_iter_destroy (it);
    if (ldb_err)
        return store_err_ldb (err, "scan", ldb_err);
    return empty;
}

static int
s_load_log (store_t *self, store_state_t *st, char **err)
{
    size_t cap = 0;
    int rc = 0;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->scan);
    const char prefix = STORE_KEY_LOG;
    for (leveldb_iter_seek (it, &prefix, 1); rc == 0 && leveldb_iter_valid (it);
         leveldb_iter_next (it)) {
        size_t klen, vlen;
        const char *key = leveldb_iter_key (it, &klen);
        if (klen == 0 || key[0] != STORE_KEY_LOG)
            break;
        const char *val = leveldb_iter_value (it, &vlen);
        raft_index_t index = 0;
        bool key_ok = store_log_key_parse (key, klen, &index);
        if (st->n_entries == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            raft_entry_t *ne = realloc (st->entries, ncap * sizeof *ne);
            if (!ne) {
                store_err_set (err, "out of memory loading the log");
                rc = -1;
                break;
            }
            st->entries = ne;
            cap = ncap;
        }
        raft_entry_t *e = &st->entries[st->n_entries];
        if (!key_ok) {
            store_err_set (err, "log: malformed key of %zu bytes", klen);
            rc = -1;
        } else if (msg_entry_decode (val, vlen, e) != 0) {
            store_err_set (err, "log: entry %llu is malformed",
                           (unsigned long long)index);
            rc = -1;
        } else if (e->index != index ||
                   (st->n_entries &&
                    index != st->entries[st->n_entries - 1].index + 1)) {
            store_err_set (err,
                           "log: entry %llu stored under index %llu "
                           "(log not contiguous)",
                           (unsigned long long)e->index,
                           (unsigned long long)index);
            raft_buf_unref (e->data);
            rc = -1;
        } else {
            st->n_entries++;
        }
    }
    char *ldb_err = NULL;
    leveldb_iter_get_error (it, &ldb_err);
    leveldb_iter_destroy (it);
    if (ldb_err) {
        store_err_ldb (err, "log scan", ldb_err);
        rc = -1;
    }
    return rc;
}

/* Read every record once, checking every block's checksum: corruption
   anywhere (a KV value no one has read yet included) stops the start
   instead of surfacing later, or never. Skips the block cache. */
static int
s_verify_all (store_t *self, char **err)
{
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->scan);
    for (leveldb_iter_seek_to_first (it); leveldb_iter_valid (it);
         leveldb_iter_next (it))
        ;
    char *ldb_err = NULL;
    leveldb_iter_get_error (it, &ldb_err);
    leveldb_iter_destroy (it);
    return ldb_err ? store_err_ldb (err, "verify", ldb_err) : 0;
}

/* The one-byte records, in the order they are read, and what each is
   called in an error. */
static const struct {
    char key;
    const char *what;
} s_records[] = {
    {STORE_KEY_HS, "hard state"},     {STORE_KEY_APPLIED, "applied index"},
    {STORE_KEY_GEN, "KV generation"}, {STORE_KEY_CONF, "applied configuration"},
    {STORE_KEY_BASE, "log base"},
};

/* A CONF entry holding a configuration (and, for the base, at an index
   >= 1); on false, e->data may hold a ref (store_state_clear drops it). */
static bool
s_conf_entry (const char *val, size_t len, raft_entry_t *e, bool base)
{
    return msg_entry_decode (val, len, e) == 0 && e->type == RAFT_ENTRY_CONF &&
           (!base || e->index > 0) && raft_entry_conf (e);
}

/* Decode record key's value into st (the generation into self). */
static bool
s_decode_record (store_t *self, store_state_t *st, char key, const char *val,
                 size_t len)
{
    switch (key) {
    case STORE_KEY_HS: return msg_hs_decode (val, len, &st->hs) == 0;
    case STORE_KEY_APPLIED:
        return store_applied_parse (val, len, &st->applied, &st->applied_term);
    case STORE_KEY_GEN: return store_gen_parse (val, len, &self->gen);
    case STORE_KEY_CONF:
        return s_conf_entry (val, len, &st->applied_conf, false);
    case STORE_KEY_BASE: return s_conf_entry (val, len, &st->base, true);
    }
    return false;
}

/* Invariants (2) and (3) of store_format.h, once the log is read. */
static int
s_check (const store_state_t *st, char **err)
{
    raft_index_t last =
        st->n_entries ? st->entries[st->n_entries - 1].index : st->base.index;
    if (st->n_entries && st->entries[0].index != st->base.index + 1) {
        store_err_set (err, "log starts at %llu after base %llu",
                       (unsigned long long)st->entries[0].index,
                       (unsigned long long)st->base.index);
        return -1;
    }
    if (st->applied < st->base.index) {
        store_err_set (err, "applied index %llu is before the log's base %llu",
                       (unsigned long long)st->applied,
                       (unsigned long long)st->base.index);
        return -1;
    }
    if (st->applied > last) {
        store_err_set (err, "applied index %llu is beyond the log's end %llu",
                       (unsigned long long)st->applied,
                       (unsigned long long)last);
        return -1;
    }
    return 0;
}

/* Invariant (1): 'v' says which format; without it, the database must be
   empty. 1 stamped with ours, 2 with format 1 (to upgrade, store_format.h),
   0 fresh (st->fresh), -1 refused. */
static int
s_version (store_t *self, store_state_t *st, char **err)
{
    char *val = NULL;
    size_t len = 0;
    const char kv = STORE_KEY_VERSION;
    int found = store_get_raw (self, &kv, 1, &val, &len, err);
    if (found < 0)
        return -1;
    if (!found) {
        int empty = s_empty (self, err);
        if (empty < 0)
            return -1;
        if (!empty) {
            store_err_set (err, "not an nsxd database: no format version, but "
                                "not empty");
            return -1;
        }
        st->fresh = true;
        return 0;
    }
    bool ok = len == strlen (STORE_FORMAT_VERSION) &&
              memcmp (val, STORE_FORMAT_VERSION, len) == 0;
    bool old = len == strlen (STORE_FORMAT_VERSION_1) &&
               memcmp (val, STORE_FORMAT_VERSION_1, len) == 0;
    leveldb_free (val);
    if (old)
        return 2;
    if (!ok) {
        store_err_set (err, "unknown storage format version (expected %s)",
                       STORE_FORMAT_VERSION);
        return -1;
    }
    return 1;
}

static int
s_load (store_t *self, store_state_t *st, char **err)
{
    memset (st, 0, sizeof *st);
    int rc = s_version (self, st, err);
    if (rc <= 0)
        return rc;
    for (size_t i = 0; i < sizeof s_records / sizeof s_records[0]; i++) {
        char *val = NULL;
        size_t len = 0;
        int found = store_get_raw (self, &s_records[i].key, 1, &val, &len, err);
        if (found < 0)
            goto fail;
        if (!found)
            continue; /* every record but 'v' may be absent */
        bool ok = s_decode_record (self, st, s_records[i].key, val, len);
        leveldb_free (val);
        if (!ok) {
            store_err_set (err, "%s is malformed", s_records[i].what);
            goto fail;
        }
    }
    st->gen = self->gen;
    if (s_load_log (self, st, err) != 0 || s_check (st, err) != 0)
        goto fail;
    /* Checked as format 1 first: only a sound database is upgraded. */
    if (rc == 2) {
        if (store_upgrade_1 (self, self->gen, &st->upgraded_keys, err) != 0)
            goto fail;
        st->upgraded = true;
    }
    return 0;
fail:
    store_state_clear (st);
    return -1;
}

int
store_load (store_t *self, store_state_t *st, char **err)
{
    memset (st, 0, sizeof *st);
    if ((!STORE_BUG_NO_PARANOID && s_verify_all (self, err) != 0) ||
        s_load (self, st, err) != 0) {
        store_corrupt_name_at_start (self->path, err);
        return -1;
    }
    return 0;
}

void
store_state_clear (store_state_t *st)
{
    for (size_t i = 0; i < st->n_entries; i++)
        raft_buf_unref (st->entries[i].data);
    free (st->entries);
    raft_buf_unref (st->base.data);
    raft_buf_unref (st->applied_conf.data);
    memset (st, 0, sizeof *st);
}

int
store_create (store_t *self, const raft_hard_state_t *hs,
              const raft_entry_t *entries, size_t n_entries, char **err)
{
    store_batch_t *b = store_batch_new ();
    if (!b) {
        store_err_set (err, "out of memory");
        return -1;
    }
    const char kv = STORE_KEY_VERSION;
    leveldb_writebatch_put (b->wb, &kv, 1, STORE_FORMAT_VERSION,
                            strlen (STORE_FORMAT_VERSION));
    b->n++;
    store_batch_put_hs (b, hs);
    int rc = 0;
    for (size_t i = 0; i < n_entries && rc == 0; i++)
        if (store_batch_put_entry (b, &entries[i]) != 0) {
            store_err_set (err, "entry %llu cannot be encoded",
                           (unsigned long long)entries[i].index);
            rc = -1;
        }
    if (rc == 0)
        rc = store_write (self, b, true, err);
    store_batch_destroy (&b);
    return rc;
}
