/*  linearize.c -- see linearize.h: per-key Wing-Gong-Lowe search.
*/
#include "linearize.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_DEFAULT_STEPS 20000000ULL
#define S_DEFAULT_CACHE ((size_t)256 << 20)
#define S_ABSENT (-1) /* the register holds nothing */

/* One operation of one key, as the search sees it. */
typedef struct {
    const lin_op_t *src;
    lin_kind_t kind;
    int64_t arg;      /* PUT: the value's id; GET: the id read or S_ABSENT */
    int64_t complete; /* the return event's time, when ok */
    bool ok;          /* must be linearized (else: info, may be left out) */
} s_op_t;

/* A call or return event in the doubly linked list the search walks;
   lifting an operation unlinks its call and return, unlifting relinks
   them in reverse order (dancing links). */
typedef struct s_ev {
    struct s_ev *prev, *next;
    struct s_ev *ret; /* a call's return event, NULL for info */
    int64_t time;
    uint32_t op;
    bool call;
} s_ev_t;

/* The memo (Lowe's cache): the (linearized set, state) pairs already
   explored, in an open-addressing table over an arena of entries. */
typedef struct {
    uint64_t *slots; /* 0 empty, else 1 + index of the entry */
    size_t n_slots, n_used;
    uint64_t *arena; /* entries: state word, then `words` bit words */
    size_t arena_len, arena_cap, words;
    size_t max_bytes;
    uint64_t *scratch; /* the entry being looked up */
} s_memo_t;

static const char *
s_kind_name (lin_kind_t k)
{
    return k == LIN_PUT ? "put" : k == LIN_GET ? "get" : "delete";
}

static const char *
s_outcome_name (lin_outcome_t o)
{
    return o == LIN_OK ? "ok" : o == LIN_FAIL ? "fail" : "info";
}

static void
s_describe (FILE *f, const lin_op_t *op)
{
    fprintf (f, "line %zu process %d %s", op->line, op->process,
             s_kind_name (op->kind));
    if (op->kind == LIN_PUT)
        fprintf (f, " \"%s\"", op->value);
    else if (op->kind == LIN_GET && op->outcome == LIN_OK)
        fprintf (f, op->value ? " -> \"%s\"" : " -> not found",
                 op->value ? op->value : "");
    fprintf (f, " [%.6f s, ", op->invoke / 1e9);
    if (op->outcome == LIN_INFO)
        fprintf (f, "never] info");
    else
        fprintf (f, "%.6f s] %s", op->complete / 1e9,
                 s_outcome_name (op->outcome));
}

/* An entry (state word, then the bit words) hashed with SipHash
   (libsodium's crypto_shorthash; a fixed key: nothing here is hostile). */
static uint64_t
s_entry_hash (const uint64_t *entry, size_t words)
{
    static const unsigned char key[crypto_shorthash_KEYBYTES] = {0};
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash (out, (const unsigned char *)entry,
                      (1 + words) * sizeof *entry, key);
    uint64_t h;
    memcpy (&h, out, sizeof h);
    return h;
}

static int
s_memo_grow (s_memo_t *m)
{
    size_t n = m->n_slots ? 2 * m->n_slots : 1024;
    uint64_t *slots = calloc (n, sizeof *slots);
    if (!slots)
        return -1;
    size_t stride = 1 + m->words;
    for (size_t i = 0; i < m->n_slots; i++) {
        if (!m->slots[i])
            continue;
        const uint64_t *e = m->arena + (m->slots[i] - 1) * stride;
        size_t j = s_entry_hash (e, m->words) & (n - 1);
        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = m->slots[i];
    }
    free (m->slots);
    m->slots = slots;
    m->n_slots = n;
    return 0;
}

