/*  parse_kv.c -- see parse_kv.h.
*/
#include "parse_kv.h"
#include "json.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int
s_oom (http_parse_err_t *err)
{
    s_fail (err, 500, "out of memory");
    err->error = "internal";
    return -1;
}

/* The body as a JSON object (parse.c's rules: valid UTF-8, no duplicate
   names). */
static json_t *
s_object (const void *body, size_t len, http_parse_err_t *err)
{
    if (!json_utf8_valid (body, len)) {
        s_fail (err, 400, "body is not valid UTF-8");
        return NULL;
    }
    json_error_t jerr;
    json_t *j =
        json_loadb (body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!j) {
        s_fail (err, 400, "malformed JSON: %s (at byte %d)", jerr.text,
                jerr.position);
        return NULL;
    }
    if (!json_is_object (j)) {
        json_decref (j);
        s_fail (err, 400, "body must be a JSON object");
        return NULL;
    }
    return j;
}

/* A string member name of o (where: for the detail) as a new buffer in
   *out, at most max bytes (413 beyond); key: 1 byte at least. */
static int
s_buf (json_t *o, const char *name, const char *where, size_t max, bool key,
       raft_buf_t **out, http_parse_err_t *err)
{
    json_t *v = json_object_get (o, name);
    if (!v)
        return s_fail (err, 400, "missing field \"%s\"%s", name, where);
    if (!json_is_string (v))
        return s_fail (err, 400, "field \"%s\"%s must be a string", name,
                       where);
    size_t len = json_string_length (v);
    if (len > max)
        return s_fail (err, 413, "%s%s is longer than %zu bytes", name, where,
                       max);
    if (key && len == 0)
        return s_fail (err, 400, "empty key%s", where);
    *out = raft_buf_new (json_string_value (v), len);
    return *out ? 0 : s_oom (err);
}

/* A non-negative integer (the indexes and versions). */
static int
s_uint (json_t *v, const char *name, uint64_t *out, http_parse_err_t *err)
{
    if (!json_is_integer (v) || json_integer_value (v) < 0)
        return s_fail (err, 400, "field \"%s\" must be an integer >= 0", name);
    *out = (uint64_t)json_integer_value (v);
    return 0;
}

static kvsm_cmp_t *
s_cmp_add (kvsm_cmd_t *cmd)
{
    kvsm_cmp_t *v = realloc (cmd->cmps, (cmd->n_cmps + 1) * sizeof *v);
    if (!v)
        return NULL;
    cmd->cmps = v;
    memset (&v[cmd->n_cmps], 0, sizeof *v);
    return &v[cmd->n_cmps++];
}

int
http_parse_kv_write (const void *body, size_t len,
                     const http_parse_limits_t *lim, bool put, kvsm_cmd_t *out,
                     http_parse_err_t *err)
{
    memset (out, 0, sizeof *out);
    out->version = KVSM_CMD_V2;
    out->op = put ? KVSM_PUT : KVSM_DEL;
    json_t *o = s_object (body, len, err);
    if (!o)
        return -1;
    int rc = s_buf (o, "key", "", lim->max_key, true, &out->key, err);
    if (rc == 0 && put)
        rc = s_buf (o, "value", "", lim->max_value, false, &out->value, err);
    json_t *pv = json_object_get (o, "prev_value");
    json_t *pi = json_object_get (o, "prev_index");
    json_t *pe = json_object_get (o, "prev_exist");
    kvsm_cmp_t *c;
    if (rc == 0 && pv) {
        if (!(c = s_cmp_add (out)))
            rc = s_oom (err);
        else {
            *c = (kvsm_cmp_t){.key = raft_buf_ref (out->key),
                              .target = KVSM_T_VALUE,
                              .op = KVSM_EQ};
            rc = s_buf (o, "prev_value", "", lim->max_value, false, &c->value,
                        err);
        }
    }
    if (rc == 0 && pi) {
        if (!(c = s_cmp_add (out)))
            rc = s_oom (err);
        else {
            *c = (kvsm_cmp_t){.key = raft_buf_ref (out->key),
                              .target = KVSM_T_MOD,
                              .op = KVSM_EQ};
            rc = s_uint (pi, "prev_index", &c->num, err);
        }
    }
    if (rc == 0 && pe) {
        if (!json_is_boolean (pe))
            rc = s_fail (err, 400, "field \"prev_exist\" must be a boolean");
        else if (!(c = s_cmp_add (out)))
            rc = s_oom (err);
        else
            *c = (kvsm_cmp_t){.key = raft_buf_ref (out->key),
                              .target = KVSM_T_EXISTS,
                              .op = KVSM_EQ,
                              .num = json_is_true (pe)};
    }
    json_decref (o);
    if (rc != 0)
        kvsm_cmd_clear (out);
    return rc;
}

