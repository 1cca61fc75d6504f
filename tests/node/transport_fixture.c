/*  transport_fixture.c -- see transport_fixture.h. */
#include "transport_fixture.h"
#include "actor.h"
#include "check.h"
#include "log.h"
#include "rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rng_t s_rng; /* seeded by tf_init: TEST_SEED replays a run */
uint64_t
tf_rand (void)
{
    return rng_next (&s_rng);
}

tf_node_t tf_n1, tf_n2;
int tf_base_port;

/* Start a transport; returns its STATUS (0 when working). */
int
tf_node_start (tf_node_t *n, raft_id_t id, int port, const char *endpoint)
{
    memset (n->link, 0, sizeof n->link);
    n->id = id;
    n->port = port;
    n->gen++;
    snprintf (n->listen, sizeof n->listen, "tcp://127.0.0.1:%d", port);
    if (endpoint)
        snprintf (n->endpoint, sizeof n->endpoint, "%s", endpoint);
    else
        snprintf (n->endpoint, sizeof n->endpoint,
                  "inproc://nsxd-%d-transport-%d-%u", (int)getpid (), (int)id,
                  n->gen);
    n->args = (transport_args_t){.id = id,
                                 .listen = n->listen,
                                 .endpoint = n->endpoint,
                                 .queue_max = TF_QUEUE_MAX,
                                 .max_msg = TF_MAX_MSG};
    /* The one start-up handshake (actor.h): a failed transport is no
       actor, and its status says why. */
    int status = -1;
    n->actor =
        actor_start ("transport", transport_actor, &n->args, NULL, &status);
    CHECK ((n->actor != NULL) == (status == 0));
    /* a transport that stops reading fails the test instead of hanging it */
    n->raft = fixture_pair (n->endpoint, -1, 2000);
    return status;
}

void
tf_node_stop (tf_node_t *n)
{
    zmsg_destroy (&n->last);
    zsock_destroy (&n->raft);
    zactor_destroy (&n->actor);
}

/* A restarted transport may find its port still held for a moment by the
   one before it (libzmq closes listeners asynchronously): retry. */
int
tf_node_start_retry (tf_node_t *n, raft_id_t id, int port)
{
    int status = -1;
    for (int i = 0; i < 40; i++) {
        status = tf_node_start (n, id, port, NULL);
        if (status == 0)
            break;
        tf_node_stop (n);
        zclock_sleep (50);
    }
    return status;
}

void
tf_stats (tf_node_t *n, uint64_t c[7])
{
    zstr_send (n->actor, "STATS");
    int rc = zsock_recv (n->actor, "8888888", &c[0], &c[1], &c[2], &c[3], &c[4],
                         &c[5], &c[6]);
    CHECK (rc == 0);
}

void
tf_raft_send (tf_node_t *n, const msg_transport_t *m)
{
    zmsg_t *zm = msg_transport_encode (m);
    CHECK (zm);
    if (zm) {
        int rc = zmsg_send (&zm, n->raft);
        CHECK (rc == 0);
        zmsg_destroy (&zm); /* left to us if the send timed out */
    }
}

/* Tell n its peers: pairs of (id, port). */
void
tf_peers (tf_node_t *n, size_t count, const raft_id_t *ids, const int *ports)
{
    msg_peer_t peers[RAFT_MAX_SERVERS];
    memset (peers, 0, sizeof peers);
    for (size_t i = 0; i < count; i++) {
        peers[i].id = ids[i];
        snprintf (peers[i].endpoint, MSG_ENDPOINT_MAX, "tcp://127.0.0.1:%d",
                  ports[i]);
    }
    msg_transport_t m = {
        .kind = MSG_TRANSPORT_PEERS, .peers = peers, .n_peers = count};
    tf_raft_send (n, &m);
}

void
tf_send (tf_node_t *n, raft_id_t to, const void *data, size_t len)
{
    msg_transport_t m = {.kind = MSG_TRANSPORT_SEND,
                         .to = to,
                         .payload = (uint8_t *)data,
                         .payload_len = len};
    tf_raft_send (n, &m);
}

