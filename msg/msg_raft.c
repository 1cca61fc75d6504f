/*  msg_raft.c -- see msg_raft.h for the format.
*/
#include "msg_raft.h"
#include "msg_util.h"

#include <stdlib.h>
#include <string.h>

/*  ---------------------------------------------------------------------
    Encoding                                                             */

static int
s_pack_entry (msgpack_packer *pk, const raft_entry_t *e)
{
    msgpack_pack_array (pk, 4);
    msgpack_pack_uint64 (pk, e->term);
    msgpack_pack_uint64 (pk, e->index);
    msgpack_pack_uint8 (pk, (uint8_t)e->type);
    if (e->type == RAFT_ENTRY_CONF) {
        const raft_conf_t *c = raft_entry_conf (e);
        if (!c)
            return -1;
        msgpack_pack_array (pk, c->n);
        for (uint32_t i = 0; i < c->n; i++) {
            const raft_server_t *s = &c->servers[i];
            size_t alen = strlen (s->addr);
            msgpack_pack_array (pk, 3);
            msgpack_pack_uint64 (pk, s->id);
            if (s->voter)
                msgpack_pack_true (pk);
            else
                msgpack_pack_false (pk);
            msgpack_pack_str (pk, alen);
            msgpack_pack_str_body (pk, s->addr, alen);
        }
    } else if (e->data) {
        msgpack_pack_bin (pk, e->data->len);
        msgpack_pack_bin_body (pk, e->data->data, e->data->len);
    } else {
        msgpack_pack_nil (pk);
    }
    return 0;
}

int
msg_raft_encode (msgpack_sbuffer *buf, const raft_msg_t *m)
{
    for (size_t i = 0; i < m->n_entries; i++)
        if (m->entries[i].type == RAFT_ENTRY_CONF &&
            !raft_entry_conf (&m->entries[i]))
            return -1;
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 17);
    msgpack_pack_uint8 (&pk, MSG_RAFT_VERSION);
    msgpack_pack_uint8 (&pk, (uint8_t)m->type);
    msgpack_pack_uint64 (&pk, m->from);
    msgpack_pack_uint64 (&pk, m->to);
    msgpack_pack_uint64 (&pk, m->term);
    msgpack_pack_uint64 (&pk, m->prev_index);
    msgpack_pack_uint64 (&pk, m->prev_term);
    msgpack_pack_uint64 (&pk, m->commit);
    msg_pack_bool (&pk, m->reject);
    msgpack_pack_uint64 (&pk, m->index);
    msgpack_pack_uint64 (&pk, m->hint_index);
    msgpack_pack_uint64 (&pk, m->hint_term);
    msg_pack_bool (&pk, m->transfer);
    msgpack_pack_uint64 (&pk, m->ctx);
    msgpack_pack_array (&pk, m->n_entries);
    for (size_t i = 0; i < m->n_entries; i++)
        s_pack_entry (&pk, &m->entries[i]);
    if (m->data) {
        msgpack_pack_bin (&pk, m->data->len);
        msgpack_pack_bin_body (&pk, m->data->data, m->data->len);
    } else {
        msgpack_pack_nil (&pk);
    }
    msg_pack_bool (&pk, m->done);
    return 0;
}

int
msg_entry_encode (msgpack_sbuffer *buf, const raft_entry_t *e)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    size_t before = buf->size;
    if (s_pack_entry (&pk, e) < 0) {
        buf->size = before;
        return -1;
    }
    return 0;
}

/*  ---------------------------------------------------------------------
    Decoding: check every type and bound                                 */

static int
s_unpack_entry (const msgpack_object *o, raft_entry_t *e)
{
    memset (e, 0, sizeof *e);
    uint64_t type;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4)
        return -1;
    const msgpack_object *f = o->via.array.ptr;
    if (!msg_get_uint (&f[0], &e->term) || !msg_get_uint (&f[1], &e->index) ||
        !msg_get_uint (&f[2], &type) || type > RAFT_ENTRY_CONF)
        return -1;
    e->type = (raft_entry_type_t)type;
    const msgpack_object *d = &f[3];
    if (e->type == RAFT_ENTRY_CONF) {
        if (d->type != MSGPACK_OBJECT_ARRAY ||
            d->via.array.size > RAFT_MAX_SERVERS)
            return -1;
        raft_conf_t c;
        memset (&c, 0, sizeof c); /* deterministic bytes */
        c.n = d->via.array.size;
        for (uint32_t i = 0; i < c.n; i++) {
            const msgpack_object *so = &d->via.array.ptr[i];
            if (so->type != MSGPACK_OBJECT_ARRAY || so->via.array.size != 3)
                return -1;
            const msgpack_object *sf = so->via.array.ptr;
            raft_server_t *s = &c.servers[i];
            if (!msg_get_uint (&sf[0], &s->id) || s->id == 0 ||
                !msg_get_bool (&sf[1], &s->voter) ||
                !msg_str_clean (&sf[2], RAFT_ADDR_MAX))
                return -1;
            msg_str_copy (s->addr, &sf[2]);
            for (uint32_t k = 0; k < i; k++)
                if (c.servers[k].id == s->id)
                    return -1; /* one entry per server */
        }
        e->data = raft_buf_new (&c, sizeof c);
    } else if (d->type == MSGPACK_OBJECT_BIN) {
        if (d->via.bin.size > MSG_RAFT_MAX_DATA)
            return -1;
        e->data = raft_buf_new (d->via.bin.ptr, d->via.bin.size);
    } else if (d->type == MSGPACK_OBJECT_NIL && e->type == RAFT_ENTRY_NOOP) {
        e->data = NULL;
        return 0;
    } else {
        return -1;
    }
    return e->data ? 0 : -1;
}

