/*  sim_kv.c -- see sim_kv.h.
*/
#include "sim_kv.h"

#include "kvsm.h"
#include "kvsm_lease.h"
#include "kvsm_session.h"
#include "msg_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_KEYS 6 /* the workload's keys: k0..k5 */
#define S_STR 12 /* key and value bytes, NUL included */
/* room for the lease clients' keys too (sim_kv_lease.c) */
#define S_CAP (S_KEYS + 2 + 2 * SIM_KV_LEASE_CLIENTS)

typedef struct {
    char key[S_STR];
    char value[S_STR];
    kvsm_meta_t meta;
} s_rec_t;

/* A map: at most S_CAP records, in key order. Shared between states
   (refs) once frozen. */
typedef struct {
    int refs;
    size_t n;
    s_rec_t recs[S_CAP];
    kvsm_sessions_t *sess; /* the session table (owned) */
    kvsm_leases_t *leases; /* the lease table (owned; NULL: empty) */
} s_map_t;

/* The maps by the simulator's state hash (open addressing). */
typedef struct {
    uint64_t state;
    s_map_t *map; /* NULL: free slot */
} s_slot_t;

/* A node's map and the state it is at. */
typedef struct {
    s_map_t *map;
    raft_index_t index;
    uint64_t state;
    raft_index_t codec_at; /* its table last came through the codec at */
} s_node_t;

typedef struct {
    const sim_t *owner;
    uint64_t seed;
    s_slot_t *slots;
    size_t cap, used;
    s_node_t node[SIM_MAX_NODES + 1];
    sim_kv_sessions_t *sessions; /* the clients' (sim_kv_session.c) */
} s_kv_t;

static s_kv_t *s_kv;

static void
s_unref (s_map_t *m)
{
    if (m && --m->refs == 0) {
        kvsm_sessions_destroy (&m->sess);
        kvsm_leases_destroy (&m->leases);
        free (m);
    }
}

void
sim_kv_fini (sim_t *s)
{
    (void)s;
    if (!s_kv)
        return;
    for (size_t i = 0; i < s_kv->cap; i++)
        s_unref (s_kv->slots[i].map);
    for (size_t i = 0; i <= SIM_MAX_NODES; i++)
        s_unref (s_kv->node[i].map);
    free (s_kv->slots);
    sim_kv_sessions_destroy (&s_kv->sessions);
    sim_kv_lease_fini ();
    free (s_kv);
    s_kv = NULL;
}

static s_kv_t *
s_get_kv (sim_t *s)
{
    if (s_kv && (s_kv->owner != s || s_kv->seed != s->seed))
        sim_kv_fini (s);
    if (!s_kv) {
        s_kv = calloc (1, sizeof *s_kv);
        if (!s_kv)
            abort ();
        s_kv->owner = s;
        s_kv->seed = s->seed;
        if (!(s_kv->sessions = sim_kv_sessions_new ()))
            abort ();
    }
    return s_kv;
}

sim_kv_client_t *
sim_kv_clients (const sim_t *s)
{
    return sim_kv_sessions_clients (s_get_kv ((sim_t *)s)->sessions);
}

static s_slot_t *
s_slot (s_kv_t *kv, uint64_t state)
{
    if (kv->cap == 0)
        return NULL;
    size_t i = (size_t)(state * 0x9e3779b97f4a7c15ULL) & (kv->cap - 1);
    while (kv->slots[i].map && kv->slots[i].state != state)
        i = (i + 1) & (kv->cap - 1);
    return &kv->slots[i];
}

static s_map_t *
s_lookup (s_kv_t *kv, uint64_t state)
{
    s_slot_t *sl = s_slot (kv, state);
    return sl && sl->map ? sl->map : NULL;
}

static void
s_save (s_kv_t *kv, uint64_t state, s_map_t *m)
{
    if (2 * (kv->used + 1) > kv->cap) {
        size_t old = kv->cap;
        s_slot_t *os = kv->slots;
        kv->cap = old ? 2 * old : 1024;
        kv->slots = calloc (kv->cap, sizeof *kv->slots);
        if (!kv->slots)
            abort ();
        for (size_t i = 0; i < old; i++)
            if (os[i].map)
                *s_slot (kv, os[i].state) = os[i];
        free (os);
    }
    s_slot_t *sl = s_slot (kv, state);
    sl->state = state;
    sl->map = m;
    m->refs++;
    kv->used++;
}

/*  ---------------------------------------------------------------------
    Maps, and kvsm's view over a mutable one                             */

static s_rec_t *
s_find (s_map_t *m, const void *key, size_t len)
{
    for (size_t i = 0; i < m->n; i++)
        if (strlen (m->recs[i].key) == len &&
            memcmp (m->recs[i].key, key, len) == 0)
            return &m->recs[i];
    return NULL;
}

