/*  http_session.c -- client sessions over HTTP (§6.3,
    store/kvsm_session.h): POST /session/open and /session/close, and the
    "session", "seq", "ack" fields of a write (http_txn.c calls
    http_session_fields). Every session command is stamped here with this
    node's wall clock in ms when it is encoded, and stamped again by the
    leader's raft actor when it proposes it (raft_actor_api.c), so that a
    forwarding follower's clock never counts: the state machine's clock is
    the max of the stamps in the log, so a leader's clock that lags only
    makes expiry later, never nondeterministic.
*/
#include "http_int.h"
#include "kvsm_session.h"
#include "msg_store.h"
#include "parse_session.h"

#include <stdlib.h>

static uint64_t
s_now_ms (void)
{
    int64_t t = zclock_time ();
    return t > 0 ? (uint64_t)t : 0;
}

int
http_session_fields (http_req_t *c, const char *body, size_t len,
                     kvsm_cmd_t *cmd)
{
    http_parse_err_t err;
    if (http_parse_session_fields (body, len, cmd, &err) != 0)
        return http_reply_parse_error (c, &err);
    if (cmd->has_session)
        cmd->stamp_ms = s_now_ms ();
    return 0;
}

static int
s_propose (http_req_t *c, kvsm_cmd_t *cmd)
{
    msg_api_forward_t forward;
    int st = http_kv_forward_param (c, &forward);
    if (st) {
        kvsm_cmd_clear (cmd);
        return st;
    }
    raft_buf_t *data = msg_kv_encode (cmd);
    kvsm_cmd_clear (cmd);
    if (!data)
        return http_reply_error (c, 500, "internal", "unencodable command");
    msg_api_req_t req = {.op = MSG_API_CMD, .value = data, .forward = forward};
    return http_call (c, &req);
}

int
http_session_open (http_req_t *c)
{
    char *body = NULL;
    size_t len = 0;
    int st = http_read_body (c, &body, &len);
    if (st)
        return st;
    http_parse_err_t err;
    int rc = http_parse_session_open (body, len, &err);
    free (body);
    if (rc != 0)
        return http_reply_parse_error (c, &err);
    uint64_t ttl = c->self->args.session_ttl_ms;
    kvsm_cmd_t cmd = {.op = KVSM_SOPEN,
                      .ttl_ms = ttl ? ttl : KVSM_SESSION_TTL_DEFAULT_MS,
                      .stamp_ms = s_now_ms ()};
    return s_propose (c, &cmd);
}

int
http_session_close (http_req_t *c)
{
    char *body = NULL;
    size_t len = 0;
    int st = http_read_body (c, &body, &len);
    if (st)
        return st;
    http_parse_err_t err;
    uint64_t id = 0;
    int rc = http_parse_session_close (body, len, &id, &err);
    free (body);
    if (rc != 0)
        return http_reply_parse_error (c, &err);
    kvsm_cmd_t cmd = {
        .op = KVSM_SCLOSE, .session = id, .stamp_ms = s_now_ms ()};
    return s_propose (c, &cmd);
}
