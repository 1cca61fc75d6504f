/*  store_session.h -- client sessions (store/kvsm_session.h) in LevelDB:
    one key per session and one for the table's clock (store_format.h,
    "Sessions"):

        's' id  (9 bytes)  a session: msg_kv_session_encode bytes
                           (msg/msg_kv_session.h); id is be64
        'S'     (1 byte)   the table's clock: be64 ms (absent: 0)

    Outside the KV generations: the storage actor keeps the table in
    memory (loaded at start), writes each session an entry touched in the
    same batch as the entry's KV changes and applied index, and replaces
    them all in the batch that switches to an installed snapshot.
*/
#ifndef STORE_SESSION_H_INCLUDED
#define STORE_SESSION_H_INCLUDED

#include "kvsm_session.h"
#include "store.h"

#include <leveldb/c.h>

#define STORE_KEY_SESSION 's'
#define STORE_KEY_SESSION_CLOCK 'S'
#define STORE_SESSION_KEY_LEN 9

/* The table as stored (ro: NULL for the store's own read options, or a
   snapshot's). 0 and *out (kvsm_sessions_destroy), or -1 and *err. */
int store_sessions_read (store_t *self, const leveldb_readoptions_t *ro,
                         kvsm_sessions_t **out, char **err);

/* Session id as t holds it now: written if present, deleted if not. */
int store_batch_session (store_batch_t *b, const kvsm_sessions_t *t,
                         uint64_t id);
void store_batch_sessions_clock (store_batch_t *b, uint64_t clock_ms);
/* Replace every stored session (as read now, and those of old, which
   may hold some not written yet) with new_t's. 0, or -1 and *err. */
int store_batch_sessions_replace (store_t *self, store_batch_t *b,
                                  const kvsm_sessions_t *old,
                                  const kvsm_sessions_t *new_t, char **err);

/* The session table of snapshot copy sn's instant (msg_kv_sessions_encode),
   or NULL when it is empty (store_snapshot.c). Borrowed. */
const raft_buf_t *store_snap_sessions (store_snap_t *sn);

#endif
