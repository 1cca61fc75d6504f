/*  test_watch_hub.c -- the watch history (actors/watch_hub.c): staging
    and publishing, the ring's bounds (events and bytes), key and prefix
    filters, from_index at and around the edges, 410 compacted, an entry's
    events never split by the limit, the wrap of the ring, the reset at a
    snapshot install, waiting (woken by a publish, a deadline, a cancel).

    The model check (s_test_model): random entries of 0-3 changes over a
    few keys, random bounds; after every publish, readers at every index
    the hub still claims to hold must get exactly the model's events above
    it, in order, none missing and none twice. Built a second time with
    the planted watch_drop_on_wrap (Makefile NODE_BUGS 8): make node
    expects that build to fail here.
*/
#include "check.h"
#include "rng.h"
#include "watch_hub.h"

#include <pthread.h>
#include <stdatomic.h>
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

/* Stage one entry's changes: keys[i] put (value "v<index>") or deleted
   (a key starting with '-' means a delete of the rest). */
static void
s_stage (watch_hub_t *h, raft_index_t index, const char **keys, size_t n,
         size_t value_len)
{
    kvsm_change_t ch[8];
    char val[4096];
    snprintf (val, sizeof val, "v%llu", (unsigned long long)index);
    size_t vl = value_len ? value_len : strlen (val);
    if (value_len)
        memset (val, 'x', vl);
    for (size_t i = 0; i < n; i++) {
        bool del = keys[i][0] == '-';
        const char *k = del ? keys[i] + 1 : keys[i];
        ch[i] = (kvsm_change_t){
            .key = raft_buf_new (k, strlen (k)),
            .deleted = del,
            .meta = {.create_index = index, .mod_index = index, .version = 1},
            .value = del ? NULL : raft_buf_new (val, vl)};
    }
    CHECK_EQ (watch_hub_stage (h, index, ch, n), 0);
    for (size_t i = 0; i < n; i++) {
        raft_buf_unref (ch[i].key);
        raft_buf_unref (ch[i].value);
    }
}

static void
s_put1 (watch_hub_t *h, raft_index_t index, const char *key)
{
    s_stage (h, index, &key, 1, 0);
    watch_hub_publish (h, index);
}

static const watch_filter_t s_all = {.key = "", .key_len = 0, .prefix = true};

static watch_status_t
s_read_now (watch_hub_t *h, const watch_filter_t *f, raft_index_t from,
            size_t limit, watch_read_t *r)
{
    return watch_hub_read (h, f, from, limit, 0, NULL, r);
}

static void
s_test_start_and_filters (void)
{
    watch_hub_t *h = watch_hub_new (100, 1 << 20);
    watch_read_t r;
    CHECK_EQ (s_read_now (h, &s_all, 0, 10, &r), WATCH_NOT_READY);
    watch_hub_start (h, 10);
    CHECK_EQ (s_read_now (h, &s_all, 10, 10, &r), WATCH_OK);
    CHECK (r.n == 0 && r.index == 10 && r.base == 10 && r.applied == 10);
    /* below the start: gone */
    CHECK_EQ (s_read_now (h, &s_all, 9, 10, &r), WATCH_COMPACTED);
    CHECK (r.base == 10 && r.applied == 10);
    s_put1 (h, 11, "a/1");
    s_put1 (h, 12, "b/1");
    const char *txn[] = {"a/2", "-a/1", "a"};
    s_stage (h, 13, txn, 3, 0);
    /* staged only: nobody sees it */
    CHECK_EQ (s_read_now (h, &s_all, 12, 10, &r), WATCH_OK);
    CHECK (r.n == 0 && r.index == 12);
    watch_hub_publish (h, 14); /* 14: an entry without changes */
    watch_filter_t pa = {.key = "a/", .key_len = 2, .prefix = true};
    CHECK_EQ (s_read_now (h, &pa, 10, 10, &r), WATCH_OK);
    CHECK_EQ (r.n, 3);
    CHECK (r.n == 3 && r.events[0]->index == 11 && r.events[1]->index == 13 &&
           strcmp (r.events[1]->key, "a/2") == 0 && r.events[2]->deleted &&
           strcmp (r.events[2]->key, "a/1") == 0 && !r.events[2]->value &&
           strcmp (r.events[1]->value, "v13") == 0);
    CHECK_EQ (r.index, 14);
    watch_read_clear (&r);
    watch_filter_t ka = {.key = "a", .key_len = 1, .prefix = false};
    CHECK_EQ (s_read_now (h, &ka, 10, 10, &r), WATCH_OK);
    CHECK (r.n == 1 && r.events[0]->index == 13 &&
           strcmp (r.events[0]->key, "a") == 0);
    watch_read_clear (&r);
    /* from at the last event: nothing, covered up to applied */
    CHECK_EQ (s_read_now (h, &s_all, 13, 10, &r), WATCH_OK);
    CHECK (r.n == 0 && r.index == 14);
    /* from beyond applied (another node was ahead): never less */
    CHECK_EQ (s_read_now (h, &s_all, 20, 10, &r), WATCH_OK);
    CHECK (r.n == 0 && r.index == 20);
    watch_hub_destroy (&h);
    CHECK (h == NULL);
}

