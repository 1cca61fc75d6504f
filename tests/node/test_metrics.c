/*  test_metrics.c -- the metrics registry (actors/metrics.c) and the
    strict exposition checker (tests/node/promcheck.c) that the cluster
    test also runs on every node's GET /metrics.

      - the checker's teeth: a valid exposition passes, and each of a list
        of planted faults (one per rule in promcheck.h) is rejected;
      - the registry renders a valid exposition when empty, after updates,
        and while 4 threads update it (rendered concurrently); the counts
        are exact afterwards (40,000 observations -> _count 40000);
      - histogram buckets: an observation lands in the first bucket whose
        bound it does not exceed; _sum is the sum of the observations;
      - the raft gauges (role state set, per-peer lag = last - match);
      - if build/tools/promtool (or promtool on PATH) exists, `promtool
        check metrics` accepts the rendering too; otherwise says SKIPPED.

    One line per test; exit status non-zero on any failure.
*/
#include "check.h"
#include "metrics.h"
#include "promcheck.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* PASS or FAIL for one test, by whether it added failures. */
static void s_result (int before, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
static void
s_result (int before, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    printf ("%s ", check_failures () == before ? "PASS" : "FAIL");
    vprintf (fmt, ap);
    va_end (ap);
}

static bool
s_valid (const char *text, char *err, size_t len)
{
    return promcheck (text, strlen (text), err, len) == 0;
}

static double
s_value (const char *text, const char *series)
{
    double v = -1;
    if (!promcheck_value (text, series, &v))
        return -1;
    return v;
}

/*  ---------------------------------------------------------------------
    The checker catches planted faults                                   */

static const char s_good[] = "# HELP a_total A counter.\n"
                             "# TYPE a_total counter\n"
                             "a_total{x=\"1\"} 3\n"
                             "a_total{x=\"2\\\"q\\\\\\n\"} 0\n"
                             "# a plain comment\n"
                             "# HELP g A gauge.\n"
                             "# TYPE g gauge\n"
                             "g -1.5e3\n"
                             "# HELP h_seconds A histogram.\n"
                             "# TYPE h_seconds histogram\n"
                             "h_seconds_bucket{r=\"a\",le=\"0.1\"} 1\n"
                             "h_seconds_bucket{r=\"a\",le=\"1\"} 2\n"
                             "h_seconds_bucket{r=\"a\",le=\"+Inf\"} 2\n"
                             "h_seconds_sum{r=\"a\"} 0.6\n"
                             "h_seconds_count{r=\"a\"} 2\n"
                             "h_seconds_bucket{r=\"b\",le=\"+Inf\"} 0\n"
                             "h_seconds_sum{r=\"b\"} 0\n"
                             "h_seconds_count{r=\"b\"} 0\n";

typedef struct {
    const char *what;
    const char *from; /* replaced in s_good ... */
    const char *to;   /* ... by this */
} s_plant_t;

static const s_plant_t s_plants[] = {
    {"no final newline", "h_seconds_count{r=\"b\"} 0\n",
     "h_seconds_count{r=\"b\"} 0"},
    {"empty line", "# a plain comment\n", "\n"},
    {"bad metric name", "g -1.5e3", "9g -1.5e3"},
    {"bad label name", "{x=\"1\"}", "{x-y=\"1\"}"},
    {"reserved label name", "{x=\"1\"}", "{__x=\"1\"}"},
    {"bad escape", "{x=\"1\"}", "{x=\"\\t\"}"},
    {"unquoted label", "{x=\"1\"}", "{x=1}"},
    {"duplicate label", "{x=\"1\"}", "{x=\"1\",x=\"3\"}"},
    {"trailing comma", "{x=\"1\"}", "{x=\"1\",}"},
    {"empty labels", "a_total{x=\"1\"} 3", "a_total{} 3"},
    {"value not a float", "g -1.5e3", "g 1.5e"},
    {"value words", "g -1.5e3", "g twelve"},
    {"timestamp", "g -1.5e3", "g 1 1700000000000"},
    {"no TYPE", "# TYPE g gauge\n", ""},
    {"no HELP", "# HELP g A gauge.\n", ""},
    {"second TYPE", "# TYPE g gauge\n", "# TYPE g gauge\n# TYPE g gauge\n"},
    {"unknown type", "# TYPE g gauge", "# TYPE g meter"},
    {"TYPE after samples", "g -1.5e3\n", "g -1.5e3\n# TYPE g gauge\n"},
    {"family not contiguous", "# HELP h_seconds",
     "a_total{x=\"3\"} 1\n# HELP h_seconds"},
    {"duplicate series", "a_total{x=\"2", "a_total{x=\"1\"} 4\na_total{x=\"2"},
    {"counter without _total",
     "# HELP a_total A counter.\n# TYPE a_total counter\na_total{x=\"1\"} 3\n",
     "# HELP a_count A counter.\n# TYPE a_count counter\na_count{x=\"1\"} 3\n"},
    {"negative counter", "a_total{x=\"1\"} 3", "a_total{x=\"1\"} -3"},
    {"no +Inf bucket", "h_seconds_bucket{r=\"b\",le=\"+Inf\"} 0\n", ""},
    {"le not increasing", "le=\"1\"} 2", "le=\"0.05\"} 2"},
    {"bucket count decreasing", "le=\"1\"} 2", "le=\"1\"} 0"},
    {"_count differs from +Inf", "h_seconds_count{r=\"a\"} 2",
     "h_seconds_count{r=\"a\"} 3"},
    {"no _sum", "h_seconds_sum{r=\"a\"} 0.6\n", ""},
    {"bucket without le", "h_seconds_bucket{r=\"a\",le=\"0.1\"} 1",
     "h_seconds_bucket{r=\"a\"} 1"},
    {"stray histogram sample", "h_seconds_sum{r=\"b\"} 0\n",
     "h_seconds_sum{r=\"b\"} 0\nh_seconds{r=\"b\"} 0\n"},
    {"NUL byte", "# a plain comment", "# a plain@comment"}, /* @ -> NUL */
};

static char *
s_replace (const char *text, const char *from, const char *to)
{
    const char *at = strstr (text, from);
    if (!at)
        return NULL;
    size_t n = strlen (text) - strlen (from) + strlen (to) + 1;
    char *out = malloc (n);
    size_t pre = (size_t)(at - text);
    memcpy (out, text, pre);
    strcpy (out + pre, to);
    strcat (out, at + strlen (from));
    return out;
}

static void
test_checker_teeth (void)
{
    int before = check_failures ();
    char err[512] = "";
    bool ok = s_valid (s_good, err, sizeof err);
    if (!ok)
        fprintf (stderr, "  valid exposition rejected: %s\n", err);
    CHECK (ok);
    CHECK (s_value (s_good, "g") == -1500);
    CHECK (s_value (s_good, "h_seconds_sum{r=\"a\"}") == 0.6);
    int caught = 0, n = (int)(sizeof s_plants / sizeof s_plants[0]);
    for (int i = 0; i < n; i++) {
        char *bad = s_replace (s_good, s_plants[i].from, s_plants[i].to);
        CHECK (bad);
        if (!bad)
            continue;
        size_t len = strlen (bad);
        char *at = strchr (bad, '@');
        if (at)
            *at = 0; /* the NUL plant; len still covers the whole text */
        err[0] = 0;
        if (promcheck (bad, len, err, sizeof err) != 0) {
            caught++;
            if (getenv ("PROMCHECK_VERBOSE"))
                printf ("  %-26s -> %s\n", s_plants[i].what, err);
        } else {
            check_failed (__FILE__, __LINE__, "planted fault not caught: %s",
                          s_plants[i].what);
        }
        free (bad);
    }
    s_result (before,
              "checker: valid text accepted, %d of %d planted faults "
              "rejected\n",
              caught, n);
}

/*  ---------------------------------------------------------------------
    The registry                                                         */

static char *
s_render_checked (const char *when)
{
    size_t len = 0;
    char *text = metrics_render (&len);
    CHECK (text);
    if (!text)
        return NULL;
    CHECK (strlen (text) == len);
    char err[512];
    if (promcheck (text, len, err, sizeof err) != 0) {
        check_failed (__FILE__, __LINE__, "rendering %s is invalid: %s", when,
                      err);
    }
    return text;
}

static void
test_empty (void)
{
    int before = check_failures ();
    metrics_reset ();
    char *t = s_render_checked ("when empty");
    CHECK (t && s_value (t, "nsxd_raft_term") == 0);
    CHECK (t && s_value (t, "nsxd_raft_role{role=\"follower\"}") == 0);
    CHECK (t && s_value (t, "nsxd_storage_fsync_duration_seconds_count") == 0);
    CHECK (t && s_value (t, "process_resident_memory_bytes") > 0);
    /* no HTTP request yet: the families are there, without samples */
    CHECK (t && strstr (t, "# TYPE nsxd_http_requests_total counter\n"));
    CHECK (t && !strstr (t, "nsxd_http_requests_total{"));
    free (t);
    s_result (before, "empty registry renders a valid exposition\n");
}

static void
test_buckets (void)
{
    int before = check_failures ();
    metrics_reset ();
    /* bounds are 100, 250, 500, 1000 ... us: 100 is in le=0.0001, 101 is
       not; 20 s is only in +Inf */
    metrics_fsync (100, 1);
    metrics_fsync (101, 2);
    metrics_fsync (20000000, 3);
    char *t = s_render_checked ("after fsyncs");
    const char *f = "nsxd_storage_fsync_duration_seconds";
    char s[128];
    snprintf (s, sizeof s, "%s_bucket{le=\"0.0001\"}", f);
    CHECK (t && s_value (t, s) == 1);
    snprintf (s, sizeof s, "%s_bucket{le=\"0.00025\"}", f);
    CHECK (t && s_value (t, s) == 2);
    snprintf (s, sizeof s, "%s_bucket{le=\"10\"}", f);
    CHECK (t && s_value (t, s) == 2);
    snprintf (s, sizeof s, "%s_bucket{le=\"+Inf\"}", f);
    CHECK (t && s_value (t, s) == 3);
    snprintf (s, sizeof s, "%s_count", f);
    CHECK (t && s_value (t, s) == 3);
    snprintf (s, sizeof s, "%s_sum", f);
    CHECK (t && s_value (t, s) > 20.0001 && s_value (t, s) < 20.0003);
    CHECK (t && s_value (t, "nsxd_storage_fsync_entries_total") == 6);
    free (t);

    metrics_http (METRICS_ROUTE_PUT, 200, 300);
    metrics_http (METRICS_ROUTE_PUT, 200, 300);
    metrics_http (METRICS_ROUTE_PUT, 409, 50);
    metrics_http (metrics_route_of ("/no/such"), 404, 10);
    metrics_http (METRICS_ROUTE_GET, 418, 10); /* an unlisted status */
    t = s_render_checked ("after requests");
    CHECK (t && s_value (t, "nsxd_http_requests_total{route=\"/kv/put\","
                            "code=\"200\"}") == 2);
    CHECK (t && s_value (t, "nsxd_http_requests_total{route=\"/kv/put\","
                            "code=\"409\"}") == 1);
    CHECK (t && s_value (t, "nsxd_http_requests_total{route=\"other\","
                            "code=\"404\"}") == 1);
    CHECK (t && s_value (t, "nsxd_http_requests_total{route=\"/kv/get\","
                            "code=\"other\"}") == 1);
    CHECK (t && s_value (t, "nsxd_http_request_duration_seconds_bucket{route="
                            "\"/kv/put\",code=\"200\",le=\"0.00025\"}") == 0);
    CHECK (t && s_value (t, "nsxd_http_request_duration_seconds_bucket{route="
                            "\"/kv/put\",code=\"200\",le=\"0.0005\"}") == 2);
    free (t);
    s_result (before, "histogram buckets, sums and labels are exact\n");
}

static void
test_raft_gauges (void)
{
    int before = check_failures ();
    metrics_reset ();
    metrics_raft_t r = {.id = 2,
                        .valid = true,
                        .role = RAFT_LEADER,
                        .term = 7,
                        .leader = 2,
                        .commit = 90,
                        .applied = 89,
                        .last_index = 100,
                        .voters = 3,
                        .n_peers = 2};
    r.peers[0].id = 1;
    r.peers[0].match = 100;
    r.peers[1].id = 3;
    r.peers[1].match = 60;
    metrics_raft_set (&r);
    char *t = s_render_checked ("with raft gauges");
    CHECK (t && s_value (t, "nsxd_node_id") == 2);
    CHECK (t && s_value (t, "nsxd_raft_role{role=\"leader\"}") == 1);
    CHECK (t && s_value (t, "nsxd_raft_role{role=\"follower\"}") == 0);
    CHECK (t && s_value (t, "nsxd_raft_is_leader") == 1);
    CHECK (t && s_value (t, "nsxd_raft_term") == 7);
    CHECK (t && s_value (t, "nsxd_raft_commit_index") == 90);
    CHECK (t && s_value (t, "nsxd_raft_peer_match_index{peer=\"3\"}") == 60);
    CHECK (t && s_value (t, "nsxd_raft_peer_lag_entries{peer=\"3\"}") == 40);
    CHECK (t && s_value (t, "nsxd_raft_peer_lag_entries{peer=\"1\"}") == 0);
    CHECK (t && s_value (t, "nsxd_raft_members{kind=\"voter\"}") == 3);
    free (t);
    s_result (before, "raft gauges: role state set, per-peer match and lag\n");
}

#define S_THREADS 4
#define S_PER_THREAD 10000

static void *
s_hammer (void *arg)
{
    (void)arg;
    for (int i = 0; i < S_PER_THREAD; i++) {
        metrics_http (METRICS_ROUTE_GET, 200, (uint64_t)(i % 3000));
        metrics_add (METRICS_PROPOSALS_COMMITTED, 1);
    }
    return NULL;
}

static void *
s_scrape (void *arg)
{
    int *bad = arg;
    for (int i = 0; i < 50; i++) {
        size_t len;
        char *t = metrics_render (&len);
        char err[512];
        if (!t || promcheck (t, len, err, sizeof err) != 0) {
            fprintf (stderr, "  concurrent rendering invalid: %s\n",
                     t ? err : "NULL");
            (*bad)++;
        }
        free (t);
    }
    return NULL;
}

static void
test_concurrent (void)
{
    int before = check_failures ();
    metrics_reset ();
    pthread_t th[S_THREADS], scraper;
    int bad = 0;
    pthread_create (&scraper, NULL, s_scrape, &bad);
    for (int i = 0; i < S_THREADS; i++)
        pthread_create (&th[i], NULL, s_hammer, NULL);
    for (int i = 0; i < S_THREADS; i++)
        pthread_join (th[i], NULL);
    pthread_join (scraper, NULL);
    CHECK (bad == 0);
    char *t = s_render_checked ("after the threads");
    CHECK (t && s_value (t, "nsxd_http_requests_total{route=\"/kv/get\","
                            "code=\"200\"}") == S_THREADS * S_PER_THREAD);
    CHECK (t && s_value (t, "nsxd_http_request_duration_seconds_count{route="
                            "\"/kv/get\",code=\"200\"}") ==
                    S_THREADS * S_PER_THREAD);
    CHECK (t && s_value (t, "nsxd_raft_proposals_committed_total") ==
                    S_THREADS * S_PER_THREAD);
    free (t);
    s_result (before,
              "%d threads x %d updates while scraping: valid and exact\n",
              S_THREADS, S_PER_THREAD);
}

/* promtool, when deploy/deps.sh could fetch it (or it is installed). */
static void
test_promtool (void)
{
    int before = check_failures ();
    const char *tool = NULL;
    if (access ("build/tools/promtool", X_OK) == 0)
        tool = "build/tools/promtool";
    else if (system ("command -v promtool >/dev/null 2>&1") == 0)
        tool = "promtool";
    if (!tool) {
        printf ("SKIPPED promtool check metrics: no promtool "
                "(deploy/deps.sh promtool fetches it)\n");
        return;
    }
    metrics_reset ();
    metrics_http (METRICS_ROUTE_PUT, 200, 1200);
    metrics_fsync (90, 3);
    char *t = s_render_checked ("for promtool");
    char cmd[256];
    snprintf (cmd, sizeof cmd, "%s check metrics", tool);
    FILE *p = popen (cmd, "w");
    CHECK (p);
    if (p && t)
        fputs (t, p);
    int rc = p ? pclose (p) : -1;
    CHECK (rc == 0);
    /* and promtool itself rejects a planted fault, so it is really
       checking: a counter without _total */
    snprintf (cmd, sizeof cmd, "%s check metrics >/dev/null 2>&1", tool);
    p = popen (cmd, "w");
    if (p)
        fputs ("# HELP a A.\n# TYPE a counter\na 1\n", p);
    int bad_rc = p ? pclose (p) : 0;
    CHECK (bad_rc != 0);
    free (t);
    s_result (before,
              "%s check metrics accepts the rendering (and rejects a "
              "planted fault)\n",
              tool);
}

int
main (void)
{
    check_watchdog ("test_metrics", 120);
    test_checker_teeth ();
    test_empty ();
    test_buckets ();
    test_raft_gauges ();
    test_concurrent ();
    test_promtool ();
    if (check_failures ()) {
        printf ("FAILED: %d check(s)\n", check_failures ());
        return 1;
    }
    printf ("all metrics tests passed\n");
    return 0;
}
