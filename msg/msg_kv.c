/*  msg_kv.c -- the KV commands that NORMAL log entries carry (formats in
    msg_store.h; the snapshot data of InstallSnapshot chunks: msg_snap.c).

    Version 3 (client sessions, store/kvsm_session.h): version 2 plus
      [3, "sopen", ttl_ms: uint, stamp_ms: uint]
      [3, "sclose", session: uint, stamp_ms: uint]
      [3, "put", key, value, [cmp, ...], sess]
      [3, "del", key, [cmp, ...], sess]
      [3, "txn", [cmp, ...], [op, ...], [op, ...], sess]
      sess: [session: uint, seq: uint, ack: uint, stamp_ms: uint]
    A write without a session is still written as version 2, byte for byte
    as before; only session commands are 3, so that a build that knows 2
    alone stops at them (-2, "upgrade this node") rather than skipping
    them as malformed and diverging. ttl_ms is 1 .. 7 days, seq >= 1.

    Version 4 (leases, store/kvsm_lease.h): version 3 plus
      [4, "lgrant", ttl_ms: uint]          1 .. KVSM_LEASE_TTL_MAX_MS
      [4, "lrevoke", lease: uint, expired: bool]          lease >= 1
      [4, "put", key, value, [cmp, ...], sess | nil, lease: uint]
                                           a put with a lease (>= 1)
      [4, "txn", [cmp, ...], [op, ...], [op, ...], sess | nil]
                                           a txn with a leased put
      op: version 2's, or ["put", key, value, lease: uint] (lease >= 1)
    Only a command that names a lease is written as 4 (the lowest version
    that expresses a command is the one written), for the reason version
    3 is: a build that knows 3 alone stops at it. A delete never is.
*/
#include "kvsm_lease.h"
#include "kvsm_session.h"
#include "msg_store.h"
#include "msg_util.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* MSG_KV_VERSION: what new commands are written as (kvsm.h's
   KVSM_CMD_V2); version 1 commands still decode (old logs). */
#define MSG_KV_VERSION KVSM_CMD_V2

static const char *
s_op_name (kvsm_op_t op)
{
    switch (op) {
    case KVSM_PUT: return "put";
    case KVSM_DEL: return "del";
    case KVSM_TXN: return "txn";
    case KVSM_GET: return "get";
    case KVSM_SOPEN: return "sopen";
    case KVSM_SCLOSE: return "sclose";
    case KVSM_LGRANT: return "lgrant";
    case KVSM_LREVOKE: return "lrevoke";
    }
    return NULL;
}

static void
s_pack_cmps (msgpack_packer *pk, const kvsm_cmp_t *c, size_t n)
{
    msgpack_pack_array (pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_array (pk, 4);
        msg_pack_buf (pk, c[i].key);
        msgpack_pack_uint8 (pk, (uint8_t)c[i].target);
        msgpack_pack_uint8 (pk, (uint8_t)c[i].op);
        if (c[i].target == KVSM_T_VALUE)
            msg_pack_buf (pk, c[i].value);
        else
            msgpack_pack_uint64 (pk, c[i].num);
    }
}

static void
s_pack_ops (msgpack_packer *pk, const kvsm_txn_op_t *o, size_t n)
{
    msgpack_pack_array (pk, n);
    for (size_t i = 0; i < n; i++) {
        bool lease = o[i].op == KVSM_PUT && o[i].lease;
        msgpack_pack_array (pk, o[i].op == KVSM_PUT ? 3 + lease : 2);
        msg_pack_cstr (pk, s_op_name (o[i].op));
        msg_pack_buf (pk, o[i].key);
        if (o[i].op == KVSM_PUT)
            msg_pack_buf (pk, o[i].value);
        if (lease)
            msgpack_pack_uint64 (pk, o[i].lease);
    }
}

