/*  ui_relay.h -- the /ui page's relay actor (issue 16; ui_relay.c says
    how it works): every member's trace events and states, merged into
    the feed (ui_feed.h) that the page's browsers stream.
*/
#ifndef UI_RELAY_H_INCLUDED
#define UI_RELAY_H_INCLUDED

#include "peer_keys.h"
#include "raft.h"
#include "ui_feed.h"

#include <czmq.h>
#include <openssl/ssl.h>

typedef struct {
    raft_id_t id;
    const char *http_self;   /* our advertised HTTP address (host:port) */
    SSL_CTX *tls;            /* https to the members with it, or NULL */
    const peer_keys_t *keys; /* subscribe with the trace key (CURVE), or
                                NULL (--insecure-peers) */
    ui_feed_t *feed;
} ui_relay_args_t;

void ui_relay_actor (zsock_t *pipe, void *args);

/* "tcp://h:p" that other hosts reach a monitoring socket bound on
   listen at: listen itself, or with a wildcard host (*, 0.0.0.0) the
   host of http_advertise. "" when listen is empty or not tcp. */
void ui_relay_monitor_addr (const char *listen, const char *http_advertise,
                            char *out, size_t len);

#endif
