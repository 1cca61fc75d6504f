/*  parse.h -- the HTTP API's request bodies and query strings, parsed and
    checked.

    Pure functions: bytes in, a struct or an error out. No civetweb, no
    sockets, no clock, no global state (jansson is seeded by the caller,
    once, before threads race to it: json_object_seed), so a fuzzer can call
    each of them on arbitrary input. Every function accepts any bytes
    (embedded NULs, invalid UTF-8, any length) and either fills its output
    or fills *err; on error the output holds nothing to free.

    Errors are what the client gets: status 400 "bad_request" or 413
    "too_large", with a detail naming the field or the limit.
*/
#ifndef HTTP_PARSE_H_INCLUDED
#define HTTP_PARSE_H_INCLUDED

#include "raft.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int status;        /* 400 or 413 */
    const char *error; /* "bad_request" or "too_large" */
    char detail[192];
} http_parse_err_t;

typedef struct {
    size_t max_key;   /* bytes; an empty key is always refused */
    size_t max_value; /* bytes */
} http_parse_limits_t;

/* A key and, for a put, a value; stale for a GET. */
typedef struct {
    raft_buf_t *key;
    raft_buf_t *value; /* NULL except for put */
    bool stale;
} http_parse_kv_t;

void http_parse_kv_clear (http_parse_kv_t *kv);

/* POST /kv/put body: a JSON object {"key": string, "value": string}, other
   fields ignored, valid UTF-8, no duplicate keys. Key 1..max_key bytes,
   value 0..max_value bytes (413 beyond). */
int http_parse_put (const void *body, size_t len,
                    const http_parse_limits_t *lim, http_parse_kv_t *out,
                    http_parse_err_t *err);

/* DELETE /kv/delete body: {"key": string}, as for put. */
int http_parse_delete (const void *body, size_t len,
                       const http_parse_limits_t *lim, http_parse_kv_t *out,
                       http_parse_err_t *err);

/* GET /kv/get query string (what follows '?', without it): key=K
   (URL-decoded: %XX and '+'; a '%' not followed by two hex digits stays
   as it is; the first key= wins) and optional stale=true|1|false|0. The
   decoded key must be 1..max_key bytes of valid UTF-8. */
int http_parse_get_query (const char *qs, size_t len,
                          const http_parse_limits_t *lim, http_parse_kv_t *out,
                          http_parse_err_t *err);

/* The value of the first name= in query string qs (URL-decoded as for
   key=), malloc'ed and NUL-terminated in *out (*out_len bytes before the
   NUL): 1, 0 when absent (*out NULL), -2 when longer than max bytes, -1
   out of memory. */
int http_parse_query_value (const char *qs, size_t len, const char *name,
                            size_t max, char **out, size_t *out_len);

/* An HTTP address "host:port" as /raft/join takes it and the cluster
   stores it: host of 1..RAFT_ADDR_MAX-7 letters, digits, '.', '-', '_'
   (so no scheme, path, userinfo, query or IPv6 brackets), port 1..65535
   in at most 5 digits. Fills host (NUL-terminated; host_len must exceed
   the host's length) and *port. */
bool http_parse_host_port (const char *s, size_t len, char *host,
                           size_t host_len, int *port);

typedef struct {
    char peer[RAFT_ADDR_MAX]; /* "host:port" as given */
    char host[RAFT_ADDR_MAX];
    int port;
    raft_id_t id; /* 0: not given */
} http_parse_join_t;

/* POST /raft/join body: {"peer": "host:port"[, "id": positive integer]}. */
int http_parse_join (const void *body, size_t len, http_parse_join_t *out,
                     http_parse_err_t *err);

typedef struct {
    char peer[RAFT_ADDR_MAX]; /* "" when not given */
    raft_id_t id;             /* 0 when not given */
} http_parse_remove_t;

/* POST /raft/remove body: {"peer": address} or {"id": positive integer}
   (at least one). The peer is an HTTP address or a peer endpoint as the
   configuration lists it: 1..RAFT_ADDR_MAX-1 bytes, no space, no NUL. */
int http_parse_remove (const void *body, size_t len, http_parse_remove_t *out,
                       http_parse_err_t *err);

#endif
