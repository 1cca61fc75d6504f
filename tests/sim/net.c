/*  net.c -- the simulated network (messages copied, snapshot chunks
    filled, lost, delayed, duplicated, reordered), the messages sent once
    durable (async_sends), and processing each server's Ready batch. See
    sim.h.
*/
#include "sim.h"
#include "sim_kv.h"

#include <stdlib.h>
#include <string.h>

/*  ---------------------------------------------------------------------
    Network                                                              */

void
sim_msg_free (raft_msg_t *m)
{
    raft_msg_clear (m);
    free (m);
}

raft_msg_t *
sim_msg_copy (const raft_msg_t *m)
{
    raft_msg_t *c = malloc (sizeof *c);
    if (!c)
        abort ();
    *c = *m;
    if (m->n_entries) {
        c->entries = malloc (m->n_entries * sizeof *c->entries);
        if (!c->entries)
            abort ();
        for (size_t i = 0; i < m->n_entries; i++) {
            c->entries[i] = m->entries[i];
            raft_buf_ref (c->entries[i].data);
        }
    } else {
        c->entries = NULL;
    }
    if (c->data)
        raft_buf_ref (c->data);
    return c;
}

/* The sender's caller fills in a snapshot chunk (raft.h): chunk 0 takes a
   copy of its state machine as it is now, in 1 to 4 chunks; later chunks
   come from that copy, or are dropped if it is gone. */
static bool
s_fill_chunk (sim_t *s, sim_node_t *from, raft_msg_t *c)
{
    if (c->to > SIM_MAX_NODES)
        return false;
    sim_snap_t *cp = &from->sending[c->to];
    if (c->ctx == 0) {
        raft_term_t term = raft_log_term (from->r, from->sm_applied);
        if (from->sm_applied == 0 || term == 0)
            return false;
        *cp = (sim_snap_t){.index = from->sm_applied,
                           .term = term,
                           .conf = from->sm_conf,
                           .state = from->sm_state,
                           .nchunks = (uint32_t)sim_range (s, 1, 4)};
    } else if (cp->index == 0 || cp->index != c->prev_index ||
               cp->term != c->prev_term || c->ctx >= cp->nchunks) {
        return false;
    } else if (sim_chance (s, 0.02)) {
        cp->index = 0; /* the copy is lost: the leader starts over */
        return false;
    }
    sim_snap_wire_t w = {.index = cp->index,
                         .state = cp->state,
                         .nchunks = cp->nchunks,
                         .chunk = (uint32_t)c->ctx};
    c->prev_index = cp->index;
    c->prev_term = cp->term;
    c->data = raft_buf_new (&w, sizeof w);
    c->done = c->ctx + 1 == cp->nchunks;
    c->entries = calloc (1, sizeof *c->entries);
    if (!c->entries || !c->data)
        abort ();
    c->entries[0] =
        (raft_entry_t){.term = cp->term,
                       .index = cp->index,
                       .type = RAFT_ENTRY_CONF,
                       .data = raft_buf_new (&cp->conf, sizeof cp->conf)};
    c->n_entries = 1;
    s->n_chunks++;
    return true;
}

static void
s_net_send (sim_t *s, const raft_msg_t *msg)
{
    s->n_msgs++;
    if (msg->to == 0 || msg->to > (raft_id_t)s->n_total)
        return;
    if (s->blocked[msg->from][msg->to] || sim_chance (s, s->drop))
        return;
    raft_msg_t *filled = NULL;
    const raft_msg_t *m = msg;
    if (msg->type == RAFT_MSG_SNAPSHOT) {
        filled = sim_msg_copy (msg);
        if (!s_fill_chunk (s, &s->nodes[msg->from], filled)) {
            sim_msg_free (filled);
            return;
        }
        m = filled;
    }
    int copies = sim_chance (s, s->dup) ? 2 : 1;
    for (int i = 0; i < copies; i++) {
        /* Mostly short delays; sometimes long ones, which reorder. */
        uint64_t d = sim_chance (s, 0.05)
                         ? sim_range (s, s->delay_max, 8 * s->delay_max)
                         : sim_range (s, s->delay_min, s->delay_max);
        sim_push ((sim_event_t){.at = s->now + d,
                                .type = EV_DELIVER,
                                .node = m->to,
                                .msg = sim_msg_copy (m)});
    }
    if (filled)
        sim_msg_free (filled);
}

