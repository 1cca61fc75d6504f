/*  linearize.c -- see linearize.h: the history split per key, each key's
    values named and its operations prepared for the Wing-Gong-Lowe search
    (lin_search.c), the verdicts gathered.
*/
#include "lin_int.h"

#include <sodium.h>
#include <stdint.h>
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

/* Did op (not failed) write its value, or may it have? PUTs, and CASes
   but those answered 412. */
static bool
s_writes (const lin_op_t *o)
{
    return o->outcome != LIN_FAIL &&
           (o->kind == LIN_PUT ||
            (o->kind == LIN_CAS && (o->outcome == LIN_INFO || o->swapped)));
}

/* What op observed, if it definitely completed: a GET the value it read,
   a 412 CAS the current value, a CAS that swapped its prev. *v is that
   value (NULL: nothing). False if op observed nothing. */
static bool
s_observed (const lin_op_t *o, const char **v)
{
    if (o->outcome != LIN_OK)
        return false;
    if (o->kind == LIN_GET)
        *v = o->value;
    else if (o->kind == LIN_CAS)
        *v = o->swapped ? o->prev : o->current;
    else
        return false;
    return true;
}

/* The per-key tables of s_check_key. */
typedef struct {
    const char **values; /* value id -> string, sorted */
    size_t n_values;
    bool *seen;          /* a value observed by a definite op or a kept CAS */
    int64_t *seen_by;    /* the earliest completion of a definite observer */
    int64_t absent_read; /* the latest completion of an observed nothing */
} s_key_t;

static int64_t
s_id (const s_key_t *t, const char *v)
{
    return v ? s_value_id (t->values, t->n_values, v) : LIN_ABSENT;
}

/* Is the info op o searched? An info GET says nothing; an info write
   whose value nothing observed is left out (see linearize.h), and an info
   DELETE unless a nothing was observed after its invocation. */
static bool
s_info_kept (const s_key_t *t, const lin_op_t *o)
{
    if (o->kind == LIN_GET)
        return false;
    if (o->kind == LIN_DEL)
        return t->absent_read >= o->invoke;
    return t->seen[s_id (t, o->value)];
}

/* A definite read of a value no write wrote: said at once. */
static void
s_report_unwritten (const char *key, const lin_op_t *const *src, size_t n,
                    const lin_op_t *o, const char *v, const lin_opts_t *opts,
                    lin_result_t *res)
{
    bool failed = false, refused = false;
    for (size_t j = 0; j < n; j++) {
        const lin_op_t *w = src[j];
        if ((w->kind == LIN_PUT || w->kind == LIN_CAS) &&
            w->outcome == LIN_FAIL && strcmp (w->value, v) == 0)
            failed = true;
        if (w->kind == LIN_CAS && w->outcome == LIN_OK && !w->swapped &&
            strcmp (w->value, v) == 0)
            refused = true;
    }
    if (opts->report) {
        fprintf (opts->report, "key %s: NOT LINEARIZABLE\n  ", key);
        lin_describe (opts->report, o);
        fprintf (opts->report, "\n  %s a value %s\n",
                 o->kind == LIN_GET ? "read"
                 : o->swapped       ? "swapped against"
                                    : "found",
                 refused  ? "only a CAS answered 412 (it wrote nothing) "
                            "carried: replicas disagree on that CAS"
                 : failed ? "only a write that definitely failed wrote"
                          : "no write of this key wrote");
    }
    if (res->first_violation < 0 || o->invoke < res->first_violation)
        res->first_violation = o->invoke;
}

