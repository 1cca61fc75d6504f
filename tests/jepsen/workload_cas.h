/*  workload_cas.h -- the jepsen workload's compare-and-swap (workload.c):
    what a client last saw of a key, the CAS it sends from that, and what
    the answer adds to the history.

    A CAS is a PUT of a value unique in the run with one condition, taken
    from what the client last saw of the key (a GET, its own write's
    reply, a 412's current):
      saw a value v at mod_index i   prev_value v, or prev_index i
      saw nothing, or not looked     prev_exist false
    The history names the value compared against as "prev" (null for
    prev_exist false) whichever form was sent: values are unique in the
    run, so mod_index i names the one write that wrote v, and "the key's
    mod_index is i" holds exactly when "the key holds v" does (for a
    correct node; a node that gets the index wrong shows as a CAS the
    checker cannot place). history.c documents the fields.
*/
#ifndef WORKLOAD_CAS_H_INCLUDED
#define WORKLOAD_CAS_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a client last saw of one key. */
typedef struct {
    char key[64]; /* "" if nothing yet (the key names its time window) */
    bool found;
    char value[64];
    uint64_t mod_index;
} wl_seen_t;

/* Remember what an answer showed of key: value (NULL: nothing) with the
   mod_index in o (a GET's body, a 412's current; a write's reply gives
   "index" when it has no "mod_index"). */
void wl_saw (wl_seen_t *k, const char *key, const char *value, json_t *o);

/* The body of a CAS of key to value, from what k saw of it (by_index:
   prev_index rather than prev_value, when a value with an index was
   seen). Returns the history's CAS fields ("prev", and "prev_index" when
   sent), for wl_cas_done and the record; NULL out of memory. */
json_t *wl_cas_body (const wl_seen_t *k, const char *key, const char *value,
                     bool by_index, char *body, size_t len);

/* A CAS answered status (200 or 412) with body j: "swapped", and a 412's
   "current", set in extra; k learns what the answer showed. Returns 1 if
   it swapped, 0 if not. */
int wl_cas_done (wl_seen_t *k, const char *key, const char *value, int status,
                 json_t *j, json_t *extra);

#endif
