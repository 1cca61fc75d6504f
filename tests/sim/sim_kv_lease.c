/*  sim_kv_lease.c -- leases in the simulator (sim_kv.h): the lessor each
    node owns (store/lessor.h, the code nsxd's raft actor runs), the lease
    clients and their keep-alives, and checks (c) and (d).

    A node's lessor, as the node's raft actor drives it:
      - on the first tick it is leader (in a term), promoted with the
        table its applied state holds, extend = an election timeout;
        demoted on the first tick it is not (or after a restart);
      - what it applies: lessor_granted / lessor_revoked from the result's
        lease_event;
      - a keep-alive: refused at once if the lessor does not know the
        lease; else a read index round (raft_read_index), and only when
        it comes back ok with the node still leader in the same term
        (§6.4: its leadership confirmed after the keep-alive arrived) is
        the lease renewed, and the keep-alive acknowledged;
      - each tick: lessor_expired, an LREVOKE (expired) proposed for each.
    The lessors' clock is the simulator's virtual time in ms (floor).

    Check (c), expiry's safety: for each lease, since = the latest of the
    first apply of its LGRANT and the instants a leader acknowledged a
    keep-alive (renewed it); its LREVOKE (expired), when first applied
    anywhere (the instant it committed), must come no earlier than since
    + TTL. The leader that acknowledged renewed to exactly that; a later
    leader was elected by voters that had answered the acknowledging
    round before they voted, so the acknowledgement came at most a
    message delay after its election, which its promotion's extend (an
    election timeout, above the simulator's largest delay) covers. (A
    client that counts its TTL from when it sent the keep-alive, as
    etcd's do, needs no such bound: it sent it before that round.)
*/
#include "sim_kv.h"

#include "kvsm_lease.h"
#include "lessor.h"
#include "msg_store.h"

#include <stdlib.h>
#include <string.h>

#define S_ELECTION_MS 10      /* raft_options_default: 10 ticks of 1 ms */
#define S_RETRY_MS 30         /* an LREVOKE not applied by then: again */
#define S_KA_MAX 64           /* keep-alives in flight */
#define S_KA_CTX (1ULL << 63) /* their read contexts: apart from clients' */
#define S_REGRANT_MS 100      /* a grant not learnt by then: again */

typedef struct {
    lessor_t *l;
    uint64_t incarnation;
    raft_term_t term; /* promoted in */
} s_lessor_t;

typedef struct {
    uint64_t lease, ttl_ms; /* lease 0: none */
    bool granting;          /* an LGRANT sent at grant_ms, not learnt */
    uint64_t grant_ms, ka_ms;
} s_client_t;

typedef struct {
    uint64_t ctx, lease, sent_ms, incarnation;
    raft_id_t node;
    raft_term_t term;
} s_ka_t;

/* What the check knows of each lease, by id. */
typedef struct {
    uint64_t id, ttl_ms;
    uint64_t since_ms;   /* (c): grant applied, or an acknowledged sent */
    uint64_t revoked_ms; /* first applied LREVOKE (OK) */
    bool revoked, expired;
} s_rec_t;

typedef struct {
    const sim_t *owner;
    uint64_t seed;
    s_lessor_t node[SIM_MAX_NODES + 1];
    s_client_t cl[SIM_KV_LEASE_CLIENTS];
    s_ka_t ka[S_KA_MAX];
    size_t n_ka;
    uint64_t next_ctx;
    s_rec_t *recs; /* by id: first applies come in log order */
    size_t n_recs, cap_recs;
    uint64_t n_grants, n_acks, n_expired, n_revoked_keys;
} s_leases_t;

static s_leases_t *s_ls;

void
sim_kv_lease_fini (void)
{
    if (!s_ls)
        return;
    for (size_t i = 0; i <= SIM_MAX_NODES; i++)
        lessor_destroy (&s_ls->node[i].l);
    free (s_ls->recs);
    free (s_ls);
    s_ls = NULL;
}

static s_leases_t *
s_get (const sim_t *s)
{
    if (s_ls && (s_ls->owner != s || s_ls->seed != s->seed))
        sim_kv_lease_fini ();
    if (!s_ls) {
        if (!(s_ls = calloc (1, sizeof *s_ls)))
            abort ();
        s_ls->owner = s;
        s_ls->seed = s->seed;
    }
    return s_ls;
}

static uint64_t
s_now (const sim_t *s)
{
    return s->now / 1000;
}

