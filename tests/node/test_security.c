/*  test_security.c -- the HTTP API's pure parts, alone: the token file and
    bearer tokens (http/auth.c), the access policy (http/access.c), request
    parsing (http/parse.c), body slots (http/admission.c) and the client's
    endpoint syntax (http/client.c). Built with ASan+UBSan (make node); ends
    with random and mutated input through every parser, which must answer
    each with a result or an error, never a crash.

    One line per test; exit status 1 if any check failed.
*/
#include "check.h"
#include "access.h"
#include "admission.h"
#include "auth.h"
#include "client.h"
#include "parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T_ADMIN "admin0123456789abcdef0123456789"
#define T_WRITE "write0123456789abcdef0123456789"
#define T_READ "read0123456789abcdef0123456789+/=="

static http_auth_t *
s_tokens (void)
{
    const char *text = "# comment\n"
                       "\n"
                       "admin " T_ADMIN " ops\r\n"
                       "  write\t" T_WRITE "\n"
                       "read " T_READ " dash.board-1\n";
    char err[256];
    http_auth_t *a = http_auth_parse (text, strlen (text), err, sizeof err);
    if (!a)
        fprintf (stderr, "  %s\n", err);
    return a;
}

static void
s_test_token_file (void)
{
    http_auth_t *a = s_tokens ();
    CHECK (a && http_auth_count (a) == 3);
    const char *name = NULL;
    CHECK (http_auth_role (a, T_ADMIN, strlen (T_ADMIN), &name) ==
               HTTP_ROLE_ADMIN &&
           name && strcmp (name, "ops") == 0);
    CHECK (http_auth_role (a, T_WRITE, strlen (T_WRITE), &name) ==
               HTTP_ROLE_WRITE &&
           strcmp (name, "line 4") == 0);
    CHECK (http_auth_role (a, T_READ, strlen (T_READ), &name) ==
               HTTP_ROLE_READ &&
           strcmp (name, "dash.board-1") == 0);
    /* a prefix, an extension, a one-byte change: unknown */
    CHECK (http_auth_role (a, T_ADMIN, strlen (T_ADMIN) - 1, &name) ==
               HTTP_ROLE_NONE &&
           name == NULL);
    CHECK (http_auth_role (a, T_ADMIN "x", strlen (T_ADMIN) + 1, NULL) ==
           HTTP_ROLE_NONE);
    char t[] = T_ADMIN;
    t[7] ^= 1;
    CHECK (http_auth_role (a, t, strlen (t), NULL) == HTTP_ROLE_NONE);
    CHECK (http_auth_role (a, "", 0, NULL) == HTTP_ROLE_NONE);
    http_auth_destroy (&a);
    CHECK (a == NULL);

    /* Refused whole, naming the line, never quoting the token. */
    const char *bad[] = {
        "",                                      /* no tokens */
        "# only a comment\n",                    /* no tokens */
        "root " T_ADMIN "\n",                    /* unknown role */
        "admin\n",                               /* no token */
        "admin short\n",                         /* under 16 */
        "admin " T_ADMIN " a b\n",               /* 4 fields */
        "admin " T_ADMIN " na/me\n",             /* bad name */
        "admin " T_ADMIN "\nread " T_ADMIN "\n", /* twice */
        "admin tok\"en0123456789abcdef\n",       /* bad character */
        "admin ==0123456789abcdef0123\n",        /* padding first */
        "Admin " T_ADMIN "\n",                   /* roles are lower case */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        http_auth_t *b =
            http_auth_parse (bad[i], strlen (bad[i]), err, sizeof err);
        CHECK (b == NULL && err[0]);
        CHECK (!strstr (err, T_ADMIN));
        http_auth_destroy (&b);
    }
    char err[256];
    CHECK (!http_auth_parse ("admin " T_ADMIN "\0x", 38, err, sizeof err));
    /* 1,025 tokens */
    size_t cap = 1025 * 48, len = 0;
    char *many = malloc (cap);
    for (int i = 0; i < 1025; i++)
        len +=
            (size_t)snprintf (many + len, cap - len, "read token-%030d\n", i);
    CHECK (!http_auth_parse (many, len, err, sizeof err));
    /* 1,024 are fine */
    http_auth_t *m = http_auth_parse (many, len - 42, err, sizeof err);
    CHECK (m && http_auth_count (m) == 1024);
    http_auth_destroy (&m);
    free (many);
    bool loose = true;
    CHECK (!http_auth_load ("/nonexistent/tokens", &loose, err, sizeof err));
    CHECK (!http_auth_load ("/tmp", &loose, err, sizeof err));
}

