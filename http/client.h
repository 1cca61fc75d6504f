/*  client.h -- a small blocking HTTP/1.1 client, for nsxctl, `nsxd --join`
    and the leader's fetch of a new server's /health: one request per
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

#endif
