/*  read.c -- linearizable reads without log writes: ReadIndex (§6.4).

    §6.4, for a read-only request the leader:
      1. waits until it has committed an entry of its current term (its
         no-op), so that its commit index is at least every acknowledged
         write's;
      2. records its commit index as the read index;
      3. confirms it is still the leader with a round of heartbeats acked by
         a majority; one round serves every read waiting for it;
      4. waits until its state machine has applied up to the read index,
         and then answers.
    Rounds are numbered; a heartbeat carries the latest round number (ctx)
    and followers echo it, so an acknowledgement of round k confirms every
    read that joined round k or earlier.

    Reads on followers (§6.4, last paragraphs): a follower sends the read to
    its leader (RAFT_MSG_READ_INDEX); the leader takes it through steps 1-3
    like its own, then answers with the read index at once (step 4 is the
    follower's: it waits until it has applied that far). The read index was
    taken after the request reached the leader, hence after the read began,
    and a majority confirmed the leader after that, so every write
    acknowledged before the read began is at or below it. The follower
    accepts the answer only in the term it asked in (raft_step drops older
    terms) and only for a read still waiting; a term or leader change fails
    the reads still waiting for an answer.
*/
#include "raft_int.h"

#include <stdlib.h>
#include <string.h>

static void
s_done (raft_t *r, uint64_t ctx, raft_index_t index, bool ok)
{
    raft_read_t done = {.ctx = ctx, .index = index, .ok = ok};
    RAFT_VEC_PUSH (r->done_reads, done);
}

/* Step 1-2: reads waiting for the no-op get their read index and join the
   next round. */
static void
s_assign (raft_t *r)
{
    if (raft_log_term_at (&r->log, r->commit) != r->term)
        return;
    for (size_t i = 0; i < r->reads.n; i++) {
        raft_read_req_t *q = &r->reads.v[i];
        if (q->state != RAFT_READ_WAIT_COMMIT)
            continue;
        q->index = r->commit;
#if RAFT_BUG(READ_NO_ROUND)
        q->state = RAFT_READ_WAIT_APPLY;
#else
        q->state = RAFT_READ_WAIT_ROUND;
        q->round = r->read_round + 1;
        r->read_round_needed = true;
#endif
    }
}

/* The leader's answer to a follower's read. */
static void
s_send_resp (raft_t *r, raft_id_t to, uint64_t ctx, raft_index_t index, bool ok)
{
    raft_msg_t m = {.type = RAFT_MSG_READ_INDEX_RESP,
                    .to = to,
                    .term = r->term,
                    .ctx = ctx,
                    .index = index,
                    .reject = !ok};
    raft_send (r, &m, 0);
}

/* Step 4: answer the confirmed reads whose index is applied; a follower's
   read gets its read index (the follower waits for its own apply). */
static void
s_answer (raft_t *r)
{
    size_t keep = 0;
    for (size_t i = 0; i < r->reads.n; i++) {
        raft_read_req_t *q = &r->reads.v[i];
        if (q->state == RAFT_READ_WAIT_APPLY && q->from)
            s_send_resp (r, q->from, q->ctx, q->index, true);
        else if (q->state == RAFT_READ_WAIT_APPLY && q->index <= r->applied)
            s_done (r, q->ctx, q->index, true);
        else
            r->reads.v[keep++] = *q;
    }
    r->reads.n = keep;
}

/* A follower's read: ask the leader. */
static int
s_forward (raft_t *r, uint64_t ctx)
{
    if (r->role != RAFT_FOLLOWER || r->leader == 0 || r->leader == r->id)
        return RAFT_ERR_NOT_LEADER;
#if RAFT_BUG(FOLLOWER_READ_LOCAL)
    /* planted: trust our own commit index instead of asking */
    raft_read_req_t bug = {
        .ctx = ctx, .index = r->commit, .state = RAFT_READ_WAIT_APPLY};
    RAFT_VEC_PUSH (r->reads, bug);
    s_answer (r);
    return RAFT_OK;
#endif
    raft_read_req_t q = {
        .ctx = ctx, .state = RAFT_READ_WAIT_LEADER, .asked = r->now};
    RAFT_VEC_PUSH (r->reads, q);
    raft_msg_t m = {.type = RAFT_MSG_READ_INDEX,
                    .to = r->leader,
                    .term = r->term,
                    .ctx = ctx};
    raft_send (r, &m, 0);
    return RAFT_OK;
}

int
raft_read_index (raft_t *r, uint64_t ctx)
{
    if (r->role != RAFT_LEADER)
        return s_forward (r, ctx);
    raft_read_req_t q = {.ctx = ctx, .state = RAFT_READ_WAIT_COMMIT};
    RAFT_VEC_PUSH (r->reads, q);
    s_assign (r);
    raft_read_confirm (r); /* a lone voter confirms itself */
    return RAFT_OK;
}

