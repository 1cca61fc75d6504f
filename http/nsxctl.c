/*  nsxctl.c -- the command-line client of nsxd's HTTP API.

        nsxctl [--endpoints H:P,H:P,...] [--json] [--stale] [--timeout MS]
               [--token TOKEN] [--cacert FILE] [--tls]
               [--session [--deadline MS]]
               put KEY VALUE [--lease ID] | get KEY | delete KEY
               | cas KEY OLD NEW | txn JSON | range PREFIX
               | watch KEY|--prefix P
               | lease grant TTL | lease keepalive ID [--every S [--for S]]
               | lease revoke ID | lease info ID | lease list
               | status
               | join PEER [ID] | remove PEER | remove --id ID

    Security (README, "Security"): --token (or $NSXCTL_TOKEN) is sent as
    "Authorization: Bearer"; --cacert FILE (or $NSXCTL_CACERT) speaks TLS
    and verifies the server's certificate, name included, against the CA
    certificates in FILE; --tls does the same against the system's trust
    store. An endpoint may say its scheme (https://h:p, http://h:p); a bare
    h:p, and a leader hint, use TLS when --cacert or --tls is given or any
    endpoint is https://.

    Requests go to the first endpoint that answers; a 409 not_leader answer
    is followed to the leader it names. Exit codes: 0 success, 1 key not
    found, 2 usage, 3 cluster unavailable (no endpoint answered, 503 or no
    leader), 4 any other refusal (4xx). --json prints the server's JSON body
    as it is; otherwise a short human line. Endpoints default to
    $NSXCTL_ENDPOINTS, then 127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003.
*/
#include "client.h"
#include "nsxctl_lease.h"
#include "nsxctl_session.h"
#include "nsxctl_trace.h"
#include "nsxctl_watch.h"
#include "peer_keys.h"
#include "tls.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum {
    EXIT_NOT_FOUND = 1,
    EXIT_USAGE = 2,
    EXIT_UNAVAILABLE = 3,
    EXIT_REFUSED = 4
};

static int s_timeout_ms = 5000;
static http_client_opts_t s_opts;
static char s_last_error[192]; /* why the last endpoint did not answer */

/* One HTTP request to an endpoint, within the --timeout. */
static http_client_resp_t
s_request (const char *endpoint, const char *method, const char *path,
           const char *body)
{
    http_client_resp_t r = http_client_request (&s_opts, endpoint, method, path,
                                                body, s_timeout_ms);
    if (r.status == 0)
        snprintf (s_last_error, sizeof s_last_error, "%s", r.error);
    return r;
}

/* URL-encode s for a query string. */
static void
s_urlencode (const char *s, char *out, size_t out_len)
{
    size_t o = 0;
    for (; *s && o + 4 < out_len; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
            (ch >= '0' && ch <= '9') || strchr ("-_.~", ch))
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf (out + o, out_len - o, "%%%02X", ch);
    }
    out[o] = 0;
}

/* Send to the cluster: try each endpoint, follow leader hints. */
static http_client_resp_t
s_cluster (char **endpoints, int n, const char *method, const char *path,
           const char *body, bool follow)
{
    http_client_resp_t r = {0};
    char target[256] = "";
    int tries = 0, next = 0;
    while (tries++ < 3 * n + 3) {
        if (!target[0]) {
            if (next >= n)
                break;
            snprintf (target, sizeof target, "%s", endpoints[next++]);
        }
        free (r.body);
        r = s_request (target, method, path, body);
        if (r.status == 0) {
            target[0] = 0; /* unreachable: next endpoint */
            continue;
        }
        if (r.status == 503) {
            /* Refusals made before anything was proposed: this node cannot
               serve it (it sees no majority, or is handing over), another
               endpoint may. A timeout or lost leadership is final: the
               write may have happened. */
            json_t *j = json_loads (r.body ? r.body : "", 0, NULL);
            const char *e =
                j ? json_string_value (json_object_get (j, "error")) : NULL;
            bool retry = e && (strcmp (e, "no_quorum") == 0 ||
                               strcmp (e, "transferring") == 0 ||
                               strcmp (e, "starting") == 0);
            json_decref (j);
            if (retry && next < n) {
                target[0] = 0;
                continue;
            }
            return r;
        }
        if (r.status == 409 && follow) {
            json_t *j = json_loads (r.body ? r.body : "", 0, NULL);
            const char *leader =
                j ? json_string_value (json_object_get (j, "leader")) : NULL;
            if (leader && strcmp (leader, target) != 0) {
                snprintf (target, sizeof target, "%s", leader);
                json_decref (j);
                continue;
            }
            json_decref (j);
            target[0] = 0; /* no leader known there: ask another */
            continue;
        }
        return r;
    }
    return r;
}

