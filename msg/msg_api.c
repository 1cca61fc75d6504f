/*  msg_api.c -- see msg_api.h for the format.

    Byte by byte, each message is one zframe holding one msgpack array
    (the ROUTER's identity frame, when there is one, is the caller's):

      request  = 9a 01 a3 "req" req_id op key value stale peer id forward
                 (fixarray of 10; req_id and id as msgpack uints of any
                 width; op a str; key and value bin or nil; stale a bool;
                 peer a str shorter than RAFT_ADDR_MAX without NUL, or nil;
                 forward a uint 0..2, msg_api_forward_t)
      reply    = 9n 01 a3 "rep" req_id status kind fields...
                 (fixarray of n = 5 + the kind's fields; status a uint in
                 100..599; kind a str; then, by kind:
                   "empty"    nothing                               (n = 5)
                   "error"    code: str of 1..MSG_API_CODE_MAX bytes,
                              detail: str up to MSG_API_DETAIL_MAX or nil,
                              has_leader: bool, leader: str < RAFT_ADDR_MAX
                              or nil                                (n = 9)
                   "written"  key: bin or nil, index: uint, deleted: bool,
                              flag: bool                            (n = 9)
                   "value"    key: bin or nil, value: bin or nil, stale:
                              bool                                  (n = 8)
                   "conf"     id: uint, index: uint                 (n = 7)
                   "health"   one array, msg_api_health.c           (n = 6)
                   "kv"       index: uint, result: bin (the state
                              machine's, msg_kv_result_encode)      (n = 7)
                   "lease"    id: uint, ttl_ms: uint, remaining_ms:
                              uint or nil (not known here)          (n = 8)
                 strings hold no NUL: the decoder hands out C strings)

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
    [MSG_API_PUT] = "put",
    [MSG_API_GET] = "get",
    [MSG_API_DELETE] = "delete",
    [MSG_API_HEALTH] = "health",
    [MSG_API_JOIN] = "join",
    [MSG_API_REMOVE] = "remove",
    [MSG_API_READ] = "read",
    [MSG_API_CMD] = "cmd",
    [MSG_API_LEASE_KEEPALIVE] = "lkeepalive",
    [MSG_API_LEASE_INFO] = "linfo",
};
#define S_OP_MAX MSG_API_OP_LAST

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
    msgpack_pack_array (&pk, 10);
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
    msgpack_pack_uint8 (&pk, (uint8_t)req->forward);
    return s_zmsg_from (&buf);
}

static int
s_req_fields (const msgpack_object *o, msg_api_req_t *req)
{
    const msgpack_object *f = s_header (o, 10, "req");
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
    uint64_t forward;
    if (!msg_get_uint (&f[8], &req->id) || !msg_get_uint (&f[9], &forward) ||
        forward > MSG_API_FORWARD_NO)
        return -1;
    req->forward = (msg_api_forward_t)forward;
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

static const char *s_kind_names[] = {
    [MSG_API_REP_EMPTY] = "empty",     [MSG_API_REP_ERROR] = "error",
    [MSG_API_REP_WRITTEN] = "written", [MSG_API_REP_VALUE] = "value",
    [MSG_API_REP_CONF] = "conf",       [MSG_API_REP_HEALTH] = "health",
    [MSG_API_REP_KV] = "kv",           [MSG_API_REP_LEASE] = "lease",
};
#define S_KIND_MAX MSG_API_REP_LAST
/* The array's length for each kind (see the top). */
static const uint32_t s_kind_fields[] = {
    [MSG_API_REP_EMPTY] = 5, [MSG_API_REP_ERROR] = 9, [MSG_API_REP_WRITTEN] = 9,
    [MSG_API_REP_VALUE] = 8, [MSG_API_REP_CONF] = 7,  [MSG_API_REP_HEALTH] = 6,
    [MSG_API_REP_KV] = 7,    [MSG_API_REP_LEASE] = 8,
};

/* A string the decoder takes: no NUL, shorter than max. */
static bool
s_str_ok (const char *s, size_t max)
{
    return s && strnlen (s, max) < max;
}

static void
s_pack_cstr_or_nil (msgpack_packer *pk, const char *s)
{
    if (s)
        s_pack_str (pk, s, strlen (s));
    else
        msgpack_pack_nil (pk);
}

