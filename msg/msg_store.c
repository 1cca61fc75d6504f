/*  msg_store.c -- see msg_store.h for the wire format.

    Entries inside these messages use msg_raft.h's entry encoding, byte for
    byte: the encoder opens the array with msgpack_pack_array and then lets
    msg_entry_encode append each entry to the same buffer (msgpack is
    self-delimiting, so that is one valid msgpack document). The decoder
    unpacks the whole frame once, then re-packs each entry object into a
    scratch buffer and hands it to msg_entry_decode, so the rules for what
    an entry may hold (types, sizes, configurations) live in one place.

    Nothing decoded here is trusted: the frame is pre-scanned for hostile
    container sizes before msgpack-c sees it, every field is type-checked,
    every array has the exact length its kind requires, and anything
    malformed is refused with -1 with everything allocated freed.
*/
#include "msg_store.h"
#include "msg_store_int.h"
#include "msg_raft.h"
#include "msg_util.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define MSG_STORE_VERSION 1

static const char *s_kind_names[] = {
    [MSG_STORE_WRITE] = "write",
    [MSG_STORE_APPLY] = "apply",
    [MSG_STORE_GET] = "get",
    [MSG_STORE_BOOT] = "boot",
    [MSG_STORE_PERSISTED] = "persisted",
    [MSG_STORE_APPLIED] = "applied",
    [MSG_STORE_VALUE] = "value",
    [MSG_STORE_ERROR] = "error",
    [MSG_STORE_COMPACT] = "compact",
    [MSG_STORE_SNAP_READ] = "snap_read",
    [MSG_STORE_SNAP_CHUNK] = "snap_chunk",
    [MSG_STORE_USAGE] = "usage",
    [MSG_STORE_AFTER] = "after",
    [MSG_STORE_LEASES] = "leases",
};
#define S_KIND_MAX MSG_STORE_LEASES

/*  ---------------------------------------------------------------------
    Encoding                                                             */

static int
s_pack_entries (msgpack_packer *pk, msgpack_sbuffer *buf,
                const raft_entry_t *entries, size_t n)
{
    if (n && !entries)
        return -1;
    msgpack_pack_array (pk, n);
    for (size_t i = 0; i < n; i++)
        if (msg_entry_encode (buf, &entries[i]) < 0)
            return -1;
    return 0;
}

