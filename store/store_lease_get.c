/*  store_lease_get.c -- see store_lease_get.h.
*/
#include "store_lease_get.h"

#include "msg_kv_lease.h"
#include "store_int.h"
#include "store_lease.h"

#include <stdlib.h>

int
store_lease_get (store_t *self, uint64_t id, kvsm_leases_t **out, char **err)
{
    *out = NULL;
    char k[STORE_LEASE_KEY_LEN];
    k[0] = STORE_KEY_LEASE;
    store_be64_put (k + 1, id);
    size_t len = 0;
    char *ldb_err = NULL;
    char *v = leveldb_get (self->db, self->read, k, sizeof k, &len, &ldb_err);
    if (ldb_err) {
        store_err_set (err, "reading lease %llu: %s", (unsigned long long)id,
                       ldb_err);
        leveldb_free (ldb_err);
        return -1;
    }
    if (!v)
        return 0;
    kvsm_leases_t *t = kvsm_leases_new ();
    uint64_t got = 0;
    int rc = t ? msg_kv_lease_decode (t, v, len, &got) : -1;
    leveldb_free (v);
    if (rc != 0 || got != id) {
        kvsm_leases_destroy (&t);
        store_err_set (err, "the stored record of lease %llu is damaged",
                       (unsigned long long)id);
        return -1;
    }
    *out = t;
    return 1;
}
