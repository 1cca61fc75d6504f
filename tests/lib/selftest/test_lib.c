/*  test_lib.c -- tests/lib's own test: each helper must be able to fail.

    A CHECK that fails is counted and makes check_report () non-zero (in
    a child process, so this run's own report stays clean); the integer
    and string forms print both sides; the watchdog ends a hung child
    with status 2 and names its test; the generator replays its seed and
    TEST_SEED overrides it; an unseeded one aborts.
*/
#include "check.h"
#include "rng.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run fn in a child with stderr in a pipe: its exit status and what it
   wrote (up to size - 1 bytes). */
static int
s_child (void (*fn) (void), char *out, size_t size)
{
    int fds[2];
    if (pipe (fds) != 0)
        return -1;
    fflush (stdout);
    pid_t pid = fork ();
    if (pid == 0) {
        close (fds[0]);
        dup2 (fds[1], STDERR_FILENO);
        if (!freopen ("/dev/null", "w", stdout))
            _exit (99);
        fn ();
        _exit (98); /* fn must exit itself */
    }
    close (fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < size && (r = read (fds[0], out + n, size - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close (fds[0]);
    int st = 0;
    waitpid (pid, &st, 0);
    return WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st);
}

static void
s_failing_test (void)
{
    CHECK (1 + 1 == 3);
    CHECK_EQ (2 + 2, 5);
    CHECK_STREQ ("abc", "abd");
    CHECK_STREQ (NULL, "x");
}

static void
s_failing_run (void)
{
    check_run ("planted", s_failing_test);
    exit (check_report ());
}

static void
s_passing_test (void)
{
    CHECK (1 + 1 == 2);
    CHECK_EQ (-3, -3);
    CHECK_UEQ (UINT64_MAX, UINT64_MAX);
    CHECK_STREQ ("abc", "abc");
    CHECK_STREQ (NULL, NULL);
}

static void
s_passing_run (void)
{
    check_run ("fine", s_passing_test);
    exit (check_report ());
}

static void
s_hang (void)
{
    for (;;)
        pause ();
}

static void
s_hung_run (void)
{
    check_watchdog ("hung", 1);
    check_run ("forever", s_hang);
    exit (0);
}

static void
test_check_fails (void)
{
    char out[4096];
    CHECK_EQ (s_child (s_failing_run, out, sizeof out), 1);
    CHECK (strstr (out, "test_lib.c:") && strstr (out, "1 + 1 == 3"));
    CHECK (strstr (out, "2 + 2 == 5 (4 vs 5)"));
    CHECK (strstr (out, "(\"abc\" vs \"abd\")"));
    CHECK (strstr (out, "(\"(null)\" vs \"x\")"));
    CHECK_EQ (s_child (s_passing_run, out, sizeof out), 0);
    CHECK_STREQ (out, "");
}

static void
test_watchdog_fires (void)
{
    char out[4096];
    CHECK_EQ (s_child (s_hung_run, out, sizeof out), 2);
    CHECK (strstr (out, "hung: timed out after 1 s (watchdog), in test "
                        "forever"));
}

static void
s_unseeded (void)
{
    rng_t r = {0};
    rng_next (&r);
    exit (0);
}

static void
test_rng_replays (void)
{
    char out[512];
    CHECK_EQ (s_child (s_unseeded, out, sizeof out), 128 + SIGABRT);
    CHECK (strstr (out, "not seeded"));
    rng_t a, b;
    rng_seed (&a, 42);
    rng_seed (&b, 42);
    for (int i = 0; i < 1000; i++)
        CHECK_UEQ (rng_next (&a), rng_next (&b));
    /* the xorshift64* the node tests had, from their fixed state */
    rng_seed (&a, 0x9e3779b97f4a7c15ULL);
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 1000; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        CHECK_UEQ (rng_next (&a), s * 2685821657736338717ULL);
    }
    rng_seed (&a, 0); /* 0 would stay 0 */
    CHECK (rng_next (&a) != 0);
    setenv ("TEST_SEED", "0x1234", 1);
    CHECK_UEQ (rng_seed_from_env (&a, "test_lib", 7), 0x1234);
    unsetenv ("TEST_SEED");
    CHECK_UEQ (rng_seed_from_env (&b, "test_lib", 0x1234), 0x1234);
    CHECK_UEQ (rng_next (&a), rng_next (&b));
    for (int i = 0; i < 1000; i++)
        CHECK (rng_below (&a, 7) < 7);
}

int
main (void)
{
    check_watchdog ("test_lib", 30);
    CHECK_RUN (test_check_fails);
    CHECK_RUN (test_watchdog_fires);
    CHECK_RUN (test_rng_replays);
    return check_report ();
}
