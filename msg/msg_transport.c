/*  msg_transport.c -- see msg_transport.h for the messages.

    Wire format, version 1: one zframe holding one msgpack array.

      [1, "peers", [[id, endpoint], ...]]
          1          positive fixint (the version)
          "peers"    str
          peers      array of at most RAFT_MAX_SERVERS (a configuration
                     holds no more servers; this node is left out), each a
                     2-element array:
            id       uint, not 0 ("none"), unique in the list
            endpoint str, 1 to MSG_ENDPOINT_MAX - 1 bytes, no NUL inside
                     (it becomes a NUL-terminated C string)
      [1, "send", to, payload]
          to         uint, not 0
          payload    bin, at least 1 byte (a msg_raft.h message is never
                     empty; ZeroMQ peers never see an empty payload)
      [1, "recv", payload]
          payload    bin, at least 1 byte
      [1, "link", id, up]
          id         uint, not 0
          up         bool

    "uint" is any msgpack positive integer. Decoding refuses anything else:
    more than one frame, trailing bytes, another version or kind, an element
    of the wrong type, an array of the wrong length. The encoder applies the
    same rules, so whatever it produces decodes.
*/
#include "msg_transport.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define S_VERSION 1

static const char *s_kind_names[] = {
    [MSG_TRANSPORT_PEERS] = "peers",
    [MSG_TRANSPORT_SEND] = "send",
    [MSG_TRANSPORT_RECV] = "recv",
    [MSG_TRANSPORT_LINK] = "link",
};

static bool
s_kind_valid (msg_transport_kind_t kind)
{
    return kind >= MSG_TRANSPORT_PEERS && kind <= MSG_TRANSPORT_LINK;
}

/*  The checks shared by the encoder and the decoder, so that both sides
    agree on what a well-formed message is. */
static bool
s_endpoint_valid (const char *endpoint, size_t len)
{
    return len > 0 && len < MSG_ENDPOINT_MAX && !memchr (endpoint, 0, len);
}

static bool
s_peers_valid (const msg_peer_t *peers, size_t n)
{
    if (n > RAFT_MAX_SERVERS || (n > 0 && !peers))
        return false;
    for (size_t i = 0; i < n; i++) {
        size_t len = strnlen (peers[i].endpoint, MSG_ENDPOINT_MAX);
        if (peers[i].id == 0 || !s_endpoint_valid (peers[i].endpoint, len))
            return false;
        for (size_t k = 0; k < i; k++)
            if (peers[k].id == peers[i].id)
                return false; /* one link per peer */
    }
    return true;
}

static bool
s_payload_valid (const uint8_t *payload, size_t len)
{
    /* bin32 holds at most 2^32 - 1 bytes */
    return payload && len > 0 && len <= UINT32_MAX;
}

/*  ---------------------------------------------------------------------
    Encoding                                                             */

static int
s_pack_str (msgpack_packer *pk, const char *s, size_t len)
{
    return msgpack_pack_str (pk, len) | msgpack_pack_str_body (pk, s, len);
}

static int
s_pack_bin (msgpack_packer *pk, const uint8_t *data, size_t len)
{
    return msgpack_pack_bin (pk, len) | msgpack_pack_bin_body (pk, data, len);
}

zmsg_t *
msg_transport_encode (const msg_transport_t *m)
{
    if (!m || !s_kind_valid (m->kind))
        return NULL;
    switch (m->kind) {
    case MSG_TRANSPORT_PEERS:
        if (!s_peers_valid (m->peers, m->n_peers))
            return NULL;
        break;
    case MSG_TRANSPORT_SEND:
        if (m->to == 0 || !s_payload_valid (m->payload, m->payload_len))
            return NULL;
        break;
    case MSG_TRANSPORT_RECV:
        if (!s_payload_valid (m->payload, m->payload_len))
            return NULL;
        break;
    case MSG_TRANSPORT_LINK:
        if (m->to == 0)
            return NULL;
        break;
    }

    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    const char *kind = s_kind_names[m->kind];
    /* Every pack call returns 0 or -1 (out of memory); OR them together. */
    int rc = 0;
    switch (m->kind) {
    case MSG_TRANSPORT_PEERS:
        rc |= msgpack_pack_array (&pk, 3);
        rc |= msgpack_pack_uint8 (&pk, S_VERSION);
        rc |= s_pack_str (&pk, kind, strlen (kind));
        rc |= msgpack_pack_array (&pk, m->n_peers);
        for (size_t i = 0; i < m->n_peers; i++) {
            const msg_peer_t *p = &m->peers[i];
            rc |= msgpack_pack_array (&pk, 2);
            rc |= msgpack_pack_uint64 (&pk, p->id);
            rc |= s_pack_str (&pk, p->endpoint, strlen (p->endpoint));
        }
        break;
    case MSG_TRANSPORT_SEND:
    case MSG_TRANSPORT_LINK:
        rc |= msgpack_pack_array (&pk, 4);
        rc |= msgpack_pack_uint8 (&pk, S_VERSION);
        rc |= s_pack_str (&pk, kind, strlen (kind));
        rc |= msgpack_pack_uint64 (&pk, m->to);
        if (m->kind == MSG_TRANSPORT_SEND)
            rc |= s_pack_bin (&pk, m->payload, m->payload_len);
        else if (m->up)
            rc |= msgpack_pack_true (&pk);
        else
            rc |= msgpack_pack_false (&pk);
        break;
    case MSG_TRANSPORT_RECV:
        rc |= msgpack_pack_array (&pk, 3);
        rc |= msgpack_pack_uint8 (&pk, S_VERSION);
        rc |= s_pack_str (&pk, kind, strlen (kind));
        rc |= s_pack_bin (&pk, m->payload, m->payload_len);
        break;
    }
    zmsg_t *zm = NULL;
    if (rc == 0) {
        zm = zmsg_new ();
        if (zm && zmsg_addmem (zm, buf.data, buf.size) != 0)
            zmsg_destroy (&zm);
    }
    msgpack_sbuffer_destroy (&buf);
    return zm;
}

