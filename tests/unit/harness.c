/*  harness.c -- the unit tests' harness (see harness.h).
*/
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  ---------------------------------------------------------------------
    Options, configurations, boot states                                 */

uint64_t
h_rand_zero (void *ctx)
{
    (void)ctx;
    return 0;
}

uint64_t
h_rand_fixed (void *ctx)
{
    return *(uint64_t *)ctx;
}

void
h_opts (raft_options_t *o, raft_id_t id)
{
    raft_options_default (o);
    o->id = id;
    o->rand = h_rand_zero;
}

raft_conf_t
h_conf (uint32_t voters, uint32_t learners)
{
    raft_conf_t c;
    memset (&c, 0, sizeof c);
    for (uint32_t i = 0; i < voters + learners && i < RAFT_MAX_SERVERS; i++) {
        c.servers[i].id = i + 1;
        c.servers[i].voter = i < voters;
        snprintf (c.servers[i].addr, RAFT_ADDR_MAX, "n%u", (unsigned)(i + 1));
        c.n++;
    }
    return c;
}

raft_t *
h_boot (const raft_options_t *o, const raft_conf_t *conf, raft_term_t term,
        raft_id_t vote, const raft_term_t *terms, size_t n,
        raft_index_t applied)
{
    raft_entry_t *e = calloc (n + 1, sizeof *e);
    if (!e)
        abort ();
    e[0] = raft_bootstrap_entry (conf);
    raft_term_t last = 1;
    for (size_t i = 0; i < n; i++) {
        char text[32];
        int len = snprintf (text, sizeof text, "boot%zu.%llu", i + 2,
                            (unsigned long long)terms[i]);
        e[i + 1].term = terms[i];
        e[i + 1].index = i + 2;
        e[i + 1].type = RAFT_ENTRY_NORMAL;
        e[i + 1].data = raft_buf_new (text, (size_t)len);
        last = terms[i];
    }
    raft_boot_t boot;
    memset (&boot, 0, sizeof boot);
    boot.hs.term = term > last ? term : last;
    boot.hs.vote = vote;
    boot.entries = e;
    boot.n_entries = n + 1;
    boot.applied = applied;
    raft_t *r = raft_new (o, &boot);
    for (size_t i = 0; i < n + 1; i++)
        raft_buf_unref (e[i].data);
    free (e);
    return r;
}

raft_t *
h_new (raft_id_t id, const raft_conf_t *conf)
{
    raft_options_t o;
    h_opts (&o, id);
    return h_boot (&o, conf, 1, 0, NULL, 0, 0);
}

raft_t *
h_new_empty (const raft_options_t *o)
{
    raft_boot_t boot;
    memset (&boot, 0, sizeof boot);
    return raft_new (o, &boot);
}

raft_status_t
h_st (const raft_t *r)
{
    raft_status_t st;
    raft_status (r, &st);
    return st;
}

raft_term_t
h_term_at (const raft_t *r, raft_index_t index)
{
    const raft_entry_t *e = raft_log_get (r, index);
    return e ? e->term : 0;
}

int
h_type_at (const raft_t *r, raft_index_t index)
{
    const raft_entry_t *e = raft_log_get (r, index);
    return e ? (int)e->type : -1;
}

