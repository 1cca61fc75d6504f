/*  test_http_errors.c -- the errors made on the HTTP side (400, 404,
    405, 413), the 503 timeout, replies matched by req_id, keep-alive, and
    an actor that cannot listen.

    The http actor runs for real on 127.0.0.1 against the fake raft actor of
    http_fixture.h, whose canned replies these tests expect; GETs read a
    real store published to the workers, as in production. One line per
    test; exit status 1 if any check failed.
*/
#include "check.h"
#include "http_fixture.h"
#include "actor.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void
s_expect (const char *method, const char *path, const char *body, int status,
          const char *error)
{
    hf_resp_t r;
    int rc = hf_http (hf_port, method, path, body, &r);
    CHECK (rc == 0);
    /* error "": a success, no "error" field to check */
    bool ok = rc == 0 && r.status == status && hf_is_json (&r) &&
              (!*error || hf_jstr_is (&r, "error", error));
    if (!ok)
        fprintf (stderr, "  %s %s %s -> %d %.*s (want %d %s)\n", method, path,
                 body ? body : "", r.status, (int)r.body_len, r.body, status,
                 error);
    CHECK (ok);
    hf_resp_free (&r);
}

static void
s_test_400 (void)
{
    s_expect ("POST", "/kv/put", "{\"key\": \"foo\", \"value\": ", 400,
              "bad_request");
    s_expect ("POST", "/kv/put", "", 400, "bad_request");
    s_expect ("POST", "/kv/put", "[\"key\", \"value\"]", 400, "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": \"\xff\", \"value\": \"x\"}", 400,
              "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": \"a\", \"value\": \"\xc0\xaf\"}",
              400, "bad_request");
    s_expect ("POST", "/kv/put", "{\"value\": \"x\"}", 400, "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": \"x\"}", 400, "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": 1, \"value\": \"x\"}", 400,
              "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": \"x\", \"value\": 1}", 400,
              "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": \"x\", \"value\": null}", 400,
              "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": \"\", \"value\": \"x\"}", 400,
              "bad_request");
    s_expect ("POST", "/kv/put",
              "{\"key\": \"a\", \"key\": \"b\", "
              "\"value\": \"x\"}",
              400, "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": \"a\", \"value\": \"x\"} junk", 400,
              "bad_request");
    s_expect ("DELETE", "/kv/delete", "{}", 400, "bad_request");
    s_expect ("DELETE", "/kv/delete", "{\"key\": \"\"}", 400, "bad_request");
    s_expect ("DELETE", "/kv/delete", NULL, 400, "bad_request");
    s_expect ("GET", "/kv/get", NULL, 400, "bad_request");
    s_expect ("GET", "/kv/get?nokey=1", NULL, 400, "bad_request");
    s_expect ("GET", "/kv/get?key=", NULL, 400, "bad_request");
    s_expect ("GET", "/kv/get?key=%ff", NULL, 400, "bad_request");
    /* The exact body. */
    hf_resp_t r;
    CHECK (hf_http (hf_port, "GET", "/kv/get", NULL, &r) == 0);
    CHECK (hf_body_is (&r, "{\"error\": \"bad_request\", "
                           "\"detail\": \"missing ?key=\"}"));
    hf_resp_free (&r);
}

