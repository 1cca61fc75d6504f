/*  test_kvsm_lease.c -- leases in the KV state machine (store/kvsm_lease.h)
    over a small in-memory view: grant (id = the entry's index, the
    limit), attaching and detaching keys (a put with a lease, one
    without, a delete, a version-2 command), a put naming a missing lease
    refused whole, a TXN refused whole, revoke deleting exactly the
    attached keys in key order as changes, the key bound, sessions
    composing with leases, and the table through its codecs
    (msg/msg_kv_lease.c), malformed bytes refused. Every command goes
    through msg_kv's encoding and back first, as the log carries it.
*/
#include "check.h"
#include "kvsm_lease.h"
#include "kvsm_session.h"
#include "msg_kv_lease.h"
#include "msg_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_KEYS 32

/* The KV data: a few short keys, unsorted. */
typedef struct {
    struct {
        char key[16];
        kvsm_meta_t meta;
        char value[16];
    } r[S_KEYS];
    size_t n;
    kvsm_leases_t *leases;
    kvsm_sessions_t *sessions;
} s_kv_t;

static int
s_find (const s_kv_t *m, const raft_buf_t *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strlen (m->r[i].key) == key->len &&
            !memcmp (m->r[i].key, key->data, key->len))
            return (int)i;
    return -1;
}

static int
s_get (void *ctx, const raft_buf_t *key, kvsm_rec_t *rec)
{
    s_kv_t *m = ctx;
    int i = s_find (m, key);
    if (i < 0)
        return 0;
    rec->meta = m->r[i].meta;
    rec->value = raft_buf_new (m->r[i].value, strlen (m->r[i].value));
    return 1;
}

static int
s_put (void *ctx, const raft_buf_t *key, const kvsm_meta_t *meta,
       const raft_buf_t *value)
{
    s_kv_t *m = ctx;
    int i = s_find (m, key);
    if (i < 0) {
        if (m->n == S_KEYS)
            return -1;
        i = (int)m->n++;
        snprintf (m->r[i].key, sizeof m->r[i].key, "%.*s", (int)key->len,
                  (const char *)key->data);
    }
    m->r[i].meta = *meta;
    snprintf (m->r[i].value, sizeof m->r[i].value, "%.*s", (int)value->len,
              (const char *)value->data);
    return 0;
}

static int
s_del (void *ctx, const raft_buf_t *key)
{
    s_kv_t *m = ctx;
    int i = s_find (m, key);
    if (i >= 0)
        m->r[i] = m->r[--m->n];
    return 0;
}

static bool
s_has (s_kv_t *m, const char *key)
{
    raft_buf_t *k = raft_buf_new (key, strlen (key));
    bool found = s_find (m, k) >= 0;
    raft_buf_unref (k);
    return found;
}

static uint64_t
s_lease_of (s_kv_t *m, const char *key)
{
    raft_buf_t *k = raft_buf_new (key, strlen (key));
    uint64_t l = kvsm_leases_of_key (m->leases, k);
    raft_buf_unref (k);
    return l;
}

/* Apply cmd (taken) at index through the command codec; the encoded
   version into *version if not NULL. */
static int
s_apply_v (s_kv_t *m, raft_index_t index, kvsm_cmd_t *cmd, kvsm_result_t *res,
           unsigned *version)
{
    raft_buf_t *data = msg_kv_encode (cmd);
    kvsm_cmd_clear (cmd);
    CHECK (data != NULL);
    memset (res, 0, sizeof *res);
    if (!data)
        return -1;
    kvsm_cmd_t d;
    int rc = msg_kv_decode (data->data, data->len, &d);
    raft_buf_unref (data);
    CHECK_EQ (rc, 0);
    if (rc != 0)
        return -1;
    if (version)
        *version = d.version;
    kvsm_view_t v = {.ctx = m,
                     .get = s_get,
                     .put = s_put,
                     .del = s_del,
                     .sessions = m->sessions,
                     .leases = m->leases};
    rc = kvsm_apply (&v, index, &d, res);
    kvsm_cmd_clear (&d);
    return rc;
}

static int
s_apply (s_kv_t *m, raft_index_t index, kvsm_cmd_t *cmd, kvsm_result_t *res)
{
    return s_apply_v (m, index, cmd, res, NULL);
}