bool
h_log_is (const raft_t *r, const raft_term_t *terms, size_t n)
{
    if (h_st (r).last_index != n + 1 || h_term_at (r, 1) != 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if (h_term_at (r, i + 2) != terms[i])
            return false;
    return true;
}

/*  ---------------------------------------------------------------------
    Batches                                                              */

static void *
s_grow (void *v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return v;
    size_t c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    void *nv = realloc (v, c * elem);
    if (!nv)
        abort ();
    *cap = c;
    return nv;
}

static raft_msg_t
s_msg_copy (const raft_msg_t *m)
{
    raft_msg_t c = *m;
    c.entries = NULL;
    c.n_entries = 0;
    if (m->n_entries) {
        c.entries = malloc (m->n_entries * sizeof *c.entries);
        if (!c.entries)
            abort ();
        for (size_t i = 0; i < m->n_entries; i++) {
            c.entries[i] = m->entries[i];
            raft_buf_ref (c.entries[i].data);
        }
        c.n_entries = m->n_entries;
    }
    return c;
}

static void
s_push_msg (h_batch_t *b, const raft_msg_t *m)
{
    b->msgs = s_grow (b->msgs, &b->cap_msgs, b->n_msgs + 1, sizeof *b->msgs);
    b->msgs[b->n_msgs++] = s_msg_copy (m);
}

static void
s_push_entries (raft_entry_t **v, size_t *n, size_t *cap,
                const raft_entry_t *src, size_t count)
{
    *v = s_grow (*v, cap, *n + count, sizeof **v);
    for (size_t i = 0; i < count; i++) {
        (*v)[*n] = src[i];
        raft_buf_ref (src[i].data);
        (*n)++;
    }
}

void
h_batch_free (h_batch_t *b)
{
    for (size_t i = 0; i < b->n_msgs; i++)
        raft_msg_clear (&b->msgs[i]);
    for (size_t i = 0; i < b->n_entries; i++)
        raft_buf_unref (b->entries[i].data);
    for (size_t i = 0; i < b->n_committed; i++)
        raft_buf_unref (b->committed[i].data);
    free (b->msgs);
    free (b->entries);
    free (b->committed);
    free (b->reads);
    memset (b, 0, sizeof *b);
}

bool
h_collect (raft_t *r, h_batch_t *b, uint64_t *seq)
{
    raft_ready_t rd;
    bool any = raft_ready (r, &rd);
    if (seq)
        *seq = rd.seq;
    if (rd.seq)
        b->seq = rd.seq;
    if (rd.hs_changed) {
        b->hs_changed = true;
        b->hs = rd.hs;
    }
    s_push_entries (&b->entries, &b->n_entries, &b->cap_entries, rd.entries,
                    rd.n_entries);
    for (size_t i = 0; i < rd.n_msgs; i++)
        s_push_msg (b, &rd.msgs[i]);
    s_push_entries (&b->committed, &b->n_committed, &b->cap_committed,
                    rd.committed, rd.n_committed);
    if (rd.n_reads) {
        b->reads = s_grow (b->reads, &b->cap_reads, b->n_reads + rd.n_reads,
                           sizeof *b->reads);
        memcpy (b->reads + b->n_reads, rd.reads, rd.n_reads * sizeof *rd.reads);
        b->n_reads += rd.n_reads;
    }
    return any;
}

bool
h_ready (raft_t *r, h_batch_t *b)
{
    h_batch_free (b);
    return h_collect (r, b, NULL);
}

void
h_settle_ex (raft_t *r, h_batch_t *b, bool apply)
{
    h_batch_free (b);
    for (int i = 0; i < 100; i++) {
        uint64_t seq = 0;
        size_t before = b->n_committed;
        if (!h_collect (r, b, &seq))
            return;
        if (seq)
            raft_persisted (r, seq);
        if (apply && b->n_committed > before)
            raft_applied (r, b->committed[b->n_committed - 1].index);
    }
    CHECK (!"h_settle: raft_ready () never ran dry");
}

void
h_settle (raft_t *r, h_batch_t *b)
{
    h_settle_ex (r, b, true);
}

const raft_msg_t h_no_msg;

const raft_msg_t *
h_find_nth (const h_batch_t *b, raft_msg_type_t type, raft_id_t to, size_t k)
{
    for (size_t i = 0; i < b->n_msgs; i++) {
        const raft_msg_t *m = &b->msgs[i];
        if (m->type == type && (to == 0 || m->to == to)) {
            if (k == 0)
                return m;
            k--;
        }
    }
    return &h_no_msg;
}

const raft_msg_t *
h_find (const h_batch_t *b, raft_msg_type_t type, raft_id_t to)
{
    return h_find_nth (b, type, to, 0);
}

size_t
h_count (const h_batch_t *b, raft_msg_type_t type, raft_id_t to)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n_msgs; i++)
        if (b->msgs[i].type == type && (to == 0 || b->msgs[i].to == to))
            n++;
    return n;
}

/*  ---------------------------------------------------------------------
    Messages                                                             */

raft_msg_t
h_msg (raft_msg_type_t type, raft_id_t from, raft_id_t to, raft_term_t term)
{
    raft_msg_t m;
    memset (&m, 0, sizeof m);
    m.type = type;
    m.from = from;
    m.to = to;
    m.term = term;
    return m;
}

raft_msg_t
h_append (raft_id_t from, raft_id_t to, raft_term_t term,
          raft_index_t prev_index, raft_term_t prev_term, raft_index_t commit,
          const raft_term_t *terms, size_t n)
{
    raft_msg_t m = h_msg (RAFT_MSG_APPEND, from, to, term);
    m.prev_index = prev_index;
    m.prev_term = prev_term;
    m.commit = commit;
    if (n) {
        m.entries = calloc (n, sizeof *m.entries);
        if (!m.entries)
            abort ();
        for (size_t i = 0; i < n; i++) {
            char text[32];
            raft_index_t idx = prev_index + 1 + i;
            int len = snprintf (text, sizeof text, "e%llu.%llu",
                                (unsigned long long)idx,
                                (unsigned long long)terms[i]);
            m.entries[i].term = terms[i];
            m.entries[i].index = idx;
            m.entries[i].type = RAFT_ENTRY_NORMAL;
            m.entries[i].data = raft_buf_new (text, (size_t)len);
        }
        m.n_entries = n;
    }
    return m;
}

void
h_step_clear (raft_t *r, raft_msg_t *m)
{
    raft_step (r, m);
    raft_msg_clear (m);
}

