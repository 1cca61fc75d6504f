/*  http_fixture.h -- what the HTTP actor's tests (test_http_*.c) share:
    two http actors running for real on 127.0.0.1 (ports derived from the
    pid) against a FAKE raft actor, and a raw HTTP client.

    The fake is a ROUTER bound at the API endpoint in a thread of the
    test, answering each request with a canned typed reply chosen by op
    and key:

        health                 200 health: id 7, peer_addr, role leader
        put key "slow"         never answers (the 503 timeout)
        put key "bogus"        first a reply with another req_id and a
                               garbage frame, then the real one
        put key "leader"       409 error not_leader, leader node2:8000
        read (the barrier)     as hf_barrier says: 200 empty, never, late
                               (409 after the HTTP side gave up), or 409
                               not_leader
        get                    (only before the store is open) 200
                               value: the key as its own value
        other put/delete       200 written, index = the value's length
        join/remove            200 conf (id, index 42); the request is
                               kept for the test to look at (hf_last_is)

    GETs take production's path (nsxd.c): the KV data is a real store in a
    scratch directory, published to the workers in a kv_shared_t, so a GET
    asks the fake only for the read barrier (a stale one not even that)
    and reads LevelDB itself. The fake counts what reaches it: no GET
    should, but in the window before the store is open.

    The client is raw POSIX sockets, so hostile input can be sent as is.

        int main (void) {
            if (hf_start ("test_http_routes", false) != 0)
                return 1;
            check_run ("put", s_test_put);
            return hf_stop ();
        }
*/
#ifndef HTTP_FIXTURE_H_INCLUDED
#define HTTP_FIXTURE_H_INCLUDED

#include "fixture.h"
#include "actors.h"
#include "json.h"
#include "msg_api.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define HF_TIMEOUT_MS 1000
/* headers and body within this (--request-read-ms) */
#define HF_READ_MS 1000
#define HF_MAX_BODY 4096
#define HF_MAX_KEY 64
#define HF_MAX_VALUE 1024
/* The fake's late reply comes after the HTTP side's deadline. */
#define HF_LATE_MS (HF_TIMEOUT_MS + 800)
/* Concurrent clients, and the GETs each makes of its own keys
   ("c<client>-<i>", in the store from the start). */
#define HF_CLIENTS 8
#define HF_PER_CLIENT 25

extern int hf_port;        /* the main server: 8 workers */
extern int hf_port_single; /* a second server with 1 worker (hf_start) */
extern int hf_port_closed; /* nothing listens here */
extern char hf_api[64];    /* the fake's API endpoint */

/* The KV data the workers read, as nsxd.c publishes it: the keys "foo",
   "a b/c", "x", "ka", "after", HF_MAX_KEY k's and the clients' keys, each
   holding its own name. */
extern kv_shared_t hf_kv;

/* How the fake answers read barriers (MSG_API_READ). */
typedef enum {
    HF_BARRIER_OK,         /* 200 {}: confirmed leader, applied */
    HF_BARRIER_SILENT,     /* never: the 503 timeout */
    HF_BARRIER_LATE,       /* 409 {"late": true} after the deadline */
    HF_BARRIER_NOT_LEADER, /* 409 not_leader */
} hf_barrier_t;
extern _Atomic hf_barrier_t hf_barrier;

/* A health with every optional part present (the codec and render
   tests' sample). */
extern const msg_health_t hf_full_health;

/* The read barriers and the GETs that reached the fake so far. */
int hf_reads (void);
int hf_gets (void);
/* The last join or remove the fake received was this one (else says
   which it was on stderr). */
bool hf_last_is (msg_api_op_t op, raft_id_t id, const char *peer);

/* Watchdog, logs, the store, the fake and the main server, with single
   the second (hf_port_single) too. 0 or -1. */
int hf_start (const char *name, bool single);
/* All stopped and removed; the exit status (check_report). */
int hf_stop (void);

/*  The raw client. */
typedef struct {
    int status;
    char head[8192];
    char body[65536];
    size_t body_len;
    json_t *json; /* body parsed, or NULL */
} hf_resp_t;

/* A connected socket (5 s timeouts), or -1. */
int hf_dial (int port);
/* Send what can be sent: the server may close early on hostile input. */
void hf_send_all (int fd, const void *data, size_t len);
/* A header's value (thread-local buffer), or NULL. */
const char *hf_header (const hf_resp_t *r, const char *name);
void hf_resp_free (hf_resp_t *r);
/* Read one response. 0, or -1 if the connection ended or timed out
   before a complete one. */
int hf_read_resp (int fd, hf_resp_t *r);
/* One raw request on a new connection. */
int hf_raw (int port, const void *req, size_t len, hf_resp_t *r);
/* method path [body], as curl sends it, Connection: close. */
int hf_http (int port, const char *method, const char *path, const char *body,
             hf_resp_t *r);
const char *hf_jstr (const hf_resp_t *r, const char *field);
/* Null-safe: a failed request must fail a CHECK, not crash the test. */
bool hf_jstr_is (const hf_resp_t *r, const char *field, const char *want);
long long hf_jint (const hf_resp_t *r, const char *field);
/* The body is exactly text (else both on stderr). */
bool hf_body_is (const hf_resp_t *r, const char *text);
/* A JSON reply with Content-Type and Content-Length set. */
bool hf_is_json (const hf_resp_t *r);
/* GET /health on the main server still answers 200. */
bool hf_still_serving (void);

#endif
