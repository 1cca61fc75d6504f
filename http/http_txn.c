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
#include "store_format.h"

#include <stdlib.h>

/*  Planted node bug (NODE_BUGS in the Makefile; make jepsen-teeth):
      12 cas_precheck  a compare shorthand without a session is checked
                       here, in the worker, against this node's applied
                       state: if it holds, a plain PUT or DELETE is
                       proposed; if not, the command as it is (the state
                       machine answers 412). Check-then-act: two CASes
                       from the same value both pass and both apply (a
                       lost update), and a CAS passes against a value a
                       write committed but not yet applied here has
                       overwritten. The linearizability checker must
                       reject the histories this gives.             */
#ifndef NSXD_PLANTED_BUG
#define NSXD_PLANTED_BUG 0
#endif
#define NSXD_BUG_CAS_PRECHECK 12
#define NSXD_BUG(name) (NSXD_PLANTED_BUG == NSXD_BUG_##name)

/* cas_precheck's check: does cmd's one compare hold on the local record? */
static bool
s_bug_precheck_holds (http_req_t *c, const kvsm_cmd_t *cmd)
{
    store_t *st = c->self->args.shared
                      ? atomic_load_explicit (&c->self->args.shared->store,
                                              memory_order_acquire)
                      : NULL;
    raft_buf_t *v = NULL;
    char *err = NULL;
    int found =
        st ? store_read_kv (st, cmd->key->data, cmd->key->len, &v, &err) : -1;
    free (err);
    kvsm_rec_t rec = {0};
    const char *val = NULL;
    size_t len = 0;
    bool holds = false;
    if (found == 0 ||
        (found == 1 &&
         store_rec_parse ((const char *)v->data, v->len, &rec.meta.create_index,
                          &rec.meta.mod_index, &rec.meta.version, &val, &len) &&
         (rec.value = raft_buf_new (val, len)) != NULL))
        holds = kvsm_compare (&cmd->cmps[0], found == 1, &rec);
    raft_buf_unref (rec.value);
    raft_buf_unref (v);
    return holds;
}

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

/* A write's body and its ?forward= (http_kv.c): 0 with *body (free it),
   or the status of the reply sent. */
static int
s_read (http_req_t *c, char **body, size_t *len, msg_api_forward_t *forward)
{
    int st = http_read_body (c, body, len);
    if (st)
        return st;
    if ((st = http_kv_forward_param (c, forward)) != 0) {
        free (*body);
        *body = NULL;
    }
    return st;
}

int
http_kv_write (http_req_t *c, bool put)
{
    char *body = NULL;
    size_t len = 0;
    msg_api_forward_t forward;
    int st = s_read (c, &body, &len, &forward);
    if (st)
        return st;
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
    bool plain = cmd.n_cmps == 0 && !cmd.has_session && !lease;
    if (NSXD_BUG (CAS_PRECHECK) && cmd.n_cmps == 1 && !cmd.has_session &&
        s_bug_precheck_holds (c, &cmd))
        plain = true; /* planted: proposed without its compare */
    if (plain) {
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
    msg_api_forward_t forward;
    int st = s_read (c, &body, &len, &forward);
    if (st)
        return st;
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
