/*  metrics_render.c -- the registry this thread writes to (metrics.c),
    rendered as Prometheus text (exposition format 0.0.4) for /metrics,
    with the usual process_* metrics of Prometheus clients.
*/
#include "metrics_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static time_t s_start_time;

__attribute__ ((constructor)) static void
s_note_start (void)
{
    s_start_time = time (NULL);
}

static void
s_family (FILE *f, const char *name, const char *type, const char *help)
{
    fprintf (f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
s_sample (FILE *f, const char *name, uint64_t v)
{
    fprintf (f, "%s %llu\n", name, (unsigned long long)v);
}

static void
s_one (FILE *f, const char *name, const char *type, const char *help,
       uint64_t v)
{
    s_family (f, name, type, help);
    s_sample (f, name, v);
}

/* Seconds from microseconds, as Prometheus floats ("0.00025", "2.5"). */
static void
s_seconds (char *buf, size_t len, uint64_t usecs)
{
    snprintf (buf, len, "%.6g", (double)usecs / 1e6);
}

/* The samples of one histogram; labels is "" or `key="v",...` (no
   braces). Returns the total count. */
static uint64_t
s_hist_samples (FILE *f, const char *name, const char *labels,
                const metrics_hist_t *h)
{
    uint64_t counts[METRICS_BUCKETS + 1], total = 0;
    for (size_t b = 0; b <= METRICS_BUCKETS; b++) {
        counts[b] = atomic_load_explicit (&h->bucket[b], memory_order_relaxed);
        total += counts[b];
    }
    uint64_t sum = atomic_load_explicit (&h->sum_us, memory_order_relaxed);
    const char *sep = *labels ? "," : "";
    uint64_t cum = 0;
    char le[32];
    for (size_t b = 0; b < METRICS_BUCKETS; b++) {
        cum += counts[b];
        s_seconds (le, sizeof le, metrics_bounds[b]);
        fprintf (f, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep, le,
                 (unsigned long long)cum);
    }
    fprintf (f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
             (unsigned long long)total);
    char s[32];
    s_seconds (s, sizeof s, sum);
    if (*labels) {
        fprintf (f, "%s_sum{%s} %s\n", name, labels, s);
        fprintf (f, "%s_count{%s} %llu\n", name, labels,
                 (unsigned long long)total);
    } else {
        fprintf (f, "%s_sum %s\n", name, s);
        fprintf (f, "%s_count %llu\n", name, (unsigned long long)total);
    }
    return total;
}

static uint64_t
metrics_hist_total (const metrics_hist_t *h)
{
    uint64_t total = 0;
    for (size_t b = 0; b <= METRICS_BUCKETS; b++)
        total += atomic_load_explicit (&h->bucket[b], memory_order_relaxed);
    return total;
}

static void
s_code_label (char *buf, size_t len, size_t c)
{
    if (c < METRICS_CODES)
        snprintf (buf, len, "%d", metrics_codes[c]);
    else
        snprintf (buf, len, "other");
}

static void
s_render_raft (FILE *f)
{
    metrics_raft_t r;
    metrics_t *reg = metrics_current ();
    pthread_mutex_lock (&reg->lock);
    r = reg->raft;
    pthread_mutex_unlock (&reg->lock);

    s_one (f, "nsxd_node_id", "gauge", "This server's Raft id.", r.id);
    s_family (f, "nsxd_raft_role", "gauge",
              "1 for the role this server is in, 0 for the others.");
    static const raft_role_t roles[] = {RAFT_FOLLOWER, RAFT_PRECANDIDATE,
                                        RAFT_CANDIDATE, RAFT_LEADER};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        fprintf (f, "nsxd_raft_role{role=\"%s\"} %d\n",
                 raft_role_name (roles[i]), r.valid && r.role == roles[i]);
    s_one (f, "nsxd_raft_is_leader", "gauge", "1 if this server is the leader.",
           r.valid && r.role == RAFT_LEADER);
    s_one (f, "nsxd_raft_has_leader", "gauge",
           "1 if this server knows a leader.", r.valid && r.leader != 0);
    s_one (f, "nsxd_raft_leader_id", "gauge",
           "The leader this server knows (0: none).", r.leader);
    s_one (f, "nsxd_raft_term", "gauge", "Current term.", r.term);
    s_one (f, "nsxd_raft_commit_index", "gauge",
           "Highest log index known committed.", r.commit);
    s_one (f, "nsxd_raft_applied_index", "gauge",
           "Highest log index applied to the key-value data.", r.applied);
    s_one (f, "nsxd_raft_last_log_index", "gauge", "Index of the last entry.",
           r.last_index);
    s_one (f, "nsxd_raft_log_base_index", "gauge",
           "Index the log starts after (entries before it are compacted).",
           r.base_index);
    s_one (f, "nsxd_raft_log_bytes", "gauge",
           "Bytes of entry data in the in-memory log.", r.log_bytes);
    s_family (f, "nsxd_raft_members", "gauge",
              "Servers in the configuration in effect, by kind.");
    fprintf (f, "nsxd_raft_members{kind=\"voter\"} %u\n", r.voters);
    fprintf (f, "nsxd_raft_members{kind=\"learner\"} %u\n", r.learners);
    /* Per peer, on the leader only: an empty family elsewhere. */
    s_family (f, "nsxd_raft_peer_match_index", "gauge",
              "Leader only: highest index known replicated on each peer.");
    for (size_t i = 0; i < r.n_peers; i++)
        fprintf (f, "nsxd_raft_peer_match_index{peer=\"%llu\"} %llu\n",
                 (unsigned long long)r.peers[i].id,
                 (unsigned long long)r.peers[i].match);
    s_family (f, "nsxd_raft_peer_lag_entries", "gauge",
              "Leader only: entries each peer is behind the leader's log.");
    for (size_t i = 0; i < r.n_peers; i++)
        fprintf (f, "nsxd_raft_peer_lag_entries{peer=\"%llu\"} %llu\n",
                 (unsigned long long)r.peers[i].id,
                 (unsigned long long)(r.last_index > r.peers[i].match
                                          ? r.last_index - r.peers[i].match
                                          : 0));
}

/* The scalar metrics, in rendering order. Consecutive rows with the same
   name are one family, told apart by their label. */
static const struct {
    const char *name, *type, *label, *help;
    metrics_scalar_t m;
} s_scalar_rows[] = {
    {"nsxd_raft_proposals_committed_total", "counter", NULL,
     "Writes this server proposed as leader and acknowledged.",
     METRICS_PROPOSALS_COMMITTED},
    {"nsxd_raft_proposals_failed_total", "counter", NULL,
     "Writes proposed, then answered with an error (leadership lost, "
     "timeout); they may still have committed.",
     METRICS_PROPOSALS_FAILED},
    {"nsxd_raft_proposals_pending", "gauge", NULL,
     "Writes proposed and not answered yet.", METRICS_PROPOSALS_PENDING},
    {"nsxd_raft_elections_started_total", "counter", "kind=\"prevote\"",
     "Election rounds this server started (pre-vote: dissertation "
     "section 9.6).",
     METRICS_PREVOTES_STARTED},
    {"nsxd_raft_elections_started_total", "counter", "kind=\"vote\"", NULL,
     METRICS_ELECTIONS_STARTED},
    {"nsxd_raft_elections_won_total", "counter", "kind=\"prevote\"",
     "Election rounds this server won.", METRICS_PREVOTES_WON},
    {"nsxd_raft_elections_won_total", "counter", "kind=\"vote\"", NULL,
     METRICS_ELECTIONS_WON},
    {"nsxd_raft_leader_changes_total", "counter", NULL,
     "Times this server saw a new leader.", METRICS_LEADER_CHANGES},
    {"nsxd_raft_read_index_rounds_total", "counter", NULL,
     "ReadIndex rounds confirmed by a majority (leader).", METRICS_READ_ROUNDS},
    {"nsxd_raft_peer_messages_dropped_total", "counter", NULL,
     "Peer messages dropped as malformed or misaddressed.",
     METRICS_PEER_MSGS_DROPPED},
    {"nsxd_storage_fsync_entries_total", "counter", NULL,
     "Log entries made durable (divide by the fsync count for the "
     "group-commit batch size).",
     METRICS_FSYNC_ENTRIES},
    {"nsxd_storage_applied_entries_total", "counter", NULL,
     "Log entries applied to the key-value data.", METRICS_APPLIED_ENTRIES},
    {"nsxd_storage_leveldb_bytes", "gauge", NULL,
     "Bytes of the files in the LevelDB directory (log and data).",
     METRICS_LEVELDB_BYTES},
    {"nsxd_raft_snapshot_chunks_sent_total", "counter", NULL,
     "InstallSnapshot chunks sent to followers (chapter 5).",
     METRICS_SNAPSHOT_CHUNKS_SENT},
    {"nsxd_raft_snapshots_installed_total", "counter", NULL,
     "Snapshots received from a leader and installed here.",
     METRICS_SNAPSHOTS_INSTALLED},
    {"nsxd_raft_log_compactions_total", "counter", NULL,
     "Times this server compacted its log.", METRICS_COMPACTIONS},
    {"nsxd_quota_bytes", "gauge", NULL,
     "The space quota (--quota-bytes; 0: none).", METRICS_QUOTA_BYTES},
    {"nsxd_db_size_bytes", "gauge", NULL,
     "Bytes of the database held against the quota (its files on disk).",
     METRICS_DB_SIZE_BYTES},
    {"nsxd_alarm_nospace", "gauge", NULL,
     "1 while the database is over its quota: writes are refused (507).",
     METRICS_ALARM_NOSPACE},
    {"nsxd_writes_refused_nospace_total", "counter", NULL,
     "Writes refused with 507 no_space (over the quota), never proposed.",
     METRICS_WRITES_REFUSED_NOSPACE},
    {"nsxd_leases", "gauge", NULL,
     "Leases whose deadlines this server keeps (the leader; 0 elsewhere).",
     METRICS_LEASES},
    {"nsxd_lease_expired_total", "counter", NULL,
     "Lease revokes proposed by this server because a TTL ran out "
     "(retries included).",
     METRICS_LEASES_EXPIRED},
    {"nsxd_peer_handshakes_refused_total", "counter", "socket=\"peer\"",
     "Handshakes refused: no valid CURVE key for this cluster, no "
     "CURVE, not ZeroMQ, or too slow.",
     METRICS_PEER_HANDSHAKES_REFUSED},
    {"nsxd_peer_handshakes_refused_total", "counter", "socket=\"monitor\"",
     NULL, METRICS_MONITOR_HANDSHAKES_REFUSED},
    {"nsxd_peer_messages_forged_total", "counter", NULL,
     "Peer messages dropped because their sender is not the member the "
     "link authenticated.",
     METRICS_PEER_MSGS_FORGED},
    {"nsxd_peer_connections_refused_total", "counter", "socket=\"peer\"",
     "Connections closed at once: the listening socket had its limit of "
     "open connections.",
     METRICS_PEER_CONNS_REFUSED},
    {"nsxd_peer_connections_refused_total", "counter", "socket=\"monitor\"",
     NULL, METRICS_MONITOR_CONNS_REFUSED},
    {"nsxd_peer_connections_cut_total", "counter", "socket=\"peer\"",
     "Connections shut down for holding more unfinished input than "
     "allowed (an endless multipart message).",
     METRICS_PEER_CONNS_CUT},
    {"nsxd_peer_connections_cut_total", "counter", "socket=\"monitor\"", NULL,
     METRICS_MONITOR_CONNS_CUT},
    {"nsxd_fault_messages_dropped_total", "counter", "direction=\"out\"",
     "Peer messages dropped by an injected fault (--enable-faults, POST "
     "/debug/fault).",
     METRICS_FAULT_DROPPED_OUT},
    {"nsxd_fault_messages_dropped_total", "counter", "direction=\"in\"", NULL,
     METRICS_FAULT_DROPPED_IN},
    {"nsxd_fault_messages_delayed_total", "counter", NULL,
     "Peer messages held by an injected delay before sending.",
     METRICS_FAULT_DELAYED},
    {"nsxd_trace_events_published_total", "counter", NULL,
     "Trace events handed to the monitoring socket.", METRICS_TRACE_PUBLISHED},
    {"nsxd_trace_events_dropped_total", "counter", NULL,
     "Trace events dropped before the monitoring socket (a full "
     "queue); a slow subscriber's own losses show as seq gaps.",
     METRICS_TRACE_DROPPED},
};

static void
s_render_counters (FILE *f)
{
    size_t n = sizeof s_scalar_rows / sizeof s_scalar_rows[0];
    for (size_t i = 0; i < n; i++) {
        const char *name = s_scalar_rows[i].name;
        if (i == 0 || strcmp (name, s_scalar_rows[i - 1].name) != 0)
            s_family (f, name, s_scalar_rows[i].type, s_scalar_rows[i].help);
        unsigned long long v = metrics_get (s_scalar_rows[i].m);
        if (s_scalar_rows[i].label)
            fprintf (f, "%s{%s} %llu\n", name, s_scalar_rows[i].label, v);
        else
            fprintf (f, "%s %llu\n", name, v);
    }
}

static void
s_render_histograms (FILE *f)
{
    metrics_t *reg = metrics_current ();
    s_family (f, "nsxd_storage_fsync_duration_seconds", "histogram",
              "Time of each synced LevelDB write (one per group commit).");
    s_hist_samples (f, "nsxd_storage_fsync_duration_seconds", "", &reg->fsync);

    /* Only the (route, code) pairs seen, so a scrape stays short. */
    s_family (f, "nsxd_http_requests_total", "counter",
              "HTTP requests answered, by route and status.");
    char labels[96], code[16];
    for (size_t r = 0; r < METRICS_N_ROUTES; r++)
        for (size_t c = 0; c <= METRICS_CODES; c++) {
            uint64_t n = metrics_hist_total (&reg->http[r][c]);
            if (!n)
                continue;
            s_code_label (code, sizeof code, c);
            fprintf (f,
                     "nsxd_http_requests_total{route=\"%s\",code=\"%s\"} "
                     "%llu\n",
                     metrics_route_names[r], code, (unsigned long long)n);
        }
    s_family (f, "nsxd_http_request_duration_seconds", "histogram",
              "Time from a parsed request to its answer, by route and "
              "status.");
    for (size_t r = 0; r < METRICS_N_ROUTES; r++)
        for (size_t c = 0; c <= METRICS_CODES; c++) {
            if (!metrics_hist_total (&reg->http[r][c]))
                continue;
            s_code_label (code, sizeof code, c);
            snprintf (labels, sizeof labels, "route=\"%s\",code=\"%s\"",
                      metrics_route_names[r], code);
            s_hist_samples (f, "nsxd_http_request_duration_seconds", labels,
                            &reg->http[r][c]);
        }
}

/* The usual process_* metrics of Prometheus clients. */
static void
s_render_process (FILE *f)
{
    struct rusage ru;
    if (getrusage (RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
        s_family (f, "process_cpu_seconds_total", "counter",
                  "User and system CPU time spent, in seconds.");
        fprintf (f, "process_cpu_seconds_total %.6f\n", cpu);
    }
    unsigned long long vsize = 0, rss = 0;
    FILE *statm = fopen ("/proc/self/statm", "r");
    if (statm) {
        if (fscanf (statm, "%llu %llu", &vsize, &rss) == 2) {
            unsigned long long page =
                (unsigned long long)sysconf (_SC_PAGESIZE);
            s_one (f, "process_resident_memory_bytes", "gauge",
                   "Resident memory size in bytes.", rss * page);
            s_one (f, "process_virtual_memory_bytes", "gauge",
                   "Virtual memory size in bytes.", vsize * page);
        }
        fclose (statm);
    }
    DIR *d = opendir ("/proc/self/fd");
    if (d) {
        uint64_t n = 0;
        struct dirent *e;
        while ((e = readdir (d)))
            if (e->d_name[0] != '.')
                n++;
        closedir (d);
        s_one (f, "process_open_fds", "gauge", "Open file descriptors.",
               n ? n - 1 : 0); /* not the one reading the directory */
    }
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        s_one (f, "process_max_fds", "gauge",
               "Maximum number of open file descriptors.", rl.rlim_cur);
    s_one (f, "process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch, in seconds.",
           (uint64_t)s_start_time);
}

char *
metrics_render (size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream (&buf, &size);
    if (!f)
        return NULL;
    s_render_raft (f);
    s_render_counters (f);
    s_render_histograms (f);
    s_render_process (f);
    if (fclose (f) != 0) {
        free (buf);
        return NULL;
    }
    if (len)
        *len = size;
    return buf;
}
