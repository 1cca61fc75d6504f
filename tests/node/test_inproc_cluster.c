/*  test_inproc_cluster.c -- three nsxd nodes in one process.

    Each node is started from a configuration parsed from flags, as nsxd's
    main does (nsxd_config_parse, node_start), on its own temporary data
    directory, and every node has its own context (node_ctx.h). The test:

      1. elects a leader;
      2. PUTs through the leader's HTTP port (the project's client,
         http/client.c) and GETs the value from every node (?stale=true on
         the followers, once they applied it);
      3. checks that the nodes' state is their own: each node's /metrics
         names its own id and only the leader's says is_leader; with a
         subscriber on node 1's monitoring socket only, node 1 publishes
         trace events and nodes 2 and 3 publish nothing but their "up"
         (the per-node listener count); each node's log lines carry its
         own id;
      4. stops the leader's node, sees the other two elect a new leader,
         and writes through it;
      5. starts the stopped node again on its old data and sees it catch
         up (the second write readable there).

    Ports, fixed: HTTP 127.0.0.1:7400-7402, peers tcp://127.0.0.1:7500-7502,
    monitoring sockets tcp://127.0.0.1:7600-7602.

    Peer links are CURVE-authenticated, as in production: libzmq asks one
    ZAP handler per ZeroMQ context (czmq has one per process), so the
    process has one zap actor that knows every node's keys (zap.c), and
    the three nodes share one cluster secret (made here with
    peer_keys_generate).

    Bounded: every wait has a deadline, and a watchdog (SIGALRM, S_WATCHDOG_S)
    ends a stuck run with status 1. The nodes' log lines go to a file in
    the temporary directory (the log identity check reads it); it is
    printed when a check fails, with the failed checks (check.h writes
    them to stderr, which is that file). The directory is removed at the end.
*/
#include "actor.h"
#include "actors.h"
#include "check.h"
#include "client.h"
#include "log.h"
#include "node.h"
#include "nsxd_config.h"
#include "peer_keys.h"

#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_NODES 3
#define S_HTTP_BASE 7400
#define S_PEER_BASE 7500
#define S_MON_BASE 7600
#define S_WATCHDOG_S 120

static char s_dir[256];
static char s_log[300];
static node_t *s_nodes[S_NODES + 1]; /* by id */

static void
s_watchdog (int sig)
{
    (void)sig;
    static const char msg[] = "test_inproc_cluster: watchdog: stuck, "
                              "giving up\n";
    if (write (STDOUT_FILENO, msg, sizeof msg - 1) < 0)
        _exit (1);
    _exit (1);
}

static void
s_http_ep (int id, char *buf, size_t len)
{
    snprintf (buf, len, "127.0.0.1:%d", S_HTTP_BASE + id - 1);
}

/* Start node id from flags, as nsxd's main would. 0, or the status. */
static int
s_start (int id)
{
    char sid[8], http[32], peer[48], mon[48], data[300], key[300];
    char cluster[512] = "";
    snprintf (sid, sizeof sid, "%d", id);
    s_http_ep (id, http, sizeof http);
    snprintf (peer, sizeof peer, "tcp://127.0.0.1:%d", S_PEER_BASE + id - 1);
    snprintf (mon, sizeof mon, "tcp://127.0.0.1:%d", S_MON_BASE + id - 1);
    snprintf (data, sizeof data, "%s/n%d", s_dir, id);
    snprintf (key, sizeof key, "%s/cluster.key", s_dir);
    for (int i = 1; i <= S_NODES; i++) {
        char one[128];
        snprintf (one, sizeof one, "%s%d=tcp://127.0.0.1:%d@127.0.0.1:%d",
                  i > 1 ? "," : "", i, S_PEER_BASE + i - 1,
                  S_HTTP_BASE + i - 1);
        strcat (cluster, one);
    }
    char *argv[] = {"nsxd",  "--id",
                    sid,     "--http-listen",
                    http,    "--peer-listen",
                    peer,    "--monitor-listen",
                    mon,     "--cluster",
                    cluster, "--data-dir",
                    data,    "--peer-secret-file",
                    key,     "--http-threads",
                    "4",     "--election-ms",
                    "300",   "--heartbeat-ms",
                    "50",    NULL};
    int argc = (int)(sizeof argv / sizeof argv[0]) - 1;
    nsxd_config_t c;
    optind = 0; /* getopt from the start again (GNU) */
    if (nsxd_config_parse (argc, argv, &c) != 0)
        return 2;
    raft_conf_t boot;
    if (nsxd_config_cluster (c.cluster, &boot) != 0)
        return 2;
    /* A restarted node may find its tcp ports still held a moment by its
       previous sockets (libzmq closes them asynchronously): retry. */
    int rc = 1;
    for (int i = 0; i < 50 && rc != 0; i++) {
        rc = node_start (&c, &boot, &s_nodes[id]);
        if (rc != 0)
            zclock_sleep (100);
    }
    return rc;
}

