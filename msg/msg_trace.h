/*  msg_trace.h -- trace events: from an actor to its node's monitor, and
    from the monitor to `nsxctl trace` (and any other subscriber).

    Wire format, version 1. "uint" is any msgpack positive integer, "str"
    a msgpack str (fixstr, str8, str16 or str32). Decoding refuses anything
    else: another frame count, trailing bytes, another version, an element
    of the wrong type, an array of the wrong length, a string too long or
    holding a NUL. The encoders apply the same rules, so whatever they
    produce decodes.

    actor -> monitor: inproc PUSH (the actor) to PULL (the monitor binds),
    one zframe holding one msgpack array of 6 elements:

      [1, kind, term, a, b, text]
          1       positive fixint 0x01 (the version)
          kind    str, 1 to MSG_TRACE_KIND_MAX - 1 bytes of [a-z0-9_]
                  (it is also the PUB topic, so subscribers filter on it)
          term    uint, the sender's current term (0 if it has none)
          a, b    uint, meaning per kind (below)
          text    str, 0 to MSG_TRACE_TEXT_MAX - 1 bytes, no NUL

      e.g. a "commit" from 4 to 7 in term 3, text "":
          96 01 a6 'c' 'o' 'm' 'm' 'i' 't' 03 04 07 a0

    monitor -> subscribers: PUB, two zframes:

      frame 1: the topic, the kind's bytes (no terminator), so that a SUB
               subscribing to "commit" gets commits only. A subscription
               is a prefix: "election" gets election_start/won/lost.
      frame 2: one msgpack array of 10 elements:
      [1, node, seq, wall_us, mono_us, term, kind, a, b, text]
          1        positive fixint 0x01 (the version)
          node     uint, the publishing node's id (not 0)
          seq      uint, from 1, one per event the monitor received, per
                   node process: a gap tells a subscriber it lost events;
                   a seq lower than the last one seen means a restart
          wall_us  uint, CLOCK_REALTIME when the monitor stamped it, in
                   microseconds since the Unix epoch (merge across nodes)
          mono_us  uint, CLOCK_MONOTONIC at the same moment, microseconds
                   (intervals within one node, immune to clock steps)
          term, kind, a, b, text   as in the actor's event
      The topic frame must equal kind; a message where they differ is
      malformed.

    Kinds and the meaning of a and b:
      core events (raft_event_name (ev->type), raft.h):
        role              a = raft_role_t (0 follower, 1 precandidate,
                          2 candidate, 3 leader), b = leader id (0 none)
        term              a = new term
        election_start    a = 1 pre-vote round, 0 real election
        election_won      a = pre-vote flag, b = votes
        election_lost     a = pre-vote flag, b = rejections
        commit            a = old commit index, b = new commit index
        append            a = first index, b = last index
        truncate          a = first index removed
        conf              a = index of the configuration now in effect,
                          b = servers in it
        read_round        a = round, b = reads confirmed
        transfer          a = target, b = 1 start, 0 abort, 2 TimeoutNow sent
        check_quorum_lost a = active voters seen
      other sources:
        peer_link         a = peer id, b = 1 up, 0 down
        http              text "METHOD /path status", a = latency in us
        slow_fsync        a = duration in us, b = entries synced
        apply             a = first index applied, b = last index applied
        monitor           text "up": the monitor started (its seq is 1)
        msg_send          a Raft message handed to the transport (or to
                          storage, to leave once durable): a = to, b =
                          raft_msg_type_t, text its name and detail
                          ("append 5..7", "vote_resp granted")
        msg_recv          a Raft message taken in: a = from, b, text as
                          msg_send (raft_actor_trace.c; for the /ui page)
        fault             an injected fault set (--enable-faults, POST
                          /debug/fault): a = the action (actors/fault.h:
                          1 isolate, 2 drop, 3 delay, 4 slow_fsync,
                          5 clear; 0 /debug/stop), b = the peer or 0,
                          text what it does, e.g. "drop both n2"
      Any other kind is valid on the wire and shown with raw a and b.
*/
#ifndef MSG_TRACE_H_INCLUDED
#define MSG_TRACE_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_TRACE_KIND_MAX 32  /* kind[]: at most 31 bytes and a NUL */
#define MSG_TRACE_TEXT_MAX 160 /* text[]: at most 159 bytes and a NUL */

/* One event as an actor reports it. kind and text are NUL-terminated. */
typedef struct {
    char kind[MSG_TRACE_KIND_MAX];
    uint64_t term, a, b;
    char text[MSG_TRACE_TEXT_MAX];
} msg_trace_ev_t;

/* One event as the monitor publishes it. */
typedef struct {
    uint64_t node;
    uint64_t seq;
    uint64_t wall_us;
    uint64_t mono_us;
    msg_trace_ev_t ev;
} msg_trace_t;

/* Fill ev, truncating kind and text to fit (text is printf-formatted;
   fmt may be NULL for none). Returns ev. A kind that is empty or not
   [a-z0-9_] still fails msg_trace_ev_encode: callers pass literals. */
msg_trace_ev_t *msg_trace_ev_set (msg_trace_ev_t *ev, const char *kind,
                                  uint64_t term, uint64_t a, uint64_t b,
                                  const char *fmt, ...)
    __attribute__ ((format (printf, 6, 7)));

/* NULL if ev breaks the rules above (or out of memory). */
zmsg_t *msg_trace_ev_encode (const msg_trace_ev_t *ev);
/* 0, or -1 with *ev zeroed if zm is not exactly one valid frame. */
int msg_trace_ev_decode (zmsg_t *zm, msg_trace_ev_t *ev);

/* Two frames, topic and body. NULL if t breaks the rules (node 0, seq 0,
   a bad kind or text) or out of memory. */
zmsg_t *msg_trace_encode (const msg_trace_t *t);
/* 0, or -1 with *t zeroed if zm is not exactly two valid frames. */
int msg_trace_decode (zmsg_t *zm, msg_trace_t *t);

/* One readable line, no newline, e.g.
       16:40:01.123456  n2  #17  term 3  role  leader (leader n2)
   The time is UTC (as log.h's lines), to the microsecond. Control bytes
   in text are shown as '?'. Returns what snprintf returns. */
int msg_trace_render (const msg_trace_t *t, char *buf, size_t size);

/* One JSON object on one line (no newline), malloc'ed (free it), or NULL
   on out of memory:
       {"node":2,"seq":17,"wall_us":..,"mono_us":..,"time":"2026-..Z",
        "term":3,"kind":"role","a":3,"b":2,"text":"","what":"leader ..."}
   "what" is the meaning msg_trace_render shows; integers above 2^63 - 1
   are clamped to it (jansson's json_int_t is signed); text that is not UTF-8 has its bytes >=
   0x80 replaced by '?'. */
char *msg_trace_json (const msg_trace_t *t);

#endif
