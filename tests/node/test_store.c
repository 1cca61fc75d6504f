/*  test_store.c -- store/ on its own, below the storage actor: the key
    scheme of store/store_format.h, byte for byte.

      - the key builders and parsers round-trip, and bytewise order of log
        keys is numeric order;
      - what store_create and the batches write is the documented bytes
        (read back through LevelDB's C API, not through store/), so a
        change of the on-disk format cannot pass unnoticed: directories
        written by an earlier build must still open;
      - store_load accepts the older and the non-minimal encodings an
        earlier build could leave ('a' of 8 bytes, a hard state with wide
        integers) and refuses, with a clear error, each broken invariant.
    Copies and digests: test_store_snap.c.

    One line per test; exit status 1 if any CHECK failed. Runs under
    ASan+UBSan with leak checking (the Makefile's test_% rule).
*/
#include "check.h"
#include "fixture.h"
#include "msg_raft.h"
#include "store.h"
#include "store_format.h"

#include <dirent.h>
#include <ftw.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t s_state = 0x9e3779b97f4a7c15ULL;
static uint64_t
s_rand (void)
{
    /* xorshift64*: deterministic, so a failure replays */
    s_state ^= s_state >> 12;
    s_state ^= s_state << 25;
    s_state ^= s_state >> 27;
    return s_state * 2685821657736338717ULL;
}

/* Raw LevelDB access, to see and plant bytes behind store/'s back. */
typedef struct {
    leveldb_t *db;
    leveldb_options_t *o;
    leveldb_readoptions_t *r;
    leveldb_writeoptions_t *w;
} s_raw_t;

static bool
s_raw_open (s_raw_t *raw, const char *dir)
{
    memset (raw, 0, sizeof *raw);
    raw->o = leveldb_options_create ();
    leveldb_options_set_create_if_missing (raw->o, 1);
    raw->r = leveldb_readoptions_create ();
    raw->w = leveldb_writeoptions_create ();
    char *err = NULL;
    raw->db = leveldb_open (raw->o, dir, &err);
    if (err)
        fprintf (stderr, "raw open %s: %s\n", dir, err);
    leveldb_free (err);
    return raw->db != NULL;
}

static void
s_raw_close (s_raw_t *raw)
{
    if (raw->db)
        leveldb_close (raw->db);
    leveldb_options_destroy (raw->o);
    leveldb_readoptions_destroy (raw->r);
    leveldb_writeoptions_destroy (raw->w);
    memset (raw, 0, sizeof *raw);
}

/* Is key's value exactly (v, vlen)? */
static bool
s_raw_is (s_raw_t *raw, const char *key, size_t klen, const void *v,
          size_t vlen)
{
    size_t len = 0;
    char *err = NULL;
    char *got = leveldb_get (raw->db, raw->r, key, klen, &len, &err);
    bool ok = !err && got && len == vlen && memcmp (got, v, vlen) == 0;
    leveldb_free (got);
    leveldb_free (err);
    return ok;
}

static void
s_raw_put (s_raw_t *raw, const char *key, size_t klen, const void *v,
           size_t vlen)
{
    char *err = NULL;
    leveldb_put (raw->db, raw->w, key, klen, v, vlen, &err);
    CHECK (err == NULL);
    leveldb_free (err);
}

static void
s_raw_del (s_raw_t *raw, const char *key, size_t klen)
{
    char *err = NULL;
    leveldb_delete (raw->db, raw->w, key, klen, &err);
    CHECK (err == NULL);
    leveldb_free (err);
}

/* How many keys the database holds. */
static size_t
s_raw_count (s_raw_t *raw)
{
    size_t n = 0;
    leveldb_iterator_t *it = leveldb_create_iterator (raw->db, raw->r);
    for (leveldb_iter_seek_to_first (it); leveldb_iter_valid (it);
         leveldb_iter_next (it))
        n++;
    leveldb_iter_destroy (it);
    return n;
}

/*  ---------------------------------------------------------------------
    Key builders and parsers                                             */

