/*  test_kvsm_session.c -- client sessions of the KV state machine
    (store/kvsm_session.h, §6.3) over a one-key view: register, a
    duplicate answered with its first reply and changing nothing, the
    window and ack, expiry by the stamps alone, stale seqs, close, and
    the table through its codec (msg/msg_kv_session.c) as LevelDB and
    snapshots carry it. Every command goes through msg_kv's encoding and
    back first, as the log carries it.
*/
#include "check.h"
#include "kvsm_fixture.h"
#include "kvsm_session.h"
#include "msg_kv_session.h"
#include "msg_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The KV data: one counter-like key "k" (enough to see double applies:
   its version counts the puts); s_k is its record ({0} when absent). */
static kf_rec_t *
s_k (kf_map_t *m)
{
    static kf_rec_t none;
    kf_rec_t *r = kf_find_s (m, "k");
    if (r)
        return r;
    memset (&none, 0, sizeof none);
    return &none;
}

static uint64_t
s_open (kf_map_t *m, raft_index_t index, uint64_t ttl, uint64_t stamp)
{
    kvsm_cmd_t c = {.op = KVSM_SOPEN, .ttl_ms = ttl, .stamp_ms = stamp};
    kvsm_result_t res;
    CHECK_EQ (kf_apply (m, index, &c, &res), 0);
    CHECK (res.status == KVSM_OK && res.op == KVSM_SOPEN);
    CHECK_UEQ (res.session, index);
    uint64_t id = res.session;
    kvsm_result_clear (&res);
    return id;
}

/* A put of "k" = v in session sid; *res its result. */
static void
s_sput (kf_map_t *m, raft_index_t index, uint64_t sid, uint64_t seq,
        uint64_t ack, uint64_t stamp, const char *v, kvsm_result_t *res)
{
    kvsm_cmd_t c = {.op = KVSM_PUT,
                    .key = raft_buf_new ("k", 1),
                    .value = raft_buf_new (v, strlen (v)),
                    .has_session = true,
                    .session = sid,
                    .seq = seq,
                    .ack = ack,
                    .stamp_ms = stamp};
    CHECK_EQ (kf_apply (m, index, &c, res), 0);
}

static kvsm_status_t
s_sput_status (kf_map_t *m, raft_index_t index, uint64_t sid, uint64_t seq,
               uint64_t ack, uint64_t stamp)
{
    kvsm_result_t res;
    s_sput (m, index, sid, seq, ack, stamp, "x", &res);
    kvsm_status_t st = res.status;
    kvsm_result_clear (&res);
    return st;
}

static void
test_register_and_duplicate (void)
{
    kf_map_t m = {.sessions = kvsm_sessions_new ()};
    uint64_t sid = s_open (&m, 5, 1000, 100);
    CHECK (kvsm_sessions_find (m.sessions, sid) != NULL);
    kvsm_result_t first, again;
    s_sput (&m, 6, sid, 1, 0, 110, "a", &first);
    CHECK (first.status == KVSM_OK && !first.duplicate &&
           first.resps[0].meta.mod_index == 6);
    CHECK_UEQ (s_k (&m)->meta.version, 1);
    /* the retry, at a later index with a later stamp and another value:
       the first reply, nothing applied */
    s_sput (&m, 9, sid, 1, 0, 150, "b", &again);
    CHECK (again.status == KVSM_OK && again.duplicate);
    CHECK (again.n_resps == 1 && again.resps[0].meta.mod_index == 6 &&
           again.resps[0].meta.version == 1);
    CHECK_UEQ (s_k (&m)->meta.version, 1);
    CHECK_STREQ (s_k (&m)->value, "a");
    kvsm_result_clear (&again);
    /* a duplicate of a compare that failed gets the same 412 */
    kvsm_cmd_t c = {.op = KVSM_DEL,
                    .key = raft_buf_new ("k", 1),
                    .has_session = true,
                    .session = sid,
                    .seq = 2,
                    .ack = 1,
                    .stamp_ms = 160};
    c.cmps = calloc (1, sizeof *c.cmps);
    c.cmps[0] = (kvsm_cmp_t){.key = raft_buf_new ("k", 1),
                             .target = KVSM_T_VALUE,
                             .op = KVSM_EQ,
                             .value = raft_buf_new ("zz", 2)};
    c.n_cmps = 1;
    kvsm_cmd_t c2 = c;
    c2.key = raft_buf_ref (c.key);
    c2.cmps = calloc (1, sizeof *c2.cmps);
    c2.cmps[0] = c.cmps[0];
    raft_buf_ref (c2.cmps[0].key);
    raft_buf_ref (c2.cmps[0].value);
    CHECK_EQ (kf_apply (&m, 10, &c, &again), 0);
    CHECK (again.status == KVSM_COMPARE_FAILED && !again.duplicate);
    kvsm_result_clear (&again);
    s_k (&m)->meta.version = 1;
    CHECK_EQ (kf_apply (&m, 11, &c2, &again), 0);
    CHECK (again.status == KVSM_COMPARE_FAILED && again.duplicate);
    CHECK (kf_find_s (&m, "k") != NULL);
    kvsm_result_clear (&again);
    /* ack 1 dropped seq 1's reply: a retry of it now is stale */
    CHECK (s_sput_status (&m, 12, sid, 1, 1, 170) == KVSM_SESSION_STALE);
    kvsm_result_clear (&first);
    /* an unknown session: not applied */
    uint64_t v = s_k (&m)->meta.version;
    CHECK (s_sput_status (&m, 13, 999, 1, 0, 180) == KVSM_SESSION_EXPIRED);
    CHECK_UEQ (s_k (&m)->meta.version, v);
    kvsm_sessions_destroy (&m.sessions);
}

