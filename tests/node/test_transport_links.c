/*  test_transport_links.c -- two transport actors, n1 and n2, deliver real
    traffic over loopback TCP: a bind failure reported at start, link
    events, delivery both ways and in order, sends to unreachable and slow
    peers that must not block, a removed peer, a restarted peer.

    One line per test; the exit status is non-zero on any failure, and a
    watchdog ends a run that hangs (a blocking transport) after 60 s. Run
    it under ASan+UBSan: nothing may leak, and a frame allocated from a
    hostile size header aborts the run.
*/
#include "check.h"
#include "transport_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_bind_failure (void)
{
    tf_node_t n3;
    memset (&n3, 0, sizeof n3);
    /* n1's port is taken */
    CHECK (tf_node_start (&n3, 3, tf_n1.port, NULL) == 1);
    tf_node_stop (&n3);
    /* n1's raft endpoint is taken */
    CHECK (tf_node_start (&n3, 3, tf_base_port + 2, tf_n1.endpoint) == 2);
    tf_node_stop (&n3);
    /* n1 still works */
    uint64_t c[7];
    tf_stats (&tf_n1, c);
}

static void
test_link_up (void)
{
    tf_peers (&tf_n1, 1, (raft_id_t[]){2}, (int[]){tf_n2.port});
    tf_peers (&tf_n2, 1, (raft_id_t[]){1}, (int[]){tf_n1.port});
    CHECK (tf_wait_link (&tf_n1, 2, true, 5000));
    CHECK (tf_wait_link (&tf_n2, 1, true, 5000));
    /* repeating the same peer set keeps the link: no event */
    int events = tf_n1.link_events;
    tf_peers (&tf_n1, 1, (raft_id_t[]){2}, (int[]){tf_n2.port});
    CHECK (tf_count_recvs (&tf_n1, 200) == 0);
    CHECK (tf_n1.link_events == events);
}

static void
test_send_both_ways (void)
{
    tf_send_str (&tf_n1, 2, "hello from n1");
    msg_transport_t m;
    int rc;
    while ((rc = tf_next (&tf_n2, 3000, &m)) == 0 &&
           m.kind != MSG_TRANSPORT_RECV)
        msg_transport_clear (&m);
    CHECK (rc == 0 && tf_payload_is (&m, "hello from n1"));
    msg_transport_clear (&m);

    tf_send_str (&tf_n2, 1, "hello from n2");
    while ((rc = tf_next (&tf_n1, 3000, &m)) == 0 &&
           m.kind != MSG_TRANSPORT_RECV)
        msg_transport_clear (&m);
    CHECK (rc == 0 && tf_payload_is (&m, "hello from n2"));
    msg_transport_clear (&m);
}

/* Read `count` recvs at n and check they are prefix-0000, prefix-0001, ... */
static void
s_check_sequence (tf_node_t *n, const char *prefix, int count)
{
    int got = 0, wrong = 0;
    int64_t deadline = zclock_mono () + 10000;
    while (got < count && zclock_mono () < deadline) {
        msg_transport_t m;
        if (tf_next (n, (int)(deadline - zclock_mono ()), &m) < 0)
            continue;
        if (m.kind == MSG_TRANSPORT_RECV) {
            char want[32];
            snprintf (want, sizeof want, "%s-%04d", prefix, got);
            if (!tf_payload_is (&m, want))
                wrong++;
            got++;
        }
        msg_transport_clear (&m);
    }
    CHECK (got == count);
    CHECK (wrong == 0);
}

static void
test_thousand_each_way (void)
{
    for (int i = 0; i < 1000; i++) {
        char buf[32];
        snprintf (buf, sizeof buf, "a-%04d", i);
        tf_send_str (&tf_n1, 2, buf);
        snprintf (buf, sizeof buf, "b-%04d", i);
        tf_send_str (&tf_n2, 1, buf);
    }
    s_check_sequence (&tf_n2, "a", 1000);
    s_check_sequence (&tf_n1, "b", 1000);
}

