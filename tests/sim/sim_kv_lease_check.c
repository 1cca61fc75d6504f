/*  sim_kv_lease_check.c -- check (b) of sim_kv.h for leases: what an
    entry did to the lease table, rule by rule, from the table before it
    and the reply, written plainly (not kvsm_lease.c's code again):

      LGRANT    OK: the table gains the entry's index with the command's
                TTL (KVSM_LEASE_LIMIT only at the bound), the reply names
                both; nothing else changes
      LREVOKE   a lease in the table: OK, it is gone with its keys (none
                of them left in the data: sim_kv.c's model deleted exactly
                these, so the data matches it only if kvsm deleted no
                more), the reply counts them; else KVSM_LEASE_NOT_FOUND
                and nothing changes
      writes    the ops that ran (the branch the reply took): a put with
                lease L attaches its key to L, a put without one or a
                delete detaches it, the last op on a key wins, every
                other key keeps its lease; refused whole (nothing ran) if
                and only if a put names a lease not in the table
    And always: every attached key exists in the data.
*/
#include "sim_kv.h"

#include "kvsm_lease.h"
#include "msg_kv_lease.h"

#include <stdlib.h>
#include <string.h>

kvsm_leases_t *
sim_kv_leases_copy (const kvsm_leases_t *t, bool through_codec)
{
    kvsm_leases_t *c = NULL;
    if (!t) {
        c = kvsm_leases_new ();
    } else if (through_codec) {
        /* as LevelDB and snapshots carry it */
        raft_buf_t *b = msg_kv_leases_encode (t);
        c = b ? msg_kv_leases_decode (b->data, b->len) : NULL;
        raft_buf_unref (b);
    } else {
        c = kvsm_leases_dup (t);
    }
    if (!c)
        abort ();
    return c;
}

static bool
s_fail (sim_t *s, const sim_node_t *n, const raft_entry_t *e, const char *what)
{
    return sim_fail (s, "leases: node %llu, index %llu: %s",
                     (unsigned long long)n->id, (unsigned long long)e->index,
                     what);
}

static uint64_t
s_of (const kvsm_leases_t *t, const raft_buf_t *key)
{
    return t ? kvsm_leases_of_key (t, key) : 0;
}

static bool
s_has (const kvsm_leases_t *t, uint64_t id)
{
    return t && id && kvsm_leases_find (t, id) != NULL;
}

static size_t
s_n (const kvsm_leases_t *t)
{
    return t ? t->n : 0;
}

/* Same leases (ids and TTLs) but for add (granted) and gone (revoked). */
static bool
s_set_is (const kvsm_leases_t *pre, const kvsm_leases_t *post, uint64_t add,
          uint64_t add_ttl, uint64_t gone)
{
    size_t want = s_n (pre) + (add != 0) - (gone != 0);
    if (s_n (post) != want)
        return false;
    for (size_t i = 0; i < s_n (pre); i++) {
        const kvsm_lease_t *l = &pre->v[i];
        const kvsm_lease_t *p = kvsm_leases_find (post, l->id);
        if (l->id == gone ? p != NULL : !p || p->ttl_ms != l->ttl_ms)
            return false;
    }
    const kvsm_lease_t *a = add ? kvsm_leases_find (post, add) : NULL;
    return !add || (a && a->ttl_ms == add_ttl && a->n_keys == 0);
}

/* Every key attached in pre or post has the lease want() gives it. */
static bool
s_keys_are (const kvsm_leases_t *pre, const kvsm_leases_t *post,
            const kvsm_txn_op_t *ops, size_t n_ops, uint64_t gone)
{
    const kvsm_leases_t *tabs[2] = {pre, post};
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; tabs[t] && i < tabs[t]->n_keys; i++) {
            const raft_buf_t *k = tabs[t]->by_key[i].key;
            uint64_t want = s_of (pre, k);
            if (want == gone)
                want = 0;
            for (size_t o = 0; o < n_ops; o++)
                if (ops[o].op != KVSM_GET && ops[o].key->len == k->len &&
                    !memcmp (ops[o].key->data, k->data, k->len))
                    want = ops[o].op == KVSM_PUT ? ops[o].lease : 0;
            if (s_of (post, k) != want)
                return false;
        }
    /* and the ops' own keys, attached or not */
    for (size_t o = 0; o < n_ops; o++) {
        uint64_t want = 0;
        for (size_t p = 0; p < n_ops; p++)
            if (ops[p].op != KVSM_GET && ops[p].key->len == ops[o].key->len &&
                !memcmp (ops[p].key->data, ops[o].key->data, ops[o].key->len))
                want = ops[p].op == KVSM_PUT ? ops[p].lease : 0;
        if (ops[o].op != KVSM_GET && s_of (post, ops[o].key) != want)
            return false;
    }
    return true;
}

