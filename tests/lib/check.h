/*  check.h -- checks, a runner and a watchdog for every C test.

    CHECK (expr) records a failure (file:line and the expression on
    stderr) and goes on, so one run shows every broken check. The
    CHECK_EQ family prints both values:

        CHECK (reply != NULL);
        CHECK_EQ (st.term, 3);        integers (as intmax_t / uintmax_t)
        CHECK_STREQ (body, "{}");     C strings (NULL allowed)

    The runner runs named tests and prints one line per test, then a
    summary; its value is the exit status:

        check_run ("put", test_put);    "ok   put  (12 ms)" or
                                         "FAIL put  (2 failed checks, 12 ms)"
        return check_report ();          "18 passed, 0 failed"

    check_watchdog (60) ends the process (exit 2) if it still runs 60 s
    later, naming the test that hung: a blocked actor must fail CI, not
    hold it. check_failures () is the number of failed checks so far, for
    tests that count their own.
*/
#ifndef CHECK_H_INCLUDED
#define CHECK_H_INCLUDED

#include <stdint.h>

void check_failed (const char *file, int line, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

#define CHECK(expr)                                                            \
    do {                                                                       \
        if (!(expr))                                                           \
            check_failed (__FILE__, __LINE__, "%s", #expr);                    \
    } while (0)

/* Integers: both sides evaluated once, compared as signed or unsigned
   (the unsigned form for values above INTMAX_MAX, such as hashes). */
#define CHECK_OP_(a, op, b, T, fmt)                                            \
    do {                                                                       \
        T check_a_ = (T)(a), check_b_ = (T)(b);                                \
        if (!(check_a_ op check_b_))                                           \
            check_failed (__FILE__, __LINE__,                                  \
                          "%s " #op " %s (" fmt " vs " fmt ")", #a, #b,        \
                          check_a_, check_b_);                                 \
    } while (0)
#define CHECK_EQ(a, b) CHECK_OP_ (a, ==, b, intmax_t, "%jd")
#define CHECK_NE(a, b) CHECK_OP_ (a, !=, b, intmax_t, "%jd")
#define CHECK_LT(a, b) CHECK_OP_ (a, <, b, intmax_t, "%jd")
#define CHECK_LE(a, b) CHECK_OP_ (a, <=, b, intmax_t, "%jd")
#define CHECK_GE(a, b) CHECK_OP_ (a, >=, b, intmax_t, "%jd")
#define CHECK_UEQ(a, b) CHECK_OP_ (a, ==, b, uintmax_t, "%ju")

#define CHECK_STREQ(a, b)                                                      \
    do {                                                                       \
        const char *check_a_ = (a), *check_b_ = (b);                           \
        if (!check_streq_ (check_a_, check_b_))                                \
            check_failed (__FILE__, __LINE__, "%s == %s (\"%s\" vs \"%s\")",   \
                          #a, #b, check_a_ ? check_a_ : "(null)",              \
                          check_b_ ? check_b_ : "(null)");                     \
    } while (0)
int check_streq_ (const char *a, const char *b);

/* Failed checks since the process started. */
int check_failures (void);

/* Run one test, print its line: "ok   NAME  (T ms)" or
   "FAIL NAME  (N failed checks, T ms)". */
void check_run (const char *name, void (*fn) (void));
#define CHECK_RUN(fn) check_run (#fn, fn)

/* "N passed, M failed", and the exit status: 1 if any check failed
   (inside a test or out of one), else 0. */
int check_report (void);

/* End the process with status 2 and "NAME: timed out after N s (in test
   T)" on stderr if it runs N seconds from now; 0 disarms it. */
void check_watchdog (const char *name, unsigned seconds);

#endif
