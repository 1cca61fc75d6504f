/*  kvsm_session.h -- client sessions in the KV state machine: exactly-once
    writes (the dissertation's §6.3, "Implementing linearizable
    semantics"; LogCabin's client sessions).

    A client registers a session (SOPEN, a log entry); its id is the log
    index of that entry: unique and assigned by the log, as §6.3 says.
    Each write it then sends carries (session, seq, ack): seq numbers its
    requests from 1, ack says the client has seen the reply of every seq
    <= ack. The state machine keeps, per session, the replies of the seqs
    it applied above ack (at most KVSM_SESSION_KEPT_MAX), so a retry of a
    request that was applied (the first attempt timed out, a leader
    changed) gets the first reply and changes nothing.

      seq <= ack                      KVSM_SESSION_STALE (the client said
                                      it has the reply: a client bug)
      a kept seq                      its first reply, res->duplicate
      seq > ack + KEPT_MAX            KVSM_SESSION_WINDOW, not applied
      otherwise                       applied; the reply kept
      no such session                 KVSM_SESSION_EXPIRED, not applied

    Expiry, deterministic: the leader stamps every session command with
    its wall clock (ms) when it proposes it. The table's clock is the max
    of the stamps applied (it never goes back, whatever the skew between
    leaders' clocks). At the apply of each stamped entry, after the clock
    moves: the session the entry names expires if last + ttl < clock,
    and so do up to KVSM_SESSION_EXPIRE_PER_ENTRY others, in id order.
    Nothing else (no local clock, no follower's timer) ever expires a
    session, so every replica expires the same sessions at the same
    index. A session's last activity is the clock after its SOPEN and
    after each request naming it that is not stale (a duplicate and a
    window refusal count: the client is alive).

    The table lives in memory, owned by the caller (the storage actor, a
    simulated node); kvsm changes it in place and lists in the result
    the sessions it touched, which the caller persists (one LevelDB key
    per session, store_format.h) and puts in snapshots (msg_kv_session.c).
    Bounded: KVSM_SESSIONS_MAX sessions, KEPT_MAX replies each.
*/
#ifndef KVSM_SESSION_H_INCLUDED
#define KVSM_SESSION_H_INCLUDED

#include "kvsm.h"

#define KVSM_SESSION_KEPT_MAX 64
#define KVSM_SESSIONS_MAX 4096
#define KVSM_SESSION_EXPIRE_PER_ENTRY 16
#define KVSM_SESSION_TTL_DEFAULT_MS 120000
#define KVSM_SESSION_TTL_MAX_MS (7ULL * 24 * 3600 * 1000)

typedef struct {
    uint64_t seq;
    uint64_t index;    /* the entry that applied it */
    kvsm_result_t res; /* the reply: status, op, succeeded, resps */
} kvsm_reply_t;

typedef struct {
    uint64_t id;           /* the SOPEN entry's index */
    uint64_t ttl_ms;       /* from the SOPEN (the leader's --session-ttl-ms) */
    uint64_t last_ms;      /* the table clock at its last activity */
    uint64_t acked;        /* the highest ack seen: replies <= it are dropped */
    kvsm_reply_t *replies; /* by seq, each > acked */
    size_t n_replies;
} kvsm_session_t;

struct kvsm_sessions {
    uint64_t clock_ms; /* max stamp applied */
    kvsm_session_t *v; /* by id */
    size_t n, cap;
};

kvsm_sessions_t *kvsm_sessions_new (void);
void kvsm_sessions_destroy (kvsm_sessions_t **self_p);
/* A deep copy (NULL: out of memory). */
kvsm_sessions_t *kvsm_sessions_dup (const kvsm_sessions_t *self);
/* Same clock, sessions and kept replies? */
bool kvsm_sessions_eq (const kvsm_sessions_t *a, const kvsm_sessions_t *b);
kvsm_session_t *kvsm_sessions_find (const kvsm_sessions_t *self, uint64_t id);
/* Add s (taken, also on failure; its id not present): 0 or -1. For the
   decoders (LevelDB, snapshots). */
int kvsm_sessions_insert (kvsm_sessions_t *self, kvsm_session_t *s);
void kvsm_session_clear (kvsm_session_t *s);

/* Copy src's reply (status, op, succeeded, resps; not the changes nor
   the session fields) into dst, zeroed first: 0 or -1. */
int kvsm_reply_copy (kvsm_result_t *dst, const kvsm_result_t *src);

/*  Called by kvsm_apply (kvsm.c) only.                                 */

/* Move the clock to stamp and expire what is due (see above). */
int kvsm_session_stamp (kvsm_sessions_t *t, uint64_t stamp_ms,
                        kvsm_result_t *res);
int kvsm_session_open (kvsm_sessions_t *t, raft_index_t index, uint64_t ttl_ms,
                       kvsm_result_t *res);
int kvsm_session_close (kvsm_sessions_t *t, uint64_t id, kvsm_result_t *res);
/* Before cmd's write: 0 and *s (go on and apply), 1 (answered in res: a
   refusal, or the kept reply of a duplicate, *dup set), -1 (memory). */
int kvsm_session_check (kvsm_sessions_t *t, const kvsm_cmd_t *cmd,
                        kvsm_result_t *res, kvsm_session_t **s, bool *dup);
/* After the write: keep res's reply as seq's. 0 or -1. */
int kvsm_session_record (kvsm_sessions_t *t, uint64_t id, uint64_t seq,
                         raft_index_t index, kvsm_result_t *res);

#endif
