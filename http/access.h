/*  access.h -- who may do what on the HTTP API, and what /health says
    about it.

    The policy (README, "Security"):
      - with a token file (--auth-file), every request needs a bearer token
        whose role is at least the route's: read for GET /kv/get, write for
        PUT and DELETE, admin for /raft/join and /raft/remove; /health and
        /metrics are open unless --auth-health, then they need read;
      - without one, the KV routes, /health and /metrics are open (the
        prototype's API, as etcd and rqlite start), and the admin routes
        answer only clients on loopback (127.0.0.0/8, ::1) unless
        --open-admin opens them to anyone.
    Refusals: 401 "unauthorized" (no token, a malformed Authorization
    header, an unknown token; with WWW-Authenticate: Bearer, RFC 6750) and
    403 "forbidden" (a role too low, or an admin route from off loopback).

    Pure: strings in, a decision out (no civetweb, no sockets), so a fuzzer
    can call http_access_check with any header and address.
*/
#ifndef HTTP_ACCESS_H_INCLUDED
#define HTTP_ACCESS_H_INCLUDED

#include "auth.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const http_auth_t *auth;  /* NULL: no --auth-file */
    bool auth_health;         /* /health and /metrics need a read token */
    bool open_admin;          /* no auth: admin routes open to anyone */
    bool tls;                 /* HTTPS */
    bool auth_file_loose;     /* the token file is readable by others */
    int read_ms;              /* --request-read-ms */
    const char *peer_auth;    /* the peer links' authentication, for /health */
    const char *peer_warning; /* a weakened peer setting, or NULL */
    bool faults;              /* --enable-faults (http_fault.c) */
} http_access_t;

/* What a route needs. HTTP_ACCESS_HEALTH: /health and /metrics (open
   unless auth_health). */
typedef enum {
    HTTP_ACCESS_READ = HTTP_ROLE_READ,
    HTTP_ACCESS_WRITE = HTTP_ROLE_WRITE,
    HTTP_ACCESS_ADMIN = HTTP_ROLE_ADMIN,
    HTTP_ACCESS_HEALTH = 100,
} http_access_need_t;

typedef struct {
    int status;                   /* 401 or 403 */
    const char *error;            /* "unauthorized" or "forbidden" */
    char detail[192];             /* never quotes the token */
    const char *www_authenticate; /* the header's value, or NULL */
} http_access_denial_t;

/* May a request with this Authorization header (NULL: none) from
   remote_addr (the client's IP address as text) use path, which needs
   need? 0 if so, with *role the token's role (HTTP_ROLE_NONE when no token
   was needed or given) and *who its name (NULL if none) for logs; else -1
   with *denial filled. */
int http_access_check (const http_access_t *a, http_access_need_t need,
                       const char *path, const char *authorization,
                       const char *remote_addr, http_role_t *role,
                       const char **who, http_access_denial_t *denial);

/* True if addr (IPv4 dotted quad or IPv6 text) is a loopback address. */
bool http_access_is_loopback (const char *addr);

/* The weakened settings, one sentence each (static strings): up to max of
   them in out; returns how many there are. */
size_t http_access_warnings (const http_access_t *a, const char **out,
                             size_t max);

/* /health's "security" object: {"http_auth": "tokens"|"none", "tls": bool,
   "admin": "tokens"|"loopback"|"open", "health": "open"|"tokens",
   "request_read_ms": n, "peer_auth": "...", "warnings": [...]}. NULL only
   if memory ran out. */
json_t *http_access_security (const http_access_t *a);

#endif