/*  ---------------------------------------------------------------------
    async_sends: what the core handed out to send once durable          */

/* Send a (its write is durable now) if the entry it vouches for is
   still on disk with its term; as nsxd's storage actor does. */
static void
s_after_now (sim_t *s, sim_node_t *n, const raft_after_t *a)
{
    if (a->index) {
        const raft_entry_t *e = sim_disk_entry (n, a->index);
        if (a->index > n->disk_base && (!e || e->term != a->term))
            return; /* replaced since, or gone: never vouched for */
    }
    s_net_send (s, &a->msg);
}

/* Keep a with the write it waits for, or send it if that is durable. */
static void
s_send_after (sim_t *s, sim_node_t *n, const raft_after_t *a)
{
    for (size_t i = 0; i < n->n_writes; i++) {
        sim_write_t *w = &n->writes[i];
        if (w->seq != a->seq)
            continue;
        raft_after_t *v = realloc (w->after, (w->n_after + 1) * sizeof *v);
        if (!v)
            abort ();
        w->after = v;
        w->after[w->n_after] = *a;
        raft_msg_t *cp = sim_msg_copy (&a->msg);
        w->after[w->n_after].msg = *cp;
        free (cp); /* its fields now belong to the copy in w->after */
        w->n_after++;
        return;
    }
    /* not in flight: durable already (or a planted bug says so) */
    s_after_now (s, n, a);
}

/*  ---------------------------------------------------------------------
    Processing a node's batch                                           */

static bool
s_apply (sim_t *s, sim_node_t *n, const raft_entry_t *e)
{
    if (!sim_kv_apply (s, n, e)) /* the KV state machine (sim_kv.h) */
        return false;
    if (s->unchecked)
        n->sm_applied = e->index;
    else if (!sim_check_apply (s, n, e))
        return false;
    n->sm_state = sim_state_next (n->sm_state, sim_entry_hash (e));
    if (e->type == RAFT_ENTRY_CONF && raft_entry_conf (e))
        n->sm_conf = *raft_entry_conf (e);
    /* A client waiting on this node for this index learns the outcome. */
    for (size_t i = 0; i < n->n_props; i++) {
        sim_proposal_t *p = &n->props[i];
        if (p->index != e->index)
            continue;
        if (p->term == e->term) {
            sim_check_acked (s, e->index);
            s->n_acked++;
            sim_trace (s, "n%llu  client: write op %llu acknowledged at %llu",
                       (unsigned long long)n->id, (unsigned long long)p->op,
                       (unsigned long long)e->index);
        }
        n->props[i] = n->props[--n->n_props];
        i--;
    }
    return true;
}

