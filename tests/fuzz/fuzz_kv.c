/*  fuzz_kv.c -- the state machine's inputs on arbitrary bytes (issue 15):
    the HTTP parsers of the compare shorthands, /kv/txn and /kv/range
    (http/parse_kv.c), and the command decoder (msg/msg_kv.c) with the
    state machine (store/kvsm.c) applying what it takes.

    The first byte picks the target, the rest is its input (max_key 16,
    max_value 32, so the limits are reached). Beyond "no crash, no leak":

      put, delete, txn  an error is 400 bad_request or 413 too_large; a
                        success encodes (msg_kv_encode) and decodes back to
                        a command that encodes to the same bytes;
      range             an error is 400 or 413; a success has a start, a
                        limit in 1..1000 and an end (if any) after start;
      command           a decoded command applies through kvsm over an
                        in-memory view without failing, and its result
                        round-trips through msg_kv_result_encode/decode.
*/
#include "fuzz.h"
#include "kvsm_lease.h"
#include "kvsm_session.h"
#include "msg_store.h"
#include "parse_kv.h"

static const http_parse_limits_t s_lim = {.max_key = 16, .max_value = 32};

static void
s_check_err (const http_parse_err_t *err)
{
    FUZZ_CHECK (
        (err->status == 400 && strcmp (err->error, "bad_request") == 0) ||
        (err->status == 413 && strcmp (err->error, "too_large") == 0));
}

/* A command the parsers made: it encodes, and decodes to itself. */
static void
s_round_trip (kvsm_cmd_t *cmd)
{
    raft_buf_t *a = msg_kv_encode (cmd);
    FUZZ_CHECK (a != NULL);
    kvsm_cmd_t d;
    FUZZ_CHECK (msg_kv_decode (a->data, a->len, &d) == 0);
    raft_buf_t *b = msg_kv_encode (&d);
    FUZZ_CHECK (b && b->len == a->len &&
                memcmp (a->data, b->data, a->len) == 0);
    raft_buf_unref (a);
    raft_buf_unref (b);
    kvsm_cmd_clear (&d);
    kvsm_cmd_clear (cmd);
}

/*  An in-memory view: at most 8 records, each key and value copied. */
typedef struct {
    raft_buf_t *key[8], *value[8];
    kvsm_meta_t meta[8];
} s_map_t;

static int
s_find (s_map_t *m, const raft_buf_t *key)
{
    for (int i = 0; i < 8; i++)
        if (m->key[i] && m->key[i]->len == key->len &&
            (!key->len || memcmp (m->key[i]->data, key->data, key->len) == 0))
            return i;
    return -1;
}

static int
s_get (void *ctx, const raft_buf_t *key, kvsm_rec_t *rec)
{
    s_map_t *m = ctx;
    int i = s_find (m, key);
    if (i < 0)
        return 0;
    rec->meta = m->meta[i];
    rec->value = raft_buf_ref (m->value[i]);
    return 1;
}

static int
s_put (void *ctx, const raft_buf_t *key, const kvsm_meta_t *meta,
       const raft_buf_t *value)
{
    s_map_t *m = ctx;
    int i = s_find (m, key);
    for (int k = 0; i < 0 && k < 8; k++)
        if (!m->key[k])
            i = k;
    if (i < 0)
        return 0; /* full: drop it (the view's business, not kvsm's) */
    if (!m->key[i])
        m->key[i] = raft_buf_new (key->data, key->len);
    raft_buf_unref (m->value[i]);
    m->value[i] = raft_buf_new (value->data, value->len);
    m->meta[i] = *meta;
    return 0;
}

static int
s_del (void *ctx, const raft_buf_t *key)
{
    s_map_t *m = ctx;
    int i = s_find (m, key);
    if (i >= 0) {
        raft_buf_unref (m->key[i]);
        raft_buf_unref (m->value[i]);
        m->key[i] = m->value[i] = NULL;
    }
    return 0;
}

