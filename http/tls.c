/*  tls.c -- see tls.h.
*/
#include "tls.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const char *
http_tls_error (char *err, size_t err_len)
{
    unsigned long e = ERR_get_error ();
    if (e == 0)
        snprintf (err, err_len, "unknown TLS error");
    else
        ERR_error_string_n (e, err, err_len);
    ERR_clear_error ();
    return err;
}

static SSL_CTX *
s_fail (SSL_CTX *ctx, char *err, size_t err_len, const char *what)
{
    char ossl[256];
    snprintf (err, err_len, "%s: %s", what, http_tls_error (ossl, sizeof ossl));
    SSL_CTX_free (ctx);
    return NULL;
}

SSL_CTX *
http_tls_server_ctx (const char *cert_file, const char *key_file, char *err,
                     size_t err_len)
{
    SSL_CTX *ctx = SSL_CTX_new (TLS_server_method ());
    if (!ctx)
        return s_fail (NULL, err, err_len, "cannot create a TLS context");
    SSL_CTX_set_min_proto_version (ctx, TLS1_2_VERSION);
    /* No renegotiation: a client could make the server repeat the
       expensive half of a handshake at will. */
    SSL_CTX_set_options (ctx, SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file (ctx, cert_file) != 1)
        return s_fail (ctx, err, err_len, "cannot load the certificate");
    if (SSL_CTX_use_PrivateKey_file (ctx, key_file, SSL_FILETYPE_PEM) != 1)
        return s_fail (ctx, err, err_len, "cannot load the private key");
    if (SSL_CTX_check_private_key (ctx) != 1)
        return s_fail (ctx, err, err_len,
                       "the private key does not match the certificate");
    return ctx;
}

SSL_CTX *
http_tls_client_ctx (const char *ca_file, char *err, size_t err_len)
{
    SSL_CTX *ctx = SSL_CTX_new (TLS_client_method ());
    if (!ctx)
        return s_fail (NULL, err, err_len, "cannot create a TLS context");
    SSL_CTX_set_min_proto_version (ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER, NULL);
    int ok = ca_file ? SSL_CTX_load_verify_locations (ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths (ctx);
    if (ok != 1)
        return s_fail (ctx, err, err_len,
                       ca_file ? "cannot load the CA file"
                               : "cannot load the system's CA certificates");
    return ctx;
}

SSL *
http_tls_client_attach (SSL_CTX *ctx, int fd, const char *host)
{
    SSL *ssl = SSL_new (ctx);
    if (!ssl)
        return NULL;
    unsigned char ip[16];
    bool is_ip = inet_pton (AF_INET, host, ip) == 1 ||
                 inet_pton (AF_INET6, host, ip) == 1;
    int ok = SSL_set_fd (ssl, fd);
    if (ok == 1 && is_ip) {
        /* an address is checked against the certificate's IP SANs */
        ok = X509_VERIFY_PARAM_set1_ip_asc (SSL_get0_param (ssl), host);
    } else if (ok == 1) {
        ok = SSL_set1_host (ssl, host) == 1 &&
             SSL_set_tlsext_host_name (ssl, host) == 1;
    }
    if (ok != 1) {
        SSL_free (ssl);
        return NULL;
    }
    return ssl;
}

int
http_tls_compat_load (char *err, size_t err_len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf (err, err_len, "cannot find the executable's directory");
        return -1;
    }
    exe[n] = 0;
    const char *dir = dirname (exe);
    const char *places[] = {"nsxd-tls", "../lib/nsxd"};
    const char *libs[] = {"libcrypto.so", "libssl.so"};
    for (size_t p = 0; p < sizeof places / sizeof places[0]; p++) {
        char path[PATH_MAX + 64];
        snprintf (path, sizeof path, "%s/%s/%s", dir, places[p], libs[0]);
        if (access (path, R_OK) != 0)
            continue;
        for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
            snprintf (path, sizeof path, "%s/%s/%s", dir, places[p], libs[i]);
            /* kept open for the life of the process */
            if (!dlopen (path, RTLD_NOW | RTLD_LOCAL)) {
                snprintf (err, err_len, "%s", dlerror ());
                return -1;
            }
        }
        return 0;
    }
    snprintf (err, err_len,
              "no nsxd-tls/libssl.so next to %s (nor ../lib/nsxd/): "
              "civetweb needs it for HTTPS with OpenSSL 3 (make build/nsxd "
              "builds it)",
              dir);
    return -1;
}
