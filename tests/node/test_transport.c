/*  test_transport.c -- the transport actor (actors/transport.c) and its
    codec (msg/msg_transport.c).

    Two transport actors run in this process, n1 and n2, each listening on
    tcp://127.0.0.1:<port> (8 ports per run in 19000-19999, derived from the
    pid so that parallel runs rarely collide), each with a PAIR playing its
    raft actor. The tests send real traffic over loopback TCP: delivery
    both ways and in order; sends to unknown, unreachable and slow peers,
    which must not block; removing a peer; a peer restarting; garbage on
    the ROUTER port (raw TCP bytes, a 1 TiB frame header, multi-frame,
    empty and oversize ZeroMQ messages), on a DEALER (a fake peer
    answering) and from the raft actor. The codec is checked on round
    trips, every truncation and hostile input.

    One line per test; the exit status is non-zero on any failure, and a
    watchdog ends a run that hangs (a blocking transport) after 60 s. Run
    it under ASan+UBSan: nothing may leak, and a frame allocated from a
    hostile size header aborts the run. The two "Address already in use"
    errors in the output are the bind-failure test.
*/
#include "actor.h"
#include "check.h"
#include "fixture.h"
#include "rng.h"
#include "actors.h"
#include "log.h"
#include "msg_transport.h"

#include <arpa/inet.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static rng_t s_rng; /* seeded in main: TEST_SEED replays a run */
static uint64_t
s_rand (void)
{
    return rng_next (&s_rng);
}

#define S_QUEUE_MAX 1024
#define S_MAX_MSG (64 * 1024)

/*  ---------------------------------------------------------------------
    Nodes: a transport actor and the PAIR that plays its raft actor      */

typedef struct {
    raft_id_t id;
    int port;
    unsigned gen; /* a fresh inproc endpoint per start */
    char listen[64];
    char endpoint[96];
    transport_args_t args; /* must outlive zactor_new */
    zactor_t *actor;
    zsock_t *raft;
    bool link[8];    /* last link state reported, by peer id */
    int link_events; /* link events seen */
    zmsg_t *last;    /* the last message s_next decoded (its payload) */
} node_t;

static node_t s_n1, s_n2;
static int s_base_port;

/* Start a transport; returns its STATUS (0 when working). */
static int
s_node_start (node_t *n, raft_id_t id, int port, const char *endpoint)
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
                                 .queue_max = S_QUEUE_MAX,
                                 .max_msg = S_MAX_MSG};
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

static void
s_node_stop (node_t *n)
{
    zmsg_destroy (&n->last);
    zsock_destroy (&n->raft);
    zactor_destroy (&n->actor);
}

/* A restarted transport may find its port still held for a moment by the
   one before it (libzmq closes listeners asynchronously): retry. */
static int
s_node_start_retry (node_t *n, raft_id_t id, int port)
{
    int status = -1;
    for (int i = 0; i < 40; i++) {
        status = s_node_start (n, id, port, NULL);
        if (status == 0)
            break;
        s_node_stop (n);
        zclock_sleep (50);
    }
    return status;
}

static void
s_stats (node_t *n, uint64_t c[7])
{
    zstr_send (n->actor, "STATS");
    int rc = zsock_recv (n->actor, "8888888", &c[0], &c[1], &c[2], &c[3], &c[4],
                         &c[5], &c[6]);
    CHECK (rc == 0);
}
enum {
    C_IN_ACCEPTED,
    C_IN_MALFORMED,
    C_IN_DROPPED,
    C_OUT_SENT,
    C_OUT_DROPPED,
    C_OUT_UNKNOWN,
    C_RAFT_MALFORMED
};

static void
s_raft_send (node_t *n, const msg_transport_t *m)
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
static void
s_peers (node_t *n, size_t count, const raft_id_t *ids, const int *ports)
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
    s_raft_send (n, &m);
}

static void
s_send (node_t *n, raft_id_t to, const void *data, size_t len)
{
    msg_transport_t m = {.kind = MSG_TRANSPORT_SEND,
                         .to = to,
                         .payload = (uint8_t *)data,
                         .payload_len = len};
    s_raft_send (n, &m);
}

static void
s_send_str (node_t *n, raft_id_t to, const char *s)
{
    s_send (n, to, s, strlen (s));
}

/* Next message to n's raft actor, or -1 after timeout_ms. Link events are
   recorded in n->link. */
static int
s_next (node_t *n, int timeout_ms, msg_transport_t *m)
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

static bool
s_payload_is (const msg_transport_t *m, const char *s)
{
    return m->kind == MSG_TRANSPORT_RECV && m->payload_len == strlen (s) &&
           memcmp (m->payload, s, m->payload_len) == 0;
}

/* Wait for a "recv" of s at n; count other "recv"s in *others. */
static bool
s_wait_recv (node_t *n, const char *s, int timeout_ms, int *others)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    msg_transport_t m;
    while (zclock_mono () < deadline) {
        if (s_next (n, (int)(deadline - zclock_mono ()), &m) < 0)
            continue;
        bool hit = s_payload_is (&m, s);
        if (!hit && m.kind == MSG_TRANSPORT_RECV && others)
            (*others)++;
        msg_transport_clear (&m);
        if (hit)
            return true;
    }
    return false;
}

