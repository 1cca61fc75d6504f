/*  test_storage_codec.c -- the storage protocol's codec (msg/msg_store.c) and
    the KV command codec (msg/msg_kv.c): round trips, and every prefix
    and trailing garbage refused.

    The storage actor is driven as the raft actor would drive it, through
    storage_fixture.h. One line per test; exit status 1 if any CHECK
    failed. Runs under ASan+UBSan with leak checking.
*/
#include "check.h"
#include "storage_fixture.h"

#include <stdlib.h>
#include <string.h>

/* a string literal's bytes and length, NUL terminator excluded */
#define S_BYTES(lit) lit, sizeof (lit) - 1

/*  ---------------------------------------------------------------------
    The codec                                                            */

static void
s_check_refuses_prefixes (const msg_store_t *m)
{
    zmsg_t *zm = msg_store_encode (m);
    CHECK (zm != NULL);
    if (!zm)
        return;
    zframe_t *f = zmsg_first (zm);
    size_t size = zframe_size (f);
    msg_store_t d;
    CHECK (msg_store_decode (zm, &d) == 0);
    msg_store_clear (&d);
    for (size_t len = 0; len < size; len++) {
        zmsg_t *cut = zmsg_new ();
        zmsg_addmem (cut, zframe_data (f), len);
        CHECK (msg_store_decode (cut, &d) == -1);
        zmsg_destroy (&cut);
    }
    /* trailing garbage */
    zmsg_t *longer = zmsg_new ();
    uint8_t *buf = malloc (size + 1);
    memcpy (buf, zframe_data (f), size);
    buf[size] = 0xc0;
    zmsg_addmem (longer, buf, size + 1);
    CHECK (msg_store_decode (longer, &d) == -1);
    free (buf);
    zmsg_destroy (&longer);
    zmsg_destroy (&zm);
}

