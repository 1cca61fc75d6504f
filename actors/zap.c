/*  zap.c -- the zap actor: the ZeroMQ authentication handler (ZAP, RFC 27)
    that decides, during the CURVE handshake, who may connect to the peer
    ports and monitoring sockets of the nodes in this process.

    libzmq asks one handler per ZeroMQ context, at inproc://zeromq.zap.01,
    about every CURVE handshake on a socket that serves CURVE, and czmq
    has one context per process: so there is one zap actor per process,
    however many nodes it runs. Each node registers its keys
    (zap_register) before any of its sockets serves CURVE, and the first
    registration starts the actor; the node unregisters once its sockets
    are closed, and the last one stops it. If no handler is bound, libzmq
    4.3 lets every client in -- so a node whose keys cannot be registered
    (the actor cannot bind) does not start.

    A client is accepted if any registered node's keys accept it. Nodes
    in one process are one cluster's (nsxd runs one node; the in-process
    test three of one cluster, with one secret): the keys of nodes of two
    clusters in one process would be accepted on both clusters' sockets.

    Protocol
    --------
    pipe (the skeleton and its contract: actor.h):
        start-up  signal 0 once bound; 1 if the endpoint cannot be bound
                  (another handler in the process), after logging why.
        "$TERM"   end the actor.

    REP (bound on inproc://zeromq.zap.01), libzmq's ZAP requests:
        [version "1.0"][request id][domain][address][identity]
        [mechanism][credentials...]
      answered
        [version "1.0"][request id][status][status text][user id][metadata]
      Domain PEER_KEYS_DOMAIN_PEER, mechanism CURVE: a client key that is a
      member's key (peer_keys_member_of) gets "200" and user id = the
      member's id in decimal; libzmq then stamps every message of that
      connection with it ("User-Id"), and the transport hands it to the
      raft actor with the payload, so a message's `from` is checked against
      the member the handshake authenticated. Domain
      PEER_KEYS_DOMAIN_MONITOR: the trace key gets "200", user id "trace".
      Anything else gets "400" and libzmq closes the connection: a client
      without a valid key never gets a message through.

    Refusals are logged at most once a second with the client's address;
    /metrics counts them, with every other failed handshake, from the
    sockets' own events (nsxd_peer_handshakes_refused_total, conn_limit.h).
*/
#include "actor.h"
#include "actors.h"
#include "log.h"
#include "peer_keys.h"

#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_REPORT_MS 1000

#define S_MAX_KEYS 64 /* nodes in one process */

/* The registered keys. s_keys_lock guards the table (the actor reads it
   per request, nodes edit it); s_life_lock serialises starting and
   stopping the actor, and is never held while the actor waits for
   s_keys_lock. */
static pthread_mutex_t s_keys_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t s_life_lock = PTHREAD_MUTEX_INITIALIZER;
static peer_keys_t *s_keys[S_MAX_KEYS];
static size_t s_n_keys;
static zactor_t *s_actor;

typedef struct {
    zsock_t *pipe;
    zsock_t *rep;
    zloop_t *loop;
    int status;
    int64_t last_log;
    uint64_t refused, logged; /* refusals, and how many were logged */
} self_t;

/* The member a key is, under any registered node's keys, or 0. */
static raft_id_t
s_member_of (const uint8_t key[32])
{
    raft_id_t id = 0;
    pthread_mutex_lock (&s_keys_lock);
    for (size_t i = 0; i < s_n_keys && !id; i++)
        id = peer_keys_member_of (s_keys[i], key);
    pthread_mutex_unlock (&s_keys_lock);
    return id;
}

static bool
s_is_trace (const uint8_t key[32])
{
    bool trace = false;
    pthread_mutex_lock (&s_keys_lock);
    for (size_t i = 0; i < s_n_keys && !trace; i++)
        trace = peer_keys_is_trace (s_keys[i], key);
    pthread_mutex_unlock (&s_keys_lock);
    return trace;
}

static bool
s_frame_is (zframe_t *f, const char *s)
{
    return f && zframe_size (f) == strlen (s) &&
           memcmp (zframe_data (f), s, zframe_size (f)) == 0;
}

/* Decide one request: status "200" or "400", and the user id. */
static const char *
s_decide (zmsg_t *req, char *user, size_t user_len, char *addr, size_t addr_len,
          bool *monitor)
{
    zframe_t *version = zmsg_first (req);
    zframe_t *request_id = zmsg_next (req);
    zframe_t *domain = zmsg_next (req);
    zframe_t *address = zmsg_next (req);
    zframe_t *identity = zmsg_next (req);
    zframe_t *mechanism = zmsg_next (req);
    zframe_t *key = zmsg_next (req);
    (void)request_id, (void)identity;
    user[0] = 0;
    snprintf (addr, addr_len, "%.*s", address ? (int)zframe_size (address) : 0,
              address ? (const char *)zframe_data (address) : "");
    *monitor = s_frame_is (domain, PEER_KEYS_DOMAIN_MONITOR);
    /* libzmq 4.3 asks the handler about NULL-mechanism connections too,
       even on sockets that set no domain (plain sockets in the same
       process, such as --insecure-peers nodes in a test): those are not
       ours to decide. A socket that serves CURVE never asks with NULL. */
    if (s_frame_is (version, "1.0") && s_frame_is (mechanism, "NULL") &&
        domain && zframe_size (domain) == 0)
        return "200";
    if (!s_frame_is (version, "1.0") || !s_frame_is (mechanism, "CURVE") ||
        !key || zframe_size (key) != 32)
        return "400";
    if (s_frame_is (domain, PEER_KEYS_DOMAIN_PEER)) {
        raft_id_t id = s_member_of (zframe_data (key));
        if (!id)
            return "400";
        snprintf (user, user_len, "%" PRIu64, id);
        return "200";
    }
    if (*monitor && s_is_trace (zframe_data (key))) {
        snprintf (user, user_len, "trace");
        return "200";
    }
    return "400";
}

