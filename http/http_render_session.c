/*  http_render_session.c -- the replies of client sessions (§6.3,
    store/kvsm_session.h): /session/open and /session/close, and a
    write's refusal by its session. A duplicate's reply is not rendered
    here: it is the first reply, rendered as any (http_render_kv.c), its
    "index" the entry that applied it.

      SOPEN               200 {"session", "ttl_ms", "index"}
      SCLOSE              200 {"ok": true, "session", "index"}
      SESSION_EXPIRED     410 {"error": "session_expired", "detail", "index"}
      SESSION_STALE       400 {"error": "stale_seq", ...}
      SESSION_WINDOW      429 {"error": "session_window_full", ...}
      SESSION_LIMIT       503 {"error": "too_many_sessions", ...}
    (statuses: actors/storage_sessions.c, storage_kv_status)
*/
#include "http_render.h"

#include "kvsm_session.h"

#include <stdint.h>

static json_t *
s_uint (uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? json_real ((double)v)
                                   : json_integer ((json_int_t)v);
}

static json_t *
s_error (const char *error, const char *detail, raft_index_t index)
{
    return json_pack ("{s:s, s:s, s:o}", "error", error, "detail", detail,
                      "index", s_uint (index));
}

json_t *
http_render_session (const kvsm_result_t *res, raft_index_t index)
{
    switch (res->status) {
    case KVSM_SESSION_EXPIRED:
        return s_error ("session_expired",
                        "no such session: expired, closed or never opened; "
                        "nothing was applied (open a new session)",
                        index);
    case KVSM_SESSION_STALE:
        return s_error ("stale_seq",
                        "seq is at or below the session's ack: its reply "
                        "was dropped; nothing was applied",
                        index);
    case KVSM_SESSION_WINDOW:
        return s_error ("session_window_full",
                        "seq is more than 64 above the session's ack: "
                        "send an ack; nothing was applied",
                        index);
    case KVSM_SESSION_LIMIT:
        return s_error ("too_many_sessions",
                        "the cluster holds 4096 sessions: close some or "
                        "wait for them to expire",
                        index);
    case KVSM_OK:
    case KVSM_COMPARE_FAILED:
    case KVSM_LEASE_NOT_FOUND: /* leases render their own (http/) */
    case KVSM_LEASE_LIMIT:
    case KVSM_UNKNOWN_VERSION: break;
    }
    if (res->op == KVSM_SOPEN)
        return json_pack ("{s:o, s:o, s:o}", "session", s_uint (res->session),
                          "ttl_ms", s_uint (res->ttl_ms), "index",
                          s_uint (index));
    if (res->op == KVSM_SCLOSE)
        return json_pack ("{s:b, s:o, s:o}", "ok", 1, "session",
                          s_uint (res->session), "index", s_uint (index));
    return NULL;
}
