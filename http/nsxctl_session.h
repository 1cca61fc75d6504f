/*  nsxctl_session.h -- nsxctl --session: a write made exactly once (§6.3,
    store/kvsm_session.h). nsxctl opens a session, sends its write with
    "session" and "seq" 1 in the body, retries it with the same seq when
    the outcome is unknown (no answer, 503 timeout or leadership_lost,
    and the refusals made before proposing: no_quorum, transferring,
    starting) against the endpoints it knows until its deadline, each try
    allowed twice the time of the one before, and closes the session at
    the end. A retry of a write that was applied gets the first reply;
    the state machine applies it once.
*/
#ifndef NSXCTL_SESSION_H_INCLUDED
#define NSXCTL_SESSION_H_INCLUDED

#include "client.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Send one request to the cluster (following leader hints), allowing it
   timeout_ms; the response is the caller's. */
typedef http_client_resp_t (*nsxctl_send_fn) (void *ctx, const char *method,
                                              const char *path,
                                              const char *body, int timeout_ms);

/* Open a session, write (method path body, to which the session fields
   are added) and close it. The write's last response; a failure to
   open is returned as that response. deadline_ms bounds the whole;
   timeout_ms is the first try's. verbose: say each retry on stderr. */
http_client_resp_t nsxctl_session_write (nsxctl_send_fn send, void *ctx,
                                         const char *method, const char *path,
                                         json_t *body, int timeout_ms,
                                         int deadline_ms, bool verbose);

#endif