static void
s_test_bearer (void)
{
    const char *tok;
    size_t len;
    CHECK (http_auth_bearer ("Bearer abc", &tok, &len) == 0 && len == 3 &&
           strncmp (tok, "abc", 3) == 0);
    CHECK (http_auth_bearer ("bearer  abc==  ", &tok, &len) == 0 && len == 5);
    CHECK (http_auth_bearer ("BEARER\tx", &tok, &len) == 0 && len == 1);
    const char *bad[] = {"",          "Bearer",      "Bearer ",
                         "Bearerabc", "Basic abc",   "Bearer a b",
                         "Bearer =a", "Bearer a\"b", "Bearer a=b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK (http_auth_bearer (bad[i], &tok, &len) == -1);
    CHECK (http_auth_bearer (NULL, &tok, &len) == -1);
}

static int
s_check (const http_access_t *a, http_access_need_t need, const char *hdr,
         const char *addr, http_access_denial_t *d)
{
    http_role_t role;
    const char *who;
    int rc = http_access_check (a, need, "/p", hdr, addr, &role, &who, d);
    return rc == 0 ? 200 : d->status;
}

static void
s_test_access (void)
{
    http_access_denial_t d;
    /* No tokens: KV and health open, admin on loopback only. */
    http_access_t open = {.read_ms = 5000};
    CHECK (s_check (&open, HTTP_ACCESS_WRITE, NULL, "10.0.0.1", &d) == 200);
    CHECK (s_check (&open, HTTP_ACCESS_HEALTH, NULL, "10.0.0.1", &d) == 200);
    CHECK (s_check (&open, HTTP_ACCESS_ADMIN, NULL, "127.0.0.1", &d) == 200);
    CHECK (s_check (&open, HTTP_ACCESS_ADMIN, NULL, "127.9.8.7", &d) == 200);
    CHECK (s_check (&open, HTTP_ACCESS_ADMIN, NULL, "::1", &d) == 200);
    CHECK (s_check (&open, HTTP_ACCESS_ADMIN, NULL, "::ffff:127.0.0.1", &d) ==
           200);
    CHECK (s_check (&open, HTTP_ACCESS_ADMIN, NULL, "10.0.0.1", &d) == 403 &&
           strcmp (d.error, "forbidden") == 0 && !d.www_authenticate);
    CHECK (s_check (&open, HTTP_ACCESS_ADMIN, NULL, "128.0.0.1", &d) == 403);
    CHECK (s_check (&open, HTTP_ACCESS_ADMIN, NULL, "::ffff:10.0.0.1", &d) ==
           403);
    CHECK (s_check (&open, HTTP_ACCESS_ADMIN, NULL, "garbage", &d) == 403);
    CHECK (s_check (&open, HTTP_ACCESS_ADMIN, NULL, NULL, &d) == 403);
    http_access_t oa = {.open_admin = true};
    CHECK (s_check (&oa, HTTP_ACCESS_ADMIN, NULL, "10.0.0.1", &d) == 200);

    /* Tokens: each role against each need. */
    http_auth_t *auth = s_tokens ();
    http_access_t tok = {.auth = auth};
    const char *hdr[] = {NULL, "Bearer nope-nope-nope-nope-nope",
                         "Bearer " T_READ, "Bearer " T_WRITE,
                         "Bearer " T_ADMIN};
    http_access_need_t needs[] = {HTTP_ACCESS_READ, HTTP_ACCESS_WRITE,
                                  HTTP_ACCESS_ADMIN, HTTP_ACCESS_HEALTH};
    /* rows: hdr; columns: needs */
    int want[5][4] = {{401, 401, 401, 200},
                      {401, 401, 401, 200},
                      {200, 403, 403, 200},
                      {200, 200, 403, 200},
                      {200, 200, 200, 200}};
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 4; k++) {
            int got = s_check (&tok, needs[k], hdr[i], "127.0.0.1", &d);
            if (got != want[i][k])
                fprintf (stderr, "  token %d need %d: %d, want %d\n", i, k, got,
                         want[i][k]);
            CHECK (got == want[i][k]);
        }
    CHECK (s_check (&tok, HTTP_ACCESS_READ, NULL, "1.2.3.4", &d) == 401 &&
           strcmp (d.error, "unauthorized") == 0 && d.www_authenticate &&
           strncmp (d.www_authenticate, "Bearer", 6) == 0);
    CHECK (s_check (&tok, HTTP_ACCESS_READ, "Basic eA==", "1.2.3.4", &d) ==
               401 &&
           strstr (d.www_authenticate, "invalid_request"));
    CHECK (s_check (&tok, HTTP_ACCESS_READ, "Bearer nope-nope-nope-nope",
                    "1.2.3.4", &d) == 401 &&
           strstr (d.www_authenticate, "invalid_token"));
    CHECK (s_check (&tok, HTTP_ACCESS_WRITE, "Bearer " T_READ, "1.2.3.4", &d) ==
               403 &&
           strstr (d.detail, "read") && strstr (d.detail, "write") &&
           !strstr (d.detail, T_READ));
    /* with tokens, loopback is no pass for admin */
    CHECK (s_check (&tok, HTTP_ACCESS_ADMIN, NULL, "127.0.0.1", &d) == 401);
    http_access_t closed = {.auth = auth, .auth_health = true};
    CHECK (s_check (&closed, HTTP_ACCESS_HEALTH, NULL, "127.0.0.1", &d) == 401);
    CHECK (s_check (&closed, HTTP_ACCESS_HEALTH, "Bearer " T_READ, "127.0.0.1",
                    &d) == 200);

    /* /health's view: every weakened setting is a warning. */
    const char *w[8];
    CHECK (http_access_warnings (&open, w, 8) == 2);
    http_access_t weak = {.open_admin = true, .peer_warning = "peers open"};
    size_t n = http_access_warnings (&weak, w, 8);
    CHECK (n == 4 && strcmp (w[3], "peers open") == 0);
    http_access_t strong = {.auth = auth, .tls = true};
    CHECK (http_access_warnings (&strong, w, 8) == 0);
    http_access_t loose = {.auth = auth, .tls = true, .auth_file_loose = true};
    CHECK (http_access_warnings (&loose, w, 8) == 1);
    json_t *j = http_access_security (&weak);
    CHECK (j &&
           strcmp (json_string_value (json_object_get (j, "admin")), "open") ==
               0 &&
           json_array_size (json_object_get (j, "warnings")) == 4 &&
           strcmp (json_string_value (json_object_get (j, "peer_auth")),
                   "none") == 0);
    json_decref (j);
    j = http_access_security (&closed);
    CHECK (j &&
           strcmp (json_string_value (json_object_get (j, "health")),
                   "tokens") == 0 &&
           strcmp (json_string_value (json_object_get (j, "admin")),
                   "tokens") == 0);
    json_decref (j);
    http_auth_destroy (&auth);
}

