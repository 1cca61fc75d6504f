/*  pc_load.c -- the write load of tests/cluster/powercut_test.sh, and the
    read-back of what it acknowledged.

      pc_load put ENDPOINTS SECONDS THREADS VALUE_BYTES PREFIX ACKED_FILE
          THREADS writers put unique keys PREFIX-<thread>-<n> for SECONDS;
          each acknowledged put (HTTP 200: committed and applied) is
          appended to ACKED_FILE as one line, the key, with one write(2)
          (O_APPEND), so the file survives our own kill. A put without an
          answer may or may not have happened and is not recorded; the
          writer moves to the next key and the next endpoint.
      pc_load verify ENDPOINTS THREADS VALUE_BYTES ACKED_FILE
          every key of ACKED_FILE must read back (linearizable GET) with
          its value; prints "verified N" or each missing key, exit 1.

    ENDPOINTS: h:p,h:p,... (any node; a follower's refusal moves us on).
    The value of key k is k repeated to VALUE_BYTES bytes, so a read-back
    checks the value as well as the key. Every loop ends by a deadline.
*/
#include "client.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_EP 8
#define S_TIMEOUT_MS 3000

static char *s_ep[S_MAX_EP];
static int s_n_ep;
static int s_value_bytes;
static const char *s_prefix;
static int s_acked_fd = -1;
static double s_deadline;
static char **s_keys; /* verify: the keys */
static size_t s_n_keys;
static atomic_size_t s_next, s_ok, s_bad, s_acked;

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *
s_value_of (const char *key)
{
    char *v = malloc ((size_t)s_value_bytes + 1);
    size_t kl = strlen (key);
    for (int i = 0; i < s_value_bytes; i++)
        v[i] = key[(size_t)i % kl];
    v[s_value_bytes] = 0;
    return v;
}

static void *
s_writer (void *arg)
{
    long id = (long)arg;
    http_client_opts_t opts = {0};
    int ep = (int)(id % s_n_ep);
    for (long n = 0; s_now () < s_deadline; n++) {
        char key[128];
        snprintf (key, sizeof key, "%s-%ld-%ld", s_prefix, id, n);
        char *v = s_value_of (key);
        json_t *b = json_pack ("{s:s, s:s}", "key", key, "value", v);
        char *body = json_dumps (b, JSON_COMPACT);
        http_client_resp_t r = http_client_request (
            &opts, s_ep[ep], "POST", "/kv/put", body, S_TIMEOUT_MS);
        if (r.status == 200) {
            char line[140];
            int len = snprintf (line, sizeof line, "%s\n", key);
            if (write (s_acked_fd, line, (size_t)len) != len)
                perror ("pc_load: acked file");
            atomic_fetch_add (&s_acked, 1);
        } else {
            ep = (ep + 1) % s_n_ep; /* not the leader, or down */
            if (r.status == 0)
                usleep (20000);
        }
        http_client_resp_free (&r);
        free (body);
        json_decref (b);
        free (v);
    }
    return NULL;
}

static void *
s_reader (void *arg)
{
    (void)arg;
    http_client_opts_t opts = {0};
    int ep = 0;
    size_t i;
    while ((i = atomic_fetch_add (&s_next, 1)) < s_n_keys) {
        const char *key = s_keys[i];
        char path[256];
        snprintf (path, sizeof path, "/kv/get?key=%s", key);
        bool done = false;
        for (int tries = 0; !done && tries < 20 && s_now () < s_deadline;
             tries++) {
            http_client_resp_t r = http_client_request (
                &opts, s_ep[ep], "GET", path, NULL, S_TIMEOUT_MS);
            if (r.status == 200 || r.status == 404) {
                json_t *j =
                    r.status == 200 ? json_loads (r.body, 0, NULL) : NULL;
                const char *got =
                    json_string_value (json_object_get (j, "value"));
                char *want = s_value_of (key);
                if (got && strcmp (got, want) == 0)
                    atomic_fetch_add (&s_ok, 1);
                else {
                    atomic_fetch_add (&s_bad, 1);
                    printf ("MISSING %s (status %d)\n", key, r.status);
                }
                free (want);
                json_decref (j);
                done = true;
            } else {
                ep = (ep + 1) % s_n_ep;
                usleep (50000);
            }
            http_client_resp_free (&r);
        }
        if (!done) {
            atomic_fetch_add (&s_bad, 1);
            printf ("UNREADABLE %s\n", key);
        }
    }
    return NULL;
}

static void
s_split (char *list)
{
    for (char *t = strtok (list, ","); t && s_n_ep < S_MAX_EP;
         t = strtok (NULL, ","))
        s_ep[s_n_ep++] = t;
}

static int
s_usage (void)
{
    fprintf (stderr,
             "usage: pc_load put ENDPOINTS SECONDS THREADS VALUE_BYTES PREFIX "
             "ACKED_FILE\n"
             "       pc_load verify ENDPOINTS THREADS VALUE_BYTES "
             "ACKED_FILE\n");
    return 2;
}

static int
s_run (int threads, void *(*fn) (void *))
{
    pthread_t t[64];
    if (threads < 1 || threads > 64)
        return s_usage ();
    for (long i = 0; i < threads; i++)
        pthread_create (&t[i], NULL, fn, (void *)i);
    for (int i = 0; i < threads; i++)
        pthread_join (t[i], NULL);
    return 0;
}

int
main (int argc, char **argv)
{
    setvbuf (stdout, NULL, _IOLBF, 0);
    if (argc == 8 && strcmp (argv[1], "put") == 0) {
        s_split (argv[2]);
        s_value_bytes = atoi (argv[5]);
        s_prefix = argv[6];
        s_acked_fd = open (argv[7], O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (!s_n_ep || s_value_bytes < 1 || s_value_bytes > 65536 ||
            s_acked_fd < 0)
            return s_usage ();
        s_deadline = s_now () + atof (argv[3]);
        if (s_run (atoi (argv[4]), s_writer))
            return 2;
        printf ("acked %zu\n", atomic_load (&s_acked));
        return 0;
    }
    if (argc == 6 && strcmp (argv[1], "verify") == 0) {
        s_split (argv[2]);
        s_value_bytes = atoi (argv[4]);
        FILE *f = fopen (argv[5], "r");
        if (!s_n_ep || s_value_bytes < 1 || s_value_bytes > 65536 || !f)
            return s_usage ();
        char line[256];
        size_t cap = 0;
        while (fgets (line, sizeof line, f)) {
            line[strcspn (line, "\n")] = 0;
            if (!line[0])
                continue;
            if (s_n_keys == cap) {
                cap = cap ? 2 * cap : 1024;
                s_keys = realloc (s_keys, cap * sizeof *s_keys);
            }
            s_keys[s_n_keys++] = strdup (line);
        }
        fclose (f);
        s_deadline = s_now () + 120;
        if (s_run (atoi (argv[3]), s_reader))
            return 2;
        printf ("verified %zu of %zu\n", atomic_load (&s_ok), s_n_keys);
        for (size_t i = 0; i < s_n_keys; i++)
            free (s_keys[i]);
        free (s_keys);
        return atomic_load (&s_bad) ? 1 : 0;
    }
    return s_usage ();
}
