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

    This file: the checker's state, Log Matching, Election Safety and the
    per-event state checks; check_commit.c: Durable commit, Commit
    monotonic, State Machine Safety, Linearizable reads and snapshots.
*/
#include "sim.h"
#include "check_int.h"
#include "sim_kv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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

void *
sim_check_grow (void *p, size_t *cap, size_t need, size_t elem)
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

uint64_t
sim_check_mix (uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

uint64_t
sim_entry_hash (const raft_entry_t *e)
{
    uint64_t h = sim_check_mix (e->term, e->type);
    if (e->data) {
        /* FNV-1a over the payload */
        uint64_t f = 1469598103934665603ULL;
        for (size_t i = 0; i < e->data->len; i++)
            f = (f ^ e->data->data[i]) * 1099511628211ULL;
        h = sim_check_mix (h, f);
    }
    return h;
}

void
sim_check_init (sim_t *s)
{
    s->check = calloc (1, sizeof *s->check);
    s->check->cap = 1 << 12;
    s->check->slots = calloc (s->check->cap, sizeof (sim_check_slot_t));
    s->check->leaders_cap = 64;
    s->check->leaders =
        calloc (s->check->leaders_cap, sizeof (sim_check_leader_t));
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
        sim_check_slot_t *ns = calloc (ncap, sizeof *ns);
        for (size_t i = 0; i < c->cap; i++) {
            if (!c->slots[i].index)
                continue;
            size_t j = sim_check_mix (c->slots[i].index, c->slots[i].term) &
                       (ncap - 1);
            while (ns[j].index)
                j = (j + 1) & (ncap - 1);
            ns[j] = c->slots[i];
        }
        free (c->slots);
        c->slots = ns;
        c->cap = ncap;
    }
    size_t j = sim_check_mix (index, term) & (c->cap - 1);
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
    c->slots[j] = (sim_check_slot_t){index, term, chain};
    c->used++;
    return true;
}

/* The chain value first seen for (index, term); false if never seen. */
bool
sim_check_chain_find (sim_t *s, raft_index_t index, raft_term_t term,
                      uint64_t *chain)
{
    struct sim_check *c = s->check;
    size_t j = sim_check_mix (index, term) & (c->cap - 1);
    while (c->slots[j].index) {
        if (c->slots[j].index == index && c->slots[j].term == term) {
            *chain = c->slots[j].chain;
            return true;
        }
        j = (j + 1) & (c->cap - 1);
    }
    return false;
}

void
sim_check_chain_set (sim_node_t *n, raft_index_t index, uint64_t value)
{
    n->chain =
        sim_check_grow (n->chain, &n->chain_cap, index + 1, sizeof *n->chain);
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
        uint64_t v = sim_check_mix (n->chain[idx - 1], sim_entry_hash (&e[i]));
        sim_check_chain_set (n, idx, v);
        if (!s_chain_check (s, n->id, idx, e[i].term, v))
            return false;
    }
    return true;
}

void
sim_check_boot (sim_t *s, sim_node_t *n)
{
    sim_check_chain_set (n, 0, 0);
    if (n->disk_base) {
        /* The log starts after a snapshot: its last entry was in some log
           (the leader's), whose chain value stands for the prefix. */
        uint64_t v = 0;
        if (!sim_check_chain_find (s, n->disk_base, n->disk_base_term, &v))
            s_fail (s,
                    "node %llu boots from base %llu/%llu, an entry no log "
                    "ever held",
                    (unsigned long long)n->id, (unsigned long long)n->disk_base,
                    (unsigned long long)n->disk_base_term);
        sim_check_chain_set (n, n->disk_base, v);
    }
    for (size_t i = 0; i < n->disk_n; i++) {
        raft_index_t idx = n->disk_base + 1 + i;
        uint64_t v =
            sim_check_mix (n->chain[idx - 1], sim_entry_hash (&n->disk_log[i]));
        sim_check_chain_set (n, idx, v);
        /* bootstrap entries reach the disk without a write: record them */
        s_chain_check (s, n->id, idx, n->disk_log[i].term, v);
    }
    n->last_commit = 0;
    n->checked_leader_term = 0;
}

/* Entries up to the disk's base are in its durable snapshot, which was
   checked to be the committed state when it was installed or taken. */
static raft_id_t
s_leader_of (struct sim_check *c, raft_term_t term, raft_id_t id)
{
    if (c->leaders_used * 2 >= c->leaders_cap) {
        size_t ncap = c->leaders_cap * 2;
        sim_check_leader_t *nl = calloc (ncap, sizeof *nl);
        if (!nl)
            abort ();
        for (size_t i = 0; i < c->leaders_cap; i++) {
            if (!c->leaders[i].term)
                continue;
            size_t j = sim_check_mix (c->leaders[i].term, 0) & (ncap - 1);
            while (nl[j].term)
                j = (j + 1) & (ncap - 1);
            nl[j] = c->leaders[i];
        }
        free (c->leaders);
        c->leaders = nl;
        c->leaders_cap = ncap;
    }
    size_t j = sim_check_mix (term, 0) & (c->leaders_cap - 1);
    while (c->leaders[j].term && c->leaders[j].term != term)
        j = (j + 1) & (c->leaders_cap - 1);
    if (!c->leaders[j].term) {
        c->leaders[j] = (sim_check_leader_t){term, id};
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
