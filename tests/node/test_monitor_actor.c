/*  test_monitor_actor.c -- the monitor actor (actors/monitor.c): its up
    event, fields and seq numbering, topics and filtering, a flood with no
    subscriber and with one that never reads (the actor must keep
    answering), garbage on the PULL, and a bind failure (the "Address
    already in use" error in the output).

    One line per test; the exit status is non-zero on any failure, and a
    watchdog ends a run that hangs after 30 s. Run it under ASan+UBSan:
    nothing may leak.
*/
#include "actor.h"
#include "check.h"
#include "monitor_fixture.h"
#include "msg_trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_up_event (void)
{
    uint64_t p, d, x;
    CHECK (mf_stats (&mf_m1, &p, &d, &x, 1000) == 0);
    CHECK (p == 1 && d == 0 && x == 0); /* "monitor" "up" */
}

static void
test_fields_and_seq (void)
{
    zsock_t *sub = mf_sub_new (&mf_m1, "", 10000);
    uint64_t last = mf_sync (&mf_m1, sub);
    CHECK (last > 1);
    uint64_t before = zclock_time () * 1000;
    const int n = 500;
    const char *kinds[] = {"commit", "append", "role", "http"};
    for (int i = 0; i < n; i++) {
        char text[32];
        snprintf (text, sizeof text, "event %d", i);
        mf_push (&mf_m1, kinds[i % 4], 7, (uint64_t)i, (uint64_t)i * 2, text);
    }
    int got = 0;
    bool fields_ok = true, seq_ok = true, topic_ok = true;
    msg_trace_t t;
    char topic[64];
    while (got < n && mf_recv (sub, &t, topic, sizeof topic, 2000) == 0) {
        char text[32];
        snprintf (text, sizeof text, "event %d", got);
        seq_ok &= t.seq == last + 1 + (uint64_t)got;
        topic_ok &= streq (topic, kinds[got % 4]);
        fields_ok &= t.node == 1 && t.ev.term == 7 && t.ev.a == (uint64_t)got &&
                     t.ev.b == (uint64_t)got * 2 &&
                     streq (t.ev.kind, kinds[got % 4]) &&
                     streq (t.ev.text, text) && t.wall_us >= before &&
                     t.wall_us <= (uint64_t)zclock_time () * 1000 + 1000 &&
                     t.mono_us > 0;
        got++;
    }
    CHECK (got == n);
    CHECK (seq_ok);
    CHECK (topic_ok);
    CHECK (fields_ok);
    zsock_destroy (&sub);
}

static void
test_kind_filter (void)
{
    zsock_t *all = mf_sub_new (&mf_m1, "", 10000);
    zsock_t *sub = mf_sub_new (&mf_m1, "commit", 10000);
    zsock_set_subscribe (sub, "probe"); /* for mf_sync */
    zsock_set_subscribe (sub, "election");
    mf_sync (&mf_m1, all);
    mf_sync (&mf_m1, sub); /* its probes reach all too: drain them */
    msg_trace_t t;
    while (mf_recv (all, &t, NULL, 0, 10) == 0)
        ;
    mf_push (&mf_m1, "append", 1, 1, 1, "");
    mf_push (&mf_m1, "commit", 1, 0, 1, "");
    mf_push (&mf_m1, "election_start", 1, 1, 0, "");
    mf_push (&mf_m1, "role", 1, 1, 0, "");
    mf_push (&mf_m1, "election_won", 1, 1, 2, "");
    mf_push (&mf_m1, "commit", 1, 1, 2, "last");
    const char *want[] = {"commit", "election_start", "election_won", "commit"};
    for (int i = 0; i < 4; i++) {
        CHECK (mf_recv (sub, &t, NULL, 0, 2000) == 0);
        CHECK (streq (t.ev.kind, want[i]));
    }
    CHECK (streq (t.ev.text, "last"));
    CHECK (mf_recv (sub, &t, NULL, 0, 100) == -1); /* nothing else */
    int n_all = 0;
    while (mf_recv (all, &t, NULL, 0, 100) == 0)
        n_all++;
    CHECK (n_all == 6);
    zsock_destroy (&sub);
    zsock_destroy (&all);
}

/* Push n events as fast as the monitor takes them; STATS must keep being
   answered promptly all along. */
static void
s_flood (mf_mon_t *m, int n)
{
    uint64_t p0, d0, x0, p, d, x;
    CHECK (mf_stats (m, &p0, &d0, &x0, 1000) == 0);
    int64_t worst = 0;
    for (int i = 0; i < n; i++) {
        mf_push (m, "append", 2, (uint64_t)i, (uint64_t)i, "flood");
        if (i % 5000 == 0) {
            int64_t t0 = zclock_mono ();
            CHECK (mf_stats (m, &p, &d, &x, 1000) == 0);
            if (zclock_mono () - t0 > worst)
                worst = zclock_mono () - t0;
        }
    }
    int64_t deadline = zclock_mono () + 5000;
    do {
        CHECK (mf_stats (m, &p, &d, &x, 1000) == 0);
    } while (p + d < p0 + d0 + (uint64_t)n && zclock_mono () < deadline &&
             (zclock_sleep (10), true));
    CHECK (p == p0 + (uint64_t)n); /* PUB drops silently: all "published" */
    CHECK (d == d0 && x == x0);
    CHECK (worst < 500);
}

/* Nobody subscribed anywhere in the process: monitor_push sends nothing
   (the monitor publishes nothing and drops nothing); a subscriber turns
   the events back on. */
