/*  test_storage_leases.c -- leases in the storage actor
    (actors/storage_leases.c, store/store_lease.c): a grant and its
    result's lease fields; keys attached; "leases" answered from the
    table in id order; a revoke deletes exactly the attached keys and
    removes the lease ('e' key deleted); a restart loads the table back;
    a snapshot copy carries it (data version 4) and an install replaces
    the follower's, also with an empty one (version 2 data). And the
    codecs on the wire: "leases" both ways and the 7-element apply result,
    round trips, prefixes and malformed input refused.
*/
#include "check.h"
#include "kvsm_lease.h"
#include "msg_kv_lease.h"
#include "storage_fixture.h"

#include <stdlib.h>
#include <string.h>

static raft_entry_t
s_entry (raft_index_t index, kvsm_cmd_t c)
{
    raft_entry_t e = {.term = 1,
                      .index = index,
                      .type = RAFT_ENTRY_NORMAL,
                      .data = msg_kv_encode (&c)};
    CHECK (e.data != NULL);
    kvsm_cmd_clear (&c);
    return e;
}

static kvsm_cmd_t
s_put (const char *key, uint64_t lease)
{
    return (kvsm_cmd_t){.op = KVSM_PUT,
                        .key = raft_buf_new (key, strlen (key)),
                        .value = raft_buf_new ("v", 1),
                        .lease = lease};
}

/* Apply up to index (term 1) and take "applied" into *r. */
static bool
s_apply (sf_node_t *n, raft_index_t index, msg_store_t *r)
{
    msg_store_t a = {
        .kind = MSG_STORE_APPLY, .applied = index, .applied_term = 1};
    sf_send (n, &a);
    return sf_recv_kind (n, r, MSG_STORE_APPLIED) && r->applied == index;
}

/* Ask "leases"; does the answer hold exactly ids/ttls at applied? */
static bool
s_leases_are (sf_node_t *n, raft_index_t applied, const lessor_lease_t *want,
              size_t n_want)
{
    static uint64_t req = 100;
    msg_store_t q = {.kind = MSG_STORE_LEASES, .req_id = ++req}, r;
    sf_send (n, &q);
    if (!sf_recv_kind (n, &r, MSG_STORE_LEASES))
        return false;
    bool ok = r.req_id == req && r.applied == applied && r.n_leases == n_want;
    for (size_t i = 0; ok && i < n_want; i++)
        ok = r.leases[i].id == want[i].id &&
             r.leases[i].ttl_ms == want[i].ttl_ms;
    msg_store_clear (&r);
    return ok;
}

static const msg_apply_result_t *
s_result_of (const msg_store_t *r, raft_index_t index)
{
    for (size_t i = 0; i < r->n_results; i++)
        if (r->results[i].index == index)
            return &r->results[i];
    return NULL;
}