static int
s_handle_request (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop, (void)sock;
    self_t *self = arg;
    zmsg_t *req = zmsg_recv (self->rep);
    if (!req)
        return 0;
    char user[32], addr[128];
    bool monitor = false;
    const char *status =
        s_decide (req, user, sizeof user, addr, sizeof addr, &monitor);
    bool ok = streq (status, "200");
    zmsg_t *rep = zmsg_new ();
    zframe_t *request_id = zmsg_first (req) ? zmsg_next (req) : NULL;
    zmsg_addstr (rep, "1.0");
    if (request_id)
        zmsg_addmem (rep, zframe_data (request_id), zframe_size (request_id));
    else
        zmsg_addstr (rep, "");
    zmsg_addstr (rep, status);
    zmsg_addstr (rep, ok ? "OK" : "no valid key for this cluster");
    zmsg_addstr (rep, user);
    zmsg_addmem (rep, "", 0); /* metadata */
    zmsg_send (&rep, self->rep);
    zmsg_destroy (&req);
    if (ok)
        return 0;
    /* Counted for /metrics by the socket's owner, with every other failed
       handshake (conn_limit.h). */
    self->refused++;
    int64_t now = zclock_mono ();
    if (now - self->last_log >= S_REPORT_MS) {
        log_warn ("zap: refused a %s connection from %s without a valid key "
                  "(%" PRIu64 " refused since the last report)",
                  monitor ? "monitor" : "peer", addr,
                  self->refused - self->logged);
        self->logged = self->refused;
        self->last_log = now;
    }
    return 0;
}

static int
s_self_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop, (void)arg;
    char *command = zstr_recv (pipe);
    if (!command)
        return 0; /* interrupted: actor_run restarts the loop */
    bool term = streq (command, "$TERM");
    if (!term)
        log_warn ("zap: unknown command '%s' on the pipe", command);
    zstr_free (&command);
    return term ? -1 : 0;
}

static self_t *
s_self_new (zsock_t *pipe)
{
    self_t *self = (self_t *)zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->rep = zsock_new (ZMQ_REP);
    if (!self->rep || zsock_bind (self->rep, S_ZAP_ENDPOINT) != 0) {
        log_error ("zap: cannot bind %s: %s", S_ZAP_ENDPOINT,
                   zmq_strerror (zmq_errno ()));
        zsock_destroy (&self->rep);
        self->status = 1;
        return self;
    }
    self->loop = zloop_new ();
    zloop_reader (self->loop, pipe, s_self_handle_pipe, self);
    zloop_reader (self->loop, self->rep, s_handle_request, self);
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    zloop_destroy (&self->loop);
    /* Unbind at once: the endpoint is released only when libzmq reaps the
       socket, and the next node (or test) may start another handler right
       after. */
    if (self->rep)
        zsock_unbind (self->rep, S_ZAP_ENDPOINT);
    zsock_destroy (&self->rep);
    free (self);
    *self_p = NULL;
}

void
zap_actor (zsock_t *pipe, void *args)
{
    (void)args;
    self_t *self = s_self_new (pipe);
    if (actor_ready (pipe, self->status) == 0)
        actor_run (self->loop);
    s_self_destroy (&self);
}

/*  ---------------------------------------------------------------------
    Registration                                                         */

int
zap_register (peer_keys_t *keys)
{
    pthread_mutex_lock (&s_life_lock);
    int rc = 0;
    if (s_n_keys == S_MAX_KEYS) {
        log_error ("zap: more than %d nodes in one process", S_MAX_KEYS);
        rc = -1;
    } else if (!s_actor) {
        s_actor = actor_start ("zap", zap_actor, NULL, NULL, NULL);
        rc = s_actor ? 0 : -1;
    }
    if (rc == 0) {
        pthread_mutex_lock (&s_keys_lock);
        s_keys[s_n_keys++] = keys;
        pthread_mutex_unlock (&s_keys_lock);
    }
    pthread_mutex_unlock (&s_life_lock);
    return rc;
}

void
zap_unregister (peer_keys_t *keys)
{
    pthread_mutex_lock (&s_life_lock);
    pthread_mutex_lock (&s_keys_lock);
    for (size_t i = 0; i < s_n_keys; i++)
        if (s_keys[i] == keys) {
            s_keys[i] = s_keys[--s_n_keys];
            break;
        }
    bool last = s_n_keys == 0;
    pthread_mutex_unlock (&s_keys_lock);
    if (last)
        zactor_destroy (&s_actor);
    pthread_mutex_unlock (&s_life_lock);
}
