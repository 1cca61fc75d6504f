/*  fuzz_http.c -- the HTTP API's request parsing (http/parse.c) on
    arbitrary bytes: what every PUT, DELETE, GET query, /raft/join and
    /raft/remove body goes through before anything else sees it.

    The first byte picks the parser, the rest is its input (max_key 64,
    max_value 256, so the limits are reached). Beyond "no crash, no leak":

      put, delete  an error is 400 bad_request or 413 too_large; a success
                   agrees with jansson read independently (strict, no
                   duplicate keys): an object whose "key" (and "value") are
                   strings with exactly the bytes parsed, the key 1..64
                   bytes, the value at most 256;
      get query    a success is a key of 1..64 bytes of valid UTF-8, and
                   "key=" + its percent-encoding parses back to the same
                   key (and stale as given);
      host:port    a success is a host of letters, digits, '.', '-', '_'
                   and a port 1..65535, and "host:port" printed again
                   parses back to the same;
      join         a success names a peer that is itself a valid host:port
                   with that host and port, and an id >= 0;
      remove       a success has a peer without space or NUL, or an id > 0;
      fault        (http/parse_fault.h, POST /debug/fault) a success is one
                   of the five actions with exactly the fields it takes in
                   range: drop a peer > 0 and a direction, delay 1..10000
                   ms, slow_fsync 0..10000 ms, isolate and clear nothing.
*/
#include "fuzz.h"
#include "json.h"
#include "parse.h"
#include "parse_fault.h"

#include <jansson.h>

static const http_parse_limits_t s_lim = {.max_key = 64, .max_value = 256};

static void
s_check_err (const http_parse_err_t *err)
{
    FUZZ_CHECK (
        (err->status == 400 && strcmp (err->error, "bad_request") == 0) ||
        (err->status == 413 && strcmp (err->error, "too_large") == 0));
}

/* The string field name of the object jansson reads from body, or NULL. */
static json_t *
s_field (json_t *o, const char *name)
{
    json_t *v = json_object_get (o, name);
    return json_is_string (v) ? v : NULL;
}

static bool
s_same (const raft_buf_t *b, json_t *s)
{
    return b && s && b->len == json_string_length (s) &&
           memcmp (b->data, json_string_value (s), b->len) == 0;
}

