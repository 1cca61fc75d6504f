/*  workload.c -- build/jepsen-workload: concurrent clients against an
    nsxd cluster, recording every call and its return as a history for
    the linearizability checker (history.c documents the format).

      jepsen-workload --endpoints H:P,H:P,... --out FILE [--clients 8]
                      [--duration 60] [--keys 4] [--key-period-ms 10000]
                      [--timeout-ms 3000] [--think-ms 10] [--seed N]
                      [--readers 0] [--cas-pct 20] [--spread-pct 50]

    Each client is one thread doing one operation at a time: 45% GET
    (linearizable), 25% PUT of a value unique in the run ("p<client>-<n>",
    so that a read names the write it saw), --cas-pct (20%) compare-and-swap
    (a PUT of such a value with a condition, below), 10% DELETE, on one of
    --keys keys (with --cas-pct 0: 50% GET, 40% PUT, as before CAS). The
    key's name carries the --key-period-ms window the operation starts in
    ("jk<slot>.<window>"), so each key holds a few seconds of history and
    the checker's search per key stays small.

    A CAS conditions on what this client last saw of the key (a GET, its
    own write's reply, a 412's current): prev_value (half the time) or
    prev_index (the mod_index seen with that value) when it saw a value,
    prev_exist false when it saw nothing or has not looked yet. 200 means
    it swapped, 412 compare_failed that it found "current" instead; the
    history names the value compared against as "prev" either way (values
    are unique, so a mod_index names one write and its value).

    --spread-pct (50%) of a client's GETs go to a node chosen at random
    rather than the one it writes to: followers answer linearizable GETs
    (a read index from the leader, §6.4), so these are follower reads most
    of the time. The history marks a GET "follower" when the node that
    answered it is not the leader the clients last heard of (a write's 200
    or a 409's hint): an estimate, counted in the summary.

    --readers adds that many read-only clients, each pinned to one endpoint
    (round robin) whatever it answers, as Jepsen binds a client to a node:
    so every node, a deposed leader that still believes it leads included,
    gets reads all the time, and none of them waits behind a write.

    A client asks the node it last heard from; a 409 sends it to the leader
    named, no answer to another node at random. Outcomes (README's error
    table):
      ok    200; a GET's 404 not_found (read: nothing);
      fail  nothing was proposed: 409 not_leader, 503 no_quorum /
            transferring / busy / conf_change_in_progress, 4xx, and a
            connection that could not be made;
      info  a write's fate is unknown: 503 timeout / leadership_lost, 500,
            no answer within --timeout-ms or a connection closed early.
    Times are CLOCK_MONOTONIC ns since the workload started, taken before
    the request is sent and after its answer arrived.
*/
#include "client.h"
#include "workload_cas.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_ENDPOINTS 16

typedef struct {
    char *endpoints[S_MAX_ENDPOINTS];
    int n_endpoints;
    int clients, keys, readers;
    int duration_s, key_period_ms, timeout_ms, think_ms, cas_pct, spread_pct;
    uint64_t seed;
    FILE *out;
    pthread_mutex_t lock; /* out, leader */
    char leader[128];     /* the leader the clients last heard of, or "" */
    int64_t start_ns;
    atomic_long n_ok, n_fail, n_info;
    atomic_long n_cas, n_cas_swapped, n_cas_failed, n_gets_ok, n_follower;
} s_run_t;

typedef struct {
    s_run_t *run;
    int id;
    uint64_t rng;
    char endpoint[128];
    long seq;
    bool pinned;     /* a reader: one endpoint, GETs only */
    wl_seen_t *seen; /* per key slot */
} s_client_t;

static volatile sig_atomic_t s_stop;

static void
s_on_signal (int sig)
{
    (void)sig;
    s_stop = 1;
}

