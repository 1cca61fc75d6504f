/*  http_lease.c -- leases over HTTP (store/kvsm_lease.h; the leader's side
    in actors/raft_actor_lease.c):

      POST /lease/grant {"ttl": s}      an LGRANT through the log; the TTL
                                        is clamped by the leader before it
                                        proposes (ra_lease_clamp): raised
                                        to lessor_min_ttl_ms (1.5 election
                                        timeouts), capped at
                                        KVSM_LEASE_TTL_MAX_MS
      POST /lease/keepalive {"id"}      never logged: the leader renews
                                        once a ReadIndex round confirms it
                                        still leads
      POST /lease/revoke {"id"}         an LREVOKE through the log: the
                                        keys go at that entry
      GET /lease/info?id=N              the TTL, the remaining time (on the
                                        leader), the attached keys
      GET /lease/list                   every lease's id and TTL, read here
                                        from this node's table as applied
                                        (a local read, like ?stale=true)
      "lease": N on /kv/put and on /kv/txn's put ops (http_lease_fields)

    Writes and the keep-alive take ?forward=true|false as the other writes
    do (a follower forwards them to the leader). Sessions (§6.3) are not
    taken on lease commands: a grant retried after a timeout makes a
    second lease that nobody keeps alive, so it expires on its own; a
    revoke retried answers 404, and a keep-alive is idempotent.
*/
#include "http_int.h"
#include "http_render.h"
#include "json.h"
#include "kvsm_lease.h"
#include "log.h"
#include "msg_store.h"
#include "parse_lease.h"
#include "store_lease.h"
#include "store_lease_get.h"

#include <stdlib.h>
#include <string.h>

/* Ask, then reply; a 404 lease_not_found names the lease (name: "id" or
   "lease") when the answer did not. */
static int
s_call (http_req_t *c, msg_api_req_t *req, const char *name, uint64_t lease)
{
    msg_api_rep_t rep;
    int st = http_ask (c, req, &rep);
    if (st)
        return st;
    json_t *body = http_render_rep (&rep);
    int status = (int)rep.status;
    msg_api_rep_clear (&rep);
    if (!body)
        return http_reply_error (c, 500, "internal", "unrenderable reply");
    const char *err = json_string_value (json_object_get (body, "error"));
    if (status == 404 && lease && err && strcmp (err, "lease_not_found") == 0 &&
        !json_object_get (body, "id") && !json_object_get (body, "lease"))
        json_object_set_new (body, name, json_integer ((json_int_t)lease));
    return http_reply_json (c, status, body, NULL);
}

int
http_lease_call (http_req_t *c, msg_api_req_t *req, uint64_t lease)
{
    return s_call (c, req, "lease", lease);
}

int
http_lease_fields (http_req_t *c, const char *body, size_t len, kvsm_cmd_t *cmd,
                   uint64_t *first)
{
    http_parse_err_t err;
    if (http_parse_lease_fields (body, len, cmd, first, &err) != 0)
        return http_reply_parse_error (c, &err);
    return 0;
}

/* Read the body and ?forward; 0, or the status of the error sent. */
static int
s_body (http_req_t *c, char **body, size_t *len, msg_api_forward_t *forward)
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

static int
s_propose (http_req_t *c, kvsm_cmd_t *cmd, msg_api_forward_t forward,
           uint64_t id)
{
    raft_buf_t *data = msg_kv_encode (cmd);
    kvsm_cmd_clear (cmd);
    if (!data)
        return http_reply_error (c, 500, "internal", "unencodable command");
    msg_api_req_t req = {.op = MSG_API_CMD, .value = data, .forward = forward};
    return s_call (c, &req, "id", id);
}

int
http_lease_grant (http_req_t *c)
{
    char *body = NULL;
    size_t len = 0;
    msg_api_forward_t forward;
    int st = s_body (c, &body, &len, &forward);
    if (st)
        return st;
    http_parse_err_t err;
    uint64_t ttl_s = 0;
    int rc = http_parse_lease_grant (body, len, &ttl_s, &err);
    free (body);
    if (rc != 0)
        return http_reply_parse_error (c, &err);
    /* the leader raises it to its minimum (ra_lease_clamp) */
    kvsm_cmd_t cmd = {.op = KVSM_LGRANT, .ttl_ms = ttl_s * 1000};
    return s_propose (c, &cmd, forward, 0);
}

int
http_lease_revoke (http_req_t *c)
{
    char *body = NULL;
    size_t len = 0;
    msg_api_forward_t forward;
    int st = s_body (c, &body, &len, &forward);
    if (st)
        return st;
    http_parse_err_t err;
    uint64_t id = 0;
    int rc = http_parse_lease_id (body, len, &id, &err);
    free (body);
    if (rc != 0)
        return http_reply_parse_error (c, &err);
    kvsm_cmd_t cmd = {.op = KVSM_LREVOKE, .lease = id};
    return s_propose (c, &cmd, forward, id);
}

