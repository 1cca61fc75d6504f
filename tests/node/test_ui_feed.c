/*  test_ui_feed.c -- the /ui page's feed (actors/ui_feed.c): items
    numbered in order with their "id:" lines, the state block first, the
    ring's bound (a reader too far behind skips to the oldest item held
    and is told how many it lost), the viewer slots, waiting (woken by a
    push, a deadline, a stop).

    The model check (s_test_model): random pushes and reads over random
    capacities; every read must return exactly the items a model of the
    ring says it holds after `from`, up to max_items, and count the rest
    as lost, none missing and none twice.
*/
#include "check.h"
#include "rng.h"
#include "ui_feed.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t
s_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_push (ui_feed_t *f, unsigned n)
{
    char b[64];
    int len = snprintf (b, sizeof b, "data: %u\n\n", n);
    CHECK_EQ (ui_feed_push (f, b, (size_t)len), n);
}

/* The text items first..last would read as. */
static char *
s_expect (uint64_t first, uint64_t last)
{
    size_t cap = 64 + (last >= first ? (last - first + 1) * 48 : 0), len = 0;
    char *t = malloc (cap);
    t[0] = 0;
    for (uint64_t n = first; n <= last && first; n++)
        len += (size_t)snprintf (t + len, cap - len, "id: %llu\ndata: %llu\n\n",
                                 (unsigned long long)n, (unsigned long long)n);
    return t;
}

static void
s_test_order_and_state (void)
{
    ui_feed_t *f = ui_feed_new (8);
    ui_feed_read_t r;
    CHECK_EQ (ui_feed_read (f, 0, 100, 0, false, &r), 0);
    CHECK_EQ (r.len, 0);
    CHECK_EQ (r.next, 0);
    ui_feed_read_clear (&r);
    for (unsigned i = 1; i <= 3; i++)
        s_push (f, i);
    CHECK_EQ (ui_feed_last (f), 3);
    CHECK_EQ (ui_feed_read (f, 0, 100, 0, false, &r), 0);
    char *e = s_expect (1, 3);
    CHECK_STREQ (r.text, e);
    free (e);
    CHECK_EQ (r.next, 3);
    CHECK_EQ (r.lost, 0);
    ui_feed_read_clear (&r);
    /* max_items, then on from next */
    CHECK_EQ (ui_feed_read (f, 0, 2, 0, false, &r), 0);
    CHECK_EQ (r.next, 2);
    ui_feed_read_clear (&r);
    CHECK_EQ (ui_feed_read (f, 2, 2, 0, false, &r), 0);
    CHECK_STREQ (r.text, "id: 3\ndata: 3\n\n");
    ui_feed_read_clear (&r);
    /* the state block first, even with nothing new */
    ui_feed_set_state (f, "event: members\ndata: {}\n\n", 25);
    CHECK_EQ (ui_feed_read (f, 3, 10, 0, true, &r), 0);
    CHECK_STREQ (r.text, "event: members\ndata: {}\n\n");
    CHECK_EQ (r.next, 3);
    ui_feed_read_clear (&r);
    /* a number from before a restart of the node: read on from now */
    CHECK_EQ (ui_feed_read (f, 99, 10, 0, false, &r), 0);
    CHECK_EQ (r.len, 0);
    CHECK_EQ (r.next, 3);
    ui_feed_read_clear (&r);
    ui_feed_destroy (&f);
    CHECK (f == NULL);
}

static void
s_test_bound (void)
{
    ui_feed_t *f = ui_feed_new (4);
    for (unsigned i = 1; i <= 10; i++)
        s_push (f, i);
    ui_feed_read_t r;
    CHECK_EQ (ui_feed_read (f, 0, 100, 0, false, &r), 0);
    char *e = s_expect (7, 10);
    CHECK_STREQ (r.text, e);
    free (e);
    CHECK_EQ (r.lost, 6);
    CHECK_EQ (r.next, 10);
    ui_feed_read_clear (&r);
    CHECK_EQ (ui_feed_read (f, 8, 100, 0, false, &r), 0);
    CHECK_EQ (r.lost, 0);
    CHECK_STREQ (r.text, "id: 9\ndata: 9\n\nid: 10\ndata: 10\n\n");
    ui_feed_read_clear (&r);
    ui_feed_destroy (&f);
}

