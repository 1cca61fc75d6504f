/*  membership.c -- configuration changes one server at a time (§4.1-4.3).

    The rules:
      * §4.1: a server uses the latest configuration in its log, committed or
        not; a configuration "takes effect" when appended (and reverts if
        that entry is removed).
      * §4.1: a leader starts a new change only once the previous one is
        committed, so any two consecutive configurations share a majority.
      * The leader must also have committed an entry of its own term first:
        otherwise a change left uncommitted by an earlier leader and a new
        one can form disjoint majorities (the single-server change bug
        Ongaro reported on raft-dev in 2015; the no-op of §6.4 fixes it).
      * §4.2.1: new servers join as non-voting learners and are promoted by a
        second entry once caught up.
      * §4.2.2: a leader removed from the configuration keeps managing it
        until the entry commits, does not count itself, then steps down.
*/
#include "raft_int.h"

#include <string.h>

void
raft_conf_changed (raft_t *r)
{
    raft_index_t idx = 0;
    for (raft_index_t i = raft_log_last_index (&r->log); i > r->log.base_index;
         i--) {
        const raft_entry_t *e = raft_log_entry (&r->log, i);
        if (e->type == RAFT_ENTRY_CONF) {
            idx = i;
            break;
        }
    }
    if (idx) {
        const raft_conf_t *c = raft_entry_conf (raft_log_entry (&r->log, idx));
        if (c)
            r->conf = *c;
    } else {
        r->conf = r->base_conf;
    }
    r->conf_index = idx;
    raft_emit (r, RAFT_EV_CONF, idx, r->conf.n);
    raft_progress_sync_conf (r);
}

void
raft_conf_on_commit (raft_t *r)
{
    if (r->role != RAFT_LEADER || r->conf_index > r->commit ||
        raft_is_voter (r, r->id))
        return;
    /* §4.2.2: our removal is committed. Hand over to the most up-to-date
       voter at once (§3.10) rather than let the cluster time out. */
    raft_progress_t *best = NULL;
    for (size_t i = 0; i < r->prs.n; i++) {
        raft_progress_t *pr = &r->prs.v[i];
        if (raft_is_voter (r, pr->id) && (!best || pr->match > best->match))
            best = pr;
    }
    if (best && best->match == raft_log_last_index (&r->log))
        raft_send_timeout_now (r, best->id);
    raft_become_follower (r, r->term, 0);
}

void
raft_learner_progress (raft_t *r, raft_progress_t *pr)
{
    const raft_server_t *s = raft_conf_get (&r->conf, pr->id);
    if (!s || s->voter || pr->caught_up)
        return;
    /* §4.2.1: replicate in rounds; each round ends when the learner holds
       what the leader had when the round began. A round finished within an
       election timeout means the learner is close enough to vote without
       leaving the cluster unavailable for long. */
    if (pr->match < pr->round_target)
        return;
    if (r->now - pr->round_start <= r->opts.election_ticks) {
        pr->caught_up = true;
    } else {
        pr->round_target = raft_log_last_index (&r->log);
        pr->round_start = r->now;
    }
}

bool
raft_caught_up (const raft_t *r, raft_id_t id)
{
    if (r->role != RAFT_LEADER)
        return false;
    for (size_t i = 0; i < r->prs.n; i++)
        if (r->prs.v[i].id == id)
            return r->prs.v[i].caught_up;
    return false;
}

/* Common checks before a change; 0 or an error. */
static int
s_can_change (const raft_t *r)
{
    if (r->role != RAFT_LEADER)
        return RAFT_ERR_NOT_LEADER;
    if (r->transfer_target)
        return RAFT_ERR_TRANSFERRING;
#if !RAFT_BUG(NO_NOOP_BEFORE_CONF)
    if (raft_log_term_at (&r->log, r->commit) != r->term)
        return RAFT_ERR_NOT_READY;
#endif
#if !RAFT_BUG(CONF_TWO_PENDING)
    if (r->conf_index > r->commit)
        return RAFT_ERR_CONF_PENDING;
#endif
    return 0;
}

