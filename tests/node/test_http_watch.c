/*  test_http_watch.c -- GET /kv/watch on a real node (issue 15): a long
    poll answers at once when events are there, waits for the next one,
    times out empty; limit and from_index; server-sent events (framing,
    the id on each entry's last event, Last-Event-ID resuming); 410
    compacted (a history of 20 events); 503 busy past the watch slots (8
    workers: 2 slots); every 400; streams whose clients never read; a
    node stop not held up by open watches.

    The node and the client: watch_client.h (ports, fixed: HTTP
    127.0.0.1:5150, peer 5250, monitor 5350). Bounded: the watchdog ends a stuck run; every socket
    has a 5 s timeout and every wait a deadline.
*/
#include "check.h"
#include "watch_client.h"
#include "client.h"
#include "fixture.h"
#include "node.h"
#include "nsxd_config.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/*  The tests  */

static int64_t s_first; /* the first index of this suite's writes */

static void
test_long_poll_at_once (void)
{
    s_first = wc_put ("lp/a", "1");
    CHECK (s_first > 0);
    CHECK (wc_put ("lp/b", "2") == s_first + 1);
    CHECK (wc_put ("other", "x") == s_first + 2);
    char path[160];
    snprintf (path, sizeof path,
              "/kv/watch?prefix=lp/&from_index=%lld&timeout_ms=5000",
              (long long)(s_first - 1));
    json_t *j;
    int64_t t0 = wc_mono_ms ();
    CHECK_EQ (nf_req (WC_EP, "GET", path, NULL, &j), 200);
    CHECK (wc_mono_ms () - t0 < 1000);
    json_t *ev = json_object_get (j, "events");
    CHECK_EQ (json_array_size (ev), 2);
    json_t *e0 = json_array_get (ev, 0);
    CHECK (strcmp (nf_str (e0, "type"), "put") == 0 &&
           strcmp (nf_str (e0, "key"), "lp/a") == 0 &&
           strcmp (nf_str (e0, "value"), "1") == 0 &&
           nf_int (e0, "index") == s_first &&
           nf_int (e0, "create_index") == s_first &&
           nf_int (e0, "mod_index") == s_first && nf_int (e0, "version") == 1);
    CHECK (nf_int (j, "index") >= s_first + 2);
    json_decref (j);
    /* limit 1: one, and the index covering it only */
    snprintf (path, sizeof path, "/kv/watch?prefix=lp/&from_index=%lld&limit=1",
              (long long)(s_first - 1));
    CHECK_EQ (nf_req (WC_EP, "GET", path, NULL, &j), 200);
    CHECK (json_array_size (json_object_get (j, "events")) == 1 &&
           nf_int (j, "index") == s_first);
    json_decref (j);
    /* a key, a delete, a txn's events with one index */
    CHECK_EQ (nf_req (WC_EP, "DELETE", "/kv/delete", "{\"key\":\"lp/a\"}", &j),
              200);
    int64_t del = nf_int (j, "index");
    json_decref (j);
    CHECK_EQ (nf_req (WC_EP, "POST", "/kv/txn",
                      "{\"success\":[{\"put\":{\"key\":\"lp/t1\",\"value\":"
                      "\"a\"}},{\"get\":{\"key\":\"lp/b\"}},{\"put\":{\"key\":"
                      "\"lp/t2\",\"value\":\"b\"}}]}",
                      &j),
              200);
    int64_t txn = nf_int (j, "index");
    json_decref (j);
    snprintf (path, sizeof path, "/kv/watch?prefix=lp/&from_index=%lld",
              (long long)(del - 1));
    CHECK_EQ (nf_req (WC_EP, "GET", path, NULL, &j), 200);
    ev = json_object_get (j, "events");
    CHECK_EQ (json_array_size (ev), 3);
    e0 = json_array_get (ev, 0);
    CHECK (strcmp (nf_str (e0, "type"), "delete") == 0 &&
           !json_object_get (e0, "value") && nf_int (e0, "index") == del &&
           nf_int (e0, "version") == 0 &&
           nf_int (e0, "prev_mod_index") == s_first);
    CHECK (nf_int (json_array_get (ev, 1), "index") == txn &&
           nf_int (json_array_get (ev, 2), "index") == txn &&
           strcmp (nf_str (json_array_get (ev, 2), "key"), "lp/t2") == 0);
    json_decref (j);
}

