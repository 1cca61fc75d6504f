/*  store_lease_get.h -- one lease as stored (store_lease.h's 'e' key),
    read by an HTTP worker for GET /lease/info: its attached keys, as
    applied on this node. Thread-safe, as store_read_kv is (a LevelDB
    get; 'e' keys live outside the KV generations).
*/
#ifndef STORE_LEASE_GET_H_INCLUDED
#define STORE_LEASE_GET_H_INCLUDED

#include "kvsm_lease.h"
#include "store.h"

/* 1 and *out (a table holding lease id alone: kvsm_leases_destroy), 0
   when there is no such lease, or -1 and *err (damaged, memory). */
int store_lease_get (store_t *self, uint64_t id, kvsm_leases_t **out,
                     char **err);

#endif
