/*  watch_client.h -- what tests/node/test_http_watch.c uses: one node (a
    cluster of one, started from flags as nsxd's main does: HTTP
    127.0.0.1:5150, peer 5250, monitor 5350, 8 HTTP workers, a history of
    20 events) and the HTTP client side (the one client, and raw sockets
    for headers and streams). Every socket has a 5 s timeout and every
    wait a deadline.
*/
#ifndef WATCH_CLIENT_H_INCLUDED
#define WATCH_CLIENT_H_INCLUDED

#include "node.h"
#include "node_fixture.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WC_HOST "127.0.0.1"
#define WC_PORT 5150
#define WC_EP "127.0.0.1:5150"

extern node_t *wc_node;

/* Start the node in dir: 0, or the status node_start returned. */
int wc_start (const char *dir);
/* Requests: node_fixture.h's nf_req (WC_EP, ...), nf_int, nf_str. */
/* PUT key=value: its index, or -1. */
int64_t wc_put (const char *key, const char *value);
int64_t wc_mono_ms (void);
int wc_dial (void);
/* GET path with extra header lines ("Name: v\r\n"...): the socket, -1. */
int wc_open (const char *path, const char *extra);
/* Read until buf holds `until` times want (NULL: until closed), the
   peer closes, or deadline_ms: the bytes read (buf NUL-terminated). */
size_t wc_read_until (int fd, char *buf, size_t cap, const char *want,
                      int until, int64_t deadline_ms);

/* A request in a thread: wc_poll (arg) fills status, j, took. */
typedef struct {
    char path[200];
    int status;
    json_t *j;
    int64_t took;
} wc_poll_t;
void *wc_poll (void *arg);

/* Streams whose client closed give their slots back within a slice
   (500 ms): wait (bounded) until a watch is served again. */
bool wc_slots_free (void);

#endif
