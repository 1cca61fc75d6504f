/*  check.c -- Raft's safety properties, checked after every simulator event.

    Figure 3.2 of the dissertation lists the properties Raft guarantees:
      Election Safety      at most one leader can be elected in a term;
      Leader Append-Only   (the core asserts it never truncates committed);
      Log Matching         two logs with an entry of the same index and term
                           are identical up to that index;
      Leader Completeness  a committed entry is in the log of every leader
                           of a later term;
      State Machine Safety no two servers apply different entries at one
                           index.
    Added for nsxd's promises:
      Durable commit       an entry becomes committed only once it is on the
                           (simulated) disk of a majority of the voters of the
                           leader's configuration;
      Commit monotonic     a server's commit index never goes back (within one
                           run of the process), and the set of committed
                           entries only grows;
      Linearizable reads   a ReadIndex read reflects every write acknowledged
                           before the read began.

    Log Matching is checked incrementally: each server's log is mirrored as a
    hash chain (chain[i] = H(chain[i-1], entry i)); the first chain value
    ever seen for (index, term) is remembered, and every later log holding
    (index, term) must show the same chain value, i.e. the same prefix.
*/
#include "sim.h"
#include "sim_kv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    raft_index_t index;
    raft_term_t term;
    uint64_t chain;
} s_slot_t;

typedef struct {
    raft_term_t term; /* 0: empty */
    raft_id_t leader;
} s_leader_t;

struct sim_check {
    /* (index, term) -> chain, open addressing */
    s_slot_t *slots;
    size_t cap, used;
    /* term -> leader, open addressing: terms are not dense (a forged term
       from a stranger lifts a cluster to 2^61, see RAFT_TERM_ACCEPT_MAX) */
    s_leader_t *leaders;
    size_t leaders_cap, leaders_used;
    /* committed[i]: entry hash and term of committed index i */
    uint64_t *committed_hash;
    raft_index_t committed_n;
    size_t committed_cap;
    /* applied[i]: entry hash of the entry applied at i by anyone, and the
       state machine's hash after it */
    uint64_t *applied_hash;
    uint64_t *state_hash;
    size_t state_cap;
    raft_index_t applied_n;
    size_t applied_cap;
    raft_index_t acked_max;
    uint64_t node_checks; /* s_check_node calls, to sample costly checks */
};

static bool
s_failv (sim_t *s, const char *fmt, va_list ap)
{
    if (s->violation[0])
        return false; /* keep the first violation found */
    vsnprintf (s->violation, sizeof s->violation, fmt, ap);
    return false;
}

static bool
s_fail (sim_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    s_failv (s, fmt, ap);
    va_end (ap);
    return false;
}

bool
sim_fail (sim_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    s_failv (s, fmt, ap);
    va_end (ap);
    return false;
}

static void *
s_grow (void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    p = realloc (p, c * elem);
    if (!p)
        abort ();
    memset ((char *)p + *cap * elem, 0, (c - *cap) * elem);
    *cap = c;
    return p;
}

