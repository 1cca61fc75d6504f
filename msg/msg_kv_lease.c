/*  msg_kv_lease.c -- see msg_kv_lease.h.
*/
#include "msg_kv_lease.h"

#include "msg_util.h"

#include <stdlib.h>
#include <string.h>

#define S_VERSION 1

static void
s_pack_bin (msgpack_packer *pk, const raft_buf_t *b)
{
    msgpack_pack_bin (pk, b->len);
    msgpack_pack_bin_body (pk, b->data, b->len);
}

static raft_buf_t *
s_done (msgpack_sbuffer *buf, bool ok)
{
    raft_buf_t *b = ok ? raft_buf_new (buf->data, buf->size) : NULL;
    msgpack_sbuffer_destroy (buf);
    return b;
}

raft_buf_t *
msg_kv_lease_encode (const kvsm_lease_t *l)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 4);
    msgpack_pack_uint8 (&pk, S_VERSION);
    msgpack_pack_uint64 (&pk, l->id);
    msgpack_pack_uint64 (&pk, l->ttl_ms);
    msgpack_pack_array (&pk, l->n_keys);
    for (size_t i = 0; i < l->n_keys; i++)
        s_pack_bin (&pk, l->keys[i]);
    return s_done (&buf, true);
}

static int
s_lease (kvsm_leases_t *t, const msgpack_object *o, uint64_t *id)
{
    uint64_t v, ttl;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4)
        return -1;
    const msgpack_object *f = o->via.array.ptr;
    if (!msg_get_uint (&f[0], &v) || v != S_VERSION ||
        !msg_get_uint (&f[1], id) || *id == 0 || !msg_get_uint (&f[2], &ttl) ||
        ttl == 0 || ttl > KVSM_LEASE_TTL_MAX_MS ||
        f[3].type != MSGPACK_OBJECT_ARRAY ||
        f[3].via.array.size > KVSM_LEASE_KEYS_MAX)
        return -1;
    uint32_t n = f[3].via.array.size;
    raft_buf_t **keys = n ? calloc (n, sizeof *keys) : NULL;
    if (n && !keys)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *k = &f[3].via.array.ptr[i];
        /* sorted, no repeat: insert sorts and checks, but bytes that
           were not written sorted are not ours */
        if (k->type != MSGPACK_OBJECT_BIN || !(keys[i] = msg_buf_of (k))) {
            for (uint32_t j = 0; j < i; j++)
                raft_buf_unref (keys[j]);
            free (keys);
            return -1;
        }
    }
    for (uint32_t i = 1; i < n; i++) {
        const raft_buf_t *a = keys[i - 1], *b = keys[i];
        size_t m = a->len < b->len ? a->len : b->len;
        int c = m ? memcmp (a->data, b->data, m) : 0;
        if (c > 0 || (c == 0 && a->len >= b->len)) {
            for (uint32_t j = 0; j < n; j++)
                raft_buf_unref (keys[j]);
            free (keys);
            return -1;
        }
    }
    return kvsm_leases_insert (t, *id, ttl, keys, n);
}

int
msg_kv_lease_decode (kvsm_leases_t *t, const void *data, size_t len,
                     uint64_t *id)
{
    msgpack_unpacked u;
    if (!data || !msg_unpack_one (&u, data, len))
        return -1;
    int rc = s_lease (t, &u.data, id);
    msgpack_unpacked_destroy (&u);
    return rc;
}

raft_buf_t *
msg_kv_leases_encode (const kvsm_leases_t *t)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_uint8 (&pk, S_VERSION);
    msgpack_pack_array (&pk, t->n);
    bool ok = true;
    for (size_t i = 0; ok && i < t->n; i++) {
        raft_buf_t *b = msg_kv_lease_encode (&t->v[i]);
        if ((ok = b != NULL))
            s_pack_bin (&pk, b);
        raft_buf_unref (b);
    }
    return s_done (&buf, ok);
}

kvsm_leases_t *
msg_kv_leases_decode (const void *data, size_t len)
{
    msgpack_unpacked u;
    if (!data || !msg_unpack_one (&u, data, len))
        return NULL;
    const msgpack_object *o = &u.data;
    kvsm_leases_t *t = kvsm_leases_new ();
    uint64_t v;
    bool ok = t && o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 2 &&
              msg_get_uint (&o->via.array.ptr[0], &v) && v == S_VERSION &&
              o->via.array.ptr[1].type == MSGPACK_OBJECT_ARRAY &&
              o->via.array.ptr[1].via.array.size <= KVSM_LEASES_MAX;
    uint64_t last = 0;
    for (uint32_t i = 0; ok && i < o->via.array.ptr[1].via.array.size; i++) {
        const msgpack_object *b = &o->via.array.ptr[1].via.array.ptr[i];
        uint64_t id = 0;
        ok = b->type == MSGPACK_OBJECT_BIN &&
             msg_kv_lease_decode (t, b->via.bin.ptr, b->via.bin.size, &id) ==
                 0 &&
             id > last; /* by id */
        last = id;
    }
    msgpack_unpacked_destroy (&u);
    if (!ok)
        kvsm_leases_destroy (&t);
    return t;
}

/*  ---------------------------------------------------------------------
    Snapshot data with leases                                            */

void
msg_snap_pack_begin_leases (msgpack_sbuffer *buf, size_t n_pairs)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 4);
    msgpack_pack_uint8 (&pk, MSG_SNAP_VERSION_LEASES);
    msgpack_pack_array (&pk, 2 * n_pairs);
}

void
msg_snap_pack_leases (msgpack_sbuffer *buf, const raft_buf_t *sessions,
                      const raft_buf_t *leases)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    if (sessions)
        s_pack_bin (&pk, sessions);
    else
        msgpack_pack_nil (&pk);
    s_pack_bin (&pk, leases);
}

raft_buf_t *
msg_snap_leases (const void *data, size_t len)
{
    msgpack_unpacked u;
    if (!data || !msg_unpack_one (&u, data, len))
        return NULL;
    const msgpack_object *o = &u.data;
    uint64_t v;
    raft_buf_t *b = NULL;
    if (o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 4 &&
        msg_get_uint (&o->via.array.ptr[0], &v) &&
        v == MSG_SNAP_VERSION_LEASES &&
        o->via.array.ptr[3].type == MSGPACK_OBJECT_BIN)
        b = raft_buf_new (o->via.array.ptr[3].via.bin.ptr,
                          o->via.array.ptr[3].via.bin.size);
    msgpack_unpacked_destroy (&u);
    return b;
}
