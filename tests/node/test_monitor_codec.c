/*  test_monitor_codec.c -- the trace codec (msg/msg_trace.c): round trips
    and rendering, every truncation of both encodings and hostile input
    refused.

    One line per test; the exit status is non-zero on any failure, and a
    watchdog ends a run that hangs after 30 s. Run it under ASan+UBSan:
    nothing may leak.
*/
#include "check.h"
#include "monitor_fixture.h"
#include "msg_trace.h"

#include <jansson.h>

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_codec_roundtrip (void)
{
    msg_trace_ev_t ev, back;
    msg_trace_ev_set (&ev, "commit", 3, 4, 7, "x=%d", 5);
    zmsg_t *zm = msg_trace_ev_encode (&ev);
    CHECK (zm && zmsg_size (zm) == 1);
    /* the byte-by-byte example in msg_trace.h, with text "x=5" */
    const uint8_t want[] = {0x96, 0x01, 0xa6, 'c',  'o',  'm', 'm', 'i',
                            't',  0x03, 0x04, 0x07, 0xa3, 'x', '=', '5'};
    CHECK (zframe_size (zmsg_first (zm)) == sizeof want &&
           memcmp (zframe_data (zmsg_first (zm)), want, sizeof want) == 0);
    CHECK (msg_trace_ev_decode (zm, &back) == 0);
    CHECK (memcmp (&ev, &back, sizeof ev) == 0);
    zmsg_destroy (&zm);

    msg_trace_t t = {.node = 2,
                     .seq = 17,
                     .wall_us = 1700000001123456ULL,
                     .mono_us = 99,
                     .ev = ev};
    msg_trace_ev_set (&t.ev, "role", 3, 3, 2, NULL);
    zm = msg_trace_encode (&t);
    CHECK (zm && zmsg_size (zm) == 2);
    CHECK (zframe_streq (zmsg_first (zm), "role"));
    msg_trace_t tb;
    CHECK (msg_trace_decode (zm, &tb) == 0);
    CHECK (memcmp (&t, &tb, sizeof t) == 0);
    zmsg_destroy (&zm);

    char line[512];
    msg_trace_render (&t, line, sizeof line);
    CHECK (streq (line, "22:13:21.123456  n2  #17  term 3  role  leader "
                        "(leader n2)"));
    msg_trace_ev_set (&t.ev, "http", 3, 1234, 0, "GET /kv/get 200");
    msg_trace_render (&t, line, sizeof line);
    CHECK (strstr (line, "http  GET /kv/get 200  1.234 ms") != NULL);
    msg_trace_ev_set (&t.ev, "transfer", 3, 3, 2, NULL);
    msg_trace_render (&t, line, sizeof line);
    CHECK (strstr (line, "transfer  to n3: TimeoutNow sent") != NULL);
    msg_trace_ev_set (&t.ev, "peer_link", 3, 1, 0, "\x1b[2J");
    msg_trace_render (&t, line, sizeof line);
    CHECK (strstr (line, "peer_link  n1 down  ?[2J") != NULL);

    /* JSON, including text that is not UTF-8 */
    msg_trace_ev_set (&t.ev, "http", 3, 1234, 0, "GET /\xff 404");
    char *js = msg_trace_json (&t);
    CHECK (js != NULL);
    json_error_t err;
    json_t *o = js ? json_loads (js, 0, &err) : NULL;
    CHECK (o != NULL);
    CHECK (json_integer_value (json_object_get (o, "seq")) == 17);
    CHECK (json_integer_value (json_object_get (o, "a")) == 1234);
    CHECK (streq (json_string_value (json_object_get (o, "kind")), "http"));
    CHECK (
        streq (json_string_value (json_object_get (o, "text")), "GET /? 404"));
    CHECK (streq (json_string_value (json_object_get (o, "time")),
                  "2023-11-14T22:13:21.123456Z"));
    json_decref (o);
    free (js);

    /* The encoders refuse what the decoders would. */
    msg_trace_ev_set (&ev, "", 0, 0, 0, NULL);
    CHECK (msg_trace_ev_encode (&ev) == NULL);
    msg_trace_ev_set (&ev, "Bad kind", 0, 0, 0, NULL);
    CHECK (msg_trace_ev_encode (&ev) == NULL);
    msg_trace_ev_set (&ev, "ok", 0, 0, 0, NULL);
    memset (ev.text, 'x', sizeof ev.text); /* no terminator */
    CHECK (msg_trace_ev_encode (&ev) == NULL);
    msg_trace_ev_set (&t.ev, "ok", 0, 0, 0, NULL);
    t.node = 0;
    CHECK (msg_trace_encode (&t) == NULL);
    t.node = 1;
    t.seq = 0;
    CHECK (msg_trace_encode (&t) == NULL);
}