static uint64_t
s_grant (s_kv_t *m, raft_index_t index, uint64_t ttl)
{
    kvsm_cmd_t c = {.op = KVSM_LGRANT, .ttl_ms = ttl};
    kvsm_result_t res;
    unsigned version = 0;
    CHECK_EQ (s_apply_v (m, index, &c, &res, &version), 0);
    CHECK_EQ (version, KVSM_CMD_V4);
    CHECK (res.status == KVSM_OK && res.op == KVSM_LGRANT && res.succeeded);
    CHECK (res.lease_event == KVSM_LEASE_EV_GRANTED);
    CHECK_UEQ (res.lease, index);
    CHECK_UEQ (res.lease_ttl_ms, ttl);
    CHECK (res.n_leases_touched == 1 && res.leases_touched[0] == index);
    uint64_t id = res.lease;
    kvsm_result_clear (&res);
    return id;
}

static kvsm_cmd_t
s_put_lease_cmd (const char *key, uint64_t lease)
{
    return (kvsm_cmd_t){.op = KVSM_PUT,
                        .key = raft_buf_new (key, strlen (key)),
                        .value = raft_buf_new ("v", 1),
                        .lease = lease};
}

/* A put of key = "v" with lease (0: none); its status. */
static kvsm_status_t
s_lput (s_kv_t *m, raft_index_t index, const char *key, uint64_t lease,
        unsigned *version)
{
    kvsm_cmd_t c = {.op = KVSM_PUT,
                    .key = raft_buf_new (key, strlen (key)),
                    .value = raft_buf_new ("v", 1),
                    .lease = lease};
    kvsm_result_t res;
    CHECK_EQ (s_apply_v (m, index, &c, &res, version), 0);
    kvsm_status_t st = res.status;
    CHECK (res.lease_event == KVSM_LEASE_EV_NONE);
    kvsm_result_clear (&res);
    return st;
}

static void
s_setup (s_kv_t *m)
{
    memset (m, 0, sizeof *m);
    m->leases = kvsm_leases_new ();
    m->sessions = kvsm_sessions_new ();
}

static void
s_teardown (s_kv_t *m)
{
    kvsm_leases_destroy (&m->leases);
    kvsm_sessions_destroy (&m->sessions);
}

static void
test_grant_attach_detach (void)
{
    s_kv_t m;
    s_setup (&m);
    uint64_t a = s_grant (&m, 5, 10000), b = s_grant (&m, 6, 3000);
    CHECK (kvsm_leases_find (m.leases, a) && kvsm_leases_find (m.leases, b));
    unsigned version = 0;
    CHECK_EQ (s_lput (&m, 7, "x", a, &version), KVSM_OK);
    CHECK_EQ (version, KVSM_CMD_V4);
    CHECK_UEQ (s_lease_of (&m, "x"), a);
    /* moved to b: detached from a */
    CHECK_EQ (s_lput (&m, 8, "x", b, NULL), KVSM_OK);
    CHECK_UEQ (s_lease_of (&m, "x"), b);
    CHECK_EQ (kvsm_leases_find (m.leases, a)->n_keys, 0);
    /* a put without a lease detaches (written as version 2) */
    CHECK_EQ (s_lput (&m, 9, "x", 0, &version), KVSM_OK);
    CHECK_EQ (version, KVSM_CMD_V2);
    CHECK_UEQ (s_lease_of (&m, "x"), 0);
    CHECK_EQ (kvsm_leases_find (m.leases, b)->n_keys, 0);
    /* a delete detaches */
    CHECK_EQ (s_lput (&m, 10, "y", a, NULL), KVSM_OK);
    kvsm_cmd_t c = {.op = KVSM_DEL, .key = raft_buf_new ("y", 1)};
    kvsm_result_t res;
    CHECK_EQ (s_apply (&m, 11, &c, &res), 0);
    CHECK (res.status == KVSM_OK && res.n_leases_touched == 1 &&
           res.leases_touched[0] == a);
    kvsm_result_clear (&res);
    CHECK_UEQ (s_lease_of (&m, "y"), 0);
    CHECK_EQ (kvsm_leases_find (m.leases, a)->n_keys, 0);
    /* a missing lease: refused, nothing applied */
    CHECK_EQ (s_lput (&m, 12, "z", 999, NULL), KVSM_LEASE_NOT_FOUND);
    CHECK (!s_has (&m, "z"));
    /* a view without a table refuses a leased put (-1) but applies the
       versions before leases */
    kvsm_leases_t *t = m.leases;
    m.leases = NULL;
    c = (kvsm_cmd_t){.op = KVSM_PUT,
                     .key = raft_buf_new ("w", 1),
                     .value = raft_buf_new ("v", 1)};
    CHECK_EQ (s_apply (&m, 13, &c, &res), 0);
    kvsm_result_clear (&res);
    c = (kvsm_cmd_t){.op = KVSM_LGRANT, .ttl_ms = 5};
    CHECK_EQ (s_apply (&m, 14, &c, &res), -1);
    kvsm_result_clear (&res);
    c = s_put_lease_cmd ("w", 5);
    CHECK_EQ (s_apply (&m, 15, &c, &res), -1);
    kvsm_result_clear (&res);
    m.leases = t;
    s_teardown (&m);
}

