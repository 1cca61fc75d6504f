/*  test_http_codec.c -- the API codec (msg/msg_api.c) between the HTTP
    workers and the raft actor: requests and replies of every kind round
    trip, hostile bytes are refused. One line per test; exit status 1 if
    any check failed.
*/
#include "check.h"
#include "equal.h"
#include "http_fixture.h"
#include "msg_api.h"

#include <czmq.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_pack_str (msgpack_packer *pk, const char *s)
{
    msgpack_pack_str (pk, strlen (s));
    msgpack_pack_str_body (pk, s, strlen (s));
}

static void
s_test_api_req_roundtrip (void)
{
    msg_api_req_t req = {
        .req_id = 1ULL << 40, .op = MSG_API_JOIN, .stale = true, .id = 12345};
    req.key = raft_buf_new ("k\0y", 3);
    req.value = raft_buf_new ("", 0);
    snprintf (req.peer, sizeof req.peer, "tcp://10.0.0.4:9000 node4:8000");
    zmsg_t *zm = msg_api_req_encode (&req);
    CHECK (zm && zmsg_size (zm) == 1);
    msg_api_req_t out;
    CHECK (msg_api_req_decode (zm, &out) == 0);
    CHECK (out.req_id == req.req_id && out.op == MSG_API_JOIN && out.stale &&
           out.id == 12345 && streq (out.peer, req.peer));
    CHECK (out.key && out.key->len == 3 &&
           memcmp (out.key->data, "k\0y", 3) == 0);
    CHECK (out.value && out.value->len == 0);
    msg_api_req_clear (&out);
    CHECK (out.key == NULL && out.value == NULL);
    zmsg_destroy (&zm);
    msg_api_req_clear (&req);

    /* No key, value or peer: nil on the wire, NULL / "" back. */
    for (int op = MSG_API_PUT; op <= MSG_API_LEASE_INFO; op++) {
        msg_api_req_t r2 = {.req_id = (uint64_t)op, .op = (msg_api_op_t)op};
        zm = msg_api_req_encode (&r2);
        CHECK (zm && msg_api_req_decode (zm, &out) == 0);
        CHECK ((int)out.op == op && !out.key && !out.value && !out.peer[0] &&
               !out.stale && out.id == 0);
        msg_api_req_clear (&out);
        zmsg_destroy (&zm);
    }
    msg_api_req_t bad = {.op = 0};
    CHECK (msg_api_req_encode (&bad) == NULL);
    bad.op = MSG_API_LEASE_INFO + 1;
    CHECK (msg_api_req_encode (&bad) == NULL);
}

static bool
s_req_refused (const void *data, size_t len)
{
    zmsg_t *zm = fixture_zmsg (data, len);
    msg_api_req_t out;
    int rc = msg_api_req_decode (zm, &out);
    zmsg_destroy (&zm);
    if (rc == 0)
        msg_api_req_clear (&out);
    return rc == -1 && out.key == NULL && out.value == NULL;
}

static bool
s_rep_refused (const void *data, size_t len)
{
    zmsg_t *zm = fixture_zmsg (data, len);
    msg_api_rep_t out;
    int rc = msg_api_rep_decode (zm, &out);
    zmsg_destroy (&zm);
    if (rc == 0)
        msg_api_rep_clear (&out);
    return rc == -1 && out.kind == 0 && !out.code && !out.detail &&
           !out.leader && !out.key && !out.value && !out.health;
}

