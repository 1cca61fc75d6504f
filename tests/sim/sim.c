/*  sim.c -- the simulator's command line. See sim.h for the overview:
    world.c and net.c are the world, faults.c its clients and faults, run.c
    one seed's run, check.c and check_commit.c the properties checked.

    Usage:
      sim --seed S [--nodes 3|5|7] [--trace]        replay one seed
      sim --seeds N [--first S] [--quiet]           run N seeds
      sim --seeds N --expect-violation [--name B]   planted-bug build: succeed
                                                    only if some seed fails
*/
#include "sim.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*  ---------------------------------------------------------------------
    Command line                                                         */

static void
s_usage (void)
{
    puts (
        "usage: sim [--seed S | --seeds N [--first S]] [--nodes 3|5|7]\n"
        "           [--ticks T]\n"
        "           [--trace] [--quiet] [--expect-violation] [--name NAME]\n"
        "  --seed S            run one seed (with --trace: readable trace)\n"
        "  --seeds N           run N seeds starting at --first (default 1)\n"
        "  --nodes K           cluster size (default: 3, 5, 7 by seed)\n"
        "  --ticks T           ticks of faults before healing (default 2000)\n"
        "  --expect-violation  planted-bug build: succeed if a seed fails\n"
        "  --name NAME         name used in replay hints (default sim)");
}

int
main (int argc, char **argv)
{
    uint64_t seed = 0, first = 1, count = 0;
    int nodes = 0;
    bool verbose = false, quiet = false, expect = false;
    const char *name = "sim";
    static const struct option opts[] = {
        {"seed", required_argument, 0, 's'},
        {"seeds", required_argument, 0, 'n'},
        {"first", required_argument, 0, 'f'},
        {"nodes", required_argument, 0, 'k'},
        {"trace", no_argument, 0, 't'},
        {"quiet", no_argument, 0, 'q'},
        {"expect-violation", no_argument, 0, 'x'},
        {"name", required_argument, 0, 'N'},
        {"ticks", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long (argc, argv, "s:n:f:k:tqxN:T:h", opts, NULL)) !=
           -1) {
        switch (c) {
        case 's': seed = strtoull (optarg, NULL, 10); break;
        case 'n': count = strtoull (optarg, NULL, 10); break;
        case 'f': first = strtoull (optarg, NULL, 10); break;
        case 'k': nodes = atoi (optarg); break;
        case 't': verbose = true; break;
        case 'q': quiet = true; break;
        case 'x': expect = true; break;
        case 'N': name = optarg; break;
        case 'T': sim_chaos_ticks = strtoull (optarg, NULL, 10); break;
        case 'h': s_usage (); return 0;
        default: s_usage (); return 2;
        }
    }
    if (nodes && (nodes < 1 || nodes > SIM_MAX_NODES - 2)) {
        fprintf (stderr, "sim: --nodes must be 1..%d\n", SIM_MAX_NODES - 2);
        return 2;
    }
    if (seed) {
        sim_result_t r = sim_run (seed, nodes, verbose);
        printf ("seed %llu: %s, trace hash %016llx\n", (unsigned long long)seed,
                r.ok ? "ok" : "VIOLATION", (unsigned long long)r.hash);
        return r.ok ? 0 : 1;
    }
    if (!count)
        count = 100;
    struct timespec t0, t1;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    uint64_t failed = 0, vus = 0, events = 0, ran = 0;
    for (uint64_t sd = first; sd < first + count; sd++) {
        sim_result_t r = sim_run (sd, nodes, false);
        ran++;
        vus += r.virtual_us;
        events += r.events;
        if (!r.ok) {
            failed++;
            if (strcmp (name, "sim") == 0)
                printf ("replay: make sim SEED=%llu\n", (unsigned long long)sd);
            else
                printf ("replay: build/%s --seed %llu --trace\n", name,
                        (unsigned long long)sd);
            if (expect) {
                printf ("%s: caught after %llu seeds (seed %llu)\n", name,
                        (unsigned long long)ran, (unsigned long long)sd);
                return 0;
            }
        }
    }
    clock_gettime (CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (!quiet || failed || expect)
        printf ("%s: %llu seeds (%llu..%llu), %llu violations, %.1f s virtual "
                "(%.0f election timeouts), %llu events, %.2f s wall, %.1f "
                "seeds/s\n",
                name, (unsigned long long)ran, (unsigned long long)first,
                (unsigned long long)(first + count - 1),
                (unsigned long long)failed, (double)vus / 1e6,
                (double)vus / (10.0 * SIM_TICK_US), (unsigned long long)events,
                secs, (double)ran / secs);
    if (expect) {
        printf ("%s: NOT caught in %llu seeds\n", name,
                (unsigned long long)ran);
        return 1;
    }
    return failed ? 1 : 0;
}
