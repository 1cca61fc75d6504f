/*  msg_store_apply.c -- the "applied" and "leases" messages of
    msg_store.h (what the storage actor reports of the entries it applied,
    and the lease table the leader's lessor is promoted with), split from
    msg_store.c so that each stays one concern of a few hundred lines.
    Called from msg_store.c's encoder and decoder only (msg_store_int.h);
    the same rules: every field type-checked, exact lengths, -1 on
    anything malformed with what was allocated left for msg_store_clear.
*/
#include "msg_store_int.h"
#include "kvsm_lease.h"
#include "msg_util.h"

#include <stdlib.h>

int
msg_store_pack_applied (msgpack_packer *pk, const msg_store_t *m)
{
    if (m->n_results && !m->results)
        return -1;
    msgpack_pack_uint64 (pk, m->applied);
    msgpack_pack_array (pk, m->n_results);
    for (size_t i = 0; i < m->n_results; i++) {
        const msg_apply_result_t *r = &m->results[i];
        msgpack_pack_array (pk, r->lease_event ? 7 : 4);
        msgpack_pack_uint64 (pk, r->index);
        msg_pack_bool (pk, r->existed);
        msgpack_pack_unsigned_int (pk, r->status);
        if (r->result) {
            msgpack_pack_bin (pk, r->result->len);
            msgpack_pack_bin_body (pk, r->result->data, r->result->len);
        } else {
            msgpack_pack_nil (pk);
        }
        if (r->lease_event) {
            msgpack_pack_unsigned_int (pk, r->lease_event);
            msgpack_pack_uint64 (pk, r->lease);
            msgpack_pack_uint64 (pk, r->lease_ttl_ms);
        }
    }
    return 0;
}

int
msg_store_pack_leases (msgpack_packer *pk, const msg_store_t *m, bool request)
{
    if (m->n_leases && !m->leases)
        return -1;
    msgpack_pack_uint64 (pk, m->req_id);
    if (request)
        return 0;
    msgpack_pack_uint64 (pk, m->applied);
    msgpack_pack_array (pk, m->n_leases);
    for (size_t i = 0; i < m->n_leases; i++) {
        msgpack_pack_array (pk, 2);
        msgpack_pack_uint64 (pk, m->leases[i].id);
        msgpack_pack_uint64 (pk, m->leases[i].ttl_ms);
    }
    return 0;
}

int
msg_store_unpack_results (const msgpack_object *o, msg_store_t *m)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    uint32_t n = o->via.array.size;
    if (n == 0)
        return 0;
    m->results = calloc (n, sizeof *m->results);
    if (!m->results)
        return -1;
    m->n_results = n; /* zeroed: msg_store_clear may free them */
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *r = &o->via.array.ptr[i];
        msg_apply_result_t *d = &m->results[i];
        uint64_t status, ev = 0;
        uint32_t size = r->type == MSGPACK_OBJECT_ARRAY ? r->via.array.size : 0;
        const msgpack_object *x = r->via.array.ptr;
        if ((size != 4 && size != 7) || !msg_get_uint (&x[0], &d->index) ||
            !msg_get_bool (&x[1], &d->existed) ||
            !msg_get_uint (&x[2], &status) || status > 599 ||
            (size == 7 && (!msg_get_uint (&x[4], &ev) || ev < 1 || ev > 2 ||
                           !msg_get_uint (&x[5], &d->lease) ||
                           !msg_get_uint (&x[6], &d->lease_ttl_ms))))
            return -1;
        d->status = (unsigned)status;
        d->lease_event = (unsigned)ev;
        if (r->via.array.ptr[3].type != MSGPACK_OBJECT_NIL &&
            !(d->result = msg_buf_of (&r->via.array.ptr[3])))
            return -1;
    }
    return 0;
}

/* The answer to "leases": the index, and the table in id order. */
int
msg_store_unpack_leases (const msgpack_object *applied, const msgpack_object *o,
                         msg_store_t *m)
{
    if (!msg_get_uint (applied, &m->applied) ||
        o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > KVSM_LEASES_MAX)
        return -1;
    uint32_t n = o->via.array.size;
    if (n == 0)
        return 0;
    m->leases = calloc (n, sizeof *m->leases);
    if (!m->leases)
        return -1;
    m->n_leases = n;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *l = &o->via.array.ptr[i];
        if (l->type != MSGPACK_OBJECT_ARRAY || l->via.array.size != 2 ||
            !msg_get_uint (&l->via.array.ptr[0], &m->leases[i].id) ||
            !msg_get_uint (&l->via.array.ptr[1], &m->leases[i].ttl_ms) ||
            m->leases[i].id == 0 || m->leases[i].ttl_ms == 0 ||
            (i && m->leases[i].id <= m->leases[i - 1].id))
            return -1;
    }
    return 0;
}
