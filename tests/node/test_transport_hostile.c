/*  test_transport_hostile.c -- garbage at the transport: answers on a
    DEALER from a fake peer (and a 1 TiB frame header), from the raft
    actor, and on the ROUTER port (raw TCP bytes, multi-frame, empty and
    oversize ZeroMQ messages): dropped and counted, later traffic flows.

    One line per test; the exit status is non-zero on any failure, and a
    watchdog ends a run that hangs (a blocking transport) after 60 s. Run
    it under ASan+UBSan: nothing may leak, and a frame allocated from a
    hostile size header aborts the run.
*/
#include "check.h"
#include "transport_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*  A correct ZMTP 3.0 handshake (greeting, READY with the given 6-letter
    socket type), then a frame header declaring 1 TiB. libzmq allocates a
    frame from its declared size before reading it unless ZMQ_MAXMSGSIZE is
    set; under ASan that allocation aborts the test. */
#define S_ZMTP_HUGE (64 + 30 + 9)
static void
s_zmtp_huge (uint8_t out[S_ZMTP_HUGE], const char *socket_type)
{
    static const uint8_t greeting[64] = {0xff, 0,    0, 0, 0,   0,   0,   0,
                                         1,    0x7f, 3, 0, 'N', 'U', 'L', 'L'};
    static const uint8_t ready[24] = {0x04, 28,  5,   'R', 'E', 'A', 'D', 'Y',
                                      11,   'S', 'o', 'c', 'k', 'e', 't', '-',
                                      'T',  'y', 'p', 'e', 0,   0,   0,   6};
    static const uint8_t huge[9] = {0x02, 0, 0, 1, 0, 0, 0, 0, 0}; /* 2^40 */
    memcpy (out, greeting, 64);
    memcpy (out + 64, ready, 24);
    memcpy (out + 64 + 24, socket_type, 6);
    memcpy (out + 64 + 30, huge, 9);
}

/* A fake peer that completes the handshake with n1's DEALER and then
   declares a 1 TiB frame: n1 drops the connection and keeps working. */