static void
test_long_poll_waits (void)
{
    /* default from_index: only what comes next */
    wc_poll_t p = {.path = "/kv/watch?key=wait/k&timeout_ms=5000"};
    pthread_t t;
    pthread_create (&t, NULL, wc_poll, &p);
    zclock_sleep (300);
    int64_t idx = wc_put ("wait/k", "v");
    pthread_join (t, NULL);
    CHECK_EQ (p.status, 200);
    json_t *ev = json_object_get (p.j, "events");
    CHECK (json_array_size (ev) == 1 &&
           nf_int (json_array_get (ev, 0), "index") == idx &&
           nf_int (p.j, "index") == idx);
    CHECK (p.took >= 250 && p.took < 3000);
    json_decref (p.j);
    /* times out: none, and the index it covered */
    json_t *j;
    int64_t t0 = wc_mono_ms ();
    CHECK_EQ (
        nf_req (WC_EP, "GET", "/kv/watch?key=never&timeout_ms=400", NULL, &j),
        200);
    int64_t took = wc_mono_ms () - t0;
    CHECK (json_array_size (json_object_get (j, "events")) == 0 &&
           nf_int (j, "index") >= idx);
    CHECK (took >= 380 && took < 3000);
    json_decref (j);
}

static void
test_sse (void)
{
    json_t *j;
    CHECK_EQ (
        nf_req (WC_EP, "GET", "/kv/watch?key=sse/k&timeout_ms=0", NULL, &j),
        200);
    int64_t from = nf_int (j, "index");
    json_decref (j);
    char path[160];
    snprintf (path, sizeof path, "/kv/watch?prefix=sse/&from_index=%lld",
              (long long)from);
    int fd = wc_open (path, "Accept: text/event-stream\r\n");
    CHECK (fd >= 0);
    char buf[8192];
    wc_read_until (fd, buf, sizeof buf, "\n\n", 1, wc_mono_ms () + 3000);
    CHECK (strstr (buf, "HTTP/1.1 200") == buf &&
           strstr (buf, "Content-Type: text/event-stream\r\n"));
    int64_t i1 = wc_put ("sse/k", "one");
    CHECK_EQ (nf_req (WC_EP, "POST", "/kv/txn",
                      "{\"success\":[{\"put\":{\"key\":\"sse/x\",\"value\":"
                      "\"a\"}},{\"delete\":{\"key\":\"sse/k\"}}]}",
                      &j),
              200);
    int64_t i2 = nf_int (j, "index");
    json_decref (j);
    wc_read_until (fd, buf, sizeof buf, "event: ", 3, wc_mono_ms () + 3000);
    close (fd);
    char want[512];
    snprintf (want, sizeof want,
              "event: put\ndata: {\"type\": \"put\", \"key\": \"sse/k\", "
              "\"value\": \"one\", \"index\": %lld, \"create_index\": %lld, "
              "\"mod_index\": %lld, \"version\": 1}\nid: %lld\n\n",
              (long long)i1, (long long)i1, (long long)i1, (long long)i1);
    CHECK (strstr (buf, want) != NULL);
    /* the txn: its first event has no id, its last one has */
    snprintf (want, sizeof want, "\"version\": 1}\n\nevent: delete\n");
    CHECK (strstr (buf, want) != NULL);
    snprintf (want, sizeof want, "\"prev_mod_index\": %lld}\nid: %lld\n\n",
              (long long)i1, (long long)i2);
    CHECK (strstr (buf, want) != NULL);
    if (check_failures ())
        fprintf (stderr, "  stream: %s\n", buf);
    /* Last-Event-ID (an EventSource reconnecting) wins over from_index:
       only the txn's events */
    char hdr[64];
    snprintf (hdr, sizeof hdr, "Last-Event-ID: %lld\r\n", (long long)i1);
    fd = wc_open (path, hdr);
    wc_read_until (fd, buf, sizeof buf, "event: ", 2, wc_mono_ms () + 3000);
    close (fd);
    CHECK (strstr (buf, "\"key\": \"sse/x\"") &&
           !strstr (buf, "\"value\": \"one\""));
    /* stream=true works without the Accept header */
    snprintf (path, sizeof path,
              "/kv/watch?prefix=sse/&from_index=%lld&stream=true",
              (long long)i1);
    fd = wc_open (path, NULL);
    wc_read_until (fd, buf, sizeof buf, "event: ", 2, wc_mono_ms () + 3000);
    close (fd);
    CHECK (strstr (buf, "text/event-stream") && strstr (buf, "sse/x"));
}