static int64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t
s_rand (uint64_t *x)
{
    /* xorshift64: the workload's choices, reproducible from --seed */
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void
s_other_endpoint (s_client_t *c)
{
    s_run_t *r = c->run;
    snprintf (c->endpoint, sizeof c->endpoint, "%s",
              r->endpoints[s_rand (&c->rng) % (uint64_t)r->n_endpoints]);
}

typedef enum { S_OK, S_FAIL, S_INFO } s_outcome_t;

static void
s_set_leader (s_run_t *r, const char *endpoint)
{
    pthread_mutex_lock (&r->lock);
    snprintf (r->leader, sizeof r->leader, "%s", endpoint);
    pthread_mutex_unlock (&r->lock);
}

static bool
s_is_leader (s_run_t *r, const char *endpoint)
{
    pthread_mutex_lock (&r->lock);
    bool is = strcmp (r->leader, endpoint) == 0;
    pthread_mutex_unlock (&r->lock);
    return is;
}

/* Classify an answer; see the top. Also picks the next endpoint, and
   notes the leader a write's 200 or a 409's hint names. */
static s_outcome_t
s_classify (s_client_t *c, const char *op, const char *endpoint,
            const http_client_resp_t *resp, json_t *body)
{
    const char *err = json_string_value (json_object_get (body, "error"));
    bool write = op[0] != 'g';
    if (resp->status == 0) {
        s_other_endpoint (c);
        /* http/client.c says "cannot connect" only before sending */
        return strncmp (resp->error, "cannot connect", 14) == 0 ? S_FAIL
                                                                : S_INFO;
    }
    if (resp->status == 200) {
        if (write)
            s_set_leader (c->run, endpoint);
        return S_OK;
    }
    if (!write && resp->status == 404 && err && strcmp (err, "not_found") == 0)
        return S_OK;
    /* a CAS's compare failed: applied as a read of the current value */
    if (op[0] == 'c' && resp->status == 412 && err &&
        strcmp (err, "compare_failed") == 0) {
        s_set_leader (c->run, endpoint);
        return S_OK;
    }
    if (resp->status == 409) {
        const char *leader =
            json_string_value (json_object_get (body, "leader"));
        if (leader) {
            snprintf (c->endpoint, sizeof c->endpoint, "%s", leader);
            s_set_leader (c->run, leader);
        } else
            s_other_endpoint (c);
        return S_FAIL;
    }
    if (resp->status == 503 && err &&
        (strcmp (err, "timeout") == 0 ||
         strcmp (err, "leadership_lost") == 0)) {
        s_other_endpoint (c);
        return S_INFO;
    }
    if (resp->status == 500) {
        s_other_endpoint (c);
        return S_INFO;
    }
    if (resp->status == 503)
        s_other_endpoint (c);
    return S_FAIL;
}

/* One line of the history; extra (may be NULL) adds fields. */
static void
s_record (s_client_t *c, const char *op, const char *key, json_t *value,
          int64_t invoke, int64_t complete, s_outcome_t outcome,
          const http_client_resp_t *resp, const char *err, const char *node,
          json_t *extra)
{
    s_run_t *r = c->run;
    static const char *names[] = {"ok", "fail", "info"};
    json_t *j =
        json_pack ("{s:i, s:s, s:s, s:O, s:I, s:s, s:i, s:s}", "process", c->id,
                   "op", op, "key", key, "value", value ? value : json_null (),
                   "invoke", (json_int_t)invoke, "outcome", names[outcome],
                   "status", resp->status, "node", node);
    if (!j)
        return;
    if (outcome != S_INFO)
        json_object_set_new (j, "complete", json_integer (complete));
    if (err)
        json_object_set_new (j, "error", json_string (err));
    if (extra)
        json_object_update (j, extra);
    char *line = json_dumps (j, JSON_COMPACT);
    json_decref (j);
    if (!line)
        return;
    pthread_mutex_lock (&r->lock);
    fprintf (r->out, "%s\n", line);
    fflush (r->out);
    pthread_mutex_unlock (&r->lock);
    free (line);
    atomic_long *n = outcome == S_OK     ? &r->n_ok
                     : outcome == S_FAIL ? &r->n_fail
                                         : &r->n_info;
    atomic_fetch_add (n, 1);
}

static void *
s_client (void *arg)
{
    s_client_t *c = arg;
    s_run_t *r = c->run;
    http_client_opts_t opts = {.max_response = 1 << 20};
    int64_t end = r->start_ns + (int64_t)r->duration_s * 1000000000;
    while (!s_stop && s_now_ns () < end) {
        int64_t window =
            (s_now_ns () - r->start_ns) / 1000000 / r->key_period_ms;
        char key[64], value[64], path[128], body[512];
        int slot = (int)(s_rand (&c->rng) % (uint64_t)r->keys);
        snprintf (key, sizeof key, "jk%d.%lld", slot, (long long)window);
        wl_seen_t *k = &c->seen[slot];
        int dice = c->pinned ? 0 : (int)(s_rand (&c->rng) % 100);
        /* with CAS: 45 GET, 25 PUT, cas_pct CAS, the rest DELETE */
        int get_pct = r->cas_pct ? 45 : 50;
        int put_pct = r->cas_pct ? 70 : 90;
        const char *op, *method;
        const char *p = path, *b = body;
        json_t *extra = NULL;
        char endpoint[128];
        snprintf (endpoint, sizeof endpoint, "%s", c->endpoint);
        if (dice < get_pct) {
            op = "get", method = "GET", b = NULL;
            snprintf (path, sizeof path, "/kv/get?key=%s", key);
            if (!c->pinned && (int)(s_rand (&c->rng) % 100) < r->spread_pct)
                snprintf (
                    endpoint, sizeof endpoint, "%s",
                    r->endpoints[s_rand (&c->rng) % (uint64_t)r->n_endpoints]);
        } else if (dice < put_pct) {
            op = "put", method = "POST", p = "/kv/put";
            snprintf (value, sizeof value, "p%d-%ld", c->id, ++c->seq);
            snprintf (body, sizeof body, "{\"key\":\"%s\",\"value\":\"%s\"}",
                      key, value);
        } else if (dice < put_pct + r->cas_pct) {
            op = "cas", method = "POST", p = "/kv/put";
            snprintf (value, sizeof value, "p%d-%ld", c->id, ++c->seq);
            extra = wl_cas_body (k, key, value, s_rand (&c->rng) % 2, body,
                                 sizeof body);
        } else {
            op = "delete", method = "DELETE", p = "/kv/delete";
            snprintf (body, sizeof body, "{\"key\":\"%s\"}", key);
        }
        bool spread = strcmp (endpoint, c->endpoint) != 0;
        int64_t invoke = s_now_ns () - r->start_ns;
        http_client_resp_t resp =
            http_client_request (&opts, endpoint, method, p, b, r->timeout_ms);
        int64_t complete = s_now_ns () - r->start_ns;
        json_t *j = resp.body ? json_loads (resp.body, 0, NULL) : NULL;
        char before[128];
        snprintf (before, sizeof before, "%s", c->endpoint);
        s_outcome_t o = s_classify (c, op, endpoint, &resp, j);
        if (c->pinned || spread) /* the next request goes where it went */
            snprintf (c->endpoint, sizeof c->endpoint, "%s",
                      c->pinned ? endpoint : before);
        const char *err = resp.status
                              ? json_string_value (json_object_get (j, "error"))
                              : resp.error;
        json_t *v = NULL;
        if (op[0] == 'p' || op[0] == 'c')
            v = json_string (value);
        if (op[0] == 'p' && o == S_OK)
            wl_saw (k, key, value, j);
        else if (op[0] == 'd' && o == S_OK)
            wl_saw (k, key, NULL, NULL);
        else if (op[0] == 'c' && o == S_OK) {
            int swapped = wl_cas_done (k, key, value, resp.status, j, extra);
            atomic_fetch_add (&r->n_cas, 1);
            atomic_fetch_add (swapped ? &r->n_cas_swapped : &r->n_cas_failed,
                              1);
        } else if (op[0] == 'g' && o == S_OK && resp.status == 200) {
            v = json_object_get (j, "value");
            json_incref (v);
            if (!json_is_string (v)) {
                /* a 200 without a string value: say so, count it unknown */
                fprintf (stderr,
                         "jepsen-workload: GET %s: 200 without a "
                         "string value: %s\n",
                         key, resp.body);
                o = S_INFO;
            } else
                wl_saw (k, key, json_string_value (v), j);
        } else if (op[0] == 'g' && o == S_OK)
            wl_saw (k, key, NULL, NULL);
        if (op[0] == 'g' && o == S_OK) {
            atomic_fetch_add (&r->n_gets_ok, 1);
            if (!s_is_leader (r, endpoint)) {
                atomic_fetch_add (&r->n_follower, 1);
                extra = json_pack ("{s:b}", "follower", 1);
            }
        }
        s_record (c, op, key, v, invoke, complete, o, &resp, err, endpoint,
                  extra);
        json_decref (extra);
        json_decref (v);
        json_decref (j);
        http_client_resp_free (&resp);
        if (r->think_ms > 0) {
            long us =
                (long)(s_rand (&c->rng) % (uint64_t)(2 * r->think_ms * 1000));
            usleep ((useconds_t)us);
        }
    }
    return NULL;
}

static int
s_usage (void)
{
    fprintf (stderr,
             "usage: jepsen-workload --endpoints H:P,H:P,... --out FILE "
             "[--clients 8] [--duration 60] [--keys 4] [--key-period-ms "
             "10000] [--timeout-ms 3000] [--think-ms 10] [--seed N] "
             "[--readers 0] [--cas-pct 20] [--spread-pct 50]\n");
    return 2;
}

static int
s_int_arg (const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol (s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int
main (int argc, char **argv)
{
    s_run_t run = {.clients = 8,
                   .keys = 4,
                   .duration_s = 60,
                   .key_period_ms = 10000,
                   .timeout_ms = 3000,
                   .think_ms = 10,
                   .cas_pct = 20,
                   .spread_pct = 50,
                   .seed = 1};
    const char *out = NULL;
    char *eps = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!v)
            return s_usage ();
        if (strcmp (a, "--endpoints") == 0)
            eps = strdup (v);
        else if (strcmp (a, "--out") == 0)
            out = v;
        else if (strcmp (a, "--clients") == 0)
            rc = s_int_arg (v, 1, 256, &run.clients);
        else if (strcmp (a, "--duration") == 0)
            rc = s_int_arg (v, 1, 86400, &run.duration_s);
        else if (strcmp (a, "--readers") == 0)
            rc = s_int_arg (v, 0, 256, &run.readers);
        else if (strcmp (a, "--keys") == 0)
            rc = s_int_arg (v, 1, 1000, &run.keys);
        else if (strcmp (a, "--key-period-ms") == 0)
            rc = s_int_arg (v, 100, 86400000, &run.key_period_ms);
        else if (strcmp (a, "--timeout-ms") == 0)
            rc = s_int_arg (v, 100, 600000, &run.timeout_ms);
        else if (strcmp (a, "--think-ms") == 0)
            rc = s_int_arg (v, 0, 10000, &run.think_ms);
        else if (strcmp (a, "--cas-pct") == 0)
            rc = s_int_arg (v, 0, 20, &run.cas_pct);
        else if (strcmp (a, "--spread-pct") == 0)
            rc = s_int_arg (v, 0, 100, &run.spread_pct);
        else if (strcmp (a, "--seed") == 0)
            run.seed = strtoull (v, NULL, 10) | 1;
        else
            return s_usage ();
        if (rc) {
            fprintf (stderr, "jepsen-workload: bad value for %s: %s\n", a, v);
            return 2;
        }
        i++;
    }
    if (!eps || !out)
        return s_usage ();
    for (char *save = NULL, *t = strtok_r (eps, ",", &save);
         t && run.n_endpoints < S_MAX_ENDPOINTS;
         t = strtok_r (NULL, ",", &save))
        run.endpoints[run.n_endpoints++] = t;
    if (run.n_endpoints == 0)
        return s_usage ();
    run.out = fopen (out, "w");
    if (!run.out) {
        fprintf (stderr, "jepsen-workload: %s: %s\n", out, strerror (errno));
        return 2;
    }
    signal (SIGPIPE, SIG_IGN);
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    pthread_mutex_init (&run.lock, NULL);
    struct timespec wall;
    clock_gettime (CLOCK_REALTIME, &wall);
    fprintf (run.out,
             "# jepsen-workload start %lld.%09ld (wall clock), "
             "%d clients, %d readers, %d keys, seed %llu\n",
             (long long)wall.tv_sec, wall.tv_nsec, run.clients, run.readers,
             run.keys, (unsigned long long)run.seed);
    run.start_ns = s_now_ns ();
    int total = run.clients + run.readers;
    s_client_t *cs = calloc ((size_t)total, sizeof *cs);
    pthread_t *th = calloc ((size_t)total, sizeof *th);
    if (!cs || !th)
        return 1;
    for (int i = 0; i < total; i++) {
        cs[i] =
            (s_client_t){.run = &run,
                         .id = i,
                         .pinned = i >= run.clients,
                         .rng = run.seed * 2654435761u + (uint64_t)i + 1,
                         .seen = calloc ((size_t)run.keys, sizeof (wl_seen_t))};
        if (!cs[i].seen)
            return 1;
        snprintf (cs[i].endpoint, sizeof cs[i].endpoint, "%s",
                  run.endpoints[i % run.n_endpoints]);
        if (pthread_create (&th[i], NULL, s_client, &cs[i]) != 0) {
            fprintf (stderr, "jepsen-workload: cannot start a thread\n");
            return 1;
        }
    }
    for (int i = 0; i < total; i++)
        pthread_join (th[i], NULL);
    fclose (run.out);
    printf ("jepsen-workload: %ld ok, %ld fail, %ld info in %.1f s\n",
            (long)run.n_ok, (long)run.n_fail, (long)run.n_info,
            (s_now_ns () - run.start_ns) / 1e9);
    printf ("jepsen-workload: %ld CAS answered (%ld swapped, %ld 412 "
            "compare_failed); %ld GETs answered, %ld of them by a node other "
            "than the last leader seen (follower reads, estimated)\n",
            (long)run.n_cas, (long)run.n_cas_swapped, (long)run.n_cas_failed,
            (long)run.n_gets_ok, (long)run.n_follower);
    for (int i = 0; i < total; i++)
        free (cs[i].seen);
    free (cs);
    free (th);
    free (eps);
    return 0;
}
