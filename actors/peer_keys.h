/*  peer_keys.h -- the cluster secret and the ZeroMQ CURVE keys derived
    from it: who may talk on peer links and on the monitoring socket.

    Provisioning (like MongoDB's keyFile): every member is given the same
    secret file (`nsxctl keygen FILE` makes one); each member's CURVE key
    pair is derived from the secret and its id, so nothing else is handed
    out, a new server needs only the file, and any member can compute any
    member's public key. The file is one or more lines, each a secret of at
    least 32 characters; '#' lines and blank lines are ignored. The first
    line is the one this node's own keys come from; every line is accepted
    from others, which is how a secret is rotated without stopping the
    cluster (README: Security).

    Derivation, for each secret line S (libsodium, version 1):
        master       = BLAKE2b-256 ("nsxd cluster secret v1\n" || S)
        member seed  = crypto_kdf_derive_from_key (32, id, "nsxdpeer", master)
        member keys  = crypto_box_seed_keypair (member seed)
        monitor seed = crypto_kdf_derive_from_key (32, 0, "nsxdmont", master)
        trace seed   = crypto_kdf_derive_from_key (32, 0, "nsxdtrce", master)
    Peer ROUTERs serve with their member key and accept member keys; the
    monitoring socket serves with the monitor key and accepts the trace
    key (what `nsxctl trace` presents).

    Mapping a key back to its member (the ZAP handler's question) needs a
    table: it holds the members 1..PEER_KEYS_PRESET_IDS from the start,
    and any other id once the node learns it (its configuration, its
    --cluster, its own id). A key that maps to no id is refused.

    Thread-safe: the ZAP handler looks keys up while the transport adds
    ids (one mutex).
*/
#ifndef PEER_KEYS_H_INCLUDED
#define PEER_KEYS_H_INCLUDED

#include "raft.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PEER_KEYS_PRESET_IDS 1024 /* ids 1..this are known from the start */
#define PEER_KEYS_MAX_SECRETS 4   /* lines in a secret file */
#define PEER_KEYS_MIN_SECRET 32   /* characters per secret, at least */
#define PEER_KEYS_MAX_LEARNED 4096

/* The ZAP domains of the two kinds of listening socket. */
#define PEER_KEYS_DOMAIN_PEER "nsxd-peer"
#define PEER_KEYS_DOMAIN_MONITOR "nsxd-monitor"

typedef struct peer_keys peer_keys_t;

/* Load the secret file at path. self is this node's id (0 for a client
   such as nsxctl, which needs only the monitor and trace keys). Refuses a
   file readable by group or others, an empty one, a secret shorter than
   PEER_KEYS_MIN_SECRET, more than PEER_KEYS_MAX_SECRETS lines. NULL with
   a message in err on failure. */
peer_keys_t *peer_keys_load (const char *path, raft_id_t self, char *err,
                             size_t err_len);
void peer_keys_destroy (peer_keys_t **self_p);

/* Write a new random secret to path, created with mode 0600, whole (a
   temporary file linked into place); fails (-1, errno EEXIST) if path
   exists, so that concurrent callers agree on one file. 0 on success. */
int peer_keys_generate (const char *path);

/* Number of secret lines. */
size_t peer_keys_secrets (const peer_keys_t *self);

/* Make sock a CURVE server with this node's member key (first secret),
   in ZAP domain PEER_KEYS_DOMAIN_PEER. */
void peer_keys_serve_peer (const peer_keys_t *self, zsock_t *sock);
/* Make sock a CURVE client of member `server` with this node's member
   key, both from secret line `secret` (< peer_keys_secrets). */
void peer_keys_connect_peer (const peer_keys_t *self, zsock_t *sock,
                             raft_id_t server, size_t secret);
/* The monitoring socket: server with the monitor key (first secret), ZAP
   domain PEER_KEYS_DOMAIN_MONITOR; a subscriber with the trace key. */
void peer_keys_serve_monitor (const peer_keys_t *self, zsock_t *sock);
void peer_keys_connect_monitor (const peer_keys_t *self, zsock_t *sock,
                                size_t secret);

/* The member whose key (32 bytes) this is, under any secret line, or 0.
   Constant time in the key's bytes for every candidate. */
raft_id_t peer_keys_member_of (peer_keys_t *self, const uint8_t key[32]);
/* Whether key is the trace key of any secret line. */
bool peer_keys_is_trace (peer_keys_t *self, const uint8_t key[32]);
/* Add id to the table (no-op if known or 0). */
void peer_keys_learn (peer_keys_t *self, raft_id_t id);

#endif