static void
s_test_viewers (void)
{
    ui_feed_t *f = ui_feed_new (4);
    CHECK (ui_feed_join (f, 2));
    CHECK (ui_feed_join (f, 2));
    CHECK (!ui_feed_join (f, 2));
    CHECK_EQ (ui_feed_viewers (f), 2);
    ui_feed_leave (f);
    CHECK (ui_feed_join (f, 2));
    ui_feed_leave (f);
    ui_feed_leave (f);
    ui_feed_leave (f); /* one too many: never below 0 */
    CHECK_EQ (ui_feed_viewers (f), 0);
    ui_feed_stop (f);
    CHECK (!ui_feed_join (f, 2));
    ui_feed_destroy (&f);
}

static void *
s_pusher (void *arg)
{
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep (&ts, NULL);
    s_push (arg, 1);
    return NULL;
}

static void *
s_stopper (void *arg)
{
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep (&ts, NULL);
    ui_feed_stop (arg);
    return NULL;
}

static void
s_test_wait (void)
{
    ui_feed_t *f = ui_feed_new (4);
    ui_feed_read_t r;
    /* a deadline with nothing: an empty read, in time */
    int64_t t0 = s_mono_ms ();
    CHECK_EQ (ui_feed_read (f, 0, 10, t0 + 150, false, &r), 0);
    int64_t took = s_mono_ms () - t0;
    CHECK_EQ (r.len, 0);
    CHECK (took >= 140 && took < 2000);
    ui_feed_read_clear (&r);
    /* woken by a push */
    pthread_t th;
    pthread_create (&th, NULL, s_pusher, f);
    t0 = s_mono_ms ();
    CHECK_EQ (ui_feed_read (f, 0, 10, t0 + 5000, false, &r), 0);
    CHECK (s_mono_ms () - t0 < 2000);
    CHECK_STREQ (r.text, "id: 1\ndata: 1\n\n");
    ui_feed_read_clear (&r);
    pthread_join (th, NULL);
    /* woken by a stop: -1, and every read after it */
    pthread_create (&th, NULL, s_stopper, f);
    t0 = s_mono_ms ();
    CHECK_EQ (ui_feed_read (f, 1, 10, t0 + 5000, false, &r), -1);
    CHECK (s_mono_ms () - t0 < 2000);
    pthread_join (th, NULL);
    CHECK_EQ (ui_feed_read (f, 0, 10, 0, false, &r), -1);
    ui_feed_destroy (&f);
}

static void
s_test_model (void)
{
    for (uint64_t seed = 1; seed <= 100; seed++) {
        rng_t rng;
        rng_seed (&rng, seed);
        size_t cap = 1 + rng_below (&rng, 16);
        ui_feed_t *f = ui_feed_new (cap);
        uint64_t last = 0;
        int f0 = check_failures ();
        for (int step = 0; step < 200 && check_failures () == f0; step++) {
            unsigned pushes = (unsigned)rng_below (&rng, 6);
            for (unsigned i = 0; i < pushes; i++)
                s_push (f, (unsigned)++last);
            uint64_t from = rng_below (&rng, last + 2);
            size_t max = 1 + rng_below (&rng, 20);
            uint64_t oldest = last >= cap ? last - cap + 1 : 1;
            uint64_t first = from + 1 < oldest ? oldest : from + 1;
            uint64_t lost = from + 1 < oldest ? oldest - from - 1 : 0;
            if (from > last) {
                first = last + 1;
                lost = 0;
            }
            uint64_t end = first + max - 1 < last ? first + max - 1 : last;
            ui_feed_read_t r;
            CHECK_EQ (ui_feed_read (f, from, max, 0, false, &r), 0);
            char *e = s_expect (first, end);
            if (strcmp (r.text ? r.text : "", e) != 0 || r.lost != lost ||
                r.next != (first <= end ? end : first - 1))
                check_failed (
                    __FILE__, __LINE__,
                    "seed %llu step %d: cap %zu last %llu from %llu "
                    "max %zu: got lost %llu next %llu",
                    (unsigned long long)seed, step, cap,
                    (unsigned long long)last, (unsigned long long)from, max,
                    (unsigned long long)r.lost, (unsigned long long)r.next);
            free (e);
            ui_feed_read_clear (&r);
        }
        ui_feed_destroy (&f);
        if (check_failures () > f0)
            break;
    }
}

int
main (void)
{
    check_watchdog ("test_ui_feed", 60);
    check_run ("order, max_items, the state block", s_test_order_and_state);
    check_run ("the bound: the oldest items go, counted lost", s_test_bound);
    check_run ("viewer slots", s_test_viewers);
    check_run ("waiting: deadline, push, stop", s_test_wait);
    check_run ("model: what the ring holds, once, in order", s_test_model);
    return check_report ();
}
