/*  raft_types.h -- the values the consensus core speaks in (raft.h is its
    API): ids, terms and indexes and their bounds, return codes,
    reference-counted payload buffers, configurations, log entries and
    messages. Pure C, like the rest of the core.
*/
#ifndef RAFT_TYPES_H_INCLUDED
#define RAFT_TYPES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest term and index the core ever takes (2^62): real clusters never
   come near, and the bound keeps term + 1 from overflowing. A server whose
   term reached RAFT_TERM_MAX does not campaign.

   A term that arrives in a message is taken only if it is at most
   RAFT_TERM_ACCEPT_MAX (2^61) or at most one above the receiver's own.
   Real terms grow by one per election, so the second rule never refuses a
   real one; the first means a forged term (from a stranger, with
   --insecure-peers) can lift a cluster to 2^61 at most, and from there
   only one by one, as elections do: 2^61 elections remain before
   RAFT_TERM_MAX, so no term value, however large, can leave a cluster
   unable to elect. A message whose term is refused still moves its
   receiver one step towards it (to 2^61, or one above its own), and is
   dropped: a server that was away while a forged term lifted the others
   past 2^61 + 1 climbs back to their term with the messages it gets
   from them, instead of being shut out for ever. */
#define RAFT_TERM_MAX ((uint64_t)1 << 62)
#define RAFT_TERM_ACCEPT_MAX ((uint64_t)1 << 61)
#define RAFT_INDEX_MAX ((uint64_t)1 << 62)
typedef uint64_t raft_id_t; /* server id; 0 means "none" */
typedef uint64_t raft_term_t;
typedef uint64_t raft_index_t;

/* Return codes of the request functions. */
enum {
    RAFT_OK = 0,
    RAFT_ERR_NOT_LEADER = -1,     /* not the leader: nothing was proposed */
    RAFT_ERR_TRANSFERRING = -2,   /* leadership transfer under way (§3.10) */
    RAFT_ERR_CONF_PENDING = -3,   /* a configuration change is uncommitted */
    RAFT_ERR_NOT_CAUGHT_UP = -4,  /* learner not yet caught up (§4.2.1) */
    RAFT_ERR_UNKNOWN_SERVER = -5, /* no such server in the configuration */
    RAFT_ERR_INVALID = -6,        /* bad argument */
    RAFT_ERR_NOT_READY = -7,      /* leader has not committed in its term yet */
    RAFT_ERR_TOO_MANY = -8,       /* configuration full (RAFT_MAX_SERVERS) */
};

const char *raft_strerror (int rc);

/*  ---------------------------------------------------------------------
    Reference-counted immutable payload buffers                          */

typedef struct raft_buf {
    uint32_t refs;
    size_t len;
    uint8_t data[];
} raft_buf_t;

/* New buffer holding a copy of data (len bytes; data may be NULL for len 0),
   with one reference owned by the caller. Returns NULL on allocation failure. */
raft_buf_t *raft_buf_new (const void *data, size_t len);
raft_buf_t *raft_buf_ref (raft_buf_t *buf);
void raft_buf_unref (raft_buf_t *buf);

/*  ---------------------------------------------------------------------
    Configuration (§4.1): the set of servers, as carried by RAFT_ENTRY_CONF
    entries. The core treats addr as an opaque string (the node stores its
    peer and HTTP addresses there) and only compares it.                  */

#define RAFT_MAX_SERVERS 32
#define RAFT_ADDR_MAX 128

typedef struct {
    raft_id_t id;
    bool voter;               /* false: non-voting learner (§4.2.1) */
    char addr[RAFT_ADDR_MAX]; /* NUL-terminated, opaque to the core */
} raft_server_t;

typedef struct {
    uint32_t n;
    raft_server_t servers[RAFT_MAX_SERVERS];
} raft_conf_t;

const raft_server_t *raft_conf_get (const raft_conf_t *conf, raft_id_t id);
uint32_t raft_conf_voters (const raft_conf_t *conf);
bool raft_conf_equal (const raft_conf_t *a, const raft_conf_t *b);

/*  ---------------------------------------------------------------------
    Log entries                                                          */

typedef enum {
    RAFT_ENTRY_NORMAL = 0, /* client command; data is the caller's */
    RAFT_ENTRY_NOOP = 1,   /* appended by a new leader (§6.4, §3.6.2) */
    RAFT_ENTRY_CONF = 2,   /* data holds one raft_conf_t, byte for byte */
} raft_entry_type_t;

