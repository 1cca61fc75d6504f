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

#endif