static void
test_unreachable_does_not_block (void)
{
    uint64_t before[7], after[7];
    tf_stats (&tf_n1, before);
    /* peer 3's endpoint has nobody listening */
    tf_peers (&tf_n1, 2, (raft_id_t[]){2, 3},
              (int[]){tf_n2.port, tf_base_port + 2});
    int64_t start = zclock_mono ();
    for (int i = 0; i < 1000; i++) {
        tf_send_str (&tf_n1, 3, "to nobody");
        tf_send_str (&tf_n1, 99, "to an unknown peer");
    }
    tf_send_str (&tf_n1, 2, "after 2000 dropped sends");
    CHECK (tf_wait_recv (&tf_n2, "after 2000 dropped sends", 5000, NULL));
    /* a blocking send would never return: the bound is generous for a
       loaded CI machine (it takes ~0.2 s under ASan) */
    int64_t elapsed = zclock_mono () - start;
    CHECK (elapsed < 3000);
    tf_stats (&tf_n1, after);
    CHECK (after[TF_OUT_DROPPED] - before[TF_OUT_DROPPED] == 1000);
    CHECK (after[TF_OUT_UNKNOWN] - before[TF_OUT_UNKNOWN] == 1000);
    CHECK (!tf_n1.link[3]);
    tf_peers (&tf_n1, 1, (raft_id_t[]){2}, (int[]){tf_n2.port});
}

/* A peer that is connected but never reads: its queue fills, then sends
   to it are dropped while other peers are still served promptly. */
static void
test_slow_peer_does_not_block (void)
{
    zsock_t *slow = zsock_new (ZMQ_ROUTER);
    zsock_set_rcvhwm (slow, 1);
    zsock_set_rcvbuf (slow, 4096);
    CHECK (zsock_bind (slow, "tcp://127.0.0.1:%d", tf_base_port + 3) ==
           tf_base_port + 3);
    tf_peers (&tf_n1, 2, (raft_id_t[]){2, 3},
              (int[]){tf_n2.port, tf_base_port + 3});
    CHECK (tf_wait_link (&tf_n1, 3, true, 5000));

    uint64_t before[7], after[7];
    tf_stats (&tf_n1, before);
    /* The peer's queue holds TF_QUEUE_MAX messages and the TCP buffers
       about 4 MB more (the slow ROUTER's receive buffer is tiny): 6000
       messages of 2 KiB are well beyond both. */
    static uint8_t big[2048];
    memset (big, 's', sizeof big);
    int64_t start = zclock_mono ();
    for (int i = 0; i < 6000; i++)
        tf_send (&tf_n1, 3, big, sizeof big);
    tf_send_str (&tf_n1, 2, "past the slow peer");
    CHECK (tf_wait_recv (&tf_n2, "past the slow peer", 10000, NULL));
    int64_t elapsed = zclock_mono () - start; /* ~1.3 s under ASan */
    CHECK (elapsed < 8000);
    tf_stats (&tf_n1, after);
    CHECK (after[TF_OUT_DROPPED] > before[TF_OUT_DROPPED]);
    CHECK (after[TF_OUT_SENT] > before[TF_OUT_SENT]);

    tf_peers (&tf_n1, 1, (raft_id_t[]){2}, (int[]){tf_n2.port});
    CHECK (tf_wait_link (&tf_n1, 3, false, 2000));
    zsock_destroy (&slow);
}

