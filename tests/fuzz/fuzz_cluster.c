/*  fuzz_cluster.c -- three consensus cores wired together in one process,
    the fuzzer's bytes choosing what happens next.

    The world is the simulator's (tests/sim/world.c): each server a raft_t
    driven through raft.h alone, with a simulated disk (a crash loses what
    was not reported durable), a state machine, log compaction and chunked
    InstallSnapshot; tests/sim/check.c checks Raft's safety properties
    (Election Safety, Log Matching, Leader Completeness, State Machine
    Safety, durable commit, commit safety, linearizable reads) after every
    step. Here there is no clock and no random weather: the first byte of
    the input seeds the cores' randomness and picks their batch sizes, and
    every later byte chooses what happens next:

      deliver the oldest queued message, or any one (reordering); drop one;
      duplicate one; tick a server 1-16 times; run the cluster normally
      for 1-16 rounds (complete writes, deliver everything, tick everyone);
      complete a server's oldest write (raft_persisted); crash a server
      and restart it from its disk; cut a server's links (both ways or
      towards it) and heal them; propose a write, start a ReadIndex read,
      compact a log, transfer leadership, add a server as a learner,
      promote it, remove one (the leader too); forge a message.

    A forged message (tests/fuzz/forge.c) has any type, any sender and
    receiver, terms and indexes near the receiver's own or at the edges (0,
    2^61, 2^61 + 1, 2^62, 2^62 + 1, 2^63, UINT64_MAX, any 64 bits), entries
    of any type (configurations too), snapshot chunks; it goes through
    msg_raft_encode and msg_raft_decode first, so the cores see exactly what
    the wire can carry (the node drops what does not decode).

    Threat model. Peer links are not authenticated (README, "Known
    limits"), so what must hold depends on who a forged message claims to
    be from and what it claims:

      A  From a stranger (an id in no configuration), a message that does
         not claim leadership: RequestVote, pre-vote, TimeoutNow, any
         response; or one that does, refused as stale. Anyone who reaches a
         peer port can send these. Safety must hold (every check after
         every step), and the cluster must recover by itself.
      B  From a member: forged votes and grants, acknowledgements,
         heartbeat answers, TimeoutNow. These break safety legitimately (a
         forged grant elects a second leader in a term, a forged ack
         commits what no majority holds), so check.c is switched off
         (sim_t.unchecked). What must hold: no crash, and no lasting
         damage: once the faults stop and every server restarts (which
         clears what a forged message did to memory, as an operator's
         restart would), a leader is elected and commits a new entry. The
         2^62 term wedge (planted bug term_wedge, `make fuzz-teeth`) was
         such lasting damage.
      C  An AppendEntries, heartbeat or snapshot chunk the receiver takes,
         from anyone: the receiver now follows the sender as the leader of
         that term (a server being added must follow a leader it does not
         know yet, so the core cannot refuse strangers). A forged leader
         can make a server commit anything, a configuration of servers
         that do not exist included, so only the absence of crashes,
         asserts and sanitizer reports is checked.

    At the end of every input the faults stop: links heal, every server
    restarts if down, and the cluster runs normally (writes complete, every
    message is delivered, everyone ticks) until a leader commits a new
    entry and (A) every server of its configuration has caught up, for at
    most S_HEAL_ROUNDS rounds in which no server makes more entries durable
    or applied (B: then every server restarts and gets as long again).
    Failing that is a WEDGE, reported like a crash.

    FUZZ_TRACE=1 build/fuzz/fuzz_cluster INPUT replays one input with the
    simulator's readable trace.
*/
#include "cluster.h"
#include "fuzz.h"

#define S_MAX_ACTIONS 1000 /* per input */
#define S_MAX_ROUNDS 2000  /* of normal running per input, before healing */
#define S_HEAL_ROUNDS 400  /* 40 election timeouts without progress */
#define S_HEAL_CAP 4000    /* rounds, however much progress */