static void
test_revoke (void)
{
    s_kv_t m;
    s_setup (&m);
    uint64_t a = s_grant (&m, 2, 10000), b = s_grant (&m, 3, 10000);
    const char *mine[] = {"k3", "k1", "k2"};
    for (int i = 0; i < 3; i++)
        CHECK_EQ (s_lput (&m, 4 + i, mine[i], a, NULL), KVSM_OK);
    CHECK_EQ (s_lput (&m, 7, "other", b, NULL), KVSM_OK);
    CHECK_EQ (s_lput (&m, 8, "free", 0, NULL), KVSM_OK);
    kvsm_cmd_t c = {.op = KVSM_LREVOKE, .lease = a, .expired = true};
    kvsm_result_t res;
    unsigned version = 0;
    CHECK_EQ (s_apply_v (&m, 9, &c, &res, &version), 0);
    CHECK_EQ (version, KVSM_CMD_V4);
    CHECK (res.status == KVSM_OK && res.op == KVSM_LREVOKE && res.expired);
    CHECK (res.lease_event == KVSM_LEASE_EV_REVOKED);
    CHECK_UEQ (res.lease, a);
    CHECK_UEQ (res.lease_deleted, 3);
    /* the deletes are the changes, in key order */
    CHECK_EQ (res.n_changes, 3);
    for (size_t i = 0; i < res.n_changes && i < 3; i++) {
        char want[3] = {'k', (char)('1' + i), 0};
        CHECK (res.changes[i].deleted && res.changes[i].existed &&
               res.changes[i].key->len == 2 &&
               !memcmp (res.changes[i].key->data, want, 2));
    }
    /* the result carries the lease fields through its codec */
    raft_buf_t *enc = msg_kv_result_encode (&res);
    kvsm_result_t back;
    CHECK (enc && msg_kv_result_decode (enc->data, enc->len, &back) == 0);
    CHECK (back.op == KVSM_LREVOKE && back.lease == a && back.expired &&
           back.lease_event == KVSM_LEASE_EV_REVOKED &&
           back.lease_deleted == 3 && back.n_changes == 0);
    kvsm_result_clear (&back);
    raft_buf_unref (enc);
    kvsm_result_clear (&res);
    CHECK (!s_has (&m, "k1") && !s_has (&m, "k2") && !s_has (&m, "k3"));
    CHECK (s_has (&m, "other") && s_has (&m, "free"));
    CHECK (!kvsm_leases_find (m.leases, a));
    CHECK_UEQ (s_lease_of (&m, "other"), b);
    /* again: not found, nothing changed */
    c = (kvsm_cmd_t){.op = KVSM_LREVOKE, .lease = a};
    CHECK_EQ (s_apply (&m, 10, &c, &res), 0);
    CHECK (res.status == KVSM_LEASE_NOT_FOUND && res.n_changes == 0 &&
           res.lease_event == KVSM_LEASE_EV_NONE && !res.expired);
    kvsm_result_clear (&res);
    /* a lease with no key: revoked, nothing deleted */
    uint64_t e = s_grant (&m, 11, 100);
    c = (kvsm_cmd_t){.op = KVSM_LREVOKE, .lease = e};
    CHECK_EQ (s_apply (&m, 12, &c, &res), 0);
    CHECK (res.status == KVSM_OK && res.lease_deleted == 0 &&
           res.lease_event == KVSM_LEASE_EV_REVOKED);
    kvsm_result_clear (&res);
    s_teardown (&m);
}

