/*  store_lease.c -- leases in LevelDB (store_lease.h).
*/
#include "store_lease.h"

#include "msg_kv_lease.h"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

static void
s_key (char k[STORE_LEASE_KEY_LEN], uint64_t id)
{
    k[0] = STORE_KEY_LEASE;
    store_be64_put (k + 1, id);
}

int
store_leases_read (store_t *self, const leveldb_readoptions_t *ro,
                   kvsm_leases_t **out, char **err)
{
    if (!ro)
        ro = self->read;
    *out = NULL;
    kvsm_leases_t *t = kvsm_leases_new ();
    if (!t) {
        store_err_set (err, "out of memory for the lease table");
        return -1;
    }
    char *ldb_err = NULL, prefix = STORE_KEY_LEASE;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, ro);
    int rc = 0;
    for (leveldb_iter_seek (it, &prefix, 1); rc == 0 && leveldb_iter_valid (it);
         leveldb_iter_next (it)) {
        size_t kl, vl;
        const char *k = leveldb_iter_key (it, &kl);
        if (kl < 1 || k[0] != STORE_KEY_LEASE)
            break;
        const char *val = leveldb_iter_value (it, &vl);
        uint64_t id = 0;
        /* insert refuses a key in two leases and the bounds: (9) */
        if (kl != STORE_LEASE_KEY_LEN ||
            msg_kv_lease_decode (t, val, vl, &id) != 0 ||
            id != store_be64_get (k + 1)) {
            store_err_set (err, "a stored lease record is damaged");
            rc = -1;
        }
    }
    leveldb_iter_get_error (it, &ldb_err);
    leveldb_iter_destroy (it);
    if (ldb_err && rc == 0)
        rc = store_err_ldb (err, "lease read", ldb_err);
    else if (ldb_err)
        leveldb_free (ldb_err);
    if (rc != 0)
        kvsm_leases_destroy (&t);
    *out = t;
    return rc;
}

int
store_batch_lease (store_batch_t *b, const kvsm_leases_t *t, uint64_t id)
{
    char k[STORE_LEASE_KEY_LEN];
    s_key (k, id);
    const kvsm_lease_t *l = kvsm_leases_find (t, id);
    b->n++;
    if (!l) {
        leveldb_writebatch_delete (b->wb, k, sizeof k);
        return 0;
    }
    raft_buf_t *v = msg_kv_lease_encode (l);
    if (!v)
        return -1;
    leveldb_writebatch_put (b->wb, k, sizeof k, (const char *)v->data, v->len);
    raft_buf_unref (v);
    return 0;
}

int
store_batch_leases_replace (store_t *self, store_batch_t *b,
                            const kvsm_leases_t *old,
                            const kvsm_leases_t *new_t, char **err)
{
    /* the stored keys by their names alone: a damaged record goes too */
    char *ldb_err = NULL, prefix = STORE_KEY_LEASE;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    for (leveldb_iter_seek (it, &prefix, 1); leveldb_iter_valid (it);
         leveldb_iter_next (it)) {
        size_t kl;
        const char *k = leveldb_iter_key (it, &kl);
        if (kl < 1 || k[0] != STORE_KEY_LEASE)
            break;
        leveldb_writebatch_delete (b->wb, k, kl);
        b->n++;
    }
    leveldb_iter_get_error (it, &ldb_err);
    leveldb_iter_destroy (it);
    if (ldb_err)
        return store_err_ldb (err, "lease read", ldb_err);
    char k[STORE_LEASE_KEY_LEN];
    for (size_t i = 0; old && i < old->n; i++) {
        s_key (k, old->v[i].id);
        leveldb_writebatch_delete (b->wb, k, sizeof k);
        b->n++;
    }
    for (size_t i = 0; i < new_t->n; i++)
        if (store_batch_lease (b, new_t, new_t->v[i].id) != 0) {
            store_err_set (err, "a lease cannot be encoded");
            return -1;
        }
    return 0;
}
