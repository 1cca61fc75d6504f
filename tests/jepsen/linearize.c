/*  linearize.c -- see linearize.h: the history split per key, each key's
    values named and its operations prepared for the Wing-Gong-Lowe search
    (lin_search.c), the verdicts gathered.
*/
#include "lin_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int
s_str_cmp (const void *a, const void *b)
{
    return strcmp (*(const char *const *)a, *(const char *const *)b);
}

/* The id of value v among the sorted values[0..n), or -1. */
static int64_t
s_value_id (const char **values, size_t n, const char *v)
{
    const char **p = bsearch (&v, values, n, sizeof *values, s_str_cmp);
    return p ? p - values : -1;
}

/* One key: its operations are src[0..n). */
static lin_verdict_t
s_check_key (const char *key, const lin_op_t *const *src, size_t n,
             const lin_opts_t *opts, lin_result_t *res)
{
    lin_verdict_t verdict = LIN_UNKNOWN;
    const char **values = calloc (n + 1, sizeof *values);
    lin_key_op_t *ops = calloc (n + 1, sizeof *ops);
    if (!values || !ops)
        goto out;
    /* the values that may be read: those of ok and info PUTs */
    size_t n_values = 0;
    for (size_t i = 0; i < n; i++)
        if (src[i]->kind == LIN_PUT && src[i]->outcome != LIN_FAIL)
            values[n_values++] = src[i]->value;
    qsort (values, n_values, sizeof *values, s_str_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n_values; i++)
        if (u == 0 || strcmp (values[u - 1], values[i]) != 0)
            values[u++] = values[i];
    n_values = u;

    /* what the reads saw, so that unobserved info writes can be dropped */
    bool *seen = calloc (n_values + 1, sizeof *seen);
    int64_t *seen_by = calloc (n_values + 1, sizeof *seen_by);
    if (!seen || !seen_by) {
        free (seen);
        free (seen_by);
        goto out;
    }
    int64_t last_absent_read = -1; /* latest completion of a not-found */
    for (size_t i = 0; i < n; i++) {
        const lin_op_t *o = src[i];
        if (o->kind != LIN_GET || o->outcome != LIN_OK)
            continue;
        if (!o->value) {
            if (o->complete > last_absent_read)
                last_absent_read = o->complete;
            continue;
        }
        int64_t id = s_value_id (values, n_values, o->value);
        if (id < 0) {
            bool failed = false;
            for (size_t j = 0; j < n; j++)
                if (src[j]->kind == LIN_PUT && src[j]->outcome == LIN_FAIL &&
                    strcmp (src[j]->value, o->value) == 0)
                    failed = true;
            if (opts->report) {
                fprintf (opts->report, "key %s: NOT LINEARIZABLE\n  ", key);
                lin_describe (opts->report, o);
                fprintf (opts->report, "\n  read a value %s\n",
                         failed ? "only a write that definitely failed wrote"
                                : "no write of this key wrote");
            }
            if (res->first_violation < 0 || o->invoke < res->first_violation)
                res->first_violation = o->invoke;
            free (seen);
            free (seen_by);
            verdict = LIN_VIOLATION;
            goto out;
        }
        if (!seen[id] || o->complete < seen_by[id])
            seen_by[id] = o->complete;
        seen[id] = true;
    }

    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const lin_op_t *o = src[i];
        lin_key_op_t op = {.src = o,
                           .kind = o->kind,
                           .ok = o->outcome == LIN_OK,
                           .complete = o->complete};
        if (o->outcome == LIN_FAIL)
            continue; /* never took effect */
        if (o->outcome == LIN_INFO) {
            bool drop = o->kind == LIN_GET; /* says nothing */
            if (o->kind == LIN_PUT)
                drop = !seen[s_value_id (values, n_values, o->value)];
            if (o->kind == LIN_DEL)
                drop = last_absent_read < o->invoke;
            if (drop) {
                res->dropped++;
                continue;
            }
        }
        if (o->kind == LIN_PUT)
            op.arg = s_value_id (values, n_values, o->value);
        if (o->kind == LIN_PUT && o->outcome == LIN_INFO) {
            /* A read returned this value, and values are unique: the write
               took effect, before the first read that saw it completed. It
               is then an ok operation that "returned" at that time -- the
               same set of linearizations, and far fewer for the search to
               try than an operation that may happen at any later time. */
            op.ok = true;
            op.complete = seen_by[op.arg];
            if (op.complete < o->invoke)
                op.complete = o->invoke; /* the search then rejects it */
        } else if (o->kind == LIN_GET)
            op.arg =
                o->value ? s_value_id (values, n_values, o->value) : LIN_ABSENT;
        ops[m++] = op;
    }
    free (seen);
    free (seen_by);
    if (m > res->max_key_ops)
        res->max_key_ops = m;
    lin_key_t k = {.key = key, .opts = opts, .res = res, .values = values};
    verdict = lin_search (&k, ops, m);
