/*  fault_cluster.c -- see fault_cluster.h.
*/
#include "fault_cluster.h"

#include "nsxd_config.h"

#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

node_t *fc_nodes[FC_NODES + 1];
char fc_dir[256];

static void
s_http_ep (int id, char *buf, size_t len)
{
    snprintf (buf, len, "127.0.0.1:%d", FC_HTTP_BASE + id - 1);
}

int
fc_start (int id, bool faults, int election_ms)
{
    char sid[8], el[16], hb[16], http[32], peer[48], mon[48], data[300],
        key[300];
    char cluster[512] = "";
    snprintf (sid, sizeof sid, "%d", id);
    snprintf (el, sizeof el, "%d", election_ms);
    snprintf (hb, sizeof hb, "%d", election_ms / 6);
    s_http_ep (id, http, sizeof http);
    snprintf (peer, sizeof peer, "tcp://127.0.0.1:%d", FC_PEER_BASE + id - 1);
    snprintf (mon, sizeof mon, "tcp://127.0.0.1:%d", FC_MON_BASE + id - 1);
    snprintf (data, sizeof data, "%s/n%d", fc_dir, id);
    snprintf (key, sizeof key, "%s/cluster.key", fc_dir);
    for (int i = 1; i <= FC_NODES; i++) {
        char one[128];
        snprintf (one, sizeof one, "%s%d=tcp://127.0.0.1:%d@127.0.0.1:%d",
                  i > 1 ? "," : "", i, FC_PEER_BASE + i - 1,
                  FC_HTTP_BASE + i - 1);
        strcat (cluster, one);
    }
    char *argv[] = {"nsxd",  "--id",
                    sid,     "--http-listen",
                    http,    "--peer-listen",
                    peer,    "--monitor-listen",
                    mon,     "--cluster",
                    cluster, "--data-dir",
                    data,    "--peer-secret-file",
                    key,     "--http-threads",
                    "8",     "--election-ms",
                    el,      "--heartbeat-ms",
                    hb,      faults ? "--enable-faults" : NULL,
                    NULL};
    int argc = 0;
    while (argv[argc])
        argc++;
    nsxd_config_t c;
    optind = 0; /* getopt from the start again (GNU) */
    if (nsxd_config_parse (argc, argv, &c) != 0)
        return 2;
    raft_conf_t boot;
    if (nsxd_config_cluster (c.cluster, &boot) != 0)
        return 2;
    /* A restarted node may find its ports held a moment longer by its
       previous sockets (libzmq closes them asynchronously): retry. */
    int rc = 1;
    for (int i = 0; i < 50 && rc != 0; i++) {
        rc = node_start (&c, &boot, &fc_nodes[id]);
        if (rc != 0)
            zclock_sleep (100);
    }
    return rc;
}

void
fc_stop (int id)
{
    node_stop (&fc_nodes[id]);
}

http_client_resp_t
fc_req (int id, const char *method, const char *path, const char *body)
{
    char ep[32];
    s_http_ep (id, ep, sizeof ep);
    http_client_opts_t opts = {0};
    return http_client_request (&opts, ep, method, path, body, 3000);
}

int
fc_call (int id, const char *method, const char *path, const char *body,
         json_t **out)
{
    http_client_resp_t r = fc_req (id, method, path, body);
    if (out)
        *out = r.body ? json_loads (r.body, 0, NULL) : NULL;
    int status = r.status;
    http_client_resp_free (&r);
    return status;
}

int
fc_fault (int id, const char *body)
{
    return fc_call (id, "POST", "/debug/fault", body, NULL);
}

json_t *
fc_health (int id)
{
    json_t *j = NULL;
    if (fc_call (id, "GET", "/health", NULL, &j) != 200) {
        json_decref (j);
        return NULL;
    }
    return j;
}

void
fc_view (int id, char *role, size_t len, long long *term, long long *leader)
{
    json_t *h = fc_nodes[id] ? fc_health (id) : NULL;
    const char *r = json_string_value (json_object_get (h, "role"));
    snprintf (role, len, "%s", r ? r : "");
    *term = json_integer_value (json_object_get (h, "term"));
    *leader = json_integer_value (json_object_get (h, "leader_id"));
    json_decref (h);
}

int
fc_wait_leader (unsigned among, int not_, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        int leader = 0;
        long long lid[FC_NODES + 1] = {0}, term;
        char role[32];
        for (int id = 1; id <= FC_NODES; id++) {
            if (!(among & (1u << id)))
                continue;
            fc_view (id, role, sizeof role, &term, &lid[id]);
            if (streq (role, "leader") && lid[id] == id)
                leader = id;
        }
        bool agree = leader && leader != not_;
        for (int id = 1; id <= FC_NODES; id++)
            if ((among & (1u << id)) && lid[id] != leader)
                agree = false;
        if (agree)
            return leader;
        zclock_sleep (50);
    }
    return 0;
}

int
fc_put (int id, const char *key, const char *value)
{
    char body[256];
    snprintf (body, sizeof body, "{\"key\": \"%s\", \"value\": \"%s\"}", key,
              value);
    return fc_call (id, "POST", "/kv/put", body, NULL);
}

bool
fc_wait_value (int id, const char *key, const char *value, bool stale,
               int timeout_ms)
{
    char path[128];
    snprintf (path, sizeof path, "/kv/get?key=%s%s", key,
              stale ? "&stale=true" : "");
    int64_t deadline = zclock_mono () + timeout_ms;
    do {
        json_t *j = NULL;
        int st = fc_call (id, "GET", path, NULL, &j);
        const char *v = json_string_value (json_object_get (j, "value"));
        bool ok = st == 200 && v && streq (v, value);
        json_decref (j);
        if (ok)
            return true;
        zclock_sleep (50);
    } while (zclock_mono () < deadline);
    return false;
}

long long
fc_metric (int id, const char *name)
{
    http_client_resp_t r = fc_req (id, "GET", "/metrics", NULL);
    long long v = -1;
    size_t n = strlen (name);
    for (const char *p = r.body; p && *p;) {
        if (strncmp (p, name, n) == 0 && p[n] == ' ') {
            v = strtoll (p + n + 1, NULL, 10);
            break;
        }
        p = strchr (p, '\n');
        p = p ? p + 1 : NULL;
    }
    http_client_resp_free (&r);
    return v;
}
