/*  test_read_barrier.c -- the shared read barrier (http/read_barrier.c):
    rounds, who may join which round, errors and deadlines.

    The raft actor is a fake ask function. The model of linearizability
    it checks: `committed` counts writes acknowledged to clients; the
    fake's read index for a round is `committed` when the round's ask
    starts (as the raft actor takes its commit index when the request
    arrives). A GET that arrived after `committed` reached c must be
    answered by a round whose read index is at least c (§6.4: the read
    index is taken after the read arrived). A gate in the fake holds a
    round in flight for as long as a test needs.

    Built a second time with the planted bug (a worker joins the round in
    flight, NSXD_PLANTED_BUG 6): `make read-barrier-teeth` expects that
    build to fail here.
*/
#include "check.h"
#include "read_barrier.h"

#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 4096
#define LONG_MS 5000 /* a deadline no test reaches */

static int64_t
s_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The fake raft actor. */
typedef struct {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    atomic_uint_fast64_t committed;
    uint64_t asks;                  /* rounds asked so far */
    uint64_t index[MAX_ROUNDS + 1]; /* each round's read index */
    uint64_t released;   /* asks numbered above this wait at the gate */
    bool in_ask;         /* an ask is waiting at the gate */
    unsigned error_from; /* asks from this one fail (0: none) */
    unsigned delay_us;   /* each ask takes this long */
} fake_t;

static fake_t s_fake;

static void
s_fake_reset (void)
{
    pthread_mutex_lock (&s_fake.mutex);
    atomic_store (&s_fake.committed, 0);
    s_fake.asks = 0;
    s_fake.released = UINT64_MAX;
    s_fake.in_ask = false;
    s_fake.error_from = 0;
    s_fake.delay_us = 0;
    pthread_mutex_unlock (&s_fake.mutex);
}

static void
s_fake_ask (void *arg, http_read_barrier_result_t *out)
{
    (void)arg;
    pthread_mutex_lock (&s_fake.mutex);
    uint64_t n = ++s_fake.asks;
    if (n <= MAX_ROUNDS)
        s_fake.index[n] = atomic_load (&s_fake.committed);
    s_fake.in_ask = true;
    pthread_cond_broadcast (&s_fake.cond);
    while (n > s_fake.released)
        pthread_cond_wait (&s_fake.cond, &s_fake.mutex);
    s_fake.in_ask = false;
    bool fail = s_fake.error_from && n >= s_fake.error_from;
    unsigned delay_us = s_fake.delay_us;
    pthread_mutex_unlock (&s_fake.mutex);
    if (delay_us)
        usleep (delay_us); /* a round trip, for rounds to be shared */
    if (fail) {
        out->status = 409;
        strcpy (out->code, "not_leader");
        out->has_leader = out->leader_known = true;
        strcpy (out->leader, "node2:8000");
    } else {
        out->status = 200;
    }
}

/* Let asks up to number n through the gate, hold the later ones
   (UINT64_MAX: hold none). */
static void
s_release (uint64_t n)
{
    pthread_mutex_lock (&s_fake.mutex);
    s_fake.released = n;
    pthread_cond_broadcast (&s_fake.cond);
    pthread_mutex_unlock (&s_fake.mutex);
}

/* Wait (bounded) until ask number n is at the gate. */
static bool
s_wait_ask (uint64_t n)
{
    int64_t until = s_mono_ms () + LONG_MS;
    pthread_mutex_lock (&s_fake.mutex);
    while (!(s_fake.asks >= n && s_fake.in_ask) && s_mono_ms () < until) {
        pthread_mutex_unlock (&s_fake.mutex);
        usleep (1000);
        pthread_mutex_lock (&s_fake.mutex);
    }
    bool ok = s_fake.asks >= n && s_fake.in_ask;
    pthread_mutex_unlock (&s_fake.mutex);
    return ok;
}

/* Wait (bounded) until the barrier has seen n waits begin. */
static bool
s_wait_waits (http_read_barrier_t *b, uint64_t n)
{
    int64_t until = s_mono_ms () + LONG_MS;
    uint64_t rounds, waits;
    do {
        http_read_barrier_stats (b, &rounds, &waits);
        if (waits >= n)
            return true;
        usleep (1000);
    } while (s_mono_ms () < until);
    return false;
}

/* One GET: arrives (notes `committed`), waits for its barrier. */
typedef struct {
    pthread_t thread;
    http_read_barrier_t *b;
    int wait_ms;
    uint64_t arrived_at; /* committed when it arrived */
    int rc;
    int64_t took_ms;
    http_read_barrier_result_t res;
    atomic_bool finished;
} get_t;

