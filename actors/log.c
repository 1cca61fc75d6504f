/*  log.c -- see log.h. One fprintf per line, so lines from different
    threads do not interleave (stdio locks the stream per call).
*/
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static log_ctx_t s_default = {.min_level = LOG_LEVEL_INFO};
static _Thread_local const log_ctx_t *s_bound;

void
log_init (uint64_t node_id, log_level_t min_level)
{
    s_default.node_id = node_id;
    s_default.min_level = min_level;
}

void
log_bind (const log_ctx_t *ctx)
{
    s_bound = ctx;
}

void
log_msg (log_level_t level, const char *fmt, ...)
{
    const log_ctx_t *ctx = s_bound ? s_bound : &s_default;
    if (level < ctx->min_level)
        return;
    static const char *names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    char msg[1024];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (msg, sizeof msg, fmt, ap);
    va_end (ap);
    fprintf (stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s n%llu %s\n",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[level],
             (unsigned long long)ctx->node_id, msg);
}
