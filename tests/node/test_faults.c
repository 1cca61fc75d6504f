/*  test_faults.c -- fault injection (--enable-faults, POST /debug/fault,
    /debug/stop; actors/fault.h) on three real nodes in one process
    (fault_cluster.h), under ASan+UBSan:

      1. without --enable-faults every /debug/fault and /debug/stop
         request is 403 faults_disabled, and /health says
         "faults_enabled": false;
      2. with it (the same data, restarted): bad bodies are 400 with a
         JSON error, a peer that is not another member 400 unknown_peer,
         another method 405; /health shows the faults; a change is traced
         as a "fault" event on the monitoring socket;
      3. isolate the leader: the other two elect a new leader within 3 s
         and the old one stops leading; its drops are counted both ways;
         clear: it comes back as a follower of the new leader;
      4. drop "both" towards both peers on the leader: the others elect a
         new leader, and the old one must not hear of it (its term stays
         below the new leader's, it names no leader) -- what the planted
         fault_drop_one_way (node bug 9: "both" drops only outgoing)
         breaks, since the new leader's heartbeats reach it;
      5. drop "out" to one follower: it misses a write the other follower
         gets; clear: it catches up;
      6. a 150 ms delay on the leader's messages makes a write take at
         least that, and so does a 200 ms slow fsync on every node;
      7. POST /debug/stop on a follower answers 200, then node_wait says
         stop (1), as nsxd's main turns into a graceful stop.

    Bounded: every wait has a deadline, and a watchdog (alarm) ends a
    stuck run. Node logs go to a file in the temporary directory, printed
    when a check fails.
*/
#include "check.h"
#include "fault_cluster.h"
#include "log.h"
#include "peer_keys.h"

#include <czmq.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_WATCHDOG_S 150
#define S_ALL ((1u << 1) | (1u << 2) | (1u << 3))

static void
s_watchdog (int sig)
{
    (void)sig;
    static const char msg[] = "test_faults: watchdog: stuck, giving up\n";
    if (write (STDOUT_FILENO, msg, sizeof msg - 1) < 0)
        _exit (1);
    _exit (1);
}

static unsigned
s_but (int id)
{
    return S_ALL & ~(1u << id);
}

/* The error string of a reply, or "". */
static const char *
s_error (json_t *j)
{
    const char *e = json_string_value (json_object_get (j, "error"));
    return e ? e : "";
}

static void
test_disabled (void)
{
    const char *reqs[][3] = {{"GET", "/debug/fault", NULL},
                             {"POST", "/debug/fault", "{\"action\":\"clear\"}"},
                             {"POST", "/debug/fault", "garbage"},
                             {"POST", "/debug/stop", ""}};
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        json_t *j = NULL;
        int st = fc_call (1, reqs[i][0], reqs[i][1], reqs[i][2], &j);
        CHECK_EQ (st, 403);
        CHECK_STREQ (s_error (j), "faults_disabled");
        json_decref (j);
    }
    json_t *h = fc_health (1);
    CHECK (json_is_false (json_object_get (h, "faults_enabled")));
    CHECK (!json_object_get (h, "faults"));
    json_decref (h);
    CHECK (fc_nodes[1] && node_wait (fc_nodes[1], 300) == 0); /* no stop */
}

