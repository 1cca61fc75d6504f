/*  test_http_session.c -- client sessions over HTTP on a real node (§6.3,
    issue 15): POST /session/open and /session/close, the "session",
    "seq" and "ack" fields of PUT, DELETE and TXN, a duplicate answered
    with the first reply (body for body) and applied once, also a
    compare that failed, also after the node restarted; stale seqs, the
    window, expiry by the leader's stamps (a node restarted with
    --session-ttl-ms 1000), a closed session, and every 400, 405 and
    410.

    One node, a cluster of one, started from flags as nsxd's main does,
    on a temporary directory. Ports, fixed: HTTP 127.0.0.1:4110, peer
    tcp://127.0.0.1:4210, monitor 4310. Bounded: the watchdog ends a
    stuck run; every request has a 3 s timeout; waits are counted.
*/
#include "check.h"
#include "node_fixture.h"
#include "client.h"
#include "fixture.h"
#include "node.h"
#include "nsxd_config.h"

#include "msg_api.h"
#include "msg_store.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_EP "127.0.0.1:4110"

static node_t *s_node;
static char s_dir[300];

static int
s_start (const char *ttl_ms)
{
    const char *extra[] = {"--session-ttl-ms", ttl_ms, NULL};
    return nf_start (&s_node, 4110, s_dir, extra);
}

static int64_t
s_open (void)
{
    json_t *j;
    CHECK_EQ (nf_req (S_EP, "POST", "/session/open", "{}", &j), 200);
    int64_t id = nf_int (j, "session");
    CHECK (id >= 1 && id == nf_int (j, "index"));
    json_decref (j);
    return id;
}

/* The same request twice: the same status and body (the first reply). */
static void
s_twice (const char *method, const char *path, const char *body, int want)
{
    json_t *a, *b;
    CHECK_EQ (nf_req (S_EP, method, path, body, &a), want);
    CHECK_EQ (nf_req (S_EP, method, path, body, &b), want);
    CHECK (a && b && json_equal (a, b));
    json_decref (a);
    json_decref (b);
}

static int64_t s_sid; /* the main session */

static void
test_open_and_duplicates (void)
{
    json_t *j;
    CHECK_EQ (nf_req (S_EP, "POST", "/session/open", "", &j), 200);
    CHECK (nf_int (j, "ttl_ms") == 60000);
    s_sid = nf_int (j, "session");
    json_decref (j);
    char body[256];
    /* a put, then its retry: one write, the first reply */
    snprintf (body, sizeof body,
              "{\"key\":\"d\",\"value\":\"1\",\"session\":%lld,\"seq\":1}",
              (long long)s_sid);
    s_twice ("POST", "/kv/put", body, 200);
    CHECK_EQ (nf_req (S_EP, "GET", "/kv/get?key=d", NULL, &j), 200);
    CHECK (nf_int (j, "version") == 1 && nf_str_is (j, "value", "1"));
    json_decref (j);
    /* the retry carries another value: still the first reply, not
       applied */
    snprintf (body, sizeof body,
              "{\"key\":\"d\",\"value\":\"2\",\"session\":%lld,\"seq\":1}",
              (long long)s_sid);
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/put", body, &j), 200);
    CHECK (nf_int (j, "version") == 1 &&
           nf_int (j, "mod_index") == nf_int (j, "index"));
    json_decref (j);
    /* a delete with a compare that fails: the same 412 twice */
    snprintf (body, sizeof body,
              "{\"key\":\"d\",\"prev_value\":\"no\",\"session\":%lld,"
              "\"seq\":2,\"ack\":1}",
              (long long)s_sid);
    s_twice ("DELETE", "/kv/delete", body, 412);
    /* a delete: deleted once; the retry says deleted too (the first
       reply), not "not found" */
    snprintf (body, sizeof body,
              "{\"key\":\"d\",\"session\":%lld,\"seq\":3,\"ack\":2}",
              (long long)s_sid);
    s_twice ("DELETE", "/kv/delete", body, 200);
    CHECK_EQ (nf_req (S_EP, "DELETE", "/kv/delete", body, &j), 200);
    CHECK (json_is_true (json_object_get (j, "deleted")));
    json_decref (j);
    /* a txn */
    snprintf (body, sizeof body,
              "{\"success\":[{\"put\":{\"key\":\"t\",\"value\":\"x\"}}],"
              "\"session\":%lld,\"seq\":4,\"ack\":3}",
              (long long)s_sid);
    s_twice ("POST", "/kv/txn", body, 200);
    CHECK_EQ (nf_req (S_EP, "GET", "/kv/get?key=t", NULL, &j), 200);
    CHECK (nf_int (j, "version") == 1);
    json_decref (j);
}

