/*  test_kvsm.c -- the KV state machine alone (store/kvsm.h), over an
    in-memory view: versions, deletes and re-creates, every compare target
    and op, TXN branches and their atomicity, version-1 commands, unknown
    versions, a failing view, and the command and result codecs' bounds
    (msg/msg_kv.c, msg/msg_kv_result.c).
*/
#include "check.h"
#include "kvsm.h"
#include "msg_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  ---------------------------------------------------------------------
    An in-memory view: a small array of records                         */

#define S_MAX 32
typedef struct {
    char key[32];
    kvsm_meta_t meta;
    char value[64];
} s_rec_t;

typedef struct {
    s_rec_t recs[S_MAX];
    size_t n;
    int fail_get; /* fail the get after this many (0: never) */
    int gets;
} s_map_t;

static s_rec_t *
s_find (s_map_t *m, const raft_buf_t *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strlen (m->recs[i].key) == key->len &&
            memcmp (m->recs[i].key, key->data, key->len) == 0)
            return &m->recs[i];
    return NULL;
}

static int
s_get (void *ctx, const raft_buf_t *key, kvsm_rec_t *rec)
{
    s_map_t *m = ctx;
    if (m->fail_get && ++m->gets >= m->fail_get)
        return -1;
    s_rec_t *r = s_find (m, key);
    if (!r)
        return 0;
    rec->meta = r->meta;
    rec->value = raft_buf_new (r->value, strlen (r->value));
    return 1;
}

static int
s_put (void *ctx, const raft_buf_t *key, const kvsm_meta_t *meta,
       const raft_buf_t *value)
{
    s_map_t *m = ctx;
    s_rec_t *r = s_find (m, key);
    if (!r) {
        if (m->n == S_MAX)
            return -1;
        r = &m->recs[m->n++];
        snprintf (r->key, sizeof r->key, "%.*s", (int)key->len,
                  (const char *)key->data);
    }
    r->meta = *meta;
    snprintf (r->value, sizeof r->value, "%.*s", (int)value->len,
              (const char *)value->data);
    return 0;
}

static int
s_del (void *ctx, const raft_buf_t *key)
{
    s_map_t *m = ctx;
    s_rec_t *r = s_find (m, key);
    if (r)
        *r = m->recs[--m->n];
    return 0;
}

static kvsm_view_t
s_view (s_map_t *m)
{
    return (kvsm_view_t){.ctx = m, .get = s_get, .put = s_put, .del = s_del};
}

static raft_buf_t *
s_b (const char *s)
{
    return raft_buf_new (s, strlen (s));
}

/* Apply cmd (taken) at index through an encode/decode round trip, as
   the node does: the log holds the encoded bytes. */
static int
s_apply (s_map_t *m, raft_index_t index, kvsm_cmd_t *cmd, kvsm_result_t *res)
{
    raft_buf_t *data = msg_kv_encode (cmd);
    kvsm_cmd_clear (cmd);
    CHECK (data != NULL);
    if (!data)
        return -1;
    kvsm_cmd_t d;
    int rc = msg_kv_decode (data->data, data->len, &d);
    raft_buf_unref (data);
    CHECK_EQ (rc, 0);
    kvsm_view_t v = s_view (m);
    rc = kvsm_apply (&v, index, &d, res);
    kvsm_cmd_clear (&d);
    return rc;
}

static void
s_put_at (s_map_t *m, raft_index_t index, const char *k, const char *v,
          unsigned version)
{
    kvsm_cmd_t c = {
        .version = version, .op = KVSM_PUT, .key = s_b (k), .value = s_b (v)};
    kvsm_result_t res;
    CHECK_EQ (s_apply (m, index, &c, &res), 0);
    CHECK (res.status == KVSM_OK && res.succeeded && res.n_resps == 1);
    kvsm_result_clear (&res);
}

static bool
s_meta_is (s_map_t *m, const char *k, uint64_t c, uint64_t mod, uint64_t v)
{
    raft_buf_t *key = s_b (k);
    s_rec_t *r = s_find (m, key);
    raft_buf_unref (key);
    return r && r->meta.create_index == c && r->meta.mod_index == mod &&
           r->meta.version == v;
}