static void
s_test_limit_keeps_entries_whole (void)
{
    watch_hub_t *h = watch_hub_new (100, 1 << 20);
    watch_hub_start (h, 0);
    s_put1 (h, 1, "k1");
    const char *txn[] = {"t1", "t2", "t3"};
    s_stage (h, 2, txn, 3, 0);
    watch_hub_publish (h, 2);
    s_put1 (h, 3, "k3");
    watch_read_t r;
    /* limit 2: entry 1, then entry 2 would pass it: stop before it */
    CHECK_EQ (s_read_now (h, &s_all, 0, 2, &r), WATCH_OK);
    CHECK (r.n == 1 && r.index == 1);
    watch_read_clear (&r);
    /* entry 2 first: given whole although over the limit */
    CHECK_EQ (s_read_now (h, &s_all, 1, 2, &r), WATCH_OK);
    CHECK (r.n == 3 && r.index == 2 && r.events[2]->index == 2);
    watch_read_clear (&r);
    CHECK_EQ (s_read_now (h, &s_all, 2, 1, &r), WATCH_OK);
    CHECK (r.n == 1 && r.index == 3);
    watch_read_clear (&r);
    /* limit reached exactly: covered up to that entry */
    CHECK_EQ (s_read_now (h, &s_all, 0, 4, &r), WATCH_OK);
    CHECK (r.n == 4 && r.index == 2);
    watch_read_clear (&r);
    watch_hub_destroy (&h);
}

static void
s_test_bounds_and_wrap (void)
{
    /* events: at most 8 */
    watch_hub_t *h = watch_hub_new (8, 1 << 20);
    watch_hub_start (h, 0);
    for (raft_index_t i = 1; i <= 30; i++)
        s_put1 (h, i, "k");
    watch_hub_stats_t s;
    watch_hub_stats (h, &s);
    CHECK (s.events == 8 && s.base == 22 && s.applied == 30);
    watch_read_t r;
    CHECK_EQ (s_read_now (h, &s_all, 21, 100, &r), WATCH_COMPACTED);
    CHECK_EQ (r.base, 22);
    CHECK_EQ (s_read_now (h, &s_all, 22, 100, &r), WATCH_OK);
    CHECK_EQ (r.n, 8);
    for (size_t i = 0; i < r.n; i++)
        CHECK_EQ (r.events[i]->index, 23 + i);
    watch_read_clear (&r);
    /* an entry evicted goes whole: 3 events of 31 in a ring of 8 */
    const char *txn[] = {"x", "y", "z"};
    s_stage (h, 31, txn, 3, 0);
    watch_hub_publish (h, 31);
    s_put1 (h, 32, "k");
    s_stage (h, 33, txn, 3, 0);
    watch_hub_publish (h, 33); /* [30, 31 x3, 32, 33 x3]: full */
    s_put1 (h, 34, "k");       /* 30 goes */
    s_put1 (h, 35, "k");       /* 31 goes, its 3 events at once */
    watch_hub_stats (h, &s);
    CHECK (s.base == 31 && s.events == 6);
    CHECK_EQ (s_read_now (h, &s_all, s.base, 100, &r), WATCH_OK);
    for (size_t i = 0; i < r.n; i++)
        CHECK (r.events[i]->index > s.base);
    watch_read_clear (&r);
    watch_hub_destroy (&h);

    /* bytes: values of 500 bytes in a 3000-byte budget */
    h = watch_hub_new (1000, 3000);
    watch_hub_start (h, 0);
    const char *k = "big";
    for (raft_index_t i = 1; i <= 20; i++) {
        s_stage (h, i, &k, 1, 500);
        watch_hub_publish (h, i);
    }
    watch_hub_stats (h, &s);
    CHECK (s.bytes <= 3000 && s.events >= 4 && s.events <= 5 &&
           s.base == 20 - s.events);
    /* an event over the whole budget cannot be kept: base passes it */
    s_stage (h, 21, &k, 1, 4096);
    s_stage (h, 21, &k, 1, 4096);
    watch_hub_publish (h, 21);
    watch_hub_stats (h, &s);
    CHECK (s.bytes <= 3000 && s.base == 21 && s.events == 0);
    CHECK_EQ (s_read_now (h, &s_all, 20, 100, &r), WATCH_COMPACTED);
    watch_hub_destroy (&h);
}