static void
s_test_parse (void)
{
    char host[RAFT_ADDR_MAX];
    int port;
    CHECK (http_parse_host_port ("node4:8000", 10, host, sizeof host, &port) &&
           strcmp (host, "node4") == 0 && port == 8000);
    CHECK (http_parse_host_port ("127.0.0.1:1", 11, host, sizeof host, &port));
    const char *bad[] = {"node4",       ":80",          "node4:",   "node4:0",
                         "node4:65536", "node4:080000", "a b:80",   "x:80/",
                         "http://x:80", "u@x:80",       "[::1]:80", "x:8a",
                         "x:80?y=1",    "x:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK (!http_parse_host_port (bad[i], strlen (bad[i]), host,
                                      sizeof host, &port));
    CHECK (!http_parse_host_port ("x\0y:80", 6, host, sizeof host, &port));
    CHECK (!http_parse_host_port ("abc:80", 6, host, 3, &port));

    http_parse_join_t j;
    http_parse_err_t err;
    const char *jb = "{\"peer\": \"node4:8000\", \"id\": 4}";
    CHECK (http_parse_join (jb, strlen (jb), &j, &err) == 0 &&
           strcmp (j.peer, "node4:8000") == 0 &&
           strcmp (j.host, "node4") == 0 && j.port == 8000 && j.id == 4);
    const char *jbad[] = {"{\"peer\": \"http://x:1\"}",
                          "{\"peer\": 4}",
                          "{\"id\": 4}",
                          "{\"peer\": \"x:1\", \"id\": 0}",
                          "[]",
                          "{\"peer\": \"x:1\", \"peer\": \"y:1\"}"};
    for (size_t i = 0; i < sizeof jbad / sizeof jbad[0]; i++) {
        CHECK (http_parse_join (jbad[i], strlen (jbad[i]), &j, &err) == -1 &&
               err.status == 400 && strcmp (err.error, "bad_request") == 0);
    }
    http_parse_remove_t rm;
    CHECK (http_parse_remove ("{\"id\": 3}", 9, &rm, &err) == 0 && rm.id == 3 &&
           rm.peer[0] == 0);
    CHECK (http_parse_remove ("{}", 2, &rm, &err) == -1);
    CHECK (http_parse_remove ("{\"peer\": \"a b\"}", 15, &rm, &err) == -1);

    http_parse_limits_t lim = {.max_key = 8, .max_value = 16};
    http_parse_kv_t kv;
    const char *put = "{\"key\": \"k\\u0000y\", \"value\": \"v\"}";
    CHECK (http_parse_put (put, strlen (put), &lim, &kv, &err) == 0 &&
           kv.key->len == 3 && kv.value->len == 1);
    http_parse_kv_clear (&kv);
    const char *big = "{\"key\": \"123456789\", \"value\": \"v\"}";
    CHECK (http_parse_put (big, strlen (big), &lim, &kv, &err) == -1 &&
           err.status == 413 && strcmp (err.error, "too_large") == 0);
    CHECK (http_parse_delete ("{\"key\": \"\"}", 11, &lim, &kv, &err) == -1 &&
           err.status == 400);
    CHECK (http_parse_put ("{\"key\": \"\xff\"}", 12, &lim, &kv, &err) == -1);

    const char *qs = "stale=1&key=a%20b+c&key=zz";
    CHECK (http_parse_get_query (qs, strlen (qs), &lim, &kv, &err) == 0 &&
           kv.key->len == 5 && memcmp (kv.key->data, "a b c", 5) == 0 &&
           kv.stale);
    http_parse_kv_clear (&kv);
    CHECK (http_parse_get_query ("KEY=%zz", 7, &lim, &kv, &err) == 0 &&
           kv.key->len == 3 && !kv.stale);
    http_parse_kv_clear (&kv);
    CHECK (http_parse_get_query ("key=%ff", 7, &lim, &kv, &err) == -1 &&
           err.status == 400);
    CHECK (http_parse_get_query ("key=", 4, &lim, &kv, &err) == -1);
    CHECK (http_parse_get_query ("nokey=1", 7, &lim, &kv, &err) == -1);
    CHECK (http_parse_get_query ("key=123456789", 13, &lim, &kv, &err) == -1 &&
           err.status == 413);
    CHECK (http_parse_get_query ("key=a&stale=yes", 15, &lim, &kv, &err) == -1);
}

