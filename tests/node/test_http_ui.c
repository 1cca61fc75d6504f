/*  test_http_ui.c -- the /ui page's routes on the HTTP side (http/
    http_ui.c): the page's files as compiled in, with their types and the
    Content-Security-Policy that keeps them to this origin; unknown files;
    the stream without a relay (503); the buttons' bad input (400 without
    a member id, 404 for an id not in the configuration, 405 for another
    method), every error JSON. The browser's view of it all is
    tests/ui/ui_test.sh's (make ui).

    The http actor runs for real against the fake raft actor of
    http_fixture.h (its health names no members), without a ui feed.
*/
#include "check.h"
#include "http_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_expect (const char *method, const char *path, const char *body, int status,
          const char *error)
{
    hf_resp_t r;
    int rc = hf_http (hf_port, method, path, body, &r);
    CHECK (rc == 0);
    bool ok = rc == 0 && r.status == status && hf_is_json (&r) &&
              hf_jstr_is (&r, "error", error);
    if (!ok)
        fprintf (stderr, "  %s %s -> %d %.*s (want %d %s)\n", method, path,
                 r.status, (int)r.body_len, r.body, status, error);
    CHECK (ok);
    hf_resp_free (&r);
}

static void
s_file (const char *path, const char *type, const char *has)
{
    hf_resp_t r;
    CHECK (hf_http (hf_port, "GET", path, NULL, &r) == 0);
    CHECK_EQ (r.status, 200);
    const char *ct = hf_header (&r, "Content-Type");
    CHECK (ct && strncmp (ct, type, strlen (type)) == 0);
    const char *csp = hf_header (&r, "Content-Security-Policy");
    CHECK (csp && strstr (csp, "default-src 'self'"));
    const char *len = hf_header (&r, "Content-Length");
    CHECK (len && (size_t)atol (len) == r.body_len);
    CHECK (r.body_len > 100 && memmem (r.body, r.body_len, has, strlen (has)));
    if (r.status != 200)
        fprintf (stderr, "  GET %s -> %d\n", path, r.status);
    hf_resp_free (&r);
}

static void
s_test_page (void)
{
    s_file ("/ui", "text/html", "/ui/ui.js");
    s_file ("/ui/index.html", "text/html", "<title>");
    s_file ("/ui/ui.js", "text/javascript", "EventSource");
    s_file ("/ui/ui_panels.js", "text/javascript", "/ui/fault?id=");
    s_file ("/ui/ui.css", "text/css", ".box");
    s_expect ("GET", "/ui/nope.js", NULL, 404, "unknown_path");
    s_expect ("POST", "/ui", "{}", 405, "method_not_allowed");
}

static void
s_test_stream_and_buttons (void)
{
    s_expect ("GET", "/ui/events", NULL, 503, "unavailable");
    s_expect ("POST", "/ui/fault", "{\"action\": \"isolate\"}", 400,
              "bad_request");
    s_expect ("POST", "/ui/fault?id=", "{}", 400, "bad_request");
    s_expect ("POST", "/ui/fault?id=7x", "{}", 400, "bad_request");
    s_expect ("POST", "/ui/fault?id=-1", "{}", 400, "bad_request");
    s_expect ("POST", "/ui/fault?id=%207", "{}", 400, "bad_request");
    s_expect ("POST", "/ui/fault?id=99999999999999999999999", "{}", 400,
              "bad_request");
    s_expect ("POST", "/ui/stop?id=0", "{}", 400, "bad_request");
    s_expect ("POST", "/ui/fault?id=9", "{\"action\": \"isolate\"}", 404,
              "not_found");
    s_expect ("POST", "/ui/stop?id=7", "{}", 404, "not_found");
    s_expect ("GET", "/ui/fault?id=7", NULL, 405, "method_not_allowed");
    CHECK (hf_still_serving ());
}

int
main (void)
{
    if (hf_start ("test_http_ui", false) != 0)
        return 1;
    check_run ("the page's files", s_test_page);
    check_run ("the stream and the buttons: bad input",
               s_test_stream_and_buttons);
    return hf_stop ();
}
