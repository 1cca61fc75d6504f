/*  test_linearize.c -- the checker (linearize.h) on histories whose
    verdict is known: hand-written ones it must accept and reject, random
    linearizable ones (built from linearization points chosen first) it
    must accept, the same with a stale read or a lost write planted after
    them that it must reject, a search bound that gives "unknown", and
    malformed history files that must be refused with a line number. The
    same for compare-and-swap: hand-written CAS histories (a CAS that
    swapped against a value already overwritten must be rejected), and
    random ones with CASes, a stale CAS planted after some of them.
    Each rejection's explanation is printed.
*/
#include "check.h"
#include "linearize.h"
#include "rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OK LIN_OK
#define FAIL LIN_FAIL
#define INFO LIN_INFO
#define PUT(p, v, a, b, o)                                                     \
    {                                                                          \
        .process = p, .kind = LIN_PUT, .key = "k", .value = v, .invoke = a,    \
        .complete = b, .outcome = o                                            \
    }
#define DEL(p, a, b, o)                                                        \
    {                                                                          \
        .process = p, .kind = LIN_DEL, .key = "k", .invoke = a, .complete = b, \
        .outcome = o                                                           \
    }
#define GET(p, v, a, b, o)                                                     \
    {                                                                          \
        .process = p, .kind = LIN_GET, .key = "k", .value = v, .invoke = a,    \
        .complete = b, .outcome = o                                            \
    }
/* a CAS that swapped (200): v written where pr was (NOTFOUND: nothing) */
#define CAS(p, v, pr, a, b)                                                    \
    {                                                                          \
        .process = p, .kind = LIN_CAS, .key = "k", .value = v, .prev = pr,     \
        .invoke = a, .complete = b, .outcome = OK, .swapped = true             \
    }
/* a CAS answered 412 compare_failed, finding cur */
#define CAS412(p, v, pr, cur, a, b)                                            \
    {                                                                          \
        .process = p, .kind = LIN_CAS, .key = "k", .value = v, .prev = pr,     \
        .invoke = a, .complete = b, .outcome = OK, .current = cur              \
    }
/* an indeterminate CAS (a timeout) */
#define CASI(p, v, pr, a)                                                      \
    {                                                                          \
        .process = p, .kind = LIN_CAS, .key = "k", .value = v, .prev = pr,     \
        .invoke = a, .outcome = INFO                                           \
    }
#define NOTFOUND NULL

static lin_verdict_t
s_run (const char *name, const lin_op_t *ops, size_t n, lin_verdict_t want,
       const lin_opts_t *extra)
{
    lin_history_t h = {0};
    for (size_t i = 0; i < n; i++) {
        lin_op_t o = ops[i];
        o.line = i + 1;
        if (lin_history_add (&h, &o) != 0)
            abort ();
    }
    lin_opts_t opts = extra ? *extra : (lin_opts_t){0};
    opts.report = want == LIN_LINEARIZABLE ? NULL : stdout;
    if (want != LIN_LINEARIZABLE)
        printf ("--- %s: must be %s\n", name,
                want == LIN_VIOLATION ? "rejected" : "unknown");
    lin_result_t res;
    lin_verdict_t v = lin_check (&h, &opts, &res);
    if (v != want) {
        printf ("FAIL %s: verdict %d, want %d\n", name, v, want);
        check_failed (__FILE__, __LINE__, "see the FAIL line above");
        /* say why, for an unexpected rejection */
        opts.report = stdout;
        lin_check (&h, &opts, &res);
    } else if (want == LIN_LINEARIZABLE) {
        printf ("ok   %s: accepted (%zu ops, %llu steps, %.3f s)\n", name, n,
                (unsigned long long)res.steps, res.seconds);
    } else {
        printf ("ok   %s: %s\n", name,
                want == LIN_VIOLATION ? "rejected" : "unknown");
    }
    lin_history_free (&h);
    return v;
}

#define RUN(name, want, ...)                                                   \
    do {                                                                       \
        const lin_op_t ops_[] = {__VA_ARGS__};                                 \
        s_run (name, ops_, sizeof ops_ / sizeof ops_[0], want, NULL);          \
    } while (0)