static void
test_remove_peer (void)
{
    uint64_t before[7], after[7];
    /* While n2 keeps its link to n1, n1 can answer n2 over it even
       without a link of its own (how a joining server replies before it
       knows anyone's endpoint). */
    tf_peers (&tf_n1, 0, NULL, NULL);
    CHECK (tf_wait_link (&tf_n1, 2, false, 2000)); /* reported on removal */
    tf_send_str (&tf_n1, 2, "over n2's own link");
    CHECK (tf_wait_recv (&tf_n2, "over n2's own link", 3000, NULL));

    /* With no link either way, nothing gets through. n1's ROUTER learns
       that n2's connection closed a moment after n2 closes it: probe until
       a probe is lost. */
    tf_peers (&tf_n2, 0, NULL, NULL);
    CHECK (tf_wait_link (&tf_n2, 1, false, 2000));
    bool gone = false;
    for (int i = 0; i < 20 && !gone; i++) {
        tf_send_str (&tf_n1, 2, "probe");
        gone = tf_count_recvs (&tf_n2, 150) == 0;
    }
    CHECK (gone);
    tf_stats (&tf_n1, before);
    for (int i = 0; i < 10; i++)
        tf_send_str (&tf_n1, 2, "to a removed peer");
    int others = 0;
    CHECK (!tf_wait_recv (&tf_n2, "to a removed peer", 300, &others));
    tf_stats (&tf_n1, after);
    CHECK (after[TF_OUT_UNKNOWN] - before[TF_OUT_UNKNOWN] == 10);

    /* back again */
    tf_peers (&tf_n2, 1, (raft_id_t[]){1}, (int[]){tf_n1.port});
    tf_peers (&tf_n1, 1, (raft_id_t[]){2}, (int[]){tf_n2.port});
    CHECK (tf_wait_link (&tf_n1, 2, true, 5000));
    tf_send_str (&tf_n1, 2, "peer is back");
    CHECK (tf_wait_recv (&tf_n2, "peer is back", 3000, NULL));
}

/* Send prefix-i from `from` to `to` every 50 ms until one arrives. */
static bool
s_retry_until_delivered (tf_node_t *from, tf_node_t *to, const char *prefix)
{
    int64_t deadline = zclock_mono () + 8000;
    for (int i = 0; zclock_mono () < deadline; i++) {
        char buf[48];
        snprintf (buf, sizeof buf, "%s-%d", prefix, i);
        tf_send_str (from, to->id, buf);
        msg_transport_t m;
        int64_t turn = zclock_mono () + 50;
        while (zclock_mono () < turn) {
            if (tf_next (to, (int)(turn - zclock_mono ()), &m) < 0)
                continue;
            bool hit = m.kind == MSG_TRANSPORT_RECV &&
                       m.payload_len > strlen (prefix) &&
                       memcmp (m.payload, prefix, strlen (prefix)) == 0;
            msg_transport_clear (&m);
            if (hit)
                return true;
        }
    }
    return false;
}

static void
test_peer_restart (void)
{
    tf_node_stop (&tf_n2);
    CHECK (tf_wait_link (&tf_n1, 2, false, 3000)); /* DISCONNECTED */
    tf_send_str (&tf_n1, 2, "while n2 is down");   /* dropped, not queued */
    CHECK (tf_node_start_retry (&tf_n2, 2, tf_n2.port) == 0);
    tf_peers (&tf_n2, 1, (raft_id_t[]){1}, (int[]){tf_n1.port});
    CHECK (tf_wait_link (&tf_n1, 2, true, 5000));
    CHECK (s_retry_until_delivered (&tf_n1, &tf_n2, "after restart 1->2"));
    CHECK (s_retry_until_delivered (&tf_n2, &tf_n1, "after restart 2->1"));
    /* ZMQ_IMMEDIATE: nothing sent while n2 was down was kept for it */
    msg_transport_t m;
    bool stale = false;
    while (tf_next (&tf_n2, 100, &m) == 0) {
        stale |= tf_payload_is (&m, "while n2 is down");
        msg_transport_clear (&m);
    }
    CHECK (!stale);
}

int
main (void)
{
    tf_init ("test_transport_links");
    tf_nodes_start ();
    check_run ("bind failure reported at start", test_bind_failure);
    check_run ("link up event", test_link_up);
    check_run ("send both ways", test_send_both_ways);
    check_run ("1000 each way, in order", test_thousand_each_way);
    check_run ("unreachable peer does not block",
               test_unreachable_does_not_block);
    check_run ("slow peer does not block", test_slow_peer_does_not_block);
    check_run ("removed peer gets nothing", test_remove_peer);
    check_run ("restarted peer gets messages", test_peer_restart);
    return tf_done ();
}
