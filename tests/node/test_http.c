/*  test_http.c -- the HTTP actor (http/http.c), its JSON rendering
    (http/json.c, http/http_render.c) and the API codec (msg/msg_api.c).

    The http actor runs for real on 127.0.0.1 (ports derived from the pid)
    against a FAKE raft actor: a ROUTER bound at the API endpoint in a
    thread of this test, answering each request with a canned typed reply
    chosen by op and key:

        health                 200 health: id 7, peer_addr, role leader
        put key "slow"         never answers (the 503 timeout)
        put key "bogus"        first a reply with another req_id and a
                               garbage frame, then the real one
        put key "leader"       409 error not_leader, leader node2:8000
        read (the barrier)     as s_barrier says: 200 empty, never, late
                               (409 after the HTTP side gave up), or 409
                               not_leader
        get                    (only before the store is open) 200
                               value: the key as its own value
        other put/delete       200 written, index = the value's length
        join/remove            200 conf (id, index 42); the request is
                               kept for the test to look at (s_last)

    GETs take production's path (nsxd.c): the KV data is a real store in a
    scratch directory, published to the workers in a kv_shared_t, so a GET
    asks the fake only for the read barrier (a stale one not even that)
    and reads LevelDB itself. The fake counts what reaches it: no GET
    should, but in the window before the store is open (tested too).

    The client is raw POSIX sockets, so hostile input can be sent as is.
    One line per test; exit status 1 if any check failed.
*/
#include "check.h"
#include "fixture.h"
#include "actors.h"
#include "actor.h"
#include "http_render.h"
#include "json.h"
#include "log.h"
#include "msg_api.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_MS 1000
/* headers and body within this (--request-read-ms) */
#define READ_MS 1000
#define MAX_BODY 4096
#define MAX_KEY 64
#define MAX_VALUE 1024
/* The fake's late reply comes after the HTTP side's deadline. */
#define LATE_MS (TIMEOUT_MS + 800)

static int s_port;        /* the main server: 8 workers */
static int s_port_single; /* a second server with 1 worker */
static int s_port_closed; /* nothing listens here */
static char s_api[64];

/* The KV data the workers read, as nsxd.c publishes it. */
static kv_shared_t s_kv;
/* How the fake answers read barriers (MSG_API_READ). */
typedef enum {
    S_BARRIER_OK,         /* 200 {}: confirmed leader, applied */
    S_BARRIER_SILENT,     /* never: the 503 timeout */
    S_BARRIER_LATE,       /* 409 {"late": true} after the deadline */
    S_BARRIER_NOT_LEADER, /* 409 not_leader */
} s_barrier_t;
static _Atomic s_barrier_t s_barrier;
/* What reached the fake. */
static atomic_int s_fake_gets, s_fake_reads;

/*  ---------------------------------------------------------------------
    The fake raft actor                                                  */

static void
s_pack_str (msgpack_packer *pk, const char *s)
{
    msgpack_pack_str (pk, strlen (s));
    msgpack_pack_str_body (pk, s, strlen (s));
}

static bool
s_key_is (const msg_api_req_t *req, const char *key)
{
    return req->key && req->key->len == strlen (key) &&
           memcmp (req->key->data, key, req->key->len) == 0;
}

static void
s_send_rep (zsock_t *router, zframe_t *identity, const msg_api_rep_t *r)
{
    zmsg_t *rep = msg_api_rep_encode (r);
    assert (rep);
    zmsg_prepend (rep, &(zframe_t *){zframe_dup (identity)});
    zmsg_send (&rep, router);
}

/* The last join or remove the fake received. */
static pthread_mutex_t s_last_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct {
    msg_api_op_t op;
    raft_id_t id;
    char peer[RAFT_ADDR_MAX];
} s_last;

static bool
s_last_is (msg_api_op_t op, raft_id_t id, const char *peer)
{
    pthread_mutex_lock (&s_last_mutex);
    bool same = s_last.op == op && s_last.id == id && streq (s_last.peer, peer);
    if (!same)
        fprintf (stderr, "  last: op %d id %llu peer %s\n", (int)s_last.op,
                 (unsigned long long)s_last.id, s_last.peer);
    pthread_mutex_unlock (&s_last_mutex);
    return same;
}

typedef struct {
    zframe_t *identity;
    uint64_t req_id;
    int64_t when;
} s_delayed_t;

/* The canned reply to req in *rep, borrowing req's buffers (health's
   fields in *h); false: never answer. */
static bool
s_canned (const msg_api_req_t *req, msg_api_rep_t *rep, msg_health_t *h)
{
    *rep = (msg_api_rep_t){.req_id = req->req_id, .status = 200};
    if (s_key_is (req, "slow"))
        return false;
    switch (req->op) {
    case MSG_API_HEALTH:
        *h = (msg_health_t){.id = 7,
                            .role = "leader",
                            .peer_addr = "tcp://127.0.0.1:9007",
                            .http_addr = "127.0.0.1:9"};
        rep->kind = MSG_API_REP_HEALTH;
        rep->health = h;
        return true;
    case MSG_API_GET:
        atomic_fetch_add (&s_fake_gets, 1);
        rep->kind = MSG_API_REP_VALUE;
        rep->key = req->key;
        rep->stale = req->stale;
        rep->value = req->key;
        return true;
    case MSG_API_PUT:
        if (s_key_is (req, "leader")) {
            rep->status = 409;
            rep->kind = MSG_API_REP_ERROR;
            rep->code = "not_leader";
            rep->has_leader = true;
            rep->leader = "node2:8000";
            return true;
        }
        /* fall through */
    case MSG_API_CMD: /* (test_http_kv.c runs the real raft actor) */
    case MSG_API_DELETE:
        rep->kind = MSG_API_REP_WRITTEN;
        rep->key = req->key;
        rep->index = req->value ? req->value->len : 0;
        rep->is_delete = req->op == MSG_API_DELETE;
        rep->flag = true;
        return true;
    case MSG_API_READ:
        atomic_fetch_add (&s_fake_reads, 1);
        switch (atomic_load (&s_barrier)) {
        case S_BARRIER_SILENT: return false;
        case S_BARRIER_NOT_LEADER:
            rep->status = 409;
            rep->kind = MSG_API_REP_ERROR;
            rep->code = "not_leader";
            rep->has_leader = true;
            rep->leader = "node2:8000";
            return true;
        case S_BARRIER_OK:
        case S_BARRIER_LATE: break; /* late: answered in s_fake_raft */
        }
        rep->kind = MSG_API_REP_EMPTY;
        return true;
    case MSG_API_JOIN:
    case MSG_API_REMOVE:
        pthread_mutex_lock (&s_last_mutex);
        s_last.op = req->op;
        s_last.id = req->id;
        snprintf (s_last.peer, sizeof s_last.peer, "%s", req->peer);
        pthread_mutex_unlock (&s_last_mutex);
        rep->kind = MSG_API_REP_CONF;
        rep->id = req->id;
        rep->index = 42;
        return true;
    }
    return false;
}

