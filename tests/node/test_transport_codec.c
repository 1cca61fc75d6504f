/*  test_transport_codec.c -- the transport protocol's codec
    (msg/msg_transport.c): round trips, every truncation and hostile input
    refused.

    One line per test; the exit status is non-zero on any failure, and a
    watchdog ends a run that hangs (a blocking transport) after 60 s. Run
    it under ASan+UBSan: nothing may leak, and a frame allocated from a
    hostile size header aborts the run.
*/
#include "check.h"
#include "transport_fixture.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The payload frame s_decode_bytes adds after the header, or NULL: none
   (s_dec_p sets it; "send" and "recv" carry one). */
static const char *s_payload_frame;

/* Decode data as one frame (plus s_payload_frame); on success check and
   clear the result. */
static int
s_decode_bytes (const void *data, size_t len)
{
    zmsg_t *zm = fixture_zmsg (data, len);
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
        payload[i] = (uint8_t)tf_rand ();
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
            int flips = 1 + (int)(tf_rand () % 4);
            for (int j = 0; j < flips; j++)
                longer[tf_rand () % len] = (uint8_t)tf_rand ();
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

int
main (void)
{
    tf_init ("test_transport_codec");
    check_run ("codec round trip", test_codec_roundtrip);
    check_run ("codec refuses every truncation", test_codec_truncation);
    check_run ("codec refuses hostile input", test_codec_hostile);
    return tf_done ();
}
