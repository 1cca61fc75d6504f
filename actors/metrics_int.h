/*  metrics_int.h -- what the registry (metrics.c) and its rendering
    (metrics_render.c) share: the registry's layout and its fixed labels.
*/
#ifndef METRICS_INT_H_INCLUDED
#define METRICS_INT_H_INCLUDED

#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>

/* Bucket upper bounds, microseconds: 100 us to 10 s, as Prometheus'
   default buckets with two more below 5 ms (an fdatasync here takes about
   0.1 ms; a loopback request a few hundred us). */
#define METRICS_BUCKETS 16
extern const uint64_t metrics_bounds[METRICS_BUCKETS];

typedef struct {
    atomic_uint_fast64_t bucket[METRICS_BUCKETS + 1]; /* last: above every
                                                         bound */
    atomic_uint_fast64_t sum_us;
} metrics_hist_t;

/* Statuses the node answers with; anything else is counted as "other". */
#define METRICS_CODES 12
extern const int metrics_codes[METRICS_CODES];

extern const char *const metrics_route_names[METRICS_N_ROUTES];

struct metrics {
    atomic_uint_fast64_t scalar[METRICS_N_SCALARS];
    metrics_hist_t http[METRICS_N_ROUTES][METRICS_CODES + 1];
    metrics_hist_t fsync;
    pthread_mutex_t lock;
    metrics_raft_t raft; /* under lock */
};

/* The registry this thread writes to and renders: its node's
   (metrics_bind), or the process default. */
metrics_t *metrics_current (void);

#endif
