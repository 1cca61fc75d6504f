/*  msg_util.h -- what every msg/ decoder shares.
*/
#ifndef MSG_UTIL_H_INCLUDED
#define MSG_UTIL_H_INCLUDED

#include "raft.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Do the container and string sizes declared in data fit in its len
   bytes? msgpack-c allocates an array's or map's storage from the declared
   count before reading the elements, so five hostile bytes (0xdd ff ff ff
   ff: "an array of 4 billion") would ask for 96 GiB. */
bool msg_sizes_plausible (const uint8_t *data, size_t len);

/* Unpack exactly one msgpack object that fills data (no trailing bytes),
   after msg_sizes_plausible. On success *u holds it (destroy it with
   msgpack_unpacked_destroy); on failure nothing is left to destroy. */
bool msg_unpack_one (msgpack_unpacked *u, const void *data, size_t len);

/* Typed field readers: false if o is not of that type. */
bool msg_get_uint (const msgpack_object *o, uint64_t *v);
bool msg_get_bool (const msgpack_object *o, bool *v);
void msg_pack_bool (msgpack_packer *pk, bool v);

/* A string that can become a C string of fewer than max bytes: type STR,
   size < max, no NUL inside. (An empty string's pointer may be NULL, which
   memchr and memcpy must not see, even with size 0.) */
bool msg_str_clean (const msgpack_object *o, size_t max);
/* Copy such a string into dst (at least size + 1 bytes), NUL-terminated. */
void msg_str_copy (char *dst, const msgpack_object *o);

/* A str of s. */
void msg_pack_cstr (msgpack_packer *pk, const char *s);
/* A bin of b; a NULL buffer travels as an empty bin (the formats have no
   nil there). */
void msg_pack_buf (msgpack_packer *pk, const raft_buf_t *b);
/* o is the str s. */
bool msg_str_is (const msgpack_object *o, const char *s);
/* A bin as a new buffer (NULL on a type error or no memory). */
raft_buf_t *msg_buf_of (const msgpack_object *o);

#endif
