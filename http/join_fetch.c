/*  join_fetch.c -- see join_fetch.h.
*/
#include "join_fetch.h"
#include "client.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* s is 32 lowercase hex digits */
static bool
s_hex_id (const char *s)
{
    return s && strlen (s) == HTTP_JOIN_ID_LEN - 1 &&
           strspn (s, "0123456789abcdef") == HTTP_JOIN_ID_LEN - 1;
}

int
http_join_fetch (SSL_CTX *tls, const char *peer, int timeout_ms, raft_id_t *id,
                 char *peer_addr, size_t peer_addr_len, char *why,
                 size_t why_len)
{
    char dir_id[HTTP_JOIN_ID_LEN], cluster_id[HTTP_JOIN_ID_LEN];
    return http_join_fetch_identity (tls, peer, timeout_ms, id, peer_addr,
                                     peer_addr_len, dir_id, cluster_id, why,
                                     why_len);
}

int
http_join_fetch_identity (SSL_CTX *tls, const char *peer, int timeout_ms,
                          raft_id_t *id, char *peer_addr, size_t peer_addr_len,
                          char dir_id[HTTP_JOIN_ID_LEN],
                          char cluster_id[HTTP_JOIN_ID_LEN], char *why,
                          size_t why_len)
{
    dir_id[0] = cluster_id[0] = 0;
    http_client_opts_t opts = {.tls = tls,
                               .max_response = HTTP_JOIN_FETCH_MAX_BYTES};
    http_client_resp_t r =
        http_client_request (&opts, peer, "GET", "/health", NULL, timeout_ms);
    if (r.status == 0) {
        snprintf (why, why_len, "%s", r.error);
        return -1;
    }
    json_t *j = json_loadb (r.body, r.body_len, 0, NULL);
    http_client_resp_free (&r);
    json_t *jid = json_object_get (j, "id");
    const char *pa = json_string_value (json_object_get (j, "peer_addr"));
    int rc = -1;
    if (json_is_integer (jid) && json_integer_value (jid) > 0 && pa && *pa &&
        !strpbrk (pa, " \t\r\n") && strlen (pa) < peer_addr_len) {
        *id = (raft_id_t)json_integer_value (jid);
        snprintf (peer_addr, peer_addr_len, "%s", pa);
        rc = 0;
        /* Anything but well-formed ids counts as absent: the leader then
           treats the server as one of unknown directory. */
        json_t *ident = json_object_get (j, "identity");
        const char *d = json_string_value (json_object_get (ident, "dir_id"));
        const char *cl =
            json_string_value (json_object_get (ident, "cluster_id"));
        if (s_hex_id (d))
            snprintf (dir_id, HTTP_JOIN_ID_LEN, "%s", d);
        if (s_hex_id (cl))
            snprintf (cluster_id, HTTP_JOIN_ID_LEN, "%s", cl);
    } else {
        snprintf (why, why_len, "its /health has no \"id\" and \"peer_addr\"");
    }
    json_decref (j);
    return rc;
}