/* Does cmd name a lease (version 4)? */
static bool
s_needs_v4 (const msg_kv_t *cmd)
{
    if (cmd->op == KVSM_LGRANT || cmd->op == KVSM_LREVOKE ||
        (cmd->op == KVSM_PUT && cmd->lease))
        return true;
    for (size_t i = 0;
         cmd->op == KVSM_TXN && cmd->ops && i < cmd->n_success + cmd->n_failure;
         i++)
        if (cmd->ops[i].lease)
            return true;
    return false;
}

/* Can cmd be encoded? Keys (and a PUT's value) present, ops known,
   bounds kept: a command the decoder would refuse is the caller's bug. */
static bool
s_cmd_ok (const msg_kv_t *cmd, unsigned version)
{
    bool sess_op = cmd->op == KVSM_SOPEN || cmd->op == KVSM_SCLOSE;
    bool v4 = s_needs_v4 (cmd);
    if ((version == KVSM_CMD_V4) != v4 ||
        (!v4 && (version == KVSM_CMD_V3) != (sess_op || cmd->has_session)))
        return false;
    if (cmd->op == KVSM_LGRANT)
        return !cmd->has_session && cmd->ttl_ms >= 1 &&
               cmd->ttl_ms <= KVSM_LEASE_TTL_MAX_MS;
    if (cmd->op == KVSM_LREVOKE)
        return !cmd->has_session && cmd->lease >= 1;
    if (cmd->op != KVSM_PUT && cmd->lease)
        return false;
    if (cmd->has_session && cmd->seq == 0)
        return false;
    if (cmd->op == KVSM_SOPEN)
        return cmd->ttl_ms >= 1 && cmd->ttl_ms <= KVSM_SESSION_TTL_MAX_MS;
    if (cmd->op == KVSM_SCLOSE)
        return true;
    if (version == KVSM_CMD_V1)
        return (cmd->op == KVSM_PUT || cmd->op == KVSM_DEL) && cmd->key &&
               (cmd->op != KVSM_PUT || cmd->value) && cmd->n_cmps == 0;
    if (cmd->n_cmps > KVSM_TXN_MAX_CMPS || cmd->n_success > KVSM_TXN_MAX_OPS ||
        cmd->n_failure > KVSM_TXN_MAX_OPS)
        return false;
    for (size_t i = 0; i < cmd->n_cmps; i++) {
        const kvsm_cmp_t *c = &cmd->cmps[i];
        if (!c->key || c->target < KVSM_T_VALUE || c->target > KVSM_T_EXISTS ||
            c->op < KVSM_EQ || c->op > KVSM_GT ||
            (c->target == KVSM_T_VALUE && !c->value) ||
            (c->target == KVSM_T_EXISTS && c->num > 1))
            return false;
    }
    switch (cmd->op) {
    case KVSM_PUT: return cmd->key && cmd->value;
    case KVSM_DEL: return cmd->key != NULL;
    case KVSM_TXN:
        for (size_t i = 0; i < cmd->n_success + cmd->n_failure; i++) {
            const kvsm_txn_op_t *o = &cmd->ops[i];
            if (!o->key ||
                (o->op != KVSM_PUT && o->op != KVSM_DEL && o->op != KVSM_GET) ||
                (o->op == KVSM_PUT && !o->value) ||
                (o->op != KVSM_PUT && o->lease))
                return false;
        }
        return true;
    case KVSM_GET:
    case KVSM_SOPEN:
    case KVSM_SCLOSE:
    case KVSM_LGRANT:
    case KVSM_LREVOKE: break;
    }
    return false;
}

static void
s_pack_sess (msgpack_packer *pk, const msg_kv_t *cmd)
{
    msgpack_pack_array (pk, 4);
    msgpack_pack_uint64 (pk, cmd->session);
    msgpack_pack_uint64 (pk, cmd->seq);
    msgpack_pack_uint64 (pk, cmd->ack);
    msgpack_pack_uint64 (pk, cmd->stamp_ms);
}

/* The sess slot: version 3, only with a session; version 4, always
   (nil without one). */
static void
s_pack_sess_v (msgpack_packer *pk, const msg_kv_t *cmd, bool v4)
{
    if (cmd->has_session)
        s_pack_sess (pk, cmd);
    else if (v4)
        msgpack_pack_nil (pk);
}

