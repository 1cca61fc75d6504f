/*  sim.c -- the simulator's world: event queue, network, disks, clients,
    faults, and the command line. See sim.h for the overview and check.c for
    the properties checked.

    Usage:
      sim --seed S [--nodes 3|5|7] [--trace]        replay one seed
      sim --seeds N [--first S] [--quiet]           run N seeds
      sim --seeds N --expect-violation [--name B]   planted-bug build: succeed
                                                    only if some seed fails
*/
#include "sim.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
static uint64_t
s_range (sim_t *s, uint64_t lo, uint64_t hi)
{
    return hi <= lo ? lo : lo + sim_rand (s) % (hi - lo + 1);
}

static bool
s_chance (sim_t *s, double p)
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

static void
s_hash_u64 (sim_t *s, uint64_t v)
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
    s_hash_u64 (s, ((uint64_t)ev->type << 32) | s->cur_node);
    s_hash_u64 (s, ev->a ^ (ev->b << 20) ^ (ev->term << 40));
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
    The event queue: a binary heap ordered by (time, insertion seq)      */

typedef enum {
    EV_TICK = 1,
    EV_DELIVER,
    EV_PERSIST,
    EV_CLIENT,
    EV_FAULT,
    EV_RESTART,
    EV_HEAL_LINKS,
} s_ev_type_t;

typedef struct {
    uint64_t at;
    uint64_t seq;
    s_ev_type_t type;
    raft_id_t node;
    uint64_t incarnation;
    raft_msg_t *msg; /* EV_DELIVER */
} s_event_t;

static s_event_t *heap;
static size_t heap_n, heap_cap;
static uint64_t heap_seq;