static void
s_test_admission (void)
{
    http_admission_t *a = http_admission_new (4, 2);
    CHECK (http_admission_enter (a, "1.1.1.1") == HTTP_ADMIT_OK);
    CHECK (http_admission_enter (a, "1.1.1.1") == HTTP_ADMIT_OK);
    CHECK (http_admission_enter (a, "1.1.1.1") == HTTP_ADMIT_ADDR_FULL);
    CHECK (http_admission_enter (a, "2.2.2.2") == HTTP_ADMIT_OK);
    CHECK (http_admission_enter (a, "3.3.3.3") == HTTP_ADMIT_OK);
    CHECK (http_admission_enter (a, "4.4.4.4") == HTTP_ADMIT_FULL);
    CHECK (http_admission_in_use (a) == 4);
    http_admission_leave (a, "1.1.1.1");
    CHECK (http_admission_enter (a, "4.4.4.4") == HTTP_ADMIT_OK);
    http_admission_leave (a, "1.1.1.1");
    http_admission_leave (a, "2.2.2.2");
    http_admission_leave (a, "3.3.3.3");
    http_admission_leave (a, "4.4.4.4");
    CHECK (http_admission_in_use (a) == 0);
    for (int i = 0; i < 4; i++)
        CHECK (http_admission_enter (a, "5.5.5.5") ==
               (i < 2 ? HTTP_ADMIT_OK : HTTP_ADMIT_ADDR_FULL));
    http_admission_destroy (&a);
    CHECK (a == NULL);
}

