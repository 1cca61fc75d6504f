/*  kvsm.c -- the KV state machine (kvsm.h): versions, compares,
    transactions. Pure: the KV data only through the view.
*/
#include "kvsm.h"
#include "kvsm_lease.h"
#include "kvsm_session.h"

#include <stdlib.h>
#include <string.h>

/*  Planted state-machine bugs, numbered with the core's (RAFT_PLANTED_BUG,
    actors/raft/raft_int.h; the Makefile's BUGS): a sim-bug build compiles
    this file with one, and the simulator must catch it (make teeth,
    tests/sim/sim_kv.c).
      11 txn_ignores_compare  a TXN runs its success ops even when a
                              compare fails (atomicity: the reference
                              model of sim_kv.c)
      12 mod_local_counter    mod_index from a counter local to the
                              replica instead of the entry's index
                              (replicas at one index disagree)
      14 session_dup_applied  a duplicate (session, seq) is applied
                              again instead of answered with its first
                              reply (§6.3: the reference model of
                              sim_kv.c, at most once per seq)         */
#ifndef RAFT_PLANTED_BUG
#define RAFT_PLANTED_BUG 0
#endif
#define KVSM_BUG_TXN_IGNORES_COMPARE (RAFT_PLANTED_BUG == 11)
#define KVSM_BUG_MOD_LOCAL_COUNTER (RAFT_PLANTED_BUG == 12)
#define KVSM_BUG_SESSION_DUP_APPLIED (RAFT_PLANTED_BUG == 14)

void
kvsm_cmd_clear (kvsm_cmd_t *cmd)
{
    if (!cmd)
        return;
    raft_buf_unref (cmd->key);
    raft_buf_unref (cmd->value);
    for (size_t i = 0; i < cmd->n_cmps; i++) {
        raft_buf_unref (cmd->cmps[i].key);
        raft_buf_unref (cmd->cmps[i].value);
    }
    free (cmd->cmps);
    for (size_t i = 0; i < cmd->n_success + cmd->n_failure; i++) {
        raft_buf_unref (cmd->ops[i].key);
        raft_buf_unref (cmd->ops[i].value);
    }
    free (cmd->ops);
    memset (cmd, 0, sizeof *cmd);
}

void
kvsm_result_clear (kvsm_result_t *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->n_resps; i++) {
        raft_buf_unref (res->resps[i].key);
        raft_buf_unref (res->resps[i].value);
    }
    free (res->resps);
    for (size_t i = 0; i < res->n_changes; i++) {
        raft_buf_unref (res->changes[i].key);
        raft_buf_unref (res->changes[i].value);
    }
    free (res->changes);
    free (res->sessions_touched);
    free (res->leases_touched);
    memset (res, 0, sizeof *res);
}

const char *
kvsm_target_name (kvsm_target_t t)
{
    switch (t) {
    case KVSM_T_VALUE: return "value";
    case KVSM_T_VERSION: return "version";
    case KVSM_T_CREATE: return "create_index";
    case KVSM_T_MOD: return "mod_index";
    case KVSM_T_EXISTS: return "exists";
    }
    return "?";
}

const char *
kvsm_cmp_op_name (kvsm_cmp_op_t op)
{
    switch (op) {
    case KVSM_EQ: return "==";
    case KVSM_NE: return "!=";
    case KVSM_LT: return "<";
    case KVSM_GT: return ">";
    }
    return "?";
}

