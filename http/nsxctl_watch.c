/*  nsxctl_watch.c -- `nsxctl watch` (nsxctl_watch.h).

    Long polls rather than server-sent events: each answer says the index
    it covers, which is all a client needs to resume exactly where it
    stopped, on any node (every node applies the same log: README,
    "Watches"), and the one HTTP client (client.h) stays one request per
    connection with one deadline.
*/
#include "nsxctl_watch.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A long poll waits this long on the server; the client allows more. */
#define S_POLL_MS 25000
#define S_SLACK_MS 5000

static void
s_urlencode (const char *s, char *out, size_t out_len)
{
    size_t o = 0;
    for (; *s && o + 4 < out_len; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
            (ch >= '0' && ch <= '9') || strchr ("-_.~/", ch))
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf (out + o, out_len - o, "%%%02X", ch);
    }
    out[o] = 0;
}

static void
s_print (json_t *ev, bool as_json)
{
    if (as_json) {
        char *t = json_dumps (ev, JSON_COMPACT);
        printf ("%s\n", t ? t : "null");
        free (t);
        return;
    }
    const char *type = json_string_value (json_object_get (ev, "type"));
    const char *key = json_string_value (json_object_get (ev, "key"));
    long long idx = json_integer_value (json_object_get (ev, "index"));
    if (type && strcmp (type, "put") == 0)
        printf ("put %s %s (index %lld)\n", key ? key : "",
                json_string_value (json_object_get (ev, "value")), idx);
    else
        printf ("delete %s (index %lld)\n", key ? key : "", idx);
}

int
nsxctl_watch (char **args, int nargs, char **endpoints, int n,
              const http_client_opts_t *opts, bool as_json)
{
    const char *key = NULL, *prefix = NULL;
    bool has_from = false;
    unsigned long long from = 0;
    long count = -1;
    for (int i = 0; i < nargs; i++) {
        if (strcmp (args[i], "--prefix") == 0 && i + 1 < nargs)
            prefix = args[++i];
        else if (strcmp (args[i], "--from") == 0 && i + 1 < nargs) {
            has_from = true;
            from = strtoull (args[++i], NULL, 10);
        } else if (strcmp (args[i], "--count") == 0 && i + 1 < nargs)
            count = atol (args[++i]);
        else if (!key && args[i][0] != '-')
            key = args[i];
        else {
            fprintf (stderr, "nsxctl: watch KEY | --prefix P [--from N] "
                             "[--count N]\n");
            return 2;
        }
    }
    if (!key == !prefix) {
        fprintf (stderr, "nsxctl: watch needs a KEY or --prefix P (one)\n");
        return 2;
    }
    char enc[4096], path[4400];
    s_urlencode (key ? key : prefix, enc, sizeof enc);
    int ep = 0, failures = 0;
    long printed = 0;
    while (count < 0 || printed < count) {
        char fromq[48] = "";
        if (has_from)
            snprintf (fromq, sizeof fromq, "&from_index=%llu", from);
        snprintf (path, sizeof path, "/kv/watch?%s=%s%s&timeout_ms=%d",
                  key ? "key" : "prefix", enc, fromq, S_POLL_MS);
        http_client_resp_t r = http_client_request (
            opts, endpoints[ep], "GET", path, NULL, S_POLL_MS + S_SLACK_MS);
        json_t *j = r.body ? json_loads (r.body, 0, NULL) : NULL;
        if (r.status == 200 && j) {
            json_t *evs = json_object_get (j, "events");
            for (size_t i = 0;
                 i < json_array_size (evs) && (count < 0 || printed < count);
                 i++, printed++)
                s_print (json_array_get (evs, i), as_json);
            fflush (stdout);
            /* resume after what this answer covered (an answer is never
               cut inside an entry, so --count stops between entries only
               when it says so) */
            from = (unsigned long long)json_integer_value (
                json_object_get (j, "index"));
            has_from = true;
            failures = 0;
        } else if (r.status == 410) {
            fprintf (
                stderr,
                "nsxctl: watch: the events after index %llu are no "
                "longer kept by %s (its oldest: %lld; it is at %lld): "
                "re-read (get, range) and watch again with --from "
                "the index the read reports\n",
                from, endpoints[ep],
                j ? (long long)json_integer_value (
                        json_object_get (j, "oldest_index"))
                  : -1LL,
                j ? (long long)json_integer_value (json_object_get (j, "index"))
                  : -1LL);
            json_decref (j);
            http_client_resp_free (&r);
            return NSXCTL_EXIT_COMPACTED;
        } else if (r.status >= 400 && r.status < 500) {
            const char *e = json_string_value (json_object_get (j, "error"));
            const char *d = json_string_value (json_object_get (j, "detail"));
            fprintf (stderr, "nsxctl: watch: %d %s%s%s\n", r.status, e ? e : "",
                     d ? ": " : "", d ? d : "");
            json_decref (j);
            http_client_resp_free (&r);
            return 4;
        } else {
            /* unreachable, busy, stopping: the next endpoint, from the
               same index */
            fprintf (stderr,
                     "nsxctl: watch: %s: %s; resuming on %s from index "
                     "%llu\n",
                     endpoints[ep],
                     r.status ? (r.body ? r.body : "no body") : r.error,
                     endpoints[(ep + 1) % n], from);
            ep = (ep + 1) % n;
            failures++;
            usleep ((useconds_t)(failures < 10 ? failures : 10) * 100000);
        }
        json_decref (j);
        http_client_resp_free (&r);
    }
    return 0;
}
