/*  check_int.h -- the safety checker's state, shared by check.c and
    check_commit.c (see check.c for the properties checked).
*/
#ifndef CHECK_INT_H_INCLUDED
#define CHECK_INT_H_INCLUDED

#include "sim.h"

typedef struct {
    raft_index_t index;
    raft_term_t term;
    uint64_t chain;
} sim_check_slot_t;

typedef struct {
    raft_term_t term; /* 0: empty */
    raft_id_t leader;
} sim_check_leader_t;

struct sim_check {
    /* (index, term) -> chain, open addressing */
    sim_check_slot_t *slots;
    size_t cap, used;
    /* term -> leader, open addressing: terms are not dense (a forged term
       from a stranger lifts a cluster to 2^61, see RAFT_TERM_ACCEPT_MAX) */
    sim_check_leader_t *leaders;
    size_t leaders_cap, leaders_used;
    /* committed[i]: entry hash and term of committed index i */
    uint64_t *committed_hash;
    raft_index_t committed_n;
    size_t committed_cap;
    /* applied[i]: entry hash of the entry applied at i by anyone, and the
       state machine's hash after it */
    uint64_t *applied_hash;
    uint64_t *state_hash;
    size_t state_cap;
    raft_index_t applied_n;
    size_t applied_cap;
    raft_index_t acked_max;
    uint64_t node_checks; /* s_check_node calls, to sample costly checks */
};

/* p grown to hold need elements of elem bytes (zeroed), *cap updated. */
void *sim_check_grow (void *p, size_t *cap, size_t need, size_t elem);
uint64_t sim_check_mix (uint64_t h, uint64_t v);
/* The chain value first seen for (index, term); false if never seen. */
bool sim_check_chain_find (sim_t *s, raft_index_t index, raft_term_t term,
                           uint64_t *chain);
/* n's log mirror: chain value at index, and nothing after it. */
void sim_check_chain_set (sim_node_t *n, raft_index_t index, uint64_t value);

#endif