int
http_lease_keepalive (http_req_t *c)
{
    char *body = NULL;
    size_t len = 0;
    msg_api_forward_t forward;
    int st = s_body (c, &body, &len, &forward);
    if (st)
        return st;
    http_parse_err_t err;
    uint64_t id = 0;
    int rc = http_parse_lease_id (body, len, &id, &err);
    free (body);
    if (rc != 0)
        return http_reply_parse_error (c, &err);
    msg_api_req_t req = {
        .op = MSG_API_LEASE_KEEPALIVE, .id = id, .forward = forward};
    return s_call (c, &req, "id", id);
}

/* The keys attached to lease id as applied here, as a JSON array of
   strings (json_string_lossy): [] if this node's table does not hold it
   (yet); NULL on a read error (logged). */
static json_t *
s_keys (http_req_t *c, uint64_t id)
{
    store_t *st = c->self->args.shared
                      ? atomic_load_explicit (&c->self->args.shared->store,
                                              memory_order_acquire)
                      : NULL;
    json_t *a = json_array ();
    kvsm_leases_t *t = NULL;
    char *err = NULL;
    int rc = st && a ? store_lease_get (st, id, &t, &err) : 0;
    if (rc < 0) {
        log_error ("http: lease %llu: %s", (unsigned long long)id, err);
        free (err);
        json_decref (a);
        return NULL;
    }
    const kvsm_lease_t *l = t ? kvsm_leases_find (t, id) : NULL;
    for (size_t i = 0; a && l && i < l->n_keys; i++)
        json_array_append_new (
            a, json_string_lossy ((const char *)l->keys[i]->data,
                                  l->keys[i]->len));
    kvsm_leases_destroy (&t);
    return a;
}

/* GET /lease/info: the raft actor's answer (the TTL; the remaining time
   on the leader, from its lessor), then, after a read barrier, the keys
   from this node's store, read here in the worker. */
int
http_lease_info (http_req_t *c)
{
    const char *qs = c->ri->query_string;
    http_parse_err_t err;
    uint64_t id = 0;
    if (http_parse_lease_query (qs, qs ? strlen (qs) : 0, &id, &err) != 0)
        return http_reply_parse_error (c, &err);
    msg_api_req_t req = {.op = MSG_API_LEASE_INFO, .id = id};
    msg_api_rep_t rep;
    int st = http_ask (c, &req, &rep);
    if (st)
        return st;
    if (rep.status != 200 || rep.kind != MSG_API_REP_LEASE) {
        json_t *body = http_render_rep (&rep);
        int status = (int)rep.status;
        msg_api_rep_clear (&rep);
        if (!body)
            return http_reply_error (c, 500, "internal", "unrenderable reply");
        if (status == 404 && !json_object_get (body, "id"))
            json_object_set_new (body, "id", json_integer ((json_int_t)id));
        return http_reply_json (c, status, body, NULL);
    }
    json_t *body = http_render_lease_rep (&rep);
    msg_api_rep_clear (&rep);
    /* The keys are read after a read barrier (ReadIndex, §6.4), as a
       linearizable GET or range is: a put with this lease acknowledged
       before the request arrived is in the list on any node, a follower
       included (it had not always applied it yet). */
    msg_api_req_t barrier = {.op = MSG_API_READ};
    if (body && (st = http_ask (c, &barrier, &rep)) == 0) {
        if (rep.status != 200)
            st = http_reply_rep (c, &rep);
        msg_api_rep_clear (&rep);
    }
    if (st) {
        json_decref (body);
        return st;
    }
    json_t *keys = body ? s_keys (c, id) : NULL;
    if (!keys) {
        json_decref (body);
        return http_reply_error (c, 500, "internal", "cannot read the lease");
    }
    json_object_set_new (body, "keys", keys);
    return http_reply_json (c, 200, body, NULL);
}

/* GET /lease/list: {"leases": [{"id", "ttl", "ttl_ms"}, ...]} in id
   order, from this node's store (store_leases_read: at most
   KVSM_LEASES_MAX records), without asking the raft actor. */
int
http_lease_list (http_req_t *c)
{
    store_t *st = c->self->args.shared
                      ? atomic_load_explicit (&c->self->args.shared->store,
                                              memory_order_acquire)
                      : NULL;
    if (!st)
        return http_reply_error (c, 503, "unavailable", "no data open yet");
    kvsm_leases_t *t = NULL;
    char *err = NULL;
    if (store_leases_read (st, NULL, &t, &err) != 0) {
        log_error ("http: lease list: %s", err);
        free (err);
        return http_reply_error (c, 500, "internal", "cannot read the leases");
    }
    json_t *a = json_array ();
    for (size_t i = 0; a && i < t->n; i++) {
        uint64_t ms = t->v[i].ttl_ms;
        json_array_append_new (
            a, json_pack ("{s:I, s:I, s:I}", "id", (json_int_t)t->v[i].id,
                          "ttl", (json_int_t)(ms / 1000 + (ms % 1000 != 0)),
                          "ttl_ms", (json_int_t)ms));
    }
    kvsm_leases_destroy (&t);
    json_t *body = a ? json_pack ("{s:o, s:b}", "leases", a, "stale", 1) : NULL;
    if (!body)
        return http_reply_error (c, 500, "internal", "out of memory");
    return http_reply_json (c, 200, body, NULL);
}
