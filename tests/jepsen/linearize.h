/*  linearize.h -- a linearizability checker for nsxd's key-value API.

    The model: per key, a register that holds a value or nothing. PUT k v
    sets it, DELETE k clears it, GET k returns it (404 = nothing), CAS k
    prev v (a PUT with prev_value, prev_index or prev_exist:false) sets it
    to v if it holds prev (prev NULL: nothing) -- answered 200, "swapped"
    -- or else changes nothing and reports what it holds -- 412
    compare_failed, a read of "current" that must differ from prev. Keys are
    independent, so the history is split per key and each part is checked
    alone (P-compositionality, Herlihy & Wing 1990 §3; porcupine and Knossos
    do the same).

    The search is Wing & Gong's (1993) with Lowe's memoization (2017,
    "Testing for linearizability"): walk the history's call and return
    events in time order, try to linearize each pending call at the head,
    backtrack when a return event is reached whose call was never
    linearized, and never revisit a (set of linearized operations, register
    state) pair already explored.

    Outcomes:
      ok    the operation took effect once, between its invocation and its
            completion;
      fail  it never took effect (nsxd: 409 not_leader, 503 no_quorum,
            transferring, a refused connection -- nothing was proposed);
      info  indeterminate (a timeout, 503 timeout or leadership_lost): it
            may have taken effect at any time after its invocation, or
            never. An indeterminate GET says nothing and is dropped; an
            indeterminate write whose value no read returned is dropped too
            (any linearization using it stays one without it), which keeps
            the search from trying every subset of them.

    An indeterminate CAS may have swapped or not: a CAS that did not swap
    changed nothing, so it is an optional swap, kept or dropped by the same
    rule as an indeterminate PUT. A kept CAS observed its prev (the value
    it replaced), so the write of that value is kept too; a CAS that
    swapped (ok) observed its prev as a GET observes what it read.

    Every write carries a value unique in the history, so a read names the
    write it saw; a read (GET, a 412's current, a CAS's prev) of a value no
    write (ok or info) of that key wrote is reported at once.

    The search is bounded (steps and memory per key): past the bound the
    key's verdict is "unknown", never a hang.
*/
#ifndef LINEARIZE_H_INCLUDED
#define LINEARIZE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { LIN_PUT, LIN_GET, LIN_DEL, LIN_CAS } lin_kind_t;
typedef enum { LIN_OK, LIN_FAIL, LIN_INFO } lin_outcome_t;

typedef struct {
    int process;
    lin_kind_t kind;
    char *key;
    char *value;      /* PUT, CAS: written; GET ok: read, NULL = not found */
    int64_t invoke;   /* ns since the run's start */
    int64_t complete; /* ns; ignored for info */
    lin_outcome_t outcome;
    size_t line; /* in the history file (1-based), 0 if none */
    /* CAS only: the value compared against (NULL: the key must not
       exist); for an ok CAS, whether it swapped (200) or not (412), and
       what a 412 found (NULL: nothing). */
    char *prev;
    bool swapped;
    char *current;
} lin_op_t;

typedef struct {
    lin_op_t *ops;
    size_t n, cap;
} lin_history_t;

/* Append a copy of op (its strings are copied). 0, or -1 out of memory. */
int lin_history_add (lin_history_t *h, const lin_op_t *op);
void lin_history_free (lin_history_t *h);

/* Read a history in JSON lines (history.c documents the format) and add
   its operations to h. 0, or -1 with "FILE:LINE: why" in err. */
int lin_history_load (lin_history_t *h, const char *path, char *err,
                      size_t err_len);

typedef enum {
    LIN_LINEARIZABLE = 0,
    LIN_VIOLATION = 1,
    LIN_UNKNOWN = 3
} lin_verdict_t;

typedef struct {
    uint64_t max_steps;     /* per key; 0: 20 million */
    size_t max_cache_bytes; /* per key; 0: 256 MiB */
    FILE *report;           /* verdicts and explanations; NULL: none */
    bool verbose;           /* a line per key, not only the bad ones */
} lin_opts_t;

typedef struct {
    size_t keys, keys_bad, keys_unknown;
    size_t ops, ok, fail, info, dropped; /* dropped: info ops not searched */
    size_t cas, cas_swapped, cas_failed; /* CAS ops; ok ones by answer */
    uint64_t steps;                      /* summed over keys */
    size_t max_key_ops;                  /* the largest key's searched ops */
    double seconds;
    /* the earliest invocation (ns) among the operations a violated key
       got stuck on; -1 if none */
    int64_t first_violation;
} lin_result_t;

/* Check h. The worst verdict over keys: a violation wins over unknown. */
lin_verdict_t lin_check (const lin_history_t *h, const lin_opts_t *opts,
                         lin_result_t *res);

#endif
