/*  parse_watch.h -- GET /kv/watch's query (issue 15; README, "Watches").
    Pure, as parse.h: bytes in, the request or an error out (400
    bad_request or 413 too_large, with a detail).

      key=K | prefix=P     one of the two (prefix may be empty: every key)
      from_index=N         events with an index above N (default: the
                           node's applied index: what comes next)
      timeout_ms=T         a long poll waits up to T (default 30000, at
                           most 120000; 0: answer at once)
      limit=L              events per answer, 1..1000 (default 1000)
      stream=true|false    server-sent events (also Accept:
                           text/event-stream)
    and the Last-Event-ID header of an EventSource that reconnects, which
    wins over from_index (the URL it reconnects with is the first one).
*/
#ifndef HTTP_PARSE_WATCH_H_INCLUDED
#define HTTP_PARSE_WATCH_H_INCLUDED

#include "parse.h"

#include <stdbool.h>
#include <stdint.h>

#define HTTP_WATCH_TIMEOUT_DEFAULT_MS 30000
#define HTTP_WATCH_TIMEOUT_MAX_MS 120000
#define HTTP_WATCH_LIMIT_DEFAULT 1000
#define HTTP_WATCH_LIMIT_MAX 1000

typedef struct {
    raft_buf_t *key; /* the key or the prefix */
    bool prefix;
    bool has_from;
    uint64_t from;
    int timeout_ms;
    size_t limit;
    bool stream;
} http_parse_watch_t;

void http_parse_watch_clear (http_parse_watch_t *w);

/* qs: the query string; accept and last_event_id: those headers' values,
   or NULL. 0 with *out, or -1 with *err. */
int http_parse_watch_query (const char *qs, size_t len, const char *accept,
                            const char *last_event_id,
                            const http_parse_limits_t *lim,
                            http_parse_watch_t *out, http_parse_err_t *err);

#endif
