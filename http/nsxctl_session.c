/*  nsxctl_session.c -- see nsxctl_session.h.
*/
#include "nsxctl_session.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Is r's outcome unknown, or a refusal made before anything was
   proposed? Then the same request may go again: with a session it
   applies at most once. */
static bool
s_retry (const http_client_resp_t *r, const char **why)
{
    if (r->status == 0) {
        *why = r->error[0] ? r->error : "no answer";
        return true;
    }
    if (r->status != 503)
        return false;
    json_t *j = json_loads (r->body ? r->body : "", 0, NULL);
    const char *e = j ? json_string_value (json_object_get (j, "error")) : NULL;
    static const char *const again[] = {
        "timeout", "leadership_lost", "no_quorum", "transferring", "starting"};
    bool retry = false;
    for (size_t i = 0; e && i < sizeof again / sizeof again[0]; i++)
        if (strcmp (e, again[i]) == 0) {
            retry = true;
            *why = again[i];
        }
    json_decref (j);
    return retry;
}

/* Send until an answer that is not retried, or the deadline. */
static http_client_resp_t
s_until (nsxctl_send_fn send, void *ctx, const char *method, const char *path,
         const char *body, int timeout_ms, int64_t deadline, bool verbose,
         const char *what)
{
    http_client_resp_t r = {0};
    int t = timeout_ms > 0 ? timeout_ms : 1;
    for (int attempt = 1;; attempt++) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return r;
        http_client_resp_free (&r);
        r = send (ctx, method, path, body, t < left ? t : (int)left);
        const char *why = NULL;
        if (!s_retry (&r, &why))
            return r;
        if (verbose)
            fprintf (stderr, "nsxctl: %s: attempt %d: %s; retrying%s\n", what,
                     attempt, why,
                     strcmp (what, "open") ? " with the same seq" : "");
        zclock_sleep (20);
        t = t < 1 << 20 ? 2 * t : t; /* give the next try longer */
    }
}

http_client_resp_t
nsxctl_session_write (nsxctl_send_fn send, void *ctx, const char *method,
                      const char *path, json_t *body, int timeout_ms,
                      int deadline_ms, bool verbose)
{
    int64_t deadline = zclock_mono () + deadline_ms;
    /* a lost answer to the open leaves a session that expires: harmless */
    http_client_resp_t r = s_until (send, ctx, "POST", "/session/open", "{}",
                                    timeout_ms, deadline, verbose, "open");
    json_t *oj =
        r.status == 200 ? json_loads (r.body ? r.body : "", 0, NULL) : NULL;
    json_int_t sid = json_integer_value (json_object_get (oj, "session"));
    json_decref (oj);
    if (sid <= 0)
        return r;
    http_client_resp_free (&r);
    json_object_set_new (body, "session", json_integer (sid));
    json_object_set_new (body, "seq", json_integer (1));
    char *text = json_dumps (body, JSON_COMPACT), what[64];
    snprintf (what, sizeof what, "write (session %lld, seq 1)", (long long)sid);
    r = s_until (send, ctx, method, path, text, timeout_ms, deadline, verbose,
                 what);
    free (text);
    /* close, best effort within what is left (it expires otherwise) */
    char close[64];
    snprintf (close, sizeof close, "{\"session\":%lld}", (long long)sid);
    int64_t left = deadline - zclock_mono ();
    http_client_resp_t c = send (ctx, "POST", "/session/close", close,
                                 left > timeout_ms ? (int)left : timeout_ms);
    http_client_resp_free (&c);
    return r;
}