static void
s_hand_written (void)
{
    /* accepted */
    RUN ("sequential put, get, delete, get", LIN_LINEARIZABLE,
         GET (1, NOTFOUND, 0, 1, OK), PUT (1, "a", 2, 3, OK),
         GET (2, "a", 4, 5, OK), DEL (1, 6, 7, OK),
         GET (2, NOTFOUND, 8, 9, OK));
    RUN ("two overlapping puts, reads see the second then stay",
         LIN_LINEARIZABLE, PUT (1, "a", 0, 10, OK), PUT (2, "b", 1, 9, OK),
         GET (3, "a", 11, 12, OK), GET (3, "a", 13, 14, OK));
    RUN ("a read overlapping a put may see old or new", LIN_LINEARIZABLE,
         PUT (1, "a", 0, 1, OK), PUT (2, "b", 2, 10, OK),
         GET (3, "a", 3, 4, OK), GET (4, "b", 5, 6, OK),
         GET (3, "b", 11, 12, OK));
    RUN ("reads overlapping each other in the opposite order", LIN_LINEARIZABLE,
         PUT (1, "a", 0, 1, OK), PUT (2, "b", 2, 20, OK),
         GET (3, "b", 3, 15, OK), GET (4, "a", 4, 10, OK));
    RUN ("an indeterminate put that happened", LIN_LINEARIZABLE,
         PUT (1, "a", 0, 1, OK), PUT (2, "b", 2, 0, INFO),
         GET (3, "b", 30, 31, OK));
    RUN ("an indeterminate put that never happened", LIN_LINEARIZABLE,
         PUT (1, "a", 0, 1, OK), PUT (2, "b", 2, 0, INFO),
         GET (3, "a", 30, 31, OK), GET (3, "a", 40, 41, OK));
    RUN ("an indeterminate put taking effect long after its timeout",
         LIN_LINEARIZABLE, PUT (1, "a", 0, 1, OK), PUT (2, "b", 2, 0, INFO),
         GET (3, "a", 30, 31, OK), GET (3, "b", 40, 41, OK),
         PUT (1, "c", 50, 51, OK), GET (3, "c", 60, 61, OK));
    RUN ("an indeterminate delete that happened", LIN_LINEARIZABLE,
         PUT (1, "a", 0, 1, OK), DEL (2, 2, 0, INFO),
         GET (3, NOTFOUND, 30, 31, OK));
    RUN ("failed writes never take effect", LIN_LINEARIZABLE,
         PUT (1, "a", 0, 1, OK), PUT (2, "b", 2, 3, FAIL), DEL (2, 4, 5, FAIL),
         GET (3, "a", 6, 7, OK), GET (3, NOTFOUND, 8, 9, INFO));
    RUN ("a delete of a missing key", LIN_LINEARIZABLE, DEL (1, 0, 1, OK),
         GET (2, NOTFOUND, 2, 3, OK), PUT (1, "a", 4, 5, OK),
         GET (2, "a", 6, 7, OK));

    /* rejected */
    RUN ("stale read after a completed write", LIN_VIOLATION,
         PUT (1, "a", 0, 1, OK), PUT (2, "b", 2, 3, OK),
         GET (3, "a", 4, 5, OK));
    RUN ("lost acknowledged write", LIN_VIOLATION, PUT (1, "a", 0, 1, OK),
         GET (2, NOTFOUND, 2, 3, OK));
    RUN ("lost acknowledged write, an older value read back", LIN_VIOLATION,
         PUT (1, "a", 0, 1, OK), PUT (1, "b", 2, 3, OK), GET (2, "b", 4, 5, OK),
         GET (2, "a", 6, 7, OK));
    RUN ("read of a value never written", LIN_VIOLATION, PUT (1, "a", 0, 1, OK),
         GET (2, "zzz", 2, 3, OK));
    RUN ("read of a value only a failed write wrote", LIN_VIOLATION,
         PUT (1, "a", 0, 1, FAIL), GET (2, "a", 2, 3, OK));
    RUN ("read-your-write violation", LIN_VIOLATION, PUT (2, "x", 0, 1, OK),
         PUT (1, "y", 2, 3, OK), GET (1, "x", 4, 5, OK));
    RUN ("an indeterminate put seen before it was invoked", LIN_VIOLATION,
         PUT (1, "a", 0, 1, OK), GET (2, "b", 2, 3, OK),
         PUT (3, "b", 4, 0, INFO));
    RUN ("a deleted key read back", LIN_VIOLATION, PUT (1, "a", 0, 1, OK),
         DEL (1, 2, 3, OK), GET (2, "a", 4, 5, OK));
    RUN ("reads going back in time", LIN_VIOLATION, PUT (1, "a", 0, 1, OK),
         PUT (2, "b", 2, 20, OK), GET (3, "b", 3, 4, OK),
         GET (4, "a", 5, 6, OK));
}

