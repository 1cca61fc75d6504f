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
#include "node_fixture.h"
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
    const char *extra[] = {"--max-key", "16", "--max-value", "32", NULL};
    return nf_start (&s_node, 5140, dir, extra);
}

static void
test_versions (void)
{
    json_t *j;
    CHECK_EQ (
        nf_req (S_EP, "POST", "/kv/put", "{\"key\":\"a\",\"value\":\"1\"}", &j),
        200);
    int64_t i1 = nf_int (j, "index");
    CHECK (json_is_true (json_object_get (j, "ok")) &&
           json_is_true (json_object_get (j, "created")) &&
           nf_int (j, "create_index") == i1 && nf_int (j, "mod_index") == i1 &&
           nf_int (j, "version") == 1);
    json_decref (j);
    CHECK_EQ (
        nf_req (S_EP, "POST", "/kv/put", "{\"key\":\"a\",\"value\":\"2\"}", &j),
        200);
    int64_t i2 = nf_int (j, "index");
    CHECK (json_is_false (json_object_get (j, "created")) &&
           nf_int (j, "create_index") == i1 && nf_int (j, "mod_index") == i2 &&
           nf_int (j, "version") == 2);
    json_decref (j);
    CHECK_EQ (nf_req (S_EP, "GET", "/kv/get?key=a", NULL, &j), 200);
    CHECK (nf_str_is (j, "value", "2") && nf_int (j, "create_index") == i1 &&
           nf_int (j, "mod_index") == i2 && nf_int (j, "version") == 2);
    json_decref (j);
    CHECK_EQ (nf_req (S_EP, "GET", "/kv/get?key=a&stale=true", NULL, &j), 200);
    CHECK (nf_int (j, "version") == 2 &&
           json_is_true (json_object_get (j, "stale")));
    json_decref (j);
    CHECK_EQ (nf_req (S_EP, "DELETE", "/kv/delete", "{\"key\":\"a\"}", &j),
              200);
    CHECK (json_is_true (json_object_get (j, "deleted")) &&
           nf_int (j, "prev_mod_index") == i2);
    json_decref (j);
    CHECK_EQ (nf_req (S_EP, "DELETE", "/kv/delete", "{\"key\":\"a\"}", &j),
              200);
    CHECK (json_is_false (json_object_get (j, "deleted")) &&
           !json_object_get (j, "prev_mod_index"));
    json_decref (j);
    CHECK_EQ (nf_req (S_EP, "GET", "/kv/get?key=a", NULL, &j), 404);
    CHECK (nf_str_is (j, "error", "not_found"));
    json_decref (j);
    /* re-created: version 1 again, a new create_index */
    CHECK_EQ (
        nf_req (S_EP, "POST", "/kv/put", "{\"key\":\"a\",\"value\":\"3\"}", &j),
        200);
    CHECK (nf_int (j, "version") == 1 && nf_int (j, "create_index") > i2);
    json_decref (j);
}

