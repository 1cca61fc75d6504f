/*  nsxd_config.c -- see nsxd_config.h. Every flag has an NSXD_*
    environment variable; nsxd_config_usage (nsxd_usage.c) lists them.
*/
#include "nsxd_config.h"
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Flags override the environment, which overrides the defaults. */
static const char *
s_env (const char *name, const char *fallback)
{
    const char *v = getenv (name);
    return v && *v ? v : fallback;
}

static bool
s_parse_long (const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol (text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* A yes/no flag or variable: 1/true/yes/on, 0/false/no/off or empty. */
static bool
s_parse_bool (const char *name, const char *text, bool *out)
{
    const char *yes[] = {"1", "true", "yes", "on"};
    const char *no[] = {"", "0", "false", "no", "off"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (strcasecmp (text, yes[i]) == 0)
            return *out = true;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (strcasecmp (text, no[i]) == 0) {
            *out = false;
            return true;
        }
    fprintf (stderr, "nsxd: %s must be 1 or 0 (true/false, yes/no)\n", name);
    return false;
}

/* The first line of path, trimmed, into out: the join token's file. */
static int
s_read_token_file (const char *path, char *out, size_t out_len)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf (stderr, "nsxd: --join-token-file %s: %s\n", path,
                 strerror (errno));
        return -1;
    }
    char buf[HTTP_AUTH_MAX_TOKEN + 64];
    ssize_t n = read (fd, buf, sizeof buf - 1);
    close (fd);
    if (n < 0) {
        fprintf (stderr, "nsxd: --join-token-file %s: %s\n", path,
                 strerror (errno));
        return -1;
    }
    buf[n] = 0;
    size_t start = strspn (buf, " \t\r\n");
    size_t len = strcspn (buf + start, " \t\r\n");
    int rc = 0;
    if (len == 0 || len >= out_len) {
        fprintf (stderr,
                 "nsxd: --join-token-file %s: no token of at most "
                 "%zu characters on its first line\n",
                 path, out_len - 1);
        rc = -1;
    } else {
        memcpy (out, buf + start, len);
        out[len] = 0;
    }
    OPENSSL_cleanse (buf, sizeof buf);
    return rc;
}

int
nsxd_config_parse (int argc, char **argv, nsxd_config_t *c)
{
    memset (c, 0, sizeof c[0]);
    /* v[i] is option i of opts below: keep both lists in step */
    const char *v[40] = {
        s_env ("NSXD_ID", ""), s_env ("NSXD_HTTP_LISTEN", "127.0.0.1:8001"),
        s_env ("NSXD_HTTP_ADVERTISE", ""),
        s_env ("NSXD_PEER_LISTEN", "tcp://127.0.0.1:9001"),
        s_env ("NSXD_PEER_ADVERTISE", ""), s_env ("NSXD_CLUSTER", ""),
        s_env ("NSXD_JOIN", ""), s_env ("NSXD_DATA_DIR", ""),
        s_env ("NSXD_ELECTION_MS", "800"), s_env ("NSXD_HEARTBEAT_MS", "100"),
        s_env ("NSXD_REQUEST_TIMEOUT_MS", "2000"),
        s_env ("NSXD_MAX_KEY", "8192"), s_env ("NSXD_MAX_VALUE", "1048576"),
        s_env ("NSXD_MAX_BODY", "1048576"),
        /* civetweb gives each keep-alive connection a worker until it is
           idle for 500 ms: 128 serve 64 busy clients with room left for
           /health and /metrics (at 64, a scrape waited behind make
           bench's 64 connections); each costs about 130 KiB under load */
        s_env ("NSXD_HTTP_THREADS", "128"), s_env ("NSXD_LOG_LEVEL", "info"),
        s_env ("NSXD_MONITOR_LISTEN", ""), s_env ("NSXD_SLOW_FSYNC_MS", "100"),
        s_env ("NSXD_COMPACT_ENTRIES", "10000"),
        s_env ("NSXD_COMPACT_TRAILING", "1000"),
        s_env ("NSXD_COMPACT_MIB", "32"), s_env ("NSXD_AUTH_FILE", ""), /* 21 */
        s_env ("NSXD_AUTH_HEALTH", "0"),                                /* 22 */
        s_env ("NSXD_OPEN_ADMIN", "0"),                                 /* 23 */
        s_env ("NSXD_TLS_CERT", ""),                                    /* 24 */
        s_env ("NSXD_TLS_KEY", ""),                                     /* 25 */
        s_env ("NSXD_TLS_CA", ""),                                      /* 26 */
        s_env ("NSXD_JOIN_TOKEN", ""),                                  /* 27 */
        s_env ("NSXD_JOIN_TOKEN_FILE", ""),                             /* 28 */
        s_env ("NSXD_REQUEST_READ_MS", "5000"),                         /* 29 */
        s_env ("NSXD_PEER_SECRET_FILE", ""),                            /* 30 */
        s_env ("NSXD_INSECURE_PEERS", "0"),                             /* 31 */
        s_env ("NSXD_PEER_MAX_CONNS", "64"),                            /* 32 */
        s_env ("NSXD_MONITOR_MAX_SUBSCRIBERS", "16"),                   /* 33 */
        s_env ("NSXD_QUOTA_BYTES", "2147483648"),                       /* 34 */
        s_env ("NSXD_FORWARD_WRITES", "0"),                             /* 35 */
        s_env ("NSXD_WATCH_HISTORY", "10000"),                          /* 36 */
        s_env ("NSXD_WATCH_CORS", ""),                                  /* 37 */
        s_env ("NSXD_SESSION_TTL_MS", "120000"),                        /* 38 */
        s_env ("NSXD_ENABLE_FAULTS", "0"),                              /* 39 */
    };
    static const struct option opts[] = {
        {"id", required_argument, 0, 0},
        {"http-listen", required_argument, 0, 1},
        {"http-advertise", required_argument, 0, 2},
        {"peer-listen", required_argument, 0, 3},
        {"peer-advertise", required_argument, 0, 4},
        {"cluster", required_argument, 0, 5},
        {"join", required_argument, 0, 6},
        {"data-dir", required_argument, 0, 7},
        {"election-ms", required_argument, 0, 8},
        {"heartbeat-ms", required_argument, 0, 9},
        {"request-timeout-ms", required_argument, 0, 10},
        {"max-key", required_argument, 0, 11},
        {"max-value", required_argument, 0, 12},
        {"max-body", required_argument, 0, 13},
        {"http-threads", required_argument, 0, 14},
        {"log-level", required_argument, 0, 15},
        {"monitor-listen", required_argument, 0, 16},
        {"slow-fsync-ms", required_argument, 0, 17},
        {"compact-entries", required_argument, 0, 18},
        {"compact-trailing", required_argument, 0, 19},
        {"compact-mib", required_argument, 0, 20},
        {"auth-file", required_argument, 0, 21},
        {"auth-health", no_argument, 0, 22},
        {"open-admin", no_argument, 0, 23},
        {"tls-cert", required_argument, 0, 24},
        {"tls-key", required_argument, 0, 25},
        {"tls-ca", required_argument, 0, 26},
        {"join-token", required_argument, 0, 27},
        {"join-token-file", required_argument, 0, 28},
        {"request-read-ms", required_argument, 0, 29},
        {"peer-secret-file", required_argument, 0, 30},
        {"insecure-peers", no_argument, 0, 31},
        {"peer-max-conns", required_argument, 0, 32},
        {"monitor-max-subscribers", required_argument, 0, 33},
        {"quota-bytes", required_argument, 0, 34},
        {"forward-writes", no_argument, 0, 35},
        {"watch-history", required_argument, 0, 36},
        {"watch-cors", required_argument, 0, 37},
        {"session-ttl-ms", required_argument, 0, 38},
        {"enable-faults", no_argument, 0, 39},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        if (o == 'h') {
            nsxd_config_usage (stdout);
            exit (0);
        }
        if (o < 0 || o >= (int)(sizeof v / sizeof v[0])) {
            nsxd_config_usage (stderr);
            return -1;
        }
        v[o] = optarg ? optarg : "1"; /* a switch: on */
    }
    if (optind < argc) {
        fprintf (stderr, "nsxd: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    long n;
    if (!s_parse_long (v[0], 1, (long)1 << 62, &n)) {
        fprintf (stderr, "nsxd: --id (or NSXD_ID) must be a positive "
                         "integer\n");
        return -1;
    }
    c->id = (raft_id_t)n;
    snprintf (c->http_listen, sizeof c->http_listen, "%s", v[1]);
    snprintf (c->http_advertise, sizeof c->http_advertise, "%s",
              *v[2] ? v[2] : v[1]);
    snprintf (c->peer_listen, sizeof c->peer_listen, "%s", v[3]);
    snprintf (c->peer_advertise, sizeof c->peer_advertise, "%s",
              *v[4] ? v[4] : v[3]);
    snprintf (c->cluster, sizeof c->cluster, "%s", v[5]);
    snprintf (c->join, sizeof c->join, "%s", v[6]);
    if (*v[7])
        snprintf (c->data_dir, sizeof c->data_dir, "%s", v[7]);
    else
        snprintf (c->data_dir, sizeof c->data_dir, "./data/n%llu",
                  (unsigned long long)c->id);
    struct {
        const char *name;
        const char *text;
        long min, max;
        long *out;
    } nums[] = {
        {"--election-ms", v[8], 20, 600000, &n},
        {"--heartbeat-ms", v[9], 5, 60000, &n},
        {"--request-timeout-ms", v[10], 10, 3600000, &n},
        {"--max-key", v[11], 1, 1 << 20, &c->max_key},
        {"--max-value", v[12], 0, 64 << 20, &c->max_value},
        {"--max-body", v[13], 64, 64 << 20, &c->max_body},
        {"--http-threads", v[14], 1, 256, &n},
        {"--slow-fsync-ms", v[17], 0, 3600000, &n},
        {"--compact-entries", v[18], 0, 1L << 40, &c->compact_entries},
        {"--compact-trailing", v[19], 0, 1L << 40, &c->compact_trailing},
        {"--compact-mib", v[20], 0, 1L << 20, &c->compact_mib},
        {"--request-read-ms", v[29], 100, 3600000, &n},
        {"--peer-max-conns", v[32], 1, 100000, &n},
        {"--monitor-max-subscribers", v[33], 1, 100000, &n},
        {"--quota-bytes", v[34], 0, 1L << 50, &c->quota_bytes},
        {"--watch-history", v[36], 1, 1000000, &c->watch_history},
        /* client sessions' TTL (store/kvsm_session.h): up to 7 days */
        {"--session-ttl-ms", v[38], 1000, 604800000L, &c->session_ttl_ms},
    };
    int *ints[] = {&c->election_ms,
                   &c->heartbeat_ms,
                   &c->timeout_ms,
                   NULL,
                   NULL,
                   NULL,
                   &c->http_threads,
                   &c->slow_fsync_ms,
                   NULL,
                   NULL,
                   NULL,
                   &c->read_ms,
                   &c->peer_max_conns,
                   &c->monitor_max_subscribers,
                   NULL,
                   NULL,
                   NULL};
    _Static_assert(sizeof ints / sizeof ints[0] == sizeof nums / sizeof nums[0],
                   "one ints[] entry per nums[] entry");
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (!s_parse_long (nums[i].text, nums[i].min, nums[i].max,
                           nums[i].out)) {
            fprintf (stderr, "nsxd: %s must be an integer in [%ld, %ld]\n",
                     nums[i].name, nums[i].min, nums[i].max);
            return -1;
        }
        if (ints[i])
            *ints[i] = (int)n;
    }
    if (c->heartbeat_ms * 2 > c->election_ms) {
        fprintf (stderr, "nsxd: --election-ms must be at least twice "
                         "--heartbeat-ms\n");
        return -1;
    }
    snprintf (c->log_level, sizeof c->log_level, "%s", v[15]);
    snprintf (c->watch_cors, sizeof c->watch_cors, "%s", v[37]);
    if (strpbrk (c->watch_cors, "\r\n")) {
        fprintf (stderr, "nsxd: --watch-cors must be one origin\n");
        return -1;
    }
    snprintf (c->monitor_listen, sizeof c->monitor_listen, "%s", v[16]);
    if (!s_parse_bool ("--auth-health (NSXD_AUTH_HEALTH)", v[22],
                       &c->auth_health) ||
        !s_parse_bool ("--open-admin (NSXD_OPEN_ADMIN)", v[23],
                       &c->open_admin) ||
        !s_parse_bool ("--insecure-peers (NSXD_INSECURE_PEERS)", v[31],
                       &c->insecure_peers) ||
        !s_parse_bool ("--forward-writes (NSXD_FORWARD_WRITES)", v[35],
                       &c->forward_writes) ||
        !s_parse_bool ("--enable-faults (NSXD_ENABLE_FAULTS)", v[39],
                       &c->enable_faults))
        return -1;
    snprintf (c->peer_secret_file, sizeof c->peer_secret_file, "%s", v[30]);
    if (c->insecure_peers == !!*c->peer_secret_file) {
        fprintf (stderr,
                 c->insecure_peers
                     ? "nsxd: --insecure-peers and --peer-secret-file "
                       "contradict each other\n"
                     : "nsxd: peer links are authenticated by default: give "
                       "--peer-secret-file FILE (the cluster secret, the same "
                       "on every member; make one with `nsxctl keygen "
                       "FILE`), or --insecure-peers to run without\n");
        return -1;
    }
    snprintf (c->auth_file, sizeof c->auth_file, "%s", v[21]);
    snprintf (c->tls_cert, sizeof c->tls_cert, "%s", v[24]);
    snprintf (c->tls_key, sizeof c->tls_key, "%s", v[25]);
    snprintf (c->tls_ca, sizeof c->tls_ca, "%s", v[26]);
    if (c->open_admin && *c->auth_file) {
        fprintf (stderr, "nsxd: --open-admin and --auth-file contradict each "
                         "other: with tokens, /raft/join and /raft/remove "
                         "need an admin token\n");
        return -1;
    }
    if (c->auth_health && !*c->auth_file) {
        fprintf (stderr, "nsxd: --auth-health needs --auth-file (the tokens "
                         "to check)\n");
        return -1;
    }
    if (!*c->tls_cert != !*c->tls_key) {
        fprintf (stderr, "nsxd: --tls-cert and --tls-key go together\n");
        return -1;
    }
    if (*c->tls_ca && !*c->tls_cert) {
        fprintf (stderr, "nsxd: --tls-ca is for a node that serves TLS "
                         "(--tls-cert, --tls-key): it verifies the other "
                         "nodes' certificates\n");
        return -1;
    }
    if (*v[27] && *v[28]) {
        fprintf (stderr, "nsxd: give --join-token or --join-token-file, not "
                         "both\n");
        return -1;
    }
    if (*v[27]) {
        if (strlen (v[27]) >= sizeof c->join_token ||
            strcspn (v[27], " \t\r\n") != strlen (v[27])) {
            fprintf (stderr,
                     "nsxd: --join-token must be one word of at most "
                     "%d characters\n",
                     HTTP_AUTH_MAX_TOKEN);
            return -1;
        }
        snprintf (c->join_token, sizeof c->join_token, "%s", v[27]);
    } else if (*v[28] && s_read_token_file (v[28], c->join_token,
                                            sizeof c->join_token) != 0)
        return -1;
    return 0;
}

/* "1=tcp://h:9001@h:8001,2=..." -> configuration. */
int
nsxd_config_cluster (const char *spec, raft_conf_t *conf)
{
    memset (conf, 0, sizeof *conf);
    char *copy = strdup (spec), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r (copy, ",", &save); tok;
         tok = strtok_r (NULL, ",", &save)) {
        char *eq = strchr (tok, '='), *at = strrchr (tok, '@');
        long id;
        if (!eq || !at || at < eq) {
            rc = -1;
            break;
        }
        *eq = *at = 0;
        if (!s_parse_long (tok, 1, (long)1 << 62, &id) || !eq[1] || !at[1] ||
            conf->n == RAFT_MAX_SERVERS ||
            raft_conf_get (conf, (raft_id_t)id)) {
            rc = -1;
            break;
        }
        raft_server_t *s = &conf->servers[conf->n++];
        s->id = (raft_id_t)id;
        s->voter = true;
        if (snprintf (s->addr, RAFT_ADDR_MAX, "%s %s", eq + 1, at + 1) >=
            RAFT_ADDR_MAX) {
            rc = -1;
            break;
        }
    }
    free (copy);
    return rc == 0 && conf->n > 0 ? 0 : -1;
}
