/*  parse_lease.h -- the bodies and queries of the lease routes
    (store/kvsm_lease.h; http/http_lease.c), and the "lease" field of a
    put (POST /kv/put) and of a TXN's put ops. Pure, as parse.h: bytes
    in, values or an error out (400 bad_request with a detail). Fields
    other than those named are ignored, as /kv/put ignores them.
*/
#ifndef HTTP_PARSE_LEASE_H_INCLUDED
#define HTTP_PARSE_LEASE_H_INCLUDED

#include "kvsm.h"
#include "parse.h"

/* The largest TTL a client may ask for, in seconds (KVSM_LEASE_TTL_MAX_MS:
   30 days); above: 400. The leader raises a smaller one than its minimum
   (lessor_min_ttl_ms) without complaint, as etcd does. */
#define HTTP_LEASE_TTL_MAX_S (30ULL * 24 * 3600)

/* POST /lease/grant: {"ttl": integer seconds, 1..HTTP_LEASE_TTL_MAX_S}. */
int http_parse_lease_grant (const void *body, size_t len, uint64_t *ttl_s,
                            http_parse_err_t *err);

/* POST /lease/keepalive and /lease/revoke: {"id": integer >= 1}. */
int http_parse_lease_id (const void *body, size_t len, uint64_t *id,
                         http_parse_err_t *err);

/* GET /lease/info query: id=N (N >= 1, decimal). */
int http_parse_lease_query (const char *qs, size_t len, uint64_t *id,
                            http_parse_err_t *err);

/* The leases a write names: the body's "lease" (a PUT's) into cmd->lease,
   and for a TXN each put op's "lease" ({"put": {"key", "value", "lease"}})
   into its op. Integers >= 1; "lease" on a get or delete op, or on a
   DELETE, is refused. A command that names one is encoded as version 4
   (cmd->version set to 0: the encoder picks). *first: the first lease
   named (0: none). */
int http_parse_lease_fields (const void *body, size_t len, kvsm_cmd_t *cmd,
                             uint64_t *first, http_parse_err_t *err);

#endif