/* GET/POST on node id; the response (free it). */
static http_client_resp_t
s_req (int id, const char *method, const char *path, const char *body)
{
    char ep[32];
    s_http_ep (id, ep, sizeof ep);
    http_client_opts_t opts = {0};
    return http_client_request (&opts, ep, method, path, body, 3000);
}

/* Node id's /health, or NULL. */
static json_t *
s_health (int id)
{
    http_client_resp_t r = s_req (id, "GET", "/health", NULL);
    json_t *j = r.status == 200 ? json_loads (r.body, 0, NULL) : NULL;
    http_client_resp_free (&r);
    return j;
}

/* The one leader every running node agrees on, within timeout_ms: its id,
   or 0. */
static int
s_wait_leader (int timeout_ms, int not )
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        int leader = 0, lid[S_NODES + 1] = {0};
        for (int id = 1; id <= S_NODES; id++) {
            json_t *h = s_nodes[id] ? s_health (id) : NULL;
            lid[id] =
                (int)json_integer_value (json_object_get (h, "leader_id"));
            const char *role = json_string_value (json_object_get (h, "role"));
            if (role && streq (role, "leader") && lid[id] == id)
                leader = id;
            json_decref (h);
        }
        bool agree = leader && leader != not ;
        for (int id = 1; id <= S_NODES; id++)
            if (s_nodes[id] && lid[id] != leader)
                agree = false;
        if (agree)
            return leader;
        zclock_sleep (50);
    }
    return 0;
}

static int
s_put (int id, const char *key, const char *value)
{
    char body[256];
    snprintf (body, sizeof body, "{\"key\": \"%s\", \"value\": \"%s\"}", key,
              value);
    http_client_resp_t r = s_req (id, "POST", "/kv/put", body);
    int status = r.status;
    http_client_resp_free (&r);
    return status;
}

/* Whether node id answers key = value within timeout_ms. */
static bool
s_wait_value (int id, const char *key, const char *value, bool stale,
              int timeout_ms)
{
    char path[128];
    snprintf (path, sizeof path, "/kv/get?key=%s%s", key,
              stale ? "&stale=true" : "");
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        http_client_resp_t r = s_req (id, "GET", path, NULL);
        json_t *j = r.status == 200 ? json_loads (r.body, 0, NULL) : NULL;
        const char *v = json_string_value (json_object_get (j, "value"));
        bool ok = v && streq (v, value);
        json_decref (j);
        http_client_resp_free (&r);
        if (ok)
            return true;
        zclock_sleep (50);
    }
    return false;
}

/* A sample of node id's /metrics ("name" or "name{labels}"), or -1. */
static long long
s_metric (int id, const char *name)
{
    http_client_resp_t r = s_req (id, "GET", "/metrics", NULL);
    long long v = -1;
    size_t n = strlen (name);
    for (const char *p = r.body; p && *p;) {
        if (strncmp (p, name, n) == 0 && p[n] == ' ') {
            v = strtoll (p + n + 1, NULL, 10);
            break;
        }
        p = strchr (p, '\n');
        p = p ? p + 1 : NULL;
    }
    http_client_resp_free (&r);
    return v;
}

