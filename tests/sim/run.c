/*  run.c -- one seed's run: the event queue, the set-up of a cluster, each
    event stepped and checked, the chaos period and then the heal, until
    every server has caught up. See sim.h.
*/
#include "sim.h"
#include "sim_kv.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/*  ---------------------------------------------------------------------
    The event queue: a binary heap ordered by (time, insertion seq)      */

static sim_event_t *heap;
static size_t heap_n, heap_cap;
static uint64_t heap_seq;

static bool
s_before (const sim_event_t *a, const sim_event_t *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

void
sim_push (sim_event_t ev)
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
        sim_event_t t = heap[i];
        heap[i] = heap[(i - 1) / 2];
        heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static sim_event_t
s_pop (void)
{
    sim_event_t top = heap[0];
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
        sim_event_t t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
    return top;
}

static void
s_heap_clear (void)
{
    for (size_t i = 0; i < heap_n; i++)
        if (heap[i].msg)
            sim_msg_free (heap[i].msg);
    heap_n = 0;
    heap_seq = 0;
}

/*  ---------------------------------------------------------------------
    One run                                                              */

uint64_t sim_chaos_ticks = 2000;

static void
s_setup (sim_t *s, uint64_t seed, int nodes)
{
    memset (s, 0, sizeof *s);
    s->seed = seed;
    sim_seed (s, seed);
    s->trace_hash = 1469598103934665603ULL;
    s->n_initial = nodes ? nodes : 3 + 2 * (int)(seed % 3);
    s->n_total = s->n_initial + 2;
    /* Each seed draws its own weather. */
    s->drop =
        sim_chance (s, 0.3) ? 0.0 : (double)sim_range (s, 0, 100) / 1000.0;
    s->dup = (double)sim_range (s, 0, 50) / 1000.0;
    s->delay_min = sim_range (s, 10, 200);
    s->delay_max = s->delay_min + sim_range (s, 50, 3000);
    s->fsync_max = sim_range (s, 20, 3000);
    s->fault_every = sim_range (s, 5, 40) * SIM_TICK_US;
    s->client_every = sim_range (s, 100, 1500);
    s->conf_churn =
        sim_chance (s, 0.5) ? 0.0 : (double)sim_range (s, 1, 30) / 1000.0;
    s->chaos_us = sim_chaos_ticks * SIM_TICK_US;
    s->heal_us = 800 * SIM_TICK_US;
    sim_check_init (s);

    raft_conf_t conf;
    memset (&conf, 0, sizeof conf);
    for (int id = 1; id <= s->n_initial; id++) {
        conf.servers[conf.n].id = id;
        conf.servers[conf.n].voter = true;
        sim_addr (id, conf.servers[conf.n].addr);
        conf.n++;
    }
    raft_entry_t boot = raft_bootstrap_entry (&conf);
    for (int id = 1; id <= s->n_total; id++) {
        sim_node_t *n = &s->nodes[id];
        n->id = id;
        if (id > s->n_initial)
            continue; /* spares start empty when they join */
        n->disk_hs.term = 1;
        sim_disk_append (n, &boot);
        sim_node_boot (s, n);
    }
    raft_buf_unref (boot.data);
    sim_push ((sim_event_t){.at = s->client_every, .type = EV_CLIENT});
    sim_push ((sim_event_t){.at = s->fault_every, .type = EV_FAULT});
}

static void
s_teardown (sim_t *s)
{
    s_heap_clear ();
    for (int id = 0; id <= SIM_MAX_NODES; id++)
        sim_node_free (&s->nodes[id]);
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
s_step (sim_t *s, sim_event_t *ev)
{
    s->now = ev->at;
    s->events++;
    sim_hash_u64 (s, ev->at);
    sim_hash_u64 (s, ((uint64_t)ev->type << 8) | ev->node);
    sim_node_t *n = ev->node ? &s->nodes[ev->node] : NULL;
    switch (ev->type) {
    case EV_TICK:
        if (!n->up || ev->incarnation != n->incarnation)
            break;
        s->cur_node = n->id;
        raft_tick (n->r);
        sim_kv_lease_tick (s, n); /* its lessor (sim_kv_lease.c) */
        sim_push ((sim_event_t){.at = s->now + SIM_TICK_US,
                                .type = EV_TICK,
                                .node = n->id,
                                .incarnation = n->incarnation});
        break;
    case EV_DELIVER:
        if (s->verbose)
            s_trace_msg (s, ev->msg, n->up);
        sim_hash_u64 (s, ((uint64_t)ev->msg->type << 56) ^ ev->msg->term ^
                             (ev->msg->prev_index << 20) ^ ev->msg->n_entries);
        if (n->up) {
            s->cur_node = n->id;
            raft_step (n->r, ev->msg);
        }
        sim_msg_free (ev->msg);
        ev->msg = NULL;
        break;
    case EV_PERSIST:
        if (n->up && ev->incarnation == n->incarnation)
            sim_persist_one (s, n);
        break;
    case EV_CLIENT:
        if (!s->clients_stopped) {
            sim_client_op (s);
            sim_kv_lease_clients (s); /* keep-alives due */
        }
        sim_push (
            (sim_event_t){.at = s->now + sim_range (s, 1, 2 * s->client_every),
                          .type = EV_CLIENT});
        break;
    case EV_FAULT:
        if (s->now < s->chaos_us) {
            sim_fault (s);
            sim_push ((sim_event_t){.at = s->now +
                                          sim_range (s, 1, 2 * s->fault_every),
                                    .type = EV_FAULT});
        }
        break;
    case EV_RESTART:
        if (!n->up && !s->healed)
            sim_node_boot (s, n);
        break;
    case EV_HEAL_LINKS:
        if (!s->healed)
            sim_heal_links (s);
        break;
    }
    for (int id = 1; id <= s->n_total; id++)
        if (s->nodes[id].up && !sim_process (s, &s->nodes[id]))
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
    sim_heal_links (s);
    for (int id = 1; id <= s->n_total; id++)
        if (s->nodes[id].exists && !s->nodes[id].up)
            sim_node_boot (s, &s->nodes[id]);
    sim_trace (s, "HEAL: all links up, all nodes restarted");
}

/* Every up server of the leader's configuration applied all the leader has,
   and the leader committed its whole log. */
static bool
s_all_caught_up (sim_t *s, uint64_t *progress)
{
    for (int id = 1; id <= s->n_total; id++)
        *progress += s->nodes[id].sm_applied;
    sim_node_t *l = sim_pick_leader (s);
    return l && sim_caught_up (s, l);
}

sim_result_t
sim_run (uint64_t seed, int nodes, bool verbose)
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
    bool live = false, caught_up = false, leases_left = false;
    uint64_t last_progress = 0;
    uint64_t liveness_cap = 0;

    while (heap_n > 0) {
        sim_event_t ev = s_pop ();
        if (!s->healed && ev.at >= heal_at) {
            s->now = heal_at;
            s_heal (s);
            liveness_deadline = s->now + 30 * 10 * SIM_TICK_US;
            /* however much backlog the faults left, at most this long */
            liveness_cap = s->now + 300 * 10 * SIM_TICK_US;
        }
        if (ev.at >= end_at) {
            if (ev.msg)
                sim_msg_free (ev.msg);
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
                sim_node_t *l = sim_pick_leader (s);
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
                last_progress = 0;
                liveness_deadline = s->now + 30 * 10 * SIM_TICK_US;
            } else if (!marker_node->up) {
                marker_op = 0;
            } else {
                raft_status_t st;
                raft_status (marker_node->r, &st);
                if (st.role != RAFT_LEADER)
                    marker_op = 0; /* lost it; propose again */
            }
            /* The faults may leave a long uncommitted tail that a majority
               must replicate first (with small batches it takes a while):
               what must not happen is 30 election timeouts in which no
               server makes anything more durable. */
            uint64_t durable = 0;
            for (int id = 1; id <= s->n_total; id++)
                if (s->nodes[id].up) {
                    raft_status_t nst;
                    raft_status (s->nodes[id].r, &nst);
                    durable += nst.persisted;
                }
            if (!live && durable > last_progress &&
                s->now + 30 * 10 * SIM_TICK_US <= liveness_cap) {
                last_progress = durable;
                liveness_deadline = s->now + 30 * 10 * SIM_TICK_US;
                if (end_at < liveness_deadline)
                    end_at = liveness_deadline;
            }
            if (!live && s->now > liveness_deadline) {
                snprintf (s->violation, sizeof s->violation,
                          "Liveness: no leader acknowledged a new write "
                          "within 30 election timeouts of no progress after "
                          "healing");
                ok = false;
                break;
            }
        } else if (live && !caught_up) {
            uint64_t progress = 0;
            caught_up = s_all_caught_up (s, &progress);
            /* (d) leases nobody keeps alive any more are revoked first
               (sim_kv.h) */
            leases_left = caught_up && !sim_kv_leases_idle (s);
            if (leases_left)
                caught_up = false;
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
                          leases_left
                              ? "Liveness: on an idle cluster, leases "
                                "nobody keeps alive were not revoked "
                                "within 30 election timeouts"
                              : "Liveness: on an idle cluster, servers of "
                                "the configuration did not catch up with "
                                "the leader within 30 election timeouts");
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
    sim_result_t res = {.ok = ok,
                        .hash = s->trace_hash,
                        .virtual_us = s->now,
                        .events = s->events};
    if (verbose || !ok) {
        printf (
            "seed %llu: %d nodes, %llu events, %.1f ms virtual, %llu "
            "elections, %llu writes acked, %llu reads (%llu on followers), "
            "%llu "
            "crashes, %llu "
            "partitions, %llu conf changes, %llu compactions, %llu "
            "snapshot chunks, %llu installs, committed %llu; sessions: "
            "%llu writes, %llu duplicates (%llu in a later term, %llu "
            "after a restart or install), %llu expired refusals\n",
            (unsigned long long)seed, s->n_initial,
            (unsigned long long)s->events, s->now / 1000.0,
            (unsigned long long)s->n_elections, (unsigned long long)s->n_acked,
            (unsigned long long)s->n_reads_ok,
            (unsigned long long)s->n_follower_reads_ok,
            (unsigned long long)s->n_crashes,
            (unsigned long long)s->n_partitions,
            (unsigned long long)s->n_conf_changes,
            (unsigned long long)s->n_compactions,
            (unsigned long long)s->n_chunks, (unsigned long long)s->n_installs,
            (unsigned long long)sim_check_committed (s),
            (unsigned long long)s->n_sess_writes,
            (unsigned long long)s->n_sess_dups,
            (unsigned long long)s->n_sess_dups_term,
            (unsigned long long)s->n_sess_dups_codec,
            (unsigned long long)s->n_sess_expired);
    }
    if (verbose || !ok) {
        uint64_t l[4];
        sim_kv_lease_stats (s, l);
        printf ("seed %llu: leases: %llu granted, %llu keep-alives "
                "acknowledged, %llu expired, %llu keys revoked\n",
                (unsigned long long)seed, (unsigned long long)l[0],
                (unsigned long long)l[1], (unsigned long long)l[2],
                (unsigned long long)l[3]);
    }
    if (!ok)
        printf ("VIOLATION seed %llu at %.3f ms: %s\n",
                (unsigned long long)seed, s->now / 1000.0, s->violation);
    s_teardown (s);
    return res;
}
