/*  parse_session.c -- see parse_session.h.
*/
#include "parse_session.h"

#include "json.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int s_fail (http_parse_err_t *err, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
static int
s_fail (http_parse_err_t *err, const char *fmt, ...)
{
    err->status = 400;
    err->error = "bad_request";
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err->detail, sizeof err->detail, fmt, ap);
    va_end (ap);
    return -1;
}

static json_t *
s_object (const void *body, size_t len, http_parse_err_t *err)
{
    if (!json_utf8_valid (body, len)) {
        s_fail (err, "body is not valid UTF-8");
        return NULL;
    }
    json_error_t jerr;
    json_t *j =
        json_loadb (body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!j) {
        s_fail (err, "malformed JSON: %s (at byte %d)", jerr.text,
                jerr.position);
        return NULL;
    }
    if (!json_is_object (j)) {
        json_decref (j);
        s_fail (err, "body must be a JSON object");
        return NULL;
    }
    return j;
}

/* Field name of o as an integer >= min; absent: 1 and *out untouched. */
static int
s_uint (json_t *o, const char *name, uint64_t min, uint64_t *out,
        http_parse_err_t *err)
{
    json_t *v = json_object_get (o, name);
    if (!v)
        return 1;
    if (!json_is_integer (v) || json_integer_value (v) < (json_int_t)min)
        return s_fail (err, "field \"%s\" must be an integer >= %llu", name,
                       (unsigned long long)min);
    *out = (uint64_t)json_integer_value (v);
    return 0;
}

int
http_parse_session_fields (const void *body, size_t len, kvsm_cmd_t *cmd,
                           http_parse_err_t *err)
{
    json_t *o = s_object (body, len, err);
    if (!o)
        return -1;
    uint64_t sid = 0, seq = 0, ack = 0;
    int s = s_uint (o, "session", 1, &sid, err);
    int q = s < 0 ? -1 : s_uint (o, "seq", 1, &seq, err);
    int a = q < 0 ? -1 : s_uint (o, "ack", 0, &ack, err);
    json_decref (o);
    if (s < 0 || q < 0 || a < 0)
        return -1;
    if (s == 1) {
        if (q == 0 || a == 0)
            return s_fail (err, "\"seq\" and \"ack\" need a \"session\"");
        return 0;
    }
    if (q == 1)
        return s_fail (err, "field \"seq\" is required with \"session\"");
    if (a == 0 && ack >= seq)
        return s_fail (err, "field \"ack\" must be below \"seq\" (it says "
                            "which replies the client has seen)");
    cmd->has_session = true;
    cmd->session = sid;
    cmd->seq = seq;
    cmd->ack = ack;
    cmd->version = 0; /* the encoder writes a session command as 3 */
    return 0;
}

int
http_parse_session_close (const void *body, size_t len, uint64_t *id,
                          http_parse_err_t *err)
{
    json_t *o = s_object (body, len, err);
    if (!o)
        return -1;
    int rc = s_uint (o, "session", 1, id, err);
    json_decref (o);
    if (rc == 1)
        return s_fail (err, "field \"session\" is required");
    return rc;
}

int
http_parse_session_open (const void *body, size_t len, http_parse_err_t *err)
{
    if (len == 0)
        return 0;
    json_t *o = s_object (body, len, err);
    if (!o)
        return -1;
    size_t n = json_object_size (o);
    json_decref (o);
    if (n)
        return s_fail (err, "/session/open takes no fields (the TTL is the "
                            "leader's --session-ttl-ms)");
    return 0;
}
