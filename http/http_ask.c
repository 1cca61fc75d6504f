/*  http_ask.c -- a worker's question to the raft actor (msg_api over the
    worker's own DEALER) and the typed answer, rendered here as the JSON
    body (http_render.h). http.c has the protocol.
*/
#include "http_int.h"
#include "http_render.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>

/* How long the raft actor may take beyond the request deadline it applies
   itself: its own 503 should win over ours. */
#define S_REPLY_GRACE_MS 500

/* Send req (its req_id set here) and wait for the reply carrying that
   req_id: 0 with *rep, or the status of a failure here (500: no socket,
   no encoding; 503: no answer in time) with *code. Takes req's
   buffers. */
static int
s_exchange (http_req_t *c, msg_api_req_t *req, msg_api_rep_t *rep,
            const char **code, const char **detail)
{
    memset (rep, 0, sizeof *rep);
    *code = "internal";
    *detail = NULL;
    if (!c->dealer && c->w)
        c->dealer = http_worker_dealer (c->self, c->w);
    if (!c->dealer) {
        msg_api_req_clear (req);
        *detail = "no socket to the raft actor";
        return 500;
    }
    req->req_id = atomic_fetch_add (&c->self->next_req_id, 1);
    uint64_t req_id = req->req_id;
    zmsg_t *zm = msg_api_req_encode (req);
    msg_api_req_clear (req);
    if (!zm) {
        *detail = "could not encode the request";
        return 500;
    }
    *code = "timeout";
    int64_t deadline =
        zclock_mono () + c->self->args.timeout_ms + S_REPLY_GRACE_MS;
    if (zmsg_send (&zm, c->dealer) != 0) {
        /* The send queue is full (the raft actor is stuck): same as no
           answer. */
        zmsg_destroy (&zm);
        return 503;
    }
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        zsock_set_rcvtimeo (c->dealer, (int)left);
        zmsg_t *in = zmsg_recv (c->dealer);
        if (!in) {
            if (errno == ETERM)
                break;
            continue; /* EAGAIN (deadline) or EINTR: the loop decides */
        }
        int rc = msg_api_rep_decode (in, rep);
        zmsg_destroy (&in);
        if (rc != 0) {
            log_warn ("http: malformed reply from the raft actor dropped");
            continue;
        }
        if (rep->req_id != req_id) {
            log_debug ("http: late reply to request %llu dropped",
                       (unsigned long long)rep->req_id);
            msg_api_rep_clear (rep);
            continue;
        }
        return 0;
    }
    return 503;
}

int
http_ask (http_req_t *c, msg_api_req_t *req, msg_api_rep_t *rep)
{
    const char *code, *detail;
    int st = s_exchange (c, req, rep, &code, &detail);
    return st ? http_reply_error (c, st, code, detail) : 0;
}

void
http_ask_barrier (void *arg, http_read_barrier_result_t *out)
{
    http_req_t *c = arg;
    msg_api_req_t req = {.op = MSG_API_READ};
    msg_api_rep_t rep;
    const char *code, *detail;
    int st = s_exchange (c, &req, &rep, &code, &detail);
    if (!st && rep.status != 200 && rep.kind != MSG_API_REP_ERROR) {
        log_error ("http: read barrier answered %u without an error",
                   rep.status);
        st = 500, code = "internal", detail = "unrenderable reply";
    } else if (!st && rep.status != 200) {
        st = (int)rep.status, code = rep.code, detail = rep.detail;
        out->has_leader = rep.has_leader;
        out->leader_known = rep.leader != NULL;
        if (rep.leader)
            snprintf (out->leader, sizeof out->leader, "%s", rep.leader);
    }
    out->status = st ? (unsigned)st : 200;
    if (st) {
        snprintf (out->code, sizeof out->code, "%s", code ? code : "");
        out->has_detail = detail != NULL;
        if (detail)
            snprintf (out->detail, sizeof out->detail, "%s", detail);
    }
    msg_api_rep_clear (&rep);
}

int
http_reply_rep (http_req_t *c, const msg_api_rep_t *rep)
{
    json_t *body = http_render_rep (rep);
    if (!body) {
        log_error ("http: reply to request %llu cannot be rendered",
                   (unsigned long long)rep->req_id);
        return http_reply_error (c, 500, "internal", "unrenderable reply");
    }
    return http_reply_json (c, (int)rep->status, body, NULL);
}

int
http_call (http_req_t *c, msg_api_req_t *req)
{
    msg_api_rep_t rep;
    int st = http_ask (c, req, &rep);
    if (st)
        return st;
    st = http_reply_rep (c, &rep);
    msg_api_rep_clear (&rep);
    return st;
}