/* zmsg of the given frames (NULL data: the frame is omitted). */
static zmsg_t *
s_zmsg (const void *topic, size_t tlen, const void *body, size_t blen)
{
    zmsg_t *zm = zmsg_new ();
    if (topic)
        zmsg_addmem (zm, topic, tlen);
    if (body)
        zmsg_addmem (zm, body, blen);
    return zm;
}

static void
test_codec_truncation (void)
{
    msg_trace_ev_t ev, back;
    msg_trace_ev_set (&ev, "election_won", 9, 1, 3, "votes from n1 n3");
    zmsg_t *zm = msg_trace_ev_encode (&ev);
    zframe_t *f = zmsg_first (zm);
    for (size_t len = 0; len < zframe_size (f); len++) {
        zmsg_t *cut = s_zmsg (zframe_data (f), len, NULL, 0);
        CHECK (msg_trace_ev_decode (cut, &back) == -1);
        zmsg_destroy (&cut);
    }
    zmsg_destroy (&zm);

    msg_trace_t t = {.node = 3, .seq = 5, .wall_us = 1, .mono_us = 2}, tb;
    msg_trace_ev_set (&t.ev, "append", 9, 10, 20, "hello");
    zm = msg_trace_encode (&t);
    zframe_t *topic = zmsg_first (zm);
    zframe_t *body = zmsg_next (zm);
    for (size_t len = 0; len < zframe_size (body); len++) {
        zmsg_t *cut = s_zmsg (zframe_data (topic), zframe_size (topic),
                              zframe_data (body), len);
        CHECK (msg_trace_decode (cut, &tb) == -1);
        zmsg_destroy (&cut);
    }
    for (size_t len = 0; len < zframe_size (topic); len++) {
        zmsg_t *cut = s_zmsg (zframe_data (topic), len, zframe_data (body),
                              zframe_size (body));
        CHECK (msg_trace_decode (cut, &tb) == -1); /* topic != kind */
        zmsg_destroy (&cut);
    }
    /* one frame only; the body as an actor's event */
    zmsg_t *one = s_zmsg (zframe_data (body), zframe_size (body), NULL, 0);
    CHECK (msg_trace_decode (one, &tb) == -1);
    CHECK (msg_trace_ev_decode (one, &ev) == -1);
    zmsg_destroy (&one);
    zmsg_destroy (&zm);
}

