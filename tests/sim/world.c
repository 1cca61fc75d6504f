/*  world.c -- the simulated world: randomness, the trace, servers with
    their disks (the network and each server's Ready batch: net.c). See
    sim.h.
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

void
sim_disk_truncate (sim_node_t *n, raft_index_t from)
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
void
sim_disk_compact (sim_node_t *n, raft_index_t index, raft_term_t term)
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
    sim_disk_compact (n, st.base_index, st.base_term);
    n->boot_conf = *raft_base_conf (n->r);
    s->n_compactions++;
    sim_trace (s, "n%llu  compacts its log up to %llu (state machine at %llu)",
               (unsigned long long)n->id, (unsigned long long)index,
               (unsigned long long)n->sm_applied);
}

/* Stage one chunk in st (memory or disk); false on a broken sequence. */
bool
sim_stage (sim_t *s, sim_node_t *n, sim_stage_t *st,
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
    sim_disk_truncate (n, 1);
    free (n->disk_log);
    free (n->chain);
    free (n->props);
    free (n->reads);
    memset (n, 0, sizeof *n);
}

bool
sim_caught_up (sim_t *s, sim_node_t *l)
{
    raft_status_t ls;
    raft_status (l->r, &ls);
    if (ls.commit != ls.last_index || l->sm_applied != ls.commit)
        return false;
    const raft_conf_t *conf = raft_conf (l->r);
    for (uint32_t i = 0; i < conf->n; i++) {
        raft_id_t id = conf->servers[i].id;
        if (id > (raft_id_t)s->n_total || !s->nodes[id].up)
            return false;
        if (s->nodes[id].sm_applied != ls.commit)
            return false;
    }
    return true;
}
