/*  kvsm_fixture.c -- see kvsm_fixture.h. */
#include "kvsm_fixture.h"
#include "check.h"
#include "msg_store.h"

#include <stdio.h>
#include <string.h>

raft_buf_t *
kf_b (const char *s)
{
    return raft_buf_new (s, strlen (s));
}

kf_rec_t *
kf_find (kf_map_t *m, const raft_buf_t *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strlen (m->recs[i].key) == key->len &&
            memcmp (m->recs[i].key, key->data, key->len) == 0)
            return &m->recs[i];
    return NULL;
}

kf_rec_t *
kf_find_s (kf_map_t *m, const char *key)
{
    raft_buf_t *k = kf_b (key);
    kf_rec_t *r = kf_find (m, k);
    raft_buf_unref (k);
    return r;
}

static int
s_get (void *ctx, const raft_buf_t *key, kvsm_rec_t *rec)
{
    kf_map_t *m = ctx;
    if (m->fail_get && ++m->gets >= m->fail_get)
        return -1;
    kf_rec_t *r = kf_find (m, key);
    if (!r)
        return 0;
    rec->meta = r->meta;
    rec->value = raft_buf_new (r->value, strlen (r->value));
    return 1;
}

static int
s_put (void *ctx, const raft_buf_t *key, const kvsm_meta_t *meta,
       const raft_buf_t *value)
{
    kf_map_t *m = ctx;
    kf_rec_t *r = kf_find (m, key);
    if (!r) {
        if (m->n == KF_MAX)
            return -1;
        r = &m->recs[m->n++];
        snprintf (r->key, sizeof r->key, "%.*s", (int)key->len,
                  (const char *)key->data);
    }
    r->meta = *meta;
    snprintf (r->value, sizeof r->value, "%.*s", (int)value->len,
              (const char *)value->data);
    return 0;
}

static int
s_del (void *ctx, const raft_buf_t *key)
{
    kf_map_t *m = ctx;
    kf_rec_t *r = kf_find (m, key);
    if (r)
        *r = m->recs[--m->n];
    return 0;
}

kvsm_view_t
kf_view (kf_map_t *m)
{
    return (kvsm_view_t){.ctx = m,
                         .get = s_get,
                         .put = s_put,
                         .del = s_del,
                         .sessions = m->sessions,
                         .leases = m->leases};
}

int
kf_apply_v (kf_map_t *m, raft_index_t index, kvsm_cmd_t *cmd,
            kvsm_result_t *res, unsigned *version)
{
    raft_buf_t *data = msg_kv_encode (cmd);
    kvsm_cmd_clear (cmd);
    CHECK (data != NULL);
    memset (res, 0, sizeof *res);
    if (!data)
        return -1;
    kvsm_cmd_t d;
    int rc = msg_kv_decode (data->data, data->len, &d);
    raft_buf_unref (data);
    CHECK_EQ (rc, 0);
    if (rc != 0)
        return -1;
    if (version)
        *version = d.version;
    kvsm_view_t v = kf_view (m);
    rc = kvsm_apply (&v, index, &d, res);
    kvsm_cmd_clear (&d);
    return rc;
}

int
kf_apply (kf_map_t *m, raft_index_t index, kvsm_cmd_t *cmd, kvsm_result_t *res)
{
    return kf_apply_v (m, index, cmd, res, NULL);
}