static void
s_fake_raft (zsock_t *pipe, void *args)
{
    (void)args;
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert (router);
    int rc = zsock_bind (router, "%s", s_api);
    assert (rc == 0);
    (void)rc;
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    s_delayed_t delayed[16];
    size_t n_delayed = 0;
    zsock_signal (pipe, 0);
    while (true) {
        void *which = zpoller_wait (poller, 10);
        if (which == pipe)
            break; /* $TERM */
        /* Delayed replies that are due. */
        for (size_t i = 0; i < n_delayed;) {
            if (zclock_mono () < delayed[i].when) {
                i++;
                continue;
            }
            /* not 200: taken for the next request's barrier, it shows */
            msg_api_rep_t lr = {.req_id = delayed[i].req_id,
                                .status = 409,
                                .kind = MSG_API_REP_ERROR,
                                .code = "late"};
            s_send_rep (router, delayed[i].identity, &lr);
            zframe_destroy (&delayed[i].identity);
            delayed[i] = delayed[--n_delayed];
        }
        if (which != router)
            continue;
        zmsg_t *zm = zmsg_recv (router);
        zframe_t *identity = zmsg_pop (zm);
        msg_api_req_t req;
        if (msg_api_req_decode (zm, &req) != 0) {
            check_failed (__FILE__, __LINE__, "fake raft: undecodable request");
            zframe_destroy (&identity);
            zmsg_destroy (&zm);
            continue;
        }
        zmsg_destroy (&zm);
        if (req.op == MSG_API_READ &&
            atomic_load (&s_barrier) == S_BARRIER_LATE && n_delayed < 16) {
            atomic_fetch_add (&s_fake_reads, 1);
            delayed[n_delayed++] =
                (s_delayed_t){identity, req.req_id, zclock_mono () + LATE_MS};
            msg_api_req_clear (&req);
            continue;
        }
        if (req.op == MSG_API_PUT && s_key_is (&req, "bogus")) {
            /* A stray answer to someone else, then garbage: both must be
               dropped by the worker waiting for req.req_id. */
            msg_api_rep_t wrong = {.req_id = req.req_id + 1000000,
                                   .status = 500,
                                   .kind = MSG_API_REP_ERROR,
                                   .code = "wrong"};
            s_send_rep (router, identity, &wrong);
            zmsg_t *junk = zmsg_new ();
            zmsg_add (junk, zframe_dup (identity));
            zmsg_addmem (junk, "\xdd\xff\xff\xff\xff", 5);
            zmsg_send (&junk, router);
        }
        msg_api_rep_t rep;
        msg_health_t h;
        if (s_canned (&req, &rep, &h))
            s_send_rep (router, identity, &rep);
        zframe_destroy (&identity);
        msg_api_req_clear (&req);
    }
    for (size_t i = 0; i < n_delayed; i++)
        zframe_destroy (&delayed[i].identity);
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

/*  ---------------------------------------------------------------------
    A raw HTTP client                                                    */

typedef struct {
    int status;
    char head[8192];
    char body[65536];
    size_t body_len;
    json_t *json; /* body parsed, or NULL */
} s_resp_t;

static int
s_dial (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert (fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons ((uint16_t)port)};
    a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (connect (fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close (fd);
        return -1;
    }
    return fd;
}

/* Send what can be sent: the server may close early on hostile input. */
static void
s_send_all (int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send (fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

static const char *
s_header (const s_resp_t *r, const char *name)
{
    static __thread char value[256];
    char pat[64];
    snprintf (pat, sizeof pat, "\r\n%s:", name);
    const char *h = strcasestr (r->head, pat);
    if (!h)
        return NULL;
    h += strlen (pat);
    while (*h == ' ')
        h++;
    size_t n = strcspn (h, "\r\n");
    snprintf (value, sizeof value, "%.*s", (int)n, h);
    return value;
}

static void
s_resp_free (s_resp_t *r)
{
    json_decref (r->json);
    r->json = NULL;
}

/* Read one response. 0, or -1 if the connection ended or timed out
   before a complete one. */
static int
s_read_resp (int fd, s_resp_t *r)
{
    memset (r, 0, sizeof *r);
    char buf[8192 + 65536];
    size_t len = 0, head_len = 0;
    long long cl = -1;
    while (true) {
        if (!head_len) {
            char *end = memmem (buf, len, "\r\n\r\n", 4);
            if (end) {
                head_len = (size_t)(end - buf) + 4;
                if (head_len >= sizeof r->head)
                    return -1;
                memcpy (r->head, buf, head_len);
                if (sscanf (r->head, "HTTP/1.%*d %d", &r->status) != 1)
                    return -1;
                const char *v = s_header (r, "Content-Length");
                cl = v ? atoll (v) : -1;
            }
        }
        if (head_len && cl >= 0 && len - head_len >= (size_t)cl)
            break;
        if (len == sizeof buf)
            return -1;
        ssize_t n = recv (fd, buf + len, sizeof buf - len, 0);
        if (n <= 0) {
            if (head_len && cl < 0 && n == 0)
                break; /* no Content-Length: EOF ends the body */
            return -1;
        }
        len += (size_t)n;
    }
    r->body_len = cl >= 0 ? (size_t)cl : len - head_len;
    if (r->body_len >= sizeof r->body)
        return -1;
    memcpy (r->body, buf + head_len, r->body_len);
    r->json = json_loadb (r->body, r->body_len, 0, NULL);
    return 0;
}

/* One raw request on a new connection. */
static int
s_raw (int port, const void *req, size_t len, s_resp_t *r)
{
    int fd = s_dial (port);
    if (fd < 0)
        return -1;
    s_send_all (fd, req, len);
    int rc = s_read_resp (fd, r);
    close (fd);
    return rc;
}

/* method path [body], as curl sends it, Connection: close. */
static int
s_http (int port, const char *method, const char *path, const char *body,
        s_resp_t *r)
{
    char req[16384];
    int n;
    if (body)
        n = snprintf (req, sizeof req,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                      "User-Agent: curl/7.88.1\r\nAccept: */*\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                      method, path, port, strlen (body), body);
    else
        n = snprintf (req, sizeof req,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                      "User-Agent: curl/7.88.1\r\nAccept: */*\r\n"
                      "Connection: close\r\n\r\n",
                      method, path, port);
    assert (n > 0 && (size_t)n < sizeof req);
    return s_raw (port, req, (size_t)n, r);
}

static const char *
s_jstr (const s_resp_t *r, const char *field)
{
    return json_string_value (json_object_get (r->json, field));
}

/* Null-safe: a failed request must fail a CHECK, not crash the test. */
static bool
s_jstr_is (const s_resp_t *r, const char *field, const char *want)
{
    const char *v = s_jstr (r, field);
    return v && want && streq (v, want);
}

static long long
s_jint (const s_resp_t *r, const char *field)
{
    return json_integer_value (json_object_get (r->json, field));
}

static bool
s_body_is (const s_resp_t *r, const char *text)
{
    bool same = r->body_len == strlen (text) &&
                memcmp (r->body, text, r->body_len) == 0;
    if (!same)
        fprintf (stderr, "  body: %.*s\n  want: %s\n", (int)r->body_len,
                 r->body, text);
    return same;
}

/* A JSON reply with Content-Type and Content-Length set. */
static bool
s_is_json (const s_resp_t *r)
{
    const char *ct = s_header (r, "Content-Type");
    return ct && streq (ct, "application/json") &&
           s_header (r, "Content-Length") && r->json;
}

static bool
s_still_serving (void)
{
    s_resp_t r;
    bool ok = s_http (s_port, "GET", "/health", NULL, &r) == 0 &&
              r.status == 200 && s_jint (&r, "id") == 7;
    s_resp_free (&r);
    return ok;
}

/*  ---------------------------------------------------------------------
    msg_api codec                                                        */

static void
s_test_api_req_roundtrip (void)
{
    msg_api_req_t req = {
        .req_id = 1ULL << 40, .op = MSG_API_JOIN, .stale = true, .id = 12345};
    req.key = raft_buf_new ("k\0y", 3);
    req.value = raft_buf_new ("", 0);
    snprintf (req.peer, sizeof req.peer, "tcp://10.0.0.4:9000 node4:8000");
    zmsg_t *zm = msg_api_req_encode (&req);
    CHECK (zm && zmsg_size (zm) == 1);
    msg_api_req_t out;
    CHECK (msg_api_req_decode (zm, &out) == 0);
    CHECK (out.req_id == req.req_id && out.op == MSG_API_JOIN && out.stale &&
           out.id == 12345 && streq (out.peer, req.peer));
    CHECK (out.key && out.key->len == 3 &&
           memcmp (out.key->data, "k\0y", 3) == 0);
    CHECK (out.value && out.value->len == 0);
    msg_api_req_clear (&out);
    CHECK (out.key == NULL && out.value == NULL);
    zmsg_destroy (&zm);
    msg_api_req_clear (&req);

    /* No key, value or peer: nil on the wire, NULL / "" back. */
    for (int op = MSG_API_PUT; op <= MSG_API_READ; op++) {
        msg_api_req_t r2 = {.req_id = (uint64_t)op, .op = (msg_api_op_t)op};
        zm = msg_api_req_encode (&r2);
        CHECK (zm && msg_api_req_decode (zm, &out) == 0);
        CHECK ((int)out.op == op && !out.key && !out.value && !out.peer[0] &&
               !out.stale && out.id == 0);
        msg_api_req_clear (&out);
        zmsg_destroy (&zm);
    }
    msg_api_req_t bad = {.op = 0};
    CHECK (msg_api_req_encode (&bad) == NULL);
    bad.op = MSG_API_CMD + 1;
    CHECK (msg_api_req_encode (&bad) == NULL);
}

static zmsg_t *
s_zmsg (const void *data, size_t len)
{
    zmsg_t *zm = zmsg_new ();
    zmsg_addmem (zm, data, len);
    return zm;
}

static bool
s_req_refused (const void *data, size_t len)
{
    zmsg_t *zm = s_zmsg (data, len);
    msg_api_req_t out;
    int rc = msg_api_req_decode (zm, &out);
    zmsg_destroy (&zm);
    if (rc == 0)
        msg_api_req_clear (&out);
    return rc == -1 && out.key == NULL && out.value == NULL;
}

static bool
s_rep_refused (const void *data, size_t len)
{
    zmsg_t *zm = s_zmsg (data, len);
    msg_api_rep_t out;
    int rc = msg_api_rep_decode (zm, &out);
    zmsg_destroy (&zm);
    if (rc == 0)
        msg_api_rep_clear (&out);
    return rc == -1 && out.kind == 0 && !out.code && !out.detail &&
           !out.leader && !out.key && !out.value && !out.health;
}

static void
s_test_api_req_hostile (void)
{
    msg_api_req_t req = {.req_id = 99, .op = MSG_API_PUT, .id = 3};
    req.key = raft_buf_new ("key", 3);
    req.value = raft_buf_new ("value", 5);
    snprintf (req.peer, sizeof req.peer, "x");
    zmsg_t *zm = msg_api_req_encode (&req);
    msg_api_req_clear (&req);
    zframe_t *f = zmsg_first (zm);
    const uint8_t *d = zframe_data (f);
    size_t len = zframe_size (f);
    int refused = 0;
    for (size_t cut = 0; cut < len; cut++)
        refused += s_req_refused (d, cut);
    CHECK (refused == (int)len); /* every truncation */
    uint8_t longer[256];
    memcpy (longer, d, len);
    longer[len] = 0xc0;
    CHECK (s_req_refused (longer, len + 1)); /* trailing byte */
    CHECK (s_req_refused ("\xdd\xff\xff\xff\xff", 5));
    CHECK (s_req_refused ("\xdf\xff\xff\xff\xff", 5));
    CHECK (s_req_refused ("\xc6\xff\xff\xff\xff", 5));
    /* Wrong version, kind, op; a mistyped field; a peer too long. */
    memcpy (longer, d, len);
    longer[1] = 2;
    CHECK (s_req_refused (longer, len));
    memcpy (longer, d, len);
    longer[3] = 'x'; /* "req" -> "rxq" */
    CHECK (s_req_refused (longer, len));
    /* Every single byte changed to every value must either decode to a
       well-formed request or be refused, never crash or leak (ASan). */
    for (size_t i = 0; i < len; i++)
        for (int v = 0; v < 256; v++) {
            memcpy (longer, d, len);
            longer[i] = (uint8_t)v;
            zmsg_t *m = s_zmsg (longer, len);
            msg_api_req_t out;
            if (msg_api_req_decode (m, &out) == 0) {
                CHECK (out.op >= MSG_API_PUT && out.op <= MSG_API_READ);
                CHECK (strlen (out.peer) < RAFT_ADDR_MAX);
                msg_api_req_clear (&out);
            }
            zmsg_destroy (&m);
        }
    /* Two frames are not a request. */
    zmsg_t *two = zmsg_dup (zm);
    zmsg_addmem (two, "", 0);
    msg_api_req_t out;
    CHECK (msg_api_req_decode (two, &out) == -1);
    zmsg_destroy (&two);
    zmsg_destroy (&zm);
    /* A peer of RAFT_ADDR_MAX bytes. */
    msgpack_sbuffer b;
    msgpack_sbuffer_init (&b);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 9);
    msgpack_pack_uint8 (&pk, 1);
    s_pack_str (&pk, "req");
    msgpack_pack_uint8 (&pk, 1);
    s_pack_str (&pk, "join");
    msgpack_pack_nil (&pk);
    msgpack_pack_nil (&pk);
    msgpack_pack_false (&pk);
    char big[RAFT_ADDR_MAX + 1];
    memset (big, 'a', RAFT_ADDR_MAX);
    big[RAFT_ADDR_MAX] = 0;
    s_pack_str (&pk, big);
    msgpack_pack_uint8 (&pk, 1);
    CHECK (s_req_refused (b.data, b.size));
    msgpack_sbuffer_destroy (&b);
    /* A key that is a str, not bin. */
    msgpack_sbuffer_init (&b);
    msgpack_packer_init (&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 9);
    msgpack_pack_uint8 (&pk, 1);
    s_pack_str (&pk, "req");
    msgpack_pack_uint8 (&pk, 1);
    s_pack_str (&pk, "get");
    s_pack_str (&pk, "k");
    msgpack_pack_nil (&pk);
    msgpack_pack_false (&pk);
    msgpack_pack_nil (&pk);
    msgpack_pack_uint8 (&pk, 0);
    CHECK (s_req_refused (b.data, b.size));
    msgpack_sbuffer_destroy (&b);
}

static bool
s_buf_eq (const raft_buf_t *a, const raft_buf_t *b)
{
    if (!a || !b)
        return a == b;
    return a->len == b->len && memcmp (a->data, b->data, a->len) == 0;
}

static bool
s_str_eq (const char *a, const char *b)
{
    return a && b ? streq (a, b) : a == b;
}

static bool
s_health_eq (const msg_health_t *a, const msg_health_t *b)
{
    if (!a || !b || a->id != b->id || !s_str_eq (a->role, b->role) ||
        a->term != b->term || !s_str_eq (a->leader, b->leader) ||
        a->leader_id != b->leader_id || a->commit != b->commit ||
        a->applied != b->applied || a->last_index != b->last_index ||
        !s_str_eq (a->peer_addr, b->peer_addr) ||
        !s_str_eq (a->http_addr, b->http_addr) ||
        a->n_members != b->n_members || a->uptime_s != b->uptime_s ||
        a->dropped_msgs != b->dropped_msgs ||
        !s_str_eq (a->cluster_id, b->cluster_id) ||
        !s_str_eq (a->dir_id, b->dir_id) || !s_str_eq (a->origin, b->origin) ||
        a->voting != b->voting || a->base_index != b->base_index ||
        a->base_term != b->base_term || a->log_entries != b->log_entries ||
        a->log_bytes != b->log_bytes || a->has_snapshot != b->has_snapshot ||
        a->snap_index != b->snap_index || a->snap_term != b->snap_term ||
        a->snap_from != b->snap_from || a->snap_at_ms != b->snap_at_ms ||
        a->quota_bytes != b->quota_bytes || a->quota_known != b->quota_known ||
        a->quota_used != b->quota_used ||
        a->quota_clear_below != b->quota_clear_below ||
        a->fs_free != b->fs_free || a->alarm != b->alarm)
        return false;
    for (size_t i = 0; i < a->n_members; i++) {
        const msg_health_member_t *x = &a->members[i], *y = &b->members[i];
        if (x->id != y->id || !s_str_eq (x->peer_addr, y->peer_addr) ||
            !s_str_eq (x->http_addr, y->http_addr) || x->voter != y->voter ||
            x->has_match != y->has_match || x->match != y->match ||
            !s_str_eq (x->dir_id, y->dir_id))
            return false;
    }
    return true;
}

/* Every field of a's kind came back (the encoder looks at no other). */
static bool
s_rep_eq (const msg_api_rep_t *a, const msg_api_rep_t *b)
{
    if (a->req_id != b->req_id || a->status != b->status || a->kind != b->kind)
        return false;
    switch (a->kind) {
    case MSG_API_REP_EMPTY: return true;
    case MSG_API_REP_ERROR:
        return s_str_eq (a->code, b->code) && s_str_eq (a->detail, b->detail) &&
               a->has_leader == b->has_leader &&
               s_str_eq (a->leader, b->leader);
    case MSG_API_REP_WRITTEN:
        return s_buf_eq (a->key, b->key) && a->index == b->index &&
               a->is_delete == b->is_delete && a->flag == b->flag;
    case MSG_API_REP_VALUE:
        return s_buf_eq (a->key, b->key) && s_buf_eq (a->value, b->value) &&
               a->stale == b->stale;
    case MSG_API_REP_CONF: return a->id == b->id && a->index == b->index;
    case MSG_API_REP_HEALTH: return s_health_eq (a->health, b->health);
    case MSG_API_REP_KV:
        return a->index == b->index && s_buf_eq (a->value, b->value);
    }
    return false;
}

static const msg_health_member_t s_members[2] = {
    {1, "tcp://h1:9000", "h1:8000", true, true, 9,
     "0123456789abcdef0123456789abcdef"},
    {2, "tcp://h2:9000", "h2:8000", false, false, 0, NULL}};

/* A health with every optional part present. */
static const msg_health_t s_full_health = {
    .id = 1,
    .role = "leader",
    .term = 3,
    .leader = "h1:8000",
    .leader_id = 1,
    .commit = 9,
    .applied = 8,
    .last_index = 10,
    .peer_addr = "tcp://h1:9000",
    .http_addr = "h1:8000",
    .members = s_members,
    .n_members = 2,
    .uptime_s = 5,
    .dropped_msgs = 6,
    .cluster_id = "fedcba9876543210fedcba9876543210",
    .dir_id = "0123456789abcdef0123456789abcdef",
    .origin = "join",
    .voting = true,
    .base_index = 2,
    .base_term = 1,
    .log_entries = 8,
    .log_bytes = 1234,
    .has_snapshot = true,
    .snap_index = 2,
    .snap_term = 1,
    .snap_from = 3,
    .snap_at_ms = 1764633600000,
    .quota_bytes = 1 << 20,
    .quota_known = true,
    .quota_used = 4096,
    .quota_clear_below = 900000,
    .fs_free = UINT64_MAX - 1,
    .alarm = true};

/* One reply of every kind, with every variant of its optional fields. */
static size_t
s_sample_reps (msg_api_rep_t *reps, raft_buf_t *key, raft_buf_t *value)
{
    static const msg_health_t bare = {
        .role = "follower", .peer_addr = "", .http_addr = ""};
    size_t n = 0;
    reps[n++] =
        (msg_api_rep_t){.req_id = 77, .status = 204, .kind = MSG_API_REP_EMPTY};
    reps[n++] = (msg_api_rep_t){.req_id = 1ULL << 63,
                                .status = 503,
                                .kind = MSG_API_REP_ERROR,
                                .code = "no_quorum"};
    reps[n++] = (msg_api_rep_t){.status = 409,
                                .kind = MSG_API_REP_ERROR,
                                .code = "reused_id",
                                .detail = "why \xc3\xa9"};
    reps[n++] = (msg_api_rep_t){.status = 409,
                                .kind = MSG_API_REP_ERROR,
                                .code = "not_leader",
                                .has_leader = true,
                                .leader = "h2:8000"};
    reps[n++] = (msg_api_rep_t){.status = 409,
                                .kind = MSG_API_REP_ERROR,
                                .code = "not_leader",
                                .has_leader = true};
    reps[n++] = (msg_api_rep_t){.req_id = 5,
                                .status = 200,
                                .kind = MSG_API_REP_WRITTEN,
                                .key = key,
                                .index = 1ULL << 40,
                                .flag = true};
    reps[n++] = (msg_api_rep_t){.status = 200,
                                .kind = MSG_API_REP_WRITTEN,
                                .key = key,
                                .index = 3,
                                .is_delete = true};
    reps[n++] = (msg_api_rep_t){.status = 200,
                                .kind = MSG_API_REP_VALUE,
                                .key = key,
                                .value = value,
                                .stale = true};
    reps[n++] =
        (msg_api_rep_t){.status = 404, .kind = MSG_API_REP_VALUE, .key = key};
    reps[n++] = (msg_api_rep_t){
        .status = 200, .kind = MSG_API_REP_CONF, .id = 4, .index = 10};
    reps[n++] = (msg_api_rep_t){
        .status = 200, .kind = MSG_API_REP_HEALTH, .health = &s_full_health};
    reps[n++] = (msg_api_rep_t){
        .status = 503, .kind = MSG_API_REP_HEALTH, .health = &bare};
    return n;
}

static void
s_test_api_rep (void)
{
    raft_buf_t *key = raft_buf_new ("k\0y", 3);
    raft_buf_t *value = raft_buf_new ("", 0);
    msg_api_rep_t reps[16];
    size_t n = s_sample_reps (reps, key, value);
    int kinds = 0;
    for (size_t k = 0; k < n; k++) {
        kinds |= 1 << reps[k].kind;
        zmsg_t *zm = msg_api_rep_encode (&reps[k]);
        CHECK (zm && zmsg_size (zm) == 1);
        if (!zm)
            continue;
        msg_api_rep_t out;
        CHECK (msg_api_rep_decode (zm, &out) == 0);
        if (!s_rep_eq (&reps[k], &out))
            fprintf (stderr, "  sample %zu came back different\n", k);
        CHECK (s_rep_eq (&reps[k], &out));
        /* the decoded reply encodes to the same bytes */
        zmsg_t *again = msg_api_rep_encode (&out);
        CHECK (again && zframe_eq (zmsg_first (zm), zmsg_first (again)));
        zmsg_destroy (&again);
        msg_api_rep_clear (&out);
        CHECK (out.kind == 0 && !out.code && !out.key && !out.health);

        zframe_t *f = zmsg_first (zm);
        const uint8_t *d = zframe_data (f);
        size_t len = zframe_size (f);
        int refused = 0;
        for (size_t cut = 0; cut < len; cut++)
            refused += s_rep_refused (d, cut);
        CHECK (refused == (int)len); /* every truncation */
        uint8_t buf[2048];
        CHECK (len + 1 <= sizeof buf);
        memcpy (buf, d, len);
        buf[len] = 0xc0;
        CHECK (s_rep_refused (buf, len + 1)); /* trailing byte */
        /* Every byte changed to every value: a well-formed reply or a
           refusal, never a crash or leak (ASan). The health reply is
           long: every fourth value of its bytes. */
        int step = reps[k].kind == MSG_API_REP_HEALTH ? 4 : 1;
        for (size_t i = 0; i < len; i++)
            for (int v = 0; v < 256; v += step) {
                memcpy (buf, d, len);
                buf[i] = (uint8_t)v;
                zmsg_t *m = s_zmsg (buf, len);
                if (msg_api_rep_decode (m, &out) == 0) {
                    CHECK (out.status >= 100 && out.status <= 599);
                    CHECK (out.kind >= MSG_API_REP_EMPTY &&
                           out.kind <= MSG_API_REP_HEALTH);
                    CHECK (out.kind != MSG_API_REP_ERROR ||
                           (out.code && *out.code));
                    CHECK (out.kind != MSG_API_REP_HEALTH || out.health);
                    msg_api_rep_clear (&out);
                }
                zmsg_destroy (&m);
            }
        zmsg_destroy (&zm);
    }
    CHECK (kinds == 0x7e); /* all six kinds */
    CHECK (s_rep_refused ("\xdd\xff\xff\xff\xff", 5));
    /* A health whose member list declares 4 billion entries. */
    uint8_t hostile[] = {0x96, 0x01, 0xa3, 'r',  'e',  'p',  0x01,
                         0xcc, 200,  0xa6, 'h',  'e',  'a',  'l',
                         't',  'h',  0xdd, 0xff, 0xff, 0xff, 0xff};
    CHECK (s_rep_refused (hostile, sizeof hostile));

    /* The encoder refuses what the decoder would. */
    msg_api_rep_t bad = {.status = 200, .kind = MSG_API_REP_EMPTY};
    bad.status = 99;
    CHECK (msg_api_rep_encode (&bad) == NULL);
    bad.status = 600;
    CHECK (msg_api_rep_encode (&bad) == NULL);
    bad.status = 200;
    bad.kind = 0;
    CHECK (msg_api_rep_encode (&bad) == NULL);
    bad.kind = MSG_API_REP_HEALTH + 1;
    CHECK (msg_api_rep_encode (&bad) == NULL);
    bad.kind = MSG_API_REP_HEALTH; /* without its fields */
    CHECK (msg_api_rep_encode (&bad) == NULL);
    bad.kind = MSG_API_REP_ERROR; /* no code */
    CHECK (msg_api_rep_encode (&bad) == NULL);
    bad.code = "";
    CHECK (msg_api_rep_encode (&bad) == NULL);
    char big[MSG_API_DETAIL_MAX + 2];
    memset (big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    bad.code = big;
    CHECK (msg_api_rep_encode (&bad) == NULL);
    bad.code = "x";
    bad.detail = big;
    CHECK (msg_api_rep_encode (&bad) == NULL);
    big[MSG_API_DETAIL_MAX] = 0; /* exactly at the limit: fine */
    zmsg_t *zm = msg_api_rep_encode (&bad);
    CHECK (zm != NULL);
    zmsg_destroy (&zm);
    bad.detail = NULL;
    bad.leader = big; /* over RAFT_ADDR_MAX */
    CHECK (msg_api_rep_encode (&bad) == NULL);
    raft_buf_unref (key);
    raft_buf_unref (value);
}

/*  ---------------------------------------------------------------------
    json                                                                 */

static void
s_test_json (void)
{
    CHECK (json_utf8_valid ("", 0));
    CHECK (json_utf8_valid ("a\0b", 3));
    CHECK (json_utf8_valid ("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    CHECK (!json_utf8_valid ("\xff", 1));
    CHECK (!json_utf8_valid ("\xc3", 1));             /* cut */
    CHECK (!json_utf8_valid ("\xc0\xaf", 2));         /* overlong */
    CHECK (!json_utf8_valid ("\xe0\x80\xaf", 3));     /* overlong */
    CHECK (!json_utf8_valid ("\xed\xa0\x80", 3));     /* surrogate */
    CHECK (!json_utf8_valid ("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK (!json_utf8_valid ("\xf0\x9f\x98", 3));

    json_t *s = json_string_lossy ("a\xff"
                                   "b\xe2\x82",
                                   5);
    CHECK (s && streq (json_string_value (s), "a\xef\xbf\xbd"
                                              "b\xef\xbf\xbd"));
    json_decref (s);

    json_t *e = json_error_body ("bad_request", "why");
    char *text = json_body_text (e, NULL);
    CHECK (text &&
           streq (text, "{\"error\": \"bad_request\", \"detail\": \"why\"}"));
    free (text);
    json_decref (e);
    e = json_error_body ("timeout", NULL);
    text = json_body_text (e, NULL);
    CHECK (text && streq (text, "{\"error\": \"timeout\"}"));
    free (text);
    json_decref (e);
}

/* Each reply kind rendered, byte for byte as README's API table and the
   prototype have it. */
static bool
s_renders (json_t *body, const char *want)
{
    char *text = body ? json_body_text (body, NULL) : NULL;
    json_decref (body);
    bool same = text && streq (text, want);
    if (!same)
        fprintf (stderr, "  body: %s\n  want: %s\n", text ? text : "(none)",
                 want);
    free (text);
    return same;
}

static void
s_test_render (void)
{
    raft_buf_t *key = raft_buf_new ("caf\xc3\xa9", 5);
    raft_buf_t *bad = raft_buf_new ("a\xff"
                                    "b",
                                    3);
    CHECK (s_renders (http_render_empty (), "{}"));
    CHECK (s_renders (http_render_error ("no_quorum", NULL, false, NULL),
                      "{\"error\": \"no_quorum\"}"));
    CHECK (s_renders (http_render_error ("not_leader", NULL, true, "h2:8000"),
                      "{\"error\": \"not_leader\", \"leader\": \"h2:8000\"}"));
    CHECK (s_renders (http_render_error ("not_leader", NULL, true, NULL),
                      "{\"error\": \"not_leader\", \"leader\": null}"));
    CHECK (s_renders (http_render_error ("reused_id", "why", false, NULL),
                      "{\"error\": \"reused_id\", \"detail\": \"why\"}"));
    CHECK (s_renders (http_render_written (key, 12, false, true),
                      "{\"ok\": true, \"key\": \"caf\\u00E9\", \"index\": 12, "
                      "\"created\": true}"));
    CHECK (s_renders (http_render_written (key, 13, true, false),
                      "{\"ok\": true, \"key\": \"caf\\u00E9\", \"index\": 13, "
                      "\"deleted\": false}"));
    CHECK (s_renders (http_render_value (key, bad, false),
                      "{\"key\": \"caf\\u00E9\", \"value\": \"a\\uFFFDb\"}"));
    CHECK (s_renders (http_render_value (key, bad, true),
                      "{\"key\": \"caf\\u00E9\", \"value\": \"a\\uFFFDb\", "
                      "\"stale\": true}"));
    CHECK (s_renders (http_render_value (key, NULL, false),
                      "{\"error\": \"not_found\", \"key\": \"caf\\u00E9\"}"));
    CHECK (s_renders (http_render_conf (4, 10),
                      "{\"ok\": true, \"id\": 4, \"index\": 10}"));
    CHECK (s_renders (
        http_render_health (&s_full_health),
        "{\"id\": 1, \"role\": \"leader\", \"term\": 3, \"leader\": "
        "\"h1:8000\", "
        "\"leader_id\": 1, \"commit\": 9, \"applied\": 8, \"last_index\": 10, "
        "\"peer_addr\": \"tcp://h1:9000\", \"http_addr\": \"h1:8000\", "
        "\"members\": [{\"id\": 1, \"dir_id\": "
        "\"0123456789abcdef0123456789abcdef\", \"peer_addr\": "
        "\"tcp://h1:9000\", \"http_addr\": \"h1:8000\", \"voter\": true, "
        "\"match\": 9}, {\"id\": 2, \"dir_id\": null, \"peer_addr\": "
        "\"tcp://h2:9000\", \"http_addr\": \"h2:8000\", \"voter\": false}], "
        "\"uptime_s\": 5, \"dropped_msgs\": 6, \"identity\": {\"cluster_id\": "
        "\"fedcba9876543210fedcba9876543210\", \"node_id\": 1, \"dir_id\": "
        "\"0123456789abcdef0123456789abcdef\", \"origin\": \"join\", "
        "\"voting\": true}, \"log\": {\"base_index\": 2, \"base_term\": 1, "
        "\"entries\": 8, \"bytes\": 1234}, \"last_snapshot_installed\": "
        "{\"index\": 2, \"term\": 1, \"from\": 3, \"at_unix_ms\": "
        "1764633600000}, \"quota\": {\"bytes\": 1048576, \"used\": 4096, "
        "\"clear_below\": 900000, \"alarm\": true, \"fs_free\": "
        "1.8446744073709552e19}}"));
    /* the unknowns: null leader, leader_id, snapshot, quota readings;
       an identity whose cluster id is not learnt yet */
    msg_health_t h = {.id = 2,
                      .role = "follower",
                      .peer_addr = "p",
                      .http_addr = "h",
                      .cluster_id = "",
                      .quota_known = false,
                      .fs_free = 5};
    CHECK (s_renders (
        http_render_health (&h),
        "{\"id\": 2, \"role\": \"follower\", \"term\": 0, \"leader\": null, "
        "\"leader_id\": null, \"commit\": 0, \"applied\": 0, \"last_index\": "
        "0, "
        "\"peer_addr\": \"p\", \"http_addr\": \"h\", \"members\": [], "
        "\"uptime_s\": 0, \"dropped_msgs\": 0, \"identity\": {\"cluster_id\": "
        "null, \"node_id\": 2, \"dir_id\": null, \"origin\": null, \"voting\": "
        "false}, \"log\": {\"base_index\": 0, \"base_term\": 0, \"entries\": "
        "0, "
        "\"bytes\": 0}, \"last_snapshot_installed\": null, \"quota\": "
        "{\"bytes\": 0, \"used\": null, \"clear_below\": 0, \"alarm\": false, "
        "\"fs_free\": null}}"));
    /* http_render_rep dispatches on the kind */
    msg_api_rep_t r = {.status = 200, .kind = MSG_API_REP_CONF, .id = 1};
    CHECK (s_renders (http_render_rep (&r),
                      "{\"ok\": true, \"id\": 1, \"index\": 0}"));
    r.kind = 0;
    CHECK (http_render_rep (&r) == NULL);
    raft_buf_unref (key);
    raft_buf_unref (bad);
}

/*  ---------------------------------------------------------------------
    HTTP: routes and pass-through                                        */

static void
s_test_put (void)
{
    s_resp_t r;
    /* curl -X POST localhost:8001/kv/put -H 'Content-Type: application/json'
            -d '{"key": "foo", "value": "bar"}' */
    CHECK (s_http (s_port, "POST", "/kv/put",
                   "{\"key\": \"foo\", \"value\": \"bar\"}", &r) == 0);
    CHECK (r.status == 200 && s_is_json (&r));
    CHECK (s_body_is (
        &r,
        "{\"ok\": true, \"key\": \"foo\", \"index\": 3, \"created\": true}"));
    s_resp_free (&r);
    /* Unicode in and out (ASCII-escaped out, as the prototype). */
    CHECK (s_http (s_port, "POST", "/kv/put",
                   "{\"key\": \"caf\xc3\xa9\", \"value\": \"\\u00e9\"}",
                   &r) == 0);
    /* (the fake's index: the value's length in bytes, here 2) */
    CHECK (r.status == 200 &&
           s_body_is (&r, "{\"ok\": true, \"key\": \"caf\\u00E9\", "
                          "\"index\": 2, \"created\": true}"));
    s_resp_free (&r);
    /* Empty values are values. */
    CHECK (s_http (s_port, "POST", "/kv/put", "{\"key\":\"e\",\"value\":\"\"}",
                   &r) == 0);
    CHECK (r.status == 200 && s_jstr_is (&r, "key", "e") &&
           s_jint (&r, "index") == 0);
    s_resp_free (&r);
}

static void
s_test_get (void)
{
    s_resp_t r;
    CHECK (s_http (s_port, "GET", "/kv/get?key=foo", NULL, &r) == 0);
    CHECK (r.status == 200 && s_is_json (&r));
    CHECK (s_jstr_is (&r, "key", "foo") && s_jstr_is (&r, "value", "foo") &&
           !json_object_get (r.json, "stale"));
    s_resp_free (&r);
    /* URL-decoded, stale flag passed on. */
    CHECK (s_http (s_port, "GET", "/kv/get?key=a%20b%2Fc&stale=true", NULL,
                   &r) == 0);
    CHECK (r.status == 200 && s_jstr_is (&r, "key", "a b/c") &&
           json_is_true (json_object_get (r.json, "stale")));
    s_resp_free (&r);
    CHECK (s_http (s_port, "GET", "/kv/get?stale=1&key=x", NULL, &r) == 0);
    CHECK (r.status == 200 && json_is_true (json_object_get (r.json, "stale")));
    s_resp_free (&r);
    CHECK (s_http (s_port, "GET", "/kv/get?key=x&stale=maybe", NULL, &r) == 0);
    CHECK (r.status == 400 && s_jstr_is (&r, "error", "bad_request"));
    s_resp_free (&r);
    /* Not in the store. */
    CHECK (s_http (s_port, "GET", "/kv/get?key=missing", NULL, &r) == 0);
    CHECK (r.status == 404 && s_is_json (&r) &&
           s_body_is (&r, "{\"error\": \"not_found\", \"key\": \"missing\"}"));
    s_resp_free (&r);
    /* The raft actor's status and body pass through. */
    CHECK (s_http (s_port, "POST", "/kv/put",
                   "{\"key\": \"leader\", \"value\": \"x\"}", &r) == 0);
    CHECK (r.status == 409 &&
           s_body_is (
               &r, "{\"error\": \"not_leader\", \"leader\": \"node2:8000\"}"));
    s_resp_free (&r);
}

static void
s_test_delete_health (void)
{
    s_resp_t r;
    /* curl -X DELETE localhost:8001/kv/delete
            -H 'Content-Type: application/json' -d '{"key": "foo"}' */
    CHECK (s_http (s_port, "DELETE", "/kv/delete", "{\"key\": \"foo\"}", &r) ==
           0);
    CHECK (r.status == 200 && s_is_json (&r) &&
           s_body_is (&r, "{\"ok\": true, \"key\": \"foo\", \"index\": 0, "
                          "\"deleted\": true}"));
    s_resp_free (&r);
    CHECK (s_http (s_port, "GET", "/health", NULL, &r) == 0);
    CHECK (r.status == 200 && s_is_json (&r) && s_jint (&r, "id") == 7 &&
           s_jstr_is (&r, "peer_addr", "tcp://127.0.0.1:9007"));
    s_resp_free (&r);
}

static void
s_test_join_remove (void)
{
    s_resp_t r;
    char body[256], want[RAFT_ADDR_MAX];
    /* The new server is this same server: its /health says id 7. */
    snprintf (body, sizeof body, "{\"peer\": \"127.0.0.1:%d\"}", s_port);
    snprintf (want, sizeof want, "tcp://127.0.0.1:9007 127.0.0.1:%d", s_port);
    CHECK (s_http (s_port, "POST", "/raft/join", body, &r) == 0);
    CHECK (r.status == 200 &&
           s_body_is (&r, "{\"ok\": true, \"id\": 7, \"index\": 42}"));
    CHECK (s_last_is (MSG_API_JOIN, 7, want));
    s_resp_free (&r);
    snprintf (body, sizeof body, "{\"peer\": \"127.0.0.1:%d\", \"id\": 7}",
              s_port);
    CHECK (s_http (s_port, "POST", "/raft/join", body, &r) == 0);
    CHECK (r.status == 200 && s_jint (&r, "id") == 7);
    s_resp_free (&r);
    snprintf (body, sizeof body, "{\"peer\": \"127.0.0.1:%d\", \"id\": 8}",
              s_port);
    CHECK (s_http (s_port, "POST", "/raft/join", body, &r) == 0);
    CHECK (r.status == 400 && s_jstr_is (&r, "error", "bad_request"));
    s_resp_free (&r);
    snprintf (body, sizeof body, "{\"peer\": \"127.0.0.1:%d\"}", s_port_closed);
    CHECK (s_http (s_port, "POST", "/raft/join", body, &r) == 0);
    CHECK (r.status == 502 && s_is_json (&r) &&
           s_jstr_is (&r, "error", "peer_unreachable") && s_jstr (&r, "peer") &&
           strstr (s_jstr (&r, "peer"), "127.0.0.1:"));
    s_resp_free (&r);
    const char *bad[] = {"{\"peer\": \"node4\"}",
                         "{\"peer\": \"node4:0\"}",
                         "{\"peer\": \"no de:80\"}",
                         "{\"peer\": 4}",
                         "{\"id\": 4}",
                         "{\"peer\": \"a:1\", \"id\": \"4\"}",
                         "{\"peer\": \"a:1\", \"id\": -4}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK (s_http (s_port, "POST", "/raft/join", bad[i], &r) == 0);
        CHECK (r.status == 400 && s_jstr_is (&r, "error", "bad_request"));
        s_resp_free (&r);
    }
    CHECK (s_http (s_port, "POST", "/raft/remove", "{\"peer\": \"node4:8000\"}",
                   &r) == 0);
    CHECK (r.status == 200 && s_jint (&r, "id") == 0);
    CHECK (s_last_is (MSG_API_REMOVE, 0, "node4:8000"));
    s_resp_free (&r);
    CHECK (s_http (s_port, "POST", "/raft/remove", "{\"id\": 4}", &r) == 0);
    CHECK (r.status == 200 && s_jint (&r, "id") == 4);
    CHECK (s_last_is (MSG_API_REMOVE, 4, ""));
    s_resp_free (&r);
    CHECK (s_http (s_port, "POST", "/raft/remove", "{}", &r) == 0);
    CHECK (r.status == 400);
    s_resp_free (&r);
}

/*  ---------------------------------------------------------------------
    HTTP: errors made on the HTTP side                                   */

static void
s_expect (const char *method, const char *path, const char *body, int status,
          const char *error)
{
    s_resp_t r;
    int rc = s_http (s_port, method, path, body, &r);
    CHECK (rc == 0);
    /* error "": a success, no "error" field to check */
    bool ok = rc == 0 && r.status == status && s_is_json (&r) &&
              (!*error || s_jstr_is (&r, "error", error));
    if (!ok)
        fprintf (stderr, "  %s %s %s -> %d %.*s (want %d %s)\n", method, path,
                 body ? body : "", r.status, (int)r.body_len, r.body, status,
                 error);
    CHECK (ok);
    s_resp_free (&r);
}

static void
s_test_400 (void)
{
    s_expect ("POST", "/kv/put", "{\"key\": \"foo\", \"value\": ", 400,
              "bad_request");
    s_expect ("POST", "/kv/put", "", 400, "bad_request");
    s_expect ("POST", "/kv/put", "[\"key\", \"value\"]", 400, "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": \"\xff\", \"value\": \"x\"}", 400,
              "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": \"a\", \"value\": \"\xc0\xaf\"}",
              400, "bad_request");
    s_expect ("POST", "/kv/put", "{\"value\": \"x\"}", 400, "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": \"x\"}", 400, "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": 1, \"value\": \"x\"}", 400,
              "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": \"x\", \"value\": 1}", 400,
              "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": \"x\", \"value\": null}", 400,
              "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": \"\", \"value\": \"x\"}", 400,
              "bad_request");
    s_expect ("POST", "/kv/put",
              "{\"key\": \"a\", \"key\": \"b\", "
              "\"value\": \"x\"}",
              400, "bad_request");
    s_expect ("POST", "/kv/put", "{\"key\": \"a\", \"value\": \"x\"} junk", 400,
              "bad_request");
    s_expect ("DELETE", "/kv/delete", "{}", 400, "bad_request");
    s_expect ("DELETE", "/kv/delete", "{\"key\": \"\"}", 400, "bad_request");
    s_expect ("DELETE", "/kv/delete", NULL, 400, "bad_request");
    s_expect ("GET", "/kv/get", NULL, 400, "bad_request");
    s_expect ("GET", "/kv/get?nokey=1", NULL, 400, "bad_request");
    s_expect ("GET", "/kv/get?key=", NULL, 400, "bad_request");
    s_expect ("GET", "/kv/get?key=%ff", NULL, 400, "bad_request");
    /* The exact body. */
    s_resp_t r;
    CHECK (s_http (s_port, "GET", "/kv/get", NULL, &r) == 0);
    CHECK (s_body_is (&r, "{\"error\": \"bad_request\", "
                          "\"detail\": \"missing ?key=\"}"));
    s_resp_free (&r);
}

static void
s_test_404_405 (void)
{
    s_resp_t r;
    CHECK (s_http (s_port, "GET", "/nope", NULL, &r) == 0);
    CHECK (
        r.status == 404 && s_is_json (&r) &&
        s_body_is (&r, "{\"error\": \"unknown_path\", \"path\": \"/nope\"}"));
    s_resp_free (&r);
    s_expect ("GET", "/", NULL, 404, "unknown_path");
    s_expect ("GET", "/kv/put/", NULL, 404, "unknown_path");
    s_expect ("POST", "/kv", "{}", 404, "unknown_path");
    struct {
        const char *method, *path, *allow;
    } cases[] = {
        {"GET", "/kv/put", "POST"},        {"PUT", "/kv/put", "POST"},
        {"POST", "/kv/get", "GET"},        {"GET", "/kv/delete", "DELETE"},
        {"POST", "/health", "GET"},        {"GET", "/raft/join", "POST"},
        {"DELETE", "/raft/remove", "POST"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK (s_http (s_port, cases[i].method, cases[i].path, NULL, &r) == 0);
        CHECK (r.status == 405 && s_is_json (&r) &&
               s_body_is (&r, "{\"error\": \"method_not_allowed\"}"));
        const char *allow = s_header (&r, "Allow");
        CHECK (allow && streq (allow, cases[i].allow));
        s_resp_free (&r);
    }
}

static void
s_test_413 (void)
{
    char body[MAX_BODY + 512];
    char key[MAX_KEY + 2], value[MAX_VALUE + 2];
    memset (key, 'k', sizeof key - 1);
    key[sizeof key - 1] = 0;
    memset (value, 'v', sizeof value - 1);
    value[sizeof value - 1] = 0;
    /* key one byte over */
    snprintf (body, sizeof body, "{\"key\": \"%s\", \"value\": \"x\"}", key);
    s_expect ("POST", "/kv/put", body, 413, "too_large");
    s_expect ("DELETE", "/kv/delete", body, 413, "too_large");
    /* exactly at the limits: fine */
    key[MAX_KEY] = 0;
    value[MAX_VALUE] = 0;
    snprintf (body, sizeof body, "{\"key\": \"%s\", \"value\": \"%s\"}", key,
              value);
    s_expect ("POST", "/kv/put", body, 200, "");
    /* value one byte over */
    value[MAX_VALUE] = 'v';
    snprintf (body, sizeof body, "{\"key\": \"%s\", \"value\": \"%s\"}", key,
              value);
    s_expect ("POST", "/kv/put", body, 413, "too_large");
    /* a body over max_body (whitespace makes it big, not the fields) */
    memset (body, ' ', sizeof body);
    const char *start = "{\"key\": \"a\", \"value\": \"b\"";
    memcpy (body, start, strlen (start));
    body[MAX_BODY + 1] = '}';
    body[MAX_BODY + 2] = 0;
    s_expect ("POST", "/kv/put", body, 413, "too_large");
    /* the same, chunked: no Content-Length to check beforehand */
    char req[MAX_BODY * 2];
    int n = snprintf (req, sizeof req,
                      "POST /kv/put HTTP/1.1\r\nHost: x\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++)
        n += snprintf (req + n, sizeof req - (size_t)n, "%x\r\n%.*s\r\n",
                       MAX_BODY / 2, MAX_BODY / 2, body);
    n += snprintf (req + n, sizeof req - (size_t)n, "0\r\n\r\n");
    s_resp_t r;
    CHECK (s_raw (s_port, req, (size_t)n, &r) == 0);
    CHECK (r.status == 413 && s_jstr_is (&r, "error", "too_large"));
    s_resp_free (&r);
    /* a small chunked body is read and used */
    n = snprintf (req, sizeof req,
                  "POST /kv/put HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n"
                  "8\r\n{\"key\": \r\n13\r\n\"ch\", \"value\": \"v\"}\r\n"
                  "0\r\n\r\n");
    CHECK (s_raw (s_port, req, (size_t)n, &r) == 0);
    CHECK (r.status == 200 && s_jstr_is (&r, "key", "ch"));
    s_resp_free (&r);
    /* a key over max_key in the query string */
    char path[MAX_KEY + 64];
    key[MAX_KEY] = 'k';
    snprintf (path, sizeof path, "/kv/get?key=%s", key);
    s_expect ("GET", path, NULL, 413, "too_large");
    key[MAX_KEY] = 0;
    snprintf (path, sizeof path, "/kv/get?key=%s", key);
    s_expect ("GET", path, NULL, 200, "");
}

static void
s_test_503 (void)
{
    s_resp_t r;
    int64_t t0 = zclock_mono ();
    atomic_store (&s_barrier, S_BARRIER_SILENT);
    CHECK (s_http (s_port, "GET", "/kv/get?key=foo", NULL, &r) == 0);
    atomic_store (&s_barrier, S_BARRIER_OK);
    int64_t took = zclock_mono () - t0;
    CHECK (r.status == 503 && s_is_json (&r) &&
           s_body_is (&r, "{\"error\": \"timeout\"}"));
    CHECK (took >= TIMEOUT_MS + 400 && took < TIMEOUT_MS + 1500);
    s_resp_free (&r);
    CHECK (s_still_serving ());
}

/* Replies carrying other req_ids are dropped, so is garbage. */
static void
s_test_req_id_matching (void)
{
    s_resp_t r;
    CHECK (s_http (s_port, "POST", "/kv/put",
                   "{\"key\": \"bogus\", \"value\": \"v\"}", &r) == 0);
    CHECK (r.status == 200 && s_jstr_is (&r, "key", "bogus"));
    s_resp_free (&r);
    /* One worker: the late answer to a timed-out request waits in its
       DEALER and must not be taken for the next request's answer. */
    atomic_store (&s_barrier, S_BARRIER_LATE);
    CHECK (s_http (s_port_single, "GET", "/kv/get?key=foo", NULL, &r) == 0);
    atomic_store (&s_barrier, S_BARRIER_OK);
    CHECK (r.status == 503);
    s_resp_free (&r);
    zclock_sleep (LATE_MS - TIMEOUT_MS); /* the late reply is queued now */
    CHECK (s_http (s_port_single, "GET", "/kv/get?key=after", NULL, &r) == 0);
    CHECK (r.status == 200 && s_jstr_is (&r, "key", "after"));
    s_resp_free (&r);
}

static void
s_test_keep_alive (void)
{
    int fd = s_dial (s_port);
    CHECK (fd >= 0);
    const char *put = "POST /kv/put HTTP/1.1\r\nHost: x\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: 25\r\n\r\n"
                      "{\"key\":\"ka\",\"value\":\"v1\"}";
    const char *get = "GET /kv/get?key=ka HTTP/1.1\r\nHost: x\r\n\r\n";
    s_resp_t r;
    for (int i = 0; i < 3; i++) {
        s_send_all (fd, put, strlen (put));
        CHECK (s_read_resp (fd, &r) == 0 && r.status == 200);
        const char *conn = s_header (&r, "Connection");
        CHECK (conn && strcasecmp (conn, "keep-alive") == 0);
        s_resp_free (&r);
        s_send_all (fd, get, strlen (get));
        CHECK (s_read_resp (fd, &r) == 0 && r.status == 200 &&
               s_jstr_is (&r, "key", "ka"));
        s_resp_free (&r);
    }
    /* An error whose body was read keeps the connection too. */
    const char *bad = "POST /kv/put HTTP/1.1\r\nHost: x\r\n"
                      "Content-Length: 2\r\n\r\n[]";
    s_send_all (fd, bad, strlen (bad));
    CHECK (s_read_resp (fd, &r) == 0 && r.status == 400);
    s_resp_free (&r);
    s_send_all (fd, get, strlen (get));
    CHECK (s_read_resp (fd, &r) == 0 && r.status == 200);
    s_resp_free (&r);
    /* A body left unread (wrong method) must not be taken for the next
       request: either it is skipped or the connection closes. */
    const char *wrong = "GET /kv/put HTTP/1.1\r\nHost: x\r\n"
                        "Content-Length: 20\r\n\r\nGET /x HTTP/1.1\r\n\r\n";
    s_send_all (fd, wrong, strlen (wrong));
    CHECK (s_read_resp (fd, &r) == 0 && r.status == 405);
    const char *closing = s_header (&r, "Connection");
    CHECK (closing && strcasecmp (closing, "close") == 0);
    s_resp_free (&r);
    s_send_all (fd, get, strlen (get));
    if (s_read_resp (fd, &r) == 0)
        CHECK (r.status == 200 && s_jstr_is (&r, "key", "ka"));
    s_resp_free (&r);
    close (fd);
}

/*  ---------------------------------------------------------------------
    HTTP: hostile input                                                  */

static void
s_test_huge_header (void)
{
    size_t n = 100 * 1024;
    char *req = malloc (n + 128);
    int h = snprintf (req, 128, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset (req + h, 'a', n);
    memcpy (req + h + n, "\r\n\r\n", 4);
    s_resp_t r;
    int64_t t0 = zclock_mono ();
    if (s_raw (s_port, req, (size_t)h + n + 4, &r) == 0) {
        /* civetweb refuses it; our http_error callback renders JSON */
        CHECK (r.status == 413 || r.status == 431 || r.status == 400);
        CHECK (s_is_json (&r));
        s_resp_free (&r);
    }
    CHECK (zclock_mono () - t0 < 3000);
    free (req);
    CHECK (s_still_serving ());
}

static void
s_test_huge_body (void)
{
    const char *req = "POST /kv/put HTTP/1.1\r\nHost: x\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: 10485760\r\n\r\n{\"key\": \"a\", ";
    int fd = s_dial (s_port);
    s_send_all (fd, req, strlen (req));
    s_resp_t r;
    int64_t t0 = zclock_mono ();
    CHECK (s_read_resp (fd, &r) == 0);
    CHECK (zclock_mono () - t0 < 1000); /* at once, not after reading */
    CHECK (r.status == 413 && s_is_json (&r) &&
           s_jstr_is (&r, "error", "too_large"));
    const char *conn = s_header (&r, "Connection");
    CHECK (conn && strcasecmp (conn, "close") == 0);
    s_resp_free (&r);
    close (fd);
    CHECK (s_still_serving ());
}

static void
s_test_slow_body (void)
{
    const char *req = "POST /kv/put HTTP/1.1\r\nHost: x\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: 60\r\n\r\n{\"key\": \"a\", ";
    int fd = s_dial (s_port);
    s_send_all (fd, req, strlen (req));
    /* ... and nothing more. The server must give up on its own. */
    int64_t t0 = zclock_mono ();
    char buf[4096];
    ssize_t got;
    size_t total = 0;
    while ((got = recv (fd, buf + total, sizeof buf - 1 - total, 0)) > 0)
        total += (size_t)got;
    buf[total] = 0;
    int64_t took = zclock_mono () - t0;
    CHECK (got == 0); /* closed by the server, not our 5 s timeout */
    /* cut off at the request deadline, at most two read slices late */
    CHECK (took >= READ_MS - 100 && took < READ_MS + 2 * READ_MS / 5 + 500);
    /* If an answer made it out, it is a JSON 408. */
    CHECK (total == 0 || (strncmp (buf, "HTTP/1.1 408", 12) == 0 &&
                          strstr (buf, "\"request_timeout\"")));
    close (fd);
    CHECK (s_still_serving ());
}

/* A body trickling in faster than civetweb's read slice (READ_MS / 5)
   keeps one mg_read () going for as long as bytes come; the request's
   deadline must cut it off all the same. */
static void
s_test_trickle_body (void)
{
    const char *req = "POST /kv/put HTTP/1.1\r\nHost: x\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: 200\r\n\r\n{";
    int fd = s_dial (s_port);
    s_send_all (fd, req, strlen (req));
    int64_t t0 = zclock_mono ();
    char buf[4096];
    size_t total = 0;
    bool closed = false;
    /* one byte every READ_MS / 10 for up to 3 READ_MS */
    while (!closed && zclock_mono () - t0 < 3 * READ_MS) {
        zclock_sleep (READ_MS / 10);
        if (send (fd, "a", 1, MSG_NOSIGNAL) != 1)
            break;
        struct timeval tv = {0, 1000};
        setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t got = recv (fd, buf + total, sizeof buf - 1 - total, 0);
        if (got > 0)
            total += (size_t)got;
        else if (got == 0)
            closed = true;
    }
    int64_t took = zclock_mono () - t0;
    buf[total] = 0;
    CHECK (strncmp (buf, "HTTP/1.1 408", 12) == 0 &&
           strstr (buf, "\"request_timeout\""));
    CHECK (took >= READ_MS - 100 && took < READ_MS + 500);
    close (fd);
    CHECK (s_still_serving ());
}

static void
s_test_garbage (void)
{
    const char *inputs[] = {
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
        "\x00\x01\x02\x03\xff\xfe\r\n\r\n",
        "GARBAGE\r\n\r\n",
        "GET\r\n\r\n",
        "GET /health HTTP/9.9\r\n\r\n",
        "FOO /kv/put HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /kv/put HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        "POST /kv/put HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "POST /kv/put HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t len = i == 1 ? 10 : strlen (inputs[i]);
        s_resp_t r;
        int64_t t0 = zclock_mono ();
        if (s_raw (s_port, inputs[i], len, &r) == 0) {
            CHECK (r.status >= 400 && r.status < 506);
            if (!s_is_json (&r))
                fprintf (stderr, "  input %zu: %d %.*s\n", i, r.status,
                         (int)r.body_len, r.body);
            CHECK (s_is_json (&r));
            s_resp_free (&r);
        }
        CHECK (zclock_mono () - t0 < TIMEOUT_MS * 3 + 500);
        CHECK (s_still_serving ());
    }
}

/*  ---------------------------------------------------------------------
    HTTP: concurrency                                                    */

#define S_CLIENTS 8
#define S_PER_CLIENT 25

static void *
s_client (void *arg)
{
    int id = (int)(intptr_t)arg;
    int wrong = 0;
    for (int i = 0; i < S_PER_CLIENT; i++) {
        char path[64], key[32];
        snprintf (key, sizeof key, "c%d-%d", id, i);
        snprintf (path, sizeof path, "/kv/get?key=%s", key);
        s_resp_t r;
        if (s_http (s_port, "GET", path, NULL, &r) != 0 || r.status != 200 ||
            !s_jstr_is (&r, "key", key))
            wrong++;
        s_resp_free (&r);
    }
    return (void *)(intptr_t)wrong;
}

static void
s_test_concurrent (void)
{
    pthread_t t[S_CLIENTS];
    for (int i = 0; i < S_CLIENTS; i++)
        pthread_create (&t[i], NULL, s_client, (void *)(intptr_t)i);
    int wrong = 0;
    for (int i = 0; i < S_CLIENTS; i++) {
        void *w;
        pthread_join (t[i], &w);
        wrong += (int)(intptr_t)w;
    }
    CHECK (wrong == 0);
}

static int
s_reads (void)
{
    return atomic_load (&s_fake_reads);
}

static int
s_gets (void)
{
    return atomic_load (&s_fake_gets);
}

/* A linearizable GET asks the raft actor for a read barrier, then reads
   the store itself (what was written is seen); a stale one asks nothing;
   a refused barrier's answer passes through; no GET reaches the raft
   actor. */
static void
s_test_get_path (void)
{
    int gets = s_gets (), reads = s_reads ();
    s_resp_t r;
    CHECK (s_http (s_port, "GET", "/kv/get?key=foo", NULL, &r) == 0);
    CHECK (r.status == 200 && s_jstr_is (&r, "value", "foo"));
    s_resp_free (&r);
    CHECK_EQ (s_reads (), reads + 1);
    CHECK (fixture_kv_put (&s_kv, "foo", "new") == 0);
    CHECK (s_http (s_port, "GET", "/kv/get?key=foo", NULL, &r) == 0);
    CHECK (r.status == 200 && s_jstr_is (&r, "value", "new"));
    s_resp_free (&r);
    CHECK (fixture_kv_put (&s_kv, "foo", "foo") == 0);
    /* stale: a local read, no barrier */
    reads = s_reads ();
    CHECK (s_http (s_port, "GET", "/kv/get?key=foo&stale=true", NULL, &r) == 0);
    CHECK (r.status == 200 && s_jstr_is (&r, "value", "foo") &&
           json_is_true (json_object_get (r.json, "stale")));
    s_resp_free (&r);
    CHECK_EQ (s_reads (), reads);
    /* not the leader: the barrier's answer, but stale reads still answer */
    atomic_store (&s_barrier, S_BARRIER_NOT_LEADER);
    CHECK (s_http (s_port, "GET", "/kv/get?key=foo", NULL, &r) == 0);
    CHECK (r.status == 409 && s_jstr_is (&r, "error", "not_leader") &&
           s_jstr_is (&r, "leader", "node2:8000") &&
           !json_object_get (r.json, "value"));
    s_resp_free (&r);
    CHECK (s_http (s_port, "GET", "/kv/get?key=foo&stale=1", NULL, &r) == 0);
    CHECK (r.status == 200 && s_jstr_is (&r, "value", "foo"));
    s_resp_free (&r);
    atomic_store (&s_barrier, S_BARRIER_OK);
    CHECK_EQ (s_gets (), gets);
}

/* Before the storage actor has published the store (start-up), a GET
   goes to the raft actor whole, as production's does. */
static void
s_test_get_before_open (void)
{
    store_t *st = atomic_exchange (&s_kv.store, NULL);
    int gets = s_gets ();
    s_resp_t r;
    CHECK (s_http (s_port, "GET", "/kv/get?key=zz", NULL, &r) == 0);
    CHECK (r.status == 200 && s_jstr_is (&r, "key", "zz"));
    s_resp_free (&r);
    CHECK_EQ (s_gets (), gets + 1);
    atomic_store (&s_kv.store, st);
}

/* The keys the GETs of these tests read, each holding its own name. */
static int
s_kv_fill (void)
{
    static const char *keys[] = {"foo", "a b/c", "x", "ka", "after"};
    int rc = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        rc |= fixture_kv_put (&s_kv, keys[i], keys[i]);
    char key[MAX_KEY + 1];
    memset (key, 'k', MAX_KEY);
    key[MAX_KEY] = 0;
    rc |= fixture_kv_put (&s_kv, key, key);
    for (int c = 0; c < S_CLIENTS; c++)
        for (int i = 0; i < S_PER_CLIENT; i++) {
            snprintf (key, sizeof key, "c%d-%d", c, i);
            rc |= fixture_kv_put (&s_kv, key, key);
        }
    return rc;
}

/* mg_start fails on a port in use: the actor says so on its pipe. */
static void
s_test_start_failure (void)
{
    char listen[32];
    snprintf (listen, sizeof listen, "127.0.0.1:%d", s_port);
    http_args_t a = {.listen = listen,
                     .api_endpoint = s_api,
                     .threads = 1,
                     .timeout_ms = TIMEOUT_MS,
                     .max_body = MAX_BODY,
                     .max_key = MAX_KEY,
                     .max_value = MAX_VALUE};
    fprintf (stderr, "  (expected: an ERROR line, the port is in use)\n");
    /* the one start-up handshake (actor.h): NULL and the status */
    int status = 0;
    zactor_t *http = actor_start ("http", http_actor, &a, NULL, &status);
    CHECK (http == NULL && status == 1);
}

/*  ---------------------------------------------------------------------
    main                                                                 */

int
main (void)
{
    check_watchdog ("test_http", 120);
    log_init (1,
              getenv ("NSXD_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
    zsys_init ();
    zsys_handler_set (NULL);
    mg_init_library (0);
    int pid = (int)getpid ();
    s_port = 20000 + pid % 4000 * 3; /* below the ephemeral range (32768) */
    s_port_single = s_port + 1;
    s_port_closed = s_port + 2;
    snprintf (s_api, sizeof s_api, "inproc://nsxd-%d-api", pid);
    if (!fixture_tmpdir ("test_http") ||
        fixture_kv_open (&s_kv, fixture_path ("kv")) != 0 || s_kv_fill () != 0)
        return 1;

    check_run ("msg_api request round trip", s_test_api_req_roundtrip);
    check_run ("msg_api request hostile", s_test_api_req_hostile);
    check_run ("msg_api reply", s_test_api_rep);
    check_run ("json", s_test_json);
    check_run ("reply kinds rendered", s_test_render);

    zactor_t *fake = zactor_new (s_fake_raft, NULL);
    char listen[32], listen1[32];
    snprintf (listen, sizeof listen, "127.0.0.1:%d", s_port);
    snprintf (listen1, sizeof listen1, "127.0.0.1:%d", s_port_single);
    http_args_t args = {.listen = listen,
                        .api_endpoint = s_api,
                        .threads = 8,
                        .timeout_ms = TIMEOUT_MS,
                        .read_ms = READ_MS,
                        .max_body = MAX_BODY,
                        .max_key = MAX_KEY,
                        .max_value = MAX_VALUE,
                        .shared = &s_kv};
    http_args_t args1 = args;
    args1.listen = listen1;
    args1.threads = 1;
    zactor_t *http = actor_start ("http", http_actor, &args, NULL, NULL);
    zactor_t *http1 = actor_start ("http", http_actor, &args1, NULL, NULL);
    if (!http || !http1) {
        fprintf (stderr, "cannot listen on %s / %s\n", listen, listen1);
        return 1;
    }

    check_run ("put", s_test_put);
    check_run ("get", s_test_get);
    check_run ("get: barrier, then the store", s_test_get_path);
    check_run ("get before the store is open", s_test_get_before_open);
    check_run ("delete, health", s_test_delete_health);
    check_run ("join, remove", s_test_join_remove);
    check_run ("400 bad_request", s_test_400);
    check_run ("404 and 405", s_test_404_405);
    check_run ("413 too_large", s_test_413);
    check_run ("503 timeout", s_test_503);
    check_run ("req_id matching", s_test_req_id_matching);
    check_run ("keep-alive", s_test_keep_alive);
    check_run ("hostile: 100 KB header", s_test_huge_header);
    check_run ("hostile: 10 MB body", s_test_huge_body);
    check_run ("hostile: slow body", s_test_slow_body);
    check_run ("hostile: trickled body", s_test_trickle_body);
    check_run ("hostile: garbage", s_test_garbage);
    check_run ("concurrent clients", s_test_concurrent);
    check_run ("start failure", s_test_start_failure);

    /* zactor_destroy waits for the actor's last signal: no timeout. */
    zsock_set_rcvtimeo (http, -1);
    zsock_set_rcvtimeo (http1, -1);
    zactor_destroy (&http);
    zactor_destroy (&http1);
    zactor_destroy (&fake);
    mg_exit_library ();
    fixture_kv_close (&s_kv);
    fixture_tmpdir_remove ();
    return check_report ();
}
