/*  parse_watch.c -- GET /kv/watch's query (parse_watch.h). */
#include "parse_watch.h"
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int
s_oom (http_parse_err_t *err)
{
    s_fail (err, 500, "out of memory");
    err->error = "internal";
    return -1;
}

/* A decimal in [min, max] (s, n bytes): true with *v. */
static bool
s_decimal (const char *s, size_t n, uint64_t min, uint64_t max, uint64_t *v)
{
    if (!n || n > 19)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    if (x < min || x > max)
        return false;
    *v = x;
    return true;
}

/* name=N as a decimal in [min, max]: 1 with *v, 0 absent, -1 (err). */
static int
s_qnum (const char *qs, size_t len, const char *name, uint64_t min,
        uint64_t max, uint64_t *v, http_parse_err_t *err)
{
    char *s;
    size_t n;
    int rc = http_parse_query_value (qs, len, name, 24, &s, &n);
    if (rc == -1)
        return s_oom (err);
    if (rc == 0)
        return 0;
    bool ok = rc == 1 && s_decimal (s, n, min, max, v);
    free (s);
    if (!ok)
        return s_fail (err, 400, "%s must be an integer in %llu..%llu", name,
                       (unsigned long long)min, (unsigned long long)max);
    return 1;
}

/* name=K as a buffer (NULL absent): 0, or -1 (err). */
static int
s_qbuf (const char *qs, size_t len, const char *name, size_t max,
        raft_buf_t **out, http_parse_err_t *err)
{
    char *s;
    size_t n;
    int rc = http_parse_query_value (qs, len, name, max, &s, &n);
    *out = NULL;
    if (rc == -1)
        return s_oom (err);
    if (rc == -2)
        return s_fail (err, 413, "%s is longer than %zu bytes", name, max);
    if (rc == 0)
        return 0;
    if (!json_utf8_valid (s, n)) {
        free (s);
        return s_fail (err, 400, "%s is not valid UTF-8", name);
    }
    *out = raft_buf_new (s, n);
    free (s);
    return *out ? 0 : s_oom (err);
}

void
http_parse_watch_clear (http_parse_watch_t *w)
{
    raft_buf_unref (w->key);
    memset (w, 0, sizeof *w);
}

int
http_parse_watch_query (const char *qs, size_t len, const char *accept,
                        const char *last_event_id,
                        const http_parse_limits_t *lim, http_parse_watch_t *out,
                        http_parse_err_t *err)
{
    memset (out, 0, sizeof *out);
    out->timeout_ms = HTTP_WATCH_TIMEOUT_DEFAULT_MS;
    out->limit = HTTP_WATCH_LIMIT_DEFAULT;
    raft_buf_t *key = NULL, *prefix = NULL;
    uint64_t v;
    int rc = s_qbuf (qs, len, "key", lim->max_key, &key, err);
    if (rc == 0)
        rc = s_qbuf (qs, len, "prefix", lim->max_key, &prefix, err);
    if (rc == 0 && key && prefix)
        rc = s_fail (err, 400, "give key or prefix, not both");
    else if (rc == 0 && !key && !prefix)
        rc = s_fail (err, 400, "missing ?key= or ?prefix=");
    else if (rc == 0 && key && key->len == 0)
        rc = s_fail (err, 400, "key is empty (prefix= watches every key)");
    if (rc == 0) {
        out->prefix = prefix != NULL;
        out->key = prefix ? prefix : key;
        prefix = key = NULL;
    }
    if (rc == 0) {
        int q = s_qnum (qs, len, "from_index", 0, INT64_MAX, &v, err);
        rc = q < 0 ? -1 : 0;
        if (q == 1) {
            out->has_from = true;
            out->from = v;
        }
    }
    if (rc == 0) {
        int q = s_qnum (qs, len, "timeout_ms", 0, HTTP_WATCH_TIMEOUT_MAX_MS, &v,
                        err);
        rc = q < 0 ? -1 : 0;
        if (q == 1)
            out->timeout_ms = (int)v;
    }
    if (rc == 0) {
        int q = s_qnum (qs, len, "limit", 1, HTTP_WATCH_LIMIT_MAX, &v, err);
        rc = q < 0 ? -1 : 0;
        if (q == 1)
            out->limit = (size_t)v;
    }
    if (rc == 0) {
        char *s;
        size_t n;
        int q = http_parse_query_value (qs, len, "stream", 5, &s, &n);
        if (q == -1)
            rc = s_oom (err);
        else if (q != 0) {
            if (q == 1 && (strcmp (s, "true") == 0 || strcmp (s, "1") == 0))
                out->stream = true;
            else if (!(q == 1 &&
                       (strcmp (s, "false") == 0 || strcmp (s, "0") == 0)))
                rc = s_fail (err, 400, "stream must be true or false");
            free (s);
        }
    }
    if (rc == 0 && accept && strstr (accept, "text/event-stream"))
        out->stream = true;
    if (rc == 0 && last_event_id) {
        if (!s_decimal (last_event_id, strlen (last_event_id), 0, INT64_MAX,
                        &v))
            rc = s_fail (err, 400,
                         "Last-Event-ID must be an index (an "
                         "integer >= 0)");
        else {
            out->has_from = true;
            out->from = v;
        }
    }
    raft_buf_unref (key);
    raft_buf_unref (prefix);
    if (rc != 0)
        http_parse_watch_clear (out);
    return rc;
}
