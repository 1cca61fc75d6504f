/*  msg_api.c -- see msg_api.h for the format.

    Byte by byte, each message is one zframe holding one msgpack array
    (the ROUTER's identity frame, when there is one, is the caller's):

      request  = 99 01 a3 "req" req_id op key value stale peer id
                 (fixarray of 9; req_id and id as msgpack uints of any
                 width; op a str; key and value bin or nil; stale a bool;
                 peer a str shorter than RAFT_ADDR_MAX without NUL, or nil)
      reply    = 95 01 a3 "rep" req_id status body
                 (fixarray of 5; status a uint in 100..599; body one map)

    Nothing decoded here is trusted: the decoders check the frame count,
    the version, the kind, every field's type and every length, and
    refuse anything else with -1, leaving nothing to release.
*/
#include "msg_api.h"
#include "msg_util.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define MSG_API_VERSION 1
/* A key or value larger than this is refused (the HTTP side's limits are
   far lower; this only bounds what a forged message can make us copy). */
#define MSG_API_MAX_DATA (64u * 1024 * 1024)

static const char *s_op_names[] = {
    [MSG_API_PUT] = "put",       [MSG_API_GET] = "get",
    [MSG_API_DELETE] = "delete", [MSG_API_HEALTH] = "health",
    [MSG_API_JOIN] = "join",     [MSG_API_REMOVE] = "remove",
    [MSG_API_READ] = "read",
};
#define S_OP_MAX MSG_API_READ

/*  ---------------------------------------------------------------------
    Shared helpers                                                       */

/* The one frame of a message, or NULL if zm does not hold exactly one. */
static zframe_t *
s_only_frame (zmsg_t *zm)
{
    if (!zm || zmsg_size (zm) != 1)
        return NULL;
    return zmsg_first (zm);
}

static bool
s_str_is (const msgpack_object *o, const char *s)
{
    size_t n = strlen (s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp (o->via.str.ptr, s, n) == 0;
}

/* [version, kind, ...] with exactly n elements. */
static const msgpack_object *
s_header (const msgpack_object *o, uint32_t n, const char *kind)
{
    uint64_t version;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != n)
        return NULL;
    const msgpack_object *f = o->via.array.ptr;
    if (!msg_get_uint (&f[0], &version) || version != MSG_API_VERSION ||
        !s_str_is (&f[1], kind))
        return NULL;
    return f;
}

static zmsg_t *
s_zmsg_from (msgpack_sbuffer *buf)
{
    zmsg_t *zm = zmsg_new ();
    if (zm && zmsg_addmem (zm, buf->data, buf->size) != 0)
        zmsg_destroy (&zm);
    msgpack_sbuffer_destroy (buf);
    return zm;
}

static void
s_pack_str (msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str (pk, n);
    msgpack_pack_str_body (pk, s, n);
}

static void
s_pack_buf (msgpack_packer *pk, const raft_buf_t *b)
{
    if (!b) {
        msgpack_pack_nil (pk);
        return;
    }
    msgpack_pack_bin (pk, b->len);
    msgpack_pack_bin_body (pk, b->data, b->len);
}

/* bin -> new raft_buf_t, nil -> NULL. False on any other type, an
   oversized buffer or allocation failure. */
static bool
s_buf (const msgpack_object *o, raft_buf_t **out)
{
    *out = NULL;
    if (o->type == MSGPACK_OBJECT_NIL)
        return true;
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size > MSG_API_MAX_DATA)
        return false;
    *out = raft_buf_new (o->via.bin.ptr, o->via.bin.size);
    return *out != NULL;
}

/*  ---------------------------------------------------------------------
    Requests                                                             */

zmsg_t *
msg_api_req_encode (const msg_api_req_t *req)
{
    if (!req || req->op < MSG_API_PUT || req->op > S_OP_MAX)
        return NULL;
    size_t peer_len = strnlen (req->peer, RAFT_ADDR_MAX);
    if (peer_len >= RAFT_ADDR_MAX)
        return NULL; /* not NUL-terminated: the decoder would refuse it */
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 9);
    msgpack_pack_uint8 (&pk, MSG_API_VERSION);
    s_pack_str (&pk, "req", 3);
    msgpack_pack_uint64 (&pk, req->req_id);
    const char *op = s_op_names[req->op];
    s_pack_str (&pk, op, strlen (op));
    s_pack_buf (&pk, req->key);
    s_pack_buf (&pk, req->value);
    if (req->stale)
        msgpack_pack_true (&pk);
    else
        msgpack_pack_false (&pk);
    if (peer_len)
        s_pack_str (&pk, req->peer, peer_len);
    else
        msgpack_pack_nil (&pk);
    msgpack_pack_uint64 (&pk, req->id);
    return s_zmsg_from (&buf);
}

