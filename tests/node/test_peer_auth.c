/*  test_peer_auth.c -- authenticated peer links: the cluster secret and its
    keys (actors/peer_keys.c), the ZAP handler (actors/zap.c), CURVE in the
    transport actor (actors/transport.c), and the connection limit
    (actors/conn_limit.c).

    Two transport actors, n1 and n2, with one zap actor for the process
    (libzmq has one ZAP endpoint per context), on loopback ports derived
    from the pid (20000-20999). Checked: the secret file's rules; each
    member's key maps back to its id, others to none; links come up and
    "recv" names the authenticated sender; a client without CURVE, with a
    key of another cluster, or with no member's key gets nothing through
    and is counted; a member key arrives as that member whatever it says;
    two nodes in the middle of a secret rotation still link up; the
    connection limit closes what is over it and is counted.

    One line per test; exit status non-zero on any failure; a watchdog ends
    a hung run after 60 s. Runs under ASan+UBSan.
*/
#include "check.h"
#include "fixture.h"
#include "actors.h"
#include "conn_limit.h"
#include "log.h"
#include "metrics.h"
#include "msg_transport.h"
#include "peer_keys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[64];
static int s_port;

/* Write a secret file with mode 0600; returns its path (static buffer
   per slot). */
static const char *
s_secret_file (int slot, const char *text, mode_t mode)
{
    static char paths[8][128];
    snprintf (paths[slot], sizeof paths[slot], "%s/secret%d", s_dir, slot);
    unlink (paths[slot]);
    FILE *f = fopen (paths[slot], "w");
    fputs (text, f);
    fclose (f);
    chmod (paths[slot], mode);
    return paths[slot];
}

#define S1 "first-cluster-secret-0123456789abcdef"
#define S2 "second-cluster-secret-0123456789abcdef"

/*  ---------------------------------------------------------------------
    Nodes                                                                */

typedef struct {
    raft_id_t id;
    char listen[64], endpoint[96];
    transport_args_t args;
    zactor_t *actor;
    zsock_t *raft;
    peer_keys_t *keys;
} node_t;

static void
s_node_start (node_t *n, raft_id_t id, int port, peer_keys_t *keys,
              int max_conns)
{
    static unsigned gen;
    memset (n, 0, sizeof *n);
    n->id = id;
    n->keys = keys;
    snprintf (n->listen, sizeof n->listen, "tcp://127.0.0.1:%d", port);
    snprintf (n->endpoint, sizeof n->endpoint, "inproc://test-auth-%d-%u",
              (int)id, gen++);
    n->args = (transport_args_t){.id = id,
                                 .listen = n->listen,
                                 .endpoint = n->endpoint,
                                 .queue_max = 1000,
                                 .max_msg = 65536,
                                 .keys = keys,
                                 .max_conns = max_conns};
    n->actor = zactor_new (transport_actor, &n->args);
    n->raft = fixture_pair (n->endpoint, -1, 2000);
}

static void
s_node_stop (node_t *n)
{
    zsock_destroy (&n->raft);
    zactor_destroy (&n->actor);
    peer_keys_destroy (&n->keys);
}

static void
s_raft_send (node_t *n, const msg_transport_t *m)
{
    zmsg_t *zm = msg_transport_encode (m);
    CHECK (zm && zmsg_send (&zm, n->raft) == 0);
}

/* Tell n its peers: ids[i] at port ports[i]. */
static void
s_peers (node_t *n, size_t count, const raft_id_t *ids, const int *ports)
{
    msg_peer_t peers[4];
    for (size_t i = 0; i < count; i++) {
        peers[i].id = ids[i];
        snprintf (peers[i].endpoint, sizeof peers[i].endpoint,
                  "tcp://127.0.0.1:%d", ports[i]);
    }
    msg_transport_t m = {
        .kind = MSG_TRANSPORT_PEERS, .peers = peers, .n_peers = count};
    s_raft_send (n, &m);
}

