/*  test_kvsm_lease_codec.c -- the version-4 commands (leases,
    store/kvsm_lease.h) through msg_kv's codec (msg/msg_kv.c): each form
    round-trips byte for byte and is written as the lowest version that
    expresses it; the encoder refuses what the decoder would; the decoder
    refuses out-of-bound TTLs, lease 0, a version-4 delete, a leased op in
    a version-3 TXN, and tells a newer version (-2) from garbage.
*/
#include "check.h"
#include "kvsm_lease.h"
#include "msg_store.h"

#include <stdlib.h>
#include <string.h>

static kvsm_cmd_t
s_put_cmd (const char *key, uint64_t lease)
{
    return (kvsm_cmd_t){.op = KVSM_PUT,
                        .key = raft_buf_new (key, strlen (key)),
                        .value = raft_buf_new ("v", 1),
                        .lease = lease};
}

/* Encodes, decodes, and encodes to the same bytes; the version. */
static unsigned
s_round_trip (kvsm_cmd_t *c)
{
    raft_buf_t *a = msg_kv_encode (c);
    kvsm_cmd_clear (c);
    CHECK (a != NULL);
    if (!a)
        return 0;
    kvsm_cmd_t d;
    CHECK_EQ (msg_kv_decode (a->data, a->len, &d), 0);
    raft_buf_t *b = msg_kv_encode (&d);
    CHECK (b && b->len == a->len && !memcmp (a->data, b->data, a->len));
    unsigned v = d.version;
    kvsm_cmd_clear (&d);
    raft_buf_unref (a);
    raft_buf_unref (b);
    return v;
}

static void
test_command_codec (void)
{
    kvsm_cmd_t c = {.op = KVSM_LGRANT, .ttl_ms = KVSM_LEASE_TTL_MAX_MS};
    CHECK_EQ (s_round_trip (&c), KVSM_CMD_V4);
    c = (kvsm_cmd_t){.op = KVSM_LREVOKE, .lease = 7, .expired = true};
    CHECK_EQ (s_round_trip (&c), KVSM_CMD_V4);
    c = s_put_cmd ("k", 7);
    c.has_session = true, c.session = 3, c.seq = 1, c.stamp_ms = 9;
    CHECK_EQ (s_round_trip (&c), KVSM_CMD_V4);
    c = s_put_cmd ("k", 0);
    c.has_session = true, c.session = 3, c.seq = 1;
    CHECK_EQ (s_round_trip (&c), KVSM_CMD_V3); /* no lease: as before */
    kvsm_txn_op_t *ops = calloc (2, sizeof *ops);
    ops[0] = (kvsm_txn_op_t){.op = KVSM_PUT,
                             .key = raft_buf_new ("a", 1),
                             .value = raft_buf_new ("v", 1),
                             .lease = 5};
    ops[1] = (kvsm_txn_op_t){.op = KVSM_GET, .key = raft_buf_new ("a", 1)};
    c = (kvsm_cmd_t){
        .op = KVSM_TXN, .ops = ops, .n_success = 1, .n_failure = 1};
    CHECK_EQ (s_round_trip (&c), KVSM_CMD_V4);
    /* the encoder refuses what the decoder would: no TTL, a TTL too
       long, lease 0, a lease on a delete, a session on a grant, V4 asked
       for a command without a lease */
    kvsm_cmd_t no[] = {
        {.op = KVSM_LGRANT},
        {.op = KVSM_LGRANT, .ttl_ms = KVSM_LEASE_TTL_MAX_MS + 1},
        {.op = KVSM_LREVOKE},
        {.op = KVSM_DEL, .key = raft_buf_new ("k", 1), .lease = 3},
        {.op = KVSM_LGRANT, .ttl_ms = 5, .has_session = true, .seq = 1},
        {.version = 4, .op = KVSM_DEL, .key = raft_buf_new ("k", 1)},
    };
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        raft_buf_t *b = msg_kv_encode (&no[i]);
        CHECK (b == NULL);
        raft_buf_unref (b);
        kvsm_cmd_clear (&no[i]);
    }
    /* the decoder refuses: TTL 0, TTL too long, lrevoke of 0, a V4 put
       with lease 0, a V4 delete, a V3 txn op with a lease, expired not a
       bool */
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
#define S_BAD(s) {s, sizeof s - 1}
        S_BAD ("\x93\x04\xa6lgrant\x00"),
        S_BAD ("\x93\x04\xa6lgrant\xcf\x00\x00\x00\x01\x00\x00\x00\x00"),
        S_BAD ("\x94\x04\xa7lrevoke\x00\xc3"),
        S_BAD ("\x94\x04\xa7lrevoke\x01\x01"),
        S_BAD ("\x97\x04\xa3put\xc4\x01k\xc4\x01v\x90\xc0\x00"),
        S_BAD ("\x95\x04\xa3"
               "del\xc4\x01k\x90\xc0"),
        S_BAD ("\x96\x03\xa3txn\x90\x91\x94\xa3put\xc4\x01k\xc4\x01v\x01"
               "\x90\x94\x01\x01\x00\x00"),
#undef S_BAD
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        kvsm_cmd_t d;
        CHECK_EQ (msg_kv_decode (bad[i].bytes, bad[i].len, &d), -1);
    }
    /* and the neighbours that are right decode */
    kvsm_cmd_t d;
    CHECK_EQ (msg_kv_decode ("\x94\x04\xa7lrevoke\x01\xc2", 12, &d), 0);
    CHECK (d.op == KVSM_LREVOKE && d.lease == 1 && !d.expired);
    kvsm_cmd_clear (&d);
    CHECK_EQ (
        msg_kv_decode ("\x97\x04\xa3put\xc4\x01k\xc4\x01v\x90\xc0\x01", 15, &d),
        0);
    CHECK (d.op == KVSM_PUT && d.lease == 1 && !d.has_session);
    kvsm_cmd_clear (&d);
    /* a version above 4 is a newer leader's: -2 */
    CHECK_EQ (msg_kv_decode ("\x93\x05\xa6lgrant\x01", 10, &d), -2);
}

int
main (void)
{
    check_watchdog ("test_kvsm_lease_codec", 60);
    check_run ("command_codec", test_command_codec);
    return check_report ();
}