static void
s_test_404_405 (void)
{
    hf_resp_t r;
    CHECK (hf_http (hf_port, "GET", "/nope", NULL, &r) == 0);
    CHECK (
        r.status == 404 && hf_is_json (&r) &&
        hf_body_is (&r, "{\"error\": \"unknown_path\", \"path\": \"/nope\"}"));
    hf_resp_free (&r);
    s_expect ("GET", "/", NULL, 404, "unknown_path");
    s_expect ("GET", "/kv/put/", NULL, 404, "unknown_path");
    s_expect ("POST", "/kv", "{}", 404, "unknown_path");
    struct {
        const char *method, *path, *allow;
    } cases[] = {
        {"GET", "/kv/put", "POST"},        {"PUT", "/kv/put", "POST"},
        {"POST", "/kv/get", "GET"},        {"GET", "/kv/delete", "DELETE"},
        {"POST", "/health", "GET"},        {"GET", "/raft/join", "POST"},
        {"DELETE", "/raft/remove", "POST"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK (hf_http (hf_port, cases[i].method, cases[i].path, NULL, &r) ==
               0);
        CHECK (r.status == 405 && hf_is_json (&r) &&
               hf_body_is (&r, "{\"error\": \"method_not_allowed\"}"));
        const char *allow = hf_header (&r, "Allow");
        CHECK (allow && streq (allow, cases[i].allow));
        hf_resp_free (&r);
    }
}

static void
s_test_413 (void)
{
    char body[HF_MAX_BODY + 512];
    char key[HF_MAX_KEY + 2], value[HF_MAX_VALUE + 2];
    memset (key, 'k', sizeof key - 1);
    key[sizeof key - 1] = 0;
    memset (value, 'v', sizeof value - 1);
    value[sizeof value - 1] = 0;
    /* key one byte over */
    snprintf (body, sizeof body, "{\"key\": \"%s\", \"value\": \"x\"}", key);
    s_expect ("POST", "/kv/put", body, 413, "too_large");
    s_expect ("DELETE", "/kv/delete", body, 413, "too_large");
    /* exactly at the limits: fine */
    key[HF_MAX_KEY] = 0;
    value[HF_MAX_VALUE] = 0;
    snprintf (body, sizeof body, "{\"key\": \"%s\", \"value\": \"%s\"}", key,
              value);
    s_expect ("POST", "/kv/put", body, 200, "");
    /* value one byte over */
    value[HF_MAX_VALUE] = 'v';
    snprintf (body, sizeof body, "{\"key\": \"%s\", \"value\": \"%s\"}", key,
              value);
    s_expect ("POST", "/kv/put", body, 413, "too_large");
    /* a body over max_body (whitespace makes it big, not the fields) */
    memset (body, ' ', sizeof body);
    const char *start = "{\"key\": \"a\", \"value\": \"b\"";
    memcpy (body, start, strlen (start));
    body[HF_MAX_BODY + 1] = '}';
    body[HF_MAX_BODY + 2] = 0;
    s_expect ("POST", "/kv/put", body, 413, "too_large");
    /* the same, chunked: no Content-Length to check beforehand */
    char req[HF_MAX_BODY * 2];
    int n = snprintf (req, sizeof req,
                      "POST /kv/put HTTP/1.1\r\nHost: x\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++)
        n += snprintf (req + n, sizeof req - (size_t)n, "%x\r\n%.*s\r\n",
                       HF_MAX_BODY / 2, HF_MAX_BODY / 2, body);
    n += snprintf (req + n, sizeof req - (size_t)n, "0\r\n\r\n");
    hf_resp_t r;
    CHECK (hf_raw (hf_port, req, (size_t)n, &r) == 0);
    CHECK (r.status == 413 && hf_jstr_is (&r, "error", "too_large"));
    hf_resp_free (&r);
    /* a small chunked body is read and used */
    n = snprintf (req, sizeof req,
                  "POST /kv/put HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n"
                  "8\r\n{\"key\": \r\n13\r\n\"ch\", \"value\": \"v\"}\r\n"
                  "0\r\n\r\n");
    CHECK (hf_raw (hf_port, req, (size_t)n, &r) == 0);
    CHECK (r.status == 200 && hf_jstr_is (&r, "key", "ch"));
    hf_resp_free (&r);
    /* a key over max_key in the query string */
    char path[HF_MAX_KEY + 64];
    key[HF_MAX_KEY] = 'k';
    snprintf (path, sizeof path, "/kv/get?key=%s", key);
    s_expect ("GET", path, NULL, 413, "too_large");
    key[HF_MAX_KEY] = 0;
    snprintf (path, sizeof path, "/kv/get?key=%s", key);
    s_expect ("GET", path, NULL, 200, "");
}

static void
s_test_503 (void)
{
    hf_resp_t r;
    int64_t t0 = zclock_mono ();
    atomic_store (&hf_barrier, HF_BARRIER_SILENT);
    CHECK (hf_http (hf_port, "GET", "/kv/get?key=foo", NULL, &r) == 0);
    atomic_store (&hf_barrier, HF_BARRIER_OK);
    int64_t took = zclock_mono () - t0;
    CHECK (r.status == 503 && hf_is_json (&r) &&
           hf_body_is (&r, "{\"error\": \"timeout\"}"));
    CHECK (took >= HF_TIMEOUT_MS + 400 && took < HF_TIMEOUT_MS + 1500);
    hf_resp_free (&r);
    CHECK (hf_still_serving ());
}

/* Replies carrying other req_ids are dropped, so is garbage. */
static void
s_test_req_id_matching (void)
{
    hf_resp_t r;
    CHECK (hf_http (hf_port, "POST", "/kv/put",
                    "{\"key\": \"bogus\", \"value\": \"v\"}", &r) == 0);
    CHECK (r.status == 200 && hf_jstr_is (&r, "key", "bogus"));
    hf_resp_free (&r);
    /* One worker: the late answer to a timed-out request waits in its
       DEALER and must not be taken for the next request's answer. */
    atomic_store (&hf_barrier, HF_BARRIER_LATE);
    CHECK (hf_http (hf_port_single, "GET", "/kv/get?key=foo", NULL, &r) == 0);
    atomic_store (&hf_barrier, HF_BARRIER_OK);
    CHECK (r.status == 503);
    hf_resp_free (&r);
    zclock_sleep (HF_LATE_MS -
                  HF_TIMEOUT_MS); /* the late reply is queued now */
    CHECK (hf_http (hf_port_single, "GET", "/kv/get?key=after", NULL, &r) == 0);
    CHECK (r.status == 200 && hf_jstr_is (&r, "key", "after"));
    hf_resp_free (&r);
}

static void
s_test_keep_alive (void)
{
    int fd = hf_dial (hf_port);
    CHECK (fd >= 0);
    const char *put = "POST /kv/put HTTP/1.1\r\nHost: x\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: 25\r\n\r\n"
                      "{\"key\":\"ka\",\"value\":\"v1\"}";
    const char *get = "GET /kv/get?key=ka HTTP/1.1\r\nHost: x\r\n\r\n";
    hf_resp_t r;
    for (int i = 0; i < 3; i++) {
        hf_send_all (fd, put, strlen (put));
        CHECK (hf_read_resp (fd, &r) == 0 && r.status == 200);
        const char *conn = hf_header (&r, "Connection");
        CHECK (conn && strcasecmp (conn, "keep-alive") == 0);
        hf_resp_free (&r);
        hf_send_all (fd, get, strlen (get));
        CHECK (hf_read_resp (fd, &r) == 0 && r.status == 200 &&
               hf_jstr_is (&r, "key", "ka"));
        hf_resp_free (&r);
    }
    /* An error whose body was read keeps the connection too. */
    const char *bad = "POST /kv/put HTTP/1.1\r\nHost: x\r\n"
                      "Content-Length: 2\r\n\r\n[]";
    hf_send_all (fd, bad, strlen (bad));
    CHECK (hf_read_resp (fd, &r) == 0 && r.status == 400);
    hf_resp_free (&r);
    hf_send_all (fd, get, strlen (get));
    CHECK (hf_read_resp (fd, &r) == 0 && r.status == 200);
    hf_resp_free (&r);
    /* A body left unread (wrong method) must not be taken for the next
       request: either it is skipped or the connection closes. */
    const char *wrong = "GET /kv/put HTTP/1.1\r\nHost: x\r\n"
                        "Content-Length: 20\r\n\r\nGET /x HTTP/1.1\r\n\r\n";
    hf_send_all (fd, wrong, strlen (wrong));
    CHECK (hf_read_resp (fd, &r) == 0 && r.status == 405);
    const char *closing = hf_header (&r, "Connection");
    CHECK (closing && strcasecmp (closing, "close") == 0);
    hf_resp_free (&r);
    hf_send_all (fd, get, strlen (get));
    if (hf_read_resp (fd, &r) == 0)
        CHECK (r.status == 200 && hf_jstr_is (&r, "key", "ka"));
    hf_resp_free (&r);
    close (fd);
}

/* mg_start fails on a port in use: the actor says so on its pipe. */
static void
s_test_start_failure (void)
{
    char listen[32];
    snprintf (listen, sizeof listen, "127.0.0.1:%d", hf_port);
    http_args_t a = {.listen = listen,
                     .api_endpoint = hf_api,
                     .threads = 1,
                     .timeout_ms = HF_TIMEOUT_MS,
                     .max_body = HF_MAX_BODY,
                     .max_key = HF_MAX_KEY,
                     .max_value = HF_MAX_VALUE};
    fprintf (stderr, "  (expected: an ERROR line, the port is in use)\n");
    /* the one start-up handshake (actor.h): NULL and the status */
    int status = 0;
    zactor_t *http = actor_start ("http", http_actor, &a, NULL, &status);
    CHECK (http == NULL && status == 1);
}

int
main (void)
{
    if (hf_start ("test_http_errors", true) != 0)
        return 1;
    check_run ("400 bad_request", s_test_400);
    check_run ("404 and 405", s_test_404_405);
    check_run ("413 too_large", s_test_413);
    check_run ("503 timeout", s_test_503);
    check_run ("req_id matching", s_test_req_id_matching);
    check_run ("keep-alive", s_test_keep_alive);
    check_run ("start failure", s_test_start_failure);
    return hf_stop ();
}
