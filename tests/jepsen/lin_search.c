/*  lin_search.c -- the search itself: Wing & Gong's walk of one key's
    call and return events with Lowe's memo of explored (linearized set,
    state) pairs, bounded in steps and memory (see linearize.h).
*/
#include "lin_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_DEFAULT_STEPS 20000000ULL
#define S_DEFAULT_CACHE ((size_t)256 << 20)

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
    return k == LIN_PUT   ? "put"
           : k == LIN_GET ? "get"
           : k == LIN_CAS ? "cas"
                          : "delete";
}

static const char *
s_outcome_name (lin_outcome_t o)
{
    return o == LIN_OK ? "ok" : o == LIN_FAIL ? "fail" : "info";
}

void
lin_describe (FILE *f, const lin_op_t *op)
{
    fprintf (f, "line %zu process %d %s", op->line, op->process,
             s_kind_name (op->kind));
    if (op->kind == LIN_PUT)
        fprintf (f, " \"%s\"", op->value);
    else if (op->kind == LIN_CAS) {
        fprintf (f, " \"%s\" if %s%s%s", op->value, op->prev ? "\"" : "",
                 op->prev ? op->prev : "nothing", op->prev ? "\"" : "");
        if (op->outcome == LIN_OK && op->swapped)
            fprintf (f, " -> swapped");
        else if (op->outcome == LIN_OK)
            fprintf (f, op->current ? " -> 412, found \"%s\"" : "%s",
                     op->current ? op->current : " -> 412, found nothing");
    } else if (op->kind == LIN_GET && op->outcome == LIN_OK)
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
s_step (const lin_key_op_t *op, int64_t state, int64_t *next)
{
    switch (op->kind) {
    case LIN_PUT: *next = op->arg; return true;
    case LIN_DEL: *next = LIN_ABSENT; return true;
    case LIN_GET: *next = state; return op->arg == state;
    case LIN_CAS:
        if (op->swapped) {
            *next = op->arg;
            return state == op->expect;
        }
        /* a 412: a read of the current value, which is not prev */
        *next = state;
        return op->arg == state && state != op->expect;
    }
    return false;
}

/* Does op change the register when linearized (a write, not a read)? */
static bool
s_changes (const lin_key_op_t *op)
{
    return op->kind != LIN_GET && (op->kind != LIN_CAS || op->swapped);
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

static const char *
s_state_name (const lin_key_t *k, int64_t state, char *buf, size_t len)
{
    if (state == LIN_ABSENT)
        snprintf (buf, len, "nothing");
    else
        snprintf (buf, len, "\"%s\"", k->values[state]);
    return buf;
}

/* WGL over ops[0..n): the verdict for one key. */
lin_verdict_t
lin_search (lin_key_t *k, const lin_key_op_t *ops, size_t n)
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
    int64_t state = LIN_ABSENT, best_state = LIN_ABSENT;
    const lin_key_op_t *stuck = NULL;
    const lin_key_op_t *best_write = NULL;
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
            const lin_key_op_t *op = &ops[cur->op];
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
                if (s_changes (&ops[stack[d].call->op])) {
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
            lin_describe (out, stuck->src);
            fprintf (out,
                     "\n  after the longest linearizable prefix (%zu "
                     "operations) the register held %s\n",
                     best_depth, s_state_name (k, best_state, buf, sizeof buf));
            if (best_write) {
                fprintf (out, "  written by: ");
                lin_describe (out, best_write->src);
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
