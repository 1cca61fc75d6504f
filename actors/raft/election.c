/*  election.c -- timeouts, pre-vote, RequestVote, role changes (§3.4, §9.6).
*/
#include "raft_int.h"

#include <assert.h>
#include <string.h>

/* §3.4: "election timeouts are chosen randomly from a fixed interval";
   here [election_ticks, 2 * election_ticks). */
void
raft_reset_timeout (raft_t *r)
{
    r->election_elapsed = 0;
    r->randomized_timeout =
        r->opts.election_ticks +
        (uint32_t)(r->opts.rand (r->opts.rand_ctx) % r->opts.election_ticks);
}

static void
s_set_role (raft_t *r, raft_role_t role, raft_id_t leader)
{
    bool changed = r->role != role || r->leader != leader;
    if (r->role == RAFT_LEADER && role != RAFT_LEADER) {
        /* Pending reads cannot be confirmed by a former leader (§6.4). */
        raft_read_fail_all (r);
        raft_progress_free_all (r);
        if (r->transfer_target)
            raft_emit (r, RAFT_EV_TRANSFER, r->transfer_target, 0);
        r->transfer_target = 0;
        r->need_flush = false;
    } else if (r->role != RAFT_LEADER && changed) {
        /* A read sent to the leader we had is answered by it alone. */
        raft_read_fail_forwarded (r);
    }
    r->role = role;
    r->leader = leader;
    if (changed)
        raft_emit (r, RAFT_EV_ROLE, role, leader);
}

void
raft_become_follower (raft_t *r, raft_term_t term, raft_id_t leader)
{
    if (term > r->term) {
        if (r->role != RAFT_LEADER)
            raft_read_fail_forwarded (r); /* asked in an older term */
        raft_set_hard_state (r, term, 0);
    }
    s_set_role (r, RAFT_FOLLOWER, leader);
    raft_reset_timeout (r);
}

void
raft_become_leader (raft_t *r)
{
    assert (r->role == RAFT_CANDIDATE);
    s_set_role (r, RAFT_LEADER, r->id);
    r->election_elapsed = 0;
    r->heartbeat_elapsed = 0;
    raft_progress_reset_all (r);
    /* §6.4 and §3.6.2: a new leader commits a blank no-op entry at the start
       of its term; it learns its commit index that way and can serve reads. */
    raft_entry_t noop = {.term = r->term,
                         .index = raft_log_last_index (&r->log) + 1,
                         .type = RAFT_ENTRY_NOOP};
    raft_append_local (r, &noop);
    raft_emit (r, RAFT_EV_APPEND, noop.index, noop.index);
    r->need_flush = true;
    /* A lone voter is its own majority. */
    raft_maybe_commit (r);
}

static void
s_record_vote (raft_t *r, raft_id_t id, bool granted)
{
    for (size_t i = 0; i < r->votes.n; i++)
        if (r->votes.v[i].id == id)
            return; /* first answer counts; duplicates are ignored */
    struct raft_vote v = {.id = id, .granted = granted};
    RAFT_VEC_PUSH (r->votes, v);
}

static void
s_tally (const raft_t *r, uint32_t *granted, uint32_t *rejected)
{
    *granted = *rejected = 0;
    for (size_t i = 0; i < r->votes.n; i++) {
        if (!raft_is_voter (r, r->votes.v[i].id))
            continue;
        if (r->votes.v[i].granted)
            (*granted)++;
        else
            (*rejected)++;
    }
}

/* Decide an election once a quorum answered one way. */
static void
s_poll (raft_t *r)
{
    uint32_t granted, rejected;
    s_tally (r, &granted, &rejected);
    bool pre = r->role == RAFT_PRECANDIDATE;
    if (granted >= raft_quorum (r)) {
        raft_emit (r, RAFT_EV_ELECTION_WON, pre, granted);
        if (pre)
            raft_campaign (r, false, false);
        else
            raft_become_leader (r);
    } else if (rejected >= raft_quorum (r)) {
        raft_emit (r, RAFT_EV_ELECTION_LOST, pre, rejected);
        raft_become_follower (r, r->term, 0);
    }
}

