/*  auth.h -- bearer tokens for the HTTP API: the token file, roles, and
    the constant-time check.

    The token file (--auth-file), UTF-8 text, one token per line:

        # comment lines and blank lines are ignored
        ROLE TOKEN [NAME]

    ROLE is read, write or admin (each includes the ones before it: read
    is GET /kv/get, and /health and /metrics when they are closed; write
    adds PUT and DELETE; admin adds /raft/join and /raft/remove). TOKEN is
    16..512 characters of RFC 6750's b64token (A-Z a-z 0-9 - . _ ~ + /,
    then '=' padding), e.g. `openssl rand -hex 32`. NAME (optional,
    A-Z a-z 0-9 . _ -, at most 64) is what the log says instead of the
    token, which is never logged; without it, "line N". Fields are
    separated by spaces or tabs; a line may end in CR LF. A file with a
    line that does not follow this, a token listed twice, no token at all,
    more than HTTP_AUTH_MAX_TOKENS or more than 1 MiB is refused whole:
    nsxd does not start on a half-understood access list.

    Tokens are kept as SHA-256 digests only, and a presented token is
    hashed and compared with every digest with CRYPTO_memcmp, without
    stopping at a match: the time taken does not depend on how much of a
    token was right, nor on which token matched.
*/
#ifndef HTTP_AUTH_H_INCLUDED
#define HTTP_AUTH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define HTTP_AUTH_MAX_TOKENS 1024
#define HTTP_AUTH_MIN_TOKEN 16
#define HTTP_AUTH_MAX_TOKEN 512

typedef enum {
    HTTP_ROLE_NONE = 0, /* no token, or an unknown one */
    HTTP_ROLE_READ = 1,
    HTTP_ROLE_WRITE = 2,
    HTTP_ROLE_ADMIN = 3,
} http_role_t;

typedef struct http_auth_t http_auth_t;

/* The tokens in text[0..len) (the file's content). NULL with a message in
   err (naming the line, never quoting a token) if the text is not a valid
   token file or memory ran out. Pure: no I/O. */
http_auth_t *http_auth_parse (const char *text, size_t len, char *err,
                              size_t err_len);

/* Read and parse the file at path. NULL with err as above, or if it
   cannot be read or is not a regular file. *loose is set when the file
   is readable or writable by group or others (the caller warns). */
http_auth_t *http_auth_load (const char *path, bool *loose, char *err,
                             size_t err_len);

void http_auth_destroy (http_auth_t **self_p);

/* Number of tokens. */
size_t http_auth_count (const http_auth_t *self);

/* The role of token[0..len), HTTP_ROLE_NONE if it is not in the file;
   *name (if name is not NULL) is the matching token's NAME, for logs.
   Constant time in the token's content (see the top). */
http_role_t http_auth_role (const http_auth_t *self, const char *token,
                            size_t len, const char **name);

/* The token of an Authorization header value "Bearer TOKEN" (scheme in any
   case, then spaces, then a b64token, then optional spaces): 0 with *token
   pointing into header and *len, or -1 if header is anything else. Pure. */
int http_auth_bearer (const char *header, const char **token, size_t *len);

/* "read", "write", "admin" or "none". */
const char *http_auth_role_name (http_role_t role);

#endif
