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

/* Step 4: answer the confirmed reads whose index is applied. */
static void
s_answer (raft_t *r)
{
    size_t keep = 0;
    for (size_t i = 0; i < r->reads.n; i++) {
        raft_read_req_t *q = &r->reads.v[i];
        if (q->state == RAFT_READ_WAIT_APPLY && q->index <= r->applied)
            s_done (r, q->ctx, q->index, true);
        else
            r->reads.v[keep++] = *q;
    }
    r->reads.n = keep;
}

int
raft_read_index (raft_t *r, uint64_t ctx)
{
    if (r->role != RAFT_LEADER)
        return RAFT_ERR_NOT_LEADER;
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
    for (size_t i = 0; i < r->reads.n; i++)
        s_done (r, r->reads.v[i].ctx, 0, false);
    r->reads.n = 0;
    r->read_round_needed = false;
}
