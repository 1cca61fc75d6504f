/*  http_render_lease.c -- the replies of leases (store/kvsm_lease.h):

      LGRANT              200 {"id", "ttl", "ttl_ms", "index"}
      LREVOKE             200 {"ok": true, "id", "deleted", "index"}
      LEASE_NOT_FOUND     404 {"error": "lease_not_found", "detail",
                               "index"[, "id" | "lease"]}
      LEASE_LIMIT         503 {"error": "too_many_leases", "detail",
                               "index"}
      a "lease" reply     200 {"id", "ttl", "ttl_ms"[, "remaining",
                               "remaining_ms"]} (keep-alive, info)
    (statuses: actors/storage_sessions.c, storage_kv_status). "ttl" and
    "remaining" are whole seconds rounded up, as a client asks (etcd's
    TTL); the _ms fields are exact, since the leader clamps a TTL to its
    own minimum in ms (lessor_min_ttl_ms).
*/
#include "http_render.h"

#include "json.h"

#include <stdint.h>

static json_t *
s_uint (uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? json_real ((double)v)
                                   : json_integer ((json_int_t)v);
}

static uint64_t
s_secs (uint64_t ms)
{
    return ms / 1000 + (ms % 1000 != 0);
}

static json_t *
s_error (const char *error, const char *detail, raft_index_t index)
{
    return json_pack ("{s:s, s:s, s:o}", "error", error, "detail", detail,
                      "index", s_uint (index));
}

json_t *
http_render_lease (const kvsm_result_t *res, raft_index_t index)
{
    if (res->status == KVSM_LEASE_NOT_FOUND) {
        json_t *o = s_error ("lease_not_found",
                             "no such lease: revoked, expired or never "
                             "granted; nothing was applied",
                             index);
        if (o && res->lease)
            json_object_set_new (o, res->op == KVSM_LREVOKE ? "id" : "lease",
                                 s_uint (res->lease));
        return o;
    }
    if (res->status == KVSM_LEASE_LIMIT)
        return s_error ("too_many_leases",
                        "the cluster holds 4096 leases or 16384 keys "
                        "attached to leases: revoke some or let them "
                        "expire; nothing was applied",
                        index);
    if (res->status != KVSM_OK)
        return NULL;
    if (res->op == KVSM_LGRANT)
        return json_pack ("{s:o, s:o, s:o, s:o}", "id", s_uint (res->lease),
                          "ttl", s_uint (s_secs (res->lease_ttl_ms)), "ttl_ms",
                          s_uint (res->lease_ttl_ms), "index", s_uint (index));
    if (res->op == KVSM_LREVOKE)
        return json_pack ("{s:b, s:o, s:o, s:o}", "ok", 1, "id",
                          s_uint (res->lease), "deleted",
                          s_uint (res->lease_deleted), "index", s_uint (index));
    return NULL;
}

json_t *
http_render_lease_rep (const msg_api_rep_t *rep)
{
    json_t *o = json_pack ("{s:o, s:o, s:o}", "id", s_uint (rep->id), "ttl",
                           s_uint (s_secs (rep->ttl_ms)), "ttl_ms",
                           s_uint (rep->ttl_ms));
    if (o && rep->has_remaining &&
        (json_object_set_new (o, "remaining",
                              s_uint (s_secs (rep->remaining_ms))) != 0 ||
         json_object_set_new (o, "remaining_ms", s_uint (rep->remaining_ms)) !=
             0)) {
        json_decref (o);
        return NULL;
    }
    return o;
}
