/*  test_http_lease.c -- leases over HTTP on a real node (issue 15, part
    6): POST /lease/grant (the TTL raised to the leader's minimum),
    "lease" on /kv/put and on a TXN's put, /lease/keepalive keeping the
    keys alive past several TTLs, expiry by the leader's lessor once
    keep-alives stop (the keys deleted, the lease gone, the metric
    counted), /lease/revoke deleting every attached key, /lease/info, and
    every 400, 404 and 405; after a restart, the lessor promoted from the
    stored table.

    One node, a cluster of one, started from flags as nsxd's main does,
    on a temporary directory, with --election-ms 800: the smallest TTL a
    leader grants is 1.5 election timeouts (1200 ms), so a 1 s request is
    raised. Ports, fixed: HTTP 127.0.0.1:5170, peer tcp://127.0.0.1:5270,
    monitor 5271. Bounded: the watchdog ends a stuck run; every request
    has a 3 s timeout; waits are counted.
*/
#include "check.h"
#include "client.h"
#include "fixture.h"
#include "node.h"
#include "nsxd_config.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_EP "127.0.0.1:5170"
#define S_ELECTION_MS 800
#define S_MIN_TTL_MS (S_ELECTION_MS * 3 / 2)

static node_t *s_node;
static const char *s_dir;

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
                    "tcp://127.0.0.1:5270",
                    "--monitor-listen",
                    "tcp://127.0.0.1:5271",
                    "--cluster",
                    "1=tcp://127.0.0.1:5270@" S_EP,
                    "--data-dir",
                    data,
                    "--insecure-peers",
                    "--election-ms",
                    "800",
                    "--heartbeat-ms",
                    "80",
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

/* Wait (bounded) until the node leads and its lessor is promoted: a
   keep-alive of a lease that does not exist answers 404, not 503. */
static bool
s_wait_leader (void)
{
    for (int i = 0; i < 200; i++) {
        json_t *j;
        int st = s_req ("POST", "/lease/keepalive", "{\"id\":999999}", &j);
        json_decref (j);
        if (st == 404)
            return true;
        zclock_sleep (50);
    }
    return false;
}

static int64_t
s_grant (int ttl_s)
{
    char body[64];
    snprintf (body, sizeof body, "{\"ttl\":%d}", ttl_s);
    json_t *j;
    CHECK_EQ (s_req ("POST", "/lease/grant", body, &j), 200);
    int64_t id = s_int (j, "id");
    CHECK (id >= 1 && id == s_int (j, "index"));
    json_decref (j);
    return id;
}

static int
s_put (const char *key, int64_t lease)
{
    char body[128];
    snprintf (body, sizeof body,
              "{\"key\":\"%s\",\"value\":\"v\",\"lease\":%lld}", key,
              (long long)lease);
    json_t *j;
    int st = s_req ("POST", "/kv/put", body, &j);
    json_decref (j);
    return st;
}

static int
s_get (const char *key)
{
    char path[128];
    snprintf (path, sizeof path, "/kv/get?key=%s", key);
    return s_req ("GET", path, NULL, NULL);
}

static int
s_keepalive (int64_t id, json_t **j)
{
    char body[64];
    snprintf (body, sizeof body, "{\"id\":%lld}", (long long)id);
    return s_req ("POST", "/lease/keepalive", body, j);
}

static void
test_grant (void)
{
    json_t *j;
    /* 1 s is below 1.5 election timeouts: raised, in ms */
    CHECK_EQ (s_req ("POST", "/lease/grant", "{\"ttl\":1}", &j), 200);
    CHECK (s_int (j, "ttl_ms") == S_MIN_TTL_MS && s_int (j, "ttl") == 2);
    json_decref (j);
    CHECK_EQ (s_req ("POST", "/lease/grant", "{\"ttl\":30}", &j), 200);
    CHECK (s_int (j, "ttl_ms") == 30000 && s_int (j, "ttl") == 30);
    int64_t id = s_int (j, "id");
    json_decref (j);
    char path[64];
    snprintf (path, sizeof path, "/lease/info?id=%lld", (long long)id);
    CHECK_EQ (s_req ("GET", path, NULL, &j), 200);
    CHECK (s_int (j, "id") == id && s_int (j, "ttl_ms") == 30000);
    int64_t rem = s_int (j, "remaining_ms");
    CHECK (rem > 25000 && rem <= 30000);
    json_decref (j);
    CHECK_EQ (s_keepalive (id, &j), 200);
    CHECK (s_int (j, "id") == id && s_int (j, "ttl_ms") == 30000);
    json_decref (j);
    /* both in the list, in id order */
    CHECK_EQ (s_req ("GET", "/lease/list", NULL, &j), 200);
    json_t *l = json_object_get (j, "leases");
    CHECK (json_array_size (l) == 2 &&
           s_int (json_array_get (l, 1), "id") == id &&
           s_int (json_array_get (l, 1), "ttl_ms") == 30000 &&
           s_int (json_array_get (l, 0), "ttl_ms") == S_MIN_TTL_MS);
    json_decref (j);
}

