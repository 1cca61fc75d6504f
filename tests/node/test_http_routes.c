/*  test_http_routes.c -- each route and what passes through it: PUT,
    GET (the read barrier, then the store; the raft actor before the store
    is open), DELETE, /health, /raft/join and /raft/remove.

    The http actor runs for real on 127.0.0.1 against the fake raft actor of
    http_fixture.h, whose canned replies these tests expect; GETs read a
    real store published to the workers, as in production. One line per
    test; exit status 1 if any check failed.
*/
#include "check.h"
#include "http_fixture.h"

#include <stdio.h>
#include <string.h>

static void
s_test_put (void)
{
    hf_resp_t r;
    /* curl -X POST localhost:8001/kv/put -H 'Content-Type: application/json'
            -d '{"key": "foo", "value": "bar"}' */
    CHECK (hf_http (hf_port, "POST", "/kv/put",
                    "{\"key\": \"foo\", \"value\": \"bar\"}", &r) == 0);
    CHECK (r.status == 200 && hf_is_json (&r));
    CHECK (hf_body_is (
        &r,
        "{\"ok\": true, \"key\": \"foo\", \"index\": 3, \"created\": true}"));
    hf_resp_free (&r);
    /* Unicode in and out (ASCII-escaped out, as the prototype). */
    CHECK (hf_http (hf_port, "POST", "/kv/put",
                    "{\"key\": \"caf\xc3\xa9\", \"value\": \"\\u00e9\"}",
                    &r) == 0);
    /* (the fake's index: the value's length in bytes, here 2) */
    CHECK (r.status == 200 &&
           hf_body_is (&r, "{\"ok\": true, \"key\": \"caf\\u00E9\", "
                           "\"index\": 2, \"created\": true}"));
    hf_resp_free (&r);
    /* Empty values are values. */
    CHECK (hf_http (hf_port, "POST", "/kv/put",
                    "{\"key\":\"e\",\"value\":\"\"}", &r) == 0);
    CHECK (r.status == 200 && hf_jstr_is (&r, "key", "e") &&
           hf_jint (&r, "index") == 0);
    hf_resp_free (&r);
}

static void
s_test_get (void)
{
    hf_resp_t r;
    CHECK (hf_http (hf_port, "GET", "/kv/get?key=foo", NULL, &r) == 0);
    CHECK (r.status == 200 && hf_is_json (&r));
    CHECK (hf_jstr_is (&r, "key", "foo") && hf_jstr_is (&r, "value", "foo") &&
           !json_object_get (r.json, "stale"));
    hf_resp_free (&r);
    /* URL-decoded, stale flag passed on. */
    CHECK (hf_http (hf_port, "GET", "/kv/get?key=a%20b%2Fc&stale=true", NULL,
                    &r) == 0);
    CHECK (r.status == 200 && hf_jstr_is (&r, "key", "a b/c") &&
           json_is_true (json_object_get (r.json, "stale")));
    hf_resp_free (&r);
    CHECK (hf_http (hf_port, "GET", "/kv/get?stale=1&key=x", NULL, &r) == 0);
    CHECK (r.status == 200 && json_is_true (json_object_get (r.json, "stale")));
    hf_resp_free (&r);
    CHECK (hf_http (hf_port, "GET", "/kv/get?key=x&stale=maybe", NULL, &r) ==
           0);
    CHECK (r.status == 400 && hf_jstr_is (&r, "error", "bad_request"));
    hf_resp_free (&r);
    /* Not in the store. */
    CHECK (hf_http (hf_port, "GET", "/kv/get?key=missing", NULL, &r) == 0);
    CHECK (r.status == 404 && hf_is_json (&r) &&
           hf_body_is (&r, "{\"error\": \"not_found\", \"key\": \"missing\"}"));
    hf_resp_free (&r);
    /* The raft actor's status and body pass through. */
    CHECK (hf_http (hf_port, "POST", "/kv/put",
                    "{\"key\": \"leader\", \"value\": \"x\"}", &r) == 0);
    CHECK (r.status == 409 &&
           hf_body_is (
               &r, "{\"error\": \"not_leader\", \"leader\": \"node2:8000\"}"));
    hf_resp_free (&r);
}