static uint64_t
s_mix (uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

uint64_t
sim_entry_hash (const raft_entry_t *e)
{
    uint64_t h = s_mix (e->term, e->type);
    if (e->data) {
        /* FNV-1a over the payload */
        uint64_t f = 1469598103934665603ULL;
        for (size_t i = 0; i < e->data->len; i++)
            f = (f ^ e->data->data[i]) * 1099511628211ULL;
        h = s_mix (h, f);
    }
    return h;
}

void
sim_check_init (sim_t *s)
{
    s->check = calloc (1, sizeof *s->check);
    s->check->cap = 1 << 12;
    s->check->slots = calloc (s->check->cap, sizeof (s_slot_t));
    s->check->leaders_cap = 64;
    s->check->leaders = calloc (s->check->leaders_cap, sizeof (s_leader_t));
}

void
sim_check_fini (sim_t *s)
{
    sim_kv_fini (s); /* the KV state machine's maps (sim_kv.h) */
    struct sim_check *c = s->check;
    free (c->slots);
    free (c->leaders);
    free (c->committed_hash);
    free (c->applied_hash);
    free (c->state_hash);
    free (c);
    s->check = NULL;
}

/* Remember or compare the chain value of (index, term). */
static bool
s_chain_check (sim_t *s, raft_id_t id, raft_index_t index, raft_term_t term,
               uint64_t chain)
{
    struct sim_check *c = s->check;
    if (c->used * 2 >= c->cap) {
        size_t ncap = c->cap * 2;
        s_slot_t *ns = calloc (ncap, sizeof *ns);
        for (size_t i = 0; i < c->cap; i++) {
            if (!c->slots[i].index)
                continue;
            size_t j = s_mix (c->slots[i].index, c->slots[i].term) & (ncap - 1);
            while (ns[j].index)
                j = (j + 1) & (ncap - 1);
            ns[j] = c->slots[i];
        }
        free (c->slots);
        c->slots = ns;
        c->cap = ncap;
    }
    size_t j = s_mix (index, term) & (c->cap - 1);
    while (c->slots[j].index) {
        if (c->slots[j].index == index && c->slots[j].term == term) {
            if (c->slots[j].chain != chain)
                return s_fail (s,
                               "Log Matching: node %llu has an entry at index "
                               "%llu term %llu whose preceding log differs "
                               "from another log's",
                               (unsigned long long)id,
                               (unsigned long long)index,
                               (unsigned long long)term);
            return true;
        }
        j = (j + 1) & (c->cap - 1);
    }
    c->slots[j] = (s_slot_t){index, term, chain};
    c->used++;
    return true;
}

/* The chain value first seen for (index, term); false if never seen. */
static bool
s_chain_find (sim_t *s, raft_index_t index, raft_term_t term, uint64_t *chain)
{
    struct sim_check *c = s->check;
    size_t j = s_mix (index, term) & (c->cap - 1);
    while (c->slots[j].index) {
        if (c->slots[j].index == index && c->slots[j].term == term) {
            *chain = c->slots[j].chain;
            return true;
        }
        j = (j + 1) & (c->cap - 1);
    }
    return false;
}

static void
s_chain_set (sim_node_t *n, raft_index_t index, uint64_t value)
{
    n->chain = s_grow (n->chain, &n->chain_cap, index + 1, sizeof *n->chain);
    n->chain[index] = value;
    n->chain_n = index + 1;
}

bool
sim_check_log (sim_t *s, sim_node_t *n, const raft_entry_t *e, size_t count)
{
    if (count == 0)
        return true;
    raft_index_t first = e[0].index;
    if (first == 0 || first > n->chain_n)
        return s_fail (s, "node %llu wrote entries from %llu past its log end",
                       (unsigned long long)n->id, (unsigned long long)first);
    for (size_t i = 0; i < count; i++) {
        raft_index_t idx = e[i].index;
        uint64_t v = s_mix (n->chain[idx - 1], sim_entry_hash (&e[i]));
        s_chain_set (n, idx, v);
        if (!s_chain_check (s, n->id, idx, e[i].term, v))
            return false;
    }
    return true;
}

void
sim_check_boot (sim_t *s, sim_node_t *n)
{
    s_chain_set (n, 0, 0);
    if (n->disk_base) {
        /* The log starts after a snapshot: its last entry was in some log
           (the leader's), whose chain value stands for the prefix. */
        uint64_t v = 0;
        if (!s_chain_find (s, n->disk_base, n->disk_base_term, &v))
            s_fail (s,
                    "node %llu boots from base %llu/%llu, an entry no log "
                    "ever held",
                    (unsigned long long)n->id, (unsigned long long)n->disk_base,
                    (unsigned long long)n->disk_base_term);
        s_chain_set (n, n->disk_base, v);
    }
    for (size_t i = 0; i < n->disk_n; i++) {
        raft_index_t idx = n->disk_base + 1 + i;
        uint64_t v =
            s_mix (n->chain[idx - 1], sim_entry_hash (&n->disk_log[i]));
        s_chain_set (n, idx, v);
        /* bootstrap entries reach the disk without a write: record them */
        s_chain_check (s, n->id, idx, n->disk_log[i].term, v);
    }
    n->last_commit = 0;
    n->checked_leader_term = 0;
}

/* Entries up to the disk's base are in its durable snapshot, which was
   checked to be the committed state when it was installed or taken. */
static raft_index_t
s_disk_has (const sim_node_t *n, raft_index_t index, uint64_t hash)
{
    if (index <= n->disk_base)
        return true;
    const raft_entry_t *e = sim_disk_entry (n, index);
    return e && sim_entry_hash (e) == hash;
}

/*  Commit safety. The heart of the Leader Completeness proof (§3.6.3) is
    that once an entry is committed, no server lacking it can collect a
    majority of votes, because a majority holds it durably and refuses a
    candidate whose log is less up to date. Checked at the instant of commit
    over every version of every server's log a candidate could campaign
    with (in memory while up; on disk after a restart), against voters that
    would vote if the candidate's log is at least as up to date as any
    version of theirs. Votes already cast and terms are ignored, which only
    makes the check stricter. Majorities are counted both in the committing
    leader's configuration and in the candidate's own.                      */

typedef struct {
    bool valid;
    raft_index_t last_index;
    raft_term_t last_term;
    const raft_conf_t *conf;
    bool has; /* holds the committed entry */
} s_version_t;

static void
s_versions (sim_t *s, sim_node_t *n, raft_index_t i, uint64_t h,
            s_version_t v[2])
{
    (void)s;
    memset (v, 0, 2 * sizeof *v);
    if (n->up) {
        raft_status_t st;
        raft_status (n->r, &st);
        const raft_entry_t *e = raft_log_get (n->r, i);
        v[0] =
            (s_version_t){true, st.last_index, st.last_term, raft_conf (n->r),
                          i <= st.base_index || (e && sim_entry_hash (e) == h)};
    }
    if (n->exists) {
        const raft_conf_t *conf = &n->boot_conf;
        for (size_t k = n->disk_n; k > 0; k--)
            if (n->disk_log[k - 1].type == RAFT_ENTRY_CONF) {
                conf = raft_entry_conf (&n->disk_log[k - 1]);
                break;
            }
        v[1] = (s_version_t){true, sim_disk_last (n),
                             n->disk_n ? n->disk_log[n->disk_n - 1].term
                                       : n->disk_base_term,
                             conf, s_disk_has (n, i, h)};
    }
}

static bool
s_at_least (const s_version_t *a, const s_version_t *b)
{
    return a->last_term > b->last_term ||
           (a->last_term == b->last_term && a->last_index >= b->last_index);
}

static bool
s_commit_safe (sim_t *s, sim_node_t *leader, raft_index_t i, uint64_t h,
               const raft_conf_t *lconf)
{
    s_version_t ver[SIM_MAX_NODES + 1][2];
    for (int id = 1; id <= s->n_total; id++)
        s_versions (s, &s->nodes[id], i, h, ver[id]);
    for (int cand = 1; cand <= s->n_total; cand++) {
        for (int k = 0; k < 2; k++) {
            s_version_t *c = &ver[cand][k];
            if (!c->valid || c->has || !c->conf)
                continue;
            const raft_conf_t *confs[2] = {lconf, c->conf};
            for (int q = 0; q < 2; q++) {
                const raft_conf_t *conf = confs[q];
                if (!raft_conf_get (conf, cand) ||
                    !raft_conf_get (conf, cand)->voter)
                    continue; /* only a voter of it can stand */
                uint32_t voters = 0, votes = 0;
                for (uint32_t x = 0; x < conf->n; x++) {
                    if (!conf->servers[x].voter)
                        continue;
                    voters++;
                    raft_id_t vid = conf->servers[x].id;
                    if (vid > (raft_id_t)s->n_total)
                        continue;
                    bool yes = (int)vid == cand;
                    for (int w = 0; w < 2 && !yes; w++)
                        yes = ver[vid][w].valid && s_at_least (c, &ver[vid][w]);
                    votes += yes;
                }
                if (votes >= voters / 2 + 1)
                    return s_fail (
                        s,
                        "Commit safety: node %llu committed index %llu, but "
                        "node %d (%s log, last %llu/term %llu) lacks it and "
                        "could still win %u of %u votes in %s configuration",
                        (unsigned long long)leader->id, (unsigned long long)i,
                        cand, k == 0 ? "in-memory" : "on-disk",
                        (unsigned long long)c->last_index,
                        (unsigned long long)c->last_term, votes, voters,
                        q == 0 ? "the leader's" : "its own");
            }
        }
    }
    return true;
}

/* An entry newly committed by leader n: record it and check it is durable
   on a majority of the voters of the leader's configuration. */
static bool
s_commit_new (sim_t *s, sim_node_t *n, raft_index_t i, const raft_entry_t *e)
{
    struct sim_check *c = s->check;
    uint64_t h = sim_entry_hash (e);
    c->committed_hash =
        s_grow (c->committed_hash, &c->committed_cap, i + 1, sizeof (uint64_t));
    c->committed_hash[i] = h;
    c->committed_n = i;
    const raft_conf_t *conf = raft_conf (n->r);
    uint32_t voters = 0, durable = 0;
    for (uint32_t k = 0; k < conf->n; k++) {
        if (!conf->servers[k].voter)
            continue;
        voters++;
        raft_id_t id = conf->servers[k].id;
        if (id <= (raft_id_t)s->n_total && s_disk_has (&s->nodes[id], i, h))
            durable++;
    }
    if (durable < voters / 2 + 1)
        return s_fail (s,
                       "Durable commit: node %llu committed index %llu "
                       "(term %llu) while only %u of %u voters have it on "
                       "disk",
                       (unsigned long long)n->id, (unsigned long long)i,
                       (unsigned long long)e->term, durable, voters);
    return s_commit_safe (s, n, i, h, conf);
}

bool
sim_check_commit_event (sim_t *s, sim_node_t *n, raft_index_t from,
                        raft_index_t to)
{
    struct sim_check *c = s->check;
    raft_status_t st;
    raft_status (n->r, &st);
    for (raft_index_t i = from + 1; i <= to; i++) {
        const raft_entry_t *e = raft_log_get (n->r, i);
        if (!e && i <= st.base_index) {
            /* committed by installing a snapshot: it must hold only what
               a leader committed (its state is checked at the install) */
            if (i > c->committed_n)
                return s_fail (s,
                               "node %llu installed a snapshot at %llu beyond "
                               "what any leader committed (%llu)",
                               (unsigned long long)n->id, (unsigned long long)i,
                               (unsigned long long)c->committed_n);
            continue;
        }
        if (!e)
            return s_fail (s, "node %llu commits index %llu it does not hold",
                           (unsigned long long)n->id, (unsigned long long)i);
        if (i <= c->committed_n) {
            if (sim_entry_hash (e) != c->committed_hash[i])
                return s_fail (s,
                               "node %llu committed a different entry at "
                               "index %llu than was committed before",
                               (unsigned long long)n->id,
                               (unsigned long long)i);
        } else if (i == c->committed_n + 1 && st.role == RAFT_LEADER) {
            if (!s_commit_new (s, n, i, e))
                return false;
        } else {
            return s_fail (s,
                           "node %llu (%s) committed index %llu beyond "
                           "what any leader committed (%llu)",
                           (unsigned long long)n->id, raft_role_name (st.role),
                           (unsigned long long)i,
                           (unsigned long long)c->committed_n);
        }
    }
    return true;
}

/* The leader recorded for term, recording id if there is none yet. */
static raft_id_t
s_leader_of (struct sim_check *c, raft_term_t term, raft_id_t id)
{
    if (c->leaders_used * 2 >= c->leaders_cap) {
        size_t ncap = c->leaders_cap * 2;
        s_leader_t *nl = calloc (ncap, sizeof *nl);
        if (!nl)
            abort ();
        for (size_t i = 0; i < c->leaders_cap; i++) {
            if (!c->leaders[i].term)
                continue;
            size_t j = s_mix (c->leaders[i].term, 0) & (ncap - 1);
            while (nl[j].term)
                j = (j + 1) & (ncap - 1);
            nl[j] = c->leaders[i];
        }
        free (c->leaders);
        c->leaders = nl;
        c->leaders_cap = ncap;
    }
    size_t j = s_mix (term, 0) & (c->leaders_cap - 1);
    while (c->leaders[j].term && c->leaders[j].term != term)
        j = (j + 1) & (c->leaders_cap - 1);
    if (!c->leaders[j].term) {
        c->leaders[j] = (s_leader_t){term, id};
        c->leaders_used++;
    }
    return c->leaders[j].leader;
}

static bool
s_check_node (sim_t *s, sim_node_t *n)
{
    struct sim_check *c = s->check;
    raft_status_t st;
    raft_status (n->r, &st);

    /* Election Safety */
    if (st.role == RAFT_LEADER) {
        raft_id_t first = s_leader_of (c, st.term, n->id);
        if (first != n->id)
            return s_fail (s,
                           "Election Safety: nodes %llu and %llu are both "
                           "leaders of term %llu",
                           (unsigned long long)first, (unsigned long long)n->id,
                           (unsigned long long)st.term);
        /* Leader Completeness: once per leadership, every committed entry
           must be in the new leader's log. */
        if (n->checked_leader_term != st.term) {
            n->checked_leader_term = st.term;
            s->n_elections++;
            for (raft_index_t i = st.base_index + 1; i <= c->committed_n; i++) {
                const raft_entry_t *e = raft_log_get (n->r, i);
                if (!e || sim_entry_hash (e) != c->committed_hash[i])
                    return s_fail (s,
                                   "Leader Completeness: leader %llu of "
                                   "term %llu lacks committed index %llu",
                                   (unsigned long long)n->id,
                                   (unsigned long long)st.term,
                                   (unsigned long long)i);
            }
        }
    }

    /* The log's byte count (compaction by memory relies on it) equals the
       data it holds, through appends, truncations, compactions and
       installs. Summing the log is costly: one check in 64. */
    if ((c->node_checks++ & 63) == 0) {
        size_t sum = 0;
        for (raft_index_t i = st.base_index + 1; i <= st.last_index; i++) {
            const raft_entry_t *e = raft_log_get (n->r, i);
            sum += e && e->data ? e->data->len : 0;
        }
        if (sum != st.log_bytes)
            return s_fail (s,
                           "node %llu: log_bytes %zu, but its entries hold "
                           "%zu bytes",
                           (unsigned long long)n->id, st.log_bytes, sum);
    }

    /* Commit index monotonic (what was committed is checked as it happens,
       by sim_check_commit_event). */
    if (st.commit < n->last_commit)
        return s_fail (s,
                       "commit index of node %llu went back from %llu to "
                       "%llu",
                       (unsigned long long)n->id,
                       (unsigned long long)n->last_commit,
                       (unsigned long long)st.commit);
    n->last_commit = st.commit;
    return true;
}

bool
sim_check_state (sim_t *s)
{
    if (s->violation[0])
        return false; /* found inside the core's trace callback */
    for (int id = 1; id <= s->n_total; id++)
        if (s->nodes[id].up && !s_check_node (s, &s->nodes[id]))
            return false;
    return true;
}

bool
sim_check_apply (sim_t *s, sim_node_t *n, const raft_entry_t *e)
{
    struct sim_check *c = s->check;
    if (e->index != n->sm_applied + 1)
        return s_fail (s,
                       "node %llu applied index %llu after %llu (not in "
                       "order, or twice)",
                       (unsigned long long)n->id, (unsigned long long)e->index,
                       (unsigned long long)n->sm_applied);
    n->sm_applied = e->index;
    uint64_t h = sim_entry_hash (e);
    if (e->index > c->committed_n || c->committed_hash[e->index] != h)
        return s_fail (s,
                       "node %llu applied index %llu which is not the "
                       "committed entry there",
                       (unsigned long long)n->id, (unsigned long long)e->index);
    c->applied_hash = s_grow (c->applied_hash, &c->applied_cap, e->index + 1,
                              sizeof (uint64_t));
    c->state_hash =
        s_grow (c->state_hash, &c->state_cap, e->index + 1, sizeof (uint64_t));
    if (e->index > c->applied_n) {
        c->applied_hash[e->index] = h;
        c->state_hash[e->index] =
            sim_state_next (c->state_hash[e->index - 1], h);
        c->applied_n = e->index;
    } else if (c->applied_hash[e->index] != h) {
        return s_fail (s,
                       "State Machine Safety: node %llu applied a "
                       "different entry at index %llu",
                       (unsigned long long)n->id, (unsigned long long)e->index);
    }
    return true;
}

void
sim_check_acked (sim_t *s, raft_index_t index)
{
    if (index > s->check->acked_max)
        s->check->acked_max = index;
}

raft_index_t
sim_check_acked_max (sim_t *s)
{
    return s->check->acked_max;
}

raft_index_t
sim_check_committed (sim_t *s)
{
    return s->check->committed_n;
}

bool
sim_check_read (sim_t *s, sim_node_t *n, const sim_read_t *rd,
                raft_index_t index)
{
    /* The read is served from the state machine as it is now, which holds
       exactly the entries up to sm_applied (State Machine Safety). */
    if (n->sm_applied < index)
        return s_fail (s,
                       "read at node %llu answered before applying its "
                       "read index %llu (applied %llu)",
                       (unsigned long long)n->id, (unsigned long long)index,
                       (unsigned long long)n->sm_applied);
    if (n->sm_applied < rd->acked_before)
        return s_fail (s,
                       "Linearizability: read %llu at node %llu saw the "
                       "state at index %llu, but a write at index %llu was "
                       "acknowledged before the read began",
                       (unsigned long long)rd->ctx, (unsigned long long)n->id,
                       (unsigned long long)n->sm_applied,
                       (unsigned long long)rd->acked_before);
    return true;
}

uint64_t
sim_state_next (uint64_t state, uint64_t h)
{
    return s_mix (state ^ 0x5bd1e995u, h);
}

bool
sim_check_install (sim_t *s, sim_node_t *n, const sim_snap_t *sn,
                   bool keep_tail)
{
    struct sim_check *c = s->check;
    /* State Machine Safety for snapshots: the state installed is the one
       every server reaches by applying the committed entries up to it. */
    if (sn->index > c->applied_n || c->state_hash[sn->index] != sn->state)
        return s_fail (s,
                       "node %llu installs a snapshot at %llu that is not "
                       "the committed state there",
                       (unsigned long long)n->id,
                       (unsigned long long)sn->index);
    uint64_t v = 0;
    if (!s_chain_find (s, sn->index, sn->term, &v))
        return s_fail (s,
                       "node %llu installs snapshot %llu/%llu, whose last "
                       "entry no log ever held",
                       (unsigned long long)n->id, (unsigned long long)sn->index,
                       (unsigned long long)sn->term);
    if (keep_tail && (sn->index >= n->chain_n || n->chain[sn->index] != v))
        return s_fail (s,
                       "node %llu keeps its log after snapshot %llu but its "
                       "log differs there",
                       (unsigned long long)n->id,
                       (unsigned long long)sn->index);
    if (!keep_tail)
        s_chain_set (n, sn->index, v);
    return true;
}