static int
s_rec_cmp (const void *a, const void *b)
{
    return strcmp (((const s_rec_t *)a)->key, ((const s_rec_t *)b)->key);
}

static int
s_view_get (void *ctx, const raft_buf_t *key, kvsm_rec_t *rec)
{
    s_rec_t *r = s_find (ctx, key->data, key->len);
    if (!r)
        return 0;
    rec->meta = r->meta;
    rec->value = raft_buf_new (r->value, strlen (r->value));
    return rec->value ? 1 : -1;
}

static int
s_view_put (void *ctx, const raft_buf_t *key, const kvsm_meta_t *meta,
            const raft_buf_t *value)
{
    s_map_t *m = ctx;
    if (key->len >= S_STR || value->len >= S_STR)
        return -1;
    s_rec_t *r = s_find (m, key->data, key->len);
    if (!r) {
        if (m->n == S_CAP)
            return -1;
        r = &m->recs[m->n++];
        memset (r, 0, sizeof *r);
        memcpy (r->key, key->data, key->len);
    }
    memset (r->value, 0, sizeof r->value);
    memcpy (r->value, value->data, value->len);
    r->meta = *meta;
    qsort (m->recs, m->n, sizeof *m->recs, s_rec_cmp);
    return 0;
}

static int
s_view_del (void *ctx, const raft_buf_t *key)
{
    s_map_t *m = ctx;
    s_rec_t *r = s_find (m, key->data, key->len);
    if (r) {
        *r = m->recs[--m->n];
        qsort (m->recs, m->n, sizeof *m->recs, s_rec_cmp);
    }
    return 0;
}

static bool s_kv_eq (const s_map_t *a, const s_map_t *b);

static bool
s_map_eq (const s_map_t *a, const s_map_t *b)
{
    static kvsm_sessions_t none;
    static kvsm_leases_t no_leases;
    return s_kv_eq (a, b) &&
           kvsm_sessions_eq (a->sess ? a->sess : &none,
                             b->sess ? b->sess : &none) &&
           kvsm_leases_eq (a->leases ? a->leases : &no_leases,
                           b->leases ? b->leases : &no_leases);
}

/* For sim_kv_lease.c: does key exist in map ctx? */
static bool
s_exists (void *ctx, const raft_buf_t *key)
{
    return s_find (ctx, key->data, key->len) != NULL;
}

const kvsm_leases_t *
sim_kv_node_leases (sim_t *s, const sim_node_t *n)
{
    s_kv_t *kv = s_get_kv (s);
    const s_node_t *me = &kv->node[n->id];
    const s_map_t *m =
        me->map && me->index == n->sm_applied && me->state == n->sm_state
            ? me->map
        : n->sm_applied ? s_lookup (kv, n->sm_state)
                        : NULL;
    return m ? m->leases : NULL;
}

/* The KV records alone. */
static bool
s_kv_eq (const s_map_t *a, const s_map_t *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp (a->recs[i].key, b->recs[i].key) ||
            strcmp (a->recs[i].value, b->recs[i].value) ||
            memcmp (&a->recs[i].meta, &b->recs[i].meta, sizeof (kvsm_meta_t)))
            return false;
    return true;
}

static void
s_map_str (const s_map_t *m, char *out, size_t len)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < m->n && o < len; i++) {
        const s_rec_t *r = &m->recs[i];
        o += (size_t)snprintf (out + o, len - o, "%s%s=%s{%llu,%llu,%llu}",
                               i ? " " : "", r->key, r->value,
                               (unsigned long long)r->meta.create_index,
                               (unsigned long long)r->meta.mod_index,
                               (unsigned long long)r->meta.version);
    }
}

/*  ---------------------------------------------------------------------
    The reference model: the rules again, written plainly               */

static bool
s_model_cmp (const kvsm_cmp_t *c, const s_map_t *m)
{
    const s_rec_t *r = s_find ((s_map_t *)m, c->key->data, c->key->len);
    if (c->target == KVSM_T_VALUE && !r)
        return false;
    int64_t a, b;
    if (c->target == KVSM_T_VALUE) {
        char want[S_STR] = {0};
        memcpy (want, c->value->data,
                c->value->len < S_STR ? c->value->len : 0);
        a = strcmp (r->value, want);
        b = 0;
    } else {
        uint64_t x = !r                            ? 0
                     : c->target == KVSM_T_VERSION ? r->meta.version
                     : c->target == KVSM_T_CREATE  ? r->meta.create_index
                     : c->target == KVSM_T_MOD     ? r->meta.mod_index
                                                   : 1;
        a = x < c->num ? -1 : x > c->num;
        b = 0;
    }
    switch (c->op) {
    case KVSM_EQ: return a == b;
    case KVSM_NE: return a != b;
    case KVSM_LT: return a < b;
    case KVSM_GT: return a > b;
    }
    return false;
}

