/*  fuzz_json.c -- the JSON rendering of http/json.c and http_render.c on
    arbitrary bytes: what a GET renders from whatever bytes are stored
    under a key. Every input is used three ways:

      UTF-8        json_utf8_valid agrees with jansson's own check (an
                   independent implementation of RFC 3629: json_stringn
                   refuses exactly the invalid strings);
      lossy        json_string_lossy: always valid UTF-8; the input itself
                   when that is valid; otherwise every ASCII byte kept, in
                   order (a bad byte never swallows the ASCII after it),
                   at most 3 bytes out per byte in, and rendering the
                   result again changes nothing;
      GET          the input split into key and value (the first byte
                   says where) rendered as a GET does (http_render_value,
                   json_body_text, http/http_kv.c):
                   an object whose "key" and "value" are the lossy strings
                   of the bytes (exactly the bytes when they are UTF-8),
                   plus "stale": true when asked; its text ASCII, and
                   parsing it back gives the same object.
*/
#include "fuzz.h"
#include "http_render.h"
#include "json.h"

static bool
s_ascii (const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)text[i] >= 0x80 || (unsigned char)text[i] < 0x20)
            return false;
    return true;
}

static void
s_fuzz_utf8 (const uint8_t *data, size_t size)
{
    bool valid = json_utf8_valid (data, size);
    json_t *j = json_stringn ((const char *)data, size);
    FUZZ_CHECK (valid == (j != NULL));
    json_decref (j);

    json_t *s = json_string_lossy (data, size);
    FUZZ_CHECK (s != NULL);
    const char *out = json_string_value (s);
    size_t n = json_string_length (s);
    FUZZ_CHECK (json_utf8_valid (out, n));
    if (valid) {
        FUZZ_CHECK (n == size && memcmp (out, data, size) == 0);
    } else {
        FUZZ_CHECK (n <= 3 * size);
        size_t k = 0;
        for (size_t i = 0; i < size; i++) {
            if (data[i] >= 0x80)
                continue;
            while (k < n && (unsigned char)out[k] >= 0x80)
                k++;
            FUZZ_CHECK (k < n && out[k] == (char)data[i]);
            k++;
        }
        for (; k < n; k++)
            FUZZ_CHECK ((unsigned char)out[k] >= 0x80);
    }
    json_t *again = json_string_lossy (out, n);
    FUZZ_CHECK (again && json_equal (again, s));
    json_decref (again);
    json_decref (s);
}

/* obj's text, as the HTTP side sends it, parses back to obj. */
static void
s_check_text (const json_t *obj)
{
    size_t len = 0;
    char *text = json_body_text (obj, &len);
    FUZZ_CHECK (text != NULL && s_ascii (text, len));
    json_error_t err;
    json_t *back = json_loads (text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (back)
        FUZZ_CHECK (json_equal (back, obj));
    else
        FUZZ_CHECK (strstr (text, "\\u0000") != NULL);
    json_decref (back);
    free (text);
}

static bool
s_is_lossy_of (const json_t *v, const void *data, size_t len)
{
    json_t *want = json_string_lossy (data, len);
    bool ok = want && json_equal (v, want);
    json_decref (want);
    if (ok && json_utf8_valid (data, len))
        ok = json_string_length (v) == len &&
             memcmp (json_string_value (v), data, len) == 0;
    return ok;
}

static void
s_fuzz_get (const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    size_t klen = data[0] < size - 1 ? data[0] : size - 1;
    raft_buf_t *key = raft_buf_new (data + 1, klen);
    raft_buf_t *value = raft_buf_new (data + 1 + klen, size - 1 - klen);
    for (int found = 0; found < 2; found++) {
        bool stale = (data[0] & 1) != 0;
        json_t *body = http_render_value (key, found ? value : NULL, stale);
        FUZZ_CHECK (json_is_object (body));
        FUZZ_CHECK (json_object_size (body) == 2u + stale);
        FUZZ_CHECK (
            s_is_lossy_of (json_object_get (body, "key"), key->data, key->len));
        if (found)
            FUZZ_CHECK (s_is_lossy_of (json_object_get (body, "value"),
                                       value->data, value->len));
        else
            FUZZ_CHECK (
                streq (json_string_value (json_object_get (body, "error")),
                       "not_found"));
        if (stale)
            FUZZ_CHECK (json_is_true (json_object_get (body, "stale")));
        s_check_text (body);
        json_decref (body);
    }
    raft_buf_unref (key);
    raft_buf_unref (value);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_fuzz_utf8 (data, size);
    s_fuzz_get (data, size);
    return 0;
}

/*  ---------------------------------------------------------------------
    Seeds: UTF-8 of every length, broken sequences                   */

void
fuzz_seeds (void)
{
    static const char *strings[] = {
        "\x03keyvalue",
        "\x01k\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",     /* 2, 3, 4 bytes */
        "\x02k\xff\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80", /* all invalid */
        "\x00\xe2\x82",                                  /* truncated */
        "\x04\x1b[2Jx\x7f\"\\",                          /* escapes */
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        fuzz_seed (strings[i], strlen (strings[i]) + (i == 3));
}
