/*  json.c -- see json.h.
*/
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*  ---------------------------------------------------------------------
    UTF-8                                                                */

/* Length of the well-formed UTF-8 sequence at p (RFC 3629, Table 3-7 of
   the Unicode standard), or, negated, the length of the maximal invalid
   subpart to replace by one U+FFFD (the W3C/Unicode "best practice", so
   one bad byte never swallows the valid characters after it). */
static int
s_utf8_seq (const uint8_t *p, size_t len)
{
    uint8_t b = p[0];
    if (b < 0x80)
        return 1;
    int need;
    uint8_t lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (b >= 0xc2 && b <= 0xdf)
        need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        if (b == 0xe0)
            lo = 0xa0; /* overlong */
        else if (b == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        if (b == 0xf0)
            lo = 0x90; /* overlong */
        else if (b == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else
        return -1;
    for (int i = 1; i <= need; i++) {
        if ((size_t)i >= len)
            return -i;
        uint8_t c = p[i];
        if (i == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xbf))
            return -i;
    }
    return need + 1;
}

bool
json_utf8_valid (const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t pos = 0;
    while (pos < len) {
        int n = s_utf8_seq (p + pos, len - pos);
        if (n < 0)
            return false;
        pos += (size_t)n;
    }
    return true;
}

json_t *
json_string_lossy (const void *data, size_t len)
{
    if (len == 0)
        return json_string ("");
    if (json_utf8_valid (data, len))
        return json_stringn (data, len);
    /* Each replaced subpart is at least one byte and grows to three. */
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    const uint8_t *p = data;
    uint8_t *out = malloc (len * 3 + 1);
    if (!out)
        return NULL;
    size_t pos = 0, n_out = 0;
    while (pos < len) {
        int n = s_utf8_seq (p + pos, len - pos);
        if (n > 0) {
            memcpy (out + n_out, p + pos, (size_t)n);
            n_out += (size_t)n;
            pos += (size_t)n;
        } else {
            memcpy (out + n_out, "\xef\xbf\xbd", 3);
            n_out += 3;
            pos += (size_t)-n;
        }
    }
    json_t *s = json_stringn ((const char *)out, n_out);
    free (out);
    return s;
}

/*  ---------------------------------------------------------------------
    Bodies                                                               */

json_t *
json_error_body (const char *error, const char *detail)
{
    json_t *b = json_object ();
    if (!b)
        return NULL;
    if (json_object_set_new (b, "error",
                             json_string_lossy (error, strlen (error))) != 0 ||
        (detail &&
         json_object_set_new (
             b, "detail", json_string_lossy (detail, strlen (detail))) != 0)) {
        json_decref (b);
        return NULL;
    }
    return b;
}

char *
json_body_text (const json_t *body, size_t *len)
{
    /* No JSON_COMPACT: jansson then separates with ", " and ": ", the
       spacing of the prototype's bodies ({"error": "not_leader", ...});
       JSON_ENSURE_ASCII as Python's json.dumps does by default. */
    char *text = json_dumps (body, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
    if (text && len)
        *len = strlen (text);
    return text;
}
