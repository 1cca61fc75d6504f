/*  test_storage_kvsm.c -- the storage actor applies through the KV state
    machine (actors/storage_apply.c, store/kvsm.h): in one apply, entries
    see what the earlier ones of the same batch wrote (the overlay holds
    whole records now, versions included); a version-1 command writes
    "history unknown"; each result carries its status (412 for a failed
    compare) and the state machine's reply; a GET answers the value
    without its header; and a command of a newer version stops the
    storage actor ("error") instead of being skipped.
*/
#include "check.h"
#include "fixture.h"
#include "msg_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static raft_buf_t *
s_b (const char *s)
{
    return raft_buf_new (s, strlen (s));
}

static raft_entry_t
s_entry (raft_index_t index, kvsm_cmd_t *cmd)
{
    raft_entry_t e = {.term = 1,
                      .index = index,
                      .type = RAFT_ENTRY_NORMAL,
                      .data = msg_kv_encode (cmd)};
    CHECK (e.data != NULL);
    kvsm_cmd_clear (cmd);
    return e;
}

static void
s_send (fixture_storage_t *n, const msg_store_t *m)
{
    zmsg_t *zm = msg_store_encode (m);
    CHECK (zm != NULL);
    zmsg_send (&zm, n->pair);
}

/* The next reply that is not a "usage" report, of kind kind. */
static bool
s_recv_kind (fixture_storage_t *n, msg_store_t *m, msg_store_kind_t kind)
{
    for (;;) {
        memset (m, 0, sizeof *m);
        zmsg_t *zm = zmsg_recv (n->pair);
        if (!zm)
            return false;
        int rc = msg_store_decode (zm, m);
        zmsg_destroy (&zm);
        if (rc != 0)
            return false;
        if (m->kind != MSG_STORE_USAGE)
            break;
        msg_store_clear (m);
    }
    if (m->kind == kind)
        return true;
    fprintf (stderr, "     expected kind %d, got %d\n", kind, m->kind);
    msg_store_clear (m);
    return false;
}

static bool
s_write (fixture_storage_t *n, uint64_t seq, raft_entry_t *es, size_t count)
{
    msg_store_t w = {.kind = MSG_STORE_WRITE,
                     .seq = seq,
                     .hs_changed = true,
                     .hs = {1, 1},
                     .entries = es,
                     .n_entries = count};
    s_send (n, &w);
    msg_store_t r;
    bool ok = s_recv_kind (n, &r, MSG_STORE_PERSISTED) && r.seq == seq;
    msg_store_clear (&r);
    return ok;
}

/* The state machine's result of applied entry k of r. */
static bool
s_result (const msg_store_t *r, size_t k, kvsm_result_t *res)
{
    memset (res, 0, sizeof *res);
    return k < r->n_results && r->results[k].result &&
           msg_kv_result_decode (r->results[k].result->data,
                                 r->results[k].result->len, res) == 0;
}

static bool
s_meta_is (const kvsm_resp_t *r, uint64_t c, uint64_t m, uint64_t v)
{
    return r->meta.create_index == c && r->meta.mod_index == m &&
           r->meta.version == v;
}

