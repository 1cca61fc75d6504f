/*  actor.h -- the one skeleton every nsxd actor follows, and how a node
    starts, watches and stops its actors.

    The shape is czmq's own actors' (src/zmonitor.c, src/zbeacon.c):

        typedef struct {
            zsock_t *pipe;      // to whoever started us
            zloop_t *loop;      // readers per socket, timers
            int status;         // 0, or why the start failed (logged)
            ...                 // the actor's sockets and state
        } self_t;

        static self_t *s_self_new (zsock_t *pipe, const foo_args_t *args);
        static void s_self_destroy (self_t **self_p);
        static int s_self_handle_pipe (zloop_t *, zsock_t *pipe, void *);
                                  // "$TERM": return -1; other commands
        static int s_handle_<socket> (zloop_t *, zsock_t *, void *);
                                  // one handler per socket; timers alike

        void
        foo_actor (zsock_t *pipe, void *args)
        {
            self_t *self = s_self_new (pipe, args);
            if (actor_ready (pipe, self ? self->status : ACTOR_NO_MEMORY)
                == 0)
                actor_run (self->loop);
            s_self_destroy (&self);
        }

    One loop: a zloop (readers, zloop_timer, zloop_ticket for many equal
    timeouts), run by actor_run, which restarts it after a signal (main
    owns the shutdown) and ends it when a handler returns -1.

    The contract
    ------------
    Start-up, one handshake. The actor sets itself up, then signals its
    pipe exactly once (actor_ready): 0 when it is ready, or a non-zero
    status when it is not, after logging why (log_error). The caller
    starts it with actor_start, which returns the actor only when it
    signalled 0, and NULL (the actor stopped, the status in *status)
    otherwise -- the same check for every actor. A failed actor does
    nothing but wait for "$TERM" (actor_ready does it), so that its
    thread ends only on "$TERM" whoever started it: actor_start, or a
    test's own zactor_new (which swallows the status: czmq's zactor_new
    drops what zsock_wait returns, which is why actor_start exists).

    A failure after start, one way. The actor calls actor_fail from the
    handler that hit it: the reason is logged and sent up the pipe as one
    string frame, "FAILED <reason>", and the actor then waits for "$TERM"
    doing nothing else; the handler returns actor_fail's -1, which ends
    the loop. Whoever started it watches the pipe (node_wait, node.h,
    turns it into a clean stop of the whole node and exit status 1). An
    actor never exits, aborts or stops other actors on its own.

    Stop. "$TERM" on the pipe, from zactor_destroy, in any state: the
    handler returns -1, actor_run returns, s_self_destroy closes
    everything (unbinding inproc endpoints, so that a node restarted in
    the same process can bind them again).

    Other pipe commands (STATS, SHUTDOWN ...) are each actor's own,
    listed in the protocol at the top of its file; a reply goes back on
    the pipe, never as a signal, so that a signal on the pipe always
    means "start-up status" or "thread ended".

    Per-node state: actor_start binds the thread to the node's context
    (node_ctx.h) before the actor function runs, so the actor's log
    lines, metrics and trace decisions are its node's.
*/
#ifndef ACTOR_H_INCLUDED
#define ACTOR_H_INCLUDED

#include "node_ctx.h"

#include <czmq.h>
#include <stdbool.h>

/* Start-up statuses every actor may use; others are the actor's own
   (documented in its file). */
#define ACTOR_NO_MEMORY 100

/* Start fn (args must stay valid while it runs) on its own thread,
   named `name` (top -H, perf), bound to ctx (NULL: no node). Returns the
   actor once it signalled 0; otherwise logs "<name> actor did not start",
   destroys it and returns NULL. *status (if not NULL) gets the signal's
   status (-1: the thread could not be created). */
zactor_t *actor_start (const char *name, zactor_fn *fn, void *args,
                       node_ctx_t *ctx, int *status);

/* From the actor, once: signal status on the pipe. 0: returns 0, run the
   loop. Otherwise (the reason logged first): waits for "$TERM" and
   returns -1; then destroy self and return. */
int actor_ready (zsock_t *pipe, int status);

/* Run loop until a handler returns -1 ("$TERM", or actor_fail). 0, or -1
   if the ZeroMQ context is going away. */
int actor_run (zloop_t *loop);

/* A failure after start: logs "<reason>", sends "FAILED <reason>" on the
   pipe, waits for "$TERM" and returns -1, for the handler to return. */
int actor_fail (zsock_t *pipe, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* Whether msg (a string read from an actor's pipe) reports a failure; if
   so *reason is the text after "FAILED" ("" if none). */
bool actor_failed (const char *msg, const char **reason);

#endif
