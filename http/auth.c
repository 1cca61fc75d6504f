/*  auth.c -- see auth.h.
*/
#include "auth.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAX_FILE (1 << 20)
#define S_MAX_NAME 64

typedef struct {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    http_role_t role;
    char name[S_MAX_NAME + 1];
} s_token_t;

struct http_auth_t {
    s_token_t *tokens;
    size_t n;
};

static bool
s_token_char (char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~' || c == '+' || c == '/';
}

/* Length of the b64token at s[0..len) (RFC 6750 2.1: token characters,
   then '=' padding), 0 if there is none. */
static size_t
s_b64token_len (const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && s_token_char (s[i]))
        i++;
    if (i == 0)
        return 0;
    while (i < len && s[i] == '=')
        i++;
    return i;
}

static bool
s_name_char (char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static void
s_digest (const char *token, size_t len,
          unsigned char out[SHA256_DIGEST_LENGTH])
{
    unsigned int n = 0;
    if (EVP_Digest (token, len, out, &n, EVP_sha256 (), NULL) != 1 ||
        n != SHA256_DIGEST_LENGTH)
        memset (out, 0, SHA256_DIGEST_LENGTH); /* matches no real token */
}

const char *
http_auth_role_name (http_role_t role)
{
    switch (role) {
    case HTTP_ROLE_READ: return "read";
    case HTTP_ROLE_WRITE: return "write";
    case HTTP_ROLE_ADMIN: return "admin";
    default: return "none";
    }
}

/* The fields of one line: up to 4 (a 4th is an error), split on spaces
   and tabs. Returns the number found. */
static size_t
s_fields (const char *line, size_t len, const char *f[4], size_t flen[4])
{
    size_t n = 0, i = 0;
    while (i < len && n < 4) {
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && line[i] != ' ' && line[i] != '\t')
            i++;
        f[n] = line + start;
        flen[n] = i - start;
        n++;
    }
    return n;
}

static int s_err (char *err, size_t err_len, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
static int
s_err (char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err, err_len, fmt, ap);
    va_end (ap);
    return -1;
}

/* One non-blank, non-comment line into *t. */
static int
s_parse_line (const char *line, size_t len, size_t lineno, s_token_t *t,
              char *err, size_t err_len)
{
    const char *f[4];
    size_t flen[4];
    size_t n = s_fields (line, len, f, flen);
    if (n < 2 || n > 3)
        return s_err (err, err_len,
                      "line %zu: want \"ROLE TOKEN [NAME]\", got %zu fields",
                      lineno, n);
    if (flen[0] == 4 && memcmp (f[0], "read", 4) == 0)
        t->role = HTTP_ROLE_READ;
    else if (flen[0] == 5 && memcmp (f[0], "write", 5) == 0)
        t->role = HTTP_ROLE_WRITE;
    else if (flen[0] == 5 && memcmp (f[0], "admin", 5) == 0)
        t->role = HTTP_ROLE_ADMIN;
    else
        return s_err (err, err_len,
                      "line %zu: the role must be read, write or admin",
                      lineno);
    if (s_b64token_len (f[1], flen[1]) != flen[1])
        return s_err (err, err_len,
                      "line %zu: the token has characters outside "
                      "A-Z a-z 0-9 - . _ ~ + / (and = at the end)",
                      lineno);
    if (flen[1] < HTTP_AUTH_MIN_TOKEN || flen[1] > HTTP_AUTH_MAX_TOKEN)
        return s_err (err, err_len,
                      "line %zu: the token must be %d to %d characters "
                      "(e.g. openssl rand -hex 32)",
                      lineno, HTTP_AUTH_MIN_TOKEN, HTTP_AUTH_MAX_TOKEN);
    s_digest (f[1], flen[1], t->digest);
    if (n == 3) {
        if (flen[2] > S_MAX_NAME)
            return s_err (err, err_len, "line %zu: the name is over %d bytes",
                          lineno, S_MAX_NAME);
        for (size_t i = 0; i < flen[2]; i++)
            if (!s_name_char (f[2][i]))
                return s_err (err, err_len,
                              "line %zu: the name may hold only A-Z a-z "
                              "0-9 . _ -",
                              lineno);
        memcpy (t->name, f[2], flen[2]);
        t->name[flen[2]] = 0;
    } else {
        snprintf (t->name, sizeof t->name, "line %zu", lineno);
    }
    return 0;
}