static void
s_send_str (node_t *n, raft_id_t to, const char *s)
{
    msg_transport_t m = {.kind = MSG_TRANSPORT_SEND,
                         .to = to,
                         .payload = (uint8_t *)s,
                         .payload_len = strlen (s)};
    s_raft_send (n, &m);
}

/* The next "recv" at n within ms whose payload is s: its from, or -1. */
static long long
s_wait_recv (node_t *n, const char *s, int ms)
{
    int64_t end = zclock_mono () + ms;
    zpoller_t *p = zpoller_new (n->raft, NULL);
    long long from = -1;
    while (from < 0 && zclock_mono () < end) {
        if (!zpoller_wait (p, (int)(end - zclock_mono ())))
            break;
        zmsg_t *zm = zmsg_recv (n->raft);
        msg_transport_t m;
        if (zm && msg_transport_decode (zm, &m) == 0) {
            if (m.kind == MSG_TRANSPORT_RECV && m.payload_len == strlen (s) &&
                memcmp (m.payload, s, m.payload_len) == 0)
                from = (long long)m.from;
            msg_transport_clear (&m);
        }
        zmsg_destroy (&zm);
    }
    zpoller_destroy (&p);
    return from;
}

/* Send s from a to b until it arrives (links take a moment, a rotation
   a few handshakes); returns the from b saw, or -1. */
static long long
s_deliver (node_t *a, node_t *b, const char *s, int ms)
{
    int64_t end = zclock_mono () + ms;
    long long from = -1;
    while (from < 0 && zclock_mono () < end) {
        s_send_str (a, b->id, s);
        from = s_wait_recv (b, s, 200);
    }
    return from;
}

/* A DEALER of our own to port; keys_self: CURVE client with that key
   pair towards member `server` (NULL: no CURVE). */
static zsock_t *
s_dealer (int port, peer_keys_t *client, raft_id_t server)
{
    zsock_t *d = zsock_new (ZMQ_DEALER);
    zsock_set_linger (d, 0);
    zsock_set_identity (d, "intruder");
    if (client)
        peer_keys_connect_peer (client, d, server, 0);
    zsock_connect (d, "tcp://127.0.0.1:%d", port);
    return d;
}

/* Send s on d for ms; returns the from n2 saw it with, or -1. */
static long long
s_intrude (zsock_t *d, node_t *n, const char *s, int ms)
{
    int64_t end = zclock_mono () + ms;
    long long from = -1;
    while (from < 0 && zclock_mono () < end) {
        zmq_send (zsock_resolve (d), s, strlen (s), ZMQ_DONTWAIT);
        from = s_wait_recv (n, s, 100);
    }
    return from;
}

/*  ---------------------------------------------------------------------
    Tests                                                                */

static void
test_secret_file_rules (void)
{
    char err[256];
    peer_keys_t *k;
    k = peer_keys_load (s_secret_file (0, S1 "\n", 0644), 1, err, sizeof err);
    CHECK (!k && strstr (err, "readable by others"));
    k = peer_keys_load (s_secret_file (0, "too-short\n", 0600), 1, err,
                        sizeof err);
    CHECK (!k && strstr (err, "shorter"));
    k = peer_keys_load (s_secret_file (0, "# only a comment\n\n", 0600), 1, err,
                        sizeof err);
    CHECK (!k && strstr (err, "no secret"));
    k = peer_keys_load (
        s_secret_file (0, S1 "\n" S1 "\n" S1 "\n" S1 "\n" S1 "\n", 0600), 1,
        err, sizeof err);
    CHECK (!k && strstr (err, "more than"));
    k = peer_keys_load ("/nonexistent/secret", 1, err, sizeof err);
    CHECK (!k && strstr (err, "cannot open"));
    k = peer_keys_load (s_secret_file (0, "# comment\n  " S1 "  \r\n", 0600), 1,
                        err, sizeof err);
    CHECK (k && peer_keys_secrets (k) == 1);
    peer_keys_destroy (&k);

    /* keygen: a new file, mode 0600, loadable; never overwritten */
    char path[128];
    snprintf (path, sizeof path, "%s/generated", s_dir);
    unlink (path);
    CHECK (peer_keys_generate (path) == 0);
    struct stat st;
    CHECK (stat (path, &st) == 0 && (st.st_mode & 0777) == 0600);
    k = peer_keys_load (path, 3, err, sizeof err);
    CHECK (k != NULL);
    peer_keys_destroy (&k);
    CHECK (peer_keys_generate (path) == -1 && errno == EEXIST);
}