static void *
s_get_run (void *arg)
{
    get_t *g = arg;
    g->arrived_at = atomic_load (&s_fake.committed);
    int64_t t0 = s_mono_ms ();
    g->rc = http_read_barrier_wait (g->b, s_fake_ask, NULL, t0 + g->wait_ms,
                                    &g->res);
    g->took_ms = s_mono_ms () - t0;
    atomic_store (&g->finished, true);
    return NULL;
}

static void
s_get_start (get_t *g, http_read_barrier_t *b, int wait_ms)
{
    memset (g, 0, sizeof *g);
    g->b = b;
    g->wait_ms = wait_ms;
    pthread_create (&g->thread, NULL, s_get_run, g);
}

/* The GET was answered by a round whose read index is recent enough. */
static void
s_check_linearizable (const get_t *g)
{
    CHECK_EQ (g->rc, 0);
    CHECK_EQ (g->res.status, 200);
    CHECK (g->res.round >= 1 && g->res.round <= s_fake.asks);
    if (g->res.round >= 1 && g->res.round <= MAX_ROUNDS)
        CHECK_GE (s_fake.index[g->res.round], g->arrived_at);
}

static void
s_test_alone (void)
{
    s_fake_reset ();
    http_read_barrier_t *b = http_read_barrier_new ();
    CHECK (b != NULL);
    for (int i = 1; i <= 3; i++) {
        http_read_barrier_result_t res;
        CHECK_EQ (http_read_barrier_wait (b, s_fake_ask, NULL,
                                          s_mono_ms () + LONG_MS, &res),
                  0);
        CHECK_EQ (res.status, 200);
        CHECK_EQ (res.round, i); /* one round each: nobody to share with */
    }
    CHECK_EQ (s_fake.asks, 3);
    http_read_barrier_destroy (&b);
    CHECK (b == NULL);
}

/* The rule: GETs arriving while a round is in flight (after a write was
   acknowledged) share the next round, never the one in flight. */
static void
s_test_join_next_round (void)
{
    s_fake_reset ();
    http_read_barrier_t *b = http_read_barrier_new ();
    s_release (0);
    get_t first, later[8];
    s_get_start (&first, b, LONG_MS);
    CHECK (s_wait_ask (1)); /* round 1 in flight, read index 0 */
    atomic_fetch_add (&s_fake.committed, 1); /* a write acknowledged */
    for (int i = 0; i < 8; i++)
        s_get_start (&later[i], b, LONG_MS);
    CHECK (s_wait_waits (b, 9));
    s_release (UINT64_MAX);
    pthread_join (first.thread, NULL);
    s_check_linearizable (&first);
    CHECK_EQ (first.res.round, 1);
    for (int i = 0; i < 8; i++) {
        pthread_join (later[i].thread, NULL);
        s_check_linearizable (&later[i]);
        CHECK_EQ (later[i].res.round, 2); /* all eight in one round */
    }
    CHECK_EQ (s_fake.asks, 2);
    http_read_barrier_destroy (&b);
}

/* An error answer is every waiting worker's answer. */
static void
s_test_error_wakes_all (void)
{
    s_fake_reset ();
    http_read_barrier_t *b = http_read_barrier_new ();
    s_fake.error_from = 2;
    s_release (0);
    get_t first, later[6];
    s_get_start (&first, b, LONG_MS);
    CHECK (s_wait_ask (1));
    for (int i = 0; i < 6; i++)
        s_get_start (&later[i], b, LONG_MS);
    CHECK (s_wait_waits (b, 7));
    s_release (UINT64_MAX);
    pthread_join (first.thread, NULL);
    CHECK_EQ (first.res.status, 200);
    for (int i = 0; i < 6; i++) {
        pthread_join (later[i].thread, NULL);
        CHECK_EQ (later[i].rc, 0);
        CHECK_EQ (later[i].res.status, 409);
        CHECK_STREQ (later[i].res.code, "not_leader");
        CHECK (later[i].res.has_leader && later[i].res.leader_known);
        CHECK_STREQ (later[i].res.leader, "node2:8000");
        CHECK_EQ (later[i].res.round, 2);
    }
    CHECK_EQ (s_fake.asks, 2);
    http_read_barrier_destroy (&b);
}

/* A worker's own deadline: it leaves (503 timeout) while a round is in
   flight, whether it waits for the next round or is in the one in
   flight; the others are answered as usual. */