static void
test_format_keys (void)
{
    /* byte order, by hand */
    char k[STORE_LOG_KEY_LEN];
    store_log_key (k, 0x0102030405060708ULL);
    CHECK (memcmp (k, "l\x01\x02\x03\x04\x05\x06\x07\x08", 9) == 0);
    raft_index_t idx = 0;
    CHECK (store_log_key_parse (k, sizeof k, &idx) &&
           idx == 0x0102030405060708ULL);
    /* round trip, and bytewise order is numeric order */
    for (int i = 0; i < 10000; i++) {
        raft_index_t a = s_rand () >> (s_rand () % 64),
                     b = s_rand () >> (s_rand () % 64);
        char ka[9], kb[9];
        store_log_key (ka, a);
        store_log_key (kb, b);
        int c = memcmp (ka, kb, 9);
        CHECK ((c < 0) == (a < b) && (c == 0) == (a == b));
        raft_index_t back = 0;
        CHECK (store_log_key_parse (ka, 9, &back) == (a != 0));
        if (a)
            CHECK (back == a);
    }
    /* not log keys: wrong length, prefix, index 0 */
    CHECK (!store_log_key_parse (k, 8, &idx));
    CHECK (!store_log_key_parse ("k\0\0\0\0\0\0\0\1", 9, &idx));
    CHECK (!store_log_key_parse ("l\0\0\0\0\0\0\0\0", 9, &idx));

    /* KV keys: generation 0 is 'k' + key, the others 'K' gen key */
    char buf[64], p0[STORE_GEN_PREFIX_MAX], p5[STORE_GEN_PREFIX_MAX],
        p6[STORE_GEN_PREFIX_MAX];
    CHECK (store_kv_key_len (0, 3) == 4 && store_kv_key_len (5, 3) == 12);
    CHECK (store_kv_key_build (buf, 0, "a\0b", 3) == 4 &&
           memcmp (buf, "ka\0b", 4) == 0);
    size_t p0l = store_gen_prefix (p0, 0), p5l = store_gen_prefix (p5, 5),
           p6l = store_gen_prefix (p6, 6);
    CHECK (p0l == 1 && p5l == 9 && p6l == 9);
    CHECK (store_kv_key_build (buf, 5, "a\0b", 3) == 12 &&
           memcmp (buf,
                   "K\0\0\0\0\0\0\0\x05"
                   "a\0b",
                   12) == 0);
    const char *kv;
    size_t kvl;
    CHECK (store_kv_key_parse (buf, 12, p5, p5l, &kv, &kvl) && kvl == 3 &&
           memcmp (kv, "a\0b", 3) == 0);
    CHECK (!store_kv_key_parse (buf, 12, p6, p6l, &kv, &kvl));
    CHECK (!store_kv_key_parse (buf, 12, p0, p0l, &kv, &kvl));
    /* the empty key */
    CHECK (store_kv_key_build (buf, 0, NULL, 0) == 1 && buf[0] == 'k');
    CHECK (store_kv_key_parse (buf, 1, p0, p0l, &kv, &kvl) && kvl == 0);

    /* 'a' and 'g' values */
    char v[STORE_APPLIED_LEN];
    store_applied_value (v, 7, 3);
    CHECK (memcmp (v, "\0\0\0\0\0\0\0\x07\0\0\0\0\0\0\0\x03", 16) == 0);
    raft_index_t ai = 0;
    raft_term_t at = 99;
    CHECK (store_applied_parse (v, 16, &ai, &at) && ai == 7 && at == 3);
    CHECK (store_applied_parse (v, 8, &ai, &at) && ai == 7 && at == 0);
    CHECK (!store_applied_parse (v, 12, &ai, &at));
    CHECK (!store_applied_parse (v, 0, &ai, &at));
    char g[STORE_GEN_LEN];
    uint64_t gen = 0;
    store_gen_value (g, 0x1122334455667788ULL);
    CHECK (store_gen_parse (g, 8, &gen) && gen == 0x1122334455667788ULL);
    CHECK (!store_gen_parse (g, 7, &gen));
}