/* A member's key, from the secret and its id alone, maps back to the id;
   an id beyond the preset range only once learned; another secret's key
   to nothing. */
static void
test_keys_map_to_members (void)
{
    char err[256];
    const char *f1 = s_secret_file (1, S1 "\n", 0600);
    peer_keys_t *server = peer_keys_load (f1, 1, err, sizeof err);
    peer_keys_t *m5 = peer_keys_load (f1, 5, err, sizeof err);
    peer_keys_t *big = peer_keys_load (f1, 5000, err, sizeof err);
    peer_keys_t *other =
        peer_keys_load (s_secret_file (2, S2 "\n", 0600), 5, err, sizeof err);
    CHECK (server && m5 && big && other);
    /* the keys a client presents: read them back off a socket */
    uint8_t pk[32];
    zsock_t *s = zsock_new (ZMQ_DEALER);
    peer_keys_connect_peer (m5, s, 1, 0);
    size_t len = sizeof pk;
    zmq_getsockopt (zsock_resolve (s), ZMQ_CURVE_PUBLICKEY, pk, &len);
    CHECK (peer_keys_member_of (server, pk) == 5);
    CHECK (!peer_keys_is_trace (server, pk));
    peer_keys_connect_peer (big, s, 1, 0);
    zmq_getsockopt (zsock_resolve (s), ZMQ_CURVE_PUBLICKEY, pk, &len);
    CHECK (peer_keys_member_of (server, pk) == 0);
    peer_keys_learn (server, 5000);
    CHECK (peer_keys_member_of (server, pk) == 5000);
    peer_keys_connect_peer (other, s, 1, 0);
    zmq_getsockopt (zsock_resolve (s), ZMQ_CURVE_PUBLICKEY, pk, &len);
    CHECK (peer_keys_member_of (server, pk) == 0);
    peer_keys_connect_monitor (m5, s, 0);
    zmq_getsockopt (zsock_resolve (s), ZMQ_CURVE_PUBLICKEY, pk, &len);
    CHECK (peer_keys_is_trace (server, pk));
    CHECK (peer_keys_member_of (server, pk) == 0);
    zsock_destroy (&s);
    peer_keys_destroy (&server);
    peer_keys_destroy (&m5);
    peer_keys_destroy (&big);
    peer_keys_destroy (&other);
}

static node_t s_n1, s_n2;

static peer_keys_t *
s_keys (int slot, const char *text, raft_id_t id)
{
    char err[256];
    peer_keys_t *k =
        peer_keys_load (s_secret_file (slot, text, 0600), id, err, sizeof err);
    CHECK (k != NULL);
    return k;
}

/* Links come up both ways and "recv" names the sender. n1 is half-way
   through a rotation (its own keys from S2, S1 still accepted), n2 not
   yet (S1 first): each side's DEALER finds the line the other serves. */
static void
test_links_authenticated (void)
{
    raft_id_t ids[2] = {1, 2};
    int ports[2] = {s_port, s_port + 1};
    s_node_start (&s_n1, 1, ports[0], s_keys (3, S2 "\n" S1 "\n", 1), 0);
    s_node_start (&s_n2, 2, ports[1], s_keys (4, S1 "\n" S2 "\n", 2), 0);
    s_peers (&s_n1, 1, &ids[1], &ports[1]);
    s_peers (&s_n2, 1, &ids[0], &ports[0]);
    CHECK (s_deliver (&s_n1, &s_n2, "hello from 1", 8000) == 1);
    CHECK (s_deliver (&s_n2, &s_n1, "hello from 2", 8000) == 2);
}

/* Strangers get nothing through, and every refused handshake is counted:
   no CURVE at all, a key of another secret, a key of the right secret but
   no member's (the trace key). A member's key arrives as that member. */