static void
test_compacted (void)
{
    CHECK (wc_slots_free ()); /* test_sse's streams are closed */
    /* the history holds 20 events: 25 more writes push this one out */
    int64_t old = wc_put ("gone/k", "v");
    int64_t last = 0;
    for (int i = 0; i < 25; i++)
        last = wc_put ("fill", "v");
    char path[160];
    snprintf (path, sizeof path, "/kv/watch?key=gone/k&from_index=%lld",
              (long long)(old - 1));
    json_t *j;
    CHECK_EQ (nf_req (WC_EP, "GET", path, NULL, &j), 410);
    CHECK (strcmp (nf_str (j, "error"), "compacted") == 0 &&
           nf_int (j, "oldest_index") > old && nf_int (j, "index") >= last);
    int64_t oldest = nf_int (j, "oldest_index");
    json_decref (j);
    /* at oldest_index - 1 it is served */
    snprintf (path, sizeof path, "/kv/watch?prefix=&from_index=%lld",
              (long long)(oldest - 1));
    CHECK_EQ (nf_req (WC_EP, "GET", path, NULL, &j), 200);
    CHECK (nf_int (json_array_get (json_object_get (j, "events"), 0),
                   "index") == oldest);
    json_decref (j);
    /* a stream that starts too far back: a plain 410 */
    snprintf (path, sizeof path, "/kv/watch?key=gone/k&from_index=1");
    int fd = wc_open (path, "Accept: text/event-stream\r\n");
    char buf[4096];
    wc_read_until (fd, buf, sizeof buf, NULL, 0, wc_mono_ms () + 2000);
    close (fd);
    CHECK (strstr (buf, "HTTP/1.1 410") == buf &&
           strstr (buf, "\"compacted\""));
}

