/*  check.c -- checks, the runner and the watchdog (see check.h).
*/
#include "check.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Atomic: a test's helper threads (a fake actor) may fail checks too. */
static _Atomic int s_failures;      /* every failed check */
static _Atomic int s_test_failures; /* in the running test */
static int s_passed, s_failed;
/* Read by the watchdog's signal handler. */
static const char *volatile s_current;
static const char *s_name = "test";
static unsigned s_seconds;

void
check_failed (const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    fprintf (stderr, "%s:%d: CHECK failed: ", file, line);
    vfprintf (stderr, fmt, ap);
    fputc ('\n', stderr);
    va_end (ap);
    s_failures++;
    s_test_failures++;
}

int
check_streq_ (const char *a, const char *b)
{
    return a && b ? strcmp (a, b) == 0 : a == b;
}

int
check_failures (void)
{
    return s_failures;
}

static long long
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
check_run (const char *name, void (*fn) (void))
{
    s_test_failures = 0;
    s_current = name;
    long long t0 = s_now_ms ();
    fn ();
    long long ms = s_now_ms () - t0;
    s_current = NULL;
    if (s_test_failures) {
        s_failed++;
        printf ("FAIL %-36s (%d failed check%s, %lld ms)\n", name,
                s_test_failures, s_test_failures == 1 ? "" : "s", ms);
    } else {
        s_passed++;
        printf ("ok   %-36s (%lld ms)\n", name, ms);
    }
    fflush (stdout);
}

int
check_report (void)
{
    printf ("%d passed, %d failed", s_passed, s_failed);
    /* checks outside any test (set-up) count too */
    if (s_failures && !s_failed)
        printf (" (%d failed check%s outside the tests)", s_failures,
                s_failures == 1 ? "" : "s");
    printf ("\n");
    fflush (stdout);
    return s_failures ? 1 : 0;
}

/* Async-signal-safe: write(2) only. */
static void
s_write (const char *s)
{
    if (write (STDERR_FILENO, s, strlen (s)) < 0)
        _exit (2);
}

static void
s_on_alarm (int sig)
{
    (void)sig;
    char secs[16];
    int n = 0;
    unsigned v = s_seconds;
    char rev[16];
    do
        rev[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 15);
    for (int i = 0; i < n; i++)
        secs[i] = rev[n - 1 - i];
    secs[n] = '\0';
    s_write (s_name);
    s_write (": timed out after ");
    s_write (secs);
    s_write (" s (watchdog)");
    const char *cur = s_current;
    if (cur) {
        s_write (", in test ");
        s_write (cur);
    }
    s_write ("\n");
    _exit (2);
}

void
check_watchdog (const char *name, unsigned seconds)
{
    s_name = name;
    s_seconds = seconds;
    signal (SIGALRM, s_on_alarm);
    alarm (seconds);
}
