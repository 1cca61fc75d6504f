/*  parse.c -- see parse.h.
*/
#include "parse.h"
#include "json.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int s_fail (http_parse_err_t *err, int status, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
static int
s_fail (http_parse_err_t *err, int status, const char *fmt, ...)
{
    err->status = status;
    err->error = status == 413 ? "too_large" : "bad_request";
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err->detail, sizeof err->detail, fmt, ap);
    va_end (ap);
    return -1;
}

void
http_parse_kv_clear (http_parse_kv_t *kv)
{
    raft_buf_unref (kv->key);
    raft_buf_unref (kv->value);
    kv->key = kv->value = NULL;
}

/* The body as a JSON object in *obj (the caller's), or -1 with *err. */
static int
s_object (const void *body, size_t len, json_t **obj, http_parse_err_t *err)
{
    if (!json_utf8_valid (body, len))
        return s_fail (err, 400, "body is not valid UTF-8");
    json_error_t jerr;
    /* A key given twice is ambiguous: refuse it rather than pick one. */
    json_t *j =
        json_loadb (body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!j)
        return s_fail (err, 400, "malformed JSON: %s (at byte %d)", jerr.text,
                       jerr.position);
    if (!json_is_object (j)) {
        json_decref (j);
        return s_fail (err, 400, "body must be a JSON object");
    }
    *obj = j;
    return 0;
}

/* A string field: 0 with *s and *slen set (NULL if absent and optional),
   or -1 with *err. */
static int
s_string (json_t *obj, const char *name, bool required, size_t max,
          const char **s, size_t *slen, http_parse_err_t *err)
{
    json_t *v = json_object_get (obj, name);
    *s = NULL;
    *slen = 0;
    if (!v)
        return required ? s_fail (err, 400, "missing field \"%s\"", name) : 0;
    if (!json_is_string (v))
        return s_fail (err, 400, "field \"%s\" must be a string", name);
    *s = json_string_value (v);
    *slen = json_string_length (v);
    if (*slen > max)
        return s_fail (err, 413, "%s is longer than %zu bytes", name, max);
    return 0;
}

/* An optional positive integer "id": 0 with *id (0 if absent), or -1. */
static int
s_id (json_t *obj, raft_id_t *id, http_parse_err_t *err)
{
    json_t *v = json_object_get (obj, "id");
    *id = 0;
    if (!v)
        return 0;
    if (!json_is_integer (v) || json_integer_value (v) <= 0)
        return s_fail (err, 400, "field \"id\" must be a positive integer");
    *id = (raft_id_t)json_integer_value (v);
    return 0;
}

/* put (with_value) and delete share the key's rules. */
static int
s_kv_body (const void *body, size_t len, const http_parse_limits_t *lim,
           bool with_value, http_parse_kv_t *out, http_parse_err_t *err)
{
    memset (out, 0, sizeof *out);
    json_t *obj = NULL;
    if (s_object (body, len, &obj, err) != 0)
        return -1;
    const char *key = NULL, *value = NULL;
    size_t klen = 0, vlen = 0;
    int rc = s_string (obj, "key", true, lim->max_key, &key, &klen, err);
    if (rc == 0 && with_value)
        rc = s_string (obj, "value", true, lim->max_value, &value, &vlen, err);
    if (rc == 0 && klen == 0)
        rc = s_fail (err, 400, "empty key");
    if (rc == 0) {
        out->key = raft_buf_new (key, klen);
        out->value = with_value ? raft_buf_new (value, vlen) : NULL;
        if (!out->key || (with_value && !out->value)) {
            http_parse_kv_clear (out);
            rc = s_fail (err, 500, "out of memory");
            err->error = "internal";
        }
    }
    json_decref (obj);
    return rc;
}

int
http_parse_put (const void *body, size_t len, const http_parse_limits_t *lim,
                http_parse_kv_t *out, http_parse_err_t *err)
{
    return s_kv_body (body, len, lim, true, out, err);
}

int
http_parse_delete (const void *body, size_t len, const http_parse_limits_t *lim,
                   http_parse_kv_t *out, http_parse_err_t *err)
{
    return s_kv_body (body, len, lim, false, out, err);
}

/*  ---------------------------------------------------------------------
    Query strings                                                        */

