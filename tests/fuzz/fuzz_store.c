/*  fuzz_store.c -- the storage codecs (msg/msg_store.h) on arbitrary
    bytes, each decoder on every input:

      msg_store_decode  a message between the raft and storage actors
                        (in-process, but its entries are what storage
                        keeps on disk and boots from), twice: the input as
                        one frame, and the input cut into frames (each a
                        2-byte big-endian length and its bytes, what is
                        left the last frame), as an "after" carries one
                        payload frame per message after its header;
      msg_kv_decode     a KV command: the data of a NORMAL entry, which any
                        leader (a forged one too) can put in the log;
      msg_snap_unpack,  snapshot data: a chunk of InstallSnapshot, from a
      msg_snap_valid    peer.

    Properties:
      - no crash, leak, out-of-bounds access, undefined behaviour or
        oversized allocation;
      - what decodes is what the consumer relies on: entries present iff
        n_entries, every CONF entry (and the base, and a staged chunk's
        configuration) well-formed; a base is a CONF entry at a non-zero
        index, or absent; a chunk names its copy iff ok; "not found"
        carries no value; an error text has no NUL;
      - round trip: re-encoding succeeds, decodes to an equal message, and
        re-encoding that gives the same bytes (canonical);
      - snapshot data: msg_snap_valid says yes exactly when msg_snap_unpack
        takes it; its pairs, packed again, unpack to the same pairs.
*/
#include "equal.h"
#include "fuzz.h"
#include "msg_raft.h"
#include "msg_store.h"

static bool
s_store_eq (const msg_store_t *a, const msg_store_t *b)
{
    if (a->kind != b->kind || a->seq != b->seq ||
        a->hs_changed != b->hs_changed || a->hs.term != b->hs.term ||
        a->hs.vote != b->hs.vote || a->n_entries != b->n_entries ||
        a->applied != b->applied || a->n_results != b->n_results ||
        a->req_id != b->req_id || !equal_buf (a->key, b->key) ||
        a->found != b->found || !equal_buf (a->value, b->value) ||
        (a->error == NULL) != (b->error == NULL) ||
        (a->error && strcmp (a->error, b->error) != 0) ||
        !equal_entry (&a->base, &b->base) || a->peer != b->peer ||
        a->chunk != b->chunk || a->snap_index != b->snap_index ||
        a->snap_term != b->snap_term || a->msg_term != b->msg_term ||
        a->msg_commit != b->msg_commit || a->ok != b->ok ||
        a->done != b->done || a->has_snap != b->has_snap ||
        a->db_bytes != b->db_bytes || a->fs_free != b->fs_free)
        return false;
    for (size_t i = 0; i < a->n_entries; i++)
        if (!equal_entry (&a->entries[i], &b->entries[i]))
            return false;
    for (size_t i = 0; i < a->n_results; i++)
        if (a->results[i].index != b->results[i].index ||
            a->results[i].existed != b->results[i].existed ||
            a->results[i].lease_event != b->results[i].lease_event ||
            a->results[i].lease != b->results[i].lease ||
            a->results[i].lease_ttl_ms != b->results[i].lease_ttl_ms)
            return false;
    if (a->n_leases != b->n_leases)
        return false;
    for (size_t i = 0; i < a->n_leases; i++)
        if (a->leases[i].id != b->leases[i].id ||
            a->leases[i].ttl_ms != b->leases[i].ttl_ms)
            return false;
    if (a->n_after != b->n_after)
        return false;
    for (size_t i = 0; i < a->n_after; i++)
        if (a->after[i].index != b->after[i].index ||
            a->after[i].term != b->after[i].term ||
            a->after[i].to != b->after[i].to ||
            !zframe_eq (a->after[i].frame, b->after[i].frame))
            return false;
    if (a->has_snap) {
        const raft_snapshot_chunk_t *x = &a->snap, *y = &b->snap;
        if (x->index != y->index || x->term != y->term ||
            x->chunk != y->chunk || !equal_buf (x->data, y->data) ||
            x->done != y->done || x->keep_tail != y->keep_tail ||
            !raft_conf_equal (&x->conf, &y->conf))
            return false;
    }
    return true;
}

