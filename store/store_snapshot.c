/*  store_snapshot.c -- reads of the KV data at one instant (store.h): the
    copy a leader sends a follower as InstallSnapshot (store_snap_*), and
    the digest two replicas compare (store_digest). Both read through a
    LevelDB snapshot, so that the generation, the applied index and every
    pair come from the same instant while the owner goes on writing.

    Receiving a snapshot is a write: the storage actor stages it in
    generation g + 1 with batches (store_batch.c, store_format.h
    invariant 6).
*/
#include "msg_kv_lease.h"
#include "msg_kv_session.h"
#include "msg_raft.h"
#include "store_int.h"
#include "store_lease.h"
#include "store_session.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* A view of the database at one instant. Its reads verify checksums and
   leave the block cache alone: a full scan would evict the hot KV
   blocks. */
typedef struct {
    const leveldb_snapshot_t *snap;
    leveldb_readoptions_t *read;
} s_view_t;

static void
s_view_open (store_t *self, s_view_t *v)
{
    v->snap = leveldb_create_snapshot (self->db);
    v->read = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (v->read, 1);
    leveldb_readoptions_set_fill_cache (v->read, 0);
    leveldb_readoptions_set_snapshot (v->read, v->snap);
}

static void
s_view_close (store_t *self, s_view_t *v)
{
    if (v->read)
        leveldb_readoptions_destroy (v->read);
    if (v->snap)
        leveldb_release_snapshot (self->db, v->snap);
    memset (v, 0, sizeof *v);
}

/* The one-byte key k in the view: its value (leveldb_free it) or NULL,
   and on a read error *ldb_err (then NULL). Nothing is read once
   *ldb_err is set, so a sequence of reads stops at the first error. */
static char *
s_view_get (store_t *self, const s_view_t *v, char k, size_t *len,
            char **ldb_err)
{
    if (*ldb_err)
        return NULL;
    return leveldb_get (self->db, v->read, &k, 1, len, ldb_err);
}

/* The view's KV generation ('g'; absent: 0). */
static uint64_t
s_view_gen (store_t *self, const s_view_t *v, char **ldb_err)
{
    uint64_t gen = 0;
    size_t len;
    char *val = s_view_get (self, v, STORE_KEY_GEN, &len, ldb_err);
    if (val && !store_gen_parse (val, len, &gen))
        gen = 0;
    leveldb_free (val);
    return gen;
}

/*  ---------------------------------------------------------------------
    The copy sent as InstallSnapshot                                     */

struct store_snap {
    store_t *store;
    s_view_t view;
    leveldb_iterator_t *it;
    char prefix[STORE_GEN_PREFIX_MAX];
    size_t plen;
    raft_buf_t *sessions; /* the table at this instant, or NULL: empty */
    raft_buf_t *leases;   /* the lease table likewise (store_lease.h) */
};

store_snap_t *
store_snap_open (store_t *self, raft_index_t *index, raft_term_t *term,
                 raft_entry_t *conf, char **err)
{
    store_snap_t *sn = calloc (1, sizeof *sn);
    if (!sn) {
        store_err_set (err, "out of memory");
        return NULL;
    }
    sn->store = self;
    s_view_open (self, &sn->view);
    /* Everything read below comes from the same instant. */
    char *ldb_err = NULL, *v;
    size_t len;
    uint64_t gen = s_view_gen (self, &sn->view, &ldb_err);
    v = s_view_get (self, &sn->view, STORE_KEY_APPLIED, &len, &ldb_err);
    /* an older database's 8-byte 'a' has no term: nothing to send yet */
    bool ok = v && len == STORE_APPLIED_LEN &&
              store_applied_parse (v, len, index, term);
    leveldb_free (v);
    memset (conf, 0, sizeof *conf);
    v = ok ? s_view_get (self, &sn->view, STORE_KEY_CONF, &len, &ldb_err)
           : NULL;
    ok = ok && v && msg_entry_decode (v, len, conf) == 0 &&
         conf->type == RAFT_ENTRY_CONF && raft_entry_conf (conf);
    leveldb_free (v);
    if (ldb_err || !ok || *index == 0 || *term == 0) {
        if (ldb_err)
            store_err_ldb (err, "snapshot read", ldb_err);
        else
            store_err_set (err, "no applied index, term and configuration "
                                "to snapshot");
        raft_buf_unref (conf->data);
        conf->data = NULL;
        store_snap_close (&sn);
        return NULL;
    }
    /* the client sessions of the same instant (store_session.h) */
    kvsm_sessions_t *t = NULL;
    if (store_sessions_read (self, sn->view.read, &t, err) != 0) {
        raft_buf_unref (conf->data);
        conf->data = NULL;
        store_snap_close (&sn);
        return NULL;
    }
    if (t->n || t->clock_ms)
        sn->sessions = msg_kv_sessions_encode (t);
    bool lost = (t->n || t->clock_ms) && !sn->sessions;
    kvsm_sessions_destroy (&t);
    /* and its leases (store_lease.h) */
    kvsm_leases_t *lt = NULL;
    if (!lost && store_leases_read (self, sn->view.read, &lt, err) != 0) {
        raft_buf_unref (conf->data);
        conf->data = NULL;
        store_snap_close (&sn);
        return NULL;
    }
    if (lt && lt->n && !(sn->leases = msg_kv_leases_encode (lt)))
        lost = true;
    kvsm_leases_destroy (&lt);
    if (lost) {
        store_err_set (err, "the session or lease table cannot be encoded");
        raft_buf_unref (conf->data);
        conf->data = NULL;
        store_snap_close (&sn);
        return NULL;
    }
    sn->plen = store_gen_prefix (sn->prefix, gen);
    sn->it = leveldb_create_iterator (self->db, sn->view.read);
    leveldb_iter_seek (sn->it, sn->prefix, sn->plen);
    return sn;
}

