/*  http_raw.c -- the HTTP tests' raw client (see http_fixture.h): POSIX
    sockets, so hostile input can be sent as it is. */
#include "http_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
hf_dial (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert (fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons ((uint16_t)port)};
    a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (connect (fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close (fd);
        return -1;
    }
    return fd;
}

/* Send what can be sent: the server may close early on hostile input. */
void
hf_send_all (int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send (fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

const char *
hf_header (const hf_resp_t *r, const char *name)
{
    static __thread char value[256];
    char pat[64];
    snprintf (pat, sizeof pat, "\r\n%s:", name);
    const char *h = strcasestr (r->head, pat);
    if (!h)
        return NULL;
    h += strlen (pat);
    while (*h == ' ')
        h++;
    size_t n = strcspn (h, "\r\n");
    snprintf (value, sizeof value, "%.*s", (int)n, h);
    return value;
}

void
hf_resp_free (hf_resp_t *r)
{
    json_decref (r->json);
    r->json = NULL;
}

/* Read one response. 0, or -1 if the connection ended or timed out
   before a complete one. */
int
hf_read_resp (int fd, hf_resp_t *r)
{
    memset (r, 0, sizeof *r);
    char buf[8192 + 65536];
    size_t len = 0, head_len = 0;
    long long cl = -1;
    while (true) {
        if (!head_len) {
            char *end = memmem (buf, len, "\r\n\r\n", 4);
            if (end) {
                head_len = (size_t)(end - buf) + 4;
                if (head_len >= sizeof r->head)
                    return -1;
                memcpy (r->head, buf, head_len);
                if (sscanf (r->head, "HTTP/1.%*d %d", &r->status) != 1)
                    return -1;
                const char *v = hf_header (r, "Content-Length");
                cl = v ? atoll (v) : -1;
            }
        }
        if (head_len && cl >= 0 && len - head_len >= (size_t)cl)
            break;
        if (len == sizeof buf)
            return -1;
        ssize_t n = recv (fd, buf + len, sizeof buf - len, 0);
        if (n <= 0) {
            if (head_len && cl < 0 && n == 0)
                break; /* no Content-Length: EOF ends the body */
            return -1;
        }
        len += (size_t)n;
    }
    r->body_len = cl >= 0 ? (size_t)cl : len - head_len;
    if (r->body_len >= sizeof r->body)
        return -1;
    memcpy (r->body, buf + head_len, r->body_len);
    r->json = json_loadb (r->body, r->body_len, 0, NULL);
    return 0;
}

/* One raw request on a new connection. */
int
hf_raw (int port, const void *req, size_t len, hf_resp_t *r)
{
    int fd = hf_dial (port);
    if (fd < 0)
        return -1;
    hf_send_all (fd, req, len);
    int rc = hf_read_resp (fd, r);
    close (fd);
    return rc;
}

/* method path [body], as curl sends it, Connection: close. */
int
hf_http (int port, const char *method, const char *path, const char *body,
         hf_resp_t *r)
{
    char req[16384];
    int n;
    if (body)
        n = snprintf (req, sizeof req,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                      "User-Agent: curl/7.88.1\r\nAccept: */*\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                      method, path, port, strlen (body), body);
    else
        n = snprintf (req, sizeof req,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                      "User-Agent: curl/7.88.1\r\nAccept: */*\r\n"
                      "Connection: close\r\n\r\n",
                      method, path, port);
    assert (n > 0 && (size_t)n < sizeof req);
    return hf_raw (port, req, (size_t)n, r);
}

const char *
hf_jstr (const hf_resp_t *r, const char *field)
{
    return json_string_value (json_object_get (r->json, field));
}

/* Null-safe: a failed request must fail a CHECK, not crash the test. */
bool
hf_jstr_is (const hf_resp_t *r, const char *field, const char *want)
{
    const char *v = hf_jstr (r, field);
    return v && want && streq (v, want);
}

long long
hf_jint (const hf_resp_t *r, const char *field)
{
    return json_integer_value (json_object_get (r->json, field));
}

bool
hf_body_is (const hf_resp_t *r, const char *text)
{
    bool same = r->body_len == strlen (text) &&
                memcmp (r->body, text, r->body_len) == 0;
    if (!same)
        fprintf (stderr, "  body: %.*s\n  want: %s\n", (int)r->body_len,
                 r->body, text);
    return same;
}

/* A JSON reply with Content-Type and Content-Length set. */
bool
hf_is_json (const hf_resp_t *r)
{
    const char *ct = hf_header (r, "Content-Type");
    return ct && streq (ct, "application/json") &&
           hf_header (r, "Content-Length") && r->json;
}

bool
hf_still_serving (void)
{
    hf_resp_t r;
    bool ok = hf_http (hf_port, "GET", "/health", NULL, &r) == 0 &&
              r.status == 200 && hf_jint (&r, "id") == 7;
    hf_resp_free (&r);
    return ok;
}
