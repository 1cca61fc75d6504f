/*  kvsm.h -- the KV state machine: what one committed command does to the
    KV data, as a pure function of the data and the entry's index.

    No LevelDB, I/O, clock, threads or randomness: the KV data is seen
    through a view (kvsm_view_t: get, put, delete a record by key), which
    the storage actor implements over its LevelDB batch and overlay
    (actors/storage_apply.c) and the simulator over an in-memory map on
    every simulated node (tests/sim/sim_kv.c). So the node and the
    simulator run the same code, and replicas that apply the same log
    through it reach the same records, metadata included (README, "The
    KV state machine").

    Records: each key holds a value and its metadata (etcd's
    create_revision, mod_revision and version):
      create_index  the log index of the entry that created the key
      mod_index     the log index of the last entry that changed it
      version       changes since creation: 1 after the create
    A delete removes the record; a later put creates it anew (version 1).
    {0, 0, 0} means "history unknown": a record written by a version-1
    command (the prototype's, or an older leader's) or converted from a
    format-1 database (store_format.h). A version-2 put on such a record
    keeps create_index 0 (still unknown), sets mod_index to its index and
    version to 1 (changes counted from the first one the log shows).
    Every rule is a function of the log alone, never of when a replica
    was upgraded, so replicas agree on metadata (/debug/digest covers it).

    Commands (decoded by msg/msg_kv.c, which owns their bytes):
      PUT key value [compares]   compares (the shorthands prev_value,
      DEL key [compares]         prev_index, prev_exist) must all hold,
                                 else nothing changes: COMPARE_FAILED
      TXN compares success failure   etcd's Txn: if every compare holds,
                                 the success ops run, else the failure
                                 ops; ops run in order, a get sees the
                                 puts and deletes before it
    Compares are checked here, at apply, never by the leader before
    proposing: only the apply order is linearizable.

    Client sessions (§6.3, kvsm_session.h): SOPEN and SCLOSE, and a
    PUT, DEL or TXN carrying (session, seq, ack); a duplicate is answered
    with its first reply and applies nothing.

    Leases (kvsm_lease.h): LGRANT and LREVOKE, and puts (also inside a
    TXN) attaching their key to a lease. Expiry is never decided here:
    the leader's lessor (store/lessor.h) proposes an LREVOKE when a
    lease's TTL runs out, and every replica deletes its keys at that
    entry.

    Per-apply effects: besides the reply (kvsm_result_t.resps), the
    result lists the keys the entry changed, in order (changes), for
    later parts of issue 15: watches turn them into events; the sessions
    it touched (sessions_touched) for the caller's storage; the leases
    it touched (leases_touched) likewise, and what it did to the lease
    table (lease_event) for the leader's lessor.
*/
#ifndef KVSM_H_INCLUDED
#define KVSM_H_INCLUDED

#include "raft.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Command versions: 1, the prototype's put/del (metadata {0, 0, 0}); 2,
   with versions, compares and transactions. A newer one is refused by
   kvsm_apply (KVSM_UNKNOWN_VERSION): the node must stop rather than
   skip it and diverge. */
#define KVSM_CMD_V1 1
#define KVSM_CMD_V2 2
/* Version 3: version 2 plus client sessions (§6.3, store/kvsm_session.h):
   SOPEN, SCLOSE, and writes carrying (session, seq, ack, stamp). Only
   such commands are written as 3, so a build that knows 2 alone stops
   at them ("upgrade this node") instead of skipping them and diverging. */
#define KVSM_CMD_V3 3
/* Version 4: version 3 plus leases (store/kvsm_lease.h): LGRANT,
   LREVOKE, and puts carrying a lease. Only such commands are written as
   4, for the same reason. */
#define KVSM_CMD_V4 4

/* Bounds a command's decoder enforces (msg/msg_kv.c), and the HTTP side
   with a 400 before: compares, and ops in each branch of a TXN. */
#define KVSM_TXN_MAX_CMPS 64
#define KVSM_TXN_MAX_OPS 64

typedef enum {
    KVSM_PUT = 1,
    KVSM_DEL = 2,
    KVSM_TXN = 3,
    KVSM_GET = 4,     /* inside a TXN only */
    KVSM_SOPEN = 5,   /* register a client session (kvsm_session.h) */
    KVSM_SCLOSE = 6,  /* close one */
    KVSM_LGRANT = 7,  /* grant a lease (kvsm_lease.h) */
    KVSM_LREVOKE = 8, /* revoke one: its keys are deleted */
} kvsm_op_t;

