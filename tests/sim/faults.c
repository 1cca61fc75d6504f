/*  faults.c -- what happens to the cluster: client writes and reads,
    partitions, crashes, membership changes, leadership transfers.
*/
#include "sim.h"
#include "sim_kv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/*  ---------------------------------------------------------------------
    Clients and faults                                                   */

sim_node_t *
sim_pick_leader (sim_t *s)
{
    sim_node_t *best = NULL;
    raft_term_t best_term = 0;
    for (int id = 1; id <= s->n_total; id++) {
        sim_node_t *n = &s->nodes[id];
        if (!n->up)
            continue;
        raft_status_t st;
        raft_status (n->r, &st);
        if (st.role == RAFT_LEADER && st.term >= best_term &&
            (st.term > best_term || sim_chance (s, 0.5))) {
            best = n;
            best_term = st.term;
        }
    }
    return best;
}

static sim_node_t *
s_pick_up (sim_t *s)
{
    int tries = 0;
    while (tries++ < 32) {
        sim_node_t *n = &s->nodes[sim_range (s, 1, s->n_total)];
        if (n->up)
            return n;
    }
    return NULL;
}

static void s_membership (sim_t *s);

void
sim_client_op (sim_t *s)
{
    /* Operators change membership now and then, right after elections
       too: that is where single-server changes are delicate. */
    if (sim_chance (s, s->conf_churn)) {
        s_membership (s);
        return;
    }
    /* Clients mostly find the leader (the highest-term one they can see,
       sometimes a stale one), sometimes ask anybody. */
    sim_node_t *n = sim_chance (s, 0.85) ? sim_pick_leader (s) : NULL;
    if (!n)
        n = s_pick_up (s);
    if (!n)
        return;
    s->cur_node = n->id;
    if (sim_chance (s, 0.6)) {
        uint64_t op = ++s->next_op;
        raft_buf_t *buf = sim_kv_command (s, op); /* a KV command */
        raft_index_t index;
        raft_term_t term;
        if (raft_propose (n->r, buf, &index, &term) == RAFT_OK) {
            if (n->n_props == n->cap_props) {
                n->cap_props = n->cap_props ? n->cap_props * 2 : 16;
                n->props = realloc (n->props, n->cap_props * sizeof *n->props);
            }
            n->props[n->n_props++] = (sim_proposal_t){index, term, op};
        }
        raft_buf_unref (buf);
    } else {
        uint64_t ctx = ++s->next_op;
        if (raft_read_index (n->r, ctx) == RAFT_OK) {
            if (n->n_reads == n->cap_reads) {
                n->cap_reads = n->cap_reads ? n->cap_reads * 2 : 16;
                n->reads = realloc (n->reads, n->cap_reads * sizeof *n->reads);
            }
            n->reads[n->n_reads++] = (sim_read_t){ctx, sim_check_acked_max (s)};
        }
    }
}

void
sim_heal_links (sim_t *s)
{
    memset (s->blocked, 0, sizeof s->blocked);
    sim_trace (s, "network healed");
}

static void
s_partition (sim_t *s)
{
    int N = s->n_total;
    s->n_partitions++;
    memset (s->blocked, 0, sizeof s->blocked);
    int kind = (int)sim_range (s, 0, 4);
    int side[SIM_MAX_NODES + 1];
    for (int i = 1; i <= N; i++)
        side[i] = (int)sim_range (s, 0, 1);
    if (kind == 0) {
        /* symmetric split into two random sides */
        for (int a = 1; a <= N; a++)
            for (int b = 1; b <= N; b++)
                s->blocked[a][b] = side[a] != side[b];
        sim_trace (s, "partition: symmetric split");
    } else if (kind == 1) {
        /* isolate the leader (or a random node) both ways */
        sim_node_t *l = sim_pick_leader (s);
        int x = l ? (int)l->id : (int)sim_range (s, 1, N);
        for (int b = 1; b <= N; b++)
            s->blocked[x][b] = s->blocked[b][x] = b != x;
        sim_trace (s, "partition: n%d isolated", x);
    } else if (kind == 2) {
        /* one-way losses on random links */
        for (int a = 1; a <= N; a++)
            for (int b = 1; b <= N; b++)
                s->blocked[a][b] = a != b && sim_chance (s, 0.3);
        sim_trace (s, "partition: random one-way link losses");
    } else if (kind == 3) {
        /* bridge: two sides that only one node connects */
        int bridge = (int)sim_range (s, 1, N);
        for (int a = 1; a <= N; a++)
            for (int b = 1; b <= N; b++)
                s->blocked[a][b] =
                    side[a] != side[b] && a != bridge && b != bridge;
        sim_trace (s, "partition: bridge through n%d", bridge);
    } else {
        /* the leader can send but not receive (one-way) */
        sim_node_t *l = sim_pick_leader (s);
        int x = l ? (int)l->id : (int)sim_range (s, 1, N);
        for (int b = 1; b <= N; b++)
            s->blocked[b][x] = b != x;
        sim_trace (s, "partition: n%d cannot receive", x);
    }
    sim_push ((sim_event_t){.at = s->now + sim_range (s, 5, 60) * SIM_TICK_US,
                            .type = EV_HEAL_LINKS});
}