out:
    free (values);
    free (ops);
    return verdict;
}

static int
s_op_cmp (const void *a, const void *b)
{
    const lin_op_t *x = *(const lin_op_t *const *)a;
    const lin_op_t *y = *(const lin_op_t *const *)b;
    int c = strcmp (x->key, y->key);
    if (c)
        return c;
    return x->invoke < y->invoke ? -1 : x->invoke > y->invoke;
}

lin_verdict_t
lin_check (const lin_history_t *h, const lin_opts_t *opts, lin_result_t *res)
{
    struct timespec t0, t1;
    if (sodium_init () < 0)
        return LIN_UNKNOWN;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    memset (res, 0, sizeof *res);
    res->first_violation = -1;
    lin_verdict_t worst = LIN_LINEARIZABLE;
    const lin_op_t **by_key = calloc (h->n + 1, sizeof *by_key);
    if (!by_key)
        return LIN_UNKNOWN;
    for (size_t i = 0; i < h->n; i++) {
        by_key[i] = &h->ops[i];
        res->ops++;
        switch (h->ops[i].outcome) {
        case LIN_OK: res->ok++; break;
        case LIN_FAIL: res->fail++; break;
        case LIN_INFO: res->info++; break;
        }
    }
    qsort (by_key, h->n, sizeof *by_key, s_op_cmp);
    for (size_t i = 0; i < h->n;) {
        size_t j = i;
        while (j < h->n && strcmp (by_key[j]->key, by_key[i]->key) == 0)
            j++;
        res->keys++;
        lin_verdict_t v =
            s_check_key (by_key[i]->key, by_key + i, j - i, opts, res);
        if (v == LIN_VIOLATION)
            res->keys_bad++;
        if (v == LIN_UNKNOWN)
            res->keys_unknown++;
        if (v == LIN_VIOLATION ||
            (v == LIN_UNKNOWN && worst == LIN_LINEARIZABLE))
            worst = v;
        i = j;
    }
    free (by_key);
    clock_gettime (CLOCK_MONOTONIC, &t1);
    res->seconds = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    return worst;
}

int
lin_history_add (lin_history_t *h, const lin_op_t *op)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 256;
        lin_op_t *ops = realloc (h->ops, cap * sizeof *ops);
        if (!ops)
            return -1;
        h->ops = ops;
        h->cap = cap;
    }
    lin_op_t *o = &h->ops[h->n];
    *o = *op;
    o->key = strdup (op->key ? op->key : "");
    o->value = op->value ? strdup (op->value) : NULL;
    if (!o->key || (op->value && !o->value)) {
        free (o->key);
        free (o->value);
        return -1;
    }
    h->n++;
    return 0;
}

void
lin_history_free (lin_history_t *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free (h->ops[i].key);
        free (h->ops[i].value);
    }
    free (h->ops);
    memset (h, 0, sizeof *h);
}