/* Insert (bits, state). 1 if new, 0 if seen before, -1 over the bound. */
static int
s_memo_insert (s_memo_t *m, const uint64_t *bits, int64_t state)
{
    if ((m->n_used + 1) * 2 > m->n_slots && s_memo_grow (m) != 0)
        return -1;
    size_t stride = 1 + m->words;
    m->scratch[0] = (uint64_t)state;
    memcpy (m->scratch + 1, bits, m->words * sizeof *bits);
    size_t j = s_entry_hash (m->scratch, m->words) & (m->n_slots - 1);
    while (m->slots[j]) {
        const uint64_t *e = m->arena + (m->slots[j] - 1) * stride;
        if (memcmp (e, m->scratch, stride * sizeof *e) == 0)
            return 0;
        j = (j + 1) & (m->n_slots - 1);
    }
    if (m->arena_len + stride > m->arena_cap) {
        size_t cap = m->arena_cap ? 2 * m->arena_cap : 4096 * stride;
        if ((cap + 2 * m->n_slots) * sizeof (uint64_t) > m->max_bytes)
            return -1;
        uint64_t *a = realloc (m->arena, cap * sizeof *a);
        if (!a)
            return -1;
        m->arena = a;
        m->arena_cap = cap;
    }
    memcpy (m->arena + m->arena_len, m->scratch, stride * sizeof *m->scratch);
    m->slots[j] = 1 + m->arena_len / stride;
    m->arena_len += stride;
    m->n_used++;
    return 1;
}

static void
s_lift (s_ev_t *call)
{
    call->prev->next = call->next;
    if (call->next)
        call->next->prev = call->prev;
    s_ev_t *r = call->ret;
    if (r) {
        r->prev->next = r->next;
        if (r->next)
            r->next->prev = r->prev;
    }
}

static void
s_unlift (s_ev_t *call)
{
    s_ev_t *r = call->ret;
    if (r) {
        r->prev->next = r;
        if (r->next)
            r->next->prev = r;
    }
    call->prev->next = call;
    if (call->next)
        call->next->prev = call;
}

/* The register: may op run in state, and what state follows? */
static bool
s_step (const s_op_t *op, int64_t state, int64_t *next)
{
    switch (op->kind) {
    case LIN_PUT: *next = op->arg; return true;
    case LIN_DEL: *next = S_ABSENT; return true;
    case LIN_GET: *next = state; return op->arg == state;
    }
    return false;
}

static int
s_ev_cmp (const void *a, const void *b)
{
    const s_ev_t *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    /* at the same instant, calls first: the operations then overlap,
       which can only accept more histories, never reject a good one */
    return (int)y->call - (int)x->call;
}

typedef struct {
    s_ev_t *call;
    int64_t state;
} s_frame_t;

typedef struct {
    const char *key;
    const lin_opts_t *opts;
    lin_result_t *res;
    const char **values; /* value id -> string */
} s_key_t;

static const char *
s_state_name (const s_key_t *k, int64_t state, char *buf, size_t len)
{
    if (state == S_ABSENT)
        snprintf (buf, len, "nothing");
    else
        snprintf (buf, len, "\"%s\"", k->values[state]);
    return buf;
}

