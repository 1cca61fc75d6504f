/*  test_storage_after.c -- "after": the messages the core hands out to send
    once durable, sent to the transport by storage itself.

    The storage actor is driven as the raft actor would drive it, through
    storage_fixture.h. One line per test; exit status 1 if any CHECK
    failed. Runs under ASan+UBSan with leak checking.
*/
#include "check.h"
#include "storage_fixture.h"
#include "msg_transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "after": what the core hands out to send once durable goes to the
   transport from storage once everything before it is durable, as a
   transport "send" (header, then the payload as it is); an
   acknowledgement of an entry replaced since is dropped; an "after" for
   a write that never came stops the node. */
static bool
s_pull_send (zsock_t *pull, raft_id_t to, const char *payload)
{
    zmsg_t *zm = zmsg_recv (pull);
    msg_transport_t t;
    bool ok = zm && msg_transport_decode (zm, &t) == 0 &&
              t.kind == MSG_TRANSPORT_SEND && t.to == to &&
              t.payload_len == strlen (payload) &&
              memcmp (t.payload, payload, t.payload_len) == 0;
    if (zm && ok)
        msg_transport_clear (&t);
    zmsg_destroy (&zm);
    return ok;
}

static msg_store_t
s_after (uint64_t seq, size_t n, const msg_after_t *items)
{
    msg_store_t m = {.kind = MSG_STORE_AFTER, .seq = seq, .n_after = n};
    m.after = calloc (n, sizeof *m.after);
    for (size_t i = 0; i < n; i++)
        m.after[i] = items[i];
    return m;
}

static void
test_after (void)
{
    raft_conf_t conf = sf_conf ();
    zsock_t *pull = zsock_new (ZMQ_PULL);
    zsock_set_rcvtimeo (pull, 5000);
    CHECK (zsock_bind (pull, "inproc://test-storage-after") == 0);
    sf_send_ep = "inproc://test-storage-after";
    sf_node_t n;
    msg_store_t boot, r;
    CHECK (sf_boot (&n, sf_dir ("after"), &conf, &boot));
    msg_store_clear (&boot);
    raft_entry_t *es = sf_entries (2, 2, 2); /* 2, 3 of term 2 */
    msg_store_t w = {.kind = MSG_STORE_WRITE,
                     .seq = 1,
                     .hs_changed = true,
                     .hs = {2, 1},
                     .entries = es,
                     .n_entries = 2};
    msg_after_t a1[] = {
        {.index = 3, .term = 2, .to = 5, .frame = zframe_new ("ack3", 4)}};
    msg_store_t af = s_after (1, 1, a1);
    sf_send (&n, &w);
    sf_send (&n, &af);
    msg_store_clear (&af);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_PERSISTED) && r.seq == 1);
    msg_store_clear (&r);
    CHECK (s_pull_send (pull, 5, "ack3"));

    /* entry 3 replaced by a newer leader's (term 3) in the same group:
       the acknowledgement of the old one is dropped, the vote goes */
    raft_entry_t e3 = sf_kv_entry (3, 3, MSG_KV_PUT, "x", "y");
    msg_store_t w2 = {.kind = MSG_STORE_WRITE,
                      .seq = 2,
                      .hs_changed = true,
                      .hs = {3, 0},
                      .entries = &e3,
                      .n_entries = 1};
    msg_after_t a2[] = {
        {.index = 3, .term = 2, .to = 5, .frame = zframe_new ("stale", 5)},
        {.index = 0, .term = 0, .to = 6, .frame = zframe_new ("vote", 4)},
        {.index = 3, .term = 3, .to = 7, .frame = zframe_new ("ack3t3", 6)}};
    af = s_after (2, 3, a2);
    sf_send (&n, &w2);
    sf_send (&n, &af);
    msg_store_clear (&af);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_PERSISTED) && r.seq == 2);
    msg_store_clear (&r);
    CHECK (s_pull_send (pull, 6, "vote"));
    CHECK (s_pull_send (pull, 7, "ack3t3"));

    /* an "after" for write 9, which never came: the node stops */
    msg_after_t a3[] = {
        {.index = 0, .term = 0, .to = 5, .frame = zframe_new ("x", 1)}};
    af = s_after (9, 1, a3);
    sf_send (&n, &af);
    msg_store_clear (&af);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_ERROR));
    CHECK (r.error && strstr (r.error, "write 9"));
    msg_store_clear (&r);
    zsock_set_rcvtimeo (pull, 300);
    zmsg_t *none = zmsg_recv (pull);
    CHECK (none == NULL); /* "stale" and "x" never left */
    zmsg_destroy (&none);
    sf_stop (&n);
    sf_send_ep = NULL;
    raft_buf_unref (e3.data);
    sf_entries_free (es, 2);
    zsock_destroy (&pull);
}

