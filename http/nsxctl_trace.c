/*  nsxctl_trace.c -- `nsxctl trace` (README, "Watching a cluster"): the
    merged trace of every member's monitoring socket (trace_client.c),
    with the cluster secret the sockets require (peer_keys.h).
*/
#include "nsxctl_trace.h"
#include "peer_keys.h"
#include "trace_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
nsxctl_trace (char **args, int nargs, const char *monitors, bool as_json)
{
    const char *kinds[32];
    size_t n_kinds = 0;
    int duration = 0;
    const char *secret = getenv ("NSXCTL_SECRET_FILE");
    bool insecure = false;
    for (int i = 0; i < nargs; i++) {
        if (strcmp (args[i], "--kind") == 0 && i + 1 < nargs && n_kinds < 32)
            kinds[n_kinds++] = args[++i];
        else if (strcmp (args[i], "--duration-ms") == 0 && i + 1 < nargs)
            duration = atoi (args[++i]);
        else if (strcmp (args[i], "--json") == 0)
            as_json = true;
        else if (strcmp (args[i], "--secret-file") == 0 && i + 1 < nargs)
            secret = args[++i];
        else if (strcmp (args[i], "--insecure") == 0)
            insecure = true;
        else {
            fprintf (stderr, "nsxctl: trace [--kind K]... [--duration-ms MS] "
                             "[--json] [--secret-file F] [--insecure]\n");
            return 2;
        }
    }
    if ((!secret || !*secret) && access ("data/cluster.key", R_OK) == 0)
        secret = "data/cluster.key";
    peer_keys_t *keys = NULL;
    if (!insecure) {
        char err[512];
        keys = secret && *secret ? peer_keys_load (secret, 0, err, sizeof err)
                                 : NULL;
        if (!keys) {
            fprintf (stderr, "nsxctl: trace needs the cluster secret: %s\n",
                     secret && *secret
                         ? err
                         : "--secret-file, $NSXCTL_SECRET_FILE or "
                           "./data/cluster.key (or --insecure)");
            return 2;
        }
    }
    const char *mons = monitors ? monitors : getenv ("NSXCTL_MONITORS");
    if (!mons || !*mons)
        mons = "tcp://127.0.0.1:9101,tcp://127.0.0.1:9102,"
               "tcp://127.0.0.1:9103";
    char *mlist = strdup (mons), *msave = NULL;
    const char *ends[64];
    size_t n_ends = 0;
    for (char *t = strtok_r (mlist, ",", &msave); t && n_ends < 64;
         t = strtok_r (NULL, ",", &msave))
        ends[n_ends++] = t;
    int trc = trace_client_run (ends, n_ends, kinds, n_kinds, as_json, duration,
                                keys, stdout);
    free (mlist);
    peer_keys_destroy (&keys);
    return trc == 0 ? 0 : 3;
}
