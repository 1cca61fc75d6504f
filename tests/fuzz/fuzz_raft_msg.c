/*  fuzz_raft_msg.c -- msg_raft_decode and msg_entry_decode (msg/msg_raft.h)
    on arbitrary bytes: what anyone who reaches a peer port sends, and what
    storage reads back as log entries. Both decoders see every input.

    Properties:
      - no crash, leak, out-of-bounds access or undefined behaviour (ASan,
        LSan, UBSan), and no allocation beyond libFuzzer's limit (msgpack-c
        allocates from declared sizes: msg_sizes_plausible must stop that);
      - what decodes is what the core expects (raft.h): entries present iff
        n_entries, at most MSG_RAFT_MAX_ENTRIES of them; a CONF entry holds
        one well-formed configuration (raft_entry_conf) with distinct ids;
        a NORMAL entry has data, at most MSG_RAFT_MAX_DATA bytes;
      - round trip: what decodes re-encodes, the encoding decodes to an
        equal message, and encoding that gives the same bytes again (the
        encoder's output is canonical);
      - the consumer: the message goes, as the raft actor hands it over
        (a snapshot chunk only with well-formed data), into a core whose
        configuration holds its sender, and the core's batches are drained:
        whatever decodes must be taken or dropped without an assert.
*/
#include "equal.h"
#include "fuzz.h"
#include "msg_raft.h"
#include "msg_store.h"

static bool
s_msg_eq (const raft_msg_t *a, const raft_msg_t *b)
{
    if (a->type != b->type || a->from != b->from || a->to != b->to ||
        a->term != b->term || a->prev_index != b->prev_index ||
        a->prev_term != b->prev_term || a->commit != b->commit ||
        a->reject != b->reject || a->index != b->index ||
        a->hint_index != b->hint_index || a->hint_term != b->hint_term ||
        a->transfer != b->transfer || a->ctx != b->ctx ||
        a->n_entries != b->n_entries || a->done != b->done ||
        !equal_buf (a->data, b->data))
        return false;
    for (size_t i = 0; i < a->n_entries; i++)
        if (!equal_entry (&a->entries[i], &b->entries[i]))
            return false;
    return true;
}

/* What the core and storage rely on in a decoded entry. */
static void
s_check_entry (const raft_entry_t *e)
{
    FUZZ_CHECK (e->type <= RAFT_ENTRY_CONF);
    if (e->type == RAFT_ENTRY_CONF) {
        const raft_conf_t *c = raft_entry_conf (e);
        FUZZ_CHECK (c != NULL);
        for (uint32_t i = 0; i < c->n; i++)
            for (uint32_t k = 0; k < i; k++)
                FUZZ_CHECK (c->servers[i].id != c->servers[k].id);
    } else if (e->type == RAFT_ENTRY_NORMAL) {
        FUZZ_CHECK (e->data != NULL);
    }
    FUZZ_CHECK (!e->data || e->data->len <= MSG_RAFT_MAX_DATA ||
                e->type == RAFT_ENTRY_CONF);
}

static uint64_t
s_rand (void *ctx)
{
    uint64_t *x = ctx;
    return *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
}

/* A follower in term 3 whose configuration holds m's sender, with a log
   of three entries (1 committed), takes m; then its batches are drained
   as the raft actor would. */
static void
s_step_into_core (const raft_msg_t *m)
{
    raft_id_t id = m->to ? m->to : 1;
    raft_conf_t conf;
    memset (&conf, 0, sizeof conf);
    raft_id_t ids[3] = {id, m->from, id == 1 ? 2 : 1};
    for (int i = 0; i < 3; i++) {
        if (ids[i] == 0 || raft_conf_get (&conf, ids[i]))
            continue;
        conf.servers[conf.n].id = ids[i];
        conf.servers[conf.n].voter = true;
        snprintf (conf.servers[conf.n].addr, RAFT_ADDR_MAX, "n%d", i);
        conf.n++;
    }
    raft_entry_t log[3] = {raft_bootstrap_entry (&conf),
                           {.term = 2, .index = 2, .type = RAFT_ENTRY_NOOP},
                           {.term = 3,
                            .index = 3,
                            .type = RAFT_ENTRY_NORMAL,
                            .data = raft_buf_new ("x", 1)}};
    uint64_t seed = 1;
    raft_options_t o;
    raft_options_default (&o);
    o.id = id;
    o.rand = s_rand;
    o.rand_ctx = &seed;
    raft_boot_t boot = {.hs = {.term = 3, .vote = 0},
                        .entries = log,
                        .n_entries = 3,
                        .applied = 1};
    raft_t *r = raft_new (&o, &boot);
    FUZZ_CHECK (r != NULL);
    raft_step (r, m);
    raft_ready_t rd;
    for (int turn = 0; turn < 8 && raft_ready (r, &rd); turn++) {
        if (rd.n_committed)
            raft_applied (r, rd.committed[rd.n_committed - 1].index);
        if (rd.seq)
            raft_persisted (r, rd.seq);
    }
    raft_destroy (&r);
    raft_buf_unref (log[0].data);
    raft_buf_unref (log[2].data);
}

