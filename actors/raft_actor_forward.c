/*  raft_actor_forward.c -- writes that reach a follower, forwarded to the
    leader over the peer links (msg_forward.h), when the client asks
    (?forward=true) or the node says so (--forward-writes), as etcd and
    rqlite forward; otherwise 409 not_leader, the prototype's answer.

    The follower keeps the request in its table (RA_WAIT_FORWARD; ctx: its
    number for the request, id: the leader it went to) until the leader's
    reply comes back, which it hands to the worker as it is, or until its
    deadline passes: 503 timeout, and the write may still commit, as for
    any write. The leader runs the request as one of its own workers'
    (quota, proposal, apply, reply) under a made-up identity that names the
    follower and its number (s_identity); ra_send_reply sends what would go
    to that identity back over the peer link instead (ra_forward_reply). A
    forwarded request is never forwarded again: a leader that lost
    leadership meanwhile answers 409 not_leader (naming the new leader when
    known) or 503, and the follower passes that on.

    Trust: the follower checked the client's token and role before asking
    the raft actor; the leader takes a forwarded request only from a member
    of its configuration, with authenticated peer links only from the
    member the link authenticated, and only a write (PUT, DELETE, a KV
    command): membership changes and reads are never forwarded.

    Cost: one more round trip between the two nodes (two peer messages)
    and the two hand-offs of the follower's raft actor; a client that can
    reach the leader is better off there (the 409 names it).
*/
#include "msg_forward.h"
#include "raft_actor_int.h"

#include <stdlib.h>
#include <string.h>

/* The made-up identity of a forwarded request on the leader: 0xff 'F',
   then the follower's id and its number for the request, be64 each. ZeroMQ
   makes up the identities of the workers' DEALERs with a first byte 0, so
   the two never meet. */
#define S_ID_LEN 18

static void
s_be64_put (uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)(v & 0xff);
}

