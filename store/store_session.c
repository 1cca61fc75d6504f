/*  store_session.c -- client sessions in LevelDB (store_session.h).
*/
#include "store_session.h"

#include "msg_kv_session.h"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

static void
s_key (char k[STORE_SESSION_KEY_LEN], uint64_t id)
{
    k[0] = STORE_KEY_SESSION;
    store_be64_put (k + 1, id);
}

int
store_sessions_read (store_t *self, const leveldb_readoptions_t *ro,
                     kvsm_sessions_t **out, char **err)
{
    if (!ro)
        ro = self->read;
    *out = NULL;
    kvsm_sessions_t *t = kvsm_sessions_new ();
    if (!t) {
        store_err_set (err, "out of memory for the session table");
        return -1;
    }
    char *ldb_err = NULL, ck = STORE_KEY_SESSION_CLOCK;
    size_t len;
    char *v = leveldb_get (self->db, ro, &ck, 1, &len, &ldb_err);
    if (ldb_err) {
        kvsm_sessions_destroy (&t);
        return store_err_ldb (err, "session clock read", ldb_err);
    }
    if (v && len == 8)
        t->clock_ms = store_be64_get (v);
    bool bad_clock = v && len != 8;
    leveldb_free (v);
    if (bad_clock) {
        kvsm_sessions_destroy (&t);
        store_err_set (err, "the session clock ('S') is damaged");
        return -1;
    }
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, ro);
    char prefix = STORE_KEY_SESSION;
    int rc = 0;
    for (leveldb_iter_seek (it, &prefix, 1); rc == 0 && leveldb_iter_valid (it);
         leveldb_iter_next (it)) {
        size_t kl, vl;
        const char *k = leveldb_iter_key (it, &kl);
        if (kl < 1 || k[0] != STORE_KEY_SESSION)
            break;
        const char *val = leveldb_iter_value (it, &vl);
        kvsm_session_t s;
        if (kl != STORE_SESSION_KEY_LEN ||
            msg_kv_session_decode (val, vl, &s) != 0 ||
            s.id != store_be64_get (k + 1)) {
            store_err_set (err, "a stored session record is damaged");
            rc = -1;
        } else if (kvsm_sessions_insert (t, &s) != 0) {
            store_err_set (err, "too many stored sessions");
            rc = -1;
        }
    }
    leveldb_iter_get_error (it, &ldb_err);
    leveldb_iter_destroy (it);
    if (ldb_err && rc == 0)
        rc = store_err_ldb (err, "session read", ldb_err);
    else if (ldb_err)
        leveldb_free (ldb_err);
    if (rc != 0)
        kvsm_sessions_destroy (&t);
    *out = t;
    return rc;
}

int
store_batch_session (store_batch_t *b, const kvsm_sessions_t *t, uint64_t id)
{
    char k[STORE_SESSION_KEY_LEN];
    s_key (k, id);
    const kvsm_session_t *s = kvsm_sessions_find (t, id);
    b->n++;
    if (!s) {
        leveldb_writebatch_delete (b->wb, k, sizeof k);
        return 0;
    }
    raft_buf_t *v = msg_kv_session_encode (s);
    if (!v)
        return -1;
    leveldb_writebatch_put (b->wb, k, sizeof k, (const char *)v->data, v->len);
    raft_buf_unref (v);
    return 0;
}

void
store_batch_sessions_clock (store_batch_t *b, uint64_t clock_ms)
{
    char k = STORE_KEY_SESSION_CLOCK, v[8];
    store_be64_put (v, clock_ms);
    leveldb_writebatch_put (b->wb, &k, 1, v, sizeof v);
    b->n++;
}

int
store_batch_sessions_replace (store_t *self, store_batch_t *b,
                              const kvsm_sessions_t *old,
                              const kvsm_sessions_t *new_t, char **err)
{
    kvsm_sessions_t *stored = NULL;
    if (store_sessions_read (self, NULL, &stored, err) != 0)
        return -1;
    char k[STORE_SESSION_KEY_LEN];
    for (size_t i = 0; i < stored->n; i++) {
        s_key (k, stored->v[i].id);
        leveldb_writebatch_delete (b->wb, k, sizeof k);
        b->n++;
    }
    kvsm_sessions_destroy (&stored);
    for (size_t i = 0; old && i < old->n; i++) {
        s_key (k, old->v[i].id);
        leveldb_writebatch_delete (b->wb, k, sizeof k);
        b->n++;
    }
    for (size_t i = 0; i < new_t->n; i++)
        if (store_batch_session (b, new_t, new_t->v[i].id) != 0) {
            store_err_set (err, "a session cannot be encoded");
            return -1;
        }
    store_batch_sessions_clock (b, new_t->clock_ms);
    return 0;
}
