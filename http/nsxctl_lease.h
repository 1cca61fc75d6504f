/*  nsxctl_lease.h -- `nsxctl lease ...` (README, "Leases"):

      lease grant TTL                 prints the new lease's id
      lease keepalive ID              renews it once
      lease keepalive ID --every S [--for S]
                                      renews it every S seconds (sooner if
                                      the lease's TTL / 3 is shorter, as
                                      etcd's client renews at TTL / 3)
                                      until --for S seconds passed or
                                      SIGINT/SIGTERM, or a 404 (the lease
                                      is gone); a renewal that gets no
                                      answer (or a 503) is retried every
                                      100 ms against the endpoints it
                                      knows, past the TTL too: only the
                                      leader knows whether the lease
                                      lives (a new leader extends it)
      lease revoke ID                 revokes it: its keys are deleted
      lease info ID                   its TTL, remaining time (leader)
                                      and keys
      lease list                      every lease and its TTL, as the
                                      first endpoint that answers holds
                                      them (a local read)

    Exit codes as nsxctl's: 1 when the lease does not exist (expired,
    revoked), 2 usage, 3 unavailable, 4 refused.
*/
#ifndef NSXCTL_LEASE_H_INCLUDED
#define NSXCTL_LEASE_H_INCLUDED

#include "nsxctl_session.h"

#include <stdbool.h>

int nsxctl_lease (char **args, int nargs, nsxctl_send_fn send, void *ctx,
                  int timeout_ms, bool as_json);

#endif