static void
test_codec (void)
{
    raft_conf_t conf = sf_conf ();
    raft_entry_t es[3];
    es[0] = raft_bootstrap_entry (&conf);
    es[1] = (raft_entry_t){.term = 2, .index = 2, .type = RAFT_ENTRY_NOOP};
    es[2] = sf_kv_entry (2, 3, MSG_KV_PUT, "key", "value");
    raft_buf_t *key = raft_buf_new ("key\0bin", 7);
    msg_apply_result_t results[] = {
        {.index = 3, .existed = true, .status = 0},
        {.index = 4, .existed = false, .status = 0}};
    char text[] = "disk full";
    msg_store_t ms[] = {
        {.kind = MSG_STORE_WRITE,
         .seq = UINT64_MAX,
         .hs_changed = true,
         .hs = {3, 7},
         .entries = es,
         .n_entries = 3},
        {.kind = MSG_STORE_APPLY, .applied = 3, .applied_term = 2},
        {.kind = MSG_STORE_GET, .req_id = 12345678901ULL, .key = key},
        {.kind = MSG_STORE_BOOT,
         .hs = {4, 1},
         .applied = 2,
         .entries = es,
         .n_entries = 3},
        {.kind = MSG_STORE_BOOT, /* after a compaction: a base */
         .hs = {4, 1},
         .applied = 2,
         .entries = &es[1],
         .n_entries = 2,
         .base = es[0]},
        {.kind = MSG_STORE_COMPACT, .base = es[0]},
        {.kind = MSG_STORE_PERSISTED, .seq = 77},
        {.kind = MSG_STORE_APPLIED,
         .applied = 4,
         .results = results,
         .n_results = 2},
        {.kind = MSG_STORE_VALUE, .req_id = 9, .found = true, .value = key},
        {.kind = MSG_STORE_VALUE, .req_id = 10, .found = false},
        {.kind = MSG_STORE_ERROR, .error = text},
        {.kind = MSG_STORE_USAGE, .db_bytes = 4194304, .fs_free = UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        const msg_store_t *m = &ms[i];
        zmsg_t *zm = msg_store_encode (m);
        msg_store_t d;
        CHECK (zm && msg_store_decode (zm, &d) == 0);
        CHECK (d.kind == m->kind && d.seq == m->seq &&
               d.hs_changed == m->hs_changed && d.hs.term == m->hs.term &&
               d.hs.vote == m->hs.vote && d.applied == m->applied &&
               d.applied_term == m->applied_term && d.req_id == m->req_id &&
               d.found == m->found && d.n_entries == m->n_entries &&
               d.n_results == m->n_results && d.db_bytes == m->db_bytes &&
               d.fs_free == m->fs_free);
        for (size_t k = 0; k < d.n_entries && k < m->n_entries; k++)
            CHECK (sf_entry_equal (&d.entries[k], &m->entries[k]));
        for (size_t k = 0; k < d.n_results && k < m->n_results; k++)
            CHECK (d.results[k].index == m->results[k].index &&
                   d.results[k].existed == m->results[k].existed);
        if (m->key)
            CHECK (d.key && d.key->len == 7 &&
                   memcmp (d.key->data, key->data, 7) == 0);
        if (m->kind == MSG_STORE_VALUE)
            CHECK (m->found ? d.value && d.value->len == 7 : !d.value);
        if (m->error)
            CHECK (d.error && streq (d.error, text));
        CHECK (d.base.index == m->base.index);
        if (m->base.index)
            CHECK (sf_entry_equal (&d.base, &m->base));
        msg_store_clear (&d);
        zmsg_destroy (&zm);
        s_check_refuses_prefixes (m);
    }

    /* hostile and wrong inputs */
    msg_store_t d;
    zmsg_t *zm = zmsg_new ();
    zmsg_addmem (zm, "\xdd\xff\xff\xff\xff", 5);
    CHECK (msg_store_decode (zm, &d) == -1);
    zmsg_destroy (&zm);
    CHECK (msg_store_decode (NULL, &d) == -1);
    zm = zmsg_new (); /* no frame */
    CHECK (msg_store_decode (zm, &d) == -1);
    zmsg_destroy (&zm);
    /* strings are split where a hex escape would swallow a letter */
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {S_BYTES ("\x92\x01\xa3get")},              /* too short */
        {S_BYTES ("\x94\x02\xa3get\x01\xc4\x01k")}, /* version 2 */
        {S_BYTES ("\x94\x01\xa3gex\x01\xc4\x01k")}, /* unknown kind */
        {S_BYTES ("\x94\x01\xa3get\x01\xa1k")},     /* key not bin */
        {S_BYTES ("\x94\x01\xa3get\xff\xc4\x01k")}, /* negative id */
        {S_BYTES (
            "\x95\x01\xa5value\x01\xc2\xc4\x01v")}, /* not found + value */
        {S_BYTES ("\x93\x01\xa5"
                  "error\xa2\x61\x00")}, /* NUL in text */
        {S_BYTES ("\x94\x01\xa5"
                  "apply\x00\x01")}, /* apply up to index 0 */
        {S_BYTES ("\x93\x01\xa5"
                  "apply\x05")}, /* no term */
        {S_BYTES ("\x94\x01\xa7"
                  "applied\x01\x91\x92\x01\x01")}, /* existed not bool */
        {S_BYTES ("\x94\x01\xa7"
                  "applied\x01\x91\x91\x01")}, /* result too short */
        {S_BYTES ("\x95\x01\xa4"
                  "boot\x01\x01\x90")}, /* boot, 5 fields */
        {S_BYTES ("\x93\x01\xa7"
                  "compact\x90")}, /* compact without a base */
        {S_BYTES ("\x93\x01\xa7"
                  "compact\x91\x94\x02\x05\x01\xc0")}, /* base not CONF */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zm = zmsg_new ();
        zmsg_addmem (zm, bad[i].bytes, bad[i].len);
        CHECK (msg_store_decode (zm, &d) == -1);
        zmsg_destroy (&zm);
    }
    /* the bad apply lines are well-formed but for their index and term */
    zm = zmsg_new ();
    zmsg_addmem (zm, S_BYTES ("\x94\x01\xa5"
                              "apply\x05\x01"));
    CHECK (msg_store_decode (zm, &d) == 0 && d.applied == 5 &&
           d.applied_term == 1);
    msg_store_clear (&d);
    zmsg_destroy (&zm);

    /* what cannot be encoded */
    msg_store_t none = {.kind = 0};
    CHECK (msg_store_encode (&none) == NULL);
    raft_entry_t badconf = {.term = 1,
                            .index = 1,
                            .type = RAFT_ENTRY_CONF,
                            .data = raft_buf_new ("xx", 2)};
    msg_store_t w = {
        .kind = MSG_STORE_WRITE, .entries = &badconf, .n_entries = 1};
    CHECK (msg_store_encode (&w) == NULL);
    raft_buf_unref (badconf.data);

    raft_buf_unref (key);
    for (size_t i = 0; i < 3; i++)
        raft_buf_unref (es[i].data);
}

