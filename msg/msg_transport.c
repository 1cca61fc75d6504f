/*  msg_transport.c -- see msg_transport.h for the messages.

    Wire format, version 1: one zframe holding one msgpack array; "send"
    and "recv" add a second frame, the payload, as it is (a msg_raft.h
    message), so that it is never re-wrapped: the transport hands it to a
    peer's socket and from a peer's socket without a copy.

      [1, "peers", [[id, endpoint], ...]]
          1          positive fixint (the version)
          "peers"    str
          peers      array of at most RAFT_MAX_SERVERS (a configuration
                     holds no more servers; this node is left out), each a
                     2-element array:
            id       uint, not 0 ("none"), unique in the list
            endpoint str, 1 to MSG_ENDPOINT_MAX - 1 bytes, no NUL inside
                     (it becomes a NUL-terminated C string)
      [1, "send", to] + payload frame
          to         uint, not 0
          payload    at least 1 byte (a msg_raft.h message is never
                     empty; ZeroMQ peers never see an empty payload)
      [1, "recv", from] + payload frame
          from       uint, 0 when the link is not authenticated
          payload    at least 1 byte
      [1, "link", id, up]
          id         uint, not 0
          up         bool

    "uint" is any msgpack positive integer. Decoding refuses anything else:
    another number of frames, an empty payload, trailing bytes, another version or kind, an element
    of the wrong type, an array of the wrong length. The encoder applies the
    same rules, so whatever it produces decodes.
*/
#include "msg_transport.h"
#include "msg_util.h"

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
    case MSG_TRANSPORT_RECV:
        rc |= msgpack_pack_array (&pk, 3);
        rc |= msgpack_pack_uint8 (&pk, S_VERSION);
        rc |= s_pack_str (&pk, kind, strlen (kind));
        rc |= msgpack_pack_uint64 (
            &pk, m->kind == MSG_TRANSPORT_SEND ? m->to : m->from);
        break;
    case MSG_TRANSPORT_LINK:
        rc |= msgpack_pack_array (&pk, 4);
        rc |= msgpack_pack_uint8 (&pk, S_VERSION);
        rc |= s_pack_str (&pk, kind, strlen (kind));
        rc |= msgpack_pack_uint64 (&pk, m->to);
        if (m->up)
            rc |= msgpack_pack_true (&pk);
        else
            rc |= msgpack_pack_false (&pk);
        break;
    }
    zmsg_t *zm = NULL;
    if (rc == 0) {
        zm = zmsg_new ();
        if (zm && zmsg_addmem (zm, buf.data, buf.size) != 0)
            zmsg_destroy (&zm);
        if (zm &&
            (m->kind == MSG_TRANSPORT_SEND || m->kind == MSG_TRANSPORT_RECV) &&
            zmsg_addmem (zm, m->payload, m->payload_len) != 0)
            zmsg_destroy (&zm);
    }
    msgpack_sbuffer_destroy (&buf);
    return zm;
}

zframe_t *
msg_transport_header (msg_transport_kind_t kind, raft_id_t id)
{
    if (kind != MSG_TRANSPORT_SEND && kind != MSG_TRANSPORT_RECV)
        return NULL;
    if (kind == MSG_TRANSPORT_SEND && id == 0)
        return NULL;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    const char *name = s_kind_names[kind];
    int rc = msgpack_pack_array (&pk, 3);
    rc |= msgpack_pack_uint8 (&pk, S_VERSION);
    rc |= s_pack_str (&pk, name, strlen (name));
    rc |= msgpack_pack_uint64 (&pk, id);
    zframe_t *f = rc == 0 ? zframe_new (buf.data, buf.size) : NULL;
    msgpack_sbuffer_destroy (&buf);
    return f;
}

/*  ---------------------------------------------------------------------
    Decoding: check every type and bound                                 */

/* A non-zero server id (0 means "none" in raft.h). */
static bool
s_id (const msgpack_object *o, raft_id_t *v)
{
    return msg_get_uint (o, v) && *v != 0;
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
    if (!msg_get_uint (&f[0], &version) || version != S_VERSION)
        return -1;
    m->kind = s_kind (&f[1]);
    switch (m->kind) {
    case MSG_TRANSPORT_PEERS:
        if (size != 3)
            return -1;
        return s_peers (&f[2], m);
    case MSG_TRANSPORT_SEND: return size == 3 && s_id (&f[2], &m->to) ? 0 : -1;
    case MSG_TRANSPORT_RECV:
        return size == 3 && msg_get_uint (&f[2], &m->from) ? 0 : -1;
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
    if (!zm || zmsg_size (zm) < 1 || zmsg_size (zm) > 2)
        return -1;
    zframe_t *frame = zmsg_first (zm);
    msgpack_unpacked u;
    if (!msg_unpack_one (&u, zframe_data (frame), zframe_size (frame)))
        return -1;
    int rc = s_decode (&u.data, m);
    msgpack_unpacked_destroy (&u);
    bool carries =
        m->kind == MSG_TRANSPORT_SEND || m->kind == MSG_TRANSPORT_RECV;
    if (rc == 0 && zmsg_size (zm) != (carries ? 2u : 1u))
        rc = -1;
    if (rc == 0 && carries) {
        /* borrowed: valid while zm is */
        zframe_t *p = zmsg_next (zm);
        m->payload = zframe_data (p);
        m->payload_len = zframe_size (p);
        if (m->payload_len == 0)
            rc = -1;
    }
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
    memset (m, 0, sizeof *m); /* the payload is borrowed */
}