static void
s_test_endpoint (void)
{
    char host[64];
    int port;
    bool tls;
    CHECK (http_client_endpoint ("h:80", false, &tls, host, sizeof host,
                                 &port) == 0 &&
           !tls && strcmp (host, "h") == 0 && port == 80);
    CHECK (http_client_endpoint ("h:80", true, &tls, host, sizeof host,
                                 &port) == 0 &&
           tls);
    CHECK (http_client_endpoint ("https://h:443/", false, &tls, host,
                                 sizeof host, &port) == 0 &&
           tls && port == 443);
    CHECK (http_client_endpoint ("HTTP://h:1", true, &tls, host, sizeof host,
                                 &port) == 0 &&
           !tls);
    CHECK (http_client_endpoint ("[::1]:8000", false, &tls, host, sizeof host,
                                 &port) == 0 &&
           strcmp (host, "::1") == 0);
    const char *bad[] = {"h",         "h:",        ":80",    "h:0",
                         "h:65536",   "h:80x",     "u@h:80", "https://h",
                         "h:80/path", "ftp://h:1", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK (http_client_endpoint (bad[i], false, &tls, host, sizeof host,
                                     &port) == -1);
}

/* Random and mutated bytes through every parser: a result or an error,
   never a crash (ASan watches). Bounded: a fixed number of inputs. */
static void
s_test_hostile (void)
{
    const char *seeds[] = {
        "{\"key\": \"k\", \"value\": \"v\"}",
        "{\"peer\": \"node4:8000\", \"id\": 4}",
        "key=a%20b&stale=true",
        "admin " T_ADMIN " ops\nread " T_READ "\n",
        "Bearer " T_WRITE,
    };
    uint64_t x = 88172645463325252ULL;
    char buf[512];
    http_parse_limits_t lim = {.max_key = 32, .max_value = 64};
    http_auth_t *auth = s_tokens ();
    http_access_t acc = {.auth = auth};
    for (int i = 0; i < 20000; i++) {
        const char *seed = seeds[i % 5];
        size_t len = strlen (seed);
        memcpy (buf, seed, len);
        int flips = 1 + i % 8;
        for (int f = 0; f < flips; f++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t at = (size_t)(x % (len + 1));
            if (at < len)
                buf[at] = (char)(x >> 24);
            if ((x >> 40) % 7 == 0 && len > 1)
                len = at ? at : len - 1; /* truncate */
        }
        http_parse_err_t err;
        http_parse_kv_t kv;
        if (http_parse_put (buf, len, &lim, &kv, &err) == 0)
            http_parse_kv_clear (&kv);
        if (http_parse_delete (buf, len, &lim, &kv, &err) == 0)
            http_parse_kv_clear (&kv);
        if (http_parse_get_query (buf, len, &lim, &kv, &err) == 0)
            http_parse_kv_clear (&kv);
        http_parse_join_t j;
        http_parse_join (buf, len, &j, &err);
        http_parse_remove_t rm;
        http_parse_remove (buf, len, &rm, &err);
        char e[256];
        http_auth_t *a = http_auth_parse (buf, len, e, sizeof e);
        http_auth_destroy (&a);
        char z[sizeof buf + 1];
        memcpy (z, buf, len);
        z[len] = 0;
        http_access_denial_t d;
        http_role_t role;
        const char *who;
        http_access_check (&acc, HTTP_ACCESS_WRITE, "/kv/put", z, z, &role,
                           &who, &d);
        char host[64];
        int port;
        bool tls;
        http_client_endpoint (z, false, &tls, host, sizeof host, &port);
    }
    http_auth_destroy (&auth);
}

int
main (void)
{
    check_watchdog ("test_security", 120);
    json_object_seed (1);
    check_run ("token file", s_test_token_file);
    check_run ("bearer header", s_test_bearer);
    check_run ("access policy", s_test_access);
    check_run ("request parsing", s_test_parse);
    check_run ("body slots", s_test_admission);
    check_run ("client endpoints", s_test_endpoint);
    check_run ("hostile input (20,000)", s_test_hostile);
    return check_report ();
}