static void
test_strangers_refused (void)
{
    uint64_t before = metrics_get (METRICS_PEER_HANDSHAKES_REFUSED);
    zsock_t *plain = s_dealer (s_port + 1, NULL, 0);
    CHECK (s_intrude (plain, &s_n2, "plain", 1000) == -1);
    zsock_destroy (&plain);

    peer_keys_t *other = s_keys (5, S2 "x\n", 7);
    zsock_t *wrong = s_dealer (s_port + 1, other, 2);
    CHECK (s_intrude (wrong, &s_n2, "other cluster", 1000) == -1);
    zsock_destroy (&wrong);

    /* the right server key, but a client key that is nobody's: the
       monitor's trace key */
    peer_keys_t *k7 = s_keys (6, S1 "\n", 7);
    zsock_t *trace = zsock_new (ZMQ_DEALER);
    zsock_set_linger (trace, 0);
    peer_keys_connect_monitor (k7, trace, 0); /* client: the trace key */
    uint8_t server[32];
    size_t len = sizeof server;
    zsock_t *probe = zsock_new (ZMQ_DEALER);
    peer_keys_connect_peer (k7, probe, 2, 0);
    zmq_getsockopt (zsock_resolve (probe), ZMQ_CURVE_SERVERKEY, server, &len);
    zsock_destroy (&probe);
    zsock_set_curve_serverkey_bin (trace, server);
    zsock_connect (trace, "tcp://127.0.0.1:%d", s_port + 1);
    CHECK (s_intrude (trace, &s_n2, "no member", 1000) == -1);
    zsock_destroy (&trace);
    zclock_sleep (300); /* the refusals' events */
    CHECK (metrics_get (METRICS_PEER_HANDSHAKES_REFUSED) >= before + 3);

    /* member 7's key (the secret's holder): through, as 7 */
    zsock_t *member = s_dealer (s_port + 1, k7, 2);
    CHECK (s_intrude (member, &s_n2, "as seven", 3000) == 7);
    zsock_destroy (&member);
    peer_keys_destroy (&k7);
    peer_keys_destroy (&other);
}

static int
s_tcp_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons ((uint16_t)port)};
    inet_pton (AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect (fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close (fd);
        return -1;
    }
    return fd;
}

/* n2 holds at most 4 connections open: of 10 idle TCP clients, 6 are
   closed at once (their read sees EOF) and counted; the link from n1
   still works afterwards. */
