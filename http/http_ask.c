/*  http_ask.c -- a worker's question to the raft actor (msg_api over the
    worker's own DEALER) and the typed answer, rendered here as the JSON
    body (http_render.h). http.c has the protocol.
*/
#include "http_int.h"
#include "http_render.h"
#include "log.h"

#include <errno.h>

/* How long the raft actor may take beyond the request deadline it applies
   itself: its own 503 should win over ours. */
#define S_REPLY_GRACE_MS 500

int
http_ask (http_req_t *c, msg_api_req_t *req, msg_api_rep_t *rep)
{
    memset (rep, 0, sizeof *rep);
    if (!c->dealer) {
        msg_api_req_clear (req);
        return http_reply_error (c, 500, "internal",
                                 "no socket to the raft actor");
    }
    req->req_id = atomic_fetch_add (&c->self->next_req_id, 1);
    uint64_t req_id = req->req_id;
    zmsg_t *zm = msg_api_req_encode (req);
    msg_api_req_clear (req);
    if (!zm)
        return http_reply_error (c, 500, "internal",
                                 "could not encode the request");
    int64_t deadline =
        zclock_mono () + c->self->args.timeout_ms + S_REPLY_GRACE_MS;
    if (zmsg_send (&zm, c->dealer) != 0) {
        /* The send queue is full (the raft actor is stuck): same as no
           answer. */
        zmsg_destroy (&zm);
        return http_reply_error (c, 503, "timeout", NULL);
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
    return http_reply_error (c, 503, "timeout", NULL);
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
