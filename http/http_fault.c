/*  http_fault.c -- fault injection over HTTP (--enable-faults; README,
    "Fault injection"): GET and POST /debug/fault, POST /debug/stop, and
    what /health says about them. Admin routes (http/access.h); without
    --enable-faults each answers 403 faults_disabled, before access is
    even checked, so that a client learns at once that the node does not
    offer them.

      POST /debug/fault {"action": ...}  (body: http/parse_fault.h)
           200 {"ok": true, "faults": F}
           400 bad_request (the body), unknown_peer (not a member, or this
               node itself)
      GET  /debug/fault                   200 {"ok": true, "faults": F}
      POST /debug/stop                    200 {"ok": true, "stopping": true},
                                          then the node stops as on
                                          SIGTERM (node_wait, node.h)

    F, the faults in effect (actors/fault.h):
      {"isolate": bool, "drop": [{"peer": id, "direction": "out"|"in"|
       "both"}], "delay_ms": ms for every peer (0: none), "delay":
       [{"peer": id, "ms": ms}], "slow_fsync_ms": ms}

    Each change is logged (warn) and traced as a "fault" event on the
    monitoring socket (msg/msg_trace.h: a = the action, fault_action_t,
    b = the peer or 0, the text says it all), so nsxctl trace and the /ui
    timeline show it among the elections it causes.
*/
#include "http_int.h"
#include "json.h"
#include "log.h"
#include "monitor.h"
#include "parse_fault.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *
http_fault_json (const fault_state_t *st)
{
    json_t *drop = json_array (), *delay = json_array ();
    for (size_t i = 0; i < st->n_links; i++) {
        const fault_link_t *l = &st->links[i];
        if (l->drop)
            json_array_append_new (
                drop, json_pack ("{s:I, s:s}", "peer", (json_int_t)l->peer,
                                 "direction", fault_dir_name (l->drop)));
        if (l->delay_ms)
            json_array_append_new (delay, json_pack ("{s:I, s:I}", "peer",
                                                     (json_int_t)l->peer, "ms",
                                                     (json_int_t)l->delay_ms));
    }
    return json_pack ("{s:b, s:o, s:I, s:o, s:I}", "isolate", st->isolate,
                      "drop", drop, "delay_ms", (json_int_t)st->delay_ms,
                      "delay", delay, "slow_fsync_ms",
                      (json_int_t)st->slow_fsync_ms);
}

void
http_fault_health (http_self_t *self, json_t *body)
{
    fault_t *f = self->args.faults;
    json_object_set_new (body, "faults_enabled",
                         json_boolean (fault_enabled (f)));
    if (!fault_enabled (f))
        return;
    fault_state_t st;
    fault_get (f, &st);
    json_object_set_new (body, "faults", http_fault_json (&st));
}

int
http_fault_gate (http_req_t *c, const char *path)
{
    if (strcmp (path, "/debug/fault") != 0 && strcmp (path, "/debug/stop") != 0)
        return 0;
    if (fault_enabled (c->self->args.faults))
        return 0;
    c->close = true;
    return http_reply_error (c, 403, "faults_disabled",
                             "this node was started without --enable-faults");
}

/* The "fault" trace event; sent only while someone watches. */
static void
s_trace (http_req_t *c, const fault_cmd_t *cmd, const char *text)
{
    http_worker_t *w = c->w;
    log_warn ("fault: %s (POST from %s)", text, c->ri->remote_addr);
    if (w && !w->mon && c->self->args.monitor_endpoint && monitor_listened ())
        w->mon = monitor_push_new (c->self->args.monitor_endpoint);
    if (w && w->mon) {
        msg_trace_ev_t ev;
        monitor_push (w->mon,
                      msg_trace_ev_set (&ev, "fault", 0, (uint64_t)cmd->action,
                                        cmd->peer, "%s", text));
    }
}