/* --session (nsxctl_session.h): the cluster as nsxctl_session sees it. */
typedef struct {
    char **endpoints;
    int n;
} s_eps_t;

static http_client_resp_t
s_session_send (void *ctx, const char *method, const char *path,
                const char *body, int timeout_ms)
{
    s_eps_t *e = ctx;
    int saved = s_timeout_ms;
    s_timeout_ms = timeout_ms;
    http_client_resp_t r =
        s_cluster (e->endpoints, e->n, method, path, body, true);
    s_timeout_ms = saved;
    return r;
}

static int s_deadline_ms = 15000; /* --deadline, with --session */

/* A write: as it is, or with --session exactly once. */
static http_client_resp_t
s_write (s_eps_t *e, bool session, const char *method, const char *path,
         const char *body, json_t *j)
{
    if (!session)
        return s_cluster (e->endpoints, e->n, method, path, body, true);
    return nsxctl_session_write (s_session_send, e, method, path, j,
                                 s_timeout_ms, s_deadline_ms, true);
}

static int
s_exit_code (int status)
{
    if (status == 200)
        return 0;
    if (status == 404)
        return EXIT_NOT_FOUND;
    if (status == 0 || status == 409 || status >= 500)
        return EXIT_UNAVAILABLE;
    return EXIT_REFUSED;
}

/* range: one "key value" line per record. */
static void
s_print_range (json_t *rj)
{
    json_t *kvs = json_object_get (rj, "kvs");
    for (size_t i = 0; i < json_array_size (kvs); i++) {
        json_t *o = json_array_get (kvs, i);
        printf ("%s %s\n", json_string_value (json_object_get (o, "key")),
                json_string_value (json_object_get (o, "value")));
    }
    if (json_is_true (json_object_get (rj, "more")))
        printf ("... more (--json shows the continue token)\n");
}