static int
s_append_conf (raft_t *r, const raft_conf_t *c, raft_index_t *index)
{
    raft_conf_t copy;
    memset (&copy, 0, sizeof copy); /* deterministic bytes */
    copy.n = c->n;
    for (uint32_t i = 0; i < c->n; i++) {
        copy.servers[i].id = c->servers[i].id;
        copy.servers[i].voter = c->servers[i].voter;
        memcpy (copy.servers[i].addr, c->servers[i].addr, RAFT_ADDR_MAX);
    }
    raft_buf_t *buf = raft_buf_new (&copy, sizeof copy);
    if (!buf)
        return RAFT_ERR_INVALID;
    raft_entry_t e = {.term = r->term,
                      .index = raft_log_last_index (&r->log) + 1,
                      .type = RAFT_ENTRY_CONF,
                      .data = buf};
    raft_append_local (r, &e);
    raft_buf_unref (buf);
    raft_emit (r, RAFT_EV_APPEND, e.index, e.index);
    r->need_flush = true;
    if (index)
        *index = e.index;
    /* A configuration with one voter commits on the leader's own fsync. */
    raft_maybe_commit (r);
    return RAFT_OK;
}

int
raft_add_learner (raft_t *r, raft_id_t id, const char *addr,
                  raft_index_t *index)
{
    if (id == 0 || !addr || strlen (addr) >= RAFT_ADDR_MAX)
        return RAFT_ERR_INVALID;
    int rc = s_can_change (r);
    if (rc)
        return rc;
    raft_conf_t c = r->conf;
    raft_server_t *s = NULL;
    for (uint32_t i = 0; i < c.n; i++)
        if (c.servers[i].id == id)
            s = &c.servers[i];
    if (s) {
        if (strcmp (s->addr, addr) == 0) {
            /* Same id and address: nothing to do. */
            if (index)
                *index = r->conf_index;
            return RAFT_OK;
        }
        /* A server that moved keeps its id and role, with the new address. */
        memset (s->addr, 0, RAFT_ADDR_MAX);
        strcpy (s->addr, addr);
    } else {
        if (c.n == RAFT_MAX_SERVERS)
            return RAFT_ERR_TOO_MANY;
        s = &c.servers[c.n++];
        memset (s, 0, sizeof *s);
        s->id = id;
        s->voter = false;
        strcpy (s->addr, addr);
    }
    return s_append_conf (r, &c, index);
}

int
raft_promote (raft_t *r, raft_id_t id, raft_index_t *index)
{
    int rc = s_can_change (r);
    if (rc)
        return rc;
    raft_conf_t c = r->conf;
    for (uint32_t i = 0; i < c.n; i++) {
        if (c.servers[i].id != id)
            continue;
        if (c.servers[i].voter) {
            if (index)
                *index = r->conf_index;
            return RAFT_OK;
        }
        if (!raft_caught_up (r, id))
            return RAFT_ERR_NOT_CAUGHT_UP;
        c.servers[i].voter = true;
        return s_append_conf (r, &c, index);
    }
    return RAFT_ERR_UNKNOWN_SERVER;
}

int
raft_remove (raft_t *r, raft_id_t id, raft_index_t *index)
{
    int rc = s_can_change (r);
    if (rc)
        return rc;
    raft_conf_t c = r->conf;
    for (uint32_t i = 0; i < c.n; i++) {
        if (c.servers[i].id != id)
            continue;
        if (c.servers[i].voter && raft_conf_voters (&c) == 1)
            return RAFT_ERR_INVALID; /* would leave no voter at all */
        c.servers[i] = c.servers[c.n - 1];
        c.n--;
        return s_append_conf (r, &c, index);
    }
    return RAFT_ERR_UNKNOWN_SERVER;
}

int
raft_transfer_leadership (raft_t *r, raft_id_t target)
{
    if (r->role != RAFT_LEADER)
        return RAFT_ERR_NOT_LEADER;
    if (target == 0) {
        raft_progress_t *best = NULL;
        for (size_t i = 0; i < r->prs.n; i++) {
            raft_progress_t *pr = &r->prs.v[i];
            if (raft_is_voter (r, pr->id) && (!best || pr->match > best->match))
                best = pr;
        }
        if (!best)
            return RAFT_ERR_INVALID;
        target = best->id;
    }
    if (target == r->id || !raft_is_voter (r, target))
        return RAFT_ERR_UNKNOWN_SERVER;
    if (r->transfer_target == target)
        return RAFT_OK;
    /* §3.10: stop accepting new client requests, bring the target's log up
       to date, then send it TimeoutNow. */
    r->transfer_target = target;
    r->transfer_elapsed = 0;
    raft_emit (r, RAFT_EV_TRANSFER, target, 1);
    raft_progress_t *pr = raft_progress_get (r, target);
    if (pr && pr->match == raft_log_last_index (&r->log))
        raft_send_timeout_now (r, target);
    else
        r->need_flush = true;
    return RAFT_OK;
}
