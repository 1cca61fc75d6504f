/*  msg_kv.c -- the KV commands that NORMAL log entries carry, and the
    snapshot data of InstallSnapshot chunks (formats in msg_store.h).
*/
#include "msg_store.h"
#include "msg_util.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define MSG_KV_VERSION 1

raft_buf_t *
msg_kv_encode (const msg_kv_t *cmd)
{
    /* A command without its key (or a PUT without its value) is the
       caller's bug; refuse rather than invent an empty one. */
    if ((cmd->op != MSG_KV_PUT && cmd->op != MSG_KV_DEL) || !cmd->key ||
        (cmd->op == MSG_KV_PUT && !cmd->value))
        return NULL;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, cmd->op == MSG_KV_PUT ? 4 : 3);
    msgpack_pack_uint8 (&pk, MSG_KV_VERSION);
    msg_pack_cstr (&pk, cmd->op == MSG_KV_PUT ? "put" : "del");
    msg_pack_buf (&pk, cmd->key);
    if (cmd->op == MSG_KV_PUT)
        msg_pack_buf (&pk, cmd->value);
    raft_buf_t *b = raft_buf_new (buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
    return b;
}

int
msg_kv_decode (const void *data, size_t len, msg_kv_t *cmd)
{
    memset (cmd, 0, sizeof *cmd);
    msgpack_unpacked u;
    if (!msg_unpack_one (&u, data, len))
        return -1;
    const msgpack_object *o = &u.data;
    uint64_t version;
    int rc = -1;
    if (o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size >= 3 &&
        msg_get_uint (&o->via.array.ptr[0], &version) &&
        version == MSG_KV_VERSION) {
        const msgpack_object *f = o->via.array.ptr;
        if (o->via.array.size == 4 && msg_str_is (&f[1], "put")) {
            cmd->op = MSG_KV_PUT;
            cmd->key = msg_buf_of (&f[2]);
            cmd->value = msg_buf_of (&f[3]);
            rc = cmd->key && cmd->value ? 0 : -1;
        } else if (o->via.array.size == 3 && msg_str_is (&f[1], "del")) {
            cmd->op = MSG_KV_DEL;
            cmd->key = msg_buf_of (&f[2]);
            rc = cmd->key ? 0 : -1;
        }
    }
    if (rc < 0)
        msg_kv_clear (cmd);
    msgpack_unpacked_destroy (&u);
    return rc;
}

void
msg_kv_clear (msg_kv_t *cmd)
{
    raft_buf_unref (cmd->key);
    raft_buf_unref (cmd->value);
    memset (cmd, 0, sizeof *cmd);
}

/*  ---------------------------------------------------------------------
    Snapshot data                                                        */

void
msg_snap_pack_begin (msgpack_sbuffer *buf, size_t n_pairs)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
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

int
msg_snap_unpack (const void *data, size_t len,
                 int (*fn) (void *ctx, const void *key, size_t key_len,
                            const void *value, size_t value_len),
                 void *ctx)
{
    msgpack_unpacked u;
    if (!msg_unpack_one (&u, data, len))
        return -1;
    const msgpack_object *o = &u.data;
    int rc = 0;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size % 2)
        rc = -1;
    for (uint32_t i = 0; rc == 0 && i < o->via.array.size; i += 2) {
        const msgpack_object *k = &o->via.array.ptr[i];
        const msgpack_object *v = &o->via.array.ptr[i + 1];
        if (k->type != MSGPACK_OBJECT_BIN || v->type != MSGPACK_OBJECT_BIN)
            rc = -1;
        else if (fn (ctx, k->via.bin.ptr, k->via.bin.size, v->via.bin.ptr,
                     v->via.bin.size) != 0)
            rc = -1;
    }
    msgpack_unpacked_destroy (&u);
    return rc;
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
