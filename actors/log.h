/*  log.h -- nsxd's log lines on stderr: time, level, node id, message.

        2026-11-27T16:40:00.123Z INFO  n1 raft: became leader in term 3

    The node id and level are per node, not per process (node_ctx.h): each
    thread logs as the node it is bound to (log_bind), and a thread bound
    to none (main before a node starts, tests) as the process default that
    log_init sets.
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

/* One node's log identity. */
typedef struct {
    uint64_t node_id;
    log_level_t min_level;
} log_ctx_t;

/* The process default (before threads start); thread-safe afterwards. */
void log_init (uint64_t node_id, log_level_t min_level);
/* This thread logs as ctx from now on (NULL: the process default). ctx
   must outlive the binding. */
void log_bind (const log_ctx_t *ctx);
void log_msg (log_level_t level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

#define log_debug(...) log_msg (LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg (LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg (LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg (LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
