/*  client_health.c -- see client.h, http_client_health: who is the server
    at an endpoint, from its /health (for /raft/join, http_members.c).
*/
#include "client.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* s is 32 lowercase hex digits */
static bool
s_hex_id (const char *s)
{
    return s && strlen (s) == HTTP_CLIENT_ID_LEN - 1 &&
           strspn (s, "0123456789abcdef") == HTTP_CLIENT_ID_LEN - 1;
}

int
http_client_health (SSL_CTX *tls, const char *endpoint, int timeout_ms,
                    http_client_health_t *out, char *why, size_t why_len)
{
    memset (out, 0, sizeof *out);
    http_client_opts_t opts = {.tls = tls,
                               .max_response = HTTP_CLIENT_HEALTH_MAX_BYTES};
    http_client_resp_t r = http_client_request (&opts, endpoint, "GET",
                                                "/health", NULL, timeout_ms);
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
        !strpbrk (pa, " \t\r\n") && strlen (pa) < sizeof out->peer_addr) {
        out->id = (uint64_t)json_integer_value (jid);
        snprintf (out->peer_addr, sizeof out->peer_addr, "%s", pa);
        rc = 0;
        /* Anything but well-formed ids counts as absent: the leader then
           treats the server as one of unknown directory. */
        json_t *ident = json_object_get (j, "identity");
        const char *d = json_string_value (json_object_get (ident, "dir_id"));
        const char *cl =
            json_string_value (json_object_get (ident, "cluster_id"));
        if (s_hex_id (d))
            snprintf (out->dir_id, sizeof out->dir_id, "%s", d);
        if (s_hex_id (cl))
            snprintf (out->cluster_id, sizeof out->cluster_id, "%s", cl);
    } else {
        snprintf (why, why_len, "its /health has no \"id\" and \"peer_addr\"");
    }
    json_decref (j);
    return rc;
}
