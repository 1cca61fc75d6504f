/*  parse_session.h -- the client-session fields of a write's JSON body
    (store/kvsm_session.h, §6.3), and the bodies of /session/open and
    /session/close. Pure, as parse.h.

    A write (POST /kv/put, DELETE /kv/delete, POST /kv/txn) may carry
      "session": integer >= 1   the id /session/open answered
      "seq":     integer >= 1   the client's request number (required
                                with "session")
      "ack":     integer >= 0   optional: the client has seen the reply of
                                every seq <= ack; must be < seq
    in the same JSON object as its other fields: they travel inside the
    command in the log, and the body is parsed anyway (headers would be a
    second place to look, and lost by a proxy that drops unknown ones).
*/
#ifndef HTTP_PARSE_SESSION_H_INCLUDED
#define HTTP_PARSE_SESSION_H_INCLUDED

#include "kvsm.h"
#include "parse.h"

/* Read the fields into *cmd (has_session, session, seq, ack; nothing
   when "session" is absent): 0, or -1 and *err (400). body was parsed
   already by the write's own parser: it is a JSON object. */
int http_parse_session_fields (const void *body, size_t len, kvsm_cmd_t *cmd,
                               http_parse_err_t *err);

/* POST /session/close {"session": id}. */
int http_parse_session_close (const void *body, size_t len, uint64_t *id,
                              http_parse_err_t *err);

/* POST /session/open: an empty body or an empty object ({}): 0, or -1. */
int http_parse_session_open (const void *body, size_t len,
                             http_parse_err_t *err);

#endif
