/*  conn_limit.c -- see conn_limit.h.
*/
#include "conn_limit.h"
#include "log.h"

#include "tcp_taken.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define S_QUEUE 100000  /* events the reader may hold (a few MB at most) */
#define S_READ_MAX 1024 /* events handled per call: the owner stays live */
/* What a connection may take in without it reaching us, beyond held_max:
   ZMTP and CURVE framing per message, the handshake, heartbeats. */
#define S_OVERHEAD_PER_MSG 64
#define S_OVERHEAD_FIXED 4096
#define S_OVERHEAD_PER_S 64
#define S_STRIKES 3 /* checks in a row over the limit before the cut */

typedef struct {
    int fd;
    uint64_t delivered; /* payload bytes that reached the owner */
    uint64_t msgs;
    int64_t since; /* zclock_mono () when accepted */
    int strikes;
} s_conn_t;

struct conn_limit {
    zsock_t *listener;
    zsock_t *reader;
    char endpoint[96];
    char name[32];
    int port; /* the listening port, to recognise our own fds */
    size_t max;
    size_t held_max;
    s_conn_t *open; /* the open connections */
    size_t n_open;
    uint64_t refused;
    uint64_t cut;
    uint64_t logged;
    int64_t last_log;
};

/* The port of a "tcp://host:port" endpoint, or -1. */
static int
s_port_of (const char *endpoint)
{
    const char *colon = endpoint ? strrchr (endpoint, ':') : NULL;
    if (!colon || strncmp (endpoint, "tcp://", 6) != 0)
        return -1;
    char *end;
    long port = strtol (colon + 1, &end, 10);
    return *end == 0 && port > 0 && port < 65536 ? (int)port : -1;
}

conn_limit_t *
conn_limit_new (zsock_t *listener, size_t max, size_t held_max,
                const char *name)
{
    static unsigned seq;
    conn_limit_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->listener = listener;
    self->max = max;
    self->held_max = held_max;
    snprintf (self->name, sizeof self->name, "%s", name);
    char *last = zsock_last_endpoint (listener);
    self->port = s_port_of (last);
    zstr_free (&last);
    self->open = calloc (max + 1, sizeof *self->open);
    snprintf (self->endpoint, sizeof self->endpoint,
              "inproc://nsxd-conn-limit-%p-%u", (void *)self,
              __atomic_fetch_add (&seq, 1, __ATOMIC_RELAXED));
    if (!self->open || self->port < 0 ||
        zmq_socket_monitor (zsock_resolve (listener), self->endpoint,
                            ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
                                ZMQ_EVENT_CLOSED |
                                ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
        free (self->open);
        free (self);
        return NULL;
    }
    self->reader = zsock_new (ZMQ_PAIR);
    if (self->reader) {
        zsock_set_rcvhwm (self->reader, S_QUEUE);
        zsock_set_rcvtimeo (self->reader, 0);
    }
    if (!self->reader ||
        zsock_connect (self->reader, "%s", self->endpoint) != 0) {
        zmq_socket_monitor (zsock_resolve (listener), NULL, 0);
        zsock_destroy (&self->reader);
        free (self->open);
        free (self);
        return NULL;
    }
    return self;
}

void
conn_limit_destroy (conn_limit_t **self_p)
{
    conn_limit_t *self = *self_p;
    if (!self)
        return;
    zmq_socket_monitor (zsock_resolve (self->listener), NULL, 0);
    zsock_destroy (&self->reader);
    free (self->open);
    free (self);
    *self_p = NULL;
}

zsock_t *
conn_limit_reader (conn_limit_t *self)
{
    return self->reader;
}

size_t
conn_limit_open (const conn_limit_t *self)
{
    return self->n_open;
}

uint64_t
conn_limit_refused (const conn_limit_t *self)
{
    return self->refused;
}

/* Is fd a TCP socket on our listening port (not a number reused since)? */
static bool
s_is_ours (const conn_limit_t *self, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname (fd, (struct sockaddr *)&ss, &len) != 0)
        return false;
    if (ss.ss_family == AF_INET)
        return ntohs (((struct sockaddr_in *)&ss)->sin_port) == self->port;
    if (ss.ss_family == AF_INET6)
        return ntohs (((struct sockaddr_in6 *)&ss)->sin6_port) == self->port;
    return false;
}