raft_buf_t *
msg_kv_encode (const msg_kv_t *cmd)
{
    bool sess =
        cmd->has_session || cmd->op == KVSM_SOPEN || cmd->op == KVSM_SCLOSE;
    unsigned version = cmd->version       ? cmd->version
                       : s_needs_v4 (cmd) ? KVSM_CMD_V4
                       : sess             ? KVSM_CMD_V3
                                          : MSG_KV_VERSION;
    if (!s_cmd_ok (cmd, version))
        return NULL;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    bool put = cmd->op == KVSM_PUT;
    bool v4 = version == KVSM_CMD_V4;
    /* the trailing sess (version 4: always, nil without a session), and
       version 4's put's lease */
    unsigned extra = v4 ? 1 + put : cmd->has_session;
    if (cmd->op == KVSM_LGRANT || cmd->op == KVSM_LREVOKE) {
        bool grant = cmd->op == KVSM_LGRANT;
        msgpack_pack_array (&pk, grant ? 3 : 4);
        msgpack_pack_uint8 (&pk, KVSM_CMD_V4);
        msg_pack_cstr (&pk, s_op_name (cmd->op));
        msgpack_pack_uint64 (&pk, grant ? cmd->ttl_ms : cmd->lease);
        if (!grant)
            msg_pack_bool (&pk, cmd->expired);
    } else if (cmd->op == KVSM_SOPEN || cmd->op == KVSM_SCLOSE) {
        msgpack_pack_array (&pk, 4);
        msgpack_pack_uint8 (&pk, KVSM_CMD_V3);
        msg_pack_cstr (&pk, s_op_name (cmd->op));
        msgpack_pack_uint64 (&pk, cmd->op == KVSM_SOPEN ? cmd->ttl_ms
                                                        : cmd->session);
        msgpack_pack_uint64 (&pk, cmd->stamp_ms);
    } else if (version == KVSM_CMD_V1) {
        msgpack_pack_array (&pk, put ? 4 : 3);
        msgpack_pack_uint8 (&pk, KVSM_CMD_V1);
        msg_pack_cstr (&pk, s_op_name (cmd->op));
        msg_pack_buf (&pk, cmd->key);
        if (put)
            msg_pack_buf (&pk, cmd->value);
    } else if (cmd->op == KVSM_TXN) {
        msgpack_pack_array (&pk, 5 + extra);
        msgpack_pack_uint8 (&pk, (uint8_t)version);
        msg_pack_cstr (&pk, "txn");
        s_pack_cmps (&pk, cmd->cmps, cmd->n_cmps);
        s_pack_ops (&pk, cmd->ops, cmd->n_success);
        s_pack_ops (&pk, cmd->ops + cmd->n_success, cmd->n_failure);
        s_pack_sess_v (&pk, cmd, v4);
    } else {
        msgpack_pack_array (&pk, (put ? 5 : 4) + extra);
        msgpack_pack_uint8 (&pk, (uint8_t)version);
        msg_pack_cstr (&pk, s_op_name (cmd->op));
        msg_pack_buf (&pk, cmd->key);
        if (put)
            msg_pack_buf (&pk, cmd->value);
        s_pack_cmps (&pk, cmd->cmps, cmd->n_cmps);
        s_pack_sess_v (&pk, cmd, v4);
        if (v4)
            msgpack_pack_uint64 (&pk, cmd->lease);
    }
    raft_buf_t *b = raft_buf_new (buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
    return b;
}

static bool
s_unpack_cmps (const msgpack_object *o, msg_kv_t *cmd)
{
    if (o->type != MSGPACK_OBJECT_ARRAY ||
        o->via.array.size > KVSM_TXN_MAX_CMPS)
        return false;
    uint32_t n = o->via.array.size;
    cmd->cmps = calloc (n ? n : 1, sizeof *cmd->cmps);
    if (!cmd->cmps)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *c = &o->via.array.ptr[i];
        kvsm_cmp_t *d = &cmd->cmps[i];
        uint64_t target, op;
        if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size != 4)
            return false;
        const msgpack_object *f = c->via.array.ptr;
        cmd->n_cmps = i + 1; /* what kvsm_cmd_clear frees */
        if (!(d->key = msg_buf_of (&f[0])) || !msg_get_uint (&f[1], &target) ||
            !msg_get_uint (&f[2], &op) || target < KVSM_T_VALUE ||
            target > KVSM_T_EXISTS || op < KVSM_EQ || op > KVSM_GT)
            return false;
        d->target = (kvsm_target_t)target;
        d->op = (kvsm_cmp_op_t)op;
        if (d->target == KVSM_T_VALUE) {
            if (!(d->value = msg_buf_of (&f[3])))
                return false;
        } else if (!msg_get_uint (&f[3], &d->num) ||
                   (d->target == KVSM_T_EXISTS && d->num > 1)) {
            return false;
        }
    }
    return true;
}

