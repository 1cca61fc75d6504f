/*  test_msg.c -- the codec of Raft messages, entries and the hard state
    (msg/msg_raft.c).

    Round trips of every message type with every entry type; then hostile
    input: every truncation of a valid encoding, random byte mutations,
    wrong versions and types, bad configurations. Malformed input must be
    refused with -1 and leak nothing (the test also runs under ASan).
*/
#include "check.h"
#include "rng.h"
#include "msg_forward.h"
#include "msg_raft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rng_t s_rng; /* seeded in main: TEST_SEED replays a run */
static uint64_t
s_rand (void)
{
    return rng_next (&s_rng);
}

static raft_buf_t *
s_conf_buf (uint32_t n)
{
    raft_conf_t c;
    memset (&c, 0, sizeof c);
    c.n = n;
    for (uint32_t i = 0; i < n; i++) {
        c.servers[i].id = i + 1;
        c.servers[i].voter = i % 2 == 0;
        snprintf (c.servers[i].addr, RAFT_ADDR_MAX,
                  "tcp://127.0.0.%u:9000 127.0.0.%u:8000", i + 1, i + 1);
    }
    return raft_buf_new (&c, sizeof c);
}

/* A random message of the given type with 0..3 entries of all kinds. */
static void
s_random_msg (raft_msg_t *m, raft_msg_type_t type)
{
    memset (m, 0, sizeof *m);
    m->type = type;
    m->from = 1 + s_rand () % 7;
    m->to = 1 + s_rand () % 7;
    m->term = s_rand () >> (s_rand () % 64);
    m->prev_index = s_rand () % 100000;
    m->prev_term = s_rand () % 1000;
    m->commit = s_rand () % 100000;
    m->reject = s_rand () % 2;
    m->index = s_rand ();
    m->hint_index = s_rand () % 1000;
    m->hint_term = s_rand () % 1000;
    m->transfer = s_rand () % 2;
    m->ctx = s_rand ();
    if (type == RAFT_MSG_SNAPSHOT) {
        /* a chunk: bytes (sometimes none), done, and the configuration */
        size_t len = s_rand () % 3 ? s_rand () % 2000 : 0;
        uint8_t bytes[2000];
        for (size_t k = 0; k < len; k++)
            bytes[k] = (uint8_t)s_rand ();
        m->data = s_rand () % 4 ? raft_buf_new (bytes, len) : NULL;
        m->done = s_rand () % 2;
        m->n_entries = 1;
        m->entries = calloc (1, sizeof *m->entries);
        m->entries[0] = (raft_entry_t){.term = m->prev_term,
                                       .index = m->prev_index,
                                       .type = RAFT_ENTRY_CONF,
                                       .data = s_conf_buf (3)};
        return;
    }
    if (type != RAFT_MSG_APPEND)
        return;
    m->n_entries = s_rand () % 4;
    m->entries = calloc (m->n_entries ? m->n_entries : 1, sizeof *m->entries);
    for (size_t i = 0; i < m->n_entries; i++) {
        raft_entry_t *e = &m->entries[i];
        e->term = m->prev_term + i;
        e->index = m->prev_index + 1 + i;
        e->type = (raft_entry_type_t)(s_rand () % 3);
        if (e->type == RAFT_ENTRY_CONF) {
            e->data = s_conf_buf ((uint32_t)(s_rand () % 6));
        } else if (e->type == RAFT_ENTRY_NORMAL) {
            size_t len = s_rand () % 300;
            uint8_t bytes[300];
            for (size_t k = 0; k < len; k++)
                bytes[k] = (uint8_t)s_rand ();
            e->data = raft_buf_new (bytes, len);
        }
    }
}

static bool
s_entry_equal (const raft_entry_t *a, const raft_entry_t *b)
{
    if (a->term != b->term || a->index != b->index || a->type != b->type)
        return false;
    if (!a->data || !b->data)
        return !a->data && !b->data;
    if (a->type == RAFT_ENTRY_CONF)
        return raft_conf_equal (raft_entry_conf (a), raft_entry_conf (b));
    return a->data->len == b->data->len &&
           memcmp (a->data->data, b->data->data, a->data->len) == 0;
}

