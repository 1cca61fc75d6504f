/*  ui_probe.h -- one member's /health, asked every second for the /ui
    page (ui_relay.c): what the boxes show that the trace does not say
    (a member's state when the page opens, its monitoring socket's
    address) and whether it answers at all (a box greys out).

    Protocol (a zactor; the skeleton of actor.h, started by the relay
    with zactor_new, which waits for its signal):
      pipe  <- "$TERM"                 end (a fetch in progress ends first:
                                       at most UI_PROBE_TIMEOUT_MS)
            -> [status][body]          after each fetch, two string
                                       frames: the HTTP status ("0": no
                                       answer) and the body (JSON), or why
                                       there was none
    The fetch blocks this thread only: a paused or vanished member never
    holds up the relay. At most UI_PROBE_MAX_BYTES of answer are read.
*/
#ifndef UI_PROBE_H_INCLUDED
#define UI_PROBE_H_INCLUDED

#include <czmq.h>
#include <openssl/ssl.h>

#define UI_PROBE_EVERY_MS 1000
#define UI_PROBE_TIMEOUT_MS 800
#define UI_PROBE_MAX_BYTES 65536

typedef struct {
    const char *endpoint; /* host:port (copied at start) */
    SSL_CTX *tls;         /* https with it, or NULL */
} ui_probe_args_t;

void ui_probe_actor (zsock_t *pipe, void *args);

#endif
