/*  msg_trace.c -- see msg_trace.h for the wire format and the kinds.

    This file depends on msgpack-c, czmq and jansson only (not on the
    consensus core), so that nsxctl can link it without the node.
*/
#include "msg_trace.h"
#include "msg_util.h"

#include <inttypes.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_VERSION 1
#define S_EV_FIELDS 6
#define S_TRACE_FIELDS 10

/*  ---------------------------------------------------------------------
    Rules shared by the encoders and the decoders                        */

static bool
s_kind_valid (const char *s, size_t len)
{
    if (len == 0 || len >= MSG_TRACE_KIND_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static bool
s_text_valid (const char *s, size_t len)
{
    return len < MSG_TRACE_TEXT_MAX && !memchr (s, 0, len);
}

/* The struct's strings must be NUL-terminated inside their arrays. */
static bool
s_ev_valid (const msg_trace_ev_t *ev)
{
    size_t klen = strnlen (ev->kind, MSG_TRACE_KIND_MAX);
    size_t tlen = strnlen (ev->text, MSG_TRACE_TEXT_MAX);
    return klen < MSG_TRACE_KIND_MAX && s_kind_valid (ev->kind, klen) &&
           tlen < MSG_TRACE_TEXT_MAX;
}

msg_trace_ev_t *
msg_trace_ev_set (msg_trace_ev_t *ev, const char *kind, uint64_t term,
                  uint64_t a, uint64_t b, const char *fmt, ...)
{
    memset (ev, 0, sizeof *ev);
    snprintf (ev->kind, sizeof ev->kind, "%s", kind ? kind : "");
    ev->term = term;
    ev->a = a;
    ev->b = b;
    if (fmt) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (ev->text, sizeof ev->text, fmt, ap);
        va_end (ap);
    }
    return ev;
}

/*  ---------------------------------------------------------------------
    Encoding                                                             */

static int
s_pack_str (msgpack_packer *pk, const char *s)
{
    size_t len = strlen (s);
    return msgpack_pack_str (pk, len) | msgpack_pack_str_body (pk, s, len);
}

static zmsg_t *
s_finish (msgpack_sbuffer *buf, int rc, const char *topic)
{
    zmsg_t *zm = NULL;
    if (rc == 0) {
        zm = zmsg_new ();
        if (zm && topic && zmsg_addmem (zm, topic, strlen (topic)) != 0)
            zmsg_destroy (&zm);
        if (zm && zmsg_addmem (zm, buf->data, buf->size) != 0)
            zmsg_destroy (&zm);
    }
    msgpack_sbuffer_destroy (buf);
    return zm;
}

zmsg_t *
msg_trace_ev_encode (const msg_trace_ev_t *ev)
{
    if (!ev || !s_ev_valid (ev))
        return NULL;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    /* Every pack call returns 0 or -1 (out of memory); OR them together. */
    int rc = msgpack_pack_array (&pk, S_EV_FIELDS);
    rc |= msgpack_pack_uint8 (&pk, S_VERSION);
    rc |= s_pack_str (&pk, ev->kind);
    rc |= msgpack_pack_uint64 (&pk, ev->term);
    rc |= msgpack_pack_uint64 (&pk, ev->a);
    rc |= msgpack_pack_uint64 (&pk, ev->b);
    rc |= s_pack_str (&pk, ev->text);
    return s_finish (&buf, rc, NULL);
}

zmsg_t *
msg_trace_encode (const msg_trace_t *t)
{
    if (!t || t->node == 0 || t->seq == 0 || !s_ev_valid (&t->ev))
        return NULL;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    int rc = msgpack_pack_array (&pk, S_TRACE_FIELDS);
    rc |= msgpack_pack_uint8 (&pk, S_VERSION);
    rc |= msgpack_pack_uint64 (&pk, t->node);
    rc |= msgpack_pack_uint64 (&pk, t->seq);
    rc |= msgpack_pack_uint64 (&pk, t->wall_us);
    rc |= msgpack_pack_uint64 (&pk, t->mono_us);
    rc |= msgpack_pack_uint64 (&pk, t->ev.term);
    rc |= s_pack_str (&pk, t->ev.kind);
    rc |= msgpack_pack_uint64 (&pk, t->ev.a);
    rc |= msgpack_pack_uint64 (&pk, t->ev.b);
    rc |= s_pack_str (&pk, t->ev.text);
    return s_finish (&buf, rc, t->ev.kind);
}

/*  ---------------------------------------------------------------------
    Decoding: check every type and bound                                 */

static bool
s_get_kind (const msgpack_object *o, char *out)
{
    if (o->type != MSGPACK_OBJECT_STR ||
        !s_kind_valid (o->via.str.ptr, o->via.str.size))
        return false;
    memcpy (out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = 0;
    return true;
}

static bool
s_get_text (const msgpack_object *o, char *out)
{
    if (o->type != MSGPACK_OBJECT_STR ||
        !s_text_valid (o->via.str.ptr, o->via.str.size))
        return false;
    if (o->via.str.size)
        memcpy (out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = 0;
    return true;
}

/* Unpack the one frame into u and check [1, ...] of n elements. */
static const msgpack_object *
s_open (msgpack_unpacked *u, zframe_t *frame, uint32_t n)
{
    if (!msg_unpack_one (u, zframe_data (frame), zframe_size (frame)))
        return NULL;
    const msgpack_object *o = &u->data;
    uint64_t version;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != n ||
        !msg_get_uint (&o->via.array.ptr[0], &version) ||
        version != S_VERSION) {
        msgpack_unpacked_destroy (u);
        return NULL;
    }
    return o->via.array.ptr;
}

int
msg_trace_ev_decode (zmsg_t *zm, msg_trace_ev_t *ev)
{
    memset (ev, 0, sizeof *ev);
    if (!zm || zmsg_size (zm) != 1)
        return -1;
    msgpack_unpacked u;
    const msgpack_object *f = s_open (&u, zmsg_first (zm), S_EV_FIELDS);
    if (!f)
        return -1;
    bool ok = s_get_kind (&f[1], ev->kind) && msg_get_uint (&f[2], &ev->term) &&
              msg_get_uint (&f[3], &ev->a) && msg_get_uint (&f[4], &ev->b) &&
              s_get_text (&f[5], ev->text);
    msgpack_unpacked_destroy (&u);
    if (!ok)
        memset (ev, 0, sizeof *ev);
    return ok ? 0 : -1;
}

int
msg_trace_decode (zmsg_t *zm, msg_trace_t *t)
{
    memset (t, 0, sizeof *t);
    if (!zm || zmsg_size (zm) != 2)
        return -1;
    zframe_t *topic = zmsg_first (zm);
    zframe_t *body = zmsg_next (zm);
    msgpack_unpacked u;
    const msgpack_object *f = s_open (&u, body, S_TRACE_FIELDS);
    if (!f)
        return -1;
    bool ok = msg_get_uint (&f[1], &t->node) && t->node != 0 &&
              msg_get_uint (&f[2], &t->seq) && t->seq != 0 &&
              msg_get_uint (&f[3], &t->wall_us) &&
              msg_get_uint (&f[4], &t->mono_us) &&
              msg_get_uint (&f[5], &t->ev.term) &&
              s_get_kind (&f[6], t->ev.kind) &&
              msg_get_uint (&f[7], &t->ev.a) &&
              msg_get_uint (&f[8], &t->ev.b) && s_get_text (&f[9], t->ev.text);
    msgpack_unpacked_destroy (&u);
    /* The topic is what subscribers filter on: it must say the truth. */
    ok = ok && zframe_size (topic) == strlen (t->ev.kind) &&
         memcmp (zframe_data (topic), t->ev.kind, zframe_size (topic)) == 0;
    if (!ok)
        memset (t, 0, sizeof *t);
    return ok ? 0 : -1;
}

/*  ---------------------------------------------------------------------
    Rendering                                                            */

/* Kept here rather than calling raft_role_name, so nsxctl need not link
   the core; the order is raft_role_t's. */
static const char *
s_role_name (uint64_t role)
{
    static const char *names[] = {"follower", "precandidate", "candidate",
                                  "leader"};
    return role < 4 ? names[role] : "?";
}

/* "n3", or "none" for id 0. */
static const char *
s_node_name (uint64_t id, char *buf, size_t size)
{
    if (id == 0)
        snprintf (buf, size, "none");
    else
        snprintf (buf, size, "n%" PRIu64, id);
    return buf;
}

/* What a and b mean for this kind (see msg_trace.h), without the text. */
static void
s_what (const msg_trace_ev_t *ev, char *buf, size_t size)
{
    const char *k = ev->kind;
    uint64_t a = ev->a, b = ev->b;
    char n[24];
    if (streq (k, "role"))
        snprintf (buf, size, "%s (leader %s)", s_role_name (a),
                  s_node_name (b, n, sizeof n));
    else if (streq (k, "term"))
        snprintf (buf, size, "new term %" PRIu64, a);
    else if (streq (k, "election_start"))
        snprintf (buf, size, "%s", a == 1 ? "pre-vote round" : "election");
    else if (streq (k, "election_won") || streq (k, "election_lost"))
        snprintf (buf, size, "%s %s, %" PRIu64 " %s",
                  a == 1 ? "pre-vote" : "election",
                  streq (k, "election_won") ? "won" : "lost", b,
                  streq (k, "election_won") ? "votes" : "rejections");
    else if (streq (k, "commit"))
        snprintf (buf, size, "%" PRIu64 " -> %" PRIu64, a, b);
    else if (streq (k, "append") || streq (k, "apply"))
        snprintf (buf, size, "%" PRIu64 "..%" PRIu64, a, b);
    else if (streq (k, "truncate"))
        snprintf (buf, size, "from %" PRIu64, a);
    else if (streq (k, "conf"))
        snprintf (buf, size, "index %" PRIu64 ", %" PRIu64 " servers", a, b);
    else if (streq (k, "read_round"))
        snprintf (buf, size, "round %" PRIu64 ", %" PRIu64 " reads", a, b);
    else if (streq (k, "transfer"))
        snprintf (buf, size, "to %s: %s", s_node_name (a, n, sizeof n),
                  b == 1   ? "start"
                  : b == 0 ? "abort"
                  : b == 2 ? "TimeoutNow sent"
                           : "?");
    else if (streq (k, "check_quorum_lost"))
        snprintf (buf, size, "%" PRIu64 " active voters", a);
    else if (streq (k, "peer_link"))
        snprintf (buf, size, "%s %s", s_node_name (a, n, sizeof n),
                  b ? "up" : "down");
    else if (streq (k, "http"))
        snprintf (buf, size, "%" PRIu64 ".%03" PRIu64 " ms", a / 1000,
                  a % 1000);
    else if (streq (k, "slow_fsync"))
        snprintf (buf, size,
                  "%" PRIu64 ".%03" PRIu64 " ms, %" PRIu64 " entries", a / 1000,
                  a % 1000, b);
    else if (streq (k, "monitor") || streq (k, "fault"))
        buf[0] = 0; /* the text says it all */
    else if (streq (k, "msg_send") || streq (k, "msg_recv"))
        snprintf (buf, size, "%s %s", streq (k, "msg_send") ? "to" : "from",
                  s_node_name (a, n, sizeof n)); /* the text: what */
    else
        snprintf (buf, size, "a=%" PRIu64 " b=%" PRIu64, a, b);
}

/* text with control bytes (a terminal escape sent by whoever can reach
   the HTTP port and ends up in a path) replaced. */
static void
s_clean_text (const char *in, char *out, bool ascii_only)
{
    size_t i = 0;
    for (; in[i]; i++) {
        unsigned char c = (unsigned char)in[i];
        out[i] =
            c < 0x20 || c == 0x7f || (ascii_only && c >= 0x80) ? '?' : in[i];
    }
    out[i] = 0;
}

int
msg_trace_render (const msg_trace_t *t, char *buf, size_t size)
{
    time_t sec = (time_t)(t->wall_us / 1000000);
    struct tm tm = {0};
    gmtime_r (&sec, &tm); /* leaves tm zeroed for a year past int */
    char what[160];
    s_what (&t->ev, what, sizeof what);
    char text[MSG_TRACE_TEXT_MAX];
    s_clean_text (t->ev.text, text, false);
    /* http events lead with their text ("GET /kv/get 200"), the rest
       with what a and b mean; the other follows when there is one. */
    bool http = streq (t->ev.kind, "http");
    const char *first = http ? text : what;
    const char *second = http ? what : text;
    if (!first[0]) {
        first = second;
        second = "";
    }
    return snprintf (buf, size,
                     "%02d:%02d:%02d.%06" PRIu64 "  n%" PRIu64 "  #%" PRIu64
                     "  term %" PRIu64 "  %s  %s%s%s",
                     tm.tm_hour, tm.tm_min, tm.tm_sec, t->wall_us % 1000000,
                     t->node, t->seq, t->ev.term, t->ev.kind, first,
                     second[0] ? "  " : "", second);
}

/* jansson's integers are signed 64-bit: clamp rather than wrap. */
static json_t *
s_json_uint (uint64_t v)
{
    return json_integer (v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

char *
msg_trace_json (const msg_trace_t *t)
{
    time_t sec = (time_t)(t->wall_us / 1000000);
    struct tm tm = {0};
    gmtime_r (&sec, &tm); /* leaves tm zeroed for a year past int */
    char iso[96];
    snprintf (iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02d.%06" PRIu64 "Z",
              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
              tm.tm_min, tm.tm_sec, t->wall_us % 1000000);
    char what[160];
    s_what (&t->ev, what, sizeof what);
    json_t *text = json_string (t->ev.text);
    if (!text) {
        /* not UTF-8: json_string refuses it */
        char clean[MSG_TRACE_TEXT_MAX];
        s_clean_text (t->ev.text, clean, true);
        text = json_string (clean);
    }
    json_t *o = json_pack (
        "{s:o, s:o, s:o, s:o, s:s, s:o, s:s, s:o, s:o, "
        "s:o*, s:s}",
        "node", s_json_uint (t->node), "seq", s_json_uint (t->seq), "wall_us",
        s_json_uint (t->wall_us), "mono_us", s_json_uint (t->mono_us), "time",
        iso, "term", s_json_uint (t->ev.term), "kind", t->ev.kind, "a",
        s_json_uint (t->ev.a), "b", s_json_uint (t->ev.b), "text", text, "what",
        what);
    if (!o)
        return NULL;
    char *s = json_dumps (o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref (o);
    return s;
}
