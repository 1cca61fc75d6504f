/*  peer_garbage.c -- hostile traffic for a node's Raft peer port.

        peer_garbage ENDPOINT [SECONDS [SECRET_FILE SERVER_ID]]

    Connects a ZeroMQ DEALER to ENDPOINT (tcp://host:port) and for a while
    sends: random bytes; every truncation of valid Raft messages (msg_raft
    encoding); valid messages with one byte flipped; messages claiming huge
    terms from unknown servers; multi-frame messages; an oversize frame. The
    node must stay up and keep its cluster working (cluster_test.sh checks).

    With SECRET_FILE (the cluster's secret) and the id of the node at
    ENDPOINT it presents a valid member key (of id 99, a stranger's id)
    over CURVE, so that the garbage gets past
    the handshake to the decoders; without, a node that requires CURVE
    refuses it at the handshake. Sends never block: a refused connection
    just drops them.
*/
#include "peer_keys.h"
#include "msg_raft.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: peer_garbage ENDPOINT [SECONDS]\n");
        return 2;
    }
    int seconds = argc > 2 ? atoi (argv[2]) : 2;
    zsys_handler_set (NULL);
    zsock_t *d = zsock_new (ZMQ_DEALER);
    zsock_set_identity (d, "garbage");
    zsock_set_sndhwm (d, 100000);
    zsock_set_sndtimeo (d, 0);
    zsock_set_linger (d, 2000);
    peer_keys_t *keys = NULL;
    if (argc > 3) {
        char err[256];
        keys = peer_keys_load (argv[3], 99, err, sizeof err);
        if (!keys) {
            fprintf (stderr, "peer_garbage: %s\n", err);
            return 1;
        }
        raft_id_t server = argc > 4 ? strtoull (argv[4], NULL, 10) : 0;
        peer_keys_connect_peer (keys, d, server, 0);
    }
    if (zsock_connect (d, "%s", argv[1]) != 0)
        return 1;
    srand (42);
    int64_t end = zclock_mono () + seconds * 1000;
    unsigned sent = 0;
    while (zclock_mono () < end) {
        /* a valid message with entries, then damaged copies of it */
        raft_msg_t m = {.type = (raft_msg_type_t)(1 + rand () % 9),
                        .from = 1 + rand () % 5,
                        .to = 1 + rand () % 5,
                        .term = rand () % 2 ? UINT64_MAX
                                            : 1 + (uint64_t)(rand () % 50),
                        .prev_index = rand () % 100,
                        .commit = rand () % 1000};
        raft_entry_t e = {.term = m.term,
                          .index = m.prev_index + 1,
                          .type = RAFT_ENTRY_NORMAL,
                          .data = raft_buf_new ("garbage", 7)};
        if (m.type == RAFT_MSG_APPEND) {
            m.entries = &e;
            m.n_entries = 1;
        }
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        msg_raft_encode (&buf, &m);
        size_t cut = buf.size ? (size_t)rand () % buf.size : 0;
        zsock_send (d, "b", buf.data, cut); /* truncated */
        buf.data[rand () % buf.size] ^= (char)(1 + rand () % 255);
        zsock_send (d, "b", buf.data, buf.size); /* flipped */
        char noise[512];
        for (size_t i = 0; i < sizeof noise; i++)
            noise[i] = (char)rand ();
        zsock_send (d, "b", noise, (size_t)(rand () % 512)); /* random */
        zsock_send (d, "bbb", "a", 1, "b", 1, "c", 1);       /* three frames */
        msgpack_sbuffer_destroy (&buf);
        raft_buf_unref (e.data);
        sent += 4;
        if (sent % 4000 == 0) {
            size_t big = 8u << 20; /* one oversize frame now and then */
            char *p = calloc (1, big);
            zsock_send (d, "b", p, big);
            free (p);
        }
        zclock_sleep (1);
    }
    printf ("peer_garbage: sent %u hostile messages to %s\n", sent, argv[1]);
    zsock_destroy (&d);
    peer_keys_destroy (&keys);
    return 0;
}
