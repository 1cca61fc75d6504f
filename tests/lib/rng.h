/*  rng.h -- the tests' random numbers: xorshift64* (Vigna, "An
    experimental exploration of Marsaglia's xorshift generators,
    scrambled", 2016), seeded, so that a failing run replays.

    rng_seed_from_env (&r, "test_msg", default) seeds from TEST_SEED when
    it is set, else from the test's fixed default, and prints
    "test_msg: seed S (TEST_SEED=S to replay)". The simulator keeps its
    own generator (tests/sim/world.c, xoshiro256**): its seeds name
    recorded runs, and a different sequence would change every one.
*/
#ifndef RNG_H_INCLUDED
#define RNG_H_INCLUDED

#include <stdint.h>

typedef struct {
    uint64_t s; /* never 0 */
} rng_t;

void rng_seed (rng_t *r, uint64_t seed);
/* TEST_SEED if set (decimal or 0x hex), else `seed`; printed on stdout. */
uint64_t rng_seed_from_env (rng_t *r, const char *name, uint64_t seed);
/* Aborts if r was never seeded (its state 0 would give 0 forever). */
uint64_t rng_next (rng_t *r);
/* Uniform enough for tests in [0, n); n > 0. */
uint64_t rng_below (rng_t *r, uint64_t n);

/* The same generator as a raft_options_t.rand callback (ctx: rng_t *). */
uint64_t rng_callback (void *ctx);

#endif