static void
test_codec_hostile (void)
{
    msg_trace_ev_t ev;
    msg_trace_t t;
    const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    zmsg_t *zm = s_zmsg (huge, sizeof huge, NULL, 0);
    CHECK (msg_trace_ev_decode (zm, &ev) == -1);
    zmsg_destroy (&zm);
    zm = s_zmsg ("x", 1, huge, sizeof huge);
    CHECK (msg_trace_decode (zm, &t) == -1);
    zmsg_destroy (&zm);

    /* Well-formed msgpack, wrong content. */
    struct {
        const char *what;
        uint8_t bytes[24];
        size_t len;
    } bad[] = {
        {"version 2", {0x96, 0x02, 0xa1, 'k', 0, 0, 0, 0xa0}, 8},
        {"kind not str", {0x96, 0x01, 0x01, 0, 0, 0, 0xa0}, 7},
        {"kind empty", {0x96, 0x01, 0xa0, 0, 0, 0, 0xa0}, 7},
        {"kind upper", {0x96, 0x01, 0xa1, 'K', 0, 0, 0, 0xa0}, 8},
        {"kind NUL", {0x96, 0x01, 0xa2, 'k', 0, 0, 0, 0, 0xa0}, 9},
        {"term negative", {0x96, 0x01, 0xa1, 'k', 0xff, 0, 0, 0xa0}, 8},
        {"a bool", {0x96, 0x01, 0xa1, 'k', 0, 0xc3, 0, 0xa0}, 8},
        {"text bin", {0x96, 0x01, 0xa1, 'k', 0, 0, 0, 0xc4, 0}, 9},
        {"text NUL", {0x96, 0x01, 0xa1, 'k', 0, 0, 0, 0xa1, 0}, 9},
        {"5 elements", {0x95, 0x01, 0xa1, 'k', 0, 0, 0}, 7},
        {"7 elements", {0x97, 0x01, 0xa1, 'k', 0, 0, 0, 0xa0, 0}, 9},
        {"trailing byte", {0x96, 0x01, 0xa1, 'k', 0, 0, 0, 0xa0, 0}, 9},
        {"a map", {0x81, 0x01, 0x01}, 3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zm = s_zmsg (bad[i].bytes, bad[i].len, NULL, 0);
        int rc = msg_trace_ev_decode (zm, &ev);
        if (rc != -1)
            fprintf (stderr, "accepted: %s\n", bad[i].what);
        CHECK (rc == -1);
        zmsg_destroy (&zm);
    }
    /* text of MSG_TRACE_TEXT_MAX bytes: one too many */
    uint8_t big[9 + MSG_TRACE_TEXT_MAX] = {
        0x96, 0x01, 0xa1, 'k', 0, 0, 0, 0xd9, MSG_TRACE_TEXT_MAX};
    memset (big + 9, 'x', MSG_TRACE_TEXT_MAX - 1);
    zm = s_zmsg (big, 9 + MSG_TRACE_TEXT_MAX, NULL, 0);
    CHECK (msg_trace_ev_decode (zm, &ev) == -1);
    zmsg_destroy (&zm);
    big[8] = MSG_TRACE_TEXT_MAX - 1; /* the longest that fits */
    zm = s_zmsg (big, 9 + MSG_TRACE_TEXT_MAX - 1, NULL, 0);
    CHECK (msg_trace_ev_decode (zm, &ev) == 0 &&
           strlen (ev.text) == MSG_TRACE_TEXT_MAX - 1);
    zmsg_destroy (&zm);
    /* node 0 and seq 0 are refused */
    const uint8_t node0[] = {0x9a, 1, 0, 1, 0, 0, 0, 0xa1, 'k', 0, 0, 0xa0};
    const uint8_t seq0[] = {0x9a, 1, 1, 0, 0, 0, 0, 0xa1, 'k', 0, 0, 0xa0};
    const uint8_t good[] = {0x9a, 1, 1, 1, 0, 0, 0, 0xa1, 'k', 0, 0, 0xa0};
    zm = s_zmsg ("k", 1, node0, sizeof node0);
    CHECK (msg_trace_decode (zm, &t) == -1);
    zmsg_destroy (&zm);
    zm = s_zmsg ("k", 1, seq0, sizeof seq0);
    CHECK (msg_trace_decode (zm, &t) == -1);
    zmsg_destroy (&zm);
    zm = s_zmsg ("k", 1, good, sizeof good);
    CHECK (msg_trace_decode (zm, &t) == 0); /* the control: it does decode */
    zmsg_destroy (&zm);
}

int
main (void)
{
    mf_init ("test_monitor_codec");
    check_run ("codec round trip and rendering", test_codec_roundtrip);
    check_run ("codec refuses every truncation", test_codec_truncation);
    check_run ("codec refuses hostile input", test_codec_hostile);
    return mf_done ();
}