static bool
s_msg_equal (const raft_msg_t *a, const raft_msg_t *b)
{
    if (a->type != b->type || a->from != b->from || a->to != b->to ||
        a->term != b->term || a->prev_index != b->prev_index ||
        a->prev_term != b->prev_term || a->commit != b->commit ||
        a->reject != b->reject || a->index != b->index ||
        a->hint_index != b->hint_index || a->hint_term != b->hint_term ||
        a->transfer != b->transfer || a->ctx != b->ctx ||
        a->n_entries != b->n_entries || a->done != b->done ||
        !a->data != !b->data)
        return false;
    if (a->data && (a->data->len != b->data->len ||
                    memcmp (a->data->data, b->data->data, a->data->len)))
        return false;
    for (size_t i = 0; i < a->n_entries; i++)
        if (!s_entry_equal (&a->entries[i], &b->entries[i]))
            return false;
    return true;
}

static void
test_round_trip (void)
{
    for (int round = 0; round < 200; round++) {
        for (int t = 1; t < RAFT_MSG_TYPE_MAX; t++) {
            raft_msg_t m, d;
            s_random_msg (&m, (raft_msg_type_t)t);
            msgpack_sbuffer buf;
            msgpack_sbuffer_init (&buf);
            CHECK (msg_raft_encode (&buf, &m) == 0);
            CHECK (msg_raft_decode (buf.data, buf.size, &d) == 0);
            CHECK (s_msg_equal (&m, &d));
            /* Conf entries come back as byte-identical raft_conf_t, padding
               included, so hashes of entries agree across servers. */
            for (size_t i = 0; i < m.n_entries && i < d.n_entries; i++)
                if (m.entries[i].type == RAFT_ENTRY_CONF)
                    CHECK (memcmp (m.entries[i].data->data,
                                   d.entries[i].data->data,
                                   sizeof (raft_conf_t)) == 0);
            raft_msg_clear (&d);
            raft_msg_clear (&m);
            msgpack_sbuffer_destroy (&buf);
        }
    }
}

static void
test_entry_round_trip (void)
{
    raft_entry_t e = {.term = 7,
                      .index = 42,
                      .type = RAFT_ENTRY_CONF,
                      .data = s_conf_buf (5)};
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    CHECK (msg_entry_encode (&buf, &e) == 0);
    raft_entry_t d;
    CHECK (msg_entry_decode (buf.data, buf.size, &d) == 0);
    CHECK (s_entry_equal (&e, &d));
    raft_buf_unref (d.data);
    /* a CONF entry whose data is not a configuration cannot be encoded */
    raft_entry_t bad = {.term = 1,
                        .index = 1,
                        .type = RAFT_ENTRY_CONF,
                        .data = raft_buf_new ("xx", 2)};
    size_t before = buf.size;
    CHECK (msg_entry_encode (&buf, &bad) == -1);
    CHECK (buf.size == before);
    raft_buf_unref (bad.data);
    raft_buf_unref (e.data);
    msgpack_sbuffer_destroy (&buf);
}

/* Every strict prefix of a valid encoding, and the encoding with trailing
   garbage, is refused. */
static void
test_truncation (void)
{
    raft_msg_t m, d;
    s_random_msg (&m, RAFT_MSG_APPEND);
    while (m.n_entries == 0) {
        raft_msg_clear (&m);
        s_random_msg (&m, RAFT_MSG_APPEND);
    }
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    CHECK (msg_raft_encode (&buf, &m) == 0);
    for (size_t len = 0; len < buf.size; len++)
        CHECK (msg_raft_decode (buf.data, len, &d) == -1);
    msgpack_sbuffer_write (&buf, "\x01", 1);
    CHECK (msg_raft_decode (buf.data, buf.size, &d) == -1);
    raft_msg_clear (&m);
    msgpack_sbuffer_destroy (&buf);
}

/* Random mutations: never a crash or leak; whatever decodes re-encodes. */
static void
test_mutations (void)
{
    int accepted = 0, refused = 0;
    for (int round = 0; round < 20000; round++) {
        raft_msg_t m, d;
        s_random_msg (&m, (raft_msg_type_t)(1 + s_rand () % 9));
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        msg_raft_encode (&buf, &m);
        int flips = 1 + (int)(s_rand () % 4);
        for (int k = 0; k < flips; k++)
            buf.data[s_rand () % buf.size] = (char)s_rand ();
        if (msg_raft_decode (buf.data, buf.size, &d) == 0) {
            accepted++;
            msgpack_sbuffer again;
            msgpack_sbuffer_init (&again);
            CHECK (msg_raft_encode (&again, &d) == 0);
            msgpack_sbuffer_destroy (&again);
            raft_msg_clear (&d);
        } else {
            refused++;
        }
        raft_msg_clear (&m);
        msgpack_sbuffer_destroy (&buf);
    }
    printf ("     mutations: %d refused, %d still well-formed\n", refused,
            accepted);
    CHECK (refused > 0 && accepted > 0);
}

