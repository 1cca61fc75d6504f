/*  msg_raft.h -- msgpack encoding of Raft messages and log entries.

    msg/ is the one place nsxd encodes and decodes messages. This file
    covers what the consensus core exchanges with its peers (over the
    DEALER/ROUTER links) and what the store writes to disk: log entries and
    the hard state (store/store_format.h).
    Nothing decoded here is trusted: every field is type- and range-checked,
    and anything malformed is refused with -1, never an assert.

    Wire format, version 2 (msgpack; "uint" is any msgpack positive integer):

      message  = [ 1 (version), type: uint (raft_msg_type_t), from: uint,
                   to: uint, term: uint, prev_index: uint, prev_term: uint,
                   commit: uint, reject: bool, index: uint, hint_index: uint,
                   hint_term: uint, transfer: bool, ctx: uint,
                   entries: [ entry, ... ], data: bin | nil, done: bool ]
               (data and done: InstallSnapshot chunks, raft.h)
      entry    = [ term: uint, index: uint, type: uint (raft_entry_type_t),
                   data ]
      data     = bin                      for NORMAL entries (the command)
               | nil                      for NOOP entries
               | [ [ id: uint, voter: bool, addr: str ], ... ]   for CONF
      hard state = [ term: uint, vote: uint ]      (on disk only, key 'h')

    A configuration travels field by field, never as the in-memory
    raft_conf_t, so that its bytes do not depend on the compiler's layout.
*/
#ifndef MSG_RAFT_H_INCLUDED
#define MSG_RAFT_H_INCLUDED

#include "raft.h"

#include <msgpack.h>

#define MSG_RAFT_VERSION 2
#define MSG_RAFT_MAX_ENTRIES 65536            /* per message */
#define MSG_RAFT_MAX_DATA (64u * 1024 * 1024) /* per entry */

/* Append the encoding of m (or e) to buf. Returns 0, or -1 if the message
   cannot be encoded (a CONF entry whose data is not a configuration). */
int msg_raft_encode (msgpack_sbuffer *buf, const raft_msg_t *m);
int msg_entry_encode (msgpack_sbuffer *buf, const raft_entry_t *e);

/* Decode one message (or entry) that fills data exactly. On success fills
   *m (whose entries the caller releases with raft_msg_clear) and returns 0;
   on malformed input returns -1 and leaves nothing to release. */
int msg_raft_decode (const void *data, size_t len, raft_msg_t *m);
int msg_entry_decode (const void *data, size_t len, raft_entry_t *e);

/* The hard state as the store keeps it. Encoding appends to buf (each
   integer in its shortest msgpack form, so 3 to 19 bytes); decoding takes
   exactly one [term, vote] that fills data: 0, or -1 (and *hs untouched)
   on anything else. */
void msg_hs_encode (msgpack_sbuffer *buf, const raft_hard_state_t *hs);
int msg_hs_decode (const void *data, size_t len, raft_hard_state_t *hs);

#endif
