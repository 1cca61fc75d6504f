/*  watch_client.c -- see watch_client.h. */
#include "watch_client.h"
#include "node_fixture.h"
#include "client.h"
#include "fixture.h"
#include "nsxd_config.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

node_t *wc_node;

int
wc_start (const char *dir)
{
    const char *extra[] = {"--http-threads", "8", "--watch-history", "20",
                           NULL};
    return nf_start (&wc_node, WC_PORT, dir, extra);
}

/* PUT key=value: its index, or -1. */
int64_t
wc_put (const char *key, const char *value)
{
    char body[256];
    snprintf (body, sizeof body, "{\"key\":\"%s\",\"value\":\"%s\"}", key,
              value);
    json_t *j;
    int st = nf_req (WC_EP, "POST", "/kv/put", body, &j);
    int64_t idx = st == 200 ? nf_int (j, "index") : -1;
    json_decref (j);
    return idx;
}

int64_t
wc_mono_ms (void)
{
    return zclock_mono ();
}

/*  A raw connection, for headers and streams  */

int
wc_dial (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons (WC_PORT)};
    inet_pton (AF_INET, WC_HOST, &a.sin_addr);
    if (connect (fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close (fd);
        return -1;
    }
    return fd;
}

/* GET path with extra header lines; the connection (or -1). */
int
wc_open (const char *path, const char *extra)
{
    int fd = wc_dial ();
    if (fd < 0)
        return -1;
    char req[1024];
    int n =
        snprintf (req, sizeof req,
                  "GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n",
                  path, extra ? extra : "");
    if (write (fd, req, (size_t)n) != n) {
        close (fd);
        return -1;
    }
    return fd;
}

/* Read into buf (NUL-terminated) until it holds `until` times the text
   want, the peer closes, or deadline_ms passes: the bytes read. */
size_t
wc_read_until (int fd, char *buf, size_t cap, const char *want, int until,
               int64_t deadline_ms)
{
    size_t len = 0;
    buf[0] = 0;
    while (len + 1 < cap && wc_mono_ms () < deadline_ms) {
        int seen = 0;
        for (const char *p = buf; want && (p = strstr (p, want)); p++)
            seen++;
        if (want && seen >= until)
            break;
        struct timeval tv = {.tv_usec = 100 * 1000};
        setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t n = read (fd, buf + len, cap - 1 - len);
        if (n == 0)
            break;
        if (n > 0) {
            len += (size_t)n;
            buf[len] = 0;
        }
    }
    return len;
}

void *
wc_poll (void *arg)
{
    wc_poll_t *p = arg;
    int64_t t0 = wc_mono_ms ();
    p->status = nf_req (WC_EP, "GET", p->path, NULL, &p->j);
    p->took = wc_mono_ms () - t0;
    return NULL;
}

/* Streams the client closed free their slots within a slice (500 ms):
   wait (bounded) until a watch is served again. */
bool
wc_slots_free (void)
{
    for (int i = 0; i < 40; i++) {
        json_t *j;
        int st =
            nf_req (WC_EP, "GET", "/kv/watch?key=probe&timeout_ms=0", NULL, &j);
        json_decref (j);
        if (st == 200)
            return true;
        zclock_sleep (50);
    }
    return false;
}
