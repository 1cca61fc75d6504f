/*  http_render.h -- the raft actor's typed replies (msg/msg_api.h) as the
    JSON bodies clients see, one function per kind (README, "The HTTP
    API"). Keys come in the order shown; jansson keeps insertion order and
    json_body_text (json.h) gives the prototype's spacing. Keys and values
    are bytes inside the node: rendered with json_string_lossy (invalid
    UTF-8 becomes U+FFFD). Each returns a new object, or NULL when out of
    memory.
*/
#ifndef HTTP_RENDER_H_INCLUDED
#define HTTP_RENDER_H_INCLUDED

#include "kvsm.h"
#include "msg_api.h"

#include <jansson.h>

/* {} */
json_t *http_render_empty (void);
/* {"error": code[, "detail": detail][, "leader": leader or null]} */
json_t *http_render_error (const char *code, const char *detail,
                           bool has_leader, const char *leader);
/* {"ok": true, "key", "index", "created" | "deleted": flag} */
json_t *http_render_written (const raft_buf_t *key, raft_index_t index,
                             bool is_delete, bool flag);
/* {"key", "value"} or {"error": "not_found", "key"} (value NULL), plus
   "stale": true for a local read */
json_t *http_render_value (const raft_buf_t *key, const raft_buf_t *value,
                           bool stale);
/* {"ok": true, "id", "index"} */
json_t *http_render_conf (raft_id_t id, raft_index_t index);
/* {"id", "role", "term", "leader", "leader_id", "commit", "applied",
    "last_index", "peer_addr", "http_addr", "members": [...], "uptime_s",
    "dropped_msgs"[, "identity"], "log", "last_snapshot_installed",
    "quota"} (README, "/health") */
json_t *http_render_health (const msg_health_t *h);

/* http_render_kv.c: a KV command's result (msg_kv_result_encode) applied
   at index: {"ok", "key", "index", "created", "create_index", "mod_index",
   "version"} (PUT), {"ok", "key", "index", "deleted"[, "prev_mod_index"]}
   (DELETE), {"error": "compare_failed", "key", "current", "index"} (a
   shorthand's compare failed), {"succeeded", "index", "responses"} (TXN);
   NULL if result is malformed or memory ran out. */
json_t *http_render_kv (raft_index_t index, const raft_buf_t *result);
/* http_render_session.c: a session command's reply or a session's
   refusal; NULL if res is neither. */
json_t *http_render_session (const kvsm_result_t *res, raft_index_t index);
/* http_render_lease.c: a lease command's reply (LGRANT, LREVOKE) or a
   lease refusal (LEASE_NOT_FOUND, LEASE_LIMIT); NULL if res is neither.
   And the raft actor's "lease" reply (keep-alive, info). */
json_t *http_render_lease (const kvsm_result_t *res, raft_index_t index);
json_t *http_render_lease_rep (const msg_api_rep_t *rep);
/* A GET's answer from a stored record (store_format.h; NULL: not found):
   {"key", "value", "create_index", "mod_index", "version"[, "stale"]} or
   http_render_value's not_found; NULL if the record is damaged. */
json_t *http_render_record (const raft_buf_t *key, const raft_buf_t *rec,
                            bool stale);

/* The body of any reply, by its kind. */
json_t *http_render_rep (const msg_api_rep_t *rep);

#endif