void
raft_campaign (raft_t *r, bool pre_vote, bool transfer)
{
    raft_term_t term;
    if (r->term >= RAFT_TERM_MAX) {
        /* No term left to campaign in (see RAFT_TERM_MAX): stay a
           follower; a server with a lower term may still win. */
        raft_reset_timeout (r);
        return;
    }
    r->votes.n = 0;
    if (pre_vote) {
        /* §9.6: ask first whether we could win, without raising our term,
           so that a server that cannot win cannot disrupt the cluster. */
        s_set_role (r, RAFT_PRECANDIDATE, 0);
        term = r->term + 1;
    } else {
        /* Figure 3.1, Candidates: increment currentTerm, vote for self. */
        raft_set_hard_state (r, r->term + 1, r->id);
        s_set_role (r, RAFT_CANDIDATE, 0);
        term = r->term;
    }
    raft_reset_timeout (r);
    raft_emit (r, RAFT_EV_ELECTION_START, pre_vote, 0);
    s_record_vote (r, r->id, true);
    for (uint32_t i = 0; i < r->conf.n; i++) {
        const raft_server_t *s = &r->conf.servers[i];
        if (s->id == r->id || !s->voter)
            continue;
        raft_msg_t m = {.type = pre_vote ? RAFT_MSG_PREVOTE : RAFT_MSG_VOTE,
                        .to = s->id,
                        .term = term,
                        .prev_index = raft_log_last_index (&r->log),
                        .prev_term = raft_log_last_term (&r->log),
                        .transfer = transfer};
        raft_send (r, &m, 0);
    }
    s_poll (r);
}

/* §3.6.1: "If the logs have last entries with different terms, then the log
   with the later term is more up-to-date. If the logs end with the same
   term, then whichever log is longer is more up-to-date." */
static bool
s_log_up_to_date (const raft_t *r, raft_index_t last_index,
                  raft_term_t last_term)
{
#if RAFT_BUG(VOTE_NO_LOG_CHECK)
    (void)r, (void)last_index, (void)last_term;
    return true;
#else
    raft_term_t my_term = raft_log_last_term (&r->log);
    return last_term > my_term || (last_term == my_term &&
                                   last_index >= raft_log_last_index (&r->log));
#endif
}

void
raft_recv_vote (raft_t *r, const raft_msg_t *m)
{
    bool pre = m->type == RAFT_MSG_PREVOTE;
    /* Figure 3.1, RequestVote: grant if votedFor is null or candidateId and
       the candidate's log is at least as up-to-date. A follower that knows
       a leader in this term has not voted and will not. A pre-vote for a
       future term is hypothetical and binds nothing (§9.6). */
    bool can_vote = r->vote == m->from || (r->vote == 0 && r->leader == 0) ||
                    (pre && m->term > r->term);
    /* Not itself (raft.h, self_check): a wiped server must not vote as its
       old self, whose votedFor and acknowledged entries it has lost. */
    if (!raft_is_self (r))
        can_vote = false;
    raft_msg_t resp = {.type = pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP,
                       .to = m->from};
    if (can_vote && s_log_up_to_date (r, m->prev_index, m->prev_term)) {
        resp.term = m->term;
        resp.reject = false;
        if (!pre) {
            raft_set_hard_state (r, r->term, m->from);
            r->election_elapsed = 0;
        }
    } else {
        resp.term = r->term;
        resp.reject = true;
    }
    raft_send (r, &resp, 0);
}

void
raft_recv_vote_resp (raft_t *r, const raft_msg_t *m)
{
    if (m->type == RAFT_MSG_PREVOTE_RESP) {
        /* A granted pre-vote carries our future term; a rejection at a
           higher term made us a follower already (raft_step). */
        if (r->role != RAFT_PRECANDIDATE ||
            (!m->reject && m->term != r->term + 1))
            return;
    } else if (r->role != RAFT_CANDIDATE) {
        return;
    }
    s_record_vote (r, m->from, !m->reject);
    s_poll (r);
}