static bool
s_value_is (s_map_t *m, const char *k, const char *v)
{
    raft_buf_t *key = s_b (k);
    s_rec_t *r = s_find (m, key);
    raft_buf_unref (key);
    return v ? r && strcmp (r->value, v) == 0 : r == NULL;
}

/*  ---------------------------------------------------------------------
    Tests                                                                */

static void
test_versions (void)
{
    s_map_t m = {0};
    s_put_at (&m, 3, "a", "1", 0);
    CHECK (s_meta_is (&m, "a", 3, 3, 1));
    s_put_at (&m, 5, "a", "2", 0);
    CHECK (s_meta_is (&m, "a", 3, 5, 2) && s_value_is (&m, "a", "2"));
    kvsm_cmd_t del = {.op = KVSM_DEL, .key = s_b ("a")};
    kvsm_result_t res;
    CHECK_EQ (s_apply (&m, 6, &del, &res), 0);
    CHECK (res.n_resps == 1 && res.resps[0].found &&
           res.resps[0].meta.mod_index == 5 && res.n_changes == 1 &&
           res.changes[0].deleted);
    kvsm_result_clear (&res);
    CHECK (s_value_is (&m, "a", NULL));
    /* a delete of nothing changes nothing */
    del = (kvsm_cmd_t){.op = KVSM_DEL, .key = s_b ("a")};
    CHECK_EQ (s_apply (&m, 7, &del, &res), 0);
    CHECK (res.n_resps == 1 && !res.resps[0].found && res.n_changes == 0);
    kvsm_result_clear (&res);
    /* re-created: a new history */
    s_put_at (&m, 9, "a", "3", 0);
    CHECK (s_meta_is (&m, "a", 9, 9, 1));
}

static void
test_v1_commands (void)
{
    s_map_t m = {0};
    /* a version-1 put: history unknown, whatever it overwrites */
    s_put_at (&m, 4, "k", "old", KVSM_CMD_V1);
    CHECK (s_meta_is (&m, "k", 0, 0, 0));
    s_put_at (&m, 5, "n", "x", 0);
    s_put_at (&m, 6, "n", "y", KVSM_CMD_V1);
    CHECK (s_meta_is (&m, "n", 0, 0, 0));
    /* version 2 on an unknown history: create stays 0, version from 1 */
    s_put_at (&m, 8, "k", "new", 0);
    CHECK (s_meta_is (&m, "k", 0, 8, 1));
    s_put_at (&m, 9, "k", "newer", 0);
    CHECK (s_meta_is (&m, "k", 0, 9, 2));
    /* the bytes of a version-1 command are the prototype's */
    kvsm_cmd_t c = {.version = KVSM_CMD_V1,
                    .op = KVSM_PUT,
                    .key = s_b ("k"),
                    .value = s_b ("v")};
    raft_buf_t *b = msg_kv_encode (&c);
    CHECK (b && b->len == 12 &&
           memcmp (b->data, "\x94\x01\xa3put\xc4\x01k\xc4\x01v", 12) == 0);
    raft_buf_unref (b);
    kvsm_cmd_clear (&c);
}

static void
test_unknown_version (void)
{
    s_map_t m = {0};
    kvsm_cmd_t c = {
        .version = 5, .op = KVSM_PUT, .key = s_b ("k"), .value = s_b ("v")};
    kvsm_view_t v = s_view (&m);
    kvsm_result_t res;
    CHECK_EQ (kvsm_apply (&v, 1, &c, &res), 0);
    CHECK (res.status == KVSM_UNKNOWN_VERSION && m.n == 0);
    kvsm_result_clear (&res);
    kvsm_cmd_clear (&c);
    /* the decoder tells a newer version from garbage: -2, not -1 */
    kvsm_cmd_t d;
    CHECK_EQ (msg_kv_decode ("\x94\x05\xa3put\xc4\x01k\xc4\x01v", 12, &d), -2);
    CHECK_EQ (msg_kv_decode ("\x94\x00\xa3put\xc4\x01k\xc4\x01v", 12, &d), -1);
    CHECK_EQ (msg_kv_decode ("\x95\x02\xa3put\xc4\x01k\xc4\x01v", 12, &d), -1);
}

