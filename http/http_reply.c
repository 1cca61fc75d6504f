/*  http_reply.c -- a request's answer: the JSON replies, in one write,
    with the connection kept or closed as civetweb would, civetweb's own
    refusals included. (Bodies in: http_body.c; the raft actor's replies
    rendered: http_render.c.)
*/
#include "http_int.h"
#include "json.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/*  ---------------------------------------------------------------------
    Responses                                                            */

/* Whether the request carries a body (read or not). */
bool
http_has_body (const http_req_t *c)
{
    if (c->ri->content_length >= 0)
        return c->ri->content_length > 0;
    if (mg_get_header (c->conn, "Transfer-Encoding"))
        return true;
    /* Neither length nor chunks: civetweb takes the rest of the
       connection as the body of a POST or PUT; other methods have none. */
    return streq (c->ri->request_method, "POST") ||
           streq (c->ri->request_method, "PUT");
}

/* Whether civetweb keeps the connection open after this request: its
   should_keep_alive () for our configuration (keep-alive enabled, no 401
   ever sent): a "Connection" header decides if present, else HTTP/1.1
   means keep-alive. */
static bool
s_keep_alive (const http_req_t *c)
{
    const char *h = mg_get_header (c->conn, "Connection");
    if (!h)
        return c->ri->http_version && strcmp (c->ri->http_version, "1.1") == 0;
    /* a comma-separated list of options, any case */
    const char *p = h;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t n = strcspn (p, ", \t");
        if (n == 10 && strncasecmp (p, "keep-alive", 10) == 0)
            return true;
        p += n;
    }
    return false;
}

/* Send status and body (which this takes), with extra header lines
   ("Name: value\r\n"..., or NULL). Returns status, which begin_request
   hands back to civetweb for its bookkeeping.

   The whole response goes out in one write: civetweb's
   mg_response_header_send writes each header line with its own send(),
   which with TCP_NODELAY is one segment each (7 per reply, measured with
   strace), the largest cost of a small request after the kernel's own. */
int
http_reply_json (http_req_t *c, int status, json_t *body, const char *extra)
{
    /* civetweb does not skip a body the handler left unread: its bytes
       would be parsed as the next request on the connection (checked:
       a 405 left "GET /x ..." in a body and /x was served next). So a
       reply that leaves a body unread closes the connection. So does a
       refusal of access: civetweb itself closes after a 401
       (should_keep_alive), and a refused client has no claim on a
       worker. */
    bool keep = s_keep_alive (c) && !c->close;
    if (!keep || (!c->body_read && http_has_body (c))) {
        mg_disable_connection_keep_alive (c->conn);
        keep = false;
    }
    size_t len = 0;
    char *text = body ? json_body_text (body, &len) : NULL;
    json_decref (body);
    static const char fallback[] = "{\"error\": \"internal\"}";
    if (!text)
        status = 500;
    const char *out = text ? text : fallback;
    size_t out_len = text ? len : sizeof fallback - 1;
    char date[64];
    time_t now = time (NULL);
    struct tm tm;
    strftime (date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT",
              gmtime_r (&now, &tm));
    char head[768];
    int hn =
        snprintf (head, sizeof head,
                  "HTTP/1.1 %d %s\r\n"
                  "Content-Type: application/json\r\n"
                  "Content-Length: %zu\r\n"
                  "Date: %s\r\n"
                  "Connection: %s\r\n"
                  "%s"
                  "\r\n",
                  status, mg_get_response_code_text (c->conn, status), out_len,
                  date, keep ? "keep-alive" : "close", extra ? extra : "");
    char *msg = hn > 0 && (size_t)hn < sizeof head
                    ? malloc ((size_t)hn + out_len)
                    : NULL;
    if (msg) {
        memcpy (msg, head, (size_t)hn);
        memcpy (msg + hn, out, out_len);
        mg_write (c->conn, msg, (size_t)hn + out_len);
        free (msg);
    } else {
        mg_write (c->conn, head, hn > 0 ? (size_t)hn : 0);
        mg_write (c->conn, out, out_len);
    }
    free (text);
    return status;
}

int
http_reply_error (http_req_t *c, int status, const char *error,
                  const char *detail)
{
    return http_reply_json (c, status, json_error_body (error, detail), NULL);
}

int
http_reply_parse_error (http_req_t *c, const http_parse_err_t *err)
{
    return http_reply_error (c, err->status, err->error, err->detail);
}

/* civetweb's own refusals (a request it could not parse, a header block
   over max_request_size, an unknown method...) as JSON too. Written by
   hand: the request may be too broken for the response-header API. */
int
http_reply_civetweb_error (struct mg_connection *conn, int status,
                           const char *errmsg)
{
    const char *error = status == 400   ? "bad_request"
                        : status == 405 ? "method_not_allowed"
                        : status == 408 ? "request_timeout"
                        : status == 413 ? "too_large"
                        : status == 431 ? "too_large"
                        : status == 505 ? "http_version_not_supported"
                                        : "http_error";
    json_t *b = json_error_body (error, errmsg && *errmsg ? errmsg : NULL);
    size_t len = 0;
    char *text = b ? json_body_text (b, &len) : NULL;
    json_decref (b);
    /* Counted, without a duration: civetweb does not say when it began. */
    metrics_http (METRICS_ROUTE_OTHER, status, 0);
    if (!text)
        return 1; /* let civetweb send its own */
    mg_disable_connection_keep_alive (conn);
    mg_printf (conn,
               "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
               "Content-Length: %zu\r\nConnection: close\r\n\r\n",
               status, mg_get_response_code_text (conn, status), len);
    mg_write (conn, text, len);
    free (text);
    return 0;
}
