/*  http_render.c -- see http_render.h. The JSON is built here, in the
    HTTP worker, straight from the decoded reply: no msgpack map in
    between.
*/
#include "http_render.h"
#include "json.h"

#include <stdint.h>
#include <string.h>

/* Adds key: v to o (taking v); false, with o left to its caller to free,
   when v is NULL or jansson is out of memory. */
static bool
s_set (json_t *o, const char *key, json_t *v)
{
    return v && json_object_set_new (o, key, v) == 0;
}

static json_t *
s_uint (uint64_t v)
{
    /* jansson's integers are signed: a larger value can only be a real */
    return v > (uint64_t)INT64_MAX ? json_real ((double)v)
                                   : json_integer ((json_int_t)v);
}

/* 0 means unknown: null */
static json_t *
s_uint_or_null (uint64_t v)
{
    return v ? s_uint (v) : json_null ();
}

static json_t *
s_str (const char *s)
{
    return s ? json_string_lossy (s, strlen (s)) : json_string ("");
}

static json_t *
s_str_or_null (const char *s)
{
    return s ? json_string_lossy (s, strlen (s)) : json_null ();
}

static json_t *
s_buf (const raft_buf_t *b)
{
    return b ? json_string_lossy (b->data, b->len) : json_string ("");
}

/* o, or NULL (o freed) when a step failed. */
static json_t *
s_done (json_t *o, bool ok)
{
    if (ok)
        return o;
    json_decref (o);
    return NULL;
}

json_t *
http_render_empty (void)
{
    return json_object ();
}

json_t *
http_render_error (const char *code, const char *detail, bool has_leader,
                   const char *leader)
{
    json_t *o = json_error_body (code, detail);
    if (o && has_leader)
        return s_done (o, s_set (o, "leader", s_str_or_null (leader)));
    return o;
}

json_t *
http_render_written (const raft_buf_t *key, raft_index_t index, bool is_delete,
                     bool flag)
{
    json_t *o = json_object ();
    return s_done (o, o && s_set (o, "ok", json_true ()) &&
                          s_set (o, "key", s_buf (key)) &&
                          s_set (o, "index", s_uint (index)) &&
                          s_set (o, is_delete ? "deleted" : "created",
                                 json_boolean (flag)));
}

json_t *
http_render_value (const raft_buf_t *key, const raft_buf_t *value, bool stale)
{
    json_t *o = json_object ();
    bool ok = o != NULL;
    if (ok && value)
        ok = s_set (o, "key", s_buf (key)) && s_set (o, "value", s_buf (value));
    else if (ok)
        ok = s_set (o, "error", json_string ("not_found")) &&
             s_set (o, "key", s_buf (key));
    if (ok && stale)
        ok = s_set (o, "stale", json_true ());
    return s_done (o, ok);
}

json_t *
http_render_conf (raft_id_t id, raft_index_t index)
{
    json_t *o = json_object ();
    return s_done (o, o && s_set (o, "ok", json_true ()) &&
                          s_set (o, "id", s_uint (id)) &&
                          s_set (o, "index", s_uint (index)));
}

/*  ---------------------------------------------------------------------
    /health                                                              */

static json_t *
s_member (const msg_health_member_t *m)
{
    json_t *o = json_object ();
    bool ok = o && s_set (o, "id", s_uint (m->id)) &&
              s_set (o, "dir_id", s_str_or_null (m->dir_id)) &&
              s_set (o, "peer_addr", s_str (m->peer_addr)) &&
              s_set (o, "http_addr", s_str (m->http_addr)) &&
              s_set (o, "voter", json_boolean (m->voter));
    if (ok && m->has_match)
        ok = s_set (o, "match", s_uint (m->match));
    return s_done (o, ok);
}

static json_t *
s_members (const msg_health_t *h)
{
    json_t *a = json_array ();
    bool ok = a != NULL;
    for (size_t i = 0; ok && i < h->n_members; i++) {
        json_t *m = s_member (&h->members[i]);
        ok = m && json_array_append_new (a, m) == 0;
    }
    return s_done (a, ok);
}

/* The data directory's identity (README, "Identity"); a cluster id not
   learnt yet ("") is null. */