static void
s_check_conf_entry (const raft_entry_t *e)
{
    FUZZ_CHECK (e->type == RAFT_ENTRY_CONF && e->index > 0);
    FUZZ_CHECK (raft_entry_conf (e) != NULL);
}

static void
s_check_store (const msg_store_t *m)
{
    FUZZ_CHECK ((m->entries != NULL) == (m->n_entries > 0));
    FUZZ_CHECK ((m->results != NULL) == (m->n_results > 0));
    FUZZ_CHECK ((m->after != NULL) == (m->n_after > 0));
    for (size_t i = 0; i < m->n_after; i++)
        FUZZ_CHECK (m->after[i].to != 0 && m->after[i].frame &&
                    zframe_size (m->after[i].frame) > 0);
    for (size_t i = 0; i < m->n_entries; i++) {
        FUZZ_CHECK (m->entries[i].type <= RAFT_ENTRY_CONF);
        if (m->entries[i].type == RAFT_ENTRY_CONF)
            FUZZ_CHECK (raft_entry_conf (&m->entries[i]) != NULL);
    }
    if (m->base.index)
        s_check_conf_entry (&m->base);
    else
        FUZZ_CHECK (m->base.data == NULL);
    switch (m->kind) {
    case MSG_STORE_COMPACT: FUZZ_CHECK (m->base.index > 0); break;
    case MSG_STORE_SNAP_CHUNK:
        FUZZ_CHECK (m->ok == (m->base.index > 0));
        FUZZ_CHECK (m->value != NULL);
        break;
    case MSG_STORE_VALUE: FUZZ_CHECK (m->found == (m->value != NULL)); break;
    case MSG_STORE_GET: FUZZ_CHECK (m->key != NULL); break;
    case MSG_STORE_ERROR: FUZZ_CHECK (m->error != NULL); break;
    case MSG_STORE_LEASES:
        FUZZ_CHECK ((m->leases != NULL) == (m->n_leases > 0));
        for (size_t i = 0; i < m->n_leases; i++)
            FUZZ_CHECK (m->leases[i].id > (i ? m->leases[i - 1].id : 0) &&
                        m->leases[i].ttl_ms > 0);
        break;
    case MSG_STORE_WRITE:
        if (m->has_snap) {
            FUZZ_CHECK (m->snap.index > 0 && m->snap.data != NULL);
            FUZZ_CHECK (m->snap.conf.n <= RAFT_MAX_SERVERS);
            for (uint32_t i = 0; i < m->snap.conf.n; i++)
                FUZZ_CHECK (m->snap.conf.servers[i].id != 0);
        }
        break;
    default: break;
    }
}

/* The input cut into frames (see the top). */
static zmsg_t *
s_frames (const uint8_t *data, size_t size)
{
    zmsg_t *zm = zmsg_new ();
    while (size >= 2) {
        size_t len = (size_t)data[0] << 8 | data[1];
        if (len > size - 2)
            break;
        zmsg_addmem (zm, data + 2, len);
        data += 2 + len;
        size -= 2 + len;
    }
    if (size > 0 || zmsg_size (zm) == 0)
        zmsg_addmem (zm, data, size);
    return zm;
}

static void
s_fuzz_store (zmsg_t *zm)
{
    msg_store_t m;
    int rc = msg_store_decode (zm, &m);
    zmsg_destroy (&zm);
    if (rc != 0)
        return;
    s_check_store (&m);
    zmsg_t *e1 = msg_store_encode (&m);
    FUZZ_CHECK (e1 != NULL);
    msg_store_t m2;
    FUZZ_CHECK (msg_store_decode (e1, &m2) == 0);
    FUZZ_CHECK (s_store_eq (&m, &m2));
    zmsg_t *e2 = msg_store_encode (&m2);
    FUZZ_CHECK (e2 != NULL);
    /* one frame, and one more per message an "after" carries */
    size_t frames = 1 + (m.kind == MSG_STORE_AFTER ? m.n_after : 0);
    FUZZ_CHECK (zmsg_size (e1) == frames && zmsg_size (e2) == frames);
    FUZZ_CHECK (equal_frames (e1, e2));
    zmsg_destroy (&e1);
    zmsg_destroy (&e2);
    msg_store_clear (&m);
    msg_store_clear (&m2);
}

