/*  storage_boot.c -- the storage actor's start: open the database,
    write the bootstrap state into a new one, and queue "boot" (or
    "error") for the raft actor. See storage.c for the protocol.
*/
#include "storage_int.h"

#include "store_lease.h"
#include "store_session.h"

#include "log.h"

#include <stdlib.h>

/* Open the database, write the bootstrap state into a new one, queue
   "boot". On failure, queue "error" instead. */
void
storage_open (storage_t *self, const storage_args_t *args)
{
    char *err = NULL;
    self->store = store_open (args->data_dir, &err);
    if (!self->store) {
        storage_fail (self, "cannot open the database in %s: %s",
                      args->data_dir ? args->data_dir : "(null)", err);
        free (err);
        return;
    }
    store_state_t st;
    if (store_load (self->store, &st, &err) != 0) {
        storage_fail (self, "cannot load %s: %s", args->data_dir, err);
        free (err);
        return;
    }
    if (st.upgraded)
        log_info ("storage: upgraded the database from format 1 to 2: %llu "
                  "KV values became records with an unknown history "
                  "(store_format.h)",
                  (unsigned long long)st.upgraded_keys);
    if (st.fresh) {
        /* A new database: stamp it, and for a founding server write the
           bootstrap entry with term 1, as every founding server does, so
           that Log Matching holds from the start (raft.h). A joining
           server starts empty and learns the log from the leader. */
        raft_hard_state_t hs = {0, 0};
        raft_entry_t e = {0};
        if (args->bootstrap) {
            e = raft_bootstrap_entry (args->bootstrap);
            hs.term = 1;
            if (!raft_entry_conf (&e)) {
                raft_buf_unref (e.data);
                storage_fail (self, "the bootstrap configuration is invalid");
                return;
            }
        }
        int rc =
            store_create (self->store, &hs, &e, args->bootstrap ? 1 : 0, &err);
        raft_buf_unref (e.data);
        if (rc != 0) {
            storage_fail (self, "cannot initialise %s: %s", args->data_dir,
                          err);
            free (err);
            return;
        }
        log_info ("storage: new database in %s%s", args->data_dir,
                  args->bootstrap ? ", bootstrapped" : "");
        /* Boot from what is on disk now, not from what we meant to write. */
        if (store_load (self->store, &st, &err) != 0) {
            storage_fail (self, "cannot load %s: %s", args->data_dir, err);
            free (err);
            return;
        }
    }
    kvsm_sessions_destroy (&self->sessions);
    if (store_sessions_read (self->store, NULL, &self->sessions, &err) != 0) {
        storage_fail (self, "cannot load the client sessions: %s", err);
        free (err);
        store_state_clear (&st);
        return;
    }
    kvsm_leases_destroy (&self->leases);
    if (store_leases_read (self->store, NULL, &self->leases, &err) != 0) {
        storage_fail (self, "cannot load the leases: %s", err);
        free (err);
        store_state_clear (&st);
        return;
    }
    self->base_index = st.base.index;
    self->last_index =
        st.n_entries ? st.entries[st.n_entries - 1].index : st.base.index;
    self->applied = st.applied;
    self->applied_term = st.applied_term;
    for (size_t i = 0; i < st.n_entries; i++)
        if (st.entries[i].index > st.applied &&
            !storage_tail_push (self, &st.entries[i])) {
            storage_fail (self, "out of memory at start");
            store_state_clear (&st);
            return;
        }
    /* Generations older than the current one are garbage: a restart may
       have cut their deletion short (housekeeping goes on with them). */
    for (uint64_t g = store_gen (self->store), k = 1; k <= 2 && g >= k; k++)
        self->cleanup_gen[self->n_cleanup++] = g - k;
    self->space = storage_space_new (self->store, self->quota_bytes);
    if (!self->space) {
        storage_fail (self, "out of memory at start");
        store_state_clear (&st);
        return;
    }
    log_info ("storage: opened %s: term %llu, vote %llu, %zu log entries "
              "(last %llu), applied %llu",
              args->data_dir, (unsigned long long)st.hs.term,
              (unsigned long long)st.hs.vote, st.n_entries,
              (unsigned long long)self->last_index,
              (unsigned long long)self->applied);
    msg_store_t boot = {.kind = MSG_STORE_BOOT,
                        .hs = st.hs,
                        .applied = st.applied,
                        .entries = st.entries,
                        .n_entries = st.n_entries,
                        .base = st.base};
    storage_send (self, &boot);
    store_state_clear (&st);
    if (args->shared)
        atomic_store_explicit (&args->shared->store, self->store,
                               memory_order_release);
    self->shared = args->shared;
    /* watches: the history starts empty at the applied index */
    self->watch = args->watch;
    if (self->watch)
        watch_hub_start (self->watch, self->applied);
}