static int
s_pack (msgpack_packer *pk, msgpack_sbuffer *buf, const msg_store_t *m)
{
    static const uint32_t fields[] = {
        [MSG_STORE_WRITE] = 8,       [MSG_STORE_APPLY] = 4,
        [MSG_STORE_GET] = 4,         [MSG_STORE_BOOT] = 7,
        [MSG_STORE_PERSISTED] = 3,   [MSG_STORE_APPLIED] = 4,
        [MSG_STORE_VALUE] = 5,       [MSG_STORE_ERROR] = 3,
        [MSG_STORE_COMPACT] = 3,     [MSG_STORE_SNAP_READ] = 8,
        [MSG_STORE_SNAP_CHUNK] = 10, [MSG_STORE_USAGE] = 4,
        [MSG_STORE_AFTER] = 4,       [MSG_STORE_LEASES] = 5,
    };
    if (m->kind < MSG_STORE_WRITE || m->kind > S_KIND_MAX)
        return -1;
    /* "leases": raft's request is [1, "leases", req_id]; storage's answer
       has the index and table (an answer at index 0 with no lease is
       written as the request: it decodes to the same fields) */
    bool lease_req = m->kind == MSG_STORE_LEASES && !m->applied && !m->n_leases;
    msgpack_pack_array (pk, lease_req ? 3 : fields[m->kind]);
    msgpack_pack_uint8 (pk, MSG_STORE_VERSION);
    msg_pack_cstr (pk, s_kind_names[m->kind]);
    switch (m->kind) {
    case MSG_STORE_LEASES: return msg_store_pack_leases (pk, m, lease_req);
    case MSG_STORE_WRITE:
        msgpack_pack_uint64 (pk, m->seq);
        msg_pack_bool (pk, m->hs_changed);
        msgpack_pack_uint64 (pk, m->hs.term);
        msgpack_pack_uint64 (pk, m->hs.vote);
        if (s_pack_entries (pk, buf, m->entries, m->n_entries) < 0)
            return -1;
        if (!m->has_snap) {
            msgpack_pack_nil (pk);
            return 0;
        }
        {
            raft_entry_t ce = {
                .index = m->snap.index,
                .term = m->snap.term,
                .type = RAFT_ENTRY_CONF,
                .data = raft_buf_new (&m->snap.conf, sizeof m->snap.conf)};
            if (!ce.data)
                return -1;
            msgpack_pack_array (pk, 7);
            msgpack_pack_uint64 (pk, m->snap.index);
            msgpack_pack_uint64 (pk, m->snap.term);
            msgpack_pack_uint64 (pk, m->snap.chunk);
            msg_pack_buf (pk, m->snap.data);
            msg_pack_bool (pk, m->snap.done);
            msg_pack_bool (pk, m->snap.keep_tail);
            int rc = s_pack_entries (pk, buf, &ce, 1);
            raft_buf_unref (ce.data);
            return rc;
        }
    case MSG_STORE_SNAP_READ:
        msgpack_pack_uint64 (pk, m->peer);
        msgpack_pack_uint64 (pk, m->chunk);
        msgpack_pack_uint64 (pk, m->snap_index);
        msgpack_pack_uint64 (pk, m->snap_term);
        msgpack_pack_uint64 (pk, m->msg_term);
        msgpack_pack_uint64 (pk, m->msg_commit);
        return 0;
    case MSG_STORE_SNAP_CHUNK:
        msgpack_pack_uint64 (pk, m->peer);
        msgpack_pack_uint64 (pk, m->chunk);
        msg_pack_bool (pk, m->ok);
        if (s_pack_entries (pk, buf, &m->base, m->base.index ? 1 : 0) < 0)
            return -1;
        msg_pack_buf (pk, m->value);
        msg_pack_bool (pk, m->done);
        msgpack_pack_uint64 (pk, m->msg_term);
        msgpack_pack_uint64 (pk, m->msg_commit);
        return 0;
    case MSG_STORE_AFTER:
        if (m->n_after && !m->after)
            return -1;
        msgpack_pack_uint64 (pk, m->seq);
        msgpack_pack_array (pk, m->n_after);
        for (size_t i = 0; i < m->n_after; i++) {
            if (!m->after[i].frame)
                return -1;
            if (!m->after[i].to || !zframe_size (m->after[i].frame))
                return -1;
            msgpack_pack_array (pk, 3);
            msgpack_pack_uint64 (pk, m->after[i].index);
            msgpack_pack_uint64 (pk, m->after[i].term);
            msgpack_pack_uint64 (pk, m->after[i].to);
        }
        return 0;
    case MSG_STORE_APPLY:
        msgpack_pack_uint64 (pk, m->applied);
        msgpack_pack_uint64 (pk, m->applied_term);
        return 0;
    case MSG_STORE_GET:
        msgpack_pack_uint64 (pk, m->req_id);
        msg_pack_buf (pk, m->key);
        return 0;
    case MSG_STORE_BOOT:
        msgpack_pack_uint64 (pk, m->hs.term);
        msgpack_pack_uint64 (pk, m->hs.vote);
        msgpack_pack_uint64 (pk, m->applied);
        if (s_pack_entries (pk, buf, m->entries, m->n_entries) < 0)
            return -1;
        return s_pack_entries (pk, buf, &m->base, m->base.index ? 1 : 0);
    case MSG_STORE_COMPACT:
        if (m->base.index == 0 || m->base.type != RAFT_ENTRY_CONF)
            return -1;
        return s_pack_entries (pk, buf, &m->base, 1);
    case MSG_STORE_PERSISTED: msgpack_pack_uint64 (pk, m->seq); return 0;
    case MSG_STORE_USAGE:
        msgpack_pack_uint64 (pk, m->db_bytes);
        msgpack_pack_uint64 (pk, m->fs_free);
        return 0;
    case MSG_STORE_APPLIED: return msg_store_pack_applied (pk, m);
    case MSG_STORE_VALUE:
        /* "not found" carries an empty bin, whatever m->value holds, so
           the decoder can insist on it. */
        msgpack_pack_uint64 (pk, m->req_id);
        msg_pack_bool (pk, m->found);
        msg_pack_buf (pk, m->found ? m->value : NULL);
        return 0;
    case MSG_STORE_ERROR:
        msg_pack_cstr (pk, m->error ? m->error : "");
        return 0;
    }
    return -1;
}