static int
s_hex (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The raw value of the first name=... in qs[0..len) ('&'-separated), or
   NULL. *vlen is its length before decoding. */
static const char *
s_query_raw (const char *qs, size_t len, const char *name, size_t *vlen)
{
    size_t nlen = strlen (name);
    size_t i = 0;
    while (i < len) {
        const char *amp = memchr (qs + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - qs) : len;
        /* names in any case, as civetweb's mg_get_var2 matched them */
        if (end - i > nlen && strncasecmp (qs + i, name, nlen) == 0 &&
            qs[i + nlen] == '=') {
            *vlen = end - i - nlen - 1;
            return qs + i + nlen + 1;
        }
        i = end + 1;
    }
    return NULL;
}

/* URL-decode s[0..len) into out (room for len bytes: decoding only
   shrinks); returns the decoded length. */
static size_t
s_url_decode (const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = s_hex (s[i + 1])) >= 0 &&
            (lo = s_hex (s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

int
http_parse_get_query (const char *qs, size_t len,
                      const http_parse_limits_t *lim, http_parse_kv_t *out,
                      http_parse_err_t *err)
{
    memset (out, 0, sizeof *out);
    size_t raw_len = 0;
    const char *raw = s_query_raw (qs, len, "key", &raw_len);
    if (!raw)
        return s_fail (err, 400, "missing ?key=");
    /* Each %XX shrinks three bytes into one: a raw value over three times
       the limit cannot fit, and is refused before allocating for it. */
    if (raw_len / 3 > lim->max_key)
        return s_fail (err, 413, "key is longer than %zu bytes", lim->max_key);
    char *key = malloc (raw_len + 1);
    if (!key) {
        s_fail (err, 500, "out of memory");
        err->error = "internal";
        return -1;
    }
    size_t klen = s_url_decode (raw, raw_len, key);
    int rc = 0;
    if (klen > lim->max_key)
        rc = s_fail (err, 413, "key is longer than %zu bytes", lim->max_key);
    else if (klen == 0)
        rc = s_fail (err, 400, "empty key");
    else if (!json_utf8_valid (key, klen))
        rc = s_fail (err, 400, "key is not valid UTF-8");
    size_t slen = 0;
    const char *stale = rc == 0 ? s_query_raw (qs, len, "stale", &slen) : NULL;
    if (stale) {
        if ((slen == 4 && memcmp (stale, "true", 4) == 0) ||
            (slen == 1 && stale[0] == '1'))
            out->stale = true;
        else if (!((slen == 5 && memcmp (stale, "false", 5) == 0) ||
                   (slen == 1 && stale[0] == '0')))
            rc = s_fail (err, 400, "stale must be true or false");
    }
    if (rc == 0 && !(out->key = raft_buf_new (key, klen))) {
        rc = s_fail (err, 500, "out of memory");
        err->error = "internal";
    }
    free (key);
    return rc;
}

int
http_parse_query_value (const char *qs, size_t len, const char *name,
                        size_t max, char **out, size_t *out_len)
{
    size_t raw_len = 0;
    const char *raw = s_query_raw (qs, len, name, &raw_len);
    *out = NULL;
    *out_len = 0;
    if (!raw)
        return 0;
    if (raw_len / 3 > max) /* as for key=: too long even decoded */
        return -2;
    char *v = malloc (raw_len + 1);
    if (!v)
        return -1;
    *out_len = s_url_decode (raw, raw_len, v);
    v[*out_len] = 0;
    *out = v;
    if (*out_len > max) {
        free (v);
        *out = NULL;
        return -2;
    }
    return 1;
}

/*  ---------------------------------------------------------------------
    Membership                                                           */

bool
http_parse_host_port (const char *s, size_t len, char *host, size_t host_len,
                      int *port)
{
    const char *colon = memrchr (s, ':', len);
    if (!colon || colon == s || len >= RAFT_ADDR_MAX)
        return false;
    size_t hl = (size_t)(colon - s);
    if (hl >= host_len)
        return false;
    for (size_t i = 0; i < hl; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
            return false;
    }
    const char *p = colon + 1;
    size_t pl = len - hl - 1;
    if (pl == 0 || pl > 5)
        return false;
    long v = 0;
    for (size_t i = 0; i < pl; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    if (v < 1 || v > 65535)
        return false;
    memcpy (host, s, hl);
    host[hl] = 0;
    *port = (int)v;
    return true;
}

int
http_parse_join (const void *body, size_t len, http_parse_join_t *out,
                 http_parse_err_t *err)
{
    memset (out, 0, sizeof *out);
    json_t *obj = NULL;
    if (s_object (body, len, &obj, err) != 0)
        return -1;
    const char *peer = NULL;
    size_t plen = 0;
    int rc = s_string (obj, "peer", true, SIZE_MAX, &peer, &plen, err);
    if (rc == 0)
        rc = s_id (obj, &out->id, err);
    /* Only host:port: the leader fetches http(s)://<peer>/health, so a
       scheme, a path or userinfo would let the client choose what the
       leader requests. */
    if (rc == 0 && !http_parse_host_port (peer, plen, out->host,
                                          sizeof out->host, &out->port))
        rc = s_fail (err, 400,
                     "peer must be host:port (no scheme, path or user)");
    if (rc == 0)
        memcpy (out->peer, peer, plen + 1); /* plen < RAFT_ADDR_MAX */
    json_decref (obj);
    return rc;
}

int
http_parse_remove (const void *body, size_t len, http_parse_remove_t *out,
                   http_parse_err_t *err)
{
    memset (out, 0, sizeof *out);
    json_t *obj = NULL;
    if (s_object (body, len, &obj, err) != 0)
        return -1;
    const char *peer = NULL;
    size_t plen = 0;
    int rc = s_string (obj, "peer", false, SIZE_MAX, &peer, &plen, err);
    if (rc == 0)
        rc = s_id (obj, &out->id, err);
    if (rc == 0 && peer) {
        if (plen == 0 || plen >= RAFT_ADDR_MAX || memchr (peer, ' ', plen) ||
            memchr (peer, 0, plen))
            rc = s_fail (err, 400,
                         "peer must be an address without spaces, shorter "
                         "than %d bytes",
                         RAFT_ADDR_MAX);
        else
            memcpy (out->peer, peer, plen + 1);
    }
    if (rc == 0 && !peer && out->id == 0)
        rc = s_fail (err, 400, "give \"peer\" or \"id\"");
    json_decref (obj);
    return rc;
}