bool
sim_process (sim_t *s, sim_node_t *n)
{
    raft_ready_t rd;
    s->cur_node = n->id;
    while (n->up && raft_ready (n->r, &rd)) {
        if (rd.seq) {
            if (rd.snapshot) {
                if (!sim_stage (s, n, &n->mem_stage, rd.snapshot, "memory"))
                    return false;
                if (rd.snapshot->done) {
                    /* The core installed it: so does the state machine. */
                    sim_snap_t sn = {.index = rd.snapshot->index,
                                     .term = rd.snapshot->term,
                                     .conf = rd.snapshot->conf,
                                     .state = n->mem_stage.state};
                    if (!s->unchecked &&
                        !sim_check_install (s, n, &sn, rd.snapshot->keep_tail))
                        return false;
                    n->sm_applied = sn.index;
                    n->sm_state = sn.state;
                    n->sm_conf = sn.conf;
                    s->n_installs++;
                    sim_trace (
                        s, "n%llu  installs snapshot %llu/%llu%s",
                        (unsigned long long)n->id, (unsigned long long)sn.index,
                        (unsigned long long)sn.term,
                        rd.snapshot->keep_tail ? " (keeps its tail)" : "");
                }
            }
            if (!s->unchecked &&
                !sim_check_log (s, n, rd.entries, rd.n_entries))
                return false;
            if (n->n_writes == n->cap_writes) {
                n->cap_writes = n->cap_writes ? n->cap_writes * 2 : 16;
                n->writes =
                    realloc (n->writes, n->cap_writes * sizeof *n->writes);
                if (!n->writes)
                    abort ();
            }
            sim_write_t *w = &n->writes[n->n_writes++];
            w->seq = rd.seq;
            w->hs_changed = rd.hs_changed;
            w->hs = rd.hs;
            w->n_entries = rd.n_entries;
            w->entries = malloc ((rd.n_entries + 1) * sizeof *w->entries);
            for (size_t i = 0; i < rd.n_entries; i++) {
                w->entries[i] = rd.entries[i];
                raft_buf_ref (w->entries[i].data);
            }
            w->after = NULL;
            w->n_after = 0;
            w->has_snap = rd.snapshot != NULL;
            if (w->has_snap) {
                w->snap = *rd.snapshot;
                raft_buf_ref (w->snap.data);
            }
            /* fsyncs complete in order */
            uint64_t at = s->now + sim_range (s, 1, s->fsync_max);
            if (n->n_writes > 1 && at < n->writes[n->n_writes - 2].done_at)
                at = n->writes[n->n_writes - 2].done_at;
            w->done_at = at;
            sim_push ((sim_event_t){.at = at,
                                    .type = EV_PERSIST,
                                    .node = n->id,
                                    .incarnation = n->incarnation});
        }
        for (size_t i = 0; i < rd.n_msgs; i++)
            s_net_send (s, &rd.msgs[i]);
        for (size_t i = 0; i < rd.n_after; i++)
            s_send_after (s, n, &rd.after[i]);
        for (size_t i = 0; i < rd.n_committed; i++)
            if (!s_apply (s, n, &rd.committed[i]))
                return false;
        if (rd.n_committed)
            raft_applied (n->r, rd.committed[rd.n_committed - 1].index);
        for (size_t i = 0; i < rd.n_reads; i++) {
            /* a lease keep-alive's round (sim_kv_lease.c) */
            if (sim_kv_lease_read (s, n, rd.reads[i].ctx, rd.reads[i].ok))
                continue;
            for (size_t k = 0; k < n->n_reads; k++) {
                if (n->reads[k].ctx != rd.reads[i].ctx)
                    continue;
                if (rd.reads[i].ok) {
                    if (!s->unchecked &&
                        !sim_check_read (s, n, &n->reads[k], rd.reads[i].index))
                        return false;
                    s->n_reads_ok++;
                    raft_status_t st;
                    raft_status (n->r, &st);
                    if (st.role != RAFT_LEADER)
                        s->n_follower_reads_ok++;
                }
                n->reads[k] = n->reads[--n->n_reads];
                break;
            }
        }
    }
    return true;
}

void
sim_persist_one (sim_t *s, sim_node_t *n)
{
    if (n->n_writes == 0 || n->writes[0].done_at > s->now)
        return;
    sim_write_t w = n->writes[0];
    memmove (n->writes, n->writes + 1, (n->n_writes - 1) * sizeof *n->writes);
    n->n_writes--;
    if (w.has_snap) {
        if (!sim_stage (s, n, &n->disk_stage, &w.snap, "disk"))
            return;
        if (w.snap.done) {
            /* One atomic switch: the staged state, the new base, and the
               log after it kept or not. */
            n->disk_sm = (sim_snap_t){.index = w.snap.index,
                                      .term = w.snap.term,
                                      .conf = w.snap.conf,
                                      .state = n->disk_stage.state};
            if (!w.snap.keep_tail)
                sim_disk_truncate (n, 1);
            sim_disk_compact (n, w.snap.index, w.snap.term);
            n->boot_conf = w.snap.conf;
        }
        raft_buf_unref (w.snap.data);
    }
    if (w.hs_changed)
        n->disk_hs = w.hs;
    if (w.n_entries) {
        sim_disk_truncate (n, w.entries[0].index);
        for (size_t i = 0; i < w.n_entries; i++)
            sim_disk_append (n, &w.entries[i]);
    }
    for (size_t i = 0; i < w.n_entries; i++)
        raft_buf_unref (w.entries[i].data);
    free (w.entries);
    s->cur_node = n->id;
    for (size_t i = 0; i < w.n_after; i++) {
        s_after_now (s, n, &w.after[i]);
        raft_msg_clear (&w.after[i].msg);
    }
    free (w.after);
    raft_persisted (n->r, w.seq);
}
