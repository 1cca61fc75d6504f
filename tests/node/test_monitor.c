/*  test_monitor.c -- the monitor actor (actors/monitor.c), the trace codec
    (msg/msg_trace.c) and the subscriber behind `nsxctl trace`
    (http/trace_client.c).

    Monitor actors run in this process, each publishing on
    tcp://127.0.0.1:<port> (4 ports per run in 20000-21999, derived from
    the pid so that parallel runs rarely collide, and apart from
    test_transport's 19000-19999). The tests push events through the
    inproc PULL as the node's actors will, and read them back with real
    SUB sockets over loopback TCP: fields, seq numbering, topics and
    filtering, a flood with no subscriber and with one that never reads
    (the actor must keep answering), garbage on the PULL, every truncation
    of both encodings, the merged timeline of two nodes, and a bind
    failure.

    One line per test; the exit status is non-zero on any failure, and a
    watchdog ends a run that hangs after 30 s. Run it under ASan+UBSan:
    nothing may leak. The "Address already in use" error in the output is
    the bind-failure test.
*/
#include "actor.h"
#include "check.h"
#include "log.h"
#include "monitor.h"
#include "msg_trace.h"
#include "trace_client.h"

#include <jansson.h>
#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int s_base_port;

/*  ---------------------------------------------------------------------
    Monitors and subscribers                                             */

typedef struct {
    char listen[64];
    char endpoint[96];
    monitor_args_t args; /* must outlive zactor_new */
    zactor_t *actor;
    zsock_t *push; /* plays the node's actors */
} mon_t;

static void
s_mon_start (mon_t *m, raft_id_t id, int port, int hwm)
{
    memset (m, 0, sizeof *m);
    snprintf (m->listen, sizeof m->listen, "tcp://127.0.0.1:%d", port);
    snprintf (m->endpoint, sizeof m->endpoint, "inproc://test-monitor-%d-%d",
              (int)getpid (), port);
    m->args = (monitor_args_t){
        .id = id, .listen = m->listen, .endpoint = m->endpoint, .hwm = hwm};
    m->actor = zactor_new (monitor_actor, &m->args);
    m->push = monitor_push_new (m->endpoint);
}

static void
s_mon_stop (mon_t *m)
{
    zsock_destroy (&m->push);
    zactor_destroy (&m->actor);
}

/* STATS, answered within timeout_ms: 0, or -1. */
static int
s_stats (mon_t *m, uint64_t *published, uint64_t *dropped, uint64_t *malformed,
         int timeout_ms)
{
    zstr_send (m->actor, "STATS");
    zpoller_t *poller = zpoller_new (zactor_sock (m->actor), NULL);
    void *which = zpoller_wait (poller, timeout_ms);
    zpoller_destroy (&poller);
    if (!which)
        return -1;
    char *s = zstr_recv (m->actor);
    unsigned long long p = 0, d = 0, x = 0;
    int n = s ? sscanf (s, "%llu %llu %llu", &p, &d, &x) : 0;
    zstr_free (&s);
    *published = p;
    *dropped = d;
    *malformed = x;
    return n == 3 ? 0 : -1;
}

static void
s_push (mon_t *m, const char *kind, uint64_t term, uint64_t a, uint64_t b,
        const char *text)
{
    msg_trace_ev_t ev;
    msg_trace_ev_set (&ev, kind, term, a, b, "%s", text);
    /* The PUSH drops when the monitor's queue is full: the test wants
       every event in, so it retries. */
    while (monitor_push (m->push, &ev) != 0)
        zclock_sleep (1);
}

static zsock_t *
s_sub_new (mon_t *m, const char *topic, int rcvhwm)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    zsock_set_rcvhwm (sub, rcvhwm);
    zsock_set_subscribe (sub, topic);
    zsock_connect (sub, "%s", m->listen);
    return sub;
}

/* Next event on sub within timeout_ms, with its topic: 0, or -1. */
static int
s_recv (zsock_t *sub, msg_trace_t *t, char *topic, size_t size, int timeout_ms)
{
    zsock_set_rcvtimeo (sub, timeout_ms);
    zmsg_t *zm = zmsg_recv (sub);
    if (!zm)
        return -1;
    if (topic) {
        zframe_t *f = zmsg_first (zm);
        size_t n = zframe_size (f) < size - 1 ? zframe_size (f) : size - 1;
        memcpy (topic, zframe_data (f), n);
        topic[n] = 0;
    }
    int rc = msg_trace_decode (zm, t);
    zmsg_destroy (&zm);
    return rc;
}

