/*  actor.c -- see actor.h. */
#include "actor.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>

typedef struct {
    zactor_fn *fn;
    void *args;
    node_ctx_t *ctx;
    char name[16]; /* a thread name holds 15 characters */
} s_shim_t;

/* Runs on the new thread. czmq's zactor_new waits for one signal and
   drops its status, so this first signal only says "the thread runs";
   the actor's own (actor_ready) follows, and actor_start reads it. */
static void
s_shim (zsock_t *pipe, void *arg)
{
    s_shim_t shim = *(s_shim_t *)arg; /* the caller's copy goes away */
    pthread_setname_np (pthread_self (), shim.name);
    node_ctx_bind (shim.ctx);
    zsock_signal (pipe, 0);
    shim.fn (pipe, shim.args);
    node_ctx_bind (NULL);
}

zactor_t *
actor_start (const char *name, zactor_fn *fn, void *args, node_ctx_t *ctx,
             int *status)
{
    s_shim_t shim = {.fn = fn, .args = args, .ctx = ctx};
    snprintf (shim.name, sizeof shim.name, "%s", name);
    zactor_t *actor = zactor_new (s_shim, &shim);
    int rc = actor ? zsock_wait (actor) : -1;
    if (status)
        *status = rc;
    if (rc != 0) {
        log_error ("the %s actor did not start (status %d)", name, rc);
        zactor_destroy (&actor);
    }
    return actor;
}

/* Read the pipe until "$TERM" (or the pipe is gone). */
static void
s_wait_term (zsock_t *pipe)
{
    while (true) {
        char *command = zstr_recv (pipe);
        if (!command && errno == EINTR)
            continue; /* a signal: main decides, with $TERM */
        bool term = !command || streq (command, "$TERM");
        zstr_free (&command);
        if (term)
            return;
    }
}

int
actor_ready (zsock_t *pipe, int status)
{
    zsock_signal (pipe, (byte)status);
    if (status == 0)
        return 0;
    s_wait_term (pipe);
    return -1;
}

int
actor_run (zloop_t *loop)
{
    /* Signals are main's: only "$TERM" (a handler's -1) ends the loop. */
    zloop_set_nonstop (loop, true);
    while (true) {
        if (zloop_start (loop) != 0)
            return 0; /* a handler returned -1 */
        /* zmq_poll failed: a signal restarts the loop; anything else is
           the context terminating. */
        if (zmq_errno () != EINTR)
            return -1;
    }
}

int
actor_fail (zsock_t *pipe, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (reason, sizeof reason, fmt, ap);
    va_end (ap);
    log_error ("%s", reason);
    zstr_sendf (pipe, "FAILED %s", reason);
    s_wait_term (pipe);
    return -1;
}

bool
actor_failed (const char *msg, const char **reason)
{
    if (!msg || strncmp (msg, "FAILED", 6) != 0 ||
        (msg[6] != 0 && msg[6] != ' '))
        return false;
    if (reason)
        *reason = msg[6] ? msg + 7 : "";
    return true;
}