static void
s_test_snapshot_reset (void)
{
    watch_hub_t *h = watch_hub_new (100, 1 << 20);
    watch_hub_start (h, 5);
    s_put1 (h, 6, "a");
    s_put1 (h, 7, "a");
    watch_hub_reset (h, 100); /* a snapshot at 100 was installed */
    watch_read_t r;
    CHECK_EQ (s_read_now (h, &s_all, 7, 10, &r), WATCH_COMPACTED);
    CHECK (r.base == 100 && r.applied == 100);
    CHECK_EQ (s_read_now (h, &s_all, 100, 10, &r), WATCH_OK);
    CHECK (r.n == 0 && r.index == 100);
    s_put1 (h, 101, "a");
    CHECK_EQ (s_read_now (h, &s_all, 100, 10, &r), WATCH_OK);
    CHECK (r.n == 1 && r.events[0]->index == 101);
    watch_read_clear (&r);
    watch_hub_destroy (&h);
}

/*  Waiting  */

typedef struct {
    watch_hub_t *h;
    raft_index_t from;
    int64_t deadline;
    atomic_bool *cancel;
    watch_status_t st;
    watch_read_t r;
    int64_t took;
} s_reader_t;

static void *
s_reader (void *arg)
{
    s_reader_t *x = arg;
    int64_t t0 = s_mono_ms ();
    x->st = watch_hub_read (x->h, &s_all, x->from, 100, x->deadline, x->cancel,
                            &x->r);
    x->took = s_mono_ms () - t0;
    return NULL;
}

static void
s_test_wait (void)
{
    watch_hub_t *h = watch_hub_new (100, 1 << 20);
    watch_hub_start (h, 0);
    /* woken by a publish */
    s_reader_t x = {.h = h, .from = 0, .deadline = s_mono_ms () + 5000};
    pthread_t t;
    pthread_create (&t, NULL, s_reader, &x);
    struct timespec d = {0, 100 * 1000000};
    nanosleep (&d, NULL);
    s_put1 (h, 1, "k");
    pthread_join (t, NULL);
    CHECK (x.st == WATCH_OK && x.r.n == 1 && x.took < 2000);
    watch_read_clear (&x.r);
    /* a deadline: none, covered up to applied, after the deadline */
    x = (s_reader_t){.h = h, .from = 1, .deadline = s_mono_ms () + 150};
    s_reader (&x);
    CHECK (x.st == WATCH_OK && x.r.n == 0 && x.r.index == 1);
    CHECK (x.took >= 140 && x.took < 2000);
    /* changes it does not match do not end the wait early */
    watch_filter_t only = {.key = "other", .key_len = 5};
    int64_t t0 = s_mono_ms ();
    s_put1 (h, 2, "k");
    watch_read_t r;
    CHECK_EQ (watch_hub_read (h, &only, 1, 10, s_mono_ms () + 150, NULL, &r),
              WATCH_OK);
    CHECK (r.n == 0 && r.index == 2 && s_mono_ms () - t0 >= 140);
    /* cancelled */
    atomic_bool cancel;
    atomic_init (&cancel, false);
    x = (s_reader_t){
        .h = h, .from = 2, .deadline = s_mono_ms () + 10000, .cancel = &cancel};
    pthread_create (&t, NULL, s_reader, &x);
    nanosleep (&d, NULL);
    atomic_store (&cancel, true);
    watch_hub_wake (h);
    pthread_join (t, NULL);
    CHECK (x.st == WATCH_CANCELLED && x.took < 2000);
    watch_hub_destroy (&h);
}