/* Compare-and-swap: a PUT with prev_value / prev_index / prev_exist
   false, answered 200 (swapped) or 412 (a read of the current value). */
static void
s_hand_written_cas (void)
{
    /* accepted */
    RUN ("cas: swaps the value it found", LIN_LINEARIZABLE,
         PUT (1, "a", 0, 1, OK), CAS (2, "b", "a", 2, 3),
         GET (3, "b", 4, 5, OK));
    RUN ("cas: a 412 reads the current value", LIN_LINEARIZABLE,
         PUT (1, "a", 0, 1, OK), PUT (1, "b", 2, 3, OK),
         CAS412 (2, "c", "a", "b", 4, 5), GET (3, "b", 6, 7, OK));
    RUN ("cas: create if absent, then a 412", LIN_LINEARIZABLE,
         CAS (1, "a", NOTFOUND, 0, 1), CAS412 (2, "b", NOTFOUND, "a", 2, 3),
         GET (3, "a", 4, 5, OK));
    RUN ("cas: a 412 on a missing key finds nothing", LIN_LINEARIZABLE,
         PUT (1, "a", 0, 1, OK), DEL (1, 2, 3, OK),
         CAS412 (2, "b", "a", NOTFOUND, 4, 5));
    RUN ("cas: two from the same value, one wins", LIN_LINEARIZABLE,
         PUT (1, "a", 0, 1, OK), CAS (2, "b", "a", 2, 10),
         CAS412 (3, "c", "a", "b", 3, 9), GET (4, "b", 11, 12, OK));
    RUN ("cas: an indeterminate one that happened", LIN_LINEARIZABLE,
         PUT (1, "a", 0, 1, OK), CASI (2, "b", "a", 2),
         GET (3, "b", 30, 31, OK));
    RUN ("cas: an indeterminate one that never happened", LIN_LINEARIZABLE,
         PUT (1, "a", 0, 1, OK), CASI (2, "b", "a", 2),
         GET (3, "a", 30, 31, OK), GET (3, "a", 40, 41, OK));
    RUN ("cas: indeterminate put then cas, seen only at the end",
         LIN_LINEARIZABLE, PUT (1, "a", 0, 1, OK), PUT (2, "b", 2, 0, INFO),
         CASI (3, "c", "b", 3), GET (4, "c", 30, 31, OK));
    RUN ("cas: indeterminate delete then create if absent", LIN_LINEARIZABLE,
         PUT (1, "a", 0, 1, OK), DEL (2, 2, 0, INFO),
         CASI (3, "c", NOTFOUND, 3), GET (4, "c", 30, 31, OK));

    /* rejected */
    RUN ("cas: swapped against a value already overwritten", LIN_VIOLATION,
         PUT (1, "a", 0, 1, OK), PUT (2, "b", 2, 3, OK),
         CAS (3, "c", "a", 4, 5));
    RUN ("cas: a 412 that found the value it compared against", LIN_VIOLATION,
         PUT (1, "a", 0, 1, OK), CAS412 (2, "b", "a", "a", 2, 3));
    RUN ("cas: a 412 that found an overwritten value", LIN_VIOLATION,
         PUT (1, "a", 0, 1, OK), PUT (1, "b", 2, 3, OK),
         CAS412 (2, "c", NOTFOUND, "a", 4, 5));
    RUN ("cas: two from the same value both swapped (a lost update)",
         LIN_VIOLATION, PUT (1, "a", 0, 1, OK), CAS (2, "b", "a", 2, 10),
         CAS (3, "c", "a", 3, 9), GET (4, "b", 11, 12, OK));
    RUN ("cas: create if absent swapped over an existing key", LIN_VIOLATION,
         PUT (1, "a", 0, 1, OK), CAS (2, "b", NOTFOUND, 2, 3));
    RUN ("cas: its write lost", LIN_VIOLATION, PUT (1, "a", 0, 1, OK),
         CAS (2, "b", "a", 2, 3), GET (3, "a", 4, 5, OK));
    RUN ("cas: a read of the value of a CAS answered 412", LIN_VIOLATION,
         PUT (1, "a", 0, 1, OK), CAS412 (2, "b", "a", "a", 2, 3),
         GET (3, "b", 4, 5, OK));
    RUN ("cas: a 412 finding a value no write wrote", LIN_VIOLATION,
         PUT (1, "a", 0, 1, OK), CAS412 (2, "b", "a", "zzz", 2, 3));
    RUN ("cas: an indeterminate one seen, its compare could not hold",
         LIN_VIOLATION, PUT (1, "a", 0, 1, OK), PUT (2, "b", 2, 3, OK),
         CASI (3, "c", "a", 4), GET (4, "c", 10, 11, OK));
}