/* The model's op on m at index; what a GET (or the op) should answer in
   *want (found, meta, value). */
static void
s_model_op (s_map_t *m, raft_index_t index, kvsm_op_t op, const raft_buf_t *key,
            const raft_buf_t *value, s_rec_t *want, bool *found)
{
    s_rec_t *r = s_find (m, key->data, key->len);
    *found = r != NULL;
    memset (want, 0, sizeof *want);
    if (r)
        *want = *r;
    if (op == KVSM_GET)
        return;
    if (op == KVSM_DEL) {
        s_view_del (m, key);
        return;
    }
    kvsm_meta_t meta = {.create_index = r ? r->meta.create_index : index,
                        .mod_index = index,
                        .version = r ? r->meta.version + 1 : 1};
    s_view_put (m, key, &meta, value);
    *want = *s_find (m, key->data, key->len);
}

/* Run cmd through the model on model (pre-state in, post-state out) and
   check kvsm's result res against it. */
static bool
s_model_check (sim_t *s, sim_node_t *n, raft_index_t index,
               const kvsm_cmd_t *cmd, const kvsm_result_t *res, s_map_t *model)
{
    if (cmd->op == KVSM_LGRANT || cmd->op == KVSM_LREVOKE) {
        /* a revoke deletes exactly the keys the table had attached to its
           lease (sim_kv_lease.c checks the table and the reply) */
        const kvsm_lease_t *l =
            cmd->op == KVSM_LREVOKE && model->leases
                ? kvsm_leases_find (model->leases, cmd->lease)
                : NULL;
        for (size_t i = 0; l && i < l->n_keys; i++)
            s_view_del (model, l->keys[i]);
        return true;
    }
    if (res->status == KVSM_LEASE_NOT_FOUND ||
        res->status == KVSM_LEASE_LIMIT) {
        /* refused whole for a lease (whether rightly: sim_kv_lease.c) */
        return res->n_resps == 0 ||
               sim_fail (s,
                         "KV state machine: node %llu, index %llu: a "
                         "command refused for its lease ran ops",
                         (unsigned long long)n->id, (unsigned long long)index);
    }
    bool hold = true;
    for (size_t i = 0; i < cmd->n_cmps; i++)
        hold = hold && s_model_cmp (&cmd->cmps[i], model);
    if (hold != res->succeeded)
        return sim_fail (s,
                         "KV state machine: node %llu, index %llu: the "
                         "compares %s, the state machine says %s",
                         (unsigned long long)n->id, (unsigned long long)index,
                         hold ? "hold" : "fail",
                         res->succeeded ? "succeeded" : "failed");
    const kvsm_txn_op_t *ops = cmd->ops;
    size_t from = 0, count = 0;
    kvsm_txn_op_t single = {
        .op = cmd->op, .key = cmd->key, .value = cmd->value};
    if (cmd->op == KVSM_TXN) {
        from = hold ? 0 : cmd->n_success;
        count = hold ? cmd->n_success : cmd->n_failure;
    } else {
        ops = &single;
        count = 1;
        if (!hold)
            single.op = KVSM_GET; /* 412: the record as it is */
    }
    if (res->n_resps != count)
        return sim_fail (s,
                         "KV state machine: node %llu, index %llu: %zu "
                         "replies for %zu ops",
                         (unsigned long long)n->id, (unsigned long long)index,
                         res->n_resps, count);
    for (size_t i = 0; i < count; i++) {
        const kvsm_txn_op_t *o = &ops[from + i];
        const kvsm_resp_t *r = &res->resps[i];
        s_rec_t want;
        bool found;
        s_model_op (model, index, o->op, o->key, o->value, &want, &found);
        bool ok = r->op == o->op && r->found == found;
        if (ok && (o->op == KVSM_GET ? found : o->op == KVSM_PUT))
            ok = memcmp (&r->meta, &want.meta, sizeof want.meta) == 0;
        if (ok && o->op == KVSM_GET && found)
            ok = r->value && r->value->len == strlen (want.value) &&
                 memcmp (r->value->data, want.value, r->value->len) == 0;
        if (!ok)
            return sim_fail (s,
                             "KV state machine: node %llu, index %llu: "
                             "reply %zu (%s of %s) differs from the "
                             "model's (found %d, {%llu,%llu,%llu})",
                             (unsigned long long)n->id,
                             (unsigned long long)index, i,
                             o->op == KVSM_GET   ? "get"
                             : o->op == KVSM_PUT ? "put"
                                                 : "delete",
                             want.key[0] ? want.key : "(absent)", found,
                             (unsigned long long)want.meta.create_index,
                             (unsigned long long)want.meta.mod_index,
                             (unsigned long long)want.meta.version);
    }
    return true;
}

