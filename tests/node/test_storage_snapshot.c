/*  test_storage_snapshot.c -- compaction (the base recorded, the entries up to it
    deleted) and InstallSnapshot on both sides: the leader's copy sent
    in chunks, the follower's staged chunks switched in by one write.

    The storage actor is driven as the raft actor would drive it, through
    storage_fixture.h. One line per test; exit status 1 if any CHECK
    failed. Runs under ASan+UBSan with leak checking.
*/
#include "check.h"
#include "storage_fixture.h"

#include <stdlib.h>
#include <string.h>

/* Compaction: the base is recorded and the entries up to it deleted in
   one batch; a restart boots from the base and the tail only, with the
   KV data intact; compacting beyond what was applied stops the actor. */
/* A pair of snapshot data: key and value as a record (store_format.h). */
static void
s_pack_rec (msgpack_sbuffer *b, const char *k, const char *v)
{
    size_t len;
    char *rec = fixture_record (v, &len);
    msg_snap_pack_pair (b, k, strlen (k), rec, len);
    free (rec);
}

static void
test_compact (void)
{
    raft_conf_t conf = sf_conf ();
    sf_node_t n;
    msg_store_t boot, r;
    CHECK (sf_boot (&n, sf_dir ("compact"), &conf, &boot));
    raft_entry_t *es = sf_entries (2, 2, 10); /* 2..11: k2=v2 ... */
    CHECK (sf_write (&n, 1, true, 2, 1, es, 10));
    /* apply the bootstrap entry (1), then 2..9 */
    msg_store_t a = {.kind = MSG_STORE_APPLY, .applied = 1, .applied_term = 1};
    sf_send (&n, &a);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_APPLIED));
    msg_store_clear (&r);
    msg_store_clear (&boot);
    a.applied = 9;
    a.applied_term = 2;
    sf_send (&n, &a);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_APPLIED));
    CHECK (r.applied == 9);
    msg_store_clear (&r);
    msg_store_t c = {.kind = MSG_STORE_COMPACT};
    c.base = (raft_entry_t){.index = 7,
                            .term = 2,
                            .type = RAFT_ENTRY_CONF,
                            .data = raft_buf_new (&conf, sizeof conf)};
    sf_send (&n, &c);
    CHECK (sf_get_is (&n, 1, "k5", "v5")); /* handled after the compact */
    sf_stop (&n);

    CHECK (sf_boot (&n, sf_dir ("compact"), &conf, &boot));
    CHECK (boot.base.index == 7 && boot.base.term == 2);
    CHECK (boot.base.data && raft_entry_conf (&boot.base) &&
           raft_conf_equal (raft_entry_conf (&boot.base), &conf));
    CHECK (boot.n_entries == 4 && boot.entries[0].index == 8);
    CHECK (boot.applied == 9 && boot.hs.term == 2);
    msg_store_clear (&boot);
    CHECK (sf_get_is (&n, 2, "k3", "v3"));
    CHECK (sf_get_is (&n, 3, "k9", "v9"));

    /* beyond applied (9): refused, the actor stops */
    c.base.index = 10;
    sf_send (&n, &c);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_ERROR));
    CHECK (r.error && strstr (r.error, "beyond applied"));
    msg_store_clear (&r);
    sf_stop (&n);
    raft_buf_unref (c.base.data);
    sf_entries_free (es, 10);
}

static int
s_count_pair (void *ctx, const void *key, size_t key_len, const void *value,
              size_t value_len)
{
    (void)key, (void)key_len, (void)value, (void)value_len;
    (*(int *)ctx)++;
    return 0;
}

/* InstallSnapshot in storage. The leader's side: chunk 0 takes a copy of
   the applied KV data with its index, term and configuration; a resend of
   the last chunk gives the same bytes; a chunk of another copy is refused.
   The follower's side: chunks are staged apart; a restart before the last
   one leaves the old state whole; with the last, one write switches to the
   new data and base, which a restart keeps. */