/* n's lessor, forgotten when n restarted. */
static lessor_t *
s_lessor (s_leases_t *ls, const sim_node_t *n)
{
    s_lessor_t *x = &ls->node[n->id];
    if (!x->l && !(x->l = lessor_new ()))
        abort ();
    if (x->incarnation != n->incarnation) {
        lessor_demote (x->l);
        x->incarnation = n->incarnation;
        x->term = 0;
    }
    return x->l;
}

static s_rec_t *
s_rec (s_leases_t *ls, uint64_t id)
{
    size_t lo = 0, hi = ls->n_recs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ls->recs[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ls->n_recs && ls->recs[lo].id == id ? &ls->recs[lo] : NULL;
}

static s_rec_t *
s_rec_add (s_leases_t *ls, uint64_t id, uint64_t ttl_ms, uint64_t now)
{
    if (ls->n_recs == ls->cap_recs) {
        ls->cap_recs = ls->cap_recs ? 2 * ls->cap_recs : 64;
        ls->recs = realloc (ls->recs, ls->cap_recs * sizeof *ls->recs);
        if (!ls->recs)
            abort ();
    }
    size_t i = ls->n_recs;
    while (i > 0 && ls->recs[i - 1].id > id) {
        ls->recs[i] = ls->recs[i - 1];
        i--;
    }
    ls->recs[i] = (s_rec_t){.id = id, .ttl_ms = ttl_ms, .since_ms = now};
    ls->n_recs++;
    return &ls->recs[i];
}

/* The leader clients find: the up leader of the highest term (the lowest
   id on a tie), without the simulator's generator. */
static sim_node_t *
s_leader (sim_t *s)
{
    sim_node_t *best = NULL;
    raft_term_t best_term = 0;
    for (int id = 1; id <= s->n_total; id++) {
        sim_node_t *n = &s->nodes[id];
        raft_status_t st;
        if (!n->up)
            continue;
        raft_status (n->r, &st);
        if (st.role == RAFT_LEADER && st.term > best_term) {
            best = n;
            best_term = st.term;
        }
    }
    return best;
}

/* Does client i keep its lease alive now? The first always, the second
   for 300 ms in every 600, the last never (its leases lapse). */
static bool
s_keeps (size_t i, uint64_t now)
{
    return i == 0 || (i == 1 && (now / 300) % 2 == 0);
}

static void
s_forget (s_leases_t *ls, uint64_t lease)
{
    for (size_t i = 0; i < SIM_KV_LEASE_CLIENTS; i++)
        if (ls->cl[i].lease == lease)
            ls->cl[i] = (s_client_t){0};
}

/*  ---------------------------------------------------------------------
    The clients                                                          */

raft_buf_t *
sim_kv_lease_command (const sim_t *s, uint64_t r)
{
    s_leases_t *ls = s_get (s);
    size_t i = (r >> 20) % SIM_KV_LEASE_CLIENTS;
    s_client_t *c = &ls->cl[i];
    uint64_t now = s_now (s);
    kvsm_cmd_t cmd;
    if (!c->lease) {
        if (c->granting && now - c->grant_ms < S_REGRANT_MS)
            return NULL;
        c->granting = true;
        c->grant_ms = now;
        /* at least lessor_min_ttl_ms (the leader's clamp) */
        cmd = (kvsm_cmd_t){.op = KVSM_LGRANT,
                           .ttl_ms = 20 + 10 * ((r >> 24) % 4)};
    } else if ((r >> 28) % 10 == 0) {
        cmd = (kvsm_cmd_t){.op = KVSM_LREVOKE, .lease = c->lease};
    } else {
        unsigned x = (unsigned)((r >> 32) % 8);
        char key[3] = {x & 1 ? 'e' : 'f', (char)('0' + i), 0};
        char val[3] = {'v', (char)('0' + (x >> 1) % 3), 0};
        cmd = (kvsm_cmd_t){.op = KVSM_PUT,
                           .key = raft_buf_new (key, 2),
                           .value = raft_buf_new (val, 2),
                           .lease = x == 7 ? 0 : c->lease}; /* 7: detach */
    }
    raft_buf_t *b = msg_kv_encode (&cmd);
    kvsm_cmd_clear (&cmd);
    if (!b)
        abort ();
    return b;
}

void
sim_kv_lease_clients (sim_t *s)
{
    s_leases_t *ls = s_get (s);
    uint64_t now = s_now (s);
    sim_node_t *n = NULL;
    for (size_t i = 0; i < SIM_KV_LEASE_CLIENTS; i++) {
        s_client_t *c = &ls->cl[i];
        if (!c->lease || !s_keeps (i, now) || now - c->ka_ms < c->ttl_ms / 3)
            continue;
        c->ka_ms = now;
        if (!n && !(n = s_leader (s)))
            return;
        lessor_t *l = s_lessor (ls, n);
        uint64_t ttl, rem;
        /* refused at once: a lease this leader does not know */
        if (lessor_remaining (l, c->lease, now, &ttl, &rem) != 0)
            continue;
        uint64_t ctx = S_KA_CTX | ++ls->next_ctx;
        s->cur_node = n->id;
        if (raft_read_index (n->r, ctx) != RAFT_OK)
            continue;
        raft_status_t st;
        raft_status (n->r, &st);
        if (ls->n_ka == S_KA_MAX)
            memmove (ls->ka, ls->ka + 1, --ls->n_ka * sizeof *ls->ka);
        ls->ka[ls->n_ka++] = (s_ka_t){.ctx = ctx,
                                      .lease = c->lease,
                                      .sent_ms = now,
                                      .incarnation = n->incarnation,
                                      .node = n->id,
                                      .term = st.term};
    }
}

bool
sim_kv_lease_read (sim_t *s, sim_node_t *n, uint64_t ctx, bool ok)
{
    if (!(ctx & S_KA_CTX))
        return false;
    s_leases_t *ls = s_get (s);
    size_t k = 0;
    while (k < ls->n_ka && ls->ka[k].ctx != ctx)
        k++;
    if (k == ls->n_ka)
        return true; /* dropped: never acknowledged */
    s_ka_t ka = ls->ka[k];
    memmove (&ls->ka[k], &ls->ka[k + 1], (--ls->n_ka - k) * sizeof *ls->ka);
    raft_status_t st;
    raft_status (n->r, &st);
    /* the round confirmed this node's leadership in the term the
       keep-alive arrived in: then (and only then) it renews */
    uint64_t ttl, now = s_now (s);
    if (!ok || ka.node != n->id || ka.incarnation != n->incarnation ||
        st.role != RAFT_LEADER || st.term != ka.term ||
        lessor_renew (s_lessor (ls, n), ka.lease, now, &ttl) != 0)
        return true;
    ls->n_acks++;
    s_rec_t *rec = s_rec (ls, ka.lease);
    if (s->unchecked)
        return true;
    if (!rec) {
        sim_fail (s,
                  "leases: node %llu renewed lease %llu, which no replica "
                  "was granted",
                  (unsigned long long)n->id, (unsigned long long)ka.lease);
        return true;
    }
    if (rec->revoked && rec->expired && rec->revoked_ms < now + ttl)
        sim_fail (s,
                  "leases (expiry safety): lease %llu (TTL %llu ms) was "
                  "revoked as expired at %llu ms, yet node %llu "
                  "acknowledged a keep-alive (sent at %llu ms) at %llu ms",
                  (unsigned long long)rec->id, (unsigned long long)ttl,
                  (unsigned long long)rec->revoked_ms,
                  (unsigned long long)n->id, (unsigned long long)ka.sent_ms,
                  (unsigned long long)now);
    if (now > rec->since_ms)
        rec->since_ms = now;
    return true;
}

/*  ---------------------------------------------------------------------
    The lessors                                                          */

void
sim_kv_lease_tick (sim_t *s, sim_node_t *n)
{
    s_leases_t *ls = s_get (s);
    lessor_t *l = s_lessor (ls, n);
    s_lessor_t *x = &ls->node[n->id];
    raft_status_t st;
    raft_status (n->r, &st);
    uint64_t now = s_now (s);
    if (st.role != RAFT_LEADER) {
        lessor_demote (l);
        x->term = 0;
        return;
    }
    if (!lessor_is_primary (l) || x->term != st.term) {
        /* etcd's Promote: every deadline afresh, a TTL plus an election
           timeout from now (the table as this node applied it) */
        const kvsm_leases_t *t = sim_kv_node_leases (s, n);
        size_t k = t ? t->n : 0;
        lessor_lease_t *v = calloc (k + 1, sizeof *v);
        if (!v)
            abort ();
        for (size_t i = 0; i < k; i++)
            v[i] = (lessor_lease_t){t->v[i].id, t->v[i].ttl_ms};
        if (lessor_promote (l, v, k, now, S_ELECTION_MS) != 0)
            abort ();
        free (v);
        x->term = st.term;
    }
    uint64_t ids[8];
    size_t k = lessor_expired (l, now, S_RETRY_MS, ids, 8);
    for (size_t i = 0; i < k; i++) {
        kvsm_cmd_t c = {.op = KVSM_LREVOKE, .lease = ids[i], .expired = true};
        raft_buf_t *b = msg_kv_encode (&c);
        raft_index_t index;
        raft_term_t term;
        if (!b)
            abort ();
        if (raft_propose (n->r, b, &index, &term) == RAFT_OK)
            sim_trace (s, "n%llu  lessor: lease %llu expired, revoke at %llu",
                       (unsigned long long)n->id, (unsigned long long)ids[i],
                       (unsigned long long)index);
        raft_buf_unref (b);
    }
}

bool
sim_kv_lease_applied (sim_t *s, sim_node_t *n, const raft_entry_t *e,
                      const kvsm_cmd_t *cmd, const kvsm_result_t *res)
{
    s_leases_t *ls = s_get (s);
    lessor_t *l = s_lessor (ls, n);
    uint64_t now = s_now (s);
    if (res->status == KVSM_LEASE_NOT_FOUND && cmd->op == KVSM_PUT)
        s_forget (ls, cmd->lease); /* its holder learns it is gone */
    if (res->status != KVSM_OK || res->lease_event == KVSM_LEASE_EV_NONE)
        return true;
    s_rec_t *rec = s_rec (ls, res->lease);
    if (res->lease_event == KVSM_LEASE_EV_GRANTED) {
        if (lessor_granted (l, res->lease, res->lease_ttl_ms, now) != 0)
            abort ();
        if (rec)
            return true;
        /* its first apply: the lease exists from now; a waiting client
           takes it, else nobody holds it and it must lapse */
        s_rec_add (ls, res->lease, res->lease_ttl_ms, now);
        ls->n_grants++;
        for (size_t i = 0; i < SIM_KV_LEASE_CLIENTS; i++)
            if (ls->cl[i].granting && !ls->cl[i].lease) {
                ls->cl[i] = (s_client_t){.lease = res->lease,
                                         .ttl_ms = res->lease_ttl_ms,
                                         .ka_ms = now};
                break;
            }
        return true;
    }
    lessor_revoked (l, res->lease);
    if (!rec || rec->revoked) {
        return rec || s->unchecked ||
               sim_fail (s,
                         "leases: node %llu, index %llu: lease %llu "
                         "revoked, never granted",
                         (unsigned long long)n->id,
                         (unsigned long long)e->index,
                         (unsigned long long)res->lease);
    }
    /* its first apply: the instant the LREVOKE committed */
    rec->revoked = true;
    rec->revoked_ms = now;
    rec->expired = res->expired;
    ls->n_expired += res->expired;
    ls->n_revoked_keys += res->lease_deleted;
    s_forget (ls, res->lease);
    sim_trace (s, "n%llu  lease %llu revoked%s at %llu, %llu keys",
               (unsigned long long)n->id, (unsigned long long)res->lease,
               res->expired ? " (expired)" : "", (unsigned long long)e->index,
               (unsigned long long)res->lease_deleted);
    if (s->unchecked || !res->expired || now >= rec->since_ms + rec->ttl_ms)
        return true;
    return sim_fail (s,
                     "leases (expiry safety): lease %llu (TTL %llu ms) "
                     "revoked as expired at index %llu, %llu ms, before "
                     "its TTL ran from %llu ms (its grant, or a keep-alive "
                     "a leader acknowledged)",
                     (unsigned long long)rec->id,
                     (unsigned long long)rec->ttl_ms,
                     (unsigned long long)e->index, (unsigned long long)now,
                     (unsigned long long)rec->since_ms);
}

void
sim_kv_lease_stats (const sim_t *s, uint64_t out[4])
{
    s_leases_t *ls = s_get (s);
    out[0] = ls->n_grants;
    out[1] = ls->n_acks;
    out[2] = ls->n_expired;
    out[3] = ls->n_revoked_keys;
}

bool
sim_kv_leases_idle (sim_t *s)
{
    sim_node_t *n = s_leader (s);
    const kvsm_leases_t *t = n ? sim_kv_node_leases (s, n) : NULL;
    return n && (!t || t->n == 0);
}
