/*  check_commit.c -- the safety checks on what is committed, applied and
    read: Durable commit, Commit monotonic, State Machine Safety,
    Linearizable reads, and snapshots installed at the committed state
    (see check.c for the properties).
*/
#include "sim.h"
#include "check_int.h"

#include <stdlib.h>
#include <string.h>

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
                    return sim_fail (
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
    c->committed_hash = sim_check_grow (c->committed_hash, &c->committed_cap,
                                        i + 1, sizeof (uint64_t));
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
        return sim_fail (s,
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
                return sim_fail (
                    s,
                    "node %llu installed a snapshot at %llu beyond "
                    "what any leader committed (%llu)",
                    (unsigned long long)n->id, (unsigned long long)i,
                    (unsigned long long)c->committed_n);
            continue;
        }
        if (!e)
            return sim_fail (s, "node %llu commits index %llu it does not hold",
                             (unsigned long long)n->id, (unsigned long long)i);
        if (i <= c->committed_n) {
            if (sim_entry_hash (e) != c->committed_hash[i])
                return sim_fail (s,
                                 "node %llu committed a different entry at "
                                 "index %llu than was committed before",
                                 (unsigned long long)n->id,
                                 (unsigned long long)i);
        } else if (i == c->committed_n + 1 && st.role == RAFT_LEADER) {
            if (!s_commit_new (s, n, i, e))
                return false;
        } else {
            return sim_fail (s,
                             "node %llu (%s) committed index %llu beyond "
                             "what any leader committed (%llu)",
                             (unsigned long long)n->id,
                             raft_role_name (st.role), (unsigned long long)i,
                             (unsigned long long)c->committed_n);
        }
    }
    return true;
}

/* The leader recorded for term, recording id if there is none yet. */

bool
sim_check_apply (sim_t *s, sim_node_t *n, const raft_entry_t *e)
{
    struct sim_check *c = s->check;
    if (e->index != n->sm_applied + 1)
        return sim_fail (s,
                         "node %llu applied index %llu after %llu (not in "
                         "order, or twice)",
                         (unsigned long long)n->id,
                         (unsigned long long)e->index,
                         (unsigned long long)n->sm_applied);
    n->sm_applied = e->index;
    uint64_t h = sim_entry_hash (e);
    if (e->index > c->committed_n || c->committed_hash[e->index] != h)
        return sim_fail (s,
                         "node %llu applied index %llu which is not the "
                         "committed entry there",
                         (unsigned long long)n->id,
                         (unsigned long long)e->index);
    c->applied_hash = sim_check_grow (c->applied_hash, &c->applied_cap,
                                      e->index + 1, sizeof (uint64_t));
    c->state_hash = sim_check_grow (c->state_hash, &c->state_cap, e->index + 1,
                                    sizeof (uint64_t));
    if (e->index > c->applied_n) {
        c->applied_hash[e->index] = h;
        c->state_hash[e->index] =
            sim_state_next (c->state_hash[e->index - 1], h);
        c->applied_n = e->index;
    } else if (c->applied_hash[e->index] != h) {
        return sim_fail (s,
                         "State Machine Safety: node %llu applied a "
                         "different entry at index %llu",
                         (unsigned long long)n->id,
                         (unsigned long long)e->index);
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
        return sim_fail (s,
                         "read at node %llu answered before applying its "
                         "read index %llu (applied %llu)",
                         (unsigned long long)n->id, (unsigned long long)index,
                         (unsigned long long)n->sm_applied);
    if (n->sm_applied < rd->acked_before)
        return sim_fail (s,
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
    return sim_check_mix (state ^ 0x5bd1e995u, h);
}

bool
sim_check_install (sim_t *s, sim_node_t *n, const sim_snap_t *sn,
                   bool keep_tail)
{
    struct sim_check *c = s->check;
    /* State Machine Safety for snapshots: the state installed is the one
       every server reaches by applying the committed entries up to it. */
    if (sn->index > c->applied_n || c->state_hash[sn->index] != sn->state)
        return sim_fail (s,
                         "node %llu installs a snapshot at %llu that is not "
                         "the committed state there",
                         (unsigned long long)n->id,
                         (unsigned long long)sn->index);
    uint64_t v = 0;
    if (!sim_check_chain_find (s, sn->index, sn->term, &v))
        return sim_fail (s,
                         "node %llu installs snapshot %llu/%llu, whose last "
                         "entry no log ever held",
                         (unsigned long long)n->id,
                         (unsigned long long)sn->index,
                         (unsigned long long)sn->term);
    if (keep_tail && (sn->index >= n->chain_n || n->chain[sn->index] != v))
        return sim_fail (s,
                         "node %llu keeps its log after snapshot %llu but its "
                         "log differs there",
                         (unsigned long long)n->id,
                         (unsigned long long)sn->index);
    if (!keep_tail)
        sim_check_chain_set (n, sn->index, v);
    return true;
}