static void
s_test_delete_health (void)
{
    hf_resp_t r;
    /* curl -X DELETE localhost:8001/kv/delete
            -H 'Content-Type: application/json' -d '{"key": "foo"}' */
    CHECK (hf_http (hf_port, "DELETE", "/kv/delete", "{\"key\": \"foo\"}",
                    &r) == 0);
    CHECK (r.status == 200 && hf_is_json (&r) &&
           hf_body_is (&r, "{\"ok\": true, \"key\": \"foo\", \"index\": 0, "
                           "\"deleted\": true}"));
    hf_resp_free (&r);
    CHECK (hf_http (hf_port, "GET", "/health", NULL, &r) == 0);
    CHECK (r.status == 200 && hf_is_json (&r) && hf_jint (&r, "id") == 7 &&
           hf_jstr_is (&r, "peer_addr", "tcp://127.0.0.1:9007"));
    hf_resp_free (&r);
}

static void
s_test_join_remove (void)
{
    hf_resp_t r;
    char body[256], want[RAFT_ADDR_MAX];
    /* The new server is this same server: its /health says id 7. */
    snprintf (body, sizeof body, "{\"peer\": \"127.0.0.1:%d\"}", hf_port);
    snprintf (want, sizeof want, "tcp://127.0.0.1:9007 127.0.0.1:%d", hf_port);
    CHECK (hf_http (hf_port, "POST", "/raft/join", body, &r) == 0);
    CHECK (r.status == 200 &&
           hf_body_is (&r, "{\"ok\": true, \"id\": 7, \"index\": 42}"));
    CHECK (hf_last_is (MSG_API_JOIN, 7, want));
    hf_resp_free (&r);
    snprintf (body, sizeof body, "{\"peer\": \"127.0.0.1:%d\", \"id\": 7}",
              hf_port);
    CHECK (hf_http (hf_port, "POST", "/raft/join", body, &r) == 0);
    CHECK (r.status == 200 && hf_jint (&r, "id") == 7);
    hf_resp_free (&r);
    snprintf (body, sizeof body, "{\"peer\": \"127.0.0.1:%d\", \"id\": 8}",
              hf_port);
    CHECK (hf_http (hf_port, "POST", "/raft/join", body, &r) == 0);
    CHECK (r.status == 400 && hf_jstr_is (&r, "error", "bad_request"));
    hf_resp_free (&r);
    snprintf (body, sizeof body, "{\"peer\": \"127.0.0.1:%d\"}",
              hf_port_closed);
    CHECK (hf_http (hf_port, "POST", "/raft/join", body, &r) == 0);
    CHECK (r.status == 502 && hf_is_json (&r) &&
           hf_jstr_is (&r, "error", "peer_unreachable") &&
           hf_jstr (&r, "peer") && strstr (hf_jstr (&r, "peer"), "127.0.0.1:"));
    hf_resp_free (&r);
    const char *bad[] = {"{\"peer\": \"node4\"}",
                         "{\"peer\": \"node4:0\"}",
                         "{\"peer\": \"no de:80\"}",
                         "{\"peer\": 4}",
                         "{\"id\": 4}",
                         "{\"peer\": \"a:1\", \"id\": \"4\"}",
                         "{\"peer\": \"a:1\", \"id\": -4}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK (hf_http (hf_port, "POST", "/raft/join", bad[i], &r) == 0);
        CHECK (r.status == 400 && hf_jstr_is (&r, "error", "bad_request"));
        hf_resp_free (&r);
    }
    CHECK (hf_http (hf_port, "POST", "/raft/remove",
                    "{\"peer\": \"node4:8000\"}", &r) == 0);
    CHECK (r.status == 200 && hf_jint (&r, "id") == 0);
    CHECK (hf_last_is (MSG_API_REMOVE, 0, "node4:8000"));
    hf_resp_free (&r);
    CHECK (hf_http (hf_port, "POST", "/raft/remove", "{\"id\": 4}", &r) == 0);
    CHECK (r.status == 200 && hf_jint (&r, "id") == 4);
    CHECK (hf_last_is (MSG_API_REMOVE, 4, ""));
    hf_resp_free (&r);
    CHECK (hf_http (hf_port, "POST", "/raft/remove", "{}", &r) == 0);
    CHECK (r.status == 400);
    hf_resp_free (&r);
}

