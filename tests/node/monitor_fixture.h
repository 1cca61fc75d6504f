/*  monitor_fixture.h -- what the monitor's tests (test_monitor_*.c)
    share: monitor actors publishing on tcp://127.0.0.1:<port> (4 ports per
    run in 20000-21999, derived from the pid so that parallel runs rarely
    collide, and apart from the transport tests' 19000-19999), each with
    the inproc PUSH the node's actors use, and real SUB sockets over
    loopback TCP to read the events back.

        int main (void) {
            mf_init ("test_monitor_actor");
            mf_mons_start ();          node 1 on mf_base_port, 2 on + 1
            check_run ("monitor up event", test_up_event);
            return mf_done ();
        }
*/
#ifndef MONITOR_FIXTURE_H_INCLUDED
#define MONITOR_FIXTURE_H_INCLUDED

#include "actors.h"
#include "monitor.h"
#include "msg_trace.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char listen[64];
    char endpoint[96];
    monitor_args_t args; /* must outlive zactor_new */
    zactor_t *actor;
    zsock_t *push; /* plays the node's actors */
} mf_mon_t;

extern mf_mon_t mf_m1; /* node 1: fields, filtering, garbage, client */
extern mf_mon_t mf_m2; /* node 2: the merged timeline */
/* This run's 4 ports start here (m1, m2, then the tests' own). */
extern int mf_base_port;

/* Watchdog (30 s), logs, czmq and the base port. */
void mf_init (const char *name);
/* mf_m1 (id 1) on mf_base_port and mf_m2 (id 2) on mf_base_port + 1. */
void mf_mons_start (void);
/* The monitors stopped if started; the exit status (check_report). */
int mf_done (void);

void mf_mon_start (mf_mon_t *m, raft_id_t id, int port, int hwm);
void mf_mon_stop (mf_mon_t *m);
/* STATS, answered within timeout_ms: 0, or -1. */
int mf_stats (mf_mon_t *m, uint64_t *published, uint64_t *dropped,
              uint64_t *malformed, int timeout_ms);
/* An event pushed as the node's actors do (retried while the queue is
   full: the tests want every event in). */
void mf_push (mf_mon_t *m, const char *kind, uint64_t term, uint64_t a,
              uint64_t b, const char *text);
zsock_t *mf_sub_new (mf_mon_t *m, const char *topic, int rcvhwm);
/* Next event on sub within timeout_ms, with its topic: 0, or -1. */
int mf_recv (zsock_t *sub, msg_trace_t *t, char *topic, size_t size,
             int timeout_ms);
/* Push probes until the subscription has reached the publisher, then
   drain; the last seq seen. */
uint64_t mf_sync (mf_mon_t *m, zsock_t *sub);

#endif
