/*  parse_fault.h -- POST /debug/fault's body (README, "Fault injection";
    actors/fault.h). Pure, as parse.h.

      {"action": "isolate"}
      {"action": "drop", "peer": ID, "direction": "out" | "in" | "both"}
      {"action": "delay", "ms": N [, "peer": ID]}   0 < N <= 10000
      {"action": "slow_fsync", "ms": N}              0 <= N <= 10000
      {"action": "clear"}

    ID is a positive integer (whether it names a member is checked by the
    caller, which knows the configuration). A field an action does not
    take is refused, so that a typo ("direction" on a delay) is not
    silently ignored. Errors: 400 bad_request with a detail.
*/
#ifndef HTTP_PARSE_FAULT_H_INCLUDED
#define HTTP_PARSE_FAULT_H_INCLUDED

#include "fault.h"
#include "parse.h"

int http_parse_fault (const void *body, size_t len, fault_cmd_t *out,
                      http_parse_err_t *err);

#endif
