/*  conn_limit.h -- a limit on the connections a listening ZeroMQ socket
    holds open at once (the peer ROUTER, the monitoring XPUB).

    libzmq accepts every TCP connection and has no such option, so each one
    costs a stranger a few bytes and this node an fd, buffers and a
    handshake. conn_limit watches the socket's own events
    (zmq_socket_monitor: ACCEPTED, DISCONNECTED and CLOSED carry the fd)
    and, when a connection is accepted while `max` are already open, shuts
    that fd down at once (shutdown (2): libzmq still owns and closes it,
    and sees the connection end as if the client had left). It only
    touches an fd that is a TCP socket on the listening port, so a number
    reused by another file in the meantime is left alone.

    And it bounds what one connection can make libzmq hold: libzmq
    delivers a multipart message only once whole, and gathers its frames
    meanwhile with no limit, so a peer that sends frames with the MORE
    flag forever grows the node's memory forever. conn_limit_check (),
    called every few tens of milliseconds, compares what the kernel
    received on each connection (TCP_INFO, less what is still in its
    buffer) with what reached the owner (conn_limit_delivered, attributed
    by ZMQ_SRCFD) plus framing and heartbeats, and shuts down a connection
    holding more than held_max three times in a row.

    It also counts the handshakes the socket refused (HANDSHAKE_FAILED_*:
    no valid CURVE key -- the zap actor said no --, another security
    mechanism, not ZeroMQ at all, or too slow), for /metrics.

    Whoever owns the socket must read the events as they come:
    conn_limit_reader () in its poll set, conn_limit_handle () when it is
    readable. libzmq sends them with a blocking send from its I/O thread;
    the reader's queue is large (S_QUEUE in conn_limit.c) so that a burst
    of connections cannot stall that thread before the owner reads.
*/
#ifndef CONN_LIMIT_H_INCLUDED
#define CONN_LIMIT_H_INCLUDED

#include <czmq.h>

typedef struct conn_limit conn_limit_t;

/* Watch listener (bound, tcp): at most max connections, each holding at
   most held_max bytes that did not reach us. name goes in log lines. NULL
   if the socket cannot be monitored (the limits are then not enforced). */
conn_limit_t *conn_limit_new (zsock_t *listener, size_t max, size_t held_max,
                              const char *name);
/* REQUIRES: the listener is still open (stop monitoring first). */
void conn_limit_destroy (conn_limit_t **self_p);

/* The socket to poll for events. */
zsock_t *conn_limit_reader (conn_limit_t *self);
/* Read every queued event and enforce the limit. Adds to *refused the
   connections refused by this call, to *failed the handshakes that
   failed. */
void conn_limit_handle (conn_limit_t *self, size_t *refused, size_t *failed);

/* bytes of a message from fd (zmq_msg_get (msg, ZMQ_SRCFD)) reached us. */
void conn_limit_delivered (conn_limit_t *self, int fd, size_t bytes);
/* Shut down the connections that hold too much; returns how many. */
size_t conn_limit_check (conn_limit_t *self);

/* Connections open now, and refused so far. */
size_t conn_limit_open (const conn_limit_t *self);
uint64_t conn_limit_refused (const conn_limit_t *self);

#endif
