/*  nsxctl_trace.h -- `nsxctl trace`: args [--kind K]... [--duration-ms MS]
    [--json] [--secret-file F] [--insecure]; monitors: the monitoring
    sockets (tcp://h:p,...) --endpoints named, or NULL for
    $NSXCTL_MONITORS, then the local cluster's 9101..9103. Runs until
    interrupted or the duration ends. Exit: 0, 2 usage, 3 unavailable.
*/
#ifndef NSXCTL_TRACE_H_INCLUDED
#define NSXCTL_TRACE_H_INCLUDED

#include <stdbool.h>

int nsxctl_trace (char **args, int nargs, const char *monitors, bool as_json);

#endif