/* PUB/SUB drops everything until the subscription has reached the
   publisher: push probes until one arrives, then drain. Returns the last
   seq seen, so the caller knows what comes next. */
static uint64_t
s_sync (mon_t *m, zsock_t *sub)
{
    msg_trace_t t;
    uint64_t last = 0;
    for (int i = 0; i < 200 && last == 0; i++) {
        s_push (m, "probe", 0, 0, 0, "");
        if (s_recv (sub, &t, NULL, 0, 20) == 0)
            last = t.seq;
    }
    while (s_recv (sub, &t, NULL, 0, 100) == 0)
        last = t.seq;
    return last;
}

static mon_t s_m1; /* node 1: fields, filtering, garbage, client */
static mon_t s_m2; /* node 2: the merged timeline */

/*  ---------------------------------------------------------------------
    Codec                                                                */

static void
test_codec_roundtrip (void)
{
    msg_trace_ev_t ev, back;
    msg_trace_ev_set (&ev, "commit", 3, 4, 7, "x=%d", 5);
    zmsg_t *zm = msg_trace_ev_encode (&ev);
    CHECK (zm && zmsg_size (zm) == 1);
    /* the byte-by-byte example in msg_trace.h, with text "x=5" */
    const uint8_t want[] = {0x96, 0x01, 0xa6, 'c',  'o',  'm', 'm', 'i',
                            't',  0x03, 0x04, 0x07, 0xa3, 'x', '=', '5'};
    CHECK (zframe_size (zmsg_first (zm)) == sizeof want &&
           memcmp (zframe_data (zmsg_first (zm)), want, sizeof want) == 0);
    CHECK (msg_trace_ev_decode (zm, &back) == 0);
    CHECK (memcmp (&ev, &back, sizeof ev) == 0);
    zmsg_destroy (&zm);

    msg_trace_t t = {.node = 2,
                     .seq = 17,
                     .wall_us = 1700000001123456ULL,
                     .mono_us = 99,
                     .ev = ev};
    msg_trace_ev_set (&t.ev, "role", 3, 3, 2, NULL);
    zm = msg_trace_encode (&t);
    CHECK (zm && zmsg_size (zm) == 2);
    CHECK (zframe_streq (zmsg_first (zm), "role"));
    msg_trace_t tb;
    CHECK (msg_trace_decode (zm, &tb) == 0);
    CHECK (memcmp (&t, &tb, sizeof t) == 0);
    zmsg_destroy (&zm);

    char line[512];
    msg_trace_render (&t, line, sizeof line);
    CHECK (streq (line, "22:13:21.123456  n2  #17  term 3  role  leader "
                        "(leader n2)"));
    msg_trace_ev_set (&t.ev, "http", 3, 1234, 0, "GET /kv/get 200");
    msg_trace_render (&t, line, sizeof line);
    CHECK (strstr (line, "http  GET /kv/get 200  1.234 ms") != NULL);
    msg_trace_ev_set (&t.ev, "transfer", 3, 3, 2, NULL);
    msg_trace_render (&t, line, sizeof line);
    CHECK (strstr (line, "transfer  to n3: TimeoutNow sent") != NULL);
    msg_trace_ev_set (&t.ev, "peer_link", 3, 1, 0, "\x1b[2J");
    msg_trace_render (&t, line, sizeof line);
    CHECK (strstr (line, "peer_link  n1 down  ?[2J") != NULL);

    /* JSON, including text that is not UTF-8 */
    msg_trace_ev_set (&t.ev, "http", 3, 1234, 0, "GET /\xff 404");
    char *js = msg_trace_json (&t);
    CHECK (js != NULL);
    json_error_t err;
    json_t *o = js ? json_loads (js, 0, &err) : NULL;
    CHECK (o != NULL);
    CHECK (json_integer_value (json_object_get (o, "seq")) == 17);
    CHECK (json_integer_value (json_object_get (o, "a")) == 1234);
    CHECK (streq (json_string_value (json_object_get (o, "kind")), "http"));
    CHECK (
        streq (json_string_value (json_object_get (o, "text")), "GET /? 404"));
    CHECK (streq (json_string_value (json_object_get (o, "time")),
                  "2023-11-14T22:13:21.123456Z"));
    json_decref (o);
    free (js);

    /* The encoders refuse what the decoders would. */
    msg_trace_ev_set (&ev, "", 0, 0, 0, NULL);
    CHECK (msg_trace_ev_encode (&ev) == NULL);
    msg_trace_ev_set (&ev, "Bad kind", 0, 0, 0, NULL);
    CHECK (msg_trace_ev_encode (&ev) == NULL);
    msg_trace_ev_set (&ev, "ok", 0, 0, 0, NULL);
    memset (ev.text, 'x', sizeof ev.text); /* no terminator */
    CHECK (msg_trace_ev_encode (&ev) == NULL);
    msg_trace_ev_set (&t.ev, "ok", 0, 0, 0, NULL);
    t.node = 0;
    CHECK (msg_trace_encode (&t) == NULL);
    t.node = 1;
    t.seq = 0;
    CHECK (msg_trace_encode (&t) == NULL);
}

