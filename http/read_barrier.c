/*  read_barrier.c -- the shared read barrier (read_barrier.h).

    Rounds. Waiting workers are on one of two lists:
      open    the next round: joined, its request not sent yet;
      flight  the round in flight: its request sent, no answer yet.
    At most one round is in flight. A worker that needs a barrier joins
    `open`. When no round is in flight, the first worker of `open` to run
    takes the whole list as the round in flight (under the lock), then
    sends one MSG_API_READ (through ask, on its own DEALER, without the
    lock) and waits for the answer; with the answer it hands every worker
    of that round the same result and wakes them. Workers
    that arrived meanwhile are on the new `open` list: one of them sends
    the next round as soon as this one is answered. So under load there is
    one request to the raft actor per round trip, not one per GET, and a
    GET waits for at most the rest of the round in flight and its own.

    Wake-ups. A worker sleeps on a futex word of its round's parity (round
    k on seq[k % 2]; only rounds k and k + 1 exist at once) and finds its
    answer in its own record (w->done, w->out), without taking the lock
    again. An answer wakes every worker of its round and one of the next,
    which sends that round. With a condition variable (tried first) every
    woken worker had to take the mutex again on its way out: 3.0 voluntary
    context switches per linearizable GET in the workers, against 2.0 for
    the request-per-GET barrier and 1.0 for a stale GET (make bench's GET
    at 64 connections, /proc/PID/task/TID/status).

    Why this stays linearizable. §6.4: the leader must record its commit
    index as the read index after the read arrived, confirm it still leads
    (a heartbeat round a majority acknowledged, started after that), and
    answer once it has applied up to the read index. The raft actor does
    all three for each MSG_API_READ it receives (ra_read_index), and
    answers it only after storage reported the read index applied; the
    KV data this worker then reads holds every write committed before the
    read index was taken. That read index is taken when the raft actor
    receives the request, which is after the request was sent, which is
    after every worker of its round joined (a worker joins only `open`,
    and `open` becomes a round the moment before its request is sent, in
    one critical section). Hence every GET's read index is taken after the
    GET arrived, as if it had sent its own request. The rule that matters:
    a worker must never join a round already in flight. That round's
    request may have been sent -- and its read index taken -- before this
    GET arrived, so a write acknowledged to a client between the two would
    be missing from this GET's read: a stale read. (The planted bug
    NSXD_BUG (BARRIER_IN_FLIGHT) does exactly that; tests/node/
    test_read_barrier.c must catch it.)

    Errors and deadlines. An error answer (not_leader, leadership_lost,
    the raft actor's timeout) is the answer of every worker of the round.
    A worker whose own deadline passes first leaves its list and answers
    503 timeout; the round's sender is bounded by its ask's deadline.
*/
#include "read_barrier.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/*  Planted bug (Makefile NODE_BUGS, numbering shared with
    raft_actor_api.c): a worker joins the round in flight when there is
    one, so it may be answered by a read index taken before it arrived.  */
#ifndef NSXD_PLANTED_BUG
#define NSXD_PLANTED_BUG 0
#endif
#define NSXD_BUG_BARRIER_IN_FLIGHT 7
#define NSXD_BUG(name) (NSXD_PLANTED_BUG == NSXD_BUG_##name)

/* One waiting worker, on its own stack; on one list until done. Once done
   is set, the sender does not touch it again (the worker may be gone). */
typedef struct s_waiter_t {
    struct s_waiter_t *next;
    uint64_t round; /* the round it is in */
    atomic_bool done;
    http_read_barrier_result_t *out;
} s_waiter_t;

struct http_read_barrier_t {
    pthread_mutex_t mutex; /* the lists, in_flight, the counters */
    /* round k's workers sleep on seq[k % 2]; bumped to wake them */
    _Atomic uint32_t seq[2];
    s_waiter_t *open;   /* the next round: number rounds + 1 */
    s_waiter_t *flight; /* the round in flight: number rounds */
    bool in_flight;
    uint64_t rounds, waits; /* rounds sent, waits begun */
};

http_read_barrier_t *
http_read_barrier_new (void)
{
    http_read_barrier_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init (&self->mutex, NULL);
    atomic_init (&self->seq[0], 0);
    atomic_init (&self->seq[1], 0);
    return self;
}

void
http_read_barrier_destroy (http_read_barrier_t **self_p)
{
    http_read_barrier_t *self = *self_p;
    if (!self)
        return;
    /* REQUIRES: nobody waits (the workers have stopped). */
    assert (!self->open && !self->flight && !self->in_flight);
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
}

/* Sleep while *word is still `was`, until the absolute CLOCK_MONOTONIC
   time until: 0 when woken (or the word moved, or a signal), ETIMEDOUT. */
