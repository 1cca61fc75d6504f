/*  test_actor.c -- the actor skeleton's contract (actors/actor.h), on a
    toy actor: a failed start is no actor and gives its status, a later
    failure is one "FAILED <reason>" on the pipe, "$TERM" ends it either
    way. One line per test; exit status 1 if any check failed.
*/
#include "actor.h"
#include "check.h"
#include "log.h"

typedef struct {
    zsock_t *pipe;
    zloop_t *loop;
    int status;
} toy_t;

static int
s_toy_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop, (void)arg;
    char *cmd = zstr_recv (pipe);
    if (!cmd)
        return 0;
    int rc = streq (cmd, "$TERM") ? -1 : 0;
    if (streq (cmd, "BREAK"))
        rc = actor_fail (pipe, "toy: broken on purpose");
    else if (streq (cmd, "PING"))
        zstr_send (pipe, "PONG");
    zstr_free (&cmd);
    return rc;
}

/* args: the start-up status to report. */
static void
s_toy_actor (zsock_t *pipe, void *args)
{
    toy_t self = {.pipe = pipe, .status = *(int *)args};
    self.loop = zloop_new ();
    zloop_reader (self.loop, pipe, s_toy_handle_pipe, &self);
    if (self.status)
        log_error ("toy: failing at start with %d", self.status);
    if (actor_ready (pipe, self.status) == 0)
        actor_run (self.loop);
    zloop_destroy (&self.loop);
}

static void
test_contract (void)
{
    /* a failed start: no actor, its status, and no thread left behind
       (actor_start waited for it to end) */
    int want = 7, status = 0;
    zactor_t *a = actor_start ("toy", s_toy_actor, &want, NULL, &status);
    CHECK (a == NULL && status == 7);
    /* a ready actor works, then fails later: one "FAILED <reason>" */
    want = 0;
    a = actor_start ("toy", s_toy_actor, &want, NULL, &status);
    CHECK (a != NULL && status == 0);
    if (!a)
        return;
    zsock_set_rcvtimeo (zactor_sock (a), 2000);
    zstr_send (a, "PING");
    char *s = zstr_recv (a);
    CHECK (s && streq (s, "PONG"));
    zstr_free (&s);
    zstr_send (a, "BREAK");
    s = zstr_recv (a);
    const char *reason = NULL;
    CHECK (actor_failed (s, &reason) &&
           streq (reason, "toy: broken on purpose"));
    zstr_free (&s);
    zactor_destroy (&a); /* "$TERM" still ends it */
    CHECK (actor_failed ("FAILED", &reason) && streq (reason, ""));
    CHECK (!actor_failed ("FAILEDX", &reason) && !actor_failed ("DONE", NULL));
}

int
main (void)
{
    check_watchdog ("test_actor", 30);
    /* the toy's start-up error is planned */
    log_init (0, (log_level_t)(LOG_LEVEL_ERROR + 1));
    check_run ("the actor contract: start-up status, FAILED, $TERM",
               test_contract);
    return check_report ();
}