static void
test_apply_kvsm (void)
{
    raft_conf_t conf = {.n = 1};
    conf.servers[0] = (raft_server_t){.id = 1, .voter = true};
    snprintf (conf.servers[0].addr, RAFT_ADDR_MAX,
              "tcp://127.0.0.1:9000 127.0.0.1:8000");
    fixture_storage_t n;
    storage_args_t args = {.data_dir = fixture_path ("kvsm"),
                           .bootstrap = &conf};
    CHECK (fixture_storage_start (&n, &args) == 0);
    msg_store_t boot, r;
    CHECK (s_recv_kind (&n, &boot, MSG_STORE_BOOT));
    msg_store_clear (&boot);

    raft_entry_t es[5];
    kvsm_cmd_t c = {.version = KVSM_CMD_V1,
                    .op = KVSM_PUT,
                    .key = s_b ("a"),
                    .value = s_b ("1")};
    es[0] = s_entry (2, &c); /* an old leader's put */
    c = (kvsm_cmd_t){.op = KVSM_PUT, .key = s_b ("a"), .value = s_b ("2")};
    es[1] = s_entry (3, &c);
    /* a txn whose compare sees entry 3, in the same batch */
    c = (kvsm_cmd_t){.op = KVSM_TXN, .n_cmps = 1, .n_success = 3};
    c.cmps = calloc (1, sizeof *c.cmps);
    c.cmps[0] = (kvsm_cmp_t){
        .key = s_b ("a"), .target = KVSM_T_MOD, .op = KVSM_EQ, .num = 3};
    c.ops = calloc (3, sizeof *c.ops);
    c.ops[0] =
        (kvsm_txn_op_t){.op = KVSM_PUT, .key = s_b ("b"), .value = s_b ("x")};
    c.ops[1] = (kvsm_txn_op_t){.op = KVSM_GET, .key = s_b ("b")};
    c.ops[2] = (kvsm_txn_op_t){.op = KVSM_DEL, .key = s_b ("a")};
    es[2] = s_entry (4, &c);
    /* a shorthand whose compare fails: a is gone */
    c = (kvsm_cmd_t){
        .op = KVSM_PUT, .key = s_b ("a"), .value = s_b ("3"), .n_cmps = 1};
    c.cmps = calloc (1, sizeof *c.cmps);
    c.cmps[0] = (kvsm_cmp_t){
        .key = s_b ("a"), .target = KVSM_T_EXISTS, .op = KVSM_EQ, .num = 1};
    es[3] = s_entry (5, &c);
    /* a command of a version this build does not know */
    es[4] = (raft_entry_t){
        .term = 1,
        .index = 6,
        .type = RAFT_ENTRY_NORMAL,
        .data = raft_buf_new ("\x94\x05\xa3put\xc4\x01k\xc4\x01v", 12)};
    CHECK (s_write (&n, 1, es, 5));

    msg_store_t a = {.kind = MSG_STORE_APPLY, .applied = 5, .applied_term = 1};
    s_send (&n, &a);
    CHECK (s_recv_kind (&n, &r, MSG_STORE_APPLIED));
    CHECK (r.applied == 5 && r.n_results == 4);
    kvsm_result_t res;
    CHECK (s_result (&r, 0, &res) && r.results[0].status == 200 &&
           res.n_resps == 1 && !res.resps[0].found &&
           s_meta_is (&res.resps[0], 0, 0, 0));
    kvsm_result_clear (&res);
    CHECK (s_result (&r, 1, &res) && r.results[1].existed && res.n_resps == 1 &&
           s_meta_is (&res.resps[0], 0, 3, 1));
    kvsm_result_clear (&res);
    CHECK (s_result (&r, 2, &res) && r.results[2].status == 200 &&
           res.succeeded && res.n_resps == 3 && res.resps[1].found &&
           res.resps[1].value && res.resps[1].value->len == 1 &&
           s_meta_is (&res.resps[1], 4, 4, 1) && res.resps[2].found);
    kvsm_result_clear (&res);
    CHECK (s_result (&r, 3, &res) && r.results[3].status == 412 &&
           res.status == KVSM_COMPARE_FAILED && res.n_resps == 1 &&
           !res.resps[0].found);
    kvsm_result_clear (&res);
    msg_store_clear (&r);

    /* GET: the value alone */
    msg_store_t g = {.kind = MSG_STORE_GET, .req_id = 7, .key = s_b ("b")};
    s_send (&n, &g);
    raft_buf_unref (g.key);
    CHECK (s_recv_kind (&n, &r, MSG_STORE_VALUE));
    CHECK (r.found && r.value && r.value->len == 1 && r.value->data[0] == 'x');
    msg_store_clear (&r);

    /* the newer command: stop, never skip */
    a.applied = 6;
    s_send (&n, &a);
    CHECK (s_recv_kind (&n, &r, MSG_STORE_ERROR));
    CHECK (r.error && strstr (r.error, "newer version"));
    msg_store_clear (&r);
    for (size_t i = 0; i < 5; i++)
        raft_buf_unref (es[i].data);
    fixture_storage_stop (&n);
}

int
main (void)
{
    check_watchdog ("test_storage_kvsm", 60);
    if (!fixture_tmpdir ("test_storage_kvsm"))
        return 1;
    check_run ("apply through kvsm: batch, v1, 412, newer", test_apply_kvsm);
    fixture_tmpdir_remove ();
    return check_report ();
}