static json_t *
s_identity (const msg_health_t *h)
{
    json_t *o = json_object ();
    const char *cl = h->cluster_id && *h->cluster_id ? h->cluster_id : NULL;
    return s_done (o, o && s_set (o, "cluster_id", s_str_or_null (cl)) &&
                          s_set (o, "node_id", s_uint (h->id)) &&
                          s_set (o, "dir_id", s_str_or_null (h->dir_id)) &&
                          s_set (o, "origin", s_str_or_null (h->origin)) &&
                          s_set (o, "voting", json_boolean (h->voting)));
}

static json_t *
s_log (const msg_health_t *h)
{
    json_t *o = json_object ();
    return s_done (o, o && s_set (o, "base_index", s_uint (h->base_index)) &&
                          s_set (o, "base_term", s_uint (h->base_term)) &&
                          s_set (o, "entries", s_uint (h->log_entries)) &&
                          s_set (o, "bytes", s_uint (h->log_bytes)));
}

static json_t *
s_snapshot (const msg_health_t *h)
{
    if (!h->has_snapshot)
        return json_null ();
    json_t *o = json_object ();
    return s_done (o, o && s_set (o, "index", s_uint (h->snap_index)) &&
                          s_set (o, "term", s_uint (h->snap_term)) &&
                          s_set (o, "from", s_uint_or_null (h->snap_from)) &&
                          s_set (o, "at_unix_ms", s_uint (h->snap_at_ms)));
}

/* used and fs_free are null until the storage actor's first reading;
   fs_free also when statvfs failed (UINT64_MAX). */
static json_t *
s_quota (const msg_health_t *h)
{
    json_t *o = json_object ();
    bool free_known = h->quota_known && h->fs_free != UINT64_MAX;
    return s_done (
        o, o && s_set (o, "bytes", s_uint (h->quota_bytes)) &&
               s_set (o, "used",
                      h->quota_known ? s_uint (h->quota_used) : json_null ()) &&
               s_set (o, "clear_below", s_uint (h->quota_clear_below)) &&
               s_set (o, "alarm", json_boolean (h->alarm)) &&
               s_set (o, "fs_free",
                      free_known ? s_uint (h->fs_free) : json_null ()));
}

json_t *
http_render_health (const msg_health_t *h)
{
    json_t *o = json_object ();
    bool ok = o && s_set (o, "id", s_uint (h->id)) &&
              s_set (o, "role", s_str (h->role)) &&
              s_set (o, "term", s_uint (h->term)) &&
              s_set (o, "leader", s_str_or_null (h->leader)) &&
              s_set (o, "leader_id", s_uint_or_null (h->leader_id)) &&
              s_set (o, "commit", s_uint (h->commit)) &&
              s_set (o, "applied", s_uint (h->applied)) &&
              s_set (o, "last_index", s_uint (h->last_index)) &&
              s_set (o, "peer_addr", s_str (h->peer_addr)) &&
              s_set (o, "http_addr", s_str (h->http_addr)) &&
              s_set (o, "members", s_members (h)) &&
              s_set (o, "uptime_s", s_uint (h->uptime_s)) &&
              s_set (o, "dropped_msgs", s_uint (h->dropped_msgs)) &&
              (!h->cluster_id || s_set (o, "identity", s_identity (h))) &&
              s_set (o, "log", s_log (h)) &&
              s_set (o, "last_snapshot_installed", s_snapshot (h)) &&
              s_set (o, "quota", s_quota (h));
    return s_done (o, ok);
}

json_t *
http_render_rep (const msg_api_rep_t *rep)
{
    switch (rep->kind) {
    case MSG_API_REP_EMPTY: return http_render_empty ();
    case MSG_API_REP_ERROR:
        return http_render_error (rep->code, rep->detail, rep->has_leader,
                                  rep->leader);
    case MSG_API_REP_WRITTEN:
        return http_render_written (rep->key, rep->index, rep->is_delete,
                                    rep->flag);
    case MSG_API_REP_VALUE:
        return http_render_value (rep->key, rep->value, rep->stale);
    case MSG_API_REP_CONF: return http_render_conf (rep->id, rep->index);
    case MSG_API_REP_HEALTH:
        return rep->health ? http_render_health (rep->health) : NULL;
    case MSG_API_REP_KV: return http_render_kv (rep->index, rep->value);
    case MSG_API_REP_LEASE: return http_render_lease_rep (rep);
    }
    return NULL;
}
