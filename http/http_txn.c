/*  http_txn.c -- the state machine's write routes (issue 15): POST
    /kv/put and DELETE /kv/delete with their compare shorthands
    (prev_value, prev_index, prev_exist), and POST /kv/txn. The command is
    encoded here, in the worker (msg_kv_encode), and proposed as it is by
    the raft actor ("cmd"); compares are checked at apply by the state
    machine (store/kvsm.h), never here: only the apply order is
    linearizable. The reply is the state machine's result, rendered by
    http_render_kv.c.
*/
#include "http_int.h"
#include "msg_store.h"
#include "parse_kv.h"

#include <stdlib.h>

static http_parse_limits_t
s_limits (const http_req_t *c)
{
    return (http_parse_limits_t){.max_key = c->self->args.max_key,
                                 .max_value = c->self->args.max_value};
}

/* Propose cmd (taken) as an encoded command; key: its key, or NULL. */
static int
s_propose (http_req_t *c, kvsm_cmd_t *cmd, raft_buf_t *key,
           msg_api_forward_t forward, uint64_t lease)
{
    raft_buf_t *data = msg_kv_encode (cmd);
    kvsm_cmd_clear (cmd);
    if (!data) {
        raft_buf_unref (key);
        return http_reply_error (c, 500, "internal", "unencodable command");
    }
    msg_api_req_t req = {
        .op = MSG_API_CMD, .key = key, .value = data, .forward = forward};
    return lease ? http_lease_call (c, &req, lease) : http_call (c, &req);
}

int
http_kv_write (http_req_t *c, bool put)
{
    char *body = NULL;
    size_t len = 0;
    int st = http_read_body (c, &body, &len);
    if (st)
        return st;
    msg_api_forward_t forward;
    if ((st = http_kv_forward_param (c, &forward)) != 0) {
        free (body);
        return st;
    }
    http_parse_limits_t lim = s_limits (c);
    kvsm_cmd_t cmd;
    http_parse_err_t err;
    int rc = http_parse_kv_write (body, len, &lim, put, &cmd, &err);
    if (rc != 0) {
        free (body);
        return http_reply_parse_error (c, &err);
    }
    uint64_t lease = 0;
    st = http_session_fields (c, body, len, &cmd);
    if (!st)
        st = http_lease_fields (c, body, len, &cmd, &lease);
    free (body);
    if (st) {
        kvsm_cmd_clear (&cmd);
        return st;
    }
    if (cmd.n_cmps == 0 && !cmd.has_session && !lease) {
        /* no compare: the prototype's request, as before */
        msg_api_req_t req = {.op = put ? MSG_API_PUT : MSG_API_DELETE,
                             .key = raft_buf_ref (cmd.key),
                             .value = raft_buf_ref (cmd.value),
                             .forward = forward};
        kvsm_cmd_clear (&cmd);
        return http_call (c, &req);
    }
    raft_buf_t *key = raft_buf_ref (cmd.key);
    return s_propose (c, &cmd, key, forward, lease);
}

/* POST /kv/txn: one log entry, even when it only reads (compares and
   gets): simple, and linearizable by the apply order like any write. */
int
http_kv_txn (http_req_t *c)
{
    char *body = NULL;
    size_t len = 0;
    int st = http_read_body (c, &body, &len);
    if (st)
        return st;
    msg_api_forward_t forward;
    if ((st = http_kv_forward_param (c, &forward)) != 0) {
        free (body);
        return st;
    }
    http_parse_limits_t lim = s_limits (c);
    kvsm_cmd_t cmd;
    http_parse_err_t err;
    int rc = http_parse_txn (body, len, &lim, &cmd, &err);
    if (rc != 0) {
        free (body);
        return http_reply_parse_error (c, &err);
    }
    uint64_t lease = 0;
    st = http_session_fields (c, body, len, &cmd);
    if (!st)
        st = http_lease_fields (c, body, len, &cmd, &lease);
    free (body);
    if (st) {
        kvsm_cmd_clear (&cmd);
        return st;
    }
    return s_propose (c, &cmd, NULL, forward, 0);
}