static s_conn_t *
s_find (conn_limit_t *self, int fd)
{
    for (size_t i = 0; i < self->n_open; i++)
        if (self->open[i].fd == fd)
            return &self->open[i];
    return NULL;
}

static void
s_forget (conn_limit_t *self, int fd)
{
    s_conn_t *c = s_find (self, fd);
    if (c)
        *c = self->open[--self->n_open];
}

void
conn_limit_handle (conn_limit_t *self, size_t *refused_p, size_t *failed)
{
    size_t refused = 0;
    for (int k = 0; k < S_READ_MAX; k++) {
        zmsg_t *zm = zmsg_recv (self->reader); /* RCVTIMEO 0 */
        if (!zm)
            break;
        zframe_t *frame = zmsg_first (zm);
        if (frame && zframe_size (frame) == 6) {
            uint16_t event;
            uint32_t value;
            memcpy (&event, zframe_data (frame), sizeof event);
            memcpy (&value, zframe_data (frame) + 2, sizeof value);
            int fd = (int)value;
            if (event == ZMQ_EVENT_ACCEPTED) {
                if (self->n_open < self->max) {
                    self->open[self->n_open++] =
                        (s_conn_t){.fd = fd, .since = zclock_mono ()};
                } else if (s_is_ours (self, fd)) {
                    shutdown (fd, SHUT_RDWR);
                    refused++;
                }
            } else if (event == ZMQ_EVENT_DISCONNECTED ||
                       event == ZMQ_EVENT_CLOSED) {
                s_forget (self, fd);
            } else {
                (*failed)++; /* HANDSHAKE_FAILED_*: value is an errno */
            }
        }
        zmsg_destroy (&zm);
    }
    self->refused += refused;
    *refused_p += refused;
    int64_t now = zclock_mono ();
    if (self->refused != self->logged && now - self->last_log >= 1000) {
        log_warn ("%s: %zu connections open (the limit): refused %llu more",
                  self->name, self->n_open,
                  (unsigned long long)(self->refused - self->logged));
        self->logged = self->refused;
        self->last_log = now;
    }
}

void
conn_limit_delivered (conn_limit_t *self, int fd, size_t bytes)
{
    s_conn_t *c = s_find (self, fd);
    if (c) {
        c->delivered += bytes;
        c->msgs++;
    }
}

size_t
conn_limit_check (conn_limit_t *self)
{
    size_t cut = 0;
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < self->n_open; i++) {
        s_conn_t *c = &self->open[i];
        /* Bytes libzmq read from this connection: beyond what reached us,
           what it holds (an endless multipart message grows it). */
        uint64_t taken;
        if (!s_is_ours (self, c->fd) || tcp_taken (c->fd, &taken) != 0)
            continue;
        uint64_t allowed =
            c->delivered + c->msgs * S_OVERHEAD_PER_MSG + S_OVERHEAD_FIXED +
            (uint64_t)(now - c->since) / 1000 * S_OVERHEAD_PER_S +
            self->held_max;
        if (taken <= allowed) {
            c->strikes = 0;
        } else if (++c->strikes >= S_STRIKES) {
            log_warn ("%s: a connection holds %llu bytes that never formed a "
                      "message (limit %zu): closed",
                      self->name,
                      (unsigned long long)(taken - (allowed - self->held_max)),
                      self->held_max);
            shutdown (c->fd, SHUT_RDWR);
            c->strikes = 0;
            cut++;
        }
    }
    self->cut += cut;
    return cut;
}