static void
test_ack_window (void)
{
    json_t *j;
    char body[256];
    /* ack 4 dropped seq 1..4: a retry of 4 now is stale */
    snprintf (body, sizeof body,
              "{\"key\":\"a\",\"value\":\"1\",\"session\":%lld,\"seq\":5,"
              "\"ack\":4}",
              (long long)s_sid);
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/put", body, &j), 200);
    json_decref (j);
    snprintf (body, sizeof body,
              "{\"success\":[],\"session\":%lld,\"seq\":4,\"ack\":3}",
              (long long)s_sid);
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/txn", body, &j), 400);
    CHECK (nf_str_is (j, "error", "stale_seq") && nf_int (j, "index") > 0);
    json_decref (j);
    /* 64 kept above ack 4: seq 68 fits, 69 does not */
    snprintf (body, sizeof body,
              "{\"key\":\"a\",\"value\":\"1\",\"session\":%lld,\"seq\":69,"
              "\"ack\":4}",
              (long long)s_sid);
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/put", body, &j), 429);
    CHECK (nf_str_is (j, "error", "session_window_full"));
    json_decref (j);
    snprintf (body, sizeof body,
              "{\"key\":\"a\",\"value\":\"2\",\"session\":%lld,\"seq\":68,"
              "\"ack\":4}",
              (long long)s_sid);
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/put", body, &j), 200);
    CHECK (nf_int (j, "version") == 2);
    json_decref (j);
}