static void
test_bad_input (int leader)
{
    int other = leader % FC_NODES + 1;
    const char *bad[] = {
        "",
        "x",
        "[]",
        "{}",
        "{\"action\": 1}",
        "{\"action\": \"nuke\"}",
        "{\"action\": \"isolate\", \"peer\": 2}",
        "{\"action\": \"drop\", \"direction\": \"both\"}",
        "{\"action\": \"drop\", \"peer\": 2}",
        "{\"action\": \"drop\", \"peer\": 2, \"direction\": \"up\"}",
        "{\"action\": \"drop\", \"peer\": \"2\", \"direction\": \"in\"}",
        "{\"action\": \"drop\", \"peer\": 0, \"direction\": \"in\"}",
        "{\"action\": \"delay\"}",
        "{\"action\": \"delay\", \"ms\": 0}",
        "{\"action\": \"delay\", \"ms\": 10001}",
        "{\"action\": \"delay\", \"ms\": 1.5}",
        "{\"action\": \"delay\", \"ms\": 5, \"direction\": \"in\"}",
        "{\"action\": \"slow_fsync\", \"ms\": -1}",
        "{\"action\": \"clear\", \"action\": \"clear\"}",
        "{\"action\": \"clear\"\x01}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = NULL;
        int st = fc_call (leader, "POST", "/debug/fault", bad[i], &j);
        if (st != 400)
            printf ("  %s -> %d\n", bad[i], st);
        CHECK_EQ (st, 400);
        CHECK_STREQ (s_error (j), "bad_request");
        json_decref (j);
    }
    char body[128];
    int peers[] = {9, leader};
    for (size_t i = 0; i < 2; i++) {
        snprintf (body, sizeof body,
                  "{\"action\": \"drop\", \"peer\": %d, \"direction\": "
                  "\"out\"}",
                  peers[i]);
        json_t *j = NULL;
        CHECK_EQ (fc_call (leader, "POST", "/debug/fault", body, &j), 400);
        CHECK_STREQ (s_error (j), "unknown_peer");
        json_decref (j);
    }
    CHECK_EQ (fc_call (leader, "PUT", "/debug/fault", "{}", NULL), 405);
    CHECK_EQ (fc_call (leader, "GET", "/debug/stop", NULL, NULL), 405);

    /* A valid one, seen in GET /debug/fault and /health; then clear. */
    snprintf (body, sizeof body,
              "{\"action\": \"delay\", \"ms\": 20, \"peer\": %d}", other);
    CHECK_EQ (fc_fault (leader, body), 200);
    json_t *j = NULL, *h = fc_health (leader);
    CHECK_EQ (fc_call (leader, "GET", "/debug/fault", NULL, &j), 200);
    json_t *f = json_object_get (j, "faults");
    CHECK (json_is_true (json_object_get (j, "ok")));
    CHECK_EQ (json_integer_value (json_object_get (
                  json_array_get (json_object_get (f, "delay"), 0), "peer")),
              other);
    CHECK (json_equal (f, json_object_get (h, "faults")));
    CHECK (json_is_true (json_object_get (h, "faults_enabled")));
    json_decref (j);
    json_decref (h);
    CHECK_EQ (fc_fault (leader, "{\"action\": \"clear\"}"), 200);
}

/* A "fault" event on the leader's monitoring socket after a change. */
static void
test_trace (int leader)
{
    char err[256], key[300];
    snprintf (key, sizeof key, "%s/cluster.key", fc_dir);
    peer_keys_t *keys = peer_keys_load (key, 0, err, sizeof err);
    CHECK (keys);
    if (!keys)
        return;
    zsock_t *sub = zsock_new (ZMQ_SUB);
    peer_keys_connect_monitor (keys, sub, 0);
    zsock_set_subscribe (sub, "fault");
    zsock_set_rcvtimeo (sub, 200);
    zsock_connect (sub, "tcp://127.0.0.1:%d", FC_MON_BASE + leader - 1);
    bool got = false;
    int64_t deadline = zclock_mono () + 5000;
    while (!got && zclock_mono () < deadline) {
        CHECK_EQ (fc_fault (leader, "{\"action\": \"clear\"}"), 200);
        zmsg_t *m = zmsg_recv (sub);
        char *topic = m ? zmsg_popstr (m) : NULL;
        got = topic && streq (topic, "fault");
        free (topic);
        zmsg_destroy (&m);
    }
    CHECK (got);
    zsock_destroy (&sub);
    peer_keys_destroy (&keys);
}

/* Isolate the leader; clear. Returns the leader afterwards. */
static int
test_isolate (int old)
{
    int64_t t0 = zclock_mono ();
    CHECK_EQ (fc_fault (old, "{\"action\": \"isolate\"}"), 200);
    int leader = fc_wait_leader (s_but (old), old, 3000);
    printf ("isolated n%d: new leader n%d in %lld ms\n", old, leader,
            (long long)(zclock_mono () - t0));
    CHECK (leader && leader != old);
    char role[32] = "";
    long long term, lid;
    for (int i = 0; i < 60; i++) { /* check-quorum: it steps down */
        fc_view (old, role, sizeof role, &term, &lid);
        if (!streq (role, "leader"))
            break;
        zclock_sleep (50);
    }
    CHECK (!streq (role, "leader"));
    CHECK (fc_metric (old,
                      "nsxd_fault_messages_dropped_total{direction=\"out\"}") >
           0);
    CHECK (fc_metric (
               old, "nsxd_fault_messages_dropped_total{direction=\"in\"}") > 0);
    CHECK_EQ (fc_fault (old, "{\"action\": \"clear\"}"), 200);
    int back = fc_wait_leader (S_ALL, 0, 5000);
    fc_view (old, role, sizeof role, &term, &lid);
    printf ("cleared: n%d is %s, leader n%d\n", old, role, back);
    CHECK_EQ (back, leader); /* pre-vote: no disruption */
    CHECK_STREQ (role, "follower");
    return back ? back : leader;
}

