/*  test_storage_space.c -- the space quota's arithmetic, space readings and
    full compactions (actors/storage_space.c), and the usage report the
    actor sends unasked.

    The storage actor is driven as the raft actor would drive it, through
    storage_fixture.h. One line per test; exit status 1 if any CHECK
    failed. Runs under ASan+UBSan with leak checking.
*/
#include "check.h"
#include "storage_fixture.h"
#include "quota.h"
#include "storage_space.h"

#include <string.h>

/* The quota's arithmetic: no alarm before the quota, raised at it, kept
   until under 90% (hysteresis), refusals while on and for a write that
   would cross it; no quota, no alarm. */
static void
test_quota (void)
{
    quota_t q;
    quota_init (&q, 1000);
    CHECK (quota_clear_bytes (1000) == 900);
    CHECK (quota_clear_bytes (UINT64_MAX) < UINT64_MAX);
    CHECK (quota_admit (&q, 5000)); /* no reading yet */
    CHECK (quota_update (&q, 500, 123) == 0 && !q.alarm && q.fs_free == 123);
    CHECK (quota_admit (&q, 500) && !quota_admit (&q, 501));
    CHECK (!quota_admit (&q, UINT64_MAX));
    CHECK (quota_update (&q, 999, 0) == 0 && !q.alarm);
    CHECK (quota_update (&q, 1000, 0) == 1 && q.alarm && q.alarms == 1);
    CHECK (!quota_admit (&q, 0));
    CHECK (quota_update (&q, 950, 0) == 0 && q.alarm); /* not yet */
    CHECK (quota_update (&q, 900, 0) == 0 && q.alarm);
    CHECK (quota_update (&q, 899, 0) == -1 && !q.alarm);
    CHECK (quota_admit (&q, 1) && q.used == 899);
    CHECK (quota_update (&q, 2000, 0) == 1 && q.alarms == 2);
    CHECK (quota_raise (&q) == 0 && q.alarms == 2); /* already on */
    CHECK (quota_update (&q, 100, 0) == -1);
    CHECK (quota_raise (&q) == 1 && q.alarm && !quota_admit (&q, 0));
    CHECK (quota_update (&q, 100, 0) == -1 && !q.alarm);
    quota_init (&q, 0);
    CHECK (quota_update (&q, UINT64_MAX, 0) == 0 && !q.alarm);
    CHECK (quota_raise (&q) == 0 && !q.alarm);
    CHECK (quota_admit (&q, UINT64_MAX));
}

/* Space: a reading at once, then only when due; deleted data comes back
   by a full compaction, started only when something was deleted (and the
   database is near its quota), in its own thread. */
static void
test_space (void)
{
    char *err = NULL;
    store_t *st = store_open (sf_dir ("space"), &err);
    CHECK (st != NULL);
    if (!st) {
        free (err);
        return;
    }
    storage_space_t *sp = storage_space_new (st, 1); /* always over */
    uint64_t db = 0, fs = 0;
    int64_t now = zclock_mono ();
    CHECK (storage_space_poll (sp, now, &db, &fs));
    CHECK (fs > 0 && fs != UINT64_MAX);
    CHECK (!storage_space_poll (sp, now + 10, &db, &fs)); /* not due */
    /* 4 MiB of values that do not compress, then every key deleted */
    store_batch_t *b = store_batch_new ();
    char key[16], value[1024];
    uint64_t x = 88172645463325252ULL;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 4096; i++) {
            snprintf (key, sizeof key, "k%d", i);
            if (round == 0) {
                for (size_t k = 0; k < sizeof value; k++) {
                    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                    value[k] = (char)x;
                }
                store_batch_put_kv (b, key, strlen (key), value, sizeof value);
            } else {
                store_batch_del_kv (b, key, strlen (key));
            }
            if (i % 256 == 255) {
                CHECK (store_write (st, b, false, &err) == 0);
                store_batch_clear (b);
            }
        }
        storage_space_wrote (sp);
    }
    uint64_t full = store_disk_bytes (st);
    CHECK (full > (2u << 20));
    /* nothing said freed: no compaction */
    now = zclock_mono () + 5000;
    storage_space_poll (sp, now, &db, &fs);
    CHECK (storage_space_compactions (sp) == 0);
    storage_space_freed (sp);
    storage_space_poll (sp, now + 200, &db, &fs);
    CHECK (storage_space_compactions (sp) == 1);
    /* done within 10 s: the reading after it shows the space back */
    bool back = false;
    for (int i = 0; i < 100 && !back; i++) {
        zclock_sleep (100);
        if (storage_space_poll (sp, zclock_mono () + 5000 + 1000 * i, &db, &fs))
            back = db < full / 4;
    }
    CHECK (back);
    CHECK (storage_space_compactions (sp) == 1);
    storage_space_destroy (&sp);
    CHECK (sp == NULL);
    store_batch_destroy (&b);
    store_close (&st);
}

/* The actor reports its disk usage unasked, right after boot. */
static void
test_usage (void)
{
    raft_conf_t conf = sf_conf ();
    sf_node_t n;
    msg_store_t boot;
    size_t seen = sf_usage_seen;
    CHECK (sf_boot (&n, sf_dir ("usage"), &conf, &boot));
    msg_store_clear (&boot);
    zmsg_t *zm = zmsg_recv (n.pair); /* within the 10 s timeout */
    msg_store_t m;
    CHECK (zm && msg_store_decode (zm, &m) == 0);
    zmsg_destroy (&zm);
    CHECK (m.kind == MSG_STORE_USAGE && m.db_bytes > 0 && m.fs_free > 0);
    msg_store_clear (&m);
    CHECK (sf_usage_seen == seen); /* taken here, not by sf_recv */
    sf_stop (&n);
}

int
main (void)
{
    if (sf_init ("test_storage_space") != 0)
        return 1;
    CHECK_RUN (test_quota);
    CHECK_RUN (test_space);
    CHECK_RUN (test_usage);
    return sf_done ();
}