void
tf_send_str (tf_node_t *n, raft_id_t to, const char *s)
{
    tf_send (n, to, s, strlen (s));
}

/* Next message to n's raft actor, or -1 after timeout_ms. Link events are
   recorded in n->link. */
int
tf_next (tf_node_t *n, int timeout_ms, msg_transport_t *m)
{
    memset (m, 0, sizeof *m);
    zsock_set_rcvtimeo (n->raft, timeout_ms < 0 ? 0 : timeout_ms);
    zmsg_t *zm = zmsg_recv (n->raft);
    if (!zm)
        return -1;
    int rc = msg_transport_decode (zm, m);
    CHECK (rc == 0); /* the transport only sends what the codec accepts */
    /* a "recv" payload is borrowed from zm: kept until the next call */
    zmsg_destroy (&n->last);
    n->last = zm;
    if (rc == 0 && m->kind == MSG_TRANSPORT_LINK && m->to < 8) {
        n->link[m->to] = m->up;
        n->link_events++;
    }
    CHECK (rc < 0 || m->kind == MSG_TRANSPORT_RECV ||
           m->kind == MSG_TRANSPORT_LINK);
    return rc;
}

bool
tf_payload_is (const msg_transport_t *m, const char *s)
{
    return m->kind == MSG_TRANSPORT_RECV && m->payload_len == strlen (s) &&
           memcmp (m->payload, s, m->payload_len) == 0;
}

/* Wait for a "recv" of s at n; count other "recv"s in *others. */
bool
tf_wait_recv (tf_node_t *n, const char *s, int timeout_ms, int *others)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    msg_transport_t m;
    while (zclock_mono () < deadline) {
        if (tf_next (n, (int)(deadline - zclock_mono ()), &m) < 0)
            continue;
        bool hit = tf_payload_is (&m, s);
        if (!hit && m.kind == MSG_TRANSPORT_RECV && others)
            (*others)++;
        msg_transport_clear (&m);
        if (hit)
            return true;
    }
    return false;
}

/* Wait until n's raft actor was told that the link to peer is up/down. */
bool
tf_wait_link (tf_node_t *n, raft_id_t peer, bool up, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    msg_transport_t m;
    while (n->link[peer] != up && zclock_mono () < deadline) {
        if (tf_next (n, (int)(deadline - zclock_mono ()), &m) == 0)
            msg_transport_clear (&m);
    }
    return n->link[peer] == up;
}

/* Nothing but link events arrives at n for ms milliseconds. */
int
tf_count_recvs (tf_node_t *n, int ms)
{
    int count = 0;
    int64_t deadline = zclock_mono () + ms;
    msg_transport_t m;
    while (zclock_mono () < deadline) {
        if (tf_next (n, (int)(deadline - zclock_mono ()), &m) < 0)
            continue;
        if (m.kind == MSG_TRANSPORT_RECV)
            count++;
        msg_transport_clear (&m);
    }
    return count;
}

static bool s_nodes_started;

void
tf_init (const char *name)
{
    check_watchdog (name, 60);
    rng_seed_from_env (&s_rng, name, 0x9e3779b97f4a7c15ULL);
    log_init (0,
              getenv ("NSXD_TEST_VERBOSE") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
    zsys_init ();
    tf_base_port = 19000 + (int)(getpid () % 125) * 8; /* 8 ports each */
}

void
tf_nodes_start (void)
{
    CHECK (tf_node_start (&tf_n1, 1, tf_base_port, NULL) == 0);
    CHECK (tf_node_start (&tf_n2, 2, tf_base_port + 1, NULL) == 0);
    s_nodes_started = true;
}

int
tf_done (void)
{
    if (s_nodes_started) {
        tf_node_stop (&tf_n1);
        tf_node_stop (&tf_n2);
    }
    return check_report ();
}