void
fc_fail_state (const char *what)
{
    char line[1024] = "";
    size_t len = 0;
    for (int id = 1; id <= FC_NODES; id++) {
        sim_node_t *n = &fc_sim.nodes[id];
        raft_status_t st = {0};
        if (n->up)
            raft_status (n->r, &st);
        len += (size_t)snprintf (
            line + len, sizeof line - len,
            "\n    n%d %s: term %llu, %s, commit %llu, last %llu/t%llu", id,
            n->up ? "up" : "down", (unsigned long long)st.term,
            raft_role_name (st.role), (unsigned long long)st.commit,
            (unsigned long long)st.last_index,
            (unsigned long long)st.last_term);
        if (len >= sizeof line)
            break;
    }
    fuzz_fail (__FILE__, __LINE__, "%s (threat level %c)%s", what,
               "ABC"[fc_level], line);
}

/*  ---------------------------------------------------------------------
    One input                                                            */

static void
s_setup (uint8_t seed)
{
    sim_t *s = &fc_sim;
    memset (s, 0, sizeof *s);
    s->seed = seed; /* picks batch sizes and pipelining (world.c) */
    sim_seed (s, seed + 1);
    s->n_initial = s->n_total = FC_NODES;
    s->fsync_max = 1; /* a write is durable from the next action on */
    s->verbose = getenv ("FUZZ_TRACE") != NULL; /* world.c's readable trace */
    sim_check_init (s);
    fc_qn = 0;
    fc_level = FC_CHECKED;
    fc_rounds = 0;
    fc_ops = 0;
    raft_conf_t conf;
    memset (&conf, 0, sizeof conf);
    for (int id = 1; id <= FC_NODES; id++) {
        conf.servers[conf.n].id = (raft_id_t)id;
        conf.servers[conf.n].voter = true;
        sim_addr ((raft_id_t)id, conf.servers[conf.n].addr);
        conf.n++;
    }
    raft_entry_t boot = raft_bootstrap_entry (&conf);
    for (int id = 1; id <= FC_NODES; id++) {
        sim_node_t *n = &s->nodes[id];
        n->id = (raft_id_t)id;
        n->disk_hs.term = 1;
        sim_disk_append (n, &boot);
        sim_node_boot (s, n);
    }
    raft_buf_unref (boot.data);
}

static void
s_teardown (void)
{
    for (size_t i = 0; i < fc_qn; i++)
        sim_msg_free (fc_queue[i]);
    fc_qn = 0;
    for (int id = 0; id <= SIM_MAX_NODES; id++)
        sim_node_free (&fc_sim.nodes[id]);
    sim_check_fini (&fc_sim);
}