/* One branch of a TXN into cmd->ops from index at. */
static bool
s_unpack_ops (const msgpack_object *o, msg_kv_t *cmd, size_t at, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *p = &o->via.array.ptr[i];
        kvsm_txn_op_t *d = &cmd->ops[at + i];
        if (p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size < 2)
            return false;
        const msgpack_object *f = p->via.array.ptr;
        uint32_t size = p->via.array.size;
        if (msg_str_is (&f[0], "put") &&
            (size == 3 || (size == 4 && cmd->version == KVSM_CMD_V4))) {
            d->op = KVSM_PUT;
            if (size == 4 && (!msg_get_uint (&f[3], &d->lease) || !d->lease))
                return false;
        } else if (msg_str_is (&f[0], "del") && size == 2)
            d->op = KVSM_DEL;
        else if (msg_str_is (&f[0], "get") && size == 2)
            d->op = KVSM_GET;
        else
            return false;
        if (!(d->key = msg_buf_of (&f[1])) ||
            (d->op == KVSM_PUT && !(d->value = msg_buf_of (&f[2]))))
            return false;
    }
    return true;
}

static bool
s_unpack_txn (const msgpack_object *f, msg_kv_t *cmd)
{
    const msgpack_object *s = &f[3], *x = &f[4];
    if (s->type != MSGPACK_OBJECT_ARRAY || x->type != MSGPACK_OBJECT_ARRAY ||
        s->via.array.size > KVSM_TXN_MAX_OPS ||
        x->via.array.size > KVSM_TXN_MAX_OPS || !s_unpack_cmps (&f[2], cmd))
        return false;
    size_t ns = s->via.array.size, nf = x->via.array.size;
    cmd->ops = calloc (ns + nf ? ns + nf : 1, sizeof *cmd->ops);
    if (!cmd->ops)
        return false;
    cmd->n_success = ns;
    cmd->n_failure = nf;
    return s_unpack_ops (s, cmd, 0, ns) && s_unpack_ops (x, cmd, ns, nf);
}

/* The trailing sess of a version-3 write; version 4's may be nil. */
static bool
s_unpack_sess (const msgpack_object *o, msg_kv_t *cmd)
{
    if (cmd->version == KVSM_CMD_V4 && o->type == MSGPACK_OBJECT_NIL)
        return true;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4)
        return false;
    const msgpack_object *f = o->via.array.ptr;
    cmd->has_session = true;
    return msg_get_uint (&f[0], &cmd->session) &&
           msg_get_uint (&f[1], &cmd->seq) && msg_get_uint (&f[2], &cmd->ack) &&
           msg_get_uint (&f[3], &cmd->stamp_ms) && cmd->seq >= 1;
}

static int
s_decode_sess_op (const msgpack_object *f, uint32_t n, msg_kv_t *cmd)
{
    uint64_t a;
    if (n != 4 || !msg_get_uint (&f[2], &a) ||
        !msg_get_uint (&f[3], &cmd->stamp_ms))
        return -1;
    if (msg_str_is (&f[1], "sopen")) {
        cmd->op = KVSM_SOPEN;
        cmd->ttl_ms = a;
        return a >= 1 && a <= KVSM_SESSION_TTL_MAX_MS ? 0 : -1;
    }
    if (msg_str_is (&f[1], "sclose")) {
        cmd->op = KVSM_SCLOSE;
        cmd->session = a;
        return 0;
    }
    return -1;
}