static void
test_kv_codec (void)
{
    raft_buf_t *key = raft_buf_new ("k\0y", 3);
    raft_buf_t *value = raft_buf_new ("value", 5);
    msg_kv_t cmds[] = {{.op = MSG_KV_PUT, .key = key, .value = value},
                       {.op = MSG_KV_DEL, .key = key}};
    for (size_t i = 0; i < 2; i++) {
        raft_buf_t *b = msg_kv_encode (&cmds[i]);
        CHECK (b != NULL);
        if (!b)
            continue;
        msg_kv_t d;
        CHECK (msg_kv_decode (b->data, b->len, &d) == 0);
        CHECK (d.op == cmds[i].op && d.key && d.key->len == 3 &&
               memcmp (d.key->data, "k\0y", 3) == 0);
        CHECK (cmds[i].op == MSG_KV_PUT
                   ? d.value && d.value->len == 5 &&
                         memcmp (d.value->data, "value", 5) == 0
                   : d.value == NULL);
        msg_kv_clear (&d);
        for (size_t len = 0; len < b->len; len++)
            CHECK (msg_kv_decode (b->data, len, &d) == -1);
        raft_buf_unref (b);
    }
    msg_kv_t d;
    CHECK (msg_kv_decode ("\xdd\xff\xff\xff\xff", 5, &d) == -1);
    CHECK (msg_kv_decode (NULL, 0, &d) == -1);
    CHECK (msg_kv_decode (S_BYTES ("\x93\x02\xa3"
                                   "del\xc4\x01k"),
                          &d) == -1);
    CHECK (msg_kv_decode (S_BYTES ("\x94\x01\xa3"
                                   "del\xc4\x01k\xc4\x00"),
                          &d) == -1); /* del with a value */
    CHECK (msg_kv_decode (S_BYTES ("\x93\x01\xa3put\xc4\x01k"), &d) ==
           -1); /* put without */
    CHECK (msg_kv_decode (S_BYTES ("\x93\x01\xa3"
                                   "del\xa1k"),
                          &d) == -1); /* key not bin */
    CHECK (msg_kv_decode (S_BYTES ("\x93\x01\xa3"
                                   "del\xc4\x01k"),
                          &d) == 0);
    msg_kv_clear (&d);
    msg_kv_t nokey = {.op = MSG_KV_DEL};
    CHECK (msg_kv_encode (&nokey) == NULL);
    msg_kv_t novalue = {.op = MSG_KV_PUT, .key = key};
    CHECK (msg_kv_encode (&novalue) == NULL);
    raft_buf_unref (key);
    raft_buf_unref (value);
}

int
main (void)
{
    if (sf_init ("test_storage_codec") != 0)
        return 1;
    CHECK_RUN (test_codec);
    CHECK_RUN (test_kv_codec);
    return sf_done ();
}