/* Hand-made hostile inputs. */
static void
test_hostile (void)
{
    raft_msg_t d;
    raft_entry_t e;
    /* garbage and empty input */
    CHECK (msg_raft_decode ("hello world", 11, &d) == -1);
    CHECK (msg_raft_decode ("", 0, &d) == -1);
    CHECK (msg_raft_decode (NULL, 0, &d) == -1);
    /* a declared 4-billion-entry array with nothing behind it */
    CHECK (msg_raft_decode ("\xdd\xff\xff\xff\xff", 5, &d) == -1);

    raft_msg_t m;
    s_random_msg (&m, RAFT_MSG_VOTE);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msg_raft_encode (&buf, &m);
    /* wrong version: byte 1 is the version (after the array header) */
    buf.data[1] = 2;
    CHECK (msg_raft_decode (buf.data, buf.size, &d) == -1);
    buf.data[1] = 1;
    /* unknown message type */
    buf.data[2] = (char)RAFT_MSG_TYPE_MAX;
    CHECK (msg_raft_decode (buf.data, buf.size, &d) == -1);
    buf.data[2] = 0;
    CHECK (msg_raft_decode (buf.data, buf.size, &d) == -1);
    msgpack_sbuffer_destroy (&buf);

    /* configurations: duplicate ids, id 0, oversize address, wrong types */
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    const char *cases[] = {"dup", "zero", "long", "type"};
    for (int c = 0; c < 4; c++) {
        buf.size = 0;
        msgpack_pack_array (&pk, 4);
        msgpack_pack_uint64 (&pk, 1);
        msgpack_pack_uint64 (&pk, 1);
        msgpack_pack_uint8 (&pk, RAFT_ENTRY_CONF);
        msgpack_pack_array (&pk, 2);
        for (int s = 0; s < 2; s++) {
            msgpack_pack_array (&pk, 3);
            uint64_t id = strcmp (cases[c], "dup") == 0 ? 5
                          : strcmp (cases[c], "zero") == 0 && s
                              ? 0
                              : (uint64_t)s + 1;
            msgpack_pack_uint64 (&pk, id);
            if (strcmp (cases[c], "type") == 0 && s)
                msgpack_pack_uint8 (&pk, 1);
            else
                msgpack_pack_true (&pk);
            size_t alen =
                strcmp (cases[c], "long") == 0 && s ? RAFT_ADDR_MAX : 4;
            char addr[RAFT_ADDR_MAX + 1];
            memset (addr, 'a', sizeof addr);
            msgpack_pack_str (&pk, alen);
            msgpack_pack_str_body (&pk, addr, alen);
        }
        CHECK (msg_entry_decode (buf.data, buf.size, &e) == -1);
    }
    /* a NORMAL entry with nil data, a NOOP with a string */
    buf.size = 0;
    msgpack_pack_array (&pk, 4);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint8 (&pk, RAFT_ENTRY_NORMAL);
    msgpack_pack_nil (&pk);
    CHECK (msg_entry_decode (buf.data, buf.size, &e) == -1);
    buf.size = 0;
    msgpack_pack_array (&pk, 4);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint8 (&pk, RAFT_ENTRY_NOOP);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "x", 1);
    CHECK (msg_entry_decode (buf.data, buf.size, &e) == -1);
    msgpack_sbuffer_destroy (&buf);
    raft_msg_clear (&m);
}

/* The hard state as the store keeps it (store/store_format.h, 'h'):
   [term, vote], each integer in its shortest form; every width of
   positive integer decodes, anything else is refused. */
