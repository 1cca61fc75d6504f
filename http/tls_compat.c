/*  tls_compat.c -- what Debian 12's civetweb needs to serve HTTPS with
    OpenSSL 3, built into two tiny shared objects (Makefile):

      nsxd-tls/libssl.so     SONAME "libssl.so", needs libssl.so.3, and
                             defines SSL_get_peer_certificate
      nsxd-tls/libcrypto.so  SONAME "libcrypto.so", needs libcrypto.so.3
                             (built with -DNSXD_TLS_COMPAT_CRYPTO)

    Why: libcivetweb1 (1.15+dfsg-4) was built for OpenSSL 1.1 and loads
    TLS at run time, dlopen ("libcrypto.so") and dlopen ("libssl.so") (the
    unversioned names, which only the -dev packages install), then dlsym's
    each function it uses. OpenSSL 3 no longer exports
    SSL_get_peer_certificate (it is a macro for SSL_get1_peer_certificate
    now), so civetweb refuses to start HTTPS: "load_tls_dll: libssl.so:
    cannot find SSL_get_peer_certificate" (civetweb issue #1334). nsxd
    dlopens these two objects before civetweb starts (http_tls_compat_load
    in tls.c); glibc's dlopen then matches civetweb's names against their
    SONAMEs and hands them out, and dlsym on them finds every other
    function in the real libssl.so.3 / libcrypto.so.3 they depend on. No
    -dev package is needed at run time.

    Not part of nsxd itself: compiled only as those shared objects.
*/
#if defined(NSXD_TLS_COMPAT_CRYPTO)
/* Nothing to add to libcrypto.so.3: this object exists for its SONAME
   and its dependency. */
int nsxd_tls_compat_crypto (void);
int
nsxd_tls_compat_crypto (void)
{
    return 3;
}
#else
/* Declared here rather than through <openssl/ssl.h>, which defines the
   old name as a macro. */
typedef struct ssl_st SSL;
typedef struct x509_st X509;
X509 *SSL_get1_peer_certificate (const SSL *s);
X509 *SSL_get_peer_certificate (const SSL *s);

/* OpenSSL 1.1's SSL_get_peer_certificate took a reference, as
   SSL_get1_peer_certificate does; civetweb frees it with X509_free. */
X509 *
SSL_get_peer_certificate (const SSL *s)
{
    return SSL_get1_peer_certificate (s);
}
#endif