bool
sim_kv_lease_check (sim_t *s, const sim_node_t *n, const raft_entry_t *e,
                    const kvsm_cmd_t *cmd, const kvsm_result_t *res,
                    const kvsm_leases_t *pre, const kvsm_leases_t *post,
                    bool plain, bool (*exists) (void *, const raft_buf_t *),
                    void *map)
{
    if (s->unchecked)
        return true;
    for (size_t i = 0; post && i < post->n_keys; i++)
        if (!exists (map, post->by_key[i].key))
            return s_fail (s, n, e,
                           "a key attached to a lease is not in "
                           "the data");
    bool ok = true;
    if (!plain) {
        /* a session's duplicate or refusal: nothing ran */
        ok =
            s_set_is (pre, post, 0, 0, 0) && s_keys_are (pre, post, NULL, 0, 0);
        return ok || s_fail (s, n, e,
                             "a session's duplicate or refusal "
                             "changed the lease table");
    }
    if (cmd->op == KVSM_LGRANT) {
        if (res->status == KVSM_LEASE_LIMIT && s_n (pre) >= KVSM_LEASES_MAX)
            return s_set_is (pre, post, 0, 0, 0) ||
                   s_fail (s, n, e, "a grant refused changed the table");
        ok = res->status == KVSM_OK && res->lease == e->index &&
             res->lease_ttl_ms == cmd->ttl_ms &&
             res->lease_event == KVSM_LEASE_EV_GRANTED;
        return (ok && s_set_is (pre, post, e->index, cmd->ttl_ms, 0) &&
                s_keys_are (pre, post, NULL, 0, 0)) ||
               s_fail (s, n, e, "a grant's reply or table is wrong");
    }
    if (cmd->op == KVSM_LREVOKE) {
        const kvsm_lease_t *l = pre ? kvsm_leases_find (pre, cmd->lease) : NULL;
        if (!l)
            return (res->status == KVSM_LEASE_NOT_FOUND &&
                    res->lease_event == KVSM_LEASE_EV_NONE &&
                    s_set_is (pre, post, 0, 0, 0) &&
                    s_keys_are (pre, post, NULL, 0, 0)) ||
                   s_fail (s, n, e,
                           "a revoke of a lease not in the table "
                           "was not refused, or changed it");
        ok = res->status == KVSM_OK && res->lease == cmd->lease &&
             res->expired == cmd->expired &&
             res->lease_event == KVSM_LEASE_EV_REVOKED &&
             res->lease_deleted == l->n_keys && res->n_changes == l->n_keys;
        for (size_t i = 0; ok && i < l->n_keys; i++)
            ok = !exists (map, l->keys[i]);
        return (ok && s_set_is (pre, post, 0, 0, cmd->lease) &&
                s_keys_are (pre, post, NULL, 0, cmd->lease)) ||
               s_fail (s, n, e,
                       "a revoke's reply, table or data is wrong "
                       "(its keys must all go, and only them)");
    }
    /* a write: the ops that ran */
    kvsm_txn_op_t single = {.op = cmd->op,
                            .key = cmd->key,
                            .value = cmd->value,
                            .lease = cmd->op == KVSM_PUT ? cmd->lease : 0};
    const kvsm_txn_op_t *ops = &single;
    size_t n_ops = 1;
    if (cmd->op == KVSM_TXN) {
        ops = cmd->ops + (res->succeeded ? 0 : cmd->n_success);
        n_ops = res->succeeded ? cmd->n_success : cmd->n_failure;
    } else if (res->status == KVSM_COMPARE_FAILED) {
        n_ops = 0;
    }
    bool missing = false;
    for (size_t i = 0; i < n_ops; i++)
        missing = missing || (ops[i].op == KVSM_PUT && ops[i].lease &&
                              !s_has (pre, ops[i].lease));
    bool refused = res->status == KVSM_LEASE_NOT_FOUND;
    if (missing != refused)
        return s_fail (s, n, e,
                       missing ? "a put naming a missing lease was not "
                                 "refused"
                               : "a write was refused for a lease that "
                                 "exists");
    if (refused || res->status == KVSM_LEASE_LIMIT)
        n_ops = 0;
    ok = res->lease_event == KVSM_LEASE_EV_NONE &&
         s_set_is (pre, post, 0, 0, 0) && s_keys_are (pre, post, ops, n_ops, 0);
    return ok || s_fail (s, n, e,
                         "a write attached or detached its keys "
                         "wrongly (a put with a lease attaches, "
                         "without one or a delete detaches)");
}
