/*  test_http_txn.c -- the state machine's HTTP API on a real node (issue
    15): versions in GET and write replies, the compare shorthands of PUT
    and DELETE (prev_value, prev_index, prev_exist) and their 412, POST
    /kv/txn (both branches, gets after puts, atomicity), a lock among
    clients built from them, GET /kv/range (prefix, start/end, pages and
    their token, keys_only, stale), and every 400/413.

    One node, a cluster of one (it elects itself), started from flags as
    nsxd's main does, on a temporary directory. Ports, fixed: HTTP
    127.0.0.1:5140, peer tcp://127.0.0.1:5240, monitor 5340. Bounded: the
    watchdog ends a stuck run; every request has a 3 s timeout.
*/
#include "check.h"
#include "client.h"
#include "fixture.h"
#include "kvsm.h"
#include "node.h"
#include "nsxd_config.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_EP "127.0.0.1:5140"

static node_t *s_node;

static int
s_start (const char *dir)
{
    char data[300];
    snprintf (data, sizeof data, "%s/n1", dir);
    char *argv[] = {"nsxd",
                    "--id",
                    "1",
                    "--http-listen",
                    S_EP,
                    "--peer-listen",
                    "tcp://127.0.0.1:5240",
                    "--monitor-listen",
                    "tcp://127.0.0.1:5340",
                    "--cluster",
                    "1=tcp://127.0.0.1:5240@" S_EP,
                    "--data-dir",
                    data,
                    "--insecure-peers",
                    "--max-key",
                    "16",
                    "--max-value",
                    "32",
                    "--election-ms",
                    "200",
                    "--heartbeat-ms",
                    "40",
                    NULL};
    int argc = (int)(sizeof argv / sizeof argv[0]) - 1;
    nsxd_config_t c;
    optind = 0;
    if (nsxd_config_parse (argc, argv, &c) != 0)
        return 2;
    raft_conf_t boot;
    if (nsxd_config_cluster (c.cluster, &boot) != 0)
        return 2;
    return node_start (&c, &boot, &s_node);
}

/* One request: its status, and its body as JSON in *j (NULL if none). */
static int
s_req (const char *method, const char *path, const char *body, json_t **j)
{
    http_client_opts_t opts = {0};
    http_client_resp_t r =
        http_client_request (&opts, S_EP, method, path, body, 3000);
    if (j)
        *j = r.body ? json_loads (r.body, 0, NULL) : NULL;
    int st = r.status;
    http_client_resp_free (&r);
    return st;
}

static int64_t
s_int (json_t *j, const char *k)
{
    json_t *v = json_object_get (j, k);
    return json_is_integer (v) ? json_integer_value (v) : -1;
}

static bool
s_str_is (json_t *j, const char *k, const char *want)
{
    const char *v = json_string_value (json_object_get (j, k));
    return v && strcmp (v, want) == 0;
}

/* Wait (bounded) until the node leads: a PUT answers 200. */
static bool
s_wait_leader (void)
{
    for (int i = 0; i < 100; i++) {
        json_t *j;
        int st =
            s_req ("POST", "/kv/put", "{\"key\":\"w\",\"value\":\"\"}", &j);
        json_decref (j);
        if (st == 200)
            return true;
        zclock_sleep (50);
    }
    return false;
}

