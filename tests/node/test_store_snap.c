/*  test_store_snap.c -- store/'s reads at one instant
    (store/store_snapshot.c), below the storage actor:

      - a copy (store_snap_*) and the digest read the current generation
        only, as of the instant they were taken; the digest is BLAKE2b-256
        over the pairs exactly as store.h documents it;
      - a damaged table ends a copy with store_snap_error: LevelDB's
        iterator steps over a block it cannot read, so store_snap_next
        alone would pass a copy with pairs missing as complete;
      - old generations are deleted in bounded steps.

    One line per test; exit status 1 if any CHECK failed. Runs under
    ASan+UBSan with leak checking (the Makefile's test_% rule).
*/
#include "check.h"
#include "fixture.h"
#include "store.h"

#include <dirent.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* BLAKE2b-256 over pairs as store.h documents it. */
static void
s_digest_of (const char *const *pairs, size_t n, uint8_t out[32])
{
    crypto_generichash_state h;
    crypto_generichash_init (&h, NULL, 0, 32);
    for (size_t i = 0; i < 2 * n; i++) {
        uint8_t be[8];
        uint64_t len = strlen (pairs[i]);
        for (int j = 7; j >= 0; j--, len >>= 8)
            be[j] = (uint8_t)(len & 0xff);
        crypto_generichash_update (&h, be, 8);
        crypto_generichash_update (&h, (const uint8_t *)pairs[i],
                                   strlen (pairs[i]));
    }
    crypto_generichash_final (&h, out, 32);
}

static void
test_snapshot_reads (void)
{
    const char *dir = fixture_path ("snap");
    char *err = NULL;
    store_t *st = store_open (dir, &err);
    store_state_t ss;
    CHECK (st && store_load (st, &ss, &err) == 0 && ss.fresh);
    if (!st)
        return;
    raft_entry_t conf = fixture_conf_entry (1, 1, 3);
    raft_hard_state_t hs = {1, 0};
    CHECK (store_create (st, &hs, &conf, 1, &err) == 0);
    raft_index_t index = 0;
    raft_term_t term = 0;
    raft_entry_t got;
    /* nothing applied yet: no copy */
    CHECK (store_snap_open (st, &index, &term, &got, &err) == NULL && err);
    free (err);
    err = NULL;

    store_batch_t *b = store_batch_new ();
    store_batch_set_gen (b, 0);
    store_batch_put_kv (b, "b", 1, "2", 1);
    store_batch_put_kv (b, "a", 1, "1", 1);
    store_batch_put_applied (b, 1, 1);
    CHECK (store_batch_put_conf (b, &conf) == 0);
    /* a staged generation the reads must not see */
    store_batch_set_gen (b, 1);
    store_batch_put_kv (b, "z", 1, "staged", 6);
    CHECK (store_write (st, b, false, &err) == 0);
    store_batch_clear (b);

    const char *pairs[] = {"a", "1", "b", "2"};
    uint8_t want[32], d[32];
    s_digest_of (pairs, 2, want);
    raft_index_t applied = 0;
    uint64_t keys = 0;
    CHECK (store_digest (st, &applied, &keys, d, &err) == 0);
    CHECK (applied == 1 && keys == 2 && memcmp (d, want, 32) == 0);

    store_snap_t *sn = store_snap_open (st, &index, &term, &got, &err);
    CHECK (sn != NULL && index == 1 && term == 1 && raft_entry_conf (&got));
    /* a write after the copy was taken is not in it */
    store_batch_set_gen (b, 0);
    store_batch_put_kv (b, "c", 1, "3", 1);
    CHECK (store_write (st, b, false, &err) == 0);
    size_t n = 0;
    const char *k, *v;
    size_t kl, vl;
    while (sn && n < 10 && store_snap_next (sn, &k, &kl, &v, &vl)) {
        CHECK (kl == 1 && vl == 1 && k[0] == pairs[2 * n][0] &&
               v[0] == pairs[2 * n + 1][0]);
        store_snap_advance (sn);
        n++;
    }
    CHECK (n == 2);
    CHECK (sn && store_snap_error (sn, &err) == 0);
    store_snap_close (&sn);
    CHECK (sn == NULL);
    raft_buf_unref (got.data);

    /* the switch: generation 1 becomes the data */
    store_batch_put_gen (b, 1);
    CHECK (store_write (st, b, true, &err) == 0);
    store_set_gen (st, 1);
    const char *pairs1[] = {"z", "staged"};
    s_digest_of (pairs1, 1, want);
    CHECK (store_digest (st, &applied, &keys, d, &err) == 0);
    CHECK (keys == 1 && memcmp (d, want, 32) == 0);
    /* the old generation goes, in bounded steps */
    CHECK (store_delete_gen (st, 0, 2, false, &err) == 2);
    CHECK (store_delete_gen (st, 0, 2, false, &err) == 1);
    CHECK (store_delete_gen (st, 0, 2, false, &err) == 0);
    CHECK (store_delete_gen (st, 1, 100, false, &err) == 1);
    store_batch_destroy (&b);
    store_close (&st);
    raft_buf_unref (conf.data);
    free (err);
}

