/*  peer_forge.c -- a stranger on a node's peer port, replaying the forged
    messages of issue 12.

        peer_forge ENDPOINT --to ID [--from ID,ID,...] [--seconds S]
                   [--secret FILE --key-id K] [--multipart-mib M]
                   [--wedge-only 1]

    Connects one ZeroMQ DEALER to ENDPOINT (the node with id --to) and,
    for S seconds (default 2), sends well-formed Raft messages (msg_raft
    encoding) that claim to come from each --from id (default 1,2,3):
      - HEARTBEAT_RESP, VOTE_RESP, APPEND_RESP with term 2^62, 2^61 + 1,
        2^64 - 1 (the wedge: one such message once stopped every election);
      - granted votes and pre-votes, acknowledgements of indexes far ahead,
        AppendEntries carrying a configuration that names only the forger,
        TimeoutNow, at small terms (1..50) and huge ones;
      - InstallSnapshot chunk 0 of 1,000,000 without data and with
        malformed data (once stopped a node's storage);
      - a forwarded write (msg_forward.h: PUT forged-fwd=x, as a follower
        forwards one to its leader) and a forwarded reply.
    --wedge-only 1 sends only what tried to stop a node or every election
    (the huge terms and the malformed chunks): what --insecure-peers must
    survive. The rest, from a stranger who can forge any member, would
    break safety on an unauthenticated cluster -- the reason peer links
    are authenticated by default.
    Then (--multipart-mib) one multipart message that never ends: M MiB in
    1 MiB frames, each with the MORE flag, the last frame never sent.
    libzmq never lets such a message leave a sender (it sends a message
    only once whole), so this is raw ZMTP 3.0 over TCP with the NULL
    mechanism: what a stranger can do to a node run with --insecure-peers
    (against CURVE it would need the secret). It reports how much the node
    took before it cut the connection.

    Without --secret the DEALER speaks plain ZMTP (a node that requires
    CURVE refuses it at the handshake). With --secret FILE --key-id K it
    presents member K's key derived from that cluster secret: a valid key
    (K may be a stranger's id) whose messages claim other ids.

    Prints how many messages it sent. Exit 0 unless it could not start.
*/
#include "msg_api.h"
#include "msg_forward.h"
#include "msg_raft.h"
#include "peer_keys.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static raft_id_t s_from[16];
static size_t s_n_from;
static bool s_wedge_only;

static void
s_send (zsock_t *d, const raft_msg_t *m, unsigned *sent)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    if (msg_raft_encode (&buf, m) == 0 &&
        zmq_send (zsock_resolve (d), buf.data, buf.size, ZMQ_DONTWAIT) >= 0)
        (*sent)++;
    msgpack_sbuffer_destroy (&buf);
}

/* A configuration naming only the forger, as a CONF entry's data. */
static raft_buf_t *
s_forger_conf (raft_id_t from)
{
    raft_conf_t conf = {.n = 1};
    conf.servers[0].id = from;
    conf.servers[0].voter = true;
    snprintf (conf.servers[0].addr, RAFT_ADDR_MAX, "tcp://10.9.9.9:1 x:1");
    return raft_buf_new (&conf, sizeof conf);
}

/* Every message type that carries a term, with terms no cluster reaches:
   the wedge. */
static void
s_huge_terms (zsock_t *d, raft_id_t from, raft_id_t to, unsigned *sent)
{
    const raft_term_t huge[] = {RAFT_TERM_MAX, RAFT_TERM_ACCEPT_MAX + 1,
                                UINT64_MAX, RAFT_TERM_MAX - 1};
    const raft_msg_type_t types[] = {RAFT_MSG_HEARTBEAT_RESP,
                                     RAFT_MSG_VOTE_RESP,
                                     RAFT_MSG_PREVOTE_RESP,
                                     RAFT_MSG_APPEND_RESP,
                                     RAFT_MSG_HEARTBEAT,
                                     RAFT_MSG_TIMEOUT_NOW,
                                     RAFT_MSG_VOTE};
    for (size_t h = 0; h < sizeof huge / sizeof huge[0]; h++)
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            raft_msg_t m = {.type = types[t],
                            .from = from,
                            .to = to,
                            .term = huge[h],
                            .index = 1000000};
            s_send (d, &m, sent);
        }
}

/* Granted votes, far-ahead acknowledgements, TimeoutNow and an
   AppendEntries carrying a configuration, at plausible terms. */
