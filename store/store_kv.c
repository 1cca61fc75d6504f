/*  store_kv.c -- reads of the KV data (store.h: store_get_kv by the
    owner, store_read_kv from any thread) in the generation that is the
    data now ('g', store_format.h), and the KV keys they and the batches
    build.
*/
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>

char *
store_kv_key (char **buf, size_t *cap, uint64_t gen, const void *key,
              size_t len, size_t *out_len)
{
    size_t need = store_kv_key_len (gen, len);
    if (*cap < need) {
        char *nb = realloc (*buf, need);
        if (!nb) {
            fprintf (stderr, "store: out of memory for a %zu-byte key\n", len);
            abort ();
        }
        *buf = nb;
        *cap = need;
    }
    *out_len = store_kv_key_build (*buf, gen, key, len);
    return *buf;
}

/* Look k up; on 1 (found), *value (if value is not NULL) gets a copy. */
static int
s_get_kv_at (store_t *self, const char *k, size_t klen, raft_buf_t **value,
             char **err)
{
    char *val = NULL;
    size_t len = 0;
    int found = store_get_raw (self, k, klen, &val, &len, err);
    if (found <= 0)
        return found;
    int rc = 1;
    if (value) {
        *value = raft_buf_new (val, len);
        if (!*value) {
            store_err_set (err, "out of memory for a %zu-byte value", len);
            rc = -1;
        }
    }
    leveldb_free (val);
    return rc;
}

int
store_get_kv (store_t *self, const void *key, size_t key_len,
              raft_buf_t **value, char **err)
{
    size_t klen;
    char *k = store_kv_key (&self->keybuf, &self->keycap, self->gen, key,
                            key_len, &klen);
    int rc = s_get_kv_at (self, k, klen, value, err);
    if (rc < 0)
        store_corrupt_name (self, err);
    return rc;
}

int
store_read_kv (store_t *self, const void *key, size_t key_len,
               raft_buf_t **value, char **err)
{
    /* Not self->keybuf: that belongs to the owner's thread. */
    char *buf = NULL;
    size_t cap = 0, klen;
    pthread_rwlock_rdlock (&self->gen_lock);
    char *k = store_kv_key (&buf, &cap, self->gen, key, key_len, &klen);
    int rc = s_get_kv_at (self, k, klen, value, err);
    pthread_rwlock_unlock (&self->gen_lock);
    free (buf);
    if (rc < 0)
        store_corrupt_name (self, err);
    return rc;
}