static void
s_fuzz_kv (const uint8_t *data, size_t size)
{
    msg_kv_t cmd;
    if (msg_kv_decode (data, size, &cmd) != 0)
        return;
    FUZZ_CHECK (cmd.op == MSG_KV_PUT || cmd.op == MSG_KV_DEL);
    FUZZ_CHECK (cmd.key && (cmd.op == MSG_KV_DEL) == (cmd.value == NULL));
    raft_buf_t *b1 = msg_kv_encode (&cmd);
    FUZZ_CHECK (b1 != NULL);
    msg_kv_t cmd2;
    FUZZ_CHECK (msg_kv_decode (b1->data, b1->len, &cmd2) == 0);
    FUZZ_CHECK (cmd.op == cmd2.op && equal_buf (cmd.key, cmd2.key) &&
                equal_buf (cmd.value, cmd2.value));
    raft_buf_t *b2 = msg_kv_encode (&cmd2);
    FUZZ_CHECK (equal_buf (b1, b2));
    raft_buf_unref (b1);
    raft_buf_unref (b2);
    msg_kv_clear (&cmd);
    msg_kv_clear (&cmd2);
}

/* Snapshot pairs, collected to pack them again. */
typedef struct {
    msgpack_sbuffer pairs; /* each pair packed, without the array header */
    size_t n;
    bool compare;          /* second pass: compare instead of collecting */
    const uint8_t *expect; /* the first pass's pairs */
    size_t expect_len, pos;
} s_snap_t;

static int
s_pair (void *ctx, const void *key, size_t key_len, const void *value,
        size_t value_len)
{
    s_snap_t *s = ctx;
    msgpack_sbuffer one;
    msgpack_sbuffer_init (&one);
    msg_snap_pack_pair (&one, key, key_len, value, value_len);
    if (s->compare) {
        FUZZ_CHECK (s->pos + one.size <= s->expect_len &&
                    memcmp (s->expect + s->pos, one.data, one.size) == 0);
        s->pos += one.size;
    } else {
        msgpack_sbuffer_write (&s->pairs, one.data, one.size);
    }
    s->n++;
    msgpack_sbuffer_destroy (&one);
    return 0;
}

static void
s_fuzz_snap (const uint8_t *data, size_t size)
{
    s_snap_t s = {0};
    msgpack_sbuffer_init (&s.pairs);
    int rc = msg_snap_unpack (data, size, s_pair, &s);
    FUZZ_CHECK (msg_snap_valid (data, size) == (rc == 0));
    if (rc == 0) {
        msgpack_sbuffer again;
        msgpack_sbuffer_init (&again);
        msg_snap_pack_begin (&again, s.n);
        msgpack_sbuffer_write (&again, s.pairs.data, s.pairs.size);
        s_snap_t t = {.compare = true,
                      .expect = (const uint8_t *)s.pairs.data,
                      .expect_len = s.pairs.size};
        FUZZ_CHECK (msg_snap_unpack (again.data, again.size, s_pair, &t) == 0);
        FUZZ_CHECK (t.n == s.n && t.pos == s.pairs.size);
        msgpack_sbuffer_destroy (&again);
    }
    msgpack_sbuffer_destroy (&s.pairs);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    zmsg_t *one = zmsg_new ();
    zmsg_addmem (one, data, size);
    s_fuzz_store (one);
    s_fuzz_store (s_frames (data, size));
    s_fuzz_kv (data, size);
    s_fuzz_snap (data, size);
    return 0;
}

