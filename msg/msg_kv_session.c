/*  msg_kv_session.c -- see msg_kv_session.h.
*/
#include "msg_kv_session.h"

#include "msg_store.h"
#include "msg_util.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define S_VERSION 1

static void
s_pack_bin (msgpack_packer *pk, const raft_buf_t *b)
{
    msgpack_pack_bin (pk, b->len);
    msgpack_pack_bin_body (pk, b->data, b->len);
}

raft_buf_t *
msg_kv_session_encode (const kvsm_session_t *s)
{
    if (s->n_replies > KVSM_SESSION_KEPT_MAX)
        return NULL;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 6);
    msgpack_pack_uint8 (&pk, S_VERSION);
    msgpack_pack_uint64 (&pk, s->id);
    msgpack_pack_uint64 (&pk, s->ttl_ms);
    msgpack_pack_uint64 (&pk, s->last_ms);
    msgpack_pack_uint64 (&pk, s->acked);
    msgpack_pack_array (&pk, s->n_replies);
    bool ok = true;
    for (size_t i = 0; ok && i < s->n_replies; i++) {
        raft_buf_t *r = msg_kv_result_encode (&s->replies[i].res);
        if (!(ok = r != NULL))
            break;
        msgpack_pack_array (&pk, 3);
        msgpack_pack_uint64 (&pk, s->replies[i].seq);
        msgpack_pack_uint64 (&pk, s->replies[i].index);
        s_pack_bin (&pk, r);
        raft_buf_unref (r);
    }
    raft_buf_t *b = ok ? raft_buf_new (buf.data, buf.size) : NULL;
    msgpack_sbuffer_destroy (&buf);
    return b;
}

static int
s_session (const msgpack_object *o, kvsm_session_t *s)
{
    uint64_t v;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 6)
        return -1;
    const msgpack_object *f = o->via.array.ptr;
    if (!msg_get_uint (&f[0], &v) || v != S_VERSION ||
        !msg_get_uint (&f[1], &s->id) || !msg_get_uint (&f[2], &s->ttl_ms) ||
        !msg_get_uint (&f[3], &s->last_ms) ||
        !msg_get_uint (&f[4], &s->acked) || s->id == 0 || s->ttl_ms == 0 ||
        s->ttl_ms > KVSM_SESSION_TTL_MAX_MS ||
        f[5].type != MSGPACK_OBJECT_ARRAY ||
        f[5].via.array.size > KVSM_SESSION_KEPT_MAX)
        return -1;
    uint32_t n = f[5].via.array.size;
    s->replies = calloc (n ? n : 1, sizeof *s->replies);
    if (!s->replies)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *r = &f[5].via.array.ptr[i];
        kvsm_reply_t *d = &s->replies[i];
        if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size != 3 ||
            !msg_get_uint (&r->via.array.ptr[0], &d->seq) ||
            !msg_get_uint (&r->via.array.ptr[1], &d->index) ||
            d->seq <= s->acked || (i && d->seq <= s->replies[i - 1].seq) ||
            r->via.array.ptr[2].type != MSGPACK_OBJECT_BIN)
            return -1;
        const msgpack_object_bin *bin = &r->via.array.ptr[2].via.bin;
        if (msg_kv_result_decode (bin->ptr, bin->size, &d->res) != 0)
            return -1;
        s->n_replies = i + 1;
    }
    return 0;
}

int
msg_kv_session_decode (const void *data, size_t len, kvsm_session_t *s)
{
    memset (s, 0, sizeof *s);
    msgpack_unpacked u;
    if (!data || !msg_unpack_one (&u, data, len))
        return -1;
    int rc = s_session (&u.data, s);
    msgpack_unpacked_destroy (&u);
    if (rc != 0)
        kvsm_session_clear (s);
    return rc;
}

raft_buf_t *
msg_kv_sessions_encode (const kvsm_sessions_t *t)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_uint8 (&pk, S_VERSION);
    msgpack_pack_uint64 (&pk, t->clock_ms);
    msgpack_pack_array (&pk, t->n);
    bool ok = true;
    for (size_t i = 0; ok && i < t->n; i++) {
        raft_buf_t *b = msg_kv_session_encode (&t->v[i]);
        if ((ok = b != NULL))
            s_pack_bin (&pk, b);
        raft_buf_unref (b);
    }
    raft_buf_t *b = ok ? raft_buf_new (buf.data, buf.size) : NULL;
    msgpack_sbuffer_destroy (&buf);
    return b;
}

kvsm_sessions_t *
msg_kv_sessions_decode (const void *data, size_t len)
{
    msgpack_unpacked u;
    if (!data || !msg_unpack_one (&u, data, len))
        return NULL;
    const msgpack_object *o = &u.data;
    kvsm_sessions_t *t = kvsm_sessions_new ();
    uint64_t v;
    bool ok = t && o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 3 &&
              msg_get_uint (&o->via.array.ptr[0], &v) && v == S_VERSION &&
              msg_get_uint (&o->via.array.ptr[1], &t->clock_ms) &&
              o->via.array.ptr[2].type == MSGPACK_OBJECT_ARRAY &&
              o->via.array.ptr[2].via.array.size <= KVSM_SESSIONS_MAX;
    for (uint32_t i = 0; ok && i < o->via.array.ptr[2].via.array.size; i++) {
        const msgpack_object *b = &o->via.array.ptr[2].via.array.ptr[i];
        kvsm_session_t s;
        ok = b->type == MSGPACK_OBJECT_BIN &&
             msg_kv_session_decode (b->via.bin.ptr, b->via.bin.size, &s) == 0;
        /* by id: each after the last (insert refuses a repeat) */
        if (ok && t->n && s.id <= t->v[t->n - 1].id) {
            kvsm_session_clear (&s);
            ok = false;
        }
        ok = ok && kvsm_sessions_insert (t, &s) == 0;
    }
    msgpack_unpacked_destroy (&u);
    if (!ok)
        kvsm_sessions_destroy (&t);
    return t;
}

/*  ---------------------------------------------------------------------
    Snapshot data with sessions                                          */

void
msg_snap_pack_begin_sessions (msgpack_sbuffer *buf, size_t n_pairs)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_uint8 (&pk, MSG_SNAP_VERSION_SESSIONS);
    msgpack_pack_array (&pk, 2 * n_pairs);
}

void
msg_snap_pack_sessions (msgpack_sbuffer *buf, const raft_buf_t *table)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    s_pack_bin (&pk, table);
}

raft_buf_t *
msg_snap_sessions (const void *data, size_t len)
{
    msgpack_unpacked u;
    if (!data || !msg_unpack_one (&u, data, len))
        return NULL;
    const msgpack_object *o = &u.data;
    uint64_t v;
    raft_buf_t *b = NULL;
    /* version 3's table, or version 4's (msg_kv_lease.h: nil, none) */
    if (o->type == MSGPACK_OBJECT_ARRAY &&
        ((o->via.array.size == 3 && msg_get_uint (&o->via.array.ptr[0], &v) &&
          v == MSG_SNAP_VERSION_SESSIONS) ||
         (o->via.array.size == 4 && msg_get_uint (&o->via.array.ptr[0], &v) &&
          v == 4)) &&
        o->via.array.ptr[2].type == MSGPACK_OBJECT_BIN)
        b = raft_buf_new (o->via.array.ptr[2].via.bin.ptr,
                          o->via.array.ptr[2].via.bin.size);
    msgpack_unpacked_destroy (&u);
    return b;
}
