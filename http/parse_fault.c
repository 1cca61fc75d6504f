/*  parse_fault.c -- see parse_fault.h.
*/
#include "parse_fault.h"

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

static const struct {
    const char *name;
    fault_action_t action;
    const char *fields; /* the fields it takes besides "action" */
} s_actions[] = {
    {"isolate", FAULT_ISOLATE, ""},
    {"drop", FAULT_DROP, " peer direction "},
    {"delay", FAULT_DELAY, " ms peer "},
    {"slow_fsync", FAULT_SLOW_FSYNC, " ms "},
    {"clear", FAULT_CLEAR, ""},
};

/* An integer field in [min, max]: 1 with *out, 0 absent, -1 (err). */
static int
s_int (json_t *o, const char *name, json_int_t min, json_int_t max,
       json_int_t *out, http_parse_err_t *err)
{
    json_t *v = json_object_get (o, name);
    if (!v)
        return 0;
    if (!json_is_integer (v) || json_integer_value (v) < min ||
        json_integer_value (v) > max)
        return s_fail (err, "\"%s\" must be an integer in [%lld, %lld]", name,
                       (long long)min, (long long)max);
    *out = json_integer_value (v);
    return 1;
}

static int
s_fields (json_t *o, const char *action, const char *fields,
          http_parse_err_t *err)
{
    const char *k;
    json_t *v;
    json_object_foreach (o, k, v)
    {
        char want[40];
        snprintf (want, sizeof want, " %s ", k);
        if (strcmp (k, "action") != 0 &&
            (strlen (k) > 30 || strchr (k, ' ') || !strstr (fields, want)))
            return s_fail (err, "action \"%s\" takes no field \"%.30s\"",
                           action, k);
    }
    return 0;
}

static int
s_cmd (json_t *o, fault_cmd_t *out, http_parse_err_t *err)
{
    json_t *a = json_object_get (o, "action");
    if (!a)
        return s_fail (err, "missing field \"action\"");
    if (!json_is_string (a))
        return s_fail (err, "\"action\" must be a string");
    const char *name = json_string_value (a);
    size_t i = 0, n = sizeof s_actions / sizeof s_actions[0];
    while (i < n && (json_string_length (a) != strlen (s_actions[i].name) ||
                     strcmp (name, s_actions[i].name) != 0))
        i++;
    if (i == n)
        return s_fail (err, "unknown action; one of isolate, drop, delay, "
                            "slow_fsync, clear");
    out->action = s_actions[i].action;
    if (s_fields (o, s_actions[i].name, s_actions[i].fields, err) != 0)
        return -1;
    json_int_t peer = 0, ms = 0;
    int has_peer = s_int (o, "peer", 1, INT64_MAX, &peer, err);
    int has_ms = s_int (o, "ms", out->action == FAULT_SLOW_FSYNC ? 0 : 1,
                        FAULT_MAX_MS, &ms, err);
    if (has_peer < 0 || has_ms < 0)
        return -1;
    out->peer = (raft_id_t)peer;
    out->ms = (uint32_t)ms;
    if (out->action == FAULT_DROP) {
        if (!has_peer)
            return s_fail (err, "drop needs \"peer\" (a member's id)");
        json_t *d = json_object_get (o, "direction");
        const char *dn = json_is_string (d) ? json_string_value (d) : "";
        out->dir = strcmp (dn, "out") == 0    ? FAULT_DIR_OUT
                   : strcmp (dn, "in") == 0   ? FAULT_DIR_IN
                   : strcmp (dn, "both") == 0 ? FAULT_DIR_BOTH
                                              : 0;
        if (!out->dir ||
            json_string_length (d) != strlen (fault_dir_name (out->dir)))
            return s_fail (err, "drop needs \"direction\": \"out\", \"in\" "
                                "or \"both\"");
    }
    if ((out->action == FAULT_DELAY || out->action == FAULT_SLOW_FSYNC) &&
        !has_ms)
        return s_fail (err, "%s needs \"ms\"", s_actions[i].name);
    return 0;
}

int
http_parse_fault (const void *body, size_t len, fault_cmd_t *out,
                  http_parse_err_t *err)
{
    memset (out, 0, sizeof *out);
    if (!json_utf8_valid (body, len))
        return s_fail (err, "body is not valid UTF-8");
    json_error_t jerr;
    json_t *o =
        json_loadb (body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!o)
        return s_fail (err, "malformed JSON: %s (at byte %d)", jerr.text,
                       jerr.position);
    int rc = json_is_object (o) ? s_cmd (o, out, err)
                                : s_fail (err, "body must be a JSON object");
    json_decref (o);
    if (rc != 0)
        memset (out, 0, sizeof *out);
    return rc;
}
