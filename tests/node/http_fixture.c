/*  http_fixture.c -- see http_fixture.h. */
#include "http_fixture.h"
#include "check.h"
#include "actor.h"
#include "log.h"
#include "msg_api.h"

#include <civetweb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int hf_port;        /* the main server: 8 workers */
int hf_port_single; /* a second server with 1 worker */
int hf_port_closed; /* nothing listens here */
char hf_api[64];

/* The KV data the workers read, as nsxd.c publishes it. */
kv_shared_t hf_kv;
_Atomic hf_barrier_t hf_barrier;
/* What reached the fake. */
static atomic_int s_fake_gets, s_fake_reads;

/*  ---------------------------------------------------------------------
    The fake raft actor                                                  */

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

bool
hf_last_is (msg_api_op_t op, raft_id_t id, const char *peer)
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
    case MSG_API_CMD: /* (test_http_txn.c runs the real raft actor) */
    case MSG_API_DELETE:
        rep->kind = MSG_API_REP_WRITTEN;
        rep->key = req->key;
        rep->index = req->value ? req->value->len : 0;
        rep->is_delete = req->op == MSG_API_DELETE;
        rep->flag = true;
        return true;
    case MSG_API_READ:
        atomic_fetch_add (&s_fake_reads, 1);
        switch (atomic_load (&hf_barrier)) {
        case HF_BARRIER_SILENT: return false;
        case HF_BARRIER_NOT_LEADER:
            rep->status = 409;
            rep->kind = MSG_API_REP_ERROR;
            rep->code = "not_leader";
            rep->has_leader = true;
            rep->leader = "node2:8000";
            return true;
        case HF_BARRIER_OK:
        case HF_BARRIER_LATE: break; /* late: answered in s_fake_raft */
        }
        rep->kind = MSG_API_REP_EMPTY;
        return true;
    case MSG_API_LEASE_KEEPALIVE: /* (test_http_lease.c: a real node) */
    case MSG_API_LEASE_INFO:
        rep->kind = MSG_API_REP_LEASE;
        rep->id = req->id;
        rep->ttl_ms = 1000;
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
    int rc = zsock_bind (router, "%s", hf_api);
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
            atomic_load (&hf_barrier) == HF_BARRIER_LATE && n_delayed < 16) {
            atomic_fetch_add (&s_fake_reads, 1);
            delayed[n_delayed++] = (s_delayed_t){identity, req.req_id,
                                                 zclock_mono () + HF_LATE_MS};
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

int
hf_reads (void)
{
    return atomic_load (&s_fake_reads);
}

int
hf_gets (void)
{
    return atomic_load (&s_fake_gets);
}

/* The keys the GETs of these tests read, each holding its own name. */
static int
s_kv_fill (void)
{
    static const char *keys[] = {"foo", "a b/c", "x", "ka", "after"};
    int rc = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        rc |= fixture_kv_put (&hf_kv, keys[i], keys[i]);
    char key[HF_MAX_KEY + 1];
    memset (key, 'k', HF_MAX_KEY);
    key[HF_MAX_KEY] = 0;
    rc |= fixture_kv_put (&hf_kv, key, key);
    for (int c = 0; c < HF_CLIENTS; c++)
        for (int i = 0; i < HF_PER_CLIENT; i++) {
            snprintf (key, sizeof key, "c%d-%d", c, i);
            rc |= fixture_kv_put (&hf_kv, key, key);
        }
    return rc;
}

/*  ---------------------------------------------------------------------
    Sample data                                                          */

static const msg_health_member_t s_members[2] = {
    {1, "tcp://h1:9000", "h1:8000", true, true, 9,
     "0123456789abcdef0123456789abcdef"},
    {2, "tcp://h2:9000", "h2:8000", false, false, 0, NULL}};

const msg_health_t hf_full_health = {
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

/*  ---------------------------------------------------------------------
    Start and stop                                                       */

static zactor_t *s_fake, *s_http_main, *s_http_single;

int
hf_start (const char *name, bool single)
{
    check_watchdog (name, 120);
    log_init (1,
              getenv ("NSXD_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
    zsys_init ();
    zsys_handler_set (NULL);
    mg_init_library (0);
    int pid = (int)getpid ();
    hf_port = 20000 + pid % 4000 * 3; /* below the ephemeral range (32768) */
    hf_port_single = hf_port + 1;
    hf_port_closed = hf_port + 2;
    snprintf (hf_api, sizeof hf_api, "inproc://nsxd-%d-api", pid);
    if (!fixture_tmpdir (name) ||
        fixture_kv_open (&hf_kv, fixture_path ("kv")) != 0 || s_kv_fill () != 0)
        return -1;

    s_fake = zactor_new (s_fake_raft, NULL);
    char listen[32], listen1[32];
    snprintf (listen, sizeof listen, "127.0.0.1:%d", hf_port);
    snprintf (listen1, sizeof listen1, "127.0.0.1:%d", hf_port_single);
    http_args_t args = {.listen = listen,
                        .api_endpoint = hf_api,
                        .threads = 8,
                        .timeout_ms = HF_TIMEOUT_MS,
                        .read_ms = HF_READ_MS,
                        .max_body = HF_MAX_BODY,
                        .max_key = HF_MAX_KEY,
                        .max_value = HF_MAX_VALUE,
                        .shared = &hf_kv};
    http_args_t args1 = args;
    args1.listen = listen1;
    args1.threads = 1;
    s_http_main = actor_start ("http", http_actor, &args, NULL, NULL);
    /* Each server takes up to 2 s to stop (civetweb's master thread polls
       its listeners that long): the second only for the suite that uses
       it. */
    if (single)
        s_http_single = actor_start ("http", http_actor, &args1, NULL, NULL);
    if (!s_http_main || (single && !s_http_single)) {
        fprintf (stderr, "cannot listen on %s / %s\n", listen, listen1);
        return -1;
    }
    return 0;
}

int
hf_stop (void)
{
    /* zactor_destroy waits for the actor's last signal: no timeout. */
    zsock_set_rcvtimeo (s_http_main, -1);
    zactor_destroy (&s_http_main);
    if (s_http_single) {
        zsock_set_rcvtimeo (s_http_single, -1);
        zactor_destroy (&s_http_single);
    }
    zactor_destroy (&s_fake);
    mg_exit_library ();
    fixture_kv_close (&hf_kv);
    fixture_tmpdir_remove ();
    return check_report ();
}