/*  ---------------------------------------------------------------------
    The checks                                                           */

/* Each node's registry is its own, and so is the leader gauge. */
static void
s_check_metrics (int leader)
{
    for (int id = 1; id <= S_NODES; id++) {
        if (!s_nodes[id])
            continue;
        long long node = s_metric (id, "nsxd_node_id");
        long long is_leader = s_metric (id, "nsxd_raft_is_leader");
        if (node != id || is_leader != (id == leader))
            printf ("  n%d: nsxd_node_id %lld, nsxd_raft_is_leader %lld\n", id,
                    node, is_leader);
        CHECK (node == id);
        CHECK (is_leader == (id == leader));
    }
}

/* Subscribe to node 1's monitoring socket only: node 1 must publish the
   write's events, and the others nothing but their "up" (their actors
   send events only while their own monitor has a subscriber). */
static void
s_check_monitor_listeners (int leader)
{
    char err[256], key[300];
    snprintf (key, sizeof key, "%s/cluster.key", s_dir);
    peer_keys_t *keys = peer_keys_load (key, 0, err, sizeof err);
    CHECK (keys);
    if (!keys)
        return;
    zsock_t *sub = zsock_new (ZMQ_SUB);
    peer_keys_connect_monitor (keys, sub, 0);
    zsock_set_subscribe (sub, "");
    zsock_set_rcvtimeo (sub, 100);
    zsock_connect (sub, "tcp://127.0.0.1:%d", S_MON_BASE);
    /* Events flow once node 1's XPUB saw the subscription. */
    bool got = false;
    int64_t deadline = zclock_mono () + 5000;
    for (int i = 0; !got && zclock_mono () < deadline; i++) {
        char k[32];
        snprintf (k, sizeof k, "watched-%d", i);
        CHECK (s_put (leader, k, "x") == 200);
        zmsg_t *m = zmsg_recv (sub);
        got = m != NULL;
        zmsg_destroy (&m);
    }
    CHECK (got);
    CHECK (s_put (leader, "watched", "y") == 200);
    CHECK (s_wait_value (1, "watched", "y", true, 5000));
    long long p1 = s_metric (1, "nsxd_trace_events_published_total");
    long long p2 = s_metric (2, "nsxd_trace_events_published_total");
    long long p3 = s_metric (3, "nsxd_trace_events_published_total");
    if (!(p1 > 1 && p2 == 1 && p3 == 1))
        printf ("  trace events published: n1 %lld, n2 %lld, n3 %lld\n", p1, p2,
                p3);
    CHECK (p1 > 1);
    CHECK (p2 == 1 && p3 == 1);
    zsock_destroy (&sub);
    peer_keys_destroy (&keys);
}

/* The transport's "listening on <its port>" line carries its node's id. */
static void
s_check_log_identity (void)
{
    fflush (stderr);
    FILE *f = fopen (s_log, "r");
    CHECK (f);
    if (!f)
        return;
    bool seen[S_NODES + 1] = {false}, right[S_NODES + 1] = {false};
    char line[2048];
    while (fgets (line, sizeof line, f)) {
        for (int id = 1; id <= S_NODES; id++) {
            char what[96], who[16];
            snprintf (what, sizeof what,
                      "transport: listening on tcp://127.0.0.1:%d\n",
                      S_PEER_BASE + id - 1);
            snprintf (who, sizeof who, " n%d ", id);
            if (strstr (line, what)) {
                seen[id] = true;
                right[id] = strstr (line, who) != NULL;
                if (!right[id])
                    printf ("  n%d's line: %s", id, line);
            }
        }
    }
    fclose (f);
    for (int id = 1; id <= S_NODES; id++)
        CHECK (seen[id] && right[id]);
}

