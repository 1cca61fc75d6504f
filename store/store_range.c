/*  store_range.c -- a page of KV records in key order, read from one
    LevelDB snapshot (store.h, store_range): the generation, the applied
    index and every record of the page come from the same instant while
    the owner goes on writing. Safe from any thread (reads only).
*/
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

int
store_range (store_t *self, const void *start, size_t start_len,
             const void *end, size_t end_len, size_t limit,
             raft_index_t *applied, bool *more, store_range_fn_t fn, void *ctx,
             char **err)
{
    const leveldb_snapshot_t *snap = leveldb_create_snapshot (self->db);
    leveldb_readoptions_t *ro = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (ro, 1);
    leveldb_readoptions_set_snapshot (ro, snap);
    char *ldb_err = NULL;
    size_t len;
    raft_term_t term;
    uint64_t gen = 0;
    *applied = 0;
    *more = false;
    const char kg = STORE_KEY_GEN, ka = STORE_KEY_APPLIED;
    char *v = leveldb_get (self->db, ro, &kg, 1, &len, &ldb_err);
    if (v && !store_gen_parse (v, len, &gen))
        gen = 0;
    leveldb_free (v);
    v = ldb_err ? NULL : leveldb_get (self->db, ro, &ka, 1, &len, &ldb_err);
    if (v && !store_applied_parse (v, len, applied, &term))
        *applied = 0;
    leveldb_free (v);
    char prefix[STORE_GEN_PREFIX_MAX];
    size_t plen = store_gen_prefix (prefix, gen);
    char *from = malloc (plen + start_len + 1);
    if (!from)
        abort (); /* as store_kv_key: LevelDB aborts on allocation failure */
    memcpy (from, prefix, plen);
    if (start_len)
        memcpy (from + plen, start, start_len);
    leveldb_iterator_t *it =
        ldb_err ? NULL : leveldb_create_iterator (self->db, ro);
    size_t n = 0;
    int rc = 0;
    if (it) {
        for (leveldb_iter_seek (it, from, plen + start_len);
             leveldb_iter_valid (it); leveldb_iter_next (it)) {
            size_t kl, kvl, vl;
            const char *k = leveldb_iter_key (it, &kl), *kv;
            if (!store_kv_key_parse (k, kl, prefix, plen, &kv, &kvl))
                break;
            if (end) {
                size_t m = kvl < end_len ? kvl : end_len;
                int c = m ? memcmp (kv, end, m) : 0;
                if (c > 0 || (c == 0 && kvl >= end_len))
                    break; /* at or past end */
            }
            if (n == limit) {
                *more = true;
                break;
            }
            const char *val = leveldb_iter_value (it, &vl);
            if (fn (ctx, kv, kvl, val, vl) != 0) {
                rc = -1;
                store_err_set (err, "range: out of memory");
                break;
            }
            n++;
        }
        leveldb_iter_get_error (it, &ldb_err);
        leveldb_iter_destroy (it);
    }
    free (from);
    leveldb_readoptions_destroy (ro);
    leveldb_release_snapshot (self->db, snap);
    if (ldb_err) {
        rc = store_err_ldb (err, "range", ldb_err);
        store_corrupt_name (self, err);
    }
    return rc;
}