/*  ---------------------------------------------------------------------
    Applying                                                             */

bool
sim_kv_apply (sim_t *s, sim_node_t *n, const raft_entry_t *e)
{
    s_kv_t *kv = s_get_kv (s);
    s_node_t *me = &kv->node[n->id];
    /* Where the node is: after a restart or an install, not where this
       map last was; start from the map saved for its state. */
    bool restored = false;
    if (!me->map || me->index != n->sm_applied || me->state != n->sm_state) {
        restored = true;
        s_unref (me->map);
        me->map = n->sm_applied ? s_lookup (kv, n->sm_state) : NULL;
        if (me->map)
            me->map->refs++;
        else if (n->sm_applied && !s->unchecked)
            return sim_fail (s,
                             "KV state machine: node %llu at %llu: no "
                             "map was saved for its state",
                             (unsigned long long)n->id,
                             (unsigned long long)n->sm_applied);
        if (!me->map && !(me->map = calloc (1, sizeof *me->map)))
            abort ();
        if (me->map->refs == 0)
            me->map->refs = 1;
    }
    uint64_t next = sim_state_next (n->sm_state, sim_entry_hash (e));
    s_map_t *m = me->map;
    kvsm_cmd_t cmd;
    if (e->type == RAFT_ENTRY_NORMAL && e->data &&
        msg_kv_decode (e->data->data, e->data->len, &cmd) == 0) {
        s_map_t *work = malloc (sizeof *work), model;
        if (!work)
            abort ();
        *work = *m;
        work->refs = 1;
        work->sess = sim_kv_sessions_copy (m->sess, restored);
        work->leases = sim_kv_leases_copy (m->leases, restored);
        if (restored)
            me->codec_at = n->sm_applied;
        model = *m;
        kvsm_view_t v = {.ctx = work,
                         .get = s_view_get,
                         .put = s_view_put,
                         .del = s_view_del,
                         .sessions = work->sess,
                         .leases = work->leases};
        kvsm_result_t res;
        int rc = kvsm_apply (&v, e->index, &cmd, &res);
        bool ok = rc == 0 || s->unchecked;
        if (rc != 0 && !s->unchecked)
            sim_fail (s, "KV state machine: node %llu failed to apply %llu",
                      (unsigned long long)n->id, (unsigned long long)e->index);
        bool plain = true; /* check it as a write of its own */
        if (ok && rc == 0)
            ok = sim_kv_session_check (s, kv->sessions, n->id, me->codec_at, e,
                                       &cmd, &res, work->sess,
                                       s_kv_eq (m, work), &plain);
        /* SIM_KV_NO_MODEL=1: the replicas' check alone (to show that it
           catches mod_local_counter by itself) */
        if (ok && plain && !s->unchecked && !getenv ("SIM_KV_NO_MODEL"))
            ok = s_model_check (s, n, e->index, &cmd, &res, &model) &&
                 (s_kv_eq (work, &model) ||
                  sim_fail (s,
                            "KV state machine: node %llu, index %llu: the "
                            "data differs from the model's (a txn only "
                            "in part, wrong metadata, or a revoke that "
                            "left a key of its lease)",
                            (unsigned long long)n->id,
                            (unsigned long long)e->index));
        /* leases: the table's change, the reply, the lessors, expiry's
           safety (sim_kv_lease.c) */
        if (ok && rc == 0)
            ok = sim_kv_lease_check (s, n, e, &cmd, &res, m->leases,
                                     work->leases, plain, s_exists, work) &&
                 sim_kv_lease_applied (s, n, e, &cmd, &res);
        kvsm_result_clear (&res);
        kvsm_cmd_clear (&cmd);
        s_unref (me->map);
        me->map = m = work;
        if (!ok)
            return false;
    }
    /* Replicas agree: the same history gives the same map. */
    s_map_t *seen = s_lookup (kv, next);
    if (seen && !s_map_eq (seen, m) && !s->unchecked) {
        char a[512], b[512];
        s_map_str (m, a, sizeof a);
        s_map_str (seen, b, sizeof b);
        return sim_fail (s,
                         "KV state machine: node %llu at index %llu has "
                         "[%s], another replica had [%s]",
                         (unsigned long long)n->id,
                         (unsigned long long)e->index, a, b);
    }
    if (!seen)
        s_save (kv, next, m);
    me->index = e->index;
    me->state = next;
    return true;
}
