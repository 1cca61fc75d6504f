/*  history.c -- the history file: JSON lines, one completed operation per
    line, written by the workload (workload.c) and read by the checker.

      {"process": 3, "op": "put", "key": "jk1.4", "value": "p3-17",
       "invoke": 1234567, "complete": 1300000, "outcome": "ok",
       "status": 200, "node": "127.0.0.1:17001", "error": null}

    process   the client thread (int >= 0); one operation at a time each
    op        "put" | "get" | "delete" | "cas"
    key       the key (non-empty string)
    value     put, cas: the value written (unique in the run);
              get: the value read, null for not found (ok gets only);
              delete: absent or null
    prev      cas: the value it compared against (a string), or null for
              "the key must not exist" (prev_exist false); a prev_index
              CAS names the value the client read with that mod_index
              (values are unique, so the index names that write)
    swapped   cas, ok only: true (200, it wrote value) or false (412
              compare_failed: it wrote nothing and found current)
    current   cas, ok, not swapped: the 412's current value, null for none
    invoke    ns since the run's start, taken before the request was sent
    complete  ns, taken after the answer arrived; absent or null for info
    outcome   "ok" | "fail" (never took effect) | "info" (indeterminate)
    status, node, error, prev_index, index, follower: what the node
              answered and where, for people; ignored here.

    Blank lines and lines starting with '#' are skipped (the workload
    writes nemesis events as comments).
*/
#include "linearize.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#define S_FAIL(...)                                                            \
    do {                                                                       \
        snprintf (err, err_len, __VA_ARGS__);                                  \
        goto fail;                                                             \
    } while (0)

/* A CAS's own fields (see the top): prev, and for an ok one swapped and
   current. The strings stay in j. */
static int
s_parse_cas (json_t *j, lin_op_t *op, char *why, size_t why_len)
{
    json_t *pr = json_object_get (j, "prev");
    json_t *sw = json_object_get (j, "swapped");
    json_t *cur = json_object_get (j, "current");
    if (!pr || (!json_is_string (pr) && !json_is_null (pr))) {
        snprintf (why, why_len, "a cas needs \"prev\": a string or null");
        return -1;
    }
    op->prev = (char *)json_string_value (pr);
    if (op->outcome != LIN_OK)
        return 0;
    if (!json_is_boolean (sw)) {
        snprintf (why, why_len, "an ok cas needs \"swapped\": true or false");
        return -1;
    }
    op->swapped = json_is_true (sw);
    if (op->swapped)
        return 0;
    if (!cur || (!json_is_string (cur) && !json_is_null (cur))) {
        snprintf (why, why_len,
                  "a cas that did not swap needs \"current\": a string or "
                  "null");
        return -1;
    }
    op->current = (char *)json_string_value (cur);
    return 0;
}

/* Parse one line into op and append it to h (the strings are copied
   before the JSON they live in goes). */
static int
s_parse_line (lin_history_t *h, lin_op_t *op, const char *text, char *why,
              size_t why_len)
{
    json_error_t je;
    json_t *j = json_loads (text, JSON_REJECT_DUPLICATES, &je);
    int rc = -1;
    if (!j || !json_is_object (j)) {
        snprintf (why, why_len, "not a JSON object%s%s", j ? "" : ": ",
                  j ? "" : je.text);
        goto out;
    }
    json_t *p = json_object_get (j, "process");
    json_t *o = json_object_get (j, "op");
    json_t *k = json_object_get (j, "key");
    json_t *v = json_object_get (j, "value");
    json_t *inv = json_object_get (j, "invoke");
    json_t *cmp = json_object_get (j, "complete");
    json_t *out = json_object_get (j, "outcome");
    if (!json_is_integer (p) || json_integer_value (p) < 0 ||
        json_integer_value (p) > 1000000) {
        snprintf (why, why_len, "\"process\" must be an integer >= 0");
        goto out;
    }
    op->process = (int)json_integer_value (p);
    const char *os = json_string_value (o);
    if (!os || (strcmp (os, "put") && strcmp (os, "get") &&
                strcmp (os, "delete") && strcmp (os, "cas"))) {
        snprintf (why, why_len,
                  "\"op\" must be \"put\", \"get\", \"delete\" or "
                  "\"cas\"");
        goto out;
    }
    op->kind = os[0] == 'p'   ? LIN_PUT
               : os[0] == 'g' ? LIN_GET
               : os[0] == 'c' ? LIN_CAS
                              : LIN_DEL;
    const char *ks = json_string_value (k);
    if (!ks || !*ks) {
        snprintf (why, why_len, "\"key\" must be a non-empty string");
        goto out;
    }
    const char *outs = json_string_value (out);
    if (!outs || (strcmp (outs, "ok") && strcmp (outs, "fail") &&
                  strcmp (outs, "info"))) {
        snprintf (why, why_len,
                  "\"outcome\" must be \"ok\", \"fail\" or \"info\"");
        goto out;
    }
    op->outcome = outs[0] == 'o'   ? LIN_OK
                  : outs[0] == 'f' ? LIN_FAIL
                                   : LIN_INFO;
    if (!json_is_integer (inv) || json_integer_value (inv) < 0) {
        snprintf (why, why_len, "\"invoke\" must be an integer >= 0 (ns)");
        goto out;
    }
    op->invoke = json_integer_value (inv);
    if (op->outcome != LIN_INFO) {
        if (!json_is_integer (cmp) || json_integer_value (cmp) < op->invoke) {
            snprintf (why, why_len,
                      "\"complete\" must be an integer >= \"invoke\"");
            goto out;
        }
        op->complete = json_integer_value (cmp);
    }
    if ((op->kind == LIN_PUT || op->kind == LIN_CAS) && !json_is_string (v)) {
        snprintf (why, why_len, "a %s needs a string \"value\"", os);
        goto out;
    }
    if (op->kind == LIN_CAS && s_parse_cas (j, op, why, why_len) != 0)
        goto out;
    if (op->kind == LIN_GET && op->outcome == LIN_OK && v &&
        !json_is_string (v) && !json_is_null (v)) {
        snprintf (why, why_len, "a get's \"value\" is a string or null");
        goto out;
    }
    op->key = (char *)ks;
    op->value =
        (op->kind == LIN_DEL || (op->kind == LIN_GET && op->outcome != LIN_OK))
            ? NULL
            : (char *)json_string_value (v);
    rc = lin_history_add (h, op);
    if (rc != 0)
        snprintf (why, why_len, "out of memory");
out:
    json_decref (j);
    return rc;
}

int
lin_history_load (lin_history_t *h, const char *path, char *err, size_t err_len)
{
    char *line = NULL;
    size_t cap = 0, no = 0;
    FILE *f = fopen (path, "r");
    if (!f)
        S_FAIL ("%s: %s", path, strerror (errno));
    ssize_t len;
    while ((len = getline (&line, &cap, f)) >= 0) {
        no++;
        if ((size_t)len != strlen (line))
            S_FAIL ("%s:%zu: a NUL byte in the line", path, no);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (len == 0 || line[0] == '#')
            continue;
        lin_op_t op = {.line = no};
        char why[256];
        if (s_parse_line (h, &op, line, why, sizeof why) != 0)
            S_FAIL ("%s:%zu: %s", path, no, why);
    }
    if (ferror (f))
        S_FAIL ("%s: read error", path);
    free (line);
    fclose (f);
    return 0;
fail:
    free (line);
    if (f)
        fclose (f);
    return -1;
}