static void
test_window_and_ack (void)
{
    kf_map_t m = {.sessions = kvsm_sessions_new ()};
    uint64_t sid = s_open (&m, 1, 1000, 10);
    raft_index_t i = 2;
    /* out of order within the window: 3 before 2 */
    CHECK (s_sput_status (&m, i++, sid, 3, 0, 10) == KVSM_OK);
    CHECK (s_sput_status (&m, i++, sid, 2, 0, 10) == KVSM_OK);
    CHECK_UEQ (s_k (&m)->meta.version, 2);
    kvsm_session_t *s = kvsm_sessions_find (m.sessions, sid);
    CHECK (s && s->n_replies == 2 && s->replies[0].seq == 2);
    /* 64 kept: seq 64 fits with ack 0, 65 does not */
    CHECK (s_sput_status (&m, i++, sid, 64, 0, 10) == KVSM_OK);
    CHECK (s_sput_status (&m, i++, sid, 65, 0, 10) == KVSM_SESSION_WINDOW);
    CHECK_UEQ (s_k (&m)->meta.version, 3);
    /* ack 3 frees 1..3: 65 fits now; the kept ones above 3 stay */
    CHECK (s_sput_status (&m, i++, sid, 65, 3, 10) == KVSM_OK);
    s = kvsm_sessions_find (m.sessions, sid);
    CHECK (s && s->acked == 3 && s->n_replies == 2 && s->replies[0].seq == 64 &&
           s->replies[1].seq == 65);
    CHECK (s_sput_status (&m, i++, sid, 2, 3, 10) == KVSM_SESSION_STALE);
    /* an ack at or above seq is cut to seq - 1 */
    CHECK (s_sput_status (&m, i++, sid, 70, 500, 10) == KVSM_OK);
    s = kvsm_sessions_find (m.sessions, sid);
    CHECK (s && s->acked == 69 && s->n_replies == 1);
    CHECK (s->n_replies <= KVSM_SESSION_KEPT_MAX);
    kvsm_sessions_destroy (&m.sessions);
}

