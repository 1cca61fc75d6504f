/*  progress.c -- the leader's per-follower state: nextIndex, matchIndex
    (Figure 3.1, "Volatile state on leaders") and flow control.
*/
#include "raft_int.h"

#include <stdlib.h>
#include <string.h>

raft_progress_t *
raft_progress_get (raft_t *r, raft_id_t id)
{
    for (size_t i = 0; i < r->prs.n; i++)
        if (r->prs.v[i].id == id)
            return &r->prs.v[i];
    return NULL;
}

static void
s_progress_init (raft_t *r, raft_progress_t *pr, raft_id_t id)
{
    memset (pr, 0, sizeof *pr);
    pr->id = id;
    /* Figure 3.1: nextIndex initialized to leader last log index + 1,
       matchIndex to 0. */
    pr->next = raft_log_last_index (&r->log) + 1;
    pr->state = RAFT_PR_PROBE;
    pr->in_cap = r->opts.max_inflight;
    pr->inflight = calloc (pr->in_cap, sizeof *pr->inflight);
    if (!pr->inflight)
        abort ();
    /* A fresh leader treats everyone as active for its first check. */
    pr->active = true;
    pr->round_target = raft_log_last_index (&r->log);
    pr->round_start = r->now;
}

void
raft_progress_free_all (raft_t *r)
{
    for (size_t i = 0; i < r->prs.n; i++)
        free (r->prs.v[i].inflight);
    r->prs.n = 0;
}

void
raft_progress_reset_all (raft_t *r)
{
    raft_progress_free_all (r);
    raft_progress_sync_conf (r);
}

void
raft_progress_sync_conf (raft_t *r)
{
    if (r->role != RAFT_LEADER)
        return;
    /* Drop servers no longer in the configuration... */
    size_t keep = 0;
    for (size_t i = 0; i < r->prs.n; i++) {
        if (raft_conf_get (&r->conf, r->prs.v[i].id))
            r->prs.v[keep++] = r->prs.v[i];
        else
            free (r->prs.v[i].inflight);
    }
    r->prs.n = keep;
    /* ...and track the new ones. */
    for (uint32_t i = 0; i < r->conf.n; i++) {
        raft_id_t id = r->conf.servers[i].id;
        if (id == r->id || raft_progress_get (r, id))
            continue;
        raft_progress_t pr;
        s_progress_init (r, &pr, id);
        RAFT_VEC_PUSH (r->prs, pr);
    }
}

void
raft_progress_become_probe (raft_t *r, raft_progress_t *pr)
{
    (void)r;
    pr->state = RAFT_PR_PROBE;
    pr->probe_sent = false;
    pr->in_start = pr->in_count = 0;
}

void
raft_progress_become_replicate (raft_t *r, raft_progress_t *pr)
{
    (void)r;
    pr->state = RAFT_PR_REPLICATE;
    pr->probe_sent = false;
    pr->next = pr->match + 1;
    pr->in_start = pr->in_count = 0;
}

bool
raft_inflight_full (const raft_t *r, const raft_progress_t *pr)
{
    return pr->in_count >= r->opts.max_inflight;
}

void
raft_inflight_add (raft_t *r, raft_progress_t *pr, raft_index_t last)
{
    (void)r;
    pr->inflight[(pr->in_start + pr->in_count) % pr->in_cap] = last;
    pr->in_count++;
}

void
raft_inflight_free_to (raft_progress_t *pr, raft_index_t index)
{
    /* Requests are in send order, so the acknowledged ones are a prefix. */
    while (pr->in_count && pr->inflight[pr->in_start] <= index) {
        pr->in_start = (pr->in_start + 1) % pr->in_cap;
        pr->in_count--;
    }
}

void
raft_inflight_free_first (raft_progress_t *pr)
{
    if (pr->in_count) {
        pr->in_start = (pr->in_start + 1) % pr->in_cap;
        pr->in_count--;
    }
}