/* Version 4's lgrant and lrevoke. */
static int
s_decode_lease_op (const msgpack_object *f, uint32_t n, msg_kv_t *cmd)
{
    if (msg_str_is (&f[1], "lgrant") && n == 3) {
        cmd->op = KVSM_LGRANT;
        return msg_get_uint (&f[2], &cmd->ttl_ms) && cmd->ttl_ms >= 1 &&
                       cmd->ttl_ms <= KVSM_LEASE_TTL_MAX_MS
                   ? 0
                   : -1;
    }
    if (msg_str_is (&f[1], "lrevoke") && n == 4) {
        cmd->op = KVSM_LREVOKE;
        return msg_get_uint (&f[2], &cmd->lease) && cmd->lease >= 1 &&
                       msg_get_bool (&f[3], &cmd->expired)
                   ? 0
                   : -1;
    }
    return -1;
}

static int
s_decode (const msgpack_object *o, msg_kv_t *cmd)
{
    uint64_t version;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 3 ||
        !msg_get_uint (&o->via.array.ptr[0], &version))
        return -1;
    const msgpack_object *f = o->via.array.ptr;
    uint32_t n = o->via.array.size;
    if (version < KVSM_CMD_V1 || version > KVSM_CMD_V4)
        return version > KVSM_CMD_V4 ? -2 : -1;
    cmd->version = (unsigned)version;
    if (version == KVSM_CMD_V3 &&
        (msg_str_is (&f[1], "sopen") || msg_str_is (&f[1], "sclose")))
        return s_decode_sess_op (f, n, cmd);
    bool v4 = version == KVSM_CMD_V4;
    if (v4 && (msg_str_is (&f[1], "lgrant") || msg_str_is (&f[1], "lrevoke")))
        return s_decode_lease_op (f, n, cmd);
    unsigned extra = version >= KVSM_CMD_V2; /* the compares */
    unsigned sess = version >= KVSM_CMD_V3;  /* the trailing sess */
    if (msg_str_is (&f[1], "put") && n == 4 + extra + sess + v4) {
        cmd->op = KVSM_PUT;
        if (!(cmd->key = msg_buf_of (&f[2])) ||
            !(cmd->value = msg_buf_of (&f[3])))
            return -1;
        if (extra && !s_unpack_cmps (&f[4], cmd))
            return -1;
        if (sess && !s_unpack_sess (&f[5], cmd))
            return -1;
        return !v4 || (msg_get_uint (&f[6], &cmd->lease) && cmd->lease >= 1)
                   ? 0
                   : -1;
    }
    if (!v4 && msg_str_is (&f[1], "del") && n == 3 + extra + sess) {
        cmd->op = KVSM_DEL;
        if (!(cmd->key = msg_buf_of (&f[2])))
            return -1;
        if (extra && !s_unpack_cmps (&f[3], cmd))
            return -1;
        return !sess || s_unpack_sess (&f[4], cmd) ? 0 : -1;
    }
    if (extra && msg_str_is (&f[1], "txn") && n == 5 + sess) {
        cmd->op = KVSM_TXN;
        if (!s_unpack_txn (f, cmd))
            return -1;
        return !sess || s_unpack_sess (&f[5], cmd) ? 0 : -1;
    }
    return -1;
}

int
msg_kv_decode (const void *data, size_t len, msg_kv_t *cmd)
{
    memset (cmd, 0, sizeof *cmd);
    msgpack_unpacked u;
    if (!msg_unpack_one (&u, data, len))
        return -1;
    int rc = s_decode (&u.data, cmd);
    if (rc < 0)
        msg_kv_clear (cmd);
    msgpack_unpacked_destroy (&u);
    return rc;
}

void
msg_kv_clear (msg_kv_t *cmd)
{
    kvsm_cmd_clear (cmd);
}