static void
test_versions (void)
{
    json_t *j;
    CHECK_EQ (s_req ("POST", "/kv/put", "{\"key\":\"a\",\"value\":\"1\"}", &j),
              200);
    int64_t i1 = s_int (j, "index");
    CHECK (json_is_true (json_object_get (j, "ok")) &&
           json_is_true (json_object_get (j, "created")) &&
           s_int (j, "create_index") == i1 && s_int (j, "mod_index") == i1 &&
           s_int (j, "version") == 1);
    json_decref (j);
    CHECK_EQ (s_req ("POST", "/kv/put", "{\"key\":\"a\",\"value\":\"2\"}", &j),
              200);
    int64_t i2 = s_int (j, "index");
    CHECK (json_is_false (json_object_get (j, "created")) &&
           s_int (j, "create_index") == i1 && s_int (j, "mod_index") == i2 &&
           s_int (j, "version") == 2);
    json_decref (j);
    CHECK_EQ (s_req ("GET", "/kv/get?key=a", NULL, &j), 200);
    CHECK (s_str_is (j, "value", "2") && s_int (j, "create_index") == i1 &&
           s_int (j, "mod_index") == i2 && s_int (j, "version") == 2);
    json_decref (j);
    CHECK_EQ (s_req ("GET", "/kv/get?key=a&stale=true", NULL, &j), 200);
    CHECK (s_int (j, "version") == 2 &&
           json_is_true (json_object_get (j, "stale")));
    json_decref (j);
    CHECK_EQ (s_req ("DELETE", "/kv/delete", "{\"key\":\"a\"}", &j), 200);
    CHECK (json_is_true (json_object_get (j, "deleted")) &&
           s_int (j, "prev_mod_index") == i2);
    json_decref (j);
    CHECK_EQ (s_req ("DELETE", "/kv/delete", "{\"key\":\"a\"}", &j), 200);
    CHECK (json_is_false (json_object_get (j, "deleted")) &&
           !json_object_get (j, "prev_mod_index"));
    json_decref (j);
    CHECK_EQ (s_req ("GET", "/kv/get?key=a", NULL, &j), 404);
    CHECK (s_str_is (j, "error", "not_found"));
    json_decref (j);
    /* re-created: version 1 again, a new create_index */
    CHECK_EQ (s_req ("POST", "/kv/put", "{\"key\":\"a\",\"value\":\"3\"}", &j),
              200);
    CHECK (s_int (j, "version") == 1 && s_int (j, "create_index") > i2);
    json_decref (j);
}

static void
test_shorthands (void)
{
    json_t *j;
    CHECK_EQ (s_req ("POST", "/kv/put", "{\"key\":\"s\",\"value\":\"x\"}", &j),
              200);
    int64_t mod = s_int (j, "mod_index");
    json_decref (j);
    /* a wrong prev_value: 412 with the record as it is, nothing changed */
    CHECK_EQ (s_req ("POST", "/kv/put",
                     "{\"key\":\"s\",\"value\":\"y\",\"prev_value\":\"z\"}",
                     &j),
              412);
    json_t *cur = json_object_get (j, "current");
    CHECK (s_str_is (j, "error", "compare_failed") &&
           s_str_is (j, "key", "s") && s_int (j, "index") > mod &&
           s_str_is (cur, "value", "x") && s_int (cur, "mod_index") == mod &&
           s_int (cur, "version") == 1);
    json_decref (j);
    /* the right prev_value and prev_index: done */
    char body[160];
    snprintf (body, sizeof body,
              "{\"key\":\"s\",\"value\":\"y\",\"prev_value\":\"x\","
              "\"prev_index\":%lld}",
              (long long)mod);
    CHECK_EQ (s_req ("POST", "/kv/put", body, &j), 200);
    CHECK (s_int (j, "version") == 2);
    json_decref (j);
    /* the same prev_index again: stale now */
    CHECK_EQ (s_req ("POST", "/kv/put", body, &j), 412);
    json_decref (j);
    /* prev_exist */
    CHECK_EQ (s_req ("POST", "/kv/put",
                     "{\"key\":\"s\",\"value\":\"z\",\"prev_exist\":false}",
                     &j),
              412);
    json_decref (j);
    CHECK_EQ (s_req ("DELETE", "/kv/delete",
                     "{\"key\":\"nope\",\"prev_exist\":true}", &j),
              412);
    CHECK (json_is_null (json_object_get (j, "current")));
    json_decref (j);
    CHECK_EQ (s_req ("DELETE", "/kv/delete",
                     "{\"key\":\"s\",\"prev_value\":\"y\"}", &j),
              200);
    CHECK (json_is_true (json_object_get (j, "deleted")));
    json_decref (j);
}