http_auth_t *
http_auth_parse (const char *text, size_t len, char *err, size_t err_len)
{
    if (len > S_MAX_FILE) {
        s_err (err, err_len, "larger than %d bytes", S_MAX_FILE);
        return NULL;
    }
    if (memchr (text, 0, len)) {
        s_err (err, err_len, "holds a NUL byte: not a text file");
        return NULL;
    }
    http_auth_t *self = calloc (1, sizeof *self);
    if (!self) {
        s_err (err, err_len, "out of memory");
        return NULL;
    }
    size_t lineno = 0, i = 0;
    int rc = 0;
    while (i < len && rc == 0) {
        const char *nl = memchr (text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        const char *line = text + i;
        size_t llen = end - i;
        i = end + 1;
        lineno++;
        if (llen > 0 && line[llen - 1] == '\r')
            llen--;
        size_t lead = 0;
        while (lead < llen && (line[lead] == ' ' || line[lead] == '\t'))
            lead++;
        if (lead == llen || line[lead] == '#')
            continue;
        if (self->n == HTTP_AUTH_MAX_TOKENS) {
            rc = s_err (err, err_len, "more than %d tokens",
                        HTTP_AUTH_MAX_TOKENS);
            break;
        }
        if (self->n % 16 == 0) {
            s_token_t *more =
                realloc (self->tokens, (self->n + 16) * sizeof *more);
            if (!more) {
                rc = s_err (err, err_len, "out of memory");
                break;
            }
            self->tokens = more;
        }
        s_token_t *t = &self->tokens[self->n];
        memset (t, 0, sizeof *t);
        rc = s_parse_line (line, llen, lineno, t, err, err_len);
        for (size_t k = 0; rc == 0 && k < self->n; k++)
            if (memcmp (self->tokens[k].digest, t->digest, sizeof t->digest) ==
                0)
                rc = s_err (err, err_len,
                            "line %zu: the same token as %s (each token "
                            "has one role)",
                            lineno, self->tokens[k].name);
        if (rc == 0)
            self->n++;
    }
    if (rc == 0 && self->n == 0)
        rc = s_err (err, err_len, "no tokens in it");
    if (rc != 0)
        http_auth_destroy (&self);
    return self;
}

http_auth_t *
http_auth_load (const char *path, bool *loose, char *err, size_t err_len)
{
    *loose = false;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        s_err (err, err_len, "cannot open: %s", strerror (errno));
        return NULL;
    }
    struct stat st;
    char *buf = NULL;
    http_auth_t *self = NULL;
    if (fstat (fd, &st) != 0)
        s_err (err, err_len, "cannot stat: %s", strerror (errno));
    else if (!S_ISREG (st.st_mode))
        s_err (err, err_len, "not a regular file");
    else if (st.st_size > S_MAX_FILE)
        s_err (err, err_len, "larger than %d bytes", S_MAX_FILE);
    else if (!(buf = malloc ((size_t)st.st_size + 1)))
        s_err (err, err_len, "out of memory");
    else {
        *loose = (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
        size_t len = 0;
        ssize_t n;
        /* one byte more than stat said, to notice a file still growing */
        while (len <= (size_t)st.st_size &&
               (n = read (fd, buf + len, (size_t)st.st_size + 1 - len)) != 0) {
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                s_err (err, err_len, "cannot read: %s", strerror (errno));
                len = SIZE_MAX;
                break;
            }
            len += (size_t)n;
        }
        if (len == SIZE_MAX)
            ;
        else if (len > (size_t)st.st_size)
            s_err (err, err_len, "changed while being read");
        else
            self = http_auth_parse (buf, len, err, err_len);
        /* the tokens themselves must not linger in freed memory */
        OPENSSL_cleanse (buf, (size_t)st.st_size + 1);
    }
    free (buf);
    close (fd);
    return self;
}

void
http_auth_destroy (http_auth_t **self_p)
{
    if (!*self_p)
        return;
    free ((*self_p)->tokens);
    free (*self_p);
    *self_p = NULL;
}

size_t
http_auth_count (const http_auth_t *self)
{
    return self ? self->n : 0;
}

http_role_t
http_auth_role (const http_auth_t *self, const char *token, size_t len,
                const char **name)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    s_digest (token, len, d);
    unsigned role = 0;
    size_t which = 0;
    /* Every digest is compared, and the match is folded in with masks
       rather than a branch or an early return. */
    for (size_t i = 0; i < self->n; i++) {
        unsigned eq = (unsigned)(CRYPTO_memcmp (d, self->tokens[i].digest,
                                                sizeof d) == 0);
        unsigned mask = 0u - eq;
        role |= (unsigned)self->tokens[i].role & mask;
        which |= i & (size_t)(0 - (size_t)eq);
    }
    if (name)
        *name = role ? self->tokens[which].name : NULL;
    return (http_role_t)role;
}

int
http_auth_bearer (const char *header, const char **token, size_t *len)
{
    if (!header || strncasecmp (header, "Bearer", 6) != 0 ||
        (header[6] != ' ' && header[6] != '\t'))
        return -1;
    const char *p = header + 6;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t rest = strlen (p);
    size_t n = s_b64token_len (p, rest);
    if (n == 0)
        return -1;
    for (size_t i = n; i < rest; i++)
        if (p[i] != ' ' && p[i] != '\t')
            return -1;
    *token = p;
    *len = n;
    return 0;
}
