/*  sim_kv_session.c -- client sessions in the simulator (sim_kv.h,
    §6.3): the clients' sessions, and the check that each (session, seq)
    applies at most once with every duplicate answered by the first
    reply, at every apply on every node.
*/
#include "sim_kv.h"

#include "kvsm_session.h"
#include "msg_kv_session.h"
#include "msg_store.h"

#include <stdlib.h>
#include <string.h>

/* The first application of each (session, seq): where, and its reply
   (msg_kv_result_encode, the flags cleared). Open addressing. */
typedef struct {
    uint64_t sid, seq; /* sid 0: free */
    raft_index_t index;
    raft_term_t term;
    raft_buf_t *reply;
} s_first_t;

struct sim_kv_sessions {
    sim_kv_client_t cl[SIM_KV_CLIENTS];
    s_first_t *firsts;
    size_t fcap, fused;
};

sim_kv_sessions_t *
sim_kv_sessions_new (void)
{
    return calloc (1, sizeof (sim_kv_sessions_t));
}

void
sim_kv_sessions_destroy (sim_kv_sessions_t **self_p)
{
    sim_kv_sessions_t *ss = *self_p;
    if (!ss)
        return;
    for (size_t i = 0; i < SIM_KV_CLIENTS; i++)
        raft_buf_unref (ss->cl[i].last);
    for (size_t i = 0; i < ss->fcap; i++)
        raft_buf_unref (ss->firsts[i].reply);
    free (ss->firsts);
    free (ss);
    *self_p = NULL;
}

sim_kv_client_t *
sim_kv_sessions_clients (sim_kv_sessions_t *self)
{
    return self->cl;
}

static s_first_t *
s_first (sim_kv_sessions_t *kv, uint64_t sid, uint64_t seq)
{
    if (2 * (kv->fused + 1) > kv->fcap) {
        size_t old = kv->fcap;
        s_first_t *of = kv->firsts;
        kv->fcap = old ? 2 * old : 256;
        kv->firsts = calloc (kv->fcap, sizeof *kv->firsts);
        if (!kv->firsts)
            abort ();
        for (size_t i = 0; i < old; i++)
            if (of[i].sid)
                *s_first (kv, of[i].sid, of[i].seq) = of[i];
        free (of);
    }
    size_t i = (size_t)((sid * 0x9e3779b97f4a7c15ULL) ^ seq) & (kv->fcap - 1);
    while (kv->firsts[i].sid &&
           (kv->firsts[i].sid != sid || kv->firsts[i].seq != seq))
        i = (i + 1) & (kv->fcap - 1);
    return &kv->firsts[i];
}

kvsm_sessions_t *
sim_kv_sessions_copy (const kvsm_sessions_t *t, bool through_codec)
{
    kvsm_sessions_t *c = NULL;
    if (!t) {
        c = kvsm_sessions_new ();
    } else if (through_codec) {
        raft_buf_t *b = msg_kv_sessions_encode (t);
        c = b ? msg_kv_sessions_decode (b->data, b->len) : NULL;
        raft_buf_unref (b);
    } else {
        c = kvsm_sessions_dup (t);
    }
    if (!c)
        abort ();
    return c;
}

/* The clients learn their sessions when an SOPEN applies, and forget one
   whose write was refused as expired (they open another). */
static void
s_clients_learn (sim_kv_sessions_t *ss, const kvsm_cmd_t *cmd,
                 const kvsm_result_t *res, const kvsm_sessions_t *after)
{
    for (size_t i = 0; i < SIM_KV_CLIENTS; i++) {
        sim_kv_client_t *c = &ss->cl[i];
        if (cmd->op == KVSM_SOPEN && res->status == KVSM_OK && !c->sid &&
            kvsm_sessions_find (after, res->session) != NULL) {
            bool taken = false;
            for (size_t j = 0; j < SIM_KV_CLIENTS; j++)
                taken = taken || ss->cl[j].sid == res->session;
            if (!taken) {
                *c = (sim_kv_client_t){.sid = res->session};
                break;
            }
        }
        if (cmd->has_session && c->sid == cmd->session &&
            res->status == KVSM_SESSION_EXPIRED) {
            raft_buf_unref (c->last);
            *c = (sim_kv_client_t){0};
        }
    }
}

bool
sim_kv_session_check (sim_t *s, sim_kv_sessions_t *ss, raft_id_t node,
                      raft_index_t codec_at, const raft_entry_t *e,
                      const kvsm_cmd_t *cmd, const kvsm_result_t *res,
                      const kvsm_sessions_t *after, bool kv_unchanged,
                      bool *plain)
{
    raft_index_t index = e->index;
    if (cmd->has_session && res->status == KVSM_SESSION_EXPIRED)
        s->n_sess_expired++;
    if (cmd->op == KVSM_SOPEN || cmd->op == KVSM_SCLOSE ||
        (cmd->has_session && res->status >= KVSM_SESSION_EXPIRED)) {
        *plain = false;
        s_clients_learn (ss, cmd, res, after);
        if (s->unchecked || kv_unchanged)
            return true;
        return sim_fail (s,
                         "KV state machine: node %llu, index %llu: a "
                         "session command refused or without data changed "
                         "the data",
                         (unsigned long long)node, (unsigned long long)index);
    }
    if (!cmd->has_session || s->unchecked)
        return true;
    raft_buf_t *reply;
    kvsm_result_t r = *res;
    r.duplicate = false; /* the flags are the only allowed difference */
    r.first_index = 0;
    if (!(reply = msg_kv_result_encode (&r)))
        abort ();
    s_first_t *f = s_first (ss, cmd->session, cmd->seq);
    if (!f->sid) {
        /* its first application: checked as a write of its own */
        *f = (s_first_t){cmd->session, cmd->seq, index, e->term, reply};
        ss->fused++;
        s->n_sess_writes++;
        return true;
    }
    bool ok = true;
    if (f->index != index) {
        /* a duplicate: nothing applied, the first reply */
        *plain = false;
        s->n_sess_dups++;
        s->n_sess_dups_term += e->term != f->term;
        s->n_sess_dups_codec += codec_at >= f->index;
        const char *what = NULL;
        if (!kv_unchanged)
            what = "applied again";
        else if (res->first_index != f->index)
            what = "the duplicate names another entry as its first";
        else if (reply->len != f->reply->len ||
                 memcmp (reply->data, f->reply->data, reply->len))
            what = "a duplicate's reply differs from the first's";
        if (what)
            ok = sim_fail (s,
                           "sessions: node %llu, index %llu: session %llu "
                           "seq %llu (first applied at %llu): %s",
                           (unsigned long long)node, (unsigned long long)index,
                           (unsigned long long)cmd->session,
                           (unsigned long long)cmd->seq,
                           (unsigned long long)f->index, what);
    }
    raft_buf_unref (reply);
    return ok;
}