static void
test_expiry_by_stamps (void)
{
    kf_map_t m = {.sessions = kvsm_sessions_new ()};
    uint64_t a = s_open (&m, 1, 1000, 5000);
    uint64_t b = s_open (&m, 2, 1000, 5000);
    /* no stamped entry: nothing expires however many plain entries */
    kvsm_cmd_t c = {.op = KVSM_PUT,
                    .key = raft_buf_new ("k", 1),
                    .value = raft_buf_new ("p", 1)};
    kvsm_result_t res;
    CHECK_EQ (kf_apply (&m, 3, &c, &res), 0);
    kvsm_result_clear (&res);
    CHECK (kvsm_sessions_find (m.sessions, a) &&
           kvsm_sessions_find (m.sessions, b));
    /* a keeps itself alive at 5900; the clock at 6000 is exactly b's
       last + ttl: not expired (last + ttl < clock expires) */
    CHECK (s_sput_status (&m, 4, a, 1, 0, 5900) == KVSM_OK);
    CHECK (s_sput_status (&m, 5, a, 2, 1, 6000) == KVSM_OK);
    CHECK (kvsm_sessions_find (m.sessions, b));
    /* a stamp from a leader whose clock is behind does not turn the
       clock back */
    CHECK (s_sput_status (&m, 6, a, 3, 2, 3000) == KVSM_OK);
    CHECK_UEQ (m.sessions->clock_ms, 6000);
    /* 6001: b expires at the apply of that entry (a's request) */
    CHECK (s_sput_status (&m, 7, a, 4, 3, 6001) == KVSM_OK);
    CHECK (!kvsm_sessions_find (m.sessions, b));
    /* a retry in the expired session: refused, not applied */
    uint64_t v = s_k (&m)->meta.version;
    CHECK (s_sput_status (&m, 8, b, 1, 0, 6002) == KVSM_SESSION_EXPIRED);
    CHECK_UEQ (s_k (&m)->meta.version, v);
    /* a expires when its own late request arrives (the sweep found it,
       or the check did) */
    CHECK (s_sput_status (&m, 9, a, 5, 4, 7002) == KVSM_SESSION_EXPIRED);
    CHECK (!kvsm_sessions_find (m.sessions, a) && m.sessions->n == 0);
    kvsm_sessions_destroy (&m.sessions);
}

static void
test_sweep_bound (void)
{
    kf_map_t m = {.sessions = kvsm_sessions_new ()};
    for (raft_index_t i = 1; i <= 40; i++)
        s_open (&m, i, 10, 100);
    uint64_t keep = s_open (&m, 41, 100000, 100);
    /* one stamped entry far later: at most 16 expire at it */
    CHECK (s_sput_status (&m, 42, keep, 1, 0, 1000) == KVSM_OK);
    CHECK_EQ (m.sessions->n, 41 - KVSM_SESSION_EXPIRE_PER_ENTRY);
    CHECK (!kvsm_sessions_find (m.sessions, 1) &&
           kvsm_sessions_find (m.sessions, 17));
    CHECK (s_sput_status (&m, 43, keep, 2, 1, 1000) == KVSM_OK);
    CHECK (s_sput_status (&m, 44, keep, 3, 2, 1000) == KVSM_OK);
    CHECK_EQ (m.sessions->n, 1);
    kvsm_sessions_destroy (&m.sessions);
}

static void
test_close (void)
{
    kf_map_t m = {.sessions = kvsm_sessions_new ()};
    uint64_t sid = s_open (&m, 3, 1000, 1);
    kvsm_cmd_t c = {.op = KVSM_SCLOSE, .session = sid, .stamp_ms = 2};
    kvsm_result_t res;
    CHECK_EQ (kf_apply (&m, 4, &c, &res), 0);
    CHECK (res.status == KVSM_OK && res.op == KVSM_SCLOSE &&
           res.n_sessions_touched == 1 && res.sessions_touched[0] == sid);
    kvsm_result_clear (&res);
    CHECK (!kvsm_sessions_find (m.sessions, sid));
    c = (kvsm_cmd_t){.op = KVSM_SCLOSE, .session = sid, .stamp_ms = 3};
    CHECK_EQ (kf_apply (&m, 5, &c, &res), 0);
    CHECK (res.status == KVSM_SESSION_EXPIRED);
    kvsm_result_clear (&res);
    CHECK (s_sput_status (&m, 6, sid, 1, 0, 4) == KVSM_SESSION_EXPIRED);
    CHECK (kf_find_s (&m, "k") == NULL);
    /* without a table, a session command fails the apply: the caller's
       bug, never a silent success */
    kvsm_sessions_t *t = m.sessions;
    m.sessions = NULL;
    c = (kvsm_cmd_t){.op = KVSM_SOPEN, .ttl_ms = 5, .stamp_ms = 1};
    CHECK_EQ (kf_apply (&m, 7, &c, &res), -1);
    kvsm_result_clear (&res);
    kvsm_sessions_destroy (&t);
}

