/*  sim_kv_workload.c -- the clients' KV commands in the simulator
    (sim_kv.h): puts, deletes, the compare shorthands and TXNs over a few
    keys and values, so that compares hold about as often as not. Drawn
    from a hash of the op number, not from the simulator's generator: the
    fault schedule of every seed is what it was before the workload.
*/
#include "sim_kv.h"

#include "kvsm.h"
#include "kvsm_session.h"
#include "msg_store.h"

#include <stdlib.h>

#define S_KEYS 6 /* k0..k5 (sim_kv.c's maps hold them all) */

static uint64_t
s_mix (uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static raft_buf_t *
s_key (uint64_t *r)
{
    char k[4] = {'k', (char)('0' + (*r = s_mix (*r)) % S_KEYS), 0};
    return raft_buf_new (k, 2);
}

static raft_buf_t *
s_val (uint64_t *r)
{
    char v[4] = {'v', (char)('0' + (*r = s_mix (*r)) % 3), 0};
    return raft_buf_new (v, 2);
}

static void
s_rand_cmp (uint64_t *r, kvsm_cmp_t *c, raft_buf_t *key)
{
    *r = s_mix (*r);
    c->key = key ? raft_buf_ref (key) : s_key (r);
    c->target = (kvsm_target_t)(KVSM_T_VALUE + *r % 5);
    c->op = (kvsm_cmp_op_t)(KVSM_EQ + (*r >> 8) % 4);
    if (c->target == KVSM_T_VALUE)
        c->value = s_val (r);
    else if (c->target == KVSM_T_EXISTS)
        c->num = (*r >> 16) & 1;
    else if (c->target == KVSM_T_VERSION)
        c->num = (*r >> 16) % 4;
    else
        c->num = (*r >> 16) % 64; /* indexes: small ones hit sometimes */
}

/* The leader's wall clock at propose time, in ms: virtual time, skewed
   per node by up to +-150 ms, so that leaders disagree and the state
   machine's clock must not go back. */
static uint64_t
s_stamp (const sim_t *s)
{
    uint64_t skew = s_mix (s->seed ^ (uint64_t)s->cur_node) % 301;
    return 1000 + s->now / 1000 + skew - 150;
}

static raft_buf_t *s_command (const sim_t *s, uint64_t op, uint64_t r);

/* A session client's command: an SOPEN, a retry of its last command
   (the same session, seq and ack; a new stamp), or a new one. */
static raft_buf_t *
s_session_command (const sim_t *s, uint64_t op, uint64_t r)
{
    size_t slot = (r >> 44) % SIM_KV_CLIENTS;
    sim_kv_client_t *cl = &sim_kv_clients (s)[slot];
    kvsm_cmd_t c;
    /* the last client pauses 700 ms in every 1.4 s, longer than the TTL:
       its session expires, and its retry after the pause is refused */
    if (slot == SIM_KV_CLIENTS - 1 && (s->now / 1000 / 700) % 2 == 1)
        return s_command (s, op, r);
    if (!cl->sid) {
        c = (kvsm_cmd_t){
            .op = KVSM_SOPEN, .ttl_ms = SIM_KV_TTL_MS, .stamp_ms = s_stamp (s)};
    } else if (cl->last && (r >> 52) % 3 == 0) {
        if (msg_kv_decode (cl->last->data, cl->last->len, &c) != 0)
            abort ();
        c.stamp_ms = s_stamp (s);
    } else {
        raft_buf_t *b = s_command (s, op, r);
        if (msg_kv_decode (b->data, b->len, &c) != 0)
            abort ();
        raft_buf_unref (b);
        c.version = 0;
        c.has_session = true;
        c.session = cl->sid;
        c.seq = ++cl->seq;
        uint64_t back = 1 + (r >> 56) % 3; /* a few outstanding */
        c.ack = c.seq > back ? c.seq - back : 0;
        c.stamp_ms = s_stamp (s);
    }
    raft_buf_t *b = msg_kv_encode (&c);
    if (!b)
        abort ();
    if (c.op != KVSM_SOPEN) {
        raft_buf_unref (cl->last);
        cl->last = raft_buf_ref (b);
    }
    kvsm_cmd_clear (&c);
    return b;
}

raft_buf_t *
sim_kv_command (const sim_t *s, uint64_t op)
{
    uint64_t r = s_mix (op ^ s_mix (s->seed));
    if ((r >> 36) % 4 == 0) { /* a lease client's (sim_kv_lease.c) */
        raft_buf_t *b = sim_kv_lease_command (s, r);
        if (b)
            return b;
    }
    if ((r >> 40) % 3 == 0)
        return s_session_command (s, op, r);
    return s_command (s, op, r);
}

static raft_buf_t *
s_command (const sim_t *s, uint64_t op, uint64_t r)
{
    (void)s, (void)op;
    kvsm_cmd_t c = {.version = KVSM_CMD_V2};
    unsigned kind = (unsigned)(r % 10);
    if (kind < 6) {
        /* put or delete, half of them with a shorthand compare */
        c.op = kind < 4 ? KVSM_PUT : KVSM_DEL;
        c.key = s_key (&r);
        if (c.op == KVSM_PUT)
            c.value = s_val (&r);
        if ((r = s_mix (r)) & 1) {
            c.cmps = calloc (1, sizeof *c.cmps);
            s_rand_cmp (&r, &c.cmps[0], c.key);
            c.n_cmps = 1;
        }
    } else {
        c.op = KVSM_TXN;
        c.n_cmps = (r = s_mix (r)) % 3;
        c.n_success = 1 + (r >> 8) % 3;
        c.n_failure = (r >> 16) % 3;
        c.cmps = calloc (c.n_cmps + 1, sizeof *c.cmps);
        c.ops = calloc (c.n_success + c.n_failure, sizeof *c.ops);
        if (!c.cmps || !c.ops)
            abort ();
        for (size_t i = 0; i < c.n_cmps; i++)
            s_rand_cmp (&r, &c.cmps[i], NULL);
        for (size_t i = 0; i < c.n_success + c.n_failure; i++) {
            kvsm_txn_op_t *o = &c.ops[i];
            o->op = (kvsm_op_t)((r = s_mix (r)) % 3 == 0 ? KVSM_GET
                                : (r >> 8) % 4 == 0      ? KVSM_DEL
                                                         : KVSM_PUT);
            o->key = s_key (&r);
            if (o->op == KVSM_PUT)
                o->value = s_val (&r);
        }
    }
    raft_buf_t *b = msg_kv_encode (&c);
    kvsm_cmd_clear (&c);
    if (!b)
        abort ();
    return b;
}
