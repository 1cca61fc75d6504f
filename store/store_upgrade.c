/*  store_upgrade.c -- format 1 -> 2 (store_format.h, "Upgrade"): every KV
    value of the current generation becomes a record with metadata
    {0, 0, 0} ("history unknown"), and 'v' says "2", in one synced batch.
*/
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

int
store_upgrade_1 (store_t *self, uint64_t gen, uint64_t *keys, char **err)
{
    *keys = 0;
    store_batch_t *b = store_batch_new ();
    char *rec = NULL;
    size_t cap = 0;
    if (!b) {
        store_err_set (err, "upgrade: out of memory");
        return -1;
    }
    char prefix[STORE_GEN_PREFIX_MAX];
    size_t plen = store_gen_prefix (prefix, gen);
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->scan);
    int rc = 0;
    for (leveldb_iter_seek (it, prefix, plen);
         rc == 0 && leveldb_iter_valid (it); leveldb_iter_next (it)) {
        size_t kl, kvl, vl;
        const char *k = leveldb_iter_key (it, &kl), *kv;
        if (!store_kv_key_parse (k, kl, prefix, plen, &kv, &kvl))
            break;
        const char *val = leveldb_iter_value (it, &vl);
        if (cap < STORE_REC_HEADER + vl) {
            char *nr = realloc (rec, STORE_REC_HEADER + vl);
            if (!nr) {
                store_err_set (err,
                               "upgrade: out of memory for a %zu-byte "
                               "value",
                               vl);
                rc = -1;
                break;
            }
            rec = nr;
            cap = STORE_REC_HEADER + vl;
        }
        store_rec_header (rec, 0, 0, 0);
        if (vl)
            memcpy (rec + STORE_REC_HEADER, val, vl);
        /* the same LevelDB key: put it back as it was read */
        leveldb_writebatch_put (b->wb, k, kl, rec, STORE_REC_HEADER + vl);
        b->n++;
        (*keys)++;
    }
    char *ldb_err = NULL;
    leveldb_iter_get_error (it, &ldb_err);
    leveldb_iter_destroy (it);
    if (ldb_err) {
        rc = store_err_ldb (err, "upgrade: reading the KV data", ldb_err);
    }
    if (rc == 0) {
        const char kv = STORE_KEY_VERSION;
        leveldb_writebatch_put (b->wb, &kv, 1, STORE_FORMAT_VERSION,
                                strlen (STORE_FORMAT_VERSION));
        b->n++;
        rc = store_write (self, b, true, err);
    }
    free (rec);
    store_batch_destroy (&b);
    return rc;
}