/* A lock among clients: take it only if nobody holds it (version 0). */
static int
s_lock (const char *who, json_t **j)
{
    char body[512];
    snprintf (body, sizeof body,
              "{\"compare\":[{\"key\":\"lock\",\"target\":\"version\","
              "\"op\":\"==\",\"value\":0}],"
              "\"success\":[{\"put\":{\"key\":\"lock\",\"value\":\"%s\"}},"
              "{\"put\":{\"key\":\"log\",\"value\":\"%s\"}},"
              "{\"get\":{\"key\":\"lock\"}}],"
              "\"failure\":[{\"get\":{\"key\":\"lock\"}}]}",
              who, who);
    return s_req ("POST", "/kv/txn", body, j);
}

static void
test_txn (void)
{
    json_t *j;
    CHECK_EQ (s_lock ("alice", &j), 200);
    json_t *rs = json_object_get (j, "responses");
    CHECK (json_is_true (json_object_get (j, "succeeded")) &&
           json_array_size (rs) == 3);
    json_t *g = json_array_get (rs, 2);
    CHECK (s_str_is (g, "op", "get") &&
           json_is_true (json_object_get (g, "found")) &&
           s_str_is (g, "value", "alice") &&
           s_int (g, "create_index") == s_int (j, "index"));
    CHECK (s_str_is (json_array_get (rs, 0), "op", "put") &&
           json_is_true (json_object_get (json_array_get (rs, 0), "created")));
    json_decref (j);
    /* bob loses: the failure branch, and his puts did not happen */
    CHECK_EQ (s_lock ("bob", &j), 200);
    rs = json_object_get (j, "responses");
    CHECK (json_is_false (json_object_get (j, "succeeded")) &&
           json_array_size (rs) == 1 &&
           s_str_is (json_array_get (rs, 0), "value", "alice"));
    json_decref (j);
    CHECK_EQ (s_req ("GET", "/kv/get?key=log", NULL, &j), 200);
    CHECK (s_str_is (j, "value", "alice") && s_int (j, "version") == 1);
    json_decref (j);
    /* alice releases (only if she still holds it); bob then wins */
    CHECK_EQ (s_req ("POST", "/kv/txn",
                     "{\"compare\":[{\"key\":\"lock\",\"target\":\"value\","
                     "\"value\":\"alice\"}],\"success\":[{\"delete\":"
                     "{\"key\":\"lock\"}}]}",
                     &j),
              200);
    rs = json_object_get (j, "responses");
    CHECK (json_is_true (json_object_get (j, "succeeded")) &&
           json_is_true (json_object_get (json_array_get (rs, 0), "deleted")));
    json_decref (j);
    CHECK_EQ (s_lock ("bob", &j), 200);
    CHECK (json_is_true (json_object_get (j, "succeeded")));
    json_decref (j);
    /* a txn of gets alone still takes an index; every target and op */
    CHECK_EQ (s_req ("POST", "/kv/txn",
                     "{\"compare\":[{\"key\":\"lock\",\"target\":\"exists\","
                     "\"value\":true},{\"key\":\"lock\",\"target\":"
                     "\"create_index\",\"op\":\">\",\"value\":0},{\"key\":"
                     "\"lock\",\"target\":\"mod_index\",\"op\":\"<\",\"value\":"
                     "1000000},{\"key\":\"lock\",\"target\":\"value\",\"op\":"
                     "\"!=\",\"value\":\"alice\"}],\"success\":[{\"get\":"
                     "{\"key\":\"nobody\"}}]}",
                     &j),
              200);
    rs = json_object_get (j, "responses");
    CHECK (json_is_true (json_object_get (j, "succeeded")) &&
           s_int (j, "index") > 0 &&
           json_is_false (json_object_get (json_array_get (rs, 0), "found")));
    json_decref (j);
    /* empty lists: succeeded, no responses */
    CHECK_EQ (s_req ("POST", "/kv/txn", "{}", &j), 200);
    CHECK (json_is_true (json_object_get (j, "succeeded")) &&
           json_array_size (json_object_get (j, "responses")) == 0);
    json_decref (j);
}