/*  ---------------------------------------------------------------------
    Decoding: check every type and bound                                 */

/*  Copied from msg_raft.c, where it is static (so each codec stays one
    self-contained file).

    msgpack-c allocates an array's or map's element storage from the
    declared count before it reads the elements, so five hostile bytes
    (0xdd ff ff ff ff: "an array of 4 billion") ask for 96 GiB. Before
    handing input to msgpack-c, walk its structure and refuse any container
    that declares more elements than there are bytes left (every element
    takes at least one byte), and any string, binary or extension longer
    than the input. Only sizes are read here; msgpack-c does the decoding. */
static bool
s_sizes_plausible (const uint8_t *p, size_t len)
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

/* Unpack exactly one msgpack object filling data. */
static bool
s_unpack (msgpack_unpacked *u, const void *data, size_t len)
{
    size_t off = 0;
    msgpack_unpacked_init (u);
    if (!data || len == 0 || !s_sizes_plausible (data, len) ||
        msgpack_unpack_next (u, data, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len) {
        msgpack_unpacked_destroy (u);
        return false;
    }
    return true;
}

static bool
s_uint (const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *v = o->via.u64;
    return true;
}

/* A non-zero server id (0 means "none" in raft.h). */
static bool
s_id (const msgpack_object *o, raft_id_t *v)
{
    return s_uint (o, v) && *v != 0;
}

static msg_transport_kind_t
s_kind (const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return 0;
    for (int k = MSG_TRANSPORT_PEERS; k <= MSG_TRANSPORT_LINK; k++) {
        size_t len = strlen (s_kind_names[k]);
        if (o->via.str.size == len &&
            memcmp (o->via.str.ptr, s_kind_names[k], len) == 0)
            return (msg_transport_kind_t)k;
    }
    return 0;
}

/* A copy of a non-empty bin object into m->payload. */
static int
s_payload (const msgpack_object *o, msg_transport_t *m)
{
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size == 0)
        return -1;
    m->payload = malloc (o->via.bin.size);
    if (!m->payload)
        return -1;
    memcpy (m->payload, o->via.bin.ptr, o->via.bin.size);
    m->payload_len = o->via.bin.size;
    return 0;
}

static int
s_peers (const msgpack_object *o, msg_transport_t *m)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > RAFT_MAX_SERVERS)
        return -1;
    uint32_t n = o->via.array.size;
    if (n == 0)
        return 0;
    m->peers = calloc (n, sizeof *m->peers);
    if (!m->peers)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *po = &o->via.array.ptr[i];
        if (po->type != MSGPACK_OBJECT_ARRAY || po->via.array.size != 2)
            return -1;
        const msgpack_object *f = po->via.array.ptr;
        msg_peer_t *p = &m->peers[i];
        if (!s_id (&f[0], &p->id) || f[1].type != MSGPACK_OBJECT_STR ||
            !s_endpoint_valid (f[1].via.str.ptr, f[1].via.str.size))
            return -1;
        memcpy (p->endpoint, f[1].via.str.ptr, f[1].via.str.size);
        for (uint32_t k = 0; k < i; k++)
            if (m->peers[k].id == p->id)
                return -1;
    }
    m->n_peers = n;
    return 0;
}

static int
s_decode (const msgpack_object *o, msg_transport_t *m)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 2)
        return -1;
    const msgpack_object *f = o->via.array.ptr;
    uint32_t size = o->via.array.size;
    uint64_t version;
    if (!s_uint (&f[0], &version) || version != S_VERSION)
        return -1;
    m->kind = s_kind (&f[1]);
    switch (m->kind) {
    case MSG_TRANSPORT_PEERS:
        if (size != 3)
            return -1;
        return s_peers (&f[2], m);
    case MSG_TRANSPORT_SEND:
        if (size != 4 || !s_id (&f[2], &m->to))
            return -1;
        return s_payload (&f[3], m);
    case MSG_TRANSPORT_RECV:
        if (size != 3)
            return -1;
        return s_payload (&f[2], m);
    case MSG_TRANSPORT_LINK:
        if (size != 4 || !s_id (&f[2], &m->to) ||
            f[3].type != MSGPACK_OBJECT_BOOLEAN)
            return -1;
        m->up = f[3].via.boolean;
        return 0;
    }
    return -1; /* unknown kind */
}

int
msg_transport_decode (zmsg_t *zm, msg_transport_t *m)
{
    memset (m, 0, sizeof *m);
    if (!zm || zmsg_size (zm) != 1)
        return -1;
    zframe_t *frame = zmsg_first (zm);
    msgpack_unpacked u;
    if (!s_unpack (&u, zframe_data (frame), zframe_size (frame)))
        return -1;
    int rc = s_decode (&u.data, m);
    msgpack_unpacked_destroy (&u);
    if (rc < 0)
        msg_transport_clear (m);
    return rc;
}

void
msg_transport_clear (msg_transport_t *m)
{
    if (!m)
        return;
    free (m->peers);
    free (m->payload);
    memset (m, 0, sizeof *m);
}