/* ---- generated histories ---------------------------------------------- */

static rng_t s_rng; /* seeded in main: TEST_SEED replays a run */
static uint64_t
s_rand (void)
{
    return rng_next (&s_rng);
}

typedef struct {
    lin_op_t op;
    int64_t point; /* linearization point; -1: an info op that never ran */
    char key[8], value[32], prev[32], current[32];
} s_gen_t;

static int
s_point_cmp (const void *a, const void *b)
{
    const s_gen_t *x = *(s_gen_t *const *)a, *y = *(s_gen_t *const *)b;
    return x->point < y->point ? -1 : x->point > y->point;
}

/* A linearizable history: procs processes, each doing n_per operations
   one after another on keys k0..k(keys-1); each operation's effect is put
   at a point chosen inside its interval, and reads return what the
   register held there. Some writes are indeterminate (info): they took
   effect at their point or never. With cas, a fifth of the operations are
   CASes whose prev is, at their point, the register's value (they swap),
   nothing or the value before it (they swap if the register holds it,
   else 412 with the register's value). *end gets the last completion. */
static s_gen_t *
s_generate (int procs, int n_per, int keys, int info_pct, bool cas,
            size_t *n_out, int64_t *end)
{
    size_t n = (size_t)procs * n_per;
    s_gen_t *g = calloc (n, sizeof *g);
    s_gen_t **by_point = calloc (n, sizeof *by_point);
    size_t i = 0;
    *end = 0;
    for (int p = 0; p < procs; p++) {
        int64_t t = (int64_t)(s_rand () % 5);
        for (int k = 0; k < n_per; k++, i++) {
            s_gen_t *o = &g[i];
            int r = (int)(s_rand () % 100);
            o->op.process = p;
            o->op.kind = r < 45 ? LIN_PUT : r < 55 ? LIN_DEL : LIN_GET;
            if (cas)
                o->op.kind = r < 30   ? LIN_PUT
                             : r < 40 ? LIN_DEL
                             : r < 60 ? LIN_CAS
                                      : LIN_GET;
            snprintf (o->key, sizeof o->key, "k%d", (int)(s_rand () % keys));
            o->op.key = o->key;
            o->op.invoke = t;
            o->point = t + 1 + (int64_t)(s_rand () % 10);
            o->op.complete = o->point + 1 + (int64_t)(s_rand () % 10);
            o->op.outcome = LIN_OK;
            if (o->op.kind == LIN_PUT || o->op.kind == LIN_CAS) {
                snprintf (o->value, sizeof o->value, "p%d-%d", p, k);
                o->op.value = o->value;
            }
            /* indeterminate deletes are rarer: one that no read can tell
               from another delete stays in the search for good */
            int pct = o->op.kind == LIN_DEL ? info_pct / 4 : info_pct;
            if (o->op.kind != LIN_GET && (int)(s_rand () % 100) < pct) {
                o->op.outcome = LIN_INFO;
                /* taking effect late, long after the client gave up */
                o->point += (int64_t)(s_rand () % 40);
                if (s_rand () % 2)
                    o->point = -1;
            }
            t = o->op.complete + (int64_t)(s_rand () % 3);
            if (o->op.complete > *end)
                *end = o->op.complete;
            by_point[i] = o;
        }
    }
    qsort (by_point, n, sizeof *by_point, s_point_cmp);
    const char *reg[16] = {0}, *before[16] = {0};
    for (size_t j = 0; j < n; j++) {
        s_gen_t *o = by_point[j];
        int key = atoi (o->key + 1);
        if (o->op.kind == LIN_CAS) {
            int c = (int)(s_rand () % 3);
            const char *pr = c == 0 ? reg[key] : c == 1 ? NULL : before[key];
            if (pr) {
                snprintf (o->prev, sizeof o->prev, "%s", pr);
                o->op.prev = o->prev;
            }
        }
        if (o->point < 0)
            continue;
        if (o->op.kind == LIN_CAS) {
            const char *pr = o->op.prev;
            o->op.swapped = (!pr && !reg[key]) ||
                            (pr && reg[key] && strcmp (pr, reg[key]) == 0);
            if (o->op.swapped) {
                before[key] = reg[key];
                reg[key] = o->value;
            } else if (reg[key]) {
                snprintf (o->current, sizeof o->current, "%s", reg[key]);
                o->op.current = o->current;
            }
            continue;
        }
        if (o->op.kind != LIN_GET)
            before[key] = reg[key];
        if (o->op.kind == LIN_PUT)
            reg[key] = o->value;
        else if (o->op.kind == LIN_DEL)
            reg[key] = NULL;
        else if (reg[key]) {
            snprintf (o->value, sizeof o->value, "%s", reg[key]);
            o->op.value = o->value;
        }
    }
    free (by_point);
    *n_out = n;
    return g;
}

