/*  ui_probe.c -- see ui_probe.h.
*/
#include "ui_probe.h"

#include "client.h"

#include <stdio.h>
#include <string.h>

void
ui_probe_actor (zsock_t *pipe, void *args)
{
    const ui_probe_args_t *a = args;
    char *endpoint = strdup (a->endpoint);
    SSL_CTX *tls = a->tls;
    zpoller_t *poller = endpoint ? zpoller_new (pipe, NULL) : NULL;
    zsock_signal (pipe, 0);
    int64_t next = zclock_mono ();
    while (poller) {
        int64_t wait = next - zclock_mono ();
        void *which = zpoller_wait (poller, wait > 0 ? (int)wait : 0);
        if (which == pipe) {
            char *cmd = zstr_recv (pipe);
            bool term = !cmd || streq (cmd, "$TERM");
            zstr_free (&cmd);
            if (term)
                break;
            continue;
        }
        if (zpoller_terminated (poller))
            break;
        if (zclock_mono () < next)
            continue; /* a signal woke us */
        next = zclock_mono () + UI_PROBE_EVERY_MS;
        http_client_opts_t opts = {.tls = tls,
                                   .max_response = UI_PROBE_MAX_BYTES};
        http_client_resp_t r = http_client_request (
            &opts, endpoint, "GET", "/health", NULL, UI_PROBE_TIMEOUT_MS);
        char status[16];
        snprintf (status, sizeof status, "%d", r.status);
        zstr_sendm (pipe, status);
        zstr_send (pipe, r.status ? r.body : r.error);
        http_client_resp_free (&r);
    }
    if (!poller) /* out of memory: do nothing but wait for $TERM */
        for (bool term = false; !term;) {
            char *cmd = zstr_recv (pipe);
            term = !cmd || streq (cmd, "$TERM");
            zstr_free (&cmd);
        }
    zpoller_destroy (&poller);
    free (endpoint);
}