static void
s_fuzz_msg (const uint8_t *data, size_t size)
{
    raft_msg_t m;
    if (msg_raft_decode (data, size, &m) != 0)
        return;
    FUZZ_CHECK (m.type > 0 && m.type < RAFT_MSG_TYPE_MAX);
    FUZZ_CHECK ((m.entries != NULL) == (m.n_entries > 0));
    FUZZ_CHECK (m.n_entries <= MSG_RAFT_MAX_ENTRIES);
    FUZZ_CHECK (!m.data || m.data->len <= MSG_RAFT_MAX_DATA);
    for (size_t i = 0; i < m.n_entries; i++)
        s_check_entry (&m.entries[i]);

    msgpack_sbuffer b1, b2;
    msgpack_sbuffer_init (&b1);
    msgpack_sbuffer_init (&b2);
    FUZZ_CHECK (msg_raft_encode (&b1, &m) == 0);
    raft_msg_t m2;
    FUZZ_CHECK (msg_raft_decode (b1.data, b1.size, &m2) == 0);
    FUZZ_CHECK (s_msg_eq (&m, &m2));
    FUZZ_CHECK (msg_raft_encode (&b2, &m2) == 0);
    FUZZ_CHECK (b1.size == b2.size && memcmp (b1.data, b2.data, b1.size) == 0);
    raft_msg_clear (&m2);
    msgpack_sbuffer_destroy (&b1);
    msgpack_sbuffer_destroy (&b2);

    /* The raft actor refuses a chunk whose data storage could not stage. */
    if (m.type != RAFT_MSG_SNAPSHOT ||
        (m.data && msg_snap_valid (m.data->data, m.data->len)))
        s_step_into_core (&m);
    raft_msg_clear (&m);
}

static void
s_fuzz_entry (const uint8_t *data, size_t size)
{
    raft_entry_t e;
    if (msg_entry_decode (data, size, &e) != 0)
        return;
    s_check_entry (&e);
    msgpack_sbuffer b1, b2;
    msgpack_sbuffer_init (&b1);
    msgpack_sbuffer_init (&b2);
    FUZZ_CHECK (msg_entry_encode (&b1, &e) == 0);
    raft_entry_t e2;
    FUZZ_CHECK (msg_entry_decode (b1.data, b1.size, &e2) == 0);
    FUZZ_CHECK (equal_entry (&e, &e2));
    FUZZ_CHECK (msg_entry_encode (&b2, &e2) == 0);
    FUZZ_CHECK (b1.size == b2.size && memcmp (b1.data, b2.data, b1.size) == 0);
    raft_buf_unref (e.data);
    raft_buf_unref (e2.data);
    msgpack_sbuffer_destroy (&b1);
    msgpack_sbuffer_destroy (&b2);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_fuzz_msg (data, size);
    s_fuzz_entry (data, size);
    return 0;
}

/*  ---------------------------------------------------------------------
    Seeds: one message of every type, entries of every kind              */

static raft_buf_t *
s_conf_buf (uint32_t n)
{
    raft_conf_t c;
    memset (&c, 0, sizeof c);
    c.n = n;
    for (uint32_t i = 0; i < n; i++) {
        c.servers[i].id = i + 1;
        c.servers[i].voter = i != 2;
        snprintf (c.servers[i].addr, RAFT_ADDR_MAX, "tcp://127.0.0.%u:9000",
                  i + 1);
    }
    return raft_buf_new (&c, sizeof c);
}

static void
s_seed_msg (raft_msg_t *m)
{
    msgpack_sbuffer b;
    msgpack_sbuffer_init (&b);
    if (msg_raft_encode (&b, m) == 0)
        fuzz_seed (b.data, b.size);
    msgpack_sbuffer_destroy (&b);
    for (size_t i = 0; i < m->n_entries; i++) {
        msgpack_sbuffer_init (&b);
        if (msg_entry_encode (&b, &m->entries[i]) == 0)
            fuzz_seed (b.data, b.size);
        msgpack_sbuffer_destroy (&b);
    }
}

void
fuzz_seeds (void)
{
    uint8_t snap[64];
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msg_snap_pack_begin (&sb, 1);
    msg_snap_pack_pair (&sb, "k", 1, "v", 1);
    memcpy (snap, sb.data, sb.size);
    size_t snap_len = sb.size;
    msgpack_sbuffer_destroy (&sb);

    for (int type = RAFT_MSG_APPEND; type < RAFT_MSG_TYPE_MAX; type++) {
        raft_msg_t m = {.type = (raft_msg_type_t)type,
                        .from = 2,
                        .to = 1,
                        .term = 4,
                        .prev_index = 3,
                        .prev_term = 3,
                        .commit = 2,
                        .index = 3,
                        .ctx = 1};
        if (type == RAFT_MSG_APPEND) {
            m.n_entries = 3;
            m.entries = calloc (3, sizeof *m.entries);
            m.entries[0] = (raft_entry_t){4, 4, RAFT_ENTRY_NOOP, NULL};
            m.entries[1] = (raft_entry_t){4, 5, RAFT_ENTRY_NORMAL,
                                          raft_buf_new ("put k v", 7)};
            m.entries[2] =
                (raft_entry_t){4, 6, RAFT_ENTRY_CONF, s_conf_buf (3)};
        } else if (type == RAFT_MSG_SNAPSHOT) {
            m.n_entries = 1;
            m.entries = calloc (1, sizeof *m.entries);
            m.entries[0] =
                (raft_entry_t){3, 3, RAFT_ENTRY_CONF, s_conf_buf (2)};
            m.data = raft_buf_new (snap, snap_len);
            m.done = true;
        } else if (type == RAFT_MSG_APPEND_RESP) {
            m.reject = true;
            m.hint_index = 2;
            m.hint_term = 2;
        } else if (type == RAFT_MSG_VOTE) {
            m.transfer = true;
        }
        s_seed_msg (&m);
        raft_msg_clear (&m);
    }
}
