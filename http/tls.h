/*  tls.h -- OpenSSL contexts for nsxd's HTTPS: the server's (handed to
    civetweb through its external_ssl_ctx callback) and the clients' (nsxctl,
    `nsxd --join`, the leader's fetch of a new server's /health).

    Both speak TLS 1.2 or 1.3 only. A client always verifies the server: its
    certificate chain against the CA file given (or the system's trust
    store), and its name or IP address against the host it dialled
    (http_tls_client_attach); there is no switch to turn that off.
*/
#ifndef HTTP_TLS_H_INCLUDED
#define HTTP_TLS_H_INCLUDED

#include <openssl/ssl.h>
#include <stddef.h>

/* A server context with the certificate chain (PEM, the server's
   certificate first) and its private key (PEM, unencrypted). NULL with a
   message in err if either cannot be read or they do not match. */
SSL_CTX *http_tls_server_ctx (const char *cert_file, const char *key_file,
                              char *err, size_t err_len);

/* A client context trusting the CA certificates in ca_file (PEM), or the
   system's trust store when ca_file is NULL. NULL with err on failure. */
SSL_CTX *http_tls_client_ctx (const char *ca_file, char *err, size_t err_len);

/* A new SSL for a connection to host (a DNS name or an IP address) over
   the connected socket fd: SNI for names, and the peer's certificate must
   name host. NULL on failure. */
SSL *http_tls_client_attach (SSL_CTX *ctx, int fd, const char *host);

/* Load nsxd-tls/libcrypto.so and nsxd-tls/libssl.so (http/tls_compat.c:
   what lets Debian 12's civetweb serve HTTPS with OpenSSL 3) from next to
   the executable, or from ../lib/nsxd/ beside it. Call before civetweb
   starts HTTPS. 0, or -1 with err. */
int http_tls_compat_load (char *err, size_t err_len);

/* The last OpenSSL error as text, for logs (err is filled, returned). */
const char *http_tls_error (char *err, size_t err_len);

#endif