/* Bad input: 400 or 413 with a detail, never a crash. */
static void
test_errors (void)
{
    struct {
        const char *method, *path, *body;
        int status;
    } cases[] = {
        {"POST", "/kv/put", "{\"key\":\"a\",\"value\":\"1\",\"prev_index\":-1}",
         400},
        {"POST", "/kv/put",
         "{\"key\":\"a\",\"value\":\"1\",\"prev_index\":\"1\"}", 400},
        {"POST", "/kv/put", "{\"key\":\"a\",\"value\":\"1\",\"prev_exist\":1}",
         400},
        {"POST", "/kv/put", "{\"key\":\"a\",\"value\":\"1\",\"prev_value\":2}",
         400},
        {"POST", "/kv/put",
         "{\"key\":\"a\",\"value\":\"1\",\"prev_value\":"
         "\"0123456789012345678901234567890123456789\"}",
         413},
        {"DELETE", "/kv/delete", "{\"key\":\"a\",\"prev_exist\":\"yes\"}", 400},
        {"POST", "/kv/txn", "[]", 400},
        {"POST", "/kv/txn", "{\"compare\":{}}", 400},
        {"POST", "/kv/txn",
         "{\"compare\":[{\"key\":\"a\",\"target\":\"x\",\"value\":1}]}", 400},
        {"POST", "/kv/txn",
         "{\"compare\":[{\"key\":\"a\",\"target\":\"version\",\"op\":\"<=\","
         "\"value\":1}]}",
         400},
        {"POST", "/kv/txn",
         "{\"compare\":[{\"key\":\"a\",\"target\":\"version\",\"value\":\"1\"}]"
         "}",
         400},
        {"POST", "/kv/txn",
         "{\"compare\":[{\"key\":\"a\",\"target\":\"exists\",\"value\":1}]}",
         400},
        {"POST", "/kv/txn",
         "{\"compare\":[{\"key\":\"a\",\"target\":\"value\"}]}", 400},
        {"POST", "/kv/txn",
         "{\"compare\":[{\"key\":\"\",\"target\":\"version\",\"value\":1}]}",
         400},
        {"POST", "/kv/txn", "{\"success\":[{\"put\":{\"key\":\"a\"}}]}", 400},
        {"POST", "/kv/txn", "{\"success\":[{\"bump\":{\"key\":\"a\"}}]}", 400},
        {"POST", "/kv/txn",
         "{\"success\":[{\"get\":{\"key\":\"a\"},\"put\":{}}]}", 400},
        {"POST", "/kv/txn", "{\"failure\":[{\"delete\":\"a\"}]}", 400},
        {"POST", "/kv/txn",
         "{\"success\":[{\"get\":{\"key\":\"01234567890123456789\"}}]}", 413},
        {"POST", "/kv/txn",
         "{\"success\":[{\"put\":{\"key\":\"a\",\"value\":"
         "\"0123456789012345678901234567890123456789\"}}]}",
         413},
        {"GET", "/kv/txn", NULL, 405},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j;
        int st = s_req (cases[i].method, cases[i].path, cases[i].body, &j);
        bool ok = st == cases[i].status &&
                  json_is_string (json_object_get (j, "error")) &&
                  (st == 405 || json_is_string (json_object_get (j, "detail")));
        if (!ok)
            fprintf (stderr, "     case %zu: %d\n", i, st);
        CHECK (ok);
        json_decref (j);
    }
    /* too many compares: 400 naming the bound */
    size_t cap = 200 + (KVSM_TXN_MAX_CMPS + 1) * 64;
    char *big = malloc (cap);
    size_t o = (size_t)snprintf (big, cap, "{\"compare\":[");
    for (int i = 0; i <= KVSM_TXN_MAX_CMPS; i++)
        o += (size_t)snprintf (big + o, cap - o,
                               "%s{\"key\":\"a\",\"target\":\"exists\","
                               "\"value\":true}",
                               i ? "," : "");
    snprintf (big + o, cap - o, "]}");
    json_t *j;
    CHECK_EQ (s_req ("POST", "/kv/txn", big, &j), 400);
    const char *d = json_string_value (json_object_get (j, "detail"));
    CHECK (d && strstr (d, "at most"));
    json_decref (j);
    free (big);
}

/* The key of kvs[i] of a range reply. */
static const char *
s_kv_key (json_t *j, size_t i)
{
    return json_string_value (json_object_get (
        json_array_get (json_object_get (j, "kvs"), i), "key"));
}