typedef struct {
    raft_term_t term;
    raft_index_t index;
    raft_entry_type_t type;
    raft_buf_t *data; /* may be NULL for NOOP */
} raft_entry_t;

/* For a RAFT_ENTRY_CONF entry: its configuration, or NULL if malformed. */
const raft_conf_t *raft_entry_conf (const raft_entry_t *e);

/*  ---------------------------------------------------------------------
    Messages (the RPCs of Figure 3.1 plus §9.6 pre-vote, §3.10 TimeoutNow,
    and separate heartbeats that carry ReadIndex rounds, §6.4)           */

typedef enum {
    RAFT_MSG_APPEND = 1,      /* AppendEntries request */
    RAFT_MSG_APPEND_RESP,     /* AppendEntries response */
    RAFT_MSG_VOTE,            /* RequestVote request */
    RAFT_MSG_VOTE_RESP,       /* RequestVote response */
    RAFT_MSG_PREVOTE,         /* §9.6 pre-vote request (term = term + 1) */
    RAFT_MSG_PREVOTE_RESP,    /* §9.6 pre-vote response */
    RAFT_MSG_HEARTBEAT,       /* empty AppendEntries, carries commit and ctx */
    RAFT_MSG_HEARTBEAT_RESP,  /* echoes ctx (ReadIndex round) */
    RAFT_MSG_TIMEOUT_NOW,     /* §3.10: start an election now */
    RAFT_MSG_SNAPSHOT,        /* §5.3 InstallSnapshot, one chunk */
    RAFT_MSG_SNAPSHOT_RESP,   /* acknowledges a chunk */
    RAFT_MSG_READ_INDEX,      /* §6.4: a follower asks the leader for a read
                                index (ctx: the follower's read) */
    RAFT_MSG_READ_INDEX_RESP, /* the read index (index), or reject */
    RAFT_MSG_TYPE_MAX
} raft_msg_type_t;

typedef struct {
    raft_msg_type_t type;
    raft_id_t from;
    raft_id_t to;
    raft_term_t term;

    /* APPEND: entries follow (prev_index, prev_term); commit is leaderCommit.
       HEARTBEAT: commit only. VOTE/PREVOTE: (prev_index, prev_term) is the
       candidate's (lastLogIndex, lastLogTerm). */
    raft_index_t prev_index;
    raft_term_t prev_term;
    raft_index_t commit;
    raft_entry_t *entries; /* owned by the message (one ref each) */
    size_t n_entries;

    /* APPEND_RESP: reject=false: the follower's log matches the leader's up
       to index. reject=true: no match at the request's prev_index (echoed in
       index); hint_index/hint_term let the leader skip a whole conflicting
       term at once (§3.5 "accelerated log backtracking").
       VOTE_RESP/PREVOTE_RESP: reject=false means granted. */
    bool reject;
    raft_index_t index;
    raft_index_t hint_index;
    raft_term_t hint_term;

    /* VOTE/PREVOTE: set when the election follows a TimeoutNow (§3.10), so
       that voters disregard their leader lease (§4.2.3). */
    bool transfer;

    /* HEARTBEAT/HEARTBEAT_RESP: ReadIndex round number, echoed (§6.4).
       READ_INDEX/READ_INDEX_RESP: the follower's read, echoed; the
       response's index is the read index, reject says the leader could not
       serve it (not the leader, or lost leadership first).
       SNAPSHOT: the chunk number, from 0. SNAPSHOT_RESP: the next chunk
       wanted. */
    uint64_t ctx;

    /* SNAPSHOT (Figure 5.3, in chunks): prev_index and prev_term are the
       snapshot's last included index and term; entries[0] (n_entries 1) is
       a CONF entry at prev_index holding the configuration at that index;
       data is the chunk's bytes, opaque to the core; done marks the last
       chunk. The core sends chunks without data, entries or done, and
       chunk 0 with prev_index and prev_term 0: the sender's caller fills
       them in from its snapshot (raft_ready). SNAPSHOT_RESP: prev_index
       and prev_term echo the snapshot; reject asks the leader to start
       over at chunk 0 (the follower lost its staged chunks). */
    raft_buf_t *data; /* owned by the message (one ref) */
    bool done;
} raft_msg_t;

const char *raft_msg_type_name (raft_msg_type_t type);

/* Release the entries a message owns (for messages the caller built). */
void raft_msg_clear (raft_msg_t *m);

#ifdef __cplusplus
}
#endif

#endif