static void
test_txn (void)
{
    s_kv_t m;
    s_setup (&m);
    uint64_t a = s_grant (&m, 2, 10000);
    kvsm_txn_op_t *ops = calloc (3, sizeof *ops);
    ops[0] = (kvsm_txn_op_t){.op = KVSM_PUT,
                             .key = raft_buf_new ("t1", 2),
                             .value = raft_buf_new ("v", 1),
                             .lease = a};
    ops[1] = (kvsm_txn_op_t){.op = KVSM_PUT,
                             .key = raft_buf_new ("t2", 2),
                             .value = raft_buf_new ("v", 1),
                             .lease = 77};
    /* failure branch: a plain put */
    ops[2] = (kvsm_txn_op_t){.op = KVSM_PUT,
                             .key = raft_buf_new ("t3", 2),
                             .value = raft_buf_new ("v", 1)};
    kvsm_cmd_t c = {.op = KVSM_TXN, .ops = ops, .n_success = 2, .n_failure = 1};
    kvsm_result_t res;
    unsigned version = 0;
    CHECK_EQ (s_apply_v (&m, 3, &c, &res, &version), 0);
    CHECK_EQ (version, KVSM_CMD_V4);
    /* the success branch runs and names a missing lease: nothing of it */
    CHECK (res.status == KVSM_LEASE_NOT_FOUND && res.n_changes == 0 &&
           res.n_resps == 0);
    kvsm_result_clear (&res);
    CHECK (!s_has (&m, "t1") && !s_has (&m, "t2") && !s_has (&m, "t3"));
    CHECK_EQ (kvsm_leases_find (m.leases, a)->n_keys, 0);
    /* both leases good: attached */
    ops = calloc (2, sizeof *ops);
    ops[0] = (kvsm_txn_op_t){.op = KVSM_PUT,
                             .key = raft_buf_new ("t1", 2),
                             .value = raft_buf_new ("v", 1),
                             .lease = a};
    ops[1] = (kvsm_txn_op_t){.op = KVSM_DEL, .key = raft_buf_new ("t9", 2)};
    c = (kvsm_cmd_t){.op = KVSM_TXN, .ops = ops, .n_success = 2};
    CHECK_EQ (s_apply (&m, 4, &c, &res), 0);
    CHECK (res.status == KVSM_OK && res.n_resps == 2);
    kvsm_result_clear (&res);
    CHECK_UEQ (s_lease_of (&m, "t1"), a);
    s_teardown (&m);
}

static void
test_sessions_compose (void)
{
    s_kv_t m;
    s_setup (&m);
    kvsm_cmd_t c = {.op = KVSM_SOPEN, .ttl_ms = 60000, .stamp_ms = 1000};
    kvsm_result_t res;
    CHECK_EQ (s_apply (&m, 1, &c, &res), 0);
    uint64_t sid = res.session;
    kvsm_result_clear (&res);
    uint64_t a = s_grant (&m, 2, 10000);
    for (int attempt = 0; attempt < 2; attempt++) {
        c = (kvsm_cmd_t){.op = KVSM_PUT,
                         .key = raft_buf_new ("s", 1),
                         .value = raft_buf_new ("v", 1),
                         .lease = a,
                         .has_session = true,
                         .session = sid,
                         .seq = 1,
                         .stamp_ms = 1001};
        unsigned version = 0;
        CHECK_EQ (s_apply_v (&m, 3 + attempt, &c, &res, &version), 0);
        CHECK_EQ (version, KVSM_CMD_V4);
        CHECK (res.status == KVSM_OK && res.duplicate == (attempt == 1));
        CHECK (res.n_resps == 1 && res.resps[0].meta.version == 1);
        kvsm_result_clear (&res);
    }
    CHECK_UEQ (s_lease_of (&m, "s"), a);
    s_teardown (&m);
}

