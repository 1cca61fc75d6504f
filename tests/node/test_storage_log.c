/*  test_storage_log.c -- writing the log: bootstrap, a joiner's empty start,
    writes and truncations kept across restarts, the hard state, group
    commit, the slow_fsync trace, and writes refused because they would
    break the log.

    The storage actor is driven as the raft actor would drive it, through
    storage_fixture.h. One line per test; exit status 1 if any CHECK
    failed. Runs under ASan+UBSan with leak checking.
*/
#include "check.h"
#include "storage_fixture.h"
#include "metrics.h"
#include "monitor.h"
#include "msg_trace.h"

#include <string.h>

static void
test_bootstrap (void)
{
    raft_conf_t conf = sf_conf ();
    sf_node_t n;
    msg_store_t boot;
    CHECK (sf_boot (&n, sf_dir ("bootstrap"), &conf, &boot));
    CHECK (boot.hs.term == 1 && boot.hs.vote == 0 && boot.applied == 0);
    CHECK (boot.n_entries == 1);
    if (boot.n_entries == 1) {
        raft_entry_t expect = raft_bootstrap_entry (&conf);
        CHECK (sf_entry_equal (&boot.entries[0], &expect));
        CHECK (boot.entries[0].index == 1 && boot.entries[0].term == 1 &&
               boot.entries[0].type == RAFT_ENTRY_CONF);
        CHECK (raft_conf_equal (raft_entry_conf (&boot.entries[0]), &conf));
        raft_buf_unref (expect.data);
    }
    msg_store_clear (&boot);
    sf_stop (&n);

    /* A restart does not bootstrap again. */
    CHECK (sf_boot (&n, sf_dir ("bootstrap"), &conf, &boot));
    CHECK (boot.hs.term == 1 && boot.n_entries == 1);
    msg_store_clear (&boot);
    sf_stop (&n);
}

/* A joining server (no bootstrap) starts empty, and a database that
   exists is never bootstrapped later. */
static void
test_no_bootstrap (void)
{
    raft_conf_t conf = sf_conf ();
    sf_node_t n;
    msg_store_t boot;
    CHECK (sf_boot (&n, sf_dir ("join"), NULL, &boot));
    CHECK (boot.hs.term == 0 && boot.hs.vote == 0 && boot.applied == 0 &&
           boot.n_entries == 0);
    msg_store_clear (&boot);
    sf_stop (&n);
    CHECK (sf_boot (&n, sf_dir ("join"), &conf, &boot));
    CHECK (boot.hs.term == 0 && boot.n_entries == 0);
    msg_store_clear (&boot);
    sf_stop (&n);
}

static void
test_write_restart (void)
{
    raft_conf_t conf = sf_conf ();
    sf_node_t n;
    msg_store_t boot;
    CHECK (sf_boot (&n, sf_dir ("write"), &conf, &boot));
    msg_store_clear (&boot);
    raft_entry_t *es = sf_entries (2, 2, 4); /* 2..5 */
    CHECK (sf_write (&n, 1, true, 2, 1, es, 4));
    sf_stop (&n);

    CHECK (sf_boot (&n, sf_dir ("write"), &conf, &boot));
    CHECK (boot.hs.term == 2 && boot.hs.vote == 1);
    CHECK (boot.n_entries == 5);
    for (size_t i = 1; i < boot.n_entries && i < 5; i++)
        CHECK (sf_entry_equal (&boot.entries[i], &es[i - 1]));
    msg_store_clear (&boot);
    sf_stop (&n);
    sf_entries_free (es, 4);
}