void
h_reply_ok (raft_t *r, const raft_msg_t *m)
{
    raft_msg_t resp = h_msg (RAFT_MSG_APPEND_RESP, m->to, m->from, m->term);
    switch (m->type) {
    case RAFT_MSG_APPEND: resp.index = m->prev_index + m->n_entries; break;
    case RAFT_MSG_HEARTBEAT:
        resp.type = RAFT_MSG_HEARTBEAT_RESP;
        resp.ctx = m->ctx;
        break;
    case RAFT_MSG_PREVOTE: resp.type = RAFT_MSG_PREVOTE_RESP; break;
    case RAFT_MSG_VOTE: resp.type = RAFT_MSG_VOTE_RESP; break;
    default: return;
    }
    raft_step (r, &resp);
}

raft_index_t
h_propose (raft_t *r, const char *text)
{
    raft_buf_t *data = raft_buf_new (text, strlen (text));
    raft_index_t idx = 0;
    int rc = raft_propose (r, data, &idx, NULL);
    raft_buf_unref (data);
    CHECK (rc == RAFT_OK);
    return rc == RAFT_OK ? idx : 0;
}

void
h_ack_all (raft_t *r, const h_batch_t *b, raft_id_t to)
{
    for (size_t i = 0; i < b->n_msgs; i++) {
        const raft_msg_t *m = &b->msgs[i];
        if ((m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT) &&
            (to == 0 || m->to == to))
            h_reply_ok (r, m);
    }
}

/*  ---------------------------------------------------------------------
    Elections and networks                                               */

static bool
s_may_grant (const raft_t *r, const raft_id_t *grant, raft_id_t id)
{
    if (!grant) {
        const raft_server_t *s = raft_conf_get (raft_conf (r), id);
        return s && s->voter;
    }
    for (; *grant; grant++)
        if (*grant == id)
            return true;
    return false;
}

/* Grant every request of type in b from the allowed voters while r stays in
   role. */
static void
s_grant (raft_t *r, const h_batch_t *b, raft_msg_type_t type, raft_role_t role,
         const raft_id_t *grant)
{
    for (size_t i = 0; i < b->n_msgs && h_st (r).role == role; i++) {
        const raft_msg_t *m = &b->msgs[i];
        if (m->type == type && s_may_grant (r, grant, m->to))
            h_reply_ok (r, m);
    }
}

bool
h_elect_with (raft_t *r, const raft_id_t *grant)
{
    h_batch_t b = {0};
    for (int i = 0; i < 1000 && h_st (r).role == RAFT_FOLLOWER; i++)
        raft_tick (r);
    if (h_st (r).role == RAFT_PRECANDIDATE) {
        h_settle (r, &b);
        s_grant (r, &b, RAFT_MSG_PREVOTE, RAFT_PRECANDIDATE, grant);
    }
    if (h_st (r).role == RAFT_CANDIDATE) {
        h_settle (r, &b);
        s_grant (r, &b, RAFT_MSG_VOTE, RAFT_CANDIDATE, grant);
    }
    h_batch_free (&b);
    return h_st (r).role == RAFT_LEADER;
}

bool
h_elect (raft_t *r)
{
    return h_elect_with (r, NULL);
}

bool
h_make_leader (raft_t *r, h_batch_t *b)
{
    bool ok = h_elect (r);
    h_settle (r, b);
    return ok;
}

raft_t *
h_new_leader (const raft_options_t *o, const raft_conf_t *conf)
{
    raft_t *r = h_boot (o, conf, 1, 0, NULL, 0, 0);
    if (!r)
        return NULL;
    h_batch_t b = {0};
    CHECK (h_make_leader (r, &b));
    h_ack_all (r, &b, 0);
    h_settle (r, &b);
    h_batch_free (&b);
    CHECK (h_st (r).commit == 2 && h_st (r).applied == 2);
    return r;
}

size_t
h_pump_ex (raft_t **nodes, size_t n, h_batch_t *rest,
           bool (*drop) (const raft_msg_t *m, void *ctx), void *ctx)
{
    h_batch_t b = {0};
    size_t moved = 0;
    for (int iter = 0; iter < 1000; iter++) {
        size_t round = 0;
        for (size_t i = 0; i < n; i++) {
            h_settle (nodes[i], &b);
            for (size_t k = 0; k < b.n_msgs; k++) {
                const raft_msg_t *m = &b.msgs[k];
                round++;
                if (drop && drop (m, ctx))
                    continue;
                raft_t *dst = NULL;
                for (size_t j = 0; j < n; j++)
                    if (h_st (nodes[j]).id == m->to)
                        dst = nodes[j];
                if (dst)
                    raft_step (dst, m);
                else if (rest)
                    s_push_msg (rest, m);
            }
        }
        moved += round;
        if (round == 0) {
            h_batch_free (&b);
            return moved;
        }
    }
    h_batch_free (&b);
    CHECK (!"h_pump: the nodes never went quiet");
    return moved;
}

size_t
h_pump (raft_t **nodes, size_t n, h_batch_t *rest)
{
    return h_pump_ex (nodes, n, rest, NULL, NULL);
}