static void
s_plausible (zsock_t *d, raft_id_t from, raft_id_t to, raft_term_t term,
             unsigned *sent)
{
    raft_msg_t vote = {
        .type = RAFT_MSG_VOTE_RESP, .from = from, .to = to, .term = term};
    s_send (d, &vote, sent);
    vote.type = RAFT_MSG_PREVOTE_RESP;
    s_send (d, &vote, sent);
    raft_msg_t ack = {.type = RAFT_MSG_APPEND_RESP,
                      .from = from,
                      .to = to,
                      .term = term,
                      .index = 1u << 20};
    s_send (d, &ack, sent);
    raft_msg_t tn = {
        .type = RAFT_MSG_TIMEOUT_NOW, .from = from, .to = to, .term = term};
    s_send (d, &tn, sent);
    raft_entry_t e = {.term = term,
                      .index = 2,
                      .type = RAFT_ENTRY_CONF,
                      .data = s_forger_conf (from)};
    raft_msg_t app = {.type = RAFT_MSG_APPEND,
                      .from = from,
                      .to = to,
                      .term = term,
                      .prev_index = 1,
                      .prev_term = 1,
                      .commit = 2,
                      .entries = &e,
                      .n_entries = 1};
    s_send (d, &app, sent);
    raft_buf_unref (e.data);
}

/* InstallSnapshot chunk 0 of 1,000,000: without data, then with
   malformed data (truncated pairs). */
static void
s_bad_chunks (zsock_t *d, raft_id_t from, raft_id_t to, raft_term_t term,
              unsigned *sent)
{
    raft_entry_t conf = {.term = term,
                         .index = 1000000,
                         .type = RAFT_ENTRY_CONF,
                         .data = s_forger_conf (from)};
    raft_msg_t snap = {.type = RAFT_MSG_SNAPSHOT,
                       .from = from,
                       .to = to,
                       .term = term,
                       .prev_index = 1000000,
                       .prev_term = term,
                       .ctx = 0,
                       .entries = &conf,
                       .n_entries = 1};
    s_send (d, &snap, sent);
    snap.data = raft_buf_new ("\x93\xc4\x01", 3);
    s_send (d, &snap, sent);
    raft_buf_unref (snap.data);
    raft_buf_unref (conf.data);
}

/* A write forwarded "from" a member (msg_forward.h), and a reply. */
static void
s_forwards (zsock_t *d, raft_id_t from, unsigned *sent)
{
    raft_buf_t *key = raft_buf_new ("forged-fwd", 10);
    raft_buf_t *value = raft_buf_new ("x", 1);
    msg_api_req_t req = {
        .req_id = 1, .op = MSG_API_PUT, .key = key, .value = value};
    zmsg_t *zm = msg_api_req_encode (&req);
    zframe_t *fr = zm ? zmsg_first (zm) : NULL;
    for (int reply = 0; fr && reply < 2; reply++) {
        raft_buf_t *body = raft_buf_new (zframe_data (fr), zframe_size (fr));
        msg_forward_t f = {
            .reply = reply, .fwd_id = 1 + *sent, .from = from, .body = body};
        raft_buf_t *p = msg_forward_encode (&f);
        if (p &&
            zmq_send (zsock_resolve (d), p->data, p->len, ZMQ_DONTWAIT) >= 0)
            (*sent)++;
        raft_buf_unref (p);
        raft_buf_unref (body);
    }
    zmsg_destroy (&zm);
    raft_buf_unref (key);
    raft_buf_unref (value);
}

/* One round of every forged message, from each claimed id. */
static void
s_round (zsock_t *d, raft_id_t to, unsigned *sent, unsigned r)
{
    raft_term_t small = 1 + r % 50;
    for (size_t f = 0; f < s_n_from; f++) {
        s_huge_terms (d, s_from[f], to, sent);
        if (!s_wedge_only) {
            s_plausible (d, s_from[f], to, small, sent);
            s_forwards (d, s_from[f], sent);
        }
        s_bad_chunks (d, s_from[f], to, small, sent);
    }
}

/* Raw ZMTP: greeting (NULL mechanism), READY as a DEALER, then 1 MiB
   frames with MORE until mib are sent or the node cuts us. Returns the
   bytes the kernel took. */