/* Drop both ways towards both peers: the old leader hears nothing. */
static int
test_drop_both (int old)
{
    char body[128];
    for (int p = 1; p <= FC_NODES; p++) {
        if (p == old)
            continue;
        snprintf (body, sizeof body,
                  "{\"action\": \"drop\", \"peer\": %d, \"direction\": "
                  "\"both\"}",
                  p);
        CHECK_EQ (fc_fault (old, body), 200);
    }
    int leader = fc_wait_leader (s_but (old), old, 3000);
    CHECK (leader && leader != old);
    zclock_sleep (1000); /* many heartbeats of the new leader */
    char role[32], nrole[32];
    long long term, lid, nterm, nlid;
    fc_view (old, role, sizeof role, &term, &lid);
    fc_view (leader, nrole, sizeof nrole, &nterm, &nlid);
    printf ("dropped both ways on n%d: it is %s in term %lld (leader %lld); "
            "n%d leads in term %lld\n",
            old, role, term, lid, leader, nterm);
    CHECK (term < nterm);
    CHECK (lid != leader);
    CHECK (fc_metric (
               old, "nsxd_fault_messages_dropped_total{direction=\"in\"}") > 0);
    CHECK_EQ (fc_fault (old, "{\"action\": \"clear\"}"), 200);
    int back = fc_wait_leader (S_ALL, 0, 5000);
    CHECK (back);
    return back ? back : leader;
}

/* Drop what the leader sends one follower: that one misses a write. */
static void
test_drop_out (int leader)
{
    int f = leader % FC_NODES + 1, g = f % FC_NODES + 1;
    if (g == leader)
        g = g % FC_NODES + 1;
    char body[128];
    snprintf (body, sizeof body,
              "{\"action\": \"drop\", \"peer\": %d, \"direction\": \"out\"}",
              f);
    long long before = fc_metric (
        leader, "nsxd_fault_messages_dropped_total{direction=\"out\"}");
    CHECK_EQ (fc_fault (leader, body), 200);
    CHECK_EQ (fc_put (leader, "one-way", "x"), 200);
    CHECK (fc_wait_value (g, "one-way", "x", true, 3000));
    CHECK (!fc_wait_value (f, "one-way", "x", true, 1000));
    CHECK (fc_metric (leader,
                      "nsxd_fault_messages_dropped_total{direction=\"out\"}") >
           before);
    CHECK_EQ (fc_fault (leader, "{\"action\": \"clear\"}"), 200);
    CHECK (fc_wait_value (f, "one-way", "x", true, 5000));
}

static int64_t
s_put_ms (int leader, const char *value)
{
    int64_t t = zclock_mono ();
    CHECK_EQ (fc_put (leader, "slow", value), 200);
    return zclock_mono () - t;
}

static void
test_delay_and_fsync (int leader)
{
    /* Below the election timeout (300 ms): followers hear the leader
       late, but in time. */
    CHECK_EQ (fc_fault (leader, "{\"action\": \"delay\", \"ms\": 150}"), 200);
    int64_t ms = s_put_ms (leader, "1");
    long long held = fc_metric (leader, "nsxd_fault_messages_delayed_total");
    printf ("a write with a 150 ms delay: %lld ms (%lld held)\n", (long long)ms,
            held);
    CHECK (ms >= 150);
    CHECK (held > 0);
    CHECK_EQ (fc_fault (leader, "{\"action\": \"clear\"}"), 200);
    for (int id = 1; id <= FC_NODES; id++)
        CHECK_EQ (fc_fault (id, "{\"action\": \"slow_fsync\", \"ms\": 200}"),
                  200);
    ms = s_put_ms (leader, "2");
    printf ("a write with 200 ms fsyncs: %lld ms\n", (long long)ms);
    CHECK (ms >= 200);
    for (int id = 1; id <= FC_NODES; id++)
        CHECK_EQ (fc_fault (id, "{\"action\": \"clear\"}"), 200);
}

