/*  storage_leases.c -- leases (store/kvsm_lease.h) in the storage actor:
    the table in memory next to LevelDB (store_lease.h), what each apply
    touched written in the apply's batch, the table of an installed
    snapshot replacing ours in the switch's batch, the lease fields of an
    apply's result, and the answer to raft's "leases" (the table a new
    leader's lessor is promoted with, store/lessor.h).
*/
#include "storage_int.h"

#include "msg_kv_lease.h"
#include "store_lease.h"

#include <stdlib.h>

int
storage_leases_write (storage_t *self, store_batch_t *b,
                      const kvsm_result_t *res, msg_apply_result_t *r)
{
    for (size_t i = 0; i < res->n_leases_touched; i++)
        if (store_batch_lease (b, self->leases, res->leases_touched[i]) != 0) {
            storage_fail (self, "lease %llu cannot be encoded",
                          (unsigned long long)res->leases_touched[i]);
            return -1;
        }
    /* for the leader's lessor (msg_store.h, "applied") */
    if (res->status == KVSM_OK && res->lease_event != KVSM_LEASE_EV_NONE) {
        r->lease_event = (unsigned)res->lease_event;
        r->lease = res->lease;
        r->lease_ttl_ms = res->lease_ttl_ms;
    }
    return 0;
}

void
storage_leases_stage (storage_t *self, const raft_snapshot_chunk_t *c)
{
    if (c->chunk == 0) {
        raft_buf_unref (self->install.leases);
        self->install.leases = NULL;
    }
    raft_buf_t *t = msg_snap_leases (c->data->data, c->data->len);
    if (t) {
        raft_buf_unref (self->install.leases);
        self->install.leases = t;
    }
}

bool
storage_leases_install (storage_t *self, raft_index_t index)
{
    raft_buf_t *b = self->install.leases;
    kvsm_leases_t *t =
        b ? msg_kv_leases_decode (b->data, b->len) : kvsm_leases_new ();
    char *err = NULL;
    if (!t) {
        storage_fail (self, "snapshot %llu: its lease table is malformed",
                      (unsigned long long)index);
        return false;
    }
    if (store_batch_leases_replace (self->store, self->log_batch, self->leases,
                                    t, &err) != 0) {
        storage_fail (self, "snapshot %llu: leases: %s",
                      (unsigned long long)index, err);
        free (err);
        kvsm_leases_destroy (&t);
        return false;
    }
    kvsm_leases_destroy (&self->leases);
    self->leases = t;
    raft_buf_unref (self->install.leases);
    self->install.leases = NULL;
    return true;
}

void
storage_leases_answer (storage_t *self, const msg_store_t *m)
{
    /* as staged: the applies of this group count (the lessor's
       lessor_granted and lessor_revoked are idempotent, so their results,
       which come after, agree with it) */
    const kvsm_leases_t *t = self->leases;
    msg_store_t r = {.kind = MSG_STORE_LEASES,
                     .req_id = m->req_id,
                     .applied = self->staged.applied};
    if (t && t->n) {
        r.leases = calloc (t->n, sizeof *r.leases);
        if (!r.leases) {
            storage_fail (self, "out of memory for %zu leases", t->n);
            return;
        }
        for (size_t i = 0; i < t->n; i++)
            r.leases[i] =
                (lessor_lease_t){.id = t->v[i].id, .ttl_ms = t->v[i].ttl_ms};
        r.n_leases = t->n;
    }
    storage_send (self, &r);
    free (r.leases);
}
