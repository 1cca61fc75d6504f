/*  test_lessor.c -- the leader's lease deadlines (store/lessor.h): promote
    with extend (every lease due at now + TTL + extend), renew moves a
    deadline (and not once its revoke is in flight), expired in deadline
    order, bounded by max, retried after retry_ms, forgotten on revoke,
    demote forgets all, and a lessor that is not primary decides nothing.
    The planted lease_keepalive_ignored (RAFT_PLANTED_BUG 15) is the
    simulator's to catch (make teeth); renew's check here would too.
*/
#include "check.h"
#include "kvsm_lease.h"
#include "lessor.h"

#include <stdlib.h>

static void
test_not_primary (void)
{
    lessor_t *l = lessor_new ();
    CHECK (l && !lessor_is_primary (l));
    uint64_t ttl, rem, ids[4];
    CHECK_EQ (lessor_granted (l, 5, 1000, 0), 0);
    CHECK_EQ (lessor_count (l), 0); /* ignored: a follower keeps nothing */
    CHECK_EQ (lessor_renew (l, 5, 10, &ttl), -1);
    CHECK_EQ (lessor_remaining (l, 5, 10, &ttl, &rem), -1);
    CHECK_EQ (lessor_expired (l, 1000000, 100, ids, 4), 0);
    CHECK_EQ (lessor_min_ttl_ms (1000), 1500);
    lessor_destroy (&l);
    CHECK (l == NULL);
}

static void
test_promote_extend_renew (void)
{
    lessor_t *l = lessor_new ();
    lessor_lease_t table[] = {{9, 2000}, {3, 1000}};
    CHECK_EQ (lessor_promote (l, table, 2, 10000, 500), 0);
    CHECK (lessor_is_primary (l) && lessor_count (l) == 2);
    uint64_t ttl, rem, ids[4];
    /* due at now + ttl + extend */
    CHECK_EQ (lessor_remaining (l, 3, 10000, &ttl, &rem), 0);
    CHECK_UEQ (ttl, 1000);
    CHECK_UEQ (rem, 1500);
    CHECK_EQ (lessor_expired (l, 11499, 100, ids, 4), 0);
    CHECK_EQ (lessor_expired (l, 11500, 100, ids, 4), 1);
    CHECK_UEQ (ids[0], 3);
    /* in flight: not renewable, not listed again before retry_ms */
    CHECK_EQ (lessor_renew (l, 3, 11500, &ttl), -1);
    CHECK_EQ (lessor_expired (l, 11599, 100, ids, 4), 0);
    CHECK_EQ (lessor_expired (l, 11600, 100, ids, 4), 1);
    CHECK_UEQ (ids[0], 3);
    lessor_revoked (l, 3);
    CHECK_EQ (lessor_count (l), 1);
    /* renew moves 9's deadline to now + ttl */
    CHECK_EQ (lessor_renew (l, 9, 12000, &ttl), 0);
    CHECK_UEQ (ttl, 2000);
    CHECK_EQ (lessor_remaining (l, 9, 12000, &ttl, &rem), 0);
    CHECK_UEQ (rem, 2000);
    CHECK_EQ (lessor_expired (l, 13999, 100, ids, 4), 0);
    CHECK_EQ (lessor_expired (l, 14000, 100, ids, 4), 1);
    lessor_destroy (&l);
}

static void
test_expired_order (void)
{
    lessor_t *l = lessor_new ();
    CHECK_EQ (lessor_promote (l, NULL, 0, 0, 0), 0);
    /* granted while primary: due at now + ttl; a second grant of the same
       id keeps the first deadline */
    CHECK_EQ (lessor_granted (l, 10, 300, 0), 0);
    CHECK_EQ (lessor_granted (l, 11, 100, 0), 0);
    CHECK_EQ (lessor_granted (l, 12, 200, 0), 0);
    CHECK_EQ (lessor_granted (l, 11, 100, 50), 0);
    CHECK_EQ (lessor_count (l), 3);
    uint64_t ids[4];
    /* the earliest deadlines first, at most max */
    CHECK_EQ (lessor_expired (l, 1000, 10000, ids, 2), 2);
    CHECK (ids[0] == 11 && ids[1] == 12);
    CHECK_EQ (lessor_expired (l, 1000, 10000, ids, 4), 1);
    CHECK_UEQ (ids[0], 10);
    /* demote forgets all */
    lessor_demote (l);
    CHECK (!lessor_is_primary (l) && lessor_count (l) == 0);
    CHECK_EQ (lessor_expired (l, 100000, 0, ids, 4), 0);
    lessor_destroy (&l);
}

static void
test_bound (void)
{
    /* a whole table promotes, ids given twice kept once */
    lessor_lease_t *t = calloc (KVSM_LEASES_MAX + 1, sizeof *t);
    for (size_t i = 0; i < KVSM_LEASES_MAX; i++)
        t[i] = (lessor_lease_t){KVSM_LEASES_MAX - i, 1000};
    t[KVSM_LEASES_MAX] = (lessor_lease_t){1, 1000};
    lessor_t *l = lessor_new ();
    CHECK_EQ (lessor_promote (l, t, KVSM_LEASES_MAX + 1, 0, 0), 0);
    CHECK_EQ (lessor_count (l), KVSM_LEASES_MAX);
    uint64_t ids[8];
    CHECK_EQ (lessor_expired (l, 1000, 10000, ids, 8), 8);
    CHECK_UEQ (ids[0], 1); /* ties by id */
    CHECK_UEQ (ids[7], 8);
    free (t);
    lessor_destroy (&l);
}

int
main (void)
{
    check_watchdog ("test_lessor", 60);
    check_run ("not_primary", test_not_primary);
    check_run ("promote_extend_renew", test_promote_extend_renew);
    check_run ("expired_order", test_expired_order);
    check_run ("bound", test_bound);
    return check_report ();
}