static void
s_fuzz_kv_body (const uint8_t *data, size_t size, bool put)
{
    http_parse_kv_t kv = {0};
    http_parse_err_t err = {0};
    int rc = put ? http_parse_put (data, size, &s_lim, &kv, &err)
                 : http_parse_delete (data, size, &s_lim, &kv, &err);
    if (rc != 0) {
        s_check_err (&err);
        FUZZ_CHECK (!kv.key && !kv.value);
        return;
    }
    json_error_t jerr;
    json_t *o = json_loadb ((const char *)data, size,
                            JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    FUZZ_CHECK (json_is_object (o));
    FUZZ_CHECK (kv.key && kv.key->len >= 1 && kv.key->len <= s_lim.max_key);
    FUZZ_CHECK (s_same (kv.key, s_field (o, "key")));
    if (put) {
        FUZZ_CHECK (kv.value && kv.value->len <= s_lim.max_value);
        FUZZ_CHECK (s_same (kv.value, s_field (o, "value")));
    } else {
        FUZZ_CHECK (!kv.value);
    }
    json_decref (o);
    http_parse_kv_clear (&kv);
}

static void
s_fuzz_query (const uint8_t *data, size_t size)
{
    http_parse_kv_t kv = {0};
    http_parse_err_t err = {0};
    if (http_parse_get_query ((const char *)data, size, &s_lim, &kv, &err) !=
        0) {
        s_check_err (&err);
        FUZZ_CHECK (!kv.key);
        return;
    }
    FUZZ_CHECK (kv.key && kv.key->len >= 1 && kv.key->len <= s_lim.max_key);
    FUZZ_CHECK (json_utf8_valid (kv.key->data, kv.key->len));
    /* percent-encode every byte and parse it back */
    char q[16 + 3 * 64 + 16];
    size_t n = (size_t)snprintf (q, sizeof q, "key=");
    for (size_t i = 0; i < kv.key->len; i++)
        n += (size_t)snprintf (q + n, sizeof q - n, "%%%02X",
                               ((const uint8_t *)kv.key->data)[i]);
    n += (size_t)snprintf (q + n, sizeof q - n, "&stale=%s",
                           kv.stale ? "true" : "false");
    http_parse_kv_t again = {0};
    FUZZ_CHECK (http_parse_get_query (q, n, &s_lim, &again, &err) == 0);
    FUZZ_CHECK (again.key && again.key->len == kv.key->len &&
                memcmp (again.key->data, kv.key->data, kv.key->len) == 0);
    FUZZ_CHECK (again.stale == kv.stale);
    http_parse_kv_clear (&again);
    http_parse_kv_clear (&kv);
}

static bool
s_host_char (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static void
s_check_host_port (const char *host, int port)
{
    FUZZ_CHECK (*host && port >= 1 && port <= 65535);
    for (const char *p = host; *p; p++)
        FUZZ_CHECK (s_host_char (*p));
    char again[RAFT_ADDR_MAX + 16], h2[RAFT_ADDR_MAX];
    int n = snprintf (again, sizeof again, "%s:%d", host, port), p2 = 0;
    FUZZ_CHECK (http_parse_host_port (again, (size_t)n, h2, sizeof h2, &p2));
    FUZZ_CHECK (strcmp (h2, host) == 0 && p2 == port);
}

static void
s_fuzz_host_port (const uint8_t *data, size_t size)
{
    char host[RAFT_ADDR_MAX];
    int port = 0;
    if (http_parse_host_port ((const char *)data, size, host, sizeof host,
                              &port))
        s_check_host_port (host, port);
}

static void
s_fuzz_join (const uint8_t *data, size_t size)
{
    http_parse_join_t j;
    http_parse_err_t err = {0};
    if (http_parse_join (data, size, &j, &err) != 0) {
        s_check_err (&err);
        return;
    }
    char host[RAFT_ADDR_MAX];
    int port = 0;
    FUZZ_CHECK (http_parse_host_port (j.peer, strlen (j.peer), host,
                                      sizeof host, &port));
    FUZZ_CHECK (strcmp (host, j.host) == 0 && port == j.port);
    s_check_host_port (j.host, j.port);
}

static void
s_fuzz_remove (const uint8_t *data, size_t size)
{
    http_parse_remove_t r;
    http_parse_err_t err = {0};
    if (http_parse_remove (data, size, &r, &err) != 0) {
        s_check_err (&err);
        return;
    }
    FUZZ_CHECK (r.peer[0] || r.id > 0);
    FUZZ_CHECK (!strpbrk (r.peer, " "));
}

static void
s_fuzz_fault (const uint8_t *data, size_t size)
{
    fault_cmd_t f;
    http_parse_err_t err = {0};
    if (http_parse_fault (data, size, &f, &err) != 0) {
        FUZZ_CHECK (err.status == 400 &&
                    strcmp (err.error, "bad_request") == 0);
        return;
    }
    switch (f.action) {
    case FAULT_DROP:
        FUZZ_CHECK (f.peer > 0 && f.dir >= FAULT_DIR_OUT &&
                    f.dir <= FAULT_DIR_BOTH && f.ms == 0);
        break;
    case FAULT_DELAY:
        FUZZ_CHECK (f.ms >= 1 && f.ms <= FAULT_MAX_MS && f.dir == 0);
        break;
    case FAULT_SLOW_FSYNC:
        FUZZ_CHECK (f.ms <= FAULT_MAX_MS && f.peer == 0 && f.dir == 0);
        break;
    case FAULT_ISOLATE:
    case FAULT_CLEAR:
        FUZZ_CHECK (f.peer == 0 && f.ms == 0 && f.dir == 0);
        break;
    default: FUZZ_CHECK (!"an action out of range");
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static bool seeded;
    if (!seeded) {
        json_object_seed (1); /* parse.h: once, by the caller */
        seeded = true;
    }
    if (size < 1)
        return 0;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    switch (data[0] % 7) {
    case 0: s_fuzz_kv_body (in, n, true); break;
    case 1: s_fuzz_kv_body (in, n, false); break;
    case 2: s_fuzz_query (in, n); break;
    case 3: s_fuzz_host_port (in, n); break;
    case 4: s_fuzz_join (in, n); break;
    case 5: s_fuzz_remove (in, n); break;
    case 6: s_fuzz_fault (in, n); break;
    }
    return 0;
}

static void
s_seed (uint8_t which, const char *text)
{
    uint8_t buf[512];
    size_t n = strlen (text);
    buf[0] = which;
    memcpy (buf + 1, text, n);
    fuzz_seed (buf, n + 1);
}

void
fuzz_seeds (void)
{
    s_seed (0, "{\"key\": \"foo\", \"value\": \"bar\"}");
    s_seed (0, "{\"key\": \"k\\u00e9\", \"value\": \"\", \"extra\": 1}");
    s_seed (1, "{\"key\": \"foo\"}");
    s_seed (2, "key=foo&stale=true");
    s_seed (2, "stale=1&key=%C3%A9+x%2");
    s_seed (3, "node4:8000");
    s_seed (4, "{\"peer\": \"127.0.0.1:8004\", \"id\": 4}");
    s_seed (5, "{\"id\": 4}");
    s_seed (5, "{\"peer\": \"tcp://127.0.0.14:9004\"}");
    s_seed (6, "{\"action\": \"drop\", \"peer\": 2, \"direction\": \"both\"}");
    s_seed (6, "{\"action\": \"delay\", \"ms\": 200, \"peer\": 3}");
    s_seed (6, "{\"action\": \"slow_fsync\", \"ms\": 0}");
}