/* Wait until n's raft actor was told that the link to peer is up/down. */
static bool
s_wait_link (node_t *n, raft_id_t peer, bool up, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    msg_transport_t m;
    while (n->link[peer] != up && zclock_mono () < deadline) {
        if (s_next (n, (int)(deadline - zclock_mono ()), &m) == 0)
            msg_transport_clear (&m);
    }
    return n->link[peer] == up;
}

/* Nothing but link events arrives at n for ms milliseconds. */
static int
s_count_recvs (node_t *n, int ms)
{
    int count = 0;
    int64_t deadline = zclock_mono () + ms;
    msg_transport_t m;
    while (zclock_mono () < deadline) {
        if (s_next (n, (int)(deadline - zclock_mono ()), &m) < 0)
            continue;
        if (m.kind == MSG_TRANSPORT_RECV)
            count++;
        msg_transport_clear (&m);
    }
    return count;
}

/*  ---------------------------------------------------------------------
    Codec                                                                */

static zmsg_t *
s_zmsg (const void *data, size_t len)
{
    zmsg_t *zm = zmsg_new ();
    zmsg_addmem (zm, data, len);
    return zm;
}

/* The payload frame s_decode_bytes adds after the header, or NULL: none
   (s_dec_p sets it; "send" and "recv" carry one). */
static const char *s_payload_frame;

/* Decode data as one frame (plus s_payload_frame); on success check and
   clear the result. */
static int
s_decode_bytes (const void *data, size_t len)
{
    zmsg_t *zm = s_zmsg (data, len);
    if (s_payload_frame)
        zmsg_addmem (zm, s_payload_frame, strlen (s_payload_frame));
    msg_transport_t m;
    int rc = msg_transport_decode (zm, &m);
    if (rc < 0)
        CHECK (!m.peers && !m.payload && m.n_peers == 0);
    msg_transport_clear (&m);
    zmsg_destroy (&zm);
    return rc;
}

/*  Build a msgpack object from a picture and decode it as one frame.
    Picture: 'a' array (int n), 'm' map (int n), 'u' uint (int), 'i' int
    (int), 's' str (const char *), 'S' str (const char *, int len), 'b' bin
    (const char *, int len), 'n' nil, 't' true; spaces are ignored. */
static int
s_dec (const char *picture, ...)
{
    msgpack_sbuffer b;
    msgpack_sbuffer_init (&b);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &b, msgpack_sbuffer_write);
    va_list ap;
    va_start (ap, picture);
    for (const char *p = picture; *p; p++) {
        const char *str;
        int n;
        switch (*p) {
        case 'a': msgpack_pack_array (&pk, (size_t)va_arg (ap, int)); break;
        case 'm': msgpack_pack_map (&pk, (size_t)va_arg (ap, int)); break;
        case 'u': msgpack_pack_uint64 (&pk, (uint64_t)va_arg (ap, int)); break;
        case 'i': msgpack_pack_int64 (&pk, va_arg (ap, int)); break;
        case 's':
            str = va_arg (ap, const char *);
            msgpack_pack_str (&pk, strlen (str));
            msgpack_pack_str_body (&pk, str, strlen (str));
            break;
        case 'S':
            str = va_arg (ap, const char *);
            n = va_arg (ap, int);
            msgpack_pack_str (&pk, (size_t)n);
            msgpack_pack_str_body (&pk, str, (size_t)n);
            break;
        case 'b':
            str = va_arg (ap, const char *);
            n = va_arg (ap, int);
            msgpack_pack_bin (&pk, (size_t)n);
            msgpack_pack_bin_body (&pk, str, (size_t)n);
            break;
        case 'n': msgpack_pack_nil (&pk); break;
        case 't': msgpack_pack_true (&pk); break;
        default: break;
        }
    }
    va_end (ap);
    int rc = s_decode_bytes (b.data, b.size);
    msgpack_sbuffer_destroy (&b);
    return rc;
}

/* s_dec, with a payload frame after the header ("send", "recv"). */
static int s_dec_ret;
#define s_dec_p(...)                                                           \
    (s_payload_frame = "x", s_dec_ret = s_dec (__VA_ARGS__),                   \
     s_payload_frame = NULL, s_dec_ret)

/* A sample of every kind; fills peers (3) and payload (n bytes). */
static void
s_samples (msg_transport_t out[5], msg_peer_t peers[3], uint8_t *payload,
           size_t n)
{
    for (size_t i = 0; i < n; i++)
        payload[i] = (uint8_t)s_rand ();
    for (int i = 0; i < 3; i++) {
        peers[i].id = (raft_id_t)(i + 1) * 1000003u;
        snprintf (peers[i].endpoint, MSG_ENDPOINT_MAX, "tcp://10.0.0.%d:%d",
                  i + 1, 9000 + i);
    }
    memset (out, 0, 5 * sizeof *out);
    out[0] = (msg_transport_t){
        .kind = MSG_TRANSPORT_PEERS, .peers = peers, .n_peers = 3};
    out[1] = (msg_transport_t){.kind = MSG_TRANSPORT_SEND,
                               .to = UINT64_MAX,
                               .payload = payload,
                               .payload_len = n};
    out[2] = (msg_transport_t){
        .kind = MSG_TRANSPORT_RECV, .payload = payload, .payload_len = n};
    out[3] = (msg_transport_t){.kind = MSG_TRANSPORT_LINK, .to = 7, .up = true};
    out[4] = (msg_transport_t){.kind = MSG_TRANSPORT_PEERS}; /* no peers */
}

