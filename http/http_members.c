/*  http_members.c -- the membership routes: POST /raft/join and POST
    /raft/remove (admin).

    /raft/join asks the raft actor first (the health op: role and leader),
    answers 409 not_leader without fetching anything on a follower, then
    asks the NEW server for its identity (client.h, http_client_health:
    its /health, over TLS when we serve TLS, name lookup included in the
    deadline, min (args->timeout_ms, 2 s)), then asks the raft actor to add
    it.
*/
#include "client.h"
#include "http_int.h"
#include "http_render.h"
#include "json.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* /raft/join's fetch of the new server's /health. */
#define S_JOIN_FETCH_MAX_MS 2000

_Static_assert(HTTP_CLIENT_ADDR_LEN == RAFT_ADDR_MAX,
               "a peer address fetched fits a configuration slot");

/* Leadership first: a follower must not fetch anything on behalf of
   whoever asked (the raft actor checks again when asked to add). 0 with
   the leader's own cluster id in own_cluster ("" unknown), or the status
   of the reply sent. */
static int
s_join_leader_check (http_req_t *c, char own_cluster[HTTP_CLIENT_ID_LEN])
{
    msg_api_req_t hreq = {.op = MSG_API_HEALTH};
    msg_api_rep_t rep;
    int st = http_ask (c, &hreq, &rep);
    if (st)
        return st;
    const msg_health_t *h = rep.kind == MSG_API_REP_HEALTH ? rep.health : NULL;
    if (rep.status != 200 || !h || !h->role || strcmp (h->role, "leader")) {
        json_t *b =
            http_render_error ("not_leader", NULL, true, h ? h->leader : NULL);
        msg_api_rep_clear (&rep);
        return http_reply_json (c, 409, b, NULL);
    }
    /* A server of another cluster is not let in (README, "Identity"). */
    snprintf (own_cluster, HTTP_CLIENT_ID_LEN, "%s",
              h->cluster_id ? h->cluster_id : "");
    msg_api_rep_clear (&rep);
    return 0;
}

int
http_raft_join (http_req_t *c)
{
    char *body = NULL;
    size_t len = 0;
    int st = http_read_body (c, &body, &len);
    if (st)
        return st;
    http_parse_join_t j;
    http_parse_err_t err;
    int rc = http_parse_join (body, len, &j, &err);
    free (body);
    if (rc != 0)
        return http_reply_parse_error (c, &err);
    char own_cluster[HTTP_CLIENT_ID_LEN];
    if ((st = s_join_leader_check (c, own_cluster)))
        return st;

    int fetch_ms = c->self->args.timeout_ms < S_JOIN_FETCH_MAX_MS
                       ? c->self->args.timeout_ms
                       : S_JOIN_FETCH_MAX_MS;
    http_client_health_t who;
    char why[192];
    if (http_client_health (c->self->args.tls_client, j.peer, fetch_ms, &who,
                            why, sizeof why) != 0) {
        log_warn ("http: join %s: %s", j.peer, why);
        json_t *b = json_error_body ("peer_unreachable", NULL);
        json_object_set_new (b, "peer", json_string (j.peer));
        json_object_set_new (b, "detail",
                             json_string_lossy (why, strlen (why)));
        return http_reply_json (c, 502, b, NULL);
    }
    if (j.id && j.id != who.id) {
        char detail[192];
        snprintf (detail, sizeof detail, "id %llu does not match %s's id %llu",
                  (unsigned long long)j.id, j.peer, (unsigned long long)who.id);
        return http_reply_error (c, 400, "bad_request", detail);
    }
    if (*who.cluster_id && *own_cluster &&
        strcmp (who.cluster_id, own_cluster)) {
        char detail[512];
        snprintf (detail, sizeof detail,
                  "%s's data directory belongs to cluster %s, this is "
                  "cluster %s",
                  j.peer, who.cluster_id, own_cluster);
        log_warn ("http: join %s refused: %s", j.peer, detail);
        return http_reply_error (c, 409, "other_cluster", detail);
    }
    msg_api_req_t req = {.op = MSG_API_JOIN, .id = who.id};
    /* The configuration keeps both addresses and the directory id in one
       slot: "<peer endpoint> <http address>[ <directory id>]" (split on
       spaces by the raft actor; store_identity.h). */
    if ((size_t)snprintf (req.peer, sizeof req.peer, "%s %s%s%s", who.peer_addr,
                          j.peer, *who.dir_id ? " " : "",
                          who.dir_id) >= sizeof req.peer)
        return http_reply_error (c, 400, "bad_request",
                                 "peer addresses too long");
    return http_call (c, &req);
}

int
http_raft_remove (http_req_t *c)
{
    char *body = NULL;
    size_t len = 0;
    int st = http_read_body (c, &body, &len);
    if (st)
        return st;
    http_parse_remove_t rm;
    http_parse_err_t err;
    int rc = http_parse_remove (body, len, &rm, &err);
    free (body);
    if (rc != 0)
        return http_reply_parse_error (c, &err);
    msg_api_req_t req = {.op = MSG_API_REMOVE, .id = rm.id};
    memcpy (req.peer, rm.peer, sizeof req.peer);
    return http_call (c, &req);
}
