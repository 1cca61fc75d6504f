/*  read_barrier.h -- one read barrier request for many linearizable GETs.

    A linearizable GET may read the KV data in its worker once the raft
    actor has confirmed a ReadIndex taken after the GET arrived and applied
    up to it (§6.4; MSG_API_READ). Asked once per GET, that is two thread
    hand-offs per GET; here the workers that need a barrier at the same
    time share one request: a worker joins the next round, one worker of
    the round sends the round's request, and its answer wakes them all.
    read_barrier.c says why that stays linearizable.

    Thread-safe (one mutex and one condition variable).
*/
#ifndef HTTP_READ_BARRIER_H_INCLUDED
#define HTTP_READ_BARRIER_H_INCLUDED

#include "msg_api.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct http_read_barrier_t http_read_barrier_t;

/* A round's answer, as every worker of the round gets it: status 200 (the
   barrier passed; only status and round are set), or the error to send
   back (code, detail and leader as in an error reply, msg_api.h). */
typedef struct {
    unsigned status;
    char code[MSG_API_CODE_MAX + 1];
    bool has_detail;
    char detail[MSG_API_DETAIL_MAX + 1];
    bool has_leader; /* send "leader" (known_leader false: null) */
    bool leader_known;
    char leader[RAFT_ADDR_MAX];
    uint64_t round; /* the round that answered (1, 2, ...; set by the
                       barrier) */
} http_read_barrier_result_t;

/* Sends one round's request and waits for its answer, filling *out
   (status, and for an error code etc.). Called by one worker of each
   round, without the barrier's lock held; arg is that worker's. It must
   return within a bounded time (its own deadline). */
typedef void (http_read_barrier_ask_fn) (void *arg,
                                         http_read_barrier_result_t *out);

http_read_barrier_t *http_read_barrier_new (void);
void http_read_barrier_destroy (http_read_barrier_t **self_p);

/* Wait for a round that starts after this call: 0 with *out the round's
   answer (which may be an error), or -1 if deadline_ms (CLOCK_MONOTONIC,
   in ms: zclock_mono ()) passed first, *out then 503 "timeout". If this
   worker sends its round, it calls ask (arg, ...). */
int http_read_barrier_wait (http_read_barrier_t *self,
                            http_read_barrier_ask_fn *ask, void *arg,
                            int64_t deadline_ms,
                            http_read_barrier_result_t *out);

/* Rounds sent and waits begun so far (for tests and logs). */
void http_read_barrier_stats (http_read_barrier_t *self, uint64_t *rounds,
                              uint64_t *waits);

#endif
