/*  http_body.c -- a request's body, read within the request's deadline
    while holding a body slot, and the actor's watch that cuts off a body
    still arriving past it (http.c, "Slow clients").
*/
#include "http_int.h"
#include "json.h"
#include "log.h"
#include "socket_find.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A reply not sent yet. */
typedef struct {
    int status;
    const char *error;
    char detail[128];
} s_refusal_t;

static int
s_refuse (s_refusal_t *r, int status, const char *error, const char *detail)
{
    r->status = status;
    r->error = error;
    snprintf (r->detail, sizeof r->detail, "%s", detail);
    return status;
}

/* Read the whole body, at most args.max_body bytes, before the request's
   read deadline, holding a body slot (http.c, "Slow clients").
   Returns 0 with a malloc'ed *out (NUL-terminated, for the logs' sake),
   or the status of the reply to send, in *r: the caller gives the slot
   back before it answers, so that a client's next request never finds
   its own last slot still taken. */
static int
s_read_body_slot (http_req_t *c, char **out, size_t *out_len, s_refusal_t *r)
{
    size_t max = c->self->args.max_body;
    long long cl = c->ri->content_length; /* -1: unknown (chunked) */
    /* Known length: one buffer. Unknown: grow, up to one byte past the
       limit, which is how a chunked body too large shows itself. */
    size_t cap = cl >= 0 ? (size_t)cl + 1 : (max + 1 < 4096 ? max + 1 : 4096);
    char *buf = malloc (cap);
    if (!buf)
        return s_refuse (r, 500, "internal", "out of memory");
    http_worker_t *w = c->w;
    if (w) {
        pthread_mutex_lock (&c->self->watch_mutex);
        w->body_deadline = c->read_deadline;
        snprintf (w->peer, sizeof w->peer, "%s", c->ri->remote_addr);
        w->peer_port = c->ri->remote_port;
        w->local_port = c->ri->server_port;
        w->cut = false;
        pthread_mutex_unlock (&c->self->watch_mutex);
    }
    size_t len = 0;
    int st = 0;
    bool complete = false; /* all of it, or more than max */
    while (zclock_mono () < c->read_deadline) {
        if (len + 1 >= cap && (cl >= 0 || len > max)) {
            complete = true; /* all that was announced, or too much */
            break;
        }
        if (len + 1 >= cap) {
            size_t ncap = cap * 2 < max + 2 ? cap * 2 : max + 2;
            char *nbuf = realloc (buf, ncap);
            if (!nbuf) {
                st = s_refuse (r, 500, "internal", "out of memory");
                break;
            }
            buf = nbuf;
            cap = ncap;
        }
        /* mg_read returns once it has all it asked for, or after a read
           slice without a byte (civetweb's request_timeout_ms): bytes that
           keep trickling in faster than that keep it reading, and only
           the actor's watch (http_body_watch) cuts it off at the deadline. 0: no
           byte in a slice (or the end of a chunked body), -1: the client
           went away, or the watch shut the connection's reading side. */
        int n = mg_read (c->conn, buf + len, cap - 1 - len);
        if (n < 0) {
            st = s_refuse (r, 400, "bad_request", "could not read the body");
            break;
        }
        if (n == 0 && cl < 0) {
            complete = true;
            break;
        }
        len += (size_t)n;
    }
    bool cut = false;
    if (w) {
        pthread_mutex_lock (&c->self->watch_mutex);
        w->body_deadline = 0;
        cut = w->cut;
        pthread_mutex_unlock (&c->self->watch_mutex);
    }
    (void)cut; /* a body cut off is not complete */
    char detail[128];
    if (st == 0 && !complete) {
        snprintf (detail, sizeof detail,
                  "the request did not arrive within %d ms "
                  "(--request-read-ms)",
                  c->self->access.read_ms);
        st = s_refuse (r, 408, "request_timeout", detail);
    }
    if (!st && len > max) {
        snprintf (detail, sizeof detail, "body is larger than %zu bytes", max);
        st = s_refuse (r, 413, "too_large", detail);
    }
    if (st) {
        free (buf);
        return st;
    }
    buf[len] = 0;
    *out = buf;
    *out_len = len;
    c->body_read = true;
    return 0;
}

int
http_read_body (http_req_t *c, char **out, size_t *out_len)
{
    size_t max = c->self->args.max_body;
    long long cl = c->ri->content_length;
    if (cl > 0 && (unsigned long long)cl > max) {
        char detail[96];
        snprintf (detail, sizeof detail, "body is larger than %zu bytes", max);
        return http_reply_error (c, 413, "too_large",
                                 detail); /* never read it */
    }
    if (cl == 0) {
        *out = calloc (1, 1);
        *out_len = 0;
        c->body_read = true;
        return *out ? 0
                    : http_reply_error (c, 500, "internal", "out of memory");
    }
    const char *addr = c->ri->remote_addr;
    http_admit_t admit = http_admission_enter (c->self->bodies, addr);
    if (admit != HTTP_ADMIT_OK) {
        char detail[160];
        if (admit == HTTP_ADMIT_ADDR_FULL)
            snprintf (detail, sizeof detail,
                      "too many requests from %s are sending their bodies "
                      "at once; retry later",
                      addr);
        else
            snprintf (detail, sizeof detail,
                      "too many requests are sending their bodies at once; "
                      "retry later");
        c->close = true;
        return http_reply_json (c, 503, json_error_body ("busy", detail),
                                "Retry-After: 1\r\n");
    }
    s_refusal_t r;
    int st = s_read_body_slot (c, out, out_len, &r);
    http_admission_leave (c->self->bodies, addr);
    return st ? http_reply_error (c, r.status, r.error, r.detail) : 0;
}

/* Cut off every body still arriving past its request's deadline: shut
   down the reading side of its connection, which wakes its worker in
   mg_read (); the worker answers 408 (writing still works) and closes. */
void
http_body_watch (http_self_t *self)
{
    int64_t now = zclock_mono ();
    pthread_mutex_lock (&self->watch_mutex);
    for (size_t i = 0; i < self->n_workers; i++) {
        http_worker_t *w = self->workers[i];
        if (!w->body_deadline || w->cut || now < w->body_deadline)
            continue;
        /* The worker is inside its read loop, so the connection is open
           and its descriptor cannot be reused while we hold the mutex. */
        int fd = http_socket_find (w->peer, w->peer_port, w->local_port);
        if (fd >= 0) /* a stream's write (http_watch.c): both ways */
            shutdown (fd, w->writing ? SHUT_RDWR : SHUT_RD);
        else
            log_warn ("http: cannot find the connection from %s:%d to cut "
                      "it off",
                      w->peer, w->peer_port);
        w->cut = true;
    }
    pthread_mutex_unlock (&self->watch_mutex);
}