static void
s_test_deadline (void)
{
    s_fake_reset ();
    http_read_barrier_t *b = http_read_barrier_new ();
    s_release (0);
    get_t first, quick;
    s_get_start (&first, b, LONG_MS);
    CHECK (s_wait_ask (1));
    /* waiting for round 2, gives up while round 1 is held */
    s_get_start (&quick, b, 50);
    pthread_join (quick.thread, NULL);
    CHECK_EQ (quick.rc, -1);
    CHECK_EQ (quick.res.status, 503);
    CHECK_STREQ (quick.res.code, "timeout");
    CHECK (quick.took_ms >= 40 && quick.took_ms < 2000);
    /* two join round 2 with short deadlines; it goes in flight and is
       held past both: the one that did not send it gives up (the sender
       waits for its ask, which has its own deadline), the other is
       answered once the round is */
    get_t two[2];
    s_get_start (&two[0], b, 300);
    s_get_start (&two[1], b, 300);
    CHECK (s_wait_waits (b, 4));
    s_release (1);
    pthread_join (first.thread, NULL);
    CHECK_EQ (first.res.status, 200);
    CHECK (s_wait_ask (2));
    int64_t until = s_mono_ms () + LONG_MS;
    while (!atomic_load (&two[0].finished) && !atomic_load (&two[1].finished) &&
           s_mono_ms () < until)
        usleep (1000);
    usleep (50 * 1000); /* the other one must not finish too */
    int gave_up = atomic_load (&two[0].finished) ? 0 : 1;
    CHECK (atomic_load (&two[gave_up].finished));
    CHECK (!atomic_load (&two[1 - gave_up].finished));
    s_release (UINT64_MAX);
    pthread_join (two[0].thread, NULL);
    pthread_join (two[1].thread, NULL);
    CHECK_EQ (two[gave_up].rc, -1);
    CHECK_EQ (two[gave_up].res.status, 503);
    s_check_linearizable (&two[1 - gave_up]);
    CHECK_EQ (two[1 - gave_up].res.round, 2);
    CHECK_EQ (s_fake.asks, 2); /* nobody left to need a third */
    http_read_barrier_destroy (&b);
}

/* Many workers, writes acknowledged all along: every answer's read index
   is at least what was acknowledged when its GET arrived, and rounds are
   shared. */
#define STRESS_THREADS 16
#define STRESS_GETS 200
typedef struct {
    pthread_t thread;
    http_read_barrier_t *b;
    int stale; /* answers whose read index predates the GET */
    int bad;   /* answers that were not 200 */
} stress_t;

static void *
s_stress_run (void *arg)
{
    stress_t *s = arg;
    for (int i = 0; i < STRESS_GETS; i++) {
        uint64_t arrived = atomic_fetch_add (&s_fake.committed, 1) + 1;
        http_read_barrier_result_t res;
        int rc = http_read_barrier_wait (s->b, s_fake_ask, NULL,
                                         s_mono_ms () + LONG_MS, &res);
        if (rc != 0 || res.status != 200 || res.round > MAX_ROUNDS) {
            s->bad++;
            continue;
        }
        pthread_mutex_lock (&s_fake.mutex);
        if (s_fake.index[res.round] < arrived)
            s->stale++;
        pthread_mutex_unlock (&s_fake.mutex);
    }
    return NULL;
}

static void
s_test_stress (void)
{
    s_fake_reset ();
    http_read_barrier_t *b = http_read_barrier_new ();
    s_fake.delay_us = 200;
    stress_t s[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++) {
        s[i] = (stress_t){.b = b};
        pthread_create (&s[i].thread, NULL, s_stress_run, &s[i]);
    }
    int stale = 0, bad = 0;
    for (int i = 0; i < STRESS_THREADS; i++) {
        pthread_join (s[i].thread, NULL);
        stale += s[i].stale;
        bad += s[i].bad;
    }
    uint64_t rounds, waits;
    http_read_barrier_stats (b, &rounds, &waits);
    CHECK_EQ (stale, 0);
    CHECK_EQ (bad, 0);
    CHECK_EQ (waits, STRESS_THREADS * STRESS_GETS);
    CHECK (rounds < waits / 2 && rounds == s_fake.asks); /* shared */
    printf ("     (stress: %llu GETs in %llu rounds)\n",
            (unsigned long long)waits, (unsigned long long)rounds);
    http_read_barrier_destroy (&b);
}

int
main (void)
{
    check_watchdog ("test_read_barrier", 60);
    pthread_mutex_init (&s_fake.mutex, NULL);
    pthread_cond_init (&s_fake.cond, NULL);
    check_run ("alone: a round each", s_test_alone);
    check_run ("arrivals join the next round", s_test_join_next_round);
    check_run ("an error wakes every waiter", s_test_error_wakes_all);
    check_run ("deadline: leave open or flight", s_test_deadline);
    check_run ("stress: never a stale round", s_test_stress);
    return check_report ();
}