static bool
s_equal (const msg_transport_t *a, const msg_transport_t *b)
{
    if (a->kind != b->kind || a->n_peers != b->n_peers || a->to != b->to ||
        a->up != b->up || a->payload_len != b->payload_len)
        return false;
    for (size_t i = 0; i < a->n_peers; i++)
        if (a->peers[i].id != b->peers[i].id ||
            strcmp (a->peers[i].endpoint, b->peers[i].endpoint) != 0)
            return false;
    return a->payload_len == 0 ||
           memcmp (a->payload, b->payload, a->payload_len) == 0;
}

static void
test_codec_roundtrip (void)
{
    static uint8_t payload[1 << 20]; /* bin32 */
    msg_peer_t peers[3];
    msg_transport_t samples[5];
    size_t sizes[] = {1, 200, 70000, sizeof payload};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        s_samples (samples, peers, payload, sizes[s]);
        for (int i = 0; i < 5; i++) {
            zmsg_t *zm = msg_transport_encode (&samples[i]);
            bool carries = samples[i].kind == MSG_TRANSPORT_SEND ||
                           samples[i].kind == MSG_TRANSPORT_RECV;
            /* the payload is its own frame, as it is */
            CHECK (zm && zmsg_size (zm) == (carries ? 2u : 1u));
            if (carries)
                CHECK (zframe_size (zmsg_last (zm)) == samples[i].payload_len &&
                       memcmp (zframe_data (zmsg_last (zm)), samples[i].payload,
                               samples[i].payload_len) == 0);
            msg_transport_t m;
            CHECK (msg_transport_decode (zm, &m) == 0);
            CHECK (s_equal (&samples[i], &m));
            msg_transport_clear (&m);
            zmsg_destroy (&zm);
        }
    }
    /* link down, and an endpoint of the longest allowed length */
    msg_transport_t down = {.kind = MSG_TRANSPORT_LINK, .to = 1, .up = false};
    msg_peer_t longp = {.id = 5};
    memset (longp.endpoint, 'e', MSG_ENDPOINT_MAX - 1);
    msg_transport_t lng = {
        .kind = MSG_TRANSPORT_PEERS, .peers = &longp, .n_peers = 1};
    const msg_transport_t *more[] = {&down, &lng};
    for (int i = 0; i < 2; i++) {
        zmsg_t *zm = msg_transport_encode (more[i]);
        msg_transport_t m;
        CHECK (msg_transport_decode (zm, &m) == 0 && s_equal (more[i], &m));
        msg_transport_clear (&m);
        zmsg_destroy (&zm);
    }
}

static void
test_codec_truncation (void)
{
    uint8_t payload[300];
    msg_peer_t peers[3];
    msg_transport_t samples[5];
    s_samples (samples, peers, payload, sizeof payload);
    for (int i = 0; i < 5; i++) {
        zmsg_t *zm = msg_transport_encode (&samples[i]);
        zframe_t *f = zmsg_first (zm);
        size_t len = zframe_size (f);
        const uint8_t *data = zframe_data (f);
        /* the header is what is parsed: "send" and "recv" get a payload */
        bool carries = samples[i].kind == MSG_TRANSPORT_SEND ||
                       samples[i].kind == MSG_TRANSPORT_RECV;
        s_payload_frame = carries ? "p" : NULL;
        CHECK (s_decode_bytes (data, len) == 0);
        for (size_t cut = 0; cut < len; cut++)
            CHECK (s_decode_bytes (data, cut) == -1);
        /* one trailing byte too many */
        uint8_t *longer = malloc (len + 1);
        memcpy (longer, data, len);
        longer[len] = 0xc0;
        CHECK (s_decode_bytes (longer, len + 1) == -1);
        /* random mutations: refused or decoded, never a crash or a leak */
        for (int k = 0; k < 2000; k++) {
            memcpy (longer, data, len);
            int flips = 1 + (int)(s_rand () % 4);
            for (int j = 0; j < flips; j++)
                longer[s_rand () % len] = (uint8_t)s_rand ();
            (void)s_decode_bytes (longer, len);
        }
        free (longer);
        zmsg_destroy (&zm);
        s_payload_frame = NULL;
    }
}