zmsg_t *
msg_api_rep_encode (const msg_api_rep_t *rep)
{
    if (!rep || rep->kind < MSG_API_REP_EMPTY || rep->kind > S_KIND_MAX ||
        rep->status < 100 || rep->status > 599)
        return NULL;
    if (rep->kind == MSG_API_REP_ERROR &&
        (!s_str_ok (rep->code, MSG_API_CODE_MAX + 1) || !*rep->code ||
         (rep->detail && !s_str_ok (rep->detail, MSG_API_DETAIL_MAX + 1)) ||
         (rep->leader && !s_str_ok (rep->leader, RAFT_ADDR_MAX))))
        return NULL;
    if ((rep->kind == MSG_API_REP_WRITTEN || rep->kind == MSG_API_REP_VALUE) &&
        ((rep->key && rep->key->len > MSG_API_MAX_DATA) ||
         (rep->value && rep->value->len > MSG_API_MAX_DATA)))
        return NULL;
    if (rep->kind == MSG_API_REP_HEALTH && !rep->health)
        return NULL;
    if (rep->kind == MSG_API_REP_KV &&
        (!rep->value || rep->value->len > MSG_API_MAX_DATA))
        return NULL;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, s_kind_fields[rep->kind]);
    msgpack_pack_uint8 (&pk, MSG_API_VERSION);
    s_pack_str (&pk, "rep", 3);
    msgpack_pack_uint64 (&pk, rep->req_id);
    msgpack_pack_unsigned_int (&pk, rep->status);
    const char *kind = s_kind_names[rep->kind];
    s_pack_str (&pk, kind, strlen (kind));
    switch (rep->kind) {
    case MSG_API_REP_EMPTY: break;
    case MSG_API_REP_ERROR:
        s_pack_str (&pk, rep->code, strlen (rep->code));
        s_pack_cstr_or_nil (&pk, rep->detail);
        msg_pack_bool (&pk, rep->has_leader);
        s_pack_cstr_or_nil (&pk, rep->leader);
        break;
    case MSG_API_REP_WRITTEN:
        s_pack_buf (&pk, rep->key);
        msgpack_pack_uint64 (&pk, rep->index);
        msg_pack_bool (&pk, rep->is_delete);
        msg_pack_bool (&pk, rep->flag);
        break;
    case MSG_API_REP_VALUE:
        s_pack_buf (&pk, rep->key);
        s_pack_buf (&pk, rep->value);
        msg_pack_bool (&pk, rep->stale);
        break;
    case MSG_API_REP_CONF:
        msgpack_pack_uint64 (&pk, rep->id);
        msgpack_pack_uint64 (&pk, rep->index);
        break;
    case MSG_API_REP_HEALTH: msg_api_health_pack (&pk, rep->health); break;
    case MSG_API_REP_KV:
        msgpack_pack_uint64 (&pk, rep->index);
        s_pack_buf (&pk, rep->value);
        break;
    case MSG_API_REP_LEASE:
        msgpack_pack_uint64 (&pk, rep->id);
        msgpack_pack_uint64 (&pk, rep->ttl_ms);
        if (rep->has_remaining)
            msgpack_pack_uint64 (&pk, rep->remaining_ms);
        else
            msgpack_pack_nil (&pk);
        break;
    }
    return s_zmsg_from (&buf);
}

/* A str of fewer than max bytes without NUL -> a malloc'ed C string; nil
   -> NULL when nil_ok. False on anything else. */
static bool
s_cstr (const msgpack_object *o, size_t max, bool nil_ok, const char **out)
{
    *out = NULL;
    if (o->type == MSGPACK_OBJECT_NIL)
        return nil_ok;
    if (!msg_str_clean (o, max))
        return false;
    char *s = malloc (o->via.str.size + 1);
    if (!s)
        return false;
    msg_str_copy (s, o);
    *out = s;
    return true;
}

static int
s_rep_fields (const msgpack_object *o, msg_api_rep_t *rep)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 5)
        return -1;
    const msgpack_object *f = o->via.array.ptr;
    uint64_t status;
    for (int k = MSG_API_REP_EMPTY; k <= S_KIND_MAX; k++)
        if (s_str_is (&f[4], s_kind_names[k]))
            rep->kind = (msg_api_rep_kind_t)k;
    if (rep->kind == 0 || !s_header (o, s_kind_fields[rep->kind], "rep") ||
        !msg_get_uint (&f[2], &rep->req_id) || !msg_get_uint (&f[3], &status) ||
        status < 100 || status > 599)
        return -1;
    rep->status = (unsigned)status;
    switch (rep->kind) {
    case MSG_API_REP_EMPTY: return 0;
    case MSG_API_REP_ERROR:
        if (!s_cstr (&f[5], MSG_API_CODE_MAX + 1, false, &rep->code) ||
            !*rep->code ||
            !s_cstr (&f[6], MSG_API_DETAIL_MAX + 1, true, &rep->detail) ||
            !msg_get_bool (&f[7], &rep->has_leader) ||
            !s_cstr (&f[8], RAFT_ADDR_MAX, true, &rep->leader))
            return -1;
        return 0;
    case MSG_API_REP_WRITTEN:
        return s_buf (&f[5], &rep->key) && msg_get_uint (&f[6], &rep->index) &&
                       msg_get_bool (&f[7], &rep->is_delete) &&
                       msg_get_bool (&f[8], &rep->flag)
                   ? 0
                   : -1;
    case MSG_API_REP_VALUE:
        return s_buf (&f[5], &rep->key) && s_buf (&f[6], &rep->value) &&
                       msg_get_bool (&f[7], &rep->stale)
                   ? 0
                   : -1;
    case MSG_API_REP_CONF:
        return msg_get_uint (&f[5], &rep->id) &&
                       msg_get_uint (&f[6], &rep->index)
                   ? 0
                   : -1;
    case MSG_API_REP_HEALTH:
        rep->health = msg_api_health_unpack (&f[5]);
        return rep->health ? 0 : -1;
    case MSG_API_REP_KV:
        return msg_get_uint (&f[5], &rep->index) &&
                       s_buf (&f[6], &rep->value) && rep->value
                   ? 0
                   : -1;
    case MSG_API_REP_LEASE:
        if (!msg_get_uint (&f[5], &rep->id) ||
            !msg_get_uint (&f[6], &rep->ttl_ms))
            return -1;
        rep->has_remaining = f[7].type != MSGPACK_OBJECT_NIL;
        return !rep->has_remaining || msg_get_uint (&f[7], &rep->remaining_ms)
                   ? 0
                   : -1;
    }
    return -1;
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
    int rc = s_rep_fields (&u.data, rep);
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
    free ((char *)rep->code);
    free ((char *)rep->detail);
    free ((char *)rep->leader);
    raft_buf_unref (rep->key);
    raft_buf_unref (rep->value);
    free ((msg_health_t *)rep->health);
    memset (rep, 0, sizeof *rep);
}
