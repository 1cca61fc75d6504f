/*  monitor_fixture.c -- see monitor_fixture.h. */
#include "monitor_fixture.h"
#include "check.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mf_base_port;
mf_mon_t mf_m1, mf_m2;

void
mf_mon_start (mf_mon_t *m, raft_id_t id, int port, int hwm)
{
    memset (m, 0, sizeof *m);
    snprintf (m->listen, sizeof m->listen, "tcp://127.0.0.1:%d", port);
    snprintf (m->endpoint, sizeof m->endpoint, "inproc://test-monitor-%d-%d",
              (int)getpid (), port);
    m->args = (monitor_args_t){
        .id = id, .listen = m->listen, .endpoint = m->endpoint, .hwm = hwm};
    m->actor = zactor_new (monitor_actor, &m->args);
    m->push = monitor_push_new (m->endpoint);
}

void
mf_mon_stop (mf_mon_t *m)
{
    zsock_destroy (&m->push);
    zactor_destroy (&m->actor);
}

/* STATS, answered within timeout_ms: 0, or -1. */
int
mf_stats (mf_mon_t *m, uint64_t *published, uint64_t *dropped,
          uint64_t *malformed, int timeout_ms)
{
    zstr_send (m->actor, "STATS");
    zpoller_t *poller = zpoller_new (zactor_sock (m->actor), NULL);
    void *which = zpoller_wait (poller, timeout_ms);
    zpoller_destroy (&poller);
    if (!which)
        return -1;
    char *s = zstr_recv (m->actor);
    unsigned long long p = 0, d = 0, x = 0;
    int n = s ? sscanf (s, "%llu %llu %llu", &p, &d, &x) : 0;
    zstr_free (&s);
    *published = p;
    *dropped = d;
    *malformed = x;
    return n == 3 ? 0 : -1;
}

void
mf_push (mf_mon_t *m, const char *kind, uint64_t term, uint64_t a, uint64_t b,
         const char *text)
{
    msg_trace_ev_t ev;
    msg_trace_ev_set (&ev, kind, term, a, b, "%s", text);
    /* The PUSH drops when the monitor's queue is full: the test wants
       every event in, so it retries. */
    while (monitor_push (m->push, &ev) != 0)
        zclock_sleep (1);
}

zsock_t *
mf_sub_new (mf_mon_t *m, const char *topic, int rcvhwm)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    zsock_set_rcvhwm (sub, rcvhwm);
    zsock_set_subscribe (sub, topic);
    zsock_connect (sub, "%s", m->listen);
    return sub;
}

/* Next event on sub within timeout_ms, with its topic: 0, or -1. */
int
mf_recv (zsock_t *sub, msg_trace_t *t, char *topic, size_t size, int timeout_ms)
{
    zsock_set_rcvtimeo (sub, timeout_ms);
    zmsg_t *zm = zmsg_recv (sub);
    if (!zm)
        return -1;
    if (topic) {
        zframe_t *f = zmsg_first (zm);
        size_t n = zframe_size (f) < size - 1 ? zframe_size (f) : size - 1;
        memcpy (topic, zframe_data (f), n);
        topic[n] = 0;
    }
    int rc = msg_trace_decode (zm, t);
    zmsg_destroy (&zm);
    return rc;
}

/* PUB/SUB drops everything until the subscription has reached the
   publisher: push probes until one arrives, then drain. Returns the last
   seq seen, so the caller knows what comes next. */
uint64_t
mf_sync (mf_mon_t *m, zsock_t *sub)
{
    msg_trace_t t;
    uint64_t last = 0;
    for (int i = 0; i < 200 && last == 0; i++) {
        mf_push (m, "probe", 0, 0, 0, "");
        if (mf_recv (sub, &t, NULL, 0, 20) == 0)
            last = t.seq;
    }
    while (mf_recv (sub, &t, NULL, 0, 100) == 0)
        last = t.seq;
    return last;
}

static bool s_mons_started;

void
mf_init (const char *name)
{
    check_watchdog (name, 30);
    log_init (0,
              getenv ("NSXD_TEST_VERBOSE") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
    zsys_init ();
    mf_base_port = 20000 + (int)(getpid () % 500) * 4; /* 4 ports each */
}

void
mf_mons_start (void)
{
    mf_mon_start (&mf_m1, 1, mf_base_port, 0);
    mf_mon_start (&mf_m2, 2, mf_base_port + 1, 0);
    s_mons_started = true;
}

int
mf_done (void)
{
    if (s_mons_started) {
        mf_mon_stop (&mf_m1);
        mf_mon_stop (&mf_m2);
    }
    return check_report ();
}
