/*  store_batch.c -- batches (store.h): the changes that must reach the
    disk together, built as LevelDB write batches in the key scheme of
    store_format.h and written atomically by store_write; and the KV
    generations that batches write to, switch, and that are deleted once
    nothing reads them.
*/
#include "msg_raft.h"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

/*  ---------------------------------------------------------------------
    Batches                                                              */

store_batch_t *
store_batch_new (void)
{
    store_batch_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->wb = leveldb_writebatch_create ();
    return self;
}

void
store_batch_destroy (store_batch_t **self_p)
{
    store_batch_t *self = *self_p;
    if (!self)
        return;
    leveldb_writebatch_destroy (self->wb);
    free (self->keybuf);
    free (self);
    *self_p = NULL;
}

void
store_batch_clear (store_batch_t *self)
{
    leveldb_writebatch_clear (self->wb);
    self->n = 0;
}

void
store_batch_append (store_batch_t *dst, const store_batch_t *src)
{
    leveldb_writebatch_append (dst->wb, src->wb);
    dst->n += src->n;
}

size_t
store_batch_size (const store_batch_t *self)
{
    return self->n;
}

void
store_batch_put_hs (store_batch_t *self, const raft_hard_state_t *hs)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msg_hs_encode (&buf, hs);
    const char k = STORE_KEY_HS;
    leveldb_writebatch_put (self->wb, &k, 1, buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
    self->n++;
}

void
store_batch_put_applied (store_batch_t *self, raft_index_t applied,
                         raft_term_t term)
{
    const char k = STORE_KEY_APPLIED;
    char v[STORE_APPLIED_LEN];
    store_applied_value (v, applied, term);
    leveldb_writebatch_put (self->wb, &k, 1, v, sizeof v);
    self->n++;
}

/* Put e, encoded as a log entry (msg_entry_encode), under key. */
static int
s_put_encoded (store_batch_t *self, const char *key, size_t key_len,
               const raft_entry_t *e)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    int rc = msg_entry_encode (&buf, e);
    if (rc == 0) {
        leveldb_writebatch_put (self->wb, key, key_len, buf.data, buf.size);
        self->n++;
    }
    msgpack_sbuffer_destroy (&buf);
    return rc;
}

int
store_batch_put_entry (store_batch_t *self, const raft_entry_t *e)
{
    char key[STORE_LOG_KEY_LEN];
    store_log_key (key, e->index);
    return s_put_encoded (self, key, sizeof key, e);
}

int
store_batch_put_base (store_batch_t *self, const raft_entry_t *base)
{
    if (base->type != RAFT_ENTRY_CONF || base->index == 0)
        return -1;
    const char k = STORE_KEY_BASE;
    return s_put_encoded (self, &k, 1, base);
}

void
store_batch_del_entry (store_batch_t *self, raft_index_t index)
{
    char key[STORE_LOG_KEY_LEN];
    store_log_key (key, index);
    leveldb_writebatch_delete (self->wb, key, sizeof key);
    self->n++;
}

void
store_batch_put_kv (store_batch_t *self, const void *key, size_t key_len,
                    const void *value, size_t value_len)
{
    size_t klen;
    char *k = store_kv_key (&self->keybuf, &self->keycap, self->gen, key,
                            key_len, &klen);
    leveldb_writebatch_put (self->wb, k, klen, value, value_len);
    self->n++;
}

void
store_batch_del_kv (store_batch_t *self, const void *key, size_t key_len)
{
    size_t klen;
    char *k = store_kv_key (&self->keybuf, &self->keycap, self->gen, key,
                            key_len, &klen);
    leveldb_writebatch_delete (self->wb, k, klen);
    self->n++;
}

void
store_batch_set_gen (store_batch_t *self, uint64_t gen)
{
    self->gen = gen;
}

void
store_batch_put_gen (store_batch_t *self, uint64_t gen)
{
    const char k = STORE_KEY_GEN;
    char v[STORE_GEN_LEN];
    store_gen_value (v, gen);
    leveldb_writebatch_put (self->wb, &k, 1, v, sizeof v);
    self->n++;
}

int
store_batch_put_conf (store_batch_t *self, const raft_entry_t *conf)
{
    if (conf->type != RAFT_ENTRY_CONF)
        return -1;
    const char k = STORE_KEY_CONF;
    return s_put_encoded (self, &k, 1, conf);
}

/*  ---------------------------------------------------------------------
    Generations of the KV data (store_format.h, invariant 5)             */

uint64_t
store_gen (const store_t *self)
{
    return self->gen;
}

void
store_set_gen (store_t *self, uint64_t gen)
{
    pthread_rwlock_wrlock (&self->gen_lock);
    self->gen = gen;
    pthread_rwlock_unlock (&self->gen_lock);
}

int64_t
store_delete_gen (store_t *self, uint64_t gen, size_t max, bool sync,
                  char **err)
{
    char prefix[STORE_GEN_PREFIX_MAX];
    size_t plen = store_gen_prefix (prefix, gen);
    leveldb_writebatch_t *wb = leveldb_writebatch_create ();
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->scan);
    int64_t n = 0;
    for (leveldb_iter_seek (it, prefix, plen);
         leveldb_iter_valid (it) && (size_t)n < max; leveldb_iter_next (it)) {
        size_t klen, kvl;
        const char *key = leveldb_iter_key (it, &klen), *kv;
        if (!store_kv_key_parse (key, klen, prefix, plen, &kv, &kvl))
            break;
        leveldb_writebatch_delete (wb, key, klen);
        n++;
    }
    char *ldb_err = NULL;
    leveldb_iter_get_error (it, &ldb_err);
    leveldb_iter_destroy (it);
    if (!ldb_err && n)
        leveldb_write (self->db, sync ? self->write_sync : self->write, wb,
                       &ldb_err);
    leveldb_writebatch_destroy (wb);
    if (ldb_err)
        return store_err_ldb (err, "deleting an old generation", ldb_err);
    return n;
}

/*  ---------------------------------------------------------------------
    The write                                                            */

int
store_write (store_t *self, store_batch_t *batch, bool sync, char **err)
{
    char *ldb_err = NULL;
    leveldb_write (self->db, sync ? self->write_sync : self->write, batch->wb,
                   &ldb_err);
    if (ldb_err)
        return store_err_ldb (err, "write", ldb_err);
    return 0;
}
