/*  check_main.c -- build/jepsen-check: check a history file (history.c)
    for linearizability (linearize.h).

      build/jepsen-check [--verbose] [--max-steps N] [--max-mib N] HISTORY

    Prints a summary and, per violated key, the operation the search could
    not place and what the register held. Exit 0 linearizable, 1 not,
    2 bad usage or input, 3 unknown (a key's search hit its bound).
*/
#include "linearize.h"

#include <stdlib.h>
#include <string.h>

int
main (int argc, char **argv)
{
    lin_opts_t opts = {.report = stdout};
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--verbose") == 0)
            opts.verbose = true;
        else if (strcmp (argv[i], "--max-steps") == 0 && i + 1 < argc)
            opts.max_steps = strtoull (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "--max-mib") == 0 && i + 1 < argc)
            opts.max_cache_bytes = (size_t)strtoull (argv[++i], NULL, 10) << 20;
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf (stderr, "usage: jepsen-check [--verbose] [--max-steps N] "
                             "[--max-mib N] HISTORY\n");
            return 2;
        }
    }
    if (!path) {
        fprintf (stderr, "jepsen-check: no history file given\n");
        return 2;
    }
    lin_history_t h = {0};
    char err[512];
    if (lin_history_load (&h, path, err, sizeof err) != 0) {
        fprintf (stderr, "jepsen-check: %s\n", err);
        lin_history_free (&h);
        return 2;
    }
    lin_result_t res;
    lin_verdict_t v = lin_check (&h, &opts, &res);
    printf ("checked %zu operations (%zu ok, %zu fail, %zu info; %zu "
            "indeterminate ones dropped as unobserved) on %zu keys in "
            "%.3f s; largest key %zu operations; %llu search steps\n",
            res.ops, res.ok, res.fail, res.info, res.dropped, res.keys,
            res.seconds, res.max_key_ops, (unsigned long long)res.steps);
    if (res.cas)
        printf ("compare-and-swap: %zu (%zu swapped, %zu answered 412 "
                "compare_failed, the rest failed or indeterminate)\n",
                res.cas, res.cas_swapped, res.cas_failed);
    if (v == LIN_LINEARIZABLE)
        printf ("verdict: linearizable\n");
    else if (v == LIN_VIOLATION)
        printf ("verdict: NOT LINEARIZABLE (%zu keys; first stuck operation "
                "invoked at %.3f s)\n",
                res.keys_bad, res.first_violation / 1e9);
    else
        printf ("verdict: UNKNOWN (%zu keys hit the search bound)\n",
                res.keys_unknown);
    lin_history_free (&h);
    return (int)v;
}
