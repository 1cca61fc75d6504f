/*  http_render_kv.c -- the state machine's results (store/kvsm.h) as the
    JSON clients see (README, "The HTTP API"): a PUT's or DELETE's reply
    with versions, the shorthands' 412 compare_failed, a TXN's
    responses, and a GET's record.
*/
#include "http_render.h"
#include "json.h"
#include "msg_store.h"
#include "store_format.h"

#include <stdint.h>
#include <string.h>

static bool
s_set (json_t *o, const char *key, json_t *v)
{
    return v && json_object_set_new (o, key, v) == 0;
}

static json_t *
s_uint (uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? json_real ((double)v)
                                   : json_integer ((json_int_t)v);
}

static json_t *
s_buf (const raft_buf_t *b)
{
    return b ? json_string_lossy (b->data, b->len) : json_string ("");
}

static json_t *
s_done (json_t *o, bool ok)
{
    if (ok)
        return o;
    json_decref (o);
    return NULL;
}

static bool
s_meta (json_t *o, const kvsm_meta_t *m)
{
    return s_set (o, "create_index", s_uint (m->create_index)) &&
           s_set (o, "mod_index", s_uint (m->mod_index)) &&
           s_set (o, "version", s_uint (m->version));
}

/* One op's fields, as the single-op reply has them (without "ok" and
   "index": the reply's own). */
static bool
s_resp_fields (json_t *o, const kvsm_resp_t *r)
{
    bool ok = s_set (o, "key", s_buf (r->key));
    switch (r->op) {
    case KVSM_PUT:
        return ok && s_set (o, "created", json_boolean (!r->found)) &&
               s_meta (o, &r->meta);
    case KVSM_DEL:
        return ok && s_set (o, "deleted", json_boolean (r->found)) &&
               (!r->found ||
                s_set (o, "prev_mod_index", s_uint (r->meta.mod_index)));
    case KVSM_GET:
        if (!r->found)
            return ok && s_set (o, "found", json_false ());
        return ok && s_set (o, "found", json_true ()) &&
               s_set (o, "value", s_buf (r->value)) && s_meta (o, &r->meta);
    case KVSM_TXN:
    case KVSM_SOPEN:
    case KVSM_SCLOSE:
    case KVSM_LGRANT:
    case KVSM_LREVOKE: break;
    }
    return false;
}

static const char *
s_op_name (kvsm_op_t op)
{
    return op == KVSM_PUT ? "put" : op == KVSM_DEL ? "delete" : "get";
}

/* 412 {"error": "compare_failed", "key", "current", "index"} */
static json_t *
s_compare_failed (const kvsm_result_t *res, raft_index_t index)
{
    const kvsm_resp_t *r = res->n_resps ? &res->resps[0] : NULL;
    json_t *o = json_error_body ("compare_failed", NULL);
    if (!o || !r)
        return s_done (o, false);
    json_t *cur = json_null ();
    if (r->found) {
        json_decref (cur);
        cur = json_object ();
        if (!cur || !s_set (cur, "value", s_buf (r->value)) ||
            !s_meta (cur, &r->meta)) {
            json_decref (cur);
            cur = NULL;
        }
    }
    return s_done (o, s_set (o, "key", s_buf (r->key)) &&
                          s_set (o, "current", cur) &&
                          s_set (o, "index", s_uint (index)));
}

static json_t *
s_txn (const kvsm_result_t *res, raft_index_t index)
{
    json_t *o = json_object (), *a = json_array ();
    bool ok = o && a;
    for (size_t i = 0; ok && i < res->n_resps; i++) {
        json_t *e = json_object ();
        ok = e && s_set (e, "op", json_string (s_op_name (res->resps[i].op))) &&
             s_resp_fields (e, &res->resps[i]) &&
             json_array_append_new (a, e) == 0;
        if (!ok)
            json_decref (e);
    }
    if (!ok) {
        json_decref (a);
        return s_done (o, false);
    }
    return s_done (o, s_set (o, "succeeded", json_boolean (res->succeeded)) &&
                          s_set (o, "index", s_uint (index)) &&
                          s_set (o, "responses", a));
}

json_t *
http_render_kv (raft_index_t index, const raft_buf_t *result)
{
    kvsm_result_t res;
    if (!result || msg_kv_result_decode (result->data, result->len, &res) != 0)
        return NULL;
    json_t *o = NULL;
    /* a duplicate (§6.3): the first reply, at the first's index */
    if (res.duplicate && res.first_index)
        index = res.first_index;
    if (res.op == KVSM_LGRANT || res.op == KVSM_LREVOKE ||
        res.status == KVSM_LEASE_NOT_FOUND || res.status == KVSM_LEASE_LIMIT) {
        o = http_render_lease (&res, index);
    } else if (res.op == KVSM_SOPEN || res.op == KVSM_SCLOSE ||
               res.status >= KVSM_SESSION_EXPIRED) {
        o = http_render_session (&res, index);
    } else if (res.status == KVSM_COMPARE_FAILED) {
        o = s_compare_failed (&res, index);
    } else if (res.op == KVSM_TXN) {
        o = s_txn (&res, index);
    } else if (res.n_resps == 1) {
        /* {"ok", "key", "index", "created" | "deleted", ...}: the
           prototype's fields first, then the versions */
        const kvsm_resp_t *r = &res.resps[0];
        o = json_object ();
        bool ok = o && s_set (o, "ok", json_true ()) &&
                  s_set (o, "key", s_buf (r->key)) &&
                  s_set (o, "index", s_uint (index));
        if (ok && r->op == KVSM_PUT)
            ok = s_set (o, "created", json_boolean (!r->found)) &&
                 s_meta (o, &r->meta);
        else if (ok)
            ok = s_set (o, "deleted", json_boolean (r->found)) &&
                 (!r->found ||
                  s_set (o, "prev_mod_index", s_uint (r->meta.mod_index)));
        o = s_done (o, ok);
    }
    kvsm_result_clear (&res);
    return o;
}

json_t *
http_render_record (const raft_buf_t *key, const raft_buf_t *rec, bool stale)
{
    if (!rec)
        return http_render_value (key, NULL, stale);
    kvsm_meta_t m;
    const char *val;
    size_t vlen;
    if (!store_rec_parse ((const char *)rec->data, rec->len, &m.create_index,
                          &m.mod_index, &m.version, &val, &vlen))
        return NULL;
    json_t *o = json_object ();
    bool ok = o && s_set (o, "key", s_buf (key)) &&
              s_set (o, "value", json_string_lossy (val, vlen)) &&
              s_meta (o, &m);
    if (ok && stale)
        ok = s_set (o, "stale", json_true ());
    return s_done (o, ok);
}