/*  ---------------------------------------------------------------------
    /kv/txn                                                              */

static int
s_target (const char *s, kvsm_target_t *t)
{
    for (int i = KVSM_T_VALUE; i <= KVSM_T_EXISTS; i++)
        if (strcmp (s, kvsm_target_name ((kvsm_target_t)i)) == 0) {
            *t = (kvsm_target_t)i;
            return 0;
        }
    return -1;
}

static int
s_compare (json_t *j, size_t i, const http_parse_limits_t *lim, kvsm_cmp_t *c,
           http_parse_err_t *err)
{
    char where[48];
    snprintf (where, sizeof where, " in compare[%zu]", i);
    if (!json_is_object (j))
        return s_fail (err, 400, "compare[%zu] must be an object", i);
    json_t *t = json_object_get (j, "target"), *op = json_object_get (j, "op");
    json_t *v = json_object_get (j, "value");
    if (!json_is_string (t) || s_target (json_string_value (t), &c->target))
        return s_fail (err, 400,
                       "compare[%zu]: \"target\" must be one of \"value\", "
                       "\"version\", \"create_index\", \"mod_index\", "
                       "\"exists\"",
                       i);
    c->op = KVSM_EQ;
    if (op) {
        const char *s = json_is_string (op) ? json_string_value (op) : "";
        c->op = 0;
        for (int k = KVSM_EQ; k <= KVSM_GT; k++)
            if (strcmp (s, kvsm_cmp_op_name ((kvsm_cmp_op_t)k)) == 0)
                c->op = (kvsm_cmp_op_t)k;
        if (!c->op)
            return s_fail (err, 400,
                           "compare[%zu]: \"op\" must be one of \"==\", "
                           "\"!=\", \"<\", \">\"",
                           i);
    }
    if (s_buf (j, "key", where, lim->max_key, true, &c->key, err) != 0)
        return -1;
    if (!v)
        return s_fail (err, 400, "missing field \"value\"%s", where);
    switch (c->target) {
    case KVSM_T_VALUE:
        return s_buf (j, "value", where, lim->max_value, false, &c->value, err);
    case KVSM_T_EXISTS:
        if (!json_is_boolean (v))
            return s_fail (err, 400,
                           "compare[%zu]: \"value\" of exists "
                           "must be a boolean",
                           i);
        c->num = json_is_true (v);
        return 0;
    default: return s_uint (v, "value", &c->num, err);
    }
}

/* One op of a branch ({"put": {...}} and so on) into *d. */
static int
s_op (json_t *j, const char *list, size_t i, const http_parse_limits_t *lim,
      kvsm_txn_op_t *d, http_parse_err_t *err)
{
    char where[48];
    snprintf (where, sizeof where, " in %s[%zu]", list, i);
    json_t *a;
    if (!json_is_object (j) || json_object_size (j) != 1)
        return s_fail (err, 400,
                       "%s[%zu] must be one of {\"put\": {...}}, "
                       "{\"delete\": {...}}, {\"get\": {...}}",
                       list, i);
    if ((a = json_object_get (j, "put")))
        d->op = KVSM_PUT;
    else if ((a = json_object_get (j, "delete")))
        d->op = KVSM_DEL;
    else if ((a = json_object_get (j, "get")))
        d->op = KVSM_GET;
    else
        return s_fail (err, 400, "%s[%zu]: unknown op (put, delete, get)", list,
                       i);
    if (!json_is_object (a))
        return s_fail (err, 400,
                       "%s[%zu]: the op's argument must be an "
                       "object",
                       list, i);
    if (s_buf (a, "key", where, lim->max_key, true, &d->key, err) != 0)
        return -1;
    if (d->op == KVSM_PUT)
        return s_buf (a, "value", where, lim->max_value, false, &d->value, err);
    return 0;
}

