/*  test_storage_faults.c -- hostile and failed starts: malformed requests
    dropped and counted, a data directory that cannot be opened or is
    locked, and a raft actor that connects before storage binds.

    The storage actor is driven as the raft actor would drive it, through
    storage_fixture.h. One line per test; exit status 1 if any CHECK
    failed. Runs under ASan+UBSan with leak checking.
*/
#include "check.h"
#include "storage_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_malformed (void)
{
    raft_conf_t conf = sf_conf ();
    sf_node_t n;
    msg_store_t boot;
    CHECK (sf_boot (&n, sf_dir ("malformed"), &conf, &boot));
    msg_store_clear (&boot);
    uint64_t sent = 0;

    uint8_t junk[64];
    for (int round = 0; round < 20; round++) {
        size_t len = 1 + sf_rand () % sizeof junk;
        for (size_t i = 0; i < len; i++)
            junk[i] = (uint8_t)sf_rand ();
        sf_send_raw (&n, junk, len);
        sent++;
    }
    sf_send_raw (&n, "", 0); /* empty frame */
    sf_send_raw (&n, "\xdd\xff\xff\xff\xff", 5);
    sent += 2;

    /* a valid write, truncated */
    raft_entry_t *es = sf_entries (1, 2, 2);
    msg_store_t w = {
        .kind = MSG_STORE_WRITE, .seq = 1, .entries = es, .n_entries = 2};
    zmsg_t *zm = msg_store_encode (&w);
    zframe_t *f = zmsg_first (zm);
    sf_send_raw (&n, zframe_data (f), zframe_size (f) - 3);
    sent++;
    /* wrong version */
    uint8_t *copy = malloc (zframe_size (f));
    memcpy (copy, zframe_data (f), zframe_size (f));
    CHECK (copy[1] == 0x01);
    copy[1] = 0x02;
    sf_send_raw (&n, copy, zframe_size (f));
    sent++;
    free (copy);
    /* two frames */
    zmsg_t *two = zmsg_dup (zm);
    zmsg_addstr (two, "extra");
    zmsg_send (&two, n.pair);
    sent++;
    zmsg_destroy (&zm);
    /* a kind storage does not take */
    msg_store_t p = {.kind = MSG_STORE_PERSISTED, .seq = 9};
    sf_send (&n, &p);
    sent++;

    /* still answering, and nothing of the above was written */
    CHECK (sf_get_is (&n, 42, "k2", NULL));
    CHECK (sf_write (&n, 1, false, 0, 0, es, 2));
    CHECK (sf_dropped (&n) == sent);
    sf_stop (&n);
    CHECK (sf_boot (&n, sf_dir ("malformed"), &conf, &boot));
    CHECK (boot.n_entries == 3);
    msg_store_clear (&boot);
    sf_stop (&n);
    sf_entries_free (es, 2);
}

static void
test_open_failure (void)
{
    raft_conf_t conf = sf_conf ();
    sf_node_t n, m;
    msg_store_t boot, r;
    /* a data directory under a regular file */
    FILE *file = fopen (sf_dir ("plainfile"), "w");
    CHECK (file != NULL);
    if (file)
        fclose (file);
    char path[300];
    snprintf (path, sizeof path, "%s/db", sf_dir ("plainfile"));
    sf_start (&n, path, &conf);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_ERROR));
    msg_store_clear (&r);
    sf_stop (&n);

    /* the database locked by another actor */
    CHECK (sf_boot (&n, sf_dir ("locked"), &conf, &boot));
    msg_store_clear (&boot);
    sf_start (&m, sf_dir ("locked"), &conf);
    CHECK (sf_recv_kind (&m, &r, MSG_STORE_ERROR));
    msg_store_clear (&r);
    sf_stop (&m);
    CHECK (sf_get_is (&n, 1, "x", NULL)); /* the first one is unharmed */
    sf_stop (&n);
}

/* The raft actor may connect before the storage actor binds (inproc
   allows it): boot still arrives. */
static void
test_connect_first (void)
{
    raft_conf_t conf = sf_conf ();
    zsock_t *pair = zsock_new (ZMQ_PAIR);
    zsock_set_rcvtimeo (pair, 10000);
    zsock_connect (pair, "inproc://test-storage-early");
    storage_args_t args = {.data_dir = sf_dir ("early"),
                           .endpoint = "inproc://test-storage-early",
                           .bootstrap = &conf};
    zactor_t *actor = zactor_new (storage_actor, &args);
    zmsg_t *zm = zmsg_recv (pair);
    msg_store_t m;
    CHECK (zm && msg_store_decode (zm, &m) == 0 && m.kind == MSG_STORE_BOOT &&
           m.n_entries == 1);
    msg_store_clear (&m);
    zmsg_destroy (&zm);
    zsock_destroy (&pair);
    zactor_destroy (&actor);
}

int
main (void)
{
    if (sf_init ("test_storage_faults") != 0)
        return 1;
    CHECK_RUN (test_malformed);
    CHECK_RUN (test_open_failure);
    CHECK_RUN (test_connect_first);
    return sf_done ();
}