static void
s_fuzz_command (const uint8_t *data, size_t size)
{
    kvsm_cmd_t cmd;
    if (msg_kv_decode (data, size, &cmd) != 0)
        return;
    s_map_t m = {0};
    kvsm_sessions_t *t = kvsm_sessions_new (); /* client sessions */
    kvsm_leases_t *l = kvsm_leases_new ();     /* leases */
    FUZZ_CHECK (t != NULL && l != NULL);
    /* lease 7 exists (a put naming it attaches), as if granted at 7: an
       id the applies below (at 1 and 2) cannot grant again */
    FUZZ_CHECK (kvsm_leases_insert (l, 7, 1000, NULL, 0) == 0);
    kvsm_view_t v = {.ctx = &m,
                     .get = s_get,
                     .put = s_put,
                     .del = s_del,
                     .sessions = t,
                     .leases = l};
    kvsm_result_t res, back;
    for (raft_index_t idx = 1; idx <= 2; idx++) { /* twice: over itself */
        FUZZ_CHECK (kvsm_apply (&v, idx, &cmd, &res) == 0);
        raft_buf_t *b = msg_kv_result_encode (&res);
        FUZZ_CHECK (b && msg_kv_result_decode (b->data, b->len, &back) == 0);
        FUZZ_CHECK (back.n_resps == res.n_resps &&
                    back.succeeded == res.succeeded && back.op == res.op &&
                    back.lease == res.lease &&
                    back.lease_event == res.lease_event &&
                    back.lease_deleted == res.lease_deleted);
        raft_buf_unref (b);
        kvsm_result_clear (&back);
        kvsm_result_clear (&res);
    }
    for (int i = 0; i < 8; i++) {
        raft_buf_unref (m.key[i]);
        raft_buf_unref (m.value[i]);
    }
    kvsm_sessions_destroy (&t);
    kvsm_leases_destroy (&l);
    kvsm_cmd_clear (&cmd);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t which = data[0] % 5;
    data++, size--;
    http_parse_err_t err = {0};
    kvsm_cmd_t cmd;
    http_parse_range_t r;
    switch (which) {
    case 0:
    case 1:
        if (http_parse_kv_write (data, size, &s_lim, which == 0, &cmd, &err))
            s_check_err (&err);
        else
            s_round_trip (&cmd);
        break;
    case 2:
        if (http_parse_txn (data, size, &s_lim, &cmd, &err))
            s_check_err (&err);
        else
            s_round_trip (&cmd);
        break;
    case 3:
        if (http_parse_range_query ((const char *)data, size, &s_lim, &r,
                                    &err)) {
            s_check_err (&err);
            break;
        }
        FUZZ_CHECK (r.start && r.limit >= 1 && r.limit <= HTTP_RANGE_MAX);
        http_parse_range_clear (&r);
        break;
    case 4: s_fuzz_command (data, size); break;
    }
    return 0;
}

static void
s_seed_str (uint8_t which, const char *s)
{
    size_t n = strlen (s);
    uint8_t *b = malloc (n + 1);
    if (!b)
        abort ();
    b[0] = which;
    memcpy (b + 1, s, n);
    fuzz_seed (b, n + 1);
    free (b);
}

void
fuzz_seeds (void)
{
    s_seed_str (0, "{\"key\":\"a\",\"value\":\"1\",\"prev_value\":\"0\","
                   "\"prev_index\":3,\"prev_exist\":true}");
    s_seed_str (1, "{\"key\":\"a\",\"prev_exist\":false}");
    s_seed_str (2, "{\"compare\":[{\"key\":\"a\",\"target\":\"version\","
                   "\"op\":\"<\",\"value\":2},{\"key\":\"b\",\"target\":"
                   "\"value\",\"value\":\"x\"}],\"success\":[{\"put\":{\"key\":"
                   "\"a\",\"value\":\"v\"}},{\"get\":{\"key\":\"a\"}}],"
                   "\"failure\":[{\"delete\":{\"key\":\"b\"}}]}");
    s_seed_str (3, "prefix=a%2F&limit=10&continue=612f00&keys_only=true");
    s_seed_str (3, "start=a&end=b&stale=1");
    /* leases (version 4): grant, a leased put, revoke */
    static const char *const leases[] = {
        "\x93\x04\xa6lgrant\xcd\x03\xe8",
        "\x97\x04\xa3put\xc4\x01k\xc4\x01v\x90\xc0\x07",
        "\x94\x04\xa7lrevoke\x07\xc3"};
    for (size_t i = 0; i < sizeof leases / sizeof *leases; i++) {
        char b[32] = {4};
        size_t n = strlen (leases[i]);
        memcpy (b + 1, leases[i], n);
        fuzz_seed ((const uint8_t *)b, n + 1);
    }
    kvsm_cmd_t c;
    http_parse_err_t err;
    const char *t =
        "{\"compare\":[{\"key\":\"a\",\"target\":\"exists\","
        "\"value\":false}],\"success\":[{\"put\":{\"key\":\"a\","
        "\"value\":\"v\"}},{\"get\":{\"key\":\"a\"}},{\"delete\":"
        "{\"key\":\"a\"}}],\"failure\":[{\"get\":{\"key\":\"a\"}}]}";
    if (http_parse_txn (t, strlen (t), &s_lim, &c, &err) == 0) {
        raft_buf_t *b = msg_kv_encode (&c);
        uint8_t *s = malloc (b->len + 1);
        s[0] = 4;
        memcpy (s + 1, b->data, b->len);
        fuzz_seed (s, b->len + 1);
        free (s);
        raft_buf_unref (b);
        kvsm_cmd_clear (&c);
    }
}