/* zmsg of the given frames (NULL data: the frame is omitted). */
static zmsg_t *
s_zmsg (const void *topic, size_t tlen, const void *body, size_t blen)
{
    zmsg_t *zm = zmsg_new ();
    if (topic)
        zmsg_addmem (zm, topic, tlen);
    if (body)
        zmsg_addmem (zm, body, blen);
    return zm;
}

static void
test_codec_truncation (void)
{
    msg_trace_ev_t ev, back;
    msg_trace_ev_set (&ev, "election_won", 9, 1, 3, "votes from n1 n3");
    zmsg_t *zm = msg_trace_ev_encode (&ev);
    zframe_t *f = zmsg_first (zm);
    for (size_t len = 0; len < zframe_size (f); len++) {
        zmsg_t *cut = s_zmsg (zframe_data (f), len, NULL, 0);
        CHECK (msg_trace_ev_decode (cut, &back) == -1);
        zmsg_destroy (&cut);
    }
    zmsg_destroy (&zm);

    msg_trace_t t = {.node = 3, .seq = 5, .wall_us = 1, .mono_us = 2}, tb;
    msg_trace_ev_set (&t.ev, "append", 9, 10, 20, "hello");
    zm = msg_trace_encode (&t);
    zframe_t *topic = zmsg_first (zm);
    zframe_t *body = zmsg_next (zm);
    for (size_t len = 0; len < zframe_size (body); len++) {
        zmsg_t *cut = s_zmsg (zframe_data (topic), zframe_size (topic),
                              zframe_data (body), len);
        CHECK (msg_trace_decode (cut, &tb) == -1);
        zmsg_destroy (&cut);
    }
    for (size_t len = 0; len < zframe_size (topic); len++) {
        zmsg_t *cut = s_zmsg (zframe_data (topic), len, zframe_data (body),
                              zframe_size (body));
        CHECK (msg_trace_decode (cut, &tb) == -1); /* topic != kind */
        zmsg_destroy (&cut);
    }
    /* one frame only; the body as an actor's event */
    zmsg_t *one = s_zmsg (zframe_data (body), zframe_size (body), NULL, 0);
    CHECK (msg_trace_decode (one, &tb) == -1);
    CHECK (msg_trace_ev_decode (one, &ev) == -1);
    zmsg_destroy (&one);
    zmsg_destroy (&zm);
}