int
msg_entry_decode (const void *data, size_t len, raft_entry_t *e)
{
    msgpack_unpacked u;
    if (!msg_unpack_one (&u, data, len))
        return -1;
    int rc = s_unpack_entry (&u.data, e);
    if (rc < 0) {
        raft_buf_unref (e->data);
        e->data = NULL;
    }
    msgpack_unpacked_destroy (&u);
    return rc;
}

static int
s_decode (const msgpack_object *o, raft_msg_t *m)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 17)
        return -1;
    const msgpack_object *f = o->via.array.ptr;
    uint64_t version, type;
    if (!msg_get_uint (&f[0], &version) || version != MSG_RAFT_VERSION ||
        !msg_get_uint (&f[1], &type) || type == 0 ||
        type >= RAFT_MSG_TYPE_MAX || !msg_get_uint (&f[2], &m->from) ||
        !msg_get_uint (&f[3], &m->to) || !msg_get_uint (&f[4], &m->term) ||
        !msg_get_uint (&f[5], &m->prev_index) ||
        !msg_get_uint (&f[6], &m->prev_term) ||
        !msg_get_uint (&f[7], &m->commit) ||
        !msg_get_bool (&f[8], &m->reject) || !msg_get_uint (&f[9], &m->index) ||
        !msg_get_uint (&f[10], &m->hint_index) ||
        !msg_get_uint (&f[11], &m->hint_term) ||
        !msg_get_bool (&f[12], &m->transfer) ||
        !msg_get_uint (&f[13], &m->ctx) || f[14].type != MSGPACK_OBJECT_ARRAY ||
        f[14].via.array.size > MSG_RAFT_MAX_ENTRIES ||
        !msg_get_bool (&f[16], &m->done))
        return -1;
    m->type = (raft_msg_type_t)type;
    if (f[15].type == MSGPACK_OBJECT_BIN) {
        if (f[15].via.bin.size > MSG_RAFT_MAX_DATA)
            return -1;
        m->data = raft_buf_new (f[15].via.bin.ptr, f[15].via.bin.size);
        if (!m->data)
            return -1;
    } else if (f[15].type != MSGPACK_OBJECT_NIL) {
        return -1;
    }
    uint32_t n = f[14].via.array.size;
    if (n == 0)
        return 0;
    m->entries = calloc (n, sizeof *m->entries);
    if (!m->entries)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        if (s_unpack_entry (&f[14].via.array.ptr[i], &m->entries[i]) < 0) {
            raft_buf_unref (m->entries[i].data);
            m->n_entries = i;
            return -1;
        }
    }
    m->n_entries = n;
    return 0;
}

int
msg_raft_decode (const void *data, size_t len, raft_msg_t *m)
{
    memset (m, 0, sizeof *m);
    msgpack_unpacked u;
    if (!msg_unpack_one (&u, data, len))
        return -1;
    int rc = s_decode (&u.data, m);
    if (rc < 0)
        raft_msg_clear (m);
    msgpack_unpacked_destroy (&u);
    return rc;
}

/*  ---------------------------------------------------------------------
    The hard state (store/store_format.h, key 'h')                       */

void
msg_hs_encode (msgpack_sbuffer *buf, const raft_hard_state_t *hs)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_uint64 (&pk, hs->term);
    msgpack_pack_uint64 (&pk, hs->vote);
}

int
msg_hs_decode (const void *data, size_t len, raft_hard_state_t *hs)
{
    msgpack_unpacked u;
    if (!msg_unpack_one (&u, data, len))
        return -1;
    const msgpack_object *o = &u.data;
    raft_hard_state_t d;
    bool ok = o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 2 &&
              msg_get_uint (&o->via.array.ptr[0], &d.term) &&
              msg_get_uint (&o->via.array.ptr[1], &d.vote);
    msgpack_unpacked_destroy (&u);
    if (!ok)
        return -1;
    *hs = d;
    return 0;
}
