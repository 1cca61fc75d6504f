/*  storage_fixture.h -- what the storage actor's tests (test_storage_*.c)
    share: the actor started on a directory under the scratch root with
    the PAIR the raft actor would hold, requests sent and replies taken as
    the raft actor would, and entries made to write.

        int main (void) {
            if (sf_init ("test_storage_log") != 0)
                return 1;
            CHECK_RUN (test_bootstrap);
            return sf_done ();
        }

    Restarts are real: the actor is destroyed (LevelDB closed) and started
    again on the same directory, and what "boot" reports is what was
    durable.
*/
#ifndef STORAGE_FIXTURE_H_INCLUDED
#define STORAGE_FIXTURE_H_INCLUDED

#include "fixture.h"
#include "actors.h"
#include "msg_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Warnings off (the tests provoke them on purpose), a 120 s watchdog, the
   scratch root, and the random seed (TEST_SEED replays a run). 0 or -1. */
int sf_init (const char *name);
/* The scratch root removed; the exit status (check_report). */
int sf_done (void);

uint64_t sf_rand (void);
/* "ROOT/NAME" (fixture_path) */
const char *sf_dir (const char *name);
/* Three voters 1..3 on 127.0.0.x. */
raft_conf_t sf_conf (void);

/* the actor, and the PAIR the raft actor would hold */
typedef fixture_storage_t sf_node_t;

/* The transport's PULL for "after", when a test binds one; else NULL. */
extern const char *sf_send_ep;
/* How many "usage" reports sf_recv passed over. */
extern size_t sf_usage_seen;

void sf_start (sf_node_t *n, const char *dir, const raft_conf_t *bootstrap);
void sf_stop (sf_node_t *n);
void sf_send (sf_node_t *n, const msg_store_t *m);
void sf_send_raw (sf_node_t *n, const void *data, size_t len);
/* 0 and *m (clear it), or -1 on timeout or a malformed reply; "usage"
   reports are skipped (and counted in sf_usage_seen). */
int sf_recv (sf_node_t *n, msg_store_t *m);
bool sf_recv_kind (sf_node_t *n, msg_store_t *m, msg_store_kind_t kind);
/* Start and take "boot" into *boot (clear it). */
bool sf_boot (sf_node_t *n, const char *dir, const raft_conf_t *bootstrap,
              msg_store_t *boot);

raft_entry_t sf_kv_entry (raft_term_t term, raft_index_t index, msg_kv_op_t op,
                          const char *key, const char *value);
/* count NORMAL entries from index first, term term, each a put of
   "k<index>" = "v<index>" */
raft_entry_t *sf_entries (raft_term_t term, raft_index_t first, size_t count);
void sf_entries_free (raft_entry_t *es, size_t count);
bool sf_entry_equal (const raft_entry_t *a, const raft_entry_t *b);

/* Send a write and wait for its "persisted". */
bool sf_write (sf_node_t *n, uint64_t seq, bool hs_changed, raft_term_t term,
               raft_id_t vote, raft_entry_t *entries, size_t count);
void sf_get (sf_node_t *n, uint64_t req_id, const char *key);
/* Get and check the answer: value NULL means "not found". */
bool sf_get_is (sf_node_t *n, uint64_t req_id, const char *key,
                const char *value);
/* The actor's count of dropped requests. */
uint64_t sf_dropped (sf_node_t *n);

#endif
