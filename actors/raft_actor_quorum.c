/*  raft_actor_quorum.c -- who this node heard from lately, so that a node
    that knows it cannot reach a majority answers 503 no_quorum at once
    instead of letting the request time out.
*/
#include "raft_actor_int.h"

/* REQUIRES: id is a member of the configuration (at most
   RAFT_MAX_SERVERS of them, so a slot is free or already id's). */
void
ra_heard_from (ra_self_t *self, raft_id_t id)
{
    size_t slot = RAFT_MAX_SERVERS;
    for (size_t i = 0; i < RAFT_MAX_SERVERS; i++) {
        if (self->recv_id[i] == id) {
            slot = i;
            break;
        }
        if (self->recv_id[i] == 0 && slot == RAFT_MAX_SERVERS)
            slot = i;
    }
    if (slot == RAFT_MAX_SERVERS)
        slot = id % RAFT_MAX_SERVERS;
    self->recv_id[slot] = id;
    self->last_recv[slot] = zclock_mono ();
}

/* Did we hear from a majority of voters (ourselves included) lately? */
static bool
s_quorum_reachable (ra_self_t *self, int64_t window)
{
    const raft_conf_t *conf = raft_conf (self->r);
    uint32_t voters = 0, heard = 0;
    int64_t now = zclock_mono ();
    for (uint32_t i = 0; i < conf->n; i++) {
        if (!conf->servers[i].voter)
            continue;
        voters++;
        raft_id_t id = conf->servers[i].id;
        if (id == self->args.id) {
            heard++;
            continue;
        }
        for (size_t k = 0; k < RAFT_MAX_SERVERS; k++)
            if (self->recv_id[k] == id && now - self->last_recv[k] <= window)
                heard++;
    }
    return voters > 0 && heard >= voters / 2 + 1;
}

/* Answer a request the leader must serve and we cannot: 409 naming the
   leader (the request was not proposed, so it may be retried anywhere), or
   503 no_quorum when we know a majority is out of reach. Returns true if
   it answered. */
bool
ra_refuse_unless_leader (ra_self_t *self, zframe_t *identity, uint64_t req_id)
{
    raft_status_t st;
    raft_status (self->r, &st);
    int64_t window = 2 * (int64_t)self->args.election_ms;
    if (st.role == RAFT_LEADER) {
        if (!s_quorum_reachable (self, self->args.election_ms)) {
            ra_reply_error (self, identity, req_id, 503, "no_quorum");
            return true;
        }
        return false;
    }
    if (st.leader == 0 && !s_quorum_reachable (self, window)) {
        ra_reply_error (self, identity, req_id, 503, "no_quorum");
        return true;
    }
    ra_reply_error (self, identity, req_id, 409, "not_leader");
    return true;
}
