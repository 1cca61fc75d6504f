/*  client.c -- see client.h.
*/
#include "client.h"
#include "resolve.h"
#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_HEAD 16384
#define S_DEFAULT_MAX_RESPONSE ((size_t)64 << 20)

typedef struct {
    int fd;
    SSL *ssl;
    int64_t deadline; /* monotonic ms */
} s_io_t;

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_why (http_client_resp_t *r, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
static void
s_why (http_client_resp_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (r->error, sizeof r->error, fmt, ap);
    va_end (ap);
}

/* Wait until fd is ready for events or the deadline passes. */
static bool
s_wait (int fd, short events, int64_t deadline)
{
    while (true) {
        int64_t left = deadline - s_now_ms ();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll (&p, 1, (int)left);
        if (n > 0)
            return true;
        if (n < 0 && errno != EINTR)
            return false;
    }
}

int
http_client_endpoint (const char *endpoint, bool bare_tls, bool *tls,
                      char *host, size_t host_len, int *port)
{
    const char *p = endpoint;
    *tls = bare_tls;
    if (strncasecmp (p, "https://", 8) == 0) {
        *tls = true;
        p += 8;
    } else if (strncasecmp (p, "http://", 7) == 0) {
        *tls = false;
        p += 7;
    }
    size_t len = strlen (p);
    if (len > 0 && p[len - 1] == '/')
        len--;
    const char *colon = len ? memrchr (p, ':', len) : NULL;
    if (!colon || colon == p)
        return -1;
    const char *h = p;
    size_t hl = (size_t)(colon - p);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= host_len || memchr (h, '/', hl) || memchr (h, '@', hl))
        return -1;
    char *end;
    errno = 0;
    long v = strtol (colon + 1, &end, 10);
    if (errno || end != p + len || end == colon + 1 || v < 1 || v > 65535)
        return -1;
    memcpy (host, h, hl);
    host[hl] = 0;
    *port = (int)v;
    return 0;
}

