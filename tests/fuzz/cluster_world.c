/*  cluster_world.c -- the cluster fuzz harness's world (see
    fuzz_cluster.c and cluster.h): the network queue the simulator's
    servers send into, delivering, duplicating and dropping messages,
    ticks, rounds of normal running, client writes and reads, partitions,
    membership changes and forged messages.
*/
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sim_t fc_sim;
raft_msg_t *fc_queue[FC_QUEUE_MAX];
size_t fc_qn;
fc_level_t fc_level;
unsigned fc_rounds;
uint64_t fc_ops;

/* world.c hands us its events: messages join the network queue; ticks
   and fsync completions happen when the input says so. */
void
sim_push (sim_event_t ev)
{
    if (ev.type != EV_DELIVER)
        return;
    if (fc_qn == FC_QUEUE_MAX) {
        sim_msg_free (ev.msg);
        return;
    }
    fc_queue[fc_qn++] = ev.msg;
}

sim_node_t *
fc_node (forge_in_t *in)
{
    return &fc_sim.nodes[1 + forge_u8 (in) % FC_NODES];
}

/*  ---------------------------------------------------------------------
    The world                                                            */

/* Hand out every server's batches, then check safety (A only). */
void
fc_settle (void)
{
    sim_t *s = &fc_sim;
    for (int id = 1; id <= FC_NODES; id++)
        if (s->nodes[id].up)
            sim_process (s, &s->nodes[id]);
    if (!s->unchecked)
        sim_check_state (s);
    if (s->violation[0])
        fc_fail_state (s->violation);
}

void
fc_deliver (size_t i)
{
    raft_msg_t *m = fc_queue[i];
    memmove (fc_queue + i, fc_queue + i + 1,
             (fc_qn - i - 1) * sizeof *fc_queue);
    fc_qn--;
    sim_node_t *n =
        &fc_sim.nodes[m->to]; /* world.c sends only to 1..FC_NODES */
    if (n->up) {
        fc_sim.cur_node = n->id;
        raft_step (n->r, m);
    }
    sim_msg_free (m);
    fc_settle ();
}

void
fc_tick (sim_node_t *n)
{
    if (!n->up)
        return;
    fc_sim.cur_node = n->id;
    raft_tick (n->r);
    fc_settle ();
}

/* Complete every write whose fsync is done. */
static void
s_persist_all (void)
{
    for (int id = 1; id <= FC_NODES; id++) {
        sim_node_t *n = &fc_sim.nodes[id];
        while (n->up && n->n_writes && n->writes[0].done_at <= fc_sim.now)
            sim_persist_one (&fc_sim, n);
    }
    fc_settle ();
}

/* One round of normal running: writes complete, the messages in flight
   arrive in order, every server ticks. */
void
fc_round (void)
{
    fc_sim.now++;
    s_persist_all ();
    for (size_t k = fc_qn; k > 0 && fc_qn > 0; k--)
        fc_deliver (0);
    for (int id = 1; id <= FC_NODES; id++)
        fc_tick (&fc_sim.nodes[id]);
}

sim_node_t *
fc_leader (void)
{
    sim_node_t *best = NULL;
    raft_term_t best_term = 0;
    for (int id = 1; id <= FC_NODES; id++) {
        sim_node_t *n = &fc_sim.nodes[id];
        raft_status_t st;
        if (!n->up)
            continue;
        raft_status (n->r, &st);
        if (st.role == RAFT_LEADER && st.term >= best_term) {
            best = n;
            best_term = st.term;
        }
    }
    return best;
}