static void
s_action (forge_in_t *in)
{
    uint8_t op = forge_u8 (in);
    fc_sim.now++;
    switch (op % 20) {
    case 0:
    case 1:
        if (fc_qn)
            fc_deliver (0);
        break;
    case 2:
    case 3:
    case 4: {
        size_t i = forge_u8 (in);
        if (!fc_qn)
            break;
        i %= fc_qn;
        if (op % 20 == 2) {
            fc_deliver (i);
        } else if (op % 20 == 3) {
            sim_msg_free (fc_queue[i]);
            memmove (fc_queue + i, fc_queue + i + 1,
                     (fc_qn - i - 1) * sizeof *fc_queue);
            fc_qn--;
        } else if (fc_qn < FC_QUEUE_MAX) {
            fc_queue[fc_qn++] = sim_msg_copy (fc_queue[i]);
        }
        break;
    }
    case 5: {
        sim_node_t *n = fc_node (in);
        for (int k = 1 + forge_u8 (in) % 16; k > 0; k--)
            fc_tick (n);
        break;
    }
    case 6:
        for (int k = 1 + forge_u8 (in) % 16; k > 0 && fc_rounds < S_MAX_ROUNDS;
             k--, fc_rounds++)
            fc_round ();
        break;
    case 7: {
        sim_node_t *n = fc_node (in);
        if (n->up)
            sim_persist_one (&fc_sim, n);
        fc_settle ();
        break;
    }
    case 8: {
        sim_node_t *n = fc_node (in);
        if (n->up)
            sim_node_crash (&fc_sim, n);
        break;
    }
    case 9: {
        sim_node_t *n = fc_node (in);
        if (!n->up)
            sim_node_boot (&fc_sim, n);
        fc_settle ();
        break;
    }
    case 10: {
        uint8_t b = forge_u8 (in);
        sim_node_t *n =
            b & 1 ? &fc_sim.nodes[1 + b / 2 % FC_NODES] : fc_leader ();
        raft_index_t index;
        raft_term_t term;
        if (n && n->up)
            fc_propose (n, &index, &term);
        break;
    }
    case 11: {
        sim_node_t *n = fc_node (in);
        if (n->up)
            fc_read (n);
        break;
    }
    case 12:
        sim_compact (&fc_sim, fc_node (in));
        fc_settle ();
        break;
    case 13: {
        sim_node_t *l = fc_leader ();
        raft_id_t target = forge_u8 (in) % (FC_NODES + 1);
        if (l) {
            fc_sim.cur_node = l->id;
            raft_transfer_leadership (l->r, target);
            fc_settle ();
        }
        break;
    }
    case 14: fc_partition (forge_u8 (in)); break;
    case 15: memset (fc_sim.blocked, 0, sizeof fc_sim.blocked); break;
    case 16: fc_membership (forge_u8 (in)); break;
    default: fc_forge (in); break;
    }
}

/* What the servers have made durable and applied: while it grows, the
   cluster is catching up with a backlog, not wedged. */
static uint64_t
s_progress (void)
{
    uint64_t sum = 0;
    for (int id = 1; id <= FC_NODES; id++) {
        sim_node_t *n = &fc_sim.nodes[id];
        raft_status_t st;
        if (!n->up)
            continue;
        raft_status (n->r, &st);
        sum += st.persisted + n->sm_applied;
    }
    return sum;
}

/* Every server of the leader's configuration is up and has applied all
   the leader has, which committed its whole log. */
static bool
s_caught_up (void)
{
    sim_node_t *l = fc_leader ();
    return l && sim_caught_up (&fc_sim, l);
}

/* Run the cluster normally until a leader has committed (and applied) a
   new entry it proposed, and then, with catch_up, until every server of
   its configuration has applied everything (the simulator's two liveness
   checks): true; false after `rounds` rounds without progress (a long
   uncommitted backlog with small batches takes a while), S_HEAL_CAP
   rounds at most. */
static bool
s_live (unsigned rounds, bool catch_up)
{
    bool committed = false;
    sim_node_t *marker = NULL;
    raft_index_t index = 0;
    raft_term_t term = 0;
    uint64_t progress = s_progress ();
    for (unsigned r = 0, idle = 0; idle < rounds && r < S_HEAL_CAP;
         r++, idle++) {
        fc_round ();
        uint64_t now = s_progress ();
        if (now > progress) {
            progress = now;
            idle = 0;
        }
        if (committed) {
            if (s_caught_up ())
                return true;
            continue;
        }
        if (marker) {
            raft_status_t st;
            if (marker->up && marker->sm_applied >= index &&
                raft_log_term (marker->r, index) == term) {
                committed = true;
                if (!catch_up)
                    return true;
                continue;
            }
            if (marker->up)
                raft_status (marker->r, &st);
            if (!marker->up || st.role != RAFT_LEADER || st.term != term)
                marker = NULL; /* lost it: propose again */
        }
        sim_node_t *l = marker ? NULL : fc_leader ();
        if (l && fc_propose (l, &index, &term))
            marker = l;
    }
    return false;
}