/*  ---------------------------------------------------------------------
    Seeds: one message of every kind, a command of each op, snapshot data */

static void
s_seed_zmsg (zmsg_t *zm)
{
    if (!zm)
        return;
    zframe_t *f = zmsg_first (zm);
    fuzz_seed (zframe_data (f), zframe_size (f));
    zmsg_destroy (&zm);
}

/* A message of several frames as the input cuts them (see the top). */
static void
s_seed_frames (zmsg_t *zm)
{
    if (!zm)
        return;
    size_t n = 0;
    for (zframe_t *f = zmsg_first (zm); f; f = zmsg_next (zm))
        n += 2 + zframe_size (f);
    uint8_t *buf = malloc (n), *p = buf;
    for (zframe_t *f = zmsg_first (zm); buf && f; f = zmsg_next (zm)) {
        size_t len = zframe_size (f);
        if (len > 0xffff) {
            free (buf);
            zmsg_destroy (&zm);
            return;
        }
        *p++ = (uint8_t)(len >> 8);
        *p++ = (uint8_t)len;
        memcpy (p, zframe_data (f), len);
        p += len;
    }
    if (buf)
        fuzz_seed (buf, n);
    free (buf);
    zmsg_destroy (&zm);
}

static raft_entry_t
s_conf_entry (raft_index_t index, raft_term_t term)
{
    raft_conf_t c;
    memset (&c, 0, sizeof c);
    c.n = 2;
    for (uint32_t i = 0; i < c.n; i++) {
        c.servers[i].id = i + 1;
        c.servers[i].voter = true;
        snprintf (c.servers[i].addr, RAFT_ADDR_MAX, "tcp://h%u:9000 h%u:8000",
                  i, i);
    }
    return (raft_entry_t){term, index, RAFT_ENTRY_CONF,
                          raft_buf_new (&c, sizeof c)};
}

