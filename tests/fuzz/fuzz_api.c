/*  fuzz_api.c -- the API codecs (msg/msg_api.h) on arbitrary bytes, both
    decoders on every input: msg_api_req_decode (an HTTP worker's request
    to the raft actor) and msg_api_rep_decode (the reply), and the reply
    as the HTTP worker renders it (http/json.c).

    Properties:
      - no crash, leak, out-of-bounds access, undefined behaviour or
        oversized allocation;
      - a request that decodes has a known op, a peer that is a
        NUL-terminated string shorter than RAFT_ADDR_MAX with no NUL
        inside; a reply has a status in 100..599, a known kind and that
        kind's fields (an error its code, a health reply its fields);
      - round trip: re-encoding succeeds, decodes to an equal request or
        reply, and re-encoding that gives the same bytes;
      - the consumer: the typed reply rendered as the HTTP worker does
        (http_render_rep) is an object; its text (json_body_text) is ASCII
        and parses back to an equal value.
*/
#include "equal.h"
#include "fuzz.h"
#include "http_render.h"
#include "json.h"
#include "msg_api.h"
#include "msg_util.h"

static zmsg_t *
s_frame (const void *data, size_t size)
{
    zmsg_t *zm = zmsg_new ();
    zmsg_addmem (zm, data, size);
    return zm;
}

static void
s_fuzz_req (const uint8_t *data, size_t size)
{
    zmsg_t *zm = s_frame (data, size);
    msg_api_req_t q;
    int rc = msg_api_req_decode (zm, &q);
    zmsg_destroy (&zm);
    if (rc != 0)
        return;
    FUZZ_CHECK (q.op >= MSG_API_PUT && q.op <= MSG_API_OP_LAST);
    size_t plen = strnlen (q.peer, RAFT_ADDR_MAX);
    FUZZ_CHECK (plen < RAFT_ADDR_MAX);
    zmsg_t *e1 = msg_api_req_encode (&q);
    FUZZ_CHECK (e1 != NULL);
    msg_api_req_t q2;
    FUZZ_CHECK (msg_api_req_decode (e1, &q2) == 0);
    FUZZ_CHECK (q.req_id == q2.req_id && q.op == q2.op &&
                equal_buf (q.key, q2.key) && equal_buf (q.value, q2.value) &&
                q.stale == q2.stale && strcmp (q.peer, q2.peer) == 0 &&
                q.id == q2.id);
    zmsg_t *e2 = msg_api_req_encode (&q2);
    FUZZ_CHECK (e2 && zframe_eq (zmsg_first (e1), zmsg_first (e2)));
    zmsg_destroy (&e1);
    zmsg_destroy (&e2);
    msg_api_req_clear (&q);
    msg_api_req_clear (&q2);
}

/* True if text is ASCII with no control byte JSON requires escaped. */
static bool
s_ascii (const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p >= 0x80 || *p < 0x20)
            return false;
    return true;
}

/* The reply as the HTTP worker renders it (http/http_ask.c). */
static void
s_render (const msg_api_rep_t *p)
{
    json_t *obj = http_render_rep (p);
    FUZZ_CHECK (json_is_object (obj));
    size_t tlen = 0;
    char *text = json_body_text (obj, &tlen);
    FUZZ_CHECK (text != NULL && tlen == strlen (text) && s_ascii (text));
    json_error_t err;
    json_t *back = json_loads (text, JSON_ALLOW_NUL, &err);
    FUZZ_CHECK (back && json_equal (obj, back));
    json_decref (back);
    free (text);
    json_decref (obj);
}

static bool
s_str_eq (const char *a, const char *b)
{
    return a && b ? strcmp (a, b) == 0 : a == b;
}