static void
test_connection_limit (void)
{
    s_node_stop (&s_n2);
    zclock_sleep (100);
    s_node_start (&s_n2, 2, s_port + 2, s_keys (7, S1 "\n", 2), 4);
    uint64_t before = metrics_get (METRICS_PEER_CONNS_REFUSED);
    int fds[10], closed = 0;
    for (int i = 0; i < 10; i++)
        fds[i] = s_tcp_connect (s_port + 2);
    zclock_sleep (500);
    for (int i = 0; i < 10; i++) {
        struct timeval tv = {.tv_usec = 100000};
        setsockopt (fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buf[64];
        ssize_t got;
        /* the ZMTP greeting may come first; then EOF when closed */
        while ((got = recv (fds[i], buf, sizeof buf, 0)) > 0)
            ;
        if (got == 0)
            closed++;
    }
    CHECK (closed >= 6);
    CHECK (metrics_get (METRICS_PEER_CONNS_REFUSED) >= before + 6);
    for (int i = 0; i < 10; i++)
        close (fds[i]);
    zclock_sleep (300);
    raft_id_t id2 = 2;
    int port2 = s_port + 2;
    s_peers (&s_n1, 1, &id2, &port2);
    CHECK (s_deliver (&s_n1, &s_n2, "after the crowd", 8000) == 1);
}

/* A peer sends one multipart message that never ends: frames of 60 KiB,
   each with the MORE flag, forever. libzmq itself never sends such a
   thing (a message leaves a sender only once whole), so this is raw ZMTP
   over TCP, to a node with --insecure-peers (with CURVE, only a holder of
   the secret could). libzmq would gather it forever; the connection is
   cut once it holds more than 4 max_msg + 16 MiB (16.25 MiB here), and
   counted; the node goes on taking messages. */
static void
test_endless_multipart_cut (void)
{
    node_t n3;
    s_node_start (&n3, 3, s_port + 3, NULL, 0);
    zclock_sleep (100);
    uint64_t before = metrics_get (METRICS_PEER_CONNS_CUT);
    static const uint8_t hello[64 + 30] = {
        0xff, 0,   0,   0,   0,           0,   0,   0,   1,   0x7f, 3,   0,
        'N',  'U', 'L', 'L', [64] = 0x04, 28,  5,   'R', 'E', 'A',  'D', 'Y',
        11,   'S', 'o', 'c', 'k',         'e', 't', '-', 'T', 'y',  'p', 'e',
        0,    0,   0,   6,   'D',         'E', 'A', 'L', 'E', 'R'};
    size_t frame = 60 << 10;
    uint8_t *p = calloc (1, 9 + frame);
    p[0] = 0x03; /* MORE, LONG: an 8-byte size follows */
    for (int i = 0; i < 8; i++)
        p[1 + i] = (uint8_t)((uint64_t)frame >> (56 - 8 * i));
    struct timeval tv = {.tv_usec = 100000};
    size_t sent = 0, most = 0;
    int fd = -1, conns = 0;
    int64_t end = zclock_mono () + 10000;
    while (metrics_get (METRICS_PEER_CONNS_CUT) == before &&
           zclock_mono () < end) {
        if (fd < 0) { /* (again, if anything else ended the last one) */
            fd = s_tcp_connect (s_port + 3);
            CHECK (fd >= 0 && write (fd, hello, sizeof hello) == sizeof hello);
            setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            sent = 0;
            conns++;
        }
        ssize_t n = send (fd, p, 9 + frame, MSG_NOSIGNAL);
        if (n > 0)
            sent += (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            close (fd);
            fd = -1;
        }
        most = sent > most ? sent : most;
    }
    zclock_sleep (200);
    printf ("  sent at most %zu KiB on one connection (%d) before the cut\n",
            most >> 10, conns);
    CHECK (metrics_get (METRICS_PEER_CONNS_CUT) == before + 1);
    /* what the node took, plus both kernels' socket buffers; without the
       cut, gigabytes */
    CHECK (most < (64u << 20));
    free (p);
    if (fd >= 0)
        close (fd);
    /* n3 still takes messages from a real peer */
    raft_id_t id3 = 3;
    int port3 = s_port + 3;
    node_t n4;
    s_node_start (&n4, 4, s_port + 4, NULL, 0);
    s_peers (&n4, 1, &id3, &port3);
    n3.id = 3;
    CHECK (s_deliver (&n4, &n3, "after the flood", 8000) == 0);
    s_node_stop (&n4);
    s_node_stop (&n3);
}

int
main (void)
{
    check_watchdog ("test_peer_auth", 60);
    zsys_handler_set (NULL);
    log_init (0, LOG_LEVEL_WARN);
    s_port = 20000 + (int)(getpid () % 250) * 4;
    const char *root = fixture_tmpdir ("test_peer_auth");
    if (!root)
        return 1;
    snprintf (s_dir, sizeof s_dir, "%s", root);

    CHECK_RUN (test_secret_file_rules);
    CHECK_RUN (test_keys_map_to_members);

    /* one ZAP handler for the process, accepting both secrets */
    peer_keys_t *zap_keys = s_keys (0, S1 "\n" S2 "\n", 99);
    CHECK (zap_register (zap_keys) == 0);
    CHECK_RUN (test_links_authenticated);
    CHECK_RUN (test_strangers_refused);
    CHECK_RUN (test_connection_limit);
    CHECK_RUN (test_endless_multipart_cut);
    s_node_stop (&s_n1);
    s_node_stop (&s_n2);
    zap_unregister (zap_keys);
    peer_keys_destroy (&zap_keys);

    fixture_tmpdir_remove ();
    return check_report ();
}
