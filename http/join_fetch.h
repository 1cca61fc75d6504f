/*  join_fetch.h -- /raft/join's question to the new server: who are you?

    The leader asks GET /health of the server named in the request (over
    TLS when the cluster speaks it) and takes its "id" (a positive integer)
    and "peer_addr" (its ZeroMQ endpoint) from the JSON, whatever the
    status: a server that has not joined yet may well report itself
    unhealthy. Everything -- name lookup, connect, handshake, request,
    response -- happens within one deadline, and at most
    HTTP_JOIN_FETCH_MAX_BYTES of answer are read. No token is sent: the
    host is named by a client, and a credential of ours must not go to
    whatever host a request names.
*/
#ifndef HTTP_JOIN_FETCH_H_INCLUDED
#define HTTP_JOIN_FETCH_H_INCLUDED

#include "raft.h"

#include <openssl/ssl.h>
#include <stddef.h>

#define HTTP_JOIN_FETCH_MAX_BYTES 16384

/* GET /health of peer ("host:port"), with TLS when tls is not NULL. 0 with
   *id and peer_addr (NUL-terminated, no whitespace), or -1 with a reason
   in why. */
int http_join_fetch (SSL_CTX *tls, const char *peer, int timeout_ms,
                     raft_id_t *id, char *peer_addr, size_t peer_addr_len,
                     char *why, size_t why_len);

/* The same, plus the data directory's identity from "identity" (README):
   dir_id and cluster_id get its 32-hex-digit ids, or "" when absent (an
   older nsxd; a server that has not learnt its cluster). */
#define HTTP_JOIN_ID_LEN 33
int http_join_fetch_identity (SSL_CTX *tls, const char *peer, int timeout_ms,
                              raft_id_t *id, char *peer_addr,
                              size_t peer_addr_len,
                              char dir_id[HTTP_JOIN_ID_LEN],
                              char cluster_id[HTTP_JOIN_ID_LEN], char *why,
                              size_t why_len);

#endif
