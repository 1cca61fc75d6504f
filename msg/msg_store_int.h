/*  msg_store_int.h -- what msg_store.c and msg_store_apply.c share: the
    bodies of the "applied" and "leases" messages (msg_store.h), after the
    version and kind the caller wrote or checked.
*/
#ifndef MSG_STORE_INT_H_INCLUDED
#define MSG_STORE_INT_H_INCLUDED

#include "msg_store.h"

#include <msgpack.h>
#include <stdbool.h>

/* The fields of "applied" / "leases" (request: raft's 1-field form):
   0, or -1 if m cannot be encoded. */
int msg_store_pack_applied (msgpack_packer *pk, const msg_store_t *m);
int msg_store_pack_leases (msgpack_packer *pk, const msg_store_t *m,
                           bool request);
/* "applied"'s results array into m->results; "leases"' index and table
   into m->applied, m->leases. 0, or -1 (malformed). */
int msg_store_unpack_results (const msgpack_object *o, msg_store_t *m);
int msg_store_unpack_leases (const msgpack_object *applied,
                             const msgpack_object *o, msg_store_t *m);

#endif