static void
test_codec_hostile (void)
{
    /* msgpack-c would allocate from these declared counts first */
    CHECK (s_decode_bytes ("\xdd\xff\xff\xff\xff", 5) == -1);
    CHECK (s_decode_bytes ("\xdf\xff\xff\xff\xff", 5) == -1);
    CHECK (s_decode_bytes ("\x93\x01\xa4peers\xdd\xff\xff\xff\xff", 12) == -1);
    CHECK (s_decode_bytes ("\x94\x01\xa4send\x02\xc6\xff\xff\xff\xff", 12) ==
           -1); /* the old, wrapped form, with a huge bin */
    CHECK (s_decode_bytes ("", 0) == -1);

    /* the valid reference, then one defect at a time ("send" and "recv"
       with their payload frame: s_dec_p) */
    CHECK (s_dec_p ("aus u", 3, 1, "send", 2) == 0);
    CHECK (s_dec ("aus u", 3, 1, "send", 2) == -1);            /* no payload */
    CHECK (s_dec_p ("aus u", 3, 2, "send", 2) == -1);          /* version */
    CHECK (s_dec_p ("aus u", 3, 1, "sends", 2) == -1);         /* kind */
    CHECK (s_dec_p ("aus u", 3, 1, "sen", 2) == -1);           /* prefix */
    CHECK (s_dec_p ("aus u", 3, 1, "SEND", 2) == -1);          /* case */
    CHECK (s_dec_p ("aub u", 3, 1, "send", 4, 2) == -1);       /* bin kind */
    CHECK (s_dec_p ("aus u", 3, 1, "send", 0) == -1);          /* to = 0 */
    CHECK (s_dec_p ("aus i", 3, 1, "send", -2) == -1);         /* negative */
    CHECK (s_dec_p ("aus ub", 4, 1, "send", 2, "x", 1) == -1); /* wrapped */
    CHECK (s_dec_p ("aus un", 4, 1, "send", 2) == -1);         /* too long */
    CHECK (s_dec_p ("aus", 2, 1, "send") == -1);               /* too short */
    CHECK (s_dec ("mus", 1, 1, "send") == -1);                 /* a map */
    CHECK (s_dec ("aus", 2, 1, "send") == -1);
    CHECK (s_dec ("au", 1, 1) == -1);
    CHECK (s_dec ("a", 0) == -1);
    CHECK (s_dec ("u", 1) == -1);
    CHECK (s_dec ("aus ut", 4, 1, "link", 2) == 0);
    CHECK (s_dec_p ("aus ut", 4, 1, "link", 2) == -1);  /* a payload too */
    CHECK (s_dec ("aus uu", 4, 1, "link", 2, 1) == -1); /* up as int */
    CHECK (s_dec ("aus un", 4, 1, "link", 2) == -1);    /* up nil */
    CHECK (s_dec_p ("aus u", 3, 1, "recv", 0) == 0);
    CHECK (s_dec_p ("aus u", 3, 1, "recv", 7) == 0);
    CHECK (s_dec ("aus u", 3, 1, "recv", 7) == -1);       /* no payload */
    CHECK (s_dec_p ("aus", 2, 1, "recv") == -1);          /* no from */
    CHECK (s_dec_p ("aus s", 3, 1, "recv", "2") == -1);   /* from str */
    CHECK (s_dec_p ("aus uu", 4, 1, "recv", 2, 3) == -1); /* shape */
    {
        /* an empty payload frame */
        zmsg_t *zm = zmsg_new ();
        zmsg_addmem (zm, "\x93\x01\xa4recv\x02", 8);
        zmsg_addmem (zm, "", 0);
        msg_transport_t m;
        CHECK (msg_transport_decode (zm, &m) == -1);
        zmsg_destroy (&zm);
        /* three frames */
        zm = zmsg_new ();
        zmsg_addmem (zm, "\x93\x01\xa4recv\x02", 8);
        zmsg_addmem (zm, "x", 1);
        zmsg_addmem (zm, "y", 1);
        CHECK (msg_transport_decode (zm, &m) == -1);
        zmsg_destroy (&zm);
    }

    /* peers: id 0, duplicate ids, endpoint empty / too long / with a NUL,
       a peer that is not a pair, too many peers */
    char longep[MSG_ENDPOINT_MAX + 1];
    memset (longep, 'e', sizeof longep);
    const char *peers2 = "aus a aus aus";
    CHECK (s_dec (peers2, 3, 1, "peers", 2, 2, 1, "a", 2, 2, "b") == 0);
    CHECK (s_dec (peers2, 3, 1, "peers", 2, 2, 0, "a", 2, 2, "b") == -1);
    CHECK (s_dec (peers2, 3, 1, "peers", 2, 2, 3, "a", 2, 3, "b") == -1);
    CHECK (s_dec (peers2, 3, 1, "peers", 2, 2, 1, "", 2, 2, "b") == -1);
    CHECK (s_dec ("aus a auS aus", 3, 1, "peers", 2, 2, 1, "a\0b", 3, 2, 2,
                  "b") == -1);
    CHECK (s_dec ("aus a auS aus", 3, 1, "peers", 2, 2, 1, longep,
                  MSG_ENDPOINT_MAX - 1, 2, 2, "b") == 0);
    CHECK (s_dec ("aus a auS aus", 3, 1, "peers", 2, 2, 1, longep,
                  MSG_ENDPOINT_MAX, 2, 2, "b") == -1);
    CHECK (s_dec ("aus a aub aus", 3, 1, "peers", 2, 2, 1, "a", 1, 2, 2, "b") ==
           -1); /* endpoint as bin */
    CHECK (s_dec ("aus a ausn", 3, 1, "peers", 1, 3, 1, "a") == -1);
    CHECK (s_dec ("aus a u", 3, 1, "peers", 1, 7) == -1);
    CHECK (s_dec ("aus n", 3, 1, "peers") == -1);
    CHECK (s_dec ("aus a", 3, 1, "peers", 0) == 0);
    for (int n = RAFT_MAX_SERVERS; n <= RAFT_MAX_SERVERS + 1; n++) {
        msgpack_sbuffer b;
        msgpack_sbuffer_init (&b);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &b, msgpack_sbuffer_write);
        msgpack_pack_array (&pk, 3);
        msgpack_pack_uint8 (&pk, 1);
        msgpack_pack_str (&pk, 5);
        msgpack_pack_str_body (&pk, "peers", 5);
        msgpack_pack_array (&pk, (size_t)n);
        for (int i = 0; i < n; i++) {
            msgpack_pack_array (&pk, 2);
            msgpack_pack_uint64 (&pk, (uint64_t)i + 1);
            msgpack_pack_str (&pk, 9);
            msgpack_pack_str_body (&pk, "tcp://c:3", 9);
        }
        CHECK (s_decode_bytes (b.data, b.size) ==
               (n <= RAFT_MAX_SERVERS ? 0 : -1));
        msgpack_sbuffer_destroy (&b);
    }

    /* two frames, each a valid message */
    zmsg_t *zm = msg_transport_encode (
        &(msg_transport_t){.kind = MSG_TRANSPORT_LINK, .to = 1, .up = true});
    zmsg_t *two = msg_transport_encode (
        &(msg_transport_t){.kind = MSG_TRANSPORT_LINK, .to = 1, .up = true});
    zmsg_append (zm, &(zframe_t *){zmsg_pop (two)});
    msg_transport_t m;
    CHECK (zmsg_size (zm) == 2 && msg_transport_decode (zm, &m) == -1);
    zmsg_destroy (&zm);
    zmsg_destroy (&two);
    CHECK (msg_transport_decode (NULL, &m) == -1);

    /* the encoder refuses what the decoder would */
    msg_peer_t bad = {.id = 1};
    memset (bad.endpoint, 'e', MSG_ENDPOINT_MAX); /* not terminated */
    msg_peer_t dup[2] = {{.id = 4, .endpoint = "x"},
                         {.id = 4, .endpoint = "y"}};
    uint8_t byte = 1;
    const msg_transport_t refused[] = {
        {.kind = 0},
        {.kind = 99},
        {.kind = MSG_TRANSPORT_PEERS, .peers = &bad, .n_peers = 1},
        {.kind = MSG_TRANSPORT_PEERS, .peers = dup, .n_peers = 2},
        {.kind = MSG_TRANSPORT_PEERS, .peers = NULL, .n_peers = 1},
        {.kind = MSG_TRANSPORT_PEERS, .peers = dup, .n_peers = 33},
        {.kind = MSG_TRANSPORT_SEND,
         .to = 0,
         .payload = &byte,
         .payload_len = 1},
        {.kind = MSG_TRANSPORT_SEND,
         .to = 1,
         .payload = NULL,
         .payload_len = 1},
        {.kind = MSG_TRANSPORT_SEND,
         .to = 1,
         .payload = &byte,
         .payload_len = 0},
        {.kind = MSG_TRANSPORT_RECV, .payload = NULL, .payload_len = 0},
        {.kind = MSG_TRANSPORT_LINK, .to = 0},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        zmsg_t *r = msg_transport_encode (&refused[i]);
        CHECK (r == NULL);
        zmsg_destroy (&r);
    }
}