static size_t
s_raw_multipart (const char *endpoint, int mib)
{
    const char *host = endpoint + 6; /* tcp://H:P */
    const char *colon = strrchr (host, ':');
    if (strncmp (endpoint, "tcp://", 6) != 0 || !colon)
        return 0;
    char ip[64];
    snprintf (ip, sizeof ip, "%.*s", (int)(colon - host), host);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons ((uint16_t)atoi (colon + 1))};
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (inet_pton (AF_INET, ip, &a.sin_addr) != 1 ||
        connect (fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close (fd);
        return 0;
    }
    static const uint8_t hello[64 + 30] = {
        0xff, 0,   0,   0,   0,           0,   0,   0,   1,   0x7f, 3,   0,
        'N',  'U', 'L', 'L', [64] = 0x04, 28,  5,   'R', 'E', 'A',  'D', 'Y',
        11,   'S', 'o', 'c', 'k',         'e', 't', '-', 'T', 'y',  'p', 'e',
        0,    0,   0,   6,   'D',         'E', 'A', 'L', 'E', 'R'};
    size_t frame = 1u << 20, sent = 0;
    uint8_t *p = calloc (1, 9 + frame);
    p[0] = 0x03; /* MORE, LONG */
    for (int i = 0; i < 8; i++)
        p[1 + i] = (uint8_t)((uint64_t)frame >> (56 - 8 * i));
    struct timeval tv = {.tv_sec = 1};
    setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (write (fd, hello, sizeof hello) == (ssize_t)sizeof hello)
        while (sent < (size_t)mib << 20) {
            ssize_t n = send (fd, p, 9 + frame, MSG_NOSIGNAL);
            if (n <= 0)
                break; /* cut (or stalled for a second) */
            sent += (size_t)n;
        }
    free (p);
    close (fd);
    return sent;
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: peer_forge ENDPOINT --to ID [--from IDS] "
                         "[--seconds S] [--secret FILE --key-id K] "
                         "[--multipart-mib M]\n");
        return 2;
    }
    const char *endpoint = argv[1], *secret = NULL;
    raft_id_t to = 0, key_id = 0;
    int seconds = 2, multipart_mib = 0;
    char from_list[256] = "1,2,3";
    for (int i = 2; i + 1 < argc; i += 2) {
        if (streq (argv[i], "--to"))
            to = strtoull (argv[i + 1], NULL, 10);
        else if (streq (argv[i], "--from"))
            snprintf (from_list, sizeof from_list, "%s", argv[i + 1]);
        else if (streq (argv[i], "--seconds"))
            seconds = atoi (argv[i + 1]);
        else if (streq (argv[i], "--secret"))
            secret = argv[i + 1];
        else if (streq (argv[i], "--key-id"))
            key_id = strtoull (argv[i + 1], NULL, 10);
        else if (streq (argv[i], "--multipart-mib"))
            multipart_mib = atoi (argv[i + 1]);
        else if (streq (argv[i], "--wedge-only"))
            s_wedge_only = atoi (argv[i + 1]) != 0;
    }
    for (char *save = NULL, *t = strtok_r (from_list, ",", &save);
         t && s_n_from < 16; t = strtok_r (NULL, ",", &save))
        s_from[s_n_from++] = strtoull (t, NULL, 10);
    if (!to || !s_n_from) {
        fprintf (stderr, "peer_forge: --to and --from are required\n");
        return 2;
    }
    zsys_handler_set (NULL);
    zsock_t *d = zsock_new (ZMQ_DEALER);
    zsock_set_identity (d, "2"); /* a member's routing identity, too */
    zsock_set_sndhwm (d, 100000);
    zsock_set_linger (d, 0);
    peer_keys_t *keys = NULL;
    if (secret) {
        char err[256];
        keys = peer_keys_load (secret, key_id ? key_id : 99, err, sizeof err);
        if (!keys) {
            fprintf (stderr, "peer_forge: %s\n", err);
            return 1;
        }
        peer_keys_connect_peer (keys, d, to, 0);
    }
    if (zsock_connect (d, "%s", endpoint) != 0)
        return 1;
    int64_t end = zclock_mono () + seconds * 1000;
    unsigned sent = 0, rounds = 0;
    while (zclock_mono () < end) {
        s_round (d, to, &sent, rounds++);
        zclock_sleep (5);
    }
    size_t raw =
        multipart_mib > 0 ? s_raw_multipart (endpoint, multipart_mib) : 0;
    printf ("peer_forge: %u forged messages, then %zu MiB of an endless "
            "multipart message taken, to n%llu at %s (%s)\n",
            sent, raw >> 20, (unsigned long long)to, endpoint,
            keys ? "with a key" : "without a key");
    zsock_destroy (&d);
    peer_keys_destroy (&keys);
    return 0;
}
