/*  test_storage_watch.c -- the storage actor fills the watch history
    (actors/watch_hub.h) as it applies: one event per change, in log
    order, with the entry's index and the record's metadata, published
    once the "applied" reply may leave (the batch is written); the
    history starts at the applied index when the actor starts again.

    The storage actor is driven as the raft actor would drive it, through
    storage_fixture.h. Runs under ASan+UBSan.
*/
#include "check.h"
#include "storage_fixture.h"
#include "watch_hub.h"

#include <string.h>

static const watch_filter_t s_all = {.key = "", .key_len = 0, .prefix = true};

static void
s_start (sf_node_t *n, const char *dir, const raft_conf_t *conf,
         watch_hub_t *hub, msg_store_t *boot)
{
    storage_args_t args = {.data_dir = dir,
                           .bootstrap = conf,
                           .send_endpoint = sf_send_ep,
                           .watch = hub};
    CHECK (fixture_storage_start (n, &args) == 0);
    CHECK (sf_recv_kind (n, boot, MSG_STORE_BOOT));
}

static void
test_applies_fill_the_history (void)
{
    raft_conf_t conf = sf_conf ();
    sf_node_t n;
    msg_store_t boot, r;
    watch_hub_t *hub = watch_hub_new (100, 1 << 20);
    s_start (&n, sf_dir ("watch"), &conf, hub, &boot);
    msg_store_clear (&boot);
    watch_hub_stats_t s;
    watch_hub_stats (hub, &s);
    CHECK (s.started && s.base == 0 && s.applied == 0);
    raft_entry_t es[6];
    es[0] = raft_bootstrap_entry (&conf);
    es[1] = sf_kv_entry (1, 2, MSG_KV_PUT, "a", "1");
    es[2] = sf_kv_entry (1, 3, MSG_KV_PUT, "a", "2");
    es[3] = sf_kv_entry (1, 4, MSG_KV_DEL, "a", NULL);
    es[4] = sf_kv_entry (1, 5, MSG_KV_DEL, "zz", NULL); /* no change */
    es[5] = sf_kv_entry (1, 6, MSG_KV_PUT, "b", "x");
    CHECK (sf_write (&n, 1, false, 0, 0, &es[1], 5));
    msg_store_t a = {.kind = MSG_STORE_APPLY, .applied = 6, .applied_term = 1};
    sf_send (&n, &a);
    CHECK (sf_recv_kind (&n, &r, MSG_STORE_APPLIED));
    msg_store_clear (&r);
    watch_read_t w;
    CHECK_EQ (watch_hub_read (hub, &s_all, 0, 100, 0, NULL, &w), WATCH_OK);
    CHECK_EQ (w.n, 4);
    CHECK (w.n == 4 && w.index == 6);
    if (w.n == 4) {
        /* prototype commands (v1): metadata {0, 0, 0} */
        CHECK (w.events[0]->index == 2 && !w.events[0]->deleted &&
               strcmp (w.events[0]->key, "a") == 0 &&
               strcmp (w.events[0]->value, "1") == 0);
        CHECK (w.events[1]->index == 3 &&
               strcmp (w.events[1]->value, "2") == 0);
        CHECK (w.events[2]->index == 4 && w.events[2]->deleted &&
               !w.events[2]->value);
        CHECK (w.events[3]->index == 6 && strcmp (w.events[3]->key, "b") == 0);
    }
    watch_read_clear (&w);
    sf_stop (&n);
    for (size_t i = 0; i < 6; i++)
        raft_buf_unref (es[i].data);
    /* a restart: the history starts empty at the applied index */
    watch_hub_t *hub2 = watch_hub_new (100, 1 << 20);
    s_start (&n, sf_dir ("watch"), &conf, hub2, &boot);
    msg_store_clear (&boot);
    watch_hub_stats (hub2, &s);
    CHECK (s.started && s.base == 6 && s.applied == 6 && s.events == 0);
    CHECK_EQ (watch_hub_read (hub2, &s_all, 5, 100, 0, NULL, &w),
              WATCH_COMPACTED);
    sf_stop (&n);
    watch_hub_destroy (&hub);
    watch_hub_destroy (&hub2);
}

int
main (void)
{
    if (sf_init ("test_storage_watch") != 0)
        return 1;
    CHECK_RUN (test_applies_fill_the_history);
    return sf_done ();
}
