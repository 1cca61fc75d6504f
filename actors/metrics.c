/*  metrics.c -- the metrics registry: what each node's registry holds,
    which one a thread writes to, and the writing (see metrics.h for why
    it is shared memory and who writes what; metrics_render.c renders it
    as Prometheus text).
*/
#include "metrics_int.h"

#include <stdlib.h>
#include <string.h>

const uint64_t metrics_bounds[METRICS_BUCKETS] = {
    100,   250,    500,    1000,   2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

const int metrics_codes[METRICS_CODES] = {200, 400, 404, 405, 408, 409,
                                          413, 431, 500, 502, 503, 505};

const char *const metrics_route_names[METRICS_N_ROUTES] = {
    "/kv/put",    "/kv/get",      "/kv/delete", "/health",
    "/raft/join", "/raft/remove", "/metrics",   "other"};

/* The process default, for threads bound to no node (tests, tools), and
   the registry this thread writes to and renders (metrics_bind). */
static metrics_t s_default = {.lock = PTHREAD_MUTEX_INITIALIZER};
static _Thread_local metrics_t *s_bound;

metrics_t *
metrics_current (void)
{
    return s_bound ? s_bound : &s_default;
}

metrics_t *
metrics_new (void)
{
    metrics_t *self = calloc (1, sizeof *self);
    if (self)
        pthread_mutex_init (&self->lock, NULL);
    return self;
}

void
metrics_destroy (metrics_t **self_p)
{
    if (!*self_p)
        return;
    pthread_mutex_destroy (&(*self_p)->lock);
    free (*self_p);
    *self_p = NULL;
}

void
metrics_bind (metrics_t *reg)
{
    s_bound = reg;
}

/*  ---------------------------------------------------------------------
    Writing                                                              */

void
metrics_add (metrics_scalar_t m, uint64_t n)
{
    if (m < METRICS_N_SCALARS)
        atomic_fetch_add_explicit (&metrics_current ()->scalar[m], n,
                                   memory_order_relaxed);
}

void
metrics_set (metrics_scalar_t m, uint64_t v)
{
    if (m < METRICS_N_SCALARS)
        atomic_store_explicit (&metrics_current ()->scalar[m], v,
                               memory_order_relaxed);
}

uint64_t
metrics_get (metrics_scalar_t m)
{
    return m < METRICS_N_SCALARS
               ? atomic_load_explicit (&metrics_current ()->scalar[m],
                                       memory_order_relaxed)
               : 0;
}

void
metrics_raft_set (const metrics_raft_t *r)
{
    metrics_t *reg = metrics_current ();
    pthread_mutex_lock (&reg->lock);
    reg->raft = *r;
    pthread_mutex_unlock (&reg->lock);
}

static void
s_observe (metrics_hist_t *h, uint64_t usecs)
{
    size_t b = 0;
    while (b < METRICS_BUCKETS && usecs > metrics_bounds[b])
        b++;
    atomic_fetch_add_explicit (&h->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit (&h->sum_us, usecs, memory_order_relaxed);
}

const char *
metrics_route_name (metrics_route_t route)
{
    return route < METRICS_N_ROUTES ? metrics_route_names[route] : "other";
}

metrics_route_t
metrics_route_of (const char *path)
{
    for (int r = 0; r < METRICS_ROUTE_OTHER; r++)
        if (path && strcmp (path, metrics_route_names[r]) == 0)
            return (metrics_route_t)r;
    return METRICS_ROUTE_OTHER;
}

void
metrics_http (metrics_route_t route, int status, uint64_t usecs)
{
    if (route >= METRICS_N_ROUTES)
        route = METRICS_ROUTE_OTHER;
    size_t c = 0;
    while (c < METRICS_CODES && metrics_codes[c] != status)
        c++;
    s_observe (&metrics_current ()->http[route][c], usecs);
}

void
metrics_fsync (uint64_t usecs, uint64_t entries)
{
    s_observe (&metrics_current ()->fsync, usecs);
    metrics_add (METRICS_FSYNC_ENTRIES, entries);
}

void
metrics_reset (void)
{
    metrics_t *reg = metrics_current ();
    for (size_t i = 0; i < METRICS_N_SCALARS; i++)
        atomic_store (&reg->scalar[i], 0);
    /* Plain stores would do as well; tests call this while quiet. */
    memset (reg->http, 0, sizeof reg->http);
    memset (&reg->fsync, 0, sizeof reg->fsync);
    pthread_mutex_lock (&reg->lock);
    memset (&reg->raft, 0, sizeof reg->raft);
    pthread_mutex_unlock (&reg->lock);
}