void
raft_read_start_round (raft_t *r)
{
    if (!r->read_round_needed)
        return;
    r->read_round_needed = false;
    r->read_round++;
    raft_emit (r, RAFT_EV_READ_ROUND, r->read_round, 0);
    raft_bcast_heartbeat (r);
}

void
raft_read_confirm (raft_t *r)
{
    if (r->role != RAFT_LEADER || r->reads.n == 0)
        return;
    /* The round a majority of voters has acknowledged. The leader's own
       acknowledgement is the round it sent (or is about to send). */
    uint64_t acks[RAFT_MAX_SERVERS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->conf.n; i++) {
        const raft_server_t *s = &r->conf.servers[i];
        if (!s->voter)
            continue;
        if (s->id == r->id) {
            acks[n++] = r->read_round + (r->read_round_needed ? 1 : 0);
        } else {
            raft_progress_t *pr = raft_progress_get (r, s->id);
            acks[n++] = pr ? pr->read_ack : 0;
        }
    }
    if (n == 0)
        return;
    /* n/2 + 1 servers acked at least the (n/2 + 1)-th largest value. */
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && acks[j - 1] < acks[j]; j--) {
            uint64_t t = acks[j];
            acks[j] = acks[j - 1];
            acks[j - 1] = t;
        }
    uint64_t confirmed = acks[n / 2];
    uint32_t count = 0;
    for (size_t i = 0; i < r->reads.n; i++) {
        raft_read_req_t *q = &r->reads.v[i];
        if (q->state == RAFT_READ_WAIT_ROUND && q->round <= confirmed) {
            q->state = RAFT_READ_WAIT_APPLY;
            count++;
        }
    }
    if (count)
        raft_emit (r, RAFT_EV_READ_ROUND, confirmed, count);
    s_answer (r);
}

void
raft_read_on_commit (raft_t *r)
{
    if (r->reads.n) {
        s_assign (r);
        raft_read_confirm (r);
    }
}

void
raft_read_on_applied (raft_t *r)
{
    if (r->reads.n)
        s_answer (r);
}

void
raft_read_fail_all (raft_t *r)
{
    for (size_t i = 0; i < r->reads.n; i++) {
        raft_read_req_t *q = &r->reads.v[i];
        if (q->from)
            s_send_resp (r, q->from, q->ctx, 0, false);
        else
            s_done (r, q->ctx, 0, false);
    }
    r->reads.n = 0;
    r->read_round_needed = false;
}

void
raft_read_fail_forwarded (raft_t *r)
{
    size_t keep = 0;
    for (size_t i = 0; i < r->reads.n; i++) {
        raft_read_req_t *q = &r->reads.v[i];
        if (q->state == RAFT_READ_WAIT_LEADER)
            s_done (r, q->ctx, 0, false);
        else
            r->reads.v[keep++] = *q;
    }
    r->reads.n = keep;
}

/* A read the leader never answered (the request or the answer was lost, or
   the leader does not know the message) fails after two election
   timeouts, so that the reads a follower holds stay bounded. */
void
raft_read_tick (raft_t *r)
{
    size_t keep = 0;
    for (size_t i = 0; i < r->reads.n; i++) {
        raft_read_req_t *q = &r->reads.v[i];
        if (q->state == RAFT_READ_WAIT_LEADER &&
            r->now - q->asked > 2 * (uint64_t)r->opts.election_ticks)
            s_done (r, q->ctx, 0, false);
        else
            r->reads.v[keep++] = *q;
    }
    r->reads.n = keep;
}

/* The leader gets a follower's read (raft_step checked the term and that
   the sender is a member). */
void
raft_recv_read_index (raft_t *r, const raft_msg_t *m)
{
    size_t remote = 0;
    for (size_t i = 0; i < r->reads.n; i++)
        remote += r->reads.v[i].from != 0;
    if (r->role != RAFT_LEADER || remote >= RAFT_MAX_REMOTE_READS) {
        s_send_resp (r, m->from, m->ctx, 0, false);
        return;
    }
    raft_read_req_t q = {
        .ctx = m->ctx, .from = m->from, .state = RAFT_READ_WAIT_COMMIT};
    RAFT_VEC_PUSH (r->reads, q);
    s_assign (r);
    raft_read_confirm (r);
}

/* A follower gets its leader's answer, in the term it asked in. */
void
raft_recv_read_index_resp (raft_t *r, const raft_msg_t *m)
{
    if (r->role != RAFT_FOLLOWER || m->from != r->leader) {
        r->dropped++;
        return;
    }
    for (size_t i = 0; i < r->reads.n; i++) {
        raft_read_req_t *q = &r->reads.v[i];
        if (q->state != RAFT_READ_WAIT_LEADER || q->ctx != m->ctx)
            continue;
        if (m->reject) {
            s_done (r, q->ctx, 0, false);
            r->reads.v[i] = r->reads.v[--r->reads.n];
            return;
        }
        q->index = m->index;
        q->state = RAFT_READ_WAIT_APPLY;
        s_answer (r);
        return;
    }
    r->dropped++; /* not waiting for it (failed already, or a duplicate) */
}
