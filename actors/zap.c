/*  zap.c -- the zap actor: the ZeroMQ authentication handler (ZAP, RFC 27)
    that decides, during the CURVE handshake, who may connect to this
    node's peer port and monitoring socket.

    libzmq asks one handler per process, at inproc://zeromq.zap.01, about
    every CURVE handshake on a socket that serves CURVE. If no handler is
    bound, libzmq 4.3 lets every client in -- so main starts this actor
    before any socket that serves CURVE, and stops if it cannot bind.

    Protocol
    --------
    pipe (zactor, from main):
        "$TERM"   end the actor.
        "STATUS"  answered with zsock_signal: 0 bound and answering, 1 not.
        start-up: signal 0 once bound; signal 1 and "FAILED" if not (as the
                  other actors do), then only "$TERM".

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
#include "actors.h"
#include "log.h"
#include "peer_keys.h"

#include <inttypes.h>
#include <string.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_REPORT_MS 1000

typedef struct {
    zsock_t *pipe;
    zsock_t *rep;
    peer_keys_t *keys;
    int64_t last_log;
    uint64_t refused, logged; /* refusals, and how many were logged */
} self_t;

static bool
s_frame_is (zframe_t *f, const char *s)
{
    return f && zframe_size (f) == strlen (s) &&
           memcmp (zframe_data (f), s, zframe_size (f)) == 0;
}

/* Decide one request: status "200" or "400", and the user id. */
static const char *
s_decide (self_t *self, zmsg_t *req, char *user, size_t user_len, char *addr,
          size_t addr_len, bool *monitor)
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
        raft_id_t id = peer_keys_member_of (self->keys, zframe_data (key));
        if (!id)
            return "400";
        snprintf (user, user_len, "%" PRIu64, id);
        return "200";
    }
    if (*monitor && peer_keys_is_trace (self->keys, zframe_data (key))) {
        snprintf (user, user_len, "trace");
        return "200";
    }
    return "400";
}

static void
s_handle_request (self_t *self)
{
    zmsg_t *req = zmsg_recv (self->rep);
    if (!req)
        return;
    char user[32], addr[128];
    bool monitor = false;
    const char *status =
        s_decide (self, req, user, sizeof user, addr, sizeof addr, &monitor);
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
        return;
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
}

void
zap_actor (zsock_t *pipe, void *args)
{
    pthread_setname_np (pthread_self (), "zap");
    self_t self = {.pipe = pipe, .keys = ((zap_args_t *)args)->keys};
    self.rep = zsock_new (ZMQ_REP);
    if (!self.rep || zsock_bind (self.rep, S_ZAP_ENDPOINT) != 0) {
        log_error ("zap: cannot bind %s: %s", S_ZAP_ENDPOINT,
                   zmq_strerror (zmq_errno ()));
        zsock_destroy (&self.rep);
        zsock_signal (pipe, 1);
        zstr_send (pipe, "FAILED");
        char *command;
        while ((command = zstr_recv (pipe))) {
            bool term = streq (command, "$TERM");
            if (streq (command, "STATUS"))
                zsock_signal (pipe, 1);
            free (command);
            if (term)
                break;
        }
        return;
    }
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, self.rep, NULL);
    while (poller) {
        void *which = zpoller_wait (poller, -1);
        if (which == self.rep) {
            s_handle_request (&self);
        } else if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            if (command && streq (command, "STATUS"))
                zsock_signal (pipe, 0);
            free (command);
            if (term)
                break;
        } else if (zpoller_terminated (poller)) {
            break;
        }
    }
    zpoller_destroy (&poller);
    /* Unbind at once: the endpoint is released only when libzmq reaps the
       socket, and a test may start another handler right after. */
    zsock_unbind (self.rep, S_ZAP_ENDPOINT);
    zsock_destroy (&self.rep);
}
