/*  node_fixture.c -- see node_fixture.h. */
#include "node_fixture.h"
#include "client.h"
#include "nsxd_config.h"

#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

int
nf_start (node_t **node, int port, const char *dir, const char *const *extra)
{
    char ep[32], peer[64], mon[64], cluster[128], data[300];
    snprintf (ep, sizeof ep, "127.0.0.1:%d", port);
    snprintf (peer, sizeof peer, "tcp://127.0.0.1:%d", port + 100);
    snprintf (mon, sizeof mon, "tcp://127.0.0.1:%d", port + 200);
    snprintf (cluster, sizeof cluster, "1=%s@%s", peer, ep);
    snprintf (data, sizeof data, "%s/n1", dir);
    const char *base[] = {"nsxd",
                          "--id",
                          "1",
                          "--http-listen",
                          ep,
                          "--peer-listen",
                          peer,
                          "--monitor-listen",
                          mon,
                          "--cluster",
                          cluster,
                          "--data-dir",
                          data,
                          "--insecure-peers",
                          "--election-ms",
                          "200",
                          "--heartbeat-ms",
                          "40"};
    enum { S_BASE = sizeof base / sizeof base[0], S_ARGS = S_BASE + 32 };
    char *argv[S_ARGS + 1];
    int argc = 0;
    for (; argc < S_BASE; argc++)
        argv[argc] = (char *)base[argc];
    for (int i = 0; extra && extra[i]; i++) {
        if (argc == S_ARGS)
            return 2;
        argv[argc++] = (char *)extra[i];
    }
    argv[argc] = NULL;
    nsxd_config_t c;
    optind = 0;
    if (nsxd_config_parse (argc, argv, &c) != 0)
        return 2;
    raft_conf_t boot;
    if (nsxd_config_cluster (c.cluster, &boot) != 0)
        return 2;
    *node = NULL;
    return node_start (&c, &boot, node);
}

int
nf_req (const char *ep, const char *method, const char *path, const char *body,
        json_t **j)
{
    http_client_opts_t opts = {0};
    http_client_resp_t r =
        http_client_request (&opts, ep, method, path, body, 5000);
    if (j)
        *j = r.body ? json_loads (r.body, 0, NULL) : NULL;
    int st = r.status;
    http_client_resp_free (&r);
    return st;
}

int64_t
nf_int (json_t *j, const char *k)
{
    json_t *v = json_object_get (j, k);
    return json_is_integer (v) ? json_integer_value (v) : -1;
}

const char *
nf_str (json_t *j, const char *k)
{
    const char *v = json_string_value (json_object_get (j, k));
    return v ? v : "";
}

bool
nf_str_is (json_t *j, const char *k, const char *want)
{
    const char *v = json_string_value (json_object_get (j, k));
    return v && strcmp (v, want) == 0;
}

bool
nf_wait_leader (const char *ep)
{
    for (int i = 0; i < 100; i++) {
        json_t *j;
        int st = nf_req (ep, "POST", "/kv/put",
                         "{\"key\":\"w\",\"value\":\"\"}", &j);
        json_decref (j);
        if (st == 200)
            return true;
        zclock_sleep (50);
    }
    return false;
}