static void
s_membership (sim_t *s)
{
    sim_node_t *l = sim_pick_leader (s);
    if (!l)
        return;
    s->cur_node = l->id;
    const raft_conf_t *conf = raft_conf (l->r);
    uint32_t voters = raft_conf_voters (conf);
    raft_index_t idx;
    int choice = (int)sim_range (s, 0, 3);
    /* Promote a learner that caught up. */
    for (uint32_t i = 0; i < conf->n; i++) {
        if (!conf->servers[i].voter &&
            raft_caught_up (l->r, conf->servers[i].id)) {
            if (raft_promote (l->r, conf->servers[i].id, &idx) == RAFT_OK) {
                s->n_conf_changes++;
                sim_trace (s, "n%llu  conf: promote n%llu at %llu",
                           (unsigned long long)l->id,
                           (unsigned long long)conf->servers[i].id,
                           (unsigned long long)idx);
            }
            return;
        }
    }
    if (choice <= 1) {
        /* Add a server that is not in the configuration: a new one, or one
           removed earlier that comes back with its old disk. */
        for (int id = 1; id <= s->n_total; id++) {
            if (raft_conf_get (conf, id))
                continue;
            char addr[RAFT_ADDR_MAX];
            sim_addr (id, addr);
            if (raft_add_learner (l->r, id, addr, &idx) == RAFT_OK) {
                s->n_conf_changes++;
                sim_trace (s, "n%llu  conf: add learner n%d at %llu",
                           (unsigned long long)l->id, id,
                           (unsigned long long)idx);
                sim_node_t *n = &s->nodes[id];
                if (!n->up)
                    sim_node_boot (s, n);
            }
            return;
        }
    } else if (voters > 3 || (voters == 3 && conf->n > voters)) {
        /* Remove a random server, the leader included. */
        raft_id_t victim = conf->servers[sim_range (s, 0, conf->n - 1)].id;
        const raft_server_t *v = raft_conf_get (conf, victim);
        if (v->voter && voters <= 3)
            return;
        if (raft_remove (l->r, victim, &idx) == RAFT_OK) {
            s->n_conf_changes++;
            sim_trace (s, "n%llu  conf: remove n%llu at %llu",
                       (unsigned long long)l->id, (unsigned long long)victim,
                       (unsigned long long)idx);
        }
    }
}

void
sim_fault (sim_t *s)
{
    int kind = (int)sim_range (s, 0, 11);
    if (kind >= 10) {
        /* Log compaction on every server that can (chapter 5): followers
           that were away then need InstallSnapshot. */
        for (int id = 1; id <= s->n_total; id++)
            sim_compact (s, &s->nodes[id]);
    } else if (kind <= 2) {
        s_partition (s);
    } else if (kind <= 5) {
        sim_node_t *n = sim_chance (s, 0.5) ? sim_pick_leader (s) : NULL;
        if (!n)
            n = s_pick_up (s);
        if (n) {
            sim_node_crash (s, n);
            sim_push (
                (sim_event_t){.at = s->now + sim_range (s, 1, 40) * SIM_TICK_US,
                              .type = EV_RESTART,
                              .node = n->id});
        }
    } else if (kind <= 8) {
        s_membership (s);
    } else {
        sim_node_t *l = sim_pick_leader (s);
        if (l) {
            s->cur_node = l->id;
            if (raft_transfer_leadership (l->r, 0) == RAFT_OK)
                s->n_transfers++;
        }
    }
}
