/*  nsxctl_lease.c -- see nsxctl_lease.h.
*/
#include "nsxctl_lease.h"

#include <czmq.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S_NOT_FOUND = 1, S_USAGE = 2, S_UNAVAILABLE = 3, S_REFUSED = 4 };

static volatile sig_atomic_t s_stop;

static void
s_on_signal (int sig)
{
    (void)sig;
    s_stop = 1;
}

static int
s_exit_code (int status)
{
    if (status == 200)
        return 0;
    if (status == 404)
        return S_NOT_FOUND;
    if (status == 0 || status == 409 || status >= 500)
        return S_UNAVAILABLE;
    return S_REFUSED;
}

/* A positive decimal id, or 0. */
static uint64_t
s_id (const char *s)
{
    char *end = NULL;
    unsigned long long v = strtoull (s, &end, 10);
    return s[0] >= '0' && s[0] <= '9' && end && !*end ? v : 0;
}

static int64_t
s_int (json_t *j, const char *name)
{
    json_t *v = json_object_get (j, name);
    return json_is_integer (v) ? json_integer_value (v) : -1;
}

/* Print r (its JSON as it is with as_json, else line for a 200 or the
   error); returns the exit code. */
static int
s_report (http_client_resp_t *r, bool as_json, const char *what)
{
    json_t *j = json_loads (r->body ? r->body : "", 0, NULL);
    if (as_json) {
        printf ("%s\n", r->body && *r->body ? r->body : "null");
    } else if (r->status == 0) {
        fprintf (stderr, "nsxctl: lease %s: no endpoint answered: %s\n", what,
                 r->error);
    } else if (r->status == 200 && strcmp (what, "grant") == 0) {
        printf ("%" PRId64 "\n", s_int (j, "id"));
    } else if (r->status == 200 && strcmp (what, "keepalive") == 0) {
        printf ("lease %" PRId64 " kept alive, ttl %" PRId64 " ms\n",
                s_int (j, "id"), s_int (j, "ttl_ms"));
    } else if (r->status == 200 && strcmp (what, "revoke") == 0) {
        printf ("lease %" PRId64 " revoked, %" PRId64 " keys deleted\n",
                s_int (j, "id"), s_int (j, "deleted"));
    } else if (r->status == 200 && strcmp (what, "list") == 0) {
        json_t *l = json_object_get (j, "leases");
        for (size_t i = 0; i < json_array_size (l); i++)
            printf ("lease %" PRId64 " ttl %" PRId64 " ms\n",
                    s_int (json_array_get (l, i), "id"),
                    s_int (json_array_get (l, i), "ttl_ms"));
    } else if (r->status == 200) {
        printf ("lease %" PRId64 " ttl %" PRId64 " ms", s_int (j, "id"),
                s_int (j, "ttl_ms"));
        if (json_object_get (j, "remaining_ms"))
            printf (" remaining %" PRId64 " ms", s_int (j, "remaining_ms"));
        json_t *keys = json_object_get (j, "keys");
        if (json_is_array (keys)) {
            printf (" keys:");
            for (size_t i = 0; i < json_array_size (keys); i++)
                printf (" %s", json_string_value (json_array_get (keys, i)));
        }
        printf ("\n");
    } else {
        const char *e = json_string_value (json_object_get (j, "error"));
        fprintf (stderr, "nsxctl: lease %s: %d %s\n", what, r->status,
                 e ? e : (r->body ? r->body : ""));
    }
    json_decref (j);
    return s_exit_code (r->status);
}

/* keepalive ID --every S [--for S]: until the end, a 404, a refusal, or
   no answer for longer than the lease's TTL (it is gone by then). */
