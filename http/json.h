/*  json.h -- JSON for the HTTP API: strings that are valid UTF-8 whatever
    bytes they come from, the bodies of the errors the HTTP side produces
    itself, and the text of a body. (The raft actor's typed replies are
    rendered by http_render.h, with these.)

    Every string that reaches a client is valid UTF-8: keys and values are
    arbitrary bytes inside the node, so invalid sequences are replaced by
    U+FFFD rather than failing the whole reply.
*/
#ifndef NSXD_JSON_H_INCLUDED
#define NSXD_JSON_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* True if data[0..len) is well-formed UTF-8 (RFC 3629: no overlongs, no
   surrogates, nothing above U+10FFFF). NUL bytes are allowed. */
bool json_utf8_valid (const void *data, size_t len);

/* A JSON string of data, with every invalid UTF-8 sequence replaced by
   U+FFFD. NULL only on allocation failure. */
json_t *json_string_lossy (const void *data, size_t len);

/* {"error": error} plus "detail": detail when detail is not NULL. */
json_t *json_error_body (const char *error, const char *detail);

/* The text of a response body, malloc'ed, in the prototype's spacing
   ({"key": "value", "n": 1}, ASCII only). NULL on allocation failure. */
char *json_body_text (const json_t *body, size_t *len);

#endif
