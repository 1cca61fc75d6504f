/*  msg_snap.c -- the snapshot data of InstallSnapshot chunks (format in
    msg_store.h): versions 1 (bare values), 2 (records), 3 (and the
    session table, msg_kv_session.h) and 4 (and the lease table,
    msg_kv_lease.h). Moved out of msg_kv.c, which keeps the commands.
*/
#include "msg_kv_lease.h"
#include "msg_kv_session.h"
#include "msg_store.h"
#include "msg_util.h"

#include <msgpack.h>

void
msg_snap_pack_begin (msgpack_sbuffer *buf, size_t n_pairs)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_uint8 (&pk, MSG_SNAP_VERSION);
    msgpack_pack_array (&pk, 2 * n_pairs);
}

void
msg_snap_pack_pair (msgpack_sbuffer *buf, const void *key, size_t key_len,
                    const void *value, size_t value_len)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_bin (&pk, key_len);
    msgpack_pack_bin_body (&pk, key, key_len);
    msgpack_pack_bin (&pk, value_len);
    msgpack_pack_bin_body (&pk, value, value_len);
}

/* The pairs' array of snapshot data o, and its version: [2, [pairs]], or
   version 1's bare [pairs] (from a leader before versions). NULL if
   neither. */
static const msgpack_object *
s_snap_pairs (const msgpack_object *o, unsigned *version)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return NULL;
    const msgpack_object *f = o->via.array.ptr;
    uint64_t v;
    if (o->via.array.size == 2 && msg_get_uint (&f[0], &v)) {
        if (v != MSG_SNAP_VERSION || f[1].type != MSGPACK_OBJECT_ARRAY)
            return NULL;
        *version = MSG_SNAP_VERSION;
        return &f[1];
    }
    /* version 3: the pairs and the session table (msg_kv_session.h) */
    if (o->via.array.size == 3 && msg_get_uint (&f[0], &v)) {
        if (v != MSG_SNAP_VERSION_SESSIONS ||
            f[1].type != MSGPACK_OBJECT_ARRAY ||
            f[2].type != MSGPACK_OBJECT_BIN)
            return NULL;
        *version = MSG_SNAP_VERSION_SESSIONS;
        return &f[1];
    }
    /* version 4: the pairs, the session table or nil, the lease table
       (msg_kv_lease.h) */
    if (o->via.array.size == 4 && msg_get_uint (&f[0], &v)) {
        if (v != MSG_SNAP_VERSION_LEASES || f[1].type != MSGPACK_OBJECT_ARRAY ||
            (f[2].type != MSGPACK_OBJECT_BIN &&
             f[2].type != MSGPACK_OBJECT_NIL) ||
            f[3].type != MSGPACK_OBJECT_BIN)
            return NULL;
        *version = MSG_SNAP_VERSION_LEASES;
        return &f[1];
    }
    *version = 1;
    return o;
}

int
msg_snap_unpack_v (const void *data, size_t len,
                   int (*fn) (void *ctx, const void *key, size_t key_len,
                              const void *value, size_t value_len),
                   void *ctx, unsigned *version)
{
    msgpack_unpacked u;
    if (!msg_unpack_one (&u, data, len))
        return -1;
    unsigned v = 0;
    const msgpack_object *o = s_snap_pairs (&u.data, &v);
    int rc = 0;
    if (!o || o->via.array.size % 2)
        rc = -1;
    for (uint32_t i = 0; rc == 0 && i < o->via.array.size; i += 2) {
        const msgpack_object *k = &o->via.array.ptr[i];
        const msgpack_object *val = &o->via.array.ptr[i + 1];
        if (k->type != MSGPACK_OBJECT_BIN || val->type != MSGPACK_OBJECT_BIN)
            rc = -1;
        else if (fn (ctx, k->via.bin.ptr, k->via.bin.size, val->via.bin.ptr,
                     val->via.bin.size) != 0)
            rc = -1;
    }
    msgpack_unpacked_destroy (&u);
    if (version)
        *version = v;
    return rc;
}

int
msg_snap_unpack (const void *data, size_t len,
                 int (*fn) (void *ctx, const void *key, size_t key_len,
                            const void *value, size_t value_len),
                 void *ctx)
{
    return msg_snap_unpack_v (data, len, fn, ctx, NULL);
}

int
msg_snap_version (const void *data, size_t len)
{
    msgpack_unpacked u;
    if (!data || !msg_unpack_one (&u, data, len))
        return -1;
    unsigned v = 0;
    const msgpack_object *o = s_snap_pairs (&u.data, &v);
    msgpack_unpacked_destroy (&u);
    return o ? (int)v : -1;
}

static int
s_snap_pair_ok (void *ctx, const void *key, size_t key_len, const void *value,
                size_t value_len)
{
    (void)ctx, (void)key, (void)key_len, (void)value, (void)value_len;
    return 0;
}

bool
msg_snap_valid (const void *data, size_t len)
{
    return data && msg_snap_unpack (data, len, s_snap_pair_ok, NULL) == 0;
}
