/*  nsxctl_watch.h -- `nsxctl watch` (README, "Watches"): long polls on
    GET /kv/watch, one line per event, resuming from the last index on
    the next endpoint when one fails; a 410 ends it with what to do.
*/
#ifndef NSXCTL_WATCH_H_INCLUDED
#define NSXCTL_WATCH_H_INCLUDED

#include "client.h"

#include <stdbool.h>

/* Exit status of a watch the history no longer covers (410). */
#define NSXCTL_EXIT_COMPACTED 5

/* args: KEY | --prefix P, then [--from N] [--count N]. Runs until
   interrupted, N events printed (--count), a 410 (exit 5) or a refusal
   (exit 4; 2 for usage). Each line: "put KEY VALUE (index I)" or
   "delete KEY (index I)"; as_json: each event's JSON. */
int nsxctl_watch (char **args, int nargs, char **endpoints, int n,
                  const http_client_opts_t *opts, bool as_json);

#endif