static void
test_keepalive_then_expiry (void)
{
    int64_t id = s_grant (1);
    CHECK_EQ (s_put ("svc-a", id), 200);
    /* a TXN's put takes a lease too */
    char body[256];
    snprintf (body, sizeof body,
              "{\"success\":[{\"put\":{\"key\":\"svc-b\",\"value\":\"x\","
              "\"lease\":%lld}}]}",
              (long long)id);
    json_t *j;
    CHECK_EQ (s_req ("POST", "/kv/txn", body, &j), 200);
    json_decref (j);
    /* kept alive every TTL/4 for three TTLs: the keys live */
    int64_t end = zclock_mono () + 3 * S_MIN_TTL_MS;
    while (zclock_mono () < end) {
        CHECK_EQ (s_keepalive (id, &j), 200);
        json_decref (j);
        zclock_sleep (S_MIN_TTL_MS / 4);
    }
    CHECK_EQ (s_get ("svc-a"), 200);
    CHECK_EQ (s_get ("svc-b"), 200);
    char info[64];
    snprintf (info, sizeof info, "/lease/info?id=%lld", (long long)id);
    CHECK_EQ (s_req ("GET", info, NULL, &j), 200);
    json_t *keys = json_object_get (j, "keys");
    CHECK (json_array_size (keys) == 2 &&
           !strcmp (json_string_value (json_array_get (keys, 0)), "svc-a") &&
           !strcmp (json_string_value (json_array_get (keys, 1)), "svc-b"));
    json_decref (j);
    /* keep-alives stop: gone within a TTL and a few ticks */
    bool gone = false;
    for (int i = 0; i < 60 && !gone; i++) {
        zclock_sleep (100);
        gone = s_get ("svc-a") == 404;
    }
    CHECK (gone);
    CHECK_EQ (s_get ("svc-b"), 404);
    CHECK_EQ (s_keepalive (id, &j), 404);
    CHECK (s_str_is (j, "error", "lease_not_found") && s_int (j, "id") == id);
    json_decref (j);
    /* a put naming it now: refused, nothing applied */
    CHECK_EQ (s_put ("svc-c", id), 404);
    CHECK_EQ (s_get ("svc-c"), 404);
    char path[64];
    snprintf (path, sizeof path, "/lease/info?id=%lld", (long long)id);
    CHECK_EQ (s_req ("GET", path, NULL, &j), 404);
    json_decref (j);
    http_client_opts_t opts = {0};
    http_client_resp_t r =
        http_client_request (&opts, S_EP, "GET", "/metrics", NULL, 3000);
    CHECK (r.body && strstr (r.body, "\nnsxd_lease_expired_total ") &&
           !strstr (r.body, "\nnsxd_lease_expired_total 0\n"));
    http_client_resp_free (&r);
}

