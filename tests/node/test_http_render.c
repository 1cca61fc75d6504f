/*  test_http_render.c -- the JSON helpers (http/json.c) and each typed
    reply rendered (http/http_render.c), byte for byte as README's API
    table says. One line per test; exit status 1 if any check failed.
*/
#include "check.h"
#include "http_fixture.h"
#include "http_render.h"
#include "json.h"
#include "msg_api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_test_json (void)
{
    CHECK (json_utf8_valid ("", 0));
    CHECK (json_utf8_valid ("a\0b", 3));
    CHECK (json_utf8_valid ("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    CHECK (!json_utf8_valid ("\xff", 1));
    CHECK (!json_utf8_valid ("\xc3", 1));             /* cut */
    CHECK (!json_utf8_valid ("\xc0\xaf", 2));         /* overlong */
    CHECK (!json_utf8_valid ("\xe0\x80\xaf", 3));     /* overlong */
    CHECK (!json_utf8_valid ("\xed\xa0\x80", 3));     /* surrogate */
    CHECK (!json_utf8_valid ("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK (!json_utf8_valid ("\xf0\x9f\x98", 3));

    json_t *s = json_string_lossy ("a\xff"
                                   "b\xe2\x82",
                                   5);
    CHECK (s && streq (json_string_value (s), "a\xef\xbf\xbd"
                                              "b\xef\xbf\xbd"));
    json_decref (s);

    json_t *e = json_error_body ("bad_request", "why");
    char *text = json_body_text (e, NULL);
    CHECK (text &&
           streq (text, "{\"error\": \"bad_request\", \"detail\": \"why\"}"));
    free (text);
    json_decref (e);
    e = json_error_body ("timeout", NULL);
    text = json_body_text (e, NULL);
    CHECK (text && streq (text, "{\"error\": \"timeout\"}"));
    free (text);
    json_decref (e);
}

/* Each reply kind rendered, byte for byte as README's API table and the
   prototype have it. */
static bool
s_renders (json_t *body, const char *want)
{
    char *text = body ? json_body_text (body, NULL) : NULL;
    json_decref (body);
    bool same = text && streq (text, want);
    if (!same)
        fprintf (stderr, "  body: %s\n  want: %s\n", text ? text : "(none)",
                 want);
    free (text);
    return same;
}

static void
s_test_render (void)
{
    raft_buf_t *key = raft_buf_new ("caf\xc3\xa9", 5);
    raft_buf_t *bad = raft_buf_new ("a\xff"
                                    "b",
                                    3);
    CHECK (s_renders (http_render_empty (), "{}"));
    CHECK (s_renders (http_render_error ("no_quorum", NULL, false, NULL),
                      "{\"error\": \"no_quorum\"}"));
    CHECK (s_renders (http_render_error ("not_leader", NULL, true, "h2:8000"),
                      "{\"error\": \"not_leader\", \"leader\": \"h2:8000\"}"));
    CHECK (s_renders (http_render_error ("not_leader", NULL, true, NULL),
                      "{\"error\": \"not_leader\", \"leader\": null}"));
    CHECK (s_renders (http_render_error ("reused_id", "why", false, NULL),
                      "{\"error\": \"reused_id\", \"detail\": \"why\"}"));
    CHECK (s_renders (http_render_written (key, 12, false, true),
                      "{\"ok\": true, \"key\": \"caf\\u00E9\", \"index\": 12, "
                      "\"created\": true}"));
    CHECK (s_renders (http_render_written (key, 13, true, false),
                      "{\"ok\": true, \"key\": \"caf\\u00E9\", \"index\": 13, "
                      "\"deleted\": false}"));
    CHECK (s_renders (http_render_value (key, bad, false),
                      "{\"key\": \"caf\\u00E9\", \"value\": \"a\\uFFFDb\"}"));
    CHECK (s_renders (http_render_value (key, bad, true),
                      "{\"key\": \"caf\\u00E9\", \"value\": \"a\\uFFFDb\", "
                      "\"stale\": true}"));
    CHECK (s_renders (http_render_value (key, NULL, false),
                      "{\"error\": \"not_found\", \"key\": \"caf\\u00E9\"}"));
    CHECK (s_renders (http_render_conf (4, 10),
                      "{\"ok\": true, \"id\": 4, \"index\": 10}"));
    CHECK (s_renders (
        http_render_health (&hf_full_health),
        "{\"id\": 1, \"role\": \"leader\", \"term\": 3, \"leader\": "
        "\"h1:8000\", "
        "\"leader_id\": 1, \"commit\": 9, \"applied\": 8, \"last_index\": 10, "
        "\"peer_addr\": \"tcp://h1:9000\", \"http_addr\": \"h1:8000\", "
        "\"members\": [{\"id\": 1, \"dir_id\": "
        "\"0123456789abcdef0123456789abcdef\", \"peer_addr\": "
        "\"tcp://h1:9000\", \"http_addr\": \"h1:8000\", \"voter\": true, "
        "\"match\": 9}, {\"id\": 2, \"dir_id\": null, \"peer_addr\": "
        "\"tcp://h2:9000\", \"http_addr\": \"h2:8000\", \"voter\": false}], "
        "\"uptime_s\": 5, \"dropped_msgs\": 6, \"identity\": {\"cluster_id\": "
        "\"fedcba9876543210fedcba9876543210\", \"node_id\": 1, \"dir_id\": "
        "\"0123456789abcdef0123456789abcdef\", \"origin\": \"join\", "
        "\"voting\": true}, \"log\": {\"base_index\": 2, \"base_term\": 1, "
        "\"entries\": 8, \"bytes\": 1234}, \"last_snapshot_installed\": "
        "{\"index\": 2, \"term\": 1, \"from\": 3, \"at_unix_ms\": "
        "1764633600000}, \"quota\": {\"bytes\": 1048576, \"used\": 4096, "
        "\"clear_below\": 900000, \"alarm\": true, \"fs_free\": "
        "1.8446744073709552e19}}"));
    /* the unknowns: null leader, leader_id, snapshot, quota readings;
       an identity whose cluster id is not learnt yet */
    msg_health_t h = {.id = 2,
                      .role = "follower",
                      .peer_addr = "p",
                      .http_addr = "h",
                      .cluster_id = "",
                      .quota_known = false,
                      .fs_free = 5};
    CHECK (s_renders (
        http_render_health (&h),
        "{\"id\": 2, \"role\": \"follower\", \"term\": 0, \"leader\": null, "
        "\"leader_id\": null, \"commit\": 0, \"applied\": 0, \"last_index\": "
        "0, "
        "\"peer_addr\": \"p\", \"http_addr\": \"h\", \"members\": [], "
        "\"uptime_s\": 0, \"dropped_msgs\": 0, \"identity\": {\"cluster_id\": "
        "null, \"node_id\": 2, \"dir_id\": null, \"origin\": null, \"voting\": "
        "false}, \"log\": {\"base_index\": 0, \"base_term\": 0, \"entries\": "
        "0, "
        "\"bytes\": 0}, \"last_snapshot_installed\": null, \"quota\": "
        "{\"bytes\": 0, \"used\": null, \"clear_below\": 0, \"alarm\": false, "
        "\"fs_free\": null}}"));
    /* http_render_rep dispatches on the kind */
    msg_api_rep_t r = {.status = 200, .kind = MSG_API_REP_CONF, .id = 1};
    CHECK (s_renders (http_render_rep (&r),
                      "{\"ok\": true, \"id\": 1, \"index\": 0}"));
    r.kind = 0;
    CHECK (http_render_rep (&r) == NULL);
    raft_buf_unref (key);
    raft_buf_unref (bad);
}

int
main (void)
{
    check_watchdog ("test_http_render", 120);
    check_run ("json", s_test_json);
    check_run ("reply kinds rendered", s_test_render);
    return check_report ();
}