static void
test_leases (void)
{
    raft_conf_t conf = sf_conf ();
    sf_node_t a, b;
    msg_store_t boot, r;
    CHECK (sf_boot (&a, sf_dir ("lease-leader"), &conf, &boot));
    msg_store_clear (&boot);
    raft_entry_t es[] = {
        s_entry (2, (kvsm_cmd_t){.op = KVSM_LGRANT, .ttl_ms = 5000}),
        s_entry (3, s_put ("x", 2)),
        s_entry (4, s_put ("y", 2)),
        s_entry (5, s_put ("z", 0)),
        s_entry (6, (kvsm_cmd_t){.op = KVSM_LGRANT, .ttl_ms = 9000}),
        s_entry (7, s_put ("w", 6)),
        s_entry (8, s_put ("q", 99)), /* no such lease: refused */
    };
    CHECK (sf_write (&a, 1, true, 1, 1, es, 7));
    CHECK (s_apply (&a, 8, &r));
    const msg_apply_result_t *g = s_result_of (&r, 2);
    CHECK (g && g->status == 200 && g->lease_event == KVSM_LEASE_EV_GRANTED &&
           g->lease == 2 && g->lease_ttl_ms == 5000);
    g = s_result_of (&r, 3);
    CHECK (g && g->status == 200 && g->lease_event == 0);
    g = s_result_of (&r, 8);
    CHECK (g && g->status == 404 && g->lease_event == 0);
    msg_store_clear (&r);
    CHECK (sf_get_is (&a, 1, "x", "v"));
    CHECK (sf_get_is (&a, 2, "q", NULL));
    lessor_lease_t both[] = {{2, 5000}, {6, 9000}}, one[] = {{6, 9000}};
    CHECK (s_leases_are (&a, 8, both, 2));

    /* the revoke: x and y go, z and w stay */
    raft_entry_t rv = s_entry (
        9, (kvsm_cmd_t){.op = KVSM_LREVOKE, .lease = 2, .expired = true});
    CHECK (sf_write (&a, 2, false, 1, 1, &rv, 1));
    CHECK (s_apply (&a, 9, &r));
    g = s_result_of (&r, 9);
    CHECK (g && g->status == 200 && g->lease_event == KVSM_LEASE_EV_REVOKED &&
           g->lease == 2);
    kvsm_result_t res;
    CHECK (g && g->result &&
           msg_kv_result_decode (g->result->data, g->result->len, &res) == 0);
    CHECK (res.op == KVSM_LREVOKE && res.lease_deleted == 2 && res.expired);
    kvsm_result_clear (&res);
    msg_store_clear (&r);
    CHECK (sf_get_is (&a, 3, "x", NULL));
    CHECK (sf_get_is (&a, 4, "y", NULL));
    CHECK (sf_get_is (&a, 5, "z", "v"));
    CHECK (sf_get_is (&a, 6, "w", "v"));
    CHECK (s_leases_are (&a, 9, one, 1));

    /* a restart loads the table back */
    sf_stop (&a);
    CHECK (sf_boot (&a, sf_dir ("lease-leader"), &conf, &boot));
    CHECK (boot.applied == 9);
    msg_store_clear (&boot);
    CHECK (s_leases_are (&a, 9, one, 1));

    /* a copy carries the table (version 4) */
    msg_store_t rd = {.kind = MSG_STORE_SNAP_READ,
                      .peer = 2,
                      .chunk = 0,
                      .msg_term = 1,
                      .msg_commit = 9};
    sf_send (&a, &rd);
    msg_store_t c0;
    CHECK (sf_recv_kind (&a, &c0, MSG_STORE_SNAP_CHUNK) && c0.ok && c0.done);
    CHECK (c0.value && msg_snap_version (c0.value->data, c0.value->len) ==
                           MSG_SNAP_VERSION_LEASES);
    raft_buf_t *tb =
        c0.value ? msg_snap_leases (c0.value->data, c0.value->len) : NULL;
    kvsm_leases_t *t = tb ? msg_kv_leases_decode (tb->data, tb->len) : NULL;
    CHECK (t && t->n == 1 && t->v[0].id == 6 && t->v[0].n_keys == 1 &&
           t->v[0].keys[0]->len == 1 && t->v[0].keys[0]->data[0] == 'w');
    kvsm_leases_destroy (&t);
    raft_buf_unref (tb);
    sf_stop (&a);

    /* the follower installs it, and keeps it over a restart */
    CHECK (sf_boot (&b, sf_dir ("lease-follower"), &conf, &boot));
    msg_store_clear (&boot);
    msg_store_t w = {.kind = MSG_STORE_WRITE, .seq = 1, .has_snap = true};
    w.snap = (raft_snapshot_chunk_t){.index = 9,
                                     .term = 1,
                                     .conf = conf,
                                     .chunk = 0,
                                     .done = true,
                                     .data = raft_buf_ref (c0.value)};
    sf_send (&b, &w);
    CHECK (sf_recv_kind (&b, &r, MSG_STORE_PERSISTED) && r.seq == 1);
    msg_store_clear (&r);
    raft_buf_unref (w.snap.data);
    CHECK (sf_get_is (&b, 7, "w", "v"));
    CHECK (s_leases_are (&b, 9, one, 1));
    sf_stop (&b);
    CHECK (sf_boot (&b, sf_dir ("lease-follower"), &conf, &boot));
    msg_store_clear (&boot);
    CHECK (s_leases_are (&b, 9, one, 1));
    /* a copy without leases (version 2) installs with none */
    msgpack_sbuffer h;
    msgpack_sbuffer_init (&h);
    msg_snap_pack_begin (&h, 0);
    w.seq = 1;
    w.snap.index = 20;
    w.snap.data = raft_buf_new (h.data, h.size);
    sf_send (&b, &w);
    CHECK (sf_recv_kind (&b, &r, MSG_STORE_PERSISTED) && r.seq == 1);
    msg_store_clear (&r);
    raft_buf_unref (w.snap.data);
    msgpack_sbuffer_destroy (&h);
    CHECK (s_leases_are (&b, 20, NULL, 0));
    sf_stop (&b);
    CHECK (sf_boot (&b, sf_dir ("lease-follower"), &conf, &boot));
    msg_store_clear (&boot);
    CHECK (s_leases_are (&b, 20, NULL, 0));
    sf_stop (&b);
    msg_store_clear (&c0);
    for (size_t i = 0; i < sizeof es / sizeof *es; i++)
        raft_buf_unref (es[i].data);
    raft_buf_unref (rv.data);
}