static int
s_keepalive_loop (uint64_t id, double every_s, double for_s,
                  nsxctl_send_fn send, void *ctx, int timeout_ms, bool as_json)
{
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    char body[64];
    snprintf (body, sizeof body, "{\"id\":%" PRIu64 "}", id);
    int64_t start = zclock_mono ();
    int64_t end = for_s > 0 ? start + (int64_t)(for_s * 1000) : INT64_MAX;
    int64_t last_ok = start, ttl_ms = 0;
    int rc = 0;
    bool warned = false;
    while (!s_stop && zclock_mono () < end) {
        http_client_resp_t r =
            send (ctx, "POST", "/lease/keepalive", body, timeout_ms);
        int64_t now = zclock_mono ();
        int64_t wait = 100;
        if (r.status == 200) {
            json_t *j = json_loads (r.body ? r.body : "", 0, NULL);
            ttl_ms = s_int (j, "ttl_ms");
            json_decref (j);
            rc = s_report (&r, as_json, "keepalive");
            fflush (stdout);
            last_ok = now;
            warned = false;
            wait = (int64_t)(every_s * 1000);
            if (ttl_ms > 0 && (wait <= 0 || wait > ttl_ms / 3))
                wait = ttl_ms / 3;
        } else if (r.status == 404 || (r.status >= 400 && r.status < 500 &&
                                       r.status != 409 && r.status != 429)) {
            rc = s_report (&r, as_json, "keepalive");
            http_client_resp_free (&r);
            return rc;
        } else {
            /* no answer, or not now (no leader yet, 503): keep trying, as
               etcd's client does. Past the TTL the lease may be gone, but
               only the leader knows: a new one extends every lease by an
               election timeout; a 404 will say. */
            rc = s_exit_code (r.status);
            if (ttl_ms > 0 && now - last_ok > ttl_ms && !warned) {
                fprintf (stderr,
                         "nsxctl: lease %" PRIu64 ": no renewal for %" PRId64
                         " ms (TTL %" PRId64 " ms): %s; still trying\n",
                         id, now - last_ok, ttl_ms,
                         r.status ? "no leader" : r.error);
                warned = true;
            }
        }
        http_client_resp_free (&r);
        /* sleep in small steps: a signal or the end cuts it short */
        for (int64_t t = 0; t < wait && !s_stop && zclock_mono () < end;
             t += 20)
            zclock_sleep (20);
    }
    return rc;
}

int
nsxctl_lease (char **args, int nargs, nsxctl_send_fn send, void *ctx,
              int timeout_ms, bool as_json)
{
    if (nargs == 1 && strcmp (args[0], "list") == 0) {
        http_client_resp_t r =
            send (ctx, "GET", "/lease/list", NULL, timeout_ms);
        int rc = s_report (&r, as_json, "list");
        http_client_resp_free (&r);
        return rc;
    }
    if (nargs < 2) {
        fprintf (stderr,
                 "usage: nsxctl lease grant TTL | keepalive ID "
                 "[--every S [--for S]] | revoke ID | info ID | list\n");
        return S_USAGE;
    }
    const char *sub = args[0];
    uint64_t n = s_id (args[1]);
    if (n == 0) {
        fprintf (stderr, "nsxctl: lease %s: %s is not a positive integer\n",
                 sub, args[1]);
        return S_USAGE;
    }
    char body[64], path[64];
    http_client_resp_t r = {0};
    if (strcmp (sub, "grant") == 0 && nargs == 2) {
        snprintf (body, sizeof body, "{\"ttl\":%" PRIu64 "}", n);
        r = send (ctx, "POST", "/lease/grant", body, timeout_ms);
    } else if (strcmp (sub, "keepalive") == 0) {
        double every = -1, dur = 0;
        bool bad = false;
        for (int i = 2; i < nargs && !bad; i += 2) {
            if (i + 1 >= nargs)
                bad = true;
            else if (strcmp (args[i], "--every") == 0)
                every = atof (args[i + 1]);
            else if (strcmp (args[i], "--for") == 0)
                dur = atof (args[i + 1]);
            else
                bad = true;
        }
        if (bad || (dur > 0 && every < 0)) {
            fprintf (stderr, "usage: nsxctl lease keepalive ID [--every S "
                             "[--for S]]\n");
            return S_USAGE;
        }
        if (every >= 0)
            return s_keepalive_loop (n, every, dur, send, ctx, timeout_ms,
                                     as_json);
        snprintf (body, sizeof body, "{\"id\":%" PRIu64 "}", n);
        r = send (ctx, "POST", "/lease/keepalive", body, timeout_ms);
    } else if (strcmp (sub, "revoke") == 0 && nargs == 2) {
        snprintf (body, sizeof body, "{\"id\":%" PRIu64 "}", n);
        r = send (ctx, "POST", "/lease/revoke", body, timeout_ms);
    } else if (strcmp (sub, "info") == 0 && nargs == 2) {
        snprintf (path, sizeof path, "/lease/info?id=%" PRIu64, n);
        r = send (ctx, "GET", path, NULL, timeout_ms);
    } else {
        fprintf (stderr, "usage: nsxctl lease grant TTL | keepalive ID "
                         "[--every S [--for S]] | revoke ID | info ID\n");
        return S_USAGE;
    }
    int rc = s_report (&r, as_json, sub);
    http_client_resp_free (&r);
    return rc;
}