static void
test_snapshot (void)
{
    raft_conf_t conf = sf_conf ();
    sf_node_t a, b;
    msg_store_t boot, r;
    CHECK (sf_boot (&a, sf_dir ("snap-leader"), &conf, &boot));
    raft_entry_t *es = sf_entries (2, 2, 10); /* k2..k11 */
    CHECK (sf_write (&a, 1, true, 2, 1, es, 10));
    msg_store_t ap = {.kind = MSG_STORE_APPLY, .applied = 1, .applied_term = 1};
    sf_send (&a, &ap);
    CHECK (sf_recv_kind (&a, &r, MSG_STORE_APPLIED));
    msg_store_clear (&r);
    msg_store_clear (&boot);
    ap.applied = 11;
    ap.applied_term = 2;
    sf_send (&a, &ap);
    CHECK (sf_recv_kind (&a, &r, MSG_STORE_APPLIED));
    msg_store_clear (&r);

    msg_store_t rd = {.kind = MSG_STORE_SNAP_READ,
                      .peer = 5,
                      .chunk = 0,
                      .msg_term = 2,
                      .msg_commit = 11};
    sf_send (&a, &rd);
    msg_store_t c0;
    CHECK (sf_recv_kind (&a, &c0, MSG_STORE_SNAP_CHUNK));
    CHECK (c0.ok && c0.peer == 5 && c0.chunk == 0 && c0.done &&
           c0.msg_term == 2 && c0.msg_commit == 11);
    CHECK (c0.base.index == 11 && c0.base.term == 2 &&
           raft_entry_conf (&c0.base) &&
           raft_conf_equal (raft_entry_conf (&c0.base), &conf));
    int pairs = 0;
    CHECK (c0.value && msg_snap_unpack (c0.value->data, c0.value->len,
                                        s_count_pair, &pairs) == 0);
    CHECK (pairs == 10);
    /* the same chunk again (its answer was lost): the same bytes */
    rd.snap_index = 11;
    rd.snap_term = 2;
    sf_send (&a, &rd);
    rd.chunk = 0;
    CHECK (sf_recv_kind (&a, &r, MSG_STORE_SNAP_CHUNK));
    CHECK (r.ok && r.value && c0.value && r.value->len == c0.value->len);
    msg_store_clear (&r);
    /* a chunk of a copy that is not the one in progress */
    rd.chunk = 1;
    rd.snap_index = 9;
    sf_send (&a, &rd);
    CHECK (sf_recv_kind (&a, &r, MSG_STORE_SNAP_CHUNK));
    CHECK (!r.ok && r.base.index == 0);
    msg_store_clear (&r);
    sf_stop (&a);

    /* The follower: a fresh server with only the bootstrap entry. The
       copy's pairs go in two chunks. */
    CHECK (sf_boot (&b, sf_dir ("snap-follower"), &conf, &boot));
    msg_store_clear (&boot);
    msgpack_sbuffer h1, h2;
    msgpack_sbuffer_init (&h1);
    msgpack_sbuffer_init (&h2);
    msg_snap_pack_begin (&h1, 2);
    s_pack_rec (&h1, "k2", "v2"); /* records: snapshot data version 2 */
    s_pack_rec (&h1, "k3", "v3");
    msg_snap_pack_begin (&h2, 1);
    s_pack_rec (&h2, "only", "here");
    msg_store_t w = {.kind = MSG_STORE_WRITE, .seq = 1, .has_snap = true};
    w.snap = (raft_snapshot_chunk_t){.index = 11,
                                     .term = 2,
                                     .conf = conf,
                                     .chunk = 0,
                                     .data = raft_buf_new (h1.data, h1.size)};
    sf_send (&b, &w);
    CHECK (sf_recv_kind (&b, &r, MSG_STORE_PERSISTED) && r.seq == 1);
    msg_store_clear (&r);
    CHECK (sf_get_is (&b, 1, "k2", NULL)); /* staged, not the data */
    sf_stop (&b);                          /* a crash before the last chunk */

    CHECK (sf_boot (&b, sf_dir ("snap-follower"), &conf, &boot));
    CHECK (boot.applied == 0 && boot.base.index == 0 && boot.n_entries == 1);
    msg_store_clear (&boot);
    CHECK (sf_get_is (&b, 2, "k2", NULL));
    /* the transfer starts over: chunk 0, then the last */
    sf_send (&b, &w);
    CHECK (sf_recv_kind (&b, &r, MSG_STORE_PERSISTED) && r.seq == 1);
    msg_store_clear (&r);
    raft_buf_unref (w.snap.data);
    w.seq = 2;
    w.snap.chunk = 1;
    w.snap.done = true;
    w.snap.data = raft_buf_new (h2.data, h2.size);
    sf_send (&b, &w);
    CHECK (sf_recv_kind (&b, &r, MSG_STORE_PERSISTED) && r.seq == 2);
    msg_store_clear (&r);
    CHECK (sf_get_is (&b, 3, "k2", "v2"));
    CHECK (sf_get_is (&b, 4, "only", "here"));
    /* entries after the snapshot go on from there */
    raft_entry_t *more = sf_entries (3, 12, 1);
    CHECK (sf_write (&b, 3, true, 3, 0, more, 1));
    sf_stop (&b);

    CHECK (sf_boot (&b, sf_dir ("snap-follower"), &conf, &boot));
    CHECK (boot.applied == 11 && boot.base.index == 11 && boot.base.term == 2 &&
           boot.n_entries == 1 && boot.entries[0].index == 12);
    msg_store_clear (&boot);
    CHECK (sf_get_is (&b, 5, "k3", "v3"));
    sf_stop (&b);
    raft_buf_unref (w.snap.data);
    msgpack_sbuffer_destroy (&h1);
    msgpack_sbuffer_destroy (&h2);
    msg_store_clear (&c0);
    sf_entries_free (es, 10);
    sf_entries_free (more, 1);
}

int
main (void)
{
    if (sf_init ("test_storage_snapshot") != 0)
        return 1;
    CHECK_RUN (test_compact);
    CHECK_RUN (test_snapshot);
    return sf_done ();
}
