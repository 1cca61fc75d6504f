/*  fuzz_trace.c -- the trace codecs (msg/msg_trace.h) on arbitrary bytes:
    msg_trace_ev_decode (an actor's event to its monitor: the whole input
    as one frame) and msg_trace_decode (what `nsxctl trace` reads from any
    node's PUB socket: two frames, the input's first byte saying how long
    the first, the topic, is), and what nsxctl then prints.

    Properties:
      - no crash, leak, out-of-bounds access, undefined behaviour or
        oversized allocation;
      - what decodes follows the wire rules: a kind of 1 to 31 bytes of
        [a-z0-9_], a text shorter than MSG_TRACE_TEXT_MAX without NUL, node
        and seq not 0, the topic equal to the kind;
      - round trip: re-encoding succeeds and decodes to the same event,
        byte for byte;
      - the consumer: msg_trace_render's line holds no control byte (a
        terminal escape sent in an HTTP path must not reach the terminal);
        msg_trace_json's line parses as JSON with the event's kind, term
        (clamped to 2^63 - 1) and, when it is UTF-8, its text.
*/
#include "fuzz.h"
#include "msg_trace.h"

#include <jansson.h>

static void
s_check_ev (const msg_trace_ev_t *ev)
{
    size_t klen = strnlen (ev->kind, MSG_TRACE_KIND_MAX);
    size_t tlen = strnlen (ev->text, MSG_TRACE_TEXT_MAX);
    FUZZ_CHECK (klen > 0 && klen < MSG_TRACE_KIND_MAX);
    FUZZ_CHECK (tlen < MSG_TRACE_TEXT_MAX);
    for (size_t i = 0; i < klen; i++) {
        char c = ev->kind[i];
        FUZZ_CHECK ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_');
    }
}

static void
s_fuzz_ev (const uint8_t *data, size_t size)
{
    zmsg_t *zm = zmsg_new ();
    zmsg_addmem (zm, data, size);
    msg_trace_ev_t ev;
    int rc = msg_trace_ev_decode (zm, &ev);
    zmsg_destroy (&zm);
    if (rc != 0)
        return;
    s_check_ev (&ev);
    zmsg_t *e = msg_trace_ev_encode (&ev);
    FUZZ_CHECK (e != NULL);
    msg_trace_ev_t ev2;
    FUZZ_CHECK (msg_trace_ev_decode (e, &ev2) == 0);
    FUZZ_CHECK (memcmp (&ev, &ev2, sizeof ev) == 0);
    zmsg_destroy (&e);
}

static void
s_check_json (const msg_trace_t *t)
{
    char *line = msg_trace_json (t);
    FUZZ_CHECK (line != NULL);
    json_error_t err;
    json_t *o = json_loads (line, 0, &err);
    FUZZ_CHECK (json_is_object (o));
    uint64_t term = t->ev.term > INT64_MAX ? INT64_MAX : t->ev.term;
    FUZZ_CHECK (
        streq (json_string_value (json_object_get (o, "kind")), t->ev.kind));
    FUZZ_CHECK ((uint64_t)json_integer_value (json_object_get (o, "term")) ==
                term);
    const char *text = json_string_value (json_object_get (o, "text"));
    FUZZ_CHECK (text != NULL);
    json_t *utf8 = json_string (t->ev.text);
    if (utf8)
        FUZZ_CHECK (streq (text, t->ev.text));
    json_decref (utf8);
    json_decref (o);
    free (line);
}

static void
s_fuzz_trace (const uint8_t *data, size_t size)
{
    if (size == 0 || data[0] >= size)
        return;
    size_t tlen = data[0];
    zmsg_t *zm = zmsg_new ();
    zmsg_addmem (zm, data + 1, tlen);
    zmsg_addmem (zm, data + 1 + tlen, size - 1 - tlen);
    msg_trace_t t;
    int rc = msg_trace_decode (zm, &t);
    zmsg_destroy (&zm);
    if (rc != 0)
        return;
    s_check_ev (&t.ev);
    FUZZ_CHECK (t.node != 0 && t.seq != 0);
    FUZZ_CHECK (tlen == strlen (t.ev.kind) &&
                memcmp (data + 1, t.ev.kind, tlen) == 0);
    zmsg_t *e = msg_trace_encode (&t);
    FUZZ_CHECK (e != NULL);
    msg_trace_t t2;
    FUZZ_CHECK (msg_trace_decode (e, &t2) == 0);
    FUZZ_CHECK (memcmp (&t, &t2, sizeof t) == 0);
    zmsg_destroy (&e);

    char line[512];
    int n = msg_trace_render (&t, line, sizeof line);
    FUZZ_CHECK (n > 0);
    for (const unsigned char *p = (const unsigned char *)line; *p; p++)
        FUZZ_CHECK (*p >= 0x20 && *p != 0x7f);
    s_check_json (&t);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_fuzz_ev (data, size);
    s_fuzz_trace (data, size);
    return 0;
}

/*  ---------------------------------------------------------------------
    Seeds: events of the kinds nodes send, in both formats              */

void
fuzz_seeds (void)
{
    static const char *kinds[] = {"role",    "term",        "commit",
                                  "append",  "http",        "slow_fsync",
                                  "apply",   "peer_link",   "transfer",
                                  "monitor", "election_won"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        msg_trace_t t = {.node = 2, .seq = 17 + i, .wall_us = 1764600000123456};
        t.mono_us = 5000000 + i;
        msg_trace_ev_set (&t.ev, kinds[i], 3, 3, 2, "%s",
                          i == 4 ? "GET /kv/get?key=\xc3\xa9 200" : "");
        zmsg_t *zm = msg_trace_ev_encode (&t.ev);
        if (zm) {
            zframe_t *f = zmsg_first (zm);
            fuzz_seed (zframe_data (f), zframe_size (f));
            zmsg_destroy (&zm);
        }
        zm = msg_trace_encode (&t);
        if (zm) {
            zframe_t *topic = zmsg_first (zm), *body = zmsg_next (zm);
            uint8_t buf[512];
            size_t tl = zframe_size (topic), bl = zframe_size (body);
            if (tl < 256 && 1 + tl + bl <= sizeof buf) {
                buf[0] = (uint8_t)tl;
                memcpy (buf + 1, zframe_data (topic), tl);
                memcpy (buf + 1 + tl, zframe_data (body), bl);
                fuzz_seed (buf, 1 + tl + bl);
            }
            zmsg_destroy (&zm);
        }
    }
}