zmsg_t *
msg_store_encode (const msg_store_t *m)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    zmsg_t *zm = NULL;
    if (s_pack (&pk, &buf, m) == 0) {
        zm = zmsg_new ();
        if (zm && zmsg_addmem (zm, buf.data, buf.size) != 0)
            zmsg_destroy (&zm);
        for (size_t i = 0; zm && m->kind == MSG_STORE_AFTER && i < m->n_after;
             i++) {
            zframe_t *f = zframe_dup (m->after[i].frame);
            if (!f || zmsg_append (zm, &f) != 0) {
                zframe_destroy (&f);
                zmsg_destroy (&zm);
            }
        }
    }
    msgpack_sbuffer_destroy (&buf);
    return zm;
}

/*  ---------------------------------------------------------------------
    Decoding                                                             */

/* Checks the version and returns the kind, or 0 if there is none. */
static msg_store_kind_t
s_kind (const msgpack_object *o)
{
    uint64_t version;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 2 ||
        !msg_get_uint (&o->via.array.ptr[0], &version) ||
        version != MSG_STORE_VERSION)
        return 0;
    for (int k = MSG_STORE_WRITE; k <= S_KIND_MAX; k++)
        if (msg_str_is (&o->via.array.ptr[1], s_kind_names[k]))
            return (msg_store_kind_t)k;
    return 0;
}

/* Decode an array of entries through msg_entry_decode (see the top). */
static int
s_unpack_entries (const msgpack_object *o, msg_store_t *m)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    uint32_t n = o->via.array.size;
    if (n == 0)
        return 0;
    m->entries = calloc (n, sizeof *m->entries);
    if (!m->entries)
        return -1;
    msgpack_sbuffer scratch;
    msgpack_sbuffer_init (&scratch);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &scratch, msgpack_sbuffer_write);
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        scratch.size = 0;
        if (msgpack_pack_object (&pk, o->via.array.ptr[i]) != 0 ||
            msg_entry_decode (scratch.data, scratch.size, &m->entries[i]) != 0)
            rc = -1;
        else
            m->n_entries = i + 1;
    }
    msgpack_sbuffer_destroy (&scratch);
    return rc;
}

/* [base] or [] (empty allowed only if optional) into m->base. */
static int
s_unpack_base (const msgpack_object *o, msg_store_t *m, bool optional)
{
    msg_store_t t;
    memset (&t, 0, sizeof t);
    int rc = s_unpack_entries (o, &t);
    if (rc == 0 && t.n_entries == 1 && t.entries[0].type == RAFT_ENTRY_CONF &&
        t.entries[0].index > 0 && raft_entry_conf (&t.entries[0])) {
        m->base = t.entries[0];
        t.entries[0].data = NULL; /* moved */
    } else if (rc != 0 || t.n_entries != 0 || !optional) {
        rc = -1;
    }
    msg_store_clear (&t);
    return rc;
}