/*  ---------------------------------------------------------------------
    The actor                                                            */

static void
test_bind_failure (void)
{
    node_t n3;
    memset (&n3, 0, sizeof n3);
    /* n1's port is taken */
    CHECK (s_node_start (&n3, 3, s_n1.port, NULL) == 1);
    s_node_stop (&n3);
    /* n1's raft endpoint is taken */
    CHECK (s_node_start (&n3, 3, s_base_port + 2, s_n1.endpoint) == 2);
    s_node_stop (&n3);
    /* n1 still works */
    uint64_t c[7];
    s_stats (&s_n1, c);
}

static void
test_link_up (void)
{
    s_peers (&s_n1, 1, (raft_id_t[]){2}, (int[]){s_n2.port});
    s_peers (&s_n2, 1, (raft_id_t[]){1}, (int[]){s_n1.port});
    CHECK (s_wait_link (&s_n1, 2, true, 5000));
    CHECK (s_wait_link (&s_n2, 1, true, 5000));
    /* repeating the same peer set keeps the link: no event */
    int events = s_n1.link_events;
    s_peers (&s_n1, 1, (raft_id_t[]){2}, (int[]){s_n2.port});
    CHECK (s_count_recvs (&s_n1, 200) == 0);
    CHECK (s_n1.link_events == events);
}

static void
test_send_both_ways (void)
{
    s_send_str (&s_n1, 2, "hello from n1");
    msg_transport_t m;
    int rc;
    while ((rc = s_next (&s_n2, 3000, &m)) == 0 && m.kind != MSG_TRANSPORT_RECV)
        msg_transport_clear (&m);
    CHECK (rc == 0 && s_payload_is (&m, "hello from n1"));
    msg_transport_clear (&m);

    s_send_str (&s_n2, 1, "hello from n2");
    while ((rc = s_next (&s_n1, 3000, &m)) == 0 && m.kind != MSG_TRANSPORT_RECV)
        msg_transport_clear (&m);
    CHECK (rc == 0 && s_payload_is (&m, "hello from n2"));
    msg_transport_clear (&m);
}