/* key "k" = "m" at {2, 4, 3}: each target and op against it. */
static void
test_compares (void)
{
    kvsm_rec_t rec = {.meta = {2, 4, 3}, .value = s_b ("m")};
    struct {
        kvsm_target_t t;
        kvsm_cmp_op_t op;
        const char *value;
        uint64_t num;
        bool found, want;
    } cases[] = {
        {KVSM_T_VALUE, KVSM_EQ, "m", 0, true, true},
        {KVSM_T_VALUE, KVSM_NE, "m", 0, true, false},
        {KVSM_T_VALUE, KVSM_LT, "n", 0, true, true},
        {KVSM_T_VALUE, KVSM_LT, "ma", 0, true, true},
        {KVSM_T_VALUE, KVSM_GT, "l", 0, true, true},
        {KVSM_T_VALUE, KVSM_GT, "m", 0, true, false},
        {KVSM_T_VALUE, KVSM_NE, "x", 0, false, false}, /* absent: false */
        {KVSM_T_VERSION, KVSM_EQ, NULL, 3, true, true},
        {KVSM_T_VERSION, KVSM_LT, NULL, 3, true, false},
        {KVSM_T_VERSION, KVSM_GT, NULL, 2, true, true},
        {KVSM_T_VERSION, KVSM_EQ, NULL, 0, false, true}, /* absent: 0 */
        {KVSM_T_CREATE, KVSM_EQ, NULL, 2, true, true},
        {KVSM_T_CREATE, KVSM_NE, NULL, 2, true, false},
        {KVSM_T_CREATE, KVSM_LT, NULL, 3, true, true},
        {KVSM_T_MOD, KVSM_EQ, NULL, 4, true, true},
        {KVSM_T_MOD, KVSM_GT, NULL, 4, true, false},
        {KVSM_T_MOD, KVSM_LT, NULL, 5, true, true},
        {KVSM_T_MOD, KVSM_NE, NULL, 1, true, true},
        {KVSM_T_EXISTS, KVSM_EQ, NULL, 1, true, true},
        {KVSM_T_EXISTS, KVSM_EQ, NULL, 1, false, false},
        {KVSM_T_EXISTS, KVSM_EQ, NULL, 0, false, true},
        {KVSM_T_EXISTS, KVSM_NE, NULL, 0, true, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kvsm_cmp_t c = {.key = NULL,
                        .target = cases[i].t,
                        .op = cases[i].op,
                        .value = cases[i].value ? s_b (cases[i].value) : NULL,
                        .num = cases[i].num};
        bool got = kvsm_compare (&c, cases[i].found, &rec);
        if (got != cases[i].want)
            fprintf (stderr, "     case %zu: %s %s: got %d\n", i,
                     kvsm_target_name (c.target), kvsm_cmp_op_name (c.op), got);
        CHECK (got == cases[i].want);
        raft_buf_unref (c.value);
    }
    raft_buf_unref (rec.value);
}

static kvsm_cmp_t
s_cmp (const char *k, kvsm_target_t t, kvsm_cmp_op_t op, const char *v,
       uint64_t num)
{
    return (kvsm_cmp_t){.key = s_b (k),
                        .target = t,
                        .op = op,
                        .value = v ? s_b (v) : NULL,
                        .num = num};
}

/* The shorthands: a failed compare changes nothing and shows the record. */
static void
test_shorthands (void)
{
    s_map_t m = {0};
    s_put_at (&m, 2, "k", "a", 0);
    kvsm_cmd_t c = {.op = KVSM_PUT, .key = s_b ("k"), .value = s_b ("b")};
    c.cmps = calloc (2, sizeof *c.cmps);
    c.cmps[0] = s_cmp ("k", KVSM_T_VALUE, KVSM_EQ, "a", 0);
    c.cmps[1] = s_cmp ("k", KVSM_T_MOD, KVSM_EQ, NULL, 9);
    c.n_cmps = 2;
    kvsm_result_t res;
    CHECK_EQ (s_apply (&m, 3, &c, &res), 0);
    CHECK (res.status == KVSM_COMPARE_FAILED && !res.succeeded &&
           res.n_resps == 1 && res.resps[0].op == KVSM_GET &&
           res.resps[0].found && res.resps[0].meta.mod_index == 2 &&
           res.n_changes == 0);
    kvsm_result_clear (&res);
    CHECK (s_value_is (&m, "k", "a") && s_meta_is (&m, "k", 2, 2, 1));
    /* the right prev_index: done */
    c = (kvsm_cmd_t){.op = KVSM_DEL, .key = s_b ("k")};
    c.cmps = calloc (1, sizeof *c.cmps);
    c.cmps[0] = s_cmp ("k", KVSM_T_MOD, KVSM_EQ, NULL, 2);
    c.n_cmps = 1;
    CHECK_EQ (s_apply (&m, 4, &c, &res), 0);
    CHECK (res.status == KVSM_OK && res.resps[0].found);
    kvsm_result_clear (&res);
    CHECK (s_value_is (&m, "k", NULL));
    /* prev_exist false on a missing key: a create */
    c = (kvsm_cmd_t){.op = KVSM_PUT, .key = s_b ("k"), .value = s_b ("c")};
    c.cmps = calloc (1, sizeof *c.cmps);
    c.cmps[0] = s_cmp ("k", KVSM_T_EXISTS, KVSM_EQ, NULL, 0);
    c.n_cmps = 1;
    CHECK_EQ (s_apply (&m, 5, &c, &res), 0);
    CHECK (res.status == KVSM_OK && !res.resps[0].found);
    kvsm_result_clear (&res);
    CHECK (s_meta_is (&m, "k", 5, 5, 1));
}

static kvsm_txn_op_t
s_op (kvsm_op_t op, const char *k, const char *v)
{
    return (kvsm_txn_op_t){
        .op = op, .key = s_b (k), .value = v ? s_b (v) : NULL};
}

/* A lock: take it if nobody holds it, else read the holder. */
static kvsm_cmd_t
s_lock_txn (const char *who)
{
    kvsm_cmd_t c = {.op = KVSM_TXN};
    c.cmps = calloc (1, sizeof *c.cmps);
    c.cmps[0] = s_cmp ("lock", KVSM_T_VERSION, KVSM_EQ, NULL, 0);
    c.n_cmps = 1;
    c.ops = calloc (4, sizeof *c.ops);
    c.ops[0] = s_op (KVSM_PUT, "lock", who);
    c.ops[1] = s_op (KVSM_PUT, "owner-log", who);
    c.ops[2] = s_op (KVSM_GET, "lock", NULL);
    c.n_success = 3;
    c.ops[3] = s_op (KVSM_GET, "lock", NULL);
    c.n_failure = 1;
    return c;
}

static void
test_txn (void)
{
    s_map_t m = {0};
    kvsm_cmd_t c = s_lock_txn ("alice");
    kvsm_result_t res;
    CHECK_EQ (s_apply (&m, 10, &c, &res), 0);
    CHECK (res.status == KVSM_OK && res.succeeded && res.n_resps == 3 &&
           res.n_changes == 2);
    /* the get sees the put before it, in the same entry */
    CHECK (res.n_resps == 3 && res.resps[2].found &&
           res.resps[2].value->len == 5 &&
           res.resps[2].meta.create_index == 10);
    kvsm_result_clear (&res);
    /* bob fails: only the failure branch runs; nothing changes */
    c = s_lock_txn ("bob");
    CHECK_EQ (s_apply (&m, 11, &c, &res), 0);
    CHECK (res.status == KVSM_OK && !res.succeeded && res.n_resps == 1 &&
           res.resps[0].op == KVSM_GET && res.n_changes == 0);
    CHECK (res.n_resps == 1 && res.resps[0].value &&
           memcmp (res.resps[0].value->data, "alice", 5) == 0);
    kvsm_result_clear (&res);
    CHECK (s_value_is (&m, "owner-log", "alice") &&
           s_meta_is (&m, "lock", 10, 10, 1));
    /* delete then put in one txn: a new history at this index */
    c = (kvsm_cmd_t){.op = KVSM_TXN};
    c.ops = calloc (2, sizeof *c.ops);
    c.ops[0] = s_op (KVSM_DEL, "lock", NULL);
    c.ops[1] = s_op (KVSM_PUT, "lock", "carol");
    c.n_success = 2;
    CHECK_EQ (s_apply (&m, 12, &c, &res), 0);
    CHECK (res.succeeded && res.n_changes == 2);
    kvsm_result_clear (&res);
    CHECK (s_meta_is (&m, "lock", 12, 12, 1));
    /* a failing view: -1, for the caller to throw the batch away */
    c = s_lock_txn ("dave");
    m.fail_get = 1;
    CHECK_EQ (s_apply (&m, 13, &c, &res), -1);
    kvsm_result_clear (&res);
}

/* The codecs' bounds, and a result's round trip. */
static void
test_limits (void)
{
    kvsm_cmd_t c = {.version = KVSM_CMD_V2, .op = KVSM_TXN};
    c.cmps = calloc (KVSM_TXN_MAX_CMPS + 1, sizeof *c.cmps);
    for (size_t i = 0; i <= KVSM_TXN_MAX_CMPS; i++)
        c.cmps[i] = s_cmp ("k", KVSM_T_EXISTS, KVSM_EQ, NULL, 1);
    c.n_cmps = KVSM_TXN_MAX_CMPS + 1;
    CHECK (msg_kv_encode (&c) == NULL); /* one too many */
    c.n_cmps--;
    raft_buf_t *b = msg_kv_encode (&c);
    CHECK (b != NULL);
    kvsm_cmd_t d;
    CHECK (b && msg_kv_decode (b->data, b->len, &d) == 0 &&
           d.n_cmps == KVSM_TXN_MAX_CMPS);
    kvsm_cmd_clear (&d);
    raft_buf_unref (b);
    c.n_cmps++;
    kvsm_cmd_clear (&c);
    /* exists takes 0 or 1 only; a value compare needs its value */
    c = (kvsm_cmd_t){.op = KVSM_TXN};
    c.cmps = calloc (1, sizeof *c.cmps);
    c.cmps[0] = s_cmp ("k", KVSM_T_EXISTS, KVSM_EQ, NULL, 2);
    c.n_cmps = 1;
    CHECK (msg_kv_encode (&c) == NULL);
    c.cmps[0].target = KVSM_T_VALUE;
    CHECK (msg_kv_encode (&c) == NULL);
    kvsm_cmd_clear (&c);
    /* a result through its codec */
    s_map_t m = {0};
    c = s_lock_txn ("eve");
    kvsm_result_t res, back;
    CHECK_EQ (s_apply (&m, 20, &c, &res), 0);
    b = msg_kv_result_encode (&res);
    CHECK (b && msg_kv_result_decode (b->data, b->len, &back) == 0);
    CHECK (back.succeeded && back.op == KVSM_TXN && back.n_resps == 3 &&
           back.resps[2].op == KVSM_GET && back.resps[2].found &&
           back.resps[2].meta.mod_index == 20 && back.resps[2].value &&
           back.resps[2].value->len == 3);
    for (size_t len = 0; b && len < b->len; len++) {
        kvsm_result_t cut;
        CHECK_EQ (msg_kv_result_decode (b->data, len, &cut), -1);
    }
    kvsm_result_clear (&back);
    kvsm_result_clear (&res);
    raft_buf_unref (b);
}

int
main (void)
{
    check_watchdog ("test_kvsm", 60);
    check_run ("versions, deletes, re-creates", test_versions);
    check_run ("version-1 commands: history unknown", test_v1_commands);
    check_run ("an unknown command version", test_unknown_version);
    check_run ("every compare target and op", test_compares);
    check_run ("prev_value, prev_index, prev_exist", test_shorthands);
    check_run ("txn: branches, gets, atomicity", test_txn);
    check_run ("codecs: bounds and round trips", test_limits);
    return check_report ();
}
