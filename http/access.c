/*  access.c -- see access.h.
*/
#include "access.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

bool
http_access_is_loopback (const char *addr)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (!addr)
        return false;
    if (inet_pton (AF_INET, addr, &v4) == 1)
        return (ntohl (v4.s_addr) >> 24) == 127;
    if (inet_pton (AF_INET6, addr, &v6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK (&v6))
            return true;
        /* ::ffff:127.x.y.z, an IPv4 client on a dual-stack socket */
        return IN6_IS_ADDR_V4MAPPED (&v6) && v6.s6_addr[12] == 127;
    }
    return false;
}

static int
s_deny (http_access_denial_t *d, int status, const char *www,
        const char *detail)
{
    d->status = status;
    d->error = status == 401 ? "unauthorized" : "forbidden";
    d->www_authenticate = www;
    snprintf (d->detail, sizeof d->detail, "%s", detail);
    return -1;
}

int
http_access_check (const http_access_t *a, http_access_need_t need,
                   const char *path, const char *authorization,
                   const char *remote_addr, http_role_t *role, const char **who,
                   http_access_denial_t *denial)
{
    *role = HTTP_ROLE_NONE;
    *who = NULL;
    http_role_t want = need == HTTP_ACCESS_HEALTH
                           ? (a->auth_health ? HTTP_ROLE_READ : HTTP_ROLE_NONE)
                           : (http_role_t)need;
    if (want == HTTP_ROLE_NONE)
        return 0;
    if (!a->auth) {
        if (want != HTTP_ROLE_ADMIN || a->open_admin ||
            http_access_is_loopback (remote_addr))
            return 0;
        char detail[192];
        snprintf (detail, sizeof detail,
                  "%s is open only to clients on loopback when nsxd runs "
                  "without --auth-file (see --open-admin)",
                  path);
        return s_deny (denial, 403, NULL, detail);
    }
    if (!authorization)
        return s_deny (denial, 401, "Bearer realm=\"nsxd\"",
                       "this request needs a bearer token");
    const char *token;
    size_t len;
    if (http_auth_bearer (authorization, &token, &len) != 0)
        return s_deny (denial, 401,
                       "Bearer realm=\"nsxd\", error=\"invalid_request\"",
                       "the Authorization header must be \"Bearer TOKEN\"");
    http_role_t have = http_auth_role (a->auth, token, len, who);
    if (have == HTTP_ROLE_NONE)
        return s_deny (denial, 401,
                       "Bearer realm=\"nsxd\", error=\"invalid_token\"",
                       "unknown token");
    *role = have;
    if (have < want) {
        char detail[192];
        snprintf (detail, sizeof detail, "this token's role is %s; %s needs %s",
                  http_auth_role_name (have), path, http_auth_role_name (want));
        return s_deny (denial, 403,
                       "Bearer realm=\"nsxd\", error=\"insufficient_scope\"",
                       detail);
    }
    return 0;
}

size_t
http_access_warnings (const http_access_t *a, const char **out, size_t max)
{
    const char *w[8];
    size_t n = 0;
    if (!a->auth)
        w[n++] = "no --auth-file: anyone who reaches the HTTP port can read "
                 "and write";
    if (!a->auth && a->open_admin)
        w[n++] = "--open-admin: /raft/join and /raft/remove accept anyone";
    if (!a->tls)
        w[n++] = "no --tls-cert: HTTP is plaintext (requests, values and "
                 "tokens can be read and changed on the network)";
    if (a->auth && a->auth_file_loose)
        w[n++] = "--auth-file is readable by group or others";
    if (a->peer_warning)
        w[n++] = a->peer_warning;
    if (a->faults)
        w[n++] = "--enable-faults: whoever may use the admin routes can cut "
                 "this node's peer links, slow its disk and stop it (POST "
                 "/debug/fault, /debug/stop)";
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = w[i];
    return n;
}

json_t *
http_access_security (const http_access_t *a)
{
    json_t *warnings = json_array ();
    const char *w[8];
    size_t n = http_access_warnings (a, w, 8);
    for (size_t i = 0; warnings && i < n && i < 8; i++)
        json_array_append_new (warnings, json_string (w[i]));
    return json_pack ("{s:s, s:b, s:s, s:s, s:i, s:s, s:o*}", "http_auth",
                      a->auth ? "tokens" : "none", "tls", a->tls, "admin",
                      a->auth         ? "tokens"
                      : a->open_admin ? "open"
                                      : "loopback",
                      "health", a->auth && a->auth_health ? "tokens" : "open",
                      "request_read_ms", a->read_ms, "peer_auth",
                      a->peer_auth ? a->peer_auth : "none", "warnings",
                      warnings);
}
