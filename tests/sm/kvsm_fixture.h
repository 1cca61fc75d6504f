/*  kvsm_fixture.h -- what the state machine's suites (test_kvsm*.c)
    share: an in-memory view of the KV data (a small array of records,
    with a get that can be made to fail), and applying a command the way
    the node does, through the command codec (msg/msg_kv.c) first, since
    the log holds the encoded bytes.

        kf_map_t m = {.sessions = kvsm_sessions_new ()};
        kvsm_cmd_t c = {.op = KVSM_PUT, .key = kf_b ("a"), .value = kf_b ("1")};
        kvsm_result_t res;
        CHECK_EQ (kf_apply (&m, 3, &c, &res), 0);
        CHECK (kf_find_s (&m, "a")->meta.version == 1);
*/
#ifndef KVSM_FIXTURE_H_INCLUDED
#define KVSM_FIXTURE_H_INCLUDED

#include "kvsm.h"

#include <stdbool.h>
#include <stddef.h>

#define KF_MAX 32

typedef struct {
    char key[32];
    kvsm_meta_t meta;
    char value[64];
} kf_rec_t;

typedef struct {
    kf_rec_t recs[KF_MAX];
    size_t n;
    int fail_get; /* fail the get after this many (0: never) */
    int gets;
    kvsm_sessions_t *sessions; /* the view's, or NULL */
    kvsm_leases_t *leases;     /* the view's, or NULL */
} kf_map_t;

/* A new buffer holding the C string s. */
raft_buf_t *kf_b (const char *s);
kf_rec_t *kf_find (kf_map_t *m, const raft_buf_t *key);
/* The record of the C string key, or NULL. */
kf_rec_t *kf_find_s (kf_map_t *m, const char *key);
kvsm_view_t kf_view (kf_map_t *m);
/* Apply cmd (taken: cleared) at index through an encode/decode round
   trip: kvsm_apply's return, or -1 when the codec refused it (a failed
   CHECK). */
int kf_apply (kf_map_t *m, raft_index_t index, kvsm_cmd_t *cmd,
              kvsm_result_t *res);
/* The same, and the version the codec wrote into *version if not NULL. */
int kf_apply_v (kf_map_t *m, raft_index_t index, kvsm_cmd_t *cmd,
                kvsm_result_t *res, unsigned *version);

#endif
