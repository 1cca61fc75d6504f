/*  log.h -- nsxd's log lines on stderr: time, level, node id, message.

        2026-11-27T16:40:00.123Z INFO  n1 raft: became leader in term 3
*/
#ifndef NSXD_LOG_H_INCLUDED
#define NSXD_LOG_H_INCLUDED

#include <stdint.h>

typedef enum {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
} log_level_t;

/* Set once at start (before actors start); thread-safe afterwards. */
void log_init (uint64_t node_id, log_level_t min_level);
void log_msg (log_level_t level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

#define log_debug(...) log_msg (LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg (LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg (LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg (LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