static void
test_shorthands (void)
{
    json_t *j;
    CHECK_EQ (
        nf_req (S_EP, "POST", "/kv/put", "{\"key\":\"s\",\"value\":\"x\"}", &j),
        200);
    int64_t mod = nf_int (j, "mod_index");
    json_decref (j);
    /* a wrong prev_value: 412 with the record as it is, nothing changed */
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/put",
                      "{\"key\":\"s\",\"value\":\"y\",\"prev_value\":\"z\"}",
                      &j),
              412);
    json_t *cur = json_object_get (j, "current");
    CHECK (nf_str_is (j, "error", "compare_failed") &&
           nf_str_is (j, "key", "s") && nf_int (j, "index") > mod &&
           nf_str_is (cur, "value", "x") && nf_int (cur, "mod_index") == mod &&
           nf_int (cur, "version") == 1);
    json_decref (j);
    /* the right prev_value and prev_index: done */
    char body[160];
    snprintf (body, sizeof body,
              "{\"key\":\"s\",\"value\":\"y\",\"prev_value\":\"x\","
              "\"prev_index\":%lld}",
              (long long)mod);
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/put", body, &j), 200);
    CHECK (nf_int (j, "version") == 2);
    json_decref (j);
    /* the same prev_index again: stale now */
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/put", body, &j), 412);
    json_decref (j);
    /* prev_exist */
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/put",
                      "{\"key\":\"s\",\"value\":\"z\",\"prev_exist\":false}",
                      &j),
              412);
    json_decref (j);
    CHECK_EQ (nf_req (S_EP, "DELETE", "/kv/delete",
                      "{\"key\":\"nope\",\"prev_exist\":true}", &j),
              412);
    CHECK (json_is_null (json_object_get (j, "current")));
    json_decref (j);
    CHECK_EQ (nf_req (S_EP, "DELETE", "/kv/delete",
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
    return nf_req (S_EP, "POST", "/kv/txn", body, j);
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
    CHECK (nf_str_is (g, "op", "get") &&
           json_is_true (json_object_get (g, "found")) &&
           nf_str_is (g, "value", "alice") &&
           nf_int (g, "create_index") == nf_int (j, "index"));
    CHECK (nf_str_is (json_array_get (rs, 0), "op", "put") &&
           json_is_true (json_object_get (json_array_get (rs, 0), "created")));
    json_decref (j);
    /* bob loses: the failure branch, and his puts did not happen */
    CHECK_EQ (s_lock ("bob", &j), 200);
    rs = json_object_get (j, "responses");
    CHECK (json_is_false (json_object_get (j, "succeeded")) &&
           json_array_size (rs) == 1 &&
           nf_str_is (json_array_get (rs, 0), "value", "alice"));
    json_decref (j);
    CHECK_EQ (nf_req (S_EP, "GET", "/kv/get?key=log", NULL, &j), 200);
    CHECK (nf_str_is (j, "value", "alice") && nf_int (j, "version") == 1);
    json_decref (j);
    /* alice releases (only if she still holds it); bob then wins */
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/txn",
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
    CHECK_EQ (
        nf_req (S_EP, "POST", "/kv/txn",
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
           nf_int (j, "index") > 0 &&
           json_is_false (json_object_get (json_array_get (rs, 0), "found")));
    json_decref (j);
    /* empty lists: succeeded, no responses */
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/txn", "{}", &j), 200);
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
        int st =
            nf_req (S_EP, cases[i].method, cases[i].path, cases[i].body, &j);
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
    CHECK_EQ (nf_req (S_EP, "POST", "/kv/txn", big, &j), 400);
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
        CHECK_EQ (nf_req (S_EP, "POST", "/kv/put", body, NULL), 200);
    }
    json_t *j;
    CHECK_EQ (nf_req (S_EP, "GET", "/kv/range?prefix=r/", NULL, &j), 200);
    json_t *kv0 = json_array_get (json_object_get (j, "kvs"), 0);
    CHECK (nf_int (j, "count") == 5 &&
           json_is_false (json_object_get (j, "more")) &&
           json_is_null (json_object_get (j, "continue")) &&
           nf_int (j, "index") > 0 && nf_str_is (kv0, "key", "r/a") &&
           nf_str_is (kv0, "value", "0") && nf_int (kv0, "version") == 1 &&
           nf_int (kv0, "create_index") > 0);
    json_decref (j);
    /* pages of 2 through the token: every key once, in order */
    char path[160] = "/kv/range?prefix=r/&limit=2";
    const char *want[] = {"r/a", "r/b", "r/c", "r/d", "r/e"};
    size_t seen = 0;
    for (int page = 0; page < 5; page++) {
        CHECK_EQ (nf_req (S_EP, "GET", path, NULL, &j), 200);
        for (size_t i = 0; i < (size_t)nf_int (j, "count") && seen < 5;
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
    CHECK_EQ (nf_req (S_EP, "GET", "/kv/range?start=r/b&end=r/d&keys_only=true",
                      NULL, &j),
              200);
    CHECK (nf_int (j, "count") == 2 && strcmp (s_kv_key (j, 0), "r/b") == 0 &&
           !json_object_get (json_array_get (json_object_get (j, "kvs"), 0),
                             "value"));
    json_decref (j);
    CHECK_EQ (
        nf_req (S_EP, "GET", "/kv/range?start=r/e&end=t&stale=true", NULL, &j),
        200);
    CHECK (nf_int (j, "count") == 2 &&
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
        CHECK_EQ (nf_req (S_EP, "GET", bad[i], NULL, &j), 400);
        CHECK (json_is_string (json_object_get (j, "detail")));
        json_decref (j);
    }
    CHECK_EQ (
        nf_req (S_EP, "GET", "/kv/range?prefix=01234567890123456789", NULL, &j),
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
    CHECK (nf_wait_leader (S_EP));
    check_run ("versions in replies and GET", test_versions);
    check_run ("prev_value, prev_index, prev_exist; 412", test_shorthands);
    check_run ("txn: a lock, both branches, gets after puts", test_txn);
    check_run ("bad input: 400, 413, 405", test_errors);
    check_run ("range: prefix, pages, start/end, keys_only", test_range);
    node_stop (&s_node);
    fixture_tmpdir_remove ();
    return check_report ();
}