/* An "after" message leaves only once the write it waits for is durable
   (issue 14). Storage sends "persisted" right after the synced write and
   the messages after that, from one thread: so by the time the transport
   holds a message, its write's "persisted" is already queued on the PAIR,
   and a read that does not wait must find it. Each round writes about
   256 KiB (a synced write long enough for a message sent before it to be
   seen early); the planted after_before_fsync (NSXD_PLANTED_BUG=6) sends
   before the write and is caught here (make powercut-teeth). */
#define S_DURABLE_ROUNDS 20
#define S_DURABLE_ENTRIES 8
#define S_DURABLE_VALUE (32 * 1024)

static void
test_after_durable (void)
{
    raft_conf_t conf = sf_conf ();
    zsock_t *pull = zsock_new (ZMQ_PULL);
    zsock_set_rcvtimeo (pull, 5000);
    CHECK (zsock_bind (pull, "inproc://test-storage-after-durable") == 0);
    sf_send_ep = "inproc://test-storage-after-durable";
    sf_node_t n;
    msg_store_t boot, r;
    CHECK (sf_boot (&n, sf_dir ("after_durable"), &conf, &boot));
    msg_store_clear (&boot);
    char *value = malloc (S_DURABLE_VALUE + 1);
    CHECK (value != NULL);
    memset (value, 'v', S_DURABLE_VALUE);
    value[S_DURABLE_VALUE] = 0;
    int timeout = zsock_rcvtimeo (n.pair);
    size_t early = 0;
    raft_index_t last = 1; /* the bootstrap entry */
    for (uint64_t seq = 1; seq <= S_DURABLE_ROUNDS; seq++) {
        raft_entry_t es[S_DURABLE_ENTRIES];
        for (size_t i = 0; i < S_DURABLE_ENTRIES; i++)
            es[i] = sf_kv_entry (2, last + 1 + i, MSG_KV_PUT, "k", value);
        last += S_DURABLE_ENTRIES;
        msg_store_t w = {.kind = MSG_STORE_WRITE,
                         .seq = seq,
                         .hs_changed = seq == 1,
                         .hs = {2, 1},
                         .entries = es,
                         .n_entries = S_DURABLE_ENTRIES};
        msg_after_t a[] = {{.index = last,
                            .term = 2,
                            .to = 5,
                            .frame = zframe_new ("ack", 3)}};
        msg_store_t af = s_after (seq, 1, a);
        sf_send (&n, &w);
        sf_send (&n, &af);
        msg_store_clear (&af);
        for (size_t i = 0; i < S_DURABLE_ENTRIES; i++)
            raft_buf_unref (es[i].data);
        CHECK (s_pull_send (pull, 5, "ack"));
        /* the acknowledgement is out: its write must be durable already */
        zsock_set_rcvtimeo (n.pair, 0);
        int rc = sf_recv (&n, &r);
        zsock_set_rcvtimeo (n.pair, timeout);
        if (rc != 0) {
            early++;
            rc = sf_recv (&n, &r); /* it comes later */
        }
        CHECK (rc == 0 && r.kind == MSG_STORE_PERSISTED && r.seq == seq);
        msg_store_clear (&r);
    }
    if (early)
        fprintf (stderr,
                 "%zu of %d acknowledgements left before their write was "
                 "durable\n",
                 early, S_DURABLE_ROUNDS);
    CHECK (early == 0);
    free (value);
    sf_stop (&n);
    sf_send_ep = NULL;
    zsock_destroy (&pull);
}

int
main (void)
{
    if (sf_init ("test_storage_after") != 0)
        return 1;
    CHECK_RUN (test_after);
    CHECK_RUN (test_after_durable);
    return sf_done ();
}
