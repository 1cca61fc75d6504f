/*  lin_int.h -- what the linearizability checker's two halves share:
    linearize.c prepares each key's operations, lin_search.c searches them
    (see linearize.h).
*/
#ifndef LIN_INT_H_INCLUDED
#define LIN_INT_H_INCLUDED

#include "linearize.h"

#define LIN_ABSENT (-1) /* the register holds nothing */
#define LIN_NEVER (-2)  /* a value no write wrote: no state matches it */

/* One operation of one key, as the search sees it. */
typedef struct {
    const lin_op_t *src;
    lin_kind_t kind;
    int64_t arg;      /* PUT, swapping CAS: the value's id; GET, 412 CAS: the
                         id read or LIN_ABSENT */
    int64_t expect;   /* CAS: the id of prev, LIN_ABSENT or LIN_NEVER */
    bool swapped;     /* CAS: a swap (ok 200 or info), else a 412 */
    int64_t complete; /* the return event's time, when ok */
    bool ok;          /* must be linearized (else: info, may be left out) */
} lin_key_op_t;

typedef struct {
    const char *key;
    const lin_opts_t *opts;
    lin_result_t *res;
    const char **values; /* value id -> string */
} lin_key_t;

/* op in one line, for the reports. */
void lin_describe (FILE *f, const lin_op_t *op);
/* WGL over ops[0..n): the verdict for one key. */
lin_verdict_t lin_search (lin_key_t *k, const lin_key_op_t *ops, size_t n);

#endif