static int
s_futex_wait (_Atomic uint32_t *word, uint32_t was,
              const struct timespec *until)
{
    long rc = syscall (SYS_futex, (uint32_t *)word,
                       FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, was, until, NULL,
                       FUTEX_BITSET_MATCH_ANY);
    return rc == -1 && errno == ETIMEDOUT ? ETIMEDOUT : 0;
}

/* Wake up to n sleepers on the word, after moving it. */
static void
s_futex_wake (_Atomic uint32_t *word, int n)
{
    atomic_fetch_add (word, 1);
    syscall (SYS_futex, (uint32_t *)word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n,
             NULL, NULL, 0);
}

static void
s_push (s_waiter_t **list, s_waiter_t *w)
{
    w->next = *list;
    *list = w;
}

/* Take w off list if it is there. */
static bool
s_unlink (s_waiter_t **list, s_waiter_t *w)
{
    for (s_waiter_t **p = list; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            return true;
        }
    return false;
}

static struct timespec
s_abs_time (int64_t ms)
{
    if (ms < 0)
        ms = 0;
    return (struct timespec){.tv_sec = ms / 1000,
                             .tv_nsec = (long)(ms % 1000) * 1000000L};
}

static void
s_timeout (http_read_barrier_result_t *out)
{
    memset (out, 0, sizeof *out);
    out->status = 503;
    strcpy (out->code, "timeout");
}

/* This worker sends the open round (it is on it): the round goes in
   flight, ask runs without the lock, every worker of the round gets its
   answer, and one of the next round is woken to send it. REQUIRES: the
   lock held, no round in flight; returns with the lock held. */
static void
s_send_round (http_read_barrier_t *self, http_read_barrier_ask_fn *ask,
              void *arg)
{
    self->flight = self->open;
    self->open = NULL;
    self->in_flight = true;
    uint64_t round = ++self->rounds;
    pthread_mutex_unlock (&self->mutex);

    http_read_barrier_result_t res;
    memset (&res, 0, sizeof res);
    ask (arg, &res);
    res.round = round;

    pthread_mutex_lock (&self->mutex);
    for (s_waiter_t *w = self->flight, *next; w; w = next) {
        next = w->next;
        /* (a pass is status and round; an error is the whole record, 2 KiB
           of it the detail) */
        if (res.status == 200) {
            w->out->status = 200;
            w->out->round = round;
        } else {
            *w->out = res;
        }
        atomic_store_explicit (&w->done, true, memory_order_release);
    }
    self->flight = NULL;
    self->in_flight = false;
    s_futex_wake (&self->seq[round % 2], INT_MAX);
    if (self->open)
        s_futex_wake (&self->seq[(round + 1) % 2], 1);
}

int
http_read_barrier_wait (http_read_barrier_t *self,
                        http_read_barrier_ask_fn *ask, void *arg,
                        int64_t deadline_ms, http_read_barrier_result_t *out)
{
    s_waiter_t w = {.out = out};
    atomic_init (&w.done, false);
    struct timespec until = s_abs_time (deadline_ms);
    pthread_mutex_lock (&self->mutex);
    self->waits++;
    if (NSXD_BUG (BARRIER_IN_FLIGHT) && self->in_flight) {
        w.round = self->rounds;
        s_push (&self->flight, &w);
    } else {
        /* the next round, never the one in flight (see the top) */
        w.round = self->rounds + 1;
        s_push (&self->open, &w);
    }
    _Atomic uint32_t *word = &self->seq[w.round % 2];
    while (!atomic_load_explicit (&w.done, memory_order_acquire)) {
        if (!self->in_flight) {
            /* w is on `open` (only a sender moves it, and w is not done).
               Even past w's deadline: w may have been the one woken to
               send this round. */
            s_send_round (self, ask, arg);
            continue;
        }
        /* The word is read under the lock, and moved under it: a wake-up
           after the unlock is not missed. */
        uint32_t was = atomic_load (word);
        pthread_mutex_unlock (&self->mutex);
        int e = s_futex_wait (word, was, &until);
        if (atomic_load_explicit (&w.done, memory_order_acquire))
            return 0;
        pthread_mutex_lock (&self->mutex);
        if (e == ETIMEDOUT && !atomic_load (&w.done) && self->in_flight) {
            bool found =
                s_unlink (&self->open, &w) || s_unlink (&self->flight, &w);
            assert (found);
            (void)found;
            pthread_mutex_unlock (&self->mutex);
            s_timeout (out);
            return -1;
        }
    }
    pthread_mutex_unlock (&self->mutex);
    return 0;
}

void
http_read_barrier_stats (http_read_barrier_t *self, uint64_t *rounds,
                         uint64_t *waits)
{
    pthread_mutex_lock (&self->mutex);
    *rounds = self->rounds;
    *waits = self->waits;
    pthread_mutex_unlock (&self->mutex);
}