static void
test_dealer_huge_frame (void)
{
    int lfd = socket (AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt (lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port =
                                   htons ((uint16_t)(tf_base_port + 5))};
    inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
    CHECK (bind (lfd, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK (listen (lfd, 4) == 0);
    tf_peers (&tf_n1, 2, (raft_id_t[]){2, 3},
              (int[]){tf_n2.port, tf_base_port + 5});
    struct pollfd pfd = {.fd = lfd, .events = POLLIN};
    int ready = poll (&pfd, 1, 3000);
    CHECK (ready == 1);
    int fd = ready == 1 ? accept (lfd, NULL, NULL) : -1;
    CHECK (fd >= 0);
    if (fd >= 0) {
        uint8_t zmtp[S_ZMTP_HUGE];
        s_zmtp_huge (zmtp, "ROUTER");
        CHECK (write (fd, zmtp, sizeof zmtp) == (ssize_t)sizeof zmtp);
        zclock_sleep (100);
        close (fd);
    }
    tf_peers (&tf_n1, 1, (raft_id_t[]){2}, (int[]){tf_n2.port});
    close (lfd);
    tf_send_str (&tf_n1, 2, "after a huge frame header");
    CHECK (tf_wait_recv (&tf_n2, "after a huge frame header", 3000, NULL));
}

/* Frames from a fake peer's ROUTER to n1's DEALER (identity "1"); -1 if
   the ROUTER does not know that identity (yet). */
static int
s_fake_send (zsock_t *router, int n, const void *const *data,
             const size_t *size)
{
    void *h = zsock_resolve (router);
    if (zmq_send (h, "1", 1, ZMQ_SNDMORE) < 0)
        return -1;
    for (int i = 0; i < n; i++)
        zmq_send (h, data[i], size[i], i + 1 < n ? ZMQ_SNDMORE : 0);
    return 0;
}

/* A peer may answer on our DEALER (as n1's ROUTER answers a joining
   server). Multi-frame, empty and oversize answers are dropped; a
   well-framed one arrives. */
static void
test_dealer_garbage (void)
{
    zsock_t *fake = zsock_new (ZMQ_ROUTER);
    zsock_set_router_mandatory (fake, 1);
    CHECK (zsock_bind (fake, "tcp://127.0.0.1:%d", tf_base_port + 4) ==
           tf_base_port + 4);
    tf_peers (&tf_n1, 2, (raft_id_t[]){2, 3},
              (int[]){tf_n2.port, tf_base_port + 4});
    CHECK (tf_wait_link (&tf_n1, 3, true, 5000));

    uint64_t before[7], after[7];
    tf_stats (&tf_n1, before);
    const void *two[] = {"frame-x", "frame-y"};
    const size_t two_size[] = {7, 7};
    int rc = -1;
    for (int i = 0; i < 200 && rc < 0; i++) {
        rc = s_fake_send (fake, 2, two, two_size);
        if (rc < 0)
            zclock_sleep (10);
    }
    CHECK (rc == 0);
    CHECK (s_fake_send (fake, 1, (const void *[]){""}, (size_t[]){0}) == 0);
    CHECK (s_fake_send (fake, 1, (const void *[]){"well-framed answer"},
                        (size_t[]){18}) == 0);
    uint8_t *big = calloc (1, TF_MAX_MSG + 1);
    CHECK (s_fake_send (fake, 1, (const void *[]){big},
                        (size_t[]){TF_MAX_MSG + 1}) == 0);
    free (big);
    int others = 0;
    CHECK (tf_wait_recv (&tf_n1, "well-framed answer", 3000, &others));
    CHECK (others == 0);
    tf_stats (&tf_n1, after);
    CHECK (after[TF_IN_MALFORMED] - before[TF_IN_MALFORMED] == 2);

    tf_peers (&tf_n1, 1, (raft_id_t[]){2}, (int[]){tf_n2.port});
    CHECK (tf_wait_link (&tf_n1, 3, false, 2000));
    zsock_destroy (&fake);
    /* n1 still works */
    tf_send_str (&tf_n1, 2, "after dealer garbage");
    CHECK (tf_wait_recv (&tf_n2, "after dealer garbage", 3000, NULL));
}

static void
test_raft_garbage (void)
{
    uint64_t before[7], after[7];
    tf_stats (&tf_n1, before);
    uint8_t junk[100];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)tf_rand ();
    zmsg_t *zm = fixture_zmsg (junk, sizeof junk);
    zmsg_send (&zm, tf_n1.raft);
    zm = fixture_zmsg ("", 0);
    zmsg_send (&zm, tf_n1.raft);
    /* a valid "send" with a second frame */
    zm = msg_transport_encode (&(msg_transport_t){.kind = MSG_TRANSPORT_SEND,
                                                  .to = 2,
                                                  .payload = (uint8_t *)"x",
                                                  .payload_len = 1});
    zmsg_addstr (zm, "extra");
    zmsg_send (&zm, tf_n1.raft);
    /* well-formed, but only the transport sends these */
    zm = msg_transport_encode (&(msg_transport_t){.kind = MSG_TRANSPORT_RECV,
                                                  .payload = (uint8_t *)"y",
                                                  .payload_len = 1});
    zmsg_send (&zm, tf_n1.raft);
    zm = msg_transport_encode (
        &(msg_transport_t){.kind = MSG_TRANSPORT_LINK, .to = 2, .up = true});
    zmsg_send (&zm, tf_n1.raft);

    tf_send_str (&tf_n1, 2, "after raft garbage");
    int others = 0;
    CHECK (tf_wait_recv (&tf_n2, "after raft garbage", 3000, &others));
    CHECK (others == 0); /* "x" never went out */
    tf_stats (&tf_n1, after);
    CHECK (after[TF_RAFT_MALFORMED] - before[TF_RAFT_MALFORMED] == 5);
}

/* Raw bytes on a plain TCP connection to port. */
static void
s_tcp_write (int port, const uint8_t *data, size_t len)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    CHECK (fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons ((uint16_t)port)};
    inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
    CHECK (connect (fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write (fd, data + off, len - off);
        if (n <= 0)
            break; /* the transport may close on us: that is fine */
        off += (size_t)n;
    }
    zclock_sleep (20);
    close (fd);
}

static void
test_router_garbage (void)
{
    uint64_t before[7], after[7];
    tf_stats (&tf_n2, before);

    /* Plain TCP: random bytes; a ZMTP 3 greeting followed by random
       bytes; a greeting cut short; a handshake as a DEALER, then a frame
       header declaring 1 TiB. */
    uint8_t junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)tf_rand ();
    s_tcp_write (tf_n2.port, junk, sizeof junk);
    uint8_t zmtp[S_ZMTP_HUGE];
    s_zmtp_huge (zmtp, "DEALER");
    memcpy (junk, zmtp, 64);
    s_tcp_write (tf_n2.port, junk, sizeof junk);
    s_tcp_write (tf_n2.port, junk, 11);
    s_tcp_write (tf_n2.port, zmtp, sizeof zmtp);

    /* A ZeroMQ DEALER with multi-frame, empty and oversize messages. */
    zsock_t *evil = zsock_new (ZMQ_DEALER);
    zsock_set_identity (evil, "evil");
    zsock_connect (evil, "tcp://127.0.0.1:%d", tf_n2.port);
    for (int i = 0; i < 3; i++)
        zstr_sendx (evil, "frame-x", "frame-y", "frame-z", NULL);
    zstr_sendx (evil, "frame-p", "frame-q", NULL);
    zmsg_t *empty = fixture_zmsg ("", 0);
    zmsg_send (&empty, evil);
    zstr_send (evil, "evil but well-framed");
    size_t big_len = TF_MAX_MSG + 1;
    uint8_t *big = malloc (big_len);
    memset (big, 'O', big_len);
    zsock_send (evil, "b", big, big_len);
    free (big);

    /* The well-framed one arrives (the transport does not judge payloads;
       the raft actor does), nothing else from the DEALER does, and n1's
       traffic still flows. */
    tf_send_str (&tf_n1, 2, "after router garbage");
    bool evil_seen = false, n1_seen = false;
    int bad = 0;
    int64_t deadline = zclock_mono () + 5000;
    while (!(evil_seen && n1_seen) && zclock_mono () < deadline) {
        msg_transport_t m;
        if (tf_next (&tf_n2, (int)(deadline - zclock_mono ()), &m) < 0)
            continue;
        if (tf_payload_is (&m, "evil but well-framed"))
            evil_seen = true;
        else if (tf_payload_is (&m, "after router garbage"))
            n1_seen = true;
        else if (m.kind == MSG_TRANSPORT_RECV &&
                 (m.payload_len > TF_MAX_MSG ||
                  (m.payload_len == 7 && memcmp (m.payload, "frame-", 6) == 0)))
            bad++;
        /* other payloads can come from the raw junk, which an old ZMTP
           1.0 peer would have framed: the raft actor refuses them */
        msg_transport_clear (&m);
    }
    CHECK (evil_seen);
    CHECK (n1_seen);
    CHECK (bad == 0);
    zsock_destroy (&evil);

    tf_stats (&tf_n2, after);
    /* 3 three-frame, 1 two-frame, 1 empty; the oversize frame never
       reaches the actor (ZMQ_MAXMSGSIZE drops the connection) */
    CHECK (after[TF_IN_MALFORMED] - before[TF_IN_MALFORMED] >= 5);

    /* and later traffic still flows */
    tf_send_str (&tf_n1, 2, "later");
    CHECK (tf_wait_recv (&tf_n2, "later", 3000, NULL));
}

int
main (void)
{
    tf_init ("test_transport_hostile");
    tf_nodes_start ();
    check_run ("garbage answers on a DEALER dropped", test_dealer_garbage);
    check_run ("huge frame header on a DEALER", test_dealer_huge_frame);
    check_run ("raft actor garbage dropped", test_raft_garbage);
    check_run ("router garbage dropped", test_router_garbage);
    return tf_done ();
}
