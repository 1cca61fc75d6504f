/*  client.h -- a small blocking HTTP client over civetweb, for nsxctl and
    for `nsxd --join`: one request, "Connection: close", JSON body.
*/
#ifndef HTTP_CLIENT_H_INCLUDED
#define HTTP_CLIENT_H_INCLUDED

typedef struct {
    int status; /* 0: no answer (unreachable, bad endpoint, timeout) */
    char *body; /* malloc'ed, NUL-terminated; NULL without an answer */
} http_client_resp_t;

/* One request to endpoint ("host:port"); body may be NULL. */
http_client_resp_t http_client_request (const char *endpoint,
                                        const char *method, const char *path,
                                        const char *body, int timeout_ms);
void http_client_resp_free (http_client_resp_t *r);

#endif