static uint64_t
s_be64_get (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static zframe_t *
s_identity (raft_id_t peer, uint64_t fwd_id)
{
    uint8_t id[S_ID_LEN] = {0xff, 'F'};
    s_be64_put (id + 2, peer);
    s_be64_put (id + 10, fwd_id);
    return zframe_new (id, sizeof id);
}

static bool
s_identity_parse (zframe_t *identity, raft_id_t *peer, uint64_t *fwd_id)
{
    const uint8_t *d = zframe_data (identity);
    if (zframe_size (identity) != S_ID_LEN || d[0] != 0xff || d[1] != 'F')
        return false;
    *peer = s_be64_get (d + 2);
    *fwd_id = s_be64_get (d + 10);
    return true;
}

/* Send a forward message (request or reply) to peer `to`. */
static bool
s_send (ra_self_t *self, raft_id_t to, bool reply, uint64_t fwd_id,
        const void *body, size_t len)
{
    raft_buf_t *b = raft_buf_new (body, len);
    msg_forward_t f = {
        .reply = reply, .fwd_id = fwd_id, .from = self->args.id, .body = b};
    raft_buf_t *p = b ? msg_forward_encode (&f) : NULL;
    raft_buf_unref (b);
    if (!p)
        return false;
    msg_transport_t t = {.kind = MSG_TRANSPORT_SEND,
                         .to = to,
                         .payload = p->data,
                         .payload_len = p->len};
    zmsg_t *zm = msg_transport_encode (&t);
    raft_buf_unref (p);
    if (!zm)
        return false;
    return zmsg_send (&zm, self->transport) == 0;
}

static bool
s_is_write (msg_api_op_t op)
{
    /* a keep-alive too: only the leader renews (raft_actor_lease.c) */
    return op == MSG_API_PUT || op == MSG_API_DELETE || op == MSG_API_CMD ||
           op == MSG_API_LEASE_KEEPALIVE;
}

bool
ra_forward_wanted (ra_self_t *self, const msg_api_req_t *req)
{
    if (!s_is_write (req->op) || req->forward == MSG_API_FORWARD_NO ||
        (req->forward == MSG_API_FORWARD_DEFAULT && !self->args.forward_writes))
        return false;
    raft_status_t st;
    raft_status (self->r, &st);
    return st.role == RAFT_FOLLOWER && st.leader != 0 &&
           st.leader != self->args.id;
}

void
ra_forward_send (ra_self_t *self, zframe_t **identity, const msg_api_req_t *req)
{
    raft_status_t st;
    raft_status (self->r, &st);
    zmsg_t *zm = msg_api_req_encode (req);
    zframe_t *frame = zm ? zmsg_first (zm) : NULL;
    uint64_t fwd_id = ++self->next_ctx;
    if (!frame || !s_send (self, st.leader, false, fwd_id, zframe_data (frame),
                           zframe_size (frame))) {
        zmsg_destroy (&zm);
        ra_reply_error (self, *identity, req->req_id, 500, "internal");
        return;
    }
    zmsg_destroy (&zm);
    ra_req_t *q = ra_req_add (self, identity, req, RA_WAIT_FORWARD);
    q->ctx = fwd_id;
    q->id = st.leader;
}

bool
ra_forward_reply (ra_self_t *self, zframe_t *identity, zmsg_t *rep)
{
    raft_id_t peer;
    uint64_t fwd_id;
    if (!s_identity_parse (identity, &peer, &fwd_id))
        return false;
    zframe_t *frame = zmsg_first (rep);
    if (frame)
        s_send (self, peer, true, fwd_id, zframe_data (frame),
                zframe_size (frame));
    return true;
}

/* The leader: a follower's request. */
static void
s_on_request (ra_self_t *self, const msg_forward_t *f)
{
    zmsg_t *zm = zmsg_new ();
    zmsg_addmem (zm, f->body->data, f->body->len);
    msg_api_req_t req;
    int rc = msg_api_req_decode (zm, &req);
    zmsg_destroy (&zm);
    if (rc != 0) {
        log_warn ("raft: a malformed forwarded request from n%llu dropped",
                  (unsigned long long)f->from);
        return;
    }
    zframe_t *identity = s_identity (f->from, f->fwd_id);
    if (!s_is_write (req.op)) {
        ra_reply_error_detail (self, identity, req.req_id, 400, "bad_request",
                               "only writes are forwarded");
    } else {
        req.forward = MSG_API_FORWARD_NO; /* never twice */
        ra_api_dispatch (self, &identity, &req);
    }
    zframe_destroy (&identity);
    msg_api_req_clear (&req);
}

/* The follower: the leader's reply, handed to the worker as it is once it
   is seen to decode and to answer that request. */
static void
s_on_reply (ra_self_t *self, const msg_forward_t *f)
{
    for (size_t i = 0; i < self->n_reqs; i++) {
        ra_req_t *q = &self->reqs[i];
        if (q->wait != RA_WAIT_FORWARD || q->ctx != f->fwd_id ||
            q->id != f->from)
            continue;
        zmsg_t *zm = zmsg_new ();
        zmsg_addmem (zm, f->body->data, f->body->len);
        msg_api_rep_t rep;
        bool ok = msg_api_rep_decode (zm, &rep) == 0 && rep.req_id == q->req_id;
        if (ok)
            msg_api_rep_clear (&rep);
        if (ok) {
            zframe_t *id = zframe_dup (q->identity);
            zmsg_prepend (zm, &id);
            zmsg_send (&zm, self->api);
        } else {
            log_warn ("raft: a malformed forwarded reply from n%llu",
                      (unsigned long long)f->from);
            ra_reply_error (self, q->identity, q->req_id, 500, "internal");
        }
        zmsg_destroy (&zm);
        ra_req_drop (self, i);
        return;
    }
    /* its deadline passed, or not ours: nothing waits for it */
}

void
ra_forward_recv (ra_self_t *self, raft_id_t link_from, const void *data,
                 size_t len)
{
    msg_forward_t f;
    if (msg_forward_decode (data, len, &f) != 0) {
        self->dropped_in++;
        return;
    }
    if ((self->args.peer_auth && f.from != link_from) ||
        !raft_conf_get (raft_conf (self->r), f.from) ||
        f.from == self->args.id) {
        metrics_add (METRICS_PEER_MSGS_FORGED, 1);
        self->forged++;
        msg_forward_clear (&f);
        return;
    }
    if (f.reply)
        s_on_reply (self, &f);
    else
        s_on_request (self, &f);
    msg_forward_clear (&f);
}