/* Read `count` recvs at n and check they are prefix-0000, prefix-0001, ... */
static void
s_check_sequence (node_t *n, const char *prefix, int count)
{
    int got = 0, wrong = 0;
    int64_t deadline = zclock_mono () + 10000;
    while (got < count && zclock_mono () < deadline) {
        msg_transport_t m;
        if (s_next (n, (int)(deadline - zclock_mono ()), &m) < 0)
            continue;
        if (m.kind == MSG_TRANSPORT_RECV) {
            char want[32];
            snprintf (want, sizeof want, "%s-%04d", prefix, got);
            if (!s_payload_is (&m, want))
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
        s_send_str (&s_n1, 2, buf);
        snprintf (buf, sizeof buf, "b-%04d", i);
        s_send_str (&s_n2, 1, buf);
    }
    s_check_sequence (&s_n2, "a", 1000);
    s_check_sequence (&s_n1, "b", 1000);
}

static void
test_unreachable_does_not_block (void)
{
    uint64_t before[7], after[7];
    s_stats (&s_n1, before);
    /* peer 3's endpoint has nobody listening */
    s_peers (&s_n1, 2, (raft_id_t[]){2, 3},
             (int[]){s_n2.port, s_base_port + 2});
    int64_t start = zclock_mono ();
    for (int i = 0; i < 1000; i++) {
        s_send_str (&s_n1, 3, "to nobody");
        s_send_str (&s_n1, 99, "to an unknown peer");
    }
    s_send_str (&s_n1, 2, "after 2000 dropped sends");
    CHECK (s_wait_recv (&s_n2, "after 2000 dropped sends", 5000, NULL));
    /* a blocking send would never return: the bound is generous for a
       loaded CI machine (it takes ~0.2 s under ASan) */
    int64_t elapsed = zclock_mono () - start;
    CHECK (elapsed < 3000);
    s_stats (&s_n1, after);
    CHECK (after[C_OUT_DROPPED] - before[C_OUT_DROPPED] == 1000);
    CHECK (after[C_OUT_UNKNOWN] - before[C_OUT_UNKNOWN] == 1000);
    CHECK (!s_n1.link[3]);
    s_peers (&s_n1, 1, (raft_id_t[]){2}, (int[]){s_n2.port});
}

/* A peer that is connected but never reads: its queue fills, then sends
   to it are dropped while other peers are still served promptly. */
static void
test_slow_peer_does_not_block (void)
{
    zsock_t *slow = zsock_new (ZMQ_ROUTER);
    zsock_set_rcvhwm (slow, 1);
    zsock_set_rcvbuf (slow, 4096);
    CHECK (zsock_bind (slow, "tcp://127.0.0.1:%d", s_base_port + 3) ==
           s_base_port + 3);
    s_peers (&s_n1, 2, (raft_id_t[]){2, 3},
             (int[]){s_n2.port, s_base_port + 3});
    CHECK (s_wait_link (&s_n1, 3, true, 5000));

    uint64_t before[7], after[7];
    s_stats (&s_n1, before);
    /* The peer's queue holds S_QUEUE_MAX messages and the TCP buffers
       about 4 MB more (the slow ROUTER's receive buffer is tiny): 6000
       messages of 2 KiB are well beyond both. */
    static uint8_t big[2048];
    memset (big, 's', sizeof big);
    int64_t start = zclock_mono ();
    for (int i = 0; i < 6000; i++)
        s_send (&s_n1, 3, big, sizeof big);
    s_send_str (&s_n1, 2, "past the slow peer");
    CHECK (s_wait_recv (&s_n2, "past the slow peer", 10000, NULL));
    int64_t elapsed = zclock_mono () - start; /* ~1.3 s under ASan */
    CHECK (elapsed < 8000);
    s_stats (&s_n1, after);
    CHECK (after[C_OUT_DROPPED] > before[C_OUT_DROPPED]);
    CHECK (after[C_OUT_SENT] > before[C_OUT_SENT]);

    s_peers (&s_n1, 1, (raft_id_t[]){2}, (int[]){s_n2.port});
    CHECK (s_wait_link (&s_n1, 3, false, 2000));
    zsock_destroy (&slow);
}

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
                               .sin_port = htons ((uint16_t)(s_base_port + 5))};
    inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
    CHECK (bind (lfd, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK (listen (lfd, 4) == 0);
    s_peers (&s_n1, 2, (raft_id_t[]){2, 3},
             (int[]){s_n2.port, s_base_port + 5});
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
    s_peers (&s_n1, 1, (raft_id_t[]){2}, (int[]){s_n2.port});
    close (lfd);
    s_send_str (&s_n1, 2, "after a huge frame header");
    CHECK (s_wait_recv (&s_n2, "after a huge frame header", 3000, NULL));
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
    CHECK (zsock_bind (fake, "tcp://127.0.0.1:%d", s_base_port + 4) ==
           s_base_port + 4);
    s_peers (&s_n1, 2, (raft_id_t[]){2, 3},
             (int[]){s_n2.port, s_base_port + 4});
    CHECK (s_wait_link (&s_n1, 3, true, 5000));

    uint64_t before[7], after[7];
    s_stats (&s_n1, before);
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
    uint8_t *big = calloc (1, S_MAX_MSG + 1);
    CHECK (s_fake_send (fake, 1, (const void *[]){big},
                        (size_t[]){S_MAX_MSG + 1}) == 0);
    free (big);
    int others = 0;
    CHECK (s_wait_recv (&s_n1, "well-framed answer", 3000, &others));
    CHECK (others == 0);
    s_stats (&s_n1, after);
    CHECK (after[C_IN_MALFORMED] - before[C_IN_MALFORMED] == 2);

    s_peers (&s_n1, 1, (raft_id_t[]){2}, (int[]){s_n2.port});
    CHECK (s_wait_link (&s_n1, 3, false, 2000));
    zsock_destroy (&fake);
    /* n1 still works */
    s_send_str (&s_n1, 2, "after dealer garbage");
    CHECK (s_wait_recv (&s_n2, "after dealer garbage", 3000, NULL));
}

static void
test_raft_garbage (void)
{
    uint64_t before[7], after[7];
    s_stats (&s_n1, before);
    uint8_t junk[100];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)s_rand ();
    zmsg_t *zm = s_zmsg (junk, sizeof junk);
    zmsg_send (&zm, s_n1.raft);
    zm = s_zmsg ("", 0);
    zmsg_send (&zm, s_n1.raft);
    /* a valid "send" with a second frame */
    zm = msg_transport_encode (&(msg_transport_t){.kind = MSG_TRANSPORT_SEND,
                                                  .to = 2,
                                                  .payload = (uint8_t *)"x",
                                                  .payload_len = 1});
    zmsg_addstr (zm, "extra");
    zmsg_send (&zm, s_n1.raft);
    /* well-formed, but only the transport sends these */
    zm = msg_transport_encode (&(msg_transport_t){.kind = MSG_TRANSPORT_RECV,
                                                  .payload = (uint8_t *)"y",
                                                  .payload_len = 1});
    zmsg_send (&zm, s_n1.raft);
    zm = msg_transport_encode (
        &(msg_transport_t){.kind = MSG_TRANSPORT_LINK, .to = 2, .up = true});
    zmsg_send (&zm, s_n1.raft);

    s_send_str (&s_n1, 2, "after raft garbage");
    int others = 0;
    CHECK (s_wait_recv (&s_n2, "after raft garbage", 3000, &others));
    CHECK (others == 0); /* "x" never went out */
    s_stats (&s_n1, after);
    CHECK (after[C_RAFT_MALFORMED] - before[C_RAFT_MALFORMED] == 5);
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
    s_stats (&s_n2, before);

    /* Plain TCP: random bytes; a ZMTP 3 greeting followed by random
       bytes; a greeting cut short; a handshake as a DEALER, then a frame
       header declaring 1 TiB. */
    uint8_t junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)s_rand ();
    s_tcp_write (s_n2.port, junk, sizeof junk);
    uint8_t zmtp[S_ZMTP_HUGE];
    s_zmtp_huge (zmtp, "DEALER");
    memcpy (junk, zmtp, 64);
    s_tcp_write (s_n2.port, junk, sizeof junk);
    s_tcp_write (s_n2.port, junk, 11);
    s_tcp_write (s_n2.port, zmtp, sizeof zmtp);

    /* A ZeroMQ DEALER with multi-frame, empty and oversize messages. */
    zsock_t *evil = zsock_new (ZMQ_DEALER);
    zsock_set_identity (evil, "evil");
    zsock_connect (evil, "tcp://127.0.0.1:%d", s_n2.port);
    for (int i = 0; i < 3; i++)
        zstr_sendx (evil, "frame-x", "frame-y", "frame-z", NULL);
    zstr_sendx (evil, "frame-p", "frame-q", NULL);
    zmsg_t *empty = s_zmsg ("", 0);
    zmsg_send (&empty, evil);
    zstr_send (evil, "evil but well-framed");
    size_t big_len = S_MAX_MSG + 1;
    uint8_t *big = malloc (big_len);
    memset (big, 'O', big_len);
    zsock_send (evil, "b", big, big_len);
    free (big);

    /* The well-framed one arrives (the transport does not judge payloads;
       the raft actor does), nothing else from the DEALER does, and n1's
       traffic still flows. */
    s_send_str (&s_n1, 2, "after router garbage");
    bool evil_seen = false, n1_seen = false;
    int bad = 0;
    int64_t deadline = zclock_mono () + 5000;
    while (!(evil_seen && n1_seen) && zclock_mono () < deadline) {
        msg_transport_t m;
        if (s_next (&s_n2, (int)(deadline - zclock_mono ()), &m) < 0)
            continue;
        if (s_payload_is (&m, "evil but well-framed"))
            evil_seen = true;
        else if (s_payload_is (&m, "after router garbage"))
            n1_seen = true;
        else if (m.kind == MSG_TRANSPORT_RECV &&
                 (m.payload_len > S_MAX_MSG ||
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

    s_stats (&s_n2, after);
    /* 3 three-frame, 1 two-frame, 1 empty; the oversize frame never
       reaches the actor (ZMQ_MAXMSGSIZE drops the connection) */
    CHECK (after[C_IN_MALFORMED] - before[C_IN_MALFORMED] >= 5);

    /* and later traffic still flows */
    s_send_str (&s_n1, 2, "later");
    CHECK (s_wait_recv (&s_n2, "later", 3000, NULL));
}

static void
test_remove_peer (void)
{
    uint64_t before[7], after[7];
    /* While n2 keeps its link to n1, n1 can answer n2 over it even
       without a link of its own (how a joining server replies before it
       knows anyone's endpoint). */
    s_peers (&s_n1, 0, NULL, NULL);
    CHECK (s_wait_link (&s_n1, 2, false, 2000)); /* reported on removal */
    s_send_str (&s_n1, 2, "over n2's own link");
    CHECK (s_wait_recv (&s_n2, "over n2's own link", 3000, NULL));

    /* With no link either way, nothing gets through. n1's ROUTER learns
       that n2's connection closed a moment after n2 closes it: probe until
       a probe is lost. */
    s_peers (&s_n2, 0, NULL, NULL);
    CHECK (s_wait_link (&s_n2, 1, false, 2000));
    bool gone = false;
    for (int i = 0; i < 20 && !gone; i++) {
        s_send_str (&s_n1, 2, "probe");
        gone = s_count_recvs (&s_n2, 150) == 0;
    }
    CHECK (gone);
    s_stats (&s_n1, before);
    for (int i = 0; i < 10; i++)
        s_send_str (&s_n1, 2, "to a removed peer");
    int others = 0;
    CHECK (!s_wait_recv (&s_n2, "to a removed peer", 300, &others));
    s_stats (&s_n1, after);
    CHECK (after[C_OUT_UNKNOWN] - before[C_OUT_UNKNOWN] == 10);

    /* back again */
    s_peers (&s_n2, 1, (raft_id_t[]){1}, (int[]){s_n1.port});
    s_peers (&s_n1, 1, (raft_id_t[]){2}, (int[]){s_n2.port});
    CHECK (s_wait_link (&s_n1, 2, true, 5000));
    s_send_str (&s_n1, 2, "peer is back");
    CHECK (s_wait_recv (&s_n2, "peer is back", 3000, NULL));
}

/* Send prefix-i from `from` to `to` every 50 ms until one arrives. */
static bool
s_retry_until_delivered (node_t *from, node_t *to, const char *prefix)
{
    int64_t deadline = zclock_mono () + 8000;
    for (int i = 0; zclock_mono () < deadline; i++) {
        char buf[48];
        snprintf (buf, sizeof buf, "%s-%d", prefix, i);
        s_send_str (from, to->id, buf);
        msg_transport_t m;
        int64_t turn = zclock_mono () + 50;
        while (zclock_mono () < turn) {
            if (s_next (to, (int)(turn - zclock_mono ()), &m) < 0)
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
    s_node_stop (&s_n2);
    CHECK (s_wait_link (&s_n1, 2, false, 3000)); /* DISCONNECTED */
    s_send_str (&s_n1, 2, "while n2 is down");   /* dropped, not queued */
    CHECK (s_node_start_retry (&s_n2, 2, s_n2.port) == 0);
    s_peers (&s_n2, 1, (raft_id_t[]){1}, (int[]){s_n1.port});
    CHECK (s_wait_link (&s_n1, 2, true, 5000));
    CHECK (s_retry_until_delivered (&s_n1, &s_n2, "after restart 1->2"));
    CHECK (s_retry_until_delivered (&s_n2, &s_n1, "after restart 2->1"));
    /* ZMQ_IMMEDIATE: nothing sent while n2 was down was kept for it */
    msg_transport_t m;
    bool stale = false;
    while (s_next (&s_n2, 100, &m) == 0) {
        stale |= s_payload_is (&m, "while n2 is down");
        msg_transport_clear (&m);
    }
    CHECK (!stale);
}

/*  ---------------------------------------------------------------------
    Runner                                                               */

int
main (void)
{
    check_watchdog ("test_transport", 60);
    rng_seed_from_env (&s_rng, "test_transport", 0x9e3779b97f4a7c15ULL);
    log_init (0,
              getenv ("NSXD_TEST_VERBOSE") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
    zsys_init ();
    s_base_port = 19000 + (int)(getpid () % 125) * 8; /* 8 ports each */

    check_run ("codec round trip", test_codec_roundtrip);
    check_run ("codec refuses every truncation", test_codec_truncation);
    check_run ("codec refuses hostile input", test_codec_hostile);

    CHECK (s_node_start (&s_n1, 1, s_base_port, NULL) == 0);
    CHECK (s_node_start (&s_n2, 2, s_base_port + 1, NULL) == 0);
    check_run ("bind failure reported at start", test_bind_failure);
    check_run ("link up event", test_link_up);
    check_run ("send both ways", test_send_both_ways);
    check_run ("1000 each way, in order", test_thousand_each_way);
    check_run ("unreachable peer does not block",
               test_unreachable_does_not_block);
    check_run ("slow peer does not block", test_slow_peer_does_not_block);
    check_run ("garbage answers on a DEALER dropped", test_dealer_garbage);
    check_run ("huge frame header on a DEALER", test_dealer_huge_frame);
    check_run ("raft actor garbage dropped", test_raft_garbage);
    check_run ("router garbage dropped", test_router_garbage);
    check_run ("removed peer gets nothing", test_remove_peer);
    check_run ("restarted peer gets messages", test_peer_restart);
    s_node_stop (&s_n1);
    s_node_stop (&s_n2);

    return check_report ();
}