static void
s_test_api_req_hostile (void)
{
    msg_api_req_t req = {.req_id = 99, .op = MSG_API_PUT, .id = 3};
    req.key = raft_buf_new ("key", 3);
    req.value = raft_buf_new ("value", 5);
    snprintf (req.peer, sizeof req.peer, "x");
    zmsg_t *zm = msg_api_req_encode (&req);
    msg_api_req_clear (&req);
    zframe_t *f = zmsg_first (zm);
    const uint8_t *d = zframe_data (f);
    size_t len = zframe_size (f);
    int refused = 0;
    for (size_t cut = 0; cut < len; cut++)
        refused += s_req_refused (d, cut);
    CHECK (refused == (int)len); /* every truncation */
    uint8_t longer[256];
    memcpy (longer, d, len);
    longer[len] = 0xc0;
    CHECK (s_req_refused (longer, len + 1)); /* trailing byte */
    CHECK (s_req_refused ("\xdd\xff\xff\xff\xff", 5));
    CHECK (s_req_refused ("\xdf\xff\xff\xff\xff", 5));
    CHECK (s_req_refused ("\xc6\xff\xff\xff\xff", 5));
    /* Wrong version, kind, op; a mistyped field; a peer too long. */
    memcpy (longer, d, len);
    longer[1] = 2;
    CHECK (s_req_refused (longer, len));
    memcpy (longer, d, len);
    longer[3] = 'x'; /* "req" -> "rxq" */
    CHECK (s_req_refused (longer, len));
    /* Every single byte changed to every value must either decode to a
       well-formed request or be refused, never crash or leak (ASan). */
    for (size_t i = 0; i < len; i++)
        for (int v = 0; v < 256; v++) {
            memcpy (longer, d, len);
            longer[i] = (uint8_t)v;
            zmsg_t *m = fixture_zmsg (longer, len);
            msg_api_req_t out;
            if (msg_api_req_decode (m, &out) == 0) {
                CHECK (out.op >= MSG_API_PUT && out.op <= MSG_API_LEASE_INFO);
                CHECK (strlen (out.peer) < RAFT_ADDR_MAX);
                msg_api_req_clear (&out);
            }
            zmsg_destroy (&m);
        }
    /* Two frames are not a request. */
    zmsg_t *two = zmsg_dup (zm);
    zmsg_addmem (two, "", 0);
    msg_api_req_t out;
    CHECK (msg_api_req_decode (two, &out) == -1);
    zmsg_destroy (&two);
    zmsg_destroy (&zm);
    /* A peer of RAFT_ADDR_MAX bytes. */
    msgpack_sbuffer b;
    msgpack_sbuffer_init (&b);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 9);
    msgpack_pack_uint8 (&pk, 1);
    s_pack_str (&pk, "req");
    msgpack_pack_uint8 (&pk, 1);
    s_pack_str (&pk, "join");
    msgpack_pack_nil (&pk);
    msgpack_pack_nil (&pk);
    msgpack_pack_false (&pk);
    char big[RAFT_ADDR_MAX + 1];
    memset (big, 'a', RAFT_ADDR_MAX);
    big[RAFT_ADDR_MAX] = 0;
    s_pack_str (&pk, big);
    msgpack_pack_uint8 (&pk, 1);
    CHECK (s_req_refused (b.data, b.size));
    msgpack_sbuffer_destroy (&b);
    /* A key that is a str, not bin. */
    msgpack_sbuffer_init (&b);
    msgpack_packer_init (&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 9);
    msgpack_pack_uint8 (&pk, 1);
    s_pack_str (&pk, "req");
    msgpack_pack_uint8 (&pk, 1);
    s_pack_str (&pk, "get");
    s_pack_str (&pk, "k");
    msgpack_pack_nil (&pk);
    msgpack_pack_false (&pk);
    msgpack_pack_nil (&pk);
    msgpack_pack_uint8 (&pk, 0);
    CHECK (s_req_refused (b.data, b.size));
    msgpack_sbuffer_destroy (&b);
}

static bool
s_str_eq (const char *a, const char *b)
{
    return a && b ? streq (a, b) : a == b;
}

static bool
s_health_eq (const msg_health_t *a, const msg_health_t *b)
{
    if (!a || !b || a->id != b->id || !s_str_eq (a->role, b->role) ||
        a->term != b->term || !s_str_eq (a->leader, b->leader) ||
        a->leader_id != b->leader_id || a->commit != b->commit ||
        a->applied != b->applied || a->last_index != b->last_index ||
        !s_str_eq (a->peer_addr, b->peer_addr) ||
        !s_str_eq (a->http_addr, b->http_addr) ||
        a->n_members != b->n_members || a->uptime_s != b->uptime_s ||
        a->dropped_msgs != b->dropped_msgs ||
        !s_str_eq (a->cluster_id, b->cluster_id) ||
        !s_str_eq (a->dir_id, b->dir_id) || !s_str_eq (a->origin, b->origin) ||
        a->voting != b->voting || a->base_index != b->base_index ||
        a->base_term != b->base_term || a->log_entries != b->log_entries ||
        a->log_bytes != b->log_bytes || a->has_snapshot != b->has_snapshot ||
        a->snap_index != b->snap_index || a->snap_term != b->snap_term ||
        a->snap_from != b->snap_from || a->snap_at_ms != b->snap_at_ms ||
        a->quota_bytes != b->quota_bytes || a->quota_known != b->quota_known ||
        a->quota_used != b->quota_used ||
        a->quota_clear_below != b->quota_clear_below ||
        a->fs_free != b->fs_free || a->alarm != b->alarm)
        return false;
    for (size_t i = 0; i < a->n_members; i++) {
        const msg_health_member_t *x = &a->members[i], *y = &b->members[i];
        if (x->id != y->id || !s_str_eq (x->peer_addr, y->peer_addr) ||
            !s_str_eq (x->http_addr, y->http_addr) || x->voter != y->voter ||
            x->has_match != y->has_match || x->match != y->match ||
            !s_str_eq (x->dir_id, y->dir_id))
            return false;
    }
    return true;
}