static void
test_busy (void)
{
    CHECK (wc_slots_free ());
    /* 8 workers: 2 watch slots */
    wc_poll_t p[2] = {{.path = "/kv/watch?key=busy&timeout_ms=1500"},
                      {.path = "/kv/watch?key=busy&timeout_ms=1500"}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create (&t[i], NULL, wc_poll, &p[i]);
    zclock_sleep (300);
    int fd = wc_open ("/kv/watch?key=busy&timeout_ms=1000", NULL);
    char buf[4096];
    wc_read_until (fd, buf, sizeof buf, NULL, 0, wc_mono_ms () + 2000);
    close (fd);
    CHECK (strstr (buf, "HTTP/1.1 503") == buf &&
           strstr (buf, "Retry-After: 1\r\n") && strstr (buf, "\"busy\""));
    /* the rest is served meanwhile */
    json_t *j;
    CHECK_EQ (nf_req (WC_EP, "GET", "/health", NULL, &j), 200);
    json_decref (j);
    for (int i = 0; i < 2; i++) {
        pthread_join (t[i], NULL);
        CHECK_EQ (p[i].status, 200);
        json_decref (p[i].j);
    }
    /* slots come back */
    CHECK_EQ (
        nf_req (WC_EP, "GET", "/kv/watch?key=busy&timeout_ms=0", NULL, &j),
        200);
    json_decref (j);
}

static void
test_bad_requests (void)
{
    const char *bad[] = {
        "/kv/watch",
        "/kv/watch?key=a&prefix=b",
        "/kv/watch?key=",
        "/kv/watch?key=a&from_index=x",
        "/kv/watch?key=a&from_index=-1",
        "/kv/watch?key=a&timeout_ms=120001",
        "/kv/watch?key=a&limit=0",
        "/kv/watch?key=a&limit=1001",
        "/kv/watch?key=a&stream=maybe",
        "/kv/watch?key=%ff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j;
        int st = nf_req (WC_EP, "GET", bad[i], NULL, &j);
        CHECK_EQ (st, 400);
        CHECK (strcmp (nf_str (j, "error"), "bad_request") == 0 &&
               *nf_str (j, "detail"));
        if (st != 400)
            fprintf (stderr, "  %s: %d\n", bad[i], st);
        json_decref (j);
    }
    json_t *j;
    CHECK_EQ (nf_req (WC_EP, "GET",
                      "/kv/watch?key=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                      "&timeout_ms=0",
                      NULL, &j),
              200); /* 8 KiB keys by default: long is fine */
    json_decref (j);
    int fd = wc_open ("/kv/watch?key=a", "Last-Event-ID: nope\r\n");
    char buf[4096];
    wc_read_until (fd, buf, sizeof buf, NULL, 0, wc_mono_ms () + 2000);
    close (fd);
    CHECK (strstr (buf, "HTTP/1.1 400") == buf &&
           strstr (buf, "Last-Event-ID"));
    CHECK_EQ (nf_req (WC_EP, "POST", "/kv/watch?key=a", "", &j), 405);
    json_decref (j);
}

/* A client that never reads: its stream's writes stall, the node goes on
   at full speed, and within S_WRITE_MS (5 s) the stalled write is cut and
   the slot comes back. */
static void
test_slow_reader (void)
{
    CHECK (wc_slots_free ());
    json_t *j;
    CHECK_EQ (
        nf_req (WC_EP, "GET", "/kv/watch?key=slow&timeout_ms=0", NULL, &j),
        200);
    char path[128];
    snprintf (path, sizeof path,
              "/kv/watch?key=slow&stream=true&from_index=%lld",
              (long long)nf_int (j, "index"));
    json_decref (j);
    int fds[2];
    for (int i = 0; i < 2; i++) {
        fds[i] = socket (AF_INET, SOCK_STREAM, 0);
        int small = 4096;
        setsockopt (fds[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons (WC_PORT)};
        inet_pton (AF_INET, WC_HOST, &a.sin_addr);
        CHECK (connect (fds[i], (struct sockaddr *)&a, sizeof a) == 0);
        char req[256];
        int n = snprintf (req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
                          path);
        CHECK (write (fds[i], req, (size_t)n) == n);
    }
    zclock_sleep (200);
    size_t vlen = 256 << 10;
    char *body = malloc (vlen + 64);
    int off = snprintf (body, 64, "{\"key\":\"slow\",\"value\":\"");
    memset (body + off, 'x', vlen);
    strcpy (body + off + vlen, "\"}");
    int64_t worst = 0;
    for (int i = 0; i < 40; i++) {
        int64_t t0 = wc_mono_ms ();
        CHECK_EQ (nf_req (WC_EP, "POST", "/kv/put", body, NULL), 200);
        int64_t took = wc_mono_ms () - t0;
        worst = took > worst ? took : worst;
    }
    free (body);
    printf ("  40 PUTs of 256 KiB past 2 stalled streams: worst %lld ms\n",
            (long long)worst);
    CHECK (worst < 1500);
    /* the stalled writes are cut: both slots come back (bounded) */
    int64_t t0 = wc_mono_ms ();
    bool freed = false;
    while (!freed && wc_mono_ms () - t0 < 12000) {
        int st = nf_req (WC_EP, "GET", "/kv/watch?key=probe&timeout_ms=0", NULL,
                         NULL);
        freed = st == 200;
        if (!freed)
            zclock_sleep (100);
    }
    printf ("  slots back after %lld ms\n", (long long)(wc_mono_ms () - t0));
    CHECK (freed);
    for (int i = 0; i < 2; i++)
        close (fds[i]);
}

static void
test_stop_with_watches (void)
{
    /* a long poll and a stream open: the stop must not wait for them */
    wc_poll_t p = {.path = "/kv/watch?key=stop&timeout_ms=60000"};
    pthread_t t;
    pthread_create (&t, NULL, wc_poll, &p);
    int fd = wc_open ("/kv/watch?key=stop&stream=true", NULL);
    zclock_sleep (300);
    int64_t t0 = wc_mono_ms ();
    node_stop (&wc_node);
    int64_t took = wc_mono_ms () - t0;
    pthread_join (t, NULL);
    close (fd);
    CHECK (wc_node == NULL);
    CHECK (took < 5000);
    CHECK (p.took < 10000);
    json_decref (p.j);
    printf ("  stop with 2 watches open: %lld ms\n", (long long)took);
}

int
main (void)
{
    check_watchdog ("test_http_watch", 90);
    const char *dir = fixture_tmpdir ("http-watch");
    CHECK (dir && wc_start (dir) == 0);
    if (!wc_node)
        return check_report ();
    bool leads = false;
    for (int i = 0; i < 100 && !leads; i++) {
        leads = wc_put ("w", "") > 0;
        if (!leads)
            zclock_sleep (50);
    }
    CHECK (leads);
    check_run ("long poll: at once, limit, delete, txn",
               test_long_poll_at_once);
    check_run ("long poll: waits, times out", test_long_poll_waits);
    check_run ("server-sent events, Last-Event-ID", test_sse);
    check_run ("410 compacted", test_compacted);
    check_run ("503 busy past the slots", test_busy);
    check_run ("400 bad parameters, 405", test_bad_requests);
    check_run ("a reader that never reads is cut off", test_slow_reader);
    check_run ("the stop does not wait for watches", test_stop_with_watches);
    node_stop (&wc_node);
    fixture_tmpdir_remove ();
    return check_report ();
}
