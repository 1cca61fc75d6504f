/*  forge.h -- the cluster fuzz harness's input, read as it goes, and the
    Raft messages forged from it (tests/fuzz/fuzz_cluster.c).

    A forged message is what anyone who reaches a peer port could send:
    any type, any sender, terms and indexes near the receiver's own or at
    the edges where arithmetic on them breaks, entries of every type (a
    configuration of servers that do not exist too), snapshot chunks. It
    goes through msg_raft_encode and msg_raft_decode before the core sees
    it, so it is exactly what the wire can carry.
*/
#ifndef FORGE_H_INCLUDED
#define FORGE_H_INCLUDED

#include "raft.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FORGE_NODES 3 /* the servers are 1..FORGE_NODES */

typedef struct {
    const uint8_t *p;
    size_t n, pos;
} forge_in_t;

/* The next byte, or 8 bytes big-endian; zeros once the input is used up. */
uint8_t forge_u8 (forge_in_t *in);
uint64_t forge_u64 (forge_in_t *in);

/* A term or index: near (the receiver's), one off, a little more, or 0,
   1, 2^61, 2^61 + 1, 2^62, 2^62 + 1, 2^63, UINT64_MAX, any 64 bits. */
uint64_t forge_pick (forge_in_t *in, uint64_t near);

/* who (a byte of the input) says the sender: even, the member 1 + (who >>
   1) % FORGE_NODES; odd, a stranger (an id in no configuration). */
bool forge_from_member (uint8_t who);

/* A message from who to server `to`, whose status is st (zeros if it is
   down), the rest read from in. False if it does not decode (the node
   drops it); else *out is the caller's to raft_msg_clear. */
bool forge_msg (forge_in_t *in, uint8_t who, raft_id_t to,
                const raft_status_t *st, raft_msg_t *out);

#endif