void
fuzz_seeds (void)
{
    msg_kv_t put = {.op = MSG_KV_PUT,
                    .key = raft_buf_new ("key", 3),
                    .value = raft_buf_new ("value", 5)};
    msg_kv_t del = {.op = MSG_KV_DEL, .key = raft_buf_new ("key", 3)};
    raft_buf_t *cmd = msg_kv_encode (&put);
    fuzz_seed (cmd->data, cmd->len);
    raft_buf_t *cmd2 = msg_kv_encode (&del);
    fuzz_seed (cmd2->data, cmd2->len);
    msgpack_sbuffer snap;
    msgpack_sbuffer_init (&snap);
    msg_snap_pack_begin (&snap, 2);
    msg_snap_pack_pair (&snap, "a", 1, "1", 1);
    msg_snap_pack_pair (&snap, "b", 1, "", 0);
    fuzz_seed (snap.data, snap.size);

    raft_entry_t entries[3] = {
        s_conf_entry (1, 1),
        {.term = 2, .index = 2, .type = RAFT_ENTRY_NOOP},
        {.term = 2, .index = 3, .type = RAFT_ENTRY_NORMAL, .data = cmd}};
    raft_entry_t base = s_conf_entry (7, 2);
    msg_apply_result_t results[3] = {
        {.index = 3, .existed = true},
        {.index = 4},
        {.index = 5, .lease_event = 1, .lease = 5, .lease_ttl_ms = 1500}};
    lessor_lease_t leases[2] = {{5, 1500}, {9, 3000}};
    msg_store_t m[] = {
        {.kind = MSG_STORE_WRITE,
         .seq = 3,
         .hs_changed = true,
         .hs = {2, 1},
         .entries = entries,
         .n_entries = 3},
        {.kind = MSG_STORE_WRITE,
         .seq = 4,
         .has_snap = true,
         .snap = {.index = 7,
                  .term = 2,
                  .chunk = 0,
                  .done = true,
                  .data = raft_buf_new (snap.data, snap.size)}},
        {.kind = MSG_STORE_APPLY, .applied = 3, .applied_term = 2},
        {.kind = MSG_STORE_GET, .req_id = 9, .key = put.key},
        {.kind = MSG_STORE_BOOT,
         .hs = {2, 1},
         .applied = 7,
         .entries = entries + 1,
         .n_entries = 0,
         .base = base},
        {.kind = MSG_STORE_PERSISTED, .seq = 4},
        {.kind = MSG_STORE_APPLIED,
         .applied = 5,
         .results = results,
         .n_results = 3},
        {.kind = MSG_STORE_LEASES, .req_id = 11},
        {.kind = MSG_STORE_LEASES,
         .req_id = 11,
         .applied = 9,
         .leases = leases,
         .n_leases = 2},
        {.kind = MSG_STORE_VALUE,
         .req_id = 9,
         .found = true,
         .value = put.value},
        {.kind = MSG_STORE_VALUE, .req_id = 9},
        {.kind = MSG_STORE_ERROR, .error = "disk full"},
        {.kind = MSG_STORE_USAGE, .db_bytes = 4194304, .fs_free = 1u << 30},
        {.kind = MSG_STORE_COMPACT, .base = base},
        {.kind = MSG_STORE_SNAP_READ,
         .peer = 2,
         .chunk = 1,
         .snap_index = 7,
         .snap_term = 2,
         .msg_term = 3,
         .msg_commit = 9},
        {.kind = MSG_STORE_SNAP_CHUNK,
         .peer = 2,
         .chunk = 1,
         .ok = true,
         .base = base,
         .value = raft_buf_new (snap.data, snap.size),
         .done = true,
         .msg_term = 3,
         .msg_commit = 9},
    };
    m[1].snap.conf = *raft_entry_conf (&base);
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        s_seed_zmsg (msg_store_encode (&m[i]));

    /* "after": the messages to send once durable, each its payload frame
       (an acknowledgement, a vote, a heartbeat answer: msg_raft bytes) */
    raft_msg_t ack = {.type = RAFT_MSG_APPEND_RESP,
                      .from = 1,
                      .to = 2,
                      .term = 2,
                      .index = 3};
    raft_msg_t vote = {
        .type = RAFT_MSG_VOTE_RESP, .from = 1, .to = 3, .term = 3};
    msgpack_sbuffer ba, bv;
    msgpack_sbuffer_init (&ba);
    msgpack_sbuffer_init (&bv);
    zframe_t *fa = NULL, *fv = NULL;
    if (msg_raft_encode (&ba, &ack) == 0 && msg_raft_encode (&bv, &vote) == 0) {
        fa = zframe_new (ba.data, ba.size);
        fv = zframe_new (bv.data, bv.size);
    }
    msgpack_sbuffer_destroy (&ba);
    msgpack_sbuffer_destroy (&bv);
    msg_after_t items[3] = {{.index = 3, .term = 2, .to = 2, .frame = fa},
                            {.index = 0, .term = 0, .to = 3, .frame = fv},
                            {.index = 3, .term = 2, .to = 3, .frame = fa}};
    msg_store_t after[] = {
        {.kind = MSG_STORE_AFTER, .seq = 5, .after = items, .n_after = 1},
        {.kind = MSG_STORE_AFTER, .seq = 6, .after = items, .n_after = 3},
        {.kind = MSG_STORE_AFTER, .seq = 7}, /* refused: nothing to send */
    };
    for (size_t i = 0; fa && fv && i < sizeof after / sizeof after[0]; i++)
        s_seed_frames (msg_store_encode (&after[i]));
    zframe_destroy (&fa);
    zframe_destroy (&fv);
    raft_buf_unref (m[1].snap.data);
    raft_buf_unref (m[13].value); /* the snap_chunk */
    raft_buf_unref (entries[0].data);
    raft_buf_unref (base.data);
    msgpack_sbuffer_destroy (&snap);
    msg_kv_clear (&put);
    msg_kv_clear (&del);
    raft_buf_unref (cmd);
    raft_buf_unref (cmd2);
}
