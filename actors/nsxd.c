/*  nsxd.c -- the node's process: flags (nsxd_config.c), then one node
    (node.h) until a signal or a failure.

    SIGINT/SIGTERM: the node stops cleanly (a leader first hands leadership
    over, §3.10) and nsxd exits 0; so does POST /debug/stop
    (--enable-faults). An actor that fails (actor.h: "FAILED"
    on its pipe) stops the node the same way and nsxd exits 1. Flags or
    settings that cannot be used: exit 2, before anything starts.
*/
#include "log.h"
#include "node.h"
#include "nsxd_config.h"

#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static volatile sig_atomic_t s_stop;

static void
s_on_signal (int sig)
{
    (void)sig;
    s_stop = 1;
}

int
main (int argc, char **argv)
{
    /* Everything nsxd creates -- the data directory, LevelDB's tables, log
       and manifest, IDENTITY -- is the owner's alone: values are private
       data. LevelDB creates its files 0644 & ~umask, so the umask is what
       makes them 0600 (store_open fixes older files and the directory). */
    umask (077);
    nsxd_config_t c;
    if (nsxd_config_parse (argc, argv, &c) != 0)
        return 2;
    log_init (c.id, node_log_level (c.log_level));
    raft_conf_t bootstrap;
    if (*c.cluster) {
        if (nsxd_config_cluster (c.cluster, &bootstrap) != 0) {
            fprintf (stderr, "nsxd: cannot parse --cluster '%s'\n", c.cluster);
            return 2;
        }
        if (!raft_conf_get (&bootstrap, c.id)) {
            fprintf (stderr, "nsxd: --cluster does not list id %llu\n",
                     (unsigned long long)c.id);
            return 2;
        }
    }

    /* Our own shutdown sequence instead of czmq's interrupt handling. */
    zsys_handler_set (NULL);
    signal (SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);

    node_t *node = NULL;
    int rc = node_start (&c, *c.cluster ? &bootstrap : NULL, &node);
    if (rc != 0)
        return rc;
    if (node_join (node, &s_stop) != 0)
        rc = 1;
    while (rc == 0 && !s_stop) {
        int w = node_wait (node, 200);
        if (w < 0)
            rc = 1;
        else if (w > 0) {
            log_info ("stopping: asked by POST /debug/stop");
            break;
        }
    }
    node_stop (&node);
    return rc;
}