/*  ---------------------------------------------------------------------
    The bytes on disk                                                    */

/* The encoding msg/ gives e (checked by tests/msg): what 'l', 'b' and 'c'
   must hold. */
static bool
s_raw_is_entry (s_raw_t *raw, const char *key, size_t klen,
                const raft_entry_t *e)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    bool ok = msg_entry_encode (&buf, e) == 0 &&
              s_raw_is (raw, key, klen, buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
    return ok;
}

static void
test_golden_bytes (void)
{
    const char *dir = fixture_path ("golden");
    char *err = NULL;
    store_t *st = store_open (dir, &err);
    CHECK (st != NULL);
    if (!st)
        return;
    store_state_t ss;
    CHECK (store_load (st, &ss, &err) == 0 && ss.fresh);
    raft_entry_t boot = fixture_conf_entry (1, 1, 3);
    raft_hard_state_t hs = {1, 0};
    CHECK (store_create (st, &hs, &boot, 1, &err) == 0);
    raft_entry_t noop = {.index = 2, .term = 4, .type = RAFT_ENTRY_NOOP};
    raft_entry_t put = {.index = 3,
                        .term = 4,
                        .type = RAFT_ENTRY_NORMAL,
                        .data = raft_buf_new ("cmd", 3)};
    store_batch_t *b = store_batch_new ();
    hs = (raft_hard_state_t){300, 2};
    store_batch_put_hs (b, &hs);
    CHECK (store_batch_put_entry (b, &noop) == 0);
    CHECK (store_batch_put_entry (b, &put) == 0);
    store_batch_put_applied (b, 3, 4);
    CHECK (store_batch_put_conf (b, &boot) == 0);
    store_batch_put_kv (b, "foo", 3, "bar", 3);
    store_batch_put_kv (b, "", 0, "empty key", 9);
    store_batch_set_gen (b, 2);
    store_batch_put_kv (b, "foo", 3, "staged", 6);
    store_batch_put_gen (b, 1);
    raft_entry_t base = fixture_conf_entry (2, 4, 3);
    CHECK (store_batch_put_base (b, &base) == 0);
    store_batch_del_entry (b, 1);
    store_batch_del_entry (b, 2);
    CHECK (store_batch_size (b) == 12);
    CHECK (store_write (st, b, true, &err) == 0);
    store_batch_destroy (&b);
    store_close (&st);

    s_raw_t raw;
    CHECK (s_raw_open (&raw, dir));
    CHECK (s_raw_is (&raw, "v", 1, "2", 1));
    /* [300, 2]: fixarray 2, uint16 300, fixint 2 */
    CHECK (s_raw_is (&raw, "h", 1, "\x92\xcd\x01\x2c\x02", 5));
    CHECK (s_raw_is (&raw, "a", 1, "\0\0\0\0\0\0\0\x03\0\0\0\0\0\0\0\x04", 16));
    CHECK (s_raw_is (&raw, "g", 1, "\0\0\0\0\0\0\0\x01", 8));
    CHECK (s_raw_is_entry (&raw, "c", 1, &boot));
    CHECK (s_raw_is_entry (&raw, "b", 1, &base));
    CHECK (!s_raw_is_entry (&raw, "l\0\0\0\0\0\0\0\x02", 9, &noop));
    CHECK (s_raw_is_entry (&raw, "l\0\0\0\0\0\0\0\x03", 9, &put));
    CHECK (s_raw_is (&raw, "kfoo", 4, "bar", 3));
    CHECK (s_raw_is (&raw, "k", 1, "empty key", 9));
    CHECK (s_raw_is (&raw,
                     "K\0\0\0\0\0\0\0\x02"
                     "foo",
                     12, "staged", 6));
    /* and nothing else: v h a g c b l3 kfoo k K2foo (l1, l2 deleted) */
    CHECK (s_raw_count (&raw) == 10);
    s_raw_close (&raw);

    /* what was written reads back; generation 1 has no keys yet */
    st = store_open (dir, &err);
    CHECK (st && store_load (st, &ss, &err) == 0);
    if (err)
        fprintf (stderr, "     %s\n", err);
    free (err);
    err = NULL;
    if (st) {
        CHECK (!ss.fresh && ss.hs.term == 300 && ss.hs.vote == 2);
        CHECK (ss.applied == 3 && ss.applied_term == 4 && ss.gen == 1);
        CHECK (ss.base.index == 2 && ss.n_entries == 1 &&
               ss.entries[0].index == 3);
        CHECK (ss.applied_conf.index == 1 &&
               raft_entry_conf (&ss.applied_conf));
        store_state_clear (&ss);
        CHECK (store_get_kv (st, "foo", 3, NULL, &err) == 0);
        store_set_gen (st, 0);
        raft_buf_t *v = NULL;
        CHECK (store_read_kv (st, "foo", 3, &v, &err) == 1 && v &&
               v->len == 3 && memcmp (v->data, "bar", 3) == 0);
        raft_buf_unref (v);
        store_close (&st);
    }
    raft_buf_unref (boot.data);
    raft_buf_unref (base.data);
    raft_buf_unref (put.data);
}