static bool
s_before (const s_event_t *a, const s_event_t *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void
s_push (s_event_t ev)
{
    ev.seq = heap_seq++;
    if (heap_n == heap_cap) {
        heap_cap = heap_cap ? heap_cap * 2 : 1024;
        heap = realloc (heap, heap_cap * sizeof *heap);
        if (!heap)
            abort ();
    }
    size_t i = heap_n++;
    heap[i] = ev;
    while (i > 0 && s_before (&heap[i], &heap[(i - 1) / 2])) {
        s_event_t t = heap[i];
        heap[i] = heap[(i - 1) / 2];
        heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static s_event_t
s_pop (void)
{
    s_event_t top = heap[0];
    heap[0] = heap[--heap_n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < heap_n && s_before (&heap[l], &heap[m]))
            m = l;
        if (r < heap_n && s_before (&heap[r], &heap[m]))
            m = r;
        if (m == i)
            break;
        s_event_t t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
    return top;
}

static void
s_msg_free (raft_msg_t *m)
{
    raft_msg_clear (m);
    free (m);
}

static void
s_heap_clear (void)
{
    for (size_t i = 0; i < heap_n; i++)
        if (heap[i].msg)
            s_msg_free (heap[i].msg);
    heap_n = 0;
    heap_seq = 0;
}

/*  ---------------------------------------------------------------------
    Nodes: boot, crash, disk                                             */

static void
s_addr (raft_id_t id, char *buf)
{
    snprintf (buf, RAFT_ADDR_MAX, "n%llu", (unsigned long long)id);
}

static void
s_node_boot (sim_t *s, sim_node_t *n)
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
    s_push ((s_event_t){.at = s->now + s_range (s, 1, SIM_TICK_US),
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

static void
s_node_crash (sim_t *s, sim_node_t *n)
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

static void
s_disk_append (sim_node_t *n, const raft_entry_t *e)
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

static void
s_node_free (sim_node_t *n)
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
    if (s->blocked[m->from][m->to] || s_chance (s, s->drop))
        return;
    int copies = s_chance (s, s->dup) ? 2 : 1;
    for (int i = 0; i < copies; i++) {
        /* Mostly short delays; sometimes long ones, which reorder. */
        uint64_t d = s_chance (s, 0.05)
                         ? s_range (s, s->delay_max, 8 * s->delay_max)
                         : s_range (s, s->delay_min, s->delay_max);
        s_push ((s_event_t){.at = s->now + d,
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

static bool
s_process (sim_t *s, sim_node_t *n)
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
            uint64_t at = s->now + s_range (s, 1, s->fsync_max);
            if (n->n_writes > 1 && at < n->writes[n->n_writes - 2].done_at)
                at = n->writes[n->n_writes - 2].done_at;
            w->done_at = at;
            s_push ((s_event_t){.at = at,
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

static void
s_persist_one (sim_t *s, sim_node_t *n)
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
            s_disk_append (n, &w.entries[i]);
    }
    for (size_t i = 0; i < w.n_entries; i++)
        raft_buf_unref (w.entries[i].data);
    free (w.entries);
    s->cur_node = n->id;
    raft_persisted (n->r, w.seq);
}

/*  ---------------------------------------------------------------------
    Clients and faults                                                   */

static sim_node_t *
s_pick_leader (sim_t *s)
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
            (st.term > best_term || s_chance (s, 0.5))) {
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
        sim_node_t *n = &s->nodes[s_range (s, 1, s->n_total)];
        if (n->up)
            return n;
    }
    return NULL;
}

static void s_membership (sim_t *s);

static void
s_client_op (sim_t *s)
{
    /* Operators change membership now and then, right after elections
       too: that is where single-server changes are delicate. */
    if (s_chance (s, s->conf_churn)) {
        s_membership (s);
        return;
    }
    /* Clients mostly find the leader (the highest-term one they can see,
       sometimes a stale one), sometimes ask anybody. */
    sim_node_t *n = s_chance (s, 0.85) ? s_pick_leader (s) : NULL;
    if (!n)
        n = s_pick_up (s);
    if (!n)
        return;
    s->cur_node = n->id;
    if (s_chance (s, 0.6)) {
        uint64_t op = ++s->next_op;
        uint8_t data[16];
        memcpy (data, &op, 8);
        memcpy (data + 8, &s->seed, 8);
        raft_buf_t *buf = raft_buf_new (data, sizeof data);
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

static void
s_heal_links (sim_t *s)
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
    int kind = (int)s_range (s, 0, 4);
    int side[SIM_MAX_NODES + 1];
    for (int i = 1; i <= N; i++)
        side[i] = (int)s_range (s, 0, 1);
    if (kind == 0) {
        /* symmetric split into two random sides */
        for (int a = 1; a <= N; a++)
            for (int b = 1; b <= N; b++)
                s->blocked[a][b] = side[a] != side[b];
        sim_trace (s, "partition: symmetric split");
    } else if (kind == 1) {
        /* isolate the leader (or a random node) both ways */
        sim_node_t *l = s_pick_leader (s);
        int x = l ? (int)l->id : (int)s_range (s, 1, N);
        for (int b = 1; b <= N; b++)
            s->blocked[x][b] = s->blocked[b][x] = b != x;
        sim_trace (s, "partition: n%d isolated", x);
    } else if (kind == 2) {
        /* one-way losses on random links */
        for (int a = 1; a <= N; a++)
            for (int b = 1; b <= N; b++)
                s->blocked[a][b] = a != b && s_chance (s, 0.3);
        sim_trace (s, "partition: random one-way link losses");
    } else if (kind == 3) {
        /* bridge: two sides that only one node connects */
        int bridge = (int)s_range (s, 1, N);
        for (int a = 1; a <= N; a++)
            for (int b = 1; b <= N; b++)
                s->blocked[a][b] =
                    side[a] != side[b] && a != bridge && b != bridge;
        sim_trace (s, "partition: bridge through n%d", bridge);
    } else {
        /* the leader can send but not receive (one-way) */
        sim_node_t *l = s_pick_leader (s);
        int x = l ? (int)l->id : (int)s_range (s, 1, N);
        for (int b = 1; b <= N; b++)
            s->blocked[b][x] = b != x;
        sim_trace (s, "partition: n%d cannot receive", x);
    }
    s_push ((s_event_t){.at = s->now + s_range (s, 5, 60) * SIM_TICK_US,
                        .type = EV_HEAL_LINKS});
}

static void
s_membership (sim_t *s)
{
    sim_node_t *l = s_pick_leader (s);
    if (!l)
        return;
    s->cur_node = l->id;
    const raft_conf_t *conf = raft_conf (l->r);
    uint32_t voters = raft_conf_voters (conf);
    raft_index_t idx;
    int choice = (int)s_range (s, 0, 3);
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
            s_addr (id, addr);
            if (raft_add_learner (l->r, id, addr, &idx) == RAFT_OK) {
                s->n_conf_changes++;
                sim_trace (s, "n%llu  conf: add learner n%d at %llu",
                           (unsigned long long)l->id, id,
                           (unsigned long long)idx);
                sim_node_t *n = &s->nodes[id];
                if (!n->up)
                    s_node_boot (s, n);
            }
            return;
        }
    } else if (voters > 3 || (voters == 3 && conf->n > voters)) {
        /* Remove a random server, the leader included. */
        raft_id_t victim = conf->servers[s_range (s, 0, conf->n - 1)].id;
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

static void
s_fault (sim_t *s)
{
    int kind = (int)s_range (s, 0, 9);
    if (kind <= 2) {
        s_partition (s);
    } else if (kind <= 5) {
        sim_node_t *n = s_chance (s, 0.5) ? s_pick_leader (s) : NULL;
        if (!n)
            n = s_pick_up (s);
        if (n) {
            s_node_crash (s, n);
            s_push ((s_event_t){.at = s->now + s_range (s, 1, 40) * SIM_TICK_US,
                                .type = EV_RESTART,
                                .node = n->id});
        }
    } else if (kind <= 8) {
        s_membership (s);
    } else {
        sim_node_t *l = s_pick_leader (s);
        if (l) {
            s->cur_node = l->id;
            if (raft_transfer_leadership (l->r, 0) == RAFT_OK)
                s->n_transfers++;
        }
    }
}

/*  ---------------------------------------------------------------------
    One run                                                              */

static uint64_t s_chaos_ticks = 2000;

static void
s_setup (sim_t *s, uint64_t seed, int nodes)
{
    memset (s, 0, sizeof *s);
    s->seed = seed;
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = s_splitmix (&x);
    s->trace_hash = 1469598103934665603ULL;
    s->n_initial = nodes ? nodes : 3 + 2 * (int)(seed % 3);
    s->n_total = s->n_initial + 2;
    /* Each seed draws its own weather. */
    s->drop = s_chance (s, 0.3) ? 0.0 : (double)s_range (s, 0, 100) / 1000.0;
    s->dup = (double)s_range (s, 0, 50) / 1000.0;
    s->delay_min = s_range (s, 10, 200);
    s->delay_max = s->delay_min + s_range (s, 50, 3000);
    s->fsync_max = s_range (s, 20, 3000);
    s->fault_every = s_range (s, 5, 40) * SIM_TICK_US;
    s->client_every = s_range (s, 100, 1500);
    s->conf_churn =
        s_chance (s, 0.5) ? 0.0 : (double)s_range (s, 1, 30) / 1000.0;
    s->chaos_us = s_chaos_ticks * SIM_TICK_US;
    s->heal_us = 800 * SIM_TICK_US;
    sim_check_init (s);

    raft_conf_t conf;
    memset (&conf, 0, sizeof conf);
    for (int id = 1; id <= s->n_initial; id++) {
        conf.servers[conf.n].id = id;
        conf.servers[conf.n].voter = true;
        s_addr (id, conf.servers[conf.n].addr);
        conf.n++;
    }
    raft_entry_t boot = raft_bootstrap_entry (&conf);
    for (int id = 1; id <= s->n_total; id++) {
        sim_node_t *n = &s->nodes[id];
        n->id = id;
        if (id > s->n_initial)
            continue; /* spares start empty when they join */
        n->disk_hs.term = 1;
        s_disk_append (n, &boot);
        s_node_boot (s, n);
    }
    raft_buf_unref (boot.data);
    s_push ((s_event_t){.at = s->client_every, .type = EV_CLIENT});
    s_push ((s_event_t){.at = s->fault_every, .type = EV_FAULT});
}

static void
s_teardown (sim_t *s)
{
    s_heap_clear ();
    for (int id = 0; id <= SIM_MAX_NODES; id++)
        s_node_free (&s->nodes[id]);
    sim_check_fini (s);
}

static void
s_trace_msg (sim_t *s, const raft_msg_t *m, bool up)
{
    char what[160] = "";
    switch (m->type) {
    case RAFT_MSG_APPEND:
        snprintf (
            what, sizeof what, "prev %llu/t%llu, %zu entries, commit %llu",
            (unsigned long long)m->prev_index, (unsigned long long)m->prev_term,
            m->n_entries, (unsigned long long)m->commit);
        break;
    case RAFT_MSG_APPEND_RESP:
        snprintf (what, sizeof what, "%s index %llu hint %llu/t%llu",
                  m->reject ? "REJECT" : "ok", (unsigned long long)m->index,
                  (unsigned long long)m->hint_index,
                  (unsigned long long)m->hint_term);
        break;
    case RAFT_MSG_VOTE:
    case RAFT_MSG_PREVOTE:
        snprintf (what, sizeof what, "last %llu/t%llu%s",
                  (unsigned long long)m->prev_index,
                  (unsigned long long)m->prev_term,
                  m->transfer ? " (transfer)" : "");
        break;
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE_RESP:
        snprintf (what, sizeof what, "%s", m->reject ? "REJECT" : "granted");
        break;
    case RAFT_MSG_HEARTBEAT:
        snprintf (what, sizeof what, "commit %llu round %llu",
                  (unsigned long long)m->commit, (unsigned long long)m->ctx);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        snprintf (what, sizeof what, "round %llu", (unsigned long long)m->ctx);
        break;
    default: break;
    }
    sim_trace (s, "n%llu -> n%llu  %s t%llu  %s%s", (unsigned long long)m->from,
               (unsigned long long)m->to, raft_msg_type_name (m->type),
               (unsigned long long)m->term, what, up ? "" : "  (n is down)");
}

/* Run one event; false on a violation. */
static bool
s_step (sim_t *s, s_event_t *ev)
{
    s->now = ev->at;
    s->events++;
    s_hash_u64 (s, ev->at);
    s_hash_u64 (s, ((uint64_t)ev->type << 8) | ev->node);
    sim_node_t *n = ev->node ? &s->nodes[ev->node] : NULL;
    switch (ev->type) {
    case EV_TICK:
        if (!n->up || ev->incarnation != n->incarnation)
            break;
        s->cur_node = n->id;
        raft_tick (n->r);
        s_push ((s_event_t){.at = s->now + SIM_TICK_US,
                            .type = EV_TICK,
                            .node = n->id,
                            .incarnation = n->incarnation});
        break;
    case EV_DELIVER:
        if (s->verbose)
            s_trace_msg (s, ev->msg, n->up);
        s_hash_u64 (s, ((uint64_t)ev->msg->type << 56) ^ ev->msg->term ^
                           (ev->msg->prev_index << 20) ^ ev->msg->n_entries);
        if (n->up) {
            s->cur_node = n->id;
            raft_step (n->r, ev->msg);
        }
        s_msg_free (ev->msg);
        ev->msg = NULL;
        break;
    case EV_PERSIST:
        if (n->up && ev->incarnation == n->incarnation)
            s_persist_one (s, n);
        break;
    case EV_CLIENT:
        if (!s->clients_stopped)
            s_client_op (s);
        s_push ((s_event_t){.at = s->now + s_range (s, 1, 2 * s->client_every),
                            .type = EV_CLIENT});
        break;
    case EV_FAULT:
        if (s->now < s->chaos_us) {
            s_fault (s);
            s_push (
                (s_event_t){.at = s->now + s_range (s, 1, 2 * s->fault_every),
                            .type = EV_FAULT});
        }
        break;
    case EV_RESTART:
        if (!n->up && !s->healed)
            s_node_boot (s, n);
        break;
    case EV_HEAL_LINKS:
        if (!s->healed)
            s_heal_links (s);
        break;
    }
    for (int id = 1; id <= s->n_total; id++)
        if (s->nodes[id].up && !s_process (s, &s->nodes[id]))
            return false;
    return sim_check_state (s);
}

/* After the chaos: heal everything and show the cluster recovers. */
static void
s_heal (sim_t *s)
{
    s->healed = true;
    s->drop = 0;
    s->dup = 0;
    s_heal_links (s);
    for (int id = 1; id <= s->n_total; id++)
        if (s->nodes[id].exists && !s->nodes[id].up)
            s_node_boot (s, &s->nodes[id]);
    sim_trace (s, "HEAL: all links up, all nodes restarted");
}

/* Every up server of the leader's configuration applied all the leader has,
   and the leader committed its whole log. */
static bool
s_all_caught_up (sim_t *s, uint64_t *progress)
{
    for (int id = 1; id <= s->n_total; id++)
        *progress += s->nodes[id].sm_applied;
    sim_node_t *l = s_pick_leader (s);
    if (!l)
        return false;
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

typedef struct {
    bool ok;
    uint64_t hash;
    uint64_t virtual_us;
    uint64_t events;
} s_result_t;

static s_result_t
s_run (uint64_t seed, int nodes, bool verbose)
{
    static sim_t sim;
    sim_t *s = &sim;
    s_setup (s, seed, nodes);
    s->verbose = verbose;
    bool ok = true;
    uint64_t heal_at = s->chaos_us;
    uint64_t end_at = s->chaos_us + s->heal_us;
    uint64_t marker_op = 0;
    raft_index_t marker_index = 0;
    sim_node_t *marker_node = NULL;
    uint64_t liveness_deadline = 0;
    bool live = false, caught_up = false;
    uint64_t last_progress = 0;

    while (heap_n > 0) {
        s_event_t ev = s_pop ();
        if (!s->healed && ev.at >= heal_at) {
            s->now = heal_at;
            s_heal (s);
            liveness_deadline = s->now + 30 * 10 * SIM_TICK_US;
        }
        if (ev.at >= end_at) {
            if (ev.msg)
                s_msg_free (ev.msg);
            break;
        }
        if (!s_step (s, &ev) || s->violation[0]) {
            ok = false;
            break;
        }
        /* Liveness: after healing, a leader appears and a new write it
           proposes is acknowledged, within 30 election timeouts. */
        if (s->healed && !live) {
            if (!marker_op) {
                sim_node_t *l = s_pick_leader (s);
                raft_index_t idx;
                raft_term_t term;
                if (l) {
                    uint8_t data[16] = "liveness-marker";
                    raft_buf_t *buf = raft_buf_new (data, sizeof data);
                    s->cur_node = l->id;
                    if (raft_propose (l->r, buf, &idx, &term) == RAFT_OK) {
                        marker_op = ++s->next_op;
                        marker_index = idx;
                        marker_node = l;
                        sim_node_t *n = l;
                        if (n->n_props == n->cap_props) {
                            n->cap_props = n->cap_props ? n->cap_props * 2 : 16;
                            n->props = realloc (n->props, n->cap_props *
                                                              sizeof *n->props);
                        }
                        n->props[n->n_props++] =
                            (sim_proposal_t){idx, term, marker_op};
                    }
                    raft_buf_unref (buf);
                }
            } else if (sim_check_acked_max (s) >= marker_index) {
                /* Then clients stop, and every server of the configuration
                   must catch up with the leader on an idle cluster. */
                live = true;
                s->clients_stopped = true;
                liveness_deadline = s->now + 30 * 10 * SIM_TICK_US;
            } else if (!marker_node->up) {
                marker_op = 0;
            } else {
                raft_status_t st;
                raft_status (marker_node->r, &st);
                if (st.role != RAFT_LEADER)
                    marker_op = 0; /* lost it; propose again */
            }
            if (!live && s->now > liveness_deadline) {
                snprintf (s->violation, sizeof s->violation,
                          "Liveness: no leader acknowledged a new write "
                          "within 30 election timeouts after healing");
                ok = false;
                break;
            }
        } else if (live && !caught_up) {
            uint64_t progress = 0;
            caught_up = s_all_caught_up (s, &progress);
            if (caught_up)
                break;
            /* Catching up may take long with small batches; what must not
               happen is 30 election timeouts without progress. */
            if (progress > last_progress) {
                last_progress = progress;
                liveness_deadline = s->now + 30 * 10 * SIM_TICK_US;
                end_at = UINT64_MAX;
            }
            if (s->now > liveness_deadline) {
                snprintf (s->violation, sizeof s->violation,
                          "Liveness: on an idle cluster, servers of the "
                          "configuration did not catch up with the leader "
                          "within 30 election timeouts");
                ok = false;
                break;
            }
        }
    }
    if (ok && !caught_up) {
        snprintf (s->violation, sizeof s->violation,
                  "Liveness: run ended before a write was acknowledged "
                  "after healing");
        ok = false;
    }
    s_result_t res = {.ok = ok,
                      .hash = s->trace_hash,
                      .virtual_us = s->now,
                      .events = s->events};
    if (verbose || !ok) {
        printf (
            "seed %llu: %d nodes, %llu events, %.1f ms virtual, %llu "
            "elections, %llu writes acked, %llu reads, %llu crashes, %llu "
            "partitions, %llu conf changes, committed %llu\n",
            (unsigned long long)seed, s->n_initial,
            (unsigned long long)s->events, s->now / 1000.0,
            (unsigned long long)s->n_elections, (unsigned long long)s->n_acked,
            (unsigned long long)s->n_reads_ok, (unsigned long long)s->n_crashes,
            (unsigned long long)s->n_partitions,
            (unsigned long long)s->n_conf_changes,
            (unsigned long long)sim_check_committed (s));
    }
    if (!ok)
        printf ("VIOLATION seed %llu at %.3f ms: %s\n",
                (unsigned long long)seed, s->now / 1000.0, s->violation);
    s_teardown (s);
    return res;
}

/*  ---------------------------------------------------------------------
    Command line                                                         */

static void
s_usage (void)
{
    puts (
        "usage: sim [--seed S | --seeds N [--first S]] [--nodes 3|5|7]\n"
        "           [--ticks T]\n"
        "           [--trace] [--quiet] [--expect-violation] [--name NAME]\n"
        "  --seed S            run one seed (with --trace: readable trace)\n"
        "  --seeds N           run N seeds starting at --first (default 1)\n"
        "  --nodes K           cluster size (default: 3, 5, 7 by seed)\n"
        "  --ticks T           ticks of faults before healing (default 2000)\n"
        "  --expect-violation  planted-bug build: succeed if a seed fails\n"
        "  --name NAME         name used in replay hints (default sim)");
}

int
main (int argc, char **argv)
{
    uint64_t seed = 0, first = 1, count = 0;
    int nodes = 0;
    bool verbose = false, quiet = false, expect = false;
    const char *name = "sim";
    static const struct option opts[] = {
        {"seed", required_argument, 0, 's'},
        {"seeds", required_argument, 0, 'n'},
        {"first", required_argument, 0, 'f'},
        {"nodes", required_argument, 0, 'k'},
        {"trace", no_argument, 0, 't'},
        {"quiet", no_argument, 0, 'q'},
        {"expect-violation", no_argument, 0, 'x'},
        {"name", required_argument, 0, 'N'},
        {"ticks", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long (argc, argv, "s:n:f:k:tqxN:T:h", opts, NULL)) !=
           -1) {
        switch (c) {
        case 's': seed = strtoull (optarg, NULL, 10); break;
        case 'n': count = strtoull (optarg, NULL, 10); break;
        case 'f': first = strtoull (optarg, NULL, 10); break;
        case 'k': nodes = atoi (optarg); break;
        case 't': verbose = true; break;
        case 'q': quiet = true; break;
        case 'x': expect = true; break;
        case 'N': name = optarg; break;
        case 'T': s_chaos_ticks = strtoull (optarg, NULL, 10); break;
        case 'h': s_usage (); return 0;
        default: s_usage (); return 2;
        }
    }
    if (nodes && (nodes < 1 || nodes > SIM_MAX_NODES - 2)) {
        fprintf (stderr, "sim: --nodes must be 1..%d\n", SIM_MAX_NODES - 2);
        return 2;
    }
    if (seed) {
        s_result_t r = s_run (seed, nodes, verbose);
        printf ("seed %llu: %s, trace hash %016llx\n", (unsigned long long)seed,
                r.ok ? "ok" : "VIOLATION", (unsigned long long)r.hash);
        return r.ok ? 0 : 1;
    }
    if (!count)
        count = 100;
    struct timespec t0, t1;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    uint64_t failed = 0, vus = 0, events = 0, ran = 0;
    for (uint64_t sd = first; sd < first + count; sd++) {
        s_result_t r = s_run (sd, nodes, false);
        ran++;
        vus += r.virtual_us;
        events += r.events;
        if (!r.ok) {
            failed++;
            if (strcmp (name, "sim") == 0)
                printf ("replay: make sim SEED=%llu\n", (unsigned long long)sd);
            else
                printf ("replay: build/%s --seed %llu --trace\n", name,
                        (unsigned long long)sd);
            if (expect) {
                printf ("%s: caught after %llu seeds (seed %llu)\n", name,
                        (unsigned long long)ran, (unsigned long long)sd);
                return 0;
            }
        }
    }
    clock_gettime (CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (!quiet || failed || expect)
        printf ("%s: %llu seeds (%llu..%llu), %llu violations, %.1f s virtual "
                "(%.0f election timeouts), %llu events, %.2f s wall, %.1f "
                "seeds/s\n",
                name, (unsigned long long)ran, (unsigned long long)first,
                (unsigned long long)(first + count - 1),
                (unsigned long long)failed, (double)vus / 1e6,
                (double)vus / (10.0 * SIM_TICK_US), (unsigned long long)events,
                secs, (double)ran / secs);
    if (expect) {
        printf ("%s: NOT caught in %llu seeds\n", name,
                (unsigned long long)ran);
        return 1;
    }
    return failed ? 1 : 0;
}