static void
test_revoke (void)
{
    int64_t id = s_grant (60);
    CHECK_EQ (s_put ("lk1", id), 200);
    CHECK_EQ (s_put ("lk2", id), 200);
    CHECK_EQ (s_put ("lk3", id), 200);
    /* a put without a lease detaches its key (etcd's rule): it stays */
    CHECK_EQ (
        s_req ("POST", "/kv/put", "{\"key\":\"lk3\",\"value\":\"w\"}", NULL),
        200);
    char body[64];
    snprintf (body, sizeof body, "{\"id\":%lld}", (long long)id);
    json_t *j;
    CHECK_EQ (s_req ("POST", "/lease/revoke", body, &j), 200);
    CHECK (json_is_true (json_object_get (j, "ok")) && s_int (j, "id") == id &&
           s_int (j, "deleted") == 2 && s_int (j, "index") > id);
    json_decref (j);
    CHECK_EQ (s_get ("lk1"), 404);
    CHECK_EQ (s_get ("lk2"), 404);
    CHECK_EQ (s_get ("lk3"), 200);
    CHECK_EQ (s_req ("POST", "/lease/revoke", body, &j), 404);
    CHECK (s_str_is (j, "error", "lease_not_found") && s_int (j, "id") == id);
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
        {"POST", "/lease/grant", "{}", 400, "bad_request"},
        {"POST", "/lease/grant", "{\"ttl\":0}", 400, "bad_request"},
        {"POST", "/lease/grant", "{\"ttl\":-5}", 400, "bad_request"},
        {"POST", "/lease/grant", "{\"ttl\":\"5\"}", 400, "bad_request"},
        {"POST", "/lease/grant", "{\"ttl\":1.5}", 400, "bad_request"},
        {"POST", "/lease/grant", "{\"ttl\":2592001}", 400, "bad_request"},
        {"POST", "/lease/grant", "{\"ttl\":99999999999999999999}", 400,
         "bad_request"},
        {"POST", "/lease/grant", "[5]", 400, "bad_request"},
        {"POST", "/lease/grant", "{", 400, "bad_request"},
        {"POST", "/lease/grant?forward=maybe", "{\"ttl\":5}", 400,
         "bad_request"},
        {"GET", "/lease/grant", NULL, 405, "method_not_allowed"},
        {"POST", "/lease/keepalive", "{}", 400, "bad_request"},
        {"POST", "/lease/keepalive", "{\"id\":0}", 400, "bad_request"},
        {"POST", "/lease/keepalive", "{\"id\":\"1\"}", 400, "bad_request"},
        {"POST", "/lease/keepalive", "{\"id\":999999}", 404, "lease_not_found"},
        {"GET", "/lease/keepalive", NULL, 405, "method_not_allowed"},
        {"POST", "/lease/revoke", "{\"id\":-1}", 400, "bad_request"},
        {"POST", "/lease/revoke", "{\"id\":999999}", 404, "lease_not_found"},
        {"DELETE", "/lease/revoke", NULL, 405, "method_not_allowed"},
        {"GET", "/lease/info", NULL, 400, "bad_request"},
        {"GET", "/lease/info?id=0", NULL, 400, "bad_request"},
        {"GET", "/lease/info?id=abc", NULL, 400, "bad_request"},
        {"GET", "/lease/info?id=-3", NULL, 400, "bad_request"},
        {"GET", "/lease/info?id=999999", NULL, 404, "lease_not_found"},
        {"POST", "/lease/info?id=1", NULL, 405, "method_not_allowed"},
        {"POST", "/lease/list", NULL, 405, "method_not_allowed"},
        {"POST", "/kv/put", "{\"key\":\"e\",\"value\":\"1\",\"lease\":0}", 400,
         "bad_request"},
        {"POST", "/kv/put", "{\"key\":\"e\",\"value\":\"1\",\"lease\":\"7\"}",
         400, "bad_request"},
        {"POST", "/kv/put", "{\"key\":\"e\",\"value\":\"1\",\"lease\":999999}",
         404, "lease_not_found"},
        {"DELETE", "/kv/delete", "{\"key\":\"e\",\"lease\":5}", 400,
         "bad_request"},
        {"POST", "/kv/txn",
         "{\"success\":[{\"get\":{\"key\":\"e\",\"lease\":5}}]}", 400,
         "bad_request"},
        {"POST", "/kv/txn",
         "{\"success\":[{\"put\":{\"key\":\"e\",\"value\":\"\",\"lease\":-1}}]"
         "}",
         400, "bad_request"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j;
        int st = s_req (cases[i].method, cases[i].path, cases[i].body, &j);
        if (st != cases[i].status || !s_str_is (j, "error", cases[i].error))
            fprintf (stderr, "case %zu: %s %s %s: %d\n", i, cases[i].method,
                     cases[i].path, cases[i].body ? cases[i].body : "", st);
        CHECK_EQ (st, cases[i].status);
        CHECK (s_str_is (j, "error", cases[i].error));
        json_decref (j);
    }
    /* the put naming an unknown lease says which */
    json_t *j;
    CHECK_EQ (s_req ("POST", "/kv/put",
                     "{\"key\":\"e\",\"value\":\"1\",\"lease\":999999}", &j),
              404);
    CHECK (s_int (j, "lease") == 999999);
    json_decref (j);
    CHECK_EQ (s_get ("e"), 404);
}

/* A restart: the new leader's lessor is promoted from the table the
   storage actor loaded (LevelDB), every lease due a full TTL and an
   election timeout from then; keys and TTLs as they were. */
static void
test_restart (void)
{
    int64_t id = s_grant (60);
    CHECK_EQ (s_put ("rk", id), 200);
    node_stop (&s_node);
    CHECK (s_start (s_dir) == 0);
    if (!s_node)
        return;
    CHECK (s_wait_leader ());
    json_t *j;
    CHECK_EQ (s_keepalive (id, &j), 200);
    CHECK (s_int (j, "ttl_ms") == 60000);
    json_decref (j);
    char path[64];
    snprintf (path, sizeof path, "/lease/info?id=%lld", (long long)id);
    CHECK_EQ (s_req ("GET", path, NULL, &j), 200);
    json_t *keys = json_object_get (j, "keys");
    CHECK (json_array_size (keys) == 1 &&
           !strcmp (json_string_value (json_array_get (keys, 0)), "rk"));
    json_decref (j);
    http_client_opts_t opts = {0};
    http_client_resp_t r =
        http_client_request (&opts, S_EP, "GET", "/metrics", NULL, 3000);
    /* test_grant's 30 s lease lives too */
    CHECK (r.body && strstr (r.body, "\nnsxd_leases 2\n"));
    http_client_resp_free (&r);
}

int
main (void)
{
    check_watchdog ("test_http_lease", 60);
    const char *dir = fixture_tmpdir ("http-lease");
    s_dir = dir;
    CHECK (dir && s_start (dir) == 0);
    if (!s_node)
        return check_report ();
    CHECK (s_wait_leader ());
    check_run ("grant (TTL raised to the minimum), info, keep-alive",
               test_grant);
    check_run ("keys kept alive past three TTLs, then expired",
               test_keepalive_then_expiry);
    check_run ("revoke deletes the attached keys", test_revoke);
    check_run ("bad input: 400, 404, 405; nothing applied", test_errors);
    check_run ("a restart: the lessor promoted from the stored table",
               test_restart);
    node_stop (&s_node);
    fixture_tmpdir_remove ();
    return check_report ();
}