/* Every proper prefix of m's encoding is refused. */
static void
s_refuses_prefixes (const msg_store_t *m)
{
    zmsg_t *zm = msg_store_encode (m);
    CHECK (zm != NULL);
    if (!zm)
        return;
    zframe_t *f = zmsg_first (zm);
    for (size_t n = 0; n < zframe_size (f); n++) {
        zmsg_t *p = zmsg_new ();
        zmsg_addmem (p, zframe_data (f), n);
        msg_store_t d;
        CHECK (msg_store_decode (p, &d) == -1);
        zmsg_destroy (&p);
    }
    zmsg_destroy (&zm);
}

static bool
s_decodes (const void *bytes, size_t len, msg_store_t *d)
{
    zmsg_t *zm = zmsg_new ();
    zmsg_addmem (zm, bytes, len);
    int rc = msg_store_decode (zm, d);
    zmsg_destroy (&zm);
    return rc == 0;
}

static void
test_codec (void)
{
    lessor_lease_t ls[] = {{3, 1500}, {UINT64_MAX, 30ULL * 24 * 3600 * 1000}};
    msg_apply_result_t res[] = {
        {.index = 3, .existed = true, .status = 200},
        {.index = 4,
         .status = 200,
         .lease_event = KVSM_LEASE_EV_GRANTED,
         .lease = 4,
         .lease_ttl_ms = 1500},
        {.index = 5,
         .status = 200,
         .lease_event = KVSM_LEASE_EV_REVOKED,
         .lease = 4},
    };
    msg_store_t ms[] = {
        {.kind = MSG_STORE_LEASES, .req_id = 7},
        {.kind = MSG_STORE_LEASES, .req_id = 8, .applied = 9},
        {.kind = MSG_STORE_LEASES,
         .req_id = 9,
         .applied = 12,
         .leases = ls,
         .n_leases = 2},
        {.kind = MSG_STORE_APPLIED,
         .applied = 5,
         .results = res,
         .n_results = 3},
    };
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++) {
        const msg_store_t *m = &ms[i];
        zmsg_t *zm = msg_store_encode (m);
        msg_store_t d;
        CHECK (zm && msg_store_decode (zm, &d) == 0);
        CHECK (d.kind == m->kind && d.req_id == m->req_id &&
               d.applied == m->applied && d.n_leases == m->n_leases &&
               d.n_results == m->n_results);
        for (size_t k = 0; k < d.n_leases && k < m->n_leases; k++)
            CHECK (d.leases[k].id == m->leases[k].id &&
                   d.leases[k].ttl_ms == m->leases[k].ttl_ms);
        for (size_t k = 0; k < d.n_results && k < m->n_results; k++)
            CHECK (d.results[k].index == m->results[k].index &&
                   d.results[k].lease_event == m->results[k].lease_event &&
                   d.results[k].lease == m->results[k].lease &&
                   d.results[k].lease_ttl_ms == m->results[k].lease_ttl_ms);
        msg_store_clear (&d);
        zmsg_destroy (&zm);
        s_refuses_prefixes (m);
    }
    /* malformed: ids not increasing, id 0, TTL 0, 4 elements, an event
       out of range, a 5-element result */
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
#define S_BAD(s) {s, sizeof s - 1}
        S_BAD ("\x95\x01\xa6leases\x01\x02\x92\x92\x05\x01\x92\x05\x01"),
        S_BAD ("\x95\x01\xa6leases\x01\x02\x91\x92\x00\x01"),
        S_BAD ("\x95\x01\xa6leases\x01\x02\x91\x92\x05\x00"),
        S_BAD ("\x94\x01\xa6leases\x01\x02"),
        S_BAD ("\x94\x01\xa7"
               "applied\x05\x91\x97\x05\xc2\xcc\xc8\xc0\x03\x01\x01"),
        S_BAD ("\x94\x01\xa7"
               "applied\x05\x91\x95\x05\xc2\xcc\xc8\xc0\x01"),
#undef S_BAD
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        msg_store_t d;
        CHECK (!s_decodes (bad[i].bytes, bad[i].len, &d));
    }
    /* and the good neighbours of the last two decode */
    msg_store_t d;
    static const char good[] =
        "\x94\x01\xa7"
        "applied\x05\x91\x97\x05\xc2\xcc\xc8\xc0\x02\x01\x00";
    CHECK (s_decodes (good, sizeof good - 1, &d) && d.n_results == 1 &&
           d.results[0].lease_event == 2 && d.results[0].lease == 1);
    msg_store_clear (&d);
}

int
main (void)
{
    if (sf_init ("test_storage_leases") != 0)
        return 1;
    CHECK_RUN (test_codec);
    CHECK_RUN (test_leases);
    return sf_done ();
}