static void
test_range (void)
{
    const char *keys[] = {"r/a", "r/b", "r/c", "r/d", "r/e", "s"};
    for (size_t i = 0; i < 6; i++) {
        char body[96];
        snprintf (body, sizeof body, "{\"key\":\"%s\",\"value\":\"%zu\"}",
                  keys[i], i);
        CHECK_EQ (s_req ("POST", "/kv/put", body, NULL), 200);
    }
    json_t *j;
    CHECK_EQ (s_req ("GET", "/kv/range?prefix=r/", NULL, &j), 200);
    json_t *kv0 = json_array_get (json_object_get (j, "kvs"), 0);
    CHECK (s_int (j, "count") == 5 &&
           json_is_false (json_object_get (j, "more")) &&
           json_is_null (json_object_get (j, "continue")) &&
           s_int (j, "index") > 0 && s_str_is (kv0, "key", "r/a") &&
           s_str_is (kv0, "value", "0") && s_int (kv0, "version") == 1 &&
           s_int (kv0, "create_index") > 0);
    json_decref (j);
    /* pages of 2 through the token: every key once, in order */
    char path[160] = "/kv/range?prefix=r/&limit=2";
    const char *want[] = {"r/a", "r/b", "r/c", "r/d", "r/e"};
    size_t seen = 0;
    for (int page = 0; page < 5; page++) {
        CHECK_EQ (s_req ("GET", path, NULL, &j), 200);
        for (size_t i = 0; i < (size_t)s_int (j, "count") && seen < 5;
             i++, seen++) {
            const char *k = s_kv_key (j, i);
            CHECK (k && strcmp (k, want[seen]) == 0);
        }
        const char *t = json_string_value (json_object_get (j, "continue"));
        bool more = json_is_true (json_object_get (j, "more"));
        if (t)
            snprintf (path, sizeof path,
                      "/kv/range?prefix=r/&limit=2&continue=%s", t);
        json_decref (j);
        if (!more)
            break;
    }
    CHECK_EQ (seen, 5);
    /* start and end (end excluded), keys only, stale */
    CHECK_EQ (
        s_req ("GET", "/kv/range?start=r/b&end=r/d&keys_only=true", NULL, &j),
        200);
    CHECK (s_int (j, "count") == 2 && strcmp (s_kv_key (j, 0), "r/b") == 0 &&
           !json_object_get (json_array_get (json_object_get (j, "kvs"), 0),
                             "value"));
    json_decref (j);
    CHECK_EQ (s_req ("GET", "/kv/range?start=r/e&end=t&stale=true", NULL, &j),
              200);
    CHECK (s_int (j, "count") == 2 &&
           json_is_true (json_object_get (j, "stale")));
    json_decref (j);
    const char *bad[] = {"/kv/range",
                         "/kv/range?prefix=r/&start=a",
                         "/kv/range?prefix=r/&limit=0",
                         "/kv/range?prefix=r/&limit=1001",
                         "/kv/range?prefix=r/&limit=x",
                         "/kv/range?prefix=r/&keys_only=maybe",
                         "/kv/range?prefix=r/&continue=zz",
                         "/kv/range?prefix=r/&continue=00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ (s_req ("GET", bad[i], NULL, &j), 400);
        CHECK (json_is_string (json_object_get (j, "detail")));
        json_decref (j);
    }
    CHECK_EQ (s_req ("GET", "/kv/range?prefix=01234567890123456789", NULL, &j),
              413);
    json_decref (j);
}

int
main (void)
{
    check_watchdog ("test_http_txn", 60);
    const char *dir = fixture_tmpdir ("http-txn");
    CHECK (dir && s_start (dir) == 0);
    if (!s_node)
        return check_report ();
    CHECK (s_wait_leader ());
    check_run ("versions in replies and GET", test_versions);
    check_run ("prev_value, prev_index, prev_exist; 412", test_shorthands);
    check_run ("txn: a lock, both branches, gets after puts", test_txn);
    check_run ("bad input: 400, 413, 405", test_errors);
    check_run ("range: prefix, pages, start/end, keys_only", test_range);
    node_stop (&s_node);
    fixture_tmpdir_remove ();
    return check_report ();
}