static void
s_usage (FILE *out)
{
    fputs (
        "usage: nsxctl [--endpoints H:P,...] [--json] [--stale] "
        "[--timeout MS]\n"
        "              [--token TOKEN] [--cacert FILE] [--tls]\n"
        "              [--session [--deadline MS]] COMMAND\n"
        "  put KEY VALUE [--lease ID]\n"
        "                       write (waits for commit); --lease: the key\n"
        "                       is deleted when lease ID expires\n"
        "  get KEY              linearizable read (--stale: local read)\n"
        "  delete KEY\n"
        "  cas KEY OLD NEW      put NEW only if the value is OLD (OLD '-':\n"
        "                       only if KEY does not exist); exit 4 if not\n"
        "  txn JSON             POST /kv/txn with that body ('-': stdin);\n"
        "                       prints the reply's JSON\n"
        "  range PREFIX         up to 1000 keys and values under PREFIX\n"
        "                       (--stale: a local read)\n"
        "  watch KEY | --prefix P [--from N] [--count N]\n"
        "                       one line per change, as it is applied\n"
        "                       (from index N: the changes after it),\n"
        "                       resuming on the next endpoint if one\n"
        "                       fails; exit 5 when the node no longer\n"
        "                       keeps the changes asked for (re-read)\n"
        "  lease grant TTL      a lease of TTL seconds (raised to the\n"
        "                       cluster's minimum); prints its id\n"
        "  lease keepalive ID [--every S [--for S]]\n"
        "                       renew it once, or every S seconds (at most\n"
        "                       TTL/3) for S seconds or until interrupted\n"
        "  lease revoke ID      revoke it: its keys are deleted\n"
        "  lease info ID        its TTL, remaining time and keys\n"
        "  lease list           every lease and its TTL (a local read)\n"
        "  status               /health of every endpoint\n"
        "  join PEER [ID]       add the server whose API is at PEER\n"
        "  remove PEER          remove the server whose API is at PEER\n"
        "  remove --id ID\n"
        "  trace [--kind K]... [--duration-ms N] [--secret-file F]\n"
        "                       the merged trace of every node's monitoring\n"
        "                       socket (--endpoints tcp://H:P,...; default\n"
        "                       $NSXCTL_MONITORS, else the local cluster's\n"
        "                       tcp://127.0.0.1:9101..9103). The cluster\n"
        "                       secret authenticates us: --secret-file,\n"
        "                       else $NSXCTL_SECRET_FILE, else\n"
        "                       ./data/cluster.key if it exists (make run's);\n"
        "                       --insecure for a cluster run with\n"
        "                       --insecure-peers\n"
        "  keygen FILE          write a new cluster secret to FILE (mode\n"
        "                       0600); refuses to overwrite one\n"
        "                       tcp://127.0.0.1:9101..9103)\n"
        "endpoints: h:p, http://h:p or https://h:p; a bare h:p speaks TLS\n"
        "  with --cacert FILE ($NSXCTL_CACERT: CA certificates to verify\n"
        "  the server with) or --tls (the system's CAs)\n"
        "--token TOKEN ($NSXCTL_TOKEN): sent as Authorization: Bearer\n"
        "--session: put, delete, cas and txn apply exactly once: a write\n"
        "  whose outcome is unknown (no answer, 503 timeout or\n"
        "  leadership_lost) is retried in a client session with the same\n"
        "  seq until --deadline MS (15000); --timeout is the first try's\n"
        "exit: 0 ok, 1 not found, 2 usage, 3 unavailable, 4 refused,\n"
        "  5 watch: compacted\n",
        out);
}

