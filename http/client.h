/*  client.h -- nsxd's one HTTP client (client.c), for nsxctl, `nsxd
    --join`, the test tools, and the leader's fetch of a new server's
    /health during /raft/join (client_health.c): one request per
    connection ("Connection: close"), JSON body, optional TLS and bearer
    token, and one deadline for everything (name lookup, connect, TLS
    handshake, request, response).

    Plain POSIX sockets and OpenSSL rather than civetweb's client: civetweb
    1.15's client has no read timeout after mg_get_response () (checked: a
    server that sent its headers and stalled held mg_read () for good), and
    it does not check the server's name against its certificate.

    Endpoints: "host:port", "http://host:port" or "https://host:port" (a
    trailing '/' is allowed; an IPv6 address goes in brackets). A bare
    host:port speaks TLS when opts->tls is set, plain HTTP otherwise; an
    explicit scheme decides by itself, and https:// needs opts->tls.
*/
#ifndef HTTP_CLIENT_H_INCLUDED
#define HTTP_CLIENT_H_INCLUDED

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    SSL_CTX *tls;        /* from http_tls_client_ctx, or NULL: no TLS */
    const char *token;   /* sent as "Authorization: Bearer", or NULL */
    size_t max_response; /* longest body accepted; 0: 64 MiB */
} http_client_opts_t;

typedef struct {
    int status; /* 0: no answer (unreachable, bad endpoint, timeout) */
    char *body; /* malloc'ed, NUL-terminated; NULL without an answer */
    size_t body_len;
    char error[192]; /* why there is no answer, when status is 0 */
} http_client_resp_t;

/* One request to endpoint; body may be NULL (an empty body). */
http_client_resp_t http_client_request (const http_client_opts_t *opts,
                                        const char *endpoint,
                                        const char *method, const char *path,
                                        const char *body, int timeout_ms);
void http_client_resp_free (http_client_resp_t *r);

/* Split endpoint (see the top) into host and port; *tls says whether it is
   to be spoken over TLS, given what a bare host:port means (bare_tls).
   0, or -1 if it is not an endpoint. */
int http_client_endpoint (const char *endpoint, bool bare_tls, bool *tls,
                          char *host, size_t host_len, int *port);

/*  /raft/join's question to the new server: who are you? (client_health.c)

    GET /health of endpoint (over TLS when tls is not NULL) and take its
    "id" (a positive integer) and "peer_addr" (its ZeroMQ endpoint) from
    the JSON, whatever the status: a server that has not joined yet may
    well report itself unhealthy; and the data directory's identity from
    "identity" (README): dir_id and cluster_id, 32 hex digits each, or ""
    when absent (an older nsxd; a server that has not learnt its cluster).
    Everything -- name lookup (resolve.h), connect, handshake, request,
    response -- happens within timeout_ms, and at most
    HTTP_CLIENT_HEALTH_MAX_BYTES of answer are read. No token is sent: the
    host is named by a client, and a credential of ours must not go to
    whatever host a request names. */
#define HTTP_CLIENT_HEALTH_MAX_BYTES 16384
#define HTTP_CLIENT_ID_LEN 33
#define HTTP_CLIENT_ADDR_LEN 128 /* RAFT_ADDR_MAX */

typedef struct {
    uint64_t id;
    char peer_addr[HTTP_CLIENT_ADDR_LEN]; /* no whitespace */
    char dir_id[HTTP_CLIENT_ID_LEN], cluster_id[HTTP_CLIENT_ID_LEN];
} http_client_health_t;

/* 0 with *out, or -1 with a reason in why. */
int http_client_health (SSL_CTX *tls, const char *endpoint, int timeout_ms,
                        http_client_health_t *out, char *why, size_t why_len);

#endif
