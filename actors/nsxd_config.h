/*  nsxd_config.h -- nsxd's flags and environment variables, parsed and
    checked (nsxd_config.c); main (nsxd.c) starts the node from them.
*/
#ifndef NSXD_CONFIG_H_INCLUDED
#define NSXD_CONFIG_H_INCLUDED

#include "auth.h"
#include "raft.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct {
    raft_id_t id;
    char http_listen[256];
    char http_advertise[256];
    char peer_listen[256];
    char peer_advertise[256];
    char cluster[4096];
    char join[256];
    char data_dir[1024];
    int election_ms;
    int heartbeat_ms;
    int timeout_ms;
    long max_key;
    long max_value;
    long session_ttl_ms; /* --session-ttl-ms: a new session's TTL */
    long max_body;
    int http_threads;
    char log_level[16];
    char monitor_listen[256];
    int slow_fsync_ms;
    long compact_entries;
    long compact_trailing;
    long compact_mib;
    long quota_bytes; /* 0: no quota */
    char auth_file[1024];
    bool auth_health;
    bool open_admin;
    char tls_cert[1024];
    char tls_key[1024];
    char tls_ca[1024];
    char join_token[HTTP_AUTH_MAX_TOKEN + 1];
    char peer_secret_file[1024];
    bool insecure_peers;
    bool forward_writes;
    bool enable_faults; /* --enable-faults: POST /debug/fault, /debug/stop */
    int peer_max_conns;
    int monitor_max_subscribers;
    int read_ms;
    long watch_history;   /* events kept for watches (actors/watch_hub.h) */
    char watch_cors[256]; /* /kv/watch's Access-Control-Allow-Origin, or "" */
} nsxd_config_t;

/* Flags override the environment (NSXD_*), which overrides the defaults;
   --help prints the usage and exits 0. 0, or -1 after a message on
   stderr. */
int nsxd_config_parse (int argc, char **argv, nsxd_config_t *c);

/* nsxd --help's text: every flag, its environment variable, its default. */
void nsxd_config_usage (FILE *out);

/* "1=tcp://h:9001@h:8001,2=..." (--cluster) -> configuration; 0 or -1. */
int nsxd_config_cluster (const char *spec, raft_conf_t *conf);

#endif