static int
s_req_fields (const msgpack_object *o, msg_api_req_t *req)
{
    const msgpack_object *f = s_header (o, 9, "req");
    if (!f || !msg_get_uint (&f[2], &req->req_id) ||
        f[3].type != MSGPACK_OBJECT_STR)
        return -1;
    for (int op = MSG_API_PUT; op <= S_OP_MAX; op++)
        if (s_str_is (&f[3], s_op_names[op]))
            req->op = (msg_api_op_t)op;
    if (req->op == 0 || !s_buf (&f[4], &req->key) ||
        !s_buf (&f[5], &req->value) || f[6].type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    req->stale = f[6].via.boolean;
    if (f[7].type == MSGPACK_OBJECT_STR) {
        if (!msg_str_clean (&f[7], RAFT_ADDR_MAX))
            return -1;
        msg_str_copy (req->peer, &f[7]);
    } else if (f[7].type != MSGPACK_OBJECT_NIL) {
        return -1;
    }
    if (!msg_get_uint (&f[8], &req->id))
        return -1;
    return 0;
}

int
msg_api_req_decode (zmsg_t *zm, msg_api_req_t *req)
{
    memset (req, 0, sizeof *req);
    zframe_t *frame = s_only_frame (zm);
    if (!frame)
        return -1;
    msgpack_unpacked u;
    if (!msg_unpack_one (&u, zframe_data (frame), zframe_size (frame)))
        return -1;
    int rc = s_req_fields (&u.data, req);
    msgpack_unpacked_destroy (&u);
    if (rc < 0)
        msg_api_req_clear (req);
    return rc;
}

void
msg_api_req_clear (msg_api_req_t *req)
{
    if (!req)
        return;
    raft_buf_unref (req->key);
    raft_buf_unref (req->value);
    memset (req, 0, sizeof *req);
}

/*  ---------------------------------------------------------------------
    Replies                                                              */

/* body must be exactly one msgpack map. */
static bool
s_body_is_map (const void *body, size_t body_len)
{
    msgpack_unpacked u;
    if (!msg_unpack_one (&u, body, body_len))
        return false;
    bool ok = u.data.type == MSGPACK_OBJECT_MAP;
    msgpack_unpacked_destroy (&u);
    return ok;
}

zmsg_t *
msg_api_rep_encode (uint64_t req_id, unsigned status, const void *body,
                    size_t body_len)
{
    static const uint8_t empty_map = 0x80;
    if (!body || body_len == 0) {
        body = &empty_map;
        body_len = 1;
    }
    /* Refuse here what the decoder would refuse, so that a bad reply shows
       up as an error at its source rather than as a timeout. */
    if (status < 100 || status > 599 || !s_body_is_map (body, body_len))
        return NULL;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 5);
    msgpack_pack_uint8 (&pk, MSG_API_VERSION);
    s_pack_str (&pk, "rep", 3);
    msgpack_pack_uint64 (&pk, req_id);
    msgpack_pack_unsigned_int (&pk, status);
    /* The body is already msgpack: append its bytes as they are. */
    msgpack_sbuffer_write (&buf, body, body_len);
    return s_zmsg_from (&buf);
}

int
msg_api_rep_decode (zmsg_t *zm, msg_api_rep_t *rep)
{
    memset (rep, 0, sizeof *rep);
    zframe_t *frame = s_only_frame (zm);
    if (!frame)
        return -1;
    msgpack_unpacked u;
    if (!msg_unpack_one (&u, zframe_data (frame), zframe_size (frame)))
        return -1;
    int rc = -1;
    uint64_t status;
    const msgpack_object *f = s_header (&u.data, 5, "rep");
    if (f && msg_get_uint (&f[2], &rep->req_id) &&
        msg_get_uint (&f[3], &status) && status >= 100 && status <= 599 &&
        f[4].type == MSGPACK_OBJECT_MAP) {
        /* Re-encode the body map to hand out its own bytes: msgpack-c
           keeps no offsets into the input. */
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
        if (msgpack_pack_object (&pk, f[4]) == 0 && buf.size > 0 &&
            (rep->body = malloc (buf.size)) != NULL) {
            memcpy (rep->body, buf.data, buf.size);
            rep->body_len = buf.size;
            rep->status = (unsigned)status;
            rc = 0;
        }
        msgpack_sbuffer_destroy (&buf);
    }
    msgpack_unpacked_destroy (&u);
    if (rc < 0)
        msg_api_rep_clear (rep);
    return rc;
}

void
msg_api_rep_clear (msg_api_rep_t *rep)
{
    if (!rep)
        return;
    free (rep->body);
    memset (rep, 0, sizeof *rep);
}
