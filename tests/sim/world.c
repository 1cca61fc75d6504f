/*  world.c -- the simulated world: randomness, the trace, servers with
    their disks, the network, and processing each server's Ready batch.
    See sim.h.
*/
#include "sim.h"

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
    if (ev->type == RAFT_EV_COMMIT && !s->violation[0])
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
    raft_boot_t b = {.hs = n->disk_hs,
                     .base_conf = n->boot_conf,
                     .entries = n->disk_log,
                     .n_entries = n->disk_n};
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
    n->sm_applied = 0;
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
    while (n->disk_n >= from) {
        n->disk_n--;
        raft_buf_unref (n->disk_log[n->disk_n].data);
    }
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
    return c;
}

static void
s_net_send (sim_t *s, const raft_msg_t *m)
{
    s->n_msgs++;
    if (m->to == 0 || m->to > (raft_id_t)s->n_total)
        return;
    if (s->blocked[m->from][m->to] || sim_chance (s, s->drop))
        return;
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
}

/*  ---------------------------------------------------------------------
    Processing a node's batch                                           */

static bool
s_apply (sim_t *s, sim_node_t *n, const raft_entry_t *e)
{
    if (!sim_check_apply (s, n, e))
        return false;
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
            if (!sim_check_log (s, n, rd.entries, rd.n_entries))
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
                    if (!sim_check_read (s, n, &n->reads[k], rd.reads[i].index))
                        return false;
                    s->n_reads_ok++;
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
    raft_persisted (n->r, w.seq);
}