/* A connected non-blocking socket to host:port, or -1 with r->error. */
static int
s_connect (const char *host, int port, int64_t deadline, http_client_resp_t *r)
{
    struct addrinfo *ai = NULL;
    const char *why = NULL;
    int64_t left = deadline - s_now_ms ();
    if (http_resolve (host, port, left > 0 ? (int)left : 0, &ai, &why) != 0) {
        s_why (r, "%s: %s", host, why);
        return -1;
    }
    int fd = -1, last = 0;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd =
            socket (a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    a->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        int err = 0;
        socklen_t elen = sizeof err;
        if (connect (fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS && s_wait (fd, POLLOUT, deadline) &&
            getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0)
            break;
        last = errno == EINPROGRESS ? (err ? err : ETIMEDOUT) : errno;
        close (fd);
        fd = -1;
    }
    freeaddrinfo (ai);
    if (fd < 0)
        s_why (r, "cannot connect to %s:%d: %s", host, port, strerror (last));
    return fd;
}

/* Run one TLS operation until it is done, waiting for the socket as
   OpenSSL asks: >0 done (bytes for reads and writes), 0 the peer closed,
   -1 failed or timed out. */
typedef int (*s_tls_op_t) (SSL *ssl, void *buf, int len);

static int
s_tls_loop (s_io_t *io, s_tls_op_t op, void *buf, int len)
{
    while (true) {
        ERR_clear_error ();
        int n = op (io->ssl, buf, len);
        if (n > 0)
            return n;
        int e = SSL_get_error (io->ssl, n);
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0;
        short events = e == SSL_ERROR_WANT_READ    ? POLLIN
                       : e == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                   : 0;
        if (!events || !s_wait (io->fd, events, io->deadline))
            return -1;
    }
}

static int
s_op_connect (SSL *ssl, void *buf, int len)
{
    (void)buf;
    (void)len;
    return SSL_connect (ssl);
}

static int
s_op_read (SSL *ssl, void *buf, int len)
{
    return SSL_read (ssl, buf, len);
}

static int
s_op_write (SSL *ssl, void *buf, int len)
{
    return SSL_write (ssl, buf, len);
}

static int
s_write_all (s_io_t *io, const char *data, size_t len)
{
    size_t sent = 0;
    while (sent < len) {
        size_t chunk = len - sent > (1u << 30) ? (1u << 30) : len - sent;
        if (io->ssl) {
            int n =
                s_tls_loop (io, s_op_write, (void *)(data + sent), (int)chunk);
            if (n <= 0)
                return -1;
            sent += (size_t)n;
            continue;
        }
        if (!s_wait (io->fd, POLLOUT, io->deadline))
            return -1;
        ssize_t n = send (io->fd, data + sent, chunk, MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return -1;
        if (n > 0)
            sent += (size_t)n;
    }
    return 0;
}

/* Some bytes: >0 read, 0 end of stream, -1 error or deadline. */
static ssize_t
s_read_some (s_io_t *io, char *buf, size_t len)
{
    int cap = len > (1u << 30) ? (1 << 30) : (int)len;
    if (io->ssl) {
        int n = s_tls_loop (io, s_op_read, buf, cap);
        /* A server that closes without close_notify after a complete
           response is common; whether the body is complete is decided by
           Content-Length, so an abrupt close counts as the end here. */
        if (n < 0 && ERR_GET_REASON (ERR_peek_last_error ()) ==
                         SSL_R_UNEXPECTED_EOF_WHILE_READING)
            return 0;
        return n;
    }
    while (true) {
        if (!s_wait (io->fd, POLLIN, io->deadline))
            return -1;
        ssize_t n = recv (io->fd, buf, (size_t)cap, 0);
        if (n >= 0)
            return n;
        if (errno != EINTR && errno != EAGAIN)
            return -1;
    }
}

/* Parse the head of a response in buf[0..head_len): status and the
   Content-Length (-1 if none). -1 if it is not an HTTP/1.x response we
   can read. */
static int
s_parse_head (const char *buf, size_t head_len, int *status, long long *cl,
              http_client_resp_t *r)
{
    if (head_len < 12 || strncmp (buf, "HTTP/1.", 7) != 0 || buf[8] != ' ') {
        s_why (r, "not an HTTP/1.x response");
        return -1;
    }
    int st = 0;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9') {
            s_why (r, "malformed status line");
            return -1;
        }
        st = st * 10 + (buf[i] - '0');
    }
    *status = st;
    *cl = -1;
    const char *line = memchr (buf, '\n', head_len);
    while (line && (size_t)(line + 1 - buf) < head_len) {
        line++;
        const char *eol = memchr (line, '\n', head_len - (size_t)(line - buf));
        size_t ll =
            eol ? (size_t)(eol - line) : head_len - (size_t)(line - buf);
        if (ll > 15 && strncasecmp (line, "Content-Length:", 15) == 0) {
            char *end;
            errno = 0;
            long long v = strtoll (line + 15, &end, 10);
            if (errno || v < 0 || end == line + 15) {
                s_why (r, "malformed Content-Length");
                return -1;
            }
            *cl = v;
        } else if (ll > 18 &&
                   strncasecmp (line, "Transfer-Encoding:", 18) == 0) {
            s_why (r, "chunked responses are not supported");
            return -1;
        }
        line = eol;
    }
    return 0;
}

/* The response: head, then the body up to Content-Length or the end of
   the stream. */
