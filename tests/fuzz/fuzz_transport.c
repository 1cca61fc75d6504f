/*  fuzz_transport.c -- msg_transport_decode (msg/msg_transport.h) on
    arbitrary bytes: the frames between the raft actor and the transport
    actor; a "recv" carries what a peer sent, as it came, in its second
    frame. The input's first byte says how it is cut into frames: with
    its high bit set, the rest is one frame; else its low 7 bits are the
    first frame's length, and what follows it is a second frame.

    Properties:
      - no crash, leak, out-of-bounds access, undefined behaviour or
        oversized allocation;
      - what decodes is what the actors rely on: at most RAFT_MAX_SERVERS
        peers, each with a non-zero id, no id twice, an endpoint that is a
        non-empty NUL-terminated string shorter than MSG_ENDPOINT_MAX (the
        transport hands it to zsock_connect); "send" and "link" name a
        non-zero peer; a payload is present and not empty;
      - round trip: re-encoding succeeds, decodes to an equal message, and
        re-encoding that gives the same bytes;
      - the consumer: a "recv" payload goes to msg_raft_decode as the raft
        actor does (fuzz_raft_msg checks that decoder in depth).
*/
#include "equal.h"
#include "fuzz.h"
#include "msg_raft.h"
#include "msg_transport.h"

static bool
s_eq (const msg_transport_t *a, const msg_transport_t *b)
{
    if (a->kind != b->kind || a->n_peers != b->n_peers || a->to != b->to ||
        a->up != b->up || a->payload_len != b->payload_len ||
        (a->payload_len &&
         memcmp (a->payload, b->payload, a->payload_len) != 0))
        return false;
    for (size_t i = 0; i < a->n_peers; i++)
        if (a->peers[i].id != b->peers[i].id ||
            strcmp (a->peers[i].endpoint, b->peers[i].endpoint) != 0)
            return false;
    return true;
}

static void
s_check (const msg_transport_t *m)
{
    FUZZ_CHECK (m->n_peers <= RAFT_MAX_SERVERS);
    FUZZ_CHECK ((m->peers != NULL) == (m->n_peers > 0));
    for (size_t i = 0; i < m->n_peers; i++) {
        const msg_peer_t *p = &m->peers[i];
        size_t len = strnlen (p->endpoint, MSG_ENDPOINT_MAX);
        FUZZ_CHECK (p->id != 0 && len > 0 && len < MSG_ENDPOINT_MAX);
        for (size_t k = 0; k < i; k++)
            FUZZ_CHECK (m->peers[k].id != p->id);
    }
    switch (m->kind) {
    case MSG_TRANSPORT_PEERS: FUZZ_CHECK (!m->payload); break;
    case MSG_TRANSPORT_SEND:
        FUZZ_CHECK (m->to != 0 && m->payload && m->payload_len > 0);
        break;
    case MSG_TRANSPORT_RECV:
        FUZZ_CHECK (m->payload && m->payload_len > 0);
        break;
    case MSG_TRANSPORT_LINK: FUZZ_CHECK (m->to != 0 && !m->payload); break;
    default: FUZZ_CHECK (!"a kind that does not exist decoded");
    }
}

/* The input cut into frames (see the top). */
static zmsg_t *
s_frames (const uint8_t *data, size_t size)
{
    zmsg_t *zm = zmsg_new ();
    if (size == 0) {
        zmsg_addmem (zm, "", 0);
        return zm;
    }
    if (data[0] & 0x80) {
        zmsg_addmem (zm, data + 1, size - 1);
        return zm;
    }
    size_t head = data[0] & 0x7f;
    if (head > size - 1)
        head = size - 1;
    zmsg_addmem (zm, data + 1, head);
    zmsg_addmem (zm, data + 1 + head, size - 1 - head);
    return zm;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    zmsg_t *zm = s_frames (data, size);
    msg_transport_t m;
    int rc = msg_transport_decode (zm, &m);
    if (rc != 0) {
        zmsg_destroy (&zm);
        return 0;
    }
    s_check (&m); /* the payload is borrowed from zm: used before it goes */
    zmsg_t *e1 = msg_transport_encode (&m);
    FUZZ_CHECK (e1 != NULL);
    msg_transport_t m2;
    FUZZ_CHECK (msg_transport_decode (e1, &m2) == 0);
    FUZZ_CHECK (s_eq (&m, &m2));
    zmsg_t *e2 = msg_transport_encode (&m2);
    FUZZ_CHECK (e2 != NULL && equal_frames (e1, e2));
    if (m.kind == MSG_TRANSPORT_RECV) {
        raft_msg_t rm;
        if (msg_raft_decode (m.payload, m.payload_len, &rm) == 0)
            raft_msg_clear (&rm);
    }
    msg_transport_clear (&m);
    msg_transport_clear (&m2);
    zmsg_destroy (&e1);
    zmsg_destroy (&e2);
    zmsg_destroy (&zm);
    return 0;
}

/*  ---------------------------------------------------------------------
    Seeds: one message of every kind                                     */

static void
s_seed (const msg_transport_t *m)
{
    zmsg_t *zm = msg_transport_encode (m);
    if (!zm)
        return;
    /* the framing byte (see the top), then the frames */
    zframe_t *f = zmsg_first (zm);
    zframe_t *p = zmsg_next (zm);
    size_t n = 1 + zframe_size (f) + (p ? zframe_size (p) : 0);
    uint8_t *buf = malloc (n);
    if (buf && (!p || zframe_size (f) < 0x80)) {
        buf[0] = p ? (uint8_t)zframe_size (f) : 0x80;
        memcpy (buf + 1, zframe_data (f), zframe_size (f));
        if (p)
            memcpy (buf + 1 + zframe_size (f), zframe_data (p),
                    zframe_size (p));
        fuzz_seed (buf, n);
    }
    free (buf);
    zmsg_destroy (&zm);
}

void
fuzz_seeds (void)
{
    msg_peer_t peers[2] = {{2, "tcp://127.0.0.2:9002"},
                           {3, "tcp://127.0.0.3:9003"}};
    raft_msg_t rm = {.type = RAFT_MSG_HEARTBEAT,
                     .from = 2,
                     .to = 1,
                     .term = 3,
                     .commit = 5,
                     .ctx = 1};
    msgpack_sbuffer b;
    msgpack_sbuffer_init (&b);
    msg_raft_encode (&b, &rm);
    msg_transport_t m[] = {
        {.kind = MSG_TRANSPORT_PEERS, .peers = peers, .n_peers = 2},
        {.kind = MSG_TRANSPORT_SEND,
         .to = 2,
         .payload = (uint8_t *)b.data,
         .payload_len = b.size},
        {.kind = MSG_TRANSPORT_RECV,
         .payload = (uint8_t *)b.data,
         .payload_len = b.size},
        {.kind = MSG_TRANSPORT_LINK, .to = 3, .up = true},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        s_seed (&m[i]);
    msgpack_sbuffer_destroy (&b);
}
