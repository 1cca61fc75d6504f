/*  world.c -- the simulated world: randomness, the trace, servers with
    their disks, the network, and processing each server's Ready batch.
    See sim.h.
*/
#include "sim.h"
#include "sim_kv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/*  ---------------------------------------------------------------------
    Randomness: xoshiro256** seeded by splitmix64                        */

static uint64_t
s_splitmix (uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
s_rotl (uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void
sim_seed (sim_t *s, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = s_splitmix (&x);
}

uint64_t
sim_rand (sim_t *s)
{
    uint64_t *st = s->rng;
    uint64_t result = s_rotl (st[1] * 5, 7) * 9;
    uint64_t t = st[1] << 17;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = s_rotl (st[3], 45);
    return result;
}

static uint64_t
s_core_rand (void *ctx)
{
    return sim_rand ((sim_t *)ctx);
}

/* uniform in [lo, hi] */
uint64_t
sim_range (sim_t *s, uint64_t lo, uint64_t hi)
{
    return hi <= lo ? lo : lo + sim_rand (s) % (hi - lo + 1);
}

bool
sim_chance (sim_t *s, double p)
{
    return (double)(sim_rand (s) >> 11) * 0x1.0p-53 < p;
}

/*  ---------------------------------------------------------------------
    Trace: a hash of every event, and optionally readable lines          */

void
sim_hash (sim_t *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        s->trace_hash = (s->trace_hash ^ p[i]) * 1099511628211ULL;
}

void
sim_hash_u64 (sim_t *s, uint64_t v)
{
    sim_hash (s, &v, sizeof v);
}

void
sim_trace (sim_t *s, const char *fmt, ...)
{
    if (!s->verbose)
        return;
    printf ("%8.3f ms  ", (double)s->now / 1000.0);
    va_list ap;
    va_start (ap, fmt);
    vprintf (fmt, ap);
    va_end (ap);
    putchar ('\n');
}

static void
s_core_event (void *ctx, const raft_event_t *ev)
{
    sim_t *s = ctx;
    sim_hash_u64 (s, ((uint64_t)ev->type << 32) | s->cur_node);
    sim_hash_u64 (s, ev->a ^ (ev->b << 20) ^ (ev->term << 40));
    if (ev->type == RAFT_EV_COMMIT && !s->violation[0] && !s->unchecked)
        sim_check_commit_event (s, &s->nodes[s->cur_node], ev->a, ev->b);
    if (!s->verbose)
        return;
    if (ev->type == RAFT_EV_ROLE)
        sim_trace (s, "n%llu  term %llu  becomes %s (leader %llu)",
                   (unsigned long long)s->cur_node,
                   (unsigned long long)ev->term, raft_role_name (ev->a),
                   (unsigned long long)ev->b);
    else
        sim_trace (s, "n%llu  term %llu  %s a=%llu b=%llu",
                   (unsigned long long)s->cur_node,
                   (unsigned long long)ev->term, raft_event_name (ev->type),
                   (unsigned long long)ev->a, (unsigned long long)ev->b);
}

/*  ---------------------------------------------------------------------
    Nodes: boot, crash, disk                                             */

void
sim_addr (raft_id_t id, char *buf)
{
    snprintf (buf, RAFT_ADDR_MAX, "n%llu", (unsigned long long)id);
}

void
sim_node_boot (sim_t *s, sim_node_t *n)
{
    raft_options_t o;
    raft_options_default (&o);
    o.id = n->id;
    o.rand = s_core_rand;
    o.rand_ctx = s;
    o.trace = s_core_event;
    o.trace_ctx = s;
    o.max_batch_entries = 4u << (2 * (s->seed % 3)); /* 4, 16, 64 */
    o.max_inflight = 2 + (uint32_t)(s->seed % 5);
    /* Half the seeds: the caller's storage sends what waits on
       durability (raft_options_t.async_sends), as nsxd does. */
    o.async_sends = (s->seed >> 1) & 1;
    raft_boot_t b = {.hs = n->disk_hs,
                     .base_index = n->disk_base,
                     .base_term = n->disk_base_term,
                     .base_conf = n->boot_conf,
                     .entries = n->disk_log,
                     .n_entries = n->disk_n,
                     .applied = n->disk_sm.index};
    s->cur_node = n->id;
    n->r = raft_new (&o, &b);
    if (!n->r) {
        fprintf (stderr, "sim: raft_new refused node %llu's disk state\n",
                 (unsigned long long)n->id);
        abort ();
    }
    n->up = true;
    n->exists = true;
    n->incarnation++;
    /* The state machine is the durable one (a snapshot, or empty). */
    n->sm_applied = n->disk_sm.index;
    n->sm_state = n->disk_sm.state;
    n->sm_conf = n->disk_sm.conf;
    memset (&n->mem_stage, 0, sizeof n->mem_stage);
    memset (n->sending, 0, sizeof n->sending);
    if (!s->unchecked)
        sim_check_boot (s, n);
    /* ticks at a per-node phase, so nodes do not tick in lockstep */
    sim_push ((sim_event_t){.at = s->now + sim_range (s, 1, SIM_TICK_US),
                            .type = EV_TICK,
                            .node = n->id,
                            .incarnation = n->incarnation});
    sim_trace (s, "n%llu  boots: term %llu vote %llu, %zu entries on disk",
               (unsigned long long)n->id, (unsigned long long)n->disk_hs.term,
               (unsigned long long)n->disk_hs.vote, n->disk_n);
}

static void
s_writes_clear (sim_node_t *n)
{
    for (size_t i = 0; i < n->n_writes; i++) {
        for (size_t k = 0; k < n->writes[i].n_entries; k++)
            raft_buf_unref (n->writes[i].entries[k].data);
        free (n->writes[i].entries);
        if (n->writes[i].has_snap)
            raft_buf_unref (n->writes[i].snap.data);
        for (size_t k = 0; k < n->writes[i].n_after; k++)
            raft_msg_clear (&n->writes[i].after[k].msg);
        free (n->writes[i].after);
    }
    n->n_writes = 0;
}

void
sim_node_crash (sim_t *s, sim_node_t *n)
{
    sim_trace (s, "n%llu  CRASH (%zu writes not yet durable are lost)",
               (unsigned long long)n->id, n->n_writes);
    raft_destroy (&n->r);
    n->up = false;
    /* What was not fsynced is gone. */
    s_writes_clear (n);
    /* Clients waiting on it get no answer. */
    n->n_props = 0;
    n->n_reads = 0;
    s->n_crashes++;
}

static void
s_disk_truncate (sim_node_t *n, raft_index_t from)
{
    while (n->disk_n > 0 && n->disk_base + n->disk_n >= from) {
        n->disk_n--;
        raft_buf_unref (n->disk_log[n->disk_n].data);
    }
}

raft_index_t
sim_disk_last (const sim_node_t *n)
{
    return n->disk_base + n->disk_n;
}

const raft_entry_t *
sim_disk_entry (const sim_node_t *n, raft_index_t index)
{
    if (index <= n->disk_base || index > sim_disk_last (n))
        return NULL;
    return &n->disk_log[index - n->disk_base - 1];
}

/* Drop the disk's entries up to index; (index, term) becomes the base. */
static void
s_disk_compact (sim_node_t *n, raft_index_t index, raft_term_t term)
{
    size_t drop = 0;
    while (drop < n->disk_n && n->disk_log[drop].index <= index)
        raft_buf_unref (n->disk_log[drop++].data);
    if (drop && n->disk_n > drop)
        memmove (n->disk_log, n->disk_log + drop,
                 (n->disk_n - drop) * sizeof *n->disk_log);
    n->disk_n -= drop;
    n->disk_base = index;
    n->disk_base_term = term;
}

void
sim_compact (sim_t *s, sim_node_t *n)
{
    /* Not while a write is in flight: a staged install in it would
       overwrite the new base with an older one (storage in the node writes
       in order, so it has no such case). */
    if (!n->up || n->n_writes || n->sm_applied == 0)
        return;
    raft_status_t st;
    raft_status (n->r, &st);
    raft_index_t trail = sim_range (s, 0, 6);
    raft_index_t index = n->sm_applied > trail ? n->sm_applied - trail : 0;
    if (index <= st.base_index)
        return;
    s->cur_node = n->id;
    if (raft_compact (n->r, index) != RAFT_OK) {
        sim_fail (s, "node %llu: raft_compact (%llu) refused with applied %llu",
                  (unsigned long long)n->id, (unsigned long long)index,
                  (unsigned long long)n->sm_applied);
        return;
    }
    /* One atomic write: the state machine as it is, and the new base. */
    n->disk_sm = (sim_snap_t){.index = n->sm_applied,
                              .term = raft_log_term (n->r, n->sm_applied),
                              .conf = n->sm_conf,
                              .state = n->sm_state};
    raft_status (n->r, &st);
    s_disk_compact (n, st.base_index, st.base_term);
    n->boot_conf = *raft_base_conf (n->r);
    s->n_compactions++;
    sim_trace (s, "n%llu  compacts its log up to %llu (state machine at %llu)",
               (unsigned long long)n->id, (unsigned long long)index,
               (unsigned long long)n->sm_applied);
}

/* Stage one chunk in st (memory or disk); false on a broken sequence. */
static bool
s_stage (sim_t *s, sim_node_t *n, sim_stage_t *st,
         const raft_snapshot_chunk_t *c, const char *where)
{
    sim_snap_wire_t w;
    if (!c->data || c->data->len != sizeof w)
        return sim_fail (s, "node %llu: snapshot chunk with bad data",
                         (unsigned long long)n->id);
    memcpy (&w, c->data->data, sizeof w);
    if (c->chunk == 0)
        *st =
            (sim_stage_t){.index = c->index, .term = c->term, .state = w.state};
    if (s->unchecked) {
        /* forged chunks: stage what came, as storage would */
        st->state = w.state;
        st->next = (uint32_t)c->chunk + 1;
        return true;
    }
    if (c->chunk != st->next || c->index != st->index || c->term != st->term ||
        w.index != c->index || w.state != st->state || w.chunk != c->chunk ||
        (c->done && c->chunk + 1 != w.nchunks))
        return sim_fail (
            s,
            "node %llu: %s staging got chunk %llu of snapshot "
            "%llu/%llu, expected chunk %u of %llu/%llu",
            (unsigned long long)n->id, where, (unsigned long long)c->chunk,
            (unsigned long long)c->index, (unsigned long long)c->term, st->next,
            (unsigned long long)st->index, (unsigned long long)st->term);
    st->next++;
    return true;
}

void
sim_disk_append (sim_node_t *n, const raft_entry_t *e)
{
    if (n->disk_n == n->disk_cap) {
        n->disk_cap = n->disk_cap ? n->disk_cap * 2 : 256;
        n->disk_log = realloc (n->disk_log, n->disk_cap * sizeof *n->disk_log);
        if (!n->disk_log)
            abort ();
    }
    n->disk_log[n->disk_n++] = *e;
    raft_buf_ref (e->data);
}

void
sim_node_free (sim_node_t *n)
{
    if (n->r)
        raft_destroy (&n->r);
    s_writes_clear (n);
    free (n->writes);
    s_disk_truncate (n, 1);
    free (n->disk_log);
    free (n->chain);
    free (n->props);
    free (n->reads);
    memset (n, 0, sizeof *n);
}

/*  ---------------------------------------------------------------------
    Network                                                              */

void
sim_msg_free (raft_msg_t *m)
{
    raft_msg_clear (m);
    free (m);
}

static raft_msg_t *
s_msg_copy (const raft_msg_t *m)
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
        filled = s_msg_copy (msg);
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
                                .msg = s_msg_copy (m)});
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
        raft_msg_t *cp = s_msg_copy (&a->msg);
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
                if (!s_stage (s, n, &n->mem_stage, rd.snapshot, "memory"))
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
        if (!s_stage (s, n, &n->disk_stage, &w.snap, "disk"))
            return;
        if (w.snap.done) {
            /* One atomic switch: the staged state, the new base, and the
               log after it kept or not. */
            n->disk_sm = (sim_snap_t){.index = w.snap.index,
                                      .term = w.snap.term,
                                      .conf = w.snap.conf,
                                      .state = n->disk_stage.state};
            if (!w.snap.keep_tail)
                s_disk_truncate (n, 1);
            s_disk_compact (n, w.snap.index, w.snap.term);
            n->boot_conf = w.snap.conf;
        }
        raft_buf_unref (w.snap.data);
    }
    if (w.hs_changed)
        n->disk_hs = w.hs;
    if (w.n_entries) {
        s_disk_truncate (n, w.entries[0].index);
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