static void
s_heal (void)
{
    memset (fc_sim.blocked, 0, sizeof fc_sim.blocked);
    for (int id = 1; id <= FC_NODES; id++)
        if (!fc_sim.nodes[id].up)
            sim_node_boot (&fc_sim, &fc_sim.nodes[id]);
    fc_settle ();
    if (fc_level == FC_FORGED_LEADER) {
        s_live (S_HEAL_ROUNDS / 4, false); /* exercise recovery only */
        return;
    }
    if (s_live (S_HEAL_ROUNDS, fc_level == FC_CHECKED))
        return;
    if (fc_level == FC_CHECKED)
        fc_fail_state ("WEDGE: after the faults stopped, no leader committed "
                       "a new entry or the servers of its configuration did "
                       "not catch up (40 election timeouts without "
                       "progress)");
    for (int id = 1; id <= FC_NODES; id++) {
        sim_node_crash (&fc_sim, &fc_sim.nodes[id]);
        sim_node_boot (&fc_sim, &fc_sim.nodes[id]);
    }
    fc_settle ();
    if (!s_live (S_HEAL_ROUNDS, false))
        fc_fail_state ("WEDGE: no leader committed a new entry after the "
                       "faults stopped and every server restarted (40 "
                       "election timeouts without progress)");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    forge_in_t in = {data, size, 1};
    s_setup (data[0]);
    for (int k = 0; k < S_MAX_ACTIONS && in.pos < in.n; k++)
        s_action (&in);
    s_heal ();
    s_teardown ();
    return 0;
}

/*  ---------------------------------------------------------------------
    Seeds: a few runs of the kinds the actions make                     */

void
fuzz_seeds (void)
{
    /* byte 0 seeds the run; then actions (s_action, op % 20): 6 n = n + 1
       rounds, 10 0 = write at the leader, 8 k / 9 k = crash / restart
       n(k+1), 12 k = compact, 5 k n = tick, 2 i / 3 i / 4 i = deliver /
       drop / duplicate, 7 k = persist, 11 k = read, 13 t = transfer, 14 b
       / 15 = cut links / heal, 16 b = membership change, 17 = forge: who
       (odd: a stranger), receiver, type (1 + t % 11), flags (2:
       transfer), then term, prev_index, prev_term, commit, index picks
       (s_pick: 0 near the receiver's, 7 = 2^61, 9 = 2^62), ctx. */
    static const uint8_t seeds[][32] = {
        /* an election and a commit */
        {0, 6, 15, 10, 0, 6, 15},
        /* crash a server, write, restart it, catch up */
        {1, 6, 15, 8, 1, 10, 0, 6, 8, 9, 1, 6, 15},
        /* writes, compaction everywhere, a crashed server catches up by
           InstallSnapshot */
        {2, 6, 15, 10, 0, 10, 0, 6, 4, 8, 2, 10,
         0, 6, 4,  12, 0, 12, 1, 9, 2, 6, 15},
        /* a stranger's RequestVote (transfer flag) at term 2^61 */
        {3, 6, 15, 17, 1, 0, 2, 2, 7, 0, 0, 0, 0, 0, 6, 15},
        /* n1 acknowledges, forged, the leader n2's whole log */
        {4, 6, 15, 17, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 6, 15},
        /* reorder, drop, duplicate, tick alone, persist, read, transfer */
        {5, 5, 0, 15, 2, 3, 3, 1, 4, 0, 7, 1, 6, 9, 11, 0, 13, 2, 6, 15},
        /* the leader (n1) cut off, a new one elected, writes there, a
           read at the old one */
        {6, 6, 15, 6, 15, 14, 0, 6, 15, 6, 10, 10, 0, 11, 0, 6, 3, 15, 6, 15},
        /* remove n3 (the leader), write, add it back as a learner,
           promote it */
        {7, 6, 15, 6, 15, 16, 8, 6, 15, 10, 0, 16, 9, 6, 15, 16, 10, 6, 15},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        size_t len = sizeof seeds[i];
        while (len > 1 && seeds[i][len - 1] == 0)
            len--;
        fuzz_seed (seeds[i], len);
    }
}