/* A linearizable GET asks the raft actor for a read barrier, then reads
   the store itself (what was written is seen); a stale one asks nothing;
   a refused barrier's answer passes through; no GET reaches the raft
   actor. */
static void
s_test_get_path (void)
{
    int gets = hf_gets (), reads = hf_reads ();
    hf_resp_t r;
    CHECK (hf_http (hf_port, "GET", "/kv/get?key=foo", NULL, &r) == 0);
    CHECK (r.status == 200 && hf_jstr_is (&r, "value", "foo"));
    hf_resp_free (&r);
    CHECK_EQ (hf_reads (), reads + 1);
    CHECK (fixture_kv_put (&hf_kv, "foo", "new") == 0);
    CHECK (hf_http (hf_port, "GET", "/kv/get?key=foo", NULL, &r) == 0);
    CHECK (r.status == 200 && hf_jstr_is (&r, "value", "new"));
    hf_resp_free (&r);
    CHECK (fixture_kv_put (&hf_kv, "foo", "foo") == 0);
    /* stale: a local read, no barrier */
    reads = hf_reads ();
    CHECK (hf_http (hf_port, "GET", "/kv/get?key=foo&stale=true", NULL, &r) ==
           0);
    CHECK (r.status == 200 && hf_jstr_is (&r, "value", "foo") &&
           json_is_true (json_object_get (r.json, "stale")));
    hf_resp_free (&r);
    CHECK_EQ (hf_reads (), reads);
    /* not the leader: the barrier's answer, but stale reads still answer */
    atomic_store (&hf_barrier, HF_BARRIER_NOT_LEADER);
    CHECK (hf_http (hf_port, "GET", "/kv/get?key=foo", NULL, &r) == 0);
    CHECK (r.status == 409 && hf_jstr_is (&r, "error", "not_leader") &&
           hf_jstr_is (&r, "leader", "node2:8000") &&
           !json_object_get (r.json, "value"));
    hf_resp_free (&r);
    CHECK (hf_http (hf_port, "GET", "/kv/get?key=foo&stale=1", NULL, &r) == 0);
    CHECK (r.status == 200 && hf_jstr_is (&r, "value", "foo"));
    hf_resp_free (&r);
    atomic_store (&hf_barrier, HF_BARRIER_OK);
    CHECK_EQ (hf_gets (), gets);
}

/* Before the storage actor has published the store (start-up), a GET
   goes to the raft actor whole, as production's does. */
static void
s_test_get_before_open (void)
{
    store_t *st = atomic_exchange (&hf_kv.store, NULL);
    int gets = hf_gets ();
    hf_resp_t r;
    CHECK (hf_http (hf_port, "GET", "/kv/get?key=zz", NULL, &r) == 0);
    CHECK (r.status == 200 && hf_jstr_is (&r, "key", "zz"));
    hf_resp_free (&r);
    CHECK_EQ (hf_gets (), gets + 1);
    atomic_store (&hf_kv.store, st);
}

int
main (void)
{
    if (hf_start ("test_http_routes", false) != 0)
        return 1;
    check_run ("put", s_test_put);
    check_run ("get", s_test_get);
    check_run ("get: barrier, then the store", s_test_get_path);
    check_run ("get before the store is open", s_test_get_before_open);
    check_run ("delete, health", s_test_delete_health);
    check_run ("join, remove", s_test_join_remove);
    return hf_stop ();
}
