/*  fuzz.h -- what every libFuzzer harness in tests/fuzz/ shares.

    A harness is one file, tests/fuzz/fuzz_<name>.c, that includes this
    header once and defines two functions:

      int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
            one input; a broken property calls fuzz_fail () (FUZZ_CHECK),
            which prints what broke and aborts, so libFuzzer keeps the
            input as a crash;
      void fuzz_seeds (void);
            calls fuzz_seed () with each input the harness's encoders make,
            the corpus's starting point (valid messages of every kind);

    and the Makefile one line, FUZZ_<name> := the sources it links. The
    Makefile and tests/fuzz/fuzz.sh find harnesses by their file names.

    `fuzz_<name> -write_seeds=DIR` writes fuzz_seeds ()'s inputs to DIR as
    seed-NNNN and exits; every other argument is libFuzzer's.
*/
#ifndef FUZZ_H_INCLUDED
#define FUZZ_H_INCLUDED

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);
void fuzz_seeds (void);

#define FUZZ_CHECK(expr)                                                       \
    do {                                                                       \
        if (!(expr))                                                           \
            fuzz_fail (__FILE__, __LINE__, "%s", #expr);                       \
    } while (0)

static void fuzz_fail (const char *file, int line, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4), noreturn));

#include <stdarg.h>

static void
fuzz_fail (const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    fprintf (stderr, "\n%s:%d: PROPERTY BROKEN: ", file, line);
    vfprintf (stderr, fmt, ap);
    fprintf (stderr, "\n");
    va_end (ap);
    abort ();
}

static const char *s_fuzz_seed_dir;
static unsigned s_fuzz_seed_n;

/* Write one seed input (only in -write_seeds mode; a no-op otherwise). */
static void
fuzz_seed (const void *data, size_t size)
{
    if (!s_fuzz_seed_dir)
        return;
    char path[4096];
    snprintf (path, sizeof path, "%s/seed-%04u", s_fuzz_seed_dir,
              s_fuzz_seed_n++);
    FILE *f = fopen (path, "wb");
    if (!f || fwrite (data, 1, size, f) != size || fclose (f) != 0) {
        perror (path);
        exit (1);
    }
}

/* libFuzzer calls this before it parses its own flags: -write_seeds=DIR is
   ours, and stops the program once the seeds are written. */
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    static const char flag[] = "-write_seeds=";
    for (int i = 1; i < *argc; i++) {
        if (strncmp ((*argv)[i], flag, sizeof flag - 1) == 0) {
            s_fuzz_seed_dir = (*argv)[i] + sizeof flag - 1;
            fuzz_seeds ();
            printf ("%u seeds written to %s\n", s_fuzz_seed_n, s_fuzz_seed_dir);
            exit (0);
        }
    }
    return 0;
}

#endif
