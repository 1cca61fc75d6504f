/*  parse_kv.h -- the bodies of the state machine's requests (issue 15):
    the compare shorthands of POST /kv/put and DELETE /kv/delete, and
    POST /kv/txn. Pure, as parse.h: bytes in, a command or an error out
    (400 bad_request or 413 too_large, with a detail).
*/
#ifndef HTTP_PARSE_KV_H_INCLUDED
#define HTTP_PARSE_KV_H_INCLUDED

#include "kvsm.h"
#include "parse.h"

/* POST /kv/put (put) or DELETE /kv/delete: parse.h's body, plus the
   optional compares on the key: "prev_value" (string: the value must
   equal it), "prev_index" (integer >= 0: the mod_index must equal it),
   "prev_exist" (bool: the key must exist, or must not). Fills *out as a
   version-2 PUT or DEL with those compares (n_cmps 0: none given). */
int http_parse_kv_write (const void *body, size_t len,
                         const http_parse_limits_t *lim, bool put,
                         kvsm_cmd_t *out, http_parse_err_t *err);

/* POST /kv/txn: {"compare": [{"key", "target": "value" | "version" |
   "create_index" | "mod_index" | "exists", "op": "==" | "!=" | "<" | ">"
   (default "=="), "value": string (value), integer >= 0 (the indexes,
   version) or bool (exists)}], "success": [op], "failure": [op]}, each
   list optional, op one of {"put": {"key", "value"}}, {"delete": {"key"}},
   {"get": {"key"}}. At most KVSM_TXN_MAX_CMPS compares and
   KVSM_TXN_MAX_OPS ops per list (400); keys and values within lim
   (413). Fills *out as a version-2 TXN. */
int http_parse_txn (const void *body, size_t len,
                    const http_parse_limits_t *lim, kvsm_cmd_t *out,
                    http_parse_err_t *err);

/* GET /kv/range query: prefix=P, or start=S[&end=E] (E excluded; none:
   to the last key), limit=N (1..HTTP_RANGE_MAX, default
   HTTP_RANGE_DEFAULT), continue=T (the token of the page before: hex of
   the key to go on from), keys_only and stale (true|1|false|0). */
#define HTTP_RANGE_DEFAULT 100
#define HTTP_RANGE_MAX 1000
typedef struct {
    raft_buf_t *start; /* where the page starts ("": the first key) */
    raft_buf_t *end;   /* NULL: no end */
    size_t limit;
    bool keys_only, stale;
} http_parse_range_t;
void http_parse_range_clear (http_parse_range_t *r);
int http_parse_range_query (const char *qs, size_t len,
                            const http_parse_limits_t *lim,
                            http_parse_range_t *out, http_parse_err_t *err);

#endif