typedef enum {
    KVSM_T_VALUE = 1,
    KVSM_T_VERSION,
    KVSM_T_CREATE,
    KVSM_T_MOD,
    KVSM_T_EXISTS,
} kvsm_target_t;

typedef enum { KVSM_EQ = 1, KVSM_NE, KVSM_LT, KVSM_GT } kvsm_cmp_op_t;

typedef struct {
    uint64_t create_index, mod_index, version;
} kvsm_meta_t;

/* One compare: key's target op operand. A missing key has no value and
   metadata {0, 0, 0} (so "version == 0" also means absent, as in etcd);
   a value compare on a missing key is false whatever the op. */
typedef struct {
    raft_buf_t *key;
    kvsm_target_t target;
    kvsm_cmp_op_t op;
    raft_buf_t *value; /* KVSM_T_VALUE: compared bytewise (memcmp order) */
    uint64_t num;      /* VERSION, CREATE, MOD; EXISTS: 1 exists, 0 not */
} kvsm_cmp_t;

typedef struct {
    kvsm_op_t op; /* PUT, DEL or GET */
    raft_buf_t *key;
    raft_buf_t *value; /* PUT */
    uint64_t lease;    /* PUT (V4): attach the key to this lease; 0: none
                          (a put without a lease detaches the key, as in
                          etcd) */
} kvsm_txn_op_t;

typedef struct {
    unsigned version;        /* KVSM_CMD_V1 or V2 */
    kvsm_op_t op;            /* PUT, DEL or TXN */
    raft_buf_t *key, *value; /* PUT (both), DEL (key) */
    kvsm_cmp_t *cmps;        /* all must hold (V2 only) */
    size_t n_cmps;
    kvsm_txn_op_t *ops; /* TXN: n_success ops, then n_failure */
    size_t n_success, n_failure;
    /* Sessions (V3): SOPEN ttl_ms, stamp_ms; SCLOSE session, stamp_ms; a
       PUT, DEL or TXN with has_session: session, seq, ack, stamp_ms. */
    bool has_session;
    uint64_t session, seq, ack;
    uint64_t stamp_ms; /* the leader's wall clock at propose time */
    uint64_t ttl_ms;   /* SOPEN; LGRANT (the leader clamped it) */
    /* Leases (V4, kvsm_lease.h): PUT: the lease to attach the key to (0:
       none, the key is detached); LREVOKE: the lease; expired: the
       leader's lessor revoked it because its TTL ran out (else a client
       asked): it only shows in the reply and the trace. */
    uint64_t lease;
    bool expired;
} kvsm_cmd_t;

/* Free what a command holds (keys, values, arrays) and zero it. */
void kvsm_cmd_clear (kvsm_cmd_t *cmd);

/* A record as the view returns it. */
typedef struct {
    kvsm_meta_t meta;
    raft_buf_t *value; /* one ref, the caller's */
} kvsm_rec_t;

/* The KV data as kvsm sees it. get: 1 and *rec (the value one ref), 0
   absent, -1 the data cannot be read (the caller then stops). put and
   del: 0, or -1 (the same). A get sees every put and del before it, in
   the same entry or earlier ones. */
typedef struct kvsm_sessions kvsm_sessions_t; /* kvsm_session.h */
typedef struct kvsm_leases kvsm_leases_t;     /* kvsm_lease.h */

typedef struct {
    void *ctx;
    int (*get) (void *ctx, const raft_buf_t *key, kvsm_rec_t *rec);
    int (*put) (void *ctx, const raft_buf_t *key, const kvsm_meta_t *meta,
                const raft_buf_t *value);
    int (*del) (void *ctx, const raft_buf_t *key);
    /* The session table (kvsm_session.h), the caller's, changed in place;
       NULL: a command with a session fails the apply (-1). */
    kvsm_sessions_t *sessions;
    /* The lease table (kvsm_lease.h), the caller's, changed in place;
       NULL: a command using leases fails the apply (-1). */
    kvsm_leases_t *leases;
} kvsm_view_t;

/* One op's answer, as the single-op replies show it. */
typedef struct {
    kvsm_op_t op;      /* PUT, DEL or GET */
    raft_buf_t *key;   /* one ref */
    bool found;        /* PUT: the key existed before; DEL: it existed (and
                        is gone); GET: it exists */
    kvsm_meta_t meta;  /* PUT: the record after; DEL: the one deleted;
                         GET: the record */
    raft_buf_t *value; /* GET, found: one ref */
} kvsm_resp_t;