static void
test_truncate (void)
{
    raft_conf_t conf = sf_conf ();
    sf_node_t n;
    msg_store_t boot;
    CHECK (sf_boot (&n, sf_dir ("truncate"), &conf, &boot));
    msg_store_clear (&boot);
    raft_entry_t *a = sf_entries (1, 2, 5); /* 2..6, term 1 */
    CHECK (sf_write (&n, 1, false, 0, 0, a, 5));
    /* 4 with term 2 replaces 4..6; the hard state fields are ignored
       without hs_changed */
    raft_entry_t *b = sf_entries (2, 4, 1);
    CHECK (sf_write (&n, 2, false, 99, 9, b, 1));
    sf_stop (&n);

    CHECK (sf_boot (&n, sf_dir ("truncate"), &conf, &boot));
    CHECK (boot.hs.term == 1 && boot.hs.vote == 0);
    CHECK (boot.n_entries == 4);
    if (boot.n_entries == 4) {
        CHECK (sf_entry_equal (&boot.entries[2], &a[1]));
        CHECK (sf_entry_equal (&boot.entries[3], &b[0]));
    }
    msg_store_clear (&boot);

    /* Two writes in flight at once, the second truncating the first:
       grouped or not, the result is the second's. (A restarted actor
       serves a restarted raft core: writes count from 1 again.) */
    raft_entry_t *c = sf_entries (2, 5, 3); /* 5..7 */
    raft_entry_t *d = sf_entries (3, 6, 1); /* 6, term 3 */
    msg_store_t w1 = {
        .kind = MSG_STORE_WRITE, .seq = 1, .entries = c, .n_entries = 3};
    msg_store_t w2 = {.kind = MSG_STORE_WRITE,
                      .seq = 2,
                      .hs_changed = true,
                      .hs = {3, 2},
                      .entries = d,
                      .n_entries = 1};
    sf_send (&n, &w1);
    sf_send (&n, &w2);
    uint64_t seq = 0;
    msg_store_t r;
    while (seq < 2 && sf_recv_kind (&n, &r, MSG_STORE_PERSISTED)) {
        CHECK (r.seq > seq);
        seq = r.seq;
        msg_store_clear (&r);
    }
    CHECK (seq == 2);
    sf_stop (&n);

    CHECK (sf_boot (&n, sf_dir ("truncate"), &conf, &boot));
    CHECK (boot.hs.term == 3 && boot.hs.vote == 2);
    CHECK (boot.n_entries == 6);
    if (boot.n_entries == 6) {
        CHECK (sf_entry_equal (&boot.entries[4], &c[0]));
        CHECK (sf_entry_equal (&boot.entries[5], &d[0]));
    }
    msg_store_clear (&boot);
    sf_stop (&n);
    sf_entries_free (a, 5);
    sf_entries_free (b, 1);
    sf_entries_free (c, 3);
    sf_entries_free (d, 1);
}

static void
test_hard_state (void)
{
    raft_conf_t conf = sf_conf ();
    sf_node_t n;
    msg_store_t boot;
    CHECK (sf_boot (&n, sf_dir ("hs"), &conf, &boot));
    msg_store_clear (&boot);
    CHECK (sf_write (&n, 1, true, 7, 2, NULL, 0));
    CHECK (sf_write (&n, 2, false, 8, 3, NULL, 0));
    sf_stop (&n);
    CHECK (sf_boot (&n, sf_dir ("hs"), &conf, &boot));
    CHECK (boot.hs.term == 7 && boot.hs.vote == 2 && boot.n_entries == 1);
    msg_store_clear (&boot);
    sf_stop (&n);
}

static void
test_group_commit (void)
{
    raft_conf_t conf = sf_conf ();
    sf_node_t n;
    msg_store_t boot;
    CHECK (sf_boot (&n, sf_dir ("group"), &conf, &boot));
    msg_store_clear (&boot);
    enum { N = 200 };
    raft_entry_t *es = sf_entries (1, 2, N); /* 2..201 */
    for (size_t i = 0; i < N; i++) {
        msg_store_t w = {.kind = MSG_STORE_WRITE,
                         .seq = i + 1,
                         .hs_changed = i == N - 1,
                         .hs = {5, 1},
                         .entries = &es[i],
                         .n_entries = 1};
        sf_send (&n, &w);
    }
    int replies = 0;
    uint64_t seq = 0;
    msg_store_t r;
    while (seq < N && sf_recv_kind (&n, &r, MSG_STORE_PERSISTED)) {
        CHECK (r.seq > seq);
        seq = r.seq;
        replies++;
        msg_store_clear (&r);
    }
    CHECK (seq == N);
    CHECK (replies < N);
    printf ("     group commit: %d writes, %d persisted replies\n", N, replies);
    sf_stop (&n);

    CHECK (sf_boot (&n, sf_dir ("group"), &conf, &boot));
    CHECK (boot.hs.term == 5 && boot.n_entries == N + 1);
    if (boot.n_entries == N + 1)
        for (size_t i = 0; i < N; i++)
            CHECK (sf_entry_equal (&boot.entries[i + 1], &es[i]));
    msg_store_clear (&boot);
    sf_stop (&n);
    sf_entries_free (es, N);
}