/*  ---------------------------------------------------------------------
    main                                                                 */

static void
s_dump_log (int saved_stderr)
{
    FILE *f = fopen (s_log, "r");
    char line[2048];
    while (f && fgets (line, sizeof line, f))
        if (write (saved_stderr, line, strlen (line)) < 0)
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
    snprintf (s_dir, sizeof s_dir, "/tmp/test-inproc-cluster-%d",
              (int)getpid ());
    if (mkdir (s_dir, 0700) != 0) {
        printf ("cannot create %s\n", s_dir);
        return 1;
    }
    /* The nodes' log lines, for the identity check (and for the reader
       when a check fails). */
    snprintf (s_log, sizeof s_log, "%s/nodes.log", s_dir);
    int saved_stderr = dup (STDERR_FILENO);
    int logfd = open (s_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (logfd < 0 || dup2 (logfd, STDERR_FILENO) < 0) {
        printf ("cannot redirect stderr to %s\n", s_log);
        return 1;
    }
    close (logfd);
    setvbuf (stderr, NULL, _IOLBF, 0);
    log_init (0, LOG_LEVEL_INFO);
    char key[300];
    snprintf (key, sizeof key, "%s/cluster.key", s_dir);
    CHECK (peer_keys_generate (key) == 0);

    int64_t t0 = zclock_mono ();
    for (int id = 1; id <= S_NODES; id++)
        CHECK (s_start (id) == 0);
    int leader = s_wait_leader (10000, 0);
    printf ("leader: n%d (%lld ms after start)\n", leader,
            (long long)(zclock_mono () - t0));
    CHECK (leader);
    if (leader) {
        CHECK (s_put (leader, "k1", "v1") == 200);
        CHECK (s_wait_value (leader, "k1", "v1", false, 3000));
        for (int id = 1; id <= S_NODES; id++)
            if (id != leader)
                CHECK (s_wait_value (id, "k1", "v1", true, 5000));
        printf ("k1 written through n%d, read on every node\n", leader);
        s_check_metrics (leader);
        s_check_monitor_listeners (leader);
        s_check_log_identity ();
        printf ("per-node metrics, monitor listeners, log identity checked\n");

        /* The leader goes away; the other two go on. */
        int old = leader;
        node_stop (&s_nodes[old]);
        int64_t t1 = zclock_mono ();
        leader = s_wait_leader (10000, old);
        printf ("n%d stopped; new leader n%d (%lld ms)\n", old, leader,
                (long long)(zclock_mono () - t1));
        CHECK (leader && leader != old);
        if (leader) {
            CHECK (s_put (leader, "k2", "v2") == 200);
            for (int id = 1; id <= S_NODES; id++)
                if (s_nodes[id])
                    CHECK (s_wait_value (id, "k2", "v2", id != leader, 5000));
        }
        /* Back on its old data: it catches up as a follower. */
        int64_t t2 = zclock_mono ();
        CHECK (s_start (old) == 0);
        CHECK (s_wait_value (old, "k2", "v2", true, 10000));
        CHECK (s_wait_value (old, "k1", "v1", true, 1000));
        printf ("n%d restarted on its data, caught up (%lld ms)\n", old,
                (long long)(zclock_mono () - t2));
        CHECK (s_wait_leader (5000, 0) == leader);
        s_check_metrics (leader);
    }
    for (int id = 1; id <= S_NODES; id++)
        node_stop (&s_nodes[id]);
    fflush (stderr);
    if (check_failures ())
        s_dump_log (saved_stderr);
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", s_dir);
    if (system (cmd) != 0)
        printf ("could not remove %s\n", s_dir);
    printf ("%s (%lld ms)\n",
            check_failures () ? "test_inproc_cluster: FAILED"
                              : "test_inproc_cluster: all passed",
            (long long)(zclock_mono () - t0));
    return check_failures () ? 1 : 0;
}