/* One key the entry changed (a per-apply effect: watches' events). */
typedef struct {
    raft_buf_t *key;   /* one ref */
    bool deleted;      /* else put */
    bool existed;      /* the key existed before this change */
    kvsm_meta_t meta;  /* after a put; a delete: the record deleted */
    raft_buf_t *value; /* a put's value, one ref (watches' events) */
} kvsm_change_t;

typedef enum {
    KVSM_OK = 0,
    KVSM_COMPARE_FAILED,  /* a PUT or DEL whose compares did not hold:
                            resps[0] is a GET of its key (the current
                            record, or not found); nothing changed */
    KVSM_UNKNOWN_VERSION, /* a command version this build does not know */
    /* Sessions (kvsm_session.h): nothing applied, nothing changed but
       the session table's clock and expiries. */
    KVSM_SESSION_EXPIRED, /* no such session: expired, closed or never
                             opened */
    KVSM_SESSION_STALE,   /* seq <= the session's ack: its reply is gone */
    KVSM_SESSION_WINDOW,  /* seq beyond ack + KVSM_SESSION_KEPT_MAX */
    KVSM_SESSION_LIMIT,   /* SOPEN while KVSM_SESSIONS_MAX are open */
    /* Leases (kvsm_lease.h): nothing applied, nothing changed
       (succeeded still says whether the compares held: which branch of
       a TXN was refused). */
    KVSM_LEASE_NOT_FOUND, /* a put naming a lease that does not exist
                             (revoked, expired, never granted), or
                             LREVOKE of one */
    KVSM_LEASE_LIMIT,     /* LGRANT while KVSM_LEASES_MAX exist, or a put
                             beyond KVSM_LEASE_KEYS_MAX attached keys */
} kvsm_status_t;

#define KVSM_STATUS_MAX KVSM_LEASE_LIMIT

typedef struct {
    kvsm_status_t status;
    kvsm_op_t op;       /* the command's: PUT, DEL or TXN */
    bool succeeded;     /* every compare held (true without compares) */
    kvsm_resp_t *resps; /* PUT, DEL: one; TXN: one per op of the branch
                           taken */
    size_t n_resps;
    kvsm_change_t *changes; /* in order; none when nothing changed */
    size_t n_changes;
    /* Sessions: SOPEN's id (the entry's index) and TTL; duplicate: the
       reply is the kept one of an earlier entry (nothing applied). */
    uint64_t session, ttl_ms;
    bool duplicate;
    uint64_t first_index; /* duplicate: the entry that applied it (what
                             the reply's "index" shows) */
    /* the sessions whose record changed (kept again, or gone: look them
       up in the table), for the caller's storage; clock_changed: the
       table's clock moved */
    uint64_t *sessions_touched;
    size_t n_sessions_touched;
    bool clock_changed;
    /* Leases: LGRANT: lease (the entry's index) and lease_ttl_ms;
       LREVOKE: lease, expired (the command's), and the deleted keys are
       the changes. lease_event tells the leader's lessor (store/lessor.h)
       what the entry did to the table: a grant or a revoke (KVSM_OK
       only). leases_touched: the leases whose record changed (granted,
       revoked, keys attached or detached), for the caller's storage. */
    uint64_t lease, lease_ttl_ms;
    bool expired;
    enum {
        KVSM_LEASE_EV_NONE = 0,
        KVSM_LEASE_EV_GRANTED,
        KVSM_LEASE_EV_REVOKED
    } lease_event;
    uint64_t *leases_touched;
    size_t n_leases_touched;
    /* LREVOKE: how many keys it deleted (its changes; the reply carries
       the count, not the keys, which may be KVSM_LEASE_KEYS_MAX) */
    uint64_t lease_deleted;
} kvsm_result_t;

void kvsm_result_clear (kvsm_result_t *res);

/* Apply cmd, the command of the entry at index, through view; *res says
   what happened (release it with kvsm_result_clear). 0, or -1 when the
   view failed or memory ran out: the entry may be half applied through
   view, so the caller must throw its batch away and stop.
   REQUIRES: index >= 1; cmd decoded by msg_kv_decode (or built alike). */
int kvsm_apply (const kvsm_view_t *view, raft_index_t index,
                const kvsm_cmd_t *cmd, kvsm_result_t *res);

/* Does rec (found: exists) satisfy c? Exposed for the simulator's
   reference model and the tests. */
bool kvsm_compare (const kvsm_cmp_t *c, bool found, const kvsm_rec_t *rec);

const char *kvsm_target_name (kvsm_target_t t);
const char *kvsm_cmp_op_name (kvsm_cmp_op_t op);

#endif