static void
test_bounds (void)
{
    kvsm_leases_t *t = kvsm_leases_new ();
    /* a table at the key bound refuses one more attached key */
    raft_buf_t **keys = calloc (KVSM_LEASE_KEYS_MAX, sizeof *keys);
    for (size_t i = 0; i < KVSM_LEASE_KEYS_MAX; i++) {
        char k[16];
        int n = snprintf (k, sizeof k, "k%06zu", i);
        keys[i] = raft_buf_new (k, (size_t)n);
    }
    CHECK_EQ (kvsm_leases_insert (t, 1, 1000, keys, KVSM_LEASE_KEYS_MAX), 0);
    kvsm_txn_op_t o = {.op = KVSM_PUT,
                       .key = raft_buf_new ("new", 3),
                       .value = raft_buf_new ("v", 1),
                       .lease = 1};
    CHECK_EQ (kvsm_lease_check (t, &o, 1), KVSM_LEASE_LIMIT);
    /* moving an attached key is no new key */
    raft_buf_unref (o.key);
    o.key = raft_buf_new ("k000001", 7);
    CHECK_EQ (kvsm_lease_check (t, &o, 1), KVSM_OK);
    o.lease = 2;
    CHECK_EQ (kvsm_lease_check (t, &o, 1), KVSM_LEASE_NOT_FOUND);
    raft_buf_unref (o.key);
    raft_buf_unref (o.value);
    /* insert refuses a key attached elsewhere, an id twice, id 0 */
    raft_buf_t **dup = calloc (1, sizeof *dup);
    dup[0] = raft_buf_new ("k000002", 7);
    CHECK_EQ (kvsm_leases_insert (t, 2, 1000, dup, 1), -1);
    CHECK_EQ (kvsm_leases_insert (t, 1, 1000, NULL, 0), -1);
    CHECK_EQ (kvsm_leases_insert (t, 0, 1000, NULL, 0), -1);
    kvsm_leases_destroy (&t);
    /* the lease bound: LGRANT past KVSM_LEASES_MAX is KVSM_LEASE_LIMIT */
    t = kvsm_leases_new ();
    kvsm_result_t res;
    for (uint64_t i = 1; i <= KVSM_LEASES_MAX; i++) {
        memset (&res, 0, sizeof res);
        CHECK_EQ (kvsm_lease_grant (t, i, 1000, &res), 0);
        kvsm_result_clear (&res);
    }
    memset (&res, 0, sizeof res);
    CHECK_EQ (kvsm_lease_grant (t, KVSM_LEASES_MAX + 1, 1000, &res), 0);
    CHECK (res.status == KVSM_LEASE_LIMIT && res.lease_event == 0);
    kvsm_result_clear (&res);
    kvsm_leases_destroy (&t);
}

static void
test_codecs (void)
{
    s_kv_t m;
    s_setup (&m);
    uint64_t a = s_grant (&m, 2, 10000), b = s_grant (&m, 3, 500);
    (void)b;
    CHECK_EQ (s_lput (&m, 4, "q", a, NULL), KVSM_OK);
    CHECK_EQ (s_lput (&m, 5, "p", a, NULL), KVSM_OK);
    raft_buf_t *enc = msg_kv_leases_encode (m.leases);
    CHECK (enc != NULL);
    kvsm_leases_t *t = msg_kv_leases_decode (enc->data, enc->len);
    CHECK (t && kvsm_leases_eq (t, m.leases));
    kvsm_leases_t *d = kvsm_leases_dup (m.leases);
    CHECK (d && kvsm_leases_eq (d, m.leases));
    /* eq sees a difference */
    CHECK_EQ (s_lput (&m, 6, "p", 0, NULL), KVSM_OK);
    CHECK (!kvsm_leases_eq (d, m.leases));
    kvsm_leases_destroy (&d);
    kvsm_leases_destroy (&t);
    /* every truncation is refused */
    for (size_t n = 0; n < enc->len; n++) {
        t = msg_kv_leases_decode (enc->data, n);
        CHECK (t == NULL);
        kvsm_leases_destroy (&t);
    }
    raft_buf_unref (enc);
    /* unsorted keys, a bad TTL, id 0: refused */
    static const uint8_t unsorted[] = {0x94, 0x01, 0x05, 0xcd, 0x03, 0xe8, 0x92,
                                       0xc4, 0x01, 'b',  0xc4, 0x01, 'a'};
    static const uint8_t no_ttl[] = {0x94, 0x01, 0x05, 0x00, 0x90};
    static const uint8_t id0[] = {0x94, 0x01, 0x00, 0x05, 0x90};
    static const uint8_t good[] = {0x94, 0x01, 0x05, 0x05, 0x90};
    uint64_t id;
    kvsm_leases_t *e = kvsm_leases_new ();
    CHECK_EQ (msg_kv_lease_decode (e, unsorted, sizeof unsorted, &id), -1);
    CHECK_EQ (msg_kv_lease_decode (e, no_ttl, sizeof no_ttl, &id), -1);
    CHECK_EQ (msg_kv_lease_decode (e, id0, sizeof id0, &id), -1);
    CHECK_EQ (msg_kv_lease_decode (e, good, sizeof good, &id), 0);
    CHECK_UEQ (id, 5);
    kvsm_leases_destroy (&e);
    s_teardown (&m);
}

int
main (void)
{
    check_watchdog ("test_kvsm_lease", 60);
    check_run ("grant_attach_detach", test_grant_attach_detach);
    check_run ("revoke", test_revoke);
    check_run ("txn", test_txn);
    check_run ("sessions_compose", test_sessions_compose);
    check_run ("bounds", test_bounds);
    check_run ("codecs", test_codecs);
    return check_report ();
}
