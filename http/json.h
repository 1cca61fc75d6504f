/*  json.h -- JSON for the HTTP API: the raft actor's msgpack reply bodies
    rendered as jansson values, and the bodies of the errors the HTTP side
    produces itself.

    Every string that reaches a client is valid UTF-8: msgpack str and bin
    carry arbitrary bytes (a key is binary inside the node), so invalid
    sequences are replaced by U+FFFD rather than failing the whole reply.
*/
#ifndef NSXD_JSON_H_INCLUDED
#define NSXD_JSON_H_INCLUDED

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

/* The JSON value of a msgpack object, or NULL if it cannot be rendered
   (a map key that is not a str or bin, an ext object, nesting deeper than
   JSON_MSGPACK_MAX_DEPTH, allocation failure). Mapping:
     nil -> null; bool -> true/false; positive and negative integers ->
     integers (a positive integer above INT64_MAX becomes a real, which
     jansson cannot hold exactly); float32/64 -> real (NaN and infinities,
     which JSON lacks, -> null); str and bin -> string (invalid UTF-8 ->
     U+FFFD); array -> array; map -> object (a repeated key: the last
     wins). */
#define JSON_MSGPACK_MAX_DEPTH 64
json_t *json_from_msgpack (const msgpack_object *o);

/* Same, from the bytes of exactly one msgpack object.
   REQUIRES: data comes from msg_api_rep_decode (), whose decoder has
   already refused implausible sizes (msgpack-c allocates from declared
   counts before reading; see msg_api.c); this function does not check
   them again. */
json_t *json_from_msgpack_bytes (const void *data, size_t len);

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
