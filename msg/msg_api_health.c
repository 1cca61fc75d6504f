/*  msg_api_health.c -- the health reply's fields (msg_health_t) as one
    msgpack array inside the "health" reply (msg_api.c), and back.

    Byte by byte, one array of 25, in this order (uint: a msgpack uint of
    any width; str: without NUL, shorter than S_STR_MAX bytes):

       0 id: uint              1 role: str           2 term: uint
       3 leader: str|nil       4 leader_id: uint     5 commit: uint
       6 applied: uint         7 last_index: uint    8 peer_addr: str
       9 http_addr: str
      10 members: array of at most RAFT_MAX_SERVERS arrays of 7:
           [id: uint, dir_id: str|nil, peer_addr: str, http_addr: str,
            voter: bool, has_match: bool, match: uint]
      11 uptime_s: uint       12 dropped_msgs: uint
      13 identity: nil (no identity) or an array of 4:
           [cluster_id: str ("" not learnt yet), dir_id: str|nil,
            origin: str|nil, voting: bool]
      14 base_index: uint     15 base_term: uint    16 log_entries: uint
      17 log_bytes: uint
      18 last snapshot installed: nil (none) or an array of 4:
           [index: uint, term: uint, from: uint, at_ms: uint]
      19 quota_bytes: uint    20 quota_known: bool  21 quota_used: uint
      22 quota_clear_below: uint                    23 fs_free: uint
      24 alarm: bool

    The JSON made of it is the HTTP side's (http/http_render.c).
*/
#include "msg_api.h"
#include "msg_util.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_FIELDS 25
/* Longest string field, NUL included: addresses, ids, names. */
#define S_STR_MAX 1024

static void
s_str (msgpack_packer *pk, const char *s)
{
    size_t n = s ? strlen (s) : 0;
    msgpack_pack_str (pk, n);
    if (n)
        msgpack_pack_str_body (pk, s, n);
}

static void
s_str_or_nil (msgpack_packer *pk, const char *s)
{
    if (s)
        s_str (pk, s);
    else
        msgpack_pack_nil (pk);
}

void
msg_api_health_pack (msgpack_packer *pk, const msg_health_t *h)
{
    msgpack_pack_array (pk, S_FIELDS);
    msgpack_pack_uint64 (pk, h->id);
    s_str (pk, h->role);
    msgpack_pack_uint64 (pk, h->term);
    s_str_or_nil (pk, h->leader);
    msgpack_pack_uint64 (pk, h->leader_id);
    msgpack_pack_uint64 (pk, h->commit);
    msgpack_pack_uint64 (pk, h->applied);
    msgpack_pack_uint64 (pk, h->last_index);
    s_str (pk, h->peer_addr);
    s_str (pk, h->http_addr);
    size_t n =
        h->n_members < RAFT_MAX_SERVERS ? h->n_members : RAFT_MAX_SERVERS;
    msgpack_pack_array (pk, n);
    for (size_t i = 0; i < n; i++) {
        const msg_health_member_t *m = &h->members[i];
        msgpack_pack_array (pk, 7);
        msgpack_pack_uint64 (pk, m->id);
        s_str_or_nil (pk, m->dir_id);
        s_str (pk, m->peer_addr);
        s_str (pk, m->http_addr);
        msg_pack_bool (pk, m->voter);
        msg_pack_bool (pk, m->has_match);
        msgpack_pack_uint64 (pk, m->match);
    }
    msgpack_pack_uint64 (pk, h->uptime_s);
    msgpack_pack_uint64 (pk, h->dropped_msgs);
    if (h->cluster_id) {
        msgpack_pack_array (pk, 4);
        s_str (pk, h->cluster_id);
        s_str_or_nil (pk, h->dir_id);
        s_str_or_nil (pk, h->origin);
        msg_pack_bool (pk, h->voting);
    } else {
        msgpack_pack_nil (pk);
    }
    msgpack_pack_uint64 (pk, h->base_index);
    msgpack_pack_uint64 (pk, h->base_term);
    msgpack_pack_uint64 (pk, h->log_entries);
    msgpack_pack_uint64 (pk, h->log_bytes);
    if (h->has_snapshot) {
        msgpack_pack_array (pk, 4);
        msgpack_pack_uint64 (pk, h->snap_index);
        msgpack_pack_uint64 (pk, h->snap_term);
        msgpack_pack_uint64 (pk, h->snap_from);
        msgpack_pack_uint64 (pk, h->snap_at_ms);
    } else {
        msgpack_pack_nil (pk);
    }
    msgpack_pack_uint64 (pk, h->quota_bytes);
    msg_pack_bool (pk, h->quota_known);
    msgpack_pack_uint64 (pk, h->quota_used);
    msgpack_pack_uint64 (pk, h->quota_clear_below);
    msgpack_pack_uint64 (pk, h->fs_free);
    msg_pack_bool (pk, h->alarm);
}

/*  ---------------------------------------------------------------------
    Decoding: two passes over the same fields, the first only checking
    them and counting the bytes their strings need, the second copying
    into one block. */

typedef struct {
    char *base; /* NULL: the counting pass */
    size_t used;
    bool ok;
} s_reader_t;

