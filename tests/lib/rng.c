/*  rng.c -- xorshift64* (see rng.h).
*/
#include "rng.h"

#include <stdio.h>
#include <stdlib.h>

void
rng_seed (rng_t *r, uint64_t seed)
{
    /* xorshift's state must not be 0: it would stay 0 */
    r->s = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

uint64_t
rng_seed_from_env (rng_t *r, const char *name, uint64_t seed)
{
    const char *env = getenv ("TEST_SEED");
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull (env, &end, 0);
        if (*end == '\0')
            seed = v;
        else
            fprintf (stderr, "%s: TEST_SEED=%s is not a number, ignored\n",
                     name, env);
    }
    rng_seed (r, seed);
    printf ("%s: seed %llu (TEST_SEED=%llu to replay)\n", name,
            (unsigned long long)seed, (unsigned long long)seed);
    fflush (stdout);
    return seed;
}

uint64_t
rng_next (rng_t *r)
{
    uint64_t x = r->s;
    if (x == 0) {
        /* a generator never seeded would give 0 forever: a test whose
           random input is all zeros would pass for the wrong reason */
        fprintf (stderr, "rng_next: generator not seeded (rng_seed)\n");
        abort ();
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 2685821657736338717ULL;
}

uint64_t
rng_below (rng_t *r, uint64_t n)
{
    return rng_next (r) % n;
}

uint64_t
rng_callback (void *ctx)
{
    return rng_next ((rng_t *)ctx);
}