/*  The model  */

typedef struct {
    raft_index_t index;
    char key[8];
    bool deleted;
} s_mev_t;

static void
s_test_model (void)
{
    int f0 = check_failures ();
    rng_t rng;
    uint64_t seed = rng_seed_from_env (&rng, "test_watch_hub model", 15);
    for (int round = 0; round < 40; round++) {
        size_t max_events = 1 + (size_t)rng_below (&rng, 12);
        watch_hub_t *h = watch_hub_new (max_events, 1 << 20);
        raft_index_t applied = (raft_index_t)rng_below (&rng, 5);
        watch_hub_start (h, applied);
        s_mev_t *model = NULL;
        size_t n_model = 0;
        for (int e = 0; e < 60 && check_failures () == f0; e++) {
            applied++;
            size_t n = (size_t)rng_below (&rng, 4);
            const char *keys[3];
            char kb[3][8];
            model = realloc (model, (n_model + n) * sizeof *model);
            for (size_t i = 0; i < n; i++) {
                bool del = rng_below (&rng, 4) == 0;
                snprintf (kb[i], sizeof kb[i], "%sk%d", del ? "-" : "",
                          (int)rng_below (&rng, 3));
                keys[i] = kb[i];
                model[n_model] = (s_mev_t){.index = applied, .deleted = del};
                snprintf (model[n_model].key, sizeof model[n_model].key, "%s",
                          kb[i] + del);
                n_model++;
            }
            s_stage (h, applied, keys, n, 0);
            watch_hub_publish (h, applied);
            watch_hub_stats_t s;
            watch_hub_stats (h, &s);
            CHECK (s.events <= max_events && s.applied == applied);
            /* from every index the hub claims: exactly the model's tail,
               read page by page with a small limit */
            for (raft_index_t from = s.base; from <= applied; from++) {
                size_t m = 0;
                while (m < n_model && model[m].index <= from)
                    m++;
                raft_index_t at = from;
                for (int pages = 0; pages < 100; pages++) {
                    watch_read_t r;
                    size_t limit = 1 + (size_t)rng_below (&rng, 3);
                    if (s_read_now (h, &s_all, at, limit, &r) != WATCH_OK) {
                        CHECK (!"compacted above base");
                        break;
                    }
                    for (size_t i = 0; i < r.n; i++, m++) {
                        if (m >= n_model ||
                            r.events[i]->index != model[m].index ||
                            strcmp (r.events[i]->key, model[m].key) != 0 ||
                            r.events[i]->deleted != model[m].deleted) {
                            check_failed (
                                __FILE__, __LINE__,
                                "seed %llu round %d: from %llu: event %zu "
                                "is index %llu key %s, the model says %llu "
                                "%s",
                                (unsigned long long)seed, round,
                                (unsigned long long)from, i,
                                (unsigned long long)r.events[i]->index,
                                r.events[i]->key,
                                (unsigned long long)(m < n_model
                                                         ? model[m].index
                                                         : 0),
                                m < n_model ? model[m].key : "(none)");
                            break;
                        }
                    }
                    CHECK (r.index >= at);
                    at = r.index;
                    bool done = r.n == 0;
                    watch_read_clear (&r);
                    if (done || check_failures () > f0)
                        break;
                }
                if (m != n_model)
                    check_failed (__FILE__, __LINE__,
                                  "seed %llu round %d: from %llu: %zu events "
                                  "of %zu seen",
                                  (unsigned long long)seed, round,
                                  (unsigned long long)from, m, n_model);
                CHECK_EQ (at, applied);
                if (check_failures () > f0)
                    break;
            }
        }
        free (model);
        watch_hub_destroy (&h);
        if (check_failures () > f0)
            break;
    }
}

int
main (void)
{
    check_watchdog ("test_watch_hub", 60);
    check_run ("start, filters, from_index edges", s_test_start_and_filters);
    check_run ("the limit keeps entries whole",
               s_test_limit_keeps_entries_whole);
    check_run ("bounds: events, bytes, wrap", s_test_bounds_and_wrap);
    check_run ("snapshot install resets", s_test_snapshot_reset);
    check_run ("waiting: publish, deadline, cancel", s_test_wait);
    check_run ("model: every event once, in order", s_test_model);
    return check_report ();
}
