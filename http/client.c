/*  client.c -- see client.h.
*/
#include "client.h"

#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

http_client_resp_t
http_client_request (const char *endpoint, const char *method, const char *path,
                     const char *body, int timeout_ms)
{
    http_client_resp_t r = {0, NULL};
    char host[256];
    snprintf (host, sizeof host, "%s", endpoint);
    char *colon = strrchr (host, ':');
    if (!colon)
        return r;
    *colon = 0;
    char err[256];
    struct mg_connection *c =
        mg_connect_client (host, atoi (colon + 1), 0, err, sizeof err);
    if (!c)
        return r;
    size_t blen = body ? strlen (body) : 0;
    mg_printf (c,
               "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
               "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
               method, path, endpoint, blen);
    if (blen)
        mg_write (c, body, blen);
    if (mg_get_response (c, err, sizeof err, timeout_ms) >= 0) {
        const struct mg_response_info *ri = mg_get_response_info (c);
        r.status = ri ? ri->status_code : 0;
        size_t cap = 4096, len = 0;
        r.body = malloc (cap);
        int n;
        while (r.body && (n = mg_read (c, r.body + len, cap - len - 1)) > 0) {
            len += (size_t)n;
            if (cap - len < 1024) {
                char *nb = realloc (r.body, cap * 2);
                if (!nb) {
                    free (r.body);
                    r.body = NULL;
                    break;
                }
                r.body = nb;
                cap *= 2;
            }
        }
        if (r.body)
            r.body[len] = 0;
    }
    mg_close_connection (c);
    return r;
}

void
http_client_resp_free (http_client_resp_t *r)
{
    free (r->body);
    r->body = NULL;
}
