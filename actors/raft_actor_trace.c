/*  raft_actor_trace.c -- one trace event per Raft message sent or taken
    in (issue 16: the /ui page draws them as they flow): "msg_send" (a =
    to) and "msg_recv" (a = from), b = the message's type
    (raft_msg_type_t), text its name and what a student looks at: the
    entries an append carries, whether a vote was granted
    (msg/msg_trace.h). Nothing is made while nobody listens to the
    monitoring socket (monitor_listened).
*/
#include "raft_actor_int.h"

#include "monitor.h"

#include <stdio.h>

void
ra_trace_msg (ra_self_t *self, bool sent, const raft_msg_t *m)
{
    if (!self->mon || !self->r || !monitor_listened ())
        return;
    char detail[64] = "";
    switch (m->type) {
    case RAFT_MSG_APPEND:
        if (m->n_entries)
            snprintf (detail, sizeof detail, " %llu..%llu",
                      (unsigned long long)m->prev_index + 1,
                      (unsigned long long)(m->prev_index + m->n_entries));
        break;
    case RAFT_MSG_APPEND_RESP:
        snprintf (detail, sizeof detail,
                  m->reject ? " reject %llu" : " ok %llu",
                  (unsigned long long)m->index);
        break;
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE_RESP:
        snprintf (detail, sizeof detail, "%s",
                  m->reject ? " rejected" : " granted");
        break;
    case RAFT_MSG_SNAPSHOT:
        snprintf (detail, sizeof detail, " chunk %llu",
                  (unsigned long long)m->ctx);
        break;
    default: break;
    }
    /* The event's term is the node's (msg_trace.h), not the message's: a
       pre-vote asks for term + 1 without taking it (§9.6). */
    raft_status_t st;
    raft_status (self->r, &st);
    msg_trace_ev_t ev;
    msg_trace_ev_set (&ev, sent ? "msg_send" : "msg_recv", st.term,
                      sent ? m->to : m->from, (uint64_t)m->type, "%s%s",
                      raft_msg_type_name (m->type), detail);
    monitor_push (self->mon, &ev);
}