int
main (int argc, char **argv)
{
    const char *eps = getenv ("NSXCTL_ENDPOINTS");
    if (!eps || !*eps)
        eps = "127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003";
    bool as_json = false, stale = false, eps_given = false, tls = false;
    bool session = false;
    int deadline_ms = 15000;
    long remove_id = 0;
    const char *token = getenv ("NSXCTL_TOKEN");
    const char *cacert = getenv ("NSXCTL_CACERT");
    static const struct option opts[] = {
        {"endpoints", required_argument, 0, 'e'},
        {"json", no_argument, 0, 'j'},
        {"stale", no_argument, 0, 's'},
        {"timeout", required_argument, 0, 't'},
        {"id", required_argument, 0, 'i'},
        {"token", required_argument, 0, 'k'},
        {"cacert", required_argument, 0, 'c'},
        {"tls", no_argument, 0, 'T'},
        {"session", no_argument, 0, 'S'},
        {"deadline", required_argument, 0, 'D'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long (argc, argv, "+e:jst:i:k:c:TSD:h", opts, NULL)) !=
           -1) {
        switch (o) {
        case 'e':
            eps = optarg;
            eps_given = true;
            break;
        case 'j': as_json = true; break;
        case 's': stale = true; break;
        case 't': s_timeout_ms = atoi (optarg); break;
        case 'i': remove_id = atol (optarg); break;
        case 'k': token = optarg; break;
        case 'c': cacert = optarg; break;
        case 'T': tls = true; break;
        case 'S': session = true; break;
        case 'D': deadline_ms = atoi (optarg); break;
        case 'h': s_usage (stdout); return 0;
        default: s_usage (stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        s_usage (stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[optind];
    int nargs = argc - optind - 1;
    char **args = argv + optind + 1;
    /* "remove --id N" after the command */
    if (strcmp (cmd, "remove") == 0 && nargs == 2 &&
        strcmp (args[0], "--id") == 0) {
        remove_id = atol (args[1]);
        nargs = 0;
    }

    if (strcmp (cmd, "keygen") == 0) {
        if (nargs != 1) {
            s_usage (stderr);
            return EXIT_USAGE;
        }
        if (peer_keys_generate (args[0]) != 0) {
            fprintf (stderr, "nsxctl: cannot create %s: %s\n", args[0],
                     strerror (errno));
            return errno == EEXIST ? EXIT_REFUSED : EXIT_UNAVAILABLE;
        }
        return 0;
    }

    if (strcmp (cmd, "trace") == 0)
        /* --endpoints, when given, names monitoring sockets here */
        return nsxctl_trace (args, nargs, eps_given ? eps : NULL, as_json);

    char *list = strdup (eps), *save = NULL;
    char *endpoints[64];
    int n = 0;
    for (char *t = strtok_r (list, ",", &save); t && n < 64;
         t = strtok_r (NULL, ",", &save))
        endpoints[n++] = t;
    if (n == 0) {
        fprintf (stderr, "nsxctl: no endpoints\n");
        return EXIT_USAGE;
    }
    for (int i = 0; i < n; i++)
        if (strncasecmp (endpoints[i], "https://", 8) == 0)
            tls = true;
    if (cacert && !*cacert)
        cacert = NULL;
    if (cacert || tls) {
        char err[256];
        s_opts.tls = http_tls_client_ctx (cacert, err, sizeof err);
        if (!s_opts.tls) {
            fprintf (stderr, "nsxctl: %s%s%s\n", cacert ? "--cacert " : "",
                     cacert ? cacert : "", err);
            free (list);
            return EXIT_USAGE;
        }
    }
    s_opts.token = token && *token ? token : NULL;

    s_eps_t eps_ctx = {endpoints, n};
    s_deadline_ms = deadline_ms;
    http_client_resp_t r = {0};
    char path[8192], *body = NULL;
    json_t *j = NULL;
    int rc = 0;
    if (strcmp (cmd, "put") == 0 &&
        (nargs == 2 || (nargs == 4 && strcmp (args[2], "--lease") == 0))) {
        j = json_pack ("{s:s, s:s}", "key", args[0], "value", args[1]);
        if (nargs == 4) /* a bad id is the server's 400 */
            json_object_set_new (j, "lease",
                                 json_integer ((json_int_t)atoll (args[3])));
        body = json_dumps (j, JSON_COMPACT);
        r = s_write (&eps_ctx, session, "POST", "/kv/put", body, j);
    } else if (strcmp (cmd, "get") == 0 && nargs == 1) {
        char enc[4096];
        s_urlencode (args[0], enc, sizeof enc);
        snprintf (path, sizeof path, "/kv/get?key=%s%s", enc,
                  stale ? "&stale=true" : "");
        r = s_cluster (endpoints, n, "GET", path, NULL, !stale);
    } else if (strcmp (cmd, "delete") == 0 && nargs == 1) {
        j = json_pack ("{s:s}", "key", args[0]);
        body = json_dumps (j, JSON_COMPACT);
        r = s_write (&eps_ctx, session, "DELETE", "/kv/delete", body, j);
    } else if (strcmp (cmd, "cas") == 0 && nargs == 3) {
        j = strcmp (args[1], "-") == 0
                ? json_pack ("{s:s, s:s, s:b}", "key", args[0], "value",
                             args[2], "prev_exist", 0)
                : json_pack ("{s:s, s:s, s:s}", "key", args[0], "value",
                             args[2], "prev_value", args[1]);
        body = json_dumps (j, JSON_COMPACT);
        r = s_write (&eps_ctx, session, "POST", "/kv/put", body, j);
    } else if (strcmp (cmd, "txn") == 0 && nargs == 1) {
        j = strcmp (args[0], "-") == 0 ? json_loadf (stdin, 0, NULL)
                                       : json_loads (args[0], 0, NULL);
        body = j ? json_dumps (j, JSON_COMPACT) : NULL;
        if (!body) {
            fprintf (stderr, "nsxctl: txn: not JSON\n");
            free (list);
            return EXIT_USAGE;
        }
        as_json = true; /* the reply is the result */
        r = s_write (&eps_ctx, session, "POST", "/kv/txn", body, j);
    } else if (strcmp (cmd, "range") == 0 && nargs == 1) {
        char enc[4096];
        s_urlencode (args[0], enc, sizeof enc);
        snprintf (path, sizeof path, "/kv/range?prefix=%s&limit=1000%s", enc,
                  stale ? "&stale=true" : "");
        r = s_cluster (endpoints, n, "GET", path, NULL, !stale);
    } else if (strcmp (cmd, "lease") == 0) {
        rc = nsxctl_lease (args, nargs, s_session_send, &eps_ctx, s_timeout_ms,
                           as_json);
        free (list);
        SSL_CTX_free (s_opts.tls);
        return rc;
    } else if (strcmp (cmd, "watch") == 0) {
        rc = nsxctl_watch (args, nargs, endpoints, n, &s_opts, as_json);
        free (list);
        SSL_CTX_free (s_opts.tls);
        return rc;
    } else if (strcmp (cmd, "join") == 0 && (nargs == 1 || nargs == 2)) {
        j = nargs == 2 ? json_pack ("{s:s, s:I}", "peer", args[0], "id",
                                    (json_int_t)atoll (args[1]))
                       : json_pack ("{s:s}", "peer", args[0]);
        body = json_dumps (j, JSON_COMPACT);
        r = s_cluster (endpoints, n, "POST", "/raft/join", body, true);
    } else if (strcmp (cmd, "remove") == 0 && (nargs == 1 || remove_id)) {
        j = remove_id ? json_pack ("{s:I}", "id", (json_int_t)remove_id)
                      : json_pack ("{s:s}", "peer", args[0]);
        body = json_dumps (j, JSON_COMPACT);
        r = s_cluster (endpoints, n, "POST", "/raft/remove", body, true);
    } else if (strcmp (cmd, "status") == 0 && nargs == 0) {
        int up = 0;
        for (int i = 0; i < n; i++) {
            http_client_resp_t h =
                s_request (endpoints[i], "GET", "/health", NULL);
            if (h.status == 200)
                up++;
            if (as_json) {
                printf ("%s\n", h.body ? h.body : "null");
            } else if (h.status == 0) {
                printf ("%-22s  unreachable (%s)\n", endpoints[i], h.error);
            } else if (h.status != 200) {
                printf ("%-22s  %d %s\n", endpoints[i], h.status,
                        h.body ? h.body : "");
            } else {
                json_t *hj = json_loads (h.body, 0, NULL);
                const char *leader =
                    json_string_value (json_object_get (hj, "leader"));
                printf ("%-22s  id %-3lld %-12s term %-5lld commit %-8lld "
                        "applied %-8lld leader %s\n",
                        endpoints[i],
                        json_integer_value (json_object_get (hj, "id")),
                        json_string_value (json_object_get (hj, "role")),
                        json_integer_value (json_object_get (hj, "term")),
                        json_integer_value (json_object_get (hj, "commit")),
                        json_integer_value (json_object_get (hj, "applied")),
                        leader ? leader : "-");
                json_decref (hj);
            }
            free (h.body);
        }
        free (list);
        SSL_CTX_free (s_opts.tls);
        return up ? 0 : EXIT_UNAVAILABLE;
    } else {
        s_usage (stderr);
        free (list);
        return EXIT_USAGE;
    }
    rc = s_exit_code (r.status);
    if (as_json) {
        printf ("%s\n", r.body && *r.body ? r.body : "null");
    } else if (r.status == 0) {
        fprintf (stderr, "nsxctl: no endpoint answered (%s): %s\n", eps,
                 s_last_error);
    } else {
        json_t *rj = json_loads (r.body ? r.body : "", 0, NULL);
        const char *err = json_string_value (json_object_get (rj, "error"));
        if (r.status == 200 && strcmp (cmd, "get") == 0)
            printf ("%s\n", json_string_value (json_object_get (rj, "value")));
        else if (r.status == 200 && strcmp (cmd, "range") == 0)
            s_print_range (rj);
        else if (r.status == 200 && strcmp (cmd, "delete") == 0)
            printf ("%s\n", json_is_true (json_object_get (rj, "deleted"))
                                ? "deleted"
                                : "not found (nothing deleted)");
        else if (r.status == 200)
            printf ("OK\n");
        else
            fprintf (stderr, "nsxctl: %d %s\n", r.status,
                     err ? err : (r.body ? r.body : ""));
        json_decref (rj);
    }
    free (r.body);
    free (body);
    json_decref (j);
    free (list);
    SSL_CTX_free (s_opts.tls);
    return rc;
}