static void
test_flood_no_subscriber (void)
{
    mf_mon_t m;
    mf_mon_start (&m, 3, mf_base_port + 2, 10);
    /* earlier tests' subscribers are gone once their unsubscriptions
       reached their monitors' XPUBs */
    for (int i = 0; i < 300 && monitor_listened (); i++)
        zclock_sleep (10);
    CHECK (!monitor_listened ());
    uint64_t p0, d0, x0, p, d, x;
    CHECK (mf_stats (&m, &p0, &d0, &x0, 1000) == 0);
    msg_trace_ev_t ev;
    int failed = 0;
    for (int i = 0; i < 30000; i++)
        failed += monitor_push (m.push,
                                msg_trace_ev_set (&ev, "append", 2, (uint64_t)i,
                                                  (uint64_t)i, "flood")) != 0;
    CHECK (failed == 0);
    zclock_sleep (100);
    CHECK (mf_stats (&m, &p, &d, &x, 1000) == 0);
    CHECK (p == p0 && d == d0 && x == x0);
    zsock_t *sub = mf_sub_new (&m, "", 100);
    CHECK (mf_sync (&m, sub) > 0);
    CHECK (monitor_listened ());
    CHECK (mf_stats (&m, &p, &d, &x, 1000) == 0);
    CHECK (p > p0);
    zsock_destroy (&sub);
    for (int i = 0; i < 300 && monitor_listened (); i++)
        zclock_sleep (10);
    CHECK (!monitor_listened ());
    mf_mon_stop (&m);
}

static void
test_flood_stuck_subscriber (void)
{
    mf_mon_t m;
    mf_mon_start (&m, 3, mf_base_port + 3, 10);
    zsock_t *sub = mf_sub_new (&m, "", 10);
    mf_sync (&m, sub);
    /* From here on sub never reads: its queue and the PUB's fill up. */
    s_flood (&m, 30000);
    /* It got at most what the two HWMs (and the kernel buffers) hold. */
    msg_trace_t t;
    int got = 0;
    while (mf_recv (sub, &t, NULL, 0, 100) == 0)
        got++;
    CHECK (got < 30000);
    zsock_destroy (&sub);
    mf_mon_stop (&m);
}

static void
test_malformed_dropped (void)
{
    zsock_t *sub = mf_sub_new (&mf_m1, "", 10000);
    uint64_t last = mf_sync (&mf_m1, sub);
    uint64_t p0, d0, x0, p, d, x;
    CHECK (mf_stats (&mf_m1, &p0, &d0, &x0, 1000) == 0);

    zsock_t *raw = zsock_new_push (mf_m1.endpoint);
    const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    msg_trace_ev_t ev;
    zmsg_t *good = msg_trace_ev_encode (
        msg_trace_ev_set (&ev, "commit", 1, 1, 2, "two frames"));
    zframe_t *gf = zmsg_first (good);
    int n_bad = 0;
    zstr_send (raw, "hello"), n_bad++;
    zsock_send (raw, "b", huge, sizeof huge), n_bad++;
    zsock_send (raw, "b", "", (size_t)0), n_bad++;
    zsock_send (raw, "bb", zframe_data (gf), zframe_size (gf), "x", (size_t)1),
        n_bad++;
    zsock_send (raw, "b", zframe_data (gf), zframe_size (gf) - 1), n_bad++;
    zmsg_destroy (&good);
    /* and a good one after: it must be next, without a gap */
    zmsg_t *after =
        msg_trace_ev_encode (msg_trace_ev_set (&ev, "commit", 1, 2, 3, "ok"));
    zmsg_send (&after, raw);

    msg_trace_t t;
    CHECK (mf_recv (sub, &t, NULL, 0, 2000) == 0);
    CHECK (streq (t.ev.text, "ok") && t.seq == last + 1);
    CHECK (mf_recv (sub, &t, NULL, 0, 100) == -1);
    CHECK (mf_stats (&mf_m1, &p, &d, &x, 1000) == 0);
    CHECK (x == x0 + (uint64_t)n_bad && p == p0 + 1 && d == d0);
    zsock_destroy (&raw);
    zsock_destroy (&sub);
}

static void
test_bind_failure (void)
{
    /* The same PUB port as mf_m1: the bind fails. */
    monitor_args_t args = {.id = 9,
                           .listen = mf_m1.listen,
                           .endpoint = "inproc://test-monitor-failed"};
    int status = 0;
    zactor_t *actor =
        actor_start ("monitor", monitor_actor, &args, NULL, &status);
    CHECK (actor == NULL && status == 1);

    /* The PULL endpoint taken: fails too. */
    args.listen = NULL;
    args.endpoint = mf_m1.endpoint;
    actor = actor_start ("monitor", monitor_actor, &args, NULL, &status);
    CHECK (actor == NULL && status == 1);
    /* mf_m1 still works */
    uint64_t p, d, x;
    CHECK (mf_stats (&mf_m1, &p, &d, &x, 1000) == 0);
}

int
main (void)
{
    mf_init ("test_monitor_actor");
    mf_mons_start ();
    check_run ("monitor up event", test_up_event);
    check_run ("fields, seq 1..n, topics", test_fields_and_seq);
    check_run ("kind filtering", test_kind_filter);
    check_run ("flood, no subscriber", test_flood_no_subscriber);
    check_run ("flood, subscriber never reads", test_flood_stuck_subscriber);
    check_run ("malformed events dropped", test_malformed_dropped);
    check_run ("bind failure", test_bind_failure);
    return mf_done ();
}