static void
test_codecs (void)
{
    kf_map_t m = {.sessions = kvsm_sessions_new ()};
    uint64_t a = s_open (&m, 1, 1000, 100);
    s_open (&m, 2, 2000, 100);
    CHECK (s_sput_status (&m, 3, a, 1, 0, 120) == KVSM_OK);
    CHECK (s_sput_status (&m, 4, a, 2, 0, 130) == KVSM_OK);
    raft_buf_t *b = msg_kv_sessions_encode (m.sessions);
    CHECK (b != NULL);
    kvsm_sessions_t *back = msg_kv_sessions_decode (b->data, b->len);
    CHECK (back && kvsm_sessions_eq (back, m.sessions) &&
           back->clock_ms == 130);
    /* and the copy answers a duplicate the same: the snapshot round trip
       keeps exactly-once */
    kvsm_sessions_t *orig = m.sessions;
    m.sessions = back;
    kvsm_result_t res;
    s_sput (&m, 5, a, 2, 0, 140, "other", &res);
    CHECK (res.duplicate && res.resps[0].meta.mod_index == 4 &&
           res.first_index == 4);
    /* a result's session fields through the result codec (what the HTTP
       worker renders) */
    raft_buf_t *rb = msg_kv_result_encode (&res);
    kvsm_result_t rback;
    CHECK (rb && msg_kv_result_decode (rb->data, rb->len, &rback) == 0);
    CHECK (rback.duplicate && rback.first_index == 4 && rback.n_resps == 1);
    kvsm_result_clear (&rback);
    raft_buf_unref (rb);
    kvsm_result_t op = {.op = KVSM_SOPEN, .session = 9, .ttl_ms = 77};
    rb = msg_kv_result_encode (&op);
    CHECK (rb && msg_kv_result_decode (rb->data, rb->len, &rback) == 0);
    CHECK (rback.op == KVSM_SOPEN && rback.session == 9 && rback.ttl_ms == 77 &&
           !rback.duplicate);
    kvsm_result_clear (&rback);
    raft_buf_unref (rb);
    kvsm_result_clear (&res);
    m.sessions = orig;
    kvsm_sessions_t *dup = kvsm_sessions_dup (orig);
    CHECK (dup && kvsm_sessions_eq (dup, orig) &&
           !kvsm_sessions_eq (dup, back));
    for (size_t len = 0; b && len < b->len; len++)
        CHECK (msg_kv_sessions_decode (b->data, len) == NULL);
    raft_buf_unref (b);
    /* commands: seq 0 and a TTL out of range never encode; a version-2
       write keeps its old bytes */
    kvsm_cmd_t c = {.op = KVSM_PUT,
                    .key = raft_buf_new ("k", 1),
                    .value = raft_buf_new ("v", 1),
                    .has_session = true,
                    .session = 1};
    CHECK (msg_kv_encode (&c) == NULL);
    c.has_session = false;
    raft_buf_t *v2 = msg_kv_encode (&c);
    CHECK (v2 && v2->data[1] == KVSM_CMD_V2);
    raft_buf_unref (v2);
    kvsm_cmd_clear (&c);
    c = (kvsm_cmd_t){.op = KVSM_SOPEN, .ttl_ms = 0};
    CHECK (msg_kv_encode (&c) == NULL);
    c.ttl_ms = KVSM_SESSION_TTL_MAX_MS + 1;
    CHECK (msg_kv_encode (&c) == NULL);
    kvsm_sessions_destroy (&dup);
    kvsm_sessions_destroy (&back);
    kvsm_sessions_destroy (&m.sessions);
}

int
main (void)
{
    check_watchdog ("test_kvsm_session", 60);
    check_run ("register, a duplicate gets its first reply",
               test_register_and_duplicate);
    check_run ("the window and ack", test_window_and_ack);
    check_run ("expiry by the stamps alone", test_expiry_by_stamps);
    check_run ("bounded expiry per entry", test_sweep_bound);
    check_run ("close", test_close);
    check_run ("the table's codec: snapshots keep exactly-once", test_codecs);
    return check_report ();
}