/*  ---------------------------------------------------------------------
    store_load on planted bytes                                          */

/* A database stamped with version 1, a log 1..3 (NOOPs, term 1), then the
   records given as (key, klen, value, vlen) put raw. */
typedef struct {
    const char *key;
    size_t klen;
    const char *val;
    size_t vlen;
} s_rec_t;

static void
s_plant (const char *dir, const s_rec_t *recs, size_t n)
{
    s_raw_t raw;
    CHECK (s_raw_open (&raw, dir));
    s_raw_put (&raw, "v", 1, "1", 1);
    for (raft_index_t i = 1; i <= 3; i++) {
        raft_entry_t e = {.index = i, .term = 1, .type = RAFT_ENTRY_NOOP};
        char k[STORE_LOG_KEY_LEN];
        store_log_key (k, i);
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        CHECK (msg_entry_encode (&buf, &e) == 0);
        s_raw_put (&raw, k, sizeof k, buf.data, buf.size);
        msgpack_sbuffer_destroy (&buf);
    }
    for (size_t i = 0; i < n; i++)
        if (recs[i].val)
            s_raw_put (&raw, recs[i].key, recs[i].klen, recs[i].val,
                       recs[i].vlen);
        else
            s_raw_del (&raw, recs[i].key, recs[i].klen);
    s_raw_close (&raw);
}

/* Load dir: 0 and *st, or -1 and the error in *why (freed here). */
static int
s_load (const char *dir, store_state_t *st, char why[256])
{
    char *err = NULL;
    why[0] = 0;
    store_t *s = store_open (dir, &err);
    int rc = s ? store_load (s, st, &err) : -1;
    if (err)
        snprintf (why, 256, "%s", err);
    free (err);
    store_close (&s);
    return rc;
}

#define S_REC(k, v)                                                            \
    {                                                                          \
        k, sizeof (k) - 1, v, sizeof (v) - 1                                   \
    }

static void
test_load_older (void)
{
    /* an older database's 8-byte 'a' (term unknown), and a hard state
       with integers wider than needed (uint64 term, uint8 vote): an
       earlier reader took both, so this one must */
    const s_rec_t recs[] = {
        S_REC ("a", "\0\0\0\0\0\0\0\x02"),
        S_REC ("h", "\x92\xcf\0\0\0\0\0\0\0\x07\xcc\x01"),
    };
    const char *dir = fixture_path ("older");
    s_plant (dir, recs, 2);
    store_state_t st;
    char why[256];
    CHECK (s_load (dir, &st, why) == 0);
    if (why[0])
        fprintf (stderr, "     %s\n", why);
    CHECK (st.applied == 2 && st.applied_term == 0);
    CHECK (st.hs.term == 7 && st.hs.vote == 1);
    CHECK (st.n_entries == 3 && st.gen == 0 && st.base.index == 0);
    store_state_clear (&st);
}

