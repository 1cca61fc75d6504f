/*  lessor.h -- the leader's lease deadlines (etcd's lessor, the part that
    is not replicated): when each lease expires, renewed by keep-alives.

    The lease table itself (which leases exist, their TTLs, their keys) is
    state-machine state (store/kvsm_lease.h). This is the leader's clock
    over it: a deadline per lease, in the caller's monotonic milliseconds.
    Only a leader ("primary") keeps deadlines; a follower's lessor is
    empty and expires nothing, so no local clock but the leader's ever
    decides an expiry, and the leader only proposes it (an LREVOKE entry,
    expired): the keys go at the index that entry commits at, on every
    replica alike.

    Pure, like the core: no I/O, clock, threads or randomness of its own;
    the caller passes now. The raft actor owns one (actors/raft_actor_
    lease.c), a simulated node another (tests/sim/), so the simulator
    checks the same code the node runs.

    The life of a leader's lessor:
      lessor_promote      on becoming leader, once the table as applied is
                          known (the storage actor's list): every lease's
                          deadline is now + its TTL + extend. extend is an
                          election timeout: keep-alives the old leader
                          acknowledged are not in the log, so the new one
                          gives every lease at least a full TTL from when
                          it could first hear from its holder, plus the
                          time the election may have hidden (etcd's
                          Promote(extend)).
      lessor_granted      an applied LGRANT (the apply result's
      lessor_revoked      lease_event), in apply order; idempotent, so a
                          list taken a little after some of them (the
                          storage actor answers from what it staged) and
                          their results arriving later agree
      lessor_renew        a keep-alive the leader confirmed it may answer
                          (a read index round after it arrived, §6.4): the
                          deadline moves to now + TTL
      lessor_expired      on every tick: leases whose deadline passed and
                          whose revoke is not in flight (or was proposed
                          longer than retry_ms ago and not applied: the
                          proposal was lost); the caller proposes an
                          LREVOKE for each
      lessor_demote       on losing leadership: forget every deadline

    Bounded by the table's bound (KVSM_LEASES_MAX).
*/
#ifndef LESSOR_H_INCLUDED
#define LESSOR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lessor lessor_t;

/* One lease as the table holds it (the storage actor's list). */
typedef struct {
    uint64_t id;
    uint64_t ttl_ms;
} lessor_lease_t;

/* The smallest TTL a leader grants: a lease must outlive the election
   that may follow its leader's crash, or every leader change would
   expire leases whose holders are alive. etcd's rule: 1.5 election
   timeouts (and a client's smaller TTL is raised to it). */
uint64_t lessor_min_ttl_ms (uint64_t election_timeout_ms);

lessor_t *lessor_new (void);
void lessor_destroy (lessor_t **self_p);

/* Replace the deadlines with leases[0..n), each due at now + ttl +
   extend_ms; the lessor is primary from now on. 0, or -1 (memory: the
   lessor is then empty and not primary). */
int lessor_promote (lessor_t *self, const lessor_lease_t *leases, size_t n,
                    uint64_t now_ms, uint64_t extend_ms);
/* Not primary: forget everything. */
void lessor_demote (lessor_t *self);
bool lessor_is_primary (const lessor_t *self);
size_t lessor_count (const lessor_t *self);

/* An applied LGRANT: due at now + ttl (unchanged if known). Ignored when
   not primary. 0, or -1 (memory). */
int lessor_granted (lessor_t *self, uint64_t id, uint64_t ttl_ms,
                    uint64_t now_ms);
/* An applied LREVOKE (or any removal): forget id. */
void lessor_revoked (lessor_t *self, uint64_t id);

/* A keep-alive: 0 and *ttl_ms (the lease's TTL, now its remaining time),
   or -1 (not primary, or no such lease). */
int lessor_renew (lessor_t *self, uint64_t id, uint64_t now_ms,
                  uint64_t *ttl_ms);
/* 0, *ttl_ms and *remaining_ms (0 once due), or -1 (as lessor_renew). */
int lessor_remaining (const lessor_t *self, uint64_t id, uint64_t now_ms,
                      uint64_t *ttl_ms, uint64_t *remaining_ms);

/* Up to max leases due at now whose revoke is not in flight, in deadline
   order, into ids; each is marked in flight at now. A revoke in flight
   for retry_ms or more without its LREVOKE applied counts as due again.
   Returns how many (0 when not primary). */
size_t lessor_expired (lessor_t *self, uint64_t now_ms, uint64_t retry_ms,
                       uint64_t *ids, size_t max);

#endif