/* Every field of a's kind came back (the encoder looks at no other). */
static bool
s_rep_eq (const msg_api_rep_t *a, const msg_api_rep_t *b)
{
    if (a->req_id != b->req_id || a->status != b->status || a->kind != b->kind)
        return false;
    switch (a->kind) {
    case MSG_API_REP_EMPTY: return true;
    case MSG_API_REP_ERROR:
        return s_str_eq (a->code, b->code) && s_str_eq (a->detail, b->detail) &&
               a->has_leader == b->has_leader &&
               s_str_eq (a->leader, b->leader);
    case MSG_API_REP_WRITTEN:
        return equal_buf (a->key, b->key) && a->index == b->index &&
               a->is_delete == b->is_delete && a->flag == b->flag;
    case MSG_API_REP_VALUE:
        return equal_buf (a->key, b->key) && equal_buf (a->value, b->value) &&
               a->stale == b->stale;
    case MSG_API_REP_CONF: return a->id == b->id && a->index == b->index;
    case MSG_API_REP_HEALTH: return s_health_eq (a->health, b->health);
    case MSG_API_REP_KV:
        return a->index == b->index && equal_buf (a->value, b->value);
    case MSG_API_REP_LEASE:
        return a->id == b->id && a->ttl_ms == b->ttl_ms &&
               a->has_remaining == b->has_remaining &&
               a->remaining_ms == b->remaining_ms;
    }
    return false;
}

/* One reply of every kind, with every variant of its optional fields. */
static size_t
s_sample_reps (msg_api_rep_t *reps, raft_buf_t *key, raft_buf_t *value)
{
    static const msg_health_t bare = {
        .role = "follower", .peer_addr = "", .http_addr = ""};
    size_t n = 0;
    reps[n++] =
        (msg_api_rep_t){.req_id = 77, .status = 204, .kind = MSG_API_REP_EMPTY};
    reps[n++] = (msg_api_rep_t){.req_id = 1ULL << 63,
                                .status = 503,
                                .kind = MSG_API_REP_ERROR,
                                .code = "no_quorum"};
    reps[n++] = (msg_api_rep_t){.status = 409,
                                .kind = MSG_API_REP_ERROR,
                                .code = "reused_id",
                                .detail = "why \xc3\xa9"};
    reps[n++] = (msg_api_rep_t){.status = 409,
                                .kind = MSG_API_REP_ERROR,
                                .code = "not_leader",
                                .has_leader = true,
                                .leader = "h2:8000"};
    reps[n++] = (msg_api_rep_t){.status = 409,
                                .kind = MSG_API_REP_ERROR,
                                .code = "not_leader",
                                .has_leader = true};
    reps[n++] = (msg_api_rep_t){.req_id = 5,
                                .status = 200,
                                .kind = MSG_API_REP_WRITTEN,
                                .key = key,
                                .index = 1ULL << 40,
                                .flag = true};
    reps[n++] = (msg_api_rep_t){.status = 200,
                                .kind = MSG_API_REP_WRITTEN,
                                .key = key,
                                .index = 3,
                                .is_delete = true};
    reps[n++] = (msg_api_rep_t){.status = 200,
                                .kind = MSG_API_REP_VALUE,
                                .key = key,
                                .value = value,
                                .stale = true};
    reps[n++] =
        (msg_api_rep_t){.status = 404, .kind = MSG_API_REP_VALUE, .key = key};
    reps[n++] = (msg_api_rep_t){
        .status = 200, .kind = MSG_API_REP_CONF, .id = 4, .index = 10};
    reps[n++] = (msg_api_rep_t){
        .status = 200, .kind = MSG_API_REP_HEALTH, .health = &hf_full_health};
    reps[n++] = (msg_api_rep_t){
        .status = 503, .kind = MSG_API_REP_HEALTH, .health = &bare};
    reps[n++] = (msg_api_rep_t){.status = 200,
                                .kind = MSG_API_REP_LEASE,
                                .id = 1ULL << 40,
                                .ttl_ms = 1500,
                                .has_remaining = true,
                                .remaining_ms = 0};
    reps[n++] = (msg_api_rep_t){
        .status = 200, .kind = MSG_API_REP_LEASE, .id = 9, .ttl_ms = 60000};
    return n;
}

