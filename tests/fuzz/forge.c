/*  forge.c -- see forge.h.
*/
#include "forge.h"
#include "msg_raft.h"
#include "sim.h"

#include <stdlib.h>
#include <string.h>

uint8_t
forge_u8 (forge_in_t *in)
{
    return in->pos < in->n ? in->p[in->pos++] : 0;
}

uint64_t
forge_u64 (forge_in_t *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | forge_u8 (in);
    return v;
}

uint64_t
forge_pick (forge_in_t *in, uint64_t near)
{
    uint8_t b = forge_u8 (in);
    switch (b % 16) {
    case 0:
    case 1: return near;
    case 2: return near + 1;
    case 3: return near ? near - 1 : 0;
    case 4: return near + 2 + forge_u8 (in) % 16;
    case 5: return near > 5 ? near - 2 - forge_u8 (in) % 4 : 0;
    case 6: return 0;
    case 7: return RAFT_TERM_ACCEPT_MAX;
    case 8: return RAFT_TERM_ACCEPT_MAX + 1;
    case 9: return RAFT_TERM_MAX;
    case 10: return RAFT_TERM_MAX + 1;
    case 11: return (uint64_t)1 << 63;
    case 12: return UINT64_MAX;
    case 13: return 1;
    default: return forge_u64 (in);
    }
}

bool
forge_from_member (uint8_t who)
{
    return who % 2 == 0;
}

static const raft_id_t s_strangers[] = {
    4, 5, 9, 1000, (raft_id_t)1 << 32, (raft_id_t)1 << 62, UINT64_MAX};
#define S_N_STRANGERS (sizeof s_strangers / sizeof s_strangers[0])

/* A configuration: the real one, or servers that may not exist. */
static raft_buf_t *
s_conf (forge_in_t *in)
{
    static const raft_id_t ids[] = {1, 2, 3, 4, 9, 1000};
    raft_conf_t c;
    memset (&c, 0, sizeof c);
    uint8_t b = forge_u8 (in);
    c.n = b < 128 ? FORGE_NODES : b % 5;
    for (uint32_t i = 0; i < c.n; i++) {
        c.servers[i].id = b < 128 ? i + 1 : ids[forge_u8 (in) % 6];
        c.servers[i].voter = b < 128 || (forge_u8 (in) & 1);
        sim_addr (c.servers[i].id, c.servers[i].addr);
    }
    return raft_buf_new (&c, sizeof c);
}

static void
s_entry (forge_in_t *in, raft_entry_t *e, raft_index_t index, raft_term_t term)
{
    uint8_t b = forge_u8 (in);
    e->index = b & 0x80 ? forge_pick (in, index) : index;
    e->term = b & 0x40 ? forge_pick (in, term) : term;
    e->type = (raft_entry_type_t)(b % 3);
    if (e->type == RAFT_ENTRY_CONF) {
        e->data = s_conf (in);
    } else if (e->type == RAFT_ENTRY_NORMAL) {
        uint8_t data[8] = {forge_u8 (in), (uint8_t)b};
        e->data = raft_buf_new (data, sizeof data);
    }
}

bool
forge_msg (forge_in_t *in, uint8_t who, raft_id_t to, const raft_status_t *st,
           raft_msg_t *out)
{
    raft_msg_t m = {0};
    m.from = forge_from_member (who) ? 1 + (raft_id_t)(who >> 1) % FORGE_NODES
                                     : s_strangers[(who >> 1) % S_N_STRANGERS];
    uint8_t t = forge_u8 (in);
    m.type = (raft_msg_type_t)(t >= 240 ? t % 13 : 1 + t % 11);
    uint8_t flags = forge_u8 (in);
    m.to = flags & 0x80 ? forge_u8 (in) % 5 : to; /* misaddressed */
    m.reject = flags & 1;
    m.transfer = flags & 2;
    m.done = flags & 4;
    m.term = forge_pick (in, st->term);
    m.prev_index = forge_pick (in, st->last_index);
    m.prev_term = forge_pick (in, st->last_term);
    m.commit = forge_pick (in, st->commit);
    m.index = forge_pick (in, st->last_index);
    if (m.type == RAFT_MSG_APPEND_RESP && m.reject) {
        m.hint_index = forge_pick (in, st->last_index);
        m.hint_term = forge_pick (in, st->last_term);
    }
    uint8_t ctx = forge_u8 (in);
    m.ctx = ctx >= 250 ? forge_u64 (in) : ctx % 8;
    if (m.type == RAFT_MSG_APPEND) {
        m.n_entries = forge_u8 (in) % 5;
        m.entries = m.n_entries ? calloc (m.n_entries, sizeof *m.entries) : 0;
        for (size_t i = 0; i < m.n_entries; i++)
            s_entry (in, &m.entries[i], m.prev_index + 1 + i, m.term);
    } else if (m.type == RAFT_MSG_SNAPSHOT) {
        /* the chunk's data as the simulated state machine makes it (the
           node drops chunks storage cannot read, before the core) */
        sim_snap_wire_t w = {.index = m.prev_index,
                             .state = forge_u64 (in),
                             .nchunks = 1 + forge_u8 (in) % 4,
                             .chunk = (uint32_t)m.ctx};
        m.data = raft_buf_new (&w, sizeof w);
        m.n_entries = 1;
        m.entries = calloc (1, sizeof *m.entries);
        m.entries[0] = (raft_entry_t){.index = m.prev_index,
                                      .term = m.prev_term,
                                      .type = RAFT_ENTRY_CONF,
                                      .data = s_conf (in)};
    }
    msgpack_sbuffer b;
    msgpack_sbuffer_init (&b);
    bool ok = msg_raft_encode (&b, &m) == 0 &&
              msg_raft_decode (b.data, b.size, out) == 0;
    msgpack_sbuffer_destroy (&b);
    raft_msg_clear (&m);
    return ok;
}