void
raft_recv_timeout_now (raft_t *r, const raft_msg_t *m)
{
    (void)m;
    /* §3.10: the target of a leadership transfer starts an election at once,
       skipping pre-vote; its requests carry the transfer flag so voters do
       not refuse them for having a leader. */
    if (r->role == RAFT_LEADER || !raft_is_voter (r, r->id) ||
        !raft_is_self (r))
        return;
    raft_campaign (r, false, true);
}

/* Only voters stand (§4.2.1: learners do not), and a server removed from
   the configuration does not disrupt the cluster by standing (§4.2.3).
   But a server removed by a configuration entry that is not committed
   yet, and a voter of the configuration before it, may stand: it is what
   §4.2.2's removed leader is, and without it a leader of two voters that
   removed itself, whose entry the other lost in a crash, waits for the
   other's vote for ever while refusing its own (its log is longer; found
   by tests/fuzz/fuzz_cluster.c). It counts votes in the new configuration
   (raft_campaign, s_tally) and, leader, steps down once its removal
   commits (raft_conf_on_commit). */
static bool
s_may_stand (const raft_t *r)
{
    if (!raft_is_self (r))
        return false; /* an earlier incarnation's place (raft.h) */
    if (raft_is_voter (r, r->id))
        return true;
    if (r->conf_index == 0 || r->conf_index <= r->commit)
        return false;
    const raft_conf_t *prev = &r->base_conf;
    for (raft_index_t i = r->conf_index - 1; i > r->log.base_index; i--) {
        const raft_entry_t *e = raft_log_entry (&r->log, i);
        if (e->type == RAFT_ENTRY_CONF) {
            prev = raft_entry_conf (e);
            break;
        }
    }
    const raft_server_t *s = prev ? raft_conf_get (prev, r->id) : NULL;
    return s && s->voter;
}

void
raft_tick_election (raft_t *r)
{
    r->election_elapsed++;
    /* Figure 3.1, Followers: "If election timeout elapses without receiving
       AppendEntries RPC from current leader or granting vote to candidate:
       convert to candidate". */
    if (r->election_elapsed >= r->randomized_timeout) {
        if (s_may_stand (r))
            raft_campaign (r, r->opts.pre_vote, false);
        else
            raft_reset_timeout (r);
    }
}

void
raft_tick_leader (raft_t *r)
{
    r->heartbeat_elapsed++;
    r->election_elapsed++;
    if (r->transfer_target && ++r->transfer_elapsed >= r->opts.election_ticks) {
        /* §3.10: abort a transfer that did not finish within an election
           timeout, and accept client requests again. */
        raft_emit (r, RAFT_EV_TRANSFER, r->transfer_target, 0);
        r->transfer_target = 0;
    }
    if (r->election_elapsed >= r->opts.election_ticks) {
        r->election_elapsed = 0;
        if (r->opts.check_quorum) {
            /* §6.2: a leader that has not heard from a majority within an
               election timeout steps down, so clients can find the real
               leader and reads/leases stay safe. */
            uint32_t active = 0;
            for (size_t i = 0; i < r->prs.n; i++) {
                raft_progress_t *pr = &r->prs.v[i];
                if (pr->active && raft_is_voter (r, pr->id))
                    active++;
                pr->active = false;
            }
            if (raft_is_voter (r, r->id))
                active++;
            if (active < raft_quorum (r)) {
                raft_emit (r, RAFT_EV_CHECK_QUORUM_LOST, active, 0);
                raft_become_follower (r, r->term, 0);
                return;
            }
        }
    }
    if (r->heartbeat_elapsed >= r->opts.heartbeat_ticks) {
        r->heartbeat_elapsed = 0;
        raft_read_start_round (r);
        raft_bcast_heartbeat (r);
        raft_snapshot_tick (r);
    }
}