static void
s_fuzz_rep (const uint8_t *data, size_t size)
{
    zmsg_t *zm = s_frame (data, size);
    msg_api_rep_t p;
    int rc = msg_api_rep_decode (zm, &p);
    zmsg_destroy (&zm);
    if (rc != 0)
        return;
    FUZZ_CHECK (p.status >= 100 && p.status <= 599);
    FUZZ_CHECK (p.kind >= MSG_API_REP_EMPTY && p.kind <= MSG_API_REP_LAST);
    FUZZ_CHECK (p.kind != MSG_API_REP_ERROR || (p.code && *p.code));
    FUZZ_CHECK (p.kind != MSG_API_REP_HEALTH ||
                (p.health && p.health->role && p.health->peer_addr &&
                 p.health->http_addr &&
                 p.health->n_members <= RAFT_MAX_SERVERS));
    zmsg_t *e1 = msg_api_rep_encode (&p);
    FUZZ_CHECK (e1 != NULL);
    msg_api_rep_t p2;
    FUZZ_CHECK (msg_api_rep_decode (e1, &p2) == 0);
    FUZZ_CHECK (
        p.req_id == p2.req_id && p.status == p2.status && p.kind == p2.kind &&
        s_str_eq (p.code, p2.code) && s_str_eq (p.detail, p2.detail) &&
        s_str_eq (p.leader, p2.leader) && p.has_leader == p2.has_leader &&
        equal_buf (p.key, p2.key) && equal_buf (p.value, p2.value) &&
        p.index == p2.index && p.is_delete == p2.is_delete &&
        p.flag == p2.flag && p.stale == p2.stale && p.id == p2.id &&
        !p.health == !p2.health);
    zmsg_t *e2 = msg_api_rep_encode (&p2);
    FUZZ_CHECK (e2 && zframe_eq (zmsg_first (e1), zmsg_first (e2)));
    zmsg_destroy (&e1);
    zmsg_destroy (&e2);
    s_render (&p);
    msg_api_rep_clear (&p);
    msg_api_rep_clear (&p2);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_fuzz_req (data, size);
    s_fuzz_rep (data, size);
    return 0;
}

/*  ---------------------------------------------------------------------
    Seeds: a request of every op, a reply of every kind                */

static void
s_seed (zmsg_t *zm)
{
    if (!zm)
        return;
    zframe_t *f = zmsg_first (zm);
    fuzz_seed (zframe_data (f), zframe_size (f));
    zmsg_destroy (&zm);
}

void
fuzz_seeds (void)
{
    raft_buf_t *key = raft_buf_new ("k\xc3\xa9y", 4);
    raft_buf_t *value = raft_buf_new ("v\xffl", 3);
    for (int op = MSG_API_PUT; op <= MSG_API_OP_LAST; op++) {
        msg_api_req_t q = {.req_id = 7,
                           .op = (msg_api_op_t)op,
                           .key = op <= MSG_API_DELETE ? key : NULL,
                           .value = op == MSG_API_PUT ? value : NULL,
                           .stale = op == MSG_API_GET,
                           .id = op == MSG_API_JOIN ? 4 : 0};
        if (op == MSG_API_JOIN)
            snprintf (q.peer, sizeof q.peer, "tcp://h4:9000 h4:8000");
        s_seed (msg_api_req_encode (&q));
    }
    msg_health_member_t members[2] = {
        {1, "tcp://h1:9000", "h1:8000", true, true, 9,
         "0123456789abcdef0123456789abcdef"},
        {2, "tcp://h2:9000", "h2:8000", false, false, 0, NULL}};
    msg_health_t h = {.id = 1,
                      .role = "leader",
                      .term = 3,
                      .leader = "h1:8000",
                      .leader_id = 1,
                      .commit = 9,
                      .applied = 9,
                      .last_index = 9,
                      .peer_addr = "tcp://h1:9000",
                      .http_addr = "h1:8000",
                      .members = members,
                      .n_members = 2,
                      .uptime_s = 5,
                      .cluster_id = "fedcba9876543210fedcba9876543210",
                      .dir_id = "0123456789abcdef0123456789abcdef",
                      .origin = "join",
                      .voting = true};
    msg_api_rep_t reps[] = {
        {.kind = MSG_API_REP_EMPTY},
        {.kind = MSG_API_REP_ERROR, .code = "timeout"},
        {.kind = MSG_API_REP_ERROR, .code = "reused_id", .detail = "why"},
        {.kind = MSG_API_REP_ERROR,
         .code = "not_leader",
         .has_leader = true,
         .leader = "h2:8000"},
        {.kind = MSG_API_REP_WRITTEN, .key = key, .index = 9, .flag = true},
        {.kind = MSG_API_REP_VALUE, .key = key, .value = value, .stale = true},
        {.kind = MSG_API_REP_VALUE, .key = key},
        {.kind = MSG_API_REP_CONF, .id = 4, .index = 10},
        {.kind = MSG_API_REP_HEALTH, .health = &h},
    };
    for (size_t k = 0; k < sizeof reps / sizeof reps[0]; k++) {
        reps[k].req_id = 7;
        reps[k].status = 200 + (unsigned)k;
        s_seed (msg_api_rep_encode (&reps[k]));
    }
    raft_buf_unref (key);
    raft_buf_unref (value);
}