/* nil, or a snapshot chunk (see the top) into m->snap. */
static int
s_unpack_snap (const msgpack_object *o, msg_store_t *m)
{
    if (o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 7)
        return -1;
    const msgpack_object *f = o->via.array.ptr;
    raft_snapshot_chunk_t *c = &m->snap;
    msg_store_t t;
    memset (&t, 0, sizeof t);
    if (!msg_get_uint (&f[0], &c->index) || !msg_get_uint (&f[1], &c->term) ||
        !msg_get_uint (&f[2], &c->chunk) || f[3].type != MSGPACK_OBJECT_BIN ||
        !msg_get_bool (&f[4], &c->done) ||
        !msg_get_bool (&f[5], &c->keep_tail) ||
        s_unpack_base (&f[6], &t, false) < 0)
        return -1;
    bool ok = t.base.index == c->index && t.base.term == c->term;
    if (ok)
        c->conf = *raft_entry_conf (&t.base);
    msg_store_clear (&t);
    if (!ok || c->index == 0)
        return -1;
    c->data = msg_buf_of (&f[3]);
    if (!c->data)
        return -1;
    m->has_snap = true;
    return 0;
}

static int
s_unpack_msg (const msgpack_object *o, msg_store_t *m)
{
    m->kind = s_kind (o);
    if (m->kind == 0)
        return -1;
    const msgpack_object *f = o->via.array.ptr;
    uint32_t n = o->via.array.size;
    switch (m->kind) {
    case MSG_STORE_LEASES:
        if ((n != 3 && n != 5) || !msg_get_uint (&f[2], &m->req_id))
            return -1;
        return n == 3 ? 0 : msg_store_unpack_leases (&f[3], &f[4], m);
    case MSG_STORE_WRITE:
        if (n != 8 || !msg_get_uint (&f[2], &m->seq) ||
            !msg_get_bool (&f[3], &m->hs_changed) ||
            !msg_get_uint (&f[4], &m->hs.term) ||
            !msg_get_uint (&f[5], &m->hs.vote) ||
            s_unpack_entries (&f[6], m) < 0)
            return -1;
        return s_unpack_snap (&f[7], m);
    case MSG_STORE_SNAP_READ:
        if (n != 8 || !msg_get_uint (&f[2], &m->peer) ||
            !msg_get_uint (&f[3], &m->chunk) ||
            !msg_get_uint (&f[4], &m->snap_index) ||
            !msg_get_uint (&f[5], &m->snap_term) ||
            !msg_get_uint (&f[6], &m->msg_term) ||
            !msg_get_uint (&f[7], &m->msg_commit))
            return -1;
        return 0;
    case MSG_STORE_SNAP_CHUNK:
        if (n != 10 || !msg_get_uint (&f[2], &m->peer) ||
            !msg_get_uint (&f[3], &m->chunk) || !msg_get_bool (&f[4], &m->ok) ||
            s_unpack_base (&f[5], m, true) < 0 ||
            f[6].type != MSGPACK_OBJECT_BIN ||
            !msg_get_bool (&f[7], &m->done) ||
            !msg_get_uint (&f[8], &m->msg_term) ||
            !msg_get_uint (&f[9], &m->msg_commit))
            return -1;
        if (m->ok != (m->base.index != 0))
            return -1; /* a chunk names its copy; a refusal does not */
        m->value = msg_buf_of (&f[6]);
        return m->value ? 0 : -1;
    case MSG_STORE_AFTER: {
        if (n != 4 || !msg_get_uint (&f[2], &m->seq) ||
            f[3].type != MSGPACK_OBJECT_ARRAY)
            return -1;
        size_t k = f[3].via.array.size;
        if (k == 0)
            return -1; /* nothing to send: never sent */
        m->after = calloc (k, sizeof *m->after);
        if (!m->after)
            return -1;
        m->n_after = k;
        for (size_t i = 0; i < k; i++) {
            const msgpack_object *c = &f[3].via.array.ptr[i];
            if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size != 3 ||
                !msg_get_uint (&c->via.array.ptr[0], &m->after[i].index) ||
                !msg_get_uint (&c->via.array.ptr[1], &m->after[i].term) ||
                !msg_get_uint (&c->via.array.ptr[2], &m->after[i].to) ||
                m->after[i].to == 0)
                return -1;
        }
        return 0;
    }
    case MSG_STORE_APPLY:
        if (n != 4 || !msg_get_uint (&f[2], &m->applied) ||
            !msg_get_uint (&f[3], &m->applied_term) || m->applied == 0)
            return -1;
        return 0;
    case MSG_STORE_GET:
        if (n != 4 || !msg_get_uint (&f[2], &m->req_id))
            return -1;
        m->key = msg_buf_of (&f[3]);
        return m->key ? 0 : -1;
    case MSG_STORE_BOOT:
        if (n != 7 || !msg_get_uint (&f[2], &m->hs.term) ||
            !msg_get_uint (&f[3], &m->hs.vote) ||
            !msg_get_uint (&f[4], &m->applied) ||
            s_unpack_entries (&f[5], m) < 0)
            return -1;
        return s_unpack_base (&f[6], m, true);
    case MSG_STORE_COMPACT:
        if (n != 3)
            return -1;
        return s_unpack_base (&f[2], m, false);
    case MSG_STORE_PERSISTED:
        if (n != 3 || !msg_get_uint (&f[2], &m->seq))
            return -1;
        return 0;
    case MSG_STORE_USAGE:
        if (n != 4 || !msg_get_uint (&f[2], &m->db_bytes) ||
            !msg_get_uint (&f[3], &m->fs_free))
            return -1;
        return 0;
    case MSG_STORE_APPLIED:
        if (n != 4 || !msg_get_uint (&f[2], &m->applied))
            return -1;
        return msg_store_unpack_results (&f[3], m);
    case MSG_STORE_VALUE:
        if (n != 5 || !msg_get_uint (&f[2], &m->req_id) ||
            !msg_get_bool (&f[3], &m->found) || f[4].type != MSGPACK_OBJECT_BIN)
            return -1;
        if (!m->found)
            return f[4].via.bin.size == 0 ? 0 : -1;
        m->value = msg_buf_of (&f[4]);
        return m->value ? 0 : -1;
    case MSG_STORE_ERROR:
        /* A C string: refuse embedded NULs rather than cut the text. */
        if (n != 3 || !msg_str_clean (&f[2], SIZE_MAX))
            return -1;
        m->error = malloc (f[2].via.str.size + 1);
        if (!m->error)
            return -1;
        msg_str_copy (m->error, &f[2]);
        return 0;
    }
    return -1;
}

