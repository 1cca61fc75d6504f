/*  http_kv.c -- the key-value routes: POST /kv/put, GET /kv/get, DELETE
    /kv/delete. Writes go to the raft actor; a GET reads the KV data here,
    in the worker, once the raft actor says it may (s_get_local).
*/
#include "http_int.h"
#include "http_render.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

static http_parse_limits_t
s_limits (const http_req_t *c)
{
    return (http_parse_limits_t){.max_key = c->self->args.max_key,
                                 .max_value = c->self->args.max_value};
}

/* ?forward=true|false on a write (README, "The HTTP API"): whether a
   follower forwards it to the leader or answers 409; absent: the node's
   --forward-writes. 0, or the status of the 400 sent. */
int
http_kv_forward_param (http_req_t *c, msg_api_forward_t *out)
{
    *out = MSG_API_FORWARD_DEFAULT;
    const char *qs = c->ri->query_string;
    char v[8];
    int n = qs ? mg_get_var (qs, strlen (qs), "forward", v, sizeof v) : -1;
    if (n == -1)
        return 0; /* absent */
    if (n >= 0 && (strcmp (v, "true") == 0 || strcmp (v, "1") == 0))
        *out = MSG_API_FORWARD_YES;
    else if (n >= 0 && (strcmp (v, "false") == 0 || strcmp (v, "0") == 0))
        *out = MSG_API_FORWARD_NO;
    else
        return http_reply_error (c, 400, "bad_request",
                                 "forward must be true or false");
    return 0;
}

/* PUT and DELETE, with or without their compares: http_txn.c. */
int
http_kv_put (http_req_t *c)
{
    return http_kv_write (c, true);
}

int
http_kv_delete (http_req_t *c)
{
    return http_kv_write (c, false);
}

/* How long a GET may wait for its read barrier round: the request
   deadline, plus the grace http_ask gives the raft actor's own 503. */
#define S_BARRIER_GRACE_MS 500

/* GET with the KV data at hand (args.shared): a stale read is a local
   LevelDB lookup; a linearizable one first waits for a read barrier
   (ReadIndex, §6.4: passed once this node is confirmed leader and has
   applied up to a read index taken after the GET arrived), shared with
   the GETs waiting at the same time (read_barrier.h), then looks up
   locally, which sees at least everything applied up to there. Either
   way no storage actor round trip, and the body is the one the raft
   actor's value reply renders to (http_render_value). */
static int
s_get_local (http_req_t *c, store_t *st, msg_api_req_t *req)
{
    if (!req->stale) {
        http_read_barrier_result_t res;
        int64_t deadline =
            zclock_mono () + c->self->args.timeout_ms + S_BARRIER_GRACE_MS;
        http_read_barrier_wait (c->self->barrier, http_ask_barrier, c, deadline,
                                &res);
        if (res.status != 200) {
            msg_api_req_clear (req);
            json_t *body = http_render_error (
                res.code, res.has_detail ? res.detail : NULL, res.has_leader,
                res.leader_known ? res.leader : NULL);
            if (!body)
                return http_reply_error (c, 500, "internal", "out of memory");
            return http_reply_json (c, (int)res.status, body, NULL);
        }
    }
    raft_buf_t *value = NULL;
    char *err = NULL;
    int found = store_read_kv (st, req->key->data, req->key->len, &value, &err);
    if (found < 0) {
        log_error ("http: read failed: %s", err);
        free (err);
        msg_api_req_clear (req);
        return http_reply_error (c, 500, "internal", "read failed");
    }
    json_t *body =
        http_render_record (req->key, found ? value : NULL, req->stale);
    raft_buf_unref (value);
    msg_api_req_clear (req);
    if (!body)
        return http_reply_error (c, 500, "internal", "out of memory");
    return http_reply_json (c, found ? 200 : 404, body, NULL);
}

int
http_kv_get (http_req_t *c)
{
    const char *qs = c->ri->query_string ? c->ri->query_string : "";
    http_parse_limits_t lim = s_limits (c);
    http_parse_kv_t kv;
    http_parse_err_t err;
    if (http_parse_get_query (qs, strlen (qs), &lim, &kv, &err) != 0)
        return http_reply_parse_error (c, &err);
    msg_api_req_t req = {.op = MSG_API_GET, .key = kv.key, .stale = kv.stale};
    store_t *st = c->self->args.shared
                      ? atomic_load_explicit (&c->self->args.shared->store,
                                              memory_order_acquire)
                      : NULL;
    if (st)
        return s_get_local (c, st, &req);
    return http_call (c, &req);
}