/* A member that must be an array of at most max (absent: empty). */
static int
s_list (json_t *o, const char *name, size_t max, json_t **out,
        http_parse_err_t *err)
{
    *out = json_object_get (o, name);
    if (!*out)
        return 0;
    if (!json_is_array (*out))
        return s_fail (err, 400, "field \"%s\" must be an array", name);
    if (json_array_size (*out) > max)
        return s_fail (err, 400, "too many entries in \"%s\" (at most %zu)",
                       name, max);
    return 0;
}

int
http_parse_txn (const void *body, size_t len, const http_parse_limits_t *lim,
                kvsm_cmd_t *out, http_parse_err_t *err)
{
    memset (out, 0, sizeof *out);
    out->version = KVSM_CMD_V2;
    out->op = KVSM_TXN;
    json_t *o = s_object (body, len, err);
    if (!o)
        return -1;
    json_t *cmps = NULL, *succ = NULL, *fail = NULL;
    int rc = s_list (o, "compare", KVSM_TXN_MAX_CMPS, &cmps, err);
    if (rc == 0)
        rc = s_list (o, "success", KVSM_TXN_MAX_OPS, &succ, err);
    if (rc == 0)
        rc = s_list (o, "failure", KVSM_TXN_MAX_OPS, &fail, err);
    size_t nc = cmps ? json_array_size (cmps) : 0;
    size_t ns = succ ? json_array_size (succ) : 0;
    size_t nf = fail ? json_array_size (fail) : 0;
    if (rc == 0) {
        out->cmps = calloc (nc ? nc : 1, sizeof *out->cmps);
        out->ops = calloc (ns + nf ? ns + nf : 1, sizeof *out->ops);
        if (!out->cmps || !out->ops) {
            rc = s_oom (err);
        } else {
            /* zeroed: kvsm_cmd_clear frees whatever was filled */
            out->n_cmps = nc;
            out->n_success = ns;
            out->n_failure = nf;
        }
    }
    for (size_t i = 0; rc == 0 && i < nc; i++)
        rc = s_compare (json_array_get (cmps, i), i, lim, &out->cmps[i], err);
    for (size_t i = 0; rc == 0 && i < ns; i++)
        rc = s_op (json_array_get (succ, i), "success", i, lim, &out->ops[i],
                   err);
    for (size_t i = 0; rc == 0 && i < nf; i++)
        rc = s_op (json_array_get (fail, i), "failure", i, lim,
                   &out->ops[ns + i], err);
    json_decref (o);
    if (rc != 0)
        kvsm_cmd_clear (out);
    return rc;
}

/*  ---------------------------------------------------------------------
    /kv/range                                                            */

void
http_parse_range_clear (http_parse_range_t *r)
{
    raft_buf_unref (r->start);
    raft_buf_unref (r->end);
    r->start = r->end = NULL;
}

/* name=true|1|false|0 into *v (absent: false). */
static int
s_qbool (const char *qs, size_t len, const char *name, bool *v,
         http_parse_err_t *err)
{
    char *s;
    size_t n;
    int rc = http_parse_query_value (qs, len, name, 5, &s, &n);
    *v = false;
    if (rc == 0)
        return 0;
    if (rc == 1 && (strcmp (s, "true") == 0 || strcmp (s, "1") == 0))
        *v = true;
    else if (!(rc == 1 && (strcmp (s, "false") == 0 || strcmp (s, "0") == 0)))
        rc = -2;
    free (s);
    return rc == -1   ? s_oom (err)
           : rc == -2 ? s_fail (err, 400, "%s must be true or false", name)
                      : 0;
}

