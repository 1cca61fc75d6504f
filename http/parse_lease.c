/*  parse_lease.c -- see parse_lease.h.
*/
#include "parse_lease.h"

#include "json.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Member name of o as an integer in [min, max] (where: for the detail):
   0, 1 when absent (*out untouched), -1. */
static int
s_uint (json_t *o, const char *name, const char *where, uint64_t min,
        uint64_t max, uint64_t *out, http_parse_err_t *err)
{
    json_t *v = json_object_get (o, name);
    if (!v)
        return 1;
    if (!json_is_integer (v) || json_integer_value (v) < (json_int_t)min ||
        (uint64_t)json_integer_value (v) > max)
        return s_fail (err, "field \"%s\"%s must be an integer in %llu..%llu",
                       name, where, (unsigned long long)min,
                       (unsigned long long)max);
    *out = (uint64_t)json_integer_value (v);
    return 0;
}

int
http_parse_lease_grant (const void *body, size_t len, uint64_t *ttl_s,
                        http_parse_err_t *err)
{
    json_t *o = s_object (body, len, err);
    if (!o)
        return -1;
    int rc = s_uint (o, "ttl", "", 1, HTTP_LEASE_TTL_MAX_S, ttl_s, err);
    json_decref (o);
    if (rc == 1)
        return s_fail (err, "field \"ttl\" (seconds) is required");
    return rc;
}

int
http_parse_lease_id (const void *body, size_t len, uint64_t *id,
                     http_parse_err_t *err)
{
    json_t *o = s_object (body, len, err);
    if (!o)
        return -1;
    int rc = s_uint (o, "id", "", 1, INT64_MAX, id, err);
    json_decref (o);
    if (rc == 1)
        return s_fail (err, "field \"id\" is required");
    return rc;
}

int
http_parse_lease_query (const char *qs, size_t len, uint64_t *id,
                        http_parse_err_t *err)
{
    char *v = NULL;
    size_t vlen = 0;
    int rc = qs ? http_parse_query_value (qs, len, "id", 24, &v, &vlen) : 0;
    if (rc == -1) {
        err->status = 500;
        err->error = "internal";
        snprintf (err->detail, sizeof err->detail, "out of memory");
        return -1;
    }
    if (rc == 0)
        return s_fail (err, "query parameter id is required");
    bool ok =
        rc == 1 && vlen > 0 && vlen <= 19 && strspn (v, "0123456789") == vlen;
    uint64_t n = ok ? strtoull (v, NULL, 10) : 0;
    free (v);
    if (!ok || n == 0 || n > INT64_MAX)
        return s_fail (err, "id must be a lease id (an integer >= 1)");
    *id = n;
    return 0;
}

/* The ops of one TXN branch (list, ops[0..n) of cmd->ops from off). */
static int
s_branch (json_t *o, const char *list, kvsm_txn_op_t *ops, size_t n,
          uint64_t *first, http_parse_err_t *err)
{
    json_t *a = json_object_get (o, list);
    for (size_t i = 0; json_is_array (a) && i < n; i++) {
        json_t *op = json_array_get (a, i);
        json_t *arg = NULL;
        const char *name = NULL;
        const char *names[] = {"put", "delete", "get"};
        for (size_t k = 0; k < 3 && !arg; k++)
            if ((arg = json_object_get (op, names[k])))
                name = names[k];
        if (!json_is_object (arg) || !json_object_get (arg, "lease"))
            continue;
        char where[48];
        snprintf (where, sizeof where, " in %s[%zu]", list, i);
        if (strcmp (name, "put") != 0)
            return s_fail (err, "\"lease\"%s: only a put takes a lease", where);
        if (s_uint (arg, "lease", where, 1, INT64_MAX, &ops[i].lease, err) < 0)
            return -1;
        if (!*first)
            *first = ops[i].lease;
    }
    return 0;
}

int
http_parse_lease_fields (const void *body, size_t len, kvsm_cmd_t *cmd,
                         uint64_t *first, http_parse_err_t *err)
{
    *first = 0;
    json_t *o = s_object (body, len, err);
    if (!o)
        return -1;
    int rc = 0;
    if (cmd->op == KVSM_TXN) {
        rc = s_branch (o, "success", cmd->ops, cmd->n_success, first, err);
        if (rc == 0)
            rc = s_branch (o, "failure", cmd->ops + cmd->n_success,
                           cmd->n_failure, first, err);
    } else if (json_object_get (o, "lease")) {
        if (cmd->op != KVSM_PUT)
            rc = s_fail (err, "only a put takes a lease");
        else if (s_uint (o, "lease", "", 1, INT64_MAX, &cmd->lease, err) < 0)
            rc = -1;
        else
            *first = cmd->lease;
    }
    json_decref (o);
    if (rc == 0 && *first)
        cmd->version = 0; /* the encoder writes a lease command as 4 */
    return rc;
}
