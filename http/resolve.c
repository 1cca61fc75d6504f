/*  resolve.c -- see resolve.h.
*/
#include "resolve.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One lookup, shared by the waiting caller and the resolver thread; the
   last of the two to let go frees it. */
typedef struct {
    atomic_int refs;
    pthread_mutex_t mutex;
    pthread_cond_t done_cond;
    bool done;
    int rc;
    struct addrinfo *res; /* taken by the caller, else freed with the job */
    char host[256];
    char service[8];
} s_job_t;

static atomic_int s_pending;

static void
s_job_unref (s_job_t *job)
{
    if (atomic_fetch_sub (&job->refs, 1) != 1)
        return;
    if (job->res)
        freeaddrinfo (job->res);
    pthread_mutex_destroy (&job->mutex);
    pthread_cond_destroy (&job->done_cond);
    free (job);
    atomic_fetch_sub (&s_pending, 1);
}

static void *
s_resolver (void *arg)
{
    s_job_t *job = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo (job->host, job->service, &hints, &res);
    pthread_mutex_lock (&job->mutex);
    job->rc = rc;
    job->res = rc == 0 ? res : NULL;
    job->done = true;
    pthread_cond_signal (&job->done_cond);
    pthread_mutex_unlock (&job->mutex);
    s_job_unref (job);
    return NULL;
}

int
http_resolve (const char *host, int port, int timeout_ms, struct addrinfo **res,
              const char **why)
{
    *res = NULL;
    *why = "cannot resolve the host";
    if (strlen (host) >= sizeof ((s_job_t *)0)->host)
        return -1;
    if (atomic_fetch_add (&s_pending, 1) >= HTTP_RESOLVE_MAX_PENDING) {
        atomic_fetch_sub (&s_pending, 1);
        *why = "too many name lookups in progress";
        return -1;
    }
    s_job_t *job = calloc (1, sizeof *job);
    if (!job) {
        atomic_fetch_sub (&s_pending, 1);
        return -1;
    }
    atomic_init (&job->refs, 2);
    pthread_mutex_init (&job->mutex, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init (&ca);
    pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
    pthread_cond_init (&job->done_cond, &ca);
    pthread_condattr_destroy (&ca);
    snprintf (job->host, sizeof job->host, "%s", host);
    snprintf (job->service, sizeof job->service, "%d", port);

    pthread_attr_t attr;
    pthread_attr_init (&attr);
    pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
    /* getaddrinfo needs far less than the default 8 MiB of stack */
    pthread_attr_setstacksize (&attr, 256 << 10);
    pthread_t tid;
    int trc = pthread_create (&tid, &attr, s_resolver, job);
    pthread_attr_destroy (&attr);
    if (trc != 0) {
        atomic_store (&job->refs, 1);
        s_job_unref (job);
        return -1;
    }

    struct timespec until;
    clock_gettime (CLOCK_MONOTONIC, &until);
    int64_t ns = (int64_t)until.tv_nsec +
                 (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000;
    until.tv_sec += (time_t)(ns / 1000000000);
    until.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock (&job->mutex);
    while (!job->done) {
        int w = pthread_cond_timedwait (&job->done_cond, &job->mutex, &until);
        if (w == ETIMEDOUT)
            break;
    }
    int rc = -1;
    if (!job->done)
        *why = "name lookup timed out";
    else if (job->rc == 0 && job->res) {
        *res = job->res;
        job->res = NULL;
        rc = 0;
    }
    pthread_mutex_unlock (&job->mutex);
    s_job_unref (job);
    return rc;
}