/* -1, 0, 1 as a is below, equal to, above b. */
static int
s_order_num (uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

static int
s_order_bytes (const raft_buf_t *a, const raft_buf_t *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp (a->data, b->data, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return s_order_num (a->len, b->len);
}

bool
kvsm_compare (const kvsm_cmp_t *c, bool found, const kvsm_rec_t *rec)
{
    static const kvsm_meta_t none;
    const kvsm_meta_t *m = found ? &rec->meta : &none;
    int order;
    switch (c->target) {
    case KVSM_T_VALUE:
        /* etcd's rule: a value compare on a missing key fails */
        if (!found || !c->value || !rec->value)
            return false;
        order = s_order_bytes (rec->value, c->value);
        break;
    case KVSM_T_VERSION: order = s_order_num (m->version, c->num); break;
    case KVSM_T_CREATE: order = s_order_num (m->create_index, c->num); break;
    case KVSM_T_MOD: order = s_order_num (m->mod_index, c->num); break;
    case KVSM_T_EXISTS: order = s_order_num (found ? 1 : 0, c->num); break;
    default: return false;
    }
    switch (c->op) {
    case KVSM_EQ: return order == 0;
    case KVSM_NE: return order != 0;
    case KVSM_LT: return order < 0;
    case KVSM_GT: return order > 0;
    }
    return false;
}

/*  ---------------------------------------------------------------------
    Applying                                                             */

typedef struct {
    const kvsm_view_t *view;
    raft_index_t index;
    unsigned version;
    kvsm_result_t *res;
} s_apply_t;

static kvsm_resp_t *
s_resp_add (s_apply_t *a)
{
    kvsm_result_t *r = a->res;
    kvsm_resp_t *v = realloc (r->resps, (r->n_resps + 1) * sizeof *v);
    if (!v)
        return NULL;
    r->resps = v;
    memset (&v[r->n_resps], 0, sizeof *v);
    return &v[r->n_resps++];
}

static int
s_change_add (s_apply_t *a, raft_buf_t *key, bool deleted, bool existed,
              const kvsm_meta_t *meta, raft_buf_t *value)
{
    kvsm_result_t *r = a->res;
    kvsm_change_t *v = realloc (r->changes, (r->n_changes + 1) * sizeof *v);
    if (!v)
        return -1;
    r->changes = v;
    v[r->n_changes++] = (kvsm_change_t){.key = raft_buf_ref (key),
                                        .deleted = deleted,
                                        .existed = existed,
                                        .meta = *meta,
                                        .value = raft_buf_ref (value)};
    return 0;
}

/* Read key: 1 (rec filled, value one ref), 0, -1. */
static int
s_get (s_apply_t *a, raft_buf_t *key, kvsm_rec_t *rec)
{
    memset (rec, 0, sizeof *rec);
    return a->view->get (a->view->ctx, key, rec);
}

/* The metadata a put at this entry gives a record that was (found) cur. */
static kvsm_meta_t
s_put_meta (s_apply_t *a, bool found, const kvsm_meta_t *cur)
{
    /* A version-1 command writes "history unknown", as the prototype's
       did, whichever build applies it: the same bytes on every replica. */
    if (a->version == KVSM_CMD_V1)
        return (kvsm_meta_t){0, 0, 0};
    raft_index_t mod = a->index;
    if (KVSM_BUG_MOD_LOCAL_COUNTER) {
        static uint64_t counter; /* planted: this replica's own count */
        mod = ++counter;
    }
    if (!found)
        return (kvsm_meta_t){
            .create_index = a->index, .mod_index = mod, .version = 1};
    /* An existing record: its create index stays (0: unknown, from
       before versions); version counts the changes we know of. */
    return (kvsm_meta_t){.create_index = cur->create_index,
                         .mod_index = mod,
                         .version = cur->version + 1};
}

static int
s_put (s_apply_t *a, raft_buf_t *key, raft_buf_t *value, kvsm_resp_t *resp)
{
    kvsm_rec_t cur;
    int found = s_get (a, key, &cur);
    if (found < 0)
        return -1;
    raft_buf_unref (cur.value);
    kvsm_meta_t meta = s_put_meta (a, found, &cur.meta);
    if (a->view->put (a->view->ctx, key, &meta, value) != 0)
        return -1;
    *resp = (kvsm_resp_t){.op = KVSM_PUT,
                          .key = raft_buf_ref (key),
                          .found = found,
                          .meta = meta};
    return s_change_add (a, key, false, found, &meta, value);
}

static int
s_del (s_apply_t *a, raft_buf_t *key, kvsm_resp_t *resp)
{
    kvsm_rec_t cur;
    int found = s_get (a, key, &cur);
    if (found < 0)
        return -1;
    raft_buf_unref (cur.value);
    *resp = (kvsm_resp_t){.op = KVSM_DEL,
                          .key = raft_buf_ref (key),
                          .found = found,
                          .meta = found ? cur.meta : (kvsm_meta_t){0}};
    if (!found)
        return 0; /* nothing to delete: no change */
    if (a->view->del (a->view->ctx, key) != 0)
        return -1;
    return s_change_add (a, key, true, true, &resp->meta, NULL);
}

static int
s_getop (s_apply_t *a, raft_buf_t *key, kvsm_resp_t *resp)
{
    kvsm_rec_t cur;
    int found = s_get (a, key, &cur);
    if (found < 0)
        return -1;
    *resp = (kvsm_resp_t){.op = KVSM_GET,
                          .key = raft_buf_ref (key),
                          .found = found,
                          .meta = cur.meta,
                          .value = found ? cur.value : NULL};
    if (!found)
        raft_buf_unref (cur.value);
    return 0;
}

/* A put (with its lease, 0: none) or a delete detaches key from its
   lease, and a put with one attaches it (kvsm_lease.h): for every
   command version, so the table is a function of the log alone. */
static int
s_attach (s_apply_t *a, raft_buf_t *key, uint64_t lease)
{
    if (!a->view->leases)
        return lease ? -1 : 0; /* no table: nothing is attached */
    return kvsm_lease_attach (a->view->leases, key, lease, a->res);
}

static int
s_op (s_apply_t *a, const kvsm_txn_op_t *o)
{
    kvsm_resp_t *resp = s_resp_add (a);
    if (!resp)
        return -1;
    switch (o->op) {
    case KVSM_PUT:
        return s_put (a, o->key, o->value, resp) == 0
                   ? s_attach (a, o->key, o->lease)
                   : -1;
    case KVSM_DEL:
        return s_del (a, o->key, resp) == 0 ? s_attach (a, o->key, 0) : -1;
    case KVSM_GET: return s_getop (a, o->key, resp);
    case KVSM_TXN:
    case KVSM_SOPEN:
    case KVSM_SCLOSE:
    case KVSM_LGRANT:
    case KVSM_LREVOKE: break;
    }
    return -1;
}

/* Do all of cmd's compares hold? 1, 0, or -1 (the view failed). */
static int
s_compares_hold (s_apply_t *a, const kvsm_cmd_t *cmd)
{
    for (size_t i = 0; i < cmd->n_cmps; i++) {
        kvsm_rec_t cur;
        int found = s_get (a, cmd->cmps[i].key, &cur);
        if (found < 0)
            return -1;
        bool ok = kvsm_compare (&cmd->cmps[i], found, &cur);
        raft_buf_unref (cur.value);
        if (!ok)
            return 0;
    }
    return 1;
}

/* LREVOKE: the lease leaves the table and its keys are deleted, in key
   order, each a change (watches see ordinary deletes at this index);
   the reply counts them (lease_deleted). */
static int
s_revoke (s_apply_t *a, const kvsm_cmd_t *cmd)
{
    raft_buf_t **keys;
    size_t n;
    int rc = kvsm_lease_take (a->view->leases, cmd->lease, cmd->expired, a->res,
                              &keys, &n);
    for (size_t i = 0; rc > 0 && i < n; i++) {
        kvsm_rec_t cur;
        int found = s_get (a, keys[i], &cur);
        raft_buf_unref (cur.value);
        /* an attached key exists (a delete detaches it): found is 1 */
        if (found > 0 &&
            (a->view->del (a->view->ctx, keys[i]) != 0 ||
             s_change_add (a, keys[i], true, true, &cur.meta, NULL) != 0))
            found = -1;
        if (found < 0)
            rc = -1;
        else
            a->res->lease_deleted += (uint64_t)found;
    }
    for (size_t i = 0; i < n; i++)
        raft_buf_unref (keys[i]);
    free (keys);
    return rc < 0 ? -1 : 0;
}

/* The ops about to run may name leases: all must exist (else the whole
   command is refused and nothing applied). 0 go on, 1 refused, -1 a
   lease named with no table in the view (kvsm.h). */
static int
s_lease_refused (s_apply_t *a, const kvsm_txn_op_t *ops, size_t n)
{
    for (size_t i = 0; !a->view->leases && i < n; i++)
        if (ops[i].op == KVSM_PUT && ops[i].lease)
            return -1;
    kvsm_status_t st = kvsm_lease_check (a->view->leases, ops, n);
    if (st == KVSM_OK)
        return 0;
    a->res->status = st; /* succeeded still says which branch it was */
    return 1;
}

int
kvsm_apply (const kvsm_view_t *view, raft_index_t index, const kvsm_cmd_t *cmd,
            kvsm_result_t *res)
{
    memset (res, 0, sizeof *res);
    res->op = cmd->op;
    if (cmd->version < KVSM_CMD_V1 || cmd->version > KVSM_CMD_V4) {
        res->status = KVSM_UNKNOWN_VERSION;
        return 0;
    }
    s_apply_t a = {
        .view = view, .index = index, .version = cmd->version, .res = res};
    /* Leases (kvsm_lease.h): grants and revokes carry no session. */
    if (cmd->op == KVSM_LGRANT || cmd->op == KVSM_LREVOKE) {
        if (!view->leases)
            return -1;
        if (cmd->op == KVSM_LGRANT)
            return kvsm_lease_grant (view->leases, index, cmd->ttl_ms, res);
        return s_revoke (&a, cmd);
    }
    /* Sessions (§6.3, kvsm_session.h): answered here, or go on to the
       write and keep its reply after. */
    kvsm_session_t *sess = NULL;
    if (cmd->op == KVSM_SOPEN || cmd->op == KVSM_SCLOSE || cmd->has_session) {
        bool dup;
        if (!view->sessions ||
            kvsm_session_stamp (view->sessions, cmd->stamp_ms, res) != 0)
            return -1;
        if (cmd->op == KVSM_SOPEN)
            return kvsm_session_open (view->sessions, index, cmd->ttl_ms, res);
        if (cmd->op == KVSM_SCLOSE)
            return kvsm_session_close (view->sessions, cmd->session, res);
        int c = kvsm_session_check (view->sessions, cmd, res, &sess, &dup);
        if (c < 0)
            return -1;
        if (c > 0 && !(dup && KVSM_BUG_SESSION_DUP_APPLIED))
            return 0;
        if (dup) { /* planted: the duplicate runs again */
            for (size_t i = 0; i < res->n_resps; i++) {
                raft_buf_unref (res->resps[i].key);
                raft_buf_unref (res->resps[i].value);
            }
            free (res->resps);
            res->resps = NULL;
            res->n_resps = 0;
            res->status = KVSM_OK;
            res->duplicate = false;
            res->first_index = 0;
        }
    }
    int hold = s_compares_hold (&a, cmd);
    if (hold < 0)
        return -1;
    res->succeeded = hold == 1;
    int rc = 0;
    if (cmd->op == KVSM_TXN) {
        /* One branch, in order, all in this one entry: atomic because the
           caller writes the entry's changes in one batch (or none). */
        bool success = res->succeeded || KVSM_BUG_TXN_IGNORES_COMPARE;
        size_t from = success ? 0 : cmd->n_success;
        size_t n = success ? cmd->n_success : cmd->n_failure;
        int refused = s_lease_refused (&a, cmd->ops + from, n);
        if (refused < 0)
            return -1;
        if (refused)
            n = 0;
        for (size_t i = from; rc == 0 && i < from + n; i++)
            rc = s_op (&a, &cmd->ops[i]);
    } else if (!res->succeeded) {
        /* The shorthands' 412 shows the record as it is. */
        res->status = KVSM_COMPARE_FAILED;
        rc = s_op (&a, &(kvsm_txn_op_t){.op = KVSM_GET, .key = cmd->key});
    } else {
        kvsm_txn_op_t o = {.op = cmd->op,
                           .key = cmd->key,
                           .value = cmd->value,
                           .lease = cmd->op == KVSM_PUT ? cmd->lease : 0};
        int refused = s_lease_refused (&a, &o, 1);
        if (refused < 0)
            return -1;
        if (!refused)
            rc = s_op (&a, &o);
    }
    if (rc == 0 && sess)
        rc = kvsm_session_record (view->sessions, cmd->session, cmd->seq, index,
                                  res);
    return rc;
}
