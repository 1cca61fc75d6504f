/*  test_monitor_client.c -- the subscriber behind `nsxctl trace`
    (http/trace_client.c): the merged timeline of two nodes, as text and as
    JSON lines, and an endpoint it cannot use.

    One line per test; the exit status is non-zero on any failure, and a
    watchdog ends a run that hangs after 30 s. Run it under ASan+UBSan:
    nothing may leak.
*/
#include "check.h"
#include "monitor_fixture.h"
#include "msg_trace.h"
#include "trace_client.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  ---------------------------------------------------------------------
    The merged timeline                                                  */

#define S_CLIENT_EVENTS 20 /* per node */

/* Plays both nodes' actors while the client runs: waits for the client's
   SUB to connect, then alternates between the nodes, 2 ms apart. */
static void
s_pusher (zsock_t *pipe, void *args)
{
    (void)args;
    zsock_t *p1 = monitor_push_new (mf_m1.endpoint);
    zsock_t *p2 = monitor_push_new (mf_m2.endpoint);
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
    const char *endpoints[] = {mf_m1.listen, mf_m2.listen};
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

int
main (void)
{
    mf_init ("test_monitor_client");
    mf_mons_start ();
    check_run ("trace client: merged timeline", test_client_text);
    check_run ("trace client: json", test_client_json);
    check_run ("trace client: bad endpoint", test_client_bad_endpoint);
    return mf_done ();
}