/* Every synced write is traced as "slow_fsync" when the threshold is 0,
   with the entries it made durable, and counted for /metrics. */
static void
test_fsync_trace (void)
{
    raft_conf_t conf = sf_conf ();
    char mon_ep[96];
    fixture_endpoint (mon_ep, sizeof mon_ep, "storage-mon");
    zsock_t *pull = zsock_new_pull (mon_ep);
    CHECK (pull);
    zsock_set_rcvtimeo (pull, 10000);
    monitor_listeners_add (1); /* events are sent only to a listener */
    storage_args_t args = {.data_dir = sf_dir ("fsync-trace"),
                           .bootstrap = &conf,
                           .monitor_endpoint = mon_ep,
                           .slow_fsync_ms = 0};
    sf_node_t n;
    CHECK (fixture_storage_start (&n, &args) == 0);
    msg_store_t boot;
    CHECK (sf_recv_kind (&n, &boot, MSG_STORE_BOOT));
    msg_store_clear (&boot);
    uint64_t synced = metrics_get (METRICS_FSYNC_ENTRIES);
    raft_entry_t *es = sf_entries (1, 2, 3);
    CHECK (sf_write (&n, 1, true, 2, 1, es, 3));
    zmsg_t *zm = zmsg_recv (pull);
    msg_trace_ev_t ev;
    memset (&ev, 0, sizeof ev);
    CHECK (zm && msg_trace_ev_decode (zm, &ev) == 0);
    zmsg_destroy (&zm);
    CHECK (streq (ev.kind, "slow_fsync") && ev.b == 3 && ev.a > 0);
    CHECK (metrics_get (METRICS_FSYNC_ENTRIES) == synced + 3);
    sf_stop (&n);
    monitor_listeners_add (-1);
    zsock_destroy (&pull);
    sf_entries_free (es, 3);
}

/* Requests that would break the log are refused with "error", after
   which the actor does nothing until $TERM. */
static void
test_refused_write (void)
{
    raft_conf_t conf = sf_conf ();
    sf_node_t n;
    msg_store_t boot, r;
    CHECK (sf_boot (&n, sf_dir ("refused"), &conf, &boot));
    msg_store_clear (&boot);
    raft_entry_t *es = sf_entries (1, 3, 1); /* index 3 after last 1: gap */
    msg_store_t w = {
        .kind = MSG_STORE_WRITE, .seq = 1, .entries = es, .n_entries = 1};
    sf_send (&n, &w);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_ERROR));
    CHECK (r.error && strstr (r.error, "index 3"));
    msg_store_clear (&r);
    sf_get (&n, 1, "k3");
    zsock_set_rcvtimeo (n.pair, 200);
    CHECK (sf_recv (&n, &r) == -1);
    sf_stop (&n);
    /* nothing was written */
    CHECK (sf_boot (&n, sf_dir ("refused"), &conf, &boot));
    CHECK (boot.n_entries == 1);
    msg_store_clear (&boot);

    /* a write lost on the way (seq 2 never arrives): "persisted 3" would
       vouch for it, so the actor stops instead */
    CHECK (sf_write (&n, 1, true, 2, 0, NULL, 0));
    w.seq = 3;
    w.n_entries = 0;
    sf_send (&n, &w);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_ERROR));
    CHECK (r.error && strstr (r.error, "lost"));
    msg_store_clear (&r);
    sf_stop (&n);
    sf_entries_free (es, 1);
}

int
main (void)
{
    if (sf_init ("test_storage_log") != 0)
        return 1;
    CHECK_RUN (test_bootstrap);
    CHECK_RUN (test_no_bootstrap);
    CHECK_RUN (test_write_restart);
    CHECK_RUN (test_truncate);
    CHECK_RUN (test_hard_state);
    CHECK_RUN (test_group_commit);
    CHECK_RUN (test_fsync_trace);
    CHECK_RUN (test_refused_write);
    return sf_done ();
}