static void
s_generated (void)
{
    char name[128];
    for (int round = 0; round < 80; round++) {
        size_t n;
        int64_t end;
        bool cas = round >= 40; /* the last 40 with CASes */
        int procs = 2 + round % 6, per = 20 + (int)(s_rand () % 60);
        s_gen_t *g = s_generate (procs, per, 1 + round % 3, round % 4 * 5, cas,
                                 &n, &end);
        /* lin_op_t copies, with a stale read / lost write planted after */
        lin_op_t *ops = calloc (n + 3, sizeof *ops);
        for (size_t i = 0; i < n; i++)
            ops[i] = g[i].op;
        snprintf (name, sizeof name,
                  "generated %d: %d processes x %d ops, %d keys%s", round,
                  procs, per, 1 + round % 3, cas ? ", with cas" : "");
        s_run (name, ops, n, LIN_LINEARIZABLE, NULL);
        if (round % 8 == 0) {
            /* after everything: a fresh acknowledged write, then a read of
               k0 that does not see it (the value before, or nothing); with
               cas, a CAS that swaps against that stale value instead */
            const char *before = NULL;
            for (size_t i = 0; i < n; i++)
                if ((ops[i].kind == LIN_PUT ||
                     (ops[i].kind == LIN_CAS && ops[i].swapped)) &&
                    ops[i].outcome == LIN_OK && strcmp (ops[i].key, "k0") == 0)
                    before = ops[i].value;
            ops[n] = (lin_op_t){.process = 99,
                                .kind = LIN_PUT,
                                .key = "k0",
                                .value = "fresh",
                                .invoke = end + 10,
                                .complete = end + 11,
                                .outcome = LIN_OK};
            ops[n + 1] = (lin_op_t){.process = 98,
                                    .kind = LIN_GET,
                                    .key = "k0",
                                    .value = (char *)before,
                                    .invoke = end + 12,
                                    .complete = end + 13,
                                    .outcome = LIN_OK};
            if (cas) {
                ops[n + 1].kind = LIN_CAS;
                ops[n + 1].value = "planted";
                ops[n + 1].prev = (char *)before;
                ops[n + 1].swapped = true;
            }
            snprintf (name, sizeof name, "generated %d with a planted %s",
                      round,
                      cas      ? "cas swapping against a stale value"
                      : before ? "stale read"
                               : "lost write");
            s_run (name, ops, n + 2, LIN_VIOLATION, NULL);
        }
        free (ops);
        free (g);
    }
    /* larger ones, the shapes a run's keys have (see jepsen.sh: keys are
       rotated so that each holds a few seconds of operations) */
    static const int shapes[][2] = {{5, 400}, {10, 100}, {5, 400}};
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        int64_t end;
        bool cas = i == 2;
        s_gen_t *g =
            s_generate (shapes[i][0], shapes[i][1], 1, 10, cas, &n, &end);
        lin_op_t *ops = calloc (n, sizeof *ops);
        for (size_t j = 0; j < n; j++)
            ops[j] = g[j].op;
        snprintf (name, sizeof name,
                  "generated large: %d processes x %d ops, 1 key, 10%% "
                  "info%s",
                  shapes[i][0], shapes[i][1], cas ? ", with cas" : "");
        s_run (name, ops, n, LIN_LINEARIZABLE, NULL);
        if (i == 0) {
            lin_opts_t tiny = {.max_steps = 50};
            s_run ("the same with a 50-step bound", ops, n, LIN_UNKNOWN, &tiny);
            lin_opts_t small = {.max_cache_bytes = 64 << 10};
            s_run ("the same with a 64 KiB memo bound", ops, n, LIN_UNKNOWN,
                   &small);
        }
        free (ops);
        free (g);
    }
}