/* One key: its operations are src[0..n). */
static lin_verdict_t
s_check_key (const char *key, const lin_op_t *const *src, size_t n,
             const lin_opts_t *opts, lin_result_t *res)
{
    lin_verdict_t verdict = LIN_UNKNOWN;
    s_key_t t = {.absent_read = -1};
    t.values = calloc (n + 1, sizeof *t.values);
    t.seen = calloc (n + 1, sizeof *t.seen);
    t.seen_by = calloc (n + 1, sizeof *t.seen_by);
    lin_key_op_t *ops = calloc (n + 1, sizeof *ops);
    if (!t.values || !t.seen || !t.seen_by || !ops)
        goto out;
    /* the values that may be read: those of ok and info writes */
    for (size_t i = 0; i < n; i++)
        if (s_writes (src[i]))
            t.values[t.n_values++] = src[i]->value;
    qsort (t.values, t.n_values, sizeof *t.values, s_str_cmp);
    size_t u = 0;
    for (size_t i = 0; i < t.n_values; i++)
        if (u == 0 || strcmp (t.values[u - 1], t.values[i]) != 0)
            t.values[u++] = t.values[i];
    t.n_values = u;

    /* what the definite operations observed, so that unobserved info
       writes can be dropped and observed ones given a completion */
    for (size_t i = 0; i < n; i++) {
        const lin_op_t *o = src[i];
        const char *v;
        if (!s_observed (o, &v))
            continue;
        if (!v) {
            if (o->complete > t.absent_read)
                t.absent_read = o->complete;
            continue;
        }
        int64_t id = s_id (&t, v);
        if (id < 0) {
            s_report_unwritten (key, src, n, o, v, opts, res);
            verdict = LIN_VIOLATION;
            goto out;
        }
        if (!t.seen[id] || o->complete < t.seen_by[id])
            t.seen_by[id] = o->complete;
        t.seen[id] = true;
    }
    /* A kept info CAS observed its prev when it took effect (at no known
       time): the write of prev is kept too, and so on, to a fixed point
       (each round keeps at least one more CAS, so at most n rounds). */
    for (bool more = true; more;) {
        more = false;
        for (size_t i = 0; i < n; i++) {
            const lin_op_t *o = src[i];
            if (o->kind != LIN_CAS || o->outcome != LIN_INFO ||
                !s_info_kept (&t, o))
                continue;
            if (!o->prev) {
                more |= t.absent_read != INT64_MAX;
                t.absent_read = INT64_MAX; /* keeps every info DELETE */
                continue;
            }
            int64_t id = s_id (&t, o->prev);
            if (id >= 0 && !t.seen[id]) {
                t.seen[id] = true;
                t.seen_by[id] = INT64_MAX; /* no definite observer */
                more = true;
            }
        }
    }

    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const lin_op_t *o = src[i];
        lin_key_op_t op = {.src = o,
                           .kind = o->kind,
                           .ok = o->outcome == LIN_OK,
                           .complete = o->complete,
                           .swapped = o->outcome == LIN_INFO || o->swapped};
        if (o->outcome == LIN_FAIL)
            continue; /* never took effect */
        if (o->outcome == LIN_INFO && !s_info_kept (&t, o)) {
            res->dropped++;
            continue;
        }
        if (o->kind == LIN_CAS) {
            op.expect = s_id (&t, o->prev);
            if (op.expect < 0 && o->prev)
                op.expect = LIN_NEVER;
        }
        if (s_writes (o))
            op.arg = s_id (&t, o->value);
        else if (o->kind == LIN_GET)
            op.arg = s_id (&t, o->value);
        else if (o->kind == LIN_CAS)
            op.arg = s_id (&t, o->current);
        if (s_writes (o) && o->outcome == LIN_INFO &&
            t.seen_by[op.arg] != INT64_MAX) {
            /* A definite operation observed this value, and values are
               unique: the write took effect, before the first observer
               completed. It is then an ok operation that "returned" at
               that time -- the same set of linearizations, and far fewer
               for the search to try than an operation that may happen at
               any later time. */
            op.ok = true;
            op.complete = t.seen_by[op.arg];
            if (op.complete < o->invoke)
                op.complete = o->invoke; /* the search then rejects it */
        }
        ops[m++] = op;
    }
    if (m > res->max_key_ops)
        res->max_key_ops = m;
    lin_key_t k = {.key = key, .opts = opts, .res = res, .values = t.values};
    verdict = lin_search (&k, ops, m);
out:
    free (t.values);
    free (t.seen);
    free (t.seen_by);
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
        if (h->ops[i].kind == LIN_CAS) {
            res->cas++;
            if (h->ops[i].outcome == LIN_OK)
                (*(h->ops[i].swapped ? &res->cas_swapped : &res->cas_failed))++;
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
    o->prev = op->prev ? strdup (op->prev) : NULL;
    o->current = op->current ? strdup (op->current) : NULL;
    if (!o->key || (op->value && !o->value) || (op->prev && !o->prev) ||
        (op->current && !o->current)) {
        free (o->key);
        free (o->value);
        free (o->prev);
        free (o->current);
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
        free (h->ops[i].prev);
        free (h->ops[i].current);
    }
    free (h->ops);
    memset (h, 0, sizeof *h);
}
