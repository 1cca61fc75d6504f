/*  join_fetch.c -- see join_fetch.h.
*/
#include "join_fetch.h"
#include "client.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

int
http_join_fetch (SSL_CTX *tls, const char *peer, int timeout_ms, raft_id_t *id,
                 char *peer_addr, size_t peer_addr_len, char *why,
                 size_t why_len)
{
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
    } else {
        snprintf (why, why_len, "its /health has no \"id\" and \"peer_addr\"");
    }
    json_decref (j);
    return rc;
}