static void
s_describe (const fault_cmd_t *cmd, char *buf, size_t len)
{
    switch (cmd->action) {
    case FAULT_ISOLATE:
        snprintf (buf, len, "isolate: every peer message dropped, both ways");
        break;
    case FAULT_DROP:
        snprintf (buf, len, "drop %s n%" PRIu64, fault_dir_name (cmd->dir),
                  cmd->peer);
        break;
    case FAULT_DELAY:
        if (cmd->peer)
            snprintf (buf, len, "delay %" PRIu32 " ms to n%" PRIu64, cmd->ms,
                      cmd->peer);
        else
            snprintf (buf, len, "delay %" PRIu32 " ms to every peer", cmd->ms);
        break;
    case FAULT_SLOW_FSYNC:
        snprintf (buf, len, "slow_fsync %" PRIu32 " ms", cmd->ms);
        break;
    case FAULT_CLEAR: snprintf (buf, len, "clear: no fault"); break;
    }
}

/* The peer must be another member: 0, or the status of the reply sent. */
static int
s_check_peer (http_req_t *c, raft_id_t peer)
{
    msg_api_req_t req = {.op = MSG_API_HEALTH};
    msg_api_rep_t rep;
    int st = http_ask (c, &req, &rep);
    if (st)
        return st;
    const msg_health_t *h = rep.kind == MSG_API_REP_HEALTH ? rep.health : NULL;
    bool member = false;
    char detail[160];
    if (h && peer == h->id) {
        snprintf (detail, sizeof detail, "n%" PRIu64 " is this node", peer);
    } else {
        for (size_t i = 0; h && i < h->n_members; i++)
            member = member || h->members[i].id == peer;
        snprintf (detail, sizeof detail,
                  "n%" PRIu64 " is not a member (see /health's members)", peer);
    }
    msg_api_rep_clear (&rep);
    return member ? 0 : http_reply_error (c, 400, "unknown_peer", detail);
}

static int
s_reply_state (http_req_t *c)
{
    fault_state_t st;
    fault_get (c->self->args.faults, &st);
    json_t *b =
        json_pack ("{s:b, s:o}", "ok", 1, "faults", http_fault_json (&st));
    if (!b)
        return http_reply_error (c, 500, "internal", "out of memory");
    return http_reply_json (c, 200, b, NULL);
}

int
http_debug_fault (http_req_t *c)
{
    if (strcmp (c->ri->request_method, "GET") == 0)
        return s_reply_state (c);
    char *body = NULL;
    size_t len = 0;
    int st = http_read_body (c, &body, &len);
    if (st)
        return st;
    fault_cmd_t cmd;
    http_parse_err_t err;
    int rc = http_parse_fault (body, len, &cmd, &err);
    free (body);
    if (rc != 0)
        return http_reply_parse_error (c, &err);
    if (cmd.peer && (st = s_check_peer (c, cmd.peer)))
        return st;
    if (fault_apply (c->self->args.faults, &cmd) != 0)
        return http_reply_error (c, 400, "bad_request",
                                 "faults name too many peers; clear first");
    char text[MSG_TRACE_TEXT_MAX];
    s_describe (&cmd, text, sizeof text);
    s_trace (c, &cmd, text);
    return s_reply_state (c);
}

int
http_debug_stop (http_req_t *c)
{
    char *body = NULL;
    size_t len = 0;
    int st = http_read_body (c, &body, &len); /* whatever it is: unused */
    if (st)
        return st;
    free (body);
    fault_cmd_t cmd = {.action = 0};
    s_trace (c, &cmd, "stop: graceful stop asked by POST /debug/stop");
    c->close = true;
    json_t *b = json_pack ("{s:b, s:b}", "ok", 1, "stopping", 1);
    st = http_reply_json (c, 200, b, NULL);
    /* Answered first: node_wait stops the node within its poll interval,
       and civetweb's stop waits for this worker to finish. */
    fault_ask_stop (c->self->args.faults);
    return st;
}
