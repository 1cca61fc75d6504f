/*  msg_kv_result.c -- the state machine's result of one entry, from the
    storage actor (which applied it) through the raft actor to the HTTP
    worker that renders it (format in msg_store.h, "KV results"); also
    a session's kept replies (msg_kv_session.c). A result with session
    fields (an SOPEN's id and TTL, a duplicate's flag) has three more
    elements: [..., session: uint, ttl_ms: uint, duplicate: bool,
    first_index: uint]. A result with lease fields (kvsm_result_t's
    lease, lease_ttl_ms, expired, lease_event, lease_deleted: an LGRANT's
    or LREVOKE's) has those four and five more: [..., lease: uint, lease_ttl_ms: uint, expired: bool,
    lease_event: uint (0 none, 1 granted, 2 revoked), deleted: uint].
*/
#include "msg_store.h"
#include "msg_util.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define S_RESULT_VERSION 1
/* A TXN answers one resp per op of one branch; a PUT or DELETE one. */
#define S_RESPS_MAX KVSM_TXN_MAX_OPS

raft_buf_t *
msg_kv_result_encode (const kvsm_result_t *res)
{
    if (!res || res->n_resps > S_RESPS_MAX || (res->n_resps && !res->resps))
        return NULL;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    bool lease = res->lease || res->lease_ttl_ms || res->expired ||
                 res->lease_event || res->lease_deleted;
    bool sess = lease || res->session || res->ttl_ms || res->duplicate ||
                res->first_index;
    msgpack_pack_array (&pk, lease ? 14 : sess ? 9 : 5);
    msgpack_pack_uint8 (&pk, S_RESULT_VERSION);
    msgpack_pack_uint8 (&pk, (uint8_t)res->status);
    msgpack_pack_uint8 (&pk, (uint8_t)res->op);
    msg_pack_bool (&pk, res->succeeded);
    msgpack_pack_array (&pk, res->n_resps);
    for (size_t i = 0; i < res->n_resps; i++) {
        const kvsm_resp_t *r = &res->resps[i];
        msgpack_pack_array (&pk, 7);
        msgpack_pack_uint8 (&pk, (uint8_t)r->op);
        msg_pack_buf (&pk, r->key);
        msg_pack_bool (&pk, r->found);
        msgpack_pack_uint64 (&pk, r->meta.create_index);
        msgpack_pack_uint64 (&pk, r->meta.mod_index);
        msgpack_pack_uint64 (&pk, r->meta.version);
        if (r->value)
            msg_pack_buf (&pk, r->value);
        else
            msgpack_pack_nil (&pk);
    }
    if (sess) {
        msgpack_pack_uint64 (&pk, res->session);
        msgpack_pack_uint64 (&pk, res->ttl_ms);
        msg_pack_bool (&pk, res->duplicate);
        msgpack_pack_uint64 (&pk, res->first_index);
    }
    if (lease) {
        msgpack_pack_uint64 (&pk, res->lease);
        msgpack_pack_uint64 (&pk, res->lease_ttl_ms);
        msg_pack_bool (&pk, res->expired);
        msgpack_pack_uint8 (&pk, (uint8_t)res->lease_event);
        msgpack_pack_uint64 (&pk, res->lease_deleted);
    }
    raft_buf_t *b = raft_buf_new (buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
    return b;
}

static bool
s_resp (const msgpack_object *o, kvsm_resp_t *r)
{
    uint64_t op;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 7)
        return false;
    const msgpack_object *f = o->via.array.ptr;
    if (!msg_get_uint (&f[0], &op) || op < KVSM_PUT || op > KVSM_GET ||
        op == KVSM_TXN || !(r->key = msg_buf_of (&f[1])) ||
        !msg_get_bool (&f[2], &r->found) ||
        !msg_get_uint (&f[3], &r->meta.create_index) ||
        !msg_get_uint (&f[4], &r->meta.mod_index) ||
        !msg_get_uint (&f[5], &r->meta.version))
        return false;
    r->op = (kvsm_op_t)op;
    if (f[6].type == MSGPACK_OBJECT_NIL)
        return true;
    return (r->value = msg_buf_of (&f[6])) != NULL;
}

/* The lease fields of a 14-element result. */
static bool
s_lease_fields (const msgpack_object *f, kvsm_result_t *res)
{
    uint64_t ev;
    if (!msg_get_uint (&f[9], &res->lease) ||
        !msg_get_uint (&f[10], &res->lease_ttl_ms) ||
        !msg_get_bool (&f[11], &res->expired) || !msg_get_uint (&f[12], &ev) ||
        ev > KVSM_LEASE_EV_REVOKED ||
        !msg_get_uint (&f[13], &res->lease_deleted))
        return false;
    res->lease_event = ev;
    return true;
}

static int
s_result (const msgpack_object *o, kvsm_result_t *res)
{
    uint64_t version, status, op;
    uint32_t size = o->type == MSGPACK_OBJECT_ARRAY ? o->via.array.size : 0;
    if (size != 5 && size != 9 && size != 14)
        return -1;
    const msgpack_object *f = o->via.array.ptr;
    if (!msg_get_uint (&f[0], &version) || version != S_RESULT_VERSION ||
        !msg_get_uint (&f[1], &status) || status > KVSM_STATUS_MAX ||
        !msg_get_uint (&f[2], &op) || op < KVSM_PUT || op > KVSM_LREVOKE ||
        op == KVSM_GET || (size == 14 && !s_lease_fields (f, res)) ||
        (o->via.array.size >= 9 &&
         (!msg_get_uint (&f[5], &res->session) ||
          !msg_get_uint (&f[6], &res->ttl_ms) ||
          !msg_get_bool (&f[7], &res->duplicate) ||
          !msg_get_uint (&f[8], &res->first_index))) ||
        !msg_get_bool (&f[3], &res->succeeded) ||
        f[4].type != MSGPACK_OBJECT_ARRAY || f[4].via.array.size > S_RESPS_MAX)
        return -1;
    res->status = (kvsm_status_t)status;
    res->op = (kvsm_op_t)op;
    uint32_t n = f[4].via.array.size;
    res->resps = calloc (n ? n : 1, sizeof *res->resps);
    if (!res->resps)
        return -1;
    res->n_resps = n; /* zeroed: kvsm_result_clear frees what was read */
    for (uint32_t i = 0; i < n; i++)
        if (!s_resp (&f[4].via.array.ptr[i], &res->resps[i]))
            return -1;
    return 0;
}

int
msg_kv_result_decode (const void *data, size_t len, kvsm_result_t *res)
{
    memset (res, 0, sizeof *res);
    msgpack_unpacked u;
    if (!data || !msg_unpack_one (&u, data, len))
        return -1;
    int rc = s_result (&u.data, res);
    msgpack_unpacked_destroy (&u);
    if (rc < 0)
        kvsm_result_clear (res);
    return rc;
}