int
store_snap_next (store_snap_t *sn, const char **key, size_t *key_len,
                 const char **value, size_t *value_len)
{
    if (!leveldb_iter_valid (sn->it))
        return 0;
    size_t klen;
    const char *k = leveldb_iter_key (sn->it, &klen);
    if (!store_kv_key_parse (k, klen, sn->prefix, sn->plen, key, key_len))
        return 0;
    *value = leveldb_iter_value (sn->it, value_len);
    return 1;
}

void
store_snap_advance (store_snap_t *sn)
{
    leveldb_iter_next (sn->it);
}

int
store_snap_error (store_snap_t *sn, char **err)
{
    char *ldb_err = NULL;
    leveldb_iter_get_error (sn->it, &ldb_err);
    if (!ldb_err)
        return 0;
    store_err_ldb (err, "snapshot read", ldb_err);
    store_corrupt_name (sn->store, err);
    return -1;
}

void
store_snap_close (store_snap_t **sn_p)
{
    store_snap_t *sn = *sn_p;
    if (!sn)
        return;
    if (sn->it)
        leveldb_iter_destroy (sn->it);
    raft_buf_unref (sn->sessions);
    raft_buf_unref (sn->leases);
    s_view_close (sn->store, &sn->view);
    free (sn);
    *sn_p = NULL;
}

/*  ---------------------------------------------------------------------
    The digest                                                           */

static void
s_hash_len (crypto_generichash_state *h, uint64_t n)
{
    char be[8];
    store_be64_put (be, n);
    crypto_generichash_update (h, (const uint8_t *)be, sizeof be);
}

int
store_digest (store_t *self, raft_index_t *applied, uint64_t *keys,
              uint8_t digest[STORE_DIGEST_BYTES], char **err)
{
    s_view_t view;
    s_view_open (self, &view);
    /* the generation and applied index of the same instant as the pairs */
    char *ldb_err = NULL;
    size_t len;
    raft_term_t term;
    *applied = 0;
    *keys = 0;
    uint64_t gen = s_view_gen (self, &view, &ldb_err);
    char *v = s_view_get (self, &view, STORE_KEY_APPLIED, &len, &ldb_err);
    if (v && !store_applied_parse (v, len, applied, &term))
        *applied = 0;
    leveldb_free (v);
    crypto_generichash_state h;
    crypto_generichash_init (&h, NULL, 0, STORE_DIGEST_BYTES);
    char prefix[STORE_GEN_PREFIX_MAX];
    size_t plen = store_gen_prefix (prefix, gen);
    leveldb_iterator_t *it =
        ldb_err ? NULL : leveldb_create_iterator (self->db, view.read);
    if (it) {
        for (leveldb_iter_seek (it, prefix, plen); leveldb_iter_valid (it);
             leveldb_iter_next (it)) {
            size_t kl, kvl, vl;
            const char *k = leveldb_iter_key (it, &kl), *kv;
            if (!store_kv_key_parse (k, kl, prefix, plen, &kv, &kvl))
                break;
            const char *val = leveldb_iter_value (it, &vl);
            s_hash_len (&h, kvl);
            crypto_generichash_update (&h, (const uint8_t *)kv, kvl);
            s_hash_len (&h, vl);
            crypto_generichash_update (&h, (const uint8_t *)val, vl);
            (*keys)++;
        }
        leveldb_iter_get_error (it, &ldb_err);
        leveldb_iter_destroy (it);
    }
    crypto_generichash_final (&h, digest, STORE_DIGEST_BYTES);
    s_view_close (self, &view);
    if (ldb_err)
        return store_err_ldb (err, "digest", ldb_err);
    return 0;
}

const raft_buf_t *
store_snap_sessions (store_snap_t *sn)
{
    return sn->sessions;
}

const raft_buf_t *
store_snap_leases (store_snap_t *sn)
{
    return sn->leases;
}
