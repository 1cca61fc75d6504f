/*  test_http_hostile.c -- hostile clients (a 100 KB header, a 10 MB
    body, slow and trickled bodies, garbage) answered in time with JSON
    while the server keeps serving, and concurrent clients.

    The http actor runs for real on 127.0.0.1 against the fake raft actor of
    http_fixture.h, whose canned replies these tests expect; GETs read a
    real store published to the workers, as in production. One line per
    test; exit status 1 if any check failed.
*/
#include "check.h"
#include "http_fixture.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static void
s_test_huge_header (void)
{
    size_t n = 100 * 1024;
    char *req = malloc (n + 128);
    int h = snprintf (req, 128, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset (req + h, 'a', n);
    memcpy (req + h + n, "\r\n\r\n", 4);
    hf_resp_t r;
    int64_t t0 = zclock_mono ();
    if (hf_raw (hf_port, req, (size_t)h + n + 4, &r) == 0) {
        /* civetweb refuses it; our http_error callback renders JSON */
        CHECK (r.status == 413 || r.status == 431 || r.status == 400);
        CHECK (hf_is_json (&r));
        hf_resp_free (&r);
    }
    CHECK (zclock_mono () - t0 < 3000);
    free (req);
    CHECK (hf_still_serving ());
}

static void
s_test_huge_body (void)
{
    const char *req = "POST /kv/put HTTP/1.1\r\nHost: x\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: 10485760\r\n\r\n{\"key\": \"a\", ";
    int fd = hf_dial (hf_port);
    hf_send_all (fd, req, strlen (req));
    hf_resp_t r;
    int64_t t0 = zclock_mono ();
    CHECK (hf_read_resp (fd, &r) == 0);
    CHECK (zclock_mono () - t0 < 1000); /* at once, not after reading */
    CHECK (r.status == 413 && hf_is_json (&r) &&
           hf_jstr_is (&r, "error", "too_large"));
    const char *conn = hf_header (&r, "Connection");
    CHECK (conn && strcasecmp (conn, "close") == 0);
    hf_resp_free (&r);
    close (fd);
    CHECK (hf_still_serving ());
}

static void
s_test_slow_body (void)
{
    const char *req = "POST /kv/put HTTP/1.1\r\nHost: x\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: 60\r\n\r\n{\"key\": \"a\", ";
    int fd = hf_dial (hf_port);
    hf_send_all (fd, req, strlen (req));
    /* ... and nothing more. The server must give up on its own. */
    int64_t t0 = zclock_mono ();
    char buf[4096];
    ssize_t got;
    size_t total = 0;
    while ((got = recv (fd, buf + total, sizeof buf - 1 - total, 0)) > 0)
        total += (size_t)got;
    buf[total] = 0;
    int64_t took = zclock_mono () - t0;
    CHECK (got == 0); /* closed by the server, not our 5 s timeout */
    /* cut off at the request deadline, at most two read slices late */
    CHECK (took >= HF_READ_MS - 100 &&
           took < HF_READ_MS + 2 * HF_READ_MS / 5 + 500);
    /* If an answer made it out, it is a JSON 408. */
    CHECK (total == 0 || (strncmp (buf, "HTTP/1.1 408", 12) == 0 &&
                          strstr (buf, "\"request_timeout\"")));
    close (fd);
    CHECK (hf_still_serving ());
}

/* A body trickling in faster than civetweb's read slice (HF_READ_MS / 5)
   keeps one mg_read () going for as long as bytes come; the request's
   deadline must cut it off all the same. */
static void
s_test_trickle_body (void)
{
    const char *req = "POST /kv/put HTTP/1.1\r\nHost: x\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: 200\r\n\r\n{";
    int fd = hf_dial (hf_port);
    hf_send_all (fd, req, strlen (req));
    int64_t t0 = zclock_mono ();
    char buf[4096];
    size_t total = 0;
    bool closed = false;
    /* one byte every HF_READ_MS / 10 for up to 3 HF_READ_MS */
    while (!closed && zclock_mono () - t0 < 3 * HF_READ_MS) {
        zclock_sleep (HF_READ_MS / 10);
        if (send (fd, "a", 1, MSG_NOSIGNAL) != 1)
            break;
        struct timeval tv = {0, 1000};
        setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t got = recv (fd, buf + total, sizeof buf - 1 - total, 0);
        if (got > 0)
            total += (size_t)got;
        else if (got == 0)
            closed = true;
    }
    int64_t took = zclock_mono () - t0;
    buf[total] = 0;
    CHECK (strncmp (buf, "HTTP/1.1 408", 12) == 0 &&
           strstr (buf, "\"request_timeout\""));
    CHECK (took >= HF_READ_MS - 100 && took < HF_READ_MS + 500);
    close (fd);
    CHECK (hf_still_serving ());
}

static void
s_test_garbage (void)
{
    const char *inputs[] = {
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
        "\x00\x01\x02\x03\xff\xfe\r\n\r\n",
        "GARBAGE\r\n\r\n",
        "GET\r\n\r\n",
        "GET /health HTTP/9.9\r\n\r\n",
        "FOO /kv/put HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /kv/put HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        "POST /kv/put HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "POST /kv/put HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t len = i == 1 ? 10 : strlen (inputs[i]);
        hf_resp_t r;
        int64_t t0 = zclock_mono ();
        if (hf_raw (hf_port, inputs[i], len, &r) == 0) {
            CHECK (r.status >= 400 && r.status < 506);
            if (!hf_is_json (&r))
                fprintf (stderr, "  input %zu: %d %.*s\n", i, r.status,
                         (int)r.body_len, r.body);
            CHECK (hf_is_json (&r));
            hf_resp_free (&r);
        }
        CHECK (zclock_mono () - t0 < HF_TIMEOUT_MS * 3 + 500);
        CHECK (hf_still_serving ());
    }
}

/*  ---------------------------------------------------------------------
    HTTP: concurrency                                                    */

static void *
s_client (void *arg)
{
    int id = (int)(intptr_t)arg;
    int wrong = 0;
    for (int i = 0; i < HF_PER_CLIENT; i++) {
        char path[64], key[32];
        snprintf (key, sizeof key, "c%d-%d", id, i);
        snprintf (path, sizeof path, "/kv/get?key=%s", key);
        hf_resp_t r;
        if (hf_http (hf_port, "GET", path, NULL, &r) != 0 || r.status != 200 ||
            !hf_jstr_is (&r, "key", key))
            wrong++;
        hf_resp_free (&r);
    }
    return (void *)(intptr_t)wrong;
}

static void
s_test_concurrent (void)
{
    pthread_t t[HF_CLIENTS];
    for (int i = 0; i < HF_CLIENTS; i++)
        pthread_create (&t[i], NULL, s_client, (void *)(intptr_t)i);
    int wrong = 0;
    for (int i = 0; i < HF_CLIENTS; i++) {
        void *w;
        pthread_join (t[i], &w);
        wrong += (int)(intptr_t)w;
    }
    CHECK (wrong == 0);
}

int
main (void)
{
    if (hf_start ("test_http_hostile", false) != 0)
        return 1;
    check_run ("hostile: 100 KB header", s_test_huge_header);
    check_run ("hostile: 10 MB body", s_test_huge_body);
    check_run ("hostile: slow body", s_test_slow_body);
    check_run ("hostile: trickled body", s_test_trickle_body);
    check_run ("hostile: garbage", s_test_garbage);
    check_run ("concurrent clients", s_test_concurrent);
    return hf_stop ();
}
