/*  storage_sessions.c -- client sessions (store/kvsm_session.h) in the
    storage actor: the table in memory next to LevelDB (store_session.h),
    what each apply touched written in the apply's batch, the table of an
    installed snapshot replacing ours in the switch's batch, and the HTTP
    status of each result. (Not the "sessions" of storage_snapshot.c,
    which are copies being sent to a follower.)
*/
#include "storage_int.h"

#include "msg_kv_session.h"
#include "store_session.h"

#include <stdlib.h>

unsigned
storage_kv_status (const kvsm_result_t *res)
{
    switch (res->status) {
    case KVSM_OK: return 200;
    case KVSM_COMPARE_FAILED: return 412;
    case KVSM_SESSION_EXPIRED: return 410;
    case KVSM_SESSION_STALE: return 400;
    case KVSM_SESSION_WINDOW: return 429;
    case KVSM_SESSION_LIMIT: return 503;
    case KVSM_LEASE_NOT_FOUND: return 404;
    case KVSM_LEASE_LIMIT: return 503;
    case KVSM_UNKNOWN_VERSION: break;
    }
    return 500;
}

int
storage_sessions_write (storage_t *self, store_batch_t *b,
                        const kvsm_result_t *res)
{
    for (size_t i = 0; i < res->n_sessions_touched; i++)
        if (store_batch_session (b, self->sessions, res->sessions_touched[i]) !=
            0) {
            storage_fail (self, "session %llu cannot be encoded",
                          (unsigned long long)res->sessions_touched[i]);
            return -1;
        }
    if (res->clock_changed)
        store_batch_sessions_clock (b, self->sessions->clock_ms);
    return 0;
}

void
storage_sessions_stage (storage_t *self, const raft_snapshot_chunk_t *c)
{
    if (c->chunk == 0) {
        raft_buf_unref (self->install.sessions);
        self->install.sessions = NULL;
    }
    raft_buf_t *t = msg_snap_sessions (c->data->data, c->data->len);
    if (t) {
        raft_buf_unref (self->install.sessions);
        self->install.sessions = t;
    }
}

bool
storage_sessions_install (storage_t *self, raft_index_t index)
{
    raft_buf_t *b = self->install.sessions;
    kvsm_sessions_t *t =
        b ? msg_kv_sessions_decode (b->data, b->len) : kvsm_sessions_new ();
    char *err = NULL;
    if (!t) {
        storage_fail (self, "snapshot %llu: its session table is malformed",
                      (unsigned long long)index);
        return false;
    }
    if (store_batch_sessions_replace (self->store, self->log_batch,
                                      self->sessions, t, &err) != 0) {
        storage_fail (self, "snapshot %llu: sessions: %s",
                      (unsigned long long)index, err);
        free (err);
        kvsm_sessions_destroy (&t);
        return false;
    }
    kvsm_sessions_destroy (&self->sessions);
    self->sessions = t;
    raft_buf_unref (self->install.sessions);
    self->install.sessions = NULL;
    return true;
}