int
msg_store_decode (zmsg_t *zm, msg_store_t *m)
{
    memset (m, 0, sizeof *m);
    if (!zm || zmsg_size (zm) < 1)
        return -1;
    zframe_t *frame = zmsg_first (zm);
    msgpack_unpacked u;
    if (!msg_unpack_one (&u, zframe_data (frame), zframe_size (frame)))
        return -1;
    int rc = s_unpack_msg (&u.data, m);
    msgpack_unpacked_destroy (&u);
    /* one frame, but "after": one more per message it carries */
    if (rc == 0 &&
        zmsg_size (zm) != 1 + (m->kind == MSG_STORE_AFTER ? m->n_after : 0))
        rc = -1;
    for (size_t i = 0; rc == 0 && i < m->n_after; i++) {
        zframe_t *f = zmsg_next (zm);
        if (!f || zframe_size (f) == 0 || !(m->after[i].frame = zframe_dup (f)))
            rc = -1;
    }
    if (rc < 0)
        msg_store_clear (m);
    return rc;
}

void
msg_store_clear (msg_store_t *m)
{
    for (size_t i = 0; i < m->n_entries; i++)
        raft_buf_unref (m->entries[i].data);
    free (m->entries);
    for (size_t i = 0; m->results && i < m->n_results; i++)
        raft_buf_unref (m->results[i].result);
    free (m->results);
    raft_buf_unref (m->key);
    raft_buf_unref (m->value);
    free (m->error);
    raft_buf_unref (m->base.data);
    if (m->has_snap)
        raft_buf_unref (m->snap.data);
    for (size_t i = 0; m->after && i < m->n_after; i++)
        zframe_destroy (&m->after[i].frame);
    free (m->after);
    free (m->leases);
    memset (m, 0, sizeof *m);
}
