/*  msg_forward.c -- see msg_forward.h for the format. */
#include "msg_forward.h"
#include "msg_util.h"

#include <msgpack.h>
#include <string.h>

#define MSG_FORWARD_VERSION 1
#define S_FIELDS 5

bool
msg_forward_is (const void *data, size_t len)
{
    /* a fixarray of 5; a Raft message is an array of 17 (0xdc 0x00 0x11) */
    return len > 0 && ((const uint8_t *)data)[0] == 0x90 + S_FIELDS;
}

raft_buf_t *
msg_forward_encode (const msg_forward_t *f)
{
    if (!f->body || f->body->len > MSG_FORWARD_MAX)
        return NULL;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, S_FIELDS);
    msgpack_pack_uint8 (&pk, MSG_FORWARD_VERSION);
    msg_pack_cstr (&pk, f->reply ? "fwdrep" : "fwd");
    msgpack_pack_uint64 (&pk, f->fwd_id);
    msgpack_pack_uint64 (&pk, f->from);
    msg_pack_buf (&pk, f->body);
    raft_buf_t *b = raft_buf_new (buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
    return b;
}

int
msg_forward_decode (const void *data, size_t len, msg_forward_t *f)
{
    memset (f, 0, sizeof *f);
    if (!msg_forward_is (data, len))
        return -1;
    msgpack_unpacked u;
    if (!msg_unpack_one (&u, data, len))
        return -1;
    const msgpack_object *o = &u.data;
    uint64_t version;
    int rc = -1;
    if (o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == S_FIELDS) {
        const msgpack_object *a = o->via.array.ptr;
        bool is_req = msg_str_is (&a[1], "fwd");
        bool is_rep = msg_str_is (&a[1], "fwdrep");
        if (msg_get_uint (&a[0], &version) && version == MSG_FORWARD_VERSION &&
            (is_req || is_rep) && msg_get_uint (&a[2], &f->fwd_id) &&
            msg_get_uint (&a[3], &f->from) && f->from != 0 &&
            a[4].type == MSGPACK_OBJECT_BIN && a[4].via.bin.size > 0 &&
            a[4].via.bin.size <= MSG_FORWARD_MAX) {
            f->reply = is_rep;
            f->body = msg_buf_of (&a[4]);
            rc = f->body ? 0 : -1;
        }
    }
    msgpack_unpacked_destroy (&u);
    if (rc != 0)
        msg_forward_clear (f);
    return rc;
}

void
msg_forward_clear (msg_forward_t *f)
{
    raft_buf_unref (f->body);
    f->body = NULL;
}