/* Propose at n; the client waits there (world.c acknowledges it). */
bool
fc_propose (sim_node_t *n, raft_index_t *index, raft_term_t *term)
{
    uint64_t op = ++fc_ops;
    uint8_t data[16] = "fuzz-write";
    memcpy (data + 8, &op, 8);
    raft_buf_t *buf = raft_buf_new (data, sizeof data);
    fc_sim.cur_node = n->id;
    bool ok = raft_propose (n->r, buf, index, term) == RAFT_OK;
    raft_buf_unref (buf);
    if (ok) {
        if (n->n_props == n->cap_props) {
            n->cap_props = n->cap_props ? 2 * n->cap_props : 16;
            n->props = realloc (n->props, n->cap_props * sizeof *n->props);
            if (!n->props)
                abort ();
        }
        n->props[n->n_props++] = (sim_proposal_t){*index, *term, op};
    }
    fc_settle ();
    return ok;
}

void
fc_read (sim_node_t *n)
{
    uint64_t ctx = ++fc_ops;
    fc_sim.cur_node = n->id;
    if (raft_read_index (n->r, ctx) == RAFT_OK) {
        if (n->n_reads == n->cap_reads) {
            n->cap_reads = n->cap_reads ? 2 * n->cap_reads : 16;
            n->reads = realloc (n->reads, n->cap_reads * sizeof *n->reads);
            if (!n->reads)
                abort ();
        }
        n->reads[n->n_reads++] =
            (sim_read_t){ctx, sim_check_acked_max (&fc_sim)};
    }
    fc_settle ();
}

/* Links of server 1 + b % 3 cut both ways, or only towards it (b & 4),
   until the input heals them; messages already on their way still
   arrive. */
void
fc_partition (uint8_t b)
{
    int x = 1 + b % FC_NODES;
    for (int k = 1; k <= FC_NODES; k++) {
        if (k == x)
            continue;
        fc_sim.blocked[k][x] = true;
        if (!(b & 4))
            fc_sim.blocked[x][k] = true;
    }
}

/* One membership change at the leader (§4.1-4.3): add server 1 + (b >> 2)
   % 3 as a learner if it is not in the configuration (a removed server
   back with its old disk), promote it, or remove it (the leader too). */
void
fc_membership (uint8_t b)
{
    sim_node_t *l = fc_leader ();
    if (!l)
        return;
    raft_id_t id = 1 + (raft_id_t)(b >> 2) % FC_NODES;
    raft_index_t index;
    fc_sim.cur_node = l->id;
    if (b % 3 == 0) {
        char addr[RAFT_ADDR_MAX];
        sim_addr (id, addr);
        raft_add_learner (l->r, id, addr, &index);
    } else if (b % 3 == 1) {
        raft_promote (l->r, id, &index);
    } else {
        raft_remove (l->r, id, &index);
    }
    fc_settle ();
}

/*  ---------------------------------------------------------------------
    Forged messages (forge.c builds them)                                */

void
fc_forge (forge_in_t *in)
{
    uint8_t who = forge_u8 (in);
    sim_node_t *n = fc_node (in);
    raft_status_t st = {0};
    if (n->up)
        raft_status (n->r, &st);
    raft_msg_t m;
    if (!forge_msg (in, who, n->id, &st, &m))
        return;
    bool member = forge_from_member (who);
    if (!n->up) {
        raft_msg_clear (&m);
        return;
    }
    bool leader_msg = m.type == RAFT_MSG_APPEND ||
                      m.type == RAFT_MSG_HEARTBEAT ||
                      m.type == RAFT_MSG_SNAPSHOT;
    /* What the message does inside the core must not reach check.c until
       we know it was a stranger's harmless one. */
    if (member || leader_msg)
        fc_sim.unchecked = true;
    raft_status_t pre, post;
    raft_status (n->r, &pre);
    fc_sim.cur_node = n->id;
    raft_step (n->r, &m);
    raft_status (n->r, &post);
    bool taken = post.dropped_msgs == pre.dropped_msgs;
    if (taken && leader_msg && m.term >= pre.term)
        fc_level = FC_FORGED_LEADER;
    else if (taken && member && fc_level < FC_FORGED_MEMBER)
        fc_level = FC_FORGED_MEMBER;
    fc_sim.unchecked = fc_level != FC_CHECKED;
    raft_msg_clear (&m);
    fc_settle ();
}
