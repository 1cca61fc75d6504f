/*  msg_api_body.c -- the bodies of the raft actor's API replies, as
    msgpack maps (msg_api.h). The HTTP side renders them as JSON as they
    are, so the keys here are the API's JSON keys.
*/
#include "msg_api.h"

#include <string.h>

static void
s_str (msgpack_packer *pk, const char *s)
{
    size_t n = strlen (s);
    msgpack_pack_str (pk, n);
    msgpack_pack_str_body (pk, s, n);
}

/* Keys and values are bytes that arrived as JSON strings: strings again. */
static void
s_buf (msgpack_packer *pk, const raft_buf_t *b)
{
    msgpack_pack_str (pk, b ? b->len : 0);
    if (b && b->len)
        msgpack_pack_str_body (pk, b->data, b->len);
}

static void
s_str_or_nil (msgpack_packer *pk, const char *s)
{
    if (s)
        s_str (pk, s);
    else
        msgpack_pack_nil (pk);
}

static void
s_bool (msgpack_packer *pk, bool v)
{
    if (v)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}

static void
s_uint (msgpack_packer *pk, const char *key, uint64_t v)
{
    s_str (pk, key);
    msgpack_pack_uint64 (pk, v);
}

void
msg_body_empty (msgpack_sbuffer *buf)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 0);
}

void
msg_body_error (msgpack_sbuffer *buf, const char *code)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    s_str (&pk, "error");
    s_str (&pk, code);
}

void
msg_body_not_leader (msgpack_sbuffer *buf, const char *leader)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    s_str (&pk, "error");
    s_str (&pk, "not_leader");
    s_str (&pk, "leader");
    s_str_or_nil (&pk, leader);
}

void
msg_body_written (msgpack_sbuffer *buf, const raft_buf_t *key,
                  raft_index_t index, bool is_delete, bool flag)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    s_str (&pk, "ok");
    msgpack_pack_true (&pk);
    s_str (&pk, "key");
    s_buf (&pk, key);
    s_uint (&pk, "index", index);
    s_str (&pk, is_delete ? "deleted" : "created");
    s_bool (&pk, flag);
}

void
msg_body_value (msgpack_sbuffer *buf, const raft_buf_t *key,
                const raft_buf_t *value, bool stale)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, stale ? 3 : 2);
    if (value) {
        s_str (&pk, "key");
        s_buf (&pk, key);
        s_str (&pk, "value");
        s_buf (&pk, value);
    } else {
        s_str (&pk, "error");
        s_str (&pk, "not_found");
        s_str (&pk, "key");
        s_buf (&pk, key);
    }
    if (stale) {
        s_str (&pk, "stale");
        msgpack_pack_true (&pk);
    }
}

void
msg_body_conf (msgpack_sbuffer *buf, raft_id_t id, raft_index_t index)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    s_str (&pk, "ok");
    msgpack_pack_true (&pk);
    s_uint (&pk, "id", id);
    s_uint (&pk, "index", index);
}

void
msg_body_error_detail (msgpack_sbuffer *buf, const char *code,
                       const char *detail)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    s_str (&pk, "error");
    s_str (&pk, code);
    s_str (&pk, "detail");
    s_str (&pk, detail);
}

void
msg_body_health (msgpack_sbuffer *buf, const msg_health_t *h)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, h->cluster_id ? 17 : 16);
    s_uint (&pk, "id", h->id);
    s_str (&pk, "role");
    s_str (&pk, h->role);
    s_uint (&pk, "term", h->term);
    s_str (&pk, "leader");
    s_str_or_nil (&pk, h->leader);
    s_str (&pk, "leader_id");
    if (h->leader_id)
        msgpack_pack_uint64 (&pk, h->leader_id);
    else
        msgpack_pack_nil (&pk);
    s_uint (&pk, "commit", h->commit);
    s_uint (&pk, "applied", h->applied);
    s_uint (&pk, "last_index", h->last_index);
    s_str (&pk, "peer_addr");
    s_str (&pk, h->peer_addr);
    s_str (&pk, "http_addr");
    s_str (&pk, h->http_addr);
    s_str (&pk, "members");
    msgpack_pack_array (&pk, h->n_members);
    for (size_t i = 0; i < h->n_members; i++) {
        const msg_health_member_t *m = &h->members[i];
        msgpack_pack_map (&pk, m->has_match ? 6 : 5);
        s_uint (&pk, "id", m->id);
        s_str (&pk, "dir_id");
        s_str_or_nil (&pk, m->dir_id);
        s_str (&pk, "peer_addr");
        s_str (&pk, m->peer_addr);
        s_str (&pk, "http_addr");
        s_str (&pk, m->http_addr);
        s_str (&pk, "voter");
        s_bool (&pk, m->voter);
        if (m->has_match)
            s_uint (&pk, "match", m->match);
    }
    s_uint (&pk, "uptime_s", h->uptime_s);
    s_uint (&pk, "dropped_msgs", h->dropped_msgs);
    if (h->cluster_id) {
        s_str (&pk, "identity");
        msgpack_pack_map (&pk, 5);
        s_str (&pk, "cluster_id");
        s_str_or_nil (&pk, *h->cluster_id ? h->cluster_id : NULL);
        s_uint (&pk, "node_id", h->id);
        s_str (&pk, "dir_id");
        s_str_or_nil (&pk, h->dir_id);
        s_str (&pk, "origin");
        s_str_or_nil (&pk, h->origin);
        s_str (&pk, "voting");
        s_bool (&pk, h->voting);
    }
    s_str (&pk, "log");
    msgpack_pack_map (&pk, 4);
    s_uint (&pk, "base_index", h->base_index);
    s_uint (&pk, "base_term", h->base_term);
    s_uint (&pk, "entries", h->log_entries);
    s_uint (&pk, "bytes", h->log_bytes);
    s_str (&pk, "last_snapshot_installed");
    if (h->has_snapshot) {
        msgpack_pack_map (&pk, 4);
        s_uint (&pk, "index", h->snap_index);
        s_uint (&pk, "term", h->snap_term);
        s_str (&pk, "from");
        if (h->snap_from)
            msgpack_pack_uint64 (&pk, h->snap_from);
        else
            msgpack_pack_nil (&pk);
        s_uint (&pk, "at_unix_ms", h->snap_at_ms);
    } else {
        msgpack_pack_nil (&pk);
    }
    s_str (&pk, "quota");
    msgpack_pack_map (&pk, 5);
    s_uint (&pk, "bytes", h->quota_bytes);
    s_str (&pk, "used");
    if (h->quota_known)
        msgpack_pack_uint64 (&pk, h->quota_used);
    else
        msgpack_pack_nil (&pk);
    s_uint (&pk, "clear_below", h->quota_clear_below);
    s_str (&pk, "alarm");
    s_bool (&pk, h->alarm);
    s_str (&pk, "fs_free");
    if (h->quota_known && h->fs_free != UINT64_MAX)
        msgpack_pack_uint64 (&pk, h->fs_free);
    else
        msgpack_pack_nil (&pk);
}