static const char *
s_take_str (s_reader_t *r, const msgpack_object *o, bool nil_ok)
{
    if (o->type == MSGPACK_OBJECT_NIL) {
        r->ok = r->ok && nil_ok;
        return NULL;
    }
    if (!msg_str_clean (o, S_STR_MAX)) {
        r->ok = false;
        return NULL;
    }
    size_t n = o->via.str.size + 1;
    if (!r->base) {
        r->used += n;
        return "";
    }
    char *s = r->base + r->used;
    msg_str_copy (s, o);
    r->used += n;
    return s;
}

static uint64_t
s_take_uint (s_reader_t *r, const msgpack_object *o)
{
    uint64_t v = 0;
    if (!msg_get_uint (o, &v))
        r->ok = false;
    return v;
}

static bool
s_take_bool (s_reader_t *r, const msgpack_object *o)
{
    bool v = false;
    if (!msg_get_bool (o, &v))
        r->ok = false;
    return v;
}

/* The array at o of exactly n elements, or NULL (and r not ok). */
static const msgpack_object *
s_take_array (s_reader_t *r, const msgpack_object *o, uint32_t n)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != n) {
        r->ok = false;
        return NULL;
    }
    return o->via.array.ptr;
}

/* REQUIRES: f holds S_FIELDS objects, f[10] an array of at most
   RAFT_MAX_SERVERS (checked by the caller). */
static void
s_read (s_reader_t *r, const msgpack_object *f, msg_health_t *h,
        msg_health_member_t *members)
{
    h->id = s_take_uint (r, &f[0]);
    h->role = s_take_str (r, &f[1], false);
    h->term = s_take_uint (r, &f[2]);
    h->leader = s_take_str (r, &f[3], true);
    h->leader_id = s_take_uint (r, &f[4]);
    h->commit = s_take_uint (r, &f[5]);
    h->applied = s_take_uint (r, &f[6]);
    h->last_index = s_take_uint (r, &f[7]);
    h->peer_addr = s_take_str (r, &f[8], false);
    h->http_addr = s_take_str (r, &f[9], false);
    h->n_members = f[10].via.array.size;
    h->members = members;
    for (size_t i = 0; i < h->n_members && r->ok; i++) {
        const msgpack_object *m = s_take_array (r, &f[10].via.array.ptr[i], 7);
        if (!m)
            break;
        members[i] =
            (msg_health_member_t){.id = s_take_uint (r, &m[0]),
                                  .dir_id = s_take_str (r, &m[1], true),
                                  .peer_addr = s_take_str (r, &m[2], false),
                                  .http_addr = s_take_str (r, &m[3], false),
                                  .voter = s_take_bool (r, &m[4]),
                                  .has_match = s_take_bool (r, &m[5]),
                                  .match = s_take_uint (r, &m[6])};
    }
    h->uptime_s = s_take_uint (r, &f[11]);
    h->dropped_msgs = s_take_uint (r, &f[12]);
    if (f[13].type != MSGPACK_OBJECT_NIL) {
        const msgpack_object *id = s_take_array (r, &f[13], 4);
        if (id) {
            h->cluster_id = s_take_str (r, &id[0], false);
            h->dir_id = s_take_str (r, &id[1], true);
            h->origin = s_take_str (r, &id[2], true);
            h->voting = s_take_bool (r, &id[3]);
        }
    }
    h->base_index = s_take_uint (r, &f[14]);
    h->base_term = s_take_uint (r, &f[15]);
    h->log_entries = s_take_uint (r, &f[16]);
    h->log_bytes = s_take_uint (r, &f[17]);
    if (f[18].type != MSGPACK_OBJECT_NIL) {
        const msgpack_object *sn = s_take_array (r, &f[18], 4);
        if (sn) {
            h->has_snapshot = true;
            h->snap_index = s_take_uint (r, &sn[0]);
            h->snap_term = s_take_uint (r, &sn[1]);
            h->snap_from = s_take_uint (r, &sn[2]);
            h->snap_at_ms = s_take_uint (r, &sn[3]);
        }
    }
    h->quota_bytes = s_take_uint (r, &f[19]);
    h->quota_known = s_take_bool (r, &f[20]);
    h->quota_used = s_take_uint (r, &f[21]);
    h->quota_clear_below = s_take_uint (r, &f[22]);
    h->fs_free = s_take_uint (r, &f[23]);
    h->alarm = s_take_bool (r, &f[24]);
}

msg_health_t *
msg_api_health_unpack (const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != S_FIELDS)
        return NULL;
    const msgpack_object *f = o->via.array.ptr;
    if (f[10].type != MSGPACK_OBJECT_ARRAY ||
        f[10].via.array.size > RAFT_MAX_SERVERS)
        return NULL;
    msg_health_t scratch;
    msg_health_member_t scratch_members[RAFT_MAX_SERVERS];
    memset (&scratch, 0, sizeof scratch);
    s_reader_t count = {.ok = true};
    s_read (&count, f, &scratch, scratch_members);
    if (!count.ok)
        return NULL;
    /* One block: the struct, its members, then the strings. */
    size_t n = f[10].via.array.size;
    size_t head = sizeof (msg_health_t) + n * sizeof (msg_health_member_t);
    char *block = calloc (1, head + count.used);
    if (!block)
        return NULL;
    msg_health_t *h = (msg_health_t *)block;
    msg_health_member_t *members = (msg_health_member_t *)(h + 1);
    s_reader_t fill = {.base = block + head, .ok = true};
    s_read (&fill, f, h, members);
    assert (fill.ok && fill.used == count.used);
    return h;
}