static void
test_hard_state (void)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    raft_hard_state_t hs = {300, 2}, d = {0, 0};
    msg_hs_encode (&buf, &hs);
    CHECK (buf.size == 5 && memcmp (buf.data, "\x92\xcd\x01\x2c\x02", 5) == 0);
    const uint64_t v[] = {0,     1,     127,        128,        255,       256,
                          65535, 65536, UINT32_MAX, 1ull << 32, UINT64_MAX};
    size_t nv = sizeof v / sizeof v[0];
    for (size_t i = 0; i < nv; i++) {
        hs = (raft_hard_state_t){v[i], v[nv - 1 - i]};
        buf.size = 0;
        msg_hs_encode (&buf, &hs);
        CHECK (buf.size >= 3 && buf.size <= 19);
        CHECK (msg_hs_decode (buf.data, buf.size, &d) == 0 &&
               d.term == hs.term && d.vote == hs.vote);
        for (size_t len = 0; len < buf.size; len++)
            CHECK (msg_hs_decode (buf.data, len, &d) == -1);
    }
    /* wider than needed: what an earlier hand-written reader accepted */
    CHECK (msg_hs_decode ("\x92\xcf\0\0\0\0\0\0\0\x07\xcc\x01", 12, &d) == 0 &&
           d.term == 7 && d.vote == 1);
    d = (raft_hard_state_t){42, 43};
    const struct {
        const char *b;
        size_t n;
    } bad[] = {{"\x93\x01\x02\x03", 4},
               {"\x91\x01", 2},
               {"\x92\x01\x01\x01", 4},
               {"\x92\xff\x01", 3},
               {"\x92\xa1x\x01", 4},
               {"\x92\xc0\x01", 3},
               {"\x82\x01\x01\x02\x02", 5},
               {"\xdd\xff\xff\xff\xff", 5},
               {"", 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK (msg_hs_decode (bad[i].b, bad[i].n, &d) == -1);
    CHECK (d.term == 42 && d.vote == 43); /* untouched */
    msgpack_sbuffer_destroy (&buf);
}

/* msg_forward.h: a forwarded write and its reply round-trip; one byte
   tells them from Raft messages; every truncation and wrong field is
   refused. */
static void
test_forward (void)
{
    raft_buf_t *body = raft_buf_new ("\x9a\x01", 2);
    for (int reply = 0; reply < 2; reply++) {
        msg_forward_t f = {.reply = reply,
                           .fwd_id = s_rand (),
                           .from = 1 + s_rand () % 100,
                           .body = body};
        raft_buf_t *p = msg_forward_encode (&f);
        CHECK (p && msg_forward_is (p->data, p->len));
        msg_forward_t d;
        CHECK (msg_forward_decode (p->data, p->len, &d) == 0);
        CHECK (d.reply == f.reply && d.fwd_id == f.fwd_id && d.from == f.from &&
               d.body && d.body->len == 2 &&
               memcmp (d.body->data, "\x9a\x01", 2) == 0);
        msg_forward_clear (&d);
        for (size_t len = 0; len < p->len; len++)
            CHECK (msg_forward_decode (p->data, len, &d) == -1 && !d.body);
        raft_buf_unref (p);
    }
    /* a Raft message is not one, and does not decode as one */
    raft_msg_t m = {
        .type = RAFT_MSG_READ_INDEX, .from = 2, .to = 1, .term = 3, .ctx = 9};
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    CHECK (msg_raft_encode (&buf, &m) == 0);
    CHECK (!msg_forward_is (buf.data, buf.size));
    msg_forward_t d;
    CHECK (msg_forward_decode (buf.data, buf.size, &d) == -1);
    raft_msg_t back;
    CHECK (msg_raft_decode (buf.data, buf.size, &back) == 0 &&
           back.type == RAFT_MSG_READ_INDEX && back.ctx == 9);
    raft_msg_clear (&back);
    msgpack_sbuffer_destroy (&buf);
    const struct {
        const char *b;
        size_t n;
    } bad[] = {
        {"\x95\x02\xa3"
         "fwd\x01\x02\xc4\x01x",
         11}, /* version */
        {"\x95\x01\xa3"
         "fwx\x01\x02\xc4\x01x",
         11}, /* kind */
        {"\x95\x01\xa3"
         "fwd\x01\x00\xc4\x01x",
         11}, /* from 0 */
        {"\x95\x01\xa3"
         "fwd\x01\x02\xc4\x00",
         10}, /* empty body */
        {"\x95\x01\xa3"
         "fwd\x01\x02\xa1x",
         10}, /* str body */
        {"\x95\x01\xa3"
         "fwd\xa1x\x02\xc4\x01x",
         12}, /* fwd_id str */
        {"\x95\x01\xa3"
         "fwd\x01\x02\xc6\xff\xff\xff\xff",
         13},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK (msg_forward_decode (bad[i].b, bad[i].n, &d) == -1);
    CHECK (msg_forward_decode ("\x95\x01\xa3"
                               "fwd\x01\x02\xc4\x01x",
                               11, &d) == 0 &&
           !d.reply && d.fwd_id == 1 && d.from == 2);
    msg_forward_clear (&d);
    raft_buf_unref (body);
}

int
main (void)
{
    check_watchdog ("test_msg", 60);
    rng_seed_from_env (&s_rng, "test_msg", 0x9e3779b97f4a7c15ULL);
    CHECK_RUN (test_round_trip);
    CHECK_RUN (test_entry_round_trip);
    CHECK_RUN (test_truncation);
    CHECK_RUN (test_mutations);
    CHECK_RUN (test_hostile);
    CHECK_RUN (test_hard_state);
    CHECK_RUN (test_forward);
    return check_report ();
}
