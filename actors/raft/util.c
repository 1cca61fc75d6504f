/*  util.c -- the core's small helpers: growable vectors, reference-counted
    buffers, names for logs and traces, options' defaults, configurations.
*/
#include "raft_int.h"

#include <stdlib.h>
#include <string.h>

/*  ---------------------------------------------------------------------
    Small helpers                                                        */

void *
raft_vec_grow (void *v, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    void *nv = realloc (v, c * elem);
    if (!nv)
        abort ();
    *cap = c;
    return nv;
}

raft_buf_t *
raft_buf_new (const void *data, size_t len)
{
    raft_buf_t *b = malloc (sizeof *b + len);
    if (!b)
        return NULL;
    b->refs = 1;
    b->len = len;
    if (len)
        memcpy (b->data, data, len);
    return b;
}

raft_buf_t *
raft_buf_ref (raft_buf_t *buf)
{
    if (buf)
        buf->refs++;
    return buf;
}

void
raft_buf_unref (raft_buf_t *buf)
{
    if (buf && --buf->refs == 0)
        free (buf);
}

const char *
raft_strerror (int rc)
{
    switch (rc) {
    case RAFT_OK: return "ok";
    case RAFT_ERR_NOT_LEADER: return "not leader";
    case RAFT_ERR_TRANSFERRING: return "leadership transfer in progress";
    case RAFT_ERR_CONF_PENDING: return "configuration change pending";
    case RAFT_ERR_NOT_CAUGHT_UP: return "learner not caught up";
    case RAFT_ERR_UNKNOWN_SERVER: return "unknown server";
    case RAFT_ERR_INVALID: return "invalid argument";
    case RAFT_ERR_NOT_READY: return "leader has not committed in its term";
    case RAFT_ERR_TOO_MANY: return "configuration full";
    }
    return "unknown error";
}

const char *
raft_role_name (raft_role_t role)
{
    static const char *names[] = {"follower", "precandidate", "candidate",
                                  "leader"};
    return role <= RAFT_LEADER ? names[role] : "?";
}

const char *
raft_msg_type_name (raft_msg_type_t type)
{
    static const char *names[] = {"?",
                                  "append",
                                  "append_resp",
                                  "vote",
                                  "vote_resp",
                                  "prevote",
                                  "prevote_resp",
                                  "heartbeat",
                                  "heartbeat_resp",
                                  "timeout_now",
                                  "snapshot",
                                  "snapshot_resp",
                                  "read_index",
                                  "read_index_resp"};
    return type > 0 && type < RAFT_MSG_TYPE_MAX ? names[type] : "?";
}

const char *
raft_event_name (raft_event_type_t type)
{
    static const char *names[] = {"?",
                                  "role",
                                  "term",
                                  "election_start",
                                  "election_won",
                                  "election_lost",
                                  "commit",
                                  "append",
                                  "truncate",
                                  "conf",
                                  "read_round",
                                  "transfer",
                                  "check_quorum_lost",
                                  "snapshot",
                                  "snapshot_send"};
    return type > 0 && type <= RAFT_EV_SNAPSHOT_SEND ? names[type] : "?";
}

void
raft_msg_clear (raft_msg_t *m)
{
    for (size_t i = 0; i < m->n_entries; i++)
        raft_buf_unref (m->entries[i].data);
    free (m->entries);
    m->entries = NULL;
    m->n_entries = 0;
    raft_buf_unref (m->data);
    m->data = NULL;
}

void
raft_options_default (raft_options_t *o)
{
    memset (o, 0, sizeof *o);
    o->election_ticks = 10;
    o->heartbeat_ticks = 1;
    o->max_batch_entries = 256;
    o->max_batch_bytes = 1 << 20;
    o->max_inflight = 64;
    o->pre_vote = true;
    o->check_quorum = true;
}

void
raft_emit (raft_t *r, raft_event_type_t type, uint64_t a, uint64_t b)
{
    if (r->opts.trace) {
        raft_event_t ev = {.type = type, .term = r->term, .a = a, .b = b};
        r->opts.trace (r->opts.trace_ctx, &ev);
    }
}

/*  ---------------------------------------------------------------------
    Configuration helpers                                                */

const raft_server_t *
raft_conf_get (const raft_conf_t *conf, raft_id_t id)
{
    for (uint32_t i = 0; i < conf->n; i++)
        if (conf->servers[i].id == id)
            return &conf->servers[i];
    return NULL;
}

uint32_t
raft_conf_voters (const raft_conf_t *conf)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < conf->n; i++)
        n += conf->servers[i].voter;
    return n;
}

bool
raft_conf_equal (const raft_conf_t *a, const raft_conf_t *b)
{
    if (a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++) {
        const raft_server_t *s = raft_conf_get (b, a->servers[i].id);
        if (!s || s->voter != a->servers[i].voter ||
            strcmp (s->addr, a->servers[i].addr) != 0)
            return false;
    }
    return true;
}

const raft_conf_t *
raft_entry_conf (const raft_entry_t *e)
{
    if (e->type != RAFT_ENTRY_CONF || !e->data ||
        e->data->len != sizeof (raft_conf_t))
        return NULL;
    const raft_conf_t *c = (const raft_conf_t *)e->data->data;
    if (c->n > RAFT_MAX_SERVERS)
        return NULL;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->servers[i].id == 0 ||
            memchr (c->servers[i].addr, 0, RAFT_ADDR_MAX) == NULL)
            return NULL;
    return c;
}

raft_entry_t
raft_bootstrap_entry (const raft_conf_t *conf)
{
    raft_entry_t e = {.term = 1, .index = 1, .type = RAFT_ENTRY_CONF};
    raft_conf_t c;
    memset (&c, 0, sizeof c); /* deterministic bytes, padding included */
    c.n = conf->n;
    for (uint32_t i = 0; i < conf->n && i < RAFT_MAX_SERVERS; i++) {
        c.servers[i].id = conf->servers[i].id;
        c.servers[i].voter = conf->servers[i].voter;
        strncpy (c.servers[i].addr, conf->servers[i].addr, RAFT_ADDR_MAX - 1);
    }
    e.data = raft_buf_new (&c, sizeof c);
    return e;
}

bool
raft_is_voter (const raft_t *r, raft_id_t id)
{
    const raft_server_t *s = raft_conf_get (&r->conf, id);
    return s && s->voter;
}

bool
raft_is_self (const raft_t *r)
{
    if (!r->opts.self_check)
        return true;
    return r->opts.self_check (r->opts.self_ctx,
                               raft_conf_get (&r->conf, r->id));
}

uint32_t
raft_quorum (const raft_t *r)
{
    return raft_conf_voters (&r->conf) / 2 + 1;
}
