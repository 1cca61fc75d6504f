/*  http_range.c -- GET /kv/range (issue 15): a page of records in key
    order, read here in the worker from one LevelDB snapshot
    (store_range), after the same read barrier a linearizable GET takes
    (ReadIndex, §6.4; none with stale=true). The page reports the applied
    index of its snapshot: every record is as of that index. Pages are
    each consistent, not with each other (a write may land between two).
*/
#include "http_int.h"
#include "json.h"
#include "log.h"
#include "parse_kv.h"
#include "store_format.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    json_t *kvs;
    bool keys_only;
    char *last; /* the last key given, for the token */
    size_t last_len;
} s_page_t;

static json_t *
s_uint (uint64_t v)
{
    return json_integer ((json_int_t)(v > INT64_MAX ? INT64_MAX : v));
}

static int
s_add (void *ctx, const char *key, size_t key_len, const char *rec,
       size_t rec_len)
{
    s_page_t *p = ctx;
    kvsm_meta_t m;
    const char *val;
    size_t vlen;
    if (!store_rec_parse (rec, rec_len, &m.create_index, &m.mod_index,
                          &m.version, &val, &vlen))
        return -1;
    json_t *o = json_object ();
    bool ok =
        o &&
        !json_object_set_new (o, "key", json_string_lossy (key, key_len)) &&
        (p->keys_only ||
         !json_object_set_new (o, "value", json_string_lossy (val, vlen))) &&
        !json_object_set_new (o, "create_index", s_uint (m.create_index)) &&
        !json_object_set_new (o, "mod_index", s_uint (m.mod_index)) &&
        !json_object_set_new (o, "version", s_uint (m.version)) &&
        !json_array_append_new (p->kvs, o);
    if (!ok) {
        json_decref (o);
        return -1;
    }
    char *l = realloc (p->last, key_len + 1);
    if (!l)
        return -1;
    memcpy (l, key, key_len);
    p->last = l;
    p->last_len = key_len;
    return 0;
}

/* The token of the next page: hex of the key right after the last one
   (the last key and a 0 byte). */
static json_t *
s_token (const s_page_t *p)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = p->last_len + 1;
    char *t = malloc (2 * n + 1);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = i < p->last_len ? (uint8_t)p->last[i] : 0;
        t[2 * i] = hex[b >> 4];
        t[2 * i + 1] = hex[b & 15];
    }
    t[2 * n] = 0;
    json_t *j = json_string (t);
    free (t);
    return j;
}

int
http_kv_range (http_req_t *c)
{
    const char *qs = c->ri->query_string ? c->ri->query_string : "";
    http_parse_limits_t lim = {.max_key = c->self->args.max_key,
                               .max_value = c->self->args.max_value};
    http_parse_range_t r;
    http_parse_err_t err;
    if (http_parse_range_query (qs, strlen (qs), &lim, &r, &err) != 0)
        return http_reply_parse_error (c, &err);
    store_t *st = c->self->args.shared
                      ? atomic_load_explicit (&c->self->args.shared->store,
                                              memory_order_acquire)
                      : NULL;
    if (!st) {
        http_parse_range_clear (&r);
        return http_reply_error (c, 503, "unavailable", "no data open yet");
    }
    if (!r.stale) {
        msg_api_req_t barrier = {.op = MSG_API_READ};
        msg_api_rep_t rep;
        int rc = http_ask (c, &barrier, &rep);
        if (!rc && rep.status != 200)
            rc = http_reply_rep (c, &rep);
        msg_api_rep_clear (&rep);
        if (rc) {
            http_parse_range_clear (&r);
            return rc;
        }
    }
    s_page_t p = {.kvs = json_array (), .keys_only = r.keys_only};
    raft_index_t applied = 0;
    bool more = false;
    char *e = NULL;
    int rc =
        p.kvs ? store_range (st, r.start->data, r.start->len,
                             r.end ? r.end->data : NULL, r.end ? r.end->len : 0,
                             r.limit, &applied, &more, s_add, &p, &e)
              : -1;
    http_parse_range_clear (&r);
    if (rc != 0) {
        log_error ("http: range failed: %s", e ? e : "out of memory");
        free (e);
        json_decref (p.kvs);
        free (p.last);
        return http_reply_error (c, 500, "internal", "range failed");
    }
    size_t count = json_array_size (p.kvs);
    json_t *o = json_object ();
    bool ok =
        o && !json_object_set_new (o, "kvs", p.kvs) &&
        !json_object_set_new (o, "count", json_integer ((json_int_t)count)) &&
        !json_object_set_new (o, "more", json_boolean (more)) &&
        !json_object_set_new (o, "continue",
                              more ? s_token (&p) : json_null ()) &&
        !json_object_set_new (o, "index", s_uint (applied));
    if (ok && r.stale)
        ok = !json_object_set_new (o, "stale", json_true ());
    free (p.last);
    if (!ok) {
        json_decref (o);
        return http_reply_error (c, 500, "internal", "out of memory");
    }
    return http_reply_json (c, 200, o, NULL);
}