/* A copy that meets a damaged table ends, and says so. */
static void
test_snapshot_damaged (void)
{
    const char *dir = fixture_path ("snapdamage");
    char *err = NULL;
    store_t *st = store_open (dir, &err);
    store_state_t ss;
    CHECK (st && store_load (st, &ss, &err) == 0 && ss.fresh);
    if (!st)
        return;
    raft_entry_t conf = fixture_conf_entry (1, 1, 1);
    raft_hard_state_t hs = {1, 0};
    CHECK (store_create (st, &hs, &conf, 1, &err) == 0);
    store_batch_t *b = store_batch_new ();
    char val[4000];
    for (int i = 0; i < 200; i++) {
        char key[16];
        int kl = snprintf (key, sizeof key, "key%05d", i);
        for (size_t j = 0; j < sizeof val; j++)
            val[j] = (char)((i * 7919 + (int)j * 31) ^ (int)(j >> 3));
        store_batch_put_kv (b, key, (size_t)kl, val, sizeof val);
    }
    store_batch_put_applied (b, 1, 1);
    CHECK (store_batch_put_conf (b, &conf) == 0);
    CHECK (store_write (st, b, true, &err) == 0);
    store_batch_destroy (&b);
    store_close (&st);
    /* reopening turns the write-ahead log into a table */
    st = store_open (dir, &err);
    CHECK (st && store_load (st, &ss, &err) == 0);
    store_state_clear (&ss);
    store_close (&st);
    /* mid-file: a block of KV values */
    char table[600] = "";
    long biggest = fixture_damage_table (dir, table, sizeof table);
    CHECK (biggest > 100000);
    st = store_open (dir, &err);
    CHECK (st != NULL);
    raft_index_t index;
    raft_term_t term;
    raft_entry_t got;
    store_snap_t *sn =
        st ? store_snap_open (st, &index, &term, &got, &err) : NULL;
    CHECK (sn != NULL);
    size_t n = 0;
    const char *k, *v;
    size_t kl, vl;
    while (sn && n < 1000 && store_snap_next (sn, &k, &kl, &v, &vl)) {
        store_snap_advance (sn);
        n++;
    }
    printf ("     a damaged table: %zu of 200 pairs read\n", n);
    CHECK (n < 200);
    CHECK (sn && store_snap_error (sn, &err) == -1 && err &&
           strstr (err, "Corruption") && strstr (err, table));
    store_snap_close (&sn);
    if (st)
        raft_buf_unref (got.data);
    store_close (&st);
    raft_buf_unref (conf.data);
    free (err);
}

int
main (void)
{
    check_watchdog ("test_store_snap", 120);
    if (!fixture_tmpdir ("test_store_snap"))
        return 1;
    CHECK_RUN (test_snapshot_reads);
    CHECK_RUN (test_snapshot_damaged);
    fixture_tmpdir_remove ();
    return check_report ();
}