static void
test_codec_hostile (void)
{
    msg_trace_ev_t ev;
    msg_trace_t t;
    const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    zmsg_t *zm = s_zmsg (huge, sizeof huge, NULL, 0);
    CHECK (msg_trace_ev_decode (zm, &ev) == -1);
    zmsg_destroy (&zm);
    zm = s_zmsg ("x", 1, huge, sizeof huge);
    CHECK (msg_trace_decode (zm, &t) == -1);
    zmsg_destroy (&zm);

    /* Well-formed msgpack, wrong content. */
    struct {
        const char *what;
        uint8_t bytes[24];
        size_t len;
    } bad[] = {
        {"version 2", {0x96, 0x02, 0xa1, 'k', 0, 0, 0, 0xa0}, 8},
        {"kind not str", {0x96, 0x01, 0x01, 0, 0, 0, 0xa0}, 7},
        {"kind empty", {0x96, 0x01, 0xa0, 0, 0, 0, 0xa0}, 7},
        {"kind upper", {0x96, 0x01, 0xa1, 'K', 0, 0, 0, 0xa0}, 8},
        {"kind NUL", {0x96, 0x01, 0xa2, 'k', 0, 0, 0, 0, 0xa0}, 9},
        {"term negative", {0x96, 0x01, 0xa1, 'k', 0xff, 0, 0, 0xa0}, 8},
        {"a bool", {0x96, 0x01, 0xa1, 'k', 0, 0xc3, 0, 0xa0}, 8},
        {"text bin", {0x96, 0x01, 0xa1, 'k', 0, 0, 0, 0xc4, 0}, 9},
        {"text NUL", {0x96, 0x01, 0xa1, 'k', 0, 0, 0, 0xa1, 0}, 9},
        {"5 elements", {0x95, 0x01, 0xa1, 'k', 0, 0, 0}, 7},
        {"7 elements", {0x97, 0x01, 0xa1, 'k', 0, 0, 0, 0xa0, 0}, 9},
        {"trailing byte", {0x96, 0x01, 0xa1, 'k', 0, 0, 0, 0xa0, 0}, 9},
        {"a map", {0x81, 0x01, 0x01}, 3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zm = s_zmsg (bad[i].bytes, bad[i].len, NULL, 0);
        int rc = msg_trace_ev_decode (zm, &ev);
        if (rc != -1)
            fprintf (stderr, "accepted: %s\n", bad[i].what);
        CHECK (rc == -1);
        zmsg_destroy (&zm);
    }
    /* text of MSG_TRACE_TEXT_MAX bytes: one too many */
    uint8_t big[9 + MSG_TRACE_TEXT_MAX] = {
        0x96, 0x01, 0xa1, 'k', 0, 0, 0, 0xd9, MSG_TRACE_TEXT_MAX};
    memset (big + 9, 'x', MSG_TRACE_TEXT_MAX - 1);
    zm = s_zmsg (big, 9 + MSG_TRACE_TEXT_MAX, NULL, 0);
    CHECK (msg_trace_ev_decode (zm, &ev) == -1);
    zmsg_destroy (&zm);
    big[8] = MSG_TRACE_TEXT_MAX - 1; /* the longest that fits */
    zm = s_zmsg (big, 9 + MSG_TRACE_TEXT_MAX - 1, NULL, 0);
    CHECK (msg_trace_ev_decode (zm, &ev) == 0 &&
           strlen (ev.text) == MSG_TRACE_TEXT_MAX - 1);
    zmsg_destroy (&zm);
    /* node 0 and seq 0 are refused */
    const uint8_t node0[] = {0x9a, 1, 0, 1, 0, 0, 0, 0xa1, 'k', 0, 0, 0xa0};
    const uint8_t seq0[] = {0x9a, 1, 1, 0, 0, 0, 0, 0xa1, 'k', 0, 0, 0xa0};
    const uint8_t good[] = {0x9a, 1, 1, 1, 0, 0, 0, 0xa1, 'k', 0, 0, 0xa0};
    zm = s_zmsg ("k", 1, node0, sizeof node0);
    CHECK (msg_trace_decode (zm, &t) == -1);
    zmsg_destroy (&zm);
    zm = s_zmsg ("k", 1, seq0, sizeof seq0);
    CHECK (msg_trace_decode (zm, &t) == -1);
    zmsg_destroy (&zm);
    zm = s_zmsg ("k", 1, good, sizeof good);
    CHECK (msg_trace_decode (zm, &t) == 0); /* the control: it does decode */
    zmsg_destroy (&zm);
}

/*  ---------------------------------------------------------------------
    The actor                                                            */

static void
test_up_event (void)
{
    uint64_t p, d, x;
    CHECK (s_stats (&s_m1, &p, &d, &x, 1000) == 0);
    CHECK (p == 1 && d == 0 && x == 0); /* "monitor" "up" */
}

static void
test_fields_and_seq (void)
{
    zsock_t *sub = s_sub_new (&s_m1, "", 10000);
    uint64_t last = s_sync (&s_m1, sub);
    CHECK (last > 1);
    uint64_t before = zclock_time () * 1000;
    const int n = 500;
    const char *kinds[] = {"commit", "append", "role", "http"};
    for (int i = 0; i < n; i++) {
        char text[32];
        snprintf (text, sizeof text, "event %d", i);
        s_push (&s_m1, kinds[i % 4], 7, (uint64_t)i, (uint64_t)i * 2, text);
    }
    int got = 0;
    bool fields_ok = true, seq_ok = true, topic_ok = true;
    msg_trace_t t;
    char topic[64];
    while (got < n && s_recv (sub, &t, topic, sizeof topic, 2000) == 0) {
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
    zsock_t *all = s_sub_new (&s_m1, "", 10000);
    zsock_t *sub = s_sub_new (&s_m1, "commit", 10000);
    zsock_set_subscribe (sub, "probe"); /* for s_sync */
    zsock_set_subscribe (sub, "election");
    s_sync (&s_m1, all);
    s_sync (&s_m1, sub); /* its probes reach all too: drain them */
    msg_trace_t t;
    while (s_recv (all, &t, NULL, 0, 10) == 0)
        ;
    s_push (&s_m1, "append", 1, 1, 1, "");
    s_push (&s_m1, "commit", 1, 0, 1, "");
    s_push (&s_m1, "election_start", 1, 1, 0, "");
    s_push (&s_m1, "role", 1, 1, 0, "");
    s_push (&s_m1, "election_won", 1, 1, 2, "");
    s_push (&s_m1, "commit", 1, 1, 2, "last");
    const char *want[] = {"commit", "election_start", "election_won", "commit"};
    for (int i = 0; i < 4; i++) {
        CHECK (s_recv (sub, &t, NULL, 0, 2000) == 0);
        CHECK (streq (t.ev.kind, want[i]));
    }
    CHECK (streq (t.ev.text, "last"));
    CHECK (s_recv (sub, &t, NULL, 0, 100) == -1); /* nothing else */
    int n_all = 0;
    while (s_recv (all, &t, NULL, 0, 100) == 0)
        n_all++;
    CHECK (n_all == 6);
    zsock_destroy (&sub);
    zsock_destroy (&all);
}

/* Push n events as fast as the monitor takes them; STATS must keep being
   answered promptly all along. */
static void
s_flood (mon_t *m, int n)
{
    uint64_t p0, d0, x0, p, d, x;
    CHECK (s_stats (m, &p0, &d0, &x0, 1000) == 0);
    int64_t worst = 0;
    for (int i = 0; i < n; i++) {
        s_push (m, "append", 2, (uint64_t)i, (uint64_t)i, "flood");
        if (i % 5000 == 0) {
            int64_t t0 = zclock_mono ();
            CHECK (s_stats (m, &p, &d, &x, 1000) == 0);
            if (zclock_mono () - t0 > worst)
                worst = zclock_mono () - t0;
        }
    }
    int64_t deadline = zclock_mono () + 5000;
    do {
        CHECK (s_stats (m, &p, &d, &x, 1000) == 0);
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
    mon_t m;
    s_mon_start (&m, 3, s_base_port + 2, 10);
    /* earlier tests' subscribers are gone once their unsubscriptions
       reached their monitors' XPUBs */
    for (int i = 0; i < 300 && monitor_listened (); i++)
        zclock_sleep (10);
    CHECK (!monitor_listened ());
    uint64_t p0, d0, x0, p, d, x;
    CHECK (s_stats (&m, &p0, &d0, &x0, 1000) == 0);
    msg_trace_ev_t ev;
    int failed = 0;
    for (int i = 0; i < 30000; i++)
        failed += monitor_push (m.push,
                                msg_trace_ev_set (&ev, "append", 2, (uint64_t)i,
                                                  (uint64_t)i, "flood")) != 0;
    CHECK (failed == 0);
    zclock_sleep (100);
    CHECK (s_stats (&m, &p, &d, &x, 1000) == 0);
    CHECK (p == p0 && d == d0 && x == x0);
    zsock_t *sub = s_sub_new (&m, "", 100);
    CHECK (s_sync (&m, sub) > 0);
    CHECK (monitor_listened ());
    CHECK (s_stats (&m, &p, &d, &x, 1000) == 0);
    CHECK (p > p0);
    zsock_destroy (&sub);
    for (int i = 0; i < 300 && monitor_listened (); i++)
        zclock_sleep (10);
    CHECK (!monitor_listened ());
    s_mon_stop (&m);
}

static void
test_flood_stuck_subscriber (void)
{
    mon_t m;
    s_mon_start (&m, 3, s_base_port + 3, 10);
    zsock_t *sub = s_sub_new (&m, "", 10);
    s_sync (&m, sub);
    /* From here on sub never reads: its queue and the PUB's fill up. */
    s_flood (&m, 30000);
    /* It got at most what the two HWMs (and the kernel buffers) hold. */
    msg_trace_t t;
    int got = 0;
    while (s_recv (sub, &t, NULL, 0, 100) == 0)
        got++;
    CHECK (got < 30000);
    zsock_destroy (&sub);
    s_mon_stop (&m);
}

static void
test_malformed_dropped (void)
{
    zsock_t *sub = s_sub_new (&s_m1, "", 10000);
    uint64_t last = s_sync (&s_m1, sub);
    uint64_t p0, d0, x0, p, d, x;
    CHECK (s_stats (&s_m1, &p0, &d0, &x0, 1000) == 0);

    zsock_t *raw = zsock_new_push (s_m1.endpoint);
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
    CHECK (s_recv (sub, &t, NULL, 0, 2000) == 0);
    CHECK (streq (t.ev.text, "ok") && t.seq == last + 1);
    CHECK (s_recv (sub, &t, NULL, 0, 100) == -1);
    CHECK (s_stats (&s_m1, &p, &d, &x, 1000) == 0);
    CHECK (x == x0 + (uint64_t)n_bad && p == p0 + 1 && d == d0);
    zsock_destroy (&raw);
    zsock_destroy (&sub);
}

static void
test_bind_failure (void)
{
    /* The same PUB port as s_m1: the bind fails. */
    monitor_args_t args = {.id = 9,
                           .listen = s_m1.listen,
                           .endpoint = "inproc://test-monitor-failed"};
    int status = 0;
    zactor_t *actor =
        actor_start ("monitor", monitor_actor, &args, NULL, &status);
    CHECK (actor == NULL && status == 1);

    /* The PULL endpoint taken: fails too. */
    args.listen = NULL;
    args.endpoint = s_m1.endpoint;
    actor = actor_start ("monitor", monitor_actor, &args, NULL, &status);
    CHECK (actor == NULL && status == 1);
    /* s_m1 still works */
    uint64_t p, d, x;
    CHECK (s_stats (&s_m1, &p, &d, &x, 1000) == 0);
}

/*  ---------------------------------------------------------------------
    The merged timeline                                                  */

#define S_CLIENT_EVENTS 20 /* per node */

/* Plays both nodes' actors while the client runs: waits for the client's
   SUB to connect, then alternates between the nodes, 2 ms apart. */
static void
s_pusher (zsock_t *pipe, void *args)
{
    (void)args;
    zsock_t *p1 = monitor_push_new (s_m1.endpoint);
    zsock_t *p2 = monitor_push_new (s_m2.endpoint);
    zsock_signal (pipe, 0);
    zclock_sleep (250);
    msg_trace_ev_t ev;
    for (int i = 0; i < S_CLIENT_EVENTS; i++) {
        monitor_push (p1,
                      msg_trace_ev_set (&ev, "commit", 4, (uint64_t)i,
                                        (uint64_t)i + 1, "client n1 %d", i));
        zclock_sleep (1);
        monitor_push (p2,
                      msg_trace_ev_set (&ev, "commit", 4, (uint64_t)i,
                                        (uint64_t)i + 1, "client n2 %d", i));
        zclock_sleep (1);
    }
    char *cmd = zstr_recv (pipe); /* $TERM */
    zstr_free (&cmd);
    zsock_destroy (&p1);
    zsock_destroy (&p2);
}

static void
s_check_timeline (char *text, bool json)
{
    int n = 0, next[3] = {0, 0, 0};
    uint64_t last_seq[3] = {0, 0, 0};
    char last_time[64] = "";
    bool order_ok = true;
    for (char *save = NULL, *line = strtok_r (text, "\n", &save); line;
         line = strtok_r (NULL, "\n", &save)) {
        int node = 0, i = -1;
        unsigned long long seq = 0;
        char when[64] = "";
        if (json) {
            json_t *o = json_loads (line, 0, NULL);
            CHECK (o != NULL);
            if (!o)
                continue;
            node = (int)json_integer_value (json_object_get (o, "node"));
            seq = (unsigned long long)json_integer_value (
                json_object_get (o, "seq"));
            snprintf (when, sizeof when, "%s",
                      json_string_value (json_object_get (o, "time")));
            const char *txt = json_string_value (json_object_get (o, "text"));
            int tn = 0;
            CHECK (txt && sscanf (txt, "client n%d %d", &tn, &i) == 2 &&
                   tn == node);
            json_decref (o);
        } else {
            char *c = strstr (line, "client n");
            CHECK (sscanf (line, "%63s n%d #%llu", when, &node, &seq) == 3);
            CHECK (c && sscanf (c, "client n%*d %d", &i) == 1);
            CHECK (strstr (line, "  term 4  commit  ") != NULL);
        }
        if (node < 1 || node > 2) {
            CHECK (false);
            continue;
        }
        /* each node in seq order, nothing missing; times never go back
           (same-width timestamps of one day compare as strings) */
        order_ok &= i == next[node] &&
                    (last_seq[node] == 0 || seq == last_seq[node] + 1);
        order_ok &= strcmp (when, last_time) >= 0;
        next[node] = i + 1;
        last_seq[node] = seq;
        snprintf (last_time, sizeof last_time, "%s", when);
        n++;
    }
    CHECK (n == 2 * S_CLIENT_EVENTS);
    CHECK (order_ok);
}

static void
s_client_run (bool json)
{
    const char *endpoints[] = {s_m1.listen, s_m2.listen};
    const char *kinds[] = {"commit"}; /* leaves the probes of other tests */
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    zactor_t *pusher = zactor_new (s_pusher, NULL);
    int64_t t0 = zclock_mono ();
    CHECK (trace_client_run (endpoints, 2, kinds, 1, json, 600, NULL, out) ==
           0);
    int64_t took = zclock_mono () - t0;
    CHECK (took >= 600 && took < 1500);
    zactor_destroy (&pusher);
    fclose (out);
    s_check_timeline (text, json);
    if (check_failures () && getenv ("NSXD_TEST_VERBOSE"))
        fprintf (stderr, "%s", text);
    free (text);
}

static void
test_client_text (void)
{
    s_client_run (false);
}

static void
test_client_json (void)
{
    s_client_run (true);
}

static void
test_client_bad_endpoint (void)
{
    const char *endpoints[] = {"nonsense"};
    CHECK (trace_client_run (endpoints, 1, NULL, 0, false, 100, NULL, stdout) ==
           -1);
}

/*  ---------------------------------------------------------------------
    Main                                                                 */

int
main (void)
{
    check_watchdog ("test_monitor", 30);
    log_init (0,
              getenv ("NSXD_TEST_VERBOSE") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
    zsys_init ();
    s_base_port = 20000 + (int)(getpid () % 500) * 4; /* 4 ports each */

    check_run ("codec round trip and rendering", test_codec_roundtrip);
    check_run ("codec refuses every truncation", test_codec_truncation);
    check_run ("codec refuses hostile input", test_codec_hostile);

    s_mon_start (&s_m1, 1, s_base_port, 0);
    s_mon_start (&s_m2, 2, s_base_port + 1, 0);
    check_run ("monitor up event", test_up_event);
    check_run ("fields, seq 1..n, topics", test_fields_and_seq);
    check_run ("kind filtering", test_kind_filter);
    check_run ("flood, no subscriber", test_flood_no_subscriber);
    check_run ("flood, subscriber never reads", test_flood_stuck_subscriber);
    check_run ("malformed events dropped", test_malformed_dropped);
    check_run ("bind failure", test_bind_failure);
    check_run ("trace client: merged timeline", test_client_text);
    check_run ("trace client: json", test_client_json);
    check_run ("trace client: bad endpoint", test_client_bad_endpoint);
    s_mon_stop (&s_m1);
    s_mon_stop (&s_m2);

    return check_report ();
}
