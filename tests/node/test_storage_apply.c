/*  test_storage_apply.c -- applying committed entries to the KV data: results
    (created or replaced), reads after apply, and what a restart keeps.

    The storage actor is driven as the raft actor would drive it, through
    storage_fixture.h. One line per test; exit status 1 if any CHECK
    failed. Runs under ASan+UBSan with leak checking.
*/
#include "check.h"
#include "storage_fixture.h"

#include <string.h>

static bool
s_results_are (const msg_store_t *r, const msg_apply_result_t *expect, size_t n)
{
    if (r->n_results != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (r->results[i].index != expect[i].index ||
            r->results[i].existed != expect[i].existed)
            return false;
    return true;
}

static void
test_apply (void)
{
    raft_conf_t conf = sf_conf ();
    sf_node_t n;
    msg_store_t boot, r;
    CHECK (sf_boot (&n, sf_dir ("apply"), &conf, &boot));
    raft_entry_t es[12];
    es[0] = raft_bootstrap_entry (&conf);
    es[1] = sf_kv_entry (1, 2, MSG_KV_PUT, "a", "1");
    es[2] = sf_kv_entry (1, 3, MSG_KV_PUT, "a", "2"); /* a existed: batch */
    es[3] = sf_kv_entry (1, 4, MSG_KV_DEL, "a", NULL);
    es[4] = sf_kv_entry (1, 5, MSG_KV_PUT, "b", "x");
    es[5] = (raft_entry_t){.term = 2, .index = 6, .type = RAFT_ENTRY_NOOP};
    es[6] = (raft_entry_t){.term = 2,
                           .index = 7,
                           .type = RAFT_ENTRY_NORMAL,
                           .data = raft_buf_new ("\x93\x01", 2)}; /* junk */
    es[7] = sf_kv_entry (2, 8, MSG_KV_DEL, "zz", NULL);
    es[8] = sf_kv_entry (2, 9, MSG_KV_PUT, "b", "y"); /* b existed: DB */
    es[9] = sf_kv_entry (2, 10, MSG_KV_DEL, "a", NULL);
    es[10] = sf_kv_entry (2, 11, MSG_KV_PUT, "c", "z");
    es[11] = sf_kv_entry (2, 12, MSG_KV_PUT, "", "empty key");
    CHECK (sf_write (&n, 1, false, 0, 0, &es[1], 11));
    msg_store_clear (&boot);

    msg_store_t a = {.kind = MSG_STORE_APPLY, .applied = 8, .applied_term = 2};
    sf_send (&n, &a);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_APPLIED));
    CHECK (r.applied == 8);
    msg_apply_result_t expect1[] = {
        {.index = 2, .existed = false}, {.index = 3, .existed = true},
        {.index = 4, .existed = true},  {.index = 5, .existed = false},
        {.index = 7, .existed = false}, {.index = 8, .existed = false}};
    CHECK (s_results_are (&r, expect1, 6));
    msg_store_clear (&r);

    a.applied = 10;
    sf_send (&n, &a);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_APPLIED));
    msg_apply_result_t expect2[] = {{.index = 9, .existed = true},
                                    {.index = 10, .existed = false}};
    CHECK (r.applied == 10 && s_results_are (&r, expect2, 2));
    msg_store_clear (&r);
    CHECK (sf_get_is (&n, 1, "a", NULL));
    CHECK (sf_get_is (&n, 2, "b", "y"));

    /* A get sent right behind an apply sees it. */
    a.applied = 12;
    sf_send (&n, &a);
    sf_get (&n, 3, "c");
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_APPLIED));
    CHECK (r.applied == 12);
    msg_store_clear (&r);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_VALUE));
    CHECK (r.req_id == 3 && r.found && r.value && r.value->len == 1 &&
           r.value->data[0] == 'z');
    msg_store_clear (&r);

    /* Applying up to the applied index answers with it as it is. */
    sf_send (&n, &a);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_APPLIED));
    CHECK (r.applied == 12 && r.n_results == 0);
    msg_store_clear (&r);
    sf_stop (&n);

    CHECK (sf_boot (&n, sf_dir ("apply"), &conf, &boot));
    CHECK (boot.applied == 12 && boot.n_entries == 12);
    msg_store_clear (&boot);
    CHECK (sf_get_is (&n, 4, "b", "y"));
    CHECK (sf_get_is (&n, 5, "c", "z"));
    CHECK (sf_get_is (&n, 6, "", "empty key"));
    CHECK (sf_get_is (&n, 7, "a", NULL));
    /* Entries already applied are skipped, not applied twice. */
    a.applied = 9;
    sf_send (&n, &a);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_APPLIED));
    CHECK (r.applied == 12 && r.n_results == 0);
    msg_store_clear (&r);
    /* Storage applies only entries it wrote, and only the ones the core
       committed: an index past its log, or a term that is not its
       entry's, is a disagreement about the log, and the node stops. */
    raft_entry_t more = sf_kv_entry (3, 13, MSG_KV_PUT, "d", "w");
    CHECK (sf_write (&n, 1, false, 0, 0, &more, 1));
    a.applied = 13;
    a.applied_term = 2; /* entry 13 is of term 3 */
    sf_send (&n, &a);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_ERROR));
    CHECK (r.error && strstr (r.error, "not an entry written here"));
    msg_store_clear (&r);
    sf_stop (&n);
    CHECK (sf_boot (&n, sf_dir ("apply"), &conf, &boot));
    CHECK (boot.applied == 12 && boot.n_entries == 13);
    msg_store_clear (&boot);
    a.applied = 14; /* past the log */
    a.applied_term = 3;
    sf_send (&n, &a);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_ERROR));
    CHECK (r.error && strstr (r.error, "not an entry written here"));
    msg_store_clear (&r);
    sf_stop (&n);
    raft_buf_unref (more.data);
    for (size_t i = 0; i < 12; i++)
        raft_buf_unref (es[i].data);
}

int
main (void)
{
    if (sf_init ("test_storage_apply") != 0)
        return 1;
    CHECK_RUN (test_apply);
    return sf_done ();
}