static void
test_stop (int leader)
{
    int f = leader % FC_NODES + 1;
    json_t *j = NULL;
    CHECK_EQ (fc_call (f, "POST", "/debug/stop", NULL, &j), 200);
    CHECK (json_is_true (json_object_get (j, "stopping")));
    json_decref (j);
    int w = 0;
    for (int i = 0; i < 20 && w == 0; i++)
        w = node_wait (fc_nodes[f], 100);
    CHECK_EQ (w, 1);
    fc_stop (f);
    leader = fc_wait_leader (s_but (f), 0, 5000);
    CHECK (leader);
    CHECK_EQ (fc_put (leader ? leader : 1, "after-stop", "x"), 200);
}

static void
s_dump_log (int fd, const char *path)
{
    FILE *f = fopen (path, "r");
    char line[2048];
    while (f && fgets (line, sizeof line, f))
        if (write (fd, line, strlen (line)) < 0)
            break;
    if (f)
        fclose (f);
}

int
main (void)
{
    signal (SIGALRM, s_watchdog);
    alarm (S_WATCHDOG_S);
    signal (SIGPIPE, SIG_IGN);
    zsys_handler_set (NULL);
    setvbuf (stdout, NULL, _IOLBF, 0);
    umask (077);
    snprintf (fc_dir, sizeof fc_dir, "/tmp/test-faults-%d", (int)getpid ());
    if (mkdir (fc_dir, 0700) != 0) {
        printf ("cannot create %s\n", fc_dir);
        return 1;
    }
    char log_path[300];
    snprintf (log_path, sizeof log_path, "%s/nodes.log", fc_dir);
    int saved_stderr = dup (STDERR_FILENO);
    int logfd = open (log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (logfd < 0 || dup2 (logfd, STDERR_FILENO) < 0) {
        printf ("cannot redirect stderr to %s\n", log_path);
        return 1;
    }
    close (logfd);
    setvbuf (stderr, NULL, _IOLBF, 0);
    log_init (0, LOG_LEVEL_INFO);
    char key[300];
    snprintf (key, sizeof key, "%s/cluster.key", fc_dir);
    CHECK (peer_keys_generate (key) == 0);
    int64_t t0 = zclock_mono ();

    /* Fresh directories: no election until all three started, or the
       last would find the cluster running and start without a vote
       (README, "Identity": a founder never bootstraps late). */
    for (int id = 1; id <= FC_NODES; id++)
        CHECK (fc_start (id, false, 6000) == 0);
    test_disabled ();
    printf ("without --enable-faults: 403 faults_disabled\n");
    for (int id = 1; id <= FC_NODES; id++)
        fc_stop (id);

    for (int id = 1; id <= FC_NODES; id++)
        CHECK (fc_start (id, true, 300) == 0);
    int leader = fc_wait_leader (S_ALL, 0, 10000);
    CHECK (leader);
    if (leader) {
        test_bad_input (leader);
        test_trace (leader);
        printf ("bad input 400, state in /health, trace event: checked\n");
        leader = test_isolate (leader);
        leader = test_drop_both (leader);
        /* Leadership may have moved once more after a clear. */
        test_drop_out (fc_wait_leader (S_ALL, 0, 5000));
        test_delay_and_fsync (fc_wait_leader (S_ALL, 0, 5000));
        test_stop (fc_wait_leader (S_ALL, 0, 5000));
        printf ("drop out, delay, slow fsync, /debug/stop: checked\n");
    }
    for (int id = 1; id <= FC_NODES; id++)
        fc_stop (id);
    fflush (stderr);
    if (check_failures ())
        s_dump_log (saved_stderr, log_path);
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", fc_dir);
    if (system (cmd) != 0)
        printf ("could not remove %s\n", fc_dir);
    printf ("%s (%lld ms)\n",
            check_failures () ? "test_faults: FAILED"
                              : "test_faults: all passed",
            (long long)(zclock_mono () - t0));
    return check_failures () ? 1 : 0;
}