static void
test_load_refuses (void)
{
    struct {
        const char *name;
        s_rec_t rec;
        const char *why; /* in the error */
    } cases[] = {
        {"hs3", S_REC ("h", "\x93\x01\x02\x03"), "hard state is malformed"},
        {"hs1", S_REC ("h", "\x92\x01"), "hard state is malformed"},
        {"hsstr", S_REC ("h", "\x92\xa1x\x01"), "hard state is malformed"},
        {"hsneg", S_REC ("h", "\x92\xff\x01"), "hard state is malformed"},
        {"hsbig", S_REC ("h", "\xdd\xff\xff\xff\xff"),
         "hard state is malformed"},
        {"hstrail", S_REC ("h", "\x92\x01\x01\x01"), "hard state is malformed"},
        {"applied", S_REC ("a", "\0\0\0\0\0\0\0\0\x01\x02\x03\x04"),
         "applied index is malformed"},
        {"gen", S_REC ("g", "\0\0\0\0\0\0\x01"), "KV generation is malformed"},
        {"conf", S_REC ("c", "\x94\x01\x01\x01\xc0"),
         "applied configuration is malformed"},
        {"base", S_REC ("b", "\x94\x01\x01\x01\xc0"), "log base is malformed"},
        {"logkey", S_REC ("l\0\0\0\x01", "x"), "malformed key"},
        {"logval", S_REC ("l\0\0\0\0\0\0\0\x02", "\x94"),
         "entry 2 is malformed"},
        /* entry 3 stored under 4: a gap after 3 */
        {"gap", S_REC ("l\0\0\0\0\0\0\0\x05", "\x94\x01\x05\x01\xc0"),
         "not contiguous"},
        {"moved", S_REC ("l\0\0\0\0\0\0\0\x04", "\x94\x01\x09\x01\xc0"),
         "not contiguous"},
        {"beyond", S_REC ("a", "\0\0\0\0\0\0\0\x04\0\0\0\0\0\0\0\x01"),
         "beyond the log's end"},
        {"version", S_REC ("v", "3"), "unknown storage format version"},
        {"noversion", {"v", 1, NULL, 0}, "not an nsxd database"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *dir = fixture_path (cases[i].name);
        s_plant (dir, &cases[i].rec, 1);
        store_state_t st;
        char why[256];
        int rc = s_load (dir, &st, why);
        bool ok = rc == -1 && strstr (why, cases[i].why);
        if (!ok)
            fprintf (stderr, "     %s: rc %d, \"%s\"\n", cases[i].name, rc,
                     why);
        CHECK (ok);
        if (rc == 0)
            store_state_clear (&st);
    }
    /* the base past the applied index (a compaction ahead of a lost
       apply), with a log that follows the base */
    raft_entry_t base = fixture_conf_entry (3, 1, 1);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    CHECK (msg_entry_encode (&buf, &base) == 0);
    const s_rec_t recs[] = {
        {"b", 1, buf.data, buf.size},
        S_REC ("a", "\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0\x01"),
        {"l\0\0\0\0\0\0\0\x01", 9, NULL, 0},
        {"l\0\0\0\0\0\0\0\x02", 9, NULL, 0},
        {"l\0\0\0\0\0\0\0\x03", 9, NULL, 0},
    };
    s_plant (fixture_path ("basepast"), recs, 5);
    store_state_t st;
    char why[256];
    CHECK (s_load (fixture_path ("basepast"), &st, why) == -1 &&
           strstr (why, "before the log's base"));
    msgpack_sbuffer_destroy (&buf);
    raft_buf_unref (base.data);
}

int
main (void)
{
    check_watchdog ("test_store", 120);
    if (!fixture_tmpdir ("test_store"))
        return 1;
    CHECK_RUN (test_format_keys);
    CHECK_RUN (test_golden_bytes);
    CHECK_RUN (test_load_older);
    CHECK_RUN (test_load_refuses);
    fixture_tmpdir_remove ();
    return check_report ();
}