/* name=... as a new buffer in *out (NULL when absent), at most max
   bytes. */
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

/* The first key after every key that starts with p: p with its last
   byte below 0xff incremented and what follows cut; NULL (no end) when
   every byte is 0xff or p is empty. */
static raft_buf_t *
s_prefix_end (const raft_buf_t *p, bool *none)
{
    size_t n = p->len;
    while (n && p->data[n - 1] == 0xff)
        n--;
    *none = n == 0;
    if (*none)
        return NULL;
    raft_buf_t *e = raft_buf_new (p->data, n);
    if (e)
        e->data[n - 1]++;
    return e;
}

static int
s_hexval (char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
}

int
http_parse_range_query (const char *qs, size_t len,
                        const http_parse_limits_t *lim, http_parse_range_t *out,
                        http_parse_err_t *err)
{
    memset (out, 0, sizeof *out);
    out->limit = HTTP_RANGE_DEFAULT;
    raft_buf_t *prefix = NULL, *token = NULL;
    char *num = NULL;
    size_t nlen;
    int rc = s_qbuf (qs, len, "prefix", lim->max_key, &prefix, err);
    if (rc == 0)
        rc = s_qbuf (qs, len, "start", lim->max_key, &out->start, err);
    if (rc == 0)
        rc = s_qbuf (qs, len, "end", lim->max_key, &out->end, err);
    /* the token: hex of a key (+ 1 byte), so twice as long */
    if (rc == 0)
        rc = s_qbuf (qs, len, "continue", 2 * lim->max_key + 2, &token, err);
    if (rc == 0)
        rc = s_qbool (qs, len, "keys_only", &out->keys_only, err);
    if (rc == 0)
        rc = s_qbool (qs, len, "stale", &out->stale, err);
    if (rc == 0) {
        int q = http_parse_query_value (qs, len, "limit", 8, &num, &nlen);
        char *endp = NULL;
        long v = q == 1 ? strtol (num, &endp, 10) : HTTP_RANGE_DEFAULT;
        if (q == -1)
            rc = s_oom (err);
        else if (q != 0 &&
                 (q == -2 || !nlen || *endp || v < 1 || v > HTTP_RANGE_MAX))
            rc = s_fail (err, 400, "limit must be an integer in 1..%d",
                         HTTP_RANGE_MAX);
        else
            out->limit = (size_t)v;
    }
    if (rc == 0 && prefix && (out->start || out->end))
        rc = s_fail (err, 400, "give prefix, or start and end, not both");
    else if (rc == 0 && !prefix && !out->start)
        rc = s_fail (err, 400, "missing ?prefix= or ?start=");
    else if (rc == 0 && prefix) {
        bool none;
        out->start = raft_buf_ref (prefix);
        out->end = s_prefix_end (prefix, &none);
        if (!out->end && !none)
            rc = s_oom (err);
    }
    if (rc == 0 && token) {
        /* go on from the key the token names, inside this range */
        raft_buf_t *from = raft_buf_new (token->data, token->len / 2);
        bool ok = from && token->len % 2 == 0;
        for (size_t i = 0; ok && i < from->len; i++) {
            int hi = s_hexval ((char)token->data[2 * i]);
            int lo = s_hexval ((char)token->data[2 * i + 1]);
            ok = hi >= 0 && lo >= 0;
            if (ok)
                from->data[i] = (uint8_t)(hi << 4 | lo);
        }
        size_t m =
            ok && from->len < out->start->len ? from->len : out->start->len;
        ok = ok && (memcmp (from->data, out->start->data, m) > 0 ||
                    (memcmp (from->data, out->start->data, m) == 0 &&
                     from->len >= out->start->len));
        if (!ok) {
            raft_buf_unref (from);
            rc = s_fail (err, 400, "continue is not a token of this range");
        } else {
            raft_buf_unref (out->start);
            out->start = from;
        }
    }
    raft_buf_unref (prefix);
    raft_buf_unref (token);
    free (num);
    if (rc != 0)
        http_parse_range_clear (out);
    return rc;
}
