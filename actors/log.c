/*  log.c -- see log.h. One fprintf per line, so lines from different
    threads do not interleave (stdio locks the stream per call).
*/
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static uint64_t s_node_id;
static log_level_t s_min_level = LOG_LEVEL_INFO;

void
log_init (uint64_t node_id, log_level_t min_level)
{
    s_node_id = node_id;
    s_min_level = min_level;
}

void
log_msg (log_level_t level, const char *fmt, ...)
{
    if (level < s_min_level)
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
             (unsigned long long)s_node_id, msg);
}