static void
s_test_api_rep (void)
{
    raft_buf_t *key = raft_buf_new ("k\0y", 3);
    raft_buf_t *value = raft_buf_new ("", 0);
    msg_api_rep_t reps[16];
    size_t n = s_sample_reps (reps, key, value);
    int kinds = 0;
    for (size_t k = 0; k < n; k++) {
        kinds |= 1 << reps[k].kind;
        zmsg_t *zm = msg_api_rep_encode (&reps[k]);
        CHECK (zm && zmsg_size (zm) == 1);
        if (!zm)
            continue;
        msg_api_rep_t out;
        CHECK (msg_api_rep_decode (zm, &out) == 0);
        if (!s_rep_eq (&reps[k], &out))
            fprintf (stderr, "  sample %zu came back different\n", k);
        CHECK (s_rep_eq (&reps[k], &out));
        /* the decoded reply encodes to the same bytes */
        zmsg_t *again = msg_api_rep_encode (&out);
        CHECK (again && zframe_eq (zmsg_first (zm), zmsg_first (again)));
        zmsg_destroy (&again);
        msg_api_rep_clear (&out);
        CHECK (out.kind == 0 && !out.code && !out.key && !out.health);

        zframe_t *f = zmsg_first (zm);
        const uint8_t *d = zframe_data (f);
        size_t len = zframe_size (f);
        int refused = 0;
        for (size_t cut = 0; cut < len; cut++)
            refused += s_rep_refused (d, cut);
        CHECK (refused == (int)len); /* every truncation */
        uint8_t buf[2048];
        CHECK (len + 1 <= sizeof buf);
        memcpy (buf, d, len);
        buf[len] = 0xc0;
        CHECK (s_rep_refused (buf, len + 1)); /* trailing byte */
        /* Every byte changed to every value: a well-formed reply or a
           refusal, never a crash or leak (ASan). The health reply is
           long: every fourth value of its bytes. */
        int step = reps[k].kind == MSG_API_REP_HEALTH ? 4 : 1;
        for (size_t i = 0; i < len; i++)
            for (int v = 0; v < 256; v += step) {
                memcpy (buf, d, len);
                buf[i] = (uint8_t)v;
                zmsg_t *m = fixture_zmsg (buf, len);
                if (msg_api_rep_decode (m, &out) == 0) {
                    CHECK (out.status >= 100 && out.status <= 599);
                    CHECK (out.kind >= MSG_API_REP_EMPTY &&
                           out.kind <= MSG_API_REP_LEASE);
                    CHECK (out.kind != MSG_API_REP_ERROR ||
                           (out.code && *out.code));
                    CHECK (out.kind != MSG_API_REP_HEALTH || out.health);
                    msg_api_rep_clear (&out);
                }
                zmsg_destroy (&m);
            }
        zmsg_destroy (&zm);
    }
    CHECK (kinds == 0x17e); /* the six kinds and the lease's (kv: its
                               own test) */
    CHECK (s_rep_refused ("\xdd\xff\xff\xff\xff", 5));
    /* A health whose member list declares 4 billion entries. */
    uint8_t hostile[] = {0x96, 0x01, 0xa3, 'r',  'e',  'p',  0x01,
                         0xcc, 200,  0xa6, 'h',  'e',  'a',  'l',
                         't',  'h',  0xdd, 0xff, 0xff, 0xff, 0xff};
    CHECK (s_rep_refused (hostile, sizeof hostile));

    /* The encoder refuses what the decoder would. */
    msg_api_rep_t bad = {.status = 200, .kind = MSG_API_REP_EMPTY};
    bad.status = 99;
    CHECK (msg_api_rep_encode (&bad) == NULL);
    bad.status = 600;
    CHECK (msg_api_rep_encode (&bad) == NULL);
    bad.status = 200;
    bad.kind = 0;
    CHECK (msg_api_rep_encode (&bad) == NULL);
    bad.kind = MSG_API_REP_HEALTH + 1;
    CHECK (msg_api_rep_encode (&bad) == NULL);
    bad.kind = MSG_API_REP_HEALTH; /* without its fields */
    CHECK (msg_api_rep_encode (&bad) == NULL);
    bad.kind = MSG_API_REP_ERROR; /* no code */
    CHECK (msg_api_rep_encode (&bad) == NULL);
    bad.code = "";
    CHECK (msg_api_rep_encode (&bad) == NULL);
    char big[MSG_API_DETAIL_MAX + 2];
    memset (big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    bad.code = big;
    CHECK (msg_api_rep_encode (&bad) == NULL);
    bad.code = "x";
    bad.detail = big;
    CHECK (msg_api_rep_encode (&bad) == NULL);
    big[MSG_API_DETAIL_MAX] = 0; /* exactly at the limit: fine */
    zmsg_t *zm = msg_api_rep_encode (&bad);
    CHECK (zm != NULL);
    zmsg_destroy (&zm);
    bad.detail = NULL;
    bad.leader = big; /* over RAFT_ADDR_MAX */
    CHECK (msg_api_rep_encode (&bad) == NULL);
    raft_buf_unref (key);
    raft_buf_unref (value);
}

int
main (void)
{
    check_watchdog ("test_http_codec", 120);
    check_run ("msg_api request round trip", s_test_api_req_roundtrip);
    check_run ("msg_api request hostile", s_test_api_req_hostile);
    check_run ("msg_api reply", s_test_api_rep);
    return check_report ();
}