/* WGL over ops[0..n): the verdict for one key. */
static lin_verdict_t
s_search (s_key_t *k, const s_op_t *ops, size_t n)
{
    size_t n_ev = 0;
    for (size_t i = 0; i < n; i++)
        n_ev += ops[i].ok ? 2 : 1;
    s_ev_t *ev = calloc (n_ev + 1, sizeof *ev);
    size_t words = (n + 63) / 64;
    uint64_t *bits = calloc (words ? words : 1, sizeof *bits);
    s_frame_t *stack = calloc (n + 1, sizeof *stack);
    s_memo_t memo = {.words = words,
                     .max_bytes = k->opts->max_cache_bytes
                                      ? k->opts->max_cache_bytes
                                      : S_DEFAULT_CACHE};
    memo.scratch = calloc (1 + words, sizeof *memo.scratch);
    lin_verdict_t verdict = LIN_UNKNOWN;
    if (!ev || !bits || !stack || !memo.scratch)
        goto done;

    /* events sorted by time; each call then finds its return */
    s_ev_t *e = ev + 1;
    size_t remaining = 0;
    for (uint32_t i = 0; i < n; i++) {
        *e++ = (s_ev_t){.time = ops[i].src->invoke, .op = i, .call = true};
        if (ops[i].ok) {
            *e++ = (s_ev_t){.time = ops[i].complete, .op = i};
            remaining++;
        }
    }
    qsort (ev + 1, n_ev, sizeof *ev, s_ev_cmp);
    s_ev_t **call_of = calloc (n ? n : 1, sizeof *call_of);
    if (!call_of)
        goto done;
    for (size_t i = 1; i <= n_ev; i++) {
        ev[i].prev = &ev[i - 1];
        ev[i].next = i < n_ev ? &ev[i + 1] : NULL;
        if (ev[i].call)
            call_of[ev[i].op] = &ev[i];
        else
            call_of[ev[i].op]->ret = &ev[i];
    }
    ev[0].next = n_ev ? &ev[1] : NULL;
    free (call_of);

    uint64_t max_steps =
        k->opts->max_steps ? k->opts->max_steps : S_DEFAULT_STEPS;
    uint64_t steps = 0;
    size_t depth = 0, best_depth = 0;
    int64_t state = S_ABSENT, best_state = S_ABSENT;
    const s_op_t *stuck = NULL;
    const s_op_t *best_write = NULL;
    s_ev_t *cur = ev[0].next;
    while (true) {
        if (remaining == 0) {
            verdict = LIN_LINEARIZABLE;
            break;
        }
        if (++steps > max_steps) {
            verdict = LIN_UNKNOWN;
            break;
        }
        if (cur && cur->call) {
            const s_op_t *op = &ops[cur->op];
            int64_t next;
            if (s_step (op, state, &next)) {
                bits[cur->op / 64] |= 1ULL << (cur->op % 64);
                int fresh = s_memo_insert (&memo, bits, next);
                if (fresh < 0) {
                    verdict = LIN_UNKNOWN;
                    break;
                }
                if (fresh) {
                    stack[depth++] = (s_frame_t){cur, state};
                    state = next;
                    s_lift (cur);
                    if (op->ok)
                        remaining--;
                    cur = ev[0].next;
                    continue;
                }
                bits[cur->op / 64] &= ~(1ULL << (cur->op % 64));
            }
            cur = cur->next;
            continue;
        }
        /* a return whose call is not linearized (or the end): undo */
        if (cur && depth >= best_depth) {
            best_depth = depth;
            best_state = state;
            stuck = &ops[cur->op];
            best_write = NULL;
            for (size_t d = depth; d-- > 0;)
                if (ops[stack[d].call->op].kind != LIN_GET) {
                    best_write = &ops[stack[d].call->op];
                    break;
                }
        }
        if (depth == 0) {
            verdict = LIN_VIOLATION;
            break;
        }
        s_frame_t f = stack[--depth];
        s_unlift (f.call);
        bits[f.call->op / 64] &= ~(1ULL << (f.call->op % 64));
        state = f.state;
        if (ops[f.call->op].ok)
            remaining++;
        cur = f.call->next;
    }
    k->res->steps += steps;

    FILE *out = k->opts->report;
    if (verdict == LIN_VIOLATION && stuck) {
        if (k->res->first_violation < 0 ||
            stuck->src->invoke < k->res->first_violation)
            k->res->first_violation = stuck->src->invoke;
    }
    if (out && verdict == LIN_VIOLATION) {
        char buf[256];
        fprintf (out, "key %s: NOT LINEARIZABLE (%zu operations, %llu steps)\n",
                 k->key, n, (unsigned long long)steps);
        if (stuck) {
            fprintf (out, "  cannot linearize: ");
            s_describe (out, stuck->src);
            fprintf (out,
                     "\n  after the longest linearizable prefix (%zu "
                     "operations) the register held %s\n",
                     best_depth, s_state_name (k, best_state, buf, sizeof buf));
            if (best_write) {
                fprintf (out, "  written by: ");
                s_describe (out, best_write->src);
                fputc ('\n', out);
            }
        }
    } else if (out && verdict == LIN_UNKNOWN) {
        fprintf (out,
                 "key %s: UNKNOWN -- search bound reached (%zu operations, "
                 "%llu steps, %zu memo entries)\n",
                 k->key, n, (unsigned long long)steps, memo.n_used);
    } else if (out && k->opts->verbose) {
        fprintf (out, "key %s: linearizable (%zu operations, %llu steps)\n",
                 k->key, n, (unsigned long long)steps);
    }
done:
    free (ev);
    free (bits);
    free (stack);
    free (memo.slots);
    free (memo.arena);
    free (memo.scratch);
    return verdict;
}

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
    s_op_t *ops = calloc (n + 1, sizeof *ops);
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
                s_describe (opts->report, o);
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
        s_op_t op = {.src = o,
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
                o->value ? s_value_id (values, n_values, o->value) : S_ABSENT;
        ops[m++] = op;
    }
    free (seen);
    free (seen_by);
    if (m > res->max_key_ops)
        res->max_key_ops = m;
    s_key_t k = {.key = key, .opts = opts, .res = res, .values = values};
    verdict = s_search (&k, ops, m);
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
