/*  msg_util.c -- see msg_util.h. Only sizes are read here; msgpack-c does
    the decoding.
*/
#include "msg_util.h"

#include <string.h>

bool
msg_sizes_plausible (const uint8_t *p, size_t len)
{
    size_t pos = 0;
    uint64_t pending = 1; /* objects still to read */
    while (pending) {
        if (pos >= len)
            return false;
        uint8_t b = p[pos++];
        pending--;
        uint64_t items = 0, skip = 0;
        size_t lenbytes = 0;
        if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3)) {
            /* fixint, nil, (never used), bool */
        } else if (b >= 0x80 && b <= 0x8f) {
            items = 2u * (b & 0x0f);
        } else if (b >= 0x90 && b <= 0x9f) {
            items = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            skip = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4:
            case 0xd9: lenbytes = 1; break; /* bin8, str8 */
            case 0xc5:
            case 0xda: lenbytes = 2; break; /* bin16, str16 */
            case 0xc6:
            case 0xdb: lenbytes = 4; break; /* bin32, str32 */
            case 0xc7:
                lenbytes = 1;
                skip = 1;
                break; /* ext8 */
            case 0xc8:
                lenbytes = 2;
                skip = 1;
                break; /* ext16 */
            case 0xc9:
                lenbytes = 4;
                skip = 1;
                break;                  /* ext32 */
            case 0xca: skip = 4; break; /* float32 */
            case 0xcb: skip = 8; break; /* float64 */
            case 0xcc:
            case 0xd0: skip = 1; break;
            case 0xcd:
            case 0xd1: skip = 2; break;
            case 0xce:
            case 0xd2: skip = 4; break;
            case 0xcf:
            case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break; /* fixext1 */
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc:
            case 0xde: lenbytes = 2; break; /* array16, map16 */
            case 0xdd:
            case 0xdf: lenbytes = 4; break; /* array32, map32 */
            default: return false;
            }
        }
        if (lenbytes) {
            if (len - pos < lenbytes)
                return false;
            uint64_t n = 0;
            for (size_t i = 0; i < lenbytes; i++)
                n = (n << 8) | p[pos++];
            if (b == 0xdc || b == 0xdd)
                items = n;
            else if (b == 0xde || b == 0xdf)
                items = 2 * n;
            else
                skip += n;
        }
        if (skip > len - pos || items > len - pos)
            return false;
        pos += skip;
        pending += items;
        if (pending > len - pos)
            return false;
    }
    return true;
}

bool
msg_unpack_one (msgpack_unpacked *u, const void *data, size_t len)
{
    size_t off = 0;
    msgpack_unpacked_init (u);
    if (!data || len == 0 || !msg_sizes_plausible (data, len) ||
        msgpack_unpack_next (u, data, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len) {
        msgpack_unpacked_destroy (u);
        return false;
    }
    return true;
}

bool
msg_get_uint (const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *v = o->via.u64;
    return true;
}

bool
msg_get_bool (const msgpack_object *o, bool *v)
{
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return false;
    *v = o->via.boolean;
    return true;
}

void
msg_pack_bool (msgpack_packer *pk, bool v)
{
    if (v)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}

bool
msg_str_clean (const msgpack_object *o, size_t max)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size < max &&
           (o->via.str.size == 0 ||
            !memchr (o->via.str.ptr, 0, o->via.str.size));
}

void
msg_str_copy (char *dst, const msgpack_object *o)
{
    if (o->via.str.size)
        memcpy (dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = 0;
}

void
msg_pack_cstr (msgpack_packer *pk, const char *s)
{
    size_t len = strlen (s);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s, len);
}

void
msg_pack_buf (msgpack_packer *pk, const raft_buf_t *b)
{
    msgpack_pack_bin (pk, b ? b->len : 0);
    if (b && b->len)
        msgpack_pack_bin_body (pk, b->data, b->len);
}

bool
msg_str_is (const msgpack_object *o, const char *s)
{
    size_t len = strlen (s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == len &&
           memcmp (o->via.str.ptr, s, len) == 0;
}

raft_buf_t *
msg_buf_of (const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_BIN)
        return NULL;
    return raft_buf_new (o->via.bin.ptr, o->via.bin.size);
}