static void
test_errors (void)
{
    static const struct {
        const char *method, *path, *body;
        int status;
        const char *error;
    } cases[] = {
        {"POST", "/kv/put", "{\"key\":\"a\",\"value\":\"1\",\"seq\":1}", 400,
         "bad_request"},
        {"POST", "/kv/put", "{\"key\":\"a\",\"value\":\"1\",\"ack\":1}", 400,
         "bad_request"},
        {"POST", "/kv/put", "{\"key\":\"a\",\"value\":\"1\",\"session\":1}",
         400, "bad_request"},
        {"POST", "/kv/put",
         "{\"key\":\"a\",\"value\":\"1\",\"session\":0,\"seq\":1}", 400,
         "bad_request"},
        {"POST", "/kv/put",
         "{\"key\":\"a\",\"value\":\"1\",\"session\":\"1\",\"seq\":1}", 400,
         "bad_request"},
        {"POST", "/kv/put",
         "{\"key\":\"a\",\"value\":\"1\",\"session\":1,\"seq\":0}", 400,
         "bad_request"},
        {"POST", "/kv/put",
         "{\"key\":\"a\",\"value\":\"1\",\"session\":1,\"seq\":2,\"ack\":2}",
         400, "bad_request"},
        {"POST", "/kv/put",
         "{\"key\":\"a\",\"value\":\"1\",\"session\":1,\"seq\":2,\"ack\":-1}",
         400, "bad_request"},
        {"POST", "/kv/put",
         "{\"key\":\"a\",\"value\":\"1\",\"session\":999999,\"seq\":1}", 410,
         "session_expired"},
        {"DELETE", "/kv/delete", "{\"key\":\"a\",\"session\":999999,\"seq\":1}",
         410, "session_expired"},
        {"POST", "/kv/txn", "{\"success\":[],\"session\":999999,\"seq\":1}",
         410, "session_expired"},
        {"POST", "/session/close", "{\"session\":999999}", 410,
         "session_expired"},
        {"POST", "/session/close", "{}", 400, "bad_request"},
        {"POST", "/session/close", "{\"session\":true}", 400, "bad_request"},
        {"POST", "/session/close", "[1]", 400, "bad_request"},
        {"POST", "/session/open", "{\"ttl_ms\":5}", 400, "bad_request"},
        {"POST", "/session/open", "{", 400, "bad_request"},
        {"GET", "/session/open", NULL, 405, "method_not_allowed"},
        {"GET", "/session/close", NULL, 405, "method_not_allowed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j;
        int st =
            nf_req (S_EP, cases[i].method, cases[i].path, cases[i].body, &j);
        if (st != cases[i].status || !nf_str_is (j, "error", cases[i].error))
            fprintf (stderr, "case %zu: %s %s %s: %d\n", i, cases[i].method,
                     cases[i].path, cases[i].body ? cases[i].body : "", st);
        CHECK_EQ (st, cases[i].status);
        CHECK (nf_str_is (j, "error", cases[i].error));
        json_decref (j);
    }
    /* nothing of these was applied: "a" is as test_ack_window left it */
    json_t *j;
    CHECK_EQ (nf_req (S_EP, "GET", "/kv/get?key=a", NULL, &j), 200);
    CHECK (nf_int (j, "version") == 2);
    json_decref (j);
}

static void
test_restart (void)
{
    json_t *first, *again;
    char body[256];
    snprintf (body, sizeof body,
              "{\"key\":\"r\",\"value\":\"1\",\"session\":%lld,\"seq\":70,"
              "\"ack\":68}",
              (long long)s_sid);
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/put", body, &first), 200);
    node_stop (&s_node);
    CHECK (s_start ("60000") == 0 && s_node);
    if (!s_node)
        return;
    CHECK (nf_wait_leader (S_EP));
    /* the retry after the restart: the first reply, from LevelDB */
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/put", body, &again), 200);
    CHECK (first && again && json_equal (first, again));
    json_decref (first);
    json_decref (again);
    CHECK_EQ (nf_req (S_EP, "GET", "/kv/get?key=r", NULL, &again), 200);
    CHECK (nf_int (again, "version") == 1);
    json_decref (again);
}

static void
test_close (void)
{
    int64_t sid = s_open ();
    char body[256];
    json_t *j;
    snprintf (body, sizeof body, "{\"session\":%lld}", (long long)sid);
    CHECK_EQ (nf_req (S_EP, "POST", "/session/close", body, &j), 200);
    CHECK (json_is_true (json_object_get (j, "ok")) &&
           nf_int (j, "session") == sid);
    json_decref (j);
    snprintf (body, sizeof body,
              "{\"key\":\"c\",\"value\":\"1\",\"session\":%lld,\"seq\":1}",
              (long long)sid);
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/put", body, &j), 410);
    json_decref (j);
    CHECK_EQ (nf_req (S_EP, "GET", "/kv/get?key=c", NULL, &j), 404);
    json_decref (j);
}

/* A session command is stamped by the leader that proposes it, whatever
   stamp it came with (a forwarded write carries its follower's): one
   stamp a month ahead would otherwise move the table's clock a month and
   expire the session it names at once. Sent as the HTTP workers send
   commands, straight to the raft actor's API socket. */
static void
test_leader_stamps (void)
{
    int64_t sid = s_open ();
    kvsm_cmd_t cmd = {.op = KVSM_PUT,
                      .key = raft_buf_new ("stamp", 5),
                      .value = raft_buf_new ("1", 1),
                      .has_session = true,
                      .session = (uint64_t)sid,
                      .seq = 1,
                      .stamp_ms =
                          (uint64_t)zclock_time () + 30ULL * 24 * 3600 * 1000};
    raft_buf_t *data = msg_kv_encode (&cmd);
    kvsm_cmd_clear (&cmd);
    CHECK (data != NULL);
    zsock_t *d = zsock_new_dealer (node_api_endpoint (s_node));
    CHECK (d != NULL);
    if (!data || !d) {
        raft_buf_unref (data);
        zsock_destroy (&d);
        return;
    }
    zsock_set_rcvtimeo (d, 3000);
    msg_api_req_t req = {.req_id = 7, .op = MSG_API_CMD, .value = data};
    zmsg_t *zm = msg_api_req_encode (&req);
    raft_buf_unref (data);
    CHECK (zm && zmsg_send (&zm, d) == 0);
    zmsg_t *in = zmsg_recv (d);
    msg_api_rep_t rep;
    CHECK (in && msg_api_rep_decode (in, &rep) == 0);
    if (in && rep.req_id == 7)
        CHECK_EQ ((int)rep.status, 200);
    if (in)
        msg_api_rep_clear (&rep);
    zmsg_destroy (&in);
    zsock_destroy (&d);
    /* the session lives on: the clock moved to the leader's now */
    char body[256];
    json_t *j;
    snprintf (body, sizeof body,
              "{\"key\":\"stamp\",\"value\":\"2\",\"session\":%lld,"
              "\"seq\":2,\"ack\":1}",
              (long long)sid);
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/put", body, &j), 200);
    json_decref (j);
}

static void
test_expiry (void)
{
    node_stop (&s_node);
    CHECK (s_start ("1000") == 0 && s_node);
    if (!s_node)
        return;
    CHECK (nf_wait_leader (S_EP));
    int64_t sid = s_open ();
    char body[256];
    json_t *j;
    snprintf (body, sizeof body,
              "{\"key\":\"e\",\"value\":\"1\",\"session\":%lld,\"seq\":1}",
              (long long)sid);
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/put", body, &j), 200);
    CHECK (nf_int (j, "version") == 1);
    json_decref (j);
    /* idle past the TTL; nothing expires until a stamped entry applies,
       and then the retry is refused, not applied */
    zclock_sleep (1300);
    snprintf (body, sizeof body,
              "{\"key\":\"e\",\"value\":\"1\",\"session\":%lld,\"seq\":2,"
              "\"ack\":1}",
              (long long)sid);
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/put", body, &j), 410);
    CHECK (nf_str_is (j, "error", "session_expired"));
    json_decref (j);
    CHECK_EQ (nf_req (S_EP, "GET", "/kv/get?key=e", NULL, &j), 200);
    CHECK (nf_int (j, "version") == 1);
    json_decref (j);
    /* the first session keeps the TTL its register command carried (60 s,
       not this leader's 1 s): still open */
    snprintf (body, sizeof body,
              "{\"success\":[],\"session\":%lld,\"seq\":71,\"ack\":70}",
              (long long)s_sid);
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/txn", body, &j), 200);
    json_decref (j);
}

int
main (void)
{
    check_watchdog ("test_http_session", 60);
    const char *dir = fixture_tmpdir ("http-session");
    if (dir)
        snprintf (s_dir, sizeof s_dir, "%s", dir);
    CHECK (dir && s_start ("60000") == 0);
    if (!s_node)
        return check_report ();
    CHECK (nf_wait_leader (S_EP));
    check_run ("open; duplicates get the first reply, applied once",
               test_open_and_duplicates);
    check_run ("ack drops replies; the window", test_ack_window);
    check_run ("bad input: 400, 405, 410; nothing applied", test_errors);
    check_run ("a duplicate after a restart", test_restart);
    check_run ("close", test_close);
    check_run ("the leader stamps session commands", test_leader_stamps);
    check_run ("expiry by the leader's stamps", test_expiry);
    node_stop (&s_node);
    fixture_tmpdir_remove ();
    return check_report ();
}