static void
s_read_response (s_io_t *io, size_t max_body, http_client_resp_t *r)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc (cap + 1);
    size_t head_len = 0; /* 0 until "\r\n\r\n" is in */
    int status = 0;
    long long cl = -1;
    while (buf) {
        if (head_len && cl >= 0 && len - head_len >= (size_t)cl)
            break;
        if (len == cap) {
            size_t limit = S_MAX_HEAD + max_body;
            if (cap >= limit) {
                s_why (r, "response larger than %zu bytes", max_body);
                goto fail;
            }
            size_t ncap = cap * 2 < limit ? cap * 2 : limit;
            char *nb = realloc (buf, ncap + 1);
            if (!nb)
                goto fail;
            buf = nb;
            cap = ncap;
        }
        ssize_t n = s_read_some (io, buf + len, cap - len);
        if (n < 0) {
            s_why (r, "no complete response within the deadline");
            goto fail;
        }
        if (n == 0)
            break; /* the end of the stream */
        len += (size_t)n;
        buf[len] = 0;
        if (!head_len) {
            char *end = strstr (buf, "\r\n\r\n");
            if (!end && len > S_MAX_HEAD) {
                s_why (r, "response head too large");
                goto fail;
            }
            if (!end)
                continue;
            head_len = (size_t)(end + 4 - buf);
            if (s_parse_head (buf, head_len, &status, &cl, r) != 0)
                goto fail;
            if (cl > (long long)max_body) {
                s_why (r, "response larger than %zu bytes", max_body);
                goto fail;
            }
        }
    }
    if (!buf)
        goto fail;
    if (!head_len) {
        s_why (r, "the server closed the connection without an answer");
        goto fail;
    }
    size_t body_len = len - head_len;
    if (cl >= 0 && body_len < (size_t)cl) {
        s_why (r, "the response ended early");
        goto fail;
    }
    if (cl >= 0)
        body_len = (size_t)cl;
    memmove (buf, buf + head_len, body_len);
    buf[body_len] = 0;
    r->status = status;
    r->body = buf;
    r->body_len = body_len;
    return;
fail:
    free (buf);
}

http_client_resp_t
http_client_request (const http_client_opts_t *opts, const char *endpoint,
                     const char *method, const char *path, const char *body,
                     int timeout_ms)
{
    http_client_resp_t r;
    memset (&r, 0, sizeof r);
    static const http_client_opts_t none = {0};
    if (!opts)
        opts = &none;
    char host[256];
    int port = 0;
    bool tls = false;
    if (http_client_endpoint (endpoint, opts->tls != NULL, &tls, host,
                              sizeof host, &port) != 0) {
        s_why (&r, "not an endpoint (host:port or http(s)://host:port): %s",
               endpoint);
        return r;
    }
    for (const char *t = opts->token; t && *t; t++)
        if (*t <= ' ' || *t == 0x7f) {
            s_why (&r, "the token holds a space or control character");
            return r;
        }
    if (tls && !opts->tls) {
        s_why (&r, "%s needs TLS settings (a CA file)", endpoint);
        return r;
    }
    s_io_t io = {.fd = -1, .deadline = s_now_ms () + timeout_ms};
    io.fd = s_connect (host, port, io.deadline, &r);
    if (io.fd < 0)
        return r;
    if (tls) {
        io.ssl = http_tls_client_attach (opts->tls, io.fd, host);
        if (!io.ssl || s_tls_loop (&io, s_op_connect, NULL, 0) <= 0) {
            char e[160];
            long v = io.ssl ? SSL_get_verify_result (io.ssl) : X509_V_OK;
            if (v != X509_V_OK)
                s_why (&r, "TLS with %s: certificate not trusted: %s", endpoint,
                       X509_verify_cert_error_string (v));
            else
                s_why (&r, "TLS handshake with %s failed: %s", endpoint,
                       http_tls_error (e, sizeof e));
            goto done;
        }
    }
    size_t blen = body ? strlen (body) : 0;
    char head[1024];
    int hn = snprintf (
        head, sizeof head,
        "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n"
        "%s%s%s"
        "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
        method, path, host, port, opts->token ? "Authorization: Bearer " : "",
        opts->token ? opts->token : "", opts->token ? "\r\n" : "", blen);
    if (hn < 0 || (size_t)hn >= sizeof head) {
        s_why (&r, "request line too long");
        goto done;
    }
    if (s_write_all (&io, head, (size_t)hn) != 0 ||
        (blen && s_write_all (&io, body, blen) != 0)) {
        s_why (&r, "cannot send the request to %s", endpoint);
        goto done;
    }
    s_read_response (
        &io, opts->max_response ? opts->max_response : S_DEFAULT_MAX_RESPONSE,
        &r);
done:
    if (io.ssl) {
        SSL_free (io.ssl);
        ERR_clear_error ();
    }
    close (io.fd);
    return r;
}

void
http_client_resp_free (http_client_resp_t *r)
{
    free (r->body);
    r->body = NULL;
}