/* ---- malformed files --------------------------------------------------- */

static void
s_bad_input (void)
{
    static const char *bad[] = {
        "not json",
        "[1,2]",
        "{\"process\":1,\"op\":\"cas\",\"key\":\"k\",\"invoke\":0,"
        "\"complete\":1,\"outcome\":\"ok\"}",
        "{\"process\":1,\"op\":\"put\",\"key\":\"k\",\"invoke\":0,"
        "\"complete\":1,\"outcome\":\"ok\"}",
        "{\"process\":1,\"op\":\"get\",\"key\":\"\",\"invoke\":0,"
        "\"complete\":1,\"outcome\":\"ok\"}",
        "{\"process\":1,\"op\":\"get\",\"key\":\"k\",\"invoke\":5,"
        "\"complete\":1,\"outcome\":\"ok\"}",
        "{\"process\":1,\"op\":\"get\",\"key\":\"k\",\"invoke\":0,"
        "\"complete\":1,\"outcome\":\"maybe\"}",
        "{\"process\":-1,\"op\":\"get\",\"key\":\"k\",\"invoke\":0,"
        "\"complete\":1,\"outcome\":\"ok\"}",
        "{\"process\":1,\"op\":\"get\",\"key\":\"k\",\"value\":3,\"invoke\":0,"
        "\"complete\":1,\"outcome\":\"ok\"}",
        /* a cas without prev, an ok one without swapped, a 412 one
           without current, a prev that is a number */
        "{\"process\":1,\"op\":\"cas\",\"key\":\"k\",\"value\":\"v\","
        "\"invoke\":0,\"complete\":1,\"outcome\":\"ok\",\"swapped\":true}",
        "{\"process\":1,\"op\":\"cas\",\"key\":\"k\",\"value\":\"v\","
        "\"prev\":null,\"invoke\":0,\"complete\":1,\"outcome\":\"ok\"}",
        "{\"process\":1,\"op\":\"cas\",\"key\":\"k\",\"value\":\"v\","
        "\"prev\":\"a\",\"invoke\":0,\"complete\":1,\"outcome\":\"ok\","
        "\"swapped\":false}",
        "{\"process\":1,\"op\":\"cas\",\"key\":\"k\",\"value\":\"v\","
        "\"prev\":7,\"invoke\":0,\"outcome\":\"info\"}",
    };
    char path[] = "/tmp/test_linearize_XXXXXX";
    int fd = mkstemp (path);
    if (fd < 0) {
        check_failed (__FILE__, __LINE__, "mkstemp: %s", strerror (errno));
        return;
    }
    close (fd);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen (path, "w");
        fprintf (f,
                 "# a comment\n{\"process\":0,\"op\":\"get\",\"key\":\"k\","
                 "\"value\":null,\"invoke\":0,\"complete\":1,"
                 "\"outcome\":\"ok\"}\n%s\n",
                 bad[i]);
        fclose (f);
        lin_history_t h = {0};
        char err[512] = "";
        int rc = lin_history_load (&h, path, err, sizeof err);
        if (rc == 0 || !strstr (err, ":3: ")) {
            printf ("FAIL bad input %zu accepted or without its line: %s\n", i,
                    err);
            check_failed (__FILE__, __LINE__, "see the FAIL line above");
        } else {
            printf ("ok   bad input refused: %s\n", strstr (err, ":3: ") + 1);
        }
        lin_history_free (&h);
    }
    unlink (path);
    lin_history_t h = {0};
    char err[512];
    if (lin_history_load (&h, "/nonexistent/history", err, sizeof err) == 0) {
        printf ("FAIL a missing file was accepted\n");
        check_failed (__FILE__, __LINE__, "see the FAIL line above");
    }
    lin_history_free (&h);
}

int
main (void)
{
    check_watchdog ("test_linearize", 300);
    rng_seed_from_env (&s_rng, "test_linearize", 88172645463325252ULL);
    s_hand_written ();
    s_hand_written_cas ();
    s_generated ();
    s_bad_input ();
    if (check_failures ()) {
        printf ("test_linearize: %d FAILED\n", check_failures ());
        return 1;
    }
    printf ("test_linearize: all passed\n");
    return 0;
}
